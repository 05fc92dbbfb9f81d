"""The bounded queue between receiving and storing, and the rate-limited word that input is being dropped.

A live sender does not wait for us: a name server's dnstap output drops what its own queue cannot hold.
So the receiver never blocks either, nor decodes more than the dnstap layer: received messages wait here as
slices of the receive buffers, bounded by their number (not by how many pieces they came in), and what does
not fit is dropped at once and counted, so memory stays bounded however far input outruns storing, and the
user hears how much was lost.
"""

from __future__ import annotations

import threading
import time
from collections import deque

from dnsvigil.errors import UsageError
from dnsvigil.ingest.slices import MessageSlices
from dnsvigil.watch.undecoded import first_messages


class BatchQueue:
    """DNS messages waiting to be decoded and stored, at most `max_messages` in all.

    `put` never blocks: it keeps what fits and says how many messages it kept. `get` waits for a piece.
    After `close`, `put` keeps nothing and `get` returns what is left, then None at once.

    Raises:
        UsageError: `max_messages` is not positive.
    """

    def __init__(self, max_messages: int) -> None:
        if max_messages < 1:
            raise UsageError(f"the queue must hold at least one message, got {max_messages}")
        self._max_messages = max_messages
        self._pieces: deque[MessageSlices] = deque()
        self._messages = 0
        self._closed = False
        self._changed = threading.Condition()

    @property
    def messages(self) -> int:
        """Messages waiting."""
        with self._changed:
            return self._messages

    @property
    def closed(self) -> bool:
        with self._changed:
            return self._closed

    def put(self, piece: MessageSlices) -> int:
        """Queue the messages of `piece` that fit; return how many (the caller counts the rest dropped)."""
        with self._changed:
            if self._closed:
                return 0
            kept = min(len(piece), self._max_messages - self._messages)
            if kept <= 0:
                return 0
            self._pieces.append(first_messages(piece, kept))
            self._messages += kept
            self._changed.notify()
            return kept

    def get(self, timeout: float) -> MessageSlices | None:
        """The oldest piece, waiting up to `timeout` seconds; None when none came or the queue is closed
        and empty."""
        deadline = time.monotonic() + max(timeout, 0.0)
        with self._changed:
            while not self._pieces and not self._closed:
                left = deadline - time.monotonic()
                if left <= 0:
                    return None
                self._changed.wait(left)
            if not self._pieces:
                return None
            piece = self._pieces.popleft()
            self._messages -= len(piece)
            return piece

    def wait_closed(self, timeout: float) -> bool:
        """Wait up to `timeout` seconds for `close`; true when closed."""
        with self._changed:
            return self._changed.wait_for(lambda: self._closed, timeout=max(timeout, 0.0))

    def close(self) -> None:
        """Take no more messages; wake whoever waits."""
        with self._changed:
            self._closed = True
            self._changed.notify_all()


class DropNotice:
    """Collects dropped-message counts and says so at most once per `interval` seconds.

    Args:
        interval: seconds between two notices, at least.
        hint: what the user can do, appended to each notice.
    """

    def __init__(self, interval: float, *, hint: str) -> None:
        self._interval = interval
        self._hint = hint
        self._pending = 0
        self._last: float | None = None

    def add(self, dropped: int, now: float) -> str | None:
        """Count `dropped` messages at time `now`; the notice to show, when one is due."""
        self._pending += dropped
        if self._last is not None and now - self._last < self._interval:
            return None
        return self.flush(now)

    def flush(self, now: float) -> str | None:
        """The notice of the drops not told yet, if any (when input ends, so that none goes untold)."""
        if not self._pending:
            return None
        since = f" in the last {now - self._last:.0f} s" if self._last is not None else ""
        message = (
            f"input outruns storing: dropped {self._pending:,} message(s){since} because the queue was full; "
            f"{self._hint}"
        )
        self._pending = 0
        self._last = now
        return message
