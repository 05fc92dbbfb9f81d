"""The dnstap reader: Frame Streams framing, protobuf decoding, rows, damage handling."""

from __future__ import annotations

import struct
import tempfile
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dnsvigil.errors import UnsupportedFormatError
from dnsvigil.ingest.dnstap import (
    CONTENT_TYPE,
    MessageType,
    SocketFamily,
    SocketProtocol,
    decode_payloads,
)
from dnsvigil.ingest.dnstap_stream import DnstapStreamDecoder, read_dnstap
from dnsvigil.ingest.frame_streams import ControlFrame, ControlType, split_frames
from dnsvigil.ingest.protobuf_wire import read_key, read_varint, skip_field
from dnsvigil.ingest.reasons import Reason
from tests.ingest import dnstap_builder as b
from tests.ingest.dnstap_rows import (
    CLIENT6,
    SERVER,
    SERVER6,
    T0,
    T1,
    Row,
    counts_of,
    many_messages,
    ns,
    query,
    read_all,
    rows_of,
)

# --- the real file --------------------------------------------------------------------------------


def kdig_file_messages() -> list[b.TapMessage]:
    """What the reference file holds, as read from its bytes: kdig's TOOL_QUERY and TOOL_RESPONSE."""
    common = {
        "socket_family": b.INET,
        "socket_protocol": b.UDP,
        "query_address": bytes(4),
        "response_address": b"\xac\x11\x00\x01",
        "query_port": 60417,
        "response_port": 53,
        "identity": None,
        "version": b"kdig 2.6.5",
    }
    return [
        b.TapMessage(
            message_type=b.TOOL_QUERY,
            query_time=(1573730567, 83350),
            query_message=b.dns_query("google.com", ident=0x8520),
            **common,  # type: ignore[arg-type]
        ),
        b.TapMessage(
            message_type=b.TOOL_RESPONSE,
            query_time=None,
            response_time=(1573730567, 65816434),
            response_message=b.dns_response("google.com", bytes([216, 58, 211, 14]), ident=0x8520),
            **common,  # type: ignore[arg-type]
        ),
    ]


def test_builder_reproduces_the_real_file(pcaps_dir: Path) -> None:
    real = (pcaps_dir / "dsc__test.dnstap").read_bytes()
    built = b.dnstap_stream(message.encode() for message in kdig_file_messages())
    assert built == real


def test_real_file(pcaps_dir: Path) -> None:
    rows, counts, batches = read_all(pcaps_dir / "dsc__test.dnstap")
    assert counts == {}
    assert sum(batch.records for batch in batches) == 2
    assert sum(batch.bytes_read for batch in batches) == 240
    query_row, response_row = rows
    assert [b.question_name(row.message) for row in rows] == ["google.com", "google.com"]
    assert query_row.message[2] & 0x80 == 0 and response_row.message[2] & 0x80
    assert response_row.message[-4:] == bytes([216, 58, 211, 14])
    assert query_row.message == b.dns_query("google.com", ident=0x8520)
    assert (query_row.src, query_row.src_port, query_row.dst, query_row.dst_port) == (
        "0.0.0.0", 60417, "172.17.0.1", 53,
    )  # fmt: skip
    assert (response_row.src, response_row.src_port, response_row.dst, response_row.dst_port) == (
        "172.17.0.1", 53, "0.0.0.0", 60417,
    )  # fmt: skip
    assert query_row.ts_ns == 1573730567_000083350
    assert response_row.ts_ns == 1573730567_065816434
    assert {(row.ip_version, row.transport) for row in rows} == {(4, 17)}
    assert len(query_row.message) == 28 and len(response_row.message) == 44


# --- rows from synthetic files --------------------------------------------------------------------


def test_enums_follow_dnstap_proto() -> None:
    assert [MessageType.AUTH_QUERY, MessageType.CLIENT_RESPONSE, MessageType.UPDATE_RESPONSE] == [1, 6, 14]
    assert [SocketFamily.INET, SocketFamily.INET6] == [1, 2]
    assert [SocketProtocol.UDP, SocketProtocol.DOH, SocketProtocol.DOQ] == [1, 4, 7]
    assert CONTENT_TYPE == b"protobuf:dnstap.Dnstap"


