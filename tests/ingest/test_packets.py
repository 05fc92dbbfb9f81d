"""Frame decoding: link layers, IPv4 and IPv6 headers, UDP and TCP, and the reasons frames make no row."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pytest

from dnsvigil.ingest.link_layer import (
    LINKTYPE_ETHERNET,
    LINKTYPE_IPV4,
    LINKTYPE_IPV6,
    LINKTYPE_LINUX_SLL,
    LINKTYPE_LINUX_SLL2,
    LINKTYPE_LOOP,
    LINKTYPE_NULL,
    LINKTYPE_RAW,
)
from dnsvigil.ingest.packets import KIND_FRAGMENT, KIND_TCP, KIND_UDP, PacketRows, decode_frames, port_table
from dnsvigil.ingest.pcap_format import RecordIndex
from dnsvigil.ingest.reasons import Reason, new_counts
from tests.ingest import pcap_builder as b

CLIENT, SERVER = "192.0.2.1", "198.51.100.53"
CLIENT6, SERVER6 = "2001:db8::1", "2001:db8::53"
QUERY = b.dns_message(0x4242)
LEAD = 5  # garbage before the frame, so that offsets are checked relative to the buffer


@dataclass
class Decoded:
    rows: PacketRows
    counts: np.ndarray
    buffer: np.ndarray

    def payload(self, row: int = 0) -> bytes:
        start = int(self.rows.offset[row])
        return self.buffer[start : start + int(self.rows.length[row])].tobytes()

    def reasons(self) -> dict[Reason, int]:
        return {Reason(index): int(value) for index, value in enumerate(self.counts) if value}


def decode(
    frame: bytes, linktype: int = LINKTYPE_ETHERNET, *, origlen: int | None = None, ports=(53,)
) -> Decoded:
    buffer = np.frombuffer(bytearray(b"\xee" * LEAD + frame), np.uint8)
    index = RecordIndex(1)
    index.offset[0] = LEAD
    index.caplen[0] = len(frame)
    index.origlen[0] = len(frame) if origlen is None else origlen
    index.ts_ns[0] = 1_234_567_890_123_456_789
    index.linktype[0] = linktype
    rows = PacketRows(1)
    counts = new_counts()
    count = decode_frames(buffer, index.arrays(), 1, 77, port_table(ports), counts, rows.arrays())
    return Decoded(rows.take(slice(0, count)), counts, buffer)


def udp4(payload: bytes = QUERY, sport: int = 40000, dport: int = 53) -> bytes:
    return b.ipv4(CLIENT, SERVER, b.udp(sport, dport, payload))


def udp6(payload: bytes = QUERY, sport: int = 40000, dport: int = 53) -> bytes:
    return b.ipv6(CLIENT6, SERVER6, b.udp(sport, dport, payload))


def vlan_tag(packet: bytes) -> bytes:
    """A VLAN 11 tag, the ethertype of `packet`, then `packet`: what follows an SLL header of type 0x8100."""
    return b"\x00\x0b" + b.ethertype_of(packet).to_bytes(2, "big") + packet


def assert_udp_row(decoded: Decoded, *, version: int = 4, payload: bytes = QUERY) -> None:
    assert len(decoded.rows) == 1, decoded.reasons()
    assert decoded.rows.kind[0] == KIND_UDP
    assert decoded.payload() == payload
    assert decoded.rows.ts_ns[0] == 1_234_567_890_123_456_789
    assert decoded.rows.record[0] == 77
    assert decoded.rows.ip_version[0] == version
    src, dst = (CLIENT, SERVER) if version == 4 else (CLIENT6, SERVER6)
    assert decoded.rows.src_addr[0].tobytes() == b.address16(src)
    assert decoded.rows.dst_addr[0].tobytes() == b.address16(dst)
    assert (decoded.rows.src_port[0], decoded.rows.dst_port[0]) == (40000, 53)
    assert decoded.rows.protocol[0] == 17
    assert not decoded.counts.any()


# Link layers ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("packet_of, version", [(udp4, 4), (udp6, 6)])
@pytest.mark.parametrize(
    "linktype, wrap",
    [
        (LINKTYPE_ETHERNET, b.ethernet),
        (LINKTYPE_ETHERNET, lambda packet: b.ethernet(packet, tags=[(0x8100, 11)])),
        (LINKTYPE_ETHERNET, lambda packet: b.ethernet(packet, tags=[(0x88A8, 100), (0x8100, 11)])),
        (LINKTYPE_ETHERNET, lambda packet: b.ethernet(packet, tags=[(0x9100, 1), (0x9100, 2), (0x8100, 3)])),
        (LINKTYPE_LINUX_SLL, b.linux_sll),
        (LINKTYPE_LINUX_SLL, lambda packet: b.linux_sll(vlan_tag(packet), ethertype=0x8100)),
        (LINKTYPE_LINUX_SLL2, b.linux_sll2),
        (LINKTYPE_RAW, lambda packet: packet),
        (12, lambda packet: packet),
        (14, lambda packet: packet),
    ],
)
def test_link_layers_lead_to_the_dns_payload(linktype, wrap, packet_of, version) -> None:
    assert_udp_row(decode(wrap(packet_of()), linktype), version=version)


@pytest.mark.parametrize("big_endian", [False, True])
@pytest.mark.parametrize(
    "family, packet_of, version", [(2, udp4, 4), (24, udp6, 6), (28, udp6, 6), (30, udp6, 6)]
)
def test_bsd_null_accepts_either_byte_order(big_endian, family, packet_of, version) -> None:
    frame = b.null_header(packet_of(), family, big_endian=big_endian)
    assert_udp_row(decode(frame, LINKTYPE_NULL), version=version)


@pytest.mark.parametrize("family, packet_of, version", [(2, udp4, 4), (24, udp6, 6)])
def test_openbsd_loop_is_network_order(family, packet_of, version) -> None:
    assert_udp_row(
        decode(b.null_header(packet_of(), family, big_endian=True), LINKTYPE_LOOP), version=version
    )
    assert decode(b.null_header(packet_of(), family), LINKTYPE_LOOP).reasons() == {Reason.NOT_IP: 1}


def test_linktype_12_may_carry_an_openbsd_loop_header() -> None:
    assert_udp_row(decode(b.null_header(udp4(), 2, big_endian=True), 12))


def test_raw_ipv4_and_ipv6_link_types() -> None:
    assert_udp_row(decode(udp4(), LINKTYPE_IPV4))
    assert_udp_row(decode(udp6(), LINKTYPE_IPV6), version=6)
    assert decode(udp6(), LINKTYPE_IPV4).reasons() == {Reason.BAD_IP_HEADER: 1}


@pytest.mark.parametrize(
    "frame, linktype, reason",
    [
        (b.ethernet(udp4()), 147, Reason.UNSUPPORTED_LINKTYPE),
        (b.ethernet(udp4())[:13], LINKTYPE_ETHERNET, Reason.TRUNCATED_LINK_HEADER),
        (
            b.ethernet(udp4(), tags=[(0x8100, 5)], pad=False)[:16],
            LINKTYPE_ETHERNET,
            Reason.TRUNCATED_LINK_HEADER,
        ),
        (b.ethernet(b"\x00" * 28, ethertype=b.ETHERTYPE_ARP), LINKTYPE_ETHERNET, Reason.NOT_IP),
        (b.linux_sll(udp4())[:15], LINKTYPE_LINUX_SLL, Reason.TRUNCATED_LINK_HEADER),
        (b.linux_sll2(udp4())[:19], LINKTYPE_LINUX_SLL2, Reason.TRUNCATED_LINK_HEADER),
        (b"\x02\x00", LINKTYPE_NULL, Reason.TRUNCATED_LINK_HEADER),
        (b.null_header(udp4(), 7), LINKTYPE_NULL, Reason.NOT_IP),
        (b.null_header(udp4(), 23), LINKTYPE_NULL, Reason.NOT_IP),
        (b"", LINKTYPE_RAW, Reason.TRUNCATED_IP_PACKET),
        (b"\x50" + udp4()[1:], LINKTYPE_RAW, Reason.BAD_IP_HEADER),
    ],
)
def test_link_layer_problems_are_counted(frame: bytes, linktype: int, reason: Reason) -> None:
    decoded = decode(frame, linktype)
    assert len(decoded.rows) == 0
    assert decoded.reasons() == {reason: 1}


def test_windows_af_inet6_needs_an_ipv6_header() -> None:
    assert_udp_row(decode(b.null_header(udp6(), 23), LINKTYPE_NULL), version=6)


# IPv4 -----------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("option_words", [1, 4, 10])
def test_ipv4_options_are_skipped(option_words: int) -> None:
    packet = b.ipv4(CLIENT, SERVER, b.udp(40000, 53, QUERY), options=b"\x01" * (4 * option_words))
    assert_udp_row(decode(b.ethernet(packet)))


def test_ipv4_total_length_trims_ethernet_padding() -> None:
    short = b.dns_message(1)[:12] + b"\x00\x01"  # 14 + 20 + 8 + 14 bytes: the frame is padded to 60
    frame = b.ethernet(b.ipv4(CLIENT, SERVER, b.udp(40000, 53, short)))
    assert len(frame) == 60
    assert_udp_row(decode(frame), payload=short)


def test_ipv4_total_length_zero_is_taken_as_offloaded() -> None:
    assert_udp_row(decode(b.ipv4(CLIENT, SERVER, b.udp(40000, 53, QUERY), total_length=0), LINKTYPE_RAW))


@pytest.mark.parametrize(
    "packet, reason",
    [
        (b.ipv4(CLIENT, SERVER, b.udp(40000, 53, QUERY), ihl=4), Reason.BAD_IP_HEADER),
        (b.ipv4(CLIENT, SERVER, b.udp(40000, 53, QUERY), total_length=19), Reason.BAD_IP_HEADER),
        (b.ipv4(CLIENT, SERVER, b.udp(40000, 53, QUERY), total_length=500), Reason.TRUNCATED_IP_PACKET),
        (b.ipv4(CLIENT, SERVER, b.udp(40000, 53, QUERY))[:19], Reason.TRUNCATED_IP_PACKET),
        (
            b.ipv4(CLIENT, SERVER, b.udp(40000, 53, QUERY), options=b"\x01" * 40)[:40],
            Reason.TRUNCATED_IP_PACKET,
        ),
        (b.ipv4(CLIENT, SERVER, b.udp(40000, 53, QUERY), ihl=15), Reason.BAD_IP_HEADER),
        (b.ipv4(CLIENT, SERVER, b"\x08\x00" + b"\x00" * 30, protocol=b.PROTO_ICMP), Reason.NOT_UDP_OR_TCP),
        (b.ipv4(CLIENT, SERVER, b.udp(40000, 53, QUERY))[:24], Reason.TRUNCATED_IP_PACKET),
        (b.ipv4(CLIENT, SERVER, b.udp(40000, 53, QUERY)[:4]), Reason.TRUNCATED_TRANSPORT_HEADER),
        (b.ipv4(CLIENT, SERVER, b.udp(40000, 80, QUERY)), Reason.NOT_DNS_PORT),
        (b.ipv4(CLIENT, SERVER, b.udp(40000, 53, QUERY, length=7)), Reason.TRUNCATED_TRANSPORT_HEADER),
        (b.ipv4(CLIENT, SERVER, b.udp(40000, 53, QUERY, length=len(QUERY) + 9)), Reason.TRUNCATED_IP_PACKET),
        (b.ipv4(CLIENT, SERVER, b.udp(40000, 53, b"\x00" * 11)), Reason.DNS_TOO_SHORT),
        (b.ipv4(CLIENT, SERVER, b.udp(40000, 53, b"")), Reason.DNS_TOO_SHORT),
    ],
)
def test_ipv4_and_udp_problems_are_counted(packet: bytes, reason: Reason) -> None:
    decoded = decode(packet, LINKTYPE_RAW)
    assert len(decoded.rows) == 0
    assert decoded.reasons() == {reason: 1}


def test_udp_length_shorter_than_the_ip_payload_wins() -> None:
    packet = b.ipv4(CLIENT, SERVER, b.udp(40000, 53, QUERY + b"trailer", length=8 + len(QUERY)))
    assert_udp_row(decode(packet, LINKTYPE_RAW))


def test_dns_source_port_and_custom_ports() -> None:
    response = b.dns_message(1, response=True)
    decoded = decode(b.ipv4(SERVER, CLIENT, b.udp(53, 40000, response)), LINKTYPE_RAW)
    assert decoded.payload() == response
    assert (decoded.rows.src_port[0], decoded.rows.dst_port[0]) == (53, 40000)
    assert len(decode(udp4(dport=5353), LINKTYPE_RAW, ports=(53, 5353)).rows) == 1
    assert decode(udp4(dport=53), LINKTYPE_RAW, ports=(5353,)).reasons() == {Reason.NOT_DNS_PORT: 1}


class TestSnapLength:
    """A frame the capture's snap length cut keeps what was captured when it holds a DNS header."""

    def test_cut_dns_payload_is_kept(self) -> None:
        frame = b.ethernet(udp4(b.dns_message(9, "a-rather-long-name.example.org")))
        cut = frame[: 14 + 20 + 8 + 20]
        decoded = decode(cut, origlen=len(frame))
        assert len(decoded.rows) == 1
        assert decoded.payload() == frame[42:62]

    def test_cut_inside_the_dns_header_is_counted(self) -> None:
        frame = b.ethernet(udp4())
        decoded = decode(frame[: 14 + 20 + 8 + 11], origlen=len(frame))
        assert decoded.reasons() == {Reason.CAPTURE_SNAPLEN_CUT: 1}

    def test_cut_tcp_payload_is_kept_or_counted(self) -> None:
        segment = b.tcp(40000, 53, b.length_prefixed(QUERY), seq=5)
        frame = b.ethernet(b.ipv4(CLIENT, SERVER, segment, protocol=b.PROTO_TCP))
        kept = decode(frame[:60], origlen=len(frame))
        assert kept.rows.kind.tolist() == [KIND_TCP]
        assert kept.payload() == frame[54:60]
        assert decode(frame[:54], origlen=len(frame)).reasons() == {Reason.CAPTURE_SNAPLEN_CUT: 1}

    @pytest.mark.parametrize("keep", [14 + 10, 14 + 20 + 4])
    def test_cut_inside_headers_is_counted(self, keep: int) -> None:
        frame = b.ethernet(udp4())
        assert decode(frame[:keep], origlen=len(frame)).reasons() == {Reason.CAPTURE_SNAPLEN_CUT: 1}

    def test_same_bytes_without_the_snap_length_are_damage(self) -> None:
        frame = b.ethernet(udp4(b.dns_message(9, "a-rather-long-name.example.org")))
        assert decode(frame[:62]).reasons() == {Reason.TRUNCATED_IP_PACKET: 1}


