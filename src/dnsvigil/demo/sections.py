"""Compiled writers of a response's sections: answers, negative answers with proofs, and referrals.

Each writer appends records after the question and returns the new position and how many records it wrote.
Owner names are compression pointers to the question, to an earlier record's rdata, or to its own NSEC3 name.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from dnsvigil.demo import names as n
from dnsvigil.demo import rdata as r
from dnsvigil.demo.jit import Record, compiled, compiled_as, stream32
from dnsvigil.demo.names import NameTables
from dnsvigil.demo.plan import FLAG_AA, MODE_NXDOMAIN

_TTL_BY_TYPE = np.full(256, 300, dtype=np.int64)
for _rtype, _seconds in ((1, 300), (28, 300), (5, 300), (2, 86400), (6, 3600), (12, 86400), (15, 3600)):
    _TTL_BY_TYPE[_rtype] = _seconds
for _rtype, _seconds in ((16, 3600), (43, 86400), (48, 3600), (64, 300), (65, 300), (13, 3600)):
    _TTL_BY_TYPE[_rtype] = _seconds
# Constants passed to lazily compiled kernels go through int(): numba would otherwise compile the kernel
# once per constant (it specialises on literal arguments).
_FIRST_RECORD = 0
DELEGATION_TTL = 172800
NEGATIVE_TTL = 900

Buffer = npt.NDArray[np.uint8]
Int64s = npt.NDArray[np.int64]


@compiled_as("int64(int64, boolean, int64)")
def _ttl(rtype: int, authoritative: bool, seed: int) -> int:
    """The TTL an authoritative server serves, or what is left of it in a resolver's cache."""
    full = _TTL_BY_TYPE[rtype & 0xFF] if rtype < 256 else 300
    if authoritative:
        return full
    return full - stream32(seed, 5) % full


@compiled_as("int64(int64, boolean)")
def _signature_bytes(algorithm: int, key_signing: bool) -> int:
    if algorithm == 13:
        return 64
    return 256 if key_signing else 128


