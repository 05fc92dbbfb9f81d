"""A hosting provider's authoritative server under attack: its ordinary traffic and the planted episodes.

The server (`ns1.hosting.example`) answers authoritatively for a few dozen zones of the demo vocabulary,
signed with RSASHA256, and still sends UDP answers up to 4096 bytes, which is what makes it a useful
amplifier. Its ordinary traffic comes from a couple of hundred resolvers in as many networks
(198.18.0.0/16, the benchmarking block), asking for popular names of popular zones, with a few per cent
of made-up hosts (NXDOMAIN). The episodes of an `AttackSchedule` are added on top:

- random-subdomain flood: never-repeated random labels under one hosted zone, relayed by forty of the
  server's usual resolvers, all answered NXDOMAIN;
- amplification: DNSKEY, TXT and ANY queries at a signed zone's apex with DO and a 4096-byte buffer,
  "from" a spoofed victim address (198.19.200.0/22); the large answers go to the victim;
- query flood: one address (198.19.10.0/22) asking for ordinary names far above every resolver's rate;
- network flood: 64 addresses of one /24 (198.19.100.0/22) sharing such a rate, none above the floor;
- NXDOMAIN surge: the usual resolvers asking for three missing hosts of the busiest zone, raising its
  NXDOMAIN share by the episode's intensity times the threshold.

Each episode's queries are spread evenly over its windows, so each window holds its intended rate.
"""

from __future__ import annotations

import datetime
import ipaddress

import numpy as np

from dnsvigil.demo import plan as p
from dnsvigil.demo import rdata as r
from dnsvigil.demo import traffic as t
from dnsvigil.demo.episodes import WINDOW_SECONDS, AttackEpisode, AttackKind, AttackSchedule, EpisodePlan
from dnsvigil.demo.names import HAS_AAAA, HAS_HTTPS, SIGNED, NameKind, Vocabulary

HOSTING = t.Service(
    role="authoritative",
    name="ns1.hosting.example",
    ipv4="198.51.100.53",
    ipv6="2001:db8:1::53",
    max_udp=4096,
)
HOSTED_ZONES = 40
RESOLVERS = 200
FLOOD_RELAYS = 40
NETWORK_ADDRESSES = 64
JUNK_SHARE = 0.03
"""Share of ordinary queries for made-up hosts: the usual NXDOMAIN share of every zone."""
_MAX_SURGE_SHARE = 0.97
_AMPLIFIED_TXT_RECORDS = 12
_ALGORITHM = 8
_WINDOW_US = WINDOW_SECONDS * 1_000_000
_APEX_QTYPES = (
    r.TYPE_A,
    r.TYPE_AAAA,
    r.TYPE_MX,
    r.TYPE_TXT,
    r.TYPE_NS,
    r.TYPE_SOA,
    r.TYPE_DNSKEY,
    r.TYPE_HTTPS,
)
_APEX_SHARES = (0.3, 0.1, 0.15, 0.1, 0.1, 0.1, 0.1, 0.05)
_HOST_QTYPES = (r.TYPE_A, r.TYPE_AAAA, r.TYPE_HTTPS)
_HOST_SHARES = (0.6, 0.3, 0.1)
_AMPLIFYING_QTYPES = (r.TYPE_DNSKEY, r.TYPE_TXT, r.TYPE_ANY)
_AMPLIFYING_SHARES = (0.45, 0.45, 0.10)
_COLUMNS = ("time_us", "client", "qtype", "name", "random_label", "seed", "edns", "udp_size", "mode", "rd")


