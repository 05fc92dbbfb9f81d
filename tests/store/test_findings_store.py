"""Findings in the warehouse: idempotent runs, and the latest row of a finding wins."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

from dnsvigil.findings import Finding, FindingCode, Severity, SubjectType, register_code
from dnsvigil.store.engine import DuckDBEngine
from dnsvigil.store.findings_store import store_findings
from dnsvigil.store.warehouse import Warehouse

CODE = register_code(FindingCode("TEST.STORED", "A stored test finding", "Used by the findings store tests."))
T0 = datetime(2026, 11, 2, 23, 0, tzinfo=UTC)


def finding(subject: str, last_seen: datetime, count: int) -> Finding:
    return Finding(
        code=CODE.code,
        subject_type=SubjectType.CLIENT,
        subject=subject,
        severity=Severity.HIGH,
        confidence=0.9,
        first_seen=T0,
        last_seen=last_seen,
        detector="test",
        evidence={"count": count},
    )


def rows(home: Path) -> list[dict[str, object]]:
    engine = DuckDBEngine(Warehouse.open(home))
    try:
        table = engine.arrow("SELECT subject, evidence, last_seen FROM findings ORDER BY subject")
    finally:
        engine.close()
    return table.to_pylist()


def test_same_run_twice_stores_once_and_grown_runs_update(home: Path) -> None:
    warehouse = Warehouse.open(home, create=True)
    first = [finding("192.0.2.7", T0 + timedelta(minutes=5), 3), finding("192.0.2.9", T0, 1)]
    assert store_findings(warehouse, first, run="test") == 2
    assert store_findings(warehouse, first, run="test") == 0
    assert [json.loads(str(row["evidence"]))["count"] for row in rows(home)] == [3, 1]

    # The next day's data extends the first client's activity: its finding is updated, not duplicated.
    grown = [finding("192.0.2.7", T0 + timedelta(hours=2), 40), finding("192.0.2.9", T0, 1)]
    assert store_findings(warehouse, grown, run="test") == 2
    latest = rows(home)
    assert [row["subject"] for row in latest] == ["192.0.2.7", "192.0.2.9"]
    assert json.loads(str(latest[0]["evidence"]))["count"] == 40
    assert store_findings(warehouse, [], run="test") == 0
