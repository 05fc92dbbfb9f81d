"""The registration-abuse analyses recover the truth of the demo's registration world.

The world is written as standard files, ingested through the same plans as `dnsvigil ingest ...`, and
analysed; the truth file, which no analysis reads, is then compared with what was found.
"""

from __future__ import annotations

import csv
import json
import statistics
from collections import defaultdict
from pathlib import Path
from typing import Any

import pytest

from dnsvigil.abuse.analyze import AbuseAnalysis, AbuseSettings, analyze_and_store
from dnsvigil.abuse.classifier import shipped_dga_scorer
from dnsvigil.demo.registration_files import write_registration_files
from dnsvigil.demo.registration_world import build_world
from dnsvigil.demo.run import ingest_registration_files
from dnsvigil.ingest.table_ingest import TableIngestSummary
from dnsvigil.store.engine import DuckDBEngine
from dnsvigil.store.warehouse import Warehouse

SEED = 5


class Outcome:
    """What the analyses found, the ingest summaries, and the truth."""

    def __init__(self, out: Path) -> None:
        files = write_registration_files(build_world(SEED), out / "registration")
        self.home = out / "warehouse"
        warehouse = Warehouse.open(self.home, create=True)
        self.ingests: list[TableIngestSummary] = ingest_registration_files(warehouse, files)
        self.analysis: AbuseAnalysis = analyze_and_store(
            warehouse, AbuseSettings.from_settings(), dga_score=shipped_dga_scorer()
        )
        self.truth: dict[str, Any] = json.loads((files.truth / "registration-truth.json").read_text())
        with (files.truth / "domains.csv").open() as handle:
            self.domains = list(csv.DictReader(handle))


@pytest.fixture(scope="module")
def outcome(tmp_path_factory: pytest.TempPathFactory) -> Outcome:
    return Outcome(tmp_path_factory.mktemp("registration-world"))


def test_every_file_reads_cleanly(outcome: Outcome) -> None:
    files = [file for summary in outcome.ingests for file in summary.files]
    assert len(files) > 900  # daily feeds and registrations, weekly zones, monthly reports
    assert all(not file.malformed and not file.skipped for file in files)
    # A feed snapshot with no entry (URLhaus at a month's end, once the month's hacked sites are clean)
    # is the only thing not ingested.
    empty = [file for file in files if file.status != "ingested"]
    assert all(file.status == "nothing-usable" and "no data line" in file.error for file in empty)
    assert len(files) - len(empty) > 850
    assert {summary.table for summary in outcome.ingests} == {
        "zone_domains", "registrations", "registrars", "domains_under_management", "abuse_listings",
        "domain_popularity",
    }  # fmt: skip


def test_planted_shifts_are_found_in_their_month_and_direction_and_no_other(outcome: Outcome) -> None:
    planted = {
        (shift["entity_type"], shift["entity"], shift["month"], shift["direction"])
        for shift in outcome.truth["shifts"]
    }
    found = {
        (
            finding.subject_type.value,
            finding.subject,
            finding.evidence["month"],
            finding.evidence["direction"],
        )
        for finding in outcome.analysis.findings
        if finding.code in ("ABUSE.REGISTRAR_SHIFT", "ABUSE.TLD_SHIFT")
    }
    assert found == planted


def test_where_the_abuse_of_the_cracked_down_registrar_went(outcome: Outcome) -> None:
    (fall,) = [
        f
        for f in outcome.analysis.findings
        if f.code == "ABUSE.REGISTRAR_SHIFT" and f.evidence["direction"] == "fall"
    ]
    rise = next(
        s["entity"]
        for s in outcome.truth["shifts"]
        if s["entity_type"] == "registrar" and s["direction"] == "rise"
    )
    went_to = fall.evidence["went_to"]
    assert went_to[0]["registrar"] == rise  # most of its lost share went to the registrar abusers chose
    assert went_to[0]["share"] > 2 * went_to[1]["share"]
    assert went_to[0]["linked_domains"] > 0  # abusers kept their name servers


