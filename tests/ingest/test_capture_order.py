"""Merging a walk's UDP rows with the messages reassembly completed: capture order, columns, buffer."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dnsvigil.ingest.capture_order import Reassembled, in_capture_order
from dnsvigil.ingest.packets import KIND_FRAGMENT, KIND_TCP, KIND_UDP, PacketRows
from dnsvigil.ingest.slices import TRANSPORT_TCP, TRANSPORT_UDP, MessageSlices
from tests.ingest import pcap_builder as b

CHUNK = b"".join(b.dns_message(ident) for ident in range(6))
MESSAGE_BYTES = len(b.dns_message(0))


def chunk_rows(kinds: list[int], records: list[int]) -> PacketRows:
    """Rows as decode_frames writes them, row i's payload being message i of CHUNK; spare capacity after."""
    rows = PacketRows(len(kinds) + 3)
    count = len(kinds)
    rows.kind[:count] = kinds
    rows.record[:count] = records
    rows.offset[:count] = np.arange(count) * MESSAGE_BYTES
    rows.length[:count] = MESSAGE_BYTES
    rows.ts_ns[:count] = np.array(records) * 1000
    rows.ip_version[:count] = 4
    rows.src_addr[:count] = 0
    rows.src_addr[:count, 0] = np.arange(count) + 1
    rows.dst_addr[:count] = 0
    rows.dst_addr[:count, 3] = 9
    rows.src_port[:count] = 40000 + np.arange(count)
    rows.dst_port[:count] = 53
    rows.protocol[:count] = [TRANSPORT_UDP if kind == KIND_UDP else TRANSPORT_TCP for kind in kinds]
    return rows


def late_messages(records: list[int], first_ident: int = 100) -> Reassembled:
    """TCP messages completed at `records`, in their own buffer behind a few bytes of something else."""
    wires = [b.dns_message(first_ident + n) for n in range(len(records))]
    lead = b"\xff" * 3
    starts = np.cumsum([len(lead)] + [len(wire) for wire in wires])[:-1]
    count = len(records)
    slices = MessageSlices(
        buffer=np.frombuffer(lead + b"".join(wires), np.uint8),
        offset=starts.astype(np.int64),
        length=np.array([len(wire) for wire in wires], np.int32),
        ts_ns=np.array(records, np.int64) * 1000 + 1,
        ip_version=np.full(count, 6, np.uint8),
        src_addr=np.full((count, 16), 0x20, np.uint8),
        dst_addr=np.full((count, 16), 0x30, np.uint8),
        src_port=np.full(count, 53, np.uint16),
        dst_port=np.full(count, 41000, np.uint16),
        transport=np.full(count, TRANSPORT_TCP, np.uint8),
    )
    return Reassembled(slices, np.array(records, np.int64))


def ids(slices: MessageSlices) -> list[int]:
    spans = zip(slices.offset.tolist(), slices.length.tolist(), strict=True)
    wires = (slices.buffer[start : start + length].tobytes() for start, length in spans)
    return [int.from_bytes(wire[:2], "big") for wire in wires]


def buffer_for(reassembled: Reassembled) -> np.ndarray:
    buffer = np.zeros(len(CHUNK) + len(reassembled.slices.buffer) + 10, np.uint8)
    buffer[: len(CHUNK)] = np.frombuffer(CHUNK, np.uint8)
    return buffer


def test_udp_rows_alone_keep_their_order_and_columns() -> None:
    rows = chunk_rows([KIND_UDP, KIND_TCP, KIND_UDP, KIND_FRAGMENT, KIND_UDP], [10, 11, 12, 13, 14])
    slices = in_capture_order(buffer_for(Reassembled.empty()), len(CHUNK), rows, 5, Reassembled.empty())
    assert ids(slices) == [0, 2, 4]
    assert slices.ts_ns.tolist() == [10_000, 12_000, 14_000]
    assert slices.src_addr[:, 0].tolist() == [1, 3, 5]
    assert (slices.src_addr[:, 1:] == 0).all() and slices.dst_addr[:, 3].tolist() == [9, 9, 9]
    assert slices.src_port.tolist() == [40000, 40002, 40004]
    assert slices.transport.tolist() == [TRANSPORT_UDP] * 3
    assert slices.length.dtype == np.int32 and slices.src_addr.shape == (3, 16)


