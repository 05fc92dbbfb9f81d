"""Write dnstap files for tests: Frame Streams framing and protobuf encoding done by hand with struct.

Independent of the reader under test: it follows dnstap.proto, the protobuf encoding guide and the Frame
Streams protocol description directly, and reproduces a real kdig-written file byte for byte (see the tests).
"""

from __future__ import annotations

import struct
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

DNSTAP_CONTENT_TYPE = b"protobuf:dnstap.Dnstap"

# Frame Streams control frame types and field type.
ACCEPT, START, STOP, READY, FINISH = 1, 2, 3, 4, 5
FIELD_CONTENT_TYPE = 1

# dnstap.proto enums used by the tests.
CLIENT_QUERY, CLIENT_RESPONSE = 5, 6
AUTH_QUERY, AUTH_RESPONSE = 1, 2
TOOL_QUERY, TOOL_RESPONSE = 11, 12
INET, INET6 = 1, 2
UDP, TCP, DOT, DOH, DNSCRYPT_UDP, DNSCRYPT_TCP, DOQ = 1, 2, 3, 4, 5, 6, 7

# Protobuf wire types.
VARINT, FIXED64, LENGTH_DELIMITED, FIXED32 = 0, 1, 2, 5


def varint(value: int) -> bytes:
    """A base-128 varint, low group first; negative values as their 64-bit two's complement."""
    value &= (1 << 64) - 1
    out = bytearray()
    while True:
        group = value & 0x7F
        value >>= 7
        if value:
            out.append(group | 0x80)
        else:
            out.append(group)
            return bytes(out)


def key(field: int, wire_type: int) -> bytes:
    return varint(field << 3 | wire_type)


def varint_field(field: int, value: int) -> bytes:
    return key(field, VARINT) + varint(value)


def bytes_field(field: int, data: bytes) -> bytes:
    return key(field, LENGTH_DELIMITED) + varint(len(data)) + data


def fixed32_field(field: int, value: int) -> bytes:
    return key(field, FIXED32) + struct.pack("<I", value)


def fixed64_field(field: int, value: int) -> bytes:
    return key(field, FIXED64) + struct.pack("<Q", value)


@dataclass
class TapMessage:
    """One `Dnstap` carrying a `Message`; None leaves a field out. Fields are written in number order."""

    message_type: int = CLIENT_QUERY
    socket_family: int | None = INET
    socket_protocol: int | None = UDP
    query_address: bytes | None = b"\xc0\x00\x02\x01"
    response_address: bytes | None = b"\xc6\x33\x64\x35"
    query_port: int | None = 40000
    response_port: int | None = 53
    query_time: tuple[int, int] | None = (1_700_000_000, 123_456_789)
    query_message: bytes | None = None
    query_zone: bytes | None = None
    response_time: tuple[int, int] | None = None
    response_message: bytes | None = None
    http_protocol: int | None = None
    identity: bytes | None = b"test-server"
    version: bytes | None = None
    dnstap_type: int | None = 1
    extra_message_fields: bytes = b""

    def message_bytes(self) -> bytes:
        out = varint_field(1, self.message_type)
        if self.socket_family is not None:
            out += varint_field(2, self.socket_family)
        if self.socket_protocol is not None:
            out += varint_field(3, self.socket_protocol)
        if self.query_address is not None:
            out += bytes_field(4, self.query_address)
        if self.response_address is not None:
            out += bytes_field(5, self.response_address)
        if self.query_port is not None:
            out += varint_field(6, self.query_port)
        if self.response_port is not None:
            out += varint_field(7, self.response_port)
        if self.query_time is not None:
            out += varint_field(8, self.query_time[0]) + fixed32_field(9, self.query_time[1])
        if self.query_message is not None:
            out += bytes_field(10, self.query_message)
        if self.query_zone is not None:
            out += bytes_field(11, self.query_zone)
        if self.response_time is not None:
            out += varint_field(12, self.response_time[0]) + fixed32_field(13, self.response_time[1])
        if self.response_message is not None:
            out += bytes_field(14, self.response_message)
        if self.http_protocol is not None:
            out += varint_field(16, self.http_protocol)
        return out + self.extra_message_fields

    def encode(self) -> bytes:
        out = b""
        if self.identity is not None:
            out += bytes_field(1, self.identity)
        if self.version is not None:
            out += bytes_field(2, self.version)
        out += bytes_field(14, self.message_bytes())
        if self.dnstap_type is not None:
            out += varint_field(15, self.dnstap_type)
        return out


def data_frame(payload: bytes) -> bytes:
    return struct.pack(">I", len(payload)) + payload


def control_frame(control_type: int, content_types: Sequence[bytes] = ()) -> bytes:
    body = struct.pack(">I", control_type)
    for content_type in content_types:
        body += struct.pack(">II", FIELD_CONTENT_TYPE, len(content_type)) + content_type
    return struct.pack(">II", 0, len(body)) + body


def dnstap_stream(
    payloads: Iterable[bytes],
    *,
    bidirectional: bool = False,
    content_type: bytes | None = DNSTAP_CONTENT_TYPE,
    stop: bool = True,
) -> bytes:
    """A whole stream: [READY,] START, one data frame per payload, STOP[, FINISH]."""
    types = [content_type] if content_type is not None else []
    out = b""
    if bidirectional:
        out += control_frame(READY, [*types, b"protobuf:other.Thing"])
    out += control_frame(START, types)
    out += b"".join(data_frame(payload) for payload in payloads)
    if stop:
        out += control_frame(STOP)
        if bidirectional:
            out += control_frame(FINISH)
    return out


def write_dnstap(
    path: Path,
    payloads: Iterable[bytes],
    *,
    bidirectional: bool = False,
    content_type: bytes | None = DNSTAP_CONTENT_TYPE,
    stop: bool = True,
) -> Path:
    path.write_bytes(
        dnstap_stream(payloads, bidirectional=bidirectional, content_type=content_type, stop=stop)
    )
    return path


def dns_name(name: str) -> bytes:
    out = b""
    for label in name.rstrip(".").split("."):
        if label:
            out += bytes([len(label)]) + label.encode("ascii")
    return out + b"\x00"


def dns_query(name: str, *, qtype: int = 1, ident: int = 0x1234) -> bytes:
    """A wire-format query with one question, RD set."""
    return struct.pack(">HHHHHH", ident, 0x0100, 1, 0, 0, 0) + dns_name(name) + struct.pack(">HH", qtype, 1)


def dns_response(name: str, address: bytes, *, ident: int = 0x1234) -> bytes:
    """A wire-format response with one A (4-byte address) or AAAA (16) answer, compressed to the question."""
    qtype = 1 if len(address) == 4 else 28
    header = struct.pack(">HHHHHH", ident, 0x8180, 1, 1, 0, 0)
    question = dns_name(name) + struct.pack(">HH", qtype, 1)
    answer = struct.pack(">HHHIH", 0xC00C, qtype, 1, 300, len(address)) + address
    return header + question + answer


def question_name(message: bytes) -> str:
    """The question name of a wire-format DNS message, read by hand (no compression in questions)."""
    pos = 12
    labels = []
    while message[pos]:
        length = message[pos]
        labels.append(message[pos + 1 : pos + 1 + length].decode("ascii"))
        pos += 1 + length
    return ".".join(labels)
