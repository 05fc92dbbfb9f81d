"""The demo world: one UTC day at a recursive resolver and at a TLD-like authoritative server, seeded.

`write_demo_captures` writes the two captures `dnsvigil demo` ingests (the resolver's as pcap, the
authoritative server's as pcapng); `demo_truth` says what they hold, for tests and for the demo's own
checks, the resolver's DGA-infected clients included. The same world always gives the same bytes.
"""

from __future__ import annotations

import datetime
import gzip
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from dnsvigil.demo.authoritative import authoritative_traffic
from dnsvigil.demo.capture import build_capture
from dnsvigil.demo.infection import plan_outbreak
from dnsvigil.demo.names import NameKind, build_vocabulary
from dnsvigil.demo.resolver import resolver_traffic
from dnsvigil.demo.truth import CaptureTruth, InfectedClient, capture_truth
from dnsvigil.errors import UsageError

_MAX_QUERIES = 20_000_000
_TRUTH_CACHE_SIZE = 4


@dataclass(frozen=True, slots=True)
class DemoWorld:
    """What to generate: the seed, the UTC day, and how big each capture is.

    Attributes:
        seed: seeds every random choice; the same world gives the same bytes.
        day: the UTC day the captures cover.
        resolver_queries: queries clients send the resolver, about 2 % of them from bots asking for DGA
            names (one infected client per 500 queries, up to five; responses, TCP retries and TCP
            control segments come on top).
        authoritative_queries: queries resolvers send the authoritative server.
        domains: registered domains in the vocabulary (about a quarter under example, the
            authoritative server's zone).
        compress_resolver: write the resolver's capture gzip-compressed (`.pcap.gz`).

    Raises:
        UsageError: a size is out of range.
    """

    seed: int = 2025
    day: datetime.date = datetime.date(2025, 1, 1)
    resolver_queries: int = 150_000
    authoritative_queries: int = 150_000
    domains: int = 20_000
    compress_resolver: bool = False

    def __post_init__(self) -> None:
        for name in ("resolver_queries", "authoritative_queries"):
            value = getattr(self, name)
            if not 1 <= value <= _MAX_QUERIES:
                raise UsageError(
                    f"DemoWorld.{name} is {value}", hint=f"choose between 1 and {_MAX_QUERIES:,} queries"
                )
        if not 40 <= self.domains <= 1_000_000:
            raise UsageError(f"DemoWorld.domains is {self.domains}", hint="choose between 40 and 1,000,000")
        if self.seed < 0:
            raise UsageError(f"DemoWorld.seed is {self.seed}", hint="use a seed of 0 or more")

    @property
    def resolver_file_name(self) -> str:
        """The resolver capture's file name, e.g. `resolver-20250101.pcap`."""
        suffix = ".pcap.gz" if self.compress_resolver else ".pcap"
        return f"resolver-{self.day:%Y%m%d}{suffix}"

    @property
    def authoritative_file_name(self) -> str:
        """The authoritative capture's file name, e.g. `authoritative-20250101.pcapng`."""
        return f"authoritative-{self.day:%Y%m%d}.pcapng"


@dataclass(frozen=True, slots=True)
class DemoTruth:
    """What the demo captures hold: one `CaptureTruth` per capture, and the resolver's infected clients.

    Attributes:
        world: the world generated.
        resolver: the resolver capture's truth.
        authoritative: the authoritative capture's truth.
        infected_clients: the resolver's stub clients that run a DGA, with the DGA queries they sent (in
            the resolver capture only).
    """

    world: DemoWorld
    resolver: CaptureTruth
    authoritative: CaptureTruth
    infected_clients: tuple[InfectedClient, ...]

    @property
    def captures(self) -> tuple[CaptureTruth, CaptureTruth]:
        """Both captures' truths, resolver first."""
        return (self.resolver, self.authoritative)

    @property
    def authoritative_service(self) -> str:
        """The authoritative server's name, the RSSAC002 `service` of its metrics."""
        return self.authoritative.server_name

    @property
    def authoritative_addrs(self) -> tuple[str, str]:
        """The authoritative server's addresses, IPv4 then IPv6."""
        return self.authoritative.server_addrs


@dataclass(frozen=True, slots=True)
class DemoCapture:
    """One generated capture file: its name, bytes and truth."""

    file_name: str
    data: bytes
    truth: CaptureTruth


_truth_cache: dict[DemoWorld, DemoTruth] = {}


def generate_demo(world: DemoWorld) -> tuple[DemoCapture, DemoCapture]:
    """Generate both captures in memory: the resolver's, then the authoritative server's."""
    outbreak = plan_outbreak(np.random.default_rng((world.seed, 3)), world.day, world.resolver_queries)
    vocabulary = build_vocabulary(np.random.default_rng((world.seed, 0)), world.domains).with_domains(
        outbreak.names, NameKind.GENERATED, outbreak.registered
    )
    tables = vocabulary.tables()
    day_start = datetime.datetime.combine(world.day, datetime.time(), tzinfo=datetime.UTC)
    day_start_us = int(day_start.timestamp()) * 1_000_000
    day_number = int(f"{world.day:%Y%m%d}")

    rng = np.random.default_rng((world.seed, 1))
    traffic, infected = resolver_traffic(rng, vocabulary, world.resolver_queries, day_number, outbreak)
    content = build_capture(traffic, tables, day_start_us, rng, pcapng=False)
    data = gzip.compress(content.data, compresslevel=6, mtime=0) if world.compress_resolver else content.data
    resolver = DemoCapture(
        world.resolver_file_name, data, capture_truth(content, traffic.service, world.resolver_file_name)
    )

    rng = np.random.default_rng((world.seed, 2))
    traffic = authoritative_traffic(rng, vocabulary, world.authoritative_queries, day_number)
    content = build_capture(traffic, tables, day_start_us, rng, pcapng=True)
    name = world.authoritative_file_name
    authoritative = DemoCapture(name, content.data, capture_truth(content, traffic.service, name))

    if len(_truth_cache) >= _TRUTH_CACHE_SIZE:
        _truth_cache.pop(next(iter(_truth_cache)))
    _truth_cache[world] = DemoTruth(world, resolver.truth, authoritative.truth, infected)
    return resolver, authoritative


def write_demo_captures(world: DemoWorld, out_dir: Path) -> list[Path]:
    """Write the world's captures into `out_dir` (created if missing); return their paths, resolver first.

    Raises:
        OSError: `out_dir` cannot be created or written.
    """
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = []
    for capture in generate_demo(world):
        path = out_dir / capture.file_name
        path.write_bytes(capture.data)
        paths.append(path)
    return paths


def demo_truth(world: DemoWorld) -> DemoTruth:
    """What the world's captures hold; instant after `write_demo_captures` or `generate_demo` of `world`."""
    if world not in _truth_cache:
        generate_demo(world)
    return _truth_cache[world]
