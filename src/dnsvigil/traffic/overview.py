"""The traffic overview: what a DNS server saw, in the figures an operator checks first.

Totals, volume over time per transport and IP version, RSSAC002-style message size histograms, the
RCODE mix of responses, the QTYPE mix of queries, EDNS and DO shares, the busiest query names and
sources. Computed with SQL over `dns_messages` through a `SqlRunner`, so it runs on any engine and
never touches files; the report and the dashboard render it.

Counting conventions: a message is a query when its QR bit is clear and a response when it is set;
malformed messages (flagged by the readers) are counted as such and also in every other figure their
readable fields allow. Shares of query figures are of all queries, shares of response figures of all
responses, and shares of message figures of all messages.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from dnsvigil.errors import UsageError
from dnsvigil.store.schema import DNS_MESSAGES
from dnsvigil.store.sql import SqlRunner
from dnsvigil.traffic.detection import TimeWindow, instant_of_ns
from dnsvigil.traffic.dns_names import qtype_to_text, rcode_to_text

SIZE_BIN_BYTES = 16
"""Width of a message size bin, as in RSSAC002's traffic-sizes histograms."""

FINE_BUCKET_SECONDS = 300
COARSE_BUCKET_SECONDS = 3600
FINE_BUCKET_MAX_SPAN = timedelta(days=2)
"""Spans up to this long are cut into 5-minute buckets, longer ones into hours (a few hundred bars)."""

NXDOMAIN = 3
_TABLE = DNS_MESSAGES.name


def _check_count(owner: object, **counts: int) -> None:
    for name, value in counts.items():
        if value < 0:
            raise ValueError(f"{type(owner).__name__}.{name} is negative ({value})")


def _check_share(owner: object, share: float) -> None:
    if not 0.0 <= share <= 1.0:
        raise ValueError(f"{type(owner).__name__}.share {share} is outside 0..1")


def _ratio(part: int, whole: int) -> float:
    return part / whole if whole else 0.0


def _series_label(transport: str, ip_version: int) -> str:
    return f"{transport.upper()}/IPv{ip_version}"


@dataclass(frozen=True, slots=True)
class VolumePoint:
    """Queries and responses seen in one time bucket over one transport and IP version."""

    start: datetime
    transport: str
    ip_version: int
    queries: int
    responses: int

    def __post_init__(self) -> None:
        _check_count(self, queries=self.queries, responses=self.responses)
        if self.start.tzinfo is None:
            raise ValueError("VolumePoint.start must be timezone-aware (UTC)")

    @property
    def series(self) -> str:
        """The series this point belongs to, such as `UDP/IPv4`."""
        return _series_label(self.transport, self.ip_version)


@dataclass(frozen=True, slots=True)
class TransportCount:
    """Queries and responses over one transport and IP version, across the whole span."""

    transport: str
    ip_version: int
    queries: int
    responses: int

    def __post_init__(self) -> None:
        _check_count(self, queries=self.queries, responses=self.responses)

    @property
    def series(self) -> str:
        """The label of this transport and IP version, such as `TCP/IPv6`."""
        return _series_label(self.transport, self.ip_version)

    @property
    def messages(self) -> int:
        """Queries and responses together."""
        return self.queries + self.responses


@dataclass(frozen=True, slots=True)
class SizeBin:
    """How many messages over one transport had a DNS message length in `low..high` bytes."""

    transport: str
    low: int
    count: int

    def __post_init__(self) -> None:
        _check_count(self, low=self.low, count=self.count)
        if self.low % SIZE_BIN_BYTES:
            raise ValueError(f"SizeBin.low {self.low} is not a multiple of {SIZE_BIN_BYTES}")

    @property
    def high(self) -> int:
        """The largest length in the bin, inclusive (RSSAC002 writes bins as `low-high`)."""
        return self.low + SIZE_BIN_BYTES - 1


@dataclass(frozen=True, slots=True)
class RcodeCount:
    """Responses with one RCODE, and their share of all responses."""

    rcode: int
    name: str
    count: int
    share: float

    def __post_init__(self) -> None:
        _check_count(self, rcode=self.rcode, count=self.count)
        _check_share(self, self.share)


@dataclass(frozen=True, slots=True)
class QtypeCount:
    """Queries for one QTYPE, and their share of all queries."""

    qtype: int
    name: str
    count: int
    share: float

    def __post_init__(self) -> None:
        _check_count(self, qtype=self.qtype, count=self.count)
        _check_share(self, self.share)


@dataclass(frozen=True, slots=True)
class RankedCount:
    """One entry of a top list (a query name, a source address), its count and share of all queries."""

    value: str
    count: int
    share: float

    def __post_init__(self) -> None:
        _check_count(self, count=self.count)
        _check_share(self, self.share)


