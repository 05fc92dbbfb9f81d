"""The compiled DNS decoder: header, question, EDNS, damage handling, Arrow output, and tshark's view."""

from __future__ import annotations

import shutil
import struct
import subprocess
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dnsvigil.ingest.dns_wire import decode_messages
from dnsvigil.ingest.reasons import Reason, new_counts
from dnsvigil.ingest.slices import TRANSPORT_TCP, MessageSlices
from dnsvigil.store.schema import DNS_MESSAGES
from tests.ingest.dns_builder import (
    TYPE_A,
    TYPE_AAAA,
    TYPE_CNAME,
    TYPE_NS,
    TYPE_OPT,
    encode_labels,
    encode_name,
    header,
    message,
    opt_record,
    option,
    pointer,
    presentation_text,
    query,
    question,
    record,
    slices_of,
    slices_of_payloads,
    udp_payloads,
)

EDNS_COLUMNS = ("edns_version", "edns_udp_size", "edns_do", "edns_nsid", "edns_ecs", "edns_cookie")
QUESTION_COLUMNS = ("qname", "qname_mixed_case", "qtype", "qclass")
DNS_REASONS = [reason for reason in Reason if reason >= Reason.DNS_TRUNCATED_QUESTION]


def decode_slices(slices: MessageSlices, counts: np.ndarray | None = None) -> list[dict[str, Any]]:
    """Decode, check the batch against the schema, and return its rows (ts as int64 nanoseconds)."""
    counts = new_counts() if counts is None else counts
    batch = decode_messages(slices, counts, "capture.pcap")
    assert batch.schema == DNS_MESSAGES.schema
    assert batch.schema.metadata == DNS_MESSAGES.schema.metadata
    batch.validate(full=True)
    table = pa.Table.from_batches([batch])
    table = table.set_column(0, "ts", table["ts"].cast(pa.int64()))
    return table.to_pylist()


def decode(*messages: bytes, counts: np.ndarray | None = None) -> list[dict[str, Any]]:
    return decode_slices(slices_of(list(messages)), counts)


def decode_one(wire: bytes) -> dict[str, Any]:
    counts = new_counts()
    (row,) = decode(wire, counts=counts)
    if row["malformed"]:
        assert counts[Reason[row["malformed_reason"].upper()]] == 1
    assert int(counts.sum()) == int(row["malformed"])
    return row


# A response of every section, compressed, with an OPT record at the end.
QNAME = encode_name("WWW.Example.com")  # at offset 12
RESPONSE_SECTIONS = (
    [question(QNAME, TYPE_A)],
    [
        record(pointer(12), TYPE_CNAME, encode_labels([b"cdn"], terminate=False) + pointer(16)),
        record(pointer(12), TYPE_A, bytes([192, 0, 2, 80])),
    ],
    [record(pointer(16), TYPE_NS, encode_labels([b"ns1"], terminate=False) + pointer(16))],
    [
        record(encode_labels([b"ns1"], terminate=False) + pointer(16), TYPE_AAAA, bytes(15) + b"\x01"),
        opt_record(udp_size=1232, do=True, options=[option(10, bytes(24)), option(3)]),
    ],
)
RESPONSE = message(*RESPONSE_SECTIONS, qr=True, aa=True, ra=True, dns_id=0xBEEF)


# --- the batch ---------------------------------------------------------------------------------------


def test_a_query_makes_one_full_row() -> None:
    (row,) = decode(query("www.Example.com", TYPE_AAAA, dns_id=0x0102))
    assert row == {
        "ts": 1_700_000_000_000_000_000,
        "src_addr": "192.0.2.1",
        "dst_addr": "198.51.100.53",
        "src_port": 40000,
        "dst_port": 53,
        "ip_version": 4,
        "transport": "udp",
        "msg_len": 33,
        "dns_id": 0x0102,
        "qr": False,
        "opcode": 0,
        "aa": False,
        "tc": False,
        "rd": True,
        "ra": False,
        "ad": False,
        "cd": False,
        "rcode": 0,
        "qdcount": 1,
        "ancount": 0,
        "nscount": 0,
        "arcount": 0,
        "qname": "www.example.com",
        "qname_mixed_case": True,
        "qtype": TYPE_AAAA,
        "qclass": 1,
        "edns_present": False,
        "edns_version": None,
        "edns_udp_size": None,
        "edns_do": None,
        "edns_nsid": None,
        "edns_ecs": None,
        "edns_cookie": None,
        "malformed": False,
        "malformed_reason": None,
        "source_file": "capture.pcap",
    }


