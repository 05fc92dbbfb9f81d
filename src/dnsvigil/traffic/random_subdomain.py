"""`DDOS.RANDOM_SUBDOMAIN`: random-subdomain ("water torture") floods against a zone.

An attacker asks open or ISP resolvers for names under the victim zone whose first label is random
(`x7f3k.example.com`): no cache can answer them, so every query reaches the zone's authoritative servers,
which answer NXDOMAIN or, overwhelmed, stop answering (SERVFAIL). Its signature, per zone and time
window: many distinct child labels, each asked about once or twice, a high failure share, at a high rate,
arriving through many resolvers. The default thresholds are a commercial product's (see the REFERENCE).

Counting is sketched so that memory stays bounded whatever the flood's size: distinct children per (zone,
window) are HyperLogLog estimates (`distinct_sketch`, about 0.8 % error) that a live watcher merges as
traffic is stored, and only the (zone, window) pairs over the volume thresholds leave the engine.
"""

from __future__ import annotations

from dataclasses import dataclass

import pyarrow as pa

from dnsvigil.findings import Finding, FindingCode, Severity, SubjectType, register_code
from dnsvigil.store.sql import SqlRunner
from dnsvigil.traffic.detection import (
    NS_PER_SECOND,
    Crossing,
    EpisodeTimes,
    Row,
    TimeWindow,
    crossings_evidence,
    episodes,
    instant_of_ns,
    parts_cte,
)
from dnsvigil.traffic.distinct_sketch import distinct_sql, estimate_sql, rank_sql, register_sql
from dnsvigil.traffic.zones import (
    RCODE_NXDOMAIN,
    RCODE_SERVFAIL,
    zone_counts_sql,
    zone_kind,
    zone_rows_sql,
)

DETECTOR = "traffic.random_subdomain"
CRITICAL_RATE_FACTOR = 10
"""A flood at this many times the minimum rate is critical: it is likely to take the zone down."""

RANDOM_SUBDOMAIN = register_code(
    FindingCode(
        "DDOS.RANDOM_SUBDOMAIN",
        "Random-subdomain flood against a zone",
        "Many distinct, never-repeated labels under one zone, mostly failing (NXDOMAIN or SERVFAIL), at a "
        "high rate and through many resolvers: a water-torture attack on the zone's name servers.",
        ("https://www.rfc-editor.org/rfc/rfc8198",),
    )
)

_NAME_COUNTS = (
    f"count(*) FILTER (WHERE NOT qr) AS queries, count(*) FILTER (WHERE qr) AS responses,"
    f" count(*) FILTER (WHERE qr AND rcode IN ({RCODE_SERVFAIL}, {RCODE_NXDOMAIN})) AS failures,"
    " min(ts) AS first_ts, max(ts) AS last_ts"
)
"""What `_PARTS_SQL` adds up, per query name and window (`zone_counts_sql`)."""

_PARTS_SQL = f"""
SELECT zone, bucket, {register_sql("child_hash")} AS register, sum(queries)::BIGINT AS queries,
       sum(responses)::BIGINT AS responses, sum(failures)::BIGINT AS failures,
       max({rank_sql("child_hash")}) AS rank, epoch_ns(min(first_ts)) AS first_ns,
       epoch_ns(max(last_ts)) AS last_ns
FROM (SELECT *, hash(child) AS child_hash FROM ({{zone_counts}})) GROUP BY zone, bucket, register
"""
"""Per zone and window, one row per register of its child labels (`distinct_sketch`), with the counts of
the messages whose child picked it: they add up to the zone's."""

_COUNTED_REGISTERS = "(SELECT zone, bucket, register, rank FROM parts SEMI JOIN counts USING (zone, bucket))"

_WINDOWS_SQL = f"""
WITH {{parts}}counts AS (
    SELECT zone, bucket, sum(queries)::BIGINT AS queries, sum(responses)::BIGINT AS responses,
           sum(failures)::BIGINT AS failures, min(first_ns) AS first_ns, max(last_ns) AS last_ns
    FROM parts GROUP BY zone, bucket HAVING greatest(sum(queries), sum(responses)) >= ?),
children AS ({estimate_sql(_COUNTED_REGISTERS, "zone, bucket")})
SELECT zone, bucket, queries, responses, failures, distinct_estimate AS children, first_ns, last_ns
FROM counts JOIN children USING (zone, bucket) WHERE distinct_estimate >= ?
"""
"""Window rows from `parts` (of one count or several; `{parts}` defines it when counted in the same
statement): the zones over the volume floors."""

_EPISODE_SQL = """
SELECT client, count(*) AS messages FROM ({zone_rows}) WHERE zone = ?
GROUP BY client ORDER BY messages DESC, client LIMIT ?
"""

_CHILDREN_SQL = f"""
WITH episode AS (SELECT client, child FROM ({{zone_rows}}) WHERE zone = ?)
SELECT {distinct_sql("client", "episode")} AS sources, {distinct_sql("child", "episode")} AS children,
       (SELECT list(DISTINCT child ORDER BY child)[1:?] FROM episode) AS examples
"""