class _Zones:
    """The hosted zones by popularity, and the names in each (its apex, then its hosts)."""

    def __init__(self, rng: np.random.Generator, vocabulary: Vocabulary) -> None:
        apexes = vocabulary.index_of(NameKind.APEX)
        self.apex = rng.choice(apexes, min(HOSTED_ZONES, len(apexes)), replace=False)
        weight = 1.0 / np.arange(1, len(self.apex) + 1) ** 0.9
        self.weight = weight / weight.sum()
        members = [np.flatnonzero(vocabulary.apex == apex) for apex in self.apex]
        self.names = np.concatenate(members)
        self.counts = np.array([len(names) for names in members])
        self.offsets = np.concatenate([[0], np.cumsum(self.counts)[:-1]])
        signed = np.flatnonzero((vocabulary.traits[self.apex] & SIGNED) != 0)
        self.amplified = int(self.apex[signed[signed > 0][0]] if np.any(signed > 0) else self.apex[1])

    def draw(self, rng: np.random.Generator, count: int) -> tuple[t.Int64s, t.Int64s]:
        """`count` ordinary names: a zone by popularity, then any of its names; and each zone's rank."""
        zone = rng.choice(len(self.apex), size=count, p=self.weight)
        name = self.names[self.offsets[zone] + (rng.random(count) * self.counts[zone]).astype(np.int64)]
        return name.astype(np.int64), zone.astype(np.int64)


class _Rows:
    """Query rows gathered block by block, column by column."""

    def __init__(self) -> None:
        self.blocks: dict[str, list[t.Int64s]] = {column: [] for column in _COLUMNS}

    def add(self, **columns: t.Int64s | int) -> None:
        count = len(np.asarray(columns["time_us"]))
        for column in _COLUMNS:
            self.blocks[column].append(np.broadcast_to(np.asarray(columns[column], dtype=np.int64), count))

    def column(self, name: str) -> t.Int64s:
        return np.concatenate(self.blocks[name]) if self.blocks[name] else np.zeros(0, dtype=np.int64)


def _window_times(rng: np.random.Generator, first_us: int, windows: int, per_window: int) -> t.Int64s:
    """`per_window` arrival times in each of `windows` consecutive windows from `first_us`, at random."""
    starts = first_us + _WINDOW_US * np.repeat(np.arange(windows, dtype=np.int64), per_window)
    return starts + rng.integers(0, _WINDOW_US, len(starts))


def _resolvers(rng: np.random.Generator, extra: list[str]) -> t.Clients:
    """The usual resolvers, one per /24 of 198.18.0.0/16, then the attack addresses `extra`."""
    networks = rng.choice(256, RESOLVERS, replace=False)
    ipv4 = [
        f"198.18.{network}.{host}"
        for network, host in zip(networks, rng.integers(1, 255, RESOLVERS), strict=True)
    ]
    count = RESOLVERS + len(extra)
    prefixes = np.zeros((count, 8), dtype=np.uint8)
    prefixes[:, :6] = (0x20, 0x01, 0x0D, 0xB8, 0x40, 0)
    prefixes[:RESOLVERS, 5] = networks
    ranked = rng.permutation(RESOLVERS)
    weight = np.zeros(count)
    weight[ranked] = 1.0 / np.arange(1, RESOLVERS + 1) ** 1.0
    weight /= weight.sum()
    usual = np.arange(count) < RESOLVERS
    return t.Clients(
        ipv4=t.address_bytes(ipv4 + extra),
        ipv6=t.ipv6_in_prefixes(rng, prefixes),
        weight=weight,
        ipv6_share=np.where(usual & (rng.random(count) < 0.5), 0.3, 0.0),
        ttl=(64 - rng.integers(3, 18, count)).astype(np.uint8),
        rtt_us=np.clip(rng.lognormal(np.log(30_000), 0.6, count), 2_000, 250_000).astype(np.int64),
        udp_size=np.where(usual, t.choose(rng, (1232, 1400, 4096), (0.7, 0.1, 0.2), count), 0).astype(
            np.uint16
        ),
        do_share=np.where(usual & (rng.random(count) < 0.8), 1.0, 0.0),
        options=np.where(usual & (rng.random(count) < 0.3), p.EDNS_COOKIE, 0).astype(np.uint8),
        mixed_case=np.zeros(count, dtype=np.bool_),
        minimise=np.zeros(count, dtype=np.bool_),
        tcp_share=np.where(usual, 0.01, 0.0),
    )


