"""The labelled set: attack captures with episodes at several intensities, run through the dnsvigil commands.

Each seed gives one capture of the demo's hosting server (`dnsvigil.demo.attacks`): every attack kind at
every intensity, two windows each, in a seeded random order with two ordinary windows between episodes.
The capture is ingested with `dnsvigil ingest pcap` and analysed with `dnsvigil traffic detect --json`
into a warehouse of its own, exactly as a user would; the findings are then held to the truth.
"""

from __future__ import annotations

import datetime
import json
import random
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from dnsvigil.demo.attacks import generate_attacks
from dnsvigil.demo.episodes import AttackKind, AttackSchedule, AttackTruth, EpisodePlan
from dnsvigil.demo.world import DemoWorld
from ingest_bench.processes import BenchmarkError, child_env, last_json

INTENSITIES = (0.5, 0.9, 1.1, 1.5, 3.0)
EPISODE_WINDOWS = 2
GAP_WINDOWS = 2
LEAD_WINDOWS = 8
BACKGROUND_QPS = 6.0
DAY = datetime.date(2026, 11, 2)


@dataclass(frozen=True, slots=True)
class SeedRun:
    """One seed's capture, what the commands reported, and how long they took."""

    seed: int
    truth: AttackTruth
    messages: int
    findings: tuple[dict[str, Any], ...]
    generate_s: float
    ingest_s: float
    detect_s: float


def schedule_for(seed: int, intensities: tuple[float, ...] = INTENSITIES) -> AttackSchedule:
    """Every kind at every intensity, in a seeded random order, each between ordinary windows."""
    plans = [(kind, intensity) for kind in AttackKind for intensity in intensities]
    random.Random(seed).shuffle(plans)
    episodes = tuple(
        EpisodePlan(kind, LEAD_WINDOWS + number * (EPISODE_WINDOWS + GAP_WINDOWS), EPISODE_WINDOWS, intensity)
        for number, (kind, intensity) in enumerate(plans)
    )
    windows = LEAD_WINDOWS + len(plans) * (EPISODE_WINDOWS + GAP_WINDOWS)
    return AttackSchedule(windows=windows, background_qps=BACKGROUND_QPS, episodes=episodes)


def _command(arguments: list[str], timeout_s: float) -> tuple[dict[str, Any], float]:
    """Run `python -m dnsvigil ARGUMENTS`; its last JSON object and its wall time."""
    started = time.perf_counter()
    completed = subprocess.run(
        [sys.executable, "-m", "dnsvigil", *arguments],
        capture_output=True,
        timeout=timeout_s,
        env=child_env(),
        check=False,
    )
    seconds = time.perf_counter() - started
    if completed.returncode != 0:
        raise BenchmarkError(
            f"dnsvigil {arguments[0]} exited with {completed.returncode}: {completed.stderr[-2000:]!r}"
        )
    return last_json(completed.stdout, f"dnsvigil {' '.join(arguments[:2])}"), seconds


def run_seed(seed: int, workdir: Path, intensities: tuple[float, ...] = INTENSITIES) -> SeedRun:
    """Generate seed `seed`'s capture under `workdir`, ingest it, run the detectors: what they found."""
    folder = workdir / f"seed-{seed}"
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    started = time.perf_counter()
    capture = generate_attacks(DemoWorld(seed=seed, day=DAY, domains=2000), schedule_for(seed, intensities))
    path = folder / capture.file_name
    path.write_bytes(capture.data)
    generate_s = time.perf_counter() - started
    home = str(folder / "home")
    _, ingest_s = _command(["ingest", "pcap", str(path), "--home", home, "--json"], 600)
    detected, detect_s = _command(["traffic", "detect", "--home", home, "--json"], 600)
    findings = tuple(
        {**finding, "evidence": json.loads(finding["evidence"])}
        if isinstance(finding["evidence"], str)
        else finding
        for finding in detected["findings"]
    )
    if detected["messages"] != capture.counts.messages:
        raise BenchmarkError(
            f"seed {seed}: ingest kept {detected['messages']} of {capture.counts.messages} messages"
        )
    return SeedRun(seed, capture.truth, capture.counts.messages, findings, generate_s, ingest_s, detect_s)
