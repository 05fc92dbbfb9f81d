"""The detectors' own thread: a run after storing, at most once per interval, a last one when finishing."""

from __future__ import annotations

import os
import threading

import pytest

from dnsvigil.watch.detection_runner import EXTRA_NICENESS, DetectionRunner, next_run_time
from tests.watch.support import wait_for


class Detections:
    """A detection run that counts itself."""

    def __init__(self) -> None:
        self.runs = 0
        self.failed = threading.Event()

    def run(self) -> None:
        self.runs += 1

    def runner(self) -> DetectionRunner:
        return DetectionRunner(self.run, interval=3600.0, failed=self.failed.set)


def test_a_run_follows_storing_at_most_once_per_interval_and_once_more_when_finishing() -> None:
    detections = Detections()
    runner = detections.runner()
    runner.start()
    runner.stored()
    wait_for(lambda: detections.runs == 1, what="the first run")
    runner.stored()
    runner.stored()  # within the interval: both wait for one run, which finishing runs at once
    runner.finish()
    assert detections.runs == 2 and not detections.failed.is_set()


@pytest.mark.parametrize(
    ("started", "ended", "expected"),
    [
        (100.0, 101.0, 105.0),  # a short run: the interval from its start
        (100.0, 110.0, 140.0),  # a long one: three times as long after its end
        (100.0, 101.25, 105.0),  # a quarter of the interval: both agree
    ],
)
def test_the_next_run_waits_for_the_interval_and_three_times_as_long_as_the_last_run_took(
    started: float, ended: float, expected: float
) -> None:
    assert next_run_time(started, ended, interval=5.0) == expected


def test_finishing_with_nothing_stored_since_the_last_run_runs_nothing() -> None:
    detections = Detections()
    runner = detections.runner()
    runner.start()
    runner.finish()
    assert detections.runs == 0


def test_a_failing_run_stops_the_runner_and_is_raised_by_finish() -> None:
    detections = Detections()

    def failing() -> None:
        raise RuntimeError("the detectors broke")

    runner = DetectionRunner(failing, interval=5.0, failed=detections.failed.set)
    runner.start()
    runner.stored()
    wait_for(detections.failed.is_set, what="the failure")
    with pytest.raises(RuntimeError, match="the detectors broke"):
        runner.finish()


def test_the_detectors_run_at_a_lower_cpu_priority_than_the_rest_of_the_watcher() -> None:
    def own_niceness() -> int:
        return os.getpriority(os.PRIO_PROCESS, threading.get_native_id())

    seen: list[int] = []
    runner = DetectionRunner(lambda: seen.append(own_niceness()), interval=3600.0, failed=lambda: None)
    runner.start()
    runner.stored()
    runner.finish()
    assert seen == [min(own_niceness() + EXTRA_NICENESS, 19)]
