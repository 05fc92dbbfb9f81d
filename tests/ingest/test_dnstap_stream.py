"""dnstap streams: framing across pieces, files cut off, compressed or damaged, and what is not dnstap."""

from __future__ import annotations

import gzip
import lzma
import struct
from pathlib import Path

import numpy as np
import pytest
import zstandard

from dnsvigil.errors import InputError, UnsupportedFormatError, UsageError
from dnsvigil.ingest.dnstap import (
    decode_frames,
    decode_payloads,
)
from dnsvigil.ingest.dnstap_stream import DnstapStreamDecoder, read_dnstap
from dnsvigil.ingest.frame_streams import ControlType
from dnsvigil.ingest.reasons import Reason
from tests.ingest import dnstap_builder as b
from tests.ingest.dnstap_rows import (
    many_messages,
    query,
    read_all,
    rows_of,
)

# --- framing --------------------------------------------------------------------------------------


@pytest.mark.parametrize("chunk_bytes", [1, 7, 13, 100, 1000, 64 << 20])
def test_chunking_does_not_change_rows(tmp_path: Path, chunk_bytes: int) -> None:
    path = b.write_dnstap(tmp_path / "many.dnstap", many_messages(120))
    expected, _, _ = read_all(path)
    rows, counts, batches = read_all(path, chunk_bytes=chunk_bytes)
    assert counts == {}
    assert len(expected) == 120 + 40  # one frame in three carries both query and response
    assert rows == expected
    assert sum(batch.records for batch in batches) == 120
    assert sum(batch.bytes_read for batch in batches) == path.stat().st_size
    if chunk_bytes <= 100:
        assert len(batches) > 10


def test_bidirectional_control_frames(tmp_path: Path) -> None:
    payloads = many_messages(5)
    path = b.write_dnstap(tmp_path / "bi.dnstap", payloads, bidirectional=True)
    rows, counts, _ = read_all(path)
    plain, _, _ = read_all(b.write_dnstap(tmp_path / "uni.dnstap", payloads))
    assert counts == {}
    assert rows == plain and len(rows) == 7


def test_stream_decoder_reports_control_frames_fed_byte_by_byte() -> None:
    stream = b.dnstap_stream(many_messages(3), bidirectional=True)
    decoder = DnstapStreamDecoder(where="peer")
    chunks = [decoder.feed(stream[i : i + 1]) for i in range(len(stream))]
    tail = decoder.close()
    controls = [control.control_type for chunk in chunks for control in chunk.controls]
    assert controls == [ControlType.READY, ControlType.START, ControlType.STOP, ControlType.FINISH]
    assert len(rows_of(chunk.batch for chunk in chunks)) == 4
    assert not tail.counts.any()
    assert sum(chunk.batch.bytes_read for chunk in chunks) == len(stream)


def test_concatenated_streams_are_read_whole(tmp_path: Path) -> None:
    data = b.dnstap_stream([query("one.example").encode()]) + b.dnstap_stream([query("two.example").encode()])
    (tmp_path / "cat.dnstap").write_bytes(data)
    rows, counts, _ = read_all(tmp_path / "cat.dnstap")
    assert [b.question_name(row.message) for row in rows] == ["one.example", "two.example"]
    assert counts == {}


def test_start_without_content_type_is_accepted(tmp_path: Path) -> None:
    path = b.write_dnstap(tmp_path / "noct.dnstap", [query().encode()], content_type=None)
    rows, counts, _ = read_all(path)
    assert len(rows) == 1 and counts == {}


@pytest.mark.parametrize("cut", [1, 3, 4, 5, 20, -1])
def test_file_cut_inside_a_frame_keeps_what_was_read(tmp_path: Path, cut: int) -> None:
    payloads = many_messages(4)
    whole = b.dnstap_stream(payloads, stop=False)
    last_frame_at = len(whole) - 4 - len(payloads[-1])
    (tmp_path / "cut.dnstap").write_bytes(whole[: last_frame_at + cut if cut > 0 else len(whole) + cut])
    for chunk_bytes in (5, 1 << 20):
        rows, counts, _ = read_all(tmp_path / "cut.dnstap", chunk_bytes=chunk_bytes)
        assert len(rows) == 1 + 2 + 1  # frames 0 (query), 1 (both), 2 (response)
        assert counts == {"dnstap_bad_frame": 1}


def test_file_without_stop_is_complete(tmp_path: Path) -> None:
    path = tmp_path / "nostop.dnstap"
    path.write_bytes(b.dnstap_stream(many_messages(4), stop=False))
    rows, counts, _ = read_all(path)
    assert len(rows) == 5 and counts == {}


def test_overlong_frame_breaks_the_stream(tmp_path: Path) -> None:
    head = b.dnstap_stream([query("kept.example").encode()], stop=False)
    path = tmp_path / "long.dnstap"
    path.write_bytes(head + struct.pack(">I", 0x7FFFFFFF) + b"\x0a" * 100 + b.data_frame(query().encode()))
    rows, counts, _ = read_all(path)
    assert [b.question_name(row.message) for row in rows] == ["kept.example"]
    assert counts == {"dnstap_bad_frame": 1}


