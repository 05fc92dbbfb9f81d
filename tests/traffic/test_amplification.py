"""`DDOS.AMPLIFICATION` on hand-made traffic: a planted reflection fires with its victim and factor."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from dnsvigil.findings import Finding
from dnsvigil.traffic.amplification import AmplificationDetector
from dnsvigil.traffic.detection import TimeWindow
from tests.traffic.attack_traffic import SERVER, exchange, ordinary, reflection
from tests.traffic.message_table import T0, TableRunner, message_table

DETECTOR = AmplificationDetector(window_seconds=60, min_responses=100, min_factor=10)
VICTIM = "198.18.0.7"


def run(detector: AmplificationDetector, rows: list[dict[str, Any]]) -> list[Finding]:
    return detector.detect(TableRunner(message_table(rows)), TimeWindow())


def test_planted_reflection_fires_with_victim_and_factor() -> None:
    rows = ordinary() + reflection(VICTIM, start=120, seconds=120, qps=5)
    [finding] = run(DETECTOR, rows)
    assert finding.code == "DDOS.AMPLIFICATION" and finding.subject == VICTIM
    assert T0 + timedelta(seconds=120) <= finding.first_seen < T0 + timedelta(seconds=121)
    assert finding.last_seen < T0 + timedelta(seconds=240)
    evidence = finding.evidence
    assert evidence["amplification_factor"] == 75.0 and evidence["query_size_measured"] is True
    assert evidence["windows"] == 2 and evidence["responses"] == 600
    assert evidence["abused_qtype_share"] == 1.0
    assert evidence["reflectors"] == [{"reflector": SERVER, "responses": 600}]
    assert evidence["top_names"][0]["qname"] == "example.com" and evidence["top_names"][0]["qtype"] == "ANY"
    assert evidence["top_name_sources"] == 1  # the ordinary clients ask for example.com, but not ANY
    margins = {entry["setting"]: entry["margin"] for entry in evidence["thresholds"]}
    assert margins == {"amplification_min_responses": 3.0, "amplification_min_factor": 7.5}


def test_responses_without_queries_estimate_the_query_size() -> None:
    rows = reflection(VICTIM, start=0, seconds=60, qps=2, with_queries=False)
    [finding] = run(DETECTOR, rows)
    # example.com: 11 characters + 29 bytes of header, framing and OPT record = 40 bytes.
    assert finding.evidence["amplification_factor"] == 75.0
    assert finding.evidence["query_size_measured"] is False and finding.confidence == 0.7


def test_large_denials_to_a_relaying_resolver_are_no_reflection() -> None:
    # A resolver relaying a random-subdomain flood against a signed zone: 700-byte NSEC3 NXDOMAIN answers.
    rows = ordinary()
    for index in range(600):
        rows += exchange(120 + index / 5, VICTIM, f"x{index}.signed.example", rcode=3, response_len=700)
    assert run(DETECTOR, rows) == []
    denials = [row for row in rows if str(row["qname"]).endswith("signed.example")]
    half = [row for row in rows if row not in denials] + denials[: len(denials) // 2]
    half += reflection(VICTIM, start=120, seconds=120, qps=2.5, response_len=700)
    [finding] = run(DETECTOR, half)  # half denials, half answers: still reflected at the victim
    assert finding.subject == VICTIM


def test_ordinary_traffic_and_empty_input_do_not_fire() -> None:
    assert run(DETECTOR, ordinary()) == []
    assert run(DETECTOR, []) == []


@pytest.mark.parametrize(("responses", "fires"), [(100, True), (99, False)])
def test_response_count_edge(responses: int, fires: bool) -> None:
    rows = reflection(VICTIM, start=0, seconds=responses / 2, qps=2)
    assert bool(run(DETECTOR, rows)) is fires


@pytest.mark.parametrize(("response_len", "fires"), [(400, True), (399, False)])
def test_factor_edge(response_len: int, fires: bool) -> None:
    rows = reflection(VICTIM, start=0, seconds=60, qps=2, qtype=1, response_len=response_len)
    assert bool(run(DETECTOR, rows)) is fires


def test_tcp_is_not_spoofable_and_does_not_count() -> None:
    rows = [{**row, "transport": "tcp"} for row in reflection(VICTIM, start=0, seconds=60, qps=5)]
    assert run(DETECTOR, rows) == []
