"""Test helpers: synthetic captures built byte by byte with `struct`, any link type, pcap or pcapng.

Written from tcpdump's pcap-savefile(5), draft-ietf-opsawg-pcapng, RFC 791 (IPv4), RFC 8200 (IPv6), RFC 768
(UDP), RFC 793 (TCP) and the link-layer header types registry, so the reader under test is checked against an
independent encoder rather than against itself. Checksums are left zero: the reader does not verify them.
"""

from __future__ import annotations

import ipaddress
import struct
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

ETHERTYPE_IPV4 = 0x0800
ETHERTYPE_IPV6 = 0x86DD
ETHERTYPE_ARP = 0x0806
PROTO_TCP = 6
PROTO_UDP = 17
PROTO_ICMP = 1
FIN, SYN, RST, PSH, ACK = 0x01, 0x02, 0x04, 0x08, 0x10
NS = 1_000_000_000


def address(text: str) -> bytes:
    """The packed form of an IPv4 or IPv6 address."""
    return ipaddress.ip_address(text).packed


def address16(text: str) -> bytes:
    """An address as MessageSlices holds it: IPv4 in the first 4 of 16 bytes."""
    return address(text).ljust(16, b"\x00")


def dns_message(
    ident: int = 0x1234, name: str = "example.com", *, response: bool = False, extra: bytes = b""
) -> bytes:
    """A small DNS message: header, one question (A, IN), and `extra` bytes after it."""
    flags = 0x8180 if response else 0x0100
    qname = b"".join(bytes([len(label)]) + label.encode() for label in name.split(".")) + b"\x00"
    return struct.pack("!HHHHHH", ident, flags, 1, 0, 0, 0) + qname + struct.pack("!HH", 1, 1) + extra


# Transport ------------------------------------------------------------------------------------------------


def udp(sport: int, dport: int, payload: bytes, *, length: int | None = None) -> bytes:
    """A UDP datagram; `length` overrides the length field."""
    return struct.pack("!HHHH", sport, dport, 8 + len(payload) if length is None else length, 0) + payload


def tcp(
    sport: int,
    dport: int,
    payload: bytes = b"",
    *,
    seq: int = 1000,
    ack: int = 0,
    flags: int = ACK | PSH,
    options: bytes = b"",
    data_offset: int | None = None,
) -> bytes:
    """A TCP segment; `options` must be a multiple of 4 bytes; `data_offset` (in words) overrides."""
    offset = (20 + len(options)) // 4 if data_offset is None else data_offset
    header = struct.pack("!HHIIBBHHH", sport, dport, seq & 0xFFFFFFFF, ack, offset << 4, flags, 65535, 0, 0)
    return header + options + payload


def length_prefixed(*messages: bytes) -> bytes:
    """DNS messages as TCP carries them: each after a 2-byte length (RFC 7766)."""
    return b"".join(struct.pack("!H", len(message)) + message for message in messages)


# IP -------------------------------------------------------------------------------------------------------