@dataclass(frozen=True, slots=True)
class TrafficOverview:
    """Everything the traffic report shows, as computed from `dns_messages`.

    `first_seen` and `last_seen` are None exactly when there are no messages; they are truncated to
    microseconds. Series are sorted: volume by time then series, sizes by transport then bin, mixes and
    top lists by count descending (ties by value).
    """

    first_seen: datetime | None
    last_seen: datetime | None
    messages: int
    queries: int
    responses: int
    malformed: int
    edns_queries: int
    do_queries: int
    bucket_seconds: int
    transports: tuple[TransportCount, ...]
    volume: tuple[VolumePoint, ...]
    request_sizes: tuple[SizeBin, ...]
    response_sizes: tuple[SizeBin, ...]
    rcodes: tuple[RcodeCount, ...]
    qtypes: tuple[QtypeCount, ...]
    top_names: tuple[RankedCount, ...]
    top_sources: tuple[RankedCount, ...]

    def __post_init__(self) -> None:
        _check_count(
            self,
            messages=self.messages,
            queries=self.queries,
            responses=self.responses,
            malformed=self.malformed,
            edns_queries=self.edns_queries,
            do_queries=self.do_queries,
        )
        if self.queries + self.responses != self.messages:
            raise ValueError(f"{self.queries} queries + {self.responses} responses != {self.messages}")
        if self.malformed > self.messages or self.edns_queries > self.queries:
            raise ValueError("malformed messages or EDNS queries outnumber the messages they are part of")
        if self.do_queries > self.edns_queries:
            raise ValueError(f"{self.do_queries} DO queries but only {self.edns_queries} with EDNS")
        if {self.first_seen is None, self.last_seen is None} != {self.messages == 0}:
            raise ValueError("first_seen and last_seen must be set exactly when there are messages")
        if self.first_seen is not None and self.last_seen is not None and self.first_seen > self.last_seen:
            raise ValueError(f"first_seen {self.first_seen} is after last_seen {self.last_seen}")
        if self.bucket_seconds <= 0:
            raise ValueError(f"bucket_seconds must be positive, got {self.bucket_seconds}")
        if sum(transport.messages for transport in self.transports) != self.messages:
            raise ValueError("the transport breakdown does not add up to the message total")

    @property
    def duration(self) -> timedelta:
        """Time from the first to the last message (zero when there is at most one)."""
        if self.first_seen is None or self.last_seen is None:
            return timedelta(0)
        return self.last_seen - self.first_seen

    @property
    def tcp_messages(self) -> int:
        """Messages carried over TCP."""
        return sum(entry.messages for entry in self.transports if entry.transport.lower() == "tcp")

    @property
    def ipv6_messages(self) -> int:
        """Messages carried over IPv6."""
        return sum(entry.messages for entry in self.transports if entry.ip_version == 6)

    @property
    def nxdomain_responses(self) -> int:
        """Responses saying the name does not exist."""
        return sum(entry.count for entry in self.rcodes if entry.rcode == NXDOMAIN)

    @property
    def tcp_share(self) -> float:
        """Share of all messages carried over TCP."""
        return _ratio(self.tcp_messages, self.messages)

    @property
    def ipv6_share(self) -> float:
        """Share of all messages carried over IPv6."""
        return _ratio(self.ipv6_messages, self.messages)

    @property
    def nxdomain_share(self) -> float:
        """Share of responses that are NXDOMAIN."""
        return _ratio(self.nxdomain_responses, self.responses)

    @property
    def edns_share(self) -> float:
        """Share of queries that carry an EDNS OPT record."""
        return _ratio(self.edns_queries, self.queries)

    @property
    def do_share(self) -> float:
        """Share of queries that set the DNSSEC OK bit (asking for signatures)."""
        return _ratio(self.do_queries, self.queries)

    @property
    def malformed_share(self) -> float:
        """Share of all messages that the readers flagged as malformed."""
        return _ratio(self.malformed, self.messages)


def _choose_bucket(first_seen: datetime | None, last_seen: datetime | None) -> int:
    if first_seen is None or last_seen is None or last_seen - first_seen <= FINE_BUCKET_MAX_SPAN:
        return FINE_BUCKET_SECONDS
    return COARSE_BUCKET_SECONDS


# Every query reads `selected`, the window of `dns_messages` that `compute_overview` puts in a WITH clause.
_PER_DIRECTION = "count(CASE WHEN NOT qr THEN 1 END) AS queries, count(CASE WHEN qr THEN 1 END) AS responses"
_TOTALS_SQL = (
    "SELECT count(*) AS messages,"
    " count(CASE WHEN NOT qr THEN 1 END) AS queries,"
    " count(CASE WHEN qr THEN 1 END) AS responses,"
    " count(CASE WHEN malformed THEN 1 END) AS malformed,"
    " count(CASE WHEN NOT qr AND edns_present THEN 1 END) AS edns_queries,"
    " count(CASE WHEN NOT qr AND edns_present AND edns_do THEN 1 END) AS do_queries,"
    " epoch_ns(min(ts)) AS first_ns, epoch_ns(max(ts)) AS last_ns"
    " FROM selected"
)
_TRANSPORTS_SQL = (
    f"SELECT transport, ip_version, {_PER_DIRECTION} FROM selected GROUP BY transport, ip_version"
)
_VOLUME_SQL = (
    f"SELECT epoch_ns(ts) // ? * ? AS bucket_ns, transport, ip_version, {_PER_DIRECTION} FROM selected"
    " GROUP BY bucket_ns, transport, ip_version ORDER BY bucket_ns, transport, ip_version"
)
_SIZES_SQL = (
    "SELECT qr, transport, msg_len // ? * ? AS low, count(*) AS count"
    " FROM selected GROUP BY qr, transport, low ORDER BY transport, low"
)
_RCODES_SQL = (
    "SELECT rcode, count(*) AS count FROM selected WHERE qr GROUP BY rcode ORDER BY count DESC, rcode"
)
_QTYPES_SQL = (
    "SELECT qtype, count(*) AS count FROM selected WHERE NOT qr AND qtype IS NOT NULL"
    " GROUP BY qtype ORDER BY count DESC, qtype"
)
_RANKED_SQL = (
    "SELECT {column} AS value, count(*) AS count FROM selected WHERE NOT qr AND {column} IS NOT NULL"
    " GROUP BY value ORDER BY count DESC, value LIMIT ?"
)