def test_a_response_with_every_section_is_read_to_its_opt_record() -> None:
    row = decode_one(RESPONSE)
    assert row["malformed"] is False
    assert (row["qr"], row["aa"], row["ra"], row["dns_id"]) == (True, True, True, 0xBEEF)
    assert (row["qdcount"], row["ancount"], row["nscount"], row["arcount"]) == (1, 2, 1, 2)
    assert (row["qname"], row["qname_mixed_case"], row["qtype"]) == ("www.example.com", True, TYPE_A)
    assert row["edns_present"] is True
    assert [row[name] for name in EDNS_COLUMNS] == [0, 1232, True, True, False, True]


def test_transport_addresses_and_times_come_from_the_slices() -> None:
    slices = slices_of(
        [query("a.example"), b"short", query("b.example")], ip_version=6, transport=TRANSPORT_TCP
    )
    rows = decode_slices(slices)
    assert [row["qname"] for row in rows] == ["a.example", "b.example"]
    assert [row["ts"] for row in rows] == [int(slices.ts_ns[0]), int(slices.ts_ns[2])]
    assert {row["src_addr"] for row in rows} == {"2001:db8::1"}
    assert {row["dst_addr"] for row in rows} == {"2001:db8::53"}
    assert {(row["ip_version"], row["transport"]) for row in rows} == {(6, "tcp")}
    assert [row["msg_len"] for row in rows] == [len(query("a.example"))] * 2


def test_mixed_ip_versions_and_ports_stay_with_their_rows() -> None:
    base = slices_of([query("a"), b"", query("b"), query("c")])
    ip_version = np.array([6, 4, 4, 6], dtype=np.uint8)
    src = base.src_addr.copy()
    src[0] = np.frombuffer(bytes.fromhex("fe800000000000000000000000000001"), dtype=np.uint8)
    src[3] = np.frombuffer(bytes(10) + b"\xff\xff" + bytes([203, 0, 113, 9]), dtype=np.uint8)
    slices = MessageSlices(
        buffer=base.buffer,
        offset=base.offset,
        length=base.length,
        ts_ns=np.array([5, 6, 7, 8], dtype=np.int64),
        ip_version=ip_version,
        src_addr=src,
        dst_addr=base.dst_addr,
        src_port=np.array([1, 2, 3, 4], dtype=np.uint16),
        dst_port=np.array([53, 53, 5353, 53], dtype=np.uint16),
        transport=np.array([17, 6, 6, 17], dtype=np.uint8),
    )
    rows = decode_slices(slices)
    assert [(row["qname"], row["ts"], row["src_port"], row["dst_port"]) for row in rows] == [
        ("a", 5, 1, 53),
        ("b", 7, 3, 5353),
        ("c", 8, 4, 53),
    ]
    assert [row["src_addr"] for row in rows] == ["fe80::1", "192.0.2.1", "::ffff:203.0.113.9"]
    assert [row["transport"] for row in rows] == ["udp", "tcp", "udp"]


def test_no_slices_make_an_empty_batch_of_the_schema() -> None:
    counts = new_counts()
    batch = decode_messages(MessageSlices.empty(), counts, "empty.pcap")
    assert batch.num_rows == 0
    assert batch.schema == DNS_MESSAGES.schema
    assert not counts.any()


def test_counts_are_added_to_not_replaced() -> None:
    counts = new_counts()
    counts[Reason.DNS_TOO_SHORT] = 5
    counts[Reason.NOT_IP] = 7
    decode(b"\x00" * 3, query("a"), counts=counts)
    assert counts[Reason.DNS_TOO_SHORT] == 6
    assert counts[Reason.NOT_IP] == 7


def test_dictionary_columns_use_one_dictionary_per_batch() -> None:
    batch = decode_messages(slices_of([query("a"), query("b", dns_id=1)]), new_counts(), "x.pcap")
    assert batch.column("source_file").dictionary.to_pylist() == ["x.pcap"]
    assert batch.column("transport").dictionary.to_pylist() == ["udp", "tcp"]
    assert batch.column("malformed_reason").dictionary.to_pylist() == [reason.label for reason in Reason]
    assert batch.column("malformed_reason").null_count == 2


