"""Frame DNS messages as Ethernet/IP/UDP or TCP packets and write them as pcap or pcapng files.

One compiled kernel writes every record: the capture record header (pcap record or pcapng Enhanced Packet
Block), Ethernet II, IPv4 (RFC 791) or IPv6 (RFC 8200), UDP (RFC 768) or TCP (RFC 9293) with correct
lengths and checksums, and the DNS message (after its 2-byte length over TCP, RFC 1035 4.2.2). Formats:
pcap as libpcap writes it (microsecond timestamps) and pcapng (draft-ietf-opsawg-pcapng) with one
interface whose timestamp resolution is microseconds. MAC addresses are from the documentation block
00-00-5E-00-53-xx (RFC 7042).
"""

from __future__ import annotations

import struct
from typing import NamedTuple

import numpy as np
import numpy.typing as npt

from dnsvigil.demo.jit import Record, compiled, compiled_as, stream32

PACKET_DTYPE = np.dtype(
    [
        ("ts_us", np.int64),  # capture time, microseconds since the Unix epoch
        ("exchange", np.int32),  # whose endpoints (see `Endpoints`)
        ("message", np.int32),  # the DNS message carried, -1 for none (TCP control segments)
        ("seq", np.uint32),
        ("ack", np.uint32),
        ("from_server", np.uint8),
        ("tcp_flags", np.uint8),  # 0 for UDP
        ("role", np.uint8),  # the packet's place in its exchange, to vary IP identifiers
    ]
)

TCP_FIN = 0x01
TCP_SYN = 0x02
TCP_PSH = 0x08
TCP_ACK = 0x10

LINKTYPE_ETHERNET = 1
SNAPLEN = 262144
DNS_PORT = 53
_SERVER_MAC = (0x00, 0x00, 0x5E, 0x00, 0x53, 0x01)
_GATEWAY_MAC = (0x00, 0x00, 0x5E, 0x00, 0x53, 0xFE)
_MACS = np.array([_GATEWAY_MAC, _SERVER_MAC], dtype=np.uint8)
_TCP_WINDOW = 64240
_PCAPNG_EPB = 6

Buffer = npt.NDArray[np.uint8]
Int64s = npt.NDArray[np.int64]


class Endpoints(NamedTuple):
    """Per exchange (one query and its answer): the client's side of the conversation and the transport.

    Attributes:
        client_address: uint8 (n, 16); an IPv4 address fills the first 4 bytes.
        ip_version: uint8, 4 or 6.
        transport: uint8, 17 (UDP) or 6 (TCP).
        client_port: uint16.
        client_ttl: uint8, the IPv4 TTL or IPv6 hop limit the client's packets arrive with.
        flow_label: int64, the IPv6 flow label of the exchange (20 bits).
        server_ipv4: uint8 (16,), the server's IPv4 address in the first 4 bytes.
        server_ipv6: uint8 (16,).
    """

    client_address: Buffer
    ip_version: Buffer
    transport: Buffer
    client_port: npt.NDArray[np.uint16]
    client_ttl: Buffer
    flow_label: Int64s
    server_ipv4: Buffer
    server_ipv6: Buffer


def frame_lengths(packets: npt.NDArray[np.void], endpoints: Endpoints, message_lengths: Int64s) -> Int64s:
    """The Ethernet frame length of every packet."""
    exchange = packets["exchange"]
    ipv6 = endpoints.ip_version[exchange] == 6
    tcp = endpoints.transport[exchange] == 6
    carries = packets["message"] >= 0
    payload = np.where(carries, message_lengths[np.maximum(packets["message"], 0)] + 2 * tcp, 0)
    transport = np.where(tcp, 20 + 4 * ((packets["tcp_flags"] & TCP_SYN) != 0), 8)
    return 14 + np.where(ipv6, 40, 20) + transport + payload


@compiled_as("int64(uint8[::1], int64, int64)")
def _put16(buffer: Buffer, position: int, value: int) -> int:
    buffer[position] = (value >> 8) & 0xFF
    buffer[position + 1] = value & 0xFF
    return position + 2


@compiled_as("int64(uint8[::1], int64, int64)")
def _put32(buffer: Buffer, position: int, value: int) -> int:
    _put16(buffer, position, (value >> 16) & 0xFFFF)
    return _put16(buffer, position + 2, value & 0xFFFF)


