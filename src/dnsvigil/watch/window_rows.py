"""Rows of counting windows that can no longer change, and the counts of those that can, kept between live
detection runs.

A live run judges the last `watch_detection_window_seconds` of stored traffic, and reading all of it back
costs about 0.9 µs a message (`benchmarks/DETECT.md`): ten minutes of a busy server is tens of millions of
messages a run. But a detector that counts window by window (`WindowByWindowDetector`) gives the same rows for
a window however often it is asked, once no more messages arrive in it. So the rows of closed windows are kept
(as Arrow: they go back to the engine for baselines across windows without crossing into Python); rows of
windows that left the span are forgotten. A window is closed once a later message is stored (live traffic
comes about in time order); a commit holding a message of a closed window (messages a little out of order
at a window's edge, a capture stored late) reopens that window and every later one, so kept rows are always
what the stored messages give.

The open windows are not counted again on every run either: their counts are kept in parts that merge
(`window_parts`), with the files they came from, and a run counts only the files committed since and merges.
A reopened window, or a file counted before that is no longer committed (compaction replaced it), has the
open windows counted again from every file.

What is kept is one row per subject and closed window of the span, about 90 bytes each: for query flood,
every source and network (ten minutes of 10,000 resolvers, about 200,000 rows, 18 MB); for the zone
detectors, the zones over their volume floors. The open windows' parts hold every subject seen in them (a
random-subdomain zone at most one row per sketch register), a set per run until the window closes.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import pyarrow as pa
import pyarrow.compute as pc

from dnsvigil.store.sql import SqlRunner
from dnsvigil.traffic.detection import (
    NS_PER_SECOND,
    TimeWindow,
    WindowByWindowDetector,
    instant_of_ns,
    ns_of_instant,
)


@dataclass(frozen=True, slots=True)
class StoredFiles:
    """The message files of a live run, by path: those it reads (its runner reads exactly these), every
    committed one, and how to read only some of them."""

    readable: frozenset[str]
    committed: frozenset[str]
    reader: Callable[[frozenset[str]], SqlRunner]


@dataclass(slots=True)
class _Kept:
    """The rows of windows `first` .. `end` - 1 (those windows hold no other rows; None before any), and the
    parts of the windows from `end` on, counted from the files `counted` (None: count them all again)."""

    first: int
    end: int
    rows: pa.Table | None = None
    parts: pa.Table | None = None
    counted: frozenset[str] = field(default_factory=frozenset)

    def keep(self, windows: pc.Expression) -> None:
        """Keep only the rows whose `bucket` the expression selects."""
        if self.rows is not None:
            self.rows = self.rows.filter(windows)


class WindowRows:
    """Kept rows of closed windows and parts of open ones, per detector."""

    def __init__(self) -> None:
        self._kept: dict[WindowByWindowDetector, _Kept] = {}

    def rows(
        self,
        detector: WindowByWindowDetector,
        runner: SqlRunner,
        span: TimeWindow,
        latest_ns: int,
        files: StoredFiles,
    ) -> pa.Table:
        """The rows `detector.window_rows` gives for `span` (which starts at a window boundary), counting
        only what is not kept: the windows not closed, in the files not counted before; `latest_ns` is the
        latest stored message's time."""
        if span.since is None or span.until is not None:
            return detector.window_rows(runner, span)  # not a live span: nothing to keep
        width = detector.window_seconds * NS_PER_SECOND
        first = ns_of_instant(span.since) // width
        kept = self._kept.get(detector)
        if kept is None or not kept.first <= first <= kept.end:
            kept = _Kept(first, first)
        else:
            kept.keep(pc.field("bucket") >= first)
            kept.first = first
        open_windows = TimeWindow(instant_of_ns(kept.end * width), None)
        if kept.parts is None or not kept.counted <= files.committed:
            parts = detector.window_parts(runner, open_windows)
        else:
            parts = kept.parts
            new = files.readable - kept.counted
            if new:
                parts = pa.concat_tables([parts, detector.window_parts(files.reader(new), open_windows)])
        # A file counted before and not readable now ends before the span, so before the open windows.
        kept.parts, kept.counted = parts, files.readable
        fresh = detector.window_rows_of(runner, parts)
        answer = fresh if kept.rows is None else pa.concat_tables([kept.rows, fresh])
        closed_end = latest_ns // width  # the windows before the latest message's
        if closed_end > kept.end:
            closed = fresh.filter(pc.field("bucket") < closed_end)
            kept.rows = closed if kept.rows is None else pa.concat_tables([kept.rows, closed])
            kept.end = closed_end
            kept.parts = parts.filter(pc.field("bucket") >= closed_end)
        self._kept[detector] = kept
        return answer

    def reopen(self, since_ns: int) -> None:
        """Messages from `since_ns` on were stored late: forget the kept rows of their windows and later,
        and count the open windows again."""
        for detector, kept in self._kept.items():
            window = since_ns // (detector.window_seconds * NS_PER_SECOND)
            if window < kept.end:
                kept.end = max(window, kept.first)
                kept.keep(pc.field("bucket") < kept.end)
                kept.parts = None
