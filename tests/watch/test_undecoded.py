"""Received messages before decoding: cut to a count, runts left out and counted, joined for one decode."""

from __future__ import annotations

import struct

import numpy as np
import pyarrow as pa
import pytest

from dnsvigil.ingest.dns_wire import decode_messages
from dnsvigil.ingest.dnstap import decode_payloads
from dnsvigil.ingest.reasons import Reason, new_counts
from dnsvigil.ingest.slices import MessageSlices
from dnsvigil.watch.undecoded import first_messages, join_slices, without_runts
from tests.ingest import dnstap_builder as b
from tests.ingest.dnstap_rows import many_messages
from tests.watch.support import frames


def pieces(count: int, size: int) -> list[MessageSlices]:
    """`count` received pieces of `size` varied messages each, every piece in a buffer of its own."""
    payloads = many_messages(count * size)
    return [decode_payloads(payloads[start : start + size]).slices for start in range(0, len(payloads), size)]


def test_joined_pieces_decode_to_the_rows_each_piece_decodes_to() -> None:
    parts = pieces(5, 37)
    joined = join_slices(parts)
    assert len(joined) == sum(map(len, parts)) > 5 * 37  # some frames carry a query and its response
    assert not np.shares_memory(joined.buffer, parts[0].buffer)
    one_call = decode_messages(joined, new_counts(), "unix:/x")
    piece_by_piece = pa.Table.from_batches([decode_messages(part, new_counts(), "unix:/x") for part in parts])
    assert pa.Table.from_batches([one_call]).equals(piece_by_piece)


def test_joining_one_piece_or_none() -> None:
    (part,) = pieces(1, 3)
    assert join_slices([part]) is part
    assert len(join_slices([])) == 0


def test_a_piece_pointing_outside_its_buffer_is_refused() -> None:
    good, bad = pieces(2, 2)
    bad = first_messages(bad, 2)
    object.__setattr__(bad, "offset", bad.offset + len(bad.buffer))
    with pytest.raises(ValueError, match="outside its buffer"):
        join_slices([good, bad])


def test_first_messages_keeps_the_buffer_and_cuts_every_column() -> None:
    slices = decode_payloads(frames(10)).slices
    first = first_messages(slices, 4)
    assert first.buffer is slices.buffer
    assert [int(port) for port in first.src_port] == [1024, 1025, 1026, 1027]
    assert first_messages(slices, 99) is slices and len(first_messages(slices, -3)) == 0


def test_messages_shorter_than_a_header_are_left_out_and_counted() -> None:
    runt = b.TapMessage(query_message=struct.pack(">HHH", 1, 0, 1)).encode()  # 6 bytes of DNS
    slices = decode_payloads([*frames(2), runt, *frames(1, first=2)]).slices
    counts = new_counts()
    kept = without_runts(slices, counts)
    assert [int(port) for port in kept.src_port] == [1024, 1025, 1026]
    assert counts[Reason.DNS_TOO_SHORT] == 1 and counts.sum() == 1
    assert without_runts(kept, counts) is kept and counts.sum() == 1
