"""Record walking: pcap in both byte orders and time units, pcapng sections, interfaces, blocks and damage."""

from __future__ import annotations

import struct

import numpy as np
import pytest

from dnsvigil.ingest.pcap_format import (
    BAD_FRAMING,
    NEED_MORE,
    OUTPUT_FULL,
    PCAP_HEADER_BYTES,
    PcapHeader,
    PcapngState,
    RecordIndex,
    ticks_to_ns,
    walk_pcap,
    walk_pcapng,
)
from dnsvigil.ingest.reasons import Reason, new_counts
from tests.ingest import pcap_builder as b

T0 = 1_700_000_123 * b.NS + 456_789_123
FRAMES = [bytes([n]) * (20 + n) for n in range(5)]


def as_buffer(data: bytes) -> np.ndarray:
    return np.frombuffer(bytearray(data), np.uint8)


def walk_whole_pcap(data: bytes, capacity: int = 64):
    header = PcapHeader.from_bytes(data[:PCAP_HEADER_BYTES])
    assert header is not None
    index = RecordIndex(capacity)
    buffer = as_buffer(data)
    count, pos, status, need = walk_pcap(
        buffer,
        PCAP_HEADER_BYTES,
        len(buffer),
        header.big_endian,
        header.nanosecond,
        header.record_header_bytes,
        header.linktype,
        index.arrays(),
    )
    return header, index, count, pos, status, need, buffer


def walk_whole_pcapng(data: bytes, capacity: int = 64):
    index = RecordIndex(capacity)
    state = PcapngState()
    counts = new_counts()
    buffer = as_buffer(data)
    result = walk_pcapng(buffer, 0, len(buffer), state.arrays(), counts, index.arrays())
    return index, state, counts, buffer, result


def frames_of(index: RecordIndex, buffer: np.ndarray, count: int) -> list[bytes]:
    return [buffer[index.offset[i] : index.offset[i] + index.caplen[i]].tobytes() for i in range(count)]


# pcap -----------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("big_endian", [False, True])
@pytest.mark.parametrize("nanosecond", [False, True])
def test_pcap_byte_orders_and_time_units(big_endian: bool, nanosecond: bool) -> None:
    records = [b.Record(frame, T0 + n * 1_000_001, origlen=len(frame) + n) for n, frame in enumerate(FRAMES)]
    data = b.pcap_file(records, linktype=113, big_endian=big_endian, nanosecond=nanosecond)
    header, index, count, pos, status, _, buffer = walk_whole_pcap(data)
    assert (header.big_endian, header.nanosecond, header.linktype) == (big_endian, nanosecond, 113)
    assert (count, pos, status) == (5, len(data), NEED_MORE)
    assert frames_of(index, buffer, count) == FRAMES
    expected_ts = [
        (T0 + n * 1_000_001) // (1 if nanosecond else 1000) * (1 if nanosecond else 1000) for n in range(5)
    ]
    assert index.ts_ns[:count].tolist() == expected_ts
    assert index.origlen[:count].tolist() == [len(frame) + n for n, frame in enumerate(FRAMES)]
    assert index.linktype[:count].tolist() == [113] * 5


def test_kuznetsov_records_have_longer_headers() -> None:
    data = b.pcap_file([b.Record(frame, T0) for frame in FRAMES], kuznetsov=True)
    header, index, count, _, _, _, buffer = walk_whole_pcap(data)
    assert header.record_header_bytes == 24
    assert frames_of(index, buffer, count) == FRAMES


def test_fcs_bits_are_masked_from_the_link_type() -> None:
    data = bytearray(b.pcap_file([b.Record(FRAMES[0])]))
    struct.pack_into("<I", data, 20, 0x14000001)  # FCS present, 4 bytes, on Ethernet
    header = PcapHeader.from_bytes(bytes(data))
    assert header is not None
    assert header.linktype == 1


def test_pcap_walk_stops_where_a_record_is_incomplete() -> None:
    data = b.pcap_file([b.Record(frame, T0) for frame in FRAMES])
    cut = data[: len(data) - 3]
    _, _, count, pos, status, need, _ = walk_whole_pcap(cut)
    assert (count, status) == (4, NEED_MORE)
    assert need == 16 + len(FRAMES[4])
    assert pos == len(data) - 16 - len(FRAMES[4])
    _, _, count, pos, status, need, _ = walk_whole_pcap(data[: pos + 10])
    assert (count, status, need) == (4, NEED_MORE, 16)


