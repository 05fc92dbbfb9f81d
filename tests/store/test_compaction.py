"""Compaction: the same rows in fewer files, sources untouched, idempotent, and safe against crashes and
open readers."""

from __future__ import annotations

import json
from collections import Counter
from datetime import datetime, timedelta
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from dnsvigil.errors import UsageError, WarehouseError
from dnsvigil.ingest.pipeline import ingest_files
from dnsvigil.store import catalog as catalog_module
from dnsvigil.store import warehouse as warehouse_module
from dnsvigil.store.compaction import Merge, plan_merges
from dnsvigil.store.engine import DuckDBEngine
from dnsvigil.store.schema import TABLES, ZONE_DOMAINS
from dnsvigil.store.warehouse import StoredFile, Warehouse
from tests.ingest import pcap_builder as b
from tests.store.test_warehouse import _findings_rows

AT_ONCE = timedelta(0)
CLIENT, SERVER = "192.0.2.1", "198.51.100.53"
DAY_NS = 86_400 * b.NS
T0 = 1_700_006_400 * b.NS  # 2023-11-15 00:00 UTC


def _capture(folder: Path, name: str, start_ns: int, exchanges: int) -> Path:
    """A pcap of `exchanges` queries and their responses, a second apart from `start_ns`."""
    records = []
    for ident in range(exchanges):
        query = b.ipv4(CLIENT, SERVER, b.udp(40000, 53, b.dns_message(ident, f"q{ident}.{name}.example")))
        answer = b.ipv4(SERVER, CLIENT, b.udp(53, 40000, b.dns_message(ident, "a.example", response=True)))
        at = start_ns + ident * b.NS
        records += [b.Record(b.ethernet(query), at), b.Record(b.ethernet(answer), at + 1000)]
    path = folder / f"{name}.pcap"
    path.write_bytes(b.pcap_file(records, nanosecond=True))
    return path


def _zone_rows(day: str, domains: list[str]) -> pa.Table:
    return pa.Table.from_pylist(
        [
            {"day": datetime.fromisoformat(day).date(), "tld": "test", "domain": domain, "source_file": "z"}
            for domain in domains
        ],
        schema=ZONE_DOMAINS.schema,
    )


def _filled(home: Path, tmp_path: Path) -> tuple[Warehouse, list[Path]]:
    """A warehouse of many small files: captures committed latest first, findings on two days (one of
    them updated by a later run), zone snapshots of one day from several sources."""
    warehouse = Warehouse.open(home, create=True)
    captures = [
        _capture(tmp_path, f"hour{hour}", T0 + hour * 3600 * b.NS, 20 + hour) for hour in (5, 3, 1, 4)
    ]
    ingest_files(warehouse, captures, kind="pcap")
    for run in range(4):
        with warehouse.begin("findings") as write:
            rows = _findings_rows(3, start=run * 3)
            write.write(rows, "2023-11-14")
            write.commit(f"findings-run{run}", "test")
    updated = _findings_rows(1, start=0).to_pylist()
    updated[0]["last_seen"] = datetime.fromisoformat("2023-11-16T00:00:00+00:00")
    updated[0]["message"] = "seen again"
    with warehouse.begin("findings") as write:
        write.write(pa.Table.from_pylist(updated, schema=TABLES["findings"].schema), "2023-11-14")
        write.write(_findings_rows(2, start=100), "2023-11-15")
        write.commit("findings-update", "test")
    for part in range(3):
        with warehouse.begin("zone_domains") as write:
            write.write(_zone_rows("2023-11-15", [f"z{part}-{n}.test" for n in (3, 1, 2)]), "2023-11-15")
            write.commit(f"zone-part{part}", "test")
    return warehouse, captures


def _rows(warehouse: Warehouse, table: str) -> Counter[str]:
    """Every stored row of `table`, as a multiset."""
    files = [warehouse.home / stored.path for stored in warehouse.files(table)]
    if not files:
        return Counter()
    rows = pq.read_table(files, schema=TABLES[table].schema).to_pylist()
    return Counter(json.dumps(row, sort_keys=True, default=str) for row in rows)


def _everything(warehouse: Warehouse) -> dict[str, Counter[str]]:
    return {table: _rows(warehouse, table) for table in TABLES}


def _views(warehouse: Warehouse) -> dict[str, list[str]]:
    """What the engine's views show, in a fixed order."""
    engine = DuckDBEngine(warehouse)
    try:
        return {
            table: sorted(map(str, engine.arrow(f"SELECT * FROM {table}").to_pylist())) for table in TABLES
        }
    finally:
        engine.close()


