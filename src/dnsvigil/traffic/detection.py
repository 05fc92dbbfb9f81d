"""What the traffic detectors share: the span of time they read, time windows, and threshold evidence.

Every detector counts in fixed time windows (one minute by default) aligned to the Unix epoch, so that
the same stored traffic gives the same windows, the same findings and the same finding ids however often
it is analysed. A finding covers an episode: consecutive windows in which one subject crossed the
detector's thresholds. Its evidence names each threshold (by its setting), the value it was held to, the
value observed and how far past it that value lies, so that an operator can judge a finding and tune the
setting.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol, runtime_checkable

import pyarrow as pa

from dnsvigil.errors import UsageError
from dnsvigil.findings import Finding
from dnsvigil.store.sql import SqlRunner

NS_PER_SECOND = 1_000_000_000
MAD_TO_SIGMA = 1.4826
"""Scales a median absolute deviation to the standard deviation it estimates for normal data."""

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)

Row = dict[str, Any]


def instant_of_ns(nanoseconds: int) -> datetime:
    """A UTC datetime from nanoseconds since the epoch (to the microsecond, all `datetime` holds)."""
    return _EPOCH + timedelta(microseconds=nanoseconds // 1000)


def ns_of_instant(moment: datetime) -> int:
    """Nanoseconds since the epoch of a timezone-aware datetime (`instant_of_ns` the other way)."""
    return (moment - _EPOCH) // timedelta(microseconds=1) * 1000


@dataclass(frozen=True, slots=True)
class TimeWindow:
    """The half-open span `[since, until)` of stored traffic a detector reads; None leaves a side open.

    Raises:
        UsageError: a bound without time zone, or `since` not before `until`.
    """

    since: datetime | None = None
    until: datetime | None = None

    def __post_init__(self) -> None:
        for moment, name in ((self.since, "start"), (self.until, "end")):
            if moment is not None and moment.tzinfo is None:
                raise UsageError(
                    f"the {name} of the window, {moment}, has no time zone", hint="give it in UTC"
                )
        if self.since is not None and self.until is not None and self.since >= self.until:
            raise UsageError(
                f"the window starts ({self.since}) at or after it ends ({self.until})", hint="swap them"
            )

    def where(self) -> tuple[str, list[object]]:
        """A SQL condition on `ts` selecting this window, and its parameters in order."""
        conditions, params = ["TRUE"], list[object]()
        if self.since is not None:
            conditions.append("ts >= ?")
            params.append(self.since)
        if self.until is not None:
            conditions.append("ts < ?")
            params.append(self.until)
        return " AND ".join(conditions), params


def window_number_sql(window_seconds: int) -> str:
    """SQL for the number of the epoch-aligned window holding `ts` (exact nanoseconds, floored)."""
    width = window_seconds * NS_PER_SECOND
    # DuckDB's // truncates towards zero; captures before 1970 do not exist, so no fold is needed.
    return f"(epoch_ns(ts) // {width})"


def parts_cte(parts_sql: str) -> str:
    """The first common table expression of a detector's window SQL when it counts its parts itself: `parts`,
    computed once though the window SQL reads it more than once."""
    return f"parts AS MATERIALIZED ({parts_sql}),"


@dataclass(frozen=True, slots=True)
class Crossing:
    """One threshold a finding crossed: the setting, its value, what was observed and by how much.

    `at_least` tells the direction: True for a minimum the observed value reached, False for a maximum it
    stayed under (as with queries per child label). `margin` is observed / threshold for a minimum and
    threshold / observed for a maximum: at least 1 when crossed, 3 when three times past it.
    """

    setting: str
    threshold: float
    observed: float
    at_least: bool = True

    @property
    def crossed(self) -> bool:
        """Whether the observed value is past the threshold."""
        if self.at_least:
            return self.observed >= self.threshold
        return self.observed <= self.threshold

    @property
    def margin(self) -> float:
        """How far past the threshold the observed value is, as a ratio (inf past a zero threshold)."""
        numerator, denominator = (
            (self.observed, self.threshold) if self.at_least else (self.threshold, self.observed)
        )
        return numerator / denominator if denominator else float("inf")

    def to_evidence(self) -> dict[str, object]:
        """The crossing as plain data for a finding's evidence."""
        return {
            "setting": self.setting,
            "rule": ">=" if self.at_least else "<=",
            "threshold": round(self.threshold, 6),
            "observed": round(self.observed, 6),
            "margin": round(self.margin, 4) if self.margin != float("inf") else None,
        }