# --- the header -------------------------------------------------------------------------------------


@pytest.mark.parametrize("flag", ["qr", "aa", "tc", "rd", "ra", "ad", "cd"])
def test_each_header_flag_sets_its_column_alone(flag: str) -> None:
    flags = {name: False for name in ("qr", "aa", "tc", "rd", "ra", "ad", "cd")}
    flags[flag] = True
    row = decode_one(message([question(QNAME)], **flags))
    assert {name: row[name] for name in flags} == flags


def test_the_z_bit_sets_no_flag() -> None:
    row = decode_one(message([question(QNAME)], z=True, rd=False))
    assert not any(row[name] for name in ("qr", "aa", "tc", "rd", "ra", "ad", "cd"))


@pytest.mark.parametrize(("opcode", "rcode"), [(0, 0), (1, 3), (2, 5), (4, 2), (5, 9), (15, 15)])
def test_opcode_and_rcode(opcode: int, rcode: int) -> None:
    row = decode_one(message([question(QNAME)], opcode=opcode, rcode=rcode, qr=True))
    assert (row["opcode"], row["rcode"]) == (opcode, rcode)


def test_header_counts_and_id_are_read_as_unsigned() -> None:
    wire = header(dns_id=0xFFFF, qdcount=0, ancount=0, nscount=0, arcount=0)
    row = decode_one(wire)
    assert row["dns_id"] == 0xFFFF
    big = header(dns_id=0x8000, qdcount=0xFFFF, ancount=0xFFFE, nscount=0x8001, arcount=0x7FFF)
    row = decode_one(big)
    assert (row["qdcount"], row["ancount"], row["nscount"], row["arcount"]) == (
        0xFFFF,
        0xFFFE,
        0x8001,
        0x7FFF,
    )
    assert row["malformed_reason"] == "dns_truncated_question"


def test_no_question_leaves_the_question_columns_null() -> None:
    row = decode_one(message([], rcode=1, qr=True))
    assert [row[name] for name in QUESTION_COLUMNS] == [None] * 4
    assert row["malformed"] is False


def test_only_the_first_of_several_questions_is_reported() -> None:
    row = decode_one(message([question(encode_name("first.example"), 16), question(pointer(12), 1)]))
    assert (row["qdcount"], row["qname"], row["qtype"]) == (2, "first.example", 16)
    assert row["malformed"] is False


def test_root_qname_is_a_dot() -> None:
    row = decode_one(message([question(b"\x00", TYPE_NS)]))
    assert (row["qname"], row["qname_mixed_case"]) == (".", False)


def test_escaped_qname_and_qclass() -> None:
    row = decode_one(message([question(encode_labels([b"a.b", b"c\\d", b"e f"]), 16, qclass=3)]))
    assert (row["qname"], row["qclass"]) == ("a\\.b.c\\\\d.e\\032f", 3)


# --- too short and damaged ----------------------------------------------------------------------------


@pytest.mark.parametrize("length", range(12))
def test_messages_under_12_bytes_make_no_row(length: int) -> None:
    counts = new_counts()
    rows = decode(RESPONSE[:length], query("ok"), counts=counts)
    assert [row["qname"] for row in rows] == ["ok"]
    assert counts[Reason.DNS_TOO_SHORT] == 1
    assert counts.sum() == 1


def test_every_truncation_of_a_response_is_flagged_with_its_header_kept() -> None:
    question_end = 12 + len(QNAME) + 4
    for length in range(12, len(RESPONSE)):
        row = decode_one(RESPONSE[:length])
        assert row["malformed"] is True, length
        assert (row["dns_id"], row["qr"], row["ancount"], row["msg_len"]) == (0xBEEF, True, 2, length)
        if length < question_end:
            assert row["malformed_reason"] == "dns_truncated_question", length
            assert [row[name] for name in QUESTION_COLUMNS] == [None] * 4
        else:
            assert row["malformed_reason"] == "dns_truncated_record", length
            assert row["qname"] == "www.example.com"
        assert row["edns_present"] is False
        assert [row[name] for name in EDNS_COLUMNS] == [None] * len(EDNS_COLUMNS)
    assert decode_one(RESPONSE)["malformed"] is False