@pytest.mark.parametrize(
    "control",
    [
        b.control_frame(9),
        b"\x00\x00\x00\x00\x00\x00\x02\x01" + b"\x00" * 513,
        b"\x00\x00\x00\x00\x00\x00\x00\x02\x00\x00",
    ],
    ids=["unknown type", "too long", "too short"],
)
def test_bad_control_frame_mid_stream_breaks_the_stream(tmp_path: Path, control: bytes) -> None:
    head = b.dnstap_stream([query("kept.example").encode()], stop=False)
    path = tmp_path / "ctl.dnstap"
    path.write_bytes(head + control + b.data_frame(query().encode()))
    rows, counts, _ = read_all(path)
    assert len(rows) == 1
    assert counts == {"dnstap_bad_frame": 1}


@pytest.mark.parametrize("compress", [gzip.compress, lzma.compress, zstandard.ZstdCompressor().compress])
def test_compressed_files(tmp_path: Path, compress: object) -> None:
    raw = b.dnstap_stream(many_messages(30))
    path = tmp_path / "c.dnstap.z"
    path.write_bytes(compress(raw))  # type: ignore[operator]
    (tmp_path / "plain.dnstap").write_bytes(raw)
    rows, counts, batches = read_all(path, chunk_bytes=1000)
    assert rows == read_all(tmp_path / "plain.dnstap")[0]
    assert counts == {}
    assert sum(batch.bytes_read for batch in batches) == path.stat().st_size


def test_damaged_gzip_counts_a_bad_frame(tmp_path: Path) -> None:
    compressed = gzip.compress(b.dnstap_stream(many_messages(200)))
    path = tmp_path / "damaged.dnstap.gz"
    path.write_bytes(compressed[: len(compressed) // 2])
    rows, counts, _ = read_all(path, chunk_bytes=500)
    assert 0 < len(rows) < 200 + 67
    assert counts == {"dnstap_bad_frame": 1}


# --- not dnstap -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("data", "words"),
    [
        (b"", "empty"),
        (b"\xd4\xc3\xb2\xa1" + bytes(20), "d4c3b2a1"),
        (b"\x00\x00", "ends after 2 bytes"),
        (b.control_frame(b.START, [b.DNSTAP_CONTENT_TYPE])[:-3], "ends after"),
        (b.control_frame(b.STOP) + b.data_frame(b"x"), "begins with STOP"),
        (b"\x00\x00\x00\x00\x00\x00\xff\xff" + bytes(70000), "control frame of 65535 bytes"),
        (b.dnstap_stream([b"x"], content_type=b"protobuf:other.Thing"), "'protobuf:other.Thing'"),
        (b.control_frame(b.READY, [b"text:plain"]), "text:plain"),
    ],
    ids=["empty", "pcap", "short", "cut header", "starts with STOP", "huge control", "content type", "ready"],
)
def test_not_dnstap_is_refused(tmp_path: Path, data: bytes, words: str) -> None:
    path = tmp_path / "not.dnstap"
    path.write_bytes(data)
    with pytest.raises(UnsupportedFormatError) as raised:
        list(read_dnstap(path))
    assert str(path) in str(raised.value)
    assert words in str(raised.value)


def test_damaged_compression_before_the_header_is_an_input_error(tmp_path: Path) -> None:
    path = tmp_path / "bad.dnstap.gz"
    path.write_bytes(gzip.compress(b.dnstap_stream([query().encode()]))[:12] + b"\xff" * 40)
    with pytest.raises(InputError, match="cannot read"):
        list(read_dnstap(path))


def test_bad_arguments() -> None:
    with pytest.raises(UsageError):
        list(read_dnstap(Path("unused"), chunk_bytes=0))
    with pytest.raises(UsageError, match="outside"):
        decode_frames(b"abc", np.array([2], np.int64), np.array([2], np.int32))
    with pytest.raises(UsageError, match="get_buffer"):
        DnstapStreamDecoder().buffer_updated(1)


def test_stream_decoder_fills_its_own_buffers() -> None:
    stream = b.dnstap_stream(many_messages(3))
    decoder = DnstapStreamDecoder()
    chunks = []
    for start in range(0, len(stream), 50):
        piece = stream[start : start + 50]
        space = decoder.get_buffer(len(piece) + 10)
        space[: len(piece)] = np.frombuffer(piece, np.uint8)
        chunks.append(decoder.buffer_updated(len(piece)))
    assert not decoder.close().counts.any()
    assert rows_of(chunk.batch for chunk in chunks) == rows_of([decode_payloads(many_messages(3))])


def test_decode_payloads_points_into_one_buffer() -> None:
    payloads = [query("a.example").encode(), b"\xff", query("b.example").encode()]
    batch = decode_payloads(payloads)
    assert batch.records == 3 and batch.bytes_read == sum(map(len, payloads))
    assert [b.question_name(row.message) for row in rows_of([batch])] == ["a.example", "b.example"]
    assert batch.counts[Reason.DNSTAP_BAD_MESSAGE] == 1
    assert len(batch.slices.buffer) == sum(map(len, payloads))
    assert len(decode_payloads([]).slices) == 0
