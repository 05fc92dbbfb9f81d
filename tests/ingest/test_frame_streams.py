"""Frame Streams fed through `get_buffer`: pieces share arenas, never overwrite what frames point into."""

from __future__ import annotations

import numpy as np
import pytest

from dnsvigil.ingest import frame_streams
from dnsvigil.ingest.dnstap import CONTENT_TYPE
from dnsvigil.ingest.frame_streams import ControlType, FramedPiece, FrameStreamDecoder
from tests.ingest import dnstap_builder as b


def payloads(count: int) -> list[bytes]:
    """Payloads of varied lengths, each naming its number."""
    return [f"frame {index} ".encode() * (1 + index % 7) for index in range(count)]


def frames_of(pieces: list[FramedPiece]) -> list[bytes]:
    return [
        piece.buffer[offset : offset + length].tobytes()
        for piece in pieces
        for offset, length in zip(piece.data_offset, piece.data_length, strict=True)
    ]


def received(decoder: FrameStreamDecoder, stream: bytes, cuts: list[int], ask: int) -> list[FramedPiece]:
    """Feed `stream` as a socket would: one `get_buffer(ask)` per read, cut at `cuts`."""
    pieces = []
    for start, end in zip([0, *cuts], [*cuts, len(stream)], strict=True):
        space = decoder.get_buffer(ask)
        space[: end - start] = np.frombuffer(stream[start:end], np.uint8)
        pieces.append(decoder.buffer_updated(end - start))
    return pieces


@pytest.mark.parametrize("arena", [64, 4 << 20])
def test_frames_cut_anywhere_between_reads_come_out_whole(
    monkeypatch: pytest.MonkeyPatch, arena: int
) -> None:
    monkeypatch.setattr(frame_streams, "ARENA_BYTES", arena)  # tiny: a new arena at almost every read
    sent = payloads(40)
    stream = b.dnstap_stream(sent)
    decoder = FrameStreamDecoder(CONTENT_TYPE)
    pieces = received(decoder, stream, list(range(3, len(stream), 7)), ask=16)
    # Read after every piece was taken: no later read overwrote an earlier frame.
    assert frames_of(pieces) == sent
    assert [control.control_type for piece in pieces for control in piece.controls] == [
        ControlType.START,
        ControlType.STOP,
    ]
    assert not decoder.close()


def test_many_frames_in_one_read_and_reads_sharing_one_arena() -> None:
    sent = payloads(3000)
    stream = b.dnstap_stream(sent)
    decoder = FrameStreamDecoder(CONTENT_TYPE)
    half = len(stream) // 2 + 3  # inside a frame
    first, second = received(decoder, stream, [half], ask=len(stream))
    assert len(first.data_offset) > 1000 and len(second.data_offset) > 1000
    assert frames_of([first, second]) == sent
    # The second read went on in the first one's arena, after the frame it cut: nothing was copied.
    assert np.shares_memory(first.buffer, second.buffer)


def test_a_read_larger_than_the_arena_left_starts_a_new_one_with_the_cut_frame(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(frame_streams, "ARENA_BYTES", 256)
    sent = payloads(30)
    stream = b.dnstap_stream(sent)
    decoder = FrameStreamDecoder(CONTENT_TYPE)
    pieces = received(decoder, stream, list(range(150, len(stream), 150)), ask=200)
    assert frames_of(pieces) == sent
    assert not np.shares_memory(pieces[0].buffer, pieces[1].buffer)


def test_bytes_fed_in_place_then_through_get_buffer() -> None:
    sent = payloads(10)
    stream = b.dnstap_stream(sent)
    decoder = FrameStreamDecoder(CONTENT_TYPE)
    pieces = [decoder.feed(stream[:57])]  # used in place: the cut frame lies in these bytes
    pieces += received(decoder, stream[57:], [20], ask=len(stream))
    assert frames_of(pieces) == sent


def test_buffer_updated_must_follow_get_buffer_and_fit_it() -> None:
    decoder = FrameStreamDecoder(CONTENT_TYPE)
    decoder.get_buffer(10)
    with pytest.raises(frame_streams.UsageError):
        decoder.buffer_updated(11)
    decoder.get_buffer(10)
    decoder.buffer_updated(0)
    with pytest.raises(frame_streams.UsageError):
        decoder.buffer_updated(0)  # the space was used