def test_pcap_walk_stops_when_the_output_is_full() -> None:
    data = b.pcap_file([b.Record(frame, T0) for frame in FRAMES])
    _, _, count, pos, status, _, _ = walk_whole_pcap(data, capacity=2)
    assert (count, status) == (2, OUTPUT_FULL)
    assert pos == PCAP_HEADER_BYTES + 2 * 16 + len(FRAMES[0]) + len(FRAMES[1])


def test_impossible_captured_length_stops_the_walk() -> None:
    data = bytearray(b.pcap_file([b.Record(frame, T0) for frame in FRAMES]))
    second = PCAP_HEADER_BYTES + 16 + len(FRAMES[0])
    struct.pack_into("<I", data, second + 8, 0x7FFFFFFF)
    _, _, count, pos, status, _, _ = walk_whole_pcap(bytes(data))
    assert (count, pos, status) == (1, second, BAD_FRAMING)


# pcapng ---------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("big_endian", [False, True])
def test_pcapng_interfaces_with_their_own_resolutions(big_endian: bool) -> None:
    writer = b.PcapngWriter(big_endian=big_endian)
    micro = writer.interface(1)
    nano = writer.interface(113, tsresol=9)
    milli = writer.interface(101, tsresol=3)
    binary = writer.interface(276, tsresol=0x80 | 10)
    offset = writer.interface(1, tsresol=9, tsoffset=-1_000)
    writer.epb(micro, writer.ticks(micro, T0), FRAMES[0])
    writer.epb(nano, writer.ticks(nano, T0), FRAMES[1], origlen=999)
    writer.epb(milli, writer.ticks(milli, T0), FRAMES[2])
    writer.epb(binary, 1_700_000_123 * 1024 + 512, FRAMES[3])
    writer.epb(offset, writer.ticks(offset, T0, tsoffset=-1_000), FRAMES[4])
    index, state, counts, buffer, (count, pos, status, _) = walk_whole_pcapng(writer.bytes())
    assert (count, pos, status) == (5, len(buffer), NEED_MORE)
    assert not counts.any()
    assert frames_of(index, buffer, count) == FRAMES
    assert index.ts_ns[:count].tolist() == [
        T0 // 1000 * 1000,
        T0,
        T0 // 1_000_000 * 1_000_000,
        1_700_000_123 * b.NS + 500_000_000,
        T0,
    ]
    assert index.linktype[:count].tolist() == [1, 113, 101, 276, 1]
    assert index.origlen[1] == 999
    assert state.section[1] == 5


def test_pcapng_simple_and_obsolete_packet_blocks_and_skipped_blocks() -> None:
    writer = b.PcapngWriter()
    writer.interface(1, tsresol=9, snaplen=21)
    writer.block(4, b"\x00" * 8)  # name resolution
    writer.pb(0, T0, FRAMES[0])
    writer.block(5, struct.pack("<IIII", 0, 0, 0, 0))  # interface statistics
    writer.spb(FRAMES[3])  # 23 bytes on the wire, snap length 21: 21 captured
    writer.block(0x0A, b"\x00" * 12)  # decryption secrets
    writer.block(0x40000BAD, b"\x00" * 8)  # custom
    writer.epb(0, T0 + 5, FRAMES[1])
    index, _, counts, buffer, (count, _, _, _) = walk_whole_pcapng(writer.bytes())
    assert not counts.any()
    assert frames_of(index, buffer, count) == [FRAMES[0], FRAMES[3][:21], FRAMES[1]]
    assert index.origlen[:count].tolist() == [20, 23, 21]
    # A simple packet block has no time of its own: it takes the time of the packet before it.
    assert index.ts_ns[:count].tolist() == [T0, T0, T0 + 5]


def test_a_new_section_may_change_byte_order_and_resets_interfaces() -> None:
    writer = b.PcapngWriter(big_endian=False)
    writer.interface(1, tsresol=9)
    writer.epb(0, T0, FRAMES[0])
    writer.section(big_endian=True)
    writer.interface(101, tsresol=9)
    writer.interface(113, tsresol=9)
    writer.epb(1, T0 + 1, FRAMES[1])
    writer.epb(2, T0 + 2, FRAMES[2])  # interface 2 is not in this section
    index, state, counts, buffer, (count, pos, _, _) = walk_whole_pcapng(writer.bytes())
    assert frames_of(index, buffer, count) == FRAMES[:2]
    assert index.linktype[:count].tolist() == [1, 113]
    assert index.ts_ns[:count].tolist() == [T0, T0 + 1]
    assert counts[Reason.BAD_RECORD_HEADER] == 1
    assert state.damaged_packets == 1
    assert pos == len(buffer)


