"""RFC 1035 master-file syntax for the zone scanner: tokens, names in canonical text, TTL, class, type.

Helpers of `zone_scan.scan_zone`, compiled into it (`inlined`); they allocate nothing. After editing one,
delete `src/dnsvigil/ingest/__pycache__/zone_scan*.nbi` so the kernel is built anew (see `compiled`).
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from dnsvigil.ingest.compiled import inlined

# What `next_token` finds.
TOKEN, END, MORE, BAD_PAREN, BAD_QUOTE = 0, 1, 2, 3, 4
# What `put_name` returns instead of a length.
BAD_NAME, BAD_CHAR = -1, -2

# Byte classes for the token scanner: one table lookup instead of a chain of comparisons per byte.
_WORD, _BLANK, _NEWLINE, _SPECIAL, _ESCAPE = 0, 1, 2, 3, 4
_CLASSES = np.zeros(256, np.uint8)
_CLASSES[[32, 9, 13]] = _BLANK
_CLASSES[10] = _NEWLINE
_CLASSES[[59, 40, 41, 34]] = _SPECIAL
_CLASSES[92] = _ESCAPE


@inlined
def is_blank(c: int) -> bool:
    return c == 32 or c == 9 or c == 13


@inlined
def next_token(
    buf: npt.NDArray[np.uint8], pos: int, end: int, final: bool, depth: int
) -> tuple[int, int, int, int, int, int]:
    """(status, start, stop, next position, parenthesis depth, newlines crossed) of the next token."""
    lines = 0
    while True:
        if pos >= end:
            if not final:
                return MORE, 0, 0, pos, depth, lines
            if depth > 0:
                return BAD_PAREN, 0, 0, pos, depth, lines
            return END, 0, 0, pos, depth, lines
        c = buf[pos]
        if is_blank(c):
            pos += 1
        elif c == 10:
            pos += 1
            lines += 1
            if depth == 0:
                return END, 0, 0, pos, depth, lines
        elif c == 59:  # ';' comment, to the end of the line
            while pos < end and buf[pos] != 10:
                pos += 1
        elif c == 40:
            depth += 1
            pos += 1
        elif c == 41:
            if depth == 0:
                return BAD_PAREN, 0, 0, pos, depth, lines
            depth -= 1
            pos += 1
        elif c == 34:  # a quoted string ends at the next unescaped quote, on the same line
            start = pos
            pos += 1
            while True:
                if pos >= end:
                    if final:
                        return BAD_QUOTE, 0, 0, end, depth, lines
                    return MORE, 0, 0, pos, depth, lines
                q = buf[pos]
                if q == 10:
                    return BAD_QUOTE, 0, 0, pos, depth, lines
                pos += 2 if q == 92 else 1
                if q == 34:
                    return TOKEN, start, pos, pos, depth, lines
        else:
            start = pos
            while pos < end:
                kind = _CLASSES[buf[pos]]
                if kind == _WORD:
                    pos += 1
                elif kind == _ESCAPE:
                    pos += 2
                else:
                    break
            if pos >= end and not final:
                return MORE, 0, 0, pos, depth, lines
            pos = min(pos, end)
            return TOKEN, start, pos, pos, depth, lines


@inlined
def _put_octet(dest: npt.NDArray[np.uint8], out: int, c: int) -> int:
    if 65 <= c <= 90:
        c += 32
    if (97 <= c <= 122) or (48 <= c <= 57) or c == 45 or c == 95 or c == 42:
        dest[out] = c
        return out + 1
    dest[out] = 92
    dest[out + 1] = 48 + c // 100
    dest[out + 2] = 48 + (c // 10) % 10
    dest[out + 3] = 48 + c % 10
    return out + 4


@inlined
def put_name(
    buf: npt.NDArray[np.uint8],
    start: int,
    stop: int,
    origin: npt.NDArray[np.uint8],
    origin_len: int,
    origin_wire: int,
    dest: npt.NDArray[np.uint8],
) -> tuple[int, int]:
    """Write the name of token buf[start:stop] to `dest` in canonical text, relative names completed with
    the origin; return (length, octets on the wire), or a negative length when the name is bad."""
    if stop - start == 1 and buf[start] == 64:  # '@'
        copy_bytes(dest, 0, origin, origin_len)
        return origin_len, origin_wire
    if stop - start == 1 and buf[start] == 46:  # '.', the root
        return 0, 1
    out = 0
    label = 0
    wire = 1
    i = start
    while i < stop:
        c = buf[i]
        if c == 46:
            if label == 0:
                return BAD_NAME, 0
            wire += label + 1
            label = 0
            i += 1
            if i == stop:  # a trailing dot: absolute
                return (out, wire) if wire <= 255 else (BAD_NAME, 0)
            dest[out] = 46
            out += 1
            continue
        if c == 92:
            if i + 1 >= stop:
                return BAD_NAME, 0
            d = buf[i + 1]
            if 48 <= d <= 57:
                if i + 3 >= stop:
                    return BAD_NAME, 0
                e, f = buf[i + 2], buf[i + 3]
                if not (48 <= e <= 57 and 48 <= f <= 57):
                    return BAD_NAME, 0
                c = (d - 48) * 100 + (e - 48) * 10 + (f - 48)
                if c > 255:
                    return BAD_NAME, 0
                i += 4
            else:
                c = d
                i += 2
        else:
            if c < 33 or c > 126:
                return BAD_CHAR, 0
            i += 1
        out = _put_octet(dest, out, c)
        label += 1
        if label > 63:
            return BAD_NAME, 0
    wire += label + 1
    if origin_len > 0:
        dest[out] = 46
        copy_bytes(dest, out + 1, origin, origin_len)
        out += 1 + origin_len
    wire += origin_wire - 1
    if wire > 255:
        return BAD_NAME, 0
    return out, wire


@inlined
def _lower(c: int) -> int:
    return c + 32 if 65 <= c <= 90 else c


@inlined
def is_ttl(buf: npt.NDArray[np.uint8], start: int, stop: int) -> bool:
    """Seconds, or BIND's units (1h30m): a digit first, then digits and s, m, h, d, w."""
    if stop - start > 16 or not 48 <= buf[start] <= 57:
        return False
    for i in range(start, stop):
        c = _lower(buf[i])
        if not (48 <= c <= 57 or c == 115 or c == 109 or c == 104 or c == 100 or c == 119):
            return False
    return True


