"""`dnsvigil traffic rssac002` and `dnsvigil demo`: the published files, end to end through the command."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
import yaml

from dnsvigil.demo.attacks import attack_truth
from dnsvigil.demo.run import DEMO_DAY
from dnsvigil.demo.world import DemoWorld, demo_truth
from tests.cli.runner import dnsvigil
from tests.demo.attack_judge import Reported, missed, unexplained
from tests.traffic.test_rssac002 import golden_values

HEADER = ("version", "service", "start-period", "metric")
METRICS = ("traffic-volume", "traffic-sizes", "rcode-volume", "unique-sources")


@pytest.fixture(scope="module")
def dns_home(pcaps_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    home = tmp_path_factory.mktemp("home")
    run = dnsvigil("ingest", "pcap", pcaps_dir / "dnscap__dns.pcap", "--home", home, "--quiet")
    assert run.exit_code == 0, run.stderr
    return home


def published(out: Path) -> dict[str, dict[str, object]]:
    """Metric name -> its document's own keys (header removed), keys as text, from every file under `out`."""
    documents = {}
    for path in sorted(out.rglob("*.yaml")):
        text = path.read_text(encoding="utf-8")
        assert text.startswith("---\n")
        [document] = yaml.safe_load_all(text)
        assert tuple(document)[:4] == HEADER and document["version"] == "rssac002v5"
        documents[document["metric"]] = {
            str(key): {str(k): v for k, v in value.items()} if isinstance(value, dict) else value
            for key, value in document.items()
            if key not in HEADER
        }
    return documents


def test_rssac002_equals_dnscap_golden_output(dns_home: Path, pcaps_dir: Path, tmp_path: Path) -> None:
    run = dnsvigil(
        "traffic", "rssac002", "--service", "test1", "--out", tmp_path, "--home", dns_home, "--json"
    )
    assert run.exit_code == 0, run.stderr
    files = json.loads(run.stdout)["files"]
    assert sorted(Path(file).relative_to(tmp_path).as_posix() for file in files) == sorted(
        f"2016/10/{metric}/test1-20161020-{metric}.yaml" for metric in METRICS
    )
    assert published(tmp_path) == golden_values(pcaps_dir / "dnscap__rssm_test1.gold.yaml")


def test_server_address_selects_the_service(dns_home: Path, tmp_path: Path) -> None:
    common = ("traffic", "rssac002", "--service", "test1", "--home", dns_home, "--date", "2016-10-20")
    everything = dnsvigil(*common, "--out", tmp_path / "all")
    google = dnsvigil(*common, "--out", tmp_path / "google", "--server-addr", "8.8.8.8")
    other = dnsvigil(*common, "--out", tmp_path / "other", "--server-addr", "192.0.2.53")
    assert everything.exit_code == google.exit_code == other.exit_code == 0
    assert published(tmp_path / "google") == published(tmp_path / "all")
    volume = published(tmp_path / "other")["traffic-volume"]
    assert set(volume.values()) == {0}


def test_day_without_data_is_an_error_and_writes_nothing(dns_home: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    run = dnsvigil(
        "traffic", "rssac002", "--service", "x", "--date", "2016-10-21", "--out", out, "--home", dns_home
    )
    assert run.exit_code == 1 and run.stderr.startswith("error: ") and "2016-10-21" in run.stderr
    assert not out.exists()


@pytest.mark.parametrize(
    ("arguments", "words"),
    [
        (("--date", "2016-13-01"), "YYYY-MM-DD"),
        (("--server-addr", "not-an-address"), "not-an-address"),
    ],
)
def test_bad_options_are_usage_errors(
    dns_home: Path, tmp_path: Path, arguments: tuple[str, ...], words: str
) -> None:
    run = dnsvigil("traffic", "rssac002", "--service", "x", "--out", tmp_path, "--home", dns_home, *arguments)
    assert run.exit_code == 2 and words in run.stderr and "Traceback" not in run.stderr


def test_demo_end_to_end(tmp_path: Path) -> None:
    out = tmp_path / "demo"
    run = dnsvigil("demo", "--seed", "3", "--out", out, "--json")
    assert run.exit_code == 0, run.stderr
    result = json.loads(run.stdout)
    report = Path(result["report"])
    html = report.read_text(encoding="utf-8")
    assert "<svg" in html or "Plotly" in html
    fetched = r"""<(script|link|img|iframe)\b[^>]*\b(src|href)=["']?(https?:)?//"""
    assert not re.search(fetched, html), "the report must open with no network"
    documents = published(out / "rssac002")
    assert set(documents) == set(METRICS)
    volume = documents["traffic-volume"]
    queries = sum(int(value) for key, value in volume.items() if "queries" in key)  # type: ignore[call-overload]
    assert queries > 10_000
    home = Path(result["warehouse"])
    count = dnsvigil("query", "SELECT count(*) AS n FROM dns_messages", "--format", "json", "--home", home)
    assert json.loads(count.stdout) == [{"n": result["messages"]}]
    world = DemoWorld(seed=3, day=DEMO_DAY)
    episodes = attack_truth(world).episodes
    attacks = [Reported.from_json(record) for record in result["attack_findings"]]
    assert missed(attacks, episodes) == []  # every planted attack found, on its subject, in its windows
    bots = [client.address for client in demo_truth(world).infected_clients]
    assert unexplained(attacks, episodes, home, bots) == []  # and nothing in the ordinary traffic

    again = dnsvigil("demo", "--seed", "3", "--out", tmp_path / "again", "--json")
    assert again.exit_code == 0, again.stderr
    assert published(tmp_path / "again" / "rssac002") == documents  # same seed, same world, same metrics
