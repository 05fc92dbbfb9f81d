"""What both demo services share: the client population, diurnal timing, popularity and EDNS habits.

A traffic model (`resolver`, `authoritative`) draws one row per query with numpy: when it arrived, which
client sent it over which IP version, and the plans of the query and of the server's answer. The capture
builder then decides the transport (truncation, TCP) and frames the packets.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from dnsvigil.demo import plan as p

DAY_US = 86_400_000_000
# Queries arrive this long before midnight at the latest, so every packet of an exchange (TCP retries
# after slow answers included) falls on the capture day.
_END_MARGIN_US = 15_000_000
_MINUTES = 1440

Floats = npt.NDArray[np.float64]
Int64s = npt.NDArray[np.int64]
Bools = npt.NDArray[np.bool_]


@dataclass(frozen=True, slots=True)
class Service:
    """The server a capture was taken at, and how it answers.

    Attributes:
        role: "resolver" or "authoritative".
        name: the server's host name, for reports.
        ipv4: its IPv4 address (documentation prefix).
        ipv6: its IPv6 address (documentation prefix).
        max_udp: the largest UDP response it sends; larger answers are truncated (TC=1).
    """

    role: str
    name: str
    ipv4: str
    ipv6: str
    max_udp: int = 1232

    def __post_init__(self) -> None:
        if ipaddress.ip_address(self.ipv4).version != 4 or ipaddress.ip_address(self.ipv6).version != 6:
            raise ValueError(f"Service {self.name}: {self.ipv4} must be IPv4 and {self.ipv6} IPv6")


@dataclass(frozen=True, slots=True)
class Clients:
    """The hosts that send queries to one service, column-parallel, with their habits.

    Attributes:
        ipv4: uint8 (k, 16), each client's IPv4 address in the first 4 bytes.
        ipv6: uint8 (k, 16), its IPv6 address (unused when `ipv6_share` is 0).
        weight: share of the queries each client sends; sums to 1.
        ipv6_share: probability that a query of the client goes over IPv6.
        ttl: IPv4 TTL / IPv6 hop limit its packets arrive with.
        rtt_us: round-trip time between it and the server, microseconds.
        udp_size: the EDNS UDP payload size it advertises; 0 for a client that sends no EDNS.
        do_share: probability that an EDNS query of the client sets DO.
        options: `plan.EDNS_*` option bits it adds to EDNS queries.
        mixed_case: whether it randomises the case of query names (0x20 encoding).
        minimise: whether it minimises query names (RFC 9156).
        tcp_share: probability that it asks over TCP from the start.
    """

    ipv4: npt.NDArray[np.uint8]
    ipv6: npt.NDArray[np.uint8]
    weight: Floats
    ipv6_share: Floats
    ttl: npt.NDArray[np.uint8]
    rtt_us: Int64s
    udp_size: npt.NDArray[np.uint16]
    do_share: Floats
    options: npt.NDArray[np.uint8]
    mixed_case: Bools
    minimise: Bools
    tcp_share: Floats

    def __len__(self) -> int:
        return len(self.weight)


@dataclass(frozen=True, slots=True)
class Traffic:
    """One capture's queries before transport is decided: one row per query, with its planned answer.

    Attributes:
        service: the server.
        time_us: int64, when the query arrived, microseconds after the capture day began (sorted).
        latency_us: int64, how long the server took to answer.
        client: int64 index into `clients`.
        ipv6: whether the query went over IPv6.
        tcp: whether the client asked over TCP from the start.
        answered: whether the server answered (servers drop a few queries, e.g. under rate limiting).
        queries: `plan.MESSAGE_DTYPE` plans of the queries.
        responses: plans of the full answers (before any truncation).
        clients: the client population.
    """

    service: Service
    time_us: Int64s
    latency_us: Int64s
    client: Int64s
    ipv6: Bools
    tcp: Bools
    answered: Bools
    queries: npt.NDArray[np.void]
    responses: npt.NDArray[np.void]
    clients: Clients

    def __len__(self) -> int:
        return len(self.time_us)


def diurnal_times(rng: np.random.Generator, count: int, *, amplitude: float, peak_hour: float) -> Int64s:
    """`count` sorted arrival times over one day, following a smooth day/night curve with minute-scale noise.

    The rate is `1 + amplitude * cos(2π (hour - peak_hour) / 24)` times log-normal noise per minute.
    """
    hours = (np.arange(_MINUTES) + 0.5) / 60.0
    rate = 1.0 + amplitude * np.cos(2 * np.pi * (hours - peak_hour) / 24.0)
    rate *= rng.lognormal(0.0, 0.12, _MINUTES)
    per_minute = rng.multinomial(count, rate / rate.sum())
    minute = np.repeat(np.arange(_MINUTES, dtype=np.int64), per_minute)
    minute_us = 60_000_000
    times = minute * minute_us + rng.integers(0, minute_us, count)
    times = np.minimum(times, DAY_US - _END_MARGIN_US)
    return np.sort(times)


def zipf_choice(rng: np.random.Generator, population: Int64s, count: int, exponent: float) -> Int64s:
    """`count` draws from `population`, ranked in a random order, with probability ∝ rank^-exponent."""
    ranked = rng.permutation(population)
    weights = 1.0 / np.arange(1, len(ranked) + 1, dtype=np.float64) ** exponent
    return ranked[rng.choice(len(ranked), size=count, p=weights / weights.sum())]


def ipv4_addresses(networks: tuple[str, ...], exclude: tuple[str, ...]) -> list[str]:
    """The host addresses of `networks` in order, without those in `exclude`."""
    excluded = set(exclude)
    return [
        str(host)
        for network in networks
        for host in ipaddress.ip_network(network).hosts()
        if str(host) not in excluded
    ]


def address_bytes(addresses: list[str]) -> npt.NDArray[np.uint8]:
    """Addresses as uint8 rows of 16 bytes, IPv4 in the first 4."""
    table = np.zeros((len(addresses), 16), dtype=np.uint8)
    for row, text in enumerate(addresses):
        packed = ipaddress.ip_address(text).packed
        table[row, : len(packed)] = np.frombuffer(packed, dtype=np.uint8)
    return table


def ipv6_in_prefixes(rng: np.random.Generator, prefixes: npt.NDArray[np.uint8]) -> npt.NDArray[np.uint8]:
    """One address per row of `prefixes` (uint8 (k, 8), the /64s) with a random interface identifier."""
    table = np.zeros((len(prefixes), 16), dtype=np.uint8)
    table[:, :8] = prefixes
    table[:, 8:] = rng.integers(0, 256, size=(len(prefixes), 8), dtype=np.uint8)
    table[:, 8] &= 0xFD  # a random (not EUI-64 universal) identifier, as SLAAC privacy addresses use
    return table


def calibrate_share(weight: Floats, share: Floats, target: float) -> Floats:
    """Scale per-client shares (of IPv6, of TCP) so that the expected share of all queries is `target`."""
    expected = float((weight * share).sum())
    return np.clip(share * (target / expected), 0.0, 1.0) if expected > 0 else share


def choose(
    rng: np.random.Generator, values: tuple[int, ...], shares: tuple[float, ...], count: int
) -> Int64s:
    """`count` draws of `values` with the given shares (normalised)."""
    probabilities = np.array(shares, dtype=np.float64)
    return np.asarray(values, dtype=np.int64)[
        rng.choice(len(values), size=count, p=probabilities / probabilities.sum())
    ]


def edns_bits(rng: np.random.Generator, clients: Clients, client: Int64s) -> tuple[Int64s, Int64s]:
    """The `edns` bits and UDP size of each query, from its client's habits."""
    size = clients.udp_size[client].astype(np.int64)
    present = size > 0
    do = present & (rng.random(len(client)) < clients.do_share[client])
    bits = np.where(present, p.EDNS_PRESENT | clients.options[client].astype(np.int64), 0)
    bits |= np.where(do, p.EDNS_DO, 0)
    return bits, size


def response_edns(query_bits: Int64s, *, answers_nsid: bool, ede: Bools) -> Int64s:
    """The `edns` bits of responses: EDNS only when the query had it, echoing DO and the options."""
    keep = p.EDNS_PRESENT | p.EDNS_DO | p.EDNS_COOKIE | p.EDNS_ECS | (p.EDNS_NSID if answers_nsid else 0)
    bits = query_bits & keep
    return np.where((query_bits & p.EDNS_PRESENT) != 0, bits | np.where(ede, p.EDNS_EDE, 0), 0)


def day_serial(day_number: int, revision: npt.NDArray[np.integer[Any]] | int) -> Int64s:
    """SOA serials in the YYYYMMDDnn convention for the day `day_number` (YYYYMMDD)."""
    return np.asarray(day_number * 100 + np.asarray(revision) % 100, dtype=np.int64)


def new_plans(count: int) -> npt.NDArray[np.void]:
    """`count` zeroed message plans."""
    return np.zeros(count, dtype=p.MESSAGE_DTYPE)
