"""The contract every traffic detector keeps, and the helpers they share (windows, crossings, zones)."""

from __future__ import annotations

import json
from datetime import datetime, timedelta

import pytest

from dnsvigil.config import SETTINGS
from dnsvigil.errors import UsageError
from dnsvigil.traffic.detect import detectors_from_settings
from dnsvigil.traffic.detection import Crossing, TimeWindow, TrafficDetector, episodes
from dnsvigil.traffic.zones import zone_kind
from tests.traffic.attack_traffic import ordinary, query_flood, random_subdomain_flood, reflection
from tests.traffic.message_table import T0, TableRunner, message_table


@pytest.fixture
def detectors(monkeypatch: pytest.MonkeyPatch) -> tuple[TrafficDetector, ...]:
    for setting in SETTINGS:
        monkeypatch.delenv(setting.env, raising=False)
    return detectors_from_settings()


@pytest.fixture(scope="module")
def attacked() -> TableRunner:
    rows = ordinary()
    rows += random_subdomain_flood("victim.example", start=120, seconds=60, qps=150)
    rows += reflection("198.18.0.7", start=300, seconds=60, qps=5)
    rows += query_flood("198.18.9.9", start=420, seconds=60, qps=150)
    return TableRunner(message_table(rows))


def test_each_detector_is_silent_on_empty_and_ordinary_traffic(
    detectors: tuple[TrafficDetector, ...],
) -> None:
    empty, everyday = TableRunner(message_table([])), TableRunner(message_table(ordinary()))
    for detector in detectors:
        assert detector.detect(empty, TimeWindow()) == []
        assert detector.detect(everyday, TimeWindow()) == []


def test_every_finding_says_which_thresholds_it_crossed(
    detectors: tuple[TrafficDetector, ...], attacked: TableRunner
) -> None:
    codes = set()
    settings = {setting.name for setting in SETTINGS}
    for detector in detectors:
        findings = detector.detect(attacked, TimeWindow())
        assert findings, f"{detector!r} found nothing in the attacked traffic"
        for finding in findings:
            codes.add(finding.code)
            assert finding.first_seen >= T0 and finding.last_seen <= T0 + timedelta(minutes=10)
            thresholds = finding.evidence["thresholds"]
            assert thresholds and all(entry["setting"] in settings for entry in thresholds)
            assert all(entry["margin"] is None or entry["margin"] >= 1 for entry in thresholds)
            json.dumps(dict(finding.evidence), allow_nan=False)  # plain, finite data
    assert codes >= {"DDOS.RANDOM_SUBDOMAIN", "DDOS.AMPLIFICATION", "DDOS.QUERY_FLOOD", "DNS.NXDOMAIN_SURGE"}


def test_same_data_gives_the_same_findings(
    detectors: tuple[TrafficDetector, ...], attacked: TableRunner
) -> None:
    for detector in detectors:
        first = detector.detect(attacked, TimeWindow())
        assert [f.finding_id for f in first] == [
            f.finding_id for f in detector.detect(attacked, TimeWindow())
        ]


def test_thresholds_come_from_the_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DNSVIGIL_RANDOM_SUBDOMAIN_MIN_QPS", "7")
    monkeypatch.setenv("DNSVIGIL_TRAFFIC_WINDOW_SECONDS", "30")
    text = " ".join(repr(detector) for detector in detectors_from_settings())
    assert "min_qps=7" in text and "window_seconds=60" not in text
    monkeypatch.setenv("DNSVIGIL_NXDOMAIN_SURGE_MIN_RISE", "1.5")
    with pytest.raises(UsageError, match="DNSVIGIL_NXDOMAIN_SURGE_MIN_RISE"):
        detectors_from_settings()


@pytest.mark.parametrize(
    ("since", "until", "complaint"),
    [(datetime(2024, 5, 1), None, "no time zone"), (T0, T0, "at or after"), (T0 + timedelta(1), T0, "swap")],
)
def test_bad_windows_are_usage_errors(since: datetime, until: datetime | None, complaint: str) -> None:
    with pytest.raises(UsageError, match=complaint):
        TimeWindow(since, until)


def test_window_condition_binds_its_bounds() -> None:
    assert TimeWindow().where() == ("TRUE", [])
    assert TimeWindow(T0, T0 + timedelta(1)).where() == (
        "TRUE AND ts >= ? AND ts < ?",
        [T0, T0 + timedelta(1)],
    )


def test_crossings_in_both_directions() -> None:
    minimum = Crossing("x", 100, 150)
    maximum = Crossing("y", 2, 0.5, at_least=False)
    assert minimum.crossed and minimum.margin == 1.5
    assert maximum.crossed and maximum.margin == 4.0
    assert not Crossing("x", 100, 99).crossed and not Crossing("y", 2, 2.5, at_least=False).crossed
    assert Crossing("y", 2, 0, at_least=False).to_evidence()["margin"] is None


def test_episodes_join_consecutive_windows_only() -> None:
    rows = [{"zone": "a", "bucket": n} for n in (5, 3, 4, 7)] + [{"zone": "b", "bucket": 4}]
    runs = episodes(rows, key=lambda row: str(row["zone"]))
    assert [[row["bucket"] for row in run] for run in runs] == [[3, 4, 5], [7], [4]]


@pytest.mark.parametrize(
    ("zone", "kind", "registrable"),
    [
        ("www.example.co.uk", "subdomain", "example.co.uk"),
        ("example.co.uk", "registrable domain", "example.co.uk"),
        ("co.uk", "public suffix", ""),
        ("com", "public suffix", ""),
    ],
)
def test_zone_kinds_follow_the_public_suffix_list(zone: str, kind: str, registrable: str) -> None:
    assert (zone_kind(zone).kind, zone_kind(zone).registrable) == (kind, registrable)
