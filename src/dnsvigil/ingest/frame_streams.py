"""Frame Streams: the framing that carries dnstap in files and over sockets.

A stream is a sequence of frames, each a 32-bit big-endian length and that many payload bytes. A length of zero
is an escape: a control frame follows, as a 32-bit length (at most 512), a 32-bit control type and fields of
(32-bit field type, 32-bit length, payload). A file written by a unidirectional sender is
START, data frames..., STOP; the bidirectional protocol adds READY and ACCEPT before START and FINISH after STOP.
The only field type is CONTENT_TYPE, naming what the data frames hold (for dnstap, "protobuf:dnstap.Dnstap").
Specification: https://farsightsec.github.io/fstrm/ (the fstrm library's protocol description).
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

from dnsvigil.errors import InputError

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
_SCAN_CAPACITY = 1 << 18

_Function = TypeVar("_Function", bound=Callable[..., Any])


def _compiled(function: _Function) -> _Function:
    return cast(_Function, numba.njit(cache=True, nogil=True)(function))


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
                    f"Frame Streams content type of {len(content_type)} bytes, at most {CONTENT_TYPE_MAX_BYTES}"
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


@_compiled
def _read_be32(buffer: Any, pos: int) -> int:
    return (
        (np.int64(buffer[pos]) << 24)
        | (np.int64(buffer[pos + 1]) << 16)
        | (np.int64(buffer[pos + 2]) << 8)
        | np.int64(buffer[pos + 3])
    )


@_compiled
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
