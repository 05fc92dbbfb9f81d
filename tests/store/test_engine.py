"""The DuckDB engine shows committed tables and refuses SQL that writes."""

from __future__ import annotations

from pathlib import Path

import pytest

from dnsvigil.errors import QueryError
from dnsvigil.store.engine import DuckDBEngine
from dnsvigil.store.warehouse import Warehouse
from tests.store.test_warehouse import _findings_rows


def test_empty_tables_have_the_canonical_columns(home: Path) -> None:
    engine = DuckDBEngine(Warehouse.open(home, create=True))
    result = engine.read_only_query("SELECT * FROM dns_messages")
    assert result.num_rows == 0
    assert {"ts", "qname", "rcode", "source_file"} <= set(result.column_names)
    findings = engine.read_only_query("SELECT * FROM findings")
    assert {
        "code",
        "subject_type",
        "subject",
        "severity",
        "confidence",
        "first_seen",
        "last_seen",
        "evidence",
        "detector",
    } <= set(findings.column_names)


def test_committed_rows_are_queryable(home: Path) -> None:
    warehouse = Warehouse.open(home, create=True)
    with warehouse.begin("findings") as write:
        write.write(_findings_rows(4), "2023-11-14")
        write.commit("s", "test")
    engine = DuckDBEngine(warehouse)
    assert engine.read_only_query("SELECT count(*) AS n FROM findings").to_pylist() == [{"n": 4}]


@pytest.mark.parametrize(
    "sql",
    [
        "DROP VIEW findings",
        "CREATE TABLE x AS SELECT 1",
        "COPY (SELECT 1) TO 'out.csv'",
        "SELECT 1; SELECT 2",
        "INSTALL httpfs",
        "ATTACH 'other.db'",
    ],
)
def test_statements_that_write_are_refused(home: Path, sql: str) -> None:
    engine = DuckDBEngine(Warehouse.open(home, create=True))
    with pytest.raises(QueryError):
        engine.read_only_query(sql)


def test_syntax_errors_are_query_errors(home: Path) -> None:
    engine = DuckDBEngine(Warehouse.open(home, create=True))
    with pytest.raises(QueryError, match="parse"):
        engine.read_only_query("SELEC nonsense")