def compute_overview(
    runner: SqlRunner,
    *,
    start: datetime | None = None,
    end: datetime | None = None,
    top: int = 10,
    bucket_seconds: int | None = None,
) -> TrafficOverview:
    """Compute the traffic overview of the `dns_messages` table, or of the window `[start, end)` of it.

    Args:
        runner: the engine that runs the SQL.
        start: first instant included (timezone-aware); None for the first message.
        end: first instant excluded (timezone-aware); None for after the last message.
        top: how many query names and sources the top lists keep.
        bucket_seconds: width of a volume bucket, aligned to the Unix epoch (so hours start on the
            hour); None picks 5 minutes for spans up to two days, else one hour.

    Returns:
        The overview; all counts are zero and the series empty when no message is in the window.

    Raises:
        UsageError: a window bound without time zone, an empty window, or `top`/`bucket_seconds` < 1.
        QueryError: the engine failed to run a query.
    """
    if top < 1:
        raise UsageError(f"top must be at least 1, got {top}", hint="ask for 10 or so")
    if bucket_seconds is not None and bucket_seconds < 1:
        raise UsageError(f"bucket_seconds must be at least 1, got {bucket_seconds}", hint="try 300 or 3600")
    where, params = TimeWindow(start, end).where()

    def query(sql: str, *extra: object) -> list[dict[str, Any]]:
        # The window comes first in the text, so its parameters bind before the query's own.
        windowed = f"WITH selected AS (SELECT * FROM {_TABLE} WHERE {where}) {sql}"
        rows: list[dict[str, Any]] = runner.arrow(windowed, [*params, *extra]).to_pylist()
        return rows

    (totals,) = query(_TOTALS_SQL)
    first_seen = None if totals["first_ns"] is None else instant_of_ns(totals["first_ns"])
    last_seen = None if totals["last_ns"] is None else instant_of_ns(totals["last_ns"])
    bucket = bucket_seconds or _choose_bucket(first_seen, last_seen)
    queries, responses = totals["queries"], totals["responses"]

    transports = sorted(
        (
            TransportCount(r["transport"], r["ip_version"], r["queries"], r["responses"])
            for r in query(_TRANSPORTS_SQL)
        ),
        key=lambda entry: (-entry.messages, entry.series),
    )
    bucket_ns = bucket * 1_000_000_000
    volume = tuple(
        VolumePoint(
            instant_of_ns(r["bucket_ns"]), r["transport"], r["ip_version"], r["queries"], r["responses"]
        )
        for r in query(_VOLUME_SQL, bucket_ns, bucket_ns)
    )
    sizes = query(_SIZES_SQL, SIZE_BIN_BYTES, SIZE_BIN_BYTES)
    rcodes = tuple(
        RcodeCount(r["rcode"], rcode_to_text(r["rcode"]), r["count"], _ratio(r["count"], responses))
        for r in query(_RCODES_SQL)
    )
    qtypes = tuple(
        QtypeCount(r["qtype"], qtype_to_text(r["qtype"]), r["count"], _ratio(r["count"], queries))
        for r in query(_QTYPES_SQL)
    )

    def ranked(column: str) -> tuple[RankedCount, ...]:
        rows = query(_RANKED_SQL.format(column=column), top)
        return tuple(RankedCount(r["value"], r["count"], _ratio(r["count"], queries)) for r in rows)

    return TrafficOverview(
        first_seen=first_seen,
        last_seen=last_seen,
        messages=totals["messages"],
        queries=queries,
        responses=responses,
        malformed=totals["malformed"],
        edns_queries=totals["edns_queries"],
        do_queries=totals["do_queries"],
        bucket_seconds=bucket,
        transports=tuple(transports),
        volume=volume,
        request_sizes=tuple(SizeBin(r["transport"], r["low"], r["count"]) for r in sizes if not r["qr"]),
        response_sizes=tuple(SizeBin(r["transport"], r["low"], r["count"]) for r in sizes if r["qr"]),
        rcodes=rcodes,
        qtypes=qtypes,
        top_names=ranked("qname"),
        top_sources=ranked("src_addr"),
    )
