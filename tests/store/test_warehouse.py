"""The warehouse commits atomically, once per source, and survives concurrent writers."""

from __future__ import annotations

import json
import multiprocessing
from pathlib import Path

import pyarrow as pa
import pytest

from dnsvigil.errors import SchemaVersionError, WarehouseError
from dnsvigil.store.schema import FINDINGS
from dnsvigil.store.warehouse import Warehouse


def _findings_rows(count: int, start: int = 0) -> pa.Table:
    moment = pa.scalar(1_700_000_000_000_000_000, pa.timestamp("ns", tz="UTC"))
    return pa.table(
        {
            "finding_id": [f"id{start + index}" for index in range(count)],
            "code": ["TEST.CODE"] * count,
            "subject_type": ["domain"] * count,
            "subject": [f"example{start + index}.test" for index in range(count)],
            "severity": ["low"] * count,
            "confidence": [0.5] * count,
            "first_seen": pa.array([moment.value] * count, pa.timestamp("ns", tz="UTC")),
            "last_seen": pa.array([moment.value] * count, pa.timestamp("ns", tz="UTC")),
            "detector": ["test"] * count,
            "evidence": ["{}"] * count,
            "references": [[]] * count,
            "tlp": ["amber"] * count,
            "message": ["m"] * count,
        },
        schema=FINDINGS.schema,
    )


def test_open_missing_warehouse_is_a_clear_error(home: Path) -> None:
    with pytest.raises(WarehouseError, match="no dnsvigil warehouse"):
        Warehouse.open(home)


def test_rows_are_invisible_until_committed_and_committed_once(home: Path) -> None:
    warehouse = Warehouse.open(home, create=True)
    with warehouse.begin("findings") as write:
        write.write(_findings_rows(3), "2023-11-14")
        assert warehouse.files("findings") == []
        assert write.commit("source-a", "test") is True
    files = warehouse.files("findings")
    assert [stored.rows for stored in files] == [3]
    assert (home / files[0].path).is_file()
    with warehouse.begin("findings") as write:
        write.write(_findings_rows(3), "2023-11-14")
        assert write.commit("source-a", "test") is False
    assert sum(stored.rows for stored in warehouse.files("findings")) == 3
    assert not list((home / "staging").glob("*/*"))


def test_failed_write_leaves_nothing(home: Path) -> None:
    warehouse = Warehouse.open(home, create=True)
    with pytest.raises(RuntimeError), warehouse.begin("findings") as write:
        write.write(_findings_rows(2), "2023-11-14")
        raise RuntimeError("reader died")
    assert warehouse.files("findings") == []
    assert not list(home.rglob("*.parquet"))


def test_rows_of_another_schema_are_refused(home: Path) -> None:
    warehouse = Warehouse.open(home, create=True)
    with warehouse.begin("findings") as write, pytest.raises(WarehouseError, match="schema"):
        write.write(pa.table({"x": [1]}), "2023-11-14")


def test_orphans_of_a_crashed_commit_are_removed_at_the_next_commit(home: Path) -> None:
    warehouse = Warehouse.open(home, create=True)
    orphan = home / "tables" / "findings" / "day=2023-11-14" / "crashed.parquet"
    orphan.parent.mkdir(parents=True)
    orphan.write_bytes(b"half")
    marker = home / "staging" / ".commit-4194304"  # a commit by a process long gone (above pid_max)
    marker.parent.mkdir(parents=True, exist_ok=True)
    marker.touch()
    with warehouse.begin("findings") as write:
        write.write(_findings_rows(1), "2023-11-14")
        write.commit("source-b", "test")
    assert not orphan.exists() and not marker.exists()
    assert [path.name for path in (home / "staging").iterdir()] == []  # this commit left no marker


def test_without_a_crashed_commit_the_tables_are_not_searched(home: Path) -> None:
    warehouse = Warehouse.open(home, create=True)
    stray = home / "tables" / "findings" / "day=2023-11-14" / "not-ours.parquet"
    stray.parent.mkdir(parents=True)
    stray.write_bytes(b"x")
    with warehouse.begin("findings") as write:
        write.write(_findings_rows(1), "2023-11-14")
        write.commit("source-c", "test")
    assert stray.exists()  # no marker of a dead commit: nothing to clean, nothing scanned


def test_a_newer_schema_version_is_refused(home: Path) -> None:
    Warehouse.open(home, create=True)
    catalog_path = home / "catalog.json"
    catalog = json.loads(catalog_path.read_text())
    catalog["tables"]["findings"]["version"] = 99
    catalog_path.write_text(json.dumps(catalog))
    with pytest.raises(SchemaVersionError, match="version 99"):
        Warehouse.open(home)


def _commit_many(home: str, worker: int) -> None:
    warehouse = Warehouse.open(Path(home), create=True)
    for round_number in range(5):
        with warehouse.begin("findings") as write:
            write.write(_findings_rows(10, start=worker * 100 + round_number * 10), "2023-11-14")
            write.commit(f"worker{worker}-round{round_number}", "test")


def test_concurrent_writers_lose_nothing(home: Path) -> None:
    context = multiprocessing.get_context("spawn")
    workers = [context.Process(target=_commit_many, args=(str(home), worker)) for worker in range(3)]
    for process in workers:
        process.start()
    for process in workers:
        process.join(timeout=120)
        assert process.exitcode == 0
    files = Warehouse.open(home).files("findings")
    assert sum(stored.rows for stored in files) == 150
    assert len({stored.source_id for stored in files}) == 15
    assert all((home / stored.path).is_file() for stored in files)
