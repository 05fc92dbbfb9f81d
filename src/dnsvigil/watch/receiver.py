"""The receiving process, seen from the watcher: start it, wait until it listens, pass on what it sends.

`Receiver` starts `receiver_process` with one end of a Unix socket pair, before the watcher lowers its
own priority. Messages the receiver sends go to the watcher's queue, its notices to the watcher's events,
its counts (when it stops) into the watcher's. Each time storing takes messages off the queue, the
receiver is given that much credit (`acknowledge`). To stop it, the watcher closes its sending side; the
receiver closes every connection, sends its counts and closes the link.
"""

from __future__ import annotations

import contextlib
import json
import select
import socket
import subprocess
import sys
import threading
from collections.abc import Callable
from dataclasses import asdict
from pathlib import Path

from dnsvigil.errors import DnsvigilError, UsageError
from dnsvigil.watch.batch_queue import BatchQueue
from dnsvigil.watch.events import WatchNotices
from dnsvigil.watch.receiver_link import CREDIT, RecordKind, RecordReader, decode_messages
from dnsvigil.watch.settings import WatchSettings
from dnsvigil.watch.stats import WatchStats, WatchSummary

LINK_BUFFER_BYTES = 4 << 20
"""Socket buffers of the link: several receives' worth, so the receiver rarely holds bytes itself."""
READ_BYTES = 1 << 20
POLL_SECONDS = 0.05
"""How often the watcher looks at its stop conditions while it waits for the receiver."""
EXIT_SECONDS = 30.0
"""How long the receiver may take to exit once it closed the link."""


class ReceiverError(DnsvigilError):
    """The receiving process failed (a fault in dnsvigil, or the machine killed it)."""


class Receiver:
    """The receiving process for the dnstap socket at `socket_path`.

    Args:
        socket_path: where it listens.
        mode: permission bits of the socket.
        settings: the watcher's settings (the queue bound and `max_messages` apply to receiving).
    """

    def __init__(self, socket_path: Path, *, mode: int, settings: WatchSettings) -> None:
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
        for end, option in ((ours, socket.SO_RCVBUF), (theirs, socket.SO_SNDBUF)):
            end.setsockopt(socket.SOL_SOCKET, option, LINK_BUFFER_BYTES)
        options = {
            "link_fd": theirs.fileno(),
            "socket": str(socket_path),
            "mode": mode,
            "settings": asdict(settings),
        }
        try:
            self._process = subprocess.Popen(
                [sys.executable, "-m", "dnsvigil.watch.receiver_process", json.dumps(options)],
                pass_fds=(theirs.fileno(),),
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,  # stdout carries the watcher's alerts and summary
            )
        finally:
            theirs.close()
        self.socket_path = socket_path
        self._link = ours
        self._records = RecordReader()
        self._sending = threading.Lock()
        self._ended = False
        self._told_to_stop = False
        self._summary: WatchSummary | None = None

    @property
    def pid(self) -> int:
        return self._process.pid

    def wait_listening(self, events: WatchNotices, stop: Callable[[], bool]) -> bool:
        """Wait until the receiver listens (true) or `stop()` is true first (false, the receiver gone).

        Raises:
            UsageError: the socket cannot be created there.
            ReceiverError: the receiver ended without listening.
        """
        while not self._ended:
            if stop():
                self.close()
                return False
            for kind, payload in self._read(POLL_SECONDS):
                if kind == RecordKind.READY:
                    return True
                if kind == RecordKind.FAILED:
                    failure = json.loads(payload)
                    self.close()
                    raise UsageError(failure["message"], hint=failure["hint"])
                if kind == RecordKind.EVENT:
                    _notify(events, payload)
        raise ReceiverError(
            f"the receiving process ended before listening (exit status {self._exit_status()})",
            hint="its error is above",
        )

    def forward(
        self, queue: BatchQueue, stats: WatchStats, events: WatchNotices, stop: Callable[[], bool]
    ) -> None:
        """Pass what the receiver sends on until it ends; tell it to stop once `stop()` is true.

        Raises:
            ReceiverError: the receiver ended without sending its counts.
        """
        while not self._ended:
            if not self._told_to_stop and stop():
                self.tell_to_stop()
            for kind, payload in self._read(POLL_SECONDS):
                if kind == RecordKind.DATA:
                    messages = decode_messages(payload)
                    missed = len(messages) - queue.put(
                        messages
                    )  # none while the receiver keeps to its credit
                    if missed:
                        stats.add(dropped=missed)
                elif kind == RecordKind.EVENT:
                    _notify(events, payload)
                elif kind == RecordKind.SUMMARY:
                    self._summary = WatchSummary.from_json(json.loads(payload))
        status = self._exit_status()
        if self._summary is None:
            raise ReceiverError(
                f"the receiving process ended without a word (exit status {status}); what it had "
                "received and not sent is lost",
                hint="this is a fault in dnsvigil (or the process was killed): please report it",
            )
        stats.absorb(self._summary)

    def acknowledge(self, messages: int) -> None:
        """Give the receiver credit for `messages` taken off the queue (from any thread)."""
        with self._sending, contextlib.suppress(OSError):  # stopping, or the receiver is gone
            self._link.sendall(CREDIT.pack(messages))

    def tell_to_stop(self) -> None:
        """Close the watcher's sending side: the receiver stops taking input and sends its counts."""
        with self._sending:
            self._told_to_stop = True
            with contextlib.suppress(OSError):  # it is gone already
                self._link.shutdown(socket.SHUT_WR)

    def close(self) -> None:
        """Make sure the receiver is gone (after `forward`, it is); close the link."""
        if self._process.poll() is None:
            self.tell_to_stop()
            try:
                self._process.wait(EXIT_SECONDS)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait()
        self._link.close()

    def _read(self, timeout: float | None) -> list[tuple[RecordKind, bytearray]]:
        ready, _, _ = select.select([self._link], [], [], timeout)
        if not ready:
            return []
        data = self._link.recv(READ_BYTES)
        if not data:
            self._ended = True
        return self._records.feed(data)

    def _exit_status(self) -> int:
        try:
            return self._process.wait(EXIT_SECONDS)
        except subprocess.TimeoutExpired:
            self._process.kill()
            return self._process.wait()


def _notify(events: WatchNotices, payload: bytearray) -> None:
    event = json.loads(payload)
    (events.warning if event["level"] == "warning" else events.info)(event["message"])
