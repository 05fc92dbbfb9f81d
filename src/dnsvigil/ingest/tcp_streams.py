"""TCP stream reassembly for DNS over TCP (RFC 7766): each message is preceded by a 2-byte length.

Each direction of a connection is a flow, keyed by (IP version, source, destination, source port,
destination port). A flow starts at its SYN (data after the SYN's sequence number, so TCP Fast Open data
in the SYN counts) or, for a connection already open when the capture began, at the first segment with data,
taken to start at a message boundary. Segments are placed by 32-bit sequence arithmetic: retransmitted and
overlapping bytes are dropped (the first copy wins), early segments wait until the bytes before them arrive.
A message completes when its last byte is in place; its time and record are those of the segment whose
arrival completed it.

A gap that never fills (a lost segment, a capture that missed it) is counted as TCP_STREAM_GAP; reading then
resumes at the next waiting segment, as if it started a message, when too many bytes wait behind the gap
and when the flow ends. A flow ends at RST, once every byte before its FIN is in place, when idle too long
(capture time), when too many flows are open or hold too many bytes, and at the end of the capture; bytes of
an unfinished message left then count as TCP_STREAM_GAP, or as TCP_BAD_LENGTH when the stream was whole up
to its FIN.
A length prefix of 0 counts as TCP_BAD_LENGTH and one under 12 (no room for a DNS header) as DNS_TOO_SHORT.

This is a Python path: DNS over TCP is a minority of DNS traffic; its bytes are moved in bulk (one bytearray
per flow), never byte by byte.
"""

from __future__ import annotations

import struct
from collections.abc import Sequence
from dataclasses import dataclass, field
from itertools import repeat
from operator import itemgetter

import numpy as np
import numpy.typing as npt

from dnsvigil.ingest.capture_order import Reassembled
from dnsvigil.ingest.packets import DNS_HEADER_BYTES, TCP_FIN, TCP_RST, TCP_SYN, PacketRows
from dnsvigil.ingest.reasons import Reason
from dnsvigil.ingest.slices import TRANSPORT_TCP, MessageSlices

IDLE_TIMEOUT_NS = 300 * 1_000_000_000
"""Capture time after its last segment that an open flow is kept."""
MAX_FLOWS = 1 << 16
MAX_WAITING_BYTES = 1 << 20
"""Bytes a flow may hold behind a gap before the gap is given up on."""
MAX_HELD_BYTES = 64 << 20
"""Bytes all flows may hold together, unfinished messages and bytes behind gaps."""
MAX_WAITING_SEGMENTS = 1024
"""Segments a flow may hold behind a gap before the gap is given up on."""
FLOW_KEY_BYTES = 37
_SEQUENCE_MASK = 0xFFFFFFFF


def _distance(sequence: int, reference: int) -> int:
    """`sequence - reference` in 32-bit sequence space, from -2**31 to 2**31 - 1."""
    return ((sequence - reference + 0x80000000) & _SEQUENCE_MASK) - 0x80000000


@dataclass(slots=True)
class _Flow:
    key: bytes
    next_seq: int
    syn_seq: int | None
    last_ts: int = 0
    fin_seq: int | None = None
    pending: bytearray = field(default_factory=bytearray)
    # Segments beyond a gap: sequence number -> (payload, ts_ns, record).
    waiting: dict[int, tuple[bytes, int, int]] = field(default_factory=dict)
    waiting_bytes: int = 0
    held_bytes: int = 0  # pending and waiting bytes, as last added to the reassembler's total


FlowColumns = tuple[
    npt.NDArray[np.uint8],
    npt.NDArray[np.uint8],
    npt.NDArray[np.uint8],
    npt.NDArray[np.uint16],
    npt.NDArray[np.uint16],
]
"""IP version, source address (n, 16), destination address (n, 16), source port, destination port."""


def flow_key(version: int, src: bytes, dst: bytes, src_port: int, dst_port: int) -> bytes:
    """A flow's key: IP version, 16-byte source and destination addresses, big-endian ports (37 bytes)."""
    return bytes((version,)) + src + dst + struct.pack("!HH", src_port, dst_port)


