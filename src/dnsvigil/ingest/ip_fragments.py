"""IP fragment reassembly (RFC 791 for IPv4, RFC 8200 section 4.5 for IPv6) for the rare fragmented datagram.

Fragments are keyed by (IP version, source, destination, identification), plus the protocol for IPv4; they
may arrive in any order. Overlaps: an exact duplicate (a packet seen twice) is dropped; otherwise, for IPv4
the bytes that arrived first win, and an IPv6 datagram with overlapping fragments whose bytes differ is
discarded, as RFC 5722 requires. A datagram completes when its last fragment (more-fragments clear) has
arrived and every byte before it is covered; its time and record are those of the fragment that completed
it. Unfinished datagrams are dropped, one FRAGMENT_INCOMPLETE each, when they are older than the timeout
(capture time), when too many are pending, and at the end of the capture.

This is a Python slow path: fragmented DNS is rare (large responses without EDNS limits, some IPv6 paths).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

from dnsvigil.ingest.packets import PacketRows, decode_datagrams
from dnsvigil.ingest.reasons import Reason

FRAGMENT_TIMEOUT_NS = 30 * 1_000_000_000
"""How long a datagram may wait for its missing fragments (Linux's ipfrag_time; RFC 8200 allows 60 s)."""
MAX_DATAGRAM_BYTES = 65535
MAX_PENDING_DATAGRAMS = 8192
MAX_PENDING_BYTES = 32 << 20


@dataclass(slots=True)
class _Pending:
    first_ts: int
    pieces: list[tuple[int, bytes]] = field(default_factory=list)
    total: int = -1
    size: int = 0
    protocol: int = -1
    discarded: bool = False


class Datagrams:
    """Reassembled IP payloads in one buffer, with where each came from.

    Attributes:
        buffer: uint8 bytes of every payload, back to back.
        offset, length: int64 place of each payload in `buffer`.
        ts_ns, record: int64 time and record number of the fragment that completed each.
        ip_version, protocol: uint8 IP version and the protocol the payload starts with.
        src_addr, dst_addr: uint8 (n, 16) addresses.
    """

    __slots__ = (
        "buffer",
        "dst_addr",
        "ip_version",
        "length",
        "offset",
        "protocol",
        "record",
        "src_addr",
        "ts_ns",
    )

    def __init__(self, payloads: Sequence[tuple[bytes, int, int, int, int, bytes, bytes]]) -> None:
        """Collect `payloads`: (bytes, ts_ns, record, ip version, protocol, src 16 bytes, dst 16 bytes)."""
        self.buffer: npt.NDArray[np.uint8] = np.frombuffer(
            bytearray(b"".join(item[0] for item in payloads)), np.uint8
        )
        lengths = [len(item[0]) for item in payloads]
        self.length: npt.NDArray[np.int64] = np.array(lengths, np.int64)
        self.offset: npt.NDArray[np.int64] = np.cumsum(self.length) - self.length
        self.ts_ns: npt.NDArray[np.int64] = np.array([item[1] for item in payloads], np.int64)
        self.record: npt.NDArray[np.int64] = np.array([item[2] for item in payloads], np.int64)
        self.ip_version: npt.NDArray[np.uint8] = np.array([item[3] for item in payloads], np.uint8)
        self.protocol: npt.NDArray[np.uint8] = np.array([item[4] for item in payloads], np.uint8)
        self.src_addr: npt.NDArray[np.uint8] = _addresses([item[5] for item in payloads])
        self.dst_addr: npt.NDArray[np.uint8] = _addresses([item[6] for item in payloads])

    def __len__(self) -> int:
        return len(self.offset)

    def decode(self, port_table: npt.NDArray[np.uint8], counts: npt.NDArray[np.int64]) -> PacketRows:
        """The UDP and TCP rows of these datagrams (offsets into `buffer`); the rest counted into `counts`."""
        rows = PacketRows(len(self))
        columns = (self.offset, self.length, self.ts_ns, self.record, self.ip_version, self.protocol)
        count = decode_datagrams(
            self.buffer, columns, self.src_addr, self.dst_addr, (port_table, counts, rows.arrays())
        )
        return rows.take(slice(0, count))


def _addresses(values: list[bytes]) -> npt.NDArray[np.uint8]:
    return np.frombuffer(bytearray(b"".join(values)), np.uint8).reshape(len(values), 16)


class FragmentReassembler:
    """Puts IP fragments back together, across chunks, with bounded memory.

    Args:
        timeout_ns: capture time after its first fragment that a datagram may wait for the rest.
        max_pending: datagrams held at once; the oldest is dropped beyond.
        max_pending_bytes: fragment bytes held at once; the oldest datagrams are dropped beyond.
    """

    def __init__(
        self,
        *,
        timeout_ns: int = FRAGMENT_TIMEOUT_NS,
        max_pending: int = MAX_PENDING_DATAGRAMS,
        max_pending_bytes: int = MAX_PENDING_BYTES,
    ) -> None:
        self._timeout_ns = timeout_ns
        self._max_pending = max_pending
        self._max_pending_bytes = max_pending_bytes
        self._pending: dict[bytes, _Pending] = {}
        self._pending_bytes = 0
        # Datagrams completed lately, with their pieces, so that a duplicate of one of their fragments starts
        # nothing new while a new datagram reusing the identification still can.
        self._completed: dict[bytes, tuple[int, set[tuple[int, bytes]]]] = {}

    @property
    def pending(self) -> int:
        """Datagrams waiting for fragments."""
        return len(self._pending)

    def add_rows(
        self, buffer: npt.NDArray[np.uint8], rows: PacketRows, counts: npt.NDArray[np.int64]
    ) -> Datagrams:
        """Take the fragment rows `rows` (payloads in `buffer`); return the datagrams they completed."""
        completed: list[tuple[bytes, int, int, int, int, bytes, bytes]] = []
        sources = rows.src_addr.tobytes()
        destinations = rows.dst_addr.tobytes()
        columns = zip(
            rows.offset.tolist(),
            rows.length.tolist(),
            rows.ts_ns.tolist(),
            rows.record.tolist(),
            rows.ip_version.tolist(),
            rows.number.tolist(),
            rows.detail.tolist(),
            rows.protocol.tolist(),
            strict=True,
        )
        for index, (offset, length, ts_ns, record, version, ident, detail, protocol) in enumerate(columns):
            src = sources[16 * index : 16 * index + 16]
            dst = destinations[16 * index : 16 * index + 16]
            key_protocol = protocol if version == 4 else 0
            key = bytes((version, key_protocol)) + src + dst + ident.to_bytes(4, "big")
            data = buffer[offset : offset + length].tobytes()
            payload, payload_protocol = self._add(key, version, protocol, detail, data, ts_ns, counts)
            if payload is not None:
                completed.append((payload, ts_ns, record, version, payload_protocol, src, dst))
            self._expire(ts_ns - self._timeout_ns, counts)
        return Datagrams(completed)

    def finish(self, counts: npt.NDArray[np.int64]) -> None:
        """End of capture: count every unfinished datagram as FRAGMENT_INCOMPLETE and forget it."""
        counts[Reason.FRAGMENT_INCOMPLETE] += len(self._pending)
        self._pending.clear()
        self._completed.clear()
        self._pending_bytes = 0

    def _add(
        self,
        key: bytes,
        version: int,
        protocol: int,
        detail: int,
        data: bytes,
        ts_ns: int,
        counts: npt.NDArray[np.int64],
    ) -> tuple[bytes | None, int]:
        start, more = detail >> 1, detail & 1
        if key in self._completed:
            if (start, data) in self._completed[key][1]:
                return None, 0
            del self._completed[key]
        end = start + len(data)
        if end > MAX_DATAGRAM_BYTES or (more and not data):
            counts[Reason.BAD_IP_HEADER] += 1
            return None, 0
        pending = self._pending.get(key)
        if pending is None:
            self._make_room(counts)
            pending = self._pending[key] = _Pending(first_ts=ts_ns)
        if pending.discarded:
            return None, 0
        if not more:
            if pending.total >= 0 and pending.total != end:
                # Two different ends: IPv6 forbids it (an overlap); for IPv4 the first one stands.
                pending.discarded = version == 6
                return None, 0
            pending.total = end
        if start == 0 or pending.protocol < 0:
            pending.protocol = protocol
        overlap = _overlap(pending.pieces, start, data)
        if overlap == _DUPLICATE:
            return None, 0
        if overlap == _CONFLICT and version == 6:
            pending.discarded = True
            self._pending_bytes -= pending.size
            pending.pieces.clear()
            pending.size = 0
            return None, 0
        pending.pieces.append((start, data))
        pending.size += len(data)
        self._pending_bytes += len(data)
        payload = _assemble(pending)
        if payload is None:
            return None, 0
        del self._pending[key]
        self._pending_bytes -= pending.size
        self._completed[key] = (ts_ns, set(pending.pieces))
        return payload, pending.protocol

    def _make_room(self, counts: npt.NDArray[np.int64]) -> None:
        while self._pending and (
            len(self._pending) >= self._max_pending or self._pending_bytes > self._max_pending_bytes
        ):
            oldest = next(iter(self._pending))
            self._pending_bytes -= self._pending.pop(oldest).size
            counts[Reason.FRAGMENT_INCOMPLETE] += 1

    def _expire(self, cutoff_ns: int, counts: npt.NDArray[np.int64]) -> None:
        # Dicts keep insertion order, which is the order of first fragments: the oldest come first.
        while self._pending:
            key, pending = next(iter(self._pending.items()))
            if pending.first_ts >= cutoff_ns:
                break
            del self._pending[key]
            self._pending_bytes -= pending.size
            counts[Reason.FRAGMENT_INCOMPLETE] += 1
        while self._completed:
            key, (completed_ts, _) = next(iter(self._completed.items()))
            if completed_ts >= cutoff_ns and len(self._completed) <= self._max_pending:
                break
            del self._completed[key]


_DISJOINT = 0
_DUPLICATE = 1
_CONFLICT = 2


def _overlap(pieces: list[tuple[int, bytes]], start: int, data: bytes) -> int:
    """How a new piece meets those held: disjoint or agreeing, an exact duplicate, or differing bytes."""
    end = start + len(data)
    result = _DISJOINT
    for held_start, held in pieces:
        if held_start == start and held == data:
            return _DUPLICATE
        low = max(start, held_start)
        high = min(end, held_start + len(held))
        if low < high and held[low - held_start : high - held_start] != data[low - start : high - start]:
            result = _CONFLICT
    return result


def _assemble(pending: _Pending) -> bytes | None:
    """The whole payload when every byte up to the known end is held, else None; first arrivals win."""
    total = pending.total
    if total < 0:
        return None
    covered = 0
    for start, data in sorted(pending.pieces, key=lambda piece: piece[0]):
        if start > covered:
            return None
        covered = max(covered, start + len(data))
        if covered >= total:
            break
    if covered < total:
        return None
    payload = bytearray(total)
    for start, data in reversed(pending.pieces):
        end = min(start + len(data), total)
        if end > start:
            payload[start:end] = data[: end - start]
    return bytes(payload)
