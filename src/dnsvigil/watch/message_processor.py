"""The storing side of the dnstap watcher: queue -> batches -> DNS decoding -> warehouse commits.

One thread takes received messages from the queue, gathers them (`Batcher`), decodes each batch's DNS
messages in one call and stores them as one commit; the detectors run after storing in a thread of their
own (`DetectionRunner`), so storing never waits for them. When storing fails (a full disk, a warehouse it
cannot write), the batch is kept and tried again after a growing wait; meanwhile no more is taken from the
queue, so it fills and the receiver drops and counts what does not fit: memory stays bounded and nothing is
stored twice (a batch's source id is its content). When the watcher stops, what is queued is stored; a
batch that still cannot be stored after a few more tries is counted lost and said so.
"""

from __future__ import annotations

import errno
import time
from collections.abc import Callable

import pyarrow as pa

from dnsvigil.ingest.dns_wire import decode_messages
from dnsvigil.ingest.pipeline import split_by_day
from dnsvigil.ingest.reasons import counts_to_dict, new_counts
from dnsvigil.ingest.slices import MessageSlices
from dnsvigil.store.schema import DNS_MESSAGES
from dnsvigil.store.warehouse import Warehouse
from dnsvigil.watch.batch_queue import BatchQueue
from dnsvigil.watch.batcher import Backoff, Batcher, PendingBatch
from dnsvigil.watch.detection_runner import DetectionRunner
from dnsvigil.watch.undecoded import join_slices
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
    """Decodes and stores what the receiver queues, the detectors running after; `run` is a thread's body.

    Args:
        run: the watch run (warehouse, settings, counts, detection, events).
        queue: what the receiver received.
        origin: where the messages come from, recorded with each commit and in `source_file`.
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
        self._batcher: Batcher[MessageSlices] = Batcher(
            max_messages=settings.batch_messages, max_seconds=settings.batch_seconds
        )
        self._detection = DetectionRunner(
            run.detection.run, interval=settings.batch_seconds, failed=run.stop.set, clock=clock
        )
        self._backoff = Backoff()
        self._held: PendingBatch | None = None
        self._retry_at = 0.0
        self._tries_left = TRIES_WHEN_STOPPING

    def run(self) -> None:
        """Store until the queue is closed and drained, then let the detectors run a last time.

        Raises:
            BaseException: what a detection run raised, once storing is done.
        """
        self._detection.start()
        try:
            while not self._step():
                pass
        finally:
            self._detection.finish()

    def _step(self) -> bool:
        """One turn: close a batch, try storing, then wait for input. True when done."""
        now = self._clock()
        stopping = self._queue.closed
        # Stopping, what is queued is still gathered into full batches: one commit per piece received
        # would write thousands of small files.
        drained = stopping and self._batcher.messages and not self._queue.messages
        if self._held is None and (self._batcher.due(now) or drained):
            self._held = PendingBatch.of(self._decoded(self._batcher.take()), origin=self._origin)
        if self._held is not None and now >= self._retry_at:
            self._store(self._held, now, stopping)
        if stopping and self._held is None and not self._batcher.messages and not self._queue.messages:
            return True
        if stopping and self._held is not None and self._tries_left <= 0:
            self._give_up()
            return True
        self._wait(now, stopping)
        return False

    def _decoded(self, parts: list[MessageSlices]) -> pa.RecordBatch:
        """The rows of a batch's messages, decoded in one call; damaged ones counted by reason."""
        counts = new_counts()
        rows = decode_messages(join_slices(parts), counts, self._origin)
        if counts.any():
            self._run.stats.add_reasons(
                malformed=counts_to_dict(counts, malformed=True),
                skipped=counts_to_dict(counts, malformed=False),
            )
        return rows

    def _wait(self, now: float, stopping: bool) -> None:
        if self._held is not None:
            # Nothing more is taken while a batch waits to be stored again: the queue bounds memory.
            pause = max(self._retry_at - now, 0.0)
            if stopping:
                time.sleep(pause)
            else:
                self._queue.wait_closed(pause)
            return
        piece = self._queue.get(self._batcher.seconds_left(now))
        if piece is not None:
            self._batcher.add(piece, self._clock())

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
        self._run.stats.add(stored=count)
        self._detection.stored()

    def _give_up(self) -> None:
        lost = (self._held.rows.num_rows if self._held else 0) + self._batcher.messages + self._queue.messages
        self._run.stats.add(lost=lost)
        self._run.events.warning(
            f"stopping: {lost:,} received message(s) could not be stored in {self._run.home} and are lost; "
            "free disk space before the next run"
        )
