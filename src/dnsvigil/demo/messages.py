"""Encode planned DNS messages into wire format (RFC 1035, EDNS0 RFC 6891) with one compiled kernel.

A plan is one row of `MESSAGE_DTYPE` per message: the header, which vocabulary name is asked (optionally
under a random first label), and the shape of the answer. The kernel builds real messages from it: answer
records with rdata, SOA and NSEC3 proofs for negative answers, referrals with glue, RRSIGs when DNSSEC
records were asked for, and an OPT record with COOKIE, ECS, NSID or EDE options. Every owner name after
the question is a compression pointer into the question or into an earlier record.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from dnsvigil.demo import names as n
from dnsvigil.demo import rdata as r
from dnsvigil.demo import sections
from dnsvigil.demo.jit import Record, compiled, stream32
from dnsvigil.demo.names import NameTables
from dnsvigil.demo.plan import (
    EDNS_COOKIE,
    EDNS_DO,
    EDNS_ECS,
    EDNS_EDE,
    EDNS_NSID,
    EDNS_PRESENT,
    FLAG_AA,
    FLAG_QR,
    FLAG_RA,
    MODE_ANSWER,
    MODE_NODATA,
    MODE_NXDOMAIN,
    MODE_REFERRAL,
    RANDOM_ALNUM,
)

Buffer = npt.NDArray[np.uint8]
Int64s = npt.NDArray[np.int64]


@compiled
def _put_question(buffer: Buffer, position: int, plan: Record, tables: NameTables) -> int:
    label = plan.random_label & 0x3F
    first = position
    if label > 0:
        buffer[position] = label
        for index in range(label):
            value = stream32(plan.seed, 100 + index)
            if plan.random_label & RANDOM_ALNUM and value % 4 == 0:
                buffer[position + 1 + index] = 48 + (value >> 8) % 10
            else:
                buffer[position + 1 + index] = 97 + (value >> 8) % 26
        position += label + 1
    position = r.put_bytes(
        buffer, position, tables.wire, tables.start[plan.name], tables.start[plan.name + 1]
    )
    if plan.mixed_case:
        index = first
        while buffer[index] != 0:
            for offset in range(1, buffer[index] + 1):
                byte = buffer[index + offset]
                if 97 <= byte <= 122 and stream32(plan.seed, 200 + index - first + offset) & 1:
                    buffer[index + offset] = byte - 32
            index += buffer[index] + 1
    position = r.put16(buffer, position, plan.qtype)
    return r.put16(buffer, position, r.CLASS_IN)


@compiled
def _put_opt(buffer: Buffer, position: int, plan: Record, tables: NameTables, now: int) -> int:
    """The OPT pseudo-record (RFC 6891) with the options the plan's `edns` bits ask for."""
    response = (plan.flags & FLAG_QR) != 0
    buffer[position] = 0
    position = r.put16(buffer, position + 1, r.TYPE_OPT)
    position = r.put16(buffer, position, plan.udp_size)
    position = r.put32(buffer, position, 0x8000 if plan.edns & EDNS_DO else 0)
    start = position + 2
    position = start
    if plan.edns & EDNS_COOKIE:  # RFC 7873: client cookie, and the server's (RFC 9018 layout) in responses
        position = r.put32(buffer, position, (10 << 16) | (24 if response else 8))
        position = r.put_random(buffer, position, 8, plan.client, 300)
        if response:
            position = r.put32(buffer, position, 0x01000000)
            position = r.put32(buffer, position, now + (plan.seed & 0xFFFF))
            position = r.put_random(buffer, position, 8, plan.client, 310 + (plan.seed & 0xF))
    if plan.edns & EDNS_ECS:  # RFC 7871: an IPv4 /24 of the client; the server answers with scope 0
        position = r.put32(buffer, position, (8 << 16) | 7)
        position = r.put32(buffer, position, 0x00011800)
        prefix = stream32(plan.client, 9) % 3
        position = r.put16(buffer, position, (192 << 8) if prefix == 0 else (198 << 8) | 51)
        buffer[position] = 2 if prefix == 0 else 100
        position += 1
    if plan.edns & EDNS_NSID:  # RFC 5001: empty in a query, the server's identifier in a response
        fragment = (
            n.FRAG_NSID_AUTHORITATIVE
            if plan.flags & FLAG_AA or not plan.flags & FLAG_RA
            else n.FRAG_NSID_RESOLVER
        )
        length = tables.fragment_start[fragment + 1] - tables.fragment_start[fragment] if response else 0
        position = r.put32(buffer, position, (3 << 16) | length)
        if response:
            position = r.put_fragment(buffer, position, tables.fragments, tables.fragment_start, fragment)
    if plan.edns & EDNS_EDE and response:  # RFC 8914: 22, No Reachable Authority
        position = r.put32(buffer, position, (15 << 16) | 2)
        position = r.put16(buffer, position, 22)
    return r.end_record(buffer, start, position)