def test_ipv4_udp_query(tmp_path: Path) -> None:
    message = query("www.example.org", query_time=T0)
    rows, counts, _ = read_all(b.write_dnstap(tmp_path / "q.dnstap", [message.encode()]))
    assert counts == {}
    assert rows == [
        Row(b.dns_query("www.example.org"), ns(T0), 4, "192.0.2.1", "198.51.100.53", 40000, 53, 17)
    ]


def test_ipv6_tcp_response_carries_query_and_response(tmp_path: Path) -> None:
    response = b.dns_response("example.net", SERVER6)
    message = b.TapMessage(
        message_type=b.CLIENT_RESPONSE,
        socket_family=b.INET6,
        socket_protocol=b.TCP,
        query_address=CLIENT6,
        response_address=SERVER6,
        query_port=5353,
        response_port=53,
        query_time=T0,
        query_message=b.dns_query("example.net", qtype=28),
        response_time=T1,
        response_message=response,
    )
    rows, counts, _ = read_all(b.write_dnstap(tmp_path / "r.dnstap", [message.encode()]))
    assert counts == {}
    assert rows == [
        Row(b.dns_query("example.net", qtype=28), ns(T0), 6, "2001:db8::1", "2001:db8::53", 5353, 53, 6),
        Row(response, ns(T1), 6, "2001:db8::53", "2001:db8::1", 53, 5353, 6),
    ]


@pytest.mark.parametrize(
    ("protocol", "http", "transport"),
    [
        (b.UDP, None, 17), (b.TCP, None, 6), (b.DOT, None, 6), (b.DOH, None, 6), (b.DOH, 2, 6),
        (b.DOH, 3, 17), (b.DNSCRYPT_UDP, None, 17), (b.DNSCRYPT_TCP, None, 6), (b.DOQ, None, 17),
        (None, None, 17), (99, None, 17),
    ],
)  # fmt: skip
def test_transport_of_socket_protocol(
    tmp_path: Path, protocol: int | None, http: int | None, transport: int
) -> None:
    message = query(socket_protocol=protocol, http_protocol=http)
    rows, _, _ = read_all(b.write_dnstap(tmp_path / "t.dnstap", [message.encode()]))
    assert [row.transport for row in rows] == [transport]


def test_missing_fields_have_defaults(tmp_path: Path) -> None:
    no_family_v6 = query(socket_family=None, query_address=CLIENT6, response_address=None, response_port=None)
    no_family_v4 = query(socket_family=None, query_address=None, response_address=SERVER, query_port=None)
    response_only_query_time = b.TapMessage(
        message_type=b.AUTH_RESPONSE,
        query_time=T0,
        response_time=None,
        response_message=b.dns_response("a.b", SERVER),
    )
    no_time_at_all = query(query_time=None, socket_family=None, query_address=None, response_address=None)
    payloads = [m.encode() for m in (no_family_v6, no_family_v4, response_only_query_time, no_time_at_all)]
    rows, counts, _ = read_all(b.write_dnstap(tmp_path / "m.dnstap", payloads))
    assert counts == {}
    assert [(r.ip_version, r.src, r.dst, r.src_port, r.dst_port) for r in rows] == [
        (6, "2001:db8::1", "::", 40000, 0),
        (4, "0.0.0.0", "198.51.100.53", 0, 53),
        (4, "198.51.100.53", "192.0.2.1", 53, 40000),
        (4, "0.0.0.0", "0.0.0.0", 40000, 53),
    ]
    assert [r.ts_ns for r in rows] == [ns(T0), ns(T0), ns(T0), 0]


def test_frames_without_dns_message_make_no_row_and_are_counted_as_skipped(tmp_path: Path) -> None:
    bare = b.TapMessage(query_message=None).encode()
    other_type = query(dnstap_type=2).encode()
    no_message = b.bytes_field(1, b"id") + b.varint_field(15, 1)
    good = query("kept.example").encode()
    rows, counts, batches = read_all(
        b.write_dnstap(tmp_path / "n.dnstap", [bare, other_type, no_message, good])
    )
    assert [b.question_name(row.message) for row in rows] == ["kept.example"]
    assert counts == {"dnstap_no_dns_message": 3}
    assert not Reason.DNSTAP_NO_DNS_MESSAGE.is_malformed
    assert sum(batch.records for batch in batches) == 4


