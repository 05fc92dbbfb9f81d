"""Findings validate when built, have stable identities, and become rows of the findings table."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pyarrow as pa
import pytest

from dnsvigil.errors import DnsvigilError
from dnsvigil.findings import Finding, FindingCode, Severity, SubjectType, find_code, register_code
from dnsvigil.store.schema import FINDINGS

CODE = register_code(FindingCode("TEST.EXAMPLE", "Example finding", "Used by the tests only.", ("RFC 1035",)))
NOW = datetime(2024, 1, 1, tzinfo=UTC)


def _finding(**changes: object) -> Finding:
    values: dict[str, object] = {
        "code": "TEST.EXAMPLE",
        "subject_type": SubjectType.DOMAIN,
        "subject": "example.test",
        "severity": Severity.HIGH,
        "confidence": 0.9,
        "first_seen": NOW,
        "last_seen": NOW + timedelta(minutes=5),
        "detector": "unit",
        "evidence": {"queries": 12, "names": ["a.example.test"]},
    }
    values.update(changes)
    return Finding(**values)  # type: ignore[arg-type]


def test_a_finding_becomes_a_row_of_the_findings_schema() -> None:
    record = _finding().to_record()
    table = pa.Table.from_pylist([record], schema=FINDINGS.schema)
    assert table.column("severity").to_pylist() == ["high"]
    assert table.column("references").to_pylist() == [["RFC 1035"]]
    assert '"queries": 12' in table.column("evidence")[0].as_py()


def test_identity_is_stable_and_depends_on_what_was_found() -> None:
    assert _finding().finding_id == _finding(confidence=0.5).finding_id
    assert _finding().finding_id != _finding(subject="other.test").finding_id


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"code": "NO.SUCH"}, "unknown finding code"),
        ({"confidence": 1.5}, "confidence"),
        ({"subject": ""}, "subject"),
        ({"first_seen": datetime(2024, 1, 1)}, "timezone"),
        ({"last_seen": NOW - timedelta(seconds=1)}, "before"),
    ],
)
def test_invalid_findings_are_refused(changes: dict[str, object], message: str) -> None:
    with pytest.raises((ValueError, DnsvigilError), match=message):
        _finding(**changes)


def test_evidence_is_frozen_plain_data() -> None:
    finding = _finding(evidence={"when": NOW})
    assert finding.evidence["when"] == NOW.isoformat()
    with pytest.raises(TypeError):
        finding.evidence["x"] = 1  # type: ignore[index]
    assert find_code("TEST.EXAMPLE") is CODE
