"""The malicious-vs-compromised classifier: its features, its labels, its fallback rule, and its use."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, date, datetime

import numpy as np
import numpy.typing as npt
import pytest

from dnsvigil.abuse.classifier import _FEATURE_SQL, FEATURES, UNRANKED, classify_listed_domains
from dnsvigil.abuse.flocking import ShiftSettings, find_flocking
from dnsvigil.abuse.sources import Window
from tests.abuse.tables import AbuseRunner, listing, popular, registrar, registration, utc

NOW = datetime(2024, 3, 1, tzinfo=UTC)


def world(*, labelled: bool) -> AbuseRunner:
    """30 young phishing domains registered in batches of similar names, 30 old hacked sites with deep
    WordPress paths; with `labelled`, DBL-style labels on two thirds of each."""
    listings, registrations = [], []
    for index in range(30):
        name = f"paypa1-verify-{index}.top"
        label = (False if index % 3 else None) if labelled else None
        listings.append(
            listing(
                name,
                url=f"http://{name}/signin",
                first_seen=utc(2024, 1, 2 + index // 5),
                abused_legitimate=label,
            )
        )
        registrations.append(
            registration(name, 1068, created=utc(2024, 1, 1 + index // 5), nameservers=["ns1.evil.example"])
        )
        site = f"family-bakery-{index}.com"
        url = f"http://{site}/wp-content/uploads/2021/03/pay.php"
        label = (True if index % 3 else None) if labelled else None
        listings.append(listing(site, url=url, threat="malware", abused_legitimate=label))
        registrations.append(
            registration(site, 146, created=utc(2015, 6, 1 + index % 28), nameservers=[f"ns.{site}"])
        )
    return AbuseRunner(
        listings=listings,
        registrations=registrations,
        registrars=[registrar(1068, "Cheap"), registrar(146, "Big")],
    )


def rows_by_domain(runner: AbuseRunner, scorer: object = None) -> dict[str, dict[str, object]]:
    verdicts = classify_listed_domains(runner, scorer, computed_at=NOW)  # type: ignore[arg-type]
    return {row["domain"]: row for row in verdicts.table.to_pylist()}


def test_learns_from_labels_and_decides_the_rest() -> None:
    verdicts = classify_listed_domains(world(labelled=True), None, computed_at=NOW)
    assert verdicts.basis == "model" and verdicts.labelled == 40 and verdicts.labelled_malicious == 20
    assert verdicts.precision == 1.0 and verdicts.recall == 1.0  # the two kinds are far apart here
    rows = {row["domain"]: row for row in verdicts.table.to_pylist()}
    assert len(rows) == 60
    assert rows["paypa1-verify-0.top"]["basis"] == "model" and rows["paypa1-verify-0.top"]["malicious"]
    assert rows["family-bakery-0.com"]["basis"] == "model" and not rows["family-bakery-0.com"]["malicious"]
    assert (
        rows["paypa1-verify-1.top"]["basis"] == "label"
        and rows["paypa1-verify-1.top"]["malicious_probability"] == 1.0
    )
    assert rows["family-bakery-1.com"]["basis"] == "label" and not rows["family-bakery-1.com"]["malicious"]


def test_features_seen_by_the_model() -> None:
    rows = rows_by_domain(world(labelled=False))
    young, old = rows["paypa1-verify-7.top"], rows["family-bakery-7.com"]
    assert young["age_days"] == pytest.approx(1.0)  # registered Jan 2, first seen Jan 3
    assert young["similar_in_batch"] == 4  # five "payp..." names at 1068 on one day, one name server
    assert old["age_days"] > 3000 and old["similar_in_batch"] == 0


def popularity_ranks(popularity: list[dict[str, object]]) -> dict[str, object]:
    base = world(labelled=False)
    runner = AbuseRunner(
        listings=base.connection.sql("SELECT * FROM abuse_listings").to_arrow_table().to_pylist(),
        popularity=popularity,
    )
    rows = runner.arrow(_FEATURE_SQL.format(unranked=UNRANKED)).to_pylist()
    return {str(row["domain"]): row["popularity_rank"] for row in rows}


def test_popularity_is_the_best_rank_before_the_listing() -> None:
    # Hacked sites are first seen on 2024-01-10 (the listing's day); the phishing ones from 2024-01-02.
    ranks = popularity_ranks(
        [
            popular("family-bakery-1.com", 900, date(2024, 1, 3)),
            popular("family-bakery-1.com", 40_000, date(2024, 1, 9)),
            popular("family-bakery-2.com", 12, date(2024, 1, 20)),  # only after it was listed
            popular(
                "paypa1-verify-0.top", 5_000, date(2024, 1, 8)
            ),  # its victims' traffic, after the listing
        ]
    )
    assert ranks["family-bakery-1.com"] == 900
    assert ranks["family-bakery-2.com"] == UNRANKED  # lists existed by then and it was in none
    assert ranks["paypa1-verify-0.top"] is None  # listed on Jan 2, before the first list: unknown
    assert ranks["paypa1-verify-29.top"] == UNRANKED  # listed Jan 7, after the Jan 3 list


def test_without_any_list_popularity_is_unknown_to_the_model() -> None:
    assert set(popularity_ranks([]).values()) == {None}


def test_popularity_decides_between_look_alike_listings() -> None:
    """Equal in every other feature, the domains ranked before their listing are the compromised ones."""
    listings, popularity = [], []
    for index in range(40):
        hacked = index % 2 == 0
        name = f"site-{index}.com"
        label = None if index >= 30 else hacked  # DBL: "abused legitimate" when hacked
        listings.append(listing(name, url=f"http://{name}/a/b", abused_legitimate=label))
        if hacked:
            popularity.append(popular(name, 1_000 + index, date(2024, 1, 1)))
    popularity.append(popular("unrelated.com", 1, date(2024, 1, 1)))
    runner = AbuseRunner(listings=listings, popularity=popularity)
    verdicts = classify_listed_domains(runner, None, computed_at=NOW)
    decided = {row["domain"]: row for row in verdicts.table.to_pylist() if row["basis"] == "model"}
    assert len(decided) == 10
    assert all(
        row["malicious"] == (int(name.split("-")[1].split(".")[0]) % 2 == 1) for name, row in decided.items()
    )
    assert "log_rank" in FEATURES


def test_without_both_kinds_of_label_the_age_rule_decides() -> None:
    verdicts = classify_listed_domains(world(labelled=False), None, computed_at=NOW)
    assert (verdicts.basis, verdicts.precision, verdicts.recall) == ("rule", None, None)
    rows = {row["domain"]: row for row in verdicts.table.to_pylist()}
    assert all(row["malicious"] == row["domain"].endswith(".top") for row in rows.values())
    assert {row["basis"] for row in rows.values()} == {"rule"}


def test_the_dga_scorer_is_asked_about_every_listed_domain() -> None:
    asked: list[str] = []

    def scorer(names: Sequence[str]) -> npt.NDArray[np.float64]:
        asked.extend(names)
        return np.zeros(len(names))

    classify_listed_domains(world(labelled=True), scorer, computed_at=NOW)
    assert len(asked) == 60 and "dga_score" in FEATURES


def test_a_domain_called_compromised_is_not_a_malicious_registration() -> None:
    runner = world(labelled=False)
    window = Window.from_text("2024-01")
    before = find_flocking(runner, window, ShiftSettings()).shares.to_pylist()
    assert {(row["entity"], row["malicious"]) for row in before if row["entity_type"] == "registrar"} == {
        ("1068", 30)
    }
    verdict = {"domain": "paypa1-verify-0.top", "computed_at": NOW, "malicious": False, "basis": "model"}
    verdicts = [verdict | {"malicious_probability": 0.1, "age_days": 1.0, "similar_in_batch": 4}]
    runner = AbuseRunner(
        listings=runner.connection.sql("SELECT * FROM abuse_listings").to_arrow_table().to_pylist(),
        registrations=runner.connection.sql("SELECT * FROM registrations").to_arrow_table().to_pylist(),
        verdicts=verdicts,
    )
    after = find_flocking(runner, window, ShiftSettings()).shares.to_pylist()
    assert {(row["entity"], row["malicious"]) for row in after if row["entity_type"] == "registrar"} == {
        ("1068", 29)
    }
