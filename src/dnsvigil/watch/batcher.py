"""When gathered messages are stored: a batch closes when it is big enough or has waited long enough.

Pure logic with an injected clock: the caller says what time it is. A closed batch gets its identity from
its content, so storing it again after a failure (a full disk, a crash between commit and notice) is a
no-op in the warehouse, never a second copy.
"""

from __future__ import annotations

import hashlib
import struct
from collections.abc import Iterator, Sized
from dataclasses import dataclass
from typing import Generic, TypeVar

import pyarrow as pa

_Part = TypeVar("_Part", bound=Sized)


@dataclass(frozen=True, slots=True)
class PendingBatch:
    """Messages to store as one commit, and the source id that commit carries.

    Attributes:
        rows: the messages, in the `dns_messages` schema.
        source_id: derived from the rows' bytes: the same rows always get the same id.
    """

    rows: pa.RecordBatch
    source_id: str

    @staticmethod
    def of(rows: pa.RecordBatch, *, origin: str) -> PendingBatch:
        """A batch of `rows`, identified by `origin` (the socket) and a digest of their content.

        The digest reads the columns' Arrow buffers in place: serialising them first cost more than hashing.
        """
        digest = hashlib.sha256(f"watch:{origin}:".encode())
        for column in rows.columns:
            for piece in _content(column):
                digest.update(piece)
        return PendingBatch(rows, digest.hexdigest())


def _content(array: pa.Array) -> Iterator[bytes | pa.Buffer]:
    """What identifies an array's values: its place in its buffers, the buffers, and its dictionary's."""
    yield struct.pack("<qq", array.offset, len(array))
    yield from (buffer for buffer in array.buffers() if buffer is not None)
    if isinstance(array, pa.DictionaryArray):
        yield from _content(array.dictionary)


class Batcher(Generic[_Part]):
    """Gathers parts of a batch until `max_messages` messages are held or the oldest waited `max_seconds`.

    Args:
        max_messages: messages that close a batch.
        max_seconds: seconds the first message of a batch may wait.
    """

    def __init__(self, *, max_messages: int, max_seconds: float) -> None:
        self._max_messages = max_messages
        self._max_seconds = max_seconds
        self._parts: list[_Part] = []
        self._messages = 0
        self._opened_at = 0.0

    @property
    def messages(self) -> int:
        """Messages held."""
        return self._messages

    def add(self, part: _Part, now: float) -> None:
        """Hold `part`, received at `now`."""
        if not len(part):
            return
        if not self._parts:
            self._opened_at = now
        self._parts.append(part)
        self._messages += len(part)

    def due(self, now: float) -> bool:
        """Whether the held messages should be stored now."""
        return bool(self._parts) and (
            self._messages >= self._max_messages or now - self._opened_at >= self._max_seconds
        )

    def seconds_left(self, now: float) -> float:
        """Seconds until the held messages are due by time (the full span when nothing is held)."""
        if not self._parts:
            return self._max_seconds
        return max(self._opened_at + self._max_seconds - now, 0.0)

    def take(self) -> list[_Part]:
        """Every held part, oldest first; nothing is held afterwards."""
        parts, self._parts, self._messages = self._parts, [], 0
        return parts


class Backoff:
    """Waits that double after each failure, from `first` up to `longest` seconds; reset on success."""

    def __init__(self, *, first: float = 1.0, longest: float = 30.0) -> None:
        self._first = first
        self._longest = longest
        self._next = first

    def failed(self) -> float:
        """Seconds to wait before the next try."""
        wait, self._next = self._next, min(self._next * 2, self._longest)
        return wait

    def succeeded(self) -> None:
        self._next = self._first
