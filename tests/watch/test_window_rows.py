"""Rows of closed windows kept between live runs: each run gives what computing the whole span gives."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import pyarrow as pa
import pytest

from dnsvigil.config import SETTINGS
from dnsvigil.findings import Finding
from dnsvigil.store.engine import DuckDBEngine
from dnsvigil.store.sql import SqlRunner
from dnsvigil.store.warehouse import Warehouse
from dnsvigil.traffic.detect import detectors_from_settings
from dnsvigil.traffic.detection import (
    NS_PER_SECOND,
    TimeWindow,
    WindowByWindowDetector,
    instant_of_ns,
    ns_of_instant,
)
from dnsvigil.watch.window_rows import WindowRows
from tests.traffic.attack_traffic import ordinary, query_flood, random_subdomain_flood, reflection
from tests.traffic.message_table import TableRunner, at, message_table
from tests.watch.test_live_detection import DETECTOR, START, flood, store

_COUNTING_SCHEMA = pa.schema([("bucket", pa.int64()), ("subject", pa.string()), ("n", pa.int64())])


@dataclass(frozen=True)
class Counting:
    """A window-by-window detector over made-up messages (window number, subject); notes what it is asked."""

    messages: list[tuple[int, str]] = field(default_factory=list, hash=False, compare=False)
    asked: list[int] = field(default_factory=list, hash=False, compare=False)
    window_seconds: int = 10

    def window_rows(self, runner: SqlRunner, window: TimeWindow) -> pa.Table:
        assert window.since is not None
        first = ns_of_instant(window.since) // (self.window_seconds * NS_PER_SECOND)
        self.asked.append(first)
        counts: dict[tuple[int, str], int] = {}
        for bucket, subject in self.messages:
            if bucket >= first:
                counts[bucket, subject] = counts.get((bucket, subject), 0) + 1
        rows = [{"bucket": bucket, "subject": subject, "n": n} for (bucket, subject), n in counts.items()]
        return pa.Table.from_pylist(rows, schema=_COUNTING_SCHEMA)

    def judge(self, runner: SqlRunner, rows: pa.Table) -> list[Finding]:
        return []

    def detect(self, runner: SqlRunner, window: TimeWindow) -> list[Finding]:
        return []


def _since(window: int) -> TimeWindow:
    return TimeWindow(instant_of_ns(window * 10 * NS_PER_SECOND), None)


def _latest(window: int) -> int:
    return window * 10 * NS_PER_SECOND + 5 * NS_PER_SECOND


def _sorted(rows: pa.Table) -> list[tuple[int, str, int]]:
    return sorted((row["bucket"], row["subject"], row["n"]) for row in rows.to_pylist())


def test_a_run_computes_only_the_windows_not_closed_and_answers_as_the_whole_span_does() -> None:
    detector, kept = Counting(), WindowRows()
    runner: SqlRunner = None  # type: ignore[assignment]  # the made-up detector reads no warehouse
    for latest in range(100, 110):
        detector.messages.extend([(latest, "a"), (latest, "b"), (latest - 1, "a")])  # one late by a window
        if latest > 100:
            kept.reopen(_latest(latest - 1))  # the watcher's timeline tells of it
        span = _since(latest - 5)
        got = kept.rows(detector, runner, span, _latest(latest))
        assert _sorted(got) == _sorted(detector.window_rows(runner, span)), latest
    # Each run asked from the first window not closed: the latest message's.
    assert detector.asked[0::2] == [95, *range(100, 109)]
    # Messages stored late, in a closed window: reopened from there, and counted.
    detector.messages.append((103, "c"))
    kept.reopen(103 * 10 * NS_PER_SECOND + 1)
    span = _since(104)
    assert _sorted(kept.rows(detector, runner, span, _latest(109))) == _sorted(
        detector.window_rows(runner, span)
    )
    assert detector.asked[-2] == 104  # 103 left the span: only what stays in it is computed again
    # A span reaching back before what is kept (an incident still open) is computed whole.
    span = _since(90)
    assert _sorted(kept.rows(detector, runner, span, _latest(109))) == _sorted(
        detector.window_rows(runner, span)
    )
    assert detector.asked[-2] == 90


def test_random_subdomain_rows_from_kept_windows_equal_the_whole_spans_as_traffic_is_stored(
    home: Path,
) -> None:
    warehouse = Warehouse.open(home, create=True)
    kept = WindowRows()
    stored_until = 0
    for first_second, seconds in ((0, 3), (3, 2), (5, 4), (1, 1), (9, 3)):  # (1, 1): stored late
        store(warehouse, flood(first_second, seconds))
        stored_until = max(stored_until, first_second + seconds)
        latest = (START + stored_until) * NS_PER_SECOND - 1
        if first_second == 1:
            kept.reopen((START + first_second) * NS_PER_SECOND)
        span = TimeWindow(instant_of_ns((START + stored_until - 8) * NS_PER_SECOND), None)
        engine = DuckDBEngine(warehouse)
        try:
            incremental = kept.rows(DETECTOR, engine, span, latest)
            whole = DETECTOR.window_rows(engine, span)
        finally:
            engine.close()
        key = lambda row: (row["zone"], row["bucket"])  # noqa: E731
        assert sorted(incremental.to_pylist(), key=key) == sorted(whole.to_pylist(), key=key), first_second
        assert len(whole) > 0


def test_every_detector_judged_from_kept_rows_finds_what_the_whole_span_finds(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Baselines across windows (query flood, NXDOMAIN surge) included, and a batch stored late."""
    for setting in SETTINGS:
        monkeypatch.delenv(setting.env, raising=False)
    rows = ordinary()
    rows += random_subdomain_flood("victim.example", start=120, seconds=60, qps=150)
    rows += reflection("198.18.0.7", start=300, seconds=60, qps=5)
    rows += query_flood("198.18.9.9", start=420, seconds=60, qps=150)
    late = [row for row in rows if at(200) <= row["ts"] < at(230)]
    on_time = [row for row in rows if not at(200) <= row["ts"] < at(230)]
    kept, found = WindowRows(), set()
    for step in range(60, 660, 45):
        stored = [row for row in on_time if row["ts"] < at(step)]
        if step >= 330:
            stored += late
            if step - 45 < 330:
                kept.reopen(at(200))  # the watcher's timeline tells of the late batch
        runner = TableRunner(message_table(stored))
        latest_ns = max(row["ts"] for row in stored)
        since = (latest_ns // NS_PER_SECOND - 300) // 60 * 60
        span = TimeWindow(instant_of_ns(since * NS_PER_SECOND), None)
        for detector in detectors_from_settings():
            assert isinstance(detector, WindowByWindowDetector)
            incremental = kept.rows(detector, runner, span, latest_ns)
            whole = detector.window_rows(runner, span)
            assert incremental.sort_by(_all_columns(whole)).equals(whole.sort_by(_all_columns(whole))), step
            findings = detector.judge(runner, incremental)
            assert findings == detector.detect(runner, span), (step, detector)
            found.update(finding.code for finding in findings)
    assert found == {"DDOS.RANDOM_SUBDOMAIN", "DDOS.AMPLIFICATION", "DDOS.QUERY_FLOOD", "DNS.NXDOMAIN_SURGE"}


def _all_columns(table: pa.Table) -> list[tuple[str, str]]:
    types = table.schema
    return [(name, "ascending") for name in types.names if not pa.types.is_list(types.field(name).type)]