def _attackers(rng: np.random.Generator, schedule: AttackSchedule) -> tuple[list[str], list[str]]:
    """The address (or /24) of each episode that has one, and every attack address, in episode order."""
    subjects, addresses = [], []
    for number, episode in enumerate(schedule.episodes):
        host = int(rng.integers(1, 255))
        if episode.kind is AttackKind.QUERY_FLOOD:
            subjects.append(f"198.19.{10 + number}.{host}")
            addresses.append(subjects[-1])
        elif episode.kind is AttackKind.AMPLIFICATION:
            subjects.append(f"198.19.{200 + number}.{host}")
            addresses.append(subjects[-1])
        elif episode.kind is AttackKind.NETWORK_FLOOD:
            network = ipaddress.ip_network(f"198.19.{100 + number}.0/24")
            hosts = sorted(rng.choice(np.arange(1, 255), NETWORK_ADDRESSES, replace=False).tolist())
            subjects.append(str(network))
            addresses += [str(network.network_address + host) for host in hosts]
        else:
            subjects.append("")
    return subjects, addresses


def attack_traffic(
    rng: np.random.Generator, vocabulary: Vocabulary, schedule: AttackSchedule, day: datetime.date
) -> tuple[t.Traffic, tuple[AttackEpisode, ...]]:
    """The server's traffic over the schedule's span, with every episode planted; and their truth.

    Args:
        rng: the attack capture's random generator.
        vocabulary: the demo world's names; the hosted zones are drawn from its registered domains.
        schedule: the span, the ordinary rate and the episodes.
        day: the capture day.
    """
    zones = _Zones(rng, vocabulary)
    subjects, attack_addresses = _attackers(rng, schedule)
    clients = _resolvers(rng, attack_addresses)
    day_start = datetime.datetime.combine(day, datetime.time(), tzinfo=datetime.UTC)
    first_us = schedule.start_hour * 3_600_000_000
    rows = _Rows()

    per_window = rng.multinomial(
        round(schedule.background_qps * WINDOW_SECONDS * schedule.windows),
        np.full(schedule.windows, 1.0 / schedule.windows),
    )
    count = int(per_window.sum())
    time_us = first_us + _WINDOW_US * np.repeat(np.arange(schedule.windows), per_window)
    _ordinary(rng, rows, zones, clients, vocabulary, time_us + rng.integers(0, _WINDOW_US, count))

    episodes = []
    next_address = RESOLVERS
    zone_traffic = schedule.background_qps * WINDOW_SECONDS * float(zones.weight[0])
    for number, episode in enumerate(schedule.episodes):
        start_us = first_us + episode.start_window * _WINDOW_US
        subject = subjects[number]
        if episode.kind is AttackKind.RANDOM_SUBDOMAIN:
            victim = int(zones.apex[3 + number % (len(zones.apex) - 3)])
            subject = vocabulary.to_text(victim).rstrip(".")
            _random_subdomains(rng, rows, clients, episode, start_us, victim)
        elif episode.kind is AttackKind.AMPLIFICATION:
            _reflection(rng, rows, episode, start_us, next_address, zones.amplified)
            next_address += 1
        elif episode.kind in (AttackKind.QUERY_FLOOD, AttackKind.NETWORK_FLOOD):
            sources = 1 if episode.kind is AttackKind.QUERY_FLOOD else NETWORK_ADDRESSES
            _flood(rng, rows, zones, episode, start_us, np.arange(next_address, next_address + sources))
            next_address += sources
        else:
            subject = vocabulary.to_text(int(zones.apex[0])).rstrip(".")
            _surge(rng, rows, clients, episode, start_us, int(zones.apex[0]), zone_traffic)
        also = ("DNS.NXDOMAIN_SURGE",) if episode.kind is AttackKind.RANDOM_SUBDOMAIN else ()
        episodes.append(
            AttackEpisode(
                kind=episode.kind,
                code=episode.kind.code,
                subject=subject,
                start=day_start + datetime.timedelta(microseconds=start_us),
                end=day_start + datetime.timedelta(microseconds=start_us + episode.windows * _WINDOW_US),
                intensity=episode.intensity,
                also=also,
            )
        )
    traffic = _assemble(rng, rows, clients, vocabulary, zones.amplified, int(f"{day:%Y%m%d}"))
    return traffic, tuple(sorted(episodes, key=lambda episode: (episode.start, episode.subject)))


