"""The demo's attack capture: the hosting provider's server during a span of the demo day, episodes planted.

It is a capture of its own (`attacks-YYYYMMDD.pcap`), taken at a server of its own, so that the resolver's
and the TLD server's captures, their RSSAC002 counts and their DGA-infected clients stay as they were.
`attack_truth` says which detector should fire on what, and when; the same world and schedule always
give the same bytes.
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from dnsvigil.demo.attack_traffic import HOSTING, attack_traffic
from dnsvigil.demo.capture import build_capture
from dnsvigil.demo.episodes import DEMO_SCHEDULE, WINDOW_SECONDS, AttackSchedule, AttackTruth
from dnsvigil.demo.names import build_vocabulary
from dnsvigil.demo.truth import CaptureTruth, capture_truth
from dnsvigil.demo.world import DemoWorld

_CACHE_SIZE = 4


@dataclass(frozen=True, slots=True)
class AttackCapture:
    """The attack capture: its file name, bytes, what it counts (RSSAC002-style) and the planted episodes."""

    file_name: str
    data: bytes
    counts: CaptureTruth
    truth: AttackTruth


_cache: dict[tuple[DemoWorld, AttackSchedule], AttackTruth] = {}


def attack_file_name(world: DemoWorld) -> str:
    """The attack capture's file name, e.g. `attacks-20250101.pcap`."""
    return f"attacks-{world.day:%Y%m%d}.pcap"


def generate_attacks(world: DemoWorld, schedule: AttackSchedule = DEMO_SCHEDULE) -> AttackCapture:
    """Generate the attack capture of `world` (its seed, day and vocabulary size) under `schedule`."""
    vocabulary = build_vocabulary(np.random.default_rng((world.seed, 0)), world.domains)
    rng = np.random.default_rng((world.seed, 4))
    traffic, episodes = attack_traffic(rng, vocabulary, schedule, world.day)
    day_start = datetime.datetime.combine(world.day, datetime.time(), tzinfo=datetime.UTC)
    content = build_capture(
        traffic, vocabulary.tables(), int(day_start.timestamp()) * 1_000_000, rng, pcapng=False
    )
    name = attack_file_name(world)
    start = day_start + datetime.timedelta(hours=schedule.start_hour)
    truth = AttackTruth(
        file_name=name,
        server_name=HOSTING.name,
        server_ipv4=HOSTING.ipv4,
        server_ipv6=HOSTING.ipv6,
        start=start,
        end=start + datetime.timedelta(seconds=WINDOW_SECONDS * schedule.windows),
        episodes=episodes,
    )
    if len(_cache) >= _CACHE_SIZE:
        _cache.pop(next(iter(_cache)))
    _cache[(world, schedule)] = truth
    return AttackCapture(name, content.data, capture_truth(content, traffic.service, name), truth)


def write_attack_capture(world: DemoWorld, out_dir: Path, schedule: AttackSchedule = DEMO_SCHEDULE) -> Path:
    """Write the attack capture into `out_dir` (created if missing) and return its path.

    Raises:
        OSError: `out_dir` cannot be created or written.
    """
    out_dir.mkdir(parents=True, exist_ok=True)
    capture = generate_attacks(world, schedule)
    path = out_dir / capture.file_name
    path.write_bytes(capture.data)
    return path


def attack_truth(world: DemoWorld, schedule: AttackSchedule = DEMO_SCHEDULE) -> AttackTruth:
    """The episodes planted in the attack capture; instant after it was generated or written."""
    if (world, schedule) not in _cache:
        generate_attacks(world, schedule)
    return _cache[(world, schedule)]
