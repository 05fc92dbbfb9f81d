"""`watch_dnstap`: listen for dnstap senders, store what they send, judge it, until told to stop.

A process of its own receives (`receiver_process`), at the priority the watcher was started with; this
process then lowers its priority and stores: the calling thread passes on what the receiver sends, a
second thread decodes and stores (`MessageProcessor`), and a third runs the detectors after storing
(`DetectionRunner`). Stopping (a signal, `max_seconds`, `max_messages`) has the receiver close the socket
and every connection first, then lets the storing thread store what was received and the detectors run a
last time; the summary comes after.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path

from dnsvigil.store.warehouse import Warehouse
from dnsvigil.watch.batch_queue import BatchQueue
from dnsvigil.watch.events import WatchEvents
from dnsvigil.watch.message_processor import MessageProcessor
from dnsvigil.watch.receiver import Receiver
from dnsvigil.watch.settings import WatchSettings
from dnsvigil.watch.stats import WatchSummary
from dnsvigil.watch.watcher import WatchRun, lower_priority


def watch_dnstap(
    warehouse: Warehouse,
    socket_path: Path,
    *,
    settings: WatchSettings,
    events: WatchEvents,
    stop: threading.Event,
    socket_mode: int = 0o660,
    webhook_url: str | None = None,
    niceness: int = 0,
) -> WatchSummary:
    """Receive dnstap on the Unix socket `socket_path` until `stop` is set or a stop condition is met.

    Args:
        warehouse: where messages and findings are stored.
        socket_path: the socket senders connect to (a stale one is replaced, a live one refused).
        settings: batching, queueing, detection span and stop conditions.
        events: where progress, warnings and alerts go.
        stop: set it to stop; it is set when `max_seconds` or `max_messages` is reached.
        socket_mode: permission bits of the socket: senders need write permission.
        webhook_url: where each new finding is posted as JSON, if anywhere.
        niceness: added to the niceness of storing and detecting (not of receiving), from the calling
            thread on.

    Returns:
        What was received, stored, dropped and found.

    Raises:
        UsageError: the socket cannot be created there, or a setting cannot be used.
        ReceiverError: the receiving process failed (what it had sent is stored first).
    """
    run = WatchRun(
        warehouse,
        source=f"dnstap on unix:{socket_path}",
        settings=settings,
        events=events,
        stop=stop,
        webhook_url=webhook_url,
    )

    def should_stop() -> bool:
        return run.should_stop(run.stats.total("received"))

    receiver = Receiver(socket_path, mode=socket_mode, settings=settings)
    try:
        lower_priority(niceness, events, what="storing and detecting (receiving is not niced)")
        if receiver.wait_listening(events, should_stop):
            events.info(f"listening for dnstap on {socket_path}; storing in {run.home}")
            _store_while_receiving(run, receiver, should_stop)
    finally:
        receiver.close()
    return run.finish()


def _store_while_receiving(run: WatchRun, receiver: Receiver, should_stop: Callable[[], bool]) -> None:
    """Store what `receiver` sends until it ends; then what is queued; raise what storing raised."""
    queue = BatchQueue(run.settings.queue_messages, taken=receiver.acknowledge)
    processor = MessageProcessor(run, queue, origin=f"unix:{receiver.socket_path}")
    failures: list[BaseException] = []

    def store() -> None:
        try:
            processor.run()
        except BaseException as error:  # re-raised in the calling thread, after receiving stops
            failures.append(error)
            run.stop.set()

    storing = threading.Thread(target=store, name="store", daemon=True)
    storing.start()
    try:
        receiver.forward(queue, run.stats, run.events, should_stop)
        run.stop.set()
    finally:
        queue.close()
        storing.join()
    if failures:
        raise failures[0]
