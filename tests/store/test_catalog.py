"""The catalog as a checkpoint and a log: commits append, checkpoints fold, every reader sees every commit."""

from __future__ import annotations

import itertools
import json
from datetime import timedelta
from pathlib import Path

import pytest

from dnsvigil.errors import WarehouseError
from dnsvigil.store import catalog as catalog_module
from dnsvigil.store.warehouse import Warehouse
from tests.store.test_warehouse import _findings_rows


def _commit(warehouse: Warehouse, number: int) -> None:
    with warehouse.begin("findings") as write:
        write.write(_findings_rows(1, start=number), "2023-11-14")
        assert write.commit(f"source-{number}", "test")


def _entries(home: Path) -> list[str]:
    return sorted(path.name for path in (home / "catalog.log").glob("*.json"))


def _sources(warehouse: Warehouse) -> list[str]:
    return [source.source_id for source in warehouse.sources("findings")]


def test_commits_append_entries_and_a_checkpoint_folds_them(
    home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(catalog_module, "CHECKPOINT_ENTRIES", 4)
    writer = Warehouse.open(home, create=True)
    reader = Warehouse.open(home)  # another process, as far as the catalog goes: its own view
    checkpoint = (home / "catalog.json").read_bytes()
    for number in range(3):
        _commit(writer, number)
        assert (home / "catalog.json").read_bytes() == checkpoint  # a commit writes its entry only
        assert _sources(reader) == [f"source-{index}" for index in range(number + 1)]
    assert _entries(home) == ["000000000000.json", "000000000001.json", "000000000002.json"]
    _commit(writer, 3)  # the fourth entry: folded into a new checkpoint, the log emptied
    assert _entries(home) == []
    assert json.loads((home / "catalog.json").read_text())["log_from"] == 4
    for number in range(4, 7):
        _commit(writer, number)
    assert _entries(home) == ["000000000004.json", "000000000005.json", "000000000006.json"]
    expected = [f"source-{index}" for index in range(7)]
    assert _sources(reader) == _sources(writer) == _sources(Warehouse.open(home)) == expected
    assert [stored.rows for stored in Warehouse.open(home).files("findings")] == [1] * 7


def test_a_reader_behind_a_checkpoint_reads_it_and_what_follows(
    home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(catalog_module, "CHECKPOINT_ENTRIES", 3)
    writer = Warehouse.open(home, create=True)
    reader = Warehouse.open(home)
    _commit(writer, 0)
    assert _sources(reader) == ["source-0"]
    for number in range(1, 5):  # a checkpoint at the third, whose entries the reader never saw
        _commit(writer, number)
    assert _sources(reader) == [f"source-{index}" for index in range(5)]
    assert reader.generation() == writer.generation()
    before = reader.generation()
    _commit(writer, 5)
    assert reader.generation() != before


def test_an_entry_the_checkpoint_holds_is_not_applied_twice(
    home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(catalog_module, "CHECKPOINT_ENTRIES", 2)
    writer = Warehouse.open(home, create=True)
    _commit(writer, 0)
    kept = (home / "catalog.log" / "000000000000.json").read_bytes()
    _commit(writer, 1)  # the checkpoint holds both
    # A writer that died between writing the checkpoint and deleting the entries it holds left one behind,
    # and one that died writing an entry left its temporary file.
    (home / "catalog.log" / "000000000000.json").write_bytes(kept)
    (home / "catalog.log" / ".000000000002.json.0123.tmp").write_text('{"table": "fi')
    assert _sources(Warehouse.open(home)) == ["source-0", "source-1"]
    _commit(writer, 2)
    _commit(writer, 3)  # the next checkpoint clears them
    assert not list((home / "catalog.log").iterdir())
    assert _sources(Warehouse.open(home)) == [f"source-{index}" for index in range(4)]


def test_a_catalog_of_the_first_format_is_read_and_rewritten_before_the_log_grows(home: Path) -> None:
    Warehouse.open(home, create=True)
    _commit(Warehouse.open(home), 0)
    checkpoint = home / "catalog.json"
    first = json.loads(checkpoint.read_text())  # as the first format wrote it: everything, and no log
    log = home / "catalog.log"
    for entry in log.glob("*.json"):
        first = catalog_module.apply_change(first, json.loads(entry.read_text()))
        entry.unlink()
    first.pop("log_from")
    checkpoint.write_text(json.dumps({**first, "format": 1}))
    warehouse = Warehouse.open(home)
    assert _sources(warehouse) == ["source-0"]
    _commit(warehouse, 1)
    assert json.loads(checkpoint.read_text())["format"] == 2  # rewritten before the entry was appended
    assert _sources(Warehouse.open(home)) == ["source-0", "source-1"]


def test_a_broken_entry_is_a_clear_error(home: Path) -> None:
    writer = Warehouse.open(home, create=True)
    _commit(writer, 0)
    (home / "catalog.log" / "000000000001.json").write_text('{"table": "find')
    with pytest.raises(WarehouseError, match="cannot read the catalog"):
        Warehouse.open(home).files("findings")


def test_listed_files_follow_appends_and_compactions(home: Path) -> None:
    writer = Warehouse.open(home, create=True)
    for number in range(5):
        _commit(writer, number)
        assert writer.files("findings") == Warehouse.open(home).files("findings")  # extended as it grew
    writer.compact(keep_replaced=timedelta(0))
    merged = writer.files("findings")
    assert merged == Warehouse.open(home).files("findings") and len(merged) == 1
    _commit(writer, 5)
    assert writer.listing()["findings"] == [*merged, Warehouse.open(home).files("findings")[-1]]


def test_listed_files_follow_a_compaction_the_reader_did_not_see(home: Path) -> None:
    writer, reader = Warehouse.open(home, create=True), Warehouse.open(home, create=True)
    for number in range(3):
        _commit(writer, number)
    assert len(reader.files("findings")) == 3
    writer.compact(keep_replaced=timedelta(0))  # 3 files -> 1, then 3 more: as many as the reader knew, and 1
    for number in range(3, 6):
        _commit(writer, number)
    assert reader.files("findings") == writer.files("findings") == Warehouse.open(home).files("findings")
    assert len(reader.files("findings")) == 4


def test_checkpoints_come_less_often_as_the_catalog_grows(
    home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(catalog_module, "CHECKPOINT_ENTRIES", 2)
    monkeypatch.setattr(catalog_module, "FILES_PER_ENTRY_BETWEEN_CHECKPOINTS", 4)
    writer = Warehouse.open(home, create=True)
    checkpoints = []
    for number in range(40):
        _commit(writer, number)
        if not _entries(home):
            checkpoints.append(number + 1)  # files listed after the commit that folded the log
    # Two entries between checkpoints at first, then one for every four files listed.
    gaps = [later - earlier for earlier, later in itertools.pairwise(checkpoints)]
    assert gaps[0] == 2 and gaps[-1] > 4 and gaps == sorted(gaps)
    assert _sources(Warehouse.open(home)) == [f"source-{index}" for index in range(40)]


def test_a_checkpoint_that_cannot_be_written_leaves_the_commit_standing(
    home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(catalog_module, "CHECKPOINT_ENTRIES", 2)
    writer = Warehouse.open(home, create=True)
    _commit(writer, 0)
    checkpoint = (home / "catalog.json").read_bytes()
    written = catalog_module.write_json_atomically

    def no_space(descriptor: int) -> None:
        raise OSError(28, "No space left on device")

    def full_for_the_checkpoint(path: Path, document: dict[str, object]) -> None:
        with monkeypatch.context() as patch:
            if path.name == "catalog.json":
                patch.setattr(catalog_module.os, "fsync", no_space)  # its temporary file is half written
            written(path, document)

    monkeypatch.setattr(catalog_module, "write_json_atomically", full_for_the_checkpoint)
    _commit(writer, 1)  # its checkpoint is due and fails: the commit stands
    assert (home / "catalog.json").read_bytes() == checkpoint
    assert _sources(Warehouse.open(home)) == ["source-0", "source-1"]
    monkeypatch.setattr(catalog_module, "write_json_atomically", written)
    _commit(writer, 2)  # the next commit folds the log
    assert _entries(home) == []
    assert _sources(Warehouse.open(home)) == ["source-0", "source-1", "source-2"]
    assert not list(home.glob(".catalog.json.*.tmp"))


def test_a_long_catalog_is_encoded_in_short_pieces_that_make_the_same_json() -> None:
    files = [
        {"path": f"tables/findings/day=2023-11-14/{number}.parquet", "rows": number}
        for number in range(5_001)
    ]
    document = {
        "format": 2,
        "log_from": 7,
        "tables": {
            "findings": {
                "version": 3,
                "files": files,
                "sources": {f"s{n}": {"origin": "é\u2028"} for n in range(4_000)},
            },
            "empty": {"version": 1, "files": [], "sources": {}, "retired": [{"path": "x"}]},
        },
    }
    pieces = list(catalog_module.json_pieces(document))
    whole = json.dumps(document, separators=(",", ":"))
    assert "".join(pieces) == whole
    # Cut between items: no piece holds more than one piece's worth of the 9,000 records.
    assert max(len(piece) for piece in pieces) < len(whole) / 3
    assert json.loads("".join(catalog_module.json_pieces({1: [2] * 3_000, "k": []}))) == {
        "1": [2] * 3_000,
        "k": [],
    }
