"""The recursive resolver's day: stub clients on a few /24s and /64s asking `resolver.example`.

Clients ask for popular names (Zipf), with a share of NXDOMAIN traffic: Chrome's random single-label
probes, mistyped or made-up hosts under real domains, and mistyped domains. A few clients are infected and
also ask for their DGA's names (`infection`). The resolver answers from cache (sub-millisecond) or after
recursion (tens of milliseconds), SERVFAILs a few lame delegations with an Extended DNS Error, and refuses
a few queries.
"""

from __future__ import annotations

import numpy as np

from dnsvigil.demo import plan as p
from dnsvigil.demo import rdata as r
from dnsvigil.demo import traffic as t
from dnsvigil.demo.infection import Outbreak, bot_lookups
from dnsvigil.demo.names import HAS_AAAA, HAS_CNAME, HAS_HTTPS, REGISTERED, SIGNED, NameKind, Vocabulary
from dnsvigil.demo.truth import InfectedClient

RESOLVER = t.Service(role="resolver", name="resolver.example", ipv4="192.0.2.53", ipv6="2001:db8::53")

_QTYPES = (
    r.TYPE_A, r.TYPE_AAAA, r.TYPE_HTTPS, r.TYPE_PTR, r.TYPE_MX, r.TYPE_TXT,
    r.TYPE_NS, r.TYPE_DS, r.TYPE_DNSKEY, r.TYPE_SOA, r.TYPE_SVCB, r.TYPE_ANY,
)  # fmt: skip
_QTYPE_SHARES = (0.58, 0.24, 0.07, 0.035, 0.015, 0.02, 0.008, 0.003, 0.004, 0.006, 0.003, 0.001)
_APEX_TYPES = (r.TYPE_MX, r.TYPE_TXT, r.TYPE_NS, r.TYPE_DS, r.TYPE_DNSKEY, r.TYPE_SOA)
# What a query asks for: a real name, a Chrome probe, a made-up host under a real domain, a mistyped domain,
# a bot's DGA name.
_NAME, _PROBE, _JUNK_HOST, _JUNK_DOMAIN, _BOT = 0, 1, 2, 3, 4
_KIND_SHARES = (0.875, 0.035, 0.055, 0.035)
_SERVFAIL_SHARE = 0.006
_REFUSED_SHARE = 0.0008
_CACHE_HIT_SHARE = 0.78
_UNANSWERED_SHARE = 0.001


def _stub_clients(rng: np.random.Generator, count: int) -> t.Clients:
    pool = t.ipv4_addresses(
        ("192.0.2.0/24", "203.0.113.0/24"), exclude=("192.0.2.1", "192.0.2.53", "203.0.113.1")
    )
    count = min(count, len(pool))
    ipv4 = t.address_bytes(sorted(pool[index] for index in rng.choice(len(pool), count, replace=False)))
    prefixes = np.array(
        [[0x20, 0x01, 0x0D, 0xB8, 0, 0, 0, subnet] for subnet in (0x10, 0x20, 0x30)], dtype=np.uint8
    )
    ipv6 = t.ipv6_in_prefixes(rng, prefixes[rng.integers(0, len(prefixes), count)])
    weight = rng.lognormal(0.0, 1.2, count)
    weight /= weight.sum()
    dual_stack = rng.random(count) < 0.55
    ipv6_share = np.where(dual_stack, rng.uniform(0.2, 0.6, count), 0.0)
    options = np.where(rng.random(count) < 0.15, p.EDNS_COOKIE, 0) | np.where(
        rng.random(count) < 0.01, p.EDNS_NSID, 0
    )
    return t.Clients(
        ipv4=ipv4,
        ipv6=ipv6,
        weight=weight,
        ipv6_share=t.calibrate_share(weight, ipv6_share, 0.17),
        ttl=(np.where(rng.random(count) < 0.35, 128, 64) - rng.integers(0, 3, count)).astype(np.uint8),
        rtt_us=rng.integers(300, 15_000, count),
        udp_size=t.choose(rng, (0, 512, 1232, 4096), (0.25, 0.03, 0.5, 0.22), count).astype(np.uint16),
        do_share=np.where(rng.random(count) < 0.08, 1.0, 0.0),
        options=options.astype(np.uint8),
        mixed_case=np.zeros(count, dtype=np.bool_),
        minimise=np.zeros(count, dtype=np.bool_),
        tcp_share=t.calibrate_share(weight, np.where(rng.random(count) < 0.06, 0.3, 0.015), 0.03),
    )


