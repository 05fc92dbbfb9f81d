"""Compiled writers of DNS wire pieces: integers, names, resource records and their rdata (RFC 1035).

Positions are absolute indices into the output buffer; `base` is where the message starts, so a compression
pointer to a name at buffer index q is `0xC000 | (q - base)`. Random-looking bytes (signatures, keys, digests)
come from `stream32`, so the same inputs always give the same bytes.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from dnsvigil.demo.jit import compiled_as, stream32

TYPE_A = 1
TYPE_NS = 2
TYPE_CNAME = 5
TYPE_SOA = 6
TYPE_PTR = 12
TYPE_HINFO = 13
TYPE_MX = 15
TYPE_TXT = 16
TYPE_AAAA = 28
TYPE_OPT = 41
TYPE_DS = 43
TYPE_RRSIG = 46
TYPE_DNSKEY = 48
TYPE_NSEC3 = 50
TYPE_SVCB = 64
TYPE_HTTPS = 65
TYPE_ANY = 255
CLASS_IN = 1

# Signature validity around the capture day, as signers commonly set it.
_INCEPTION_BEFORE = 7 * 86400
_EXPIRATION_AFTER = 14 * 86400
# Documentation prefixes that every address in rdata is drawn from (RFC 5737, RFC 3849).
_IPV4_PREFIXES = np.array([[192, 0, 2], [198, 51, 100], [203, 0, 113]], dtype=np.uint8)

Buffer = npt.NDArray[np.uint8]


@compiled_as("int64(uint8[::1], int64, int64)")
def put16(buffer: Buffer, position: int, value: int) -> int:
    """Write a big-endian 16-bit integer; return the position after it."""
    buffer[position] = (value >> 8) & 0xFF
    buffer[position + 1] = value & 0xFF
    return position + 2


@compiled_as("int64(uint8[::1], int64, int64)")
def put32(buffer: Buffer, position: int, value: int) -> int:
    """Write a big-endian 32-bit integer; return the position after it."""
    buffer[position] = (value >> 24) & 0xFF
    buffer[position + 1] = (value >> 16) & 0xFF
    buffer[position + 2] = (value >> 8) & 0xFF
    buffer[position + 3] = value & 0xFF
    return position + 4


@compiled_as("int64(uint8[::1], int64, uint8[::1], int64, int64)")
def put_bytes(buffer: Buffer, position: int, source: Buffer, start: int, end: int) -> int:
    """Copy `source[start:end]`; return the position after it."""
    for index in range(start, end):
        buffer[position] = source[index]
        position += 1
    return position


@compiled_as("int64(uint8[::1], int64, uint8[::1], int64[::1], int64)")
def put_fragment(
    buffer: Buffer, position: int, fragments: Buffer, fragment_start: npt.NDArray[np.int64], index: int
) -> int:
    """Copy fragment `index` of the fragment table (see `names`); return the position after it."""
    return put_bytes(buffer, position, fragments, fragment_start[index], fragment_start[index + 1])


@compiled_as("int64(uint8[::1], int64, int64, int64, int64)")
def put_random(buffer: Buffer, position: int, count: int, seed: int, salt: int) -> int:
    """Write `count` pseudo-random bytes of the stream (`seed`, `salt`)."""
    for index in range(count):
        buffer[position + index] = (stream32(seed, salt + (index >> 2)) >> (8 * (index & 3))) & 0xFF
    return position + count


@compiled_as("int64(uint8[::1], int64, int64, int64)")
def put_reference(buffer: Buffer, position: int, base: int, target: int) -> int:
    """Refer to the name at message offset `target`: a compression pointer, or the root's single zero."""
    if buffer[base + target] == 0:
        buffer[position] = 0
        return position + 1
    return put16(buffer, position, 0xC000 | target)


@compiled_as("int64(uint8[::1], int64, int64)")
def count_labels(buffer: Buffer, base: int, target: int) -> int:
    """The number of labels of the name at message offset `target`, following compression pointers."""
    labels = 0
    index = base + target
    while buffer[index] != 0:
        if buffer[index] >= 0xC0:
            index = base + (((buffer[index] & 0x3F) << 8) | buffer[index + 1])
            continue
        labels += 1
        index += buffer[index] + 1
    return labels


@compiled_as("int64(uint8[::1], int64, int64, int64)")
def put_name_copy(buffer: Buffer, position: int, base: int, target: int) -> int:
    """Write the name at message offset `target` uncompressed and in lower case (RRSIG signer names)."""
    index = base + target
    while buffer[index] != 0:
        if buffer[index] >= 0xC0:
            index = base + (((buffer[index] & 0x3F) << 8) | buffer[index + 1])
            continue
        length = buffer[index]
        buffer[position] = length
        for offset in range(1, length + 1):
            byte = buffer[index + offset]
            buffer[position + offset] = byte + 32 if 65 <= byte <= 90 else byte
        position += length + 1
        index += length + 1
    buffer[position] = 0
    return position + 1


@compiled_as("int64(uint8[::1], int64, int64, int64, int64, int64)")
def begin_record(buffer: Buffer, position: int, base: int, owner: int, rtype: int, ttl: int) -> int:
    """Write a record's owner (by reference), type, class IN and TTL; return where its rdata begins."""
    position = put_reference(buffer, position, base, owner)
    position = put16(buffer, position, rtype)
    position = put16(buffer, position, CLASS_IN)
    position = put32(buffer, position, ttl)
    return position + 2


