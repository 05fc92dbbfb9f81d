"""Test helper: `dns_messages` rows from a small pcap, read without `dnsvigil.ingest`.

The pcap parser is deliberately tiny and independent of `dnsvigil.ingest` (classic pcap, Ethernet with
optional 802.1Q tags, IPv4 or IPv6 without extension headers, UDP on port 53), so the RSSAC002 golden
test does not depend on the production reader.
"""

from __future__ import annotations

import ipaddress
import struct
from collections.abc import Iterator
from pathlib import Path

import pyarrow as pa

from tests.traffic.message_table import message_table

_ETHERNET = 1
_ETHERTYPE_VLAN = (0x8100, 0x88A8)
_ETHERTYPE_IPV4 = 0x0800
_ETHERTYPE_IPV6 = 0x86DD
_UDP = 17
_DNS_PORT = 53
_OPT = 41


def rows_from_pcap(path: Path) -> pa.Table:
    """The DNS messages over UDP in a classic pcap file, as a `dns_messages` table."""
    return message_table(list(_pcap_rows(path)))


def _pcap_rows(path: Path) -> Iterator[dict[str, object]]:
    data = path.read_bytes()
    magic = data[:4]
    if magic in (b"\xd4\xc3\xb2\xa1", b"\x4d\x3c\xb2\xa1"):
        endian = "<"
    elif magic in (b"\xa1\xb2\xc3\xd4", b"\xa1\xb2\x3c\x4d"):
        endian = ">"
    else:
        raise ValueError(f"{path}: not a classic pcap file")
    nanoseconds = magic in (b"\x4d\x3c\xb2\xa1", b"\xa1\xb2\x3c\x4d")
    (linktype,) = struct.unpack_from(endian + "I", data, 20)
    if linktype != _ETHERNET:
        raise ValueError(f"{path}: link type {linktype} is not Ethernet")
    offset = 24
    while offset + 16 <= len(data):
        seconds, fraction, captured, _ = struct.unpack_from(endian + "IIII", data, offset)
        frame = data[offset + 16 : offset + 16 + captured]
        offset += 16 + captured
        ts = seconds * 1_000_000_000 + (fraction if nanoseconds else fraction * 1000)
        row = _frame_row(frame)
        if row is not None:
            yield {**row, "ts": ts, "source_file": path.name}


def _frame_row(frame: bytes) -> dict[str, object] | None:
    position = 12
    (ethertype,) = struct.unpack_from("!H", frame, position)
    while ethertype in _ETHERTYPE_VLAN:
        position += 4
        (ethertype,) = struct.unpack_from("!H", frame, position)
    packet = frame[position + 2 :]
    if ethertype == _ETHERTYPE_IPV4:
        header_length = (packet[0] & 0x0F) * 4
        (total,) = struct.unpack_from("!H", packet, 2)
        protocol, source, destination = packet[9], packet[12:16], packet[16:20]
        segment, version = packet[header_length:total], 4
    elif ethertype == _ETHERTYPE_IPV6:
        (payload,) = struct.unpack_from("!H", packet, 4)
        protocol, source, destination = packet[6], packet[8:24], packet[24:40]
        segment, version = packet[40 : 40 + payload], 6
    else:
        return None
    if protocol != _UDP:
        return None
    source_port, destination_port, udp_length = struct.unpack_from("!HHH", segment, 0)
    if _DNS_PORT not in (source_port, destination_port):
        return None
    message = segment[8:udp_length]
    if len(message) < 12:
        return None
    return {
        "src_addr": _address_text(source),
        "dst_addr": _address_text(destination),
        "src_port": source_port,
        "dst_port": destination_port,
        "ip_version": version,
        "transport": "udp",
        **dns_fields(message),
    }


def _address_text(packed: bytes) -> str:
    address = ipaddress.ip_address(packed)
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return f"::ffff:{address.ipv4_mapped}"  # RFC 5952 section 5, as the readers write it
    return address.compressed


def dns_fields(message: bytes) -> dict[str, object]:
    """The `dns_messages` columns read from a DNS message's header, question and OPT record."""
    dns_id, flags, qdcount, ancount, nscount, arcount = struct.unpack_from("!HHHHHH", message, 0)
    fields: dict[str, object] = {
        "msg_len": len(message),
        "dns_id": dns_id,
        "qr": bool(flags & 0x8000),
        "opcode": (flags >> 11) & 0x0F,
        "aa": bool(flags & 0x0400),
        "tc": bool(flags & 0x0200),
        "rd": bool(flags & 0x0100),
        "ra": bool(flags & 0x0080),
        "ad": bool(flags & 0x0020),
        "cd": bool(flags & 0x0010),
        "rcode": flags & 0x0F,
        "qdcount": qdcount,
        "ancount": ancount,
        "nscount": nscount,
        "arcount": arcount,
        "qname": None,
        "qname_mixed_case": None,
        "qtype": None,
        "qclass": None,
    }
    try:
        position = 12
        if qdcount:
            labels, position = _read_name(message, position)
            name = ".".join(labels) + "."
            qtype, qclass = struct.unpack_from("!HH", message, position)
            position += 4
            fields.update(
                qname=name.lower(), qname_mixed_case=name != name.lower(), qtype=qtype, qclass=qclass
            )
            for _ in range(qdcount - 1):
                position = _read_name(message, position)[1] + 4
        for index in range(ancount + nscount + arcount):
            position = _read_name(message, position)[1]
            rtype, rclass, ttl, rdlength = struct.unpack_from("!HHIH", message, position)
            position += 10 + rdlength
            if rtype == _OPT and index >= ancount + nscount:
                fields.update(
                    rcode=((ttl >> 24) << 4) | (flags & 0x0F),
                    edns_present=True,
                    edns_version=(ttl >> 16) & 0xFF,
                    edns_udp_size=rclass,
                    edns_do=bool(ttl & 0x8000),
                )
        if position > len(message):
            raise struct.error("record runs past the message")
    except (struct.error, IndexError, UnicodeDecodeError):
        fields.update(malformed=True, malformed_reason="dns_truncated_record")
    return fields


def _read_name(message: bytes, position: int) -> tuple[list[str], int]:
    """The labels of the name at `position` (following compression pointers) and the offset after it."""
    labels: list[str] = []
    end: int | None = None
    for _ in range(128):
        length = message[position]
        if length == 0:
            return labels, end if end is not None else position + 1
        if length & 0xC0 == 0xC0:
            end = position + 2 if end is None else end
            position = ((length & 0x3F) << 8) | message[position + 1]
            continue
        labels.append(message[position + 1 : position + 1 + length].decode("ascii"))
        position += 1 + length
    raise IndexError("compression loop")
