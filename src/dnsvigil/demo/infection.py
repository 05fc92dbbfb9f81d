"""Bots among the demo resolver's stub clients: infected hosts looking for their controller through a DGA.

Each botnet runs one family of `dga_families` with its own key, so all its bots make the same list of
names that day; its operator registered one or two of them. Every so often a bot wakes (a burst) and asks
for the day's names in a shuffled order, a fraction of a second apart, until one resolves. So nearly all
DGA queries are answered NXDOMAIN, and a registered name answers NOERROR with an A record each time a bot
reaches it. The hosts' ordinary traffic goes on as before; the bots add about 2 % to the resolver's day.
"""

from __future__ import annotations

import datetime
import ipaddress
from dataclasses import dataclass

import numpy as np

from dnsvigil.demo import traffic as t
from dnsvigil.demo.dga_families import DgaFamily, find_family
from dnsvigil.demo.truth import InfectedClient

# The family of each bot in turn, up to one bot per `_QUERIES_PER_BOT` resolver queries: the fifth bot
# joins the first one's botnet, and the fourth asks over IPv6.
_BOT_FAMILIES = ("ramnit", "bamital", "suppobox", "banjori", "ramnit")
_IPV6_BOT = 3
_QUERIES_PER_BOT = 500
_DGA_SHARE = 0.02
_DAILY_NAMES = (30, 80)  # how many names a botnet's DGA makes a day, at least and at most
_MAX_BURSTS = 144  # one every ten minutes
_BURST_WINDOW_US = t.DAY_US - 1_800_000_000  # bursts start before 23:30, so they end on the day
_GAP_US = (50_000, 900_000)  # between one query of a burst and the next


@dataclass(frozen=True, slots=True)
class Botnet:
    """One botnet on the capture day: its family, the names its DGA made that day, which are registered.

    Raises:
        ValueError: `registered` does not match `domains`, or no name is registered.
    """

    family: DgaFamily
    domains: tuple[str, ...]
    registered: tuple[bool, ...]

    def __post_init__(self) -> None:
        if len(self.registered) != len(self.domains) or not any(self.registered):
            raise ValueError(f"Botnet {self.family.name}: one registered flag per name, at least one set")


@dataclass(frozen=True, slots=True)
class Outbreak:
    """The day's DGA activity, planned before the bots' hosts are chosen.

    Attributes:
        day: the capture day, which seeds the time-dependent families.
        botnets: the botnets present.
        bots: for each infected client, the index of its botnet in `botnets`.
        dga_queries: about how many DGA queries all bots send together.
    """

    day: datetime.date
    botnets: tuple[Botnet, ...]
    bots: tuple[int, ...]
    dga_queries: int

    @property
    def names(self) -> tuple[str, ...]:
        """Every botnet's names, botnet after botnet: the vocabulary's generated names, in order."""
        return tuple(name for botnet in self.botnets for name in botnet.domains)

    @property
    def registered(self) -> tuple[bool, ...]:
        """Whether each of `names` resolves."""
        return tuple(flag for botnet in self.botnets for flag in botnet.registered)


