"""A walk's messages in capture order: UDP messages where they lie, and the messages reassembly completed.

A UDP datagram's payload is a DNS message in place, in the chunk's buffer. Messages cut out of TCP streams,
and UDP datagrams put back together from IP fragments, are not: their bytes are copied after the chunk's
bytes, in the same buffer, and they are merged with the UDP rows by the number of the record that completed
them. One compiled pass writes every column of the batch once, whatever the mix of transports, so a little
TCP in every chunk costs no more than its own messages.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from dnsvigil.ingest.compiled import compiled, inlined
from dnsvigil.ingest.packets import KIND_UDP, PacketRows
from dnsvigil.ingest.slices import MessageSlices


@dataclass(frozen=True, slots=True)
class Reassembled:
    """Messages that reassembly completed, in their own buffer, with the record that completed each.

    Attributes:
        slices: the messages; `src_addr` and `dst_addr` C-contiguous.
        record: int64 number of the capture record that completed each message.
    """

    slices: MessageSlices
    record: npt.NDArray[np.int64]

    def __post_init__(self) -> None:
        if len(self.record) != len(self.slices):
            raise ValueError(f"Reassembled has {len(self.record)} records for {len(self.slices)} messages")

    def __len__(self) -> int:
        return len(self.record)

    @staticmethod
    def empty() -> Reassembled:
        """No message."""
        return Reassembled(MessageSlices.empty(), np.zeros(0, np.int64))

    @staticmethod
    def from_udp_rows(buffer: npt.NDArray[np.uint8], rows: PacketRows) -> Reassembled:
        """The UDP rows `rows`, whose payloads lie in `buffer`, as messages."""
        slices = MessageSlices(
            buffer=buffer,
            offset=rows.offset,
            length=rows.length,
            ts_ns=rows.ts_ns,
            ip_version=rows.ip_version,
            src_addr=np.ascontiguousarray(rows.src_addr),
            dst_addr=np.ascontiguousarray(rows.dst_addr),
            src_port=rows.src_port,
            dst_port=rows.dst_port,
            transport=rows.protocol,
        )
        return Reassembled(slices, rows.record)

    @staticmethod
    def joined(parts: Sequence[Reassembled]) -> Reassembled:
        """Every message of `parts` in one buffer, ordered by record; ties keep their order."""
        parts = [part for part in parts if len(part)]
        if not parts:
            return Reassembled.empty()
        bases = np.cumsum([0] + [len(part.slices.buffer) for part in parts[:-1]])
        record = np.concatenate([part.record for part in parts])
        order = np.argsort(record, kind="stable")

        def column(name: str) -> Any:
            return np.concatenate([getattr(part.slices, name) for part in parts])[order]

        slices = MessageSlices(
            buffer=np.concatenate([part.slices.buffer for part in parts]),
            offset=np.concatenate(
                [part.slices.offset + base for part, base in zip(parts, bases, strict=True)]
            )[order],
            length=column("length"),
            ts_ns=column("ts_ns"),
            ip_version=column("ip_version"),
            src_addr=column("src_addr"),
            dst_addr=column("dst_addr"),
            src_port=column("src_port"),
            dst_port=column("dst_port"),
            transport=column("transport"),
        )
        return Reassembled(slices, record[order])


def in_capture_order(
    buffer: npt.NDArray[np.uint8], data_end: int, rows: PacketRows, count: int, reassembled: Reassembled
) -> MessageSlices:
    """The UDP rows among the first `count` of `rows` and the `reassembled` messages, ordered by record.

    The reassembled bytes are copied to `buffer[data_end:]`, which must have room for them; the UDP rows'
    payloads lie in `buffer[:data_end]`. The message columns are new arrays, so `rows` can be reused.
    """
    late = reassembled.slices
    late_end = data_end + len(late.buffer)
    if late_end > len(buffer):
        raise ValueError(f"no room for {len(late.buffer)} reassembled bytes after byte {data_end}")
    total = int(np.count_nonzero(rows.kind[:count] == KIND_UDP)) + len(reassembled)
    if total == 0:
        return MessageSlices.empty()
    buffer[data_end:late_end] = late.buffer
    slices = MessageSlices(
        buffer=buffer[:late_end],
        offset=np.empty(total, np.int64),
        length=np.empty(total, np.int32),
        ts_ns=np.empty(total, np.int64),
        ip_version=np.empty(total, np.uint8),
        src_addr=np.empty((total, 16), np.uint8),
        dst_addr=np.empty((total, 16), np.uint8),
        src_port=np.empty(total, np.uint16),
        dst_port=np.empty(total, np.uint16),
        transport=np.empty(total, np.uint8),
    )
    own = (
        rows.record,
        rows.offset,
        rows.length,
        rows.ts_ns,
        rows.ip_version,
        rows.src_addr.view(np.uint64),
        rows.dst_addr.view(np.uint64),
        rows.src_port,
        rows.dst_port,
        rows.protocol,
    )
    late_columns = (reassembled.record, *_slice_columns(late))
    _merge(rows.kind, own, count, late_columns, data_end, _slice_columns(slices))
    return slices


def _slice_columns(slices: MessageSlices) -> tuple[npt.NDArray[Any], ...]:
    """The columns the merge kernel reads or writes, addresses as two 64-bit words each."""
    return (
        slices.offset,
        slices.length,
        slices.ts_ns,
        slices.ip_version,
        slices.src_addr.view(np.uint64),
        slices.dst_addr.view(np.uint64),
        slices.src_port,
        slices.dst_port,
        slices.transport,
    )


@inlined
def _copy_row(source: Any, index: int, base: int, out: Any, row: int) -> None:
    """Copy message `index` of `source` (record, then `_slice_columns`) to row `row` of `out`."""
    offsets, lengths, times, versions, sources, destinations, src_ports, dst_ports, transports = source[1:]
    out_offsets, out_lengths, out_times, out_versions, out_sources, out_destinations = out[:6]
    out_src_ports, out_dst_ports, out_transports = out[6:]
    out_offsets[row] = offsets[index] + base
    out_lengths[row] = lengths[index]
    out_times[row] = times[index]
    out_versions[row] = versions[index]
    out_sources[row, 0] = sources[index, 0]
    out_sources[row, 1] = sources[index, 1]
    out_destinations[row, 0] = destinations[index, 0]
    out_destinations[row, 1] = destinations[index, 1]
    out_src_ports[row] = src_ports[index]
    out_dst_ports[row] = dst_ports[index]
    out_transports[row] = transports[index]


@compiled
def _merge(kinds: Any, own: Any, count: int, late: Any, late_base: int, out: Any) -> int:
    """Merge the UDP rows among the first `count` of `own` with `late` (sorted by record) into `out`."""
    records = own[0]
    late_records = late[0]
    late_count = late_records.shape[0]
    taken = 0
    row = 0
    for index in range(count):
        if kinds[index] != KIND_UDP:
            continue
        while taken < late_count and late_records[taken] < records[index]:
            _copy_row(late, taken, late_base, out, row)
            taken += 1
            row += 1
        _copy_row(own, index, 0, out, row)
        row += 1
    while taken < late_count:
        _copy_row(late, taken, late_base, out, row)
        taken += 1
        row += 1
    return row
