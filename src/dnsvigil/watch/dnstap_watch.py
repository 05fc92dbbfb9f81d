"""`watch_dnstap`: listen for dnstap senders, store what they send, judge it, until told to stop.

The calling thread runs the asyncio loop that receives; a second thread decodes and stores
(`MessageProcessor`), and a third runs the detectors after storing (`DetectionRunner`). Stopping (a
signal, `max_seconds`, `max_messages`) closes the socket and every connection first, then lets the
storing thread store what was received and the detectors run a last time; the summary comes after.
"""

from __future__ import annotations

import asyncio
import struct
import threading
from pathlib import Path

from dnsvigil.ingest.dns_wire import HEADER_LENGTH, decode_messages
from dnsvigil.ingest.dnstap import CONTENT_TYPE
from dnsvigil.ingest.dnstap_stream import DnstapStreamDecoder
from dnsvigil.ingest.frame_streams import ControlFrame, ControlType
from dnsvigil.ingest.reasons import new_counts
from dnsvigil.ingest.slices import MessageSlices
from dnsvigil.store.warehouse import Warehouse
from dnsvigil.watch.batch_queue import BatchQueue
from dnsvigil.watch.dnstap_server import DnstapListener
from dnsvigil.watch.events import WatchEvents
from dnsvigil.watch.message_processor import MessageProcessor
from dnsvigil.watch.settings import WatchSettings
from dnsvigil.watch.stats import WatchSummary
from dnsvigil.watch.watcher import WatchRun

POLL_SECONDS = 0.05
"""How often the receiving loop looks at the stop conditions."""
PAUSE_TICK_SECONDS = 0.002
"""How often the receiving loop notes how late it wakes: the longest lateness is the longest time it could
not read the socket (other threads held the interpreter, or the machine its cores). A sender's queue must
outlast it: Knot's holds 512 messages per worker, and drops what does not fit."""


def watch_dnstap(
    warehouse: Warehouse,
    socket_path: Path,
    *,
    settings: WatchSettings,
    events: WatchEvents,
    stop: threading.Event,
    socket_mode: int = 0o660,
    webhook_url: str | None = None,
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

    Returns:
        What was received, stored, dropped and found.

    Raises:
        UsageError: the socket cannot be created there, or a setting cannot be used.
    """
    run = WatchRun(
        warehouse,
        source=f"dnstap on unix:{socket_path}",
        settings=settings,
        events=events,
        stop=stop,
        webhook_url=webhook_url,
    )
    queue = BatchQueue(settings.queue_messages)
    listener = DnstapListener(socket_path, mode=socket_mode, run=run, queue=queue)
    processor = MessageProcessor(run, queue, origin=f"unix:{socket_path}")
    failures: list[BaseException] = []

    def store() -> None:
        try:
            processor.run()
        except BaseException as error:  # re-raised in the calling thread, after receiving stops
            failures.append(error)
            stop.set()

    storing = threading.Thread(target=store, name="store", daemon=True)
    warm_up()
    try:
        asyncio.run(_receive(listener, run, storing))
    finally:
        queue.close()
        if storing.is_alive():
            storing.join()
    if failures:
        raise failures[0]
    return run.finish()


def warm_up() -> None:
    """Run the compiled receiving and decoding code once on a made-up stream, before any sender connects.

    Their first call loads them from the cache (and imports their helpers): about 0.4 s, in which the
    receiving loop would not read the socket, longer than any sender's queue lasts at a busy server.
    """
    start = ControlFrame(ControlType.START, (CONTENT_TYPE,)).to_wire()
    not_dnstap = struct.pack(">I", 1) + b"\0"
    DnstapStreamDecoder(where="warm-up").feed(start + not_dnstap)
    header_only = MessageSlices.of_messages([bytes(HEADER_LENGTH)])
    decode_messages(header_only, new_counts(), "warm-up")


async def _receive(listener: DnstapListener, run: WatchRun, storing: threading.Thread) -> None:
    await listener.start()
    run.events.info(f"listening for dnstap on {listener.path}; storing in {run.home}")
    storing.start()
    pauses = asyncio.create_task(_note_pauses(run))
    try:
        while not run.should_stop(run.stats.total("received")):
            await asyncio.sleep(POLL_SECONDS)
    finally:
        pauses.cancel()
        await listener.close()


async def _note_pauses(run: WatchRun) -> None:
    loop = asyncio.get_running_loop()
    longest = -1.0
    while True:
        before = loop.time()
        await asyncio.sleep(PAUSE_TICK_SECONDS)
        pause = loop.time() - before - PAUSE_TICK_SECONDS
        if pause > longest:  # the shared counts are locked: told only a new longest
            longest = pause
            run.stats.receive_paused(pause)