# IPv6 -----------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "extensions",
    [
        [b.extension(0)],
        [b.extension(0, 16), b.extension(43, 24), b.extension(60)],
        [b.extension(51, 24), b.extension(60, 8)],
        [b.fragment_header(0, False, 99)],  # an atomic fragment: the packet is whole
    ],
)
def test_ipv6_extension_headers_are_skipped(extensions) -> None:
    packet = b.ipv6(CLIENT6, SERVER6, b.udp(40000, 53, QUERY), extensions=extensions)
    assert_udp_row(decode(b.ethernet(packet)), version=6)


@pytest.mark.parametrize(
    "packet, reason",
    [
        (b.ipv6(CLIENT6, SERVER6, b"\x00" * 40, next_header=50), Reason.NOT_UDP_OR_TCP),
        (b.ipv6(CLIENT6, SERVER6, b"", next_header=59), Reason.NOT_UDP_OR_TCP),
        (b.ipv6(CLIENT6, SERVER6, b"\x80" + b"\x00" * 20, next_header=58), Reason.NOT_UDP_OR_TCP),
        (b.ipv6(CLIENT6, SERVER6, b"", extensions=[(60, b"\x00\x05" + b"\x00" * 6)]), Reason.BAD_IP_HEADER),
        (b.ipv6(CLIENT6, SERVER6, b.udp(40000, 53, QUERY))[:39], Reason.TRUNCATED_IP_PACKET),
        (b.ipv6(CLIENT6, SERVER6, b.udp(40000, 53, QUERY), payload_length=200), Reason.TRUNCATED_IP_PACKET),
        (b"\x40" + b.ipv6(CLIENT6, SERVER6, b.udp(40000, 53, QUERY))[1:], Reason.BAD_IP_HEADER),
    ],
)
def test_ipv6_problems_are_counted(packet: bytes, reason: Reason) -> None:
    decoded = decode(b.ethernet(packet, ethertype=b.ETHERTYPE_IPV6))
    assert len(decoded.rows) == 0
    assert decoded.reasons() == {reason: 1}


