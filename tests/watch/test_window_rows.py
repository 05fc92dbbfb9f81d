"""Rows of closed windows and counts of open ones kept between live runs: each run gives what computing the
whole span gives, counting only the files stored since the last."""

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
from dnsvigil.watch.live_detection import StoredTimeline
from dnsvigil.watch.window_rows import StoredFiles, WindowRows
from tests.traffic.attack_traffic import ordinary, query_flood, random_subdomain_flood, reflection
from tests.traffic.message_table import TableRunner, at, message_table
from tests.watch.test_live_detection import DETECTOR, START, flood, store

_COUNTING_SCHEMA = pa.schema([("bucket", pa.int64()), ("subject", pa.string()), ("n", pa.int64())])


@dataclass(frozen=True)
class _Files:
    """The runner of the made-up detector: the names of the files it reads."""

    names: frozenset[str]

    def arrow(self, sql: str, params: list[object] | None = None, **_: object) -> pa.Table:
        raise AssertionError("the made-up detector runs no SQL")


@dataclass(frozen=True)
class Counting:
    """A window-by-window detector over made-up files of messages (window number, subject); notes which
    windows of which files it is asked to count."""

    files: dict[str, list[tuple[int, str]]] = field(default_factory=dict, hash=False, compare=False)
    asked: list[tuple[int, frozenset[str]]] = field(default_factory=list, hash=False, compare=False)
    window_seconds: int = 10

    def window_parts(self, runner: _Files, window: TimeWindow) -> pa.Table:
        assert window.since is not None
        first = ns_of_instant(window.since) // (self.window_seconds * NS_PER_SECOND)
        self.asked.append((first, runner.names))
        rows = [
            {"bucket": bucket, "subject": subject, "n": 1}
            for name in runner.names
            for bucket, subject in self.files[name]
            if bucket >= first
        ]
        return pa.Table.from_pylist(rows, schema=_COUNTING_SCHEMA)

    def window_rows_of(self, runner: SqlRunner, parts: pa.Table) -> pa.Table:
        return (
            parts.group_by(["bucket", "subject"])
            .aggregate([("n", "sum")])
            .rename_columns(["bucket", "subject", "n"])
        )

    def window_rows(self, runner: _Files, window: TimeWindow) -> pa.Table:
        return self.window_rows_of(runner, self.window_parts(runner, window))

    def judge(self, runner: SqlRunner, rows: pa.Table) -> list[Finding]:
        return []

    def detect(self, runner: SqlRunner, window: TimeWindow) -> list[Finding]:
        return []

    def stored(self) -> StoredFiles:
        names = frozenset(self.files)
        return StoredFiles(names, names, _Files)


def _since(window: int) -> TimeWindow:
    return TimeWindow(instant_of_ns(window * 10 * NS_PER_SECOND), None)


def _latest(window: int) -> int:
    return window * 10 * NS_PER_SECOND + 5 * NS_PER_SECOND


def _sorted(rows: pa.Table) -> list[tuple[int, str, int]]:
    return sorted((row["bucket"], row["subject"], row["n"]) for row in rows.to_pylist())


def test_a_run_counts_only_new_files_in_windows_not_closed_and_answers_as_the_whole_span_does() -> None:
    detector, kept = Counting(), WindowRows()

    def check(span: TimeWindow, latest: int) -> None:
        files = detector.stored()
        got = kept.rows(detector, _Files(files.readable), span, _latest(latest), files)  # type: ignore[arg-type]
        assert _sorted(got) == _sorted(detector.window_rows(_Files(files.readable), span)), latest
        detector.asked.pop()  # the whole span's, just above

    for latest in range(100, 110):
        detector.files[f"f{latest}"] = [(latest, "a"), (latest, "b"), (latest - 1, "a")]  # one a window late
        check(_since(latest - 5), latest)
        if latest > 100:  # from the latest message's window, in the one new file
            assert detector.asked[-1] == (latest - 1, frozenset({f"f{latest}"})), latest
    assert detector.asked[0] == (95, frozenset({"f100"}))  # the first run counts the whole span
    # Messages stored late, in a closed window: counted again from there, in every file.
    detector.files["late"] = [(103, "c")]
    kept.reopen(103 * 10 * NS_PER_SECOND + 1)
    check(_since(104), 109)
    assert detector.asked[-1] == (104, frozenset(detector.files))  # 103 left the span: not counted again
    # A file counted before is replaced by a compaction: the open windows are counted again.
    detector.files["f110"] = [(110, "a")]
    check(_since(104), 110)
    assert detector.asked[-1] == (109, frozenset({"f110"}))
    detector.files["compacted"] = detector.files.pop("f109") + detector.files.pop("f110")
    check(_since(104), 110)
    assert detector.asked[-1] == (110, frozenset(detector.files))
    # A span reaching back before what is kept (an incident still open) is counted whole.
    check(_since(90), 110)
    assert detector.asked[-1] == (90, frozenset(detector.files))


