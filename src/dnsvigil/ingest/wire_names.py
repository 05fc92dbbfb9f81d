"""Domain names in DNS wire form read by compiled kernels, written out in presentation form.

The presentation form (RFC 1035 section 5.1, RFC 4343) that `decode_name` writes:

- labels joined by '.', with no trailing dot; the root name alone is '.';
- ASCII letters lower-cased (DNS names compare case-insensitively, RFC 4343);
- inside a label, '.' and '\\' are escaped with a backslash ('\\.', '\\\\'), and every byte that is not a
  visible ASCII character (below 0x21, which includes the space, or 0x7f and above) is written '\\DDD'
  with its three-digit decimal value.

Reading follows compression pointers (RFC 1035 section 4.1.4). A pointer must point to an earlier
position than the name it completes, and each further pointer earlier again than the last one followed:
forward pointers, self-pointers and loops are bad names, so decoding always ends. A name longer than
255 bytes in wire form is bad; a name that runs past the end of its message is truncated.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from dnsvigil.ingest.compiled import inlined

NAME_OK = 0
"""The name was read."""
NAME_TRUNCATED = 1
"""The name runs past the end of its message."""
NAME_BAD = 2
"""The name is invalid: a reserved label type, a bad compression pointer, or more than 255 bytes."""

NAME_WIRE_MAX = 255
"""Longest name in wire form, length bytes and the final root label included (RFC 1035 section 3.1)."""
NAME_TEXT_MAX = 1024
"""Bound on the presentation bytes of one name: at most 254 label bytes, each at most 4 characters."""

_BACKSLASH = 92
_DOT = 46
_ZERO = 48
_UPPER_A = 65
_UPPER_Z = 90
_LOWER_OFFSET = 32
_POINTER = 0xC0
_LABEL_TYPE_MASK = 0xC0


@inlined
def _write_label_byte(byte: int, out: npt.NDArray[np.uint8], pos: int) -> int:
    if byte in (_DOT, _BACKSLASH):
        out[pos] = _BACKSLASH
        out[pos + 1] = byte
        return pos + 2
    if byte < 0x21 or byte >= 0x7F:
        out[pos] = _BACKSLASH
        out[pos + 1] = _ZERO + byte // 100
        out[pos + 2] = _ZERO + (byte // 10) % 10
        out[pos + 3] = _ZERO + byte % 10
        return pos + 4
    out[pos] = byte
    return pos + 1


@inlined
def decode_name(
    buffer: npt.NDArray[np.uint8],
    message_start: int,
    message_end: int,
    pos: int,
    out: npt.NDArray[np.uint8],
    out_pos: int,
) -> tuple[int, int, int, bool]:
    """Read the name at `buffer[pos]` and write its lower-case presentation form at `out[out_pos]`.

    Args:
        buffer: bytes holding the message.
        message_start: where the message starts in `buffer`; compression offsets count from here.
        message_end: where the message ends in `buffer` (exclusive).
        pos: where the name starts in `buffer`.
        out: where to write the text; needs `NAME_TEXT_MAX` bytes free from `out_pos`.
        out_pos: where to start writing.

    Returns:
        (status, next_pos, out_end, mixed_case): `NAME_OK`, `NAME_TRUNCATED` or `NAME_BAD`; the position in
        `buffer` just after the name (after its first pointer when compressed); the end of the text written
        in `out` (meaningful only with `NAME_OK`); and whether the name held an upper-case ASCII letter.
    """
    read = pos
    next_pos = -1
    pointer_limit = pos
    wire_length = 0
    write = out_pos
    mixed_case = False
    while True:
        if read >= message_end:
            return NAME_TRUNCATED, read, write, mixed_case
        length = int(buffer[read])
        label_type = length & _LABEL_TYPE_MASK
        if label_type == _POINTER:
            if read + 2 > message_end:
                return NAME_TRUNCATED, read, write, mixed_case
            target = message_start + (((length & 0x3F) << 8) | int(buffer[read + 1]))
            if target >= pointer_limit:
                return NAME_BAD, read, write, mixed_case
            if next_pos < 0:
                next_pos = read + 2
            pointer_limit = target
            read = target
            continue
        if label_type != 0:
            return NAME_BAD, read, write, mixed_case
        if length == 0:
            if next_pos < 0:
                next_pos = read + 1
            if write == out_pos:
                out[write] = _DOT
                write += 1
            return NAME_OK, next_pos, write, mixed_case
        wire_length += length + 1
        if wire_length + 1 > NAME_WIRE_MAX:
            return NAME_BAD, read, write, mixed_case
        if read + 1 + length > message_end:
            return NAME_TRUNCATED, read, write, mixed_case
        if write != out_pos:
            out[write] = _DOT
            write += 1
        for index in range(read + 1, read + 1 + length):
            byte = int(buffer[index])
            if _UPPER_A <= byte <= _UPPER_Z:
                mixed_case = True
                byte += _LOWER_OFFSET
            write = _write_label_byte(byte, out, write)
        read += 1 + length


@inlined
def skip_name(buffer: npt.NDArray[np.uint8], pos: int, message_end: int) -> tuple[int, int]:
    """Step over the name at `buffer[pos]` without following its pointer.

    Returns:
        (status, next_pos): `NAME_OK`, `NAME_TRUNCATED` or `NAME_BAD` (a reserved label type), and the
        position just after the name.
    """
    while True:
        if pos >= message_end:
            return NAME_TRUNCATED, pos
        length = int(buffer[pos])
        label_type = length & _LABEL_TYPE_MASK
        if label_type == _POINTER:
            if pos + 2 > message_end:
                return NAME_TRUNCATED, pos
            return NAME_OK, pos + 2
        if label_type != 0:
            return NAME_BAD, pos
        if length == 0:
            return NAME_OK, pos + 1
        pos += 1 + length
