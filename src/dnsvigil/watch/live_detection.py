"""Run the traffic detectors over the most recent stored traffic, store their findings, raise new alerts.

"Recent" is by the traffic's own clock, not the wall clock: the latest message time is read from the
Parquet footers of the files committed since the last run (their `ts` statistics), so a watcher fed old
captures judges them as a live one judges live traffic. Findings are stored by `detect_and_store`, as
`dnsvigil traffic detect` stores them (idempotent); `alerts.AlertTracker` decides which are news.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from datetime import timedelta

import pyarrow.parquet as pq

from dnsvigil.errors import DnsvigilError, NothingReadError
from dnsvigil.findings import Finding
from dnsvigil.ingest.pipeline import NS_PER_DAY, day_label
from dnsvigil.store.engine import DuckDBEngine
from dnsvigil.store.schema import DNS_MESSAGES, FINDINGS
from dnsvigil.store.sql import SqlRunner
from dnsvigil.store.warehouse import StoredFile, Warehouse
from dnsvigil.traffic.detect import detect_and_store
from dnsvigil.traffic.detection import (
    TimeWindow,
    TrafficDetector,
    WindowByWindowDetector,
    instant_of_ns,
    ns_of_instant,
)
from dnsvigil.watch.alerts import MAX_LOOKBACK_SPANS, AlertTracker, detection_span
from dnsvigil.watch.stats import WatchStats
from dnsvigil.watch.window_rows import StoredFiles, WindowRows

FILES_READ_AT_START = 16
"""Most recent committed files whose footers give the latest message time when a watcher starts."""
DETECTION_THREADS = max((os.cpu_count() or 2) // 2, 1)
"""DuckDB threads of a detection run: half the cores. A run on every core, at a busy name server, leaves its
dnstap writer thread waiting for one, and the server drops what its queue cannot hold meanwhile."""


class StoredTimeline:
    """The latest message time in `dns_messages`, read from the footers of newly committed files; the
    earliest message time of the files new at the last refresh (to tell messages stored late); and which
    files may hold messages of a span (to read no others)."""

    def __init__(self, warehouse: Warehouse) -> None:
        self._warehouse = warehouse
        self._files_seen = max(len(warehouse.files(DNS_MESSAGES.name)) - FILES_READ_AT_START, 0)
        self._latest_of: dict[str, int] = {}  # a file's path -> its latest message time
        self.files: list[StoredFile] = []  # the message files committed at the last refresh
        self.latest_ns: int | None = None
        self.earliest_new_ns: int | None = None

    def refresh(self) -> int | None:
        """The latest message time (nanoseconds since the epoch), reading the files new since last time."""
        files = self.files = self._warehouse.files(DNS_MESSAGES.name)
        self.earliest_new_ns = None
        committed = {stored.path for stored in files}
        self._latest_of = {path: ns for path, ns in self._latest_of.items() if path in committed}
        for stored in files[self._files_seen :]:
            span = _ts_span_ns(self._warehouse, stored.path)
            if span is None:
                continue
            earliest, newest = span
            self._latest_of[stored.path] = newest
            if self.latest_ns is None or newest > self.latest_ns:
                self.latest_ns = newest
            if self.earliest_new_ns is None or earliest < self.earliest_new_ns:
                self.earliest_new_ns = earliest
        self._files_seen = len(files)
        return self.latest_ns

    def stored_files(self, since_ns: int, reader: Callable[[frozenset[str]], SqlRunner]) -> StoredFiles:
        """The message files committed at the last refresh, and those that may hold messages from `since_ns`
        on: not of an earlier UTC day, nor ending before by their footer."""
        readable = frozenset(stored.path for stored in self.files if self._may_hold(stored, since_ns))
        return StoredFiles(readable, frozenset(stored.path for stored in self.files), reader)

    def _may_hold(self, stored: StoredFile, since_ns: int) -> bool:
        if stored.day < day_label(since_ns // NS_PER_DAY):
            return False
        latest = self._latest_of.get(stored.path)
        return latest is None or latest >= since_ns


def _ts_span_ns(warehouse: Warehouse, path: str) -> tuple[int, int] | None:
    """The earliest and latest `ts` of a stored file, from its footer's statistics."""
    try:
        metadata = pq.read_metadata(warehouse.home / path)
    except OSError:
        return None  # the catalog lists it, so it is there; a read error is told by the detectors' run
    column = metadata.schema.to_arrow_schema().get_field_index("ts")
    span: tuple[int, int] | None = None
    for group in range(metadata.num_row_groups):
        statistics = metadata.row_group(group).column(column).statistics
        if statistics is not None and statistics.has_min_max:
            low, high = int(statistics.min_raw), int(statistics.max_raw)
            span = (low, high) if span is None else (min(span[0], low), max(span[1], high))
    return span


