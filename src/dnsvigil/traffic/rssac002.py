"""RSSAC002 version 5 traffic metrics, per UTC day, computed by SQL over the `dns_messages` table.

Four of the six RSSAC002 metrics come from traffic: `traffic-volume`, `traffic-sizes`, `rcode-volume` and
`unique-sources` (`load-time` and `zone-size` come from zone distribution, not from packets). The analyzer
is pure: it asks a `SqlRunner` for aggregates and returns `MetricDocument` values; `rssac002_yaml`
writes them.

Choices, where the specification leaves room:

- Days are UTC days, `[00:00:00Z, 24:00:00Z)`, taken from the exact nanosecond epoch of `ts` (not from a
  timestamp cast, which rounds to microseconds and depends on the session time zone).
- Malformed rows count. RSSAC002 counts DNS messages received and responses sent; a `dns_messages` row
  exists only when the 12-byte header was readable (a shorter message is counted by the reader, not
  stored), so its QR bit, length and RCODE are known and a malformed query is still a query received.
- Only UDP and TCP rows count (`transport` compared case-insensitively with `udp` and `tcp`): the metric
  has keys for these two alone.
- A day that was asked for but holds no traffic still gets its four documents: zero volumes and source
  counts, empty size and RCODE maps, as operators publish them. With `days=None` the days are those
  present in the data, so empty input yields no document.
- `rcode` is already the extended RCODE (header RCODE | EDNS extended RCODE << 4).
- `num-sources-ipv6-aggregate` counts distinct /64 prefixes, computed in SQL from the address text
  (compressed `::` forms, upper case, zone indices and embedded IPv4 tails are handled).

The SQL is DuckDB's dialect (`epoch_ns`, `//`); the engine seam runs it unchanged.
"""

from __future__ import annotations

import enum
import ipaddress
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta

from dnsvigil.errors import UsageError
from dnsvigil.store.sql import SqlRunner

VERSION = "rssac002v5"
BIN_WIDTH = 16
REQUEST_OPEN_BIN = 288
RESPONSE_OPEN_BIN = 4096
MAX_EXTENDED_RCODE = 4095

_EPOCH = date(1970, 1, 1)
_NS_PER_DAY = 86_400_000_000_000
_SERVICE_NAME = re.compile(
    r"(?=.{1,253}\.?$)[a-z0-9_](?:[a-z0-9_-]{0,62})(?:\.[a-z0-9_][a-z0-9_-]{0,62})*\.?"
)


class Metric(enum.StrEnum):
    """The RSSAC002 traffic metrics, by the name they carry in the `metric` key and in file names."""

    TRAFFIC_VOLUME = "traffic-volume"
    TRAFFIC_SIZES = "traffic-sizes"
    RCODE_VOLUME = "rcode-volume"
    UNIQUE_SOURCES = "unique-sources"