def resolver_traffic(
    rng: np.random.Generator, vocabulary: Vocabulary, count: int, day_number: int, outbreak: Outbreak
) -> tuple[t.Traffic, tuple[InfectedClient, ...]]:
    """`count` queries from stub clients to the resolver over one day, with the resolver's answers.

    Args:
        rng: the world's random generator.
        vocabulary: the names clients ask for, the outbreak's generated names included.
        count: how many queries, the bots' included.
        day_number: the capture day as YYYYMMDD, for SOA serials.
        outbreak: the bots among the clients and their botnets.

    Returns:
        The traffic, and the truth about each infected client.
    """
    clients = _stub_clients(rng, int(np.clip(count // 300, 20, 480)))
    bots = bot_lookups(rng, outbreak, clients, vocabulary.index_of(NameKind.GENERATED))
    count -= len(bots)
    client = rng.choice(len(clients), size=count, p=clients.weight)
    ipv6 = rng.random(count) < clients.ipv6_share[client]
    qtype = t.choose(rng, _QTYPES, _QTYPE_SHARES, count)
    kind = t.choose(rng, (_NAME, _PROBE, _JUNK_HOST, _JUNK_DOMAIN), _KIND_SHARES, count)
    kind[qtype == r.TYPE_PTR] = _NAME
    popular = np.concatenate([vocabulary.index_of(NameKind.APEX), vocabulary.index_of(NameKind.HOST)])
    name = t.zipf_choice(rng, popular, count, 1.0)
    to_apex = np.isin(qtype, _APEX_TYPES) & (rng.random(count) < 0.9)
    name = np.where(to_apex | (kind == _JUNK_HOST), vocabulary.apex[name], name)
    junk_domain = kind == _JUNK_DOMAIN
    name[junk_domain] = t.zipf_choice(
        rng, vocabulary.index_of(NameKind.MISTYPED), int(junk_domain.sum()), 1.0
    )
    reverse = qtype == r.TYPE_PTR
    name[reverse] = rng.choice(vocabulary.index_of(NameKind.REVERSE), int(reverse.sum()))
    probe = kind == _PROBE
    name[probe] = 0
    qtype[probe] = r.TYPE_A
    random_label = np.select(
        [probe, kind == _JUNK_HOST],
        [rng.integers(7, 16, count), rng.integers(4, 13, count) | p.RANDOM_ALNUM],
        0,
    )
    time_us = np.concatenate([t.diurnal_times(rng, count, amplitude=0.45, peak_hour=19.5), bots.time_us])
    order = np.argsort(time_us, kind="stable")
    time_us = time_us[order]
    ordinary = np.stack([client, ipv6, qtype, kind, name, random_label])
    asked = np.stack(
        [
            bots.client,
            bots.ipv6,
            np.full(len(bots), r.TYPE_A),
            np.full(len(bots), _BOT),
            bots.name,
            np.zeros(len(bots), dtype=np.int64),
        ]
    )
    client, from_ipv6, qtype, kind, name, random_label = np.concatenate([ordinary, asked], axis=1)[:, order]
    ipv6 = from_ipv6 != 0
    bot = kind == _BOT
    count = len(order)

    traits = vocabulary.traits[name].astype(np.int64)
    is_apex = vocabulary.kind[name] == NameKind.APEX
    signed = (traits & SIGNED) != 0
    has_data = np.select(
        [
            qtype == r.TYPE_AAAA,
            qtype == r.TYPE_HTTPS,
            np.isin(qtype, (r.TYPE_MX, r.TYPE_TXT, r.TYPE_NS, r.TYPE_SOA)),
            np.isin(qtype, (r.TYPE_DS, r.TYPE_DNSKEY)),
            qtype == r.TYPE_SVCB,
        ],
        [(traits & HAS_AAAA) != 0, (traits & HAS_HTTPS) != 0, is_apex, is_apex & signed, False],
        True,
    )
    mode = np.select(
        [kind == _NAME, bot],
        [
            np.where(has_data, p.MODE_ANSWER, p.MODE_NODATA),
            np.where((traits & REGISTERED) != 0, p.MODE_ANSWER, p.MODE_NXDOMAIN),
        ],
        p.MODE_NXDOMAIN,
    )
    # Bots' lookups never fail, are never dropped and never go over TCP, so the truth counts them exactly.
    failure = np.where(bot, 1.0, rng.random(count))
    servfail = failure < _SERVFAIL_SHARE
    refused = (failure >= _SERVFAIL_SHARE) & (failure < _SERVFAIL_SHARE + _REFUSED_SHARE)
    mode = np.where(servfail | refused, p.MODE_EMPTY, mode)
    rcode = np.select([servfail, refused, mode == p.MODE_NXDOMAIN], [2, 5, 3], 0)

    edns, udp_size = t.edns_bits(rng, clients, client)
    edns = np.where(bot, edns & ~p.EDNS_DO, edns)  # a bot asks through getaddrinfo, which never sets DO
    queries = t.new_plans(count)
    queries["id"] = rng.integers(0, 65536, count)
    query_ad = rng.random(count) < 0.15
    query_cd = rng.random(count) < 0.01
    queries["flags"] = p.FLAG_RD | np.where(query_ad, p.FLAG_AD, 0) | np.where(query_cd, p.FLAG_CD, 0)
    queries["mode"] = p.MODE_QUERY
    queries["qtype"] = qtype
    queries["name"] = name
    queries["random_label"] = random_label
    queries["edns"] = edns
    queries["udp_size"] = udp_size
    queries["client"] = client
    queries["seed"] = rng.integers(0, 1 << 31, count)

    ds_at_apex = (qtype == r.TYPE_DS) & is_apex
    zone_signed = ds_at_apex | signed
    covered = np.isin(mode, (p.MODE_ANSWER, p.MODE_NODATA, p.MODE_NXDOMAIN)) & zone_signed
    secure = covered & (((edns & p.EDNS_DO) != 0) | query_ad) & ~query_cd
    responses = queries.copy()
    responses["flags"] = (
        p.FLAG_QR
        | p.FLAG_RD
        | p.FLAG_RA
        | np.where(query_cd, p.FLAG_CD, 0)
        | np.where(secure, p.FLAG_AD, 0)
        | rcode
    )
    responses["mode"] = mode
    responses["count"] = _record_counts(qtype, vocabulary.addresses[name].astype(np.int64))
    responses["cname"] = (
        ((traits & HAS_CNAME) != 0)
        & (mode == p.MODE_ANSWER)
        & np.isin(qtype, (r.TYPE_A, r.TYPE_AAAA, r.TYPE_HTTPS))
    )
    responses["dnssec"] = covered & ((edns & p.EDNS_DO) != 0)
    responses["algorithm"] = np.where(
        ds_at_apex, vocabulary.algorithm[vocabulary.tld[name]], vocabulary.algorithm[name]
    )
    responses["parent_negative"] = ds_at_apex & (mode == p.MODE_NODATA)
    responses["serial"] = t.day_serial(day_number, vocabulary.apex[name] % 7)
    responses["edns"] = t.response_edns(edns, answers_nsid=True, ede=servfail)
    responses["udp_size"] = RESOLVER.max_udp

    hit = rng.random(count) < _CACHE_HIT_SHARE
    recursion = np.clip(rng.lognormal(np.log(25_000), 0.9, count), 2_000, 1_500_000).astype(np.int64)
    latency = np.where(hit & (kind == _NAME), rng.integers(60, 600, count), recursion)
    latency = np.where(servfail, rng.integers(800_000, 3_000_000, count), latency)
    latency = np.where(refused, rng.integers(40, 150, count), latency)
    traffic = t.Traffic(
        service=RESOLVER,
        time_us=time_us,
        latency_us=latency,
        client=client,
        ipv6=ipv6,
        tcp=~bot & (rng.random(count) < clients.tcp_share[client]),
        answered=bot | (rng.random(count) >= _UNANSWERED_SHARE),
        queries=queries,
        responses=responses,
        clients=clients,
    )
    return traffic, bots.infected


def _record_counts(qtype: t.Int64s, size: t.Int64s) -> t.Int64s:
    """Records per answer RRset; `size` (1 to 4, fixed per name) keeps a name's answers the same all day."""
    return np.select(
        [
            qtype == r.TYPE_A,
            qtype == r.TYPE_AAAA,
            qtype == r.TYPE_MX,
            qtype == r.TYPE_TXT,
            qtype == r.TYPE_NS,
            qtype == r.TYPE_DNSKEY,
        ],
        [size, np.minimum(size, 2), 1 + (size - 1) % 3, 1 + 2 * (size - 1), 2 + size % 3, 2 + (size == 4)],
        1,
    )