def test_rate_intervals_cover_the_true_rates_at_their_level(outcome: Outcome) -> None:
    measured = {
        (row["period_start"].isoformat(), row["entity"]): row
        for row in outcome.analysis.rates.to_pylist()
        if row["period_kind"] == "month" and row["entity_type"] == "registrar"
        and row["denominator"] == "dum" and row["threat"] == "malware"
    }  # fmt: skip
    cells = [
        (measured[truth["month"], truth["registrar"]], truth["rate_per_10k"])
        for truth in outcome.truth["rates"]
    ]
    assert len(cells) == 72  # 12 registrars x 6 months, every one measured
    covered = [row["low_per_10k"] <= true <= row["high_per_10k"] for row, true in cells]
    # The intervals are 95 % ones; with 72 cells, fewer than 90 % covered would be a 1-in-300 event.
    assert sum(covered) / len(covered) >= 0.9
    widths = [row["high_per_10k"] - row["low_per_10k"] for row, _ in cells]
    assert statistics.median(widths) < 2 * statistics.median(true for _, true in cells)  # and not vacuous


def test_median_mitigation_times_are_within_ten_percent_of_the_truth(outcome: Outcome) -> None:
    true_days: dict[str, list[float]] = defaultdict(list)
    for row in outcome.domains:
        if row["true_days"]:
            true_days[row["registrar"]].append(float(row["true_days"]))
    checked = 0
    for summary in outcome.analysis.mitigation:
        if summary.entity_type != "registrar" or summary.listed < 40:
            continue
        truth = statistics.median(true_days[summary.entity])
        assert summary.survival.median_days == pytest.approx(truth, rel=0.10), summary.entity
        checked += 1
    assert checked >= 10


def test_the_world_is_the_same_for_the_same_seed() -> None:
    first, second = build_world(SEED), build_world(SEED)
    assert [(d.name, d.kind, d.mitigated_at) for d in first.domains] == [
        (d.name, d.kind, d.mitigated_at) for d in second.domains
    ]
    assert [d.name for d in build_world(SEED + 1).domains] != [d.name for d in first.domains]


def test_malicious_and_compromised_domains_are_told_apart(outcome: Outcome) -> None:
    kinds = {row["domain"]: row["kind"] for row in outcome.domains}
    verdicts = outcome.analysis.verdicts
    assert verdicts.basis == "model" and verdicts.precision is not None and verdicts.recall is not None
    assert verdicts.precision >= 0.9 and verdicts.recall >= 0.9  # measured on the feeds' labels
    rows = verdicts.table.to_pylist()
    for decided_by in ({"label", "model"}, {"model"}):
        chosen = [row for row in rows if row["basis"] in decided_by]
        truth = [kinds[row["domain"]] == "malicious" for row in chosen]
        said = [row["malicious"] for row in chosen]
        hits = sum(t and s for t, s in zip(truth, said, strict=True))
        f1 = 2 * hits / (sum(truth) + sum(said))
        assert f1 >= 0.9, (decided_by, f1)
    assert sum(row["basis"] == "model" for row in rows) > 300  # the feeds left many undecided


def test_the_top_lists_rank_some_hacked_sites_and_almost_no_malicious_domains(outcome: Outcome) -> None:
    kinds = {row["domain"]: row["kind"] for row in outcome.domains}
    ranked = {
        str(row["domain"])
        for row in DuckDBEngine(Warehouse.open(outcome.home))
        .arrow("SELECT domain FROM domain_popularity")
        .to_pylist()
    }
    listed = defaultdict(list)
    for domain, kind in kinds.items():
        listed[kind].append(domain in ranked)
    assert 0.05 < statistics.mean(listed["compromised"]) < 0.5
    assert statistics.mean(listed["malicious"]) < 0.02