def test_ipv6_payload_length_trims_padding() -> None:
    packet = b.ipv6(CLIENT6, SERVER6, b.udp(40000, 53, QUERY))
    assert_udp_row(decode(packet + b"\x00" * 9, LINKTYPE_RAW), version=6)


# TCP ------------------------------------------------------------------------------------------------------


def test_tcp_segment_with_data_is_a_row() -> None:
    segment = b.tcp(
        40000, 53, b.length_prefixed(QUERY), seq=0xFFFFFFF0, flags=b.ACK | b.PSH, options=b"\x01" * 12
    )
    decoded = decode(b.ethernet(b.ipv4(CLIENT, SERVER, segment, protocol=b.PROTO_TCP)))
    assert len(decoded.rows) == 1
    assert decoded.rows.kind[0] == KIND_TCP
    assert decoded.payload() == b.length_prefixed(QUERY)
    assert decoded.rows.number[0] == 0xFFFFFFF0
    assert decoded.rows.detail[0] == b.ACK | b.PSH
    assert decoded.rows.protocol[0] == 6
    assert not decoded.counts.any()


def test_tcp_without_payload() -> None:
    ack = decode(b.ipv4(CLIENT, SERVER, b.tcp(40000, 53, flags=b.ACK), protocol=b.PROTO_TCP), LINKTYPE_RAW)
    assert len(ack.rows) == 0
    assert ack.reasons() == {Reason.TCP_NO_PAYLOAD: 1}
    # SYN, FIN and RST matter to the stream reassembler: counted, and still a row.
    for flags in (b.SYN, b.FIN | b.ACK, b.RST):
        decoded = decode(b.ipv6(CLIENT6, SERVER6, b.tcp(40000, 53, flags=flags), next_header=6), LINKTYPE_RAW)
        assert len(decoded.rows) == 1
        assert decoded.rows.length[0] == 0
        assert decoded.rows.detail[0] == flags
        assert decoded.reasons() == {Reason.TCP_NO_PAYLOAD: 1}


