"""`DNS.NXDOMAIN_SURGE`: a zone's share of NXDOMAIN answers rising far above its own usual share.

Every zone has its own normal NXDOMAIN share (a CDN's zones near zero, a zone full of typos higher), so
each is held to its own baseline: the median of its per-window shares, over the windows with at least
`BASELINE_MIN_RESPONSES` responses, and their MAD. A window surges when it holds enough responses and its
share lies both `min_rise` above the median and `mad_k` scaled MADs above it (a MAD under one percentage
point counts as one). The median is robust only while surging windows are fewer than the usual ones, so
a surge lasting most of the span analysed is its baseline, not a surge: analyse a longer span.

Zones are counted at every level (see `zones`); when a zone and a zone below it surge in the same window,
the deeper one is reported: its parent surges only through it. A random-subdomain flood also raises
its victim's NXDOMAIN share, so that zone usually carries both findings.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import pyarrow as pa

from dnsvigil.findings import Finding, FindingCode, Severity, SubjectType, register_code
from dnsvigil.store.sql import SqlRunner
from dnsvigil.traffic.detection import (
    MAD_TO_SIGMA,
    Crossing,
    Row,
    TimeWindow,
    crossings_evidence,
    episodes,
    instant_of_ns,
    parts_cte,
)
from dnsvigil.traffic.zones import RCODE_NXDOMAIN, zone_counts_sql, zone_kind

DETECTOR = "traffic.nxdomain_surge"
BASELINE_MIN_RESPONSES = 10
"""Responses a window must hold to count towards a zone's baseline: fewer give a share that is noise."""
MIN_SIGMA = 0.01

NXDOMAIN_SURGE = register_code(
    FindingCode(
        "DNS.NXDOMAIN_SURGE",
        "NXDOMAIN surge in a zone",
        "The share of NXDOMAIN answers for names in a zone rose far above that zone's own baseline: an "
        "attack, a misconfiguration, or malware asking for names that do not exist.",
        ("https://www.rfc-editor.org/rfc/rfc8020",),
    )
)

_NAME_COUNTS = (
    f"count(*) AS responses, count(*) FILTER (WHERE rcode = {RCODE_NXDOMAIN}) AS nxdomain,"
    " min(ts) AS first_ts, max(ts) AS last_ts"
)
"""What `_PARTS_SQL` adds up, per query name and window, over responses (`zone_counts_sql`)."""

_PARTS_SQL = """
SELECT zone, bucket, sum(responses)::BIGINT AS responses, sum(nxdomain)::BIGINT AS nxdomain,
       epoch_ns(min(first_ts)) AS first_ns, epoch_ns(max(last_ts)) AS last_ns
FROM ({zone_counts}) GROUP BY zone, bucket
"""

_WINDOWS_SQL = f"""
WITH {{parts}}merged AS (
    SELECT zone, bucket, sum(responses)::BIGINT AS responses, sum(nxdomain)::BIGINT AS nxdomain,
           min(first_ns) AS first_ns, max(last_ns) AS last_ns
    FROM parts GROUP BY zone, bucket HAVING sum(responses) >= {BASELINE_MIN_RESPONSES})
SELECT zone, bucket, responses, nxdomain, nxdomain / responses AS share, first_ns, last_ns FROM merged
"""
"""Window rows from `parts` (of one count or several; `{parts}` defines it when counted in the same
statement)."""

_SURGES_SQL = f"""
WITH medians AS (SELECT zone, quantile_cont(share, 0.5)::DOUBLE AS median, count(*) AS baseline_windows
                 FROM window_counts GROUP BY zone),
baselines AS (
    SELECT zone, median, baseline_windows, quantile_cont(abs(share - median), 0.5)::DOUBLE AS mad
    FROM window_counts JOIN medians USING (zone) GROUP BY zone, median, baseline_windows)
SELECT window_counts.*, median, mad, baseline_windows FROM window_counts JOIN baselines USING (zone)
WHERE responses >= ? AND baseline_windows >= ? AND share - median >= ?
  AND share - median >= ? * greatest({MAD_TO_SIGMA} * mad, {MIN_SIGMA})
"""


def _deepest(rows: Sequence[Row]) -> list[Row]:
    """The flagged rows less those whose zone has a flagged zone below it in the same window."""
    flagged = {(row["zone"], row["bucket"]) for row in rows}
    parents = {(zone.split(".", 1)[1], bucket) for zone, bucket in flagged if "." in zone}
    # A parent is explained by any flagged descendant: walk each flagged zone's ancestors.
    ancestors: set[tuple[str, int]] = set()
    for zone, bucket in parents:
        labels = zone.split(".")
        ancestors.update((".".join(labels[index:]), bucket) for index in range(len(labels)))
    return [row for row in rows if (row["zone"], row["bucket"]) not in ancestors]


