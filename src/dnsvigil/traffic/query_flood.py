"""`DDOS.QUERY_FLOOD`: sources, or networks of sources, sending queries far above the usual rate.

The baseline is learnt from the traffic itself: over every (source, window) of the span analysed, the
median of the query counts and their median absolute deviation (MAD), robust to the few flooding sources
they are meant to expose. A source's window is a flood when its count lies more than `mad_k` scaled MADs
above the median (a robust z-score) and its rate reaches `min_qps`, an absolute floor under which no rate
is a flood however unusual. The spread is at least a count's own chance variation, the square root of the
median (Poisson): a source sending at a fixed rate (a load generator, a monitoring probe) varies by a few
queries a window, and its MAD alone would call a rise of a tenth of a percent a flood. The
span's first and last windows are judged but do not teach the baseline (when it has more than two): a
capture, or a live stream's newest minute, begins or ends inside them, and their part-window counts would
pull the median down until a source's steady rate looked like a flood against its own partial windows.

Networks are judged the same way, against their own baseline, at the prefixes response-rate limiting
keys on: /24 for IPv4, /56 for IPv6. A network is reported only in windows where none of its addresses
was reported alone: it is how a flood spread over many addresses of one network shows.
Medians are exact (over one count per entity and window, a small table): an estimate would vary from
run to run, and so would the findings' evidence, and a rerun on the same data would store them again.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import pyarrow as pa

from dnsvigil.findings import Finding, FindingCode, Severity, SubjectType, register_code
from dnsvigil.store.sql import SqlRunner
from dnsvigil.traffic.detection import (
    MAD_TO_SIGMA,
    Crossing,
    EpisodeTimes,
    Row,
    TimeWindow,
    crossings_evidence,
    episodes,
    parts_cte,
    window_number_sql,
)
from dnsvigil.traffic.rssac002 import ipv6_prefix64_sql

DETECTOR = "traffic.query_flood"

QUERY_FLOOD = register_code(
    FindingCode(
        "DDOS.QUERY_FLOOD",
        "Query flood from a source or network",
        "A source address, or a /24 (IPv4) or /56 (IPv6) network, sent queries at a rate far above the "
        "baseline learnt from all sources and above an absolute floor: a direct query flood.",
    )
)


def _prefix_sql(column: str) -> str:
    """SQL for the /24 (IPv4) or /56 (IPv6) network of an address text column: `192.0.2.0/24`."""
    groups = ipv6_prefix64_sql(column)
    fourth = f"lpad(split_part({groups}, ':', 4), 4, '0')"
    ipv6 = (
        f"split_part({groups}, ':', 1) || ':' || split_part({groups}, ':', 2) || ':' ||"
        f" split_part({groups}, ':', 3) || ':' || regexp_replace(left({fourth}, 2) || '00', '^0+(.)', '\\1')"
        " || '::/56'"
    )
    return (
        f"CASE WHEN {column} LIKE '%:%' THEN {ipv6} ELSE regexp_replace({column}, '\\.[0-9]+$', '.0/24') END"
    )


_QUERIES_SQL = (
    "SELECT ts, {bucket} AS bucket, src_addr, dst_addr, qname, {prefix} AS prefix FROM dns_messages"
    " WHERE {where} AND NOT qr"
)

_PARTS_SQL = """
SELECT src_addr, prefix, bucket, count(*) AS queries, epoch_ns(min(ts)) AS first_ns,
       epoch_ns(max(ts)) AS last_ns
FROM ({queries}) GROUP BY src_addr, prefix, bucket
"""

_WINDOWS_SQL = """
WITH {parts}addresses AS (
    SELECT src_addr, prefix, bucket, sum(queries)::BIGINT AS queries, min(first_ns) AS first_ns,
           max(last_ns) AS last_ns
    FROM parts GROUP BY src_addr, prefix, bucket)
SELECT 'address' AS level, src_addr AS entity, prefix, bucket, queries, 1::BIGINT AS addresses, first_ns,
       last_ns
FROM addresses
UNION ALL
SELECT 'prefix' AS level, prefix AS entity, prefix, bucket, sum(queries)::BIGINT AS queries,
       count(src_addr) AS addresses, min(first_ns) AS first_ns, max(last_ns) AS last_ns
FROM addresses GROUP BY prefix, bucket
"""
"""Window rows from `parts` (of one count or several; `{parts}` defines it when counted in the same
statement): every source, and every network with the sources seen in it."""

_FLOODS_SQL = f"""
WITH edges AS (SELECT min(bucket) AS first_bucket, max(bucket) AS last_bucket FROM window_counts),
learning AS (
    SELECT window_counts.* FROM window_counts, edges
    WHERE last_bucket - first_bucket < 2 OR bucket > first_bucket AND bucket < last_bucket),
medians AS (SELECT level, quantile_cont(queries, 0.5)::DOUBLE AS median FROM learning GROUP BY level),
baselines AS (
    SELECT level, median, quantile_cont(abs(queries - median), 0.5)::DOUBLE AS mad
    FROM learning JOIN medians USING (level) GROUP BY level, median)
