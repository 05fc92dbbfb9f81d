"""Record walking for pcap and pcapng captures: where each packet lies in a buffer, when and on what link.

pcap (tcpdump's pcap-savefile(5), draft-ietf-opsawg-pcap): a 24-byte file header whose magic number gives the
byte order and the time unit (0xa1b2c3d4 microseconds, 0xa1b23c4d nanoseconds; 0xa1b2cd34, Alexey Kuznetsov's
patched libpcap, adds 8 bytes to each record header), then records of a 16-byte header (seconds, fraction,
captured length, original length) followed by the captured bytes.

pcapng (draft-ietf-opsawg-pcapng): blocks of (type, total length, body, total length again). A Section
Header Block (SHB) starts each section and sets its byte order; Interface Description Blocks (IDB) number
the section's interfaces, each with a link type, a snap length, a time resolution (`if_tsresol`, default
microseconds) and offset (`if_tsoffset`); packets come in Enhanced (EPB), Simple (SPB: interface 0, no
time of its own) and obsolete Packet blocks (PB). Every other block is skipped.

The walkers only locate packets; `packets.py` decodes them. A block or record whose framing is impossible
(a length that cannot be, a trailing length that disagrees) ends the walk: nothing after it can be trusted.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import numpy.typing as npt

from dnsvigil.ingest.compiled import compiled, inlined
from dnsvigil.ingest.reasons import Reason

MAX_RECORD_BYTES = 16 << 20
"""Largest record or block accepted (Wireshark's pcapng limit); a larger length is taken for damage."""
MAX_INTERFACES = 1 << 16
"""Interfaces kept per pcapng section; packets naming a later one are counted as bad record headers."""

PCAPNG_MAGIC = b"\x0a\x0d\x0d\x0a"
_PCAP_MAGICS: dict[bytes, tuple[bool, bool, int]] = {
    # magic as stored: (big endian, nanosecond, record header bytes)
    b"\xa1\xb2\xc3\xd4": (True, False, 16),
    b"\xd4\xc3\xb2\xa1": (False, False, 16),
    b"\xa1\xb2\x3c\x4d": (True, True, 16),
    b"\x4d\x3c\xb2\xa1": (False, True, 16),
    b"\xa1\xb2\xcd\x34": (True, False, 24),
    b"\x34\xcd\xb2\xa1": (False, False, 24),
}
PCAP_HEADER_BYTES = 24

# Why a walk stopped.
NEED_MORE = 0
"""The next record is not wholly in the buffer; `need` says how many bytes from `pos` it takes."""
OUTPUT_FULL = 1
"""The record arrays are full; call again from `pos`."""
BAD_FRAMING = 2
"""The record at `pos` cannot be framed; nothing after it can be read."""

_BAD_RECORD_HEADER = int(Reason.BAD_RECORD_HEADER)

_BLOCK_IDB = 1
_BLOCK_PB = 2
_BLOCK_SPB = 3
_BLOCK_EPB = 6
_OPTION_END = 0
_OPTION_TSRESOL = 9
_OPTION_TSOFFSET = 14
_NS_PER_SECOND = 1_000_000_000

# Slots of `PcapngState.section`.
_BIG_ENDIAN = 0
_INTERFACE_COUNT = 1
_LAST_TS_NS = 2
_DAMAGED_PACKETS = 3


def pcap_magic(head: bytes) -> tuple[bool, bool, int] | None:
    """(big endian, nanosecond, record header bytes) of a pcap file starting with `head`, None if not pcap."""
    return _PCAP_MAGICS.get(bytes(head[:4]))


@dataclass(frozen=True, slots=True)
class PcapHeader:
    """The 24-byte pcap file header: byte order, time unit, record header size, snap length, link type."""

    big_endian: bool
    nanosecond: bool
    record_header_bytes: int
    snaplen: int
    linktype: int

    @staticmethod
    def from_bytes(head: bytes) -> PcapHeader | None:
        """Read a pcap file header; None when `head` is shorter than one or its magic is not pcap's."""
        magic = pcap_magic(head)
        if magic is None or len(head) < PCAP_HEADER_BYTES:
            return None
        big_endian, nanosecond, record_header_bytes = magic
        byteorder: Literal["big", "little"] = "big" if big_endian else "little"
        snaplen = int.from_bytes(head[16:20], byteorder)
        link_field = int.from_bytes(head[20:24], byteorder)
        # The upper bits may carry FCS information (draft-ietf-opsawg-pcap); the link type is the low 26 bits.
        return PcapHeader(big_endian, nanosecond, record_header_bytes, snaplen, link_field & 0x03FFFFFF)


class RecordIndex:
    """Column arrays locating up to `capacity` packet records in a buffer; a walk fills the first `count`.

    Attributes:
        offset: int64 position of each packet's first captured byte.
        caplen: int64 captured bytes.
        origlen: int64 length of the packet on the wire.
        ts_ns: int64 capture time, nanoseconds since the Unix epoch.
        linktype: int64 LINKTYPE_ value of the packet's link layer.
    """

    __slots__ = ("caplen", "linktype", "offset", "origlen", "ts_ns")

    def __init__(self, capacity: int) -> None:
        self.offset: npt.NDArray[np.int64] = np.empty(capacity, np.int64)
        self.caplen: npt.NDArray[np.int64] = np.empty(capacity, np.int64)
        self.origlen: npt.NDArray[np.int64] = np.empty(capacity, np.int64)
        self.ts_ns: npt.NDArray[np.int64] = np.empty(capacity, np.int64)
        self.linktype: npt.NDArray[np.int64] = np.empty(capacity, np.int64)

    def arrays(self) -> tuple[npt.NDArray[np.int64], ...]:
        """The columns in the order the kernels take them."""
        return (self.offset, self.caplen, self.origlen, self.ts_ns, self.linktype)


class PcapngState:
    """What a pcapng walk carries from block to block: the section's byte order and its interfaces."""

    __slots__ = (
        "if_linktype",
        "if_shift",
        "if_snaplen",
        "if_ts_divisor",
        "if_ts_multiplier",
        "if_ts_offset_ns",
        "section",
    )

    def __init__(self) -> None:
        self.section: npt.NDArray[np.int64] = np.zeros(4, np.int64)
        self.if_linktype: npt.NDArray[np.int64] = np.zeros(MAX_INTERFACES, np.int64)
        self.if_snaplen: npt.NDArray[np.int64] = np.zeros(MAX_INTERFACES, np.int64)
        self.if_ts_multiplier: npt.NDArray[np.int64] = np.zeros(MAX_INTERFACES, np.int64)
        self.if_ts_divisor: npt.NDArray[np.int64] = np.ones(MAX_INTERFACES, np.int64)
        self.if_shift: npt.NDArray[np.int64] = np.zeros(MAX_INTERFACES, np.int64)
        self.if_ts_offset_ns: npt.NDArray[np.int64] = np.zeros(MAX_INTERFACES, np.int64)

    def arrays(self) -> tuple[npt.NDArray[np.int64], ...]:
        """The section slots and the interface columns, in the order `walk_pcapng` takes them."""
        return (
            self.section,
            self.if_linktype,
            self.if_snaplen,
            self.if_ts_multiplier,
            self.if_ts_divisor,
            self.if_shift,
            self.if_ts_offset_ns,
        )

    @property
    def damaged_packets(self) -> int:
        """Packet blocks seen so far that could not be located (bad lengths, unknown interface)."""
        return int(self.section[_DAMAGED_PACKETS])


@inlined
def byte_at(buffer: Any, pos: int) -> int:
    """`buffer[pos]` as a signed 64-bit integer.

    Numba keeps a uint8 element unsigned, and arithmetic mixing unsigned and signed 64-bit integers is done
    in floating point: every integer read from a buffer goes through here to stay int64.
    """
    return np.int64(buffer[pos])  # type: ignore[return-value]


@inlined
def read_u16(buffer: Any, pos: int, big: bool) -> int:
    """The unsigned 16-bit integer at `buffer[pos]`, big- or little-endian."""
    if big:
        return (byte_at(buffer, pos) << 8) | byte_at(buffer, pos + 1)
    return (byte_at(buffer, pos + 1) << 8) | byte_at(buffer, pos)


@inlined
def read_u32(buffer: Any, pos: int, big: bool) -> int:
    """The unsigned 32-bit integer at `buffer[pos]`, big- or little-endian."""
    if big:
        return (
            (byte_at(buffer, pos) << 24)
            | (byte_at(buffer, pos + 1) << 16)
            | (byte_at(buffer, pos + 2) << 8)
            | byte_at(buffer, pos + 3)
        )
    return (
        (byte_at(buffer, pos + 3) << 24)
        | (byte_at(buffer, pos + 2) << 16)
        | (byte_at(buffer, pos + 1) << 8)
        | byte_at(buffer, pos)
    )


@compiled
def walk_pcap(
    buffer: Any,
    pos: int,
    end: int,
    big: bool,
    nanosecond: bool,
    record_header_bytes: int,
    linktype: int,
    out: Any,
) -> tuple[int, int, int, int]:
    """Locate consecutive complete pcap records from `pos`; return (count, stop position, status, need).

    `out` is a RecordIndex's (offset, caplen, origlen, ts_ns, linktype) arrays. `need` is, for NEED_MORE,
    the bytes the record at the stop position takes.
    """
    out_offset, out_caplen, out_origlen, out_ts, out_link = out
    capacity = len(out_offset)
    count = 0
    unit = 1 if nanosecond else 1000
    while count < capacity:
        if end - pos < record_header_bytes:
            return count, pos, NEED_MORE, record_header_bytes
        caplen = read_u32(buffer, pos + 8, big)
        if caplen > MAX_RECORD_BYTES:
            return count, pos, BAD_FRAMING, 0
        size = record_header_bytes + caplen
        if end - pos < size:
            return count, pos, NEED_MORE, size
        seconds = read_u32(buffer, pos, big)
        fraction = read_u32(buffer, pos + 4, big)
        out_offset[count] = pos + record_header_bytes
        out_caplen[count] = caplen
        out_origlen[count] = read_u32(buffer, pos + 12, big)
        out_ts[count] = seconds * _NS_PER_SECOND + fraction * unit
        out_link[count] = linktype
        count += 1
        pos += size
    return count, pos, OUTPUT_FULL, 0


@inlined
def ticks_to_ns(ticks: int, multiplier: int, divisor: int, shift: int) -> int:
    """Nanoseconds in `ticks` of an interface clock: ticks * multiplier // divisor, or ticks / 2**shift s.

    The tick count is an unsigned 64-bit field, whose top bit clocks finer than a nanosecond already use:
    it is read as unsigned here, whatever the signed integer that carries it.
    """
    unsigned = np.uint64(ticks)
    if multiplier != 0:
        return np.int64(unsigned * np.uint64(multiplier) // np.uint64(divisor))  # type: ignore[return-value]
    if shift >= 64:
        return 0
    whole = np.int64(unsigned >> np.uint64(shift))
    fraction = unsigned - ((unsigned >> np.uint64(shift)) << np.uint64(shift))
    scale = min(shift, 30)  # keeps fraction * 10**9 within 64 bits
    fraction >>= np.uint64(shift - scale)
    nanoseconds = np.int64((fraction * np.uint64(_NS_PER_SECOND)) >> np.uint64(scale))
    return whole * _NS_PER_SECOND + nanoseconds  # type: ignore[return-value]


@inlined
def _read_interface(buffer: Any, body: int, body_end: int, big: bool, state: Any) -> bool:
    """Add the interface an IDB body describes; False when the body is too short or the table is full."""
    section, if_link, if_snaplen, if_multiplier, if_divisor, if_shift, if_offset = state
    index = section[_INTERFACE_COUNT]
    if body_end - body < 8 or index >= len(if_link):
        return False
    multiplier = 1000
    divisor = 1
    shift = 0
    offset_ns = 0
    option = body + 8
    while body_end - option >= 4:
        code = read_u16(buffer, option, big)
        length = read_u16(buffer, option + 2, big)
        value = option + 4
        if code == _OPTION_END or length > body_end - value:
            break
        if code == _OPTION_TSRESOL and length >= 1:
            resolution = byte_at(buffer, value)
            multiplier, divisor, shift = 0, 1, 0
            if resolution & 0x80:
                shift = resolution & 0x7F
            elif resolution <= 9:
                multiplier = 1
                for _ in range(9 - resolution):
                    multiplier *= 10
            elif resolution <= 27:
                multiplier = 1
                for _ in range(resolution - 9):
                    divisor *= 10
            else:
                shift = 64  # a finer decimal resolution cannot be held in 64 bits: such times read as 0
        elif code == _OPTION_TSOFFSET and length >= 8:
            high = read_u32(buffer, value + (0 if big else 4), big)
            low = read_u32(buffer, value + (4 if big else 0), big)
            offset_ns = ((high << 32) | low) * _NS_PER_SECOND
        option = value + ((length + 3) & ~3)
    if_link[index] = read_u16(buffer, body, big)
    if_snaplen[index] = read_u32(buffer, body + 4, big)
    if_multiplier[index] = multiplier
    if_divisor[index] = divisor
    if_shift[index] = shift
    if_offset[index] = offset_ns
    section[_INTERFACE_COUNT] = index + 1
    return True


@inlined
def _block_length_ok(length: int) -> bool:
    return 12 <= length <= MAX_RECORD_BYTES and length % 4 == 0


@compiled
def walk_pcapng(
    buffer: Any, pos: int, end: int, state: Any, counts: Any, out: Any
) -> tuple[int, int, int, int]:
    """Locate the packets of consecutive complete pcapng blocks from `pos`, as `walk_pcap` does.

    `state` is a PcapngState's arrays (section, then the interface columns); it is updated as SHBs and IDBs
    go by. Damaged blocks that can still be framed are counted as bad record headers and skipped.
    """
    out_offset, out_caplen, out_origlen, out_ts, out_link = out
    section, if_link, if_snaplen, if_multiplier, if_divisor, if_shift, if_offset = state
    capacity = len(out_offset)
    count = 0
    while count < capacity:
        if end - pos < 12:
            return count, pos, NEED_MORE, 12
        if (
            buffer[pos] == 0x0A
            and buffer[pos + 1] == 0x0D
            and buffer[pos + 2] == 0x0D
            and buffer[pos + 3] == 0x0A
        ):
            # The SHB's byte-order magic says how to read everything in its section, its own length included.
            bom = read_u32(buffer, pos + 8, True)
            if bom == 0x1A2B3C4D:
                big = True
            elif bom == 0x4D3C2B1A:
                big = False
            else:
                return count, pos, BAD_FRAMING, 0
            length = read_u32(buffer, pos + 4, big)
            if not _block_length_ok(length) or length < 28:
                return count, pos, BAD_FRAMING, 0
            if end - pos < length:
                return count, pos, NEED_MORE, length
            if read_u32(buffer, pos + length - 4, big) != length:
                return count, pos, BAD_FRAMING, 0
            section[_BIG_ENDIAN] = 1 if big else 0
            section[_INTERFACE_COUNT] = 0
            pos += length
            continue
        big = section[_BIG_ENDIAN] == 1
        block_type = read_u32(buffer, pos, big)
        length = read_u32(buffer, pos + 4, big)
        if not _block_length_ok(length):
            return count, pos, BAD_FRAMING, 0
        if end - pos < length:
            return count, pos, NEED_MORE, length
        if read_u32(buffer, pos + length - 4, big) != length:
            return count, pos, BAD_FRAMING, 0
        body = pos + 8
        body_end = pos + length - 4
        pos += length
        if block_type == _BLOCK_IDB:
            if not _read_interface(buffer, body, body_end, big, state):
                counts[_BAD_RECORD_HEADER] += 1
            continue
        if block_type != _BLOCK_EPB and block_type != _BLOCK_PB and block_type != _BLOCK_SPB:
            continue
        interfaces = section[_INTERFACE_COUNT]
        if block_type == _BLOCK_SPB:
            if body_end - body < 4 or interfaces == 0:
                counts[_BAD_RECORD_HEADER] += 1
                section[_DAMAGED_PACKETS] += 1
                continue
            interface = 0
            origlen = read_u32(buffer, body, big)
            data = body + 4
            caplen = min(origlen, body_end - data)
            if if_snaplen[0] > 0:
                caplen = min(caplen, if_snaplen[0])
            ts_ns = section[_LAST_TS_NS]
        else:
            if body_end - body < 20:
                counts[_BAD_RECORD_HEADER] += 1
                section[_DAMAGED_PACKETS] += 1
                continue
            if block_type == _BLOCK_EPB:
                interface = read_u32(buffer, body, big)
            else:
                interface = read_u16(buffer, body, big)
            data = body + 20
            caplen = read_u32(buffer, body + 12, big)
            origlen = read_u32(buffer, body + 16, big)
            if interface >= interfaces or caplen > body_end - data:
                counts[_BAD_RECORD_HEADER] += 1
                section[_DAMAGED_PACKETS] += 1
                continue
            ticks = (read_u32(buffer, body + 4, big) << 32) | read_u32(buffer, body + 8, big)
            ts_ns = (
                ticks_to_ns(ticks, if_multiplier[interface], if_divisor[interface], if_shift[interface])
                + if_offset[interface]
            )
            section[_LAST_TS_NS] = ts_ns
        out_offset[count] = data
        out_caplen[count] = caplen
        out_origlen[count] = origlen
        out_ts[count] = ts_ns
        out_link[count] = if_link[interface]
        count += 1
    return count, pos, OUTPUT_FULL, 0