@pytest.mark.parametrize(
    "segment, reason",
    [
        (b.tcp(40000, 53, b"xx", data_offset=4), Reason.TRUNCATED_TRANSPORT_HEADER),
        (b.tcp(40000, 53, b"", data_offset=15), Reason.TRUNCATED_TRANSPORT_HEADER),
        (b.tcp(40000, 53, b"xx")[:19], Reason.TRUNCATED_TRANSPORT_HEADER),
        (b.tcp(40000, 80, b"GET /"), Reason.NOT_DNS_PORT),
    ],
)
def test_tcp_problems_are_counted(segment: bytes, reason: Reason) -> None:
    decoded = decode(b.ipv4(CLIENT, SERVER, segment, protocol=b.PROTO_TCP), LINKTYPE_RAW)
    assert len(decoded.rows) == 0
    assert decoded.reasons() == {reason: 1}


# Fragments ------------------------------------------------------------------------------------------------


def test_ipv4_fragments_are_rows_for_reassembly() -> None:
    transport = b.udp(40000, 53, b.dns_message(3, "x" * 60))
    first, second = b.ipv4_fragments(CLIENT, SERVER, transport, [48], ident=0xBEEF)
    head = decode(first, LINKTYPE_RAW)
    assert head.rows.kind[0] == KIND_FRAGMENT
    assert head.payload() == transport[:48]
    assert (head.rows.number[0], head.rows.detail[0], head.rows.protocol[0]) == (0xBEEF, 1, 17)
    tail = decode(second, LINKTYPE_RAW)
    assert tail.payload() == transport[48:]
    assert tail.rows.detail[0] == 48 * 2
    assert tail.rows.src_addr[0].tobytes() == b.address16(CLIENT)


