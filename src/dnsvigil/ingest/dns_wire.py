"""The compiled DNS wire decoder: any `MessageSlices` to one Arrow batch of the `dns_messages` schema.

One kernel reads every message: the header (RFC 1035 section 4.1.1), the first question, then it steps
over every resource record to find the EDNS OPT pseudo-record in the additional section (RFC 6891) and
walks its options for NSID (RFC 5001), Client Subnet (RFC 7871) and COOKIE (RFC 7873). It writes plain
numpy columns and the Arrow string buffers of the names; `decode_messages` wraps them as Arrow arrays
without a Python object per message.

What becomes of a damaged message:

- shorter than the 12-byte header: no row, counted as `dns_too_short`;
- otherwise one row with every header column filled, flagged `malformed` with the first problem found:
  `dns_truncated_question` (a question runs past the end), `dns_bad_name` (reserved label type, bad
  compression pointer, name over 255 bytes), `dns_truncated_record` (a record runs past the end),
  `dns_bad_opt` (an OPT record not owned by the root, a second OPT record, or options overrunning its
  data), or `dns_trailing_bytes` (bytes left after the last record the counts announce, except in DSO
  messages, whose TLVs follow the sections);
- the question columns are null unless the first question was read whole; the EDNS columns are null
  unless an OPT record was found in the additional section before reading stopped. The fixed part of a
  flagged OPT record (version, UDP size, DO, extended RCODE) is still reported, and the option flags
  say which options were read before the damage.

`qname_mixed_case` is true when the wire name held at least one upper-case ASCII letter, so that it
differs from the lower-case `qname` (as with 0x20 case randomisation).
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
import pyarrow as pa

from dnsvigil.ingest.address_text import addresses_to_arrow
from dnsvigil.ingest.compiled import compiled, inlined
from dnsvigil.ingest.reasons import REASON_COUNT, Reason
from dnsvigil.ingest.slices import TRANSPORT_TCP, TRANSPORT_UDP, MessageSlices
from dnsvigil.ingest.wire_names import NAME_OK, NAME_TEXT_MAX, NAME_TRUNCATED, decode_name, skip_name
from dnsvigil.store.schema import DNS_MESSAGES

HEADER_LENGTH = 12
TYPE_OPT = 41
OPCODE_DSO = 6
OPTION_NSID = 3
OPTION_ECS = 8
OPTION_COOKIE = 10

_NO_REASON = -1
_TOO_SHORT = int(Reason.DNS_TOO_SHORT)
_TRUNCATED_QUESTION = int(Reason.DNS_TRUNCATED_QUESTION)
_BAD_NAME = int(Reason.DNS_BAD_NAME)
_TRUNCATED_RECORD = int(Reason.DNS_TRUNCATED_RECORD)
_BAD_OPT = int(Reason.DNS_BAD_OPT)
_TRAILING_BYTES = int(Reason.DNS_TRAILING_BYTES)

# The kernel writes each fixed-width column as one row of a 2-D block, one block per type; these name
# the rows. `has_question` is the validity of the question columns, not a column of its own.
_U16_COLUMNS = (
    "dns_id", "rcode", "qdcount", "ancount", "nscount", "arcount", "qtype", "qclass", "edns_udp_size",
    "src_port", "dst_port",
)  # fmt: skip
_DNS_ID, _RCODE, _QDCOUNT, _ANCOUNT, _NSCOUNT, _ARCOUNT, _QTYPE, _QCLASS, _EDNS_UDP_SIZE = range(9)
_SRC_PORT, _DST_PORT = 9, 10
_U8_COLUMNS = ("opcode", "edns_version", "ip_version")
_OPCODE, _EDNS_VERSION, _IP_VERSION = range(3)
_FLAG_COLUMNS = (
    "qr", "aa", "tc", "rd", "ra", "ad", "cd", "has_question", "qname_mixed_case", "edns_present",
    "edns_do", "edns_nsid", "edns_ecs", "edns_cookie", "malformed",
)  # fmt: skip
_QR, _AA, _TC, _RD, _RA, _AD, _CD, _HAS_QUESTION, _MIXED_CASE, _EDNS_PRESENT = range(10)
_EDNS_DO, _EDNS_NSID, _EDNS_ECS, _EDNS_COOKIE, _MALFORMED = range(10, 15)
_TRANSPORT_INDEX, _REASON = range(2)
_QUESTION_COLUMNS = frozenset({"qname_mixed_case", "qtype", "qclass"})
_EDNS_COLUMNS = frozenset(
    {"edns_version", "edns_udp_size", "edns_do", "edns_nsid", "edns_ecs", "edns_cookie"}
)

_TRANSPORT_NAMES = pa.array(["udp", "tcp"], type=pa.string())
_REASON_LABELS = pa.array([reason.label for reason in Reason], type=pa.string())
_OFFSET_LIMIT = 2**31 - 1


@inlined
def _read_u16(buffer: npt.NDArray[np.uint8], pos: int) -> int:
    return (int(buffer[pos]) << 8) | int(buffer[pos + 1])


@inlined
def _read_options(
    buffer: npt.NDArray[np.uint8], pos: int, end: int, flags: npt.NDArray[np.bool_], row: int
) -> bool:
    """Note the NSID, ECS and COOKIE options in OPT data `buffer[pos:end]`; false when options overrun."""
    while pos < end:
        if pos + 4 > end:
            return False
        code = _read_u16(buffer, pos)
        option_end = pos + 4 + _read_u16(buffer, pos + 2)
        if option_end > end:
            return False
        if code == OPTION_NSID:
            flags[_EDNS_NSID, row] = True
        elif code == OPTION_ECS:
            flags[_EDNS_ECS, row] = True
        elif code == OPTION_COOKIE:
            flags[_EDNS_COOKIE, row] = True
        pos = option_end
    return True


@inlined
def _read_sections(
    buffer: npt.NDArray[np.uint8],
    pos: int,
    end: int,
    u16: npt.NDArray[np.uint16],
    u8: npt.NDArray[np.uint8],
    flags: npt.NDArray[np.bool_],
    row: int,
) -> int:
    """Step over every record after the questions, reading the OPT record; return a reason or `_NO_REASON`."""
    answer_and_authority = int(u16[_ANCOUNT, row]) + int(u16[_NSCOUNT, row])
    record_count = answer_and_authority + int(u16[_ARCOUNT, row])
    for record in range(record_count):
        owner = pos
        status, pos = skip_name(buffer, pos, end)
        if status != NAME_OK:
            return _TRUNCATED_RECORD if status == NAME_TRUNCATED else _BAD_NAME
        if pos + 10 > end:
            return _TRUNCATED_RECORD
        data_start = pos + 10
        data_end = data_start + _read_u16(buffer, pos + 8)
        if data_end > end:
            return _TRUNCATED_RECORD
        if record >= answer_and_authority and _read_u16(buffer, pos) == TYPE_OPT:
            if flags[_EDNS_PRESENT, row]:
                return _BAD_OPT
            flags[_EDNS_PRESENT, row] = True
            u16[_EDNS_UDP_SIZE, row] = _read_u16(buffer, pos + 2)
            u16[_RCODE, row] = int(u16[_RCODE, row]) | (int(buffer[pos + 4]) << 4)
            u8[_EDNS_VERSION, row] = buffer[pos + 5]
            flags[_EDNS_DO, row] = (buffer[pos + 6] & 0x80) != 0
            if pos != owner + 1 or buffer[owner] != 0:
                return _BAD_OPT
            if not _read_options(buffer, data_start, data_end, flags, row):
                return _BAD_OPT
        pos = data_end
    if pos < end and u8[_OPCODE, row] != OPCODE_DSO:  # DSO puts its TLVs after the sections (RFC 8490)
        return _TRAILING_BYTES
    return _NO_REASON


@inlined
def _read_questions(
    buffer: npt.NDArray[np.uint8],
    start: int,
    end: int,
    u16: npt.NDArray[np.uint16],
    flags: npt.NDArray[np.bool_],
    row: int,
    name_data: npt.NDArray[np.uint8],
    name_pos: int,
) -> tuple[int, int, int]:
    """Read the first question and step over the others; return (reason, position after them, name end)."""
    pos = start + HEADER_LENGTH
    name_end = name_pos
    text_end = name_pos
    mixed_case = False
    for question in range(int(u16[_QDCOUNT, row])):
        if question == 0:
            status, pos, text_end, mixed_case = decode_name(buffer, start, end, pos, name_data, name_pos)
        else:
            status, pos = skip_name(buffer, pos, end)
        if status != NAME_OK:
            return (_TRUNCATED_QUESTION if status == NAME_TRUNCATED else _BAD_NAME), pos, name_end
        if pos + 4 > end:
            return _TRUNCATED_QUESTION, pos, name_end
        if question == 0:
            u16[_QTYPE, row] = _read_u16(buffer, pos)
            u16[_QCLASS, row] = _read_u16(buffer, pos + 2)
            flags[_HAS_QUESTION, row] = True
            flags[_MIXED_CASE, row] = mixed_case
            name_end = text_end
        pos += 4
    return _NO_REASON, pos, name_end


@compiled
def _decode_kernel(
    buffer: npt.NDArray[np.uint8],
    offset: npt.NDArray[np.int64],
    length: npt.NDArray[np.int32],
    transport: npt.NDArray[np.uint8],
    message: int,
    row: int,
    name_pos: int,
    source_row: npt.NDArray[np.int64],
    u16: npt.NDArray[np.uint16],
    u8: npt.NDArray[np.uint8],
    flags: npt.NDArray[np.bool_],
    i32: npt.NDArray[np.int32],
    name_offsets: npt.NDArray[np.int32],
    name_data: npt.NDArray[np.uint8],
    counts: npt.NDArray[np.int64],
) -> tuple[int, int, int]:
    """Decode messages from `message` on into output rows from `row` on.

    Stops early when `name_data` has less than `NAME_TEXT_MAX` bytes free, so the caller can grow it.

    Returns:
        (next message, next row, bytes of `name_data` used).
    """
    message_count = offset.shape[0]
    while message < message_count:
        start = offset[message]
        end = start + length[message]
        if end - start < HEADER_LENGTH:
            counts[_TOO_SHORT] += 1
            message += 1
            continue
        if name_data.shape[0] - name_pos < NAME_TEXT_MAX:
            break
        source_row[row] = message
        i32[_TRANSPORT_INDEX, row] = 1 if transport[message] == TRANSPORT_TCP else 0
        flag_high = buffer[start + 2]
        flag_low = buffer[start + 3]
        u16[_DNS_ID, row] = _read_u16(buffer, start)
        u8[_OPCODE, row] = (flag_high >> 3) & 0xF
        flags[_QR, row] = (flag_high & 0x80) != 0
        flags[_AA, row] = (flag_high & 0x04) != 0
        flags[_TC, row] = (flag_high & 0x02) != 0
        flags[_RD, row] = (flag_high & 0x01) != 0
        flags[_RA, row] = (flag_low & 0x80) != 0
        flags[_AD, row] = (flag_low & 0x20) != 0
        flags[_CD, row] = (flag_low & 0x10) != 0
        u16[_RCODE, row] = flag_low & 0xF
        u16[_QDCOUNT, row] = _read_u16(buffer, start + 4)
        u16[_ANCOUNT, row] = _read_u16(buffer, start + 6)
        u16[_NSCOUNT, row] = _read_u16(buffer, start + 8)
        u16[_ARCOUNT, row] = _read_u16(buffer, start + 10)
        u16[_QTYPE, row] = 0
        u16[_QCLASS, row] = 0
        u16[_EDNS_UDP_SIZE, row] = 0
        u8[_EDNS_VERSION, row] = 0
        for flag in range(_HAS_QUESTION, _MALFORMED + 1):
            flags[flag, row] = False
        reason, pos, name_pos = _read_questions(buffer, start, end, u16, flags, row, name_data, name_pos)
        if reason == _NO_REASON:
            reason = _read_sections(buffer, pos, end, u16, u8, flags, row)
        name_offsets[row + 1] = name_pos
        if reason != _NO_REASON:
            flags[_MALFORMED, row] = True
            counts[reason] += 1
            i32[_REASON, row] = reason
        else:
            i32[_REASON, row] = 0
        message += 1
        row += 1
    return message, row, name_pos


def _checked(slices: MessageSlices, counts: npt.NDArray[np.int64]) -> None:
    """Refuse slices that break the `MessageSlices` contract, before a kernel reads out of bounds."""
    if counts.dtype != np.int64 or counts.ndim != 1 or len(counts) < REASON_COUNT:
        raise ValueError(f"counts must be a 1-D int64 array of at least {REASON_COUNT} elements")
    if slices.buffer.dtype != np.uint8 or slices.buffer.ndim != 1:
        raise ValueError("MessageSlices.buffer must be a 1-D uint8 array")
    count = len(slices)
    if count == 0:
        return
    offset = slices.offset.astype(np.int64, copy=False)
    length = slices.length.astype(np.int64, copy=False)
    if offset.min() < 0 or length.min() < 0 or int((offset + length).max()) > len(slices.buffer):
        raise ValueError("MessageSlices has a message outside its buffer (negative or too far)")
    if np.count_nonzero(slices.ip_version == 4) + np.count_nonzero(slices.ip_version == 6) != count:
        raise ValueError("MessageSlices.ip_version holds a value other than 4 or 6")
    udp = np.count_nonzero(slices.transport == TRANSPORT_UDP)
    if udp + np.count_nonzero(slices.transport == TRANSPORT_TCP) != count:
        raise ValueError("MessageSlices.transport holds a value other than 17 (UDP) or 6 (TCP)")


def _grown(name_data: npt.NDArray[np.uint8], used: int) -> npt.NDArray[np.uint8]:
    """A copy of `name_data[:used]` with room for at least `NAME_TEXT_MAX` more bytes."""
    if used + NAME_TEXT_MAX > _OFFSET_LIMIT:
        raise ValueError("query names of these slices exceed 2 GiB of text; decode them in smaller chunks")
    bigger = np.empty(min(2 * len(name_data) + NAME_TEXT_MAX, _OFFSET_LIMIT), dtype=np.uint8)
    bigger[:used] = name_data[:used]
    return bigger


def _block_columns(
    u16: npt.NDArray[np.uint16], u8: npt.NDArray[np.uint8], bits: npt.NDArray[np.uint8], rows: int
) -> dict[str, pa.Array]:
    """The fixed-width columns of the kernel's blocks, null where no question or no OPT record was read.

    `bits` is the flag block bit-packed, one Arrow bitmap per flag: it serves as the flag columns' data and
    as the other columns' validity. (`pa.array` with a mask is a slow path: it would cost more than the
    decoding itself.)
    """
    validity = {
        **dict.fromkeys(_QUESTION_COLUMNS, pa.py_buffer(bits[_HAS_QUESTION])),
        **dict.fromkeys(_EDNS_COLUMNS, pa.py_buffer(bits[_EDNS_PRESENT])),
    }
    columns = {}
    for names, block, arrow_type in ((_U16_COLUMNS, u16, pa.uint16()), (_U8_COLUMNS, u8, pa.uint8())):
        for index, name in enumerate(names):
            data = pa.py_buffer(block[index, :rows])
            columns[name] = pa.Array.from_buffers(arrow_type, rows, [validity.get(name), data])
    for index, name in enumerate(_FLAG_COLUMNS):
        columns[name] = pa.Array.from_buffers(
            pa.bool_(), rows, [validity.get(name), pa.py_buffer(bits[index])]
        )
    return columns


def decode_messages(slices: MessageSlices, counts: npt.NDArray[np.int64], source_file: str) -> pa.RecordBatch:
    """Decode every DNS message of `slices` into one batch of the `dns_messages` schema.

    Args:
        slices: the messages and their transport facts.
        counts: int64 counts indexed by `Reason`; each message without a row and each malformed row adds one.
        source_file: the file the messages came from, for the `source_file` column.

    Returns:
        One row per message of at least 12 bytes, in the order of `slices`.

    Raises:
        ValueError: `slices` or `counts` break their contract (a message outside the buffer, an IP version
            other than 4 or 6, a transport other than UDP or TCP), or the query names of one batch would
            exceed 2 GiB of text.
    """
    _checked(slices, counts)
    count = len(slices)
    source_row = np.empty(count, dtype=np.int64)
    u16 = np.empty((len(_U16_COLUMNS), count), dtype=np.uint16)
    u8 = np.empty((len(_U8_COLUMNS), count), dtype=np.uint8)
    flags = np.empty((len(_FLAG_COLUMNS), count), dtype=np.bool_)
    i32 = np.empty((2, count), dtype=np.int32)
    name_offsets = np.zeros(count + 1, dtype=np.int32)
    name_data = np.empty(32 * count + NAME_TEXT_MAX, dtype=np.uint8)  # typical names fit; grown if not
    inputs = (
        np.ascontiguousarray(slices.buffer),
        np.ascontiguousarray(slices.offset, dtype=np.int64),
        np.ascontiguousarray(slices.length, dtype=np.int32),
        np.ascontiguousarray(slices.transport, dtype=np.uint8),
    )
    message = rows = name_pos = 0
    while True:
        message, rows, name_pos = _decode_kernel(
            *inputs, message, rows, name_pos, source_row, u16, u8, flags, i32, name_offsets, name_data, counts
        )
        if message >= count:
            break
        name_data = _grown(name_data, name_pos)
    kept = source_row[:rows]
    every = rows == count  # the common case: no message too short, so no gathering
    u16[_SRC_PORT, :rows] = slices.src_port if every else slices.src_port[kept]
    u16[_DST_PORT, :rows] = slices.dst_port if every else slices.dst_port[kept]
    u8[_IP_VERSION, :rows] = slices.ip_version if every else slices.ip_version[kept]
    # Copied, as every column is: a reader may reuse the arrays of its slices (see `CaptureBatch`).
    ts_ns = (slices.ts_ns if every else slices.ts_ns[kept]).astype(np.int64)
    if name_pos < len(name_data) // 2:
        name_data = name_data[:name_pos].copy()  # do not keep a mostly empty buffer alive
    bits = np.packbits(flags[:, :rows], axis=1, bitorder="little")
    columns = _block_columns(u16, u8, bits, rows)
    columns |= {
        "ts": pa.Array.from_buffers(DNS_MESSAGES.schema.field("ts").type, rows, [None, pa.py_buffer(ts_ns)]),
        "src_addr": addresses_to_arrow(slices.src_addr, slices.ip_version, None if every else kept),
        "dst_addr": addresses_to_arrow(slices.dst_addr, slices.ip_version, None if every else kept),
        "transport": pa.DictionaryArray.from_arrays(pa.array(i32[_TRANSPORT_INDEX, :rows]), _TRANSPORT_NAMES),
        "msg_len": pa.array((slices.length if every else slices.length[kept]).astype(np.uint32)),
        "qname": pa.Array.from_buffers(
            pa.string(),
            rows,
            [
                pa.py_buffer(bits[_HAS_QUESTION]),
                pa.py_buffer(name_offsets[: rows + 1]),
                pa.py_buffer(name_data[:name_pos]),
            ],
        ),
        "malformed_reason": pa.DictionaryArray.from_arrays(
            pa.Array.from_buffers(
                pa.int32(), rows, [pa.py_buffer(bits[_MALFORMED]), pa.py_buffer(i32[_REASON, :rows])]
            ),
            _REASON_LABELS,
        ),
        "source_file": pa.DictionaryArray.from_arrays(
            pa.array(np.zeros(rows, dtype=np.int32)), pa.array([source_file], type=pa.string())
        ),
    }
    schema = DNS_MESSAGES.schema
    return pa.RecordBatch.from_arrays([columns[name] for name in schema.names], schema=schema)