@compiled
def _put_rdata(
    buffer: Buffer,
    position: int,
    base: int,
    rtype: int,
    owner: int,
    index: int,
    plan: Record,
    tables: NameTables,
) -> int:
    """The rdata of record `index` of the RRset (`owner`, `rtype`) of vocabulary name `plan.name`."""
    name = plan.name
    fragments = tables.fragments
    fragment_start = tables.fragment_start
    if rtype == r.TYPE_A:
        return r.put_ipv4(buffer, position, stream32(name, index))
    if rtype == r.TYPE_AAAA:
        return r.put_ipv6(buffer, position, stream32(name, 10 + index), stream32(name, 20 + index))
    if rtype == r.TYPE_NS:  # a delegation's servers, the same for every name under it
        name = tables.apex[name]
        if tables.traits[name] & n.IN_BAILIWICK:
            position = r.put_fragment(buffer, position, fragments, fragment_start, n.FRAG_NS_LABEL + index)
            return r.put_reference(buffer, position, base, owner)
        host = n.FRAG_PROVIDER_NS + (2 * (name % n.PROVIDERS) + index) % (2 * n.PROVIDERS)
        return r.put_fragment(buffer, position, fragments, fragment_start, host)
    if rtype == r.TYPE_SOA:
        return r.put_soa_rdata(
            buffer,
            position,
            base,
            owner,
            plan.serial,
            NEGATIVE_TTL,
            fragments,
            fragment_start,
            n.FRAG_HOSTMASTER,
            n.FRAG_NS_LABEL,
            n.FRAG_ROOT_MNAME,
        )
    if rtype == r.TYPE_PTR:
        target = 6 + stream32(name, 3) % (tables.forward_names - 6)
        return r.put_bytes(buffer, position, tables.wire, tables.start[target], tables.start[target + 1])
    if rtype == r.TYPE_MX:
        position = r.put16(buffer, position, 10 * (index + 1))
        position = r.put_fragment(buffer, position, fragments, fragment_start, n.FRAG_MX_LABEL + index % 3)
        return r.put_reference(buffer, position, base, owner)
    if rtype == r.TYPE_TXT:
        if index == 0:
            return r.put_fragment(buffer, position, fragments, fragment_start, n.FRAG_SPF)
        prefix = fragment_start[n.FRAG_VERIFICATION + 1] - fragment_start[n.FRAG_VERIFICATION]
        buffer[position] = prefix + 43
        position = r.put_fragment(buffer, position + 1, fragments, fragment_start, n.FRAG_VERIFICATION)
        for offset in range(43):
            value = stream32(name, 50 + 64 * index + offset) % 36
            buffer[position + offset] = 48 + value if value < 10 else 87 + value
        return position + 43
    if rtype == r.TYPE_DS:
        name = tables.apex[name]
        position = r.put16(buffer, position, stream32(name, 40) & 0xFFFF)
        buffer[position] = tables.algorithm[name]
        buffer[position + 1] = 2  # SHA-256
        return r.put_random(buffer, position + 2, 32, name, 400 + 16 * index)
    if rtype == r.TYPE_DNSKEY:
        position = r.put16(buffer, position, 257 if index == 0 else 256)
        buffer[position] = 3
        buffer[position + 1] = plan.algorithm
        if plan.algorithm == 13:
            return r.put_random(buffer, position + 2, 64, name, 600 + 32 * index)
        position = r.put32(buffer, position + 2, 0x03010001)  # RSA exponent 65537
        return r.put_random(buffer, position, 256 if index == 0 else 128, name, 600 + 128 * index)
    if rtype == r.TYPE_HTTPS or rtype == r.TYPE_SVCB:
        position = r.put16(buffer, position, 1)
        buffer[position] = 0  # target ".": the owner name itself
        position = r.put32(buffer, position + 1, 0x00010006)  # alpn
        position = r.put_fragment(buffer, position, fragments, fragment_start, n.FRAG_ALPN)
        position = r.put32(buffer, position, 0x00040004)  # ipv4hint
        position = r.put_ipv4(buffer, position, stream32(name, 0))
        position = r.put32(buffer, position, 0x00060010)  # ipv6hint
        return r.put_ipv6(buffer, position, stream32(name, 10), stream32(name, 20))
    # HINFO "RFC8482": the minimal answer to ANY (RFC 8482).
    return r.put_fragment(buffer, position, fragments, fragment_start, n.FRAG_RFC8482)


@compiled
def put_answer(
    buffer: Buffer,
    position: int,
    base: int,
    zone: int,
    parent: int,
    plan: Record,
    tables: NameTables,
    now: int,
) -> tuple[int, int]:
    """The answer section: an optional CNAME to a CDN name, the RRset, and its RRSIG under DNSSEC.

    A DS RRset is signed by the parent zone at `parent`; everything else by the zone at `zone`.
    """
    authoritative = (plan.flags & FLAG_AA) != 0
    rtype = r.TYPE_HINFO if plan.qtype == r.TYPE_ANY else plan.qtype
    owner = 12
    records = 0
    if plan.cname:
        start = r.begin_record(
            buffer, position, base, owner, r.TYPE_CNAME, _ttl(r.TYPE_CNAME, authoritative, plan.seed)
        )
        target = n.FRAG_CDN + plan.name % n.CDN_TARGETS
        position = r.end_record(
            buffer, start, r.put_fragment(buffer, start, tables.fragments, tables.fragment_start, target)
        )
        owner = start - base
        records += 1
    ttl = _ttl(rtype, authoritative, plan.seed + 1)
    for index in range(np.int64(plan.count)):
        start = r.begin_record(buffer, position, base, owner, rtype, ttl)
        position = r.end_record(
            buffer, start, _put_rdata(buffer, start, base, rtype, owner, index, plan, tables)
        )
    records += plan.count
    if plan.dnssec and not plan.cname:
        signature = _signature_bytes(plan.algorithm, rtype == r.TYPE_DNSKEY)
        signer = parent if rtype == r.TYPE_DS else zone
        position = r.put_rrsig(
            buffer, position, base, owner, rtype, plan.algorithm, ttl, signer, signature, plan.seed, now
        )
        records += 1
    return position, records


