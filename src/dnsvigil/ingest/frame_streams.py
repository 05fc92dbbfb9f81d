"""Frame Streams: the framing that carries dnstap in files and over sockets.

A stream is a sequence of frames, each a 32-bit big-endian length and that many payload bytes. A length of
zero is an escape: a control frame follows, as a 32-bit length (at most 512), a 32-bit control type and fields
of (32-bit field type, 32-bit length, payload). A file written by a unidirectional sender is START, data
frames..., STOP; the bidirectional protocol adds READY and ACCEPT before START and FINISH after STOP.
The only field type is CONTENT_TYPE, naming what the data frames hold (for dnstap, "protobuf:dnstap.Dnstap").
Specification: https://farsightsec.github.io/fstrm/ (the fstrm library's protocol description).

`split_frames` finds the frames in a buffer; `FrameStreamDecoder` follows a whole stream fed in pieces (a file
read in chunks, a socket's receives), checks how it begins and what it carries, and keeps the bytes of a frame
that straddles two pieces. Pieces written through `get_buffer` share large arenas: a socket's many small
receives land one after the other, so a frame cut between two of them is already whole in memory.
"""

from __future__ import annotations

import enum
import struct
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar, cast

import numba
import numpy as np
import numpy.typing as npt

from dnsvigil.errors import InputError, UnsupportedFormatError, UsageError

ESCAPE = b"\x00\x00\x00\x00"
CONTROL_FRAME_MAX_BYTES = 512
CONTENT_TYPE_MAX_BYTES = 256
FIELD_CONTENT_TYPE = 1
# Data frames longer than this are taken for damage: a dnstap payload holds at most two 64 KiB DNS messages.
DATA_FRAME_MAX_BYTES = 16 << 20

# Why `_scan_data_frames` stopped.
_NEED_MORE = 0
_AT_CONTROL = 1
_TOO_LONG = 2
_OUTPUT_FULL = 3
_SCAN_CAPACITY = 1 << 20
ARENA_BYTES = 4 << 20
"""Size of the arrays that successive `get_buffer` pieces share, unless one piece asks for more."""

_Function = TypeVar("_Function", bound=Callable[..., Any])
# A private numba option, absent from its type stubs; numba rejects unknown options at import time.
_NO_REFCOUNTING: dict[str, Any] = {"_nrt": False}


def _kernel(function: _Function) -> _Function:
    # _nrt=False: no reference counting of the arrays (see dnstap._kernel); it allocates nothing.
    return cast(_Function, numba.njit(cache=True, nogil=True, **_NO_REFCOUNTING)(function))


def _inlined(function: _Function) -> _Function:
    return cast(_Function, numba.njit(cache=True, nogil=True, inline="always")(function))


class ControlType(enum.IntEnum):
    """The control frame types of Frame Streams."""

    ACCEPT = 1
    START = 2
    STOP = 3
    READY = 4
    FINISH = 5