@inlined
def is_class(buf: npt.NDArray[np.uint8], start: int, stop: int) -> bool:
    if stop - start == 2:
        a, b = _lower(buf[start]), _lower(buf[start + 1])
        return (a, b) == (105, 110) or (a, b) == (99, 104) or (a, b) == (104, 115) or (a, b) == (99, 115)
    if stop - start < 6 or stop - start > 10:
        return False
    for i, c in enumerate((99, 108, 97, 115, 115)):  # "class" then digits (RFC 3597)
        if _lower(buf[start + i]) != c:
            return False
    i = start + 5
    while i < stop and 48 <= buf[i] <= 57:
        i += 1
    return i == stop


@inlined
def is_type(buf: npt.NDArray[np.uint8], start: int, stop: int) -> bool:
    if stop - start > 20 or not 97 <= _lower(buf[start]) <= 122:
        return False
    for i in range(start + 1, stop):
        c = _lower(buf[i])
        if not (97 <= c <= 122 or 48 <= c <= 57 or c == 45):
            return False
    return True


@inlined
def is_ns(buf: npt.NDArray[np.uint8], start: int, stop: int) -> bool:
    if stop - start == 2:
        return _lower(buf[start]) == 110 and _lower(buf[start + 1]) == 115
    if stop - start != 5:
        return False
    return (
        _lower(buf[start]) == 116
        and _lower(buf[start + 1]) == 121
        and _lower(buf[start + 2]) == 112
        and _lower(buf[start + 3]) == 101
        and buf[start + 4] == 50
    )


@inlined
def word_is(buf: npt.NDArray[np.uint8], start: int, stop: int, word: tuple[int, ...]) -> bool:
    if stop - start != len(word):
        return False
    i = 0
    while i < len(word) and _lower(buf[start + i]) == word[i]:
        i += 1
    return i == len(word)


@inlined
def copy_bytes(dest: npt.NDArray[np.uint8], at: int, source: npt.NDArray[np.uint8], length: int) -> None:
    """dest[at:at + length] = source[:length], which numba would compile with a temporary copy."""
    for i in range(length):
        dest[at + i] = source[i]


@inlined
def same_bytes(a: npt.NDArray[np.uint8], a_start: int, b: npt.NDArray[np.uint8], length: int) -> bool:
    i = 0
    while i < length and a[a_start + i] == b[i]:
        i += 1
    return i == length
