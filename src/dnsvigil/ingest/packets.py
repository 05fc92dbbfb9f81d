"""Packet decoding: from a captured frame through its link, IP and transport headers to a DNS payload.

Link layers are `link_layer`'s. IPv4 (RFC 791; options skipped by IHL, the total length trims Ethernet
padding) and IPv6 (RFC 8200; hop-by-hop, routing, destination options, AH, mobility, HIP and shim6 headers
skipped, an atomic fragment read as a whole packet). Checksums are not verified: offloading makes them wrong
in captures taken on the sending host, and an observer wants what was sent anyway.

Each frame yields at most one row of `PacketRows`: a UDP datagram to or from a DNS port (its payload is one
DNS message), a TCP segment to or from a DNS port (for `tcp_streams`), or an IP fragment of a UDP or TCP
datagram (for `ip_fragments`); every frame that yields no row is counted under a `Reason`.

Cut packets: when the capture's snap length cut a UDP datagram, the captured part of its payload is still
emitted if it holds a DNS header (12 bytes), so the DNS decoder can read what is there and flag the rest;
otherwise the frame counts as CAPTURE_SNAPLEN_CUT. A payload under 12 bytes that was not cut counts as
DNS_TOO_SHORT: every emitted message holds at least a DNS header.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import numpy.typing as npt

from dnsvigil.ingest.compiled import compiled, inlined
from dnsvigil.ingest.link_layer import LINK_OK, be16, be32, link_to_ip
from dnsvigil.ingest.pcap_format import byte_at
from dnsvigil.ingest.reasons import Reason

KIND_UDP = 1
KIND_TCP = 2
KIND_FRAGMENT = 3
DNS_HEADER_BYTES = 12
TCP_FIN = 0x01
TCP_SYN = 0x02
TCP_RST = 0x04

_ROW = -1
_COUNTED = -2
_NOT_UDP_OR_TCP = int(Reason.NOT_UDP_OR_TCP)
_NOT_DNS_PORT = int(Reason.NOT_DNS_PORT)
_TCP_NO_PAYLOAD = int(Reason.TCP_NO_PAYLOAD)
_BAD_IP_HEADER = int(Reason.BAD_IP_HEADER)
_TRUNCATED_IP_PACKET = int(Reason.TRUNCATED_IP_PACKET)
_TRUNCATED_TRANSPORT_HEADER = int(Reason.TRUNCATED_TRANSPORT_HEADER)
_CAPTURE_SNAPLEN_CUT = int(Reason.CAPTURE_SNAPLEN_CUT)
_DNS_TOO_SHORT = int(Reason.DNS_TOO_SHORT)

# Extension headers sized in 8-octet units after the first 8: hop-by-hop, routing, destination options,
# mobility, HIP, shim6. AH (51, 4-octet units) and the fragment header (44) are handled apart.
_IPV6_EXTENSIONS = (0, 43, 60, 135, 139, 140)
# What may follow a fragment header that is not, or cannot lead to, UDP or TCP: ESP, ICMPv6, no next header.
_NOT_TRANSPORT = (50, 58, 59)


class PacketRows:
    """Column arrays of what frames yielded: UDP DNS payloads, TCP segments and IP fragments, in frame order.

    Attributes:
        kind: uint8 KIND_UDP, KIND_TCP or KIND_FRAGMENT.
        record: int64 number of the capture record the row came from (counted from the file's start).
        offset: int64 position of the payload (UDP or TCP payload, fragment data) in the buffer.
        length: int32 payload bytes captured.
        ts_ns: int64 capture time in nanoseconds since the Unix epoch.
        ip_version: uint8, 4 or 6.
        src_addr, dst_addr: uint8 (n, 16) addresses, IPv4 in the first 4 bytes.
        src_port, dst_port: uint16 ports; 0 for fragments.
        number: int64 TCP sequence number, or fragment identification.
        detail: int64 TCP flags, or a fragment's byte offset times 2 plus its more-fragments flag.
        protocol: uint8 IP protocol of the transport (of the whole datagram, for fragments).
    """

    __slots__ = (
        "detail",
        "dst_addr",
        "dst_port",
        "ip_version",
        "kind",
        "length",
        "number",
        "offset",
        "protocol",
        "record",
        "src_addr",
        "src_port",
        "ts_ns",
    )

    def __init__(self, capacity: int) -> None:
        self.kind: npt.NDArray[np.uint8] = np.empty(capacity, np.uint8)
        self.record: npt.NDArray[np.int64] = np.empty(capacity, np.int64)
        self.offset: npt.NDArray[np.int64] = np.empty(capacity, np.int64)
        self.length: npt.NDArray[np.int32] = np.empty(capacity, np.int32)
        self.ts_ns: npt.NDArray[np.int64] = np.empty(capacity, np.int64)
        self.ip_version: npt.NDArray[np.uint8] = np.empty(capacity, np.uint8)
        self.src_addr: npt.NDArray[np.uint8] = np.empty((capacity, 16), np.uint8)
        self.dst_addr: npt.NDArray[np.uint8] = np.empty((capacity, 16), np.uint8)
        self.src_port: npt.NDArray[np.uint16] = np.empty(capacity, np.uint16)
        self.dst_port: npt.NDArray[np.uint16] = np.empty(capacity, np.uint16)
        self.number: npt.NDArray[np.int64] = np.empty(capacity, np.int64)
        self.detail: npt.NDArray[np.int64] = np.empty(capacity, np.int64)
        self.protocol: npt.NDArray[np.uint8] = np.empty(capacity, np.uint8)

    def __len__(self) -> int:
        return len(self.kind)

    def arrays(self) -> tuple[Any, ...]:
        """The columns in the order the kernels take them."""
        return tuple(getattr(self, name) for name in _COLUMNS)

    def take(self, selector: npt.NDArray[Any] | slice) -> PacketRows:
        """The rows `selector` (indices, a boolean mask or a slice) picks, copied or viewed as numpy does."""
        rows = PacketRows(0)
        for name in _COLUMNS:
            setattr(rows, name, getattr(self, name)[selector])
        return rows

    @staticmethod
    def concatenate(parts: Sequence[PacketRows]) -> PacketRows:
        """One table of every row of `parts`, in order."""
        if len(parts) == 1:
            return parts[0]
        rows = PacketRows(0)
        for name in _COLUMNS:
            setattr(rows, name, np.concatenate([getattr(part, name) for part in parts]))
        return rows


_COLUMNS = (
    "kind",
    "record",
    "offset",
    "length",
    "ts_ns",
    "ip_version",
    "src_addr",
    "dst_addr",
    "src_port",
    "dst_port",
    "number",
    "detail",
    "protocol",
)


@inlined
def _write_row(rows: Any, row: int, origin: Any, addresses: Any, payload: Any, transport: Any) -> None:
    """Write row `row`: origin (kind, record, ts_ns, ip version), addresses (src, src position, dst, dst
    position), payload (offset, length), transport (src port, dst port, number, detail, protocol)."""
    kinds, records, offsets, lengths, times, versions, src_addr, dst_addr = rows[:8]
    src_ports, dst_ports, numbers, details, protocols = rows[8:]
    kinds[row], records[row], times[row], versions[row] = origin
    offsets[row], lengths[row] = payload
    src_ports[row], dst_ports[row], numbers[row], details[row], protocols[row] = transport
    src, src_pos, dst, dst_pos = addresses
    size = 4 if origin[3] == 4 else 16
    for index in range(size):
        src_addr[row, index] = src[src_pos + index]
        dst_addr[row, index] = dst[dst_pos + index]
    for index in range(size, 16):
        src_addr[row, index] = 0
        dst_addr[row, index] = 0


@inlined
def decode_transport(
    buffer: Any, pos: int, end: int, declared_end: int, protocol: int, origin: Any, addresses: Any, sink: Any
) -> int:
    """Read the UDP or TCP header at `buffer[pos]` and write its row; return -1, or why there is no row.

    `end` is where the captured bytes of the IP payload stop, `declared_end` where the IP header says they
    do (later only when the snap length cut the packet). `origin` is (record, ts_ns, ip version),
    `addresses` (src array, src position, dst array, dst position), `sink` (port table, counts, rows, row).
    A TCP segment without payload is counted as TCP_NO_PAYLOAD, and still yields a row when it carries
    SYN, FIN or RST, which the stream reassembler needs; -2 means counted and no row.
    """
    port_table, counts, rows, row = sink
    record, ts_ns, version = origin
    cut = declared_end > end
    if protocol != 17 and protocol != 6:
        return _NOT_UDP_OR_TCP
    minimum = 8 if protocol == 17 else 20
    if end - pos < minimum:
        return _CAPTURE_SNAPLEN_CUT if cut else _TRUNCATED_TRANSPORT_HEADER
    src_port = be16(buffer, pos)
    dst_port = be16(buffer, pos + 2)
    if port_table[src_port] == 0 and port_table[dst_port] == 0:
        return _NOT_DNS_PORT
    if protocol == 17:
        udp_end = pos + be16(buffer, pos + 4)
        if udp_end - pos < 8:
            return _TRUNCATED_TRANSPORT_HEADER
        if udp_end > declared_end:
            return _TRUNCATED_IP_PACKET
        payload_end = min(udp_end, end)
        if payload_end - pos - 8 < DNS_HEADER_BYTES:
            return _CAPTURE_SNAPLEN_CUT if payload_end < udp_end else _DNS_TOO_SHORT
        transport = (src_port, dst_port, 0, 0, 17)
        _write_row(
            rows,
            row,
            (KIND_UDP, record, ts_ns, version),
            addresses,
            (pos + 8, payload_end - pos - 8),
            transport,
        )
        return _ROW
    header_bytes = (byte_at(buffer, pos + 12) >> 4) * 4
    if header_bytes < 20:
        return _TRUNCATED_TRANSPORT_HEADER
    if end - pos < header_bytes:
        return _CAPTURE_SNAPLEN_CUT if cut else _TRUNCATED_TRANSPORT_HEADER
    flags = byte_at(buffer, pos + 13)
    if end - pos == header_bytes:
        if cut:
            return _CAPTURE_SNAPLEN_CUT  # it had a payload, which the capture left out
        counts[_TCP_NO_PAYLOAD] += 1
        if flags & (TCP_SYN | TCP_FIN | TCP_RST) == 0:
            return _COUNTED
    transport = (src_port, dst_port, be32(buffer, pos + 4), flags, 6)
    _write_row(
        rows,
        row,
        (KIND_TCP, record, ts_ns, version),
        addresses,
        (pos + header_bytes, end - pos - header_bytes),
        transport,
    )
    return _ROW


@inlined
def skip_ipv6_extensions(buffer: Any, pos: int, end: int, next_header: int) -> tuple[int, int, int]:
    """Walk IPv6 extension headers from `pos`, where a header of type `next_header` starts.

    Returns:
        (0, upper-layer protocol, its position), (1, protocol after a fragment header, position after it),
        or (2, 0, 0) when a header runs past `end`.
    """
    while True:
        if (next_header in _IPV6_EXTENSIONS or next_header == 51 or next_header == 44) and end - pos < 8:
            return 2, 0, 0
        if next_header in _IPV6_EXTENSIONS:
            size = (byte_at(buffer, pos + 1) + 1) * 8
        elif next_header == 51:
            size = (byte_at(buffer, pos + 1) + 2) * 4
        elif next_header == 44:
            if be16(buffer, pos + 2) & 0xFFF9 != 0:
                return 1, byte_at(buffer, pos), pos + 8
            size = 8  # an atomic fragment (RFC 6946): offset 0 and no more fragments, the packet is whole
        else:
            return 0, next_header, pos
        if end - pos < size:
            return 2, 0, 0
        next_header = byte_at(buffer, pos)
        pos += size


@inlined
def _decode_ipv4(buffer: Any, pos: int, end: int, snapped: bool, origin: Any, sink: Any) -> int:
    record, ts_ns = origin
    available = end - pos
    if available < 20:
        return _CAPTURE_SNAPLEN_CUT if snapped else _TRUNCATED_IP_PACKET
    header_bytes = (byte_at(buffer, pos) & 15) * 4
    total = be16(buffer, pos + 2)
    if total == 0:
        total = available  # segmentation offload: captured on the sending host before the length was set
    if byte_at(buffer, pos) >> 4 != 4 or header_bytes < 20 or total < header_bytes:
        return _BAD_IP_HEADER
    if available < header_bytes:
        return _CAPTURE_SNAPLEN_CUT if snapped else _TRUNCATED_IP_PACKET
    declared_end = pos + total
    if declared_end > end and not snapped:
        return _TRUNCATED_IP_PACKET
    ip_end = min(declared_end, end)
    protocol = byte_at(buffer, pos + 9)
    addresses = (buffer, pos + 12, buffer, pos + 16)
    fragment = be16(buffer, pos + 6)
    if fragment & 0x3FFF == 0:
        return decode_transport(
            buffer, pos + header_bytes, ip_end, declared_end, protocol, (record, ts_ns, 4), addresses, sink
        )
    if protocol != 17 and protocol != 6:
        return _NOT_UDP_OR_TCP
    if declared_end > end:
        return _CAPTURE_SNAPLEN_CUT
    detail = (fragment & 0x1FFF) * 16 + ((fragment >> 13) & 1)
    transport = (0, 0, be16(buffer, pos + 4), detail, protocol)
    payload = (pos + header_bytes, ip_end - pos - header_bytes)
    _write_row(sink[2], sink[3], (KIND_FRAGMENT, record, ts_ns, 4), addresses, payload, transport)
    return _ROW


@inlined
def _decode_ipv6(buffer: Any, pos: int, end: int, snapped: bool, origin: Any, sink: Any) -> int:
    record, ts_ns = origin
    if end - pos < 40:
        return _CAPTURE_SNAPLEN_CUT if snapped else _TRUNCATED_IP_PACKET
    if byte_at(buffer, pos) >> 4 != 6:
        return _BAD_IP_HEADER
    payload_length = be16(buffer, pos + 4)
    next_header = byte_at(buffer, pos + 6)
    declared_end = pos + 40 + payload_length
    if payload_length == 0 and next_header == 0:
        declared_end = end  # a jumbogram: its length is in a hop-by-hop option; take what was captured
    if declared_end > end and not snapped:
        return _TRUNCATED_IP_PACKET
    ip_end = min(declared_end, end)
    addresses = (buffer, pos + 8, buffer, pos + 24)
    status, protocol, upper = skip_ipv6_extensions(buffer, pos + 40, ip_end, next_header)
    if status == 0:
        return decode_transport(
            buffer, upper, ip_end, declared_end, protocol, (record, ts_ns, 6), addresses, sink
        )
    if status == 2:
        return _CAPTURE_SNAPLEN_CUT if declared_end > end else _BAD_IP_HEADER
    if protocol in _NOT_TRANSPORT:
        return _NOT_UDP_OR_TCP
    if declared_end > end:
        return _CAPTURE_SNAPLEN_CUT
    fragment = be16(buffer, upper - 6)
    detail = (fragment & 0xFFF8) * 2 + (fragment & 1)
    transport = (0, 0, be32(buffer, upper - 4), detail, protocol)
    _write_row(
        sink[2], sink[3], (KIND_FRAGMENT, record, ts_ns, 6), addresses, (upper, ip_end - upper), transport
    )
    return _ROW


@compiled
def decode_frames(
    buffer: Any, records: Any, count: int, first_record: int, port_table: Any, counts: Any, rows: Any
) -> int:
    """Decode the first `count` frames a RecordIndex locates; write their rows and return how many.

    `records` is the RecordIndex's (offset, caplen, origlen, ts_ns, linktype) arrays; record i is numbered
    `first_record + i`. Frames that yield no row are counted into `counts`.
    """
    offsets, caplens, origlens, times, linktypes = records
    row = 0
    for index in range(count):
        pos = offsets[index]
        end = pos + caplens[index]
        status, version, pos = link_to_ip(buffer, pos, end, linktypes[index])
        if status == LINK_OK:
            if version == 0 and end > pos:
                version = byte_at(buffer, pos) >> 4
            origin = (first_record + index, times[index])
            sink = (port_table, counts, rows, row)
            snapped = caplens[index] < origlens[index]
            if version == 4:
                status = _decode_ipv4(buffer, pos, end, snapped, origin, sink)
            elif version == 6:
                status = _decode_ipv6(buffer, pos, end, snapped, origin, sink)
            else:
                status = _TRUNCATED_IP_PACKET if end <= pos else _BAD_IP_HEADER
        if status == _ROW:
            row += 1
        elif status >= 0:
            counts[status] += 1
    return row


@compiled
def decode_datagrams(buffer: Any, datagrams: Any, src_addr: Any, dst_addr: Any, sink: Any) -> int:
    """Decode the transport of reassembled IP datagrams; write their rows and return how many.

    `datagrams` is (offset, length, ts_ns, record, ip_version, protocol) arrays and `sink` (port table,
    counts, rows); IPv6 extension headers after the fragment header are skipped first.
    """
    offsets, lengths, times, records, versions, protocols = datagrams
    port_table, counts, rows = sink
    row = 0
    for index in range(len(offsets)):
        pos = offsets[index]
        end = pos + lengths[index]
        protocol = byte_at(protocols, index)
        version = byte_at(versions, index)
        status = _ROW
        if version == 6:
            extension_status, protocol, pos = skip_ipv6_extensions(buffer, pos, end, protocol)
            if extension_status != 0:
                status = _BAD_IP_HEADER
        if status == _ROW:
            origin = (records[index], times[index], version)
            addresses = (src_addr[index], 0, dst_addr[index], 0)
            status = decode_transport(
                buffer, pos, end, end, protocol, origin, addresses, (port_table, counts, rows, row)
            )
        if status == _ROW:
            row += 1
        elif status >= 0:
            counts[status] += 1
    return row


def port_table(ports: Sequence[int]) -> npt.NDArray[np.uint8]:
    """A 65536-entry lookup table, 1 at each port in `ports`, for the kernels' port test."""
    table = np.zeros(1 << 16, np.uint8)
    for port in ports:
        table[port] = 1
    return table
