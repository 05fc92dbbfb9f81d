"""The TLD-like authoritative server's day: resolvers worldwide asking `ns1.example` about the example zone.

Most queries get referrals (NS records, glue, and DS or an NSEC3 opt-out proof for DO=1 resolvers); about a
third ask for names that do not exist and get a signed NXDOMAIN, as TLD and root servers see. Queries about
the apex get authoritative answers; queries for other TLDs are refused. Resolvers differ: QNAME
minimisation (RFC 9156), 0x20 case randomisation, cookies, ECS, the EDNS buffer size they advertise.
"""

from __future__ import annotations

import numpy as np

from dnsvigil.demo import plan as p
from dnsvigil.demo import rdata as r
from dnsvigil.demo import traffic as t
from dnsvigil.demo.names import SIGNED, TLDS, NameKind, Vocabulary

AUTHORITATIVE = t.Service(role="authoritative", name="ns1.example", ipv4="198.51.100.1", ipv6="2001:db8:1::1")

_TLD = 1 + TLDS.index("example")
_QTYPES = (
    r.TYPE_A, r.TYPE_AAAA, r.TYPE_NS, r.TYPE_DS, r.TYPE_HTTPS, r.TYPE_DNSKEY,
    r.TYPE_SOA, r.TYPE_TXT, r.TYPE_MX, r.TYPE_SVCB, r.TYPE_ANY, r.TYPE_PTR,
)  # fmt: skip
_QTYPE_SHARES = (0.50, 0.22, 0.07, 0.07, 0.05, 0.015, 0.02, 0.02, 0.02, 0.005, 0.002, 0.003)
_APEX_QTYPES = (r.TYPE_SOA, r.TYPE_NS, r.TYPE_DNSKEY, r.TYPE_A)
_APEX_QTYPE_SHARES = (0.3, 0.3, 0.3, 0.1)
# What a query asks for: a delegated name, a made-up domain, a made-up host under a delegated domain,
# the zone apex, a name in another TLD.
_NAME, _JUNK_DOMAIN, _JUNK_HOST, _APEX, _OTHER_TLD = 0, 1, 2, 3, 4
_KIND_SHARES = (0.595, 0.36, 0.015, 0.025, 0.005)
_SERVFAIL_SHARE = 0.0004
_DROPPED_SHARE = 0.004


def _resolver_clients(rng: np.random.Generator, count: int) -> t.Clients:
    pool = t.ipv4_addresses(("192.0.2.0/24", "198.51.100.0/24", "203.0.113.0/24"), exclude=("198.51.100.1",))
    count = min(count, len(pool))
    ipv4 = t.address_bytes(sorted(pool[index] for index in rng.choice(len(pool), count, replace=False)))
    prefixes = np.zeros((count, 8), dtype=np.uint8)
    prefixes[:, :4] = (0x20, 0x01, 0x0D, 0xB8)
    prefixes[:, 4] = rng.integers(1, 256, count)  # 2001:db8:0100::/40 and up: clear of the servers' /48s
    prefixes[:, 5:] = rng.integers(0, 256, (count, 3))
    # Operators number several resolvers in one /64, so aggregate sources are fewer than sources.
    shared = np.flatnonzero(rng.random(count) < 0.3)
    prefixes[shared[shared > 0]] = prefixes[shared[shared > 0] - 1]
    ranked = rng.permutation(count)
    weight = np.empty(count)
    weight[ranked] = 1.0 / np.arange(1, count + 1) ** 1.1
    weight /= weight.sum()
    ipv6_share = np.where(rng.random(count) < 0.6, rng.uniform(0.1, 0.5, count), 0.0)
    options = (
        np.where(rng.random(count) < 0.35, p.EDNS_COOKIE, 0)
        | np.where(rng.random(count) < 0.04, p.EDNS_ECS, 0)
        | np.where(rng.random(count) < 0.01, p.EDNS_NSID, 0)
    )
    hops = rng.integers(4, 20, count)
    # Busy resolvers follow DNS Flag Day 2020 (1232 bytes); old 512-byte or EDNS-less ones are small.
    udp_size = t.choose(rng, (0, 512, 1232, 1400, 4096), (0.02, 0.04, 0.64, 0.05, 0.25), count)
    udp_size = np.where((weight > 1.0 / count) & (udp_size <= 512), 1232, udp_size)
    return t.Clients(
        ipv4=ipv4,
        ipv6=t.ipv6_in_prefixes(rng, prefixes),
        weight=weight,
        ipv6_share=t.calibrate_share(weight, ipv6_share, 0.17),
        ttl=(np.where(rng.random(count) < 0.1, 128, 64) - hops).astype(np.uint8),
        rtt_us=np.clip(rng.lognormal(np.log(40_000), 0.7, count), 2_000, 300_000).astype(np.int64),
        udp_size=udp_size.astype(np.uint16),
        do_share=np.where(rng.random(count) < 0.85, 1.0, 0.0),
        options=options.astype(np.uint8),
        mixed_case=rng.random(count) < 0.06,
        minimise=rng.random(count) < 0.45,
        tcp_share=t.calibrate_share(weight, np.where(rng.random(count) < 0.05, 0.3, 0.012), 0.03),
    )