def _ordinary(
    rng: np.random.Generator,
    rows: _Rows,
    zones: _Zones,
    clients: t.Clients,
    vocabulary: Vocabulary,
    time_us: t.Int64s,
) -> None:
    count = len(time_us)
    client = rng.choice(len(clients), size=count, p=clients.weight)
    name, _ = zones.draw(rng, count)
    apex = vocabulary.kind[name] == NameKind.APEX
    qtype = np.where(
        apex,
        t.choose(rng, _APEX_QTYPES, _APEX_SHARES, count),
        t.choose(rng, _HOST_QTYPES, _HOST_SHARES, count),
    )
    junk = rng.random(count) < JUNK_SHARE
    name = np.where(junk, vocabulary.apex[name], name)
    qtype = np.where(junk, r.TYPE_A, qtype)
    traits = vocabulary.traits[name].astype(np.int64)
    signed = (vocabulary.traits[vocabulary.apex[name]] & SIGNED) != 0
    has_data = np.select(
        [qtype == r.TYPE_AAAA, qtype == r.TYPE_HTTPS, qtype == r.TYPE_DNSKEY],
        [(traits & HAS_AAAA) != 0, (traits & HAS_HTTPS) != 0, signed],
        True,
    )
    edns, udp_size = t.edns_bits(rng, clients, client)
    rows.add(
        time_us=time_us,
        client=client,
        qtype=qtype,
        name=name,
        random_label=np.where(junk, rng.integers(5, 13, count) | p.RANDOM_ALNUM, 0),
        seed=rng.integers(0, 1 << 31, count),
        edns=edns,
        udp_size=udp_size,
        mode=np.where(junk, p.MODE_NXDOMAIN, np.where(has_data, p.MODE_ANSWER, p.MODE_NODATA)),
        rd=0,
    )


def _random_subdomains(
    rng: np.random.Generator, rows: _Rows, clients: t.Clients, episode: EpisodePlan, start_us: int, zone: int
) -> None:
    per_window = round(episode.intensity * episode.kind.threshold * WINDOW_SECONDS)
    time_us = _window_times(rng, start_us, episode.windows, per_window)
    count = len(time_us)
    relays = rng.choice(RESOLVERS, FLOOD_RELAYS, replace=False)
    client = relays[rng.integers(0, FLOOD_RELAYS, count)]
    edns, udp_size = t.edns_bits(rng, clients, client)
    rows.add(
        time_us=time_us,
        client=client,
        qtype=t.choose(rng, (r.TYPE_A, r.TYPE_AAAA), (0.8, 0.2), count),
        name=zone,
        random_label=rng.integers(8, 17, count) | p.RANDOM_ALNUM,
        seed=rng.integers(0, 1 << 31, count),
        edns=edns,
        udp_size=udp_size,
        mode=p.MODE_NXDOMAIN,
        rd=0,
    )


def _reflection(
    rng: np.random.Generator, rows: _Rows, episode: EpisodePlan, start_us: int, victim: int, zone: int
) -> None:
    per_window = round(episode.intensity * episode.kind.threshold)
    time_us = _window_times(rng, start_us, episode.windows, per_window)
    count = len(time_us)
    rows.add(
        time_us=time_us,
        client=victim,
        qtype=t.choose(rng, _AMPLIFYING_QTYPES, _AMPLIFYING_SHARES, count),
        name=zone,
        random_label=0,
        seed=rng.integers(0, 1 << 31, count),
        edns=p.EDNS_PRESENT | p.EDNS_DO,
        udp_size=4096,
        mode=p.MODE_ANSWER,
        rd=1,
    )


def _flood(
    rng: np.random.Generator,
    rows: _Rows,
    zones: _Zones,
    episode: EpisodePlan,
    start_us: int,
    sources: t.Int64s,
) -> None:
    per_window = round(episode.intensity * episode.kind.threshold * WINDOW_SECONDS)
    time_us = _window_times(rng, start_us, episode.windows, per_window)
    count = len(time_us)
    name, _ = zones.draw(rng, count)
    rows.add(
        time_us=time_us,
        client=sources[np.arange(count) % len(sources)],
        qtype=r.TYPE_A,
        name=name,
        random_label=0,
        seed=rng.integers(0, 1 << 31, count),
        edns=0,
        udp_size=0,
        mode=p.MODE_ANSWER,
        rd=1,
    )


