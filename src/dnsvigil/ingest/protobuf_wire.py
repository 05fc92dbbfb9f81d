"""Compiled readers of the Protocol Buffers wire format: varints, fixed-width fields, skipping.

Only what a hand-written decoder of a known message needs: each function reads one item at `pos` from a uint8
buffer that ends at `end` and returns the position after it, or -1 when the item is cut off or malformed, so a
kernel can walk fields without exceptions. See https://protobuf.dev/programming-guides/encoding/.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar, cast

import numba
import numpy as np

WIRE_VARINT = 0
WIRE_FIXED64 = 1
WIRE_LENGTH_DELIMITED = 2
WIRE_FIXED32 = 5

VARINT_MAX_BYTES = 10
# What `read_varint_clamped` returns for a value that does not fit: above every range a decoder checks.
VARINT_CLAMP = 1 << 62

_Function = TypeVar("_Function", bound=Callable[..., Any])


def _compiled(function: _Function) -> _Function:
    # Inlined into the decoders that call them: a call between compiled functions costs more than the body.
    return cast(_Function, numba.njit(cache=True, nogil=True, inline="always")(function))


@_compiled
def read_varint(buffer: Any, pos: int, end: int) -> tuple[np.uint64, int]:
    """The base-128 varint at `pos` as a uint64, and the position after it (-1: cut off or over 10 bytes)."""
    # Keys, lengths and enums are mostly one byte: the common case stays off the general loop.
    if pos < end and buffer[pos] < 0x80:
        return np.uint64(buffer[pos]), pos + 1
    value = np.uint64(0)
    shift = np.uint64(0)
    for _ in range(VARINT_MAX_BYTES):
        if pos >= end:
            return np.uint64(0), -1
        byte = buffer[pos]
        pos += 1
        value |= np.uint64(byte & 0x7F) << shift
        if byte < 0x80:
            return value, pos
        shift += np.uint64(7)
    return np.uint64(0), -1


@_compiled
def read_varint_clamped(buffer: Any, pos: int, end: int) -> tuple[np.int64, int]:
    """The varint at `pos` as an int64, 2**62 and above read as `VARINT_CLAMP`, and the position after it.

    Negative int32/int64 fields and out-of-range enums come out as `VARINT_CLAMP`, which range checks reject.
    """
    value, pos = read_varint(buffer, pos, end)
    if value >= np.uint64(VARINT_CLAMP):
        return np.int64(VARINT_CLAMP), pos
    return np.int64(value), pos


@_compiled
def read_fixed32(buffer: Any, pos: int, end: int) -> tuple[np.int64, int]:
    """The little-endian 32-bit value at `pos` as a non-negative int64, and the position after it."""
    if end - pos < 4:
        return np.int64(0), -1
    value = (
        np.int64(buffer[pos])
        | (np.int64(buffer[pos + 1]) << 8)
        | (np.int64(buffer[pos + 2]) << 16)
        | (np.int64(buffer[pos + 3]) << 24)
    )
    return value, pos + 4


@_compiled
def read_length_delimited(buffer: Any, pos: int, end: int) -> tuple[int, int]:
    """The (start, stop) positions of the length-prefixed bytes at `pos`; (-1, -1) when cut off."""
    length, pos = read_varint_clamped(buffer, pos, end)
    if pos < 0 or length > end - pos:
        return -1, -1
    return pos, pos + int(length)


@_compiled
def skip_field(buffer: Any, pos: int, end: int, wire_type: int) -> int:
    """The position after a field value of `wire_type` at `pos`; -1 when cut off or a group or unknown."""
    if wire_type == WIRE_VARINT:
        _, pos = read_varint(buffer, pos, end)
        return pos
    if wire_type == WIRE_FIXED64:
        return pos + 8 if end - pos >= 8 else -1
    if wire_type == WIRE_LENGTH_DELIMITED:
        _, stop = read_length_delimited(buffer, pos, end)
        return stop
    if wire_type == WIRE_FIXED32:
        return pos + 4 if end - pos >= 4 else -1
    # Groups (3, 4) are deprecated and never appear in dnstap; 6 and 7 are not wire types.
    return -1


@_compiled
def read_key(buffer: Any, pos: int, end: int) -> tuple[int, int, int]:
    """The (field number, wire type, next position) of the field key at `pos`; next position -1 when invalid.

    Field number 0 and numbers above 2**29 - 1 are invalid.
    """
    key, pos = read_varint_clamped(buffer, pos, end)
    field_number = key >> 3
    if pos < 0 or field_number == 0 or field_number > (1 << 29) - 1:
        return 0, 0, -1
    return int(field_number), int(key & 7), pos
