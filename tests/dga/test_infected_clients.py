"""The DGA traffic detector on hand-made traffic, with a stand-in scorer so the logic is tested alone."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import date

import numpy as np
import pytest

from dnsvigil.dga.infected_clients import (
    DGA_DOMAIN,
    INFECTED_CLIENT,
    DetectorSettings,
    NameVerdicts,
    detect_dga_activity,
)
from dnsvigil.findings import Severity
from tests.traffic.message_table import TableRunner, at, message_table, query, response

BOT = "192.0.2.66"
USER = "192.0.2.10"


def marker_scorer(names: Sequence[str]) -> NameVerdicts:
    """Scores names starting with 'qx' as DGA of family 'fam'; names starting with 'wd' look ordinary
    (score 0.1) but like family 'words'; every other name is ordinary, of no known family."""
    registrable = [".".join(name.rstrip(".").split(".")[-2:]) for name in names]
    is_dga = np.array([name.startswith("qx") for name in names])
    score = np.where(is_dga, 0.9, 0.1)
    family = [
        "fam" if name.startswith("qx") else "words" if name.startswith("wd") else "unknown" for name in names
    ]
    return NameVerdicts(registrable, score, is_dga, family)


def exchange(
    client: str, name: str, seconds: float, *, rcode: int, answers: int = 0
) -> list[dict[str, object]]:
    return [
        query(src_addr=client, qname=name, ts=at(seconds)),
        response(dst_addr=client, qname=name, ts=at(seconds + 0.01), rcode=rcode, ancount=answers),
    ]


def traffic(bot_names: int, *, live: int = 1) -> TableRunner:
    rows = []
    for index in range(bot_names):
        answered = index < live
        rows += exchange(
            BOT, f"qx{index:03d}abc.com", 60 * index, rcode=0 if answered else 3, answers=int(answered)
        )
    for index in range(30):
        rows += exchange(USER, f"site{index}.example", 30 * index, rcode=0, answers=1)
    rows += exchange(USER, "qxtypo.net", 5, rcode=3)  # one DGA-looking miss does not make a user infected
    return TableRunner(message_table(rows))


def test_bot_is_flagged_and_its_live_controller_found() -> None:
    findings = detect_dga_activity(traffic(12), marker_scorer, DetectorSettings(min_dga_names=8))
    infected = [finding for finding in findings if finding.code == INFECTED_CLIENT.code]
    live = [finding for finding in findings if finding.code == DGA_DOMAIN.code]
    assert [finding.subject for finding in infected] == [BOT]
    evidence = infected[0].evidence
    assert evidence["dga_domains"] == 12 and evidence["family"] == "fam"
    assert evidence["nxdomain_share"] == pytest.approx(11 / 12, abs=1e-4)
    assert len(evidence["examples"]) == 10
    assert infected[0].last_seen > infected[0].first_seen
    assert [finding.subject for finding in live] == ["qx000abc.com"]
    assert live[0].evidence["client_examples"] == [BOT]
    assert live[0].evidence["infected_clients"] == [BOT] and live[0].severity is Severity.HIGH
    json.dumps(dict(evidence))  # evidence is plain JSON


def test_thresholds_are_respected() -> None:
    assert not detect_dga_activity(traffic(7, live=0), marker_scorer, DetectorSettings(min_dga_names=8))
    # Mostly resolving names are not the NXDOMAIN pattern of a searching bot.
    resolving = detect_dga_activity(traffic(12, live=9), marker_scorer, DetectorSettings(min_dga_names=8))
    assert not [finding for finding in resolving if finding.code == INFECTED_CLIENT.code]
    live = [finding for finding in resolving if finding.code == DGA_DOMAIN.code]
    assert len(live) == 9
    # Asked for by no infected client: maybe a benign name that looks generated, so low severity.
    assert all(
        finding.severity is Severity.LOW and not finding.evidence["infected_clients"] for finding in live
    )
    flagged = detect_dga_activity(traffic(12, live=1), marker_scorer, DetectorSettings(min_dga_names=8))
    assert max(f.confidence for f in live) < max(f.confidence for f in flagged if f.code == DGA_DOMAIN.code)


def test_day_window_and_empty_input() -> None:
    runner = traffic(12)
    assert detect_dga_activity(runner, marker_scorer, DetectorSettings(), days=[date(2024, 5, 2)]) == []
    assert detect_dga_activity(runner, marker_scorer, DetectorSettings(), days=[date(2024, 5, 1)])
    empty = TableRunner(message_table([]))
    assert detect_dga_activity(empty, marker_scorer, DetectorSettings()) == []


def test_resolver_addresses_limit_the_clients() -> None:
    runner = traffic(12)
    other = ["203.0.113.53"]
    assert detect_dga_activity(runner, marker_scorer, DetectorSettings(), resolver_addrs=other) == []
    ours = detect_dga_activity(runner, marker_scorer, DetectorSettings(), resolver_addrs=["198.51.100.53"])
    assert [finding.subject for finding in ours if finding.code == INFECTED_CLIENT.code] == [BOT]


def test_a_client_whose_misses_one_family_explains_is_flagged_by_family() -> None:
    rows = []
    for index in range(10):  # a wordlist bot: nothing DGA-scored, every miss like family "words"
        rows += exchange("192.0.2.70", f"wd{index}word.net", 60 * index, rcode=3)
    for index in range(10):  # a user: as many misses, but only half of them like "words"
        rows += exchange(USER, f"{'wd' if index % 2 else 'ty'}{index}po.net", 60 * index, rcode=3)
    runner = TableRunner(message_table(rows))
    findings = detect_dga_activity(runner, marker_scorer, DetectorSettings(min_dga_names=8))
    assert [finding.subject for finding in findings] == ["192.0.2.70"]
    evidence = findings[0].evidence
    assert evidence["basis"] == "family" and evidence["family"] == "words" and evidence["dga_domains"] == 10
    assert findings[0].confidence <= 0.8
    lenient = DetectorSettings(min_dga_names=5, min_family_share=0.5)
    subjects = {finding.subject for finding in detect_dga_activity(runner, marker_scorer, lenient)}
    assert subjects == {"192.0.2.70", USER}


def test_a_client_missing_names_that_share_one_stem_is_flagged() -> None:
    rows = []
    for index in range(10):  # a permutation bot: a seed name's start varied, the rest kept
        rows += exchange("192.0.2.71", f"{index:02d}zz{'earnestnessbio'}.com", 60 * index, rcode=3)
        if index % 3 == 2:  # each round ends at its controller, which answers
            rows += exchange("192.0.2.71", "qqqqearnestnessbio.com", 60 * index + 1, rcode=0, answers=1)
    # The same kind of name, answered, but looked up far from the bot's rounds: an ordinary site.
    rows += exchange("192.0.2.71", "ppppearnestnessbio.com", 5000, rcode=0, answers=1)
    rows += exchange("192.0.2.71", "ppppearnestnessbio.com", 6000, rcode=0, answers=1)
    for index in range(10):  # a user missing as many long names that share no ending
        rows += exchange(USER, f"longtypo{index}name{'x' * index}.com", 60 * index, rcode=3)
    findings = detect_dga_activity(TableRunner(message_table(rows)), marker_scorer, DetectorSettings())
    assert [(finding.code, finding.subject) for finding in findings] == [
        (INFECTED_CLIENT.code, "192.0.2.71"),
        (DGA_DOMAIN.code, "qqqqearnestnessbio.com"),
    ]
    assert findings[0].evidence["basis"] == "shared-stem" and findings[0].evidence["dga_domains"] == 11
    assert findings[1].severity is Severity.HIGH and findings[1].confidence == findings[0].confidence
