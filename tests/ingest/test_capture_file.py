"""read_capture end to end: formats, link types, chunks, TCP and fragments, compression and damage."""

from __future__ import annotations

import gzip
import lzma
import struct
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
import zstandard

from dnsvigil.errors import InputError, UnsupportedFormatError, UsageError
from dnsvigil.ingest.capture_file import read_capture
from dnsvigil.ingest.reasons import Reason, new_counts
from tests.ingest import pcap_builder as b

CLIENT, SERVER = "192.0.2.1", "198.51.100.53"
CLIENT6, SERVER6 = "2001:db8::1", "2001:db8::53"
T0 = 1_700_000_000 * b.NS + 123_456_789


@dataclass(frozen=True)
class Message:
    wire: bytes
    ts_ns: int
    ip_version: int
    src: bytes
    dst: bytes
    src_port: int
    dst_port: int
    transport: int


@dataclass
class Read:
    messages: list[Message]
    counts: np.ndarray
    records: int
    bytes_read: int
    batches: int
    largest_buffer: int

    def reasons(self) -> dict[Reason, int]:
        return {Reason(index): int(value) for index, value in enumerate(self.counts) if value}


def read(path: Path, **options) -> Read:
    messages: list[Message] = []
    counts = new_counts()
    records = bytes_read = batches = largest = 0
    for batch in read_capture(path, **options):
        batches += 1
        slices = batch.slices
        largest = max(largest, len(slices.buffer))
        counts += batch.counts
        records += batch.records
        bytes_read += batch.bytes_read
        for i in range(len(slices)):
            start = int(slices.offset[i])
            messages.append(
                Message(
                    slices.buffer[start : start + int(slices.length[i])].tobytes(),
                    int(slices.ts_ns[i]),
                    int(slices.ip_version[i]),
                    slices.src_addr[i].tobytes(),
                    slices.dst_addr[i].tobytes(),
                    int(slices.src_port[i]),
                    int(slices.dst_port[i]),
                    int(slices.transport[i]),
                )
            )
    return Read(messages, counts, records, bytes_read, batches, largest)


def write(tmp_path: Path, data: bytes, name: str = "capture.pcap") -> Path:
    path = tmp_path / name
    path.write_bytes(data)
    return path


def query(ident: int) -> bytes:
    return b.dns_message(ident, f"q{ident}.example")


def response(ident: int) -> bytes:
    return b.dns_message(ident, f"q{ident}.example", response=True, extra=b"\x00" * (ident % 7))


def udp_exchange(ident: int, *, version: int = 4) -> tuple[bytes, bytes]:
    """A query and its response as IP packets."""
    if version == 4:
        return (
            b.ipv4(CLIENT, SERVER, b.udp(40000 + ident, 53, query(ident))),
            b.ipv4(SERVER, CLIENT, b.udp(53, 40000 + ident, response(ident))),
        )
    return (
        b.ipv6(CLIENT6, SERVER6, b.udp(40000 + ident, 53, query(ident))),
        b.ipv6(SERVER6, CLIENT6, b.udp(53, 40000 + ident, response(ident))),
    )


def expected_udp(ident: int, ts_ns: int, *, version: int = 4, is_response: bool = False) -> Message:
    client, server = (CLIENT, SERVER) if version == 4 else (CLIENT6, SERVER6)
    if is_response:
        return Message(
            response(ident), ts_ns, version, b.address16(server), b.address16(client), 53, 40000 + ident, 17
        )
    return Message(
        query(ident), ts_ns, version, b.address16(client), b.address16(server), 40000 + ident, 53, 17
    )


