"""Test helpers: DNS messages built byte by byte with `struct`, slices around them, and a tiny pcap reader.

Written from RFC 1035 (message layout), RFC 6891 (OPT) and the libpcap file format, so the decoder under
test is checked against an independent encoder rather than against itself.
"""

from __future__ import annotations

import struct
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from dnsvigil.ingest.slices import TRANSPORT_UDP, MessageSlices

TYPE_A = 1
TYPE_NS = 2
TYPE_CNAME = 5
TYPE_SOA = 6
TYPE_AAAA = 28
TYPE_OPT = 41
CLASS_IN = 1


def encode_labels(labels: Sequence[bytes], *, terminate: bool = True) -> bytes:
    """The wire form of `labels`, ended by the root label unless `terminate` is false (for a pointer)."""
    wire = b"".join(bytes([len(label)]) + label for label in labels)
    return wire + b"\x00" if terminate else wire


def encode_name(name: str) -> bytes:
    """The wire form of a plain dotted name ('.' or '' is the root); no escapes are interpreted."""
    return encode_labels([label.encode("ascii") for label in name.strip(".").split(".") if label])


def presentation_text(labels: Sequence[bytes]) -> str:
    """The text a decoder must give for `labels`, written byte by byte from the rules in `wire_names`.

    Lower-case ASCII; '.' and '\\' escaped with a backslash; bytes outside 0x21-0x7e as \\DDD; root is '.'.
    """
    if not labels:
        return "."
    parts = []
    for label in labels:
        chars = []
        for byte in label.lower():
            if byte in b".\\":
                chars.append("\\" + chr(byte))
            elif 0x21 <= byte <= 0x7E:
                chars.append(chr(byte))
            else:
                chars.append(f"\\{byte:03d}")
        parts.append("".join(chars))
    return ".".join(parts)


def pointer(offset: int) -> bytes:
    """A compression pointer to `offset` from the start of the message."""
    return struct.pack("!H", 0xC000 | offset)


def header(
    *,
    dns_id: int = 0x1234,
    qr: bool = False,
    opcode: int = 0,
    aa: bool = False,
    tc: bool = False,
    rd: bool = True,
    ra: bool = False,
    z: bool = False,
    ad: bool = False,
    cd: bool = False,
    rcode: int = 0,
    qdcount: int = 1,
    ancount: int = 0,
    nscount: int = 0,
    arcount: int = 0,
) -> bytes:
    """A 12-byte DNS header (RFC 1035 section 4.1.1, AD and CD from RFC 4035)."""
    flags = (
        (qr << 15)
        | (opcode << 11)
        | (aa << 10)
        | (tc << 9)
        | (rd << 8)
        | (ra << 7)
        | (z << 6)
        | (ad << 5)
        | (cd << 4)
        | rcode
    )
    return struct.pack("!HHHHHH", dns_id, flags, qdcount, ancount, nscount, arcount)


def question(name: bytes, qtype: int = TYPE_A, qclass: int = CLASS_IN) -> bytes:
    """A question entry: the wire `name`, then type and class."""
    return name + struct.pack("!HH", qtype, qclass)


def record(name: bytes, rtype: int, rdata: bytes, *, rclass: int = CLASS_IN, ttl: int = 300) -> bytes:
    """A resource record with the wire owner `name`."""
    return name + struct.pack("!HHIH", rtype, rclass, ttl, len(rdata)) + rdata


def option(code: int, data: bytes = b"") -> bytes:
    """One EDNS option (RFC 6891 section 6.1.2)."""
    return struct.pack("!HH", code, len(data)) + data


def opt_record(
    *,
    udp_size: int = 1232,
    extended_rcode: int = 0,
    version: int = 0,
    do: bool = False,
    options: Sequence[bytes] = (),
    owner: bytes = b"\x00",
) -> bytes:
    """An OPT pseudo-record (RFC 6891 section 6.1.3): CLASS is the UDP size, TTL holds rcode, version, DO."""
    ttl = (extended_rcode << 24) | (version << 16) | (0x8000 if do else 0)
    return record(owner, TYPE_OPT, b"".join(options), rclass=udp_size, ttl=ttl)


def message(
    questions: Sequence[bytes] = (),
    answers: Sequence[bytes] = (),
    authority: Sequence[bytes] = (),
    additional: Sequence[bytes] = (),
    **header_fields: int | bool,
) -> bytes:
    """A message whose header counts match the sections given, unless `header_fields` overrides them."""
    counts: dict[str, int | bool] = {
        "qdcount": len(questions),
        "ancount": len(answers),
        "nscount": len(authority),
        "arcount": len(additional),
    }
    counts.update(header_fields)
    return header(**counts) + b"".join([*questions, *answers, *authority, *additional])  # type: ignore[arg-type]


def query(name: str, qtype: int = TYPE_A, **header_fields: int | bool) -> bytes:
    """A one-question query for a plain dotted name."""
    return message([question(encode_name(name), qtype)], **header_fields)