def _check_count(owner: str, name: str, value: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ValueError(f"{owner}.{name} must be a non-negative integer, not {value!r}")


@dataclass(frozen=True, slots=True)
class SizeHistogram:
    """Message counts per 16-byte length bin, ordered by bin start, empty bins absent.

    Attributes:
        open_bin: start of the last, open-ended bin: 288 for requests, 4096 for responses.
        bins: (bin start, count) pairs; a start is a multiple of 16, at most `open_bin`.
    """

    open_bin: int
    bins: tuple[tuple[int, int], ...] = ()

    def __post_init__(self) -> None:
        if self.open_bin <= 0 or self.open_bin % BIN_WIDTH:
            raise ValueError(f"SizeHistogram.open_bin must be a positive multiple of {BIN_WIDTH}")
        previous = -1
        for start, count in self.bins:
            if start % BIN_WIDTH or not previous < start <= self.open_bin:
                raise ValueError(f"SizeHistogram bin start {start} is not an ordered multiple of {BIN_WIDTH}")
            if count <= 0:
                raise ValueError(f"SizeHistogram bin {start} has count {count}; empty bins are left out")
            previous = start


@dataclass(frozen=True, slots=True)
class TrafficVolume:
    """Queries received and responses sent, by transport and IP version."""

    dns_udp_queries_received_ipv4: int = 0
    dns_udp_queries_received_ipv6: int = 0
    dns_tcp_queries_received_ipv4: int = 0
    dns_tcp_queries_received_ipv6: int = 0
    dns_udp_responses_sent_ipv4: int = 0
    dns_udp_responses_sent_ipv6: int = 0
    dns_tcp_responses_sent_ipv4: int = 0
    dns_tcp_responses_sent_ipv6: int = 0

    def __post_init__(self) -> None:
        for name in self.__slots__:
            _check_count("TrafficVolume", name, getattr(self, name))


@dataclass(frozen=True, slots=True)
class TrafficSizes:
    """Request and response length histograms, by transport."""

    udp_request_sizes: SizeHistogram = SizeHistogram(REQUEST_OPEN_BIN)
    udp_response_sizes: SizeHistogram = SizeHistogram(RESPONSE_OPEN_BIN)
    tcp_request_sizes: SizeHistogram = SizeHistogram(REQUEST_OPEN_BIN)
    tcp_response_sizes: SizeHistogram = SizeHistogram(RESPONSE_OPEN_BIN)

    def __post_init__(self) -> None:
        for name in self.__slots__:
            expected = REQUEST_OPEN_BIN if "request" in name else RESPONSE_OPEN_BIN
            if getattr(self, name).open_bin != expected:
                raise ValueError(f"TrafficSizes.{name} must have its open bin at {expected}")


@dataclass(frozen=True, slots=True)
class RcodeVolume:
    """Responses per extended RCODE: (rcode, count) pairs ordered by rcode, zero counts absent."""

    counts: tuple[tuple[int, int], ...] = ()

    def __post_init__(self) -> None:
        previous = -1
        for rcode, count in self.counts:
            if not previous < rcode <= MAX_EXTENDED_RCODE:
                raise ValueError(f"RcodeVolume rcode {rcode} is out of order or above {MAX_EXTENDED_RCODE}")
            if count <= 0:
                raise ValueError(f"RcodeVolume rcode {rcode} has count {count}; zero counts are left out")
            previous = rcode


@dataclass(frozen=True, slots=True)
class UniqueSources:
    """Distinct source addresses of queries, and distinct IPv6 /64 prefixes among them."""

    num_sources_ipv4: int = 0
    num_sources_ipv6: int = 0
    num_sources_ipv6_aggregate: int = 0

    def __post_init__(self) -> None:
        for name in self.__slots__:
            _check_count("UniqueSources", name, getattr(self, name))
        if self.num_sources_ipv6_aggregate > self.num_sources_ipv6:
            raise ValueError("UniqueSources: more IPv6 /64 prefixes than IPv6 sources")


MetricBody = TrafficVolume | TrafficSizes | RcodeVolume | UniqueSources

_METRIC_OF: dict[type[MetricBody], Metric] = {
    TrafficVolume: Metric.TRAFFIC_VOLUME,
    TrafficSizes: Metric.TRAFFIC_SIZES,
    RcodeVolume: Metric.RCODE_VOLUME,
    UniqueSources: Metric.UNIQUE_SOURCES,
}


def check_service(service: str) -> str:
    """The service name, lower-cased without a trailing dot; raise UsageError unless it is a host name."""
    name = service.strip().lower()
    if not _SERVICE_NAME.fullmatch(name):
        raise UsageError(
            f"service name {service!r} is not a host name",
            hint="give the service's DNS name, e.g. a.root-servers.net or ns1.example.net",
        )
    return name.rstrip(".")


@dataclass(frozen=True, slots=True)
class MetricDocument:
    """One published RSSAC002 document: one metric, of one service, for one UTC day.

    Attributes:
        service: the service's host name, e.g. `a.root-servers.net` (normalised when built).
        day: the UTC day measured; `start_period` is its midnight.
        body: the metric's values; its type decides `metric`.
        version: the RSSAC002 version the document follows.
    """

    service: str
    day: date
    body: MetricBody
    version: str = VERSION

    def __post_init__(self) -> None:
        object.__setattr__(self, "service", check_service(self.service))
        _day_number(self.day)
        if type(self.body) not in _METRIC_OF:
            raise ValueError(f"MetricDocument.body cannot be a {type(self.body).__name__}")
        if not re.fullmatch(r"rssac002v\d+", self.version):
            raise ValueError(f"MetricDocument.version {self.version!r} is not an RSSAC002 version")

    @property
    def metric(self) -> Metric:
        """The metric the body holds."""
        return _METRIC_OF[type(self.body)]

    @property
    def start_period(self) -> str:
        """The `start-period` value: the day's midnight, UTC, as `YYYY-MM-DDT00:00:00Z`."""
        return f"{self.day.isoformat()}T00:00:00Z"


def server_address_forms(server_addrs: Sequence[str]) -> tuple[str, ...]:
    """The texts the addresses may carry in `dns_messages` (RFC 5952 form), in given order, deduplicated.

    An IPv4-mapped IPv6 address gets both its hexadecimal and its dotted-quad RFC 5952 forms.

    Raises:
        UsageError: an entry is not an IP address.
    """
    forms: dict[str, None] = {}
    for text in server_addrs:
        try:
            address = ipaddress.ip_address(text.strip())
        except ValueError:
            raise UsageError(
                f"server address {text!r} is not an IPv4 or IPv6 address",
                hint="give addresses such as 198.41.0.4 or 2001:503:ba3e::2:30",
            ) from None
        forms[address.compressed] = None
        if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
            forms[f"::ffff:{address.ipv4_mapped}"] = None
    return tuple(forms)


def ipv6_prefix64_sql(column: str) -> str:
    """A SQL expression for the /64 prefix of an IPv6 address text column, as 4 groups: `2001:db8:0:0`.

    The text is expanded (`::` replaced by the zero groups it stands for, an IPv4 tail counting as two
    groups) before the first four groups are taken, each without leading zeros.
    """
    address = f"lower(split_part({column}, '%', 1))"
    # In a text holding '::', the groups written out are one per colon, less one for a leading and one
    # for a trailing '::', plus one more for a dotted IPv4 tail (32 bits: two groups).
    explicit_groups = (
        f"(length({address}) - length(replace({address}, ':', ''))"
        f" - CASE WHEN {address} LIKE '::%' THEN 1 ELSE 0 END"
        f" - CASE WHEN {address} LIKE '%::' THEN 1 ELSE 0 END"
        f" + CASE WHEN {address} LIKE '%.%' THEN 1 ELSE 0 END)"
    )
    expanded = f"trim(replace({address}, '::', ':' || repeat('0:', 8 - {explicit_groups})), ':')"
    first_four = f"regexp_extract({expanded}, '^[^:]*:[^:]*:[^:]*:[^:]*')"
    return f"regexp_replace({first_four}, '(^|:)0+([0-9a-f])', '\\1\\2', 'g')"


# The UTC day number: floor division of the exact nanosecond epoch (a cast to DATE rounds to microseconds
# and follows the session time zone); DuckDB's % and // truncate towards zero, hence the fold.
_DAY_NUMBER_SQL = (
    f"((epoch_ns(ts) - (((epoch_ns(ts) % {_NS_PER_DAY}) + {_NS_PER_DAY}) % {_NS_PER_DAY})) // {_NS_PER_DAY})"
)


def _selected_sql(
    server_forms: tuple[str, ...] | None, day_numbers: list[int] | None
) -> tuple[str, list[object]]:
    """The `WITH selected AS (...)` clause: the service's queries and responses of the days asked for."""
    conditions = ["lower(CAST(transport AS VARCHAR)) IN ('udp', 'tcp')", "ip_version IN (4, 6)"]
    params: list[object] = []
    if server_forms is not None:
        marks = ", ".join("?" for _ in server_forms)
        conditions.append(f"((NOT qr AND dst_addr IN ({marks})) OR (qr AND src_addr IN ({marks})))")
        params += [*server_forms, *server_forms]
    if day_numbers is not None:
        # The ts range lets the engine skip partitions; the day number decides exactly, so widen by 1 s.
        margin = timedelta(seconds=1)
        conditions.append("ts >= ? AND ts < ?")
        params += [_midnight(min(day_numbers)) - margin, _midnight(max(day_numbers) + 1) + margin]
        conditions.append(f"{_DAY_NUMBER_SQL} IN ({', '.join('?' for _ in day_numbers)})")
        params += day_numbers
    sql = (
        f"WITH selected AS (SELECT {_DAY_NUMBER_SQL} AS day_number, qr,"
        " lower(CAST(transport AS VARCHAR)) AS transport, ip_version, msg_len, rcode, src_addr"
        f" FROM dns_messages WHERE {' AND '.join(conditions)})"
    )
    return sql, params


def _midnight(day_number: int) -> datetime:
    return datetime(1970, 1, 1, tzinfo=UTC) + timedelta(days=day_number)


_COUNTS_SQL = f"""
SELECT day_number, qr, transport, ip_version,
       CAST(CASE WHEN msg_len >= open_bin THEN open_bin ELSE msg_len - msg_len % {BIN_WIDTH} END AS BIGINT)
           AS bin_start,
       count(*) AS messages
FROM (SELECT *, CASE WHEN qr THEN {RESPONSE_OPEN_BIN} ELSE {REQUEST_OPEN_BIN} END AS open_bin FROM selected)
GROUP BY day_number, qr, transport, ip_version, bin_start
"""

_RCODES_SQL = """
SELECT day_number, CAST(rcode AS BIGINT) AS rcode, count(*) AS messages
FROM selected WHERE qr GROUP BY day_number, rcode
"""

_SOURCES_SQL = f"""
, sources AS (SELECT DISTINCT day_number, ip_version, src_addr FROM selected WHERE NOT qr)
SELECT day_number, 'num_sources_ipv' || CAST(ip_version AS VARCHAR) AS kind, count(*) AS counted
FROM sources GROUP BY day_number, ip_version
UNION ALL
SELECT day_number, 'num_sources_ipv6_aggregate', count(DISTINCT {ipv6_prefix64_sql("src_addr")})
FROM sources WHERE ip_version = 6 GROUP BY day_number
"""


@dataclass(slots=True)
class _DayTally:
    """Counts of one day while result rows are folded in; keys are the value objects' field names."""

    volume: dict[str, int] = field(default_factory=dict)
    sizes: dict[str, dict[int, int]] = field(default_factory=dict)
    rcodes: dict[int, int] = field(default_factory=dict)
    sources: dict[str, int] = field(default_factory=dict)

    def documents(self, service: str, day: date) -> list[MetricDocument]:
        histograms = {
            name: SizeHistogram(
                REQUEST_OPEN_BIN if "request" in name else RESPONSE_OPEN_BIN,
                tuple(sorted(self.sizes.get(name, {}).items())),
            )
            for name in TrafficSizes.__slots__
        }
        bodies: list[MetricBody] = [
            TrafficVolume(**{name: self.volume.get(name, 0) for name in TrafficVolume.__slots__}),
            TrafficSizes(**histograms),
            RcodeVolume(tuple(sorted(self.rcodes.items()))),
            UniqueSources(**{name: self.sources.get(name, 0) for name in UniqueSources.__slots__}),
        ]
        return [MetricDocument(service=service, day=day, body=body) for body in bodies]


def compute_traffic_metrics(
    runner: SqlRunner,
    *,
    service: str,
    server_addrs: Sequence[str] | None = None,
    days: Sequence[date] | None = None,
) -> list[MetricDocument]:
    """The four RSSAC002 traffic metrics of one service, for each UTC day.

    Args:
        runner: runs SQL over a catalog holding `dns_messages`.
        service: the service's host name, written into every document (e.g. `a.root-servers.net`).
        server_addrs: the service's addresses, in any text form: queries count when sent to one of them,
            responses when sent from one. None counts every query and every response.
        days: the UTC days to report, each getting its four documents even without traffic. None means
            every day present in the selected traffic.

    Returns:
        Documents ordered by day, then traffic-volume, traffic-sizes, rcode-volume, unique-sources.

    Raises:
        UsageError: the service name, a server address or a day is not valid.
    """
    service = check_service(service)
    server_forms = None if server_addrs is None else server_address_forms(server_addrs)
    if server_forms == ():
        raise UsageError("no server address given", hint="give at least one address, or none to count all")
    day_numbers = None if days is None else sorted({_day_number(day) for day in days})
    if day_numbers == []:
        return []
    selected, params = _selected_sql(server_forms, day_numbers)
    tallies: dict[int, _DayTally] = {number: _DayTally() for number in day_numbers or ()}

    for row in runner.arrow(selected + _COUNTS_SQL, params).to_pylist():
        tally = tallies.setdefault(row["day_number"], _DayTally())
        direction = ("responses_sent", "response") if row["qr"] else ("queries_received", "request")
        volume_key = f"dns_{row['transport']}_{direction[0]}_ipv{row['ip_version']}"
        tally.volume[volume_key] = tally.volume.get(volume_key, 0) + row["messages"]
        sizes = tally.sizes.setdefault(f"{row['transport']}_{direction[1]}_sizes", {})
        sizes[row["bin_start"]] = sizes.get(row["bin_start"], 0) + row["messages"]
    for row in runner.arrow(selected + _RCODES_SQL, params).to_pylist():
        tally = tallies.setdefault(row["day_number"], _DayTally())
        tally.rcodes[row["rcode"]] = row["messages"]
    for row in runner.arrow(selected + _SOURCES_SQL, params).to_pylist():
        tally = tallies.setdefault(row["day_number"], _DayTally())
        tally.sources[row["kind"]] = row["counted"]

    documents: list[MetricDocument] = []
    for number in sorted(tallies):
        documents += tallies[number].documents(service, _EPOCH + timedelta(days=number))
    return documents


def _day_number(day: date) -> int:
    """Days since 1970-01-01; raise UsageError unless `day` is a date (a datetime is not)."""
    if isinstance(day, datetime) or not isinstance(day, date):
        raise UsageError(f"day {day!r} is not a calendar date", hint="give days as dates, e.g. 2025-01-01")
    return (day - _EPOCH).days
