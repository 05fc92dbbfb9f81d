"""Registration-abuse findings in words: the same sentence on the command line and in the report."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from dnsvigil.abuse.describe import finding_evidence, finding_subject, labelled
from dnsvigil.abuse.disproportion import DISPROPORTIONATE
from dnsvigil.abuse.flocking import REGISTRAR_SHIFT
from dnsvigil.findings import Finding, Severity, SubjectType

MONTH = datetime(2026, 3, 1, tzinfo=UTC)


def _finding(code: str, subject: str, evidence: dict[str, Any]) -> Finding:
    return Finding(
        code=code,
        subject_type=SubjectType.REGISTRAR,
        subject=subject,
        severity=Severity.HIGH,
        confidence=0.9,
        first_seen=MONTH,
        last_seen=MONTH,
        detector="test",
        evidence={"month": "2026-03", "p_value": 0.000123, **evidence},
    )


def test_a_disproportionate_registrar_is_told_with_its_counts_shares_ratio_and_p_value() -> None:
    finding = _finding(
        DISPROPORTIONATE.code,
        "1068",
        {"registrar_name": "NameCheap", "malicious": 4, "malicious_total": 1005, "malicious_share": 0.8,
         "managed_share": 0.004975, "ratio": 160.8},
    )  # fmt: skip
    assert finding_subject(finding) == "NameCheap (1068)"
    assert finding_evidence(finding, {}) == (
        "4 of 1,005 malicious registrations (80.0%) against 0.5% of domains under management: "
        "160.8 times its share; p = 0.00012"
    )


def test_a_flock_says_where_the_registrations_went_naming_registrars_it_knows() -> None:
    falling = _finding(
        REGISTRAR_SHIFT.code,
        "146",
        {"entity_name": "GoDaddy", "direction": "fall", "previous_share": 0.5, "previous_month": "2026-02",
         "share": 0.1, "went_to": [{"registrar": "1068", "share": 0.7}, {"registrar": "9999", "share": 0.2}]},
    )  # fmt: skip
    assert finding_subject(falling) == "GoDaddy (146)"
    assert finding_evidence(falling, {"1068": "NameCheap"}) == (
        "fell from 50.0% in 2026-02 to 10.0% of malicious registrations; p = 0.00012; "
        "went to NameCheap (1068) (70.0%), 9999 (20.0%)"
    )
    rising = _finding(
        REGISTRAR_SHIFT.code,
        "1068",
        {"entity_name": "", "direction": "rise", "previous_share": 0.01, "previous_month": "2026-02",
         "share": 0.3, "came_from": []},
    )  # fmt: skip
    assert finding_subject(rising) == "1068"
    assert finding_evidence(rising, {}).startswith("rose from 1.0% in 2026-02 to 30.0%")
    assert finding_evidence(rising, {}).endswith("p = 0.00012")


def test_an_entity_is_labelled_with_its_name_only_when_the_name_says_more() -> None:
    assert labelled("example", "example") == "example"
    assert labelled("146", None) == "146"
    assert labelled("146", "GoDaddy") == "GoDaddy (146)"