def test_unknown_and_skipped_fields_are_stepped_over(tmp_path: Path) -> None:
    extras = (
        b.fixed64_field(40, 7)
        + b.varint_field(99, 1 << 63)
        + b.fixed32_field(1000, 1)
        + b.bytes_field(15, b"\x0a\x03RPZ")
    )
    message = query(
        "skip.example", query_zone=b.dns_name("example"), extra_message_fields=extras, version=b"9.18"
    )
    payload = b.fixed64_field(50, 1) + message.encode() + b.bytes_field(3, b"extra")
    rows, counts, _ = read_all(b.write_dnstap(tmp_path / "u.dnstap", [payload]))
    assert counts == {}
    assert [b.question_name(row.message) for row in rows] == ["skip.example"]


def test_repeated_message_fields_merge(tmp_path: Path) -> None:
    first = b.bytes_field(14, b.varint_field(1, 5) + b.bytes_field(10, b.dns_query("merged.example")))
    second = b.bytes_field(14, b.varint_field(6, 1234) + b.varint_field(8, T0[0]))
    rows, counts, _ = read_all(
        b.write_dnstap(tmp_path / "merge.dnstap", [first + second + b.varint_field(15, 1)])
    )
    assert counts == {}
    assert [(b.question_name(r.message), r.src_port, r.ts_ns) for r in rows] == [
        ("merged.example", 1234, T0[0] * 10**9)
    ]


BAD_MESSAGES = {
    "cut varint": query().encode() + b"\x80",
    "cut length": query().encode() + b.key(1, b.LENGTH_DELIMITED) + b"\x05ab",
    "group wire type": query().encode() + b.key(7, 3),
    "field zero": b"\x00\x01" + query().encode(),
    "message as varint": b.varint_field(14, 3),
    "type as bytes": query().encode() + b.bytes_field(15, b"x"),
    "identity as varint": b.varint_field(1, 1) + query().encode(),
    "query_message as varint": b.bytes_field(14, b.varint_field(10, 1)),
    "nsec as varint": b.bytes_field(14, b.varint_field(9, 1) + b.bytes_field(10, b.dns_query("x"))),
    "address of 5 bytes": query(query_address=b"\x01\x02\x03\x04\x05").encode(),
    "v6 address in INET": query(query_address=CLIENT6).encode(),
    "v4 address in INET6": query(socket_family=b.INET6).encode(),
    "port above 65535": query(response_port=70000).encode(),
    "time past 2262": query(query_time=(1 << 40, 0)).encode(),
    "negative port": query(query_port=-1).encode(),
    "message overruns frame": b.key(14, b.LENGTH_DELIMITED) + b.varint(200) + b"\x08\x05",
    "overlong varint": b"\x78" + b"\xff" * 10 + b"\x01",
}


@pytest.mark.parametrize("payload", BAD_MESSAGES.values(), ids=BAD_MESSAGES.keys())
def test_bad_message_is_counted_and_reading_goes_on(tmp_path: Path, payload: bytes) -> None:
    good = [query("before.example").encode(), query("after.example").encode()]
    rows, counts, batches = read_all(b.write_dnstap(tmp_path / "bad.dnstap", [good[0], payload, good[1]]))
    assert [b.question_name(row.message) for row in rows] == ["before.example", "after.example"]
    assert counts == {"dnstap_bad_message": 1}
    assert sum(batch.records for batch in batches) == 3


# --- the pieces a socket listener uses ------------------------------------------------------------


def test_split_frames_finds_frames_and_controls() -> None:
    stream = b.dnstap_stream([b"abc", b"de"])
    buffer = np.frombuffer(stream + b"\x00\x00", np.uint8)
    split = split_frames(buffer)
    assert [
        buffer[o : o + n].tobytes() for o, n in zip(split.data_offset, split.data_length, strict=True)
    ] == [b"abc", b"de"]
    assert [control.control_type for _, control in split.controls] == [ControlType.START, ControlType.STOP]
    assert split.consumed == len(stream) and split.broken_at == -1