# pcap -----------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("big_endian", [False, True])
@pytest.mark.parametrize("nanosecond", [False, True])
def test_udp_messages_with_their_transport_facts(tmp_path: Path, big_endian: bool, nanosecond: bool) -> None:
    packets = [*udp_exchange(1), *udp_exchange(2, version=6)]
    times = [T0 + n * 1_001_001 for n in range(4)]
    if not nanosecond:
        times = [t // 1000 * 1000 for t in times]
    records = [b.Record(b.ethernet(packet), ts) for packet, ts in zip(packets, times, strict=True)]
    result = read(write(tmp_path, b.pcap_file(records, big_endian=big_endian, nanosecond=nanosecond)))
    assert result.messages == [
        expected_udp(1, times[0]),
        expected_udp(1, times[1], is_response=True),
        expected_udp(2, times[2], version=6),
        expected_udp(2, times[3], version=6, is_response=True),
    ]
    assert result.records == 4
    assert result.reasons() == {}


def test_messages_point_into_the_chunk_without_copies(tmp_path: Path) -> None:
    records = [b.Record(b.ethernet(packet), T0) for packet in udp_exchange(1)]
    batch = next(read_capture(write(tmp_path, b.pcap_file(records))))
    frame_start = 24 + 16
    assert batch.slices.offset.tolist() == [frame_start + 42, frame_start + len(records[0].data) + 16 + 42]
    assert batch.slices.length.dtype == np.int32
    assert batch.slices.buffer.dtype == np.uint8


LINK_TYPES = [
    (1, b.ethernet),
    (1, lambda packet: b.ethernet(packet, tags=[(0x8100, 11)])),
    (1, lambda packet: b.ethernet(packet, tags=[(0x88A8, 7), (0x8100, 11)])),
    (113, b.linux_sll),
    (276, b.linux_sll2),
    (101, lambda packet: packet),
    (12, lambda packet: packet),
    (14, lambda packet: packet),
    (0, lambda packet: b.null_header(packet, 2 if packet[0] >> 4 == 4 else 30)),
    (0, lambda packet: b.null_header(packet, 2 if packet[0] >> 4 == 4 else 24, big_endian=True)),
    (108, lambda packet: b.null_header(packet, 2 if packet[0] >> 4 == 4 else 24, big_endian=True)),
]


@pytest.mark.parametrize("linktype, wrap", LINK_TYPES)
def test_every_link_type(tmp_path: Path, linktype: int, wrap) -> None:
    packets = [*udp_exchange(3), *udp_exchange(4, version=6)]
    records = [b.Record(wrap(packet), T0 + n) for n, packet in enumerate(packets)]
    result = read(write(tmp_path, b.pcap_file(records, linktype=linktype, nanosecond=True)))
    assert result.messages == [
        expected_udp(3, T0),
        expected_udp(3, T0 + 1, is_response=True),
        expected_udp(4, T0 + 2, version=6),
        expected_udp(4, T0 + 3, version=6, is_response=True),
    ]


@pytest.mark.parametrize("linktype", [228, 229])
def test_raw_ipv4_and_ipv6_link_types(tmp_path: Path, linktype: int) -> None:
    version = 4 if linktype == 228 else 6
    records = [b.Record(packet, T0) for packet in udp_exchange(5, version=version)]
    result = read(write(tmp_path, b.pcap_file(records, linktype=linktype, nanosecond=True)))
    assert result.messages == [
        expected_udp(5, T0, version=version),
        expected_udp(5, T0, version=version, is_response=True),
    ]


def test_an_unknown_link_type_is_counted_per_packet(tmp_path: Path) -> None:
    records = [b.Record(packet) for packet in udp_exchange(1)]
    result = read(write(tmp_path, b.pcap_file(records, linktype=147)))
    assert result.messages == []
    assert result.reasons() == {Reason.UNSUPPORTED_LINKTYPE: 2}


def test_traffic_that_is_not_dns_is_counted(tmp_path: Path) -> None:
    frames = [
        b.ethernet(b"\x00" * 28, ethertype=b.ETHERTYPE_ARP),
        b.ethernet(b.ipv4(CLIENT, SERVER, b"\x08\x00" + b"\x00" * 30, protocol=b.PROTO_ICMP)),
        b.ethernet(b.ipv4(CLIENT, SERVER, b.udp(5000, 123, b"\x00" * 48))),
        b.ethernet(b.ipv4(CLIENT, SERVER, b.tcp(40000, 53, flags=b.ACK), protocol=b.PROTO_TCP)),
        b.ethernet(udp_exchange(1)[0]),
    ]
    result = read(write(tmp_path, b.pcap_file([b.Record(frame) for frame in frames])))
    assert len(result.messages) == 1
    assert result.records == 5
    assert result.reasons() == {
        Reason.NOT_IP: 1,
        Reason.NOT_UDP_OR_TCP: 1,
        Reason.NOT_DNS_PORT: 1,
        Reason.TCP_NO_PAYLOAD: 1,
    }


def test_other_ports(tmp_path: Path) -> None:
    frames = [b.ipv4(CLIENT, SERVER, b.udp(40000, port, query(port))) for port in (53, 5353, 8053)]
    path = write(tmp_path, b.pcap_file([b.Record(frame) for frame in frames], linktype=101))
    assert [m.dst_port for m in read(path, ports=(5353, 8053)).messages] == [5353, 8053]
    with pytest.raises(UsageError):
        next(read_capture(path, ports=(0,)))
    with pytest.raises(UsageError):
        next(read_capture(path, ports=()))
    with pytest.raises(UsageError):
        next(read_capture(path, chunk_bytes=0))


# pcapng ---------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("big_endian", [False, True])
def test_pcapng_interfaces_link_types_and_resolutions(tmp_path: Path, big_endian: bool) -> None:
    writer = b.PcapngWriter(big_endian=big_endian)
    ether = writer.interface(1)  # default: microseconds
    cooked = writer.interface(276, tsresol=9)
    raw = writer.interface(101, tsresol=0x80 | 20)
    q1, r1 = udp_exchange(1)
    q2, r2 = udp_exchange(2, version=6)
    writer.epb(ether, writer.ticks(ether, T0), b.ethernet(q1))
    writer.epb(cooked, writer.ticks(cooked, T0 + 1), b.linux_sll2(r1))
    writer.block(5, b"\x00" * 16)  # interface statistics: skipped
    writer.epb(raw, (1_700_000_000 << 20) + (1 << 19), q2)
    writer.section(big_endian=not big_endian)  # a new section, the other byte order, interfaces anew
    writer.interface(101, tsresol=9)
    writer.pb(0, T0 + 3, r2)
    writer.spb(q1)  # interface 0, time of the packet before it
    result = read(write(tmp_path, writer.bytes(), "capture.pcapng"))
    assert result.messages == [
        expected_udp(1, T0 // 1000 * 1000),
        expected_udp(1, T0 + 1, is_response=True),
        expected_udp(2, 1_700_000_000 * b.NS + 500_000_000, version=6),
        expected_udp(2, T0 + 3, version=6, is_response=True),
        expected_udp(1, T0 + 3),
    ]
    assert result.records == 5


def test_pcapng_damage(tmp_path: Path) -> None:
    writer = b.PcapngWriter()
    writer.interface(101)
    q1, r1 = udp_exchange(1)
    writer.epb(3, 0, q1)  # no interface 3
    writer.epb(0, writer.ticks(0, T0), r1)
    writer.raw(struct.pack("<II", 6, 13))  # an unframeable block: the rest cannot be read
    writer.epb(0, 0, q1)
    result = read(write(tmp_path, writer.bytes(), "capture.pcapng"))
    assert result.messages == [expected_udp(1, T0 // 1000 * 1000, is_response=True)]
    assert result.reasons() == {Reason.BAD_RECORD_HEADER: 2}
    assert result.records == 2


# Chunks ---------------------------------------------------------------------------------------------------


def mixed_capture() -> tuple[bytes, list[int]]:
    """UDP, TCP and fragmented traffic, interleaved, as Ethernet frames; and the expected message ids."""
    frames: list[bytes] = []
    expected: list[int] = []
    tcp_stream = b.length_prefixed(query(100), query(101), query(102))
    syn = b.tcp(41000, 53, seq=999, flags=b.SYN)
    frames.append(b.ipv4(CLIENT, SERVER, syn, protocol=b.PROTO_TCP))
    big = b.udp(53, 40000, b.dns_message(200, "big.example", response=True, extra=b"\x07" * 1500))
    fragments = b.ipv6_fragments(SERVER6, CLIENT6, big, [512, 512])
    for n in range(30):
        q, r = udp_exchange(n, version=4 if n % 3 else 6)
        frames += [q, r]
        expected += [n, n]
        if n == 10:
            segment = b.tcp(41000, 53, tcp_stream[:20], seq=1000)
            frames.append(b.ipv4(CLIENT, SERVER, segment, protocol=b.PROTO_TCP))
        if n == 12:
            frames.append(fragments[2])
            frames.append(fragments[0])
        if n == 20:
            segment = b.tcp(41000, 53, tcp_stream[20:], seq=1020)
            frames.append(b.ipv4(CLIENT, SERVER, segment, protocol=b.PROTO_TCP))
            expected += [100, 101, 102]
        if n == 25:
            frames.append(fragments[1])
            expected.append(200)
    return b.pcap_file(
        [b.Record(b.ethernet(f), T0 + n) for n, f in enumerate(frames)], nanosecond=True
    ), expected


def ids(result: Read) -> list[int]:
    return [struct.unpack("!H", message.wire[:2])[0] for message in result.messages]


@pytest.mark.parametrize("chunk_bytes", [1, 97, 500, 4096, 64 << 20])
def test_chunk_size_changes_nothing_but_the_batches(tmp_path: Path, chunk_bytes: int) -> None:
    data, expected = mixed_capture()
    path = write(tmp_path, data)
    whole = read(path)
    assert ids(whole) == expected  # capture order: each message where the record completing it was
    chunked = read(path, chunk_bytes=chunk_bytes)
    assert chunked.messages == whole.messages
    assert chunked.records == whole.records
    assert chunked.bytes_read == len(data)
    assert chunked.reasons() == whole.reasons() == {Reason.TCP_NO_PAYLOAD: 1}
    if chunk_bytes < len(data):
        assert chunked.batches > 1
        # Memory stays near the chunk size: chunk, carried record, room for reassembled messages.
        assert chunked.largest_buffer <= 2 * chunk_bytes + 2 * 1600 + (1 << 16)


def test_tcp_messages_take_the_time_of_the_segment_completing_them(tmp_path: Path) -> None:
    stream = b.length_prefixed(query(1), query(2), query(3))
    m1_end = 2 + len(query(1))
    segments = [  # (seq offset, bytes, flags); out of order and retransmitted
        (0, b"", b.SYN),
        (1, stream[:5], b.ACK | b.PSH),
        (1 + 20, stream[20:], b.ACK | b.PSH),
        (1 + 5, stream[5:20], b.ACK | b.PSH),
        (1 + 5, stream[5:m1_end], b.ACK | b.PSH),
        (1 + len(stream), b"", b.FIN | b.ACK),
    ]
    frames = [
        b.ipv6(CLIENT6, SERVER6, b.tcp(40000, 53, data, seq=7 + offset, flags=flags), next_header=6)
        for offset, data, flags in segments
    ]
    path = write(
        tmp_path,
        b.pcap_file([b.Record(f, T0 + n) for n, f in enumerate(frames)], linktype=101, nanosecond=True),
    )
    result = read(path, chunk_bytes=50)
    src, dst = b.address16(CLIENT6), b.address16(SERVER6)
    assert result.messages == [Message(query(n), T0 + 3, 6, src, dst, 40000, 53, 6) for n in (1, 2, 3)]
    assert result.reasons() == {Reason.TCP_NO_PAYLOAD: 2}


def test_reassembly_left_at_the_end_of_the_capture(tmp_path: Path) -> None:
    first = b.ipv4_fragments(SERVER, CLIENT, b.udp(53, 40000, response(1) + b"\x00" * 600), [256])[0]
    partial = b.ipv4(SERVER, CLIENT, b.tcp(53, 40000, b.length_prefixed(response(2))[:9], seq=1), protocol=6)
    result = read(write(tmp_path, b.pcap_file([b.Record(first), b.Record(partial)], linktype=101)))
    assert result.messages == []
    assert result.reasons() == {Reason.FRAGMENT_INCOMPLETE: 1, Reason.TCP_STREAM_GAP: 1}


# Compression and damage -----------------------------------------------------------------------------------


COMPRESSORS = [gzip.compress, lzma.compress, lambda data: zstandard.ZstdCompressor().compress(data)]


@pytest.mark.parametrize("compress", COMPRESSORS)
def test_compressed_captures(tmp_path: Path, compress) -> None:
    data, expected = mixed_capture()
    packed = compress(data)
    result = read(write(tmp_path, packed, "capture.pcap.x"), chunk_bytes=1000)
    assert ids(result) == expected
    assert result.bytes_read == len(packed)


@pytest.mark.parametrize("compress", COMPRESSORS[:2])
def test_a_truncated_compressed_capture_keeps_what_came_before_the_cut(tmp_path: Path, compress) -> None:
    data, _ = mixed_capture()
    packed = compress(data)
    path = write(tmp_path, packed[: len(packed) * 2 // 3], "cut.pcap.gz")
    result = read(path, chunk_bytes=500)
    assert 20 < len(result.messages) < 60
    assert result.reasons()[Reason.TRUNCATED_RECORD] == 1
    # Nothing decompressed before the cut is lost, whatever the chunk size.
    assert read(path).messages == result.messages


def test_damaged_compression_is_an_input_error(tmp_path: Path) -> None:
    packed = bytearray(lzma.compress(mixed_capture()[0]))
    packed[len(packed) // 2 : len(packed) // 2 + 16] = b"\xff" * 16
    with pytest.raises(InputError, match="cannot read past byte"):
        read(write(tmp_path, bytes(packed), "bad.pcap.xz"))


def test_a_truncated_last_record_is_counted(tmp_path: Path) -> None:
    records = [b.Record(b.ethernet(packet), T0) for packet in udp_exchange(1)]
    data = b.pcap_file(records)
    for cut in (1, 10, 17, 30):
        result = read(write(tmp_path, data[:-cut]))
        assert [message.wire for message in result.messages] == [query(1)]
        assert result.reasons() == {Reason.TRUNCATED_RECORD: 1}


def test_an_impossible_record_length_ends_the_read(tmp_path: Path) -> None:
    records = [b.Record(b.ethernet(packet), T0) for packet in [*udp_exchange(1), *udp_exchange(2)]]
    data = bytearray(b.pcap_file(records))
    third = 24 + 2 * 16 + len(records[0].data) + len(records[1].data)
    struct.pack_into("<I", data, third + 8, 0xFFFFFFF0)
    result = read(write(tmp_path, bytes(data)))
    assert len(result.messages) == 2
    assert result.reasons() == {Reason.BAD_RECORD_HEADER: 1}


@pytest.mark.parametrize(
    "data, error, words",
    [
        (b"", UnsupportedFormatError, ["empty"]),
        (
            zstandard.ZstdCompressor().compress(b"\xd4\xc3\xb2\xa1" * 99)[:-5],
            UnsupportedFormatError,
            ["zstd"],
        ),
        (b"\xd4\xc3", UnsupportedFormatError, ["d4 c3"]),
        (b"GIF89a" + b"\x00" * 100, UnsupportedFormatError, ["47 49 46 38", "pcapng", "a1b2c3d4"]),
        (b"\x00\x00\x00\x00\x00\x00\x00\x1e", UnsupportedFormatError, ["dnstap"]),
        (gzip.compress(b"hello world, not a capture"), UnsupportedFormatError, ["after gzip decompression"]),
        (b"\xd4\xc3\xb2\xa1\x02\x00\x04\x00", InputError, ["cut short", "8 of 24"]),
        (b"\x0a\x0d\x0d\x0a\x1c\x00\x00\x00\x4d\x3c\x2b\x1a", InputError, ["cut short"]),
        (b.PcapngWriter().bytes()[:-1], InputError, ["cut short", "27 bytes"]),
        (b"\x0a\x0d\x0d\x0a\x1c\x00\x00\x00" + b"\x00" * 20, UnsupportedFormatError, ["section header"]),
    ],
)
def test_files_that_are_not_captures(
    tmp_path: Path, data: bytes, error: type[Exception], words: list[str]
) -> None:
    path = write(tmp_path, data, "input.bin")
    for chunk_bytes in (1, 1 << 20):
        with pytest.raises(error) as raised:
            read(path, chunk_bytes=chunk_bytes)
        message = str(raised.value)
        assert str(path) in message
        for word in words:
            assert word in message


def test_a_missing_file_is_an_input_error(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="cannot open"):
        read(tmp_path / "absent.pcap")
