"""The compiled scanner of RFC 1035 master files: the delegations (NS owners) of a zone, chunk by chunk.

A TLD zone holds hundreds of millions of records, so one kernel walks the bytes once: it splits entries
(a line, or lines joined by parentheses), tokens (words, quoted strings, escapes; comments dropped), reads
`$ORIGIN`, `$TTL`, `@`, relative and absolute names, a blank owner (the previous one), TTL and class in
either order, and emits each NS owner below the apex once, lower-cased, in canonical text: letters, digits,
`-`, `_` and `*` as they are, every other octet as `\\DDD`, labels joined by `.`, no trailing dot.

Distinct owners: owners are remembered as 63-bit hashes in an open-addressing table, so memory stays at
16 bytes per delegation whatever the order of the records; two delegations of one snapshot whose hashes
collide would count once (for 160 million names, about one chance in 700).

Entries are never half-applied: when a chunk ends inside an entry, the kernel returns the entry's start and
is called again with more bytes. A damaged entry is counted by reason and skipped to the end of its line.
"""

from __future__ import annotations

import enum

import numpy as np
import numpy.typing as npt

from dnsvigil.ingest.compiled import compiled, inlined
from dnsvigil.ingest.zone_syntax import (
    BAD_CHAR,
    BAD_PAREN,
    BAD_QUOTE,
    MORE,
    TOKEN,
    copy_bytes,
    is_blank,
    is_class,
    is_ns,
    is_ttl,
    is_type,
    next_token,
    put_name,
    same_bytes,
    word_is,
)


class ZoneReason(enum.IntEnum):
    """Why an entry of a master file gave nothing; the value indexes the counts array."""

    BAD_OWNER_NAME = 0
    BAD_CHARACTER = 1
    NO_OWNER = 2
    BAD_TTL = 3
    MISSING_TYPE = 4
    BAD_TYPE = 5
    MISSING_RDATA = 6
    BAD_NS_RDATA = 7
    OUTSIDE_ZONE = 8
    UNBALANCED_PARENTHESIS = 9
    UNTERMINATED_QUOTE = 10
    LINE_TOO_LONG = 11
    BAD_DIRECTIVE = 12
    UNSUPPORTED_DIRECTIVE = 13

    @property
    def label(self) -> str:
        return self.name.lower()


ZONE_REASON_COUNT = len(ZoneReason)
# The reasons as plain integers, which numba compiles in as constants.
_BAD_OWNER_NAME = int(ZoneReason.BAD_OWNER_NAME)
_BAD_CHARACTER = int(ZoneReason.BAD_CHARACTER)
_NO_OWNER = int(ZoneReason.NO_OWNER)
_BAD_TTL = int(ZoneReason.BAD_TTL)
_MISSING_TYPE = int(ZoneReason.MISSING_TYPE)
_BAD_TYPE = int(ZoneReason.BAD_TYPE)
_MISSING_RDATA = int(ZoneReason.MISSING_RDATA)
_BAD_NS_RDATA = int(ZoneReason.BAD_NS_RDATA)
_OUTSIDE_ZONE = int(ZoneReason.OUTSIDE_ZONE)
_UNBALANCED_PARENTHESIS = int(ZoneReason.UNBALANCED_PARENTHESIS)
_UNTERMINATED_QUOTE = int(ZoneReason.UNTERMINATED_QUOTE)
_LINE_TOO_LONG = int(ZoneReason.LINE_TOO_LONG)
_BAD_DIRECTIVE = int(ZoneReason.BAD_DIRECTIVE)
_UNSUPPORTED_DIRECTIVE = int(ZoneReason.UNSUPPORTED_DIRECTIVE)

# Slots of the int64 `state` array, carried from call to call.
ORIGIN_LEN, ORIGIN_WIRE, OWNER_LEN, HAVE_OWNER, LINE, SKIP_LINE, OWNER_SEEN, SET_COUNT = range(8)
RECORDS, NS_RECORDS, PREVIOUS_LEN = 8, 9, 10
STATE_SLOTS = 11

NAME_CAPACITY = 1280
"""Bytes of a name buffer: a 255-octet name in canonical text takes at most 4 characters an octet."""
MAX_ENTRY_BYTES = 1 << 20
"""An entry (or line) longer than this is damage (an unclosed parenthesis, a binary file), not data."""
TOKEN_SLOTS = 6