def ipv4(
    src: str,
    dst: str,
    payload: bytes,
    *,
    protocol: int = PROTO_UDP,
    ident: int = 0,
    offset: int = 0,
    more: bool = False,
    dont_fragment: bool = False,
    options: bytes = b"",
    total_length: int | None = None,
    version: int = 4,
    ihl: int | None = None,
) -> bytes:
    """An IPv4 packet; `offset` is in bytes (a multiple of 8), `options` a multiple of 4 bytes."""
    header_words = (20 + len(options)) // 4 if ihl is None else ihl
    total = 20 + len(options) + len(payload) if total_length is None else total_length
    flags = (0x4000 if dont_fragment else 0) | (0x2000 if more else 0) | (offset // 8)
    header = struct.pack(
        "!BBHHHBBH4s4s",
        (version << 4) | header_words,
        0,
        total,
        ident,
        flags,
        64,
        protocol,
        0,
        address(src),
        address(dst),
    )
    return header + options + payload


def ipv6(
    src: str,
    dst: str,
    payload: bytes,
    *,
    next_header: int = PROTO_UDP,
    extensions: Sequence[tuple[int, bytes]] = (),
    payload_length: int | None = None,
) -> bytes:
    """An IPv6 packet; `extensions` are (header type, header bytes) in order, each naming the next."""
    chain = b""
    types = [kind for kind, _ in extensions] + [next_header]
    for index, (_, body) in enumerate(extensions):
        chain += bytes([types[index + 1]]) + body[1:]
    first = types[0]
    length = len(chain) + len(payload) if payload_length is None else payload_length
    header = struct.pack("!IHBB16s16s", 6 << 28, length, first, 64, address(src), address(dst))
    return header + chain + payload


def extension(kind: int, size: int = 8) -> tuple[int, bytes]:
    """A generic IPv6 extension header (hop-by-hop 0, routing 43, destination options 60) of `size` bytes,
    or AH (51); its first byte (next header) is filled in by `ipv6`."""
    if kind == 51:
        return kind, bytes([0, size // 4 - 2]) + b"\x00" * (size - 2)
    return kind, bytes([0, size // 8 - 1]) + b"\x00" * (size - 2)


def fragment_header(offset: int, more: bool, ident: int) -> tuple[int, bytes]:
    """An IPv6 fragment header (type 44); `offset` in bytes."""
    return 44, struct.pack("!BBHI", 0, 0, offset | (1 if more else 0), ident)


def ipv4_fragments(
    src: str, dst: str, transport: bytes, sizes: Sequence[int], *, protocol: int = PROTO_UDP, ident: int = 7
) -> list[bytes]:
    """`transport` (header and data) cut into IPv4 fragments: the first carry `sizes` bytes (multiples of 8),
    the last one the rest."""
    return [
        ipv4(
            src, dst, transport[start : start + size], protocol=protocol, ident=ident, offset=start, more=more
        )
        for start, size, more in _pieces(len(transport), sizes)
    ]


def ipv6_fragments(
    src: str,
    dst: str,
    fragmentable: bytes,
    sizes: Sequence[int],
    *,
    next_header: int = PROTO_UDP,
    ident: int = 0xABCDEF,
    before: Sequence[tuple[int, bytes]] = (),
) -> list[bytes]:
    """`fragmentable` (what follows the fragment header) cut into IPv6 fragments as `ipv4_fragments` cuts;
    `before` are unfragmentable extension headers placed ahead of the fragment header."""
    return [
        ipv6(
            src,
            dst,
            fragmentable[start : start + size],
            next_header=next_header,
            extensions=[*before, fragment_header(start, more, ident)],
        )
        for start, size, more in _pieces(len(fragmentable), sizes)
    ]


def _pieces(total: int, sizes: Sequence[int]) -> Iterable[tuple[int, int, bool]]:
    start = 0
    for size in sizes:
        yield start, size, True
        start += size
    yield start, total - start, False


# Link layers ----------------------------------------------------------------------------------------------


def ethertype_of(packet: bytes) -> int:
    return ETHERTYPE_IPV6 if packet[0] >> 4 == 6 else ETHERTYPE_IPV4


def ethernet(
    packet: bytes, *, ethertype: int | None = None, tags: Sequence[tuple[int, int]] = (), pad: bool = True
) -> bytes:
    """An Ethernet II frame; `tags` are (TPID, VLAN id) outermost first; padded to 60 bytes like real NICs."""
    frame = b"\x02\x00\x00\x00\x00\x02" + b"\x02\x00\x00\x00\x00\x01"
    for tpid, vlan in tags:
        frame += struct.pack("!HH", tpid, vlan)
    frame += struct.pack("!H", ethertype_of(packet) if ethertype is None else ethertype) + packet
    return frame.ljust(60, b"\x00") if pad else frame


def linux_sll(packet: bytes, *, ethertype: int | None = None) -> bytes:
    """A Linux cooked capture v1 header (LINKTYPE_LINUX_SLL, 113) and `packet`."""
    protocol = ethertype_of(packet) if ethertype is None else ethertype
    return struct.pack("!HHH8sH", 0, 1, 6, b"\x02\x00\x00\x00\x00\x01\x00\x00", protocol) + packet


def linux_sll2(packet: bytes, *, ethertype: int | None = None) -> bytes:
    """A Linux cooked capture v2 header (LINKTYPE_LINUX_SLL2, 276) and `packet`."""
    protocol = ethertype_of(packet) if ethertype is None else ethertype
    return struct.pack("!HHIHBB8s", protocol, 0, 3, 1, 0, 6, b"\x02\x00\x00\x00\x00\x01\x00\x00") + packet


def null_header(packet: bytes, family: int, *, big_endian: bool = False) -> bytes:
    """A BSD null/loop header: the address family as a 4-byte integer in the given byte order."""
    return struct.pack(">I" if big_endian else "<I", family) + packet


# Files ----------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Record:
    """One captured frame: its bytes, time, original length (defaults to the captured one)."""

    data: bytes
    ts_ns: int = 1_700_000_000 * NS
    origlen: int | None = None


def pcap_file(
    records: Iterable[Record],
    *,
    linktype: int = 1,
    big_endian: bool = False,
    nanosecond: bool = False,
    snaplen: int = 262144,
    kuznetsov: bool = False,
) -> bytes:
    """A pcap file; `kuznetsov` writes the 0xa1b2cd34 variant with 8 extra bytes per record header."""
    order = ">" if big_endian else "<"
    magic = 0xA1B2CD34 if kuznetsov else 0xA1B23C4D if nanosecond else 0xA1B2C3D4
    out = [struct.pack(order + "IHHiIII", magic, 2, 4, 0, 0, snaplen, linktype)]
    for record in records:
        seconds, fraction = divmod(record.ts_ns, NS)
        if not nanosecond:
            fraction //= 1000
        origlen = len(record.data) if record.origlen is None else record.origlen
        out.append(struct.pack(order + "IIII", seconds, fraction, len(record.data), origlen))
        if kuznetsov:
            out.append(b"\x00" * 8)
        out.append(record.data)
    return b"".join(out)


def option(code: int, value: bytes, *, big_endian: bool = False) -> bytes:
    """One pcapng option, padded to 32 bits."""
    order = ">" if big_endian else "<"
    return struct.pack(order + "HH", code, len(value)) + value + b"\x00" * (-len(value) % 4)


class PcapngWriter:
    """Builds a pcapng file block by block; starts with a section header in the given byte order."""

    def __init__(self, *, big_endian: bool = False) -> None:
        self._out: list[bytes] = []
        self._resolutions: list[int] = []
        self.section(big_endian=big_endian)

    def block(self, block_type: int, body: bytes) -> PcapngWriter:
        """Any block: type, total length, body padded to 32 bits, total length."""
        body += b"\x00" * (-len(body) % 4)
        length = len(body) + 12
        order = self._order
        self._out.append(
            struct.pack(order + "II", block_type, length) + body + struct.pack(order + "I", length)
        )
        return self

    def section(self, *, big_endian: bool = False) -> PcapngWriter:
        """A new section header block; interfaces start again from 0."""
        self._order = ">" if big_endian else "<"
        self._resolutions = []
        return self.block(0x0A0D0D0A, struct.pack(self._order + "IHHq", 0x1A2B3C4D, 1, 0, -1))

    def interface(
        self, linktype: int, *, tsresol: int | None = None, tsoffset: int | None = None, snaplen: int = 0
    ) -> int:
        """An interface description block; return the interface's number within the section."""
        options = b""
        if tsresol is not None:
            options += option(9, bytes([tsresol]), big_endian=self._order == ">")
        if tsoffset is not None:
            options += option(14, struct.pack(self._order + "q", tsoffset), big_endian=self._order == ">")
        if options:
            options += option(0, b"", big_endian=self._order == ">")
        self.block(1, struct.pack(self._order + "HHI", linktype, 0, snaplen) + options)
        self._resolutions.append(6 if tsresol is None else tsresol)
        return len(self._resolutions) - 1

    def ticks(self, interface: int, ts_ns: int, tsoffset: int = 0) -> int:
        """`ts_ns` in the clock units of `interface` (exact only when representable)."""
        resolution = self._resolutions[interface]
        seconds_ns = ts_ns - tsoffset * NS
        if resolution & 0x80:
            return seconds_ns * (1 << (resolution & 0x7F)) // NS
        return seconds_ns * 10**resolution // NS

    def epb(
        self,
        interface: int,
        ticks: int,
        data: bytes,
        *,
        origlen: int | None = None,
        caplen: int | None = None,
    ) -> PcapngWriter:
        """An enhanced packet block; `caplen` overrides the captured length field."""
        captured = len(data) if caplen is None else caplen
        header = struct.pack(
            self._order + "IIIII",
            interface,
            ticks >> 32,
            ticks & 0xFFFFFFFF,
            captured,
            len(data) if origlen is None else origlen,
        )
        return self.block(6, header + data)

    def pb(self, interface: int, ticks: int, data: bytes) -> PcapngWriter:
        """An obsolete packet block (type 2)."""
        header = struct.pack(
            self._order + "HHIIII", interface, 0, ticks >> 32, ticks & 0xFFFFFFFF, len(data), len(data)
        )
        return self.block(2, header + data)

    def spb(self, data: bytes, *, origlen: int | None = None) -> PcapngWriter:
        """A simple packet block: interface 0, no time."""
        return self.block(3, struct.pack(self._order + "I", len(data) if origlen is None else origlen) + data)

    def raw(self, data: bytes) -> PcapngWriter:
        """Bytes appended as they are (damaged blocks)."""
        self._out.append(data)
        return self

    def bytes(self) -> bytes:
        return b"".join(self._out)