def test_compaction_keeps_every_row_in_one_file_per_day(home: Path, tmp_path: Path) -> None:
    warehouse, _ = _filled(home, tmp_path)
    rows, views = _everything(warehouse), _views(warehouse)
    before = {table: len(warehouse.files(table)) for table in TABLES}
    assert (before["dns_messages"], before["findings"], before["zone_domains"]) == (4, 6, 3)
    results = {result.table: result for result in warehouse.compact(keep_replaced=AT_ONCE)}
    assert _everything(warehouse) == rows
    assert _views(warehouse) == views
    after = {table: warehouse.files(table) for table in TABLES}
    assert {table: len(files) for table, files in after.items() if files} == {
        "dns_messages": 1,
        "findings": 2,
        "zone_domains": 1,
    }
    assert all(
        (results[table].files_before, results[table].files_after) == (before[table], len(after[table]))
        for table in TABLES
    )
    assert results["dns_messages"].rows == sum(rows["dns_messages"].values()) == 2 * (25 + 23 + 21 + 24)
    (messages,) = after["dns_messages"]
    times = pq.read_table(home / messages.path).column("ts").to_pylist()
    assert times == sorted(times) and messages.source_id.startswith("compaction:")
    zone = str(home / after["zone_domains"][0].path)
    domains = pq.read_table(zone).column("domain").to_pylist()
    assert domains == sorted(domains)
    probe = "SELECT bool_and(bloom_filter_excludes) FROM parquet_bloom_probe('{}', 'domain', '{}')"
    skipped = [duckdb.sql(probe.format(zone, domain)).fetchall() for domain in ("z1-2.test", "no.test")]
    assert skipped == [[(False,)], [(True,)]]  # a lookup of an absent domain skips the file
    on_disk = {str(path.relative_to(home)) for path in (home / "tables").rglob("*.parquet")}
    assert on_disk == {stored.path for files in after.values() for stored in files}


def test_sources_stay_so_ingesting_them_again_stores_nothing(home: Path, tmp_path: Path) -> None:
    warehouse, captures = _filled(home, tmp_path)
    sources = {table: warehouse.sources(table) for table in TABLES}
    warehouse.compact(keep_replaced=AT_ONCE)
    assert {table: warehouse.sources(table) for table in TABLES} == sources
    again = ingest_files(warehouse, captures, kind="pcap")
    assert [file.status for file in again.files] == ["already-ingested"] * len(captures)
    with warehouse.begin("findings") as write:
        write.write(_findings_rows(3), "2023-11-14")
        assert write.commit("findings-run0", "test") is False
    assert len(warehouse.files("dns_messages")) == 1
    assert sum(_rows(warehouse, "findings").values()) == 15


def test_a_second_compaction_changes_nothing(home: Path, tmp_path: Path) -> None:
    warehouse, _ = _filled(home, tmp_path)
    warehouse.compact(keep_replaced=AT_ONCE)
    catalog = _catalog_bytes(home)
    results = warehouse.compact(keep_replaced=AT_ONCE)
    assert all(result.files_before == result.files_after for result in results)
    assert _catalog_bytes(home) == catalog


def test_one_table_alone_and_an_unknown_table(home: Path, tmp_path: Path) -> None:
    warehouse, _ = _filled(home, tmp_path)
    (result,) = warehouse.compact("zone_domains", keep_replaced=AT_ONCE)
    assert (result.table, result.files_before, result.files_after) == ("zone_domains", 3, 1)
    assert len(warehouse.files("findings")) == 6
    with pytest.raises(UsageError, match="no table 'zones'"):
        warehouse.compact("zones")


def _stored(name: str, day: str, rows: int) -> StoredFile:
    return StoredFile(table="findings", path=name, day=day, rows=rows, source_id=name)


def test_merges_respect_the_row_cap_and_days() -> None:
    files = [
        _stored("a", "d1", 3),
        _stored("b", "d1", 3),
        _stored("c", "d1", 3),
        _stored("full", "d1", 6),
        _stored("d", "d1", 2),
        _stored("e", "d2", 1),
        _stored("f", "d2", 1),
        _stored("g", "d3", 5),
    ]
    merges = plan_merges(files, rows_per_file=6)
    assert merges == [Merge("d1", ("a", "b"), 6), Merge("d1", ("c", "d"), 5), Merge("d2", ("e", "f"), 2)]
    merged = [
        _stored("ab", "d1", 6),
        _stored("cd", "d1", 5),
        _stored("full", "d1", 6),
        _stored("ef", "d2", 2),
    ]
    assert plan_merges([*merged, _stored("g", "d3", 5)], rows_per_file=6) == []