@dataclass(frozen=True, slots=True)
class ControlFrame:
    """One control frame: its type and the content types it names.

    Attributes:
        control_type: READY, ACCEPT, START, STOP or FINISH.
        content_types: CONTENT_TYPE field values, in order; START names at most one, STOP and FINISH none.
    """

    control_type: ControlType
    content_types: tuple[bytes, ...] = ()

    def __post_init__(self) -> None:
        if self.control_type == ControlType.START and len(self.content_types) > 1:
            raise InputError(f"Frame Streams START names {len(self.content_types)} content types, at most 1")
        if self.control_type in (ControlType.STOP, ControlType.FINISH) and self.content_types:
            raise InputError(f"Frame Streams {self.control_type.name} must not name a content type")
        for content_type in self.content_types:
            if len(content_type) > CONTENT_TYPE_MAX_BYTES:
                raise InputError(
                    f"Frame Streams content type of {len(content_type)} bytes, "
                    f"at most {CONTENT_TYPE_MAX_BYTES}"
                )

    @staticmethod
    def from_wire(payload: bytes) -> ControlFrame:
        """Decode a control frame from the bytes after its escape and length (control type, then fields).

        Raises:
            InputError: the bytes are not a valid control frame; the message says what is wrong.
        """
        if len(payload) < 4:
            raise InputError(f"Frame Streams control frame of {len(payload)} bytes, too short for its type")
        if len(payload) > CONTROL_FRAME_MAX_BYTES:
            raise InputError(
                f"Frame Streams control frame of {len(payload)} bytes, at most {CONTROL_FRAME_MAX_BYTES}"
            )
        (type_value,) = struct.unpack_from(">I", payload, 0)
        try:
            control_type = ControlType(type_value)
        except ValueError:
            raise InputError(f"unknown Frame Streams control type {type_value:#x}") from None
        content_types: list[bytes] = []
        pos = 4
        while pos < len(payload):
            if len(payload) - pos < 8:
                raise InputError(f"Frame Streams control field header cut off at byte {pos} of the frame")
            field_type, field_length = struct.unpack_from(">II", payload, pos)
            pos += 8
            if field_length > len(payload) - pos:
                raise InputError(f"Frame Streams control field of {field_length} bytes overruns its frame")
            # Unknown field types are skipped: the specification defines only CONTENT_TYPE so far.
            if field_type == FIELD_CONTENT_TYPE:
                content_types.append(bytes(payload[pos : pos + field_length]))
            pos += field_length
        return ControlFrame(control_type, tuple(content_types))

    def to_wire(self) -> bytes:
        """The whole control frame as sent: escape, length, control type, fields."""
        body = struct.pack(">I", self.control_type)
        for content_type in self.content_types:
            body += struct.pack(">II", FIELD_CONTENT_TYPE, len(content_type)) + content_type
        return ESCAPE + struct.pack(">I", len(body)) + body


@dataclass(frozen=True, slots=True)
class FrameSplit:
    """The complete frames found in a buffer, from a start position on.

    Attributes:
        data_offset: int64 position in the buffer of each data frame's payload.
        data_length: int32 payload length of each data frame.
        controls: (position of the escape, control frame) for each control frame, in order.
        consumed: position after the last complete frame: the caller keeps the bytes from there on.
        broken_at: position of a frame that cannot be framed (too long, bad control frame), or -1.
        problem: what is wrong with the frame at `broken_at`, empty when none.
    """

    data_offset: npt.NDArray[np.int64]
    data_length: npt.NDArray[np.int32]
    controls: tuple[tuple[int, ControlFrame], ...]
    consumed: int
    broken_at: int = -1
    problem: str = ""


@_inlined
def _read_be32(buffer: Any, pos: int) -> int:
    return int(
        (np.int64(buffer[pos]) << 24)
        | (np.int64(buffer[pos + 1]) << 16)
        | (np.int64(buffer[pos + 2]) << 8)
        | np.int64(buffer[pos + 3])
    )


@_kernel
def _scan_data_frames(
    buffer: Any, pos: int, end: int, max_frame_bytes: int, out_offset: Any, out_length: Any
) -> tuple[int, int, int]:
    """Record consecutive complete data frames from `pos`; return (count, stop position, why it stopped)."""
    count = 0
    capacity = len(out_offset)
    while True:
        if count == capacity:
            return count, pos, _OUTPUT_FULL
        if end - pos < 4:
            return count, pos, _NEED_MORE
        length = _read_be32(buffer, pos)
        if length == 0:
            return count, pos, _AT_CONTROL
        if length > max_frame_bytes:
            return count, pos, _TOO_LONG
        if end - pos - 4 < length:
            return count, pos, _NEED_MORE
        out_offset[count] = pos + 4
        out_length[count] = length
        count += 1
        pos += 4 + length