@compiled_as("int64(uint8[::1], int64, int64)")
def end_record(buffer: Buffer, rdata_start: int, position: int) -> int:
    """Fill in RDLENGTH of the record whose rdata runs from `rdata_start` to `position`."""
    put16(buffer, rdata_start - 2, position - rdata_start)
    return position


@compiled_as("int64(uint8[::1], int64, int64)")
def put_ipv4(buffer: Buffer, position: int, value: int) -> int:
    """An IPv4 address from a documentation /24 chosen by `value`."""
    prefix = value % 3
    for index in range(3):
        buffer[position + index] = _IPV4_PREFIXES[prefix, index]
    buffer[position + 3] = 1 + (value >> 8) % 254
    return position + 4


@compiled_as("int64(uint8[::1], int64, int64, int64)")
def put_ipv6(buffer: Buffer, position: int, value: int, more: int) -> int:
    """An IPv6 address under 2001:db8::/32 with bits taken from `value` and `more`."""
    position = put32(buffer, position, 0x20010DB8)
    position = put16(buffer, position, 0x100 + (value & 0xFF))
    position = put16(buffer, position, (value >> 8) & 0xF)
    position = put32(buffer, position, 0)
    return put32(buffer, position, more)


@compiled_as("int64(uint8[::1], int64, int64, int64, int64, int64, int64, int64, int64, int64, int64)")
def put_rrsig(
    buffer: Buffer,
    position: int,
    base: int,
    owner: int,
    covered: int,
    algorithm: int,
    ttl: int,
    signer: int,
    signature_bytes: int,
    seed: int,
    now: int,
) -> int:
    """An RRSIG record (RFC 4034) over the RRset (`owner`, `covered`), signed by the zone at `signer`."""
    position = begin_record(buffer, position, base, owner, TYPE_RRSIG, ttl)
    start = position
    position = put16(buffer, position, covered)
    buffer[position] = algorithm
    buffer[position + 1] = count_labels(buffer, base, owner)
    position = put32(buffer, position + 2, ttl)
    position = put32(buffer, position, now + _EXPIRATION_AFTER)
    position = put32(buffer, position, now - _INCEPTION_BEFORE)
    position = put16(buffer, position, stream32(signature_bytes + algorithm, signer) & 0xFFFF)
    position = put_name_copy(buffer, position, base, signer)
    position = put_random(buffer, position, signature_bytes, seed, covered * 64 + owner)
    return end_record(buffer, start, position)


@compiled_as("int64(uint8[::1], int64, int64, int64, int64, int64, int64)")
def put_nsec3(buffer: Buffer, position: int, base: int, zone: int, ttl: int, seed: int, salt: int) -> int:
    """An opt-out NSEC3 record (RFC 5155) of the zone at `zone`, with a hashed owner label; SHA-1, no salt."""
    buffer[position] = 32
    for index in range(32):
        digit = stream32(seed, salt + index) & 31
        buffer[position + 1 + index] = 48 + digit if digit < 10 else 87 + digit
    position = put_reference(buffer, position + 33, base, zone)
    position = put16(buffer, position, TYPE_NSEC3)
    position = put16(buffer, position, CLASS_IN)
    position = put32(buffer, position, ttl)
    start = position + 2
    buffer[start] = 1  # hash algorithm SHA-1
    buffer[start + 1] = 1  # opt-out
    position = put16(buffer, start + 2, 0)  # iterations (RFC 9276)
    buffer[position] = 0  # salt length
    buffer[position + 1] = 20
    position = put_random(buffer, position + 2, 20, seed, salt + 40)
    # Type bitmap: window 0 holding NS and RRSIG, what an opt-out delegation's NSEC3 lists.
    position = put16(buffer, position, 6)
    position = put32(buffer, position, 0x20000000)
    position = put16(buffer, position, 0x0002)
    return end_record(buffer, start, position)


@compiled_as(
    "int64(uint8[::1], int64, int64, int64, int64, int64, uint8[::1], int64[::1], int64, int64, int64)"
)
def put_soa_rdata(
    buffer: Buffer,
    position: int,
    base: int,
    owner: int,
    serial: int,
    minimum: int,
    fragments: Buffer,
    fragment_start: npt.NDArray[np.int64],
    frag_hostmaster: int,
    frag_ns: int,
    frag_root_mname: int,
) -> int:
    """SOA rdata of the zone at `owner`: the root's real-looking names, else ns1 and hostmaster there."""
    if buffer[base + owner] == 0:
        position = put_fragment(buffer, position, fragments, fragment_start, frag_root_mname)
        position = put_fragment(buffer, position, fragments, fragment_start, frag_root_mname + 1)
    else:
        position = put_fragment(buffer, position, fragments, fragment_start, frag_ns)
        position = put_reference(buffer, position, base, owner)
        position = put_fragment(buffer, position, fragments, fragment_start, frag_hostmaster)
        position = put_reference(buffer, position, base, owner)
    position = put32(buffer, position, serial)
    position = put32(buffer, position, 1800)
    position = put32(buffer, position, 900)
    position = put32(buffer, position, 604800)
    return put32(buffer, position, minimum)