def test_a_crash_before_the_swap_leaves_the_warehouse_as_it_was(
    home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    warehouse, _ = _filled(home, tmp_path)
    rows, views = _everything(warehouse), _views(warehouse)
    catalog = _catalog_bytes(home)

    def crash(path: Path, document: object) -> None:
        raise OSError(28, "No space left on device")

    with monkeypatch.context() as patch:
        patch.setattr(catalog_module, "write_json_atomically", crash)
        with pytest.raises(WarehouseError, match="cannot compact table dns_messages"):
            warehouse.compact(keep_replaced=AT_ONCE)
    assert _catalog_bytes(home) == catalog
    assert _everything(warehouse) == rows and _views(warehouse) == views
    listed = {stored.path for table in TABLES for stored in warehouse.files(table)}
    orphans = {str(path.relative_to(home)) for path in (home / "tables").rglob("*.parquet")} - listed
    assert len(orphans) == 1  # the merged file renamed into place, never listed
    with warehouse.begin("findings") as write:  # the next commit cleans up after the crash
        write.write(_findings_rows(1, start=500), "2023-11-14")
        write.commit("after-the-crash", "test")
    assert not any((home / path).exists() for path in orphans)
    assert not list((home / "staging").iterdir())
    warehouse.compact(keep_replaced=AT_ONCE)
    assert len(warehouse.files("dns_messages")) == 1
    assert _rows(warehouse, "dns_messages") == rows["dns_messages"]


def test_a_failure_while_staging_changes_nothing(
    home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    warehouse, _ = _filled(home, tmp_path)
    catalog = _catalog_bytes(home)
    files = sorted(path for path in (home / "tables").rglob("*.parquet"))

    def broken(*args: object) -> None:
        raise OSError(5, "Input/output error")

    monkeypatch.setattr(warehouse_module, "write_merged", broken)
    with pytest.raises(WarehouseError, match="left as it was"):
        warehouse.compact(keep_replaced=AT_ONCE)
    assert _catalog_bytes(home) == catalog
    assert sorted(path for path in (home / "tables").rglob("*.parquet")) == files
    assert not list((home / "staging").iterdir())


class _Later(datetime):
    """`datetime` two hours on: when replaced files are due for deletion."""

    @classmethod
    def now(cls, tz: object = None) -> _Later:  # type: ignore[override]
        moment = datetime.now(tz) + timedelta(hours=2)  # type: ignore[arg-type]
        return cls.fromtimestamp(moment.timestamp(), moment.tzinfo)


def test_readers_open_before_the_swap_read_on_until_the_files_expire(
    home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    warehouse, _ = _filled(home, tmp_path)
    old = [stored.path for stored in warehouse.files("dns_messages")]
    reader = DuckDBEngine(warehouse)
    count = "SELECT count(*) AS n FROM dns_messages"
    expected = reader.arrow(count).to_pylist()
    warehouse.compact()
    assert reader.arrow(count).to_pylist() == expected  # its views still list the replaced files
    assert all((home / path).exists() for path in old)
    with warehouse.begin("findings") as write:  # a commit within the hour keeps them
        write.write(_findings_rows(1, start=600), "2023-11-14")
        write.commit("within-the-hour", "test")
    assert all((home / path).exists() for path in old)
    reader.close()
    monkeypatch.setattr(warehouse_module, "datetime", _Later)
    with warehouse.begin("findings") as write:
        write.write(_findings_rows(1, start=700), "2023-11-14")
        write.commit("hours-later", "test")
    assert not any((home / path).exists() for path in old)
    assert Warehouse.open(home)._read_catalog()["tables"]["dns_messages"]["retired"] == []
    engine = DuckDBEngine(warehouse)
    assert engine.arrow(count).to_pylist() == expected
    engine.close()


def _catalog_bytes(home: Path) -> list[bytes]:
    """The catalog as stored: its checkpoint and its log entries, in order."""
    log = sorted((home / "catalog.log").glob("*.json")) if (home / "catalog.log").is_dir() else []
    return [(home / "catalog.json").read_bytes(), *(entry.read_bytes() for entry in log)]
