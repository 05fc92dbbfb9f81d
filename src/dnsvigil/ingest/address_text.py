"""IPv4 and IPv6 addresses as text, written by compiled kernels straight into Arrow string buffers.

IPv4 is the dotted quad. IPv6 is the RFC 5952 canonical form: lower-case hex without leading zeros, the
longest run of two or more zero groups written '::' (the first run on ties), and an IPv4-mapped address
(::ffff:0:0/96) written with its IPv4 part dotted, '::ffff:192.0.2.1' (RFC 5952 section 5). That is
what Python's `ipaddress` prints from 3.13 on; Python 3.11 still prints mapped addresses in hex
('::ffff:c000:201').
No other embedded-IPv4 prefix (::/96, 64:ff9b::/96) is written dotted.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
import pyarrow as pa

from dnsvigil.ingest.compiled import compiled, inlined

IPV4_TEXT_MAX = 15
"""Longest IPv4 text: '255.255.255.255'."""
IPV6_TEXT_MAX = 39
"""Longest IPv6 text: eight four-digit groups and seven colons."""
TEXT_SLACK = 4
"""Spare bytes the writers may scribble on past the end of the text they return."""

_HEX_DIGITS = np.frombuffer(b"0123456789abcdef", dtype=np.uint8)
_MAPPED_PREFIX = np.frombuffer(b"::ffff:", dtype=np.uint8)
_COLON = 58
_DOT = 46


def _decimal_table() -> npt.NDArray[np.uint8]:
    """Row b holds the decimal digits of b, then how many there are."""
    # Writing all three digits and moving on by the count spares a branch per byte, which addresses of
    # varied lengths would mispredict.
    table = np.zeros((256, 4), dtype=np.uint8)
    for value in range(256):
        text = str(value).encode("ascii")
        table[value, : len(text)] = np.frombuffer(text, dtype=np.uint8)
        table[value, 3] = len(text)
    return table


_DECIMAL = _decimal_table()


@inlined
def write_ipv4_text(address: npt.NDArray[np.uint8], first: int, out: npt.NDArray[np.uint8], pos: int) -> int:
    """Write the dotted quad of `address[first:first + 4]` at `out[pos]`; return the position after it.

    Up to two bytes after the returned position are overwritten: `out` needs `TEXT_SLACK` spare bytes.
    """
    for index in range(4):
        value = address[first + index]
        out[pos] = _DECIMAL[value, 0]
        out[pos + 1] = _DECIMAL[value, 1]
        out[pos + 2] = _DECIMAL[value, 2]
        pos += _DECIMAL[value, 3]
        out[pos] = _DOT
        pos += 1
    return pos - 1


@inlined
def _write_hex_group(group: int, out: npt.NDArray[np.uint8], pos: int) -> int:
    if group > 0xFFF:
        out[pos] = _HEX_DIGITS[group >> 12]
        pos += 1
    if group > 0xFF:
        out[pos] = _HEX_DIGITS[(group >> 8) & 0xF]
        pos += 1
    if group > 0xF:
        out[pos] = _HEX_DIGITS[(group >> 4) & 0xF]
        pos += 1
    out[pos] = _HEX_DIGITS[group & 0xF]
    return pos + 1


@inlined
def _group(address: npt.NDArray[np.uint8], index: int) -> int:
    return (int(address[2 * index]) << 8) | int(address[2 * index + 1])


@inlined
def write_ipv6_text(address: npt.NDArray[np.uint8], out: npt.NDArray[np.uint8], pos: int) -> int:
    """Write the RFC 5952 text of the 16-byte `address` at `out[pos]`; return the position after it."""
    mapped = _group(address, 5) == 0xFFFF
    for index in range(5):
        if _group(address, index) != 0:
            mapped = False
    if mapped:
        for index in range(_MAPPED_PREFIX.shape[0]):
            out[pos + index] = _MAPPED_PREFIX[index]
        return write_ipv4_text(address, 12, out, pos + _MAPPED_PREFIX.shape[0])
    best_start = -1
    best_length = 1  # a lone zero group is never shortened (RFC 5952 section 4.2.2)
    run_start = -1
    for index in range(9):
        if index < 8 and _group(address, index) == 0:
            if run_start < 0:
                run_start = index
        elif run_start >= 0:
            if index - run_start > best_length:
                best_start = run_start
                best_length = index - run_start
            run_start = -1
    best_end = best_start + best_length if best_start >= 0 else -1
    for index in range(8):
        if best_start <= index < best_end:
            if index == best_start:
                out[pos] = _COLON
                out[pos + 1] = _COLON
                pos += 2
            continue
        if index > 0 and index != best_end:
            out[pos] = _COLON
            pos += 1
        pos = _write_hex_group(_group(address, index), out, pos)
    return pos


@compiled
def fill_address_text(
    addresses: npt.NDArray[np.uint8],
    ip_version: npt.NDArray[np.uint8],
    rows: npt.NDArray[np.int64],
    offsets: npt.NDArray[np.int32],
    data: npt.NDArray[np.uint8],
) -> int:
    """Write the text of `addresses[rows[i]]` as Arrow string i into `offsets` and `data`.

    Args:
        addresses: (n, 16) uint8 addresses; an IPv4 address fills the first 4 bytes.
        ip_version: 4 or 6 per address; anything but 4 is read as IPv6.
        rows: int64 indices of the addresses to write, in output order.
        offsets: int32 Arrow offsets, `len(rows) + 1` long, filled here.
        data: uint8 character buffer, `text_capacity(ip_version[rows]) + TEXT_SLACK` bytes or more.

    Returns:
        The number of bytes of `data` used.
    """
    pos = 0
    offsets[0] = 0
    for out_index in range(rows.shape[0]):
        row = rows[out_index]
        if ip_version[row] == 4:
            pos = write_ipv4_text(addresses[row], 0, data, pos)
        else:
            pos = write_ipv6_text(addresses[row], data, pos)
        offsets[out_index + 1] = pos
    return pos


def text_capacity(ip_version: npt.NDArray[np.uint8]) -> int:
    """Bytes of text that addresses of these IP versions can need at most."""
    ipv4_count = int(np.count_nonzero(ip_version == 4))
    return ipv4_count * IPV4_TEXT_MAX + (len(ip_version) - ipv4_count) * IPV6_TEXT_MAX


def addresses_to_arrow(
    addresses: npt.NDArray[np.uint8],
    ip_version: npt.NDArray[np.uint8],
    rows: npt.NDArray[np.int64] | None = None,
) -> pa.StringArray:
    """The text of each address as an Arrow string array, built without a Python string per address.

    Args:
        addresses: (n, 16) uint8 addresses; an IPv4 address fills the first 4 bytes.
        ip_version: uint8 4 or 6 per address.
        rows: which addresses to write, in output order; all of them when None.

    Returns:
        A non-null `pa.string()` array, one element per row.

    Raises:
        ValueError: the arrays disagree in shape, or a row is not an index of `addresses`.
    """
    count = len(ip_version)
    if addresses.shape != (count, 16):
        raise ValueError(f"addresses must have shape ({count}, 16), one row per IP version")
    if rows is None:
        rows = np.arange(count, dtype=np.int64)
        versions = ip_version
    else:
        rows = np.ascontiguousarray(rows, dtype=np.int64)
        if len(rows) and (rows.min() < 0 or rows.max() >= count):
            raise ValueError(f"address rows must lie in [0, {count})")
        versions = ip_version[rows]
    offsets = np.empty(len(rows) + 1, dtype=np.int32)
    data = np.empty(text_capacity(versions) + TEXT_SLACK, dtype=np.uint8)
    used = fill_address_text(
        np.ascontiguousarray(addresses, dtype=np.uint8), np.ascontiguousarray(ip_version), rows, offsets, data
    )
    return pa.Array.from_buffers(
        pa.string(), len(rows), [None, pa.py_buffer(offsets), pa.py_buffer(data[:used])], null_count=0
    )