def test_ipv6_fragments_are_rows_for_reassembly() -> None:
    transport = b.udp(40000, 53, b.dns_message(3, "x" * 60))
    before = [b.extension(0)]
    first, second = b.ipv6_fragments(CLIENT6, SERVER6, transport, [32], ident=0x01020304, before=before)
    head = decode(first, LINKTYPE_RAW)
    assert head.rows.kind[0] == KIND_FRAGMENT
    assert head.payload() == transport[:32]
    assert (head.rows.number[0], head.rows.detail[0], head.rows.protocol[0]) == (0x01020304, 1, 17)
    assert decode(second, LINKTYPE_RAW).rows.detail[0] == 32 * 2


def test_fragments_of_other_protocols_are_not_dns() -> None:
    icmp = b.ipv4(CLIENT, SERVER, b"\x00" * 16, protocol=b.PROTO_ICMP, more=True, ident=1)
    assert decode(icmp, LINKTYPE_RAW).reasons() == {Reason.NOT_UDP_OR_TCP: 1}
    esp = b.ipv6(CLIENT6, SERVER6, b"\x00" * 16, next_header=50, extensions=[b.fragment_header(0, True, 1)])
    assert decode(esp, LINKTYPE_RAW).reasons() == {Reason.NOT_UDP_OR_TCP: 1}


def test_a_snapped_fragment_cannot_be_reassembled() -> None:
    first = b.ipv4_fragments(CLIENT, SERVER, b.udp(40000, 53, b"\x00" * 100), [48])[0]
    assert decode(first[:40], LINKTYPE_RAW, origlen=len(first)).reasons() == {Reason.CAPTURE_SNAPLEN_CUT: 1}