# What a call ends with.
DONE, OUTPUT_FULL, TABLE_FULL = 0, 1, 2

_ORIGIN_WORD = tuple(b"$origin")
_TTL_WORD = tuple(b"$ttl")
_FNV_OFFSET = np.uint64(0xCBF29CE484222325)
_FNV_PRIME = np.uint64(0x100000001B3)
_MIX_1 = np.uint64(0xFF51AFD7ED558CCD)
_MIX_2 = np.uint64(0xC4CEB9FE1A85EC53)
_SHIFT_33 = np.uint64(33)
_SHIFT_1 = np.uint64(1)


@inlined
def _count(counts: npt.NDArray[np.int64], first_line: npt.NDArray[np.int64], reason: int, line: int) -> None:
    if counts[reason] == 0:
        first_line[reason] = line
    counts[reason] += 1


@inlined
def _hash(name: npt.NDArray[np.uint8], length: int) -> np.int64:
    """A 63-bit hash, never 0 (0 marks an empty slot): FNV-1a, then murmur3's finaliser to spread bits."""
    h = _FNV_OFFSET
    for i in range(length):
        h = (h ^ np.uint64(name[i])) * _FNV_PRIME
    h ^= h >> _SHIFT_33
    h *= _MIX_1
    h ^= h >> _SHIFT_33
    h *= _MIX_2
    h ^= h >> _SHIFT_33
    value = np.int64(h >> _SHIFT_1)
    return value if value != 0 else np.int64(1)


@inlined
def _insert(table: npt.NDArray[np.int64], key: np.int64) -> bool:
    """Add `key` to the set; False when it was there already."""
    mask = len(table) - 1
    slot = key & mask
    while table[slot] != 0:
        if table[slot] == key:
            return False
        slot = (slot + 1) & mask
    table[slot] = key
    return True


@compiled
def rehash(old: npt.NDArray[np.int64], new: npt.NDArray[np.int64]) -> None:
    """Move the keys of the set `old` into the empty, larger set `new`."""
    for key in old:
        if key != 0:
            _insert(new, key)