def test_reassembled_messages_take_the_place_of_their_records() -> None:
    rows = chunk_rows([KIND_UDP, KIND_TCP, KIND_UDP, KIND_TCP, KIND_UDP], [10, 11, 12, 13, 14])
    late = late_messages([5, 11, 11, 13, 20])
    buffer = buffer_for(late)
    slices = in_capture_order(buffer, len(CHUNK), rows, 5, late)
    assert ids(slices) == [100, 0, 101, 102, 2, 103, 4, 104]
    assert slices.ts_ns.tolist() == [5001, 10_000, 11_001, 11_001, 12_000, 13_001, 14_000, 20_001]
    assert slices.transport.tolist() == [6, 17, 6, 6, 17, 6, 17, 6]
    assert slices.ip_version.tolist() == [6, 4, 6, 6, 4, 6, 4, 6]
    assert (slices.src_addr[slices.transport == 6] == 0x20).all()
    assert slices.buffer.base is buffer or slices.buffer.base is buffer.base  # no copy of the chunk
    assert len(slices.buffer) == len(CHUNK) + len(late.slices.buffer)


def test_rows_past_count_are_not_read() -> None:
    rows = chunk_rows([KIND_UDP, KIND_UDP, KIND_UDP], [1, 2, 3])
    slices = in_capture_order(buffer_for(Reassembled.empty()), len(CHUNK), rows, 2, Reassembled.empty())
    assert ids(slices) == [0, 1]


def test_nothing_gives_empty_slices_and_no_room_is_refused() -> None:
    rows = chunk_rows([KIND_TCP], [1])
    assert (
        len(in_capture_order(buffer_for(Reassembled.empty()), len(CHUNK), rows, 1, Reassembled.empty())) == 0
    )
    late = late_messages([1])
    with pytest.raises(ValueError, match="no room"):
        in_capture_order(np.zeros(len(CHUNK), np.uint8), len(CHUNK), rows, 1, late)


def test_joined_parts_share_one_buffer_in_record_order() -> None:
    joined = Reassembled.joined([late_messages([7, 3], 200), Reassembled.empty(), late_messages([5, 3], 300)])
    assert joined.record.tolist() == [3, 3, 5, 7]
    assert ids(joined.slices) == [201, 301, 300, 200]  # ties keep the order of the parts
    assert joined.slices.src_addr.flags.c_contiguous
    assert len(Reassembled.joined([Reassembled.empty()])) == 0


@settings(max_examples=60, deadline=None)
@given(
    kinds=st.lists(st.sampled_from([KIND_UDP, KIND_TCP, KIND_FRAGMENT]), min_size=0, max_size=6),
    late=st.lists(st.integers(0, 12), max_size=6),
)
def test_merge_equals_a_stable_sort_by_record(kinds: list[int], late: list[int]) -> None:
    records = [2 * n + 1 for n in range(len(kinds))]  # odd: never equal to a reassembled message's
    rows = chunk_rows(kinds, records)
    reassembled = Reassembled.joined([late_messages([2 * record for record in late])])
    slices = in_capture_order(buffer_for(reassembled), len(CHUNK), rows, len(kinds), reassembled)
    udp = [
        (record, n) for n, (kind, record) in enumerate(zip(kinds, records, strict=True)) if kind == KIND_UDP
    ]
    expected = sorted(udp + [(2 * record, 100 + n) for n, record in enumerate(late)])
    assert ids(slices) == [ident for _, ident in expected]