class LiveDetection:
    """Judges the recent stored traffic when asked (the watcher asks after storing).

    Args:
        warehouse: where messages are stored and findings go.
        detectors: the traffic detectors (`detectors_from_settings`).
        span_seconds: how far back from the latest message the detectors read.
        window_seconds: the detectors' counting window.
        stats: counts runs, failures, findings.
        alert: called with each finding that begins a new incident.
        notice: tells the user when a run fails.
    """

    def __init__(
        self,
        warehouse: Warehouse,
        detectors: Sequence[TrafficDetector],
        *,
        span_seconds: int,
        window_seconds: int,
        stats: WatchStats,
        alert: Callable[[Finding], None],
        notice: Callable[[str], None],
    ) -> None:
        self._warehouse = warehouse
        self._detectors = tuple(detectors)
        self._span_seconds = span_seconds
        self._window_seconds = window_seconds
        self._stats = stats
        self._alert = alert
        self._notice = notice
        self._timeline = StoredTimeline(warehouse)
        self._tracker = AlertTracker(quiet_seconds=span_seconds)
        self._windows = WindowRows()
        self._remember_stored_findings()

    def _remember_stored_findings(self) -> None:
        """Incidents stored before a restart are not news: remember those of the latest span."""
        latest = self._timeline.refresh()
        if latest is None:
            return
        since = instant_of_ns(latest) - timedelta(seconds=MAX_LOOKBACK_SPANS * self._span_seconds)
        engine = DuckDBEngine(self._warehouse)
        try:
            rows = engine.arrow(
                f"SELECT code, subject_type, subject, first_seen, last_seen FROM {FINDINGS.name}"
                " WHERE last_seen >= ?",
                [since],
            ).to_pylist()
        finally:
            engine.close()
        for row in rows:
            self._tracker.remember(
                (row["code"], row["subject_type"], row["subject"]), row["first_seen"], row["last_seen"]
            )

    def run(self) -> list[Finding]:
        """Judge the recent traffic once; return the findings that were news (already alerted).

        A failing run (a query error, an unreadable file) is told and counted; the watcher goes on.
        """
        latest_ns = self._timeline.refresh()
        if latest_ns is None:
            return []
        if self._timeline.earliest_new_ns is not None:
            self._windows.reopen(self._timeline.earliest_new_ns)
        latest = instant_of_ns(latest_ns)
        span = detection_span(
            latest_ns,
            span_seconds=self._span_seconds,
            window_seconds=self._window_seconds,
            open_since=self._tracker.open_since(latest, self._window_seconds),
        )
        since_ns = ns_of_instant(span.since) if span.since is not None else 0
        readers = _FileReaders(self._warehouse)
        files = self._timeline.stored_files(since_ns, readers.over)
        try:
            run = detect_and_store(
                self._warehouse,
                self._detectors,
                span,
                threads=DETECTION_THREADS,
                detect=lambda detector, runner, window: self._detect(
                    detector, runner, window, latest_ns, files
                ),
                wanted=lambda stored: stored.table != DNS_MESSAGES.name or stored.path in files.readable,
            )
        except NothingReadError:
            return []
        except (DnsvigilError, OSError) as error:
            self._stats.add(detection_errors=1)
            self._notice(
                f"the traffic detectors failed over {_described(span)} ({error}); trying again later"
            )
            return []
        finally:
            readers.close()
        news = self._tracker.admit(run.findings)
        self._tracker.forget_before(latest - timedelta(seconds=MAX_LOOKBACK_SPANS * self._span_seconds))
        self._stats.add(detection_runs=1, findings_stored=run.stored, findings=len(news))
        for finding in news:
            self._alert(finding)
        return news

    def _detect(
        self,
        detector: TrafficDetector,
        runner: SqlRunner,
        span: TimeWindow,
        latest_ns: int,
        files: StoredFiles,
    ) -> list[Finding]:
        """Run one detector, from kept rows and counts when it judges window by window."""
        if isinstance(detector, WindowByWindowDetector):
            return detector.judge(runner, self._windows.rows(detector, runner, span, latest_ns, files))
        return detector.detect(runner, span)


class _FileReaders:
    """Engines over some of the message files, made when first asked for and closed together."""

    def __init__(self, warehouse: Warehouse) -> None:
        self._warehouse = warehouse
        self._engines: dict[frozenset[str], DuckDBEngine] = {}

    def over(self, paths: frozenset[str]) -> SqlRunner:
        """An engine whose `dns_messages` holds the files `paths` only (other tables are empty)."""
        engine = self._engines.get(paths)
        if engine is None:
            engine = DuckDBEngine(
                self._warehouse,
                threads=DETECTION_THREADS,
                wanted=lambda stored: stored.table == DNS_MESSAGES.name and stored.path in paths,
            )
            self._engines[paths] = engine
        return engine

    def close(self) -> None:
        for engine in self._engines.values():
            engine.close()


def _described(span: TimeWindow) -> str:
    return f"the traffic since {span.since.isoformat()}" if span.since else "the stored traffic"
