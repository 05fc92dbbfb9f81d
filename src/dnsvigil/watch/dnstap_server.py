"""Receive dnstap over a Frame Streams Unix socket from any number of senders at once.

Each connection gets its own stream decoder (`DnstapStreamDecoder`, fed without copies through asyncio's
BufferedProtocol) and protocol state (`FrameSession`): READY is answered with ACCEPT, STOP with FINISH.
Receiving does no more than it must, so that it drains the socket faster than a name server fills it:
large reads, the framing and the dnstap layer (compiled, without the GIL), then the DNS messages go to the
bounded queue undecoded, as slices of the receive buffers; what does not fit is dropped and counted. The
storing thread decodes them in batches. A sender that breaks the framing, or leaves in the middle of a
frame, is told about and counted; the others go on.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import socket
import struct
import time
from pathlib import Path

from dnsvigil.errors import InputError, UsageError
from dnsvigil.ingest.dnstap import CONTENT_TYPE
from dnsvigil.ingest.dnstap_stream import DnstapStreamDecoder, StreamChunk
from dnsvigil.ingest.reasons import Reason, counts_to_dict
from dnsvigil.watch.batch_queue import BatchQueue, DropNotice
from dnsvigil.watch.frame_session import FrameSession, SessionState
from dnsvigil.watch.undecoded import first_messages, without_runts
from dnsvigil.watch.watcher import WatchRun

RECEIVE_BYTES = 256 << 10
"""Bytes asked of the socket per receive: more than its buffer holds, so one read drains it."""
GATHER_BELOW_BYTES = 64 << 10
GATHER_SECONDS = 0.002
"""A receive of fewer bytes than `GATHER_BELOW_BYTES` pauses reading from that sender for `GATHER_SECONDS`.

