"""The DuckDB engine shows committed tables and refuses SQL that writes."""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pyarrow as pa
import pytest

from dnsvigil.errors import QueryError, UsageError
from dnsvigil.store.engine import DuckDBEngine
from dnsvigil.store.schema import TABLES
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


def test_threads_sharing_an_engine_each_get_their_own_answer(home: Path) -> None:
    warehouse = Warehouse.open(home, create=True)
    for day in range(4):
        with warehouse.begin("findings") as write:
            write.write(_findings_rows(10 * (day + 1), start=1000 * (day + 1)), f"2023-11-1{day}")
            write.commit(f"day{day}", "test")
    engine = DuckDBEngine(warehouse)
    sql = "SELECT count(*) AS n, min(finding_id) AS first FROM findings WHERE finding_id LIKE ?"
    prefixes = [f"id{day + 1}%" for day in range(4)] * 16
    with ThreadPoolExecutor(max_workers=8) as pool:
        answers = list(pool.map(lambda prefix: engine.arrow(sql, [prefix]).to_pylist(), prefixes))
    alone = {prefix: engine.arrow(sql, [prefix]).to_pylist() for prefix in set(prefixes)}
    assert answers == [alone[prefix] for prefix in prefixes]
    assert alone["id4%"] == [{"n": 40, "first": "id4000"}]
    engine.close()


def test_every_query_runs_in_utc_whatever_the_machine_zone(
    home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TZ", "America/New_York")
    time.tzset()
    try:
        engine = DuckDBEngine(Warehouse.open(home, create=True))
    finally:
        monkeypatch.undo()
        time.tzset()
    sql = "SELECT strftime(TIMESTAMPTZ '2023-11-14 22:13:20+00', '%H') AS hour"
    assert engine.arrow(sql).to_pylist() == [{"hour": "22"}]
    engine.close()


def test_the_memory_limit_setting_bounds_duckdb(home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    warehouse = Warehouse.open(home, create=True)
    default = DuckDBEngine(warehouse)
    unset = default.arrow("SELECT current_setting('memory_limit') AS limit").column("limit")[0].as_py()
    default.close()
    monkeypatch.setenv("DNSVIGIL_QUERY_MEMORY_LIMIT", "512MB")
    engine = DuckDBEngine(warehouse)
    limit = engine.arrow("SELECT current_setting('memory_limit') AS limit").column("limit")[0].as_py()
    engine.close()
    assert limit != unset
    assert limit.replace(" ", "") in ("488.2MiB", "512.0MB", "512MB")


def test_a_memory_limit_that_is_no_size_is_a_usage_error(home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DNSVIGIL_QUERY_MEMORY_LIMIT", "lots")
    with pytest.raises(UsageError, match="DNSVIGIL_QUERY_MEMORY_LIMIT") as raised:
        DuckDBEngine(Warehouse.open(home, create=True))
    assert "8GB" in (raised.value.hint or "")


def test_an_analyzers_own_tables_are_seen_by_its_statement_only(home: Path) -> None:
    engine = DuckDBEngine(Warehouse.open(home, create=True))
    kept = pa.table({"bucket": [1, 2, 2], "queries": [5, 7, 9]})
    summed = engine.arrow(
        "SELECT bucket, sum(queries) AS queries FROM kept WHERE bucket >= ? GROUP BY bucket",
        [2],
        tables={"kept": kept},
    )
    assert summed.to_pylist() == [{"bucket": 2, "queries": 16}]
    with pytest.raises(QueryError, match="kept"):
        engine.arrow("SELECT * FROM kept")


def test_an_engine_reads_only_the_files_it_is_told_it_wants(home: Path) -> None:
    warehouse = Warehouse.open(home, create=True)
    for source, rows, day in (("old", 4, "2023-11-13"), ("new", 3, "2023-11-14")):
        with warehouse.begin("findings") as write:
            write.write(_findings_rows(rows), day)
            write.commit(source, "test")
    engine = DuckDBEngine(warehouse, wanted=lambda stored: stored.day == "2023-11-14")
    assert engine.arrow("SELECT count(*) AS n FROM findings").to_pylist() == [{"n": 3}]
    none = DuckDBEngine(warehouse, wanted=lambda stored: False)
    assert none.arrow("SELECT count(*) AS n FROM findings").to_pylist() == [{"n": 0}]


def test_an_engine_reads_the_catalog_once(home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    warehouse = Warehouse.open(home, create=True)
    with warehouse.begin("findings") as write:
        write.write(_findings_rows(2), "2023-11-14")
        write.commit("one", "test")
    assert warehouse.listing() == {name: warehouse.files(name) for name in TABLES}
    reads = 0
    read_catalog = Warehouse._read_catalog

    def counted(self: Warehouse) -> dict[str, object]:
        nonlocal reads
        reads += 1
        return read_catalog(self)

    monkeypatch.setattr(Warehouse, "_read_catalog", counted)
    engine = DuckDBEngine(warehouse)
    assert reads == 1  # a watcher's catalog lists a file for every second or so of traffic
    assert engine.arrow("SELECT count(*) AS n FROM findings").to_pylist() == [{"n": 2}]