@dataclass(frozen=True, slots=True, kw_only=True)
class RandomSubdomainDetector:
    """Finds random-subdomain floods: per zone and window, every threshold below must be crossed.

    Attributes:
        window_seconds: width of a counting window.
        min_qps: lookups per second (queries, or responses where the capture has more of them).
        min_children: distinct child labels (estimated) in a window.
        min_failure_share: share of responses that are NXDOMAIN or SERVFAIL; a window without
            responses never crosses it.
        max_queries_per_child: lookups per distinct child label, at most (a flood never repeats).
        top: resolvers and example labels kept in the evidence.
    """

    window_seconds: int
    min_qps: int
    min_children: int
    min_failure_share: float
    max_queries_per_child: int
    top: int = 5

    def __post_init__(self) -> None:
        if min(self.window_seconds, self.min_qps, self.min_children, self.max_queries_per_child) < 1:
            raise ValueError(f"{self!r}: window, rate and counts must be at least 1")
        if not 0.0 <= self.min_failure_share <= 1.0:
            raise ValueError(f"{self!r}: min_failure_share must be within 0..1")

    def detect(self, runner: SqlRunner, window: TimeWindow) -> list[Finding]:
        """The random-subdomain floods in `window`, one finding per zone and run of flagged windows."""
        return self.judge(runner, self.window_rows(runner, window))

    def window_rows(self, runner: SqlRunner, window: TimeWindow) -> pa.Table:
        """Per zone and window: lookups, failures and children, where the volume may be a flood."""
        parts, params = self._parts_sql(window)
        return runner.arrow(_WINDOWS_SQL.format(parts=parts_cte(parts)), [*params, *self._floors()])

    def window_parts(self, runner: SqlRunner, window: TimeWindow) -> pa.Table:
        """The counts of `window` in parts that merge: per zone, window and register of its child labels."""
        parts, params = self._parts_sql(window)
        return runner.arrow(parts, params)

    def window_rows_of(self, runner: SqlRunner, parts: pa.Table) -> pa.Table:
        """`window_rows` from `window_parts`' tables, concatenated."""
        return runner.arrow(_WINDOWS_SQL.format(parts=""), self._floors(), tables={"parts": parts})

    def _parts_sql(self, window: TimeWindow) -> tuple[str, list[object]]:
        zone_counts, params = zone_counts_sql(window, self.window_seconds, _NAME_COUNTS)
        return _PARTS_SQL.format(zone_counts=zone_counts), params

    def _floors(self) -> list[object]:
        return [self.min_qps * self.window_seconds, self.min_children]

    def judge(self, runner: SqlRunner, rows: pa.Table) -> list[Finding]:
        """The floods among `rows`: every threshold crossed, consecutive windows one finding."""
        flagged = [
            row for row in rows.to_pylist() if all(crossing.crossed for crossing in self._crossings(row))
        ]
        return [self._finding(runner, run) for run in episodes(flagged, key=lambda row: str(row["zone"]))]

    def _crossings(self, row: Row) -> list[Crossing]:
        lookups = max(row["queries"], row["responses"])
        return [
            Crossing("random_subdomain_min_qps", self.min_qps, lookups / self.window_seconds),
            Crossing("random_subdomain_min_children", self.min_children, row["children"]),
            Crossing(
                "random_subdomain_min_failure_share",
                self.min_failure_share,
                row["failures"] / row["responses"] if row["responses"] else 0.0,
            ),
            Crossing(
                "random_subdomain_max_queries_per_child",
                self.max_queries_per_child,
                lookups / row["children"],
                at_least=False,
            ),
        ]

    def _finding(self, runner: SqlRunner, run: list[Row]) -> Finding:
        zone = str(run[0]["zone"])
        peak = max(run, key=lambda row: (max(row["queries"], row["responses"]), -row["bucket"]))
        times = EpisodeTimes.of(run)
        # The episode's own span, to the microsecond a datetime holds, widened to keep its last message.
        span = times.window
        zone_rows, params = zone_rows_sql(span, self.window_seconds, under=zone)
        resolvers = runner.arrow(_EPISODE_SQL.format(zone_rows=zone_rows), [*params, zone, self.top])
        (whole,) = runner.arrow(
            _CHILDREN_SQL.format(zone_rows=zone_rows), [*params, zone, self.top]
        ).to_pylist()
        responses = sum(row["responses"] for row in run)
        failure_share = sum(row["failures"] for row in run) / responses if responses else 0.0
        peak_qps = max(peak["queries"], peak["responses"]) / self.window_seconds
        kind = zone_kind(zone)
        return Finding(
            code=RANDOM_SUBDOMAIN.code,
            subject_type=SubjectType.ZONE,
            subject=zone,
            severity=Severity.CRITICAL if peak_qps >= CRITICAL_RATE_FACTOR * self.min_qps else Severity.HIGH,
            confidence=round(min(0.99, failure_share), 4),
            first_seen=times.first_seen,
            last_seen=times.last_seen,
            detector=DETECTOR,
            evidence={
                "zone_kind": kind.kind,
                "registrable_domain": kind.registrable,
                "window_seconds": self.window_seconds,
                "windows": len(run),
                "peak_window_start": instant_of_ns(int(peak["bucket"]) * self.window_seconds * NS_PER_SECOND),
                "peak_qps": round(peak_qps, 3),
                "queries": sum(row["queries"] for row in run),
                "responses": responses,
                "failure_share": round(failure_share, 4),
                "distinct_children": whole["children"],
                "sources": whole["sources"],
                "example_children": whole["examples"],
                "top_resolvers": resolvers.to_pylist(),
                "thresholds": crossings_evidence(self._crossings(peak)),
            },
        )