def test_damaged_blocks_that_can_be_framed_are_counted_and_skipped() -> None:
    writer = b.PcapngWriter()
    writer.interface(1)
    writer.epb(0, T0, FRAMES[0], caplen=500)  # more captured bytes than the block holds
    writer.block(6, b"\x00" * 8)  # too short for an enhanced packet block
    writer.block(1, b"\x00" * 4)  # too short for an interface description
    writer.block(3, b"")  # too short for a simple packet block
    writer.epb(0, T0, FRAMES[1])
    index, _, counts, buffer, (count, _, _, _) = walk_whole_pcapng(writer.bytes())
    assert frames_of(index, buffer, count) == [FRAMES[1]]
    assert counts[Reason.BAD_RECORD_HEADER] == 4


@pytest.mark.parametrize(
    "damage",
    [
        struct.pack("<II", 6, 13) + b"\x00" * 5,  # not a multiple of 4
        struct.pack("<II", 6, 8),  # shorter than a block can be
        struct.pack("<II", 6, 1 << 30),  # longer than any block may be
        struct.pack("<III", 6, 16, 0) + struct.pack("<I", 20),  # trailing length disagrees
        b"\x0a\x0d\x0d\x0a"
        + struct.pack("<I", 28)
        + b"\x11\x22\x33\x44"
        + b"\x00" * 16,  # bad byte-order magic
    ],
)
def test_unframeable_blocks_stop_the_walk(damage: bytes) -> None:
    writer = b.PcapngWriter()
    writer.interface(1)
    writer.epb(0, 0, FRAMES[0])
    good = len(writer.bytes())
    writer.raw(damage)
    writer.epb(0, 0, FRAMES[1])
    _, _, _, _, (count, pos, status, _) = walk_whole_pcapng(writer.bytes())
    assert (count, pos, status) == (1, good, BAD_FRAMING)


def test_pcapng_walk_reports_what_an_incomplete_block_needs() -> None:
    writer = b.PcapngWriter()
    writer.interface(1)
    start = len(writer.bytes())
    writer.epb(0, 0, FRAMES[2])
    data = writer.bytes()
    _, _, _, _, (count, pos, status, need) = walk_whole_pcapng(data[:-1])
    assert (count, pos, status, need) == (0, start, NEED_MORE, len(data) - start)
    _, _, _, _, (_, _, status, need) = walk_whole_pcapng(data[: start + 5])
    assert (status, need) == (NEED_MORE, 12)


@pytest.mark.parametrize(
    "ticks, multiplier, divisor, shift, expected",
    [
        (1_700_000_000_123_456, 1000, 1, 0, 1_700_000_000_123_456_000),  # microseconds
        (1_700_000_000_123_456_789, 1, 1, 0, 1_700_000_000_123_456_789),  # nanoseconds
        (17_000_000_001_234_567_890, 1, 10, 0, 1_700_000_000_123_456_789),  # 10^-10 s
        (3 * 1024 + 256, 0, 1, 10, 3 * b.NS + 250_000_000),  # 2^-10 s
        ((5 << 40) + (1 << 39), 0, 1, 40, 5 * b.NS + 500_000_000),  # 2^-40 s
        (7, 0, 1, 0, 7 * b.NS),  # 2^0: seconds
        ((1_700_000_000 << 33) + (1 << 31), 0, 1, 33, 1_700_000_000 * b.NS + 250_000_000),  # top bit set
        ((1 << 63) + (1 << 62), 0, 1, 63, 1_500_000_000),  # 2^-63 s
        (12345, 0, 1, 64, 0),  # beyond what 64 bits can hold: read as 0
    ],
)
def test_ticks_to_ns(ticks: int, multiplier: int, divisor: int, shift: int, expected: int) -> None:
    signed = ticks - (1 << 64) if ticks >= 1 << 63 else ticks  # how the kernel receives the 64-bit field
    assert ticks_to_ns(signed, multiplier, divisor, shift) == expected