@dataclass(frozen=True, slots=True, kw_only=True)
class NxdomainSurgeDetector:
    """Finds zones whose NXDOMAIN share departs from their own baseline; every threshold per window.

    Attributes:
        window_seconds: width of a counting window.
        min_responses: responses about the zone in a surging window.
        min_rise: NXDOMAIN share above the zone's median share (0..1).
        mad_k: scaled MADs of the zone's shares that the rise must also reach.
        min_baseline_windows: windows with at least `BASELINE_MIN_RESPONSES` responses the zone needs for
            a baseline; a zone seen in fewer is not judged.
    """

    window_seconds: int
    min_responses: int
    min_rise: float
    mad_k: int
    min_baseline_windows: int

    def __post_init__(self) -> None:
        if min(self.window_seconds, self.min_responses, self.mad_k, self.min_baseline_windows) < 1:
            raise ValueError(f"{self!r}: window, responses, MAD multiple and windows must be at least 1")
        if not 0.0 <= self.min_rise <= 1.0:
            raise ValueError(f"{self!r}: min_rise must be within 0..1")

    def detect(self, runner: SqlRunner, window: TimeWindow) -> list[Finding]:
        """The NXDOMAIN surges in `window`, one finding per zone and run of surging windows."""
        return self.judge(runner, self.window_rows(runner, window))

    def window_rows(self, runner: SqlRunner, window: TimeWindow) -> pa.Table:
        """Per zone and window with enough responses for a baseline: responses, NXDOMAIN, their share."""
        parts, params = self._parts_sql(window)
        return runner.arrow(_WINDOWS_SQL.format(parts=parts_cte(parts)), params)

    def window_parts(self, runner: SqlRunner, window: TimeWindow) -> pa.Table:
        """The counts of `window` in parts that merge: per zone and window, responses and NXDOMAIN."""
        parts, params = self._parts_sql(window)
        return runner.arrow(parts, params)

    def window_rows_of(self, runner: SqlRunner, parts: pa.Table) -> pa.Table:
        """`window_rows` from `window_parts`' tables, concatenated."""
        return runner.arrow(_WINDOWS_SQL.format(parts=""), tables={"parts": parts})

    def _parts_sql(self, window: TimeWindow) -> tuple[str, list[object]]:
        zone_counts, params = zone_counts_sql(
            window, self.window_seconds, _NAME_COUNTS, responses_only=True, with_apex=True
        )
        return _PARTS_SQL.format(zone_counts=zone_counts), params

    def judge(self, runner: SqlRunner, rows: pa.Table) -> list[Finding]:
        """The surges among `rows`, each zone against the baseline of its windows in `rows`."""
        surging: list[Row] = runner.arrow(
            _SURGES_SQL,
            [self.min_responses, self.min_baseline_windows, self.min_rise, self.mad_k],
            tables={"window_counts": rows},
        ).to_pylist()
        return [self._finding(run) for run in episodes(_deepest(surging), key=lambda row: str(row["zone"]))]

    def _crossings(self, row: Row) -> list[Crossing]:
        rise = row["share"] - row["median"]
        return [
            Crossing("nxdomain_surge_min_responses", self.min_responses, row["responses"]),
            Crossing("nxdomain_surge_min_rise", self.min_rise, rise),
            Crossing("traffic_baseline_mad_k", self.mad_k, rise / max(MAD_TO_SIGMA * row["mad"], MIN_SIGMA)),
            Crossing(
                "nxdomain_surge_min_baseline_windows", self.min_baseline_windows, row["baseline_windows"]
            ),
        ]

    def _finding(self, run: list[Row]) -> Finding:
        zone = str(run[0]["zone"])
        peak = max(run, key=lambda row: (row["share"], row["responses"], -row["bucket"]))
        responses = sum(row["responses"] for row in run)
        nxdomain = sum(row["nxdomain"] for row in run)
        kind = zone_kind(zone)
        return Finding(
            code=NXDOMAIN_SURGE.code,
            subject_type=SubjectType.ZONE,
            subject=zone,
            severity=Severity.MEDIUM,
            confidence=round(min(0.95, 0.5 + (peak["share"] - peak["median"]) / 2), 4),
            first_seen=instant_of_ns(min(row["first_ns"] for row in run)),
            last_seen=instant_of_ns(max(row["last_ns"] for row in run)),
            detector=DETECTOR,
            evidence={
                "zone_kind": kind.kind,
                "registrable_domain": kind.registrable,
                "window_seconds": self.window_seconds,
                "windows": len(run),
                "responses": responses,
                "nxdomain": nxdomain,
                "nxdomain_share": round(nxdomain / responses, 4),
                "peak_share": round(peak["share"], 4),
                "baseline_share": round(peak["median"], 4),
                "baseline_mad": round(peak["mad"], 4),
                "baseline_windows": peak["baseline_windows"],
                "thresholds": crossings_evidence(self._crossings(peak)),
            },
        )