def flow_keys(rows: PacketRows) -> list[bytes]:
    """The flow key of each row, as `flow_key` makes it."""
    table = np.empty((len(rows), FLOW_KEY_BYTES), np.uint8)
    table[:, 0] = rows.ip_version
    table[:, 1:17] = rows.src_addr
    table[:, 17:33] = rows.dst_addr
    table[:, 33:35] = rows.src_port.astype(">u2").view(np.uint8).reshape(-1, 2)
    table[:, 35:37] = rows.dst_port.astype(">u2").view(np.uint8).reshape(-1, 2)
    packed = table.tobytes()
    return [packed[start : start + FLOW_KEY_BYTES] for start in range(0, len(packed), FLOW_KEY_BYTES)]


class ReassembledMessages:
    """DNS messages cut out of TCP streams, their bytes back to back in `data`, with their flows' keys."""

    def __init__(self) -> None:
        self.data = bytearray()
        self.offset: list[int] = []
        self.ts_ns: list[int] = []
        self.record: list[int] = []
        self.flow: list[bytes] = []

    def __len__(self) -> int:
        return len(self.offset)

    def add(self, message: memoryview, ts_ns: int, record: int, flow: bytes) -> None:
        """Append one message, its time, record and flow key."""
        self.offset.append(len(self.data))
        self.data += message
        self.ts_ns.append(ts_ns)
        self.record.append(record)
        self.flow.append(flow)

    def lengths(self) -> npt.NDArray[np.int32]:
        """Each message's length in bytes."""
        ends = np.array([*self.offset[1:], len(self.data)], np.int32)
        return ends - np.array(self.offset, np.int32)

    def flow_columns(self) -> FlowColumns:
        """(IP version, source address (n, 16), destination address, source port, destination port) arrays,
        each C-contiguous."""
        table = np.frombuffer(b"".join(self.flow), np.uint8).reshape(len(self.flow), FLOW_KEY_BYTES)
        return (
            table[:, 0].copy(),
            table[:, 1:17].copy(),
            table[:, 17:33].copy(),
            table[:, 33:35].copy().view(">u2").ravel().astype(np.uint16),
            table[:, 35:37].copy().view(">u2").ravel().astype(np.uint16),
        )

    def reassembled(self) -> Reassembled:
        """These messages, with the records that completed them, as `capture_order` merges them."""
        if not self.offset:
            return Reassembled.empty()
        versions, sources, destinations, src_ports, dst_ports = self.flow_columns()
        slices = MessageSlices(
            buffer=np.frombuffer(self.data, np.uint8),
            offset=np.array(self.offset, np.int64),
            length=self.lengths(),
            ts_ns=np.array(self.ts_ns, np.int64),
            ip_version=versions,
            src_addr=sources,
            dst_addr=destinations,
            src_port=src_ports,
            dst_port=dst_ports,
            transport=np.full(len(self), TRANSPORT_TCP, np.uint8),
        )
        return Reassembled(slices, np.array(self.record, np.int64))


