"""IP fragment reassembly: order, duplicates, overlaps, limits, timeouts, and decoding what completes."""

from __future__ import annotations

import random

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from dnsvigil.ingest.ip_fragments import FragmentReassembler
from dnsvigil.ingest.link_layer import LINKTYPE_RAW
from dnsvigil.ingest.packets import KIND_FRAGMENT, KIND_TCP, KIND_UDP, PacketRows, decode_frames, port_table
from dnsvigil.ingest.pcap_format import RecordIndex
from dnsvigil.ingest.reasons import Reason, new_counts
from tests.ingest import pcap_builder as b

CLIENT, SERVER = "192.0.2.1", "198.51.100.53"
CLIENT6, SERVER6 = "2001:db8::1", "2001:db8::53"
RESPONSE = b.dns_message(0x5151, "large.example", response=True, extra=bytes(range(256)) * 3)
UDP = b.udp(53, 40000, RESPONSE)
SECOND = 1_000_000_000


class Feed:
    """Frames decoded one batch at a time and given to one reassembler."""

    def __init__(self, **limits: int) -> None:
        self.reassembler = FragmentReassembler(**limits)
        self.counts = new_counts()
        self.record = 0

    def frames(self, packets: list[bytes], *, ts_ns: list[int] | None = None):
        """Decode raw-IP `packets`, give their fragment rows to the reassembler; return the datagrams."""
        data = b"".join(packets)
        buffer = np.frombuffer(bytearray(data), np.uint8)
        index = RecordIndex(len(packets))
        index.offset[:] = np.cumsum([0] + [len(packet) for packet in packets[:-1]])
        index.caplen[:] = index.origlen[:] = [len(packet) for packet in packets]
        index.ts_ns[:] = ts_ns if ts_ns is not None else [self.record + n for n in range(len(packets))]
        index.linktype[:] = LINKTYPE_RAW
        rows = PacketRows(len(packets))
        table = port_table([53])
        count = decode_frames(
            buffer, index.arrays(), len(packets), self.record, table, self.counts, rows.arrays()
        )
        self.record += len(packets)
        rows = rows.take(slice(0, count))
        assert (rows.kind == KIND_FRAGMENT).all()
        return self.reassembler.add_rows(buffer, rows, self.counts)

    def reasons(self) -> dict[Reason, int]:
        return {Reason(index): int(value) for index, value in enumerate(self.counts) if value}


def payloads(datagrams) -> list[bytes]:
    return [
        datagrams.buffer[offset : offset + length].tobytes()
        for offset, length in zip(datagrams.offset, datagrams.length, strict=True)
    ]


def test_in_order_ipv4_fragments() -> None:
    feed = Feed()
    fragments = b.ipv4_fragments(SERVER, CLIENT, UDP, [256, 256])
    datagrams = feed.frames(fragments)
    assert payloads(datagrams) == [UDP]
    assert datagrams.record.tolist() == [2]  # the last fragment's
    assert datagrams.ts_ns.tolist() == [2]
    assert datagrams.ip_version.tolist() == [4]
    assert datagrams.protocol.tolist() == [17]
    assert datagrams.src_addr[0].tobytes() == b.address16(SERVER)
    assert datagrams.dst_addr[0].tobytes() == b.address16(CLIENT)
    assert feed.reassembler.pending == 0
    rows = datagrams.decode(port_table([53]), feed.counts)
    assert rows.kind.tolist() == [KIND_UDP]
    assert datagrams.buffer[rows.offset[0] : rows.offset[0] + rows.length[0]].tobytes() == RESPONSE
    assert (rows.src_port[0], rows.dst_port[0], rows.record[0]) == (53, 40000, 2)
    assert feed.reasons() == {}


def test_out_of_order_fragments_complete_with_the_last_to_arrive() -> None:
    feed = Feed()
    first, middle, last = b.ipv4_fragments(SERVER, CLIENT, UDP, [256, 256])
    assert len(feed.frames([last, first])) == 0
    datagrams = feed.frames([middle])
    assert payloads(datagrams) == [UDP]
    assert datagrams.record.tolist() == [2]


def test_ipv6_fragments_with_headers_before_and_after_the_fragment_header() -> None:
    feed = Feed()
    destination = b.extension(60, 16)
    fragmentable = bytes([17]) + destination[1][1:] + UDP  # destination options after the fragment header
    fragments = b.ipv6_fragments(
        SERVER6, CLIENT6, fragmentable, [400], next_header=60, before=[b.extension(0)]
    )
    datagrams = feed.frames(fragments[::-1])
    assert payloads(datagrams) == [fragmentable]
    assert datagrams.protocol.tolist() == [60]
    rows = datagrams.decode(port_table([53]), feed.counts)
    assert rows.kind.tolist() == [KIND_UDP]
    assert rows.ip_version.tolist() == [6]
    assert datagrams.buffer[rows.offset[0] : rows.offset[0] + rows.length[0]].tobytes() == RESPONSE


def test_tcp_over_fragments_becomes_a_tcp_row() -> None:
    segment = b.tcp(53, 40000, b.length_prefixed(RESPONSE), seq=9)
    feed = Feed()
    datagrams = feed.frames(b.ipv4_fragments(SERVER, CLIENT, segment, [512], protocol=b.PROTO_TCP))
    rows = datagrams.decode(port_table([53]), feed.counts)
    assert rows.kind.tolist() == [KIND_TCP]
    assert rows.number.tolist() == [9]


