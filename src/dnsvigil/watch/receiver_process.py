"""The receiving process of `dnsvigil watch dnstap`: listen, read, send on; nothing else.

Started by the watcher (`receiver.Receiver`) before it lowers its own priority, so this process keeps the
priority the watcher was started with while storing and detecting run niced: a busy name server's dnstap
queue is drained at once, and the server's threads still get the CPU before the storing side. In one
process, receiving waited for the interpreter whenever a niced thread held it (pauses of 13-32 ms, long
enough for Knot to drop; `benchmarks/DETECT.md`). It ignores SIGINT and SIGTERM: it stops when the watcher
closes its side of the link (or vanishes), after closing every connection and sending its counts.
"""

from __future__ import annotations

import asyncio
import json
import signal
import socket
import struct
import sys
from dataclasses import dataclass
from pathlib import Path

from dnsvigil.errors import UsageError
from dnsvigil.ingest.dns_wire import HEADER_LENGTH, decode_messages
from dnsvigil.ingest.dnstap import CONTENT_TYPE
from dnsvigil.ingest.dnstap_stream import DnstapStreamDecoder
from dnsvigil.ingest.frame_streams import ControlFrame, ControlType
from dnsvigil.ingest.reasons import new_counts
from dnsvigil.ingest.slices import MessageSlices
from dnsvigil.watch.dnstap_server import DnstapListener
from dnsvigil.watch.receiver_link import CREDIT, RecordKind, encode_messages, json_record, record
from dnsvigil.watch.settings import WatchSettings
from dnsvigil.watch.stats import WatchStats
from dnsvigil.watch.undecoded import first_messages

POLL_SECONDS = 0.05
"""How often the receiving loop looks at the stop conditions."""
PAUSE_TICK_SECONDS = 0.002
"""How often the receiving loop notes how late it wakes: the longest lateness is the longest time it could
not read the socket (the machine's cores were busy). A sender's queue must outlast it: Knot's holds 512
messages per worker, and drops what does not fit."""


class _Link(asyncio.Protocol):
    """The receiver's end of the link: credit comes in; `ended` is set when the watcher says stop."""

    def __init__(self) -> None:
        self.ended = asyncio.Event()
        self.closed = asyncio.get_running_loop().create_future()
        self.credit = 0
        self._partial = b""

    def data_received(self, data: bytes) -> None:
        data = self._partial + data
        whole = len(data) - len(data) % CREDIT.size
        self.credit += sum(count for (count,) in CREDIT.iter_unpack(data[:whole]))
        self._partial = data[whole:]

    def eof_received(self) -> bool:
        self.ended.set()
        return True  # keep our side open: the last records and the counts are still to be sent

    def connection_lost(self, exc: Exception | None) -> None:
        self.ended.set()
        if not self.closed.done():
            self.closed.set_result(None)


class _LinkQueue:
    """Sends received messages to the watcher while it has credit; what does not fit is dropped.

    Args:
        transport: the link.
        link: the credit the watcher gave.
        max_messages: messages that may be out at once (sent, not yet taken off the watcher's queue).
    """

    def __init__(self, transport: asyncio.Transport, link: _Link, max_messages: int) -> None:
        self._transport = transport
        self._link = link
        self._max_messages = max_messages
        self._sent = 0

    def put(self, piece: MessageSlices) -> int:
        room = self._max_messages - (self._sent - self._link.credit)
        kept = min(len(piece), room)
        if kept <= 0 or self._transport.is_closing():
            return 0
        self._transport.writelines(encode_messages(first_messages(piece, kept)))
        self._sent += kept
        return kept


class _LinkNotices:
    """Progress and warnings, sent to the watcher to print."""

    def __init__(self, transport: asyncio.Transport) -> None:
        self._transport = transport

    def info(self, message: str) -> None:
        self._transport.write(json_record(RecordKind.EVENT, {"level": "info", "message": message}))

    def warning(self, message: str) -> None:
        self._transport.write(json_record(RecordKind.EVENT, {"level": "warning", "message": message}))


@dataclass
class _ReceiverRun:
    """The receiver's side of a watch run."""

    stats: WatchStats
    events: _LinkNotices
    settings: WatchSettings
    link: _Link

    def should_stop(self, messages: int) -> bool:
        limit = self.settings.max_messages
        return self.link.ended.is_set() or (limit is not None and messages >= limit)


def warm_up() -> None:
    """Run the compiled receiving code once on a made-up stream, before listening.

    Its first call loads it from the cache (and imports its helpers): about 0.4 s, in which the receiving
    loop would not read the socket, longer than any sender's queue lasts at a busy server.
    """
    start = ControlFrame(ControlType.START, (CONTENT_TYPE,)).to_wire()
    not_dnstap = struct.pack(">I", 1) + b"\0"
    DnstapStreamDecoder(where="warm-up").feed(start + not_dnstap)
    header_only = MessageSlices.of_messages([bytes(HEADER_LENGTH)] * 2).select(slice(1, 2))
    encode_messages(header_only)  # not back to back from the start: gathered, as received messages are
    decode_messages(header_only, new_counts(), "warm-up")


async def _serve(link_socket: socket.socket, socket_path: Path, mode: int, settings: WatchSettings) -> None:
    loop = asyncio.get_running_loop()
    transport, link = await loop.create_connection(_Link, sock=link_socket)
    run = _ReceiverRun(WatchStats(f"dnstap on unix:{socket_path}"), _LinkNotices(transport), settings, link)
    listener = DnstapListener(
        socket_path, mode=mode, run=run, queue=_LinkQueue(transport, link, settings.queue_messages)
    )
    warm_up()
    try:
        await listener.start()
    except UsageError as error:
        transport.write(json_record(RecordKind.FAILED, {"message": error.message, "hint": error.hint}))
    else:
        transport.write(record(RecordKind.READY))
        pauses = asyncio.create_task(_note_pauses(run.stats))
        try:
            while not run.should_stop(run.stats.total("received")):
                await asyncio.sleep(POLL_SECONDS)
        finally:
            pauses.cancel()
            await listener.close()
        transport.write(json_record(RecordKind.SUMMARY, run.stats.summary().to_json()))
    transport.close()  # after what is buffered is sent
    await link.closed


async def _note_pauses(stats: WatchStats) -> None:
    loop = asyncio.get_running_loop()
    longest = -1.0
    while True:
        before = loop.time()
        await asyncio.sleep(PAUSE_TICK_SECONDS)
        pause = loop.time() - before - PAUSE_TICK_SECONDS
        if pause > longest:
            longest = pause
            stats.receive_paused(pause)


def main(arguments: list[str]) -> int:
    """Receive as `arguments[0]` (JSON from `receiver.Receiver`) says: link descriptor, socket, settings."""
    for number in (signal.SIGINT, signal.SIGTERM):
        signal.signal(number, signal.SIG_IGN)
    options = json.loads(arguments[0])
    link_socket = socket.socket(fileno=options["link_fd"])
    asyncio.run(
        _serve(link_socket, Path(options["socket"]), options["mode"], WatchSettings(**options["settings"]))
    )
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