def _surge(
    rng: np.random.Generator,
    rows: _Rows,
    clients: t.Clients,
    episode: EpisodePlan,
    start_us: int,
    zone: int,
    zone_traffic: float,
) -> None:
    """Lookups of three missing hosts of `zone` that lift its NXDOMAIN share from `JUNK_SHARE` by the
    episode's rise: x extra NXDOMAIN among n usual answers give (JUNK_SHARE n + x) / (n + x)."""
    share = min(JUNK_SHARE + episode.intensity * episode.kind.threshold, _MAX_SURGE_SHARE)
    per_window = round(zone_traffic * (share - JUNK_SHARE) / (1.0 - share))
    time_us = _window_times(rng, start_us, episode.windows, per_window)
    count = len(time_us)
    client = rng.choice(len(clients), size=count, p=clients.weight)
    edns, udp_size = t.edns_bits(rng, clients, client)
    rows.add(
        time_us=time_us,
        client=client,
        qtype=r.TYPE_A,
        name=zone,
        random_label=(6 | p.RANDOM_ALNUM),
        seed=rng.integers(0, 1 << 31, 3)[rng.integers(0, 3, count)],
        edns=edns,
        udp_size=udp_size,
        mode=p.MODE_NXDOMAIN,
        rd=0,
    )


def _assemble(
    rng: np.random.Generator,
    rows: _Rows,
    clients: t.Clients,
    vocabulary: Vocabulary,
    amplified: int,
    day_number: int,
) -> t.Traffic:
    """The rows in time order as query and response plans."""
    order = np.argsort(rows.column("time_us"), kind="stable")
    column = {name: rows.column(name)[order] for name in _COLUMNS}
    count = len(order)
    client, qtype, name, mode = column["client"], column["qtype"], column["name"], column["mode"]
    queries = t.new_plans(count)
    queries["id"] = rng.integers(0, 65536, count)
    queries["flags"] = np.where(column["rd"] != 0, p.FLAG_RD, 0)
    queries["mode"] = p.MODE_QUERY
    queries["qtype"] = qtype
    queries["name"] = name
    queries["random_label"] = column["random_label"]
    queries["edns"] = column["edns"]
    queries["udp_size"] = column["udp_size"]
    queries["client"] = client + (2 << 20)
    queries["seed"] = column["seed"]

    zone = vocabulary.apex[name]
    signed = ((vocabulary.traits[zone] & SIGNED) != 0) | (zone == amplified)
    size = vocabulary.addresses[name].astype(np.int64)
    responses = queries.copy()
    rcode = np.where(mode == p.MODE_NXDOMAIN, 3, 0)
    responses["flags"] = p.FLAG_QR | p.FLAG_AA | queries["flags"] | rcode
    responses["mode"] = mode
    responses["count"] = np.select(
        [
            qtype == r.TYPE_A,
            qtype == r.TYPE_AAAA,
            qtype == r.TYPE_MX,
            (qtype == r.TYPE_TXT) & (name == amplified),
            qtype == r.TYPE_TXT,
            qtype == r.TYPE_NS,
            qtype == r.TYPE_DNSKEY,
        ],
        [size, np.minimum(size, 2), 1 + (size - 1) % 3, _AMPLIFIED_TXT_RECORDS, 1 + 2 * (size - 1), 2, 3],
        1,
    )
    responses["dnssec"] = signed & ((column["edns"] & p.EDNS_DO) != 0)
    responses["algorithm"] = _ALGORITHM
    responses["serial"] = t.day_serial(day_number, 1)
    responses["edns"] = t.response_edns(
        column["edns"], answers_nsid=False, ede=np.zeros(count, dtype=np.bool_)
    )
    responses["udp_size"] = HOSTING.max_udp
    usual = client < RESOLVERS
    return t.Traffic(
        service=HOSTING,
        time_us=column["time_us"],
        latency_us=rng.integers(30, 300, count),
        client=client,
        ipv6=usual & (rng.random(count) < clients.ipv6_share[client]),
        tcp=usual & (rng.random(count) < clients.tcp_share[client]),
        answered=np.ones(count, dtype=np.bool_),
        queries=queries,
        responses=responses,
        clients=clients,
    )
