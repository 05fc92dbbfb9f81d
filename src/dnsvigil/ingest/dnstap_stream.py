"""dnstap streams: Frame Streams of dnstap fed piece by piece (a socket) or read from a file.

Framing is `frame_streams`' job and decoding `dnstap`'s; this module joins them and keeps the counts honest
when a stream is cut off or damaged.
"""

from __future__ import annotations

import io
import lzma
import zlib
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import BinaryIO, cast

import numpy as np
import numpy.typing as npt
import zstandard

from dnsvigil.errors import InputError, UsageError
from dnsvigil.ingest.dnstap import CONTENT_TYPE, decode_frames
from dnsvigil.ingest.frame_streams import DATA_FRAME_MAX_BYTES, ControlFrame, FramedPiece, FrameStreamDecoder
from dnsvigil.ingest.reasons import Reason, new_counts
from dnsvigil.ingest.slices import CaptureBatch, MessageSlices
from dnsvigil.ingest.source_file import open_source

# What reading a damaged compressed file, or a failing disk, raises.
_READ_ERRORS = (OSError, EOFError, zlib.error, lzma.LZMAError, zstandard.ZstdError)


@dataclass(frozen=True, slots=True)
class StreamChunk:
    """What one piece fed to a `DnstapStreamDecoder` gave.

    Attributes:
        batch: the DNS messages of the data frames completed by the piece, and the counts.
        controls: the control frames completed by the piece, in order (a bidirectional receiver answers
            READY with ACCEPT and STOP with FINISH).
    """

    batch: CaptureBatch
    controls: tuple[ControlFrame, ...] = ()


class DnstapStreamDecoder:
    """Decode a Frame Streams stream of dnstap fed in pieces of any size, as a file or a socket gives them.

    The stream must begin with a control frame (READY, ACCEPT or START) and name the content type
    "protobuf:dnstap.Dnstap" where it names any. Frames may straddle pieces. A frame that cannot be framed
    breaks the stream: it counts as `Reason.DNSTAP_BAD_FRAME` and nothing after it is read. Pieces come as
    bytes (`feed`) or, without a copy, written into `get_buffer`'s array and committed with `buffer_updated`.

    Args:
        where: how error messages name the stream (a path, a peer address).
        max_frame_bytes: data frames declared longer than this break the stream.
    """

    def __init__(self, *, where: str = "dnstap stream", max_frame_bytes: int = DATA_FRAME_MAX_BYTES) -> None:
        self._frames = FrameStreamDecoder(CONTENT_TYPE, where=where, max_frame_bytes=max_frame_bytes)

    @property
    def started(self) -> bool:
        """True once the first control frame has been read."""
        return self._frames.started

    @property
    def broken(self) -> bool:
        """True once a frame could not be framed: the rest of the stream is ignored."""
        return self._frames.broken

    @property
    def bytes_wanted(self) -> int:
        """How many more bytes the incomplete frame needs at least (1 when unknown or none is waiting)."""
        return self._frames.bytes_wanted

    def get_buffer(self, size: int) -> npt.NDArray[np.uint8]:
        """A fresh writable array for the next `size` bytes; write them, then call `buffer_updated`."""
        return self._frames.get_buffer(size)

    def buffer_updated(self, size: int) -> StreamChunk:
        """Decode what the first `size` bytes written into `get_buffer`'s array complete.

        Raises:
            UnsupportedFormatError: the stream is not Frame Streams, or names a content type not dnstap's.
        """
        return self._decode(self._frames.buffer_updated(size))

    def feed(self, data: bytes | bytearray | memoryview | npt.NDArray[np.uint8]) -> StreamChunk:
        """Decode what `data` completes (bytes are used in place where they can be, other types copied).

        Raises:
            UnsupportedFormatError: as `buffer_updated`.
        """
        return self._decode(self._frames.feed(data))

    def close(self) -> CaptureBatch:
        """End the stream: a frame left incomplete counts as `Reason.DNSTAP_BAD_FRAME`.

        Raises:
            UnsupportedFormatError: the stream ended before its first control frame was complete.
        """
        counts = new_counts()
        counts[Reason.DNSTAP_BAD_FRAME] = int(self._frames.close())
        return CaptureBatch(MessageSlices.empty(), counts, records=0, bytes_read=0)

    @staticmethod
    def _decode(piece: FramedPiece) -> StreamChunk:
        batch = decode_frames(piece.buffer, piece.data_offset, piece.data_length)
        batch.counts[Reason.DNSTAP_BAD_FRAME] += int(piece.bad_frame)
        return StreamChunk(replace(batch, bytes_read=piece.bytes_fed), piece.controls)


def read_dnstap(path: Path, *, chunk_bytes: int = 64 << 20) -> Iterator[CaptureBatch]:
    """Read a dnstap file (plain, gzip, xz or Zstandard) as batches of DNS message slices.

    Args:
        path: the file.
        chunk_bytes: decompressed bytes read per batch (more when one frame needs more).

    Yields:
        One batch per chunk, its slices pointing into the chunk's buffer; then one carrying only counts when
        the file ends inside a frame.

    Raises:
        UsageError: chunk_bytes is not positive.
        InputError: the file cannot be opened, or decompressed before its first frame.
        UnsupportedFormatError: the file is empty, is not Frame Streams, or does not hold dnstap.
    """
    if chunk_bytes < 1:
        raise UsageError(f"chunk_bytes must be positive, got {chunk_bytes}")
    stream, counter = open_source(path)
    decoder = DnstapStreamDecoder(where=str(path))
    reported = 0
    damaged = False
    try:
        while not decoder.broken:
            space = decoder.get_buffer(max(chunk_bytes, decoder.bytes_wanted))
            filled, error = _read_into(stream, space)
            if filled:
                batch = decoder.buffer_updated(filled).batch
                yield replace(batch, bytes_read=counter.consumed - reported)
                reported = counter.consumed
            if error is not None:
                if not decoder.started:
                    raise InputError(
                        f"{path}: cannot read ({error})", hint="the file may be damaged"
                    ) from error
                # Damage in a compressed file ends the stream as a cut-off frame does.
                damaged = True
                break
            if filled < len(space):
                break
        final = decoder.close()
        if damaged and not final.counts[Reason.DNSTAP_BAD_FRAME]:
            final.counts[Reason.DNSTAP_BAD_FRAME] += 1
        if final.counts.any() or counter.consumed > reported:
            yield replace(final, bytes_read=counter.consumed - reported)
    finally:
        stream.close()
        counter.close()


def _read_into(stream: BinaryIO, space: npt.NDArray[np.uint8]) -> tuple[int, Exception | None]:
    """Fill `space` from `stream`, which may return short reads.

    Returns:
        The byte count, short only at the end of the file or on an error, and the error that a damaged or
        unreadable file raised, if any.
    """
    view = space.data
    filled = 0
    try:
        while filled < len(view):
            count = cast(io.BufferedIOBase, stream).readinto(view[filled:])
            if not count:
                break
            filled += count
    except _READ_ERRORS as error:
        return filled, error
    return filled, None
