"""The demo's attack capture: every planted episode is found by the right detector, on the right subject,
inside its windows, and nothing fires in the ordinary windows (nor in the resolver's and TLD server's day).

Each seed's world is small (the attack capture keeps its full rates), ingested like any capture, and run
through the traffic detectors with their default thresholds.
"""

from __future__ import annotations

import datetime
from pathlib import Path

import pytest

from dnsvigil.config import SETTINGS
from dnsvigil.demo.attacks import attack_truth, generate_attacks, write_attack_capture
from dnsvigil.demo.episodes import DEMO_SCHEDULE, AttackKind, AttackSchedule, EpisodePlan
from dnsvigil.demo.world import DemoWorld, demo_truth, write_demo_captures
from dnsvigil.findings import Finding
from dnsvigil.ingest.pipeline import ingest_files
from dnsvigil.store.warehouse import Warehouse
from dnsvigil.traffic.detect import detect_and_store, detectors_from_settings
from dnsvigil.traffic.detection import TimeWindow
from tests.demo.attack_judge import matches, missed, unexplained

DAY = datetime.date(2025, 6, 3)
SEEDS = (1, 2)
QUIET = AttackSchedule(windows=12, background_qps=6.0, episodes=())


def small_world(seed: int) -> DemoWorld:
    return DemoWorld(seed=seed, day=DAY, resolver_queries=20_000, authoritative_queries=20_000, domains=2000)


@pytest.fixture(scope="module", params=SEEDS)
def detected(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> tuple[DemoWorld, Path, list[Finding]]:
    """A small world's three captures ingested, and what the detectors found in them."""
    world = small_world(request.param)
    folder = tmp_path_factory.mktemp(f"attacks{request.param}")
    captures = [
        *write_demo_captures(world, folder / "captures"),
        write_attack_capture(world, folder / "captures"),
    ]
    warehouse = Warehouse.open(folder / "home", create=True)
    ingest_files(warehouse, captures, kind="pcap")
    with pytest.MonkeyPatch.context() as environment:
        for setting in SETTINGS:
            environment.delenv(setting.env, raising=False)
        run = detect_and_store(warehouse, detectors_from_settings(), TimeWindow())
    return world, folder / "home", list(run.findings)


def test_every_episode_is_found_by_its_detector_on_its_subject_in_its_windows(
    detected: tuple[DemoWorld, Path, list[Finding]],
) -> None:
    world, _, findings = detected
    episodes = attack_truth(world).episodes
    assert {episode.kind for episode in episodes} == set(AttackKind)
    assert missed(findings, episodes) == []
    flood = next(episode for episode in episodes if episode.kind is AttackKind.RANDOM_SUBDOMAIN)
    [finding] = [finding for finding in findings if matches(finding, flood)]
    assert finding.evidence["windows"] == 2 and finding.evidence["failure_share"] > 0.9


def test_no_detector_fires_in_ordinary_windows(detected: tuple[DemoWorld, Path, list[Finding]]) -> None:
    world, home, findings = detected
    bots = [client.address for client in demo_truth(world).infected_clients]
    assert unexplained(findings, attack_truth(world).episodes, home, bots) == []


def test_ordinary_traffic_alone_raises_nothing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    for setting in SETTINGS:
        monkeypatch.delenv(setting.env, raising=False)
    world = small_world(5)
    warehouse = Warehouse.open(tmp_path / "home", create=True)
    ingest_files(warehouse, [write_attack_capture(world, tmp_path, QUIET)], kind="pcap")
    run = detect_and_store(warehouse, detectors_from_settings(), TimeWindow())
    assert run.messages > 2 * 6 * 60 * 12 * 0.9 and run.findings == ()
    assert attack_truth(world, QUIET).normal_windows() == list(attack_truth(world, QUIET).windows())


def test_same_world_same_bytes_and_truth() -> None:
    first, again = generate_attacks(small_world(1)), generate_attacks(small_world(1))
    assert first.data == again.data and first.truth == again.truth
    other = generate_attacks(small_world(2))
    assert other.data != first.data
    assert [episode.subject for episode in other.truth.episodes] != [
        episode.subject for episode in first.truth.episodes
    ]


def test_truth_spans_whole_windows() -> None:
    truth = attack_truth(small_world(1))
    assert len(truth.windows()) == DEMO_SCHEDULE.windows
    attacked = {window for episode in truth.episodes for window in episode.windows()}
    assert len(truth.normal_windows()) == DEMO_SCHEDULE.windows - len(attacked)
    for episode in truth.episodes:
        assert truth.start <= episode.start < episode.end <= truth.end
        assert episode.start.second == 0 and episode.end.second == 0
    networks = [episode.subject for episode in truth.episodes if episode.kind is AttackKind.NETWORK_FLOOD]
    assert networks and all(subject.endswith(".0/24") for subject in networks)


def test_capture_counts_match_the_schedule() -> None:
    capture = generate_attacks(small_world(1))
    # Every query is answered over UDP: one response per query, none truncated.
    assert capture.counts.total_queries == capture.counts.total_responses
    assert capture.counts.truncated_responses == 0
    flood = 150 * 60 * 2  # 1.5 times 100 queries a second for two minutes, all NXDOMAIN
    assert flood < capture.counts.rcode_volume[3] < 1.1 * flood


@pytest.mark.parametrize(
    ("changes", "complaint"),
    [
        ({"start_window": 29, "windows": 2}, "runs past"),
        ({"intensity": 0.0}, "intensity"),
        ({"windows": 0}, "lasts a window"),
    ],
)
def test_bad_schedules_are_refused(changes: dict[str, float], complaint: str) -> None:
    fields: dict[str, object] = {
        "kind": AttackKind.QUERY_FLOOD,
        "start_window": 1,
        "windows": 1,
        "intensity": 1.0,
        **changes,
    }
    with pytest.raises(ValueError, match=complaint):
        AttackSchedule(windows=30, background_qps=1.0, episodes=(EpisodePlan(**fields),))  # type: ignore[arg-type]