def authoritative_traffic(
    rng: np.random.Generator, vocabulary: Vocabulary, count: int, day_number: int
) -> t.Traffic:
    """`count` queries from resolvers to the example TLD's server over one day, with its answers.

    Args:
        rng: the world's random generator.
        vocabulary: the names; those under example are the zone's delegations.
        count: how many queries.
        day_number: the capture day as YYYYMMDD; the zone's serial changes every six hours.
    """
    clients = _resolver_clients(rng, int(np.clip(count // 150, 30, 760)))
    time_us = t.diurnal_times(rng, count, amplitude=0.2, peak_hour=14.0)
    client = rng.choice(len(clients), size=count, p=clients.weight)
    ipv6 = rng.random(count) < clients.ipv6_share[client]
    kind = t.choose(rng, (_NAME, _JUNK_DOMAIN, _JUNK_HOST, _APEX, _OTHER_TLD), _KIND_SHARES, count)
    qtype = t.choose(rng, _QTYPES, _QTYPE_SHARES, count)
    in_zone = np.concatenate(
        [vocabulary.index_of(NameKind.APEX, "example"), vocabulary.index_of(NameKind.HOST, "example")]
    )
    name = t.zipf_choice(rng, in_zone, count, 0.9)
    elsewhere = np.flatnonzero(
        (vocabulary.kind == NameKind.APEX) & (vocabulary.tld != _TLD) & (vocabulary.tld > 0)
    )
    other = kind == _OTHER_TLD
    name[other] = rng.choice(elsewhere, int(other.sum()))
    delegated = (kind == _NAME) | (kind == _JUNK_HOST)
    minimised = delegated & clients.minimise[client] & (qtype != r.TYPE_DS)
    qtype = np.where(minimised, np.where(client % 2 == 0, r.TYPE_NS, r.TYPE_A), qtype)
    to_apex = minimised | (kind == _JUNK_HOST) | (delegated & (qtype == r.TYPE_DS))
    name = np.where(to_apex, vocabulary.apex[name], name)
    apex = kind == _APEX
    name = np.where(apex | (kind == _JUNK_DOMAIN), _TLD, name)
    qtype[apex] = t.choose(rng, _APEX_QTYPES, _APEX_QTYPE_SHARES, int(apex.sum()))
    junk_host = (kind == _JUNK_HOST) & ~minimised
    random_label = np.select(
        [kind == _JUNK_DOMAIN, junk_host],
        [
            rng.integers(5, 17, count) | np.where(rng.random(count) < 0.4, p.RANDOM_ALNUM, 0),
            rng.integers(3, 11, count) | p.RANDOM_ALNUM,
        ],
        0,
    )

    is_delegation = (vocabulary.kind[name] == NameKind.APEX) & (random_label == 0)
    ds_at_delegation = delegated & (qtype == r.TYPE_DS) & is_delegation
    signed_child = (vocabulary.traits[name] & SIGNED) != 0
    mode = np.select(
        [
            other,
            apex & np.isin(qtype, (r.TYPE_SOA, r.TYPE_NS, r.TYPE_DNSKEY)),
            apex,
            kind == _JUNK_DOMAIN,
            ds_at_delegation,
        ],
        [
            p.MODE_EMPTY,
            p.MODE_ANSWER,
            p.MODE_NODATA,
            p.MODE_NXDOMAIN,
            np.where(signed_child, p.MODE_ANSWER, p.MODE_NODATA),
        ],
        p.MODE_REFERRAL,
    )
    servfail = rng.random(count) < _SERVFAIL_SHARE
    mode = np.where(servfail, p.MODE_EMPTY, mode)
    rcode = np.select([servfail, other, mode == p.MODE_NXDOMAIN], [2, 5, 3], 0)
    authoritative = np.isin(mode, (p.MODE_ANSWER, p.MODE_NODATA, p.MODE_NXDOMAIN))

    edns, udp_size = t.edns_bits(rng, clients, client)
    do = (edns & p.EDNS_DO) != 0
    query_rd = rng.random(count) < 0.02
    query_cd = do & (rng.random(count) < 0.1)
    queries = t.new_plans(count)
    queries["id"] = rng.integers(0, 65536, count)
    queries["flags"] = np.where(query_rd, p.FLAG_RD, 0) | np.where(query_cd, p.FLAG_CD, 0)
    queries["mode"] = p.MODE_QUERY
    queries["qtype"] = qtype
    queries["name"] = name
    queries["random_label"] = random_label
    queries["mixed_case"] = clients.mixed_case[client]
    queries["edns"] = edns
    queries["udp_size"] = udp_size
    queries["client"] = client + (1 << 20)
    queries["seed"] = rng.integers(0, 1 << 31, count)

    responses = queries.copy()
    responses["flags"] = (
        p.FLAG_QR
        | np.where(authoritative, p.FLAG_AA, 0)
        | np.where(query_rd, p.FLAG_RD, 0)
        | np.where(query_cd, p.FLAG_CD, 0)
        | rcode
    )
    responses["mode"] = mode
    size = vocabulary.addresses[name].astype(np.int64)
    responses["count"] = np.select(
        [mode == p.MODE_REFERRAL, qtype == r.TYPE_NS, qtype == r.TYPE_DNSKEY], [2 + size % 3, 4, 3], 1
    )
    responses["dnssec"] = do & (mode != p.MODE_EMPTY)
    responses["algorithm"] = vocabulary.algorithm[_TLD]
    responses["parent_negative"] = ds_at_delegation
    responses["serial"] = t.day_serial(day_number, time_us // (6 * 3_600_000_000))
    responses["edns"] = t.response_edns(edns, answers_nsid=True, ede=np.zeros(count, dtype=np.bool_))
    responses["udp_size"] = AUTHORITATIVE.max_udp
    tcp = rng.random(count) < clients.tcp_share[client]
    return t.Traffic(
        service=AUTHORITATIVE,
        time_us=time_us,
        latency_us=rng.integers(25, 250, count),
        client=client,
        ipv6=ipv6,
        tcp=tcp,
        answered=tcp | (rng.random(count) >= _DROPPED_SHARE),
        queries=queries,
        responses=responses,
        clients=clients,
    )
