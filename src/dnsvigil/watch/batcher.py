"""When gathered messages are stored: a batch closes when it is big enough or has waited long enough.

Pure logic with an injected clock: the caller says what time it is. A closed batch gets its identity from
its content, so storing it again after a failure (a full disk, a crash between commit and notice) is a
no-op in the warehouse, never a second copy.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

import pyarrow as pa

from dnsvigil.store.schema import DNS_MESSAGES


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
        """A batch of `rows`, identified by `origin` (the socket) and a digest of their content."""
        digest = hashlib.sha256(f"watch:{origin}:".encode())
        sink = pa.BufferOutputStream()
        with pa.ipc.new_stream(sink, rows.schema) as writer:
            writer.write_batch(rows)
        digest.update(memoryview(sink.getvalue()))
        return PendingBatch(rows, digest.hexdigest())


class Batcher:
    """Gathers record batches until `max_messages` rows are held or the oldest waited `max_seconds`.

    Args:
        max_messages: rows that close a batch.
        max_seconds: seconds the first row of a batch may wait.
    """

    def __init__(self, *, max_messages: int, max_seconds: float) -> None:
        self._max_messages = max_messages
        self._max_seconds = max_seconds
        self._parts: list[pa.RecordBatch] = []
        self._messages = 0
        self._opened_at = 0.0

    @property
    def messages(self) -> int:
        """Rows held."""
        return self._messages

    def add(self, rows: pa.RecordBatch, now: float) -> None:
        """Hold `rows`, received at `now`."""
        if not rows.num_rows:
            return
        if not self._parts:
            self._opened_at = now
        self._parts.append(rows)
        self._messages += rows.num_rows

    def due(self, now: float) -> bool:
        """Whether the held rows should be stored now."""
        return bool(self._parts) and (
            self._messages >= self._max_messages or now - self._opened_at >= self._max_seconds
        )

    def seconds_left(self, now: float) -> float:
        """Seconds until the held rows are due by time (the full span when nothing is held)."""
        if not self._parts:
            return self._max_seconds
        return max(self._opened_at + self._max_seconds - now, 0.0)

    def take(self) -> pa.RecordBatch:
        """Every held row as one record batch; nothing is held afterwards."""
        parts, self._parts, self._messages = self._parts, [], 0
        if not parts:
            return pa.RecordBatch.from_pylist([], schema=DNS_MESSAGES.schema)
        return parts[0] if len(parts) == 1 else pa.concat_batches(parts)


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