@compiled
def _put_message(buffer: Buffer, base: int, plan: Record, tables: NameTables, now: int, glue: Int64s) -> int:
    """Write one message at `base`; return its length."""
    r.put16(buffer, base, plan.id)
    r.put16(buffer, base + 2, plan.flags)
    position = _put_question(buffer, base + 12, plan, tables)
    label = plan.random_label & 0x3F
    prefix = label + 1 if label else 0
    zone = 12 + prefix + tables.zone_offset[plan.name]
    parent = 12 + prefix + tables.tld_offset[plan.name]
    answers = authority = additional = 0
    if plan.mode == MODE_ANSWER:
        position, answers = sections.put_answer(buffer, position, base, zone, parent, plan, tables, now)
    elif plan.mode == MODE_NODATA or plan.mode == MODE_NXDOMAIN:
        owner = parent if plan.parent_negative else zone
        position, authority = sections.put_denial(buffer, position, base, owner, plan, tables, now)
    elif plan.mode == MODE_REFERRAL:
        position, authority, additional = sections.put_referral(
            buffer, position, base, zone, parent, plan, tables, now, glue
        )
    if plan.edns & EDNS_PRESENT:
        position = _put_opt(buffer, position, plan, tables, now)
        additional += 1
    r.put16(buffer, base + 4, 1)
    r.put16(buffer, base + 6, answers)
    r.put16(buffer, base + 8, authority)
    r.put16(buffer, base + 10, additional)
    return position - base


@compiled
def _encode(
    plans: npt.NDArray[np.void],
    tables: NameTables,
    now: int,
    measure: bool,
    buffer: Buffer,
    offsets: Int64s,
    lengths: Int64s,
) -> None:
    """Write plan i at `buffer[offsets[i]:]`, or with `measure` only fill `lengths` (one entry point, so
    numba compiles the message writers once)."""
    scratch = np.zeros(65536 if measure else 0, dtype=np.uint8)
    glue = np.zeros(8, dtype=np.int64)
    target = scratch if measure else buffer
    for index in range(len(plans)):
        base = 0 if measure else offsets[index]
        lengths[index] = _put_message(target, base, plans[index], tables, now, glue)


def measure_messages(plans: npt.NDArray[np.void], tables: NameTables, now: int) -> Int64s:
    """The wire length of every planned message, without keeping the bytes.

    Args:
        plans: one `MESSAGE_DTYPE` row per message.
        tables: the names the plans refer to.
        now: the Unix time signatures are made around (the capture day).
    """
    lengths = np.zeros(len(plans), dtype=np.int64)
    _encode(plans, tables, now, True, np.zeros(0, dtype=np.uint8), lengths, lengths)
    return lengths


def encode_messages(
    plans: npt.NDArray[np.void], tables: NameTables, now: int
) -> tuple[Buffer, Int64s, Int64s]:
    """Every planned message in wire format, one after another.

    Returns:
        The bytes, the int64 offset of each message in them, and each message's length.
    """
    lengths = measure_messages(plans, tables, now)
    offsets = np.zeros(len(plans), dtype=np.int64)
    np.cumsum(lengths[:-1], out=offsets[1:])
    buffer = np.zeros(int(lengths.sum()), dtype=np.uint8)
    _encode(plans, tables, now, False, buffer, offsets, lengths)
    return buffer, offsets, lengths