@inlined
def _scan(
    buf: npt.NDArray[np.uint8],
    pos: int,
    end: int,
    final: bool,
    state: npt.NDArray[np.int64],
    origin: npt.NDArray[np.uint8],
    owner: npt.NDArray[np.uint8],
    previous: npt.NDArray[np.uint8],
    apex: npt.NDArray[np.uint8],
    scratch: npt.NDArray[np.uint8],
    spans: npt.NDArray[np.int64],
    table: npt.NDArray[np.int64],
    pending: npt.NDArray[np.int64],
    out: npt.NDArray[np.uint8],
    out_ends: npt.NDArray[np.int32],
    counts: npt.NDArray[np.int64],
    first_line: npt.NDArray[np.int64],
) -> tuple[int, int, int, int]:
    """Scan buf[pos:end] and emit new delegations into `out` (names) and `out_ends` (where each ends).

    Args:
        final: no byte follows `end`; otherwise an entry cut by `end` is left for the next call.
        state: `STATE_SLOTS` counters and the lengths of `origin` and `owner`, kept between calls.
        owner, previous: the current owner in canonical text, and the text it was read from.
        apex: the zone's apex in canonical text (the TLD); only owners below it are delegations.
        table: the set of owner hashes (a power-of-two size); the call stops when it is 60 % full.
        counts, first_line: per `ZoneReason`, how many entries and the line of the first.

    Returns:
        (position reached, names emitted, bytes of `out` used, DONE / OUTPUT_FULL / TABLE_FULL).
    """
    names = 0
    used = 0
    apex_len = len(apex)
    while True:
        if names >= len(out_ends) or used + NAME_CAPACITY > len(out):
            return pos, names, used, OUTPUT_FULL
        if (state[SET_COUNT] + names) * 10 >= len(table) * 6:
            return pos, names, used, TABLE_FULL
        if state[SKIP_LINE]:
            while pos < end and buf[pos] != 10:
                pos += 1
            if pos >= end:
                if final:
                    state[SKIP_LINE] = 0
                return pos, names, used, DONE
            pos += 1
            state[LINE] += 1
            state[SKIP_LINE] = 0
            continue
        if pos >= end:
            return pos, names, used, DONE
        entry = pos
        line = state[LINE] + 1
        inherit = is_blank(buf[pos])
        depth = 0
        tokens = 0
        crossed = 0
        status = TOKEN
        while status == TOKEN:
            status, start, stop, pos, depth, lines = next_token(buf, pos, end, final, depth)
            crossed += lines
            if status == TOKEN:
                if tokens < TOKEN_SLOTS:
                    spans[tokens, 0] = start
                    spans[tokens, 1] = stop
                tokens += 1
            if pos - entry > MAX_ENTRY_BYTES:
                status = BAD_PAREN if depth > 0 else MORE
                break
        if status == MORE:
            if end - entry <= MAX_ENTRY_BYTES:
                return entry, names, used, DONE
            _count(counts, first_line, _LINE_TOO_LONG, line)
            pos = entry
            state[SKIP_LINE] = 1
            continue
        if status in (BAD_PAREN, BAD_QUOTE):
            reason = _UNBALANCED_PARENTHESIS if status == BAD_PAREN else _UNTERMINATED_QUOTE
            _count(counts, first_line, reason, line)
            # Resume on the line after the one where the damage was seen: earlier lines were consumed.
            state[LINE] += crossed
            state[SKIP_LINE] = 1
            continue
        state[LINE] += crossed
        if tokens == 0:
            continue
        first = 0
        if not inherit:
            start, stop = spans[0, 0], spans[0, 1]
            if buf[start] == 36:  # '$', a directive
                _directive(buf, spans, tokens, state, origin, scratch, counts, first_line, line)
                continue
            first = 1
            # Records of one owner come together: the same text as the previous owner is the same name.
            if stop - start != state[PREVIOUS_LEN] or not same_bytes(buf, start, previous, stop - start):
                length, _ = put_name(buf, start, stop, origin, state[ORIGIN_LEN], state[ORIGIN_WIRE], owner)
                state[PREVIOUS_LEN] = -1
                if length < 0 or buf[start] == 34:
                    bad = _BAD_CHARACTER if length == BAD_CHAR else _BAD_OWNER_NAME
                    _count(counts, first_line, bad, line)
                    state[HAVE_OWNER] = 0
                    continue
                state[OWNER_LEN] = length
                state[HAVE_OWNER] = 1
                state[OWNER_SEEN] = 0
                if stop - start <= len(previous):
                    copy_bytes(previous, 0, buf[start:stop], stop - start)
                    state[PREVIOUS_LEN] = stop - start
        elif not state[HAVE_OWNER]:
            _count(counts, first_line, _NO_OWNER, line)
            continue
        # [TTL] [class] type, or [class] [TTL] type
        index = first
        seen_ttl = False
        seen_class = False
        ttl_ok = True
        while index < first + 2 and index < tokens:
            start, stop = spans[index, 0], spans[index, 1]
            if not seen_ttl and 48 <= buf[start] <= 57:
                seen_ttl = True
                ttl_ok = is_ttl(buf, start, stop)
            elif not seen_class and is_class(buf, start, stop):
                seen_class = True
            else:
                break
            index += 1
        if not ttl_ok:
            _count(counts, first_line, _BAD_TTL, line)
            continue
        if index >= tokens:
            _count(counts, first_line, _MISSING_TYPE, line)
            continue
        start, stop = spans[index, 0], spans[index, 1]
        if not is_type(buf, start, stop):
            _count(counts, first_line, _BAD_TYPE, line)
            continue
        if index + 1 >= tokens:
            _count(counts, first_line, _MISSING_RDATA, line)
            continue
        state[RECORDS] += 1
        if not is_ns(buf, start, stop):
            continue
        state[NS_RECORDS] += 1
        target_start, target_stop = spans[index + 1, 0], spans[index + 1, 1]
        target, _ = put_name(
            buf, target_start, target_stop, origin, state[ORIGIN_LEN], state[ORIGIN_WIRE], scratch
        )
        if index + 2 != tokens or target < 0 or buf[target_start] == 34:
            _count(counts, first_line, _BAD_NS_RDATA, line)
            continue
        length = state[OWNER_LEN]
        if length == apex_len and same_bytes(owner, 0, apex, length):
            continue  # the apex's own name servers
        below = apex_len == 0 or (
            length > apex_len + 1
            and owner[length - apex_len - 1] == 46
            and same_bytes(owner, length - apex_len, apex, apex_len)
        )
        if not below:
            _count(counts, first_line, _OUTSIDE_ZONE, line)
            continue
        if state[OWNER_SEEN]:
            continue  # the usual case: the next NS record of the same delegation
        state[OWNER_SEEN] = 1
        pending[names] = _hash(owner, length)
        copy_bytes(out, used, owner, length)
        used += length
        out_ends[names] = used
        names += 1


