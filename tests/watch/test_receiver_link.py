"""The link between the receiving process and the watcher: records cut anywhere, messages intact."""

from __future__ import annotations

import numpy as np
import pytest

from dnsvigil.errors import InputError
from dnsvigil.ingest.dns_wire import decode_messages as decode_dns
from dnsvigil.ingest.dnstap import decode_payloads
from dnsvigil.ingest.reasons import new_counts
from dnsvigil.ingest.slices import MessageSlices
from dnsvigil.watch.receiver_link import (
    RECORD_HEADER,
    RecordKind,
    RecordReader,
    decode_messages,
    encode_messages,
    json_record,
    record,
)
from tests.ingest.dnstap_rows import many_messages


def _wire(slices: MessageSlices) -> bytes:
    return b"".join(bytes(piece) for piece in encode_messages(slices))


def test_received_messages_cross_the_link_cut_anywhere_and_decode_to_the_same_rows() -> None:
    received = decode_payloads(many_messages(300)).slices  # slices between protobuf fields
    stream = record(RecordKind.READY) + _wire(received) + json_record(RecordKind.EVENT, {"level": "info"})
    reader = RecordReader()
    records = []
    for start in range(0, len(stream), 997):  # pieces that cut headers, columns and messages
        records += reader.feed(stream[start : start + 997])
    assert reader.pending == 0
    assert [kind for kind, _ in records] == [RecordKind.READY, RecordKind.DATA, RecordKind.EVENT]
    crossed = decode_messages(records[1][1])
    assert len(crossed) == len(received) > 300
    for column in (
        "ts_ns",
        "length",
        "ip_version",
        "src_addr",
        "dst_addr",
        "src_port",
        "dst_port",
        "transport",
    ):
        assert np.array_equal(getattr(crossed, column), getattr(received, column)), column
    assert decode_dns(crossed, new_counts(), "x").equals(decode_dns(received, new_counts(), "x"))


def test_no_messages_cross_as_an_empty_record() -> None:
    ((kind, payload),) = RecordReader().feed(_wire(MessageSlices.empty()))
    assert kind == RecordKind.DATA and len(decode_messages(payload)) == 0


def test_a_record_in_progress_waits_and_a_damaged_one_is_refused() -> None:
    wire = _wire(MessageSlices.of_messages([bytes(12), bytes(30)]))
    reader = RecordReader()
    assert reader.feed(wire[:-1]) == [] and reader.pending == len(wire) - 1
    ((_, payload),) = reader.feed(wire[-1:])
    with pytest.raises(InputError, match="do not fill it"):
        decode_messages(payload[:-1])  # a message byte missing
    with pytest.raises(InputError, match="cut short"):
        decode_messages(payload[:20])
    with pytest.raises(InputError, match="no message count"):
        decode_messages(bytearray(3))
    with pytest.raises(InputError, match="unknown record kind 9"):
        RecordReader().feed(RECORD_HEADER.pack(9, 0))
