"""The traffic detector with the shipped model on real names: bots of real families are found, and
clients whose misses are real benign names are not.

The shipped model was trained on these files, so this checks the detector and the model together, not
how the model generalises (benchmarks/DGA.md measures that on held-out names and families; the demo's
generated families are names it never saw).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from dnsvigil.dga.detect import model_scorer
from dnsvigil.dga.infected_clients import INFECTED_CLIENT, DetectorSettings, detect_dga_activity
from dnsvigil.dga.model import load_model
from dnsvigil.findings import Finding
from tests.dga.test_infected_clients import exchange
from tests.traffic.message_table import TableRunner, message_table

SETTINGS = DetectorSettings(min_dga_names=8, min_nxdomain_share=0.5, min_family_share=0.8)
BENIGN_CLIENTS = 300


@pytest.fixture(scope="module")
def names(shared_data: Path) -> dict[str, list[str]]:
    """Real DGA names of three families and real benign names, from the reference data."""
    by_family: dict[str, list[str]] = {"suppobox": [], "bamital": [], "ramnit": []}
    for line in (shared_data / "dga" / "dga_domains.csv").read_text(encoding="utf-8").splitlines()[1:]:
        domain, family = line.rsplit(",", 1)
        if family in by_family:
            by_family[family].append(domain)
    umbrella = (shared_data / "benign" / "umbrella_top100k_firstseen.tsv").read_text(encoding="utf-8")
    by_family["benign"] = [line.split("\t")[0] for line in umbrella.splitlines()[1:]]
    return by_family


def infected(names: dict[str, list[str]], seed: int) -> list[Finding]:
    """Traffic of one bot per family (20 distinct names each, all NXDOMAIN) among benign clients, each of
    which misses 8 to 15 benign names: typos and dead domains look like that, and many more than usual."""
    rng = np.random.default_rng(seed)
    rows: list[dict[str, object]] = []
    for number, family in enumerate(("suppobox", "bamital", "ramnit")):
        for index, name in enumerate(rng.choice(names[family], 20, replace=False)):
            rows += exchange(f"192.0.2.{number + 1}", str(name), 60 * index, rcode=3)
    for client in range(BENIGN_CLIENTS):
        misses = rng.choice(names["benign"], int(rng.integers(8, 16)), replace=False)
        for index, name in enumerate(misses):
            rows += exchange(f"10.0.{client // 250}.{client % 250}", str(name), 30 * index, rcode=3)
    scorer = model_scorer(load_model())
    findings = detect_dga_activity(TableRunner(message_table(rows)), scorer, SETTINGS)
    return [finding for finding in findings if finding.code == INFECTED_CLIENT.code]


def test_bots_of_real_families_are_found_by_scores_or_by_family(names: dict[str, list[str]]) -> None:
    found = {finding.subject: finding for finding in infected(names, seed=1)}
    bots = {"192.0.2.1": "suppobox", "192.0.2.2": "bamital", "192.0.2.3": "ramnit"}
    assert set(bots) <= set(found)
    for address, family in bots.items():
        assert found[address].evidence["family"] == family
    assert found["192.0.2.2"].evidence["basis"] == "dga-scores"


def test_clients_missing_many_benign_names_are_rarely_called_infected(names: dict[str, list[str]]) -> None:
    false_alarms = [
        finding.subject
        for seed in (2, 3)
        for finding in infected(names, seed)
        if not finding.subject.startswith("192.0.2.")
    ]
    assert len(false_alarms) <= 0.005 * 2 * BENIGN_CLIENTS, false_alarms