A name server writes dnstap in small pieces, and every receive costs the same interpreter work however
little it brings: read as soon as anything arrives, a busy server's stream came in thousands of reads a
second of a few kilobytes, and the receiving thread held the interpreter lock so much that storing fell
behind (`benchmarks/DETECT.md`). Pausing lets the socket gather a few milliseconds of input (at 330,000
messages a second, 80 kB of the sender's 200 kB socket buffer) for one read; a stream fast enough to fill
the buffer brings large reads and is never paused."""
DROP_NOTICE_SECONDS = 10.0


def claim_socket_path(path: Path) -> None:
    """Make `path` free for a new socket: remove a stale socket nobody listens on, refuse anything else.

    Raises:
        UsageError: a watcher already listens there, the path is not a socket, or its directory is missing.
    """
    if not path.parent.is_dir():
        raise UsageError(f"{path.parent}: no such directory for the socket", hint="create it first")
    if path.is_socket():
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as probe:
            try:
                probe.connect(str(path))
            except (ConnectionRefusedError, FileNotFoundError):
                path.unlink(missing_ok=True)  # left by a watcher that did not stop cleanly
                return
        raise UsageError(f"{path}: another process already listens on this socket", hint="stop it first")
    if path.exists() or path.is_symlink():
        raise UsageError(
            f"{path} exists and is not a socket; not replacing it", hint="choose another --socket"
        )


def _peer_pid(transport: asyncio.BaseTransport) -> int | None:
    sock = transport.get_extra_info("socket")
    try:
        credentials = sock.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, struct.calcsize("3i"))
    except (AttributeError, OSError):
        return None
    pid, _, _ = struct.unpack("3i", credentials)
    return pid or None


class DnstapListener:
    """A Unix socket server for dnstap senders, feeding `queue`.

    Args:
        path: the socket's path; a stale socket there is replaced.
        mode: permission bits of the socket (a sender needs write permission to connect).
        run: the watch run (counts, events, stop conditions).
        queue: where received messages go, to be decoded and stored.
    """

    def __init__(self, path: Path, *, mode: int, run: WatchRun, queue: BatchQueue) -> None:
        self.path = path
        self._mode = mode
        self.run = run
        self._queue = queue
        self._origin = f"unix:{path}"
        self._server: asyncio.AbstractServer | None = None
        self._peers: set[_Peer] = set()
        self._numbered = 0
        self._inode = 0
        self._drops = DropNotice(
            DROP_NOTICE_SECONDS,
            hint="storing cannot keep up: raise DNSVIGIL_WATCH_BATCH_MESSAGES or "
            "DNSVIGIL_WATCH_QUEUE_MESSAGES, or store to a faster disk",
        )

    async def start(self) -> None:
        """Listen.

        Raises:
            UsageError: the path cannot hold a socket (see `claim_socket_path`), or is too long for one.
        """
        claim_socket_path(self.path)
        loop = asyncio.get_running_loop()
        try:
            self._server = await loop.create_unix_server(self._new_peer, str(self.path))
            self.path.chmod(self._mode)
        except OSError as error:
            problem = "the path is too long for a socket" if "too long" in str(error) else str(error)
            raise UsageError(
                f"{self.path}: cannot listen ({problem})", hint="choose a shorter --socket"
            ) from error
        self._inode = self.path.stat().st_ino

    async def close(self) -> None:
        """Stop listening, close every connection, and remove the socket file."""
        if self._server is not None:
            self._server.close()
        for peer in list(self._peers):
            peer.abort()
        for _ in range(100):  # connection_lost runs on the loop's next turns
            if not self._peers:
                break
            await asyncio.sleep(0.01)
        if self._server is not None:
            await self._server.wait_closed()
        if notice := self._drops.flush(time.monotonic()):
            self.run.events.warning(notice)
        with contextlib.suppress(OSError):
            if self.path.stat().st_ino == self._inode:
                self.path.unlink()

    def _new_peer(self) -> _Peer:
        self._numbered += 1
        peer = _Peer(self, self._numbered)
        self._peers.add(peer)
        return peer

    def deliver(self, peer: str, chunk: StreamChunk) -> None:
        """Queue the messages `peer` sent in `chunk`; count what is dropped and what is not DNS."""
        counts = chunk.batch.counts
        slices = without_runts(chunk.batch.slices, counts)
        if len(slices):
            limit = self.run.settings.max_messages
            if limit is not None:
                slices = first_messages(slices, limit - self.run.stats.total("received"))
            received = len(slices)
            kept = self._queue.put(slices)
            self.run.stats.add(received=received, dropped=received - kept)
            self.run.stats.peer_received(peer, messages=received, size=chunk.batch.bytes_read)
            if notice := self._drops.add(received - kept, time.monotonic()):
                self.run.events.warning(notice)
            self.run.should_stop(self.run.stats.total("received"))
        else:
            self.run.stats.peer_received(peer, messages=0, size=chunk.batch.bytes_read)
        if counts.any():
            self.run.stats.add_reasons(
                malformed=counts_to_dict(counts, malformed=True),
                skipped=counts_to_dict(counts, malformed=False),
            )

    def forget(self, peer: _Peer) -> None:
        """A connection ended."""
        self._peers.discard(peer)


class _Peer(asyncio.BufferedProtocol):
    """One sender's connection."""

    def __init__(self, listener: DnstapListener, number: int) -> None:
        self._listener = listener
        self._run = listener.run
        self.name = f"peer {number}"
        self._decoder: DnstapStreamDecoder
        self._session: FrameSession
        self._transport: asyncio.Transport | None = None
        self._bytes = 0
        self._ended: str | None = None  # how the connection ended, once it has

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self._transport = transport
        pid = _peer_pid(transport)
        if pid is not None:
            self.name += f" (pid {pid})"
        self._decoder = DnstapStreamDecoder(where=self.name)
        self._session = FrameSession(CONTENT_TYPE, where=self.name)
        self._run.stats.peer_connected(self.name)
        self._run.events.info(f"{self.name} connected to {self._listener.path}")

    def get_buffer(self, sizehint: int) -> memoryview:
        return self._decoder.get_buffer(RECEIVE_BYTES).data

    def buffer_updated(self, nbytes: int) -> None:
        self._bytes += nbytes
        if nbytes < GATHER_BELOW_BYTES and self._transport is not None:
            self._transport.pause_reading()
            asyncio.get_running_loop().call_later(GATHER_SECONDS, self._transport.resume_reading)
        try:
            chunk = self._decoder.buffer_updated(nbytes)
        except InputError as error:  # not Frame Streams, or not dnstap
            self._fail(str(error))
            return
        self._listener.deliver(self.name, chunk)
        try:
            replies = b"".join(self._session.answer(control) for control in chunk.controls)
        except InputError as error:  # a control frame out of its turn
            self._fail(str(error))
            return
        if replies and self._transport is not None:
            self._transport.write(replies)
        if chunk.batch.counts[Reason.DNSTAP_BAD_FRAME]:
            self._fail(
                f"{self.name}: a frame could not be read (damaged, or not Frame Streams) after "
                f"{self._bytes:,} bytes; the rest of its stream is lost"
            )
        elif self._session.state == SessionState.STOPPED:
            self._ended = "finished"
            self._run.events.info(f"{self.name} sent STOP after {self._bytes:,} bytes; closing")
            if self._transport is not None:
                self._transport.close()

    def eof_received(self) -> bool | None:
        return None  # close our side too: a sender that stopped writing will not read either

    def connection_lost(self, exc: Exception | None) -> None:
        self._listener.forget(self)
        if self._ended is None:
            self._ended = self._lost_midway(exc)
        self._run.stats.peer_ended(self.name, self._ended)

    def abort(self) -> None:
        """Close the connection now, because the watcher stops."""
        if self._ended is None:
            self._ended = "stopped"
        if self._transport is not None:
            self._transport.abort()

    def _lost_midway(self, exc: Exception | None) -> str:
        """The sender left without STOP: say so and where; count a frame it cut."""
        why = f" ({_describe(exc)})" if exc is not None else ""
        try:
            tail = self._decoder.close()
        except InputError:
            if not self._bytes:
                self._run.events.info(f"{self.name} disconnected without sending anything{why}")
                return "disconnected"
            problem = f"disconnected after {self._bytes} bytes, before its first control frame was complete"
        else:
            self._run.stats.add_reasons(malformed=counts_to_dict(tail.counts, malformed=True), skipped={})
            problem = (
                f"disconnected in the middle of a frame after {self._bytes:,} bytes; that frame is lost"
                if tail.counts[Reason.DNSTAP_BAD_FRAME]
                else f"disconnected without a Frame Streams STOP after {self._bytes:,} bytes"
            )
        self._run.stats.peer_error(self.name, problem + why)
        self._run.events.warning(f"{self.name} {problem}{why}; the watcher goes on")
        return "disconnected"

    def _fail(self, problem: str) -> None:
        self._ended = "broken"
        self._run.stats.peer_error(self.name, problem)
        self._run.events.warning(f"{problem}; closed its connection, the watcher goes on")
        if self._transport is not None:
            self._transport.abort()


def _describe(error: Exception) -> str:
    if isinstance(error, OSError) and error.errno == errno.ECONNRESET:
        return "connection reset"
    return str(error) or type(error).__name__
