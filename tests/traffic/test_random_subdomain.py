"""`DDOS.RANDOM_SUBDOMAIN` on hand-made traffic: a planted flood fires with its zone and window."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from dnsvigil.findings import Finding
from dnsvigil.traffic.detection import TimeWindow
from dnsvigil.traffic.random_subdomain import RandomSubdomainDetector
from tests.traffic.attack_traffic import ordinary, random_subdomain_flood
from tests.traffic.message_table import T0, TableRunner, message_table

DEFAULTS = RandomSubdomainDetector(
    window_seconds=60, min_qps=100, min_children=50, min_failure_share=0.8, max_queries_per_child=2
)
SMALL = RandomSubdomainDetector(
    window_seconds=60, min_qps=10, min_children=20, min_failure_share=0.8, max_queries_per_child=2
)


def run(
    detector: RandomSubdomainDetector, rows: list[dict[str, Any]], window: TimeWindow | None = None
) -> list[Finding]:
    return detector.detect(TableRunner(message_table(rows)), window or TimeWindow())


def test_planted_flood_fires_on_its_zone_and_window() -> None:
    rows = ordinary() + random_subdomain_flood("www.victim.example", start=180, seconds=120, qps=150)
    [finding] = run(DEFAULTS, rows)
    assert finding.code == "DDOS.RANDOM_SUBDOMAIN" and finding.subject == "www.victim.example"
    assert T0 + timedelta(seconds=180) <= finding.first_seen < T0 + timedelta(seconds=181)
    assert T0 + timedelta(seconds=299) <= finding.last_seen < T0 + timedelta(seconds=300)
    evidence = finding.evidence
    assert evidence["zone_kind"] == "subdomain" and evidence["registrable_domain"] == "victim.example"
    assert evidence["windows"] == 2 and evidence["peak_qps"] == 150.0
    assert evidence["failure_share"] == 1.0
    assert 17_000 <= evidence["distinct_children"] <= 19_000  # 18,000 labels, estimated
    assert 28 <= evidence["sources"] <= 32  # 30 resolvers, estimated
    assert {row["client"] for row in evidence["top_resolvers"]} <= {f"203.0.113.{n}" for n in range(1, 31)}
    assert all(label.isalnum() and len(label) == 12 for label in evidence["example_children"])
    crossed = {entry["setting"]: entry for entry in evidence["thresholds"]}
    assert crossed["random_subdomain_min_qps"]["margin"] == 1.5
    assert set(crossed) == {
        "random_subdomain_min_qps",
        "random_subdomain_min_children",
        "random_subdomain_min_failure_share",
        "random_subdomain_max_queries_per_child",
    }


def test_ordinary_traffic_does_not_fire() -> None:
    assert run(DEFAULTS, ordinary()) == []
    assert run(SMALL, ordinary()) == []  # even at a tenth of the rate: its names repeat


def test_empty_input() -> None:
    assert run(DEFAULTS, []) == []


def test_servfail_counts_as_failure() -> None:
    [finding] = run(SMALL, random_subdomain_flood("victim.example", start=0, seconds=60, qps=12, rcode=2))
    assert finding.subject == "victim.example" and finding.evidence["zone_kind"] == "registrable domain"


@pytest.mark.parametrize(("qps", "fires"), [(10, True), (9.9, False)])
def test_rate_threshold_edge(qps: float, fires: bool) -> None:
    assert bool(run(SMALL, random_subdomain_flood("victim.example", start=0, seconds=60, qps=qps))) is fires


@pytest.mark.parametrize(("repeat", "fires"), [(2, True), (3, False)])
def test_repeated_labels_are_not_random(repeat: int, fires: bool) -> None:
    flood = random_subdomain_flood("victim.example", start=0, seconds=60, qps=12, repeat=repeat)
    assert bool(run(SMALL, flood)) is fires


@pytest.mark.parametrize(("min_children", "fires"), [(20, True), (21, False)])
def test_children_threshold_edge(min_children: int, fires: bool) -> None:
    detector = RandomSubdomainDetector(
        window_seconds=60,
        min_qps=10,
        min_children=min_children,
        min_failure_share=0.8,
        max_queries_per_child=30,
    )
    flood = random_subdomain_flood("victim.example", start=0, seconds=60, qps=10, repeat=30)  # 20 labels
    assert bool(run(detector, flood)) is fires


@pytest.mark.parametrize(("answered_share", "fires"), [(0.2, True), (0.25, False)])
def test_failure_share_edge(answered_share: float, fires: bool) -> None:
    flood = random_subdomain_flood("victim.example", start=0, seconds=60, qps=10)
    responses = [row for row in flood if row["qr"]]
    for row in responses[: round(answered_share * len(responses))]:
        row.update(rcode=0, ancount=1)
    assert bool(run(SMALL, flood)) is fires


def test_queries_without_responses_do_not_fire() -> None:
    flood = [
        row for row in random_subdomain_flood("victim.example", start=0, seconds=60, qps=20) if not row["qr"]
    ]
    assert run(SMALL, flood) == []


def test_window_limits_what_is_read() -> None:
    rows = random_subdomain_flood("victim.example", start=0, seconds=60, qps=12)
    assert run(SMALL, rows, TimeWindow(since=T0 + timedelta(minutes=1))) == []
    assert len(run(SMALL, rows, TimeWindow(until=T0 + timedelta(minutes=1)))) == 1