def plan_outbreak(rng: np.random.Generator, day: datetime.date, resolver_queries: int) -> Outbreak:
    """The botnets and bots of a resolver day of `resolver_queries` queries (none below 500 queries)."""
    families = _BOT_FAMILIES[: resolver_queries // _QUERIES_PER_BOT]
    present = list(dict.fromkeys(families))
    botnets = []
    for name in present:
        size = int(rng.integers(_DAILY_NAMES[0], _DAILY_NAMES[1], endpoint=True))
        key = int(rng.integers(1, 2**31 - 1))
        registered = np.zeros(size, dtype=np.bool_)
        registered[rng.choice(size, int(rng.integers(1, 2, endpoint=True)), replace=False)] = True
        botnets.append(
            Botnet(find_family(name), find_family(name).domains(key, day, size), tuple(registered))
        )
    return Outbreak(
        day=day,
        botnets=tuple(botnets),
        bots=tuple(present.index(name) for name in families),
        dga_queries=int(resolver_queries * _DGA_SHARE),
    )


@dataclass(frozen=True, slots=True)
class BotLookups:
    """The bots' DGA queries, one row each (not in time order), and what a detector should find.

    Attributes:
        time_us: int64, when each query arrived, microseconds after the capture day began.
        client: int64, the querying client (an index into the resolver's clients).
        ipv6: whether it went over IPv6.
        name: int64, the vocabulary index of the name asked.
        infected: the truth about each bot, in the order of `Outbreak.bots`.
    """

    time_us: t.Int64s
    client: t.Int64s
    ipv6: t.Bools
    name: t.Int64s
    infected: tuple[InfectedClient, ...]

    def __len__(self) -> int:
        return len(self.time_us)


def bot_lookups(
    rng: np.random.Generator, outbreak: Outbreak, clients: t.Clients, names: t.Int64s
) -> BotLookups:
    """Choose the bots' hosts among `clients` and plan every burst of their day.

    Args:
        rng: the resolver day's random generator.
        outbreak: the botnets and bots.
        clients: the resolver's stub clients.
        names: the vocabulary indices of `outbreak.names`, in order.

    Raises:
        ValueError: `names` does not match `outbreak.names`.
    """
    if len(names) != len(outbreak.names):
        raise ValueError(f"{len(names)} vocabulary indices for {len(outbreak.names)} generated names")
    first_name = np.cumsum([0] + [len(botnet.domains) for botnet in outbreak.botnets])
    hosts, over_ipv6 = _hosts(rng, clients, len(outbreak.bots))
    day_start = datetime.datetime.combine(outbreak.day, datetime.time(), tzinfo=datetime.UTC)
    times, positions, infected = [], [], []
    for bot, botnet_index in enumerate(outbreak.bots):
        botnet = outbreak.botnets[botnet_index]
        bot_times, walked = _bursts(
            rng, np.array(botnet.registered), outbreak.dga_queries / len(outbreak.bots)
        )
        times.append(bot_times)
        positions.append(first_name[botnet_index] + walked)
        live = [position for position in walked.tolist() if botnet.registered[position]]
        infected.append(
            InfectedClient(
                address=_address(clients, hosts[bot], over_ipv6[bot]),
                family=botnet.family.name,
                scheme=botnet.family.scheme,
                dga_queries=len(walked),
                nxdomain_responses=len(walked) - len(live),
                names=tuple(sorted({botnet.domains[position] for position in walked.tolist()})),
                controllers=tuple(sorted({botnet.domains[position] for position in live})),
                first_query=day_start + datetime.timedelta(microseconds=int(bot_times.min())),
                last_query=day_start + datetime.timedelta(microseconds=int(bot_times.max())),
            )
        )
    sizes = [len(bot_times) for bot_times in times]
    return BotLookups(
        time_us=np.concatenate([np.zeros(0, dtype=np.int64), *times]),
        client=np.repeat(np.array(hosts, dtype=np.int64), sizes),
        ipv6=np.repeat(np.array(over_ipv6, dtype=np.bool_), sizes),
        name=names[np.concatenate([np.zeros(0, dtype=np.int64), *positions])],
        infected=tuple(infected),
    )


def _bursts(rng: np.random.Generator, registered: t.Bools, budget: float) -> tuple[t.Int64s, t.Int64s]:
    """One bot's day: its query times and the list positions it asks, about `budget` queries in all.

    A burst walks a fresh shuffle of the list up to the first registered name, so it is `(n + 1) / (r + 1)`
    queries long on average for `n` names of which `r` are registered.
    """
    size = len(registered)
    mean_walk = (size + 1) / (int(registered.sum()) + 1)
    bursts = int(np.clip(round(budget / mean_walk), 1, _MAX_BURSTS))
    interval = _BURST_WINDOW_US // bursts
    times, positions = [], []
    for burst in range(bursts):
        order = rng.permutation(size)
        walk = order[: int(np.argmax(registered[order])) + 1]
        start = burst * interval + int(rng.integers(0, interval // 2))
        times.append(start + np.cumsum(rng.integers(_GAP_US[0], _GAP_US[1], len(walk))))
        positions.append(walk)
    return np.concatenate(times).astype(np.int64), np.concatenate(positions).astype(np.int64)


def _hosts(rng: np.random.Generator, clients: t.Clients, bots: int) -> tuple[list[int], list[bool]]:
    """Distinct clients to host the bots, and whether each bot asks over IPv6 (one dual-stack host does)."""
    order = rng.permutation(len(clients)).tolist()
    hosts, over_ipv6 = order[:bots], [False] * bots
    dual_stack = [client for client in order[bots:] if clients.ipv6_share[client] > 0]
    if bots > _IPV6_BOT and dual_stack:
        hosts[_IPV6_BOT], over_ipv6[_IPV6_BOT] = dual_stack[0], True
    return hosts, over_ipv6


def _address(clients: t.Clients, client: int, ipv6: bool) -> str:
    """A client's address as text, the IPv6 one or the IPv4 one."""
    packed = bytes(clients.ipv6[client]) if ipv6 else bytes(clients.ipv4[client, :4])
    return str(ipaddress.ip_address(packed))