def _incremental_and_whole(
    warehouse: Warehouse, timeline: StoredTimeline, kept: WindowRows, since_ns: int, latest: int
) -> tuple[pa.Table, pa.Table, int]:
    """The rows of the span from `since_ns` as kept, and counted whole; how many engines over new files the
    kept rows needed."""
    span = TimeWindow(instant_of_ns(since_ns), None)
    engines: list[DuckDBEngine] = []

    def reader(paths: frozenset[str]) -> SqlRunner:
        engines.append(DuckDBEngine(warehouse, wanted=lambda stored: stored.path in paths))
        return engines[-1]

    files = timeline.stored_files(since_ns, reader)
    engine = DuckDBEngine(warehouse, wanted=lambda stored: stored.path in files.readable)
    try:
        incremental = kept.rows(DETECTOR, engine, span, latest, files)
        return incremental, DETECTOR.window_rows(engine, span), len(engines)
    finally:
        for opened in [engine, *engines]:
            opened.close()


def test_random_subdomain_rows_from_kept_windows_equal_the_whole_spans_as_traffic_is_stored(
    home: Path,
) -> None:
    warehouse = Warehouse.open(home, create=True)
    kept, timeline = WindowRows(), StoredTimeline(warehouse)
    stored_until = 0
    for first_second, seconds in ((0, 3), (3, 2), (5, 4), (1, 1), (9, 3)):  # (1, 1): stored late
        store(warehouse, flood(first_second, seconds))
        stored_until = max(stored_until, first_second + seconds)
        latest = timeline.refresh()
        assert latest is not None
        if timeline.earliest_new_ns is not None:
            kept.reopen(timeline.earliest_new_ns)
        since_ns = (START + stored_until - 8) * NS_PER_SECOND
        incremental, whole, new_files_read = _incremental_and_whole(
            warehouse, timeline, kept, since_ns, latest
        )
        key = lambda row: (row["zone"], row["bucket"])  # noqa: E731
        assert sorted(incremental.to_pylist(), key=key) == sorted(whole.to_pylist(), key=key), first_second
        assert len(whole) > 0
        # After the first, each run reads only the file just stored, unless it was late.
        assert new_files_read == (0 if first_second in (0, 1) else 1), first_second


@dataclass
class _Batches:
    """Made-up files of message rows, and which sets of them were read on their own."""

    files: dict[str, list[dict[str, object]]] = field(default_factory=dict)
    read: list[frozenset[str]] = field(default_factory=list)

    def reader(self, paths: frozenset[str]) -> SqlRunner:
        self.read.append(paths)
        return TableRunner(message_table(row for name in paths for row in self.files[name]))

    def runner(self) -> TableRunner:
        return TableRunner(message_table(row for batch in self.files.values() for row in batch))

    def stored(self) -> StoredFiles:
        return StoredFiles(frozenset(self.files), frozenset(self.files), self.reader)


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
    kept, batches, found = WindowRows(), _Batches(), set[str]()
    for step in range(60, 660, 45):
        earliest = at(step - 45) if step > 60 else 0
        batches.files[f"until {step}"] = [row for row in on_time if earliest <= row["ts"] < at(step)]
        if step == 330:
            batches.files["late"] = late
            kept.reopen(at(200))  # the watcher's timeline tells of the late batch
        runner, stored = batches.runner(), batches.stored()
        batches.read.clear()
        latest_ns = max(row["ts"] for row in on_time if row["ts"] < at(step))
        since = (latest_ns // NS_PER_SECOND - 300) // 60 * 60
        span = TimeWindow(instant_of_ns(since * NS_PER_SECOND), None)
        for detector in detectors_from_settings():
            assert isinstance(detector, WindowByWindowDetector)
            incremental = kept.rows(detector, runner, span, latest_ns, stored)
            whole = detector.window_rows(runner, span)
            assert incremental.sort_by(_all_columns(whole)).equals(whole.sort_by(_all_columns(whole))), step
            findings = detector.judge(runner, incremental)
            assert findings == detector.detect(runner, span), (step, detector)
            found.update(finding.code for finding in findings)
        # The first run and the one after the late batch count every file; the others the newest only.
        assert batches.read == ([] if step in (60, 330) else [{f"until {step}"}] * 4), step
    assert found == {"DDOS.RANDOM_SUBDOMAIN", "DDOS.AMPLIFICATION", "DDOS.QUERY_FLOOD", "DNS.NXDOMAIN_SURGE"}


def _all_columns(table: pa.Table) -> list[tuple[str, str]]:
    types = table.schema
    return [(name, "ascending") for name in types.names if not pa.types.is_list(types.field(name).type)]