def slices_of(
    messages: Sequence[bytes],
    *,
    ip_version: int = 4,
    transport: int = TRANSPORT_UDP,
    gap: bytes = b"\xee\xee\xee",
) -> MessageSlices:
    """Slices over `messages` laid in one buffer with `gap` bytes between them (to catch overreads)."""
    chunks: list[bytes] = []
    offsets: list[int] = []
    position = 0
    for wire in messages:
        chunks.append(gap)
        position += len(gap)
        offsets.append(position)
        chunks.append(wire)
        position += len(wire)
    chunks.append(gap)
    count = len(messages)
    src = np.zeros((count, 16), dtype=np.uint8)
    dst = np.zeros((count, 16), dtype=np.uint8)
    if ip_version == 4:
        src[:, :4] = (192, 0, 2, 1)
        dst[:, :4] = (198, 51, 100, 53)
    else:
        src[:, :2] = (0x20, 0x01)
        src[:, 2:4] = (0x0D, 0xB8)
        src[:, 15] = 1
        dst[:, :2] = (0x20, 0x01)
        dst[:, 2:4] = (0x0D, 0xB8)
        dst[:, 15] = 0x53
    return MessageSlices(
        buffer=np.frombuffer(b"".join(chunks), dtype=np.uint8).copy(),
        offset=np.array(offsets, dtype=np.int64),
        length=np.array([len(wire) for wire in messages], dtype=np.int32),
        ts_ns=np.arange(count, dtype=np.int64) * 1_000 + 1_700_000_000_000_000_000,
        ip_version=np.full(count, ip_version, dtype=np.uint8),
        src_addr=src,
        dst_addr=dst,
        src_port=np.full(count, 40000, dtype=np.uint16),
        dst_port=np.full(count, 53, dtype=np.uint16),
        transport=np.full(count, transport, dtype=np.uint8),
    )


@dataclass(frozen=True, slots=True)
class UdpPayload:
    """One UDP datagram of a capture, for tests that compare the decoder with tshark."""

    frame_number: int
    ts_ns: int
    ip_version: int
    src_addr: bytes
    dst_addr: bytes
    src_port: int
    dst_port: int
    payload: bytes


def udp_payloads(path: Path) -> Iterator[UdpPayload]:
    """The UDP datagrams of an Ethernet pcap (802.1Q tags, IPv4 or IPv6 without extension headers).

    Other frames and IPv4 fragments are passed over. Frame numbers count from 1, as tshark's do.
    """
    data = path.read_bytes()
    magic = data[:4]
    if magic in (b"\xd4\xc3\xb2\xa1", b"\x4d\x3c\xb2\xa1"):
        endian = "<"
    elif magic in (b"\xa1\xb2\xc3\xd4", b"\xa1\xb2\x3c\x4d"):
        endian = ">"
    else:
        raise ValueError(f"{path}: not a pcap file")
    nanoseconds = magic in (b"\x4d\x3c\xb2\xa1", b"\xa1\xb2\x3c\x4d")
    linktype = struct.unpack(endian + "I", data[20:24])[0]
    if linktype != 1:
        raise ValueError(f"{path}: link type {linktype} is not Ethernet")
    position = 24
    frame_number = 0
    while position + 16 <= len(data):
        seconds, fraction, captured, _ = struct.unpack(endian + "IIII", data[position : position + 16])
        frame = data[position + 16 : position + 16 + captured]
        position += 16 + captured
        frame_number += 1
        ts_ns = seconds * 1_000_000_000 + (fraction if nanoseconds else fraction * 1_000)
        parsed = _udp_of_ethernet(frame)
        if parsed is not None:
            yield UdpPayload(frame_number, ts_ns, *parsed)


def _udp_of_ethernet(frame: bytes) -> tuple[int, bytes, bytes, int, int, bytes] | None:
    ethertype = struct.unpack("!H", frame[12:14])[0]
    cursor = 14
    while ethertype in (0x8100, 0x88A8):
        ethertype = struct.unpack("!H", frame[cursor + 2 : cursor + 4])[0]
        cursor += 4
    if ethertype == 0x0800:
        header_length = (frame[cursor] & 0x0F) * 4
        total_length = struct.unpack("!H", frame[cursor + 2 : cursor + 4])[0]
        fragment = struct.unpack("!H", frame[cursor + 6 : cursor + 8])[0]
        if frame[cursor + 9] != 17 or fragment & 0x3FFF:
            return None
        src, dst = frame[cursor + 12 : cursor + 16], frame[cursor + 16 : cursor + 20]
        udp = frame[cursor + header_length : cursor + total_length]
        version = 4
    elif ethertype == 0x86DD:
        payload_length = struct.unpack("!H", frame[cursor + 4 : cursor + 6])[0]
        if frame[cursor + 6] != 17:
            return None
        src, dst = frame[cursor + 8 : cursor + 24], frame[cursor + 24 : cursor + 40]
        udp = frame[cursor + 40 : cursor + 40 + payload_length]
        version = 6
    else:
        return None
    src_port, dst_port, udp_length = struct.unpack("!HHH", udp[:6])
    return version, src, dst, src_port, dst_port, udp[8:udp_length]


def slices_of_payloads(payloads: Sequence[UdpPayload]) -> MessageSlices:
    """Slices over the payloads of captured datagrams, with their real addresses, ports and times."""
    slices = slices_of([item.payload for item in payloads])
    src = np.zeros((len(payloads), 16), dtype=np.uint8)
    dst = np.zeros((len(payloads), 16), dtype=np.uint8)
    for index, item in enumerate(payloads):
        src[index, : len(item.src_addr)] = np.frombuffer(item.src_addr, dtype=np.uint8)
        dst[index, : len(item.dst_addr)] = np.frombuffer(item.dst_addr, dtype=np.uint8)
    return MessageSlices(
        buffer=slices.buffer,
        offset=slices.offset,
        length=slices.length,
        ts_ns=np.array([item.ts_ns for item in payloads], dtype=np.int64),
        ip_version=np.array([item.ip_version for item in payloads], dtype=np.uint8),
        src_addr=src,
        dst_addr=dst,
        src_port=np.array([item.src_port for item in payloads], dtype=np.uint16),
        dst_port=np.array([item.dst_port for item in payloads], dtype=np.uint16),
        transport=slices.transport,
    )