def split_frames(
    buffer: npt.NDArray[np.uint8], start: int = 0, *, max_frame_bytes: int = DATA_FRAME_MAX_BYTES
) -> FrameSplit:
    """Find every complete frame in `buffer[start:]`, stopping before a cut-off or unframeable one.

    A socket reader calls this on what it has received and keeps `buffer[consumed:]` for the next call.
    """
    end = len(buffer)
    pos = start
    offsets: list[npt.NDArray[np.int64]] = []
    lengths: list[npt.NDArray[np.int32]] = []
    controls: list[tuple[int, ControlFrame]] = []
    while True:
        capacity = min((end - pos) // 5 + 1, _SCAN_CAPACITY)
        out_offset = np.empty(capacity, np.int64)
        out_length = np.empty(capacity, np.int32)
        count, pos, status = _scan_data_frames(buffer, pos, end, max_frame_bytes, out_offset, out_length)
        offsets.append(out_offset[:count])
        lengths.append(out_length[:count])
        if status == _OUTPUT_FULL:
            continue
        if status == _TOO_LONG:
            (length,) = struct.unpack(">I", buffer[pos : pos + 4].tobytes())
            problem = f"data frame of {length} bytes, more than the {max_frame_bytes} a frame may hold"
            return _split(offsets, lengths, controls, pos, broken_at=pos, problem=problem)
        if status == _NEED_MORE or end - pos < 8:
            return _split(offsets, lengths, controls, pos)
        (control_length,) = struct.unpack(">I", buffer[pos + 4 : pos + 8].tobytes())
        if control_length > CONTROL_FRAME_MAX_BYTES:
            problem = f"control frame of {control_length} bytes, at most {CONTROL_FRAME_MAX_BYTES}"
            return _split(offsets, lengths, controls, pos, broken_at=pos, problem=problem)
        if end - pos - 8 < control_length:
            return _split(offsets, lengths, controls, pos)
        try:
            control = ControlFrame.from_wire(buffer[pos + 8 : pos + 8 + control_length].tobytes())
        except InputError as error:
            return _split(offsets, lengths, controls, pos, broken_at=pos, problem=error.message)
        controls.append((pos, control))
        pos += 8 + control_length


def _split(
    offsets: list[npt.NDArray[np.int64]],
    lengths: list[npt.NDArray[np.int32]],
    controls: list[tuple[int, ControlFrame]],
    consumed: int,
    *,
    broken_at: int = -1,
    problem: str = "",
) -> FrameSplit:
    return FrameSplit(
        data_offset=offsets[0] if len(offsets) == 1 else np.concatenate(offsets),
        data_length=lengths[0] if len(lengths) == 1 else np.concatenate(lengths),
        controls=tuple(controls),
        consumed=consumed,
        broken_at=broken_at,
        problem=problem,
    )


@dataclass(frozen=True, slots=True)
class FramedPiece:
    """The frames that one piece fed to a `FrameStreamDecoder` completed.

    Attributes:
        buffer: the bytes holding them: the incomplete frame left by the last piece, then this piece.
        data_offset: int64 position of each data frame's payload in `buffer`.
        data_length: int32 payload length of each data frame.
        controls: the control frames completed, in order (a bidirectional receiver answers READY with
            ACCEPT and STOP with FINISH).
        bytes_fed: the size of the piece.
        bad_frame: true when a frame in this piece could not be framed: the stream is broken from there on.
    """

    buffer: npt.NDArray[np.uint8]
    data_offset: npt.NDArray[np.int64]
    data_length: npt.NDArray[np.int32]
    controls: tuple[ControlFrame, ...]
    bytes_fed: int
    bad_frame: bool = False


class FrameStreamDecoder:
    """Follow a Frame Streams stream of one content type, fed in pieces of any size.

    The stream must begin with a control frame (READY, ACCEPT or START), and every control frame naming
    content types must name `content_type`. A frame that cannot be framed (too long, a bad control frame)
    breaks the stream: nothing after it is read. Pieces come either as bytes (`feed`) or, without a copy,
    written into the array `get_buffer` returns and committed with `buffer_updated`, as in asyncio's
    BufferedProtocol.

    Args:
        content_type: what the data frames must hold, e.g. b"protobuf:dnstap.Dnstap".
        where: how error messages name the stream (a path, a peer address).
        max_frame_bytes: data frames declared longer than this break the stream.
    """

    def __init__(
        self, content_type: bytes, *, where: str = "stream", max_frame_bytes: int = DATA_FRAME_MAX_BYTES
    ) -> None:
        self._content_type = content_type
        self._where = where
        self._max_frame_bytes = max_frame_bytes
        self._pending: npt.NDArray[np.uint8] = np.zeros(0, np.uint8)
        self._pending_at = 0  # stream position of self._pending[0]
        # Pieces written through get_buffer go one after the other into the arena; bytes before
        # `_arena_used` were handed out (frames point into them) and are never written again.
        self._arena: npt.NDArray[np.uint8] = np.zeros(0, np.uint8)
        self._arena_used = 0
        self._pending_in_arena = False  # self._pending is arena[_arena_used - len(_pending):_arena_used]
        self._granted = -1  # bytes the last get_buffer offered, -1 once used
        self._started = False
        self._broken = False
        self._closed = False

    @property
    def started(self) -> bool:
        """True once the first control frame has been read: the stream is Frame Streams as expected."""
        return self._started

    @property
    def broken(self) -> bool:
        """True once a frame could not be framed: the rest of the stream is ignored."""
        return self._broken

    @property
    def bytes_wanted(self) -> int:
        """How many more bytes the incomplete frame needs at least (1 when unknown or none is waiting)."""
        pending = self._pending
        if len(pending) < 8:
            return 8 - len(pending) if len(pending) else 1
        head = pending[:8].tobytes()
        if head[:4] == ESCAPE:
            frame_bytes = 8 + int.from_bytes(head[4:8], "big")
        else:
            frame_bytes = 4 + int.from_bytes(head[:4], "big")
        return max(frame_bytes - len(pending), 1)

    def get_buffer(self, size: int) -> npt.NDArray[np.uint8]:
        """A writable array for the next `size` bytes of the stream; write them, then call `buffer_updated`.

        It never overlaps bytes handed out before, so frames decoded from earlier pieces stay as they were.
        It follows the incomplete frame left by the last piece in a shared arena, so no byte is copied
        twice and a socket's small receives need no allocation each.
        """
        size = max(size, 0)
        kept = len(self._pending)
        contiguous = kept == 0 or self._pending_in_arena
        if not contiguous or len(self._arena) - self._arena_used < size:
            arena = np.empty(max(ARENA_BYTES, kept + size), np.uint8)
            arena[:kept] = self._pending
            self._arena, self._arena_used = arena, kept
            self._pending, self._pending_in_arena = arena[:kept], True
        self._granted = size
        return self._arena[self._arena_used : self._arena_used + size]

    def buffer_updated(self, size: int) -> FramedPiece:
        """Frame the first `size` bytes written into the array of the last `get_buffer` call.

        Raises:
            UnsupportedFormatError: the stream does not begin as Frame Streams does, or names another
                content type.
            UsageError: no `get_buffer` call came first, or `size` is larger than what it returned.
        """
        if not 0 <= size <= self._granted:
            raise UsageError(f"{self._where}: buffer_updated({size}) does not follow a get_buffer call")
        self._granted = -1
        start = self._arena_used - len(self._pending)
        self._arena_used += size
        return self._frame(self._arena[start : self._arena_used], size, in_arena=True)

    def feed(self, data: bytes | bytearray | memoryview | npt.NDArray[np.uint8]) -> FramedPiece:
        """Frame what `data` completes; bytes are used in place when no frame is waiting, other types copied.

        Raises:
            UnsupportedFormatError: as `buffer_updated`.
        """
        if isinstance(data, np.ndarray):
            piece = np.ascontiguousarray(data, np.uint8).reshape(-1)
        else:
            piece = np.frombuffer(data, np.uint8)
        if not len(self._pending) and isinstance(data, bytes):
            return self._frame(piece, len(piece), in_arena=False)
        self.get_buffer(len(piece))[:] = piece
        return self.buffer_updated(len(piece))

    def close(self) -> bool:
        """End the stream; true when it ended inside a frame (a cut-off file, a dropped connection).

        Raises:
            UnsupportedFormatError: the stream ended before its first control frame was complete.
        """
        self._closed = True
        if not self._started:
            seen = self._pending_at + len(self._pending)
            problem = "is empty" if seen == 0 else f"ends after {seen} bytes, before its first control frame"
            raise UnsupportedFormatError(
                f"{self._where}: not a Frame Streams file of {self._content_type.decode()!r}: it {problem}",
                hint="such files begin with a Frame Streams START control frame",
            )
        cut = bool(len(self._pending)) and not self._broken
        self._pending = np.zeros(0, np.uint8)
        return cut

    def _frame(self, buffer: npt.NDArray[np.uint8], fed: int, *, in_arena: bool) -> FramedPiece:
        if self._closed:
            raise UsageError(f"{self._where}: Frame Streams data fed after close")
        if self._broken or fed == 0:
            return FramedPiece(buffer[:0], *_NO_FRAMES, controls=(), bytes_fed=fed)
        buffer_at = self._pending_at
        if not self._started and len(buffer) >= 4 and buffer[:4].tobytes() != ESCAPE:
            raise UnsupportedFormatError(
                f"{self._where}: not a Frame Streams file of {self._content_type.decode()!r}: it begins with "
                f"{buffer[:4].tobytes().hex()}, expected the escape 00000000 of a START or READY frame",
                hint="such files are written by fstrm writers, e.g. a name server's dnstap output",
            )
        split = split_frames(buffer, 0, max_frame_bytes=self._max_frame_bytes)
        for position, control in split.controls:
            self._check_control(control, buffer_at + position)
        if split.broken_at >= 0 and not self._started:
            raise UnsupportedFormatError(
                f"{self._where}: byte {buffer_at + split.broken_at}: not a Frame Streams header: "
                f"{split.problem}",
                hint="such files begin with a Frame Streams START control frame",
            )
        if split.broken_at >= 0:
            self._broken = True
            self._pending = np.zeros(0, np.uint8)
        else:
            self._pending = buffer[split.consumed :]
            self._pending_at = buffer_at + split.consumed
            self._pending_in_arena = in_arena
        return FramedPiece(
            buffer=buffer,
            data_offset=split.data_offset,
            data_length=split.data_length,
            controls=tuple(control for _, control in split.controls),
            bytes_fed=fed,
            bad_frame=split.broken_at >= 0,
        )

    def _check_control(self, control: ControlFrame, position: int) -> None:
        kind = control.control_type
        if not self._started and kind not in (ControlType.READY, ControlType.ACCEPT, ControlType.START):
            raise UnsupportedFormatError(
                f"{self._where}: byte {position}: Frame Streams stream begins with {kind.name}, "
                "expected START, READY or ACCEPT",
                hint="the file may be cut from the middle of a stream",
            )
        self._started = True
        if control.content_types and self._content_type not in control.content_types:
            named = ", ".join(repr(name.decode("ascii", "replace")) for name in control.content_types)
            raise UnsupportedFormatError(
                f"{self._where}: byte {position}: Frame Streams {kind.name} names content type {named}, "
                f"expected {self._content_type.decode()!r}",
                hint=f"this reader reads {self._content_type.decode()!r} only",
            )


_NO_FRAMES = (np.zeros(0, np.int64), np.zeros(0, np.int32))
