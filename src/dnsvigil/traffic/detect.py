"""Run every traffic detector over the stored DNS messages and keep what they find.

The detectors are pure over a SQL runner; this module builds them from the settings table, gives them
the warehouse's engine, and stores each detector's findings as one idempotent commit, so that
`dnsvigil traffic detect` (and, later, the live watcher) run exactly the same thing.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from dnsvigil.config import read_int, read_share
from dnsvigil.errors import NothingReadError
from dnsvigil.findings import Finding
from dnsvigil.store.engine import DuckDBEngine
from dnsvigil.store.findings_store import store_findings
from dnsvigil.store.sql import SqlRunner
from dnsvigil.store.warehouse import StoredFile, Warehouse
from dnsvigil.traffic.amplification import AmplificationDetector
from dnsvigil.traffic.detection import TimeWindow, TrafficDetector
from dnsvigil.traffic.nxdomain_surge import NxdomainSurgeDetector
from dnsvigil.traffic.query_flood import QueryFloodDetector
from dnsvigil.traffic.random_subdomain import RandomSubdomainDetector


def detectors_from_settings() -> tuple[TrafficDetector, ...]:
    """Every traffic detector, with the thresholds in force (environment, else the documented defaults).

    Raises:
        UsageError: a threshold setting holds a value that is not a number in its range.
    """
    window_seconds = read_int("traffic_window_seconds", minimum=1)
    mad_k = read_int("traffic_baseline_mad_k", minimum=1)
    return (
        RandomSubdomainDetector(
            window_seconds=window_seconds,
            min_qps=read_int("random_subdomain_min_qps", minimum=1),
            min_children=read_int("random_subdomain_min_children", minimum=1),
            min_failure_share=read_share("random_subdomain_min_failure_share"),
            max_queries_per_child=read_int("random_subdomain_max_queries_per_child", minimum=1),
        ),
        AmplificationDetector(
            window_seconds=window_seconds,
            min_responses=read_int("amplification_min_responses", minimum=1),
            min_factor=read_int("amplification_min_factor", minimum=1),
        ),
        QueryFloodDetector(
            window_seconds=window_seconds,
            min_qps=read_int("query_flood_min_qps", minimum=1),
            mad_k=mad_k,
        ),
        NxdomainSurgeDetector(
            window_seconds=window_seconds,
            min_responses=read_int("nxdomain_surge_min_responses", minimum=1),
            min_rise=read_share("nxdomain_surge_min_rise"),
            mad_k=mad_k,
            min_baseline_windows=read_int("nxdomain_surge_min_baseline_windows", minimum=1),
        ),
    )


@dataclass(frozen=True, slots=True)
class DetectionRun:
    """What one run of the traffic detectors read, found, and stored that was new to the warehouse."""

    messages: int
    findings: tuple[Finding, ...]
    stored: int


def count_messages(runner: SqlRunner, window: TimeWindow) -> int:
    """How many DNS messages are stored in `window`."""
    where, params = window.where()
    counted = runner.arrow(f"SELECT count(*) AS n FROM dns_messages WHERE {where}", params)
    return int(counted.column("n")[0].as_py())


def _described(window: TimeWindow) -> str:
    """` from X until Y` for the bounds a window has, for messages about it."""
    since = f" from {window.since.isoformat()}" if window.since else ""
    until = f" until {window.until.isoformat()}" if window.until else ""
    return since + until


def detect_and_store(
    warehouse: Warehouse,
    detectors: Sequence[TrafficDetector],
    window: TimeWindow,
    *,
    threads: int | None = None,
    detect: Callable[[TrafficDetector, SqlRunner, TimeWindow], list[Finding]] | None = None,
    wanted: Callable[[StoredFile], bool] | None = None,
) -> DetectionRun:
    """Run `detectors` over the messages stored in `window`; commit each detector's findings.

    Storing is idempotent: the same findings from the same data are not stored twice.

    Args:
        warehouse: where the messages are read and the findings stored.
        detectors: the detectors to run.
        window: the span of stored traffic they read.
        threads: DuckDB threads for the run; every core when None (live mode leaves some to receiving).
        detect: how to run one detector (live mode reuses the rows of closed windows); `detector.detect`
            when None.
        wanted: which committed files to read (`DuckDBEngine`); every file when None.

    Raises:
        NothingReadError: no message is stored in `window`.
    """
    engine = DuckDBEngine(warehouse, threads=threads, wanted=wanted)
    try:
        messages = count_messages(engine, window)
        if not messages:
            raise NothingReadError(
                f"{warehouse.home}: no DNS messages stored{_described(window)}",
                hint="ingest captures first (`dnsvigil ingest pcap ...`), or widen --since/--until",
            )
        found = [
            (detector, detect(detector, engine, window) if detect else detector.detect(engine, window))
            for detector in detectors
        ]
    finally:
        engine.close()
    stored = sum(store_findings(warehouse, findings, run=repr(detector)) for detector, findings in found)
    return DetectionRun(messages, tuple(finding for _, findings in found for finding in findings), stored)