@inlined
def _directive(
    buf: npt.NDArray[np.uint8],
    spans: npt.NDArray[np.int64],
    tokens: int,
    state: npt.NDArray[np.int64],
    origin: npt.NDArray[np.uint8],
    scratch: npt.NDArray[np.uint8],
    counts: npt.NDArray[np.int64],
    first_line: npt.NDArray[np.int64],
    line: int,
) -> None:
    """$ORIGIN and $TTL are read; $INCLUDE (a zone naming other files to open) and others are counted."""
    start, stop = spans[0, 0], spans[0, 1]
    if word_is(buf, start, stop, _ORIGIN_WORD):
        if tokens != 2:
            _count(counts, first_line, _BAD_DIRECTIVE, line)
            return
        length, wire = put_name(
            buf, spans[1, 0], spans[1, 1], origin, state[ORIGIN_LEN], state[ORIGIN_WIRE], scratch
        )
        if length < 0 or buf[spans[1, 0]] == 34:
            _count(counts, first_line, _BAD_DIRECTIVE, line)
            return
        copy_bytes(origin, 0, scratch, length)
        state[PREVIOUS_LEN] = -1  # the same owner text may now be another name
        state[ORIGIN_LEN] = length
        state[ORIGIN_WIRE] = wire
    elif word_is(buf, start, stop, _TTL_WORD):
        if tokens != 2 or not is_ttl(buf, spans[1, 0], spans[1, 1]):
            _count(counts, first_line, _BAD_DIRECTIVE, line)
    else:
        _count(counts, first_line, _UNSUPPORTED_DIRECTIVE, line)


@inlined
def _settle(
    table: npt.NDArray[np.int64],
    pending: npt.NDArray[np.int64],
    out: npt.NDArray[np.uint8],
    out_ends: npt.NDArray[np.int32],
    names: int,
) -> tuple[int, int]:
    """Keep the names whose hashes are new to the set, in order; return (names kept, bytes used).

    The set is probed in a loop of its own, not name by name while scanning: its probes miss the cache,
    and only a short loop of independent probes lets the processor wait for several misses at once.
    """
    for i in range(names):
        if not _insert(table, pending[i]):
            pending[i] = 0
    kept = 0
    used = 0
    start = 0
    for i in range(names):
        stop = out_ends[i]
        if pending[i] != 0:
            for j in range(start, stop):
                out[used + j - start] = out[j]
            used += stop - start
            out_ends[kept] = used
            kept += 1
        start = stop
    return kept, used


@compiled
def scan_zone(
    buf: npt.NDArray[np.uint8],
    pos: int,
    end: int,
    final: bool,
    state: npt.NDArray[np.int64],
    origin: npt.NDArray[np.uint8],
    owner: npt.NDArray[np.uint8],
    previous: npt.NDArray[np.uint8],
    apex: npt.NDArray[np.uint8],
    scratch: npt.NDArray[np.uint8],
    spans: npt.NDArray[np.int64],
    table: npt.NDArray[np.int64],
    pending: npt.NDArray[np.int64],
    out: npt.NDArray[np.uint8],
    out_ends: npt.NDArray[np.int32],
    counts: npt.NDArray[np.int64],
    first_line: npt.NDArray[np.int64],
) -> tuple[int, int, int, int]:
    """Scan buf[pos:end] and emit the delegations not seen before into `out` and `out_ends`.

    See `_scan` for the arguments; `pending` holds the hashes of a call's candidates (as long as `out_ends`).
    """
    pos, names, used, status = _scan(
        buf, pos, end, final, state, origin, owner, previous, apex, scratch, spans, table, pending, out,
        out_ends, counts, first_line,
    )  # fmt: skip
    names, used = _settle(table, pending, out, out_ends, names)
    state[SET_COUNT] += names
    return pos, names, used, status
