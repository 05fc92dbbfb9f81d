"""Run the detectors in a thread of their own, after storing, at most once per interval.

A run counts the windows not yet closed (`watch.window_rows`) and judges the span: at a busy server's rate
the open minute alone takes as long as several batches take to store. A storing thread that waited for it
would let the queue fill and drop input, so storing only says that rows were stored and goes on. Nor do
runs take more than a quarter of the time: after a run, the next waits at least three times as long as it
took, so that receiving and storing (and the name server, on a shared machine) keep most of the cores. (At
two shared cores and a full-rate name server, half the time was too much: storing fell behind and dropped.)
And the thread runs at a lower CPU priority than the others: when the watcher's core is busy, storing (which
must keep up, or input is dropped) gets the CPU first and detection (which may lag a little) what is left.
"""

from __future__ import annotations

import math
import os
import threading
import time
from collections.abc import Callable

REST_FACTOR = 3
"""After a run, the detectors rest at least this many times as long as it took."""
EXTRA_NICENESS = 5
"""Niceness the detection thread adds to the process's: at +5 a busy core gives it about a third of what
storing gets (`benchmarks/DETECT.md`: a full-rate Knot DNS, the watcher on a core of its own)."""


def lower_own_priority(extra: int) -> None:
    """Add `extra` to the calling thread's niceness (Linux schedules each thread at its own); where that is
    not possible the thread keeps the process's priority."""
    try:
        thread = threading.get_native_id()
        os.setpriority(os.PRIO_PROCESS, thread, min(os.getpriority(os.PRIO_PROCESS, thread) + extra, 19))
    except (AttributeError, OSError):
        pass


def next_run_time(started: float, ended: float, *, interval: float) -> float:
    """When the run after one from `started` to `ended` may start: `interval` after it began, and no sooner
    after it ended than `REST_FACTOR` times as long as it took."""
    return max(started + interval, ended + REST_FACTOR * (ended - started))


class DetectionRunner:
    """Calls `detect` in its own thread whenever rows were stored, at most once per `interval` seconds and
    resting after each run (`next_run_time`).

    Args:
        detect: one detection run (`LiveDetection.run`); what it raises ends the runner and is raised
            again by `finish`.
        interval: seconds from the start of one run to the start of the next, at least.
        failed: called in the runner's thread when `detect` raised (to stop the watcher).
        clock: seconds, monotonic; injected by tests.
    """

    def __init__(
        self,
        detect: Callable[[], object],
        *,
        interval: float,
        failed: Callable[[], None],
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._detect = detect
        self._interval = interval
        self._failed = failed
        self._clock = clock
        self._changed = threading.Condition()
        self._stored = False  # rows stored since the last run began
        self._finishing = False
        self._next_run_at = -math.inf
        self._failure: BaseException | None = None
        self._thread = threading.Thread(target=self._loop, name="detect", daemon=True)

    def start(self) -> None:
        """Start the thread; `finish` ends it."""
        self._thread.start()

    def stored(self) -> None:
        """Rows were stored: run the detectors once the interval since the last run has passed."""
        with self._changed:
            self._stored = True
            self._changed.notify()

    def finish(self) -> None:
        """Run once more at once if rows were stored since the last run began, then end the thread.

        Raises:
            BaseException: what a run raised, if one did.
        """
        with self._changed:
            self._finishing = True
            self._changed.notify()
        self._thread.join()
        if self._failure is not None:
            raise self._failure

    def _loop(self) -> None:
        lower_own_priority(EXTRA_NICENESS)
        try:
            while self._next_run():
                started = self._clock()
                self._detect()
                ended = self._clock()
                with self._changed:
                    self._next_run_at = next_run_time(started, ended, interval=self._interval)
        except BaseException as error:  # raised again by `finish`, in the thread that stops the watcher
            self._failure = error
            self._failed()

    def _next_run(self) -> bool:
        """Wait until a run is due; false when finishing with nothing left to judge."""
        with self._changed:
            while True:
                if self._stored and (self._finishing or self._clock() >= self._next_run_at):
                    self._stored = False
                    return True
                if self._finishing:
                    return False
                self._changed.wait(self._next_run_at - self._clock() if self._stored else None)