def test_a_bad_question_name_is_flagged_with_the_header_kept() -> None:
    row = decode_one(header(dns_id=7, rcode=3) + b"\x03www\x41\x00" + struct.pack("!HH", 1, 1))
    assert (row["malformed"], row["malformed_reason"]) == (True, "dns_bad_name")
    assert (row["dns_id"], row["rcode"], row["qdcount"]) == (7, 3, 1)
    assert [row[name] for name in QUESTION_COLUMNS] == [None] * 4


@pytest.mark.parametrize(
    "name",
    [
        pointer(12),  # points at itself
        pointer(20) + b"\x00" * 8,  # forward
        b"\x01a" + pointer(12),  # back to its own start: a loop
    ],
)
def test_bad_compression_in_the_first_question_is_a_bad_name(name: bytes) -> None:
    row = decode_one(header() + question(name))
    assert (row["malformed"], row["malformed_reason"], row["qname"]) == (True, "dns_bad_name", None)
    assert row["qdcount"] == 1


def test_a_pointer_loop_between_two_questions_ends() -> None:
    # The second question (skipped, not followed) is fine; the first points forward into it.
    wire = header(qdcount=2) + question(b"\x01a" + pointer(18)) + question(b"\x01b" + pointer(12))
    assert decode_one(wire)["malformed_reason"] == "dns_bad_name"


def test_a_pointer_into_the_header_is_backward_and_read() -> None:
    # Offset 4 holds qdcount's high byte, 00: the root label. Odd, but an earlier position, so valid.
    row = decode_one(header() + question(pointer(4)))
    assert (row["malformed"], row["qname"]) == (False, ".")


def test_a_pointer_loop_in_a_record_owner_does_not_hang() -> None:
    # Owners are stepped over, not followed, so a looping owner pointer is not looked at.
    wire = message(
        [question(QNAME)], [record(pointer(len(header()) + len(question(QNAME))), TYPE_A, bytes(4))]
    )
    assert decode_one(wire)["malformed"] is False


def test_a_reserved_label_type_in_a_record_is_a_bad_name() -> None:
    wire = message([question(QNAME)], [record(b"\x81", TYPE_A, bytes(4))])
    assert decode_one(wire)["malformed_reason"] == "dns_bad_name"


def test_an_rdlength_past_the_end_is_a_truncated_record() -> None:
    wire = message([question(QNAME)], [record(pointer(12), TYPE_A, bytes(4))])
    damaged = wire[:-6] + struct.pack("!H", 5) + wire[-4:]
    assert decode_one(damaged)["malformed_reason"] == "dns_truncated_record"


def test_more_records_announced_than_present_is_a_truncated_record() -> None:
    row = decode_one(message([question(QNAME)], arcount=1))
    assert (row["malformed_reason"], row["qname"]) == ("dns_truncated_record", "www.example.com")


def test_bytes_after_the_last_record_are_trailing_bytes() -> None:
    row = decode_one(message([question(QNAME)], additional=[opt_record()]) + b"\x00")
    assert row["malformed_reason"] == "dns_trailing_bytes"
    assert row["edns_present"] is True
    assert row["qname"] == "www.example.com"


def test_dso_tlvs_after_the_sections_are_not_trailing_bytes() -> None:
    keepalive = struct.pack("!HHII", 1, 8, 15_000, 15_000)  # RFC 8490 Keepalive TLV
    row = decode_one(header(opcode=6, qdcount=0, rd=False) + keepalive)
    assert (row["opcode"], row["malformed"], row["qname"]) == (6, False, None)
    assert decode_one(header(opcode=0, qdcount=0) + keepalive)["malformed_reason"] == "dns_trailing_bytes"


# --- EDNS -----------------------------------------------------------------------------------------------


def with_opt(opt: bytes, **header_fields: int | bool) -> dict[str, Any]:
    return decode_one(message([question(QNAME)], additional=[opt], **header_fields))


