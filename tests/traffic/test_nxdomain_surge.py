"""`DNS.NXDOMAIN_SURGE` on hand-made traffic: a zone's NXDOMAIN share against its own baseline."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from dnsvigil.findings import Finding
from dnsvigil.traffic.detection import TimeWindow
from dnsvigil.traffic.nxdomain_surge import NxdomainSurgeDetector
from tests.traffic.attack_traffic import exchange, ordinary
from tests.traffic.message_table import T0, TableRunner, message_table

DETECTOR = NxdomainSurgeDetector(
    window_seconds=60, min_responses=50, min_rise=0.3, mad_k=6, min_baseline_windows=3
)


def run(detector: NxdomainSurgeDetector, rows: list[dict[str, Any]]) -> list[Finding]:
    return detector.detect(TableRunner(message_table(rows)), TimeWindow())


def missing(zone: str, *, minutes: range, per_minute: int, rcode: int = 3) -> list[dict[str, Any]]:
    """`per_minute` lookups a minute of distinct names under `zone`, answered with `rcode`."""
    return [
        row
        for minute in minutes
        for index in range(per_minute)
        for row in exchange(
            minute * 60 + index * 59 / per_minute, "192.0.2.9", f"gone{index}.{zone}", rcode=rcode
        )
    ]


def test_planted_surge_fires_on_the_deepest_zone() -> None:
    rows = ordinary() + missing("shop.example.net", minutes=range(5, 7), per_minute=100)
    [finding] = run(DETECTOR, rows)  # example.net and net surge only through it
    assert finding.code == "DNS.NXDOMAIN_SURGE" and finding.subject == "shop.example.net"
    assert T0 + timedelta(minutes=5) <= finding.first_seen < T0 + timedelta(minutes=5, seconds=2)
    assert finding.last_seen < T0 + timedelta(minutes=7)
    evidence = finding.evidence
    assert evidence["windows"] == 2 and evidence["baseline_share"] == 0.0
    assert 0.35 <= evidence["peak_share"] <= 0.65  # 100 misses beside about 100 ordinary answers
    assert evidence["registrable_domain"] == "example.net" and evidence["zone_kind"] == "subdomain"
    rise = next(entry for entry in evidence["thresholds"] if entry["setting"] == "nxdomain_surge_min_rise")
    assert rise["observed"] == pytest.approx(evidence["peak_share"], abs=1e-4) and rise["margin"] > 1


def test_a_zone_asked_mostly_at_its_apex_surges_on_its_own_baseline() -> None:
    # sand.example is looked up at its apex all along (answered); then its made-up children fail.
    apex = [row for second in range(0, 600, 2) for row in exchange(second + 0.5, "192.0.2.7", "sand.example")]
    rows = ordinary() + apex + missing("sand.example", minutes=range(8, 9), per_minute=60)
    [finding] = run(DETECTOR, rows)
    assert finding.subject == "sand.example" and finding.evidence["baseline_share"] == 0.0


def test_ordinary_traffic_and_empty_input_do_not_fire() -> None:
    assert run(DETECTOR, ordinary()) == []
    assert run(DETECTOR, []) == []


def test_a_zone_that_always_fails_has_that_as_its_baseline() -> None:
    assert run(DETECTOR, ordinary() + missing("dead.example", minutes=range(10), per_minute=60)) == []


@pytest.mark.parametrize(("baseline_minutes", "fires"), [(range(0, 2), True), (range(0, 1), False)])
def test_a_zone_needs_baseline_windows(baseline_minutes: range, fires: bool) -> None:
    # Ordinary answers in the baseline minutes, then one surging minute: 3 windows, or only 2.
    rows = missing("new.example", minutes=baseline_minutes, per_minute=60, rcode=0)
    rows += missing("new.example", minutes=range(5, 6), per_minute=60)
    assert bool(run(DETECTOR, rows)) is fires


@pytest.mark.parametrize(("min_rise", "fires"), [(0.5, True), (0.51, False)])
def test_rise_threshold_edge(min_rise: float, fires: bool) -> None:
    rows = missing("edge.example", minutes=range(4), per_minute=60, rcode=0)
    surge = missing("edge.example", minutes=range(4, 5), per_minute=60)
    rows += (
        surge[: len(surge) // 2] + missing("edge.example", minutes=range(4, 5), per_minute=60, rcode=0)[60:]
    )
    detector = NxdomainSurgeDetector(
        window_seconds=60, min_responses=50, min_rise=min_rise, mad_k=6, min_baseline_windows=3
    )
    assert bool(run(detector, rows)) is fires