def crossings_evidence(crossings: Sequence[Crossing]) -> list[dict[str, object]]:
    """The `thresholds` entry of a finding's evidence."""
    return [crossing.to_evidence() for crossing in crossings]


def episodes(rows: Iterable[Row], key: Callable[[Row], str]) -> list[list[Row]]:
    """Group flagged rows (each with `bucket`, its window number) into runs of consecutive windows per key.

    Returns:
        The runs, each sorted by window, ordered by key then first window.
    """
    by_key: dict[str, list[Row]] = defaultdict(list)
    for row in rows:
        by_key[key(row)].append(row)
    runs: list[list[Row]] = []
    for subject in sorted(by_key):
        ordered = sorted(by_key[subject], key=lambda row: int(row["bucket"]))
        current = [ordered[0]]
        for row in ordered[1:]:
            if int(row["bucket"]) == int(current[-1]["bucket"]) + 1:
                current.append(row)
            else:
                runs.append(current)
                current = [row]
        runs.append(current)
    return runs


@dataclass(frozen=True, slots=True)
class EpisodeTimes:
    """When an episode (a run of flagged windows, each row with `first_ns` and `last_ns`) was seen."""

    first_seen: datetime
    last_seen: datetime

    @classmethod
    def of(cls, run: Sequence[Row]) -> EpisodeTimes:
        """From the first message of the run's first window to the last of its last."""
        return cls(
            instant_of_ns(min(int(row["first_ns"]) for row in run)),
            instant_of_ns(max(int(row["last_ns"]) for row in run)),
        )

    @property
    def window(self) -> TimeWindow:
        """The episode as a window to read its messages again (the last one included)."""
        return TimeWindow(self.first_seen, self.last_seen + timedelta(microseconds=1))


class TrafficDetector(Protocol):
    """A detector over stored traffic: thresholds set when built (keyword-only), no state, one method.

    Its `repr` names it and every threshold, and is recorded as the origin of the findings it stores.
    """

    def detect(self, runner: SqlRunner, window: TimeWindow) -> list[Finding]:
        """The findings in `window` of `dns_messages`, sorted by subject then time."""
        ...


@runtime_checkable
class WindowByWindowDetector(TrafficDetector, Protocol):
    """A detector that counts window by window: a window's rows depend on that window's messages only.

    Judging may still compare windows (a baseline over the span's windows), but from the rows alone, so
    a live watcher keeps the rows of windows that can no longer change (`watch.window_rows`). Nor does it
    count the open windows' messages again on every run: a window's counts come in parts that merge (sums,
    and distinct counts as `distinct_sketch` registers), so the watcher counts only what was stored since
    the last run and merges. Rows and parts are Arrow: a span's may be millions, and they go back into the
    engine for merging and for the baselines without crossing into Python.
    """

    @property
    def window_seconds(self) -> int:
        """Width of a counting window."""
        ...

    def window_rows(self, runner: SqlRunner, window: TimeWindow) -> pa.Table:
        """One row per (subject, window number `bucket`) of `window` that judging needs; `window` must
        start at a window boundary."""
        ...

    def window_parts(self, runner: SqlRunner, window: TimeWindow) -> pa.Table:
        """The counts behind `window_rows`, in parts with a `bucket` column: the parts of disjoint sets of
        messages, concatenated, give `window_rows_of` exactly the rows of all those messages."""
        ...

    def window_rows_of(self, runner: SqlRunner, parts: pa.Table) -> pa.Table:
        """The rows `window_rows` gives for the messages counted in `parts` (`window_parts`' tables)."""
        ...

    def judge(self, runner: SqlRunner, rows: pa.Table) -> list[Finding]:
        """The findings of `rows` (from `window_rows`, of any windows, in any order)."""
        ...