@pytest.mark.parametrize(
    ("options", "expected"),
    [
        ([], (False, False, False)),
        ([option(3)], (True, False, False)),
        ([option(8, bytes([0, 1, 24, 0, 192, 0, 2]))], (False, True, False)),
        ([option(10, bytes(8))], (False, False, True)),
        (
            [option(10, bytes(24)), option(8, bytes([0, 2, 56, 0]) + bytes(7)), option(3, b"ns")],
            (True, True, True),
        ),
        ([option(12, bytes(100)), option(15, b"\x00\x12")], (False, False, False)),  # padding, EDE
    ],
)
def test_edns_options_are_found(options: list[bytes], expected: tuple[bool, bool, bool]) -> None:
    row = with_opt(opt_record(options=options))
    assert (row["edns_nsid"], row["edns_ecs"], row["edns_cookie"]) == expected
    assert row["malformed"] is False


def test_edns_fixed_fields() -> None:
    row = with_opt(opt_record(udp_size=4096, version=1, do=True))
    assert (row["edns_present"], row["edns_version"], row["edns_udp_size"], row["edns_do"]) == (
        True,
        1,
        4096,
        True,
    )
    row = with_opt(opt_record(udp_size=512, version=0, do=False))
    assert (row["edns_version"], row["edns_udp_size"], row["edns_do"]) == (0, 512, False)


@pytest.mark.parametrize(
    ("header_rcode", "extended", "rcode"),
    [(0, 1, 16), (0, 0, 0), (3, 0, 3), (7, 1, 23), (15, 255, 4095), (2, 2, 34)],
)
def test_extended_rcode_joins_the_header_rcode(header_rcode: int, extended: int, rcode: int) -> None:
    row = with_opt(opt_record(extended_rcode=extended), rcode=header_rcode, qr=True)
    assert row["rcode"] == rcode


def test_badvers_response() -> None:
    row = with_opt(opt_record(extended_rcode=1, version=0, udp_size=1232), qr=True)
    assert (row["rcode"], row["edns_version"]) == (16, 0)


def test_the_opt_record_is_found_after_other_additional_records() -> None:
    row = decode_one(RESPONSE)
    assert (row["edns_present"], row["edns_udp_size"], row["edns_cookie"]) == (True, 1232, True)


def test_an_opt_type_outside_the_additional_section_is_not_edns() -> None:
    stray = opt_record(extended_rcode=1)
    row = decode_one(message([question(QNAME)], [stray], [stray], qr=True))
    assert (row["edns_present"], row["rcode"], row["malformed"]) == (False, 0, False)


@pytest.mark.parametrize(
    "additional",
    [
        [opt_record(), opt_record()],  # two OPT records
        [opt_record(owner=encode_name("example"))],  # not owned by the root
        [opt_record(owner=pointer(12))],
        [record(b"\x00", TYPE_OPT, option(10, bytes(8))[:-1], rclass=1232)],  # option overruns the data
        [record(b"\x00", TYPE_OPT, b"\x00\x0a\x00", rclass=1232)],  # half an option header
    ],
)
def test_bad_opt_records_are_flagged(additional: list[bytes]) -> None:
    row = decode_one(message([question(QNAME)], additional=additional))
    assert (row["malformed"], row["malformed_reason"]) == (True, "dns_bad_opt")
    assert row["edns_present"] is True
    assert row["qname"] == "www.example.com"


def test_a_bad_opt_keeps_its_fixed_fields_and_the_options_read_before_the_damage() -> None:
    damaged = record(b"\x00", TYPE_OPT, option(3) + b"\x00\x0a\x00\x10", rclass=1400, ttl=0x01008000)
    row = decode_one(message([question(QNAME)], additional=[damaged]))
    assert row["malformed_reason"] == "dns_bad_opt"
    assert (row["edns_udp_size"], row["edns_do"], row["rcode"], row["edns_nsid"], row["edns_cookie"]) == (
        1400,
        True,
        16,
        True,
        False,
    )


# --- growth of the name buffer ------------------------------------------------------------------------


def test_many_long_escaped_names_grow_the_text_buffer() -> None:
    labels = [bytes([index % 256]) * 63 for index in range(3)] + [b"\xff" * 61]
    wire = message([question(encode_labels(labels))])
    rows = decode(*([wire] * 300), query("last.example"))
    long_text = presentation_text(labels)
    assert len(long_text) > 1000  # 300 of them outgrow the 32 bytes a message the buffer starts with
    assert all(row["qname"] == long_text for row in rows[:300])
    assert rows[300]["qname"] == "last.example"


# --- contract violations -------------------------------------------------------------------------------