@compiled
def put_denial(
    buffer: Buffer, position: int, base: int, zone: int, plan: Record, tables: NameTables, now: int
) -> tuple[int, int]:
    """The authority section of NXDOMAIN and NODATA: the SOA, and NSEC3 proofs under DNSSEC (RFC 5155)."""
    ttl = NEGATIVE_TTL
    if not plan.flags & FLAG_AA:  # what is left of the negative answer in the resolver's cache (RFC 2308)
        ttl -= stream32(plan.seed, 5) % NEGATIVE_TTL
    start = r.begin_record(buffer, position, base, zone, r.TYPE_SOA, ttl)
    rdata = _put_rdata(buffer, start, base, int(r.TYPE_SOA), zone, int(_FIRST_RECORD), plan, tables)
    position = r.end_record(buffer, start, rdata)
    records = 1
    if plan.dnssec:
        signature = _signature_bytes(plan.algorithm, False)
        position = r.put_rrsig(
            buffer, position, base, zone, r.TYPE_SOA, plan.algorithm, ttl, zone, signature, plan.seed, now
        )
        proofs = 2 if plan.mode == MODE_NXDOMAIN else 1
        for proof in range(proofs):
            owner = position - base
            position = r.put_nsec3(buffer, position, base, zone, NEGATIVE_TTL, plan.seed, 1000 + 100 * proof)
            position = r.put_rrsig(
                buffer,
                position,
                base,
                owner,
                r.TYPE_NSEC3,
                plan.algorithm,
                NEGATIVE_TTL,
                zone,
                signature,
                plan.seed,
                now,
            )
        records += 1 + 2 * proofs
    return position, records


@compiled
def put_referral(
    buffer: Buffer,
    position: int,
    base: int,
    zone: int,
    parent: int,
    plan: Record,
    tables: NameTables,
    now: int,
    glue: Int64s,
) -> tuple[int, int, int]:
    """A delegation to the zone at `zone`: NS records, DS or an NSEC3 proof of none, and glue addresses."""
    delegation = tables.apex[plan.name]
    in_bailiwick = (tables.traits[delegation] & n.IN_BAILIWICK) != 0
    for index in range(np.int64(plan.count)):
        start = r.begin_record(buffer, position, base, zone, r.TYPE_NS, DELEGATION_TTL)
        position = r.end_record(
            buffer, start, _put_rdata(buffer, start, base, int(r.TYPE_NS), zone, index, plan, tables)
        )
        glue[index] = start - base
    authority = plan.count
    if plan.dnssec:
        signature = _signature_bytes(plan.algorithm, False)
        if tables.traits[delegation] & n.SIGNED:
            ttl = _TTL_BY_TYPE[r.TYPE_DS]
            start = r.begin_record(buffer, position, base, zone, r.TYPE_DS, ttl)
            position = r.end_record(
                buffer,
                start,
                _put_rdata(buffer, start, base, int(r.TYPE_DS), zone, int(_FIRST_RECORD), plan, tables),
            )
            owner = zone
            covered = r.TYPE_DS
        else:
            ttl = NEGATIVE_TTL
            owner = position - base
            position = r.put_nsec3(buffer, position, base, parent, ttl, delegation, 3000)
            covered = r.TYPE_NSEC3
        position = r.put_rrsig(
            buffer, position, base, owner, covered, plan.algorithm, ttl, parent, signature, plan.seed, now
        )
        authority += 2
    additional = 0
    if in_bailiwick:
        for index in range(np.int64(plan.count)):
            start = r.begin_record(buffer, position, base, glue[index], r.TYPE_A, DELEGATION_TTL)
            position = r.end_record(
                buffer, start, r.put_ipv4(buffer, start, stream32(delegation, 70 + index))
            )
            start = r.begin_record(buffer, position, base, glue[index], r.TYPE_AAAA, DELEGATION_TTL)
            value = stream32(delegation, 80 + index)
            position = r.end_record(buffer, start, r.put_ipv6(buffer, start, value, value >> 3))
        additional = 2 * plan.count
    return position, authority, additional