@compiled_as("int64(uint8[::1], int64, int64)")
def _put32_little(buffer: Buffer, position: int, value: int) -> int:
    for index in range(4):
        buffer[position + index] = (value >> (8 * index)) & 0xFF
    return position + 4


@compiled_as("int64(uint8[::1], int64, int64, int64)")
def _sum16(buffer: Buffer, start: int, end: int, total: int) -> int:
    """Add the big-endian 16-bit words of `buffer[start:end]` to `total` (the Internet checksum's sum)."""
    for index in range(start, end - 1, 2):
        total += (buffer[index] << 8) | buffer[index + 1]
    if (end - start) & 1:
        total += buffer[end - 1] << 8
    return total


@compiled_as("int64(int64)")
def _fold(total: int) -> int:
    while total >> 16:
        total = (total & 0xFFFF) + (total >> 16)
    return ~total & 0xFFFF


@compiled_as("int64(uint8[::1], int64, uint8[::1], int64)")
def _put_address(buffer: Buffer, position: int, address: Buffer, size: int) -> int:
    for index in range(size):
        buffer[position + index] = address[index]
    return position + size


@compiled
def _write_frame(
    buffer: Buffer,
    position: int,
    packet: Record,
    endpoints: Endpoints,
    messages: Buffer,
    message_offsets: Int64s,
    message_lengths: Int64s,
) -> int:
    """Write one Ethernet frame at `position`; return the position after it."""
    exchange = packet.exchange
    ipv6 = endpoints.ip_version[exchange] == 6
    tcp = endpoints.transport[exchange] == 6
    client = endpoints.client_address[exchange]
    server = endpoints.server_ipv6 if ipv6 else endpoints.server_ipv4
    source, destination = (server, client) if packet.from_server else (client, server)
    for index in range(6):
        buffer[position + index] = _MACS[1 - packet.from_server, index]
        buffer[position + 6 + index] = _MACS[packet.from_server, index]
    position = _put16(buffer, position + 12, 0x86DD if ipv6 else 0x0800)
    ip_start = position
    ttl = 64 if packet.from_server else endpoints.client_ttl[exchange]
    header = 20 + 4 * ((packet.tcp_flags & TCP_SYN) != 0) if tcp else 8
    payload = 0
    if packet.message >= 0:
        payload = message_lengths[packet.message] + (2 if tcp else 0)
    segment = header + payload
    protocol = 6 if tcp else 17
    address_size = 16 if ipv6 else 4
    if ipv6:
        position = _put32(buffer, position, (6 << 28) | (endpoints.flow_label[exchange] & 0xFFFFF))
        position = _put16(buffer, position, segment)
        buffer[position] = protocol
        buffer[position + 1] = ttl
        position += 2
        pseudo = segment + protocol
    else:
        position = _put16(buffer, position, 0x4500)
        position = _put16(buffer, position, 20 + segment)
        position = _put16(buffer, position, stream32(exchange, packet.role) & 0xFFFF)
        position = _put16(buffer, position, 0x4000 if tcp else 0)  # DF on TCP, as stacks doing PMTUD set it
        buffer[position] = ttl
        buffer[position + 1] = protocol
        position = _put16(buffer, position + 2, 0)
        pseudo = segment + protocol
    position = _put_address(buffer, position, source, address_size)
    position = _put_address(buffer, position, destination, address_size)
    if not ipv6:
        _put16(buffer, ip_start + 10, _fold(_sum16(buffer, ip_start, ip_start + 20, 0)))
    pseudo = _sum16(buffer, position - 2 * address_size, position, pseudo)
    transport_start = position
    client_port = endpoints.client_port[exchange]
    position = _put16(buffer, position, DNS_PORT if packet.from_server else client_port)
    position = _put16(buffer, position, client_port if packet.from_server else DNS_PORT)
    if tcp:
        position = _put32(buffer, position, packet.seq)
        position = _put32(buffer, position, packet.ack)
        buffer[position] = (header // 4) << 4
        buffer[position + 1] = packet.tcp_flags
        position = _put16(buffer, position + 2, _TCP_WINDOW)
        position = _put32(buffer, position, 0)  # checksum, urgent pointer
        if packet.tcp_flags & TCP_SYN:  # MSS option
            position = _put32(buffer, position, 0x02040000 | (1440 if ipv6 else 1460))
        checksum_at = transport_start + 16
    else:
        position = _put16(buffer, position, segment)
        position = _put16(buffer, position, 0)
        checksum_at = transport_start + 6
    if packet.message >= 0:
        length = message_lengths[packet.message]
        if tcp:
            position = _put16(buffer, position, length)
        start = message_offsets[packet.message]
        for index in range(length):
            buffer[position + index] = messages[start + index]
        position += length
    checksum = _fold(_sum16(buffer, transport_start, position, pseudo))
    _put16(buffer, checksum_at, 0xFFFF if checksum == 0 and not tcp else checksum)
    return position


@compiled
def _write_records(
    buffer: Buffer,
    record_offsets: Int64s,
    frame_sizes: Int64s,
    pcapng: bool,
    packets: npt.NDArray[np.void],
    endpoints: Endpoints,
    messages: Buffer,
    message_offsets: Int64s,
    message_lengths: Int64s,
) -> None:
    for index in range(len(packets)):
        packet = packets[index]
        position = record_offsets[index]
        size = frame_sizes[index]
        seconds = packet.ts_us // 1_000_000
        total = 32 + ((size + 3) // 4) * 4
        if pcapng:
            position = _put32_little(buffer, position, _PCAPNG_EPB)
            position = _put32_little(buffer, position, total)
            position = _put32_little(buffer, position, 0)
            position = _put32_little(buffer, position, packet.ts_us >> 32)
            position = _put32_little(buffer, position, packet.ts_us & 0xFFFFFFFF)
        else:
            position = _put32_little(buffer, position, seconds)
            position = _put32_little(buffer, position, packet.ts_us - seconds * 1_000_000)
        position = _put32_little(buffer, position, size)
        position = _put32_little(buffer, position, size)
        _write_frame(buffer, position, packet, endpoints, messages, message_offsets, message_lengths)
        if pcapng:
            _put32_little(buffer, record_offsets[index] + total - 4, total)


def _pcap_header() -> bytes:
    return struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, SNAPLEN, LINKTYPE_ETHERNET)


def _pcapng_option(code: int, value: bytes) -> bytes:
    padding = b"\x00" * (-len(value) % 4)
    return struct.pack("<HH", code, len(value)) + value + padding


def _pcapng_block(block_type: int, body: bytes) -> bytes:
    total = 12 + len(body)
    return struct.pack("<II", block_type, total) + body + struct.pack("<I", total)


def _pcapng_header(application: str) -> bytes:
    end = struct.pack("<HH", 0, 0)
    section = struct.pack("<IHHq", 0x1A2B3C4D, 1, 0, -1) + _pcapng_option(4, application.encode()) + end
    interface = (
        struct.pack("<HHI", LINKTYPE_ETHERNET, 0, SNAPLEN)
        + _pcapng_option(2, b"eth0")  # if_name
        + _pcapng_option(9, b"\x06")  # if_tsresol: 10^-6 s
        + end
    )
    return _pcapng_block(0x0A0D0D0A, section) + _pcapng_block(1, interface)


def write_capture(
    packets: npt.NDArray[np.void],
    endpoints: Endpoints,
    messages: Buffer,
    message_offsets: Int64s,
    message_lengths: Int64s,
    *,
    pcapng: bool,
    application: str = "dnsvigil demo",
) -> bytes:
    """The bytes of a capture file holding `packets` in the order given.

    Args:
        packets: `PACKET_DTYPE` rows, already in capture order.
        endpoints: the exchanges the packets belong to.
        messages, message_offsets, message_lengths: the encoded DNS messages the packets carry.
        pcapng: write pcapng instead of pcap.
        application: the pcapng section's shb_userappl.
    """
    sizes = frame_lengths(packets, endpoints, message_lengths)
    header = _pcapng_header(application) if pcapng else _pcap_header()
    records = 32 + (sizes + 3) // 4 * 4 if pcapng else 16 + sizes
    offsets = np.zeros(len(packets), dtype=np.int64)
    np.cumsum(records[:-1], out=offsets[1:])
    offsets += len(header)
    buffer = np.zeros(len(header) + int(records.sum()), dtype=np.uint8)
    buffer[: len(header)] = np.frombuffer(header, dtype=np.uint8)
    _write_records(
        buffer, offsets, sizes, pcapng, packets, endpoints, messages, message_offsets, message_lengths
    )
    return buffer.tobytes()