SELECT window_counts.*, median, mad FROM window_counts JOIN baselines USING (level)
WHERE queries >= ? AND queries >= median + ? * greatest({MAD_TO_SIGMA} * mad, sqrt(median), 1.0)
"""

_DETAILS_SQL = """
SELECT {column} AS value, count(*) AS queries FROM ({queries}) WHERE {level} = ?
GROUP BY value ORDER BY queries DESC, value LIMIT ?
"""


@dataclass(frozen=True, slots=True, kw_only=True)
class QueryFloodDetector:
    """Finds sources and networks whose query rate is far above the baseline and above a floor.

    Attributes:
        window_seconds: width of a counting window.
        min_qps: queries per second a source or network must reach (the absolute floor).
        mad_k: scaled MADs above the median count that a window's count must lie.
        top: query names and destinations kept in the evidence.
    """

    window_seconds: int
    min_qps: int
    mad_k: int
    top: int = 5

    def __post_init__(self) -> None:
        if min(self.window_seconds, self.min_qps, self.mad_k) < 1:
            raise ValueError(f"{self!r}: window, rate and MAD multiple must be at least 1")

    def detect(self, runner: SqlRunner, window: TimeWindow) -> list[Finding]:
        """The query floods in `window`, one finding per source or network and run of flagged windows."""
        return self.judge(runner, self.window_rows(runner, window))

    def window_rows(self, runner: SqlRunner, window: TimeWindow) -> pa.Table:
        """Per source, and per network, and window: the queries sent."""
        queries, params = self._queries_sql(window)
        return runner.arrow(_WINDOWS_SQL.format(parts=parts_cte(_PARTS_SQL.format(queries=queries))), params)

    def window_parts(self, runner: SqlRunner, window: TimeWindow) -> pa.Table:
        """The counts of `window` in parts that merge: per source and window, the queries sent."""
        queries, params = self._queries_sql(window)
        return runner.arrow(_PARTS_SQL.format(queries=queries), params)

    def window_rows_of(self, runner: SqlRunner, parts: pa.Table) -> pa.Table:
        """`window_rows` from `window_parts`' tables, concatenated."""
        return runner.arrow(_WINDOWS_SQL.format(parts=""), tables={"parts": parts})

    def judge(self, runner: SqlRunner, rows: pa.Table) -> list[Finding]:
        """The floods among `rows`, against the baseline of every source's (or network's) windows."""
        flagged_rows: list[Row] = runner.arrow(
            _FLOODS_SQL, [self.min_qps * self.window_seconds, self.mad_k], tables={"window_counts": rows}
        ).to_pylist()
        alone = {(row["prefix"], row["bucket"]) for row in flagged_rows if row["level"] == "address"}
        flagged = [
            row
            for row in flagged_rows
            if row["level"] == "address" or (row["entity"], row["bucket"]) not in alone
        ]
        runs = episodes(flagged, key=lambda row: f"{row['level']} {row['entity']}")
        return sorted(
            (self._finding(runner, run) for run in runs),
            key=lambda finding: (finding.subject, finding.first_seen),
        )

    def _queries_sql(self, window: TimeWindow) -> tuple[str, list[object]]:
        where, params = window.where()
        sql = _QUERIES_SQL.format(
            bucket=window_number_sql(self.window_seconds), prefix=_prefix_sql("src_addr"), where=where
        )
        return sql, params

    def _crossings(self, row: Row) -> list[Crossing]:
        sigma = max(MAD_TO_SIGMA * row["mad"], math.sqrt(row["median"]), 1.0)
        return [
            Crossing("query_flood_min_qps", self.min_qps, row["queries"] / self.window_seconds),
            Crossing("traffic_baseline_mad_k", self.mad_k, (row["queries"] - row["median"]) / sigma),
        ]

    def _finding(self, runner: SqlRunner, run: list[Row]) -> Finding:
        level, entity = str(run[0]["level"]), str(run[0]["entity"])
        peak = max(run, key=lambda row: (row["queries"], -row["bucket"]))
        times = EpisodeTimes.of(run)
        queries, params = self._queries_sql(times.window)
        column = "src_addr" if level == "address" else "prefix"

        def top(of: str) -> list[Row]:
            details = _DETAILS_SQL.format(column=of, queries=queries, level=column)
            rows: list[Row] = runner.arrow(details, [*params, entity, self.top]).to_pylist()
            return rows

        return Finding(
            code=QUERY_FLOOD.code,
            subject_type=SubjectType.IP,
            subject=entity,
            severity=Severity.HIGH,
            # A network may be many ordinary users behind one prefix; one address flooding is clearer.
            confidence=0.8 if level == "address" else 0.6,
            first_seen=times.first_seen,
            last_seen=times.last_seen,
            detector=DETECTOR,
            evidence={
                "level": level,
                "addresses": max(row["addresses"] for row in run),
                "window_seconds": self.window_seconds,
                "windows": len(run),
                "queries": sum(row["queries"] for row in run),
                "peak_qps": round(peak["queries"] / self.window_seconds, 3),
                "baseline_median_queries": peak["median"],
                "baseline_mad_queries": peak["mad"],
                "top_names": top("qname"),
                "targets": top("dst_addr"),
                "thresholds": crossings_evidence(self._crossings(peak)),
            },
        )