def replaced(slices: MessageSlices, **changes: np.ndarray) -> MessageSlices:
    fields = {name: getattr(slices, name) for name in MessageSlices.__dataclass_fields__}
    fields.update(changes)
    return MessageSlices(**fields)


@pytest.mark.parametrize(
    ("changes", "complaint"),
    [
        ({"length": np.array([10_000], dtype=np.int32)}, "outside its buffer"),
        ({"offset": np.array([-1], dtype=np.int64)}, "outside its buffer"),
        ({"ip_version": np.array([5], dtype=np.uint8)}, "ip_version"),
        ({"transport": np.array([1], dtype=np.uint8)}, "transport"),
    ],
)
def test_slices_breaking_their_contract_are_refused(changes: dict[str, np.ndarray], complaint: str) -> None:
    with pytest.raises(ValueError, match=complaint):
        decode_messages(replaced(slices_of([query("a")]), **changes), new_counts(), "x")


def test_a_counts_array_of_the_wrong_kind_is_refused() -> None:
    with pytest.raises(ValueError, match="counts"):
        decode_messages(slices_of([query("a")]), np.zeros(3, dtype=np.int64), "x")
    with pytest.raises(ValueError, match="counts"):
        decode_messages(slices_of([query("a")]), np.zeros(40, dtype=np.int32), "x")


# --- properties -----------------------------------------------------------------------------------------


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.binary(max_size=90) | st.sampled_from([RESPONSE]).map(lambda w: w[:60]), max_size=30))
def test_random_bytes_never_crash_and_every_long_message_makes_a_row(messages: list[bytes]) -> None:
    counts = new_counts()
    rows = decode(*messages, counts=counts)
    long_messages = [wire for wire in messages if len(wire) >= 12]
    assert len(rows) == len(long_messages)
    assert counts[Reason.DNS_TOO_SHORT] == len(messages) - len(long_messages)
    assert sum(int(counts[reason]) for reason in DNS_REASONS) == sum(row["malformed"] for row in rows)
    for wire, row in zip(long_messages, rows, strict=True):
        dns_id, flags, qdcount, ancount, nscount, arcount = struct.unpack("!6H", wire[:12])
        assert (row["dns_id"], row["qdcount"], row["ancount"], row["nscount"], row["arcount"]) == (
            dns_id,
            qdcount,
            ancount,
            nscount,
            arcount,
        )
        assert row["qr"] == bool(flags & 0x8000)
        assert row["rcode"] & 0xF == flags & 0xF
        assert (row["malformed_reason"] is None) == (not row["malformed"])
        assert (row["qname"] is None) == (row["qtype"] is None) == (row["qname_mixed_case"] is None)
        assert (row["edns_udp_size"] is None) == (not row["edns_present"])
        if row["qname"] is not None:
            assert row["qname"] == row["qname"].lower()
        if not row["edns_present"]:
            assert row["rcode"] == flags & 0xF


_LABELS = st.lists(st.binary(min_size=1, max_size=20), max_size=5)
_OPTIONS = st.lists(st.tuples(st.integers(0, 20), st.binary(max_size=12)), max_size=4)
_RECORDS = st.lists(
    st.tuples(st.integers(1, 0xFFFF).filter(lambda t: t != TYPE_OPT), st.binary(max_size=30)), max_size=6
)
_EDNS = st.none() | st.tuples(
    st.integers(0, 0xFFFF), st.integers(0, 255), st.integers(0, 255), st.booleans(), _OPTIONS
)
Edns = tuple[int, int, int, bool, list[tuple[int, bytes]]]


