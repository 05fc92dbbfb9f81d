"""`dnsvigil dga detect` and the demo's DGA findings, against the truth of the generated world."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from dnsvigil.demo.resolver import RESOLVER
from dnsvigil.demo.run import DEMO_DAY
from dnsvigil.demo.world import DemoTruth, DemoWorld, demo_truth
from tests.cli.runner import dnsvigil

SEED = 3
RESOLVER_ARGS = ("--resolver-addr", RESOLVER.ipv4, "--resolver-addr", RESOLVER.ipv6)
# How the detector recognises each generation scheme of the demo: arithmetic and hash names by their
# scores; the wordlist family (whose names pass one by one) by the family the model sees in them; the
# permutation family, which neither scores nor resembles its training names, by the stem its names share.
BASIS = {"arithmetic": "dga-scores", "hash": "dga-scores", "wordlist": "family", "permutation": "shared-stem"}


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    out = tmp_path_factory.mktemp("demo")
    run = dnsvigil("demo", "--seed", str(SEED), "--out", out, "--json")
    assert run.exit_code == 0, run.stderr
    result: dict[str, Any] = json.loads(run.stdout)
    return result


@pytest.fixture(scope="module")
def truth() -> DemoTruth:
    return demo_truth(DemoWorld(seed=SEED, day=DEMO_DAY))


def stored_findings(home: str) -> list[dict[str, Any]]:
    run = dnsvigil(
        "query",
        "SELECT code, subject, evidence FROM findings ORDER BY ALL",
        "--format",
        "json",
        "--home",
        home,
    )
    assert run.exit_code == 0, run.stderr
    rows: list[dict[str, Any]] = json.loads(run.stdout)
    return rows


def test_demo_finds_every_infected_client_and_no_others(demo: dict[str, Any], truth: DemoTruth) -> None:
    infected = {client.address: client for client in truth.infected_clients}
    found = set(demo["infected_clients"])
    assert found <= set(infected), f"clients flagged that run no DGA: {found - set(infected)}"
    assert found == set(infected)
    findings = {row["subject"]: json.loads(row["evidence"]) for row in stored_findings(demo["warehouse"])}
    for address in found:
        evidence = findings[address]
        assert evidence["basis"] == BASIS[infected[address].scheme]
        assert evidence["family"] in (
            infected[address].family,
            "unknown" if evidence["basis"] == "shared-stem" else "",
        )
        assert set(evidence["examples"]) <= set(infected[address].names)
        # Most of the bot's names count; a group may also take in a few of its user's own typos.
        assert 0.8 <= evidence["dga_domains"] / len(infected[address].names) <= 1.1
    controllers = {name for client in truth.infected_clients for name in client.controllers}
    assert set(demo["controllers"]) == controllers
    assert set(demo["controllers"]) <= set(demo["dga_domains"])
    html = Path(demo["report"]).read_text(encoding="utf-8")
    assert all(address in html for address in found)


def test_detect_stores_nothing_twice_and_applies_its_thresholds(demo: dict[str, Any]) -> None:
    home = demo["warehouse"]
    again = dnsvigil(
        "dga", "detect", *RESOLVER_ARGS, "--date", DEMO_DAY.isoformat(), "--home", home, "--json"
    )
    assert again.exit_code == 0, again.stderr
    result = json.loads(again.stdout)
    assert result["stored"] == 0
    infected = sorted(row["subject"] for row in result["findings"] if row["code"] == "DGA.INFECTED_CLIENT")
    assert infected == sorted(demo["infected_clients"])
    strict = dnsvigil("dga", "detect", *RESOLVER_ARGS, "--min-names", "100000", "--home", home, "--json")
    assert strict.exit_code == 0, strict.stderr
    assert not [row for row in json.loads(strict.stdout)["findings"] if row["code"] == "DGA.INFECTED_CLIENT"]
    other_day = dnsvigil("dga", "detect", "--date", "2020-01-01", "--home", home, "--json")
    assert json.loads(other_day.stdout) == {"findings": [], "stored": 0}


@pytest.mark.parametrize(
    ("args", "exit_code", "message"),
    [
        (("--min-nxdomain-share", "2"), 2, "must be within 0..1"),
        (("--min-names", "many"), 2, "must be an integer"),
        (("--date", "yesterday"), 2, "--date must be YYYY-MM-DD"),
        (("--model", "no-such-model.npz"), 1, "no-such-model.npz"),
    ],
)
def test_detect_bad_options_fail_clearly(
    demo: dict[str, Any], args: tuple[str, ...], exit_code: int, message: str
) -> None:
    run = dnsvigil("dga", "detect", *args, "--home", demo["warehouse"])
    assert run.exit_code == exit_code
    assert message in run.stderr and "Traceback" not in run.stderr


def test_detect_without_a_warehouse_fails_clearly(tmp_path: Path) -> None:
    run = dnsvigil("dga", "detect", "--home", tmp_path / "empty")
    assert run.exit_code == 1
    assert str(tmp_path / "empty") in run.stderr and "Traceback" not in run.stderr