class TcpReassembler:
    """Cuts DNS messages out of the TCP segments of a capture, across chunks, with bounded memory.

    Args:
        idle_timeout_ns: capture time after its last segment that a flow is kept open.
        max_flows: flows held at once; the least recently active one is ended beyond.
        max_waiting_bytes: bytes a flow may hold behind a gap.
        max_held_bytes: bytes all flows may hold together; the least recently active flows are ended beyond.
    """

    def __init__(
        self,
        *,
        idle_timeout_ns: int = IDLE_TIMEOUT_NS,
        max_flows: int = MAX_FLOWS,
        max_waiting_bytes: int = MAX_WAITING_BYTES,
        max_held_bytes: int = MAX_HELD_BYTES,
    ) -> None:
        self._idle_timeout_ns = idle_timeout_ns
        self._max_flows = max_flows
        self._max_waiting_bytes = max_waiting_bytes
        self._max_held_bytes = max_held_bytes
        self._held_bytes = 0
        # Least recently active first: a flow is moved to the end at each of its segments.
        self._flows: dict[bytes, _Flow] = {}
        self._messages = ReassembledMessages()

    @property
    def open_flows(self) -> int:
        """Flows currently open."""
        return len(self._flows)

    @property
    def held_bytes(self) -> int:
        """Bytes the open flows hold: unfinished messages and bytes waiting behind gaps."""
        return self._held_bytes

    def take_messages(self) -> ReassembledMessages:
        """The messages completed since the last call."""
        messages, self._messages = self._messages, ReassembledMessages()
        return messages

    def add_rows(
        self, sources: Sequence[tuple[npt.NDArray[np.uint8], PacketRows]], counts: npt.NDArray[np.int64]
    ) -> None:
        """Feed the TCP rows of every (buffer, rows) source, merged into record order."""
        segments: list[tuple[int, bytes, int, int, int, int, int, memoryview]] = []
        for buffer, rows in sources:
            if len(rows):
                ends = rows.offset + rows.length
                columns = (rows.record, rows.number, rows.detail, rows.offset, ends, rows.ts_ns)
                record, seq, flags, start, end, ts_ns = (column.tolist() for column in columns)
                views = repeat(buffer.data, len(rows))
                segments += zip(record, flow_keys(rows), seq, flags, start, end, ts_ns, views, strict=True)
        if not segments:
            return
        if len(sources) > 1:
            segments.sort(key=itemgetter(0))
        for record, key, seq, flags, start, end, ts_ns, view in segments:
            self.add_segment(key, seq, flags, view[start:end], ts_ns, record, counts)
        self.expire_idle(max(segment[6] for segment in segments), counts)

    def add_segment(
        self,
        key: bytes,
        seq: int,
        flags: int,
        payload: bytes | memoryview,
        ts_ns: int,
        record: int,
        counts: npt.NDArray[np.int64],
    ) -> None:
        """Place one segment of the flow `key` (see `flow_key`)."""
        flow = self._flows.pop(key, None)
        if flags & TCP_RST:
            if flow is not None:
                self._end(flow, counts, whole=False)
            return
        syn = bool(flags & TCP_SYN)
        if flow is not None and syn and flow.syn_seq != seq:
            self._end(flow, counts, whole=False)  # a new connection on the same addresses and ports
            flow = None
        if flow is None:
            if not payload and not syn:
                return  # the FIN or bare ACK of a connection seen without data
            if len(self._flows) >= self._max_flows:
                self._end(self._flows.pop(next(iter(self._flows))), counts, whole=False)
            flow = _Flow(key, (seq + 1) & _SEQUENCE_MASK if syn else seq, seq if syn else None)
        self._flows[key] = flow
        flow.last_ts = ts_ns
        data_seq = (seq + 1) & _SEQUENCE_MASK if syn else seq
        if payload:
            self._place(flow, data_seq, payload, ts_ns, record, counts)
        if flags & TCP_FIN:
            flow.fin_seq = (data_seq + len(payload)) & _SEQUENCE_MASK
        if flow.fin_seq is not None and flow.next_seq == flow.fin_seq:
            del self._flows[key]
            self._end(flow, counts, whole=True)
            return
        held = len(flow.pending) + flow.waiting_bytes
        self._held_bytes += held - flow.held_bytes
        flow.held_bytes = held
        while self._held_bytes > self._max_held_bytes and self._flows:
            self._end(self._flows.pop(next(iter(self._flows))), counts, whole=False)

    def finish(self, counts: npt.NDArray[np.int64]) -> None:
        """End of capture: end every open flow, cutting out what messages its waiting bytes still hold."""
        flows = list(self._flows.values())
        self._flows.clear()
        for flow in flows:
            self._end(flow, counts, whole=False)

    def _place(
        self,
        flow: _Flow,
        seq: int,
        payload: bytes | memoryview,
        ts_ns: int,
        record: int,
        counts: npt.NDArray[np.int64],
    ) -> None:
        distance = _distance(seq, flow.next_seq)
        if distance > 0:
            held = flow.waiting.get(seq)
            if held is None or len(held[0]) < len(payload):
                flow.waiting_bytes += len(payload) - (len(held[0]) if held else 0)
                flow.waiting[seq] = (bytes(payload), ts_ns, record)  # a copy: the chunk it came from goes
            if flow.waiting_bytes > self._max_waiting_bytes or len(flow.waiting) > MAX_WAITING_SEGMENTS:
                self._skip_gap(flow, counts)
            return
        if -distance >= len(payload):
            return  # a retransmission of bytes already in place
        flow.pending += payload[-distance:] if distance else payload
        flow.next_seq = (seq + len(payload)) & _SEQUENCE_MASK
        if flow.waiting:
            ts_ns, record = max((ts_ns, record), self._take_waiting(flow))
        self._cut_messages(flow, ts_ns, record, counts)

    def _take_waiting(self, flow: _Flow) -> tuple[int, int]:
        """Append the waiting segments that now follow on; return the latest (ts_ns, record) among them."""
        latest = (-(1 << 62), -1)
        start = flow.next_seq
        for seq in sorted(flow.waiting, key=lambda seq: _distance(seq, start)):
            distance = _distance(seq, flow.next_seq)
            if distance > 0:
                break
            payload, ts_ns, record = flow.waiting.pop(seq)
            flow.waiting_bytes -= len(payload)
            if -distance < len(payload):
                flow.pending += payload[-distance:]
                flow.next_seq = (seq + len(payload)) & _SEQUENCE_MASK
                latest = max(latest, (ts_ns, record))
        return latest

    def _skip_gap(self, flow: _Flow, counts: npt.NDArray[np.int64]) -> None:
        """Give up on the gap before the earliest waiting segment and read on from there."""
        counts[Reason.TCP_STREAM_GAP] += 1
        flow.pending.clear()
        flow.next_seq = min(flow.waiting, key=lambda seq: _distance(seq, flow.next_seq))
        ts_ns, record = self._take_waiting(flow)
        self._cut_messages(flow, ts_ns, record, counts)

    def _cut_messages(self, flow: _Flow, ts_ns: int, record: int, counts: npt.NDArray[np.int64]) -> None:
        pending = flow.pending
        available = len(pending)
        pos = 0
        with memoryview(pending) as view:
            while available - pos >= 2:
                length = (pending[pos] << 8) | pending[pos + 1]
                if available - pos - 2 < length:
                    break
                if length == 0:
                    counts[Reason.TCP_BAD_LENGTH] += 1
                elif length < DNS_HEADER_BYTES:
                    counts[Reason.DNS_TOO_SHORT] += 1
                else:
                    self._messages.add(view[pos + 2 : pos + 2 + length], ts_ns, record, flow.key)
                pos += 2 + length
        if pos:
            del pending[:pos]

    def _end(self, flow: _Flow, counts: npt.NDArray[np.int64], *, whole: bool) -> None:
        """Cut out what messages a flow that is no longer held still gives; count what it leaves."""
        self._held_bytes -= flow.held_bytes
        flow.held_bytes = 0
        while flow.waiting:
            self._skip_gap(flow, counts)
            whole = False
        if flow.pending:
            counts[Reason.TCP_BAD_LENGTH if whole else Reason.TCP_STREAM_GAP] += 1

    def expire_idle(self, now_ns: int, counts: npt.NDArray[np.int64]) -> None:
        """End the flows idle for longer than the idle timeout at capture time `now_ns`."""
        cutoff_ns = now_ns - self._idle_timeout_ns
        while self._flows:
            key, flow = next(iter(self._flows.items()))
            if flow.last_ts >= cutoff_ns:
                break
            del self._flows[key]
            self._end(flow, counts, whole=False)
