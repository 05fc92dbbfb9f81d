"""The storing side of the dnstap watcher: queue -> batches -> warehouse commits -> detectors.

One thread takes decoded messages from the queue, gathers them (`Batcher`) and stores each batch as one
commit. When storing fails (a full disk, a warehouse it cannot write), the batch is kept and tried again
after a growing wait; meanwhile no more is taken from the queue, so it fills and the receiver drops and
counts what does not fit: memory stays bounded and nothing is stored twice (a batch's source id is its
content). When the watcher stops, what is queued is stored; a batch that still cannot be stored after a few
more tries is counted lost and said so.
"""

from __future__ import annotations

import errno
import math
import time
from collections.abc import Callable

from dnsvigil.ingest.pipeline import split_by_day
from dnsvigil.store.schema import DNS_MESSAGES
from dnsvigil.store.warehouse import Warehouse
from dnsvigil.watch.batch_queue import BatchQueue
from dnsvigil.watch.batcher import Backoff, Batcher, PendingBatch
from dnsvigil.watch.watcher import WatchRun

TRIES_WHEN_STOPPING = 3
"""How many more times a batch that cannot be stored is tried once the watcher stops."""


def store_batch(warehouse: Warehouse, batch: PendingBatch, *, origin: str) -> bool:
    """Commit `batch` to `dns_messages`; false when its source id was already committed (nothing changes).

    Raises:
        OSError: the rows cannot be written or committed (`WarehouseError` is one).
    """
    with warehouse.begin(DNS_MESSAGES.name) as write:
        for day, rows in split_by_day(batch.rows):
            write.write(rows, day)
        return write.commit(batch.source_id, origin)


def describe_os_error(error: OSError) -> str:
    """An OS error as a user reads it, saying plainly when the disk is full."""
    if error.errno == errno.ENOSPC or "No space left" in str(error):
        return f"the disk is full ({error})"
    return str(error)


class MessageProcessor:
    """Stores what the receiver queues and runs the detectors after storing; `run` is a thread's body.

    Args:
        run: the watch run (warehouse, settings, counts, detection, events).
        queue: what the receiver decoded.
        origin: where the messages come from, recorded with each commit.
        clock: seconds, monotonic; injected by tests.
    """

    def __init__(
        self,
        run: WatchRun,
        queue: BatchQueue,
        *,
        origin: str,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._run = run
        self._queue = queue
        self._origin = origin
        self._clock = clock
        settings = run.settings
        self._batcher = Batcher(max_messages=settings.batch_messages, max_seconds=settings.batch_seconds)
        self._detect_every = settings.batch_seconds
        self._backoff = Backoff()
        self._held: PendingBatch | None = None
        self._retry_at = 0.0
        self._tries_left = TRIES_WHEN_STOPPING
        self._detected_at = -math.inf
        self._undetected = False  # rows stored since the detectors last ran

    def run(self) -> None:
        """Store until the queue is closed and drained, then run the detectors a last time."""
        while not self._step():
            pass
        if self._undetected:
            self._run.detection.run()

    def _step(self) -> bool:
        """One turn: close a batch, try storing, maybe detect, then wait for input. True when done."""
        now = self._clock()
        stopping = self._queue.closed
        if self._held is None and (self._batcher.due(now) or (stopping and self._batcher.messages)):
            self._held = PendingBatch.of(self._batcher.take(), origin=self._origin)
        if self._held is not None and now >= self._retry_at:
            self._store(self._held, now, stopping)
        if self._undetected and now - self._detected_at >= self._detect_every:
            self._detected_at = now
            self._undetected = False
            self._run.detection.run()
        if stopping and self._held is None and not self._batcher.messages and not self._queue.messages:
            return True
        if stopping and self._held is not None and self._tries_left <= 0:
            self._give_up()
            return True
        self._wait(now, stopping)
        return False

    def _wait(self, now: float, stopping: bool) -> None:
        if self._held is not None:
            # Nothing more is taken while a batch waits to be stored again: the queue bounds memory.
            pause = max(self._retry_at - now, 0.0)
            if stopping:
                time.sleep(pause)
            else:
                self._queue.wait_closed(pause)
            return
        timeout = self._batcher.seconds_left(now)
        if self._undetected:
            timeout = min(timeout, max(self._detected_at + self._detect_every - now, 0.0))
        rows = self._queue.get(timeout)
        if rows is not None:
            self._batcher.add(rows, self._clock())

    def _store(self, batch: PendingBatch, now: float, stopping: bool) -> None:
        count = batch.rows.num_rows
        try:
            store_batch(self._run.warehouse, batch, origin=self._origin)
        except OSError as error:
            wait = self._backoff.failed()
            self._retry_at = now + wait
            if stopping:
                self._tries_left -= 1
            self._run.stats.add(store_failures=1)
            self._run.events.warning(
                f"cannot store {count:,} message(s) in {self._run.home}: {describe_os_error(error)}; "
                f"they are kept and tried again in {wait:.0f} s (input is dropped and counted meanwhile)"
            )
            return
        self._held = None
        self._backoff.succeeded()
        self._undetected = True
        self._run.stats.add(stored=count)

    def _give_up(self) -> None:
        lost = (self._held.rows.num_rows if self._held else 0) + self._batcher.messages + self._queue.messages
        self._run.stats.add(lost=lost)
        self._run.events.warning(
            f"stopping: {lost:,} received message(s) could not be stored in {self._run.home} and are lost; "
            "free disk space before the next run"
        )