def test_duplicates_are_dropped_and_a_reused_identification_starts_anew() -> None:
    feed = Feed()
    fragments = b.ipv4_fragments(SERVER, CLIENT, UDP, [256, 256])
    datagrams = feed.frames([fragments[0], fragments[0], fragments[1], fragments[2], fragments[2]])
    assert payloads(datagrams) == [UDP]
    assert feed.reassembler.pending == 0  # the late duplicate of a completed datagram starts nothing
    other = b.udp(53, 40000, b.dns_message(7, "other.example", response=True, extra=b"\x00" * 300))
    datagrams = feed.frames(b.ipv4_fragments(SERVER, CLIENT, other, [160]))
    assert payloads(datagrams) == [other]


def test_ipv4_overlaps_keep_the_bytes_that_came_first() -> None:
    feed = Feed()
    first, second = b.ipv4_fragments(SERVER, CLIENT, UDP, [256])
    forged = bytearray(UDP)
    forged[200:256] = b"\xff" * 56
    overlapping = b.ipv4(SERVER, CLIENT, bytes(forged[200:400]), ident=7, offset=200, more=True)
    datagrams = feed.frames([first, overlapping, second])
    assert payloads(datagrams) == [UDP]


def test_ipv6_overlaps_with_different_bytes_discard_the_datagram() -> None:
    feed = Feed()
    first, second = b.ipv6_fragments(SERVER6, CLIENT6, UDP, [256])
    forged = bytearray(UDP)
    forged[200:256] = b"\xff" * 56
    overlapping = b.ipv6(
        SERVER6, CLIENT6, bytes(forged[200:400]), extensions=[b.fragment_header(200, True, 0xABCDEF)]
    )
    assert len(feed.frames([first, overlapping, second])) == 0
    feed.reassembler.finish(feed.counts)
    assert feed.reasons() == {Reason.FRAGMENT_INCOMPLETE: 1}


def test_incomplete_datagrams_are_counted_at_the_end() -> None:
    feed = Feed()
    first, _, last = b.ipv4_fragments(SERVER, CLIENT, UDP, [256, 256])
    assert len(feed.frames([first, last])) == 0
    assert len(feed.frames(b.ipv6_fragments(SERVER6, CLIENT6, UDP, [256])[:1])) == 0
    assert feed.reassembler.pending == 2
    feed.reassembler.finish(feed.counts)
    assert feed.reasons() == {Reason.FRAGMENT_INCOMPLETE: 2}
    assert feed.reassembler.pending == 0


def test_old_datagrams_time_out() -> None:
    feed = Feed(timeout_ns=30 * SECOND)
    first, second = b.ipv4_fragments(SERVER, CLIENT, UDP, [256], ident=1)
    feed.frames([first], ts_ns=[0])
    assert feed.reassembler.pending == 1
    other = b.ipv4_fragments(SERVER, CLIENT, UDP, [256], ident=2)[0]
    feed.frames([other], ts_ns=[31 * SECOND])
    assert feed.reasons() == {Reason.FRAGMENT_INCOMPLETE: 1}
    assert len(feed.frames([second], ts_ns=[32 * SECOND])) == 0  # its first half is gone


def test_too_many_pending_datagrams_drop_the_oldest() -> None:
    feed = Feed(max_pending=2)
    firsts = [b.ipv4_fragments(SERVER, CLIENT, UDP, [256], ident=n)[0] for n in range(3)]
    feed.frames(firsts)
    assert feed.reassembler.pending == 2
    assert feed.reasons() == {Reason.FRAGMENT_INCOMPLETE: 1}


def test_impossible_fragments_are_bad_headers() -> None:
    feed = Feed()
    beyond = b.ipv4(SERVER, CLIENT, b"\x00" * 16, ident=3, offset=65528, more=False)
    assert len(feed.frames([beyond])) == 0
    assert feed.reasons() == {Reason.BAD_IP_HEADER: 1}


def test_a_nested_fragment_header_is_a_bad_header() -> None:
    feed = Feed()
    inner = bytes([17]) + b.fragment_header(0, True, 5)[1][1:] + UDP
    datagrams = feed.frames(b.ipv6_fragments(SERVER6, CLIENT6, inner, [400], next_header=44))
    rows = datagrams.decode(port_table([53]), feed.counts)
    assert len(rows) == 0
    assert feed.reasons() == {Reason.BAD_IP_HEADER: 1}


@settings(max_examples=200, deadline=1000)
@given(
    sizes=st.lists(st.integers(1, 40), min_size=1, max_size=12),
    seed=st.integers(0, 2**32 - 1),
    duplicates=st.integers(0, 4),
    version=st.sampled_from([4, 6]),
)
def test_any_fragmentation_and_order_gives_the_datagram_back(sizes, seed, duplicates, version) -> None:
    cuts: list[int] = []
    for size in sizes:
        if sum(cuts) + 8 * size < len(UDP):
            cuts.append(8 * size)
    if version == 4:
        fragments = b.ipv4_fragments(SERVER, CLIENT, UDP, cuts)
    else:
        fragments = b.ipv6_fragments(SERVER6, CLIENT6, UDP, cuts)
    shuffler = random.Random(seed)
    fragments += [shuffler.choice(fragments) for _ in range(duplicates)]
    shuffler.shuffle(fragments)
    feed = Feed()
    datagrams = feed.frames(fragments)
    assert payloads(datagrams) == [UDP]
    assert feed.reassembler.pending == 0
    assert feed.reasons() == {}