def well_formed(
    labels: list[bytes], qtype: int, records: list[tuple[int, bytes]], edns: Edns | None, rcode: int
) -> bytes:
    """A response with compressed owners, its OPT record (if any) among other additional records."""
    answers = [record(pointer(12), rtype, rdata) for rtype, rdata in records[:3]]
    additional = [record(pointer(12), rtype, rdata) for rtype, rdata in records[3:]]
    if edns is not None:
        udp_size, extended, version, do, options = edns
        opt = opt_record(
            udp_size=udp_size,
            extended_rcode=extended,
            version=version,
            do=do,
            options=[option(code, data) for code, data in options],
        )
        additional.insert(len(additional) // 2, opt)
    return message([question(encode_labels(labels), qtype)], answers, [], additional, rcode=rcode, qr=True)


@settings(max_examples=200)
@given(_LABELS, st.integers(0, 0xFFFF), _RECORDS, _EDNS, st.integers(0, 15))
def test_well_formed_messages_are_read_exactly(
    labels: list[bytes], qtype: int, records: list[tuple[int, bytes]], edns: Edns | None, rcode: int
) -> None:
    row = decode_one(well_formed(labels, qtype, records, edns, rcode))
    assert row["malformed"] is False
    assert (row["qname"], row["qtype"], row["qclass"]) == (presentation_text(labels), qtype, 1)
    assert row["qname_mixed_case"] == any(label != label.lower() for label in labels)
    assert row["ancount"] == min(len(records), 3)
    assert row["edns_present"] == (edns is not None)
    if edns is None:
        assert row["rcode"] == rcode
        assert [row[name] for name in EDNS_COLUMNS] == [None] * len(EDNS_COLUMNS)
    else:
        udp_size, extended, version, do, options = edns
        codes = {code for code, _ in options}
        assert row["rcode"] == rcode | (extended << 4)
        assert (row["edns_udp_size"], row["edns_version"], row["edns_do"]) == (udp_size, version, do)
        assert (row["edns_nsid"], row["edns_ecs"], row["edns_cookie"]) == (
            3 in codes,
            8 in codes,
            10 in codes,
        )


@settings(max_examples=200)
@given(_LABELS, _RECORDS, _EDNS, st.integers(0, 100_000))
def test_any_cut_of_a_well_formed_message_is_flagged_not_misread(
    labels: list[bytes], records: list[tuple[int, bytes]], edns: Edns | None, cut: int
) -> None:
    wire = well_formed(labels, TYPE_A, records, edns, 0)
    cut %= len(wire)
    counts = new_counts()
    rows = decode(wire[:cut], counts=counts)
    if cut < 12:
        assert rows == []
        assert counts[Reason.DNS_TOO_SHORT] == 1
        return
    (row,) = rows
    question_end = 12 + len(encode_labels(labels)) + 4
    expected = "dns_truncated_question" if cut < question_end else "dns_truncated_record"
    assert (row["malformed"], row["malformed_reason"], row["msg_len"]) == (True, expected, cut)
    assert counts[Reason[expected.upper()]] == 1
    assert row["qname"] == (None if cut < question_end else presentation_text(labels))


# --- real captures, against tshark -----------------------------------------------------------------------

ETHERNET_CAPTURES = [
    "dnscap__dns.pcap",
    "dnscap__dns6.pcap",
    "dnscap__edns.pcap",
    "dnscap__vlan11.pcap",
    "dsc__1458044657.pcap",
    "dsc__pid.pcap",
    "ithitools__smalltest.pcap",
]
TSHARK_FIELDS = [
    "frame.number",
    "dns.id",
    "dns.flags.response",
    "dns.flags.opcode",
    "dns.flags.rcode",
    "dns.flags.truncated",
    "dns.flags.recdesired",
    "dns.flags.authoritative",
    "dns.flags.recavail",
    "dns.flags.checkdisable",
    "dns.count.queries",
    "dns.count.answers",
    "dns.count.auth_rr",
    "dns.count.add_rr",
    "dns.qry.name",
    "dns.qry.type",
    "dns.qry.class",
    "dns.rr.udp_payload_size",
    "dns.resp.edns0_version",
    "dns.resp.z.do",
    "dns.opt.code",
    "dns.resp.ext_rcode",
    "ip.src",
    "ipv6.src",
    "ip.dst",
    "ipv6.dst",
]
# tshark field -> our column, for fields read as one integer.
TSHARK_INTEGERS = {
    "dns.id": "dns_id",
    "dns.flags.response": "qr",
    "dns.flags.opcode": "opcode",
    "dns.flags.truncated": "tc",
    "dns.flags.recdesired": "rd",
    "dns.flags.authoritative": "aa",
    "dns.flags.recavail": "ra",
    "dns.flags.checkdisable": "cd",
    "dns.count.queries": "qdcount",
    "dns.count.answers": "ancount",
    "dns.count.auth_rr": "nscount",
    "dns.count.add_rr": "arcount",
    "dns.qry.type": "qtype",
    "dns.qry.class": "qclass",
    "dns.rr.udp_payload_size": "edns_udp_size",
    "dns.resp.edns0_version": "edns_version",
    "dns.resp.z.do": "edns_do",
}


def tshark_rows(path: Path) -> dict[int, dict[str, str]]:
    """tshark's reading of each DNS-over-UDP frame of `path`, by frame number."""
    tshark = shutil.which("tshark")
    if tshark is None:
        pytest.skip("tshark is not installed")
    command = [tshark, "-n", "-r", str(path), "-Y", "udp.port == 53", "-T", "fields"]
    command += ["-E", "separator=|", "-E", "aggregator=,", "-E", "occurrence=a"]
    for field in TSHARK_FIELDS:
        command += ["-e", field]
    output = subprocess.run(command, capture_output=True, text=True, check=True, timeout=120).stdout
    rows = {}
    for line in output.splitlines():
        values = dict(zip(TSHARK_FIELDS, line.split("|"), strict=True))
        rows[int(values["frame.number"])] = values
    return rows


@pytest.mark.tshark
@pytest.mark.parametrize("capture", ETHERNET_CAPTURES)
def test_real_captures_read_as_tshark_reads_them(pcaps_dir: Path, capture: str) -> None:
    path = pcaps_dir / capture
    if not path.is_file():
        pytest.skip(f"{path} is absent")
    payloads = [item for item in udp_payloads(path) if 53 in (item.src_port, item.dst_port)]
    expected = tshark_rows(path)
    assert [item.frame_number for item in payloads] == sorted(expected)
    assert payloads, "the capture holds DNS over UDP"
    counts = new_counts()
    rows = decode_slices(slices_of_payloads(payloads), counts)
    assert len(rows) == len(payloads)
    assert not counts.any()
    for item, row in zip(payloads, rows, strict=True):
        theirs = expected[item.frame_number]
        where = f"{capture} frame {item.frame_number}"
        assert row["malformed"] is False, where
        assert row["ts"] == item.ts_ns
        for field, column in TSHARK_INTEGERS.items():
            if theirs[field] != "":
                assert row[column] == int(theirs[field], 0), f"{where}: {field}"
        name = theirs["dns.qry.name"]
        assert row["qname"] == ("." if name == "<Root>" else name.lower()), where
        if theirs["dns.flags.rcode"] != "":
            extended = int(theirs["dns.resp.ext_rcode"] or "0", 0)
            assert row["rcode"] == int(theirs["dns.flags.rcode"]) | extended << 4, where
        codes = {int(code) for code in theirs["dns.opt.code"].split(",") if code}
        assert row["edns_present"] == (theirs["dns.rr.udp_payload_size"] != ""), where
        if row["edns_present"]:
            assert (row["edns_nsid"], row["edns_ecs"], row["edns_cookie"]) == (
                3 in codes,
                8 in codes,
                10 in codes,
            )
        assert row["src_addr"] == (theirs["ip.src"] or theirs["ipv6.src"]), where
        assert row["dst_addr"] == (theirs["ip.dst"] or theirs["ipv6.dst"]), where


def test_edns_capture_golden_values(pcaps_dir: Path) -> None:
    path = pcaps_dir / "dnscap__edns.pcap"
    if not path.is_file():
        pytest.skip(f"{path} is absent")
    payloads = list(udp_payloads(path))
    rows = {
        item.frame_number: row
        for item, row in zip(payloads, decode_slices(slices_of_payloads(payloads)), strict=True)
    }
    assert len(rows) == 14
    # Frame 5 asks ns1.dns.nic.aaa NS with NSID and a cookie; 14 is the SERVFAIL for dnssec-failed.org.
    assert (rows[5]["qname"], rows[5]["qtype"], rows[5]["edns_udp_size"]) == ("ns1.dns.nic.aaa", 2, 4096)
    assert (rows[5]["edns_nsid"], rows[5]["edns_ecs"], rows[5]["edns_cookie"]) == (True, False, True)
    assert (rows[11]["qname"], rows[11]["edns_ecs"], rows[11]["edns_cookie"]) == ("net", True, True)
    assert (rows[14]["qname"], rows[14]["qr"], rows[14]["rcode"]) == ("dnssec-failed.org", True, 2)
    assert rows[14]["edns_udp_size"] == 1232
    assert [rows[frame]["edns_present"] for frame in (1, 2, 3, 4)] == [False] * 4
