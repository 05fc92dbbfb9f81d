"""The link between the receiving process and the watcher: records one way, credit the other.

The dnstap watcher receives in a process of its own (`receiving_process`) so that reading the socket never
waits for the interpreter or the CPU the storing side uses. The receiver sends records over a Unix
socket pair: received messages as `MessageSlices` columns packed back to back (`DATA`), progress and
warnings (`EVENT`), that it listens (`READY`), why it could not (`FAILED`), and its counts when it stops
(`SUMMARY`). The watcher answers with credit: the number of messages storing has taken off its queue, as
one unsigned 64-bit count each; the receiver never has more than `queue_messages` messages out, so the
queue bound holds across both processes. Pure encoding and decoding; the sockets are the callers'.
"""

from __future__ import annotations

import enum
import json
import struct

import numpy as np

from dnsvigil.errors import InputError
from dnsvigil.ingest.slices import MessageSlices
from dnsvigil.watch.undecoded import join_slices

RECORD_HEADER = struct.Struct("<BI")
"""Kind (one byte) and payload length (four bytes, little-endian) before each record's payload."""
CREDIT = struct.Struct("<Q")
"""Messages the watcher took off its queue: the receiver may send that many more."""
_COUNT = struct.Struct("<Q")


class RecordKind(enum.IntEnum):
    """What a record from the receiver holds."""

    DATA = 1  # received DNS messages: `encode_messages`
    EVENT = 2  # JSON {"level": "info" | "warning", "message": text}
    READY = 3  # listening; no payload
    FAILED = 4  # JSON {"message": text, "hint": text, "usage": bool}: it could not listen
    SUMMARY = 5  # JSON: the receiver's `WatchSummary.to_json()`, its last record


def record(kind: RecordKind, payload: bytes = b"") -> bytes:
    """One record: header and payload."""
    return RECORD_HEADER.pack(kind, len(payload)) + payload


def json_record(kind: RecordKind, content: dict[str, object]) -> bytes:
    """A record whose payload is `content` as JSON."""
    return record(kind, json.dumps(content).encode())


def encode_messages(slices: MessageSlices) -> list[bytes | memoryview]:
    """`slices` as the pieces of one DATA record, header included, for a transport's `writelines`.

    Widest columns first, so that each column lies aligned to its width when the payload starts aligned:
    the count, times, lengths, ports, one-byte columns, addresses, then the messages back to back.
    """
    joined = join_slices([slices])
    count = len(joined)
    message_bytes = int(joined.length.sum(dtype=np.int64))
    columns: list[bytes | memoryview] = [
        _COUNT.pack(count),
        np.ascontiguousarray(joined.ts_ns, np.int64).data.cast("B"),
        np.ascontiguousarray(joined.length, np.int32).data.cast("B"),
        np.ascontiguousarray(joined.src_port, np.uint16).data.cast("B"),
        np.ascontiguousarray(joined.dst_port, np.uint16).data.cast("B"),
        np.ascontiguousarray(joined.ip_version, np.uint8).data,
        np.ascontiguousarray(joined.transport, np.uint8).data,
        np.ascontiguousarray(joined.src_addr, np.uint8).reshape(-1).data,
        np.ascontiguousarray(joined.dst_addr, np.uint8).reshape(-1).data,
        joined.buffer[:message_bytes].data,
    ]
    size = sum(len(column) for column in columns)
    return [RECORD_HEADER.pack(RecordKind.DATA, size), *columns]


def decode_messages(payload: bytearray) -> MessageSlices:
    """The `MessageSlices` of a DATA record's payload, viewing it in place (it must start aligned).

    Raises:
        InputError: the payload is not as long as its count says.
    """
    if len(payload) < _COUNT.size:
        raise InputError(f"receiver link: a DATA record of {len(payload)} bytes has no message count")
    (count,) = _COUNT.unpack_from(payload)
    at = _COUNT.size
    widths = (("ts_ns", np.int64, 1), ("length", np.int32, 1), ("src_port", np.uint16, 1),
              ("dst_port", np.uint16, 1), ("ip_version", np.uint8, 1), ("transport", np.uint8, 1),
              ("src_addr", np.uint8, 16), ("dst_addr", np.uint8, 16))  # fmt: skip
    columns: dict[str, np.ndarray] = {}
    for name, dtype, per_message in widths:
        size = count * per_message * np.dtype(dtype).itemsize
        if at + size > len(payload):
            raise InputError(f"receiver link: a DATA record of {count} messages is cut short")
        column = np.frombuffer(payload, dtype, count * per_message, at)
        columns[name] = column.reshape(count, 16) if per_message == 16 else column
        at += size
    length = columns["length"]
    if at + int(length.sum(dtype=np.int64)) != len(payload):
        raise InputError(f"receiver link: the messages of a DATA record of {count} do not fill it")
    offset = np.zeros(count, np.int64)
    np.cumsum(length[:-1], out=offset[1:])
    offset += at
    return MessageSlices(buffer=np.frombuffer(payload, np.uint8), offset=offset, **columns)


class RecordReader:
    """Cuts the receiver's byte stream into records, whatever pieces it comes in."""

    def __init__(self) -> None:
        self._pending = bytearray()

    def feed(self, data: bytes) -> list[tuple[RecordKind, bytearray]]:
        """The records `data` completes, each payload a fresh (aligned, writable) copy.

        Raises:
            InputError: a record of a kind the link does not have.
        """
        self._pending += data
        records = []
        at = 0
        while len(self._pending) - at >= RECORD_HEADER.size:
            kind, size = RECORD_HEADER.unpack_from(self._pending, at)
            end = at + RECORD_HEADER.size + size
            if end > len(self._pending):
                break
            try:
                records.append((RecordKind(kind), self._pending[at + RECORD_HEADER.size : end]))
            except ValueError:
                raise InputError(f"receiver link: unknown record kind {kind}") from None
            at = end
        del self._pending[:at]
        return records

    @property
    def pending(self) -> int:
        """Bytes of a record not complete yet (non-zero at the end: the receiver stopped mid-record)."""
        return len(self._pending)