def test_control_frame_wire_round_trip() -> None:
    ready = ControlFrame(ControlType.READY, (CONTENT_TYPE, b"other"))
    assert ready.to_wire() == b.control_frame(b.READY, [CONTENT_TYPE, b"other"])
    assert ControlFrame.from_wire(ready.to_wire()[8:]) == ready
    assert (
        ControlFrame.from_wire(struct.pack(">III", 2, 7, 1) + b"x").content_types == ()
    )  # unknown field type


@given(st.integers(min_value=0, max_value=(1 << 64) - 1))
def test_varint_round_trip(value: int) -> None:
    encoded = np.frombuffer(b.varint(value) + b"\x05", np.uint8)
    decoded, pos = read_varint(encoded, 0, len(encoded))
    assert (int(decoded), pos) == (value, len(encoded) - 1)
    assert read_varint(encoded, 0, len(encoded) - 2)[1] == -1


def test_key_and_skip() -> None:
    data = np.frombuffer(b.key(14, b.LENGTH_DELIMITED) + b"\x02ab" + b.fixed64_field(3, 1), np.uint8)
    field, wire_type, pos = read_key(data, 0, len(data))
    assert (field, wire_type, pos) == (14, 2, 1)
    after = skip_field(data, pos, len(data), wire_type)
    assert after == 4
    assert skip_field(data, read_key(data, after, len(data))[2], len(data), 1) == len(data)
    assert skip_field(data, 0, len(data), 3) == -1


# --- never crash, never hang ----------------------------------------------------------------------


def decode_in_pieces(data: bytes, cuts: list[int]) -> tuple[list[Row], dict[str, int]]:
    decoder = DnstapStreamDecoder()
    batches = []
    start = 0
    for cut in [*sorted(cuts), len(data)]:
        batches.append(decoder.feed(data[start:cut]).batch)
        start = max(start, cut)
    batches.append(decoder.close())
    return rows_of(batches), counts_of(batches)


def check_rows(rows: list[Row]) -> None:
    for row in rows:
        assert row.ip_version in (4, 6) and row.transport in (6, 17)


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=300), st.lists(st.integers(0, 300), max_size=5))
def test_random_bytes_never_crash(data: bytes, cuts: list[int]) -> None:
    try:
        rows, _ = decode_in_pieces(data, cuts)
    except UnsupportedFormatError:
        return
    check_rows(rows)


VALID = b.dnstap_stream(many_messages(6), bidirectional=True)


@settings(max_examples=400, deadline=None)
@given(st.data())
def test_mutated_streams_never_crash(data: st.DataObject) -> None:
    stream = bytearray(VALID)
    for _ in range(data.draw(st.integers(1, 4))):
        action = data.draw(st.sampled_from(["flip", "cut", "insert", "delete"]))
        pos = data.draw(st.integers(0, max(len(stream) - 1, 0)))
        if action == "flip" and stream:
            stream[pos] ^= data.draw(st.integers(1, 255))
        elif action == "cut":
            del stream[pos:]
        elif action == "insert":
            stream[pos:pos] = data.draw(st.binary(min_size=1, max_size=8))
        else:
            del stream[pos : pos + data.draw(st.integers(1, 8))]
    cuts = data.draw(st.lists(st.integers(0, len(stream)), max_size=3))
    try:
        rows, counts = decode_in_pieces(bytes(stream), cuts)
    except UnsupportedFormatError:
        return
    check_rows(rows)
    assert len(rows) <= 9 + 2 * 8
    assert set(counts) <= {"dnstap_bad_frame", "dnstap_bad_message", "dnstap_no_dns_message"}


@settings(max_examples=300, deadline=None)
@given(st.lists(st.binary(max_size=80), max_size=6))
def test_random_payloads_never_crash(payloads: list[bytes]) -> None:
    batch = decode_payloads(payloads)
    check_rows(rows_of([batch]))
    assert len(batch.slices) <= 2 * len(payloads)
    assert batch.counts.sum() <= len(payloads)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.binary(max_size=200), st.integers(1, 64))
def test_read_dnstap_on_random_files(data: bytes, chunk_bytes: int) -> None:
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "random.dnstap"
        path.write_bytes(VALID[:40] + data)
        try:
            batches = list(read_dnstap(path, chunk_bytes=chunk_bytes))
        except UnsupportedFormatError as error:
            assert str(path) in str(error)
            return
        check_rows(rows_of(batches))
        assert sum(batch.bytes_read for batch in batches) <= path.stat().st_size
