"""`DDOS.QUERY_FLOOD` on hand-made traffic: sources and networks far above the learnt baseline."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from dnsvigil.findings import Finding
from dnsvigil.traffic.detection import TimeWindow
from dnsvigil.traffic.query_flood import QueryFloodDetector
from tests.traffic.attack_traffic import ordinary, query_flood
from tests.traffic.message_table import T0, TableRunner, message_table

DETECTOR = QueryFloodDetector(window_seconds=60, min_qps=100, mad_k=6)


def run(detector: QueryFloodDetector, rows: list[dict[str, Any]]) -> list[Finding]:
    return detector.detect(TableRunner(message_table(rows)), TimeWindow())


def test_planted_source_fires_alone() -> None:
    rows = ordinary() + query_flood("192.0.2.250", start=240, seconds=120, qps=150)
    [finding] = run(DETECTOR, rows)
    assert finding.code == "DDOS.QUERY_FLOOD" and finding.subject == "192.0.2.250"
    assert T0 + timedelta(seconds=240) <= finding.first_seen < T0 + timedelta(seconds=241)
    assert finding.last_seen < T0 + timedelta(seconds=360)
    evidence = finding.evidence
    assert evidence["level"] == "address" and evidence["windows"] == 2 and evidence["queries"] == 18_000
    assert evidence["peak_qps"] == 150.0 and evidence["baseline_median_queries"] == 20
    assert evidence["top_names"] == [{"value": "www.example.com", "queries": 18_000}]
    crossed = {entry["setting"]: entry for entry in evidence["thresholds"]}
    assert crossed["query_flood_min_qps"]["margin"] == 1.5
    assert crossed["traffic_baseline_mad_k"]["observed"] > 6


def test_flood_spread_over_a_network_fires_on_the_prefix() -> None:
    spread = [
        row
        for host in range(1, 11)
        for row in query_flood(f"198.18.5.{host}", start=60, seconds=60, qps=15)  # 10 x 15 q/s
    ]
    [finding] = run(DETECTOR, ordinary() + spread)
    assert finding.subject == "198.18.5.0/24" and finding.evidence["level"] == "prefix"
    assert finding.evidence["addresses"] == 10 and finding.evidence["peak_qps"] == 150.0


def test_ipv6_networks_are_slash_56() -> None:
    spread = [
        row
        for host in range(1, 11)
        for row in query_flood(f"2001:db8:aa:bb{host:02x}::1", start=60, seconds=60, qps=15)
    ]
    [finding] = run(DETECTOR, ordinary() + spread)
    assert finding.subject == "2001:db8:aa:bb00::/56"


def test_ordinary_traffic_and_empty_input_do_not_fire() -> None:
    assert run(DETECTOR, ordinary()) == []
    assert run(DETECTOR, []) == []


@pytest.mark.parametrize(("qps", "fires"), [(100, True), (99.9, False)])
def test_floor_edge(qps: float, fires: bool) -> None:
    # Outside the ordinary clients' /24, whose own queries would otherwise lift the network over the floor.
    rows = ordinary(minutes=3) + query_flood("198.18.9.9", start=60, seconds=60, qps=qps)
    assert bool(run(DETECTOR, rows)) is fires


def test_baseline_multiple_decides() -> None:
    rows = ordinary(minutes=3) + query_flood("198.18.9.9", start=60, seconds=60, qps=3)  # 180 a window
    low = QueryFloodDetector(window_seconds=60, min_qps=1, mad_k=6)
    [finding] = [finding for finding in run(low, rows) if finding.subject == "198.18.9.9"]
    deviations = next(
        entry["observed"]
        for entry in finding.evidence["thresholds"]
        if entry["setting"] == "traffic_baseline_mad_k"
    )
    strict = QueryFloodDetector(window_seconds=60, min_qps=1, mad_k=int(deviations) + 1)
    assert "198.18.9.9" not in {finding.subject for finding in run(strict, rows)}


def test_a_steady_source_is_not_a_flood_against_its_own_part_windows() -> None:
    # One source at a steady 150 q/s from 40 s to 140 s: 20, 60 and 20 seconds of it in three windows. Its
    # part windows (the capture starts and stops inside them) must not be the baseline its whole one is
    # judged against.
    rows = query_flood("198.18.9.9", start=40, seconds=100, qps=150)
    assert run(DETECTOR, rows) == []
    # A real jump in the middle of a longer steady stream still fires.
    jump = query_flood("198.18.9.9", start=40, seconds=280, qps=150)
    jump += query_flood("198.18.9.9", start=180, seconds=60, qps=1500)
    [finding] = run(DETECTOR, jump)
    assert finding.subject == "198.18.9.9" and finding.evidence["baseline_median_queries"] == 9000


def test_a_fixed_rate_source_is_not_a_flood_for_a_few_queries_more() -> None:
    # 9,000 queries in every window, and 40 more in one: its MAD is 0, but chance alone moves a count of
    # 9,000 by about 95.
    rows = query_flood("198.18.9.9", start=0, seconds=300, qps=150)
    rows += query_flood("198.18.9.9", start=125, seconds=1, qps=40)
    assert run(DETECTOR, rows) == []
    rows += query_flood("198.18.9.9", start=130, seconds=1, qps=600)  # 640 more: nearly 7 times that
    [finding] = run(DETECTOR, rows)
    assert finding.evidence["queries"] == 9640 and finding.evidence["baseline_mad_queries"] == 0.0
