"""`dnsvigil compact`: what it tells, in text and JSON, and what it refuses."""

from __future__ import annotations

import json
from pathlib import Path

from dnsvigil.store.schema import TABLES
from dnsvigil.store.warehouse import Warehouse
from tests.cli.runner import dnsvigil
from tests.store.test_warehouse import _findings_rows


def _warehouse(home: Path) -> Warehouse:
    """Five findings commits on one day and one on another: six files, two after compaction."""
    warehouse = Warehouse.open(home, create=True)
    for run in range(5):
        with warehouse.begin("findings") as write:
            write.write(_findings_rows(2, start=run * 2), "2023-11-14")
            write.commit(f"run{run}", "test")
    with warehouse.begin("findings") as write:
        write.write(_findings_rows(3, start=100), "2023-11-15")
        write.commit("other-day", "test")
    return warehouse


def test_compact_reports_files_before_and_after(home: Path) -> None:
    warehouse = _warehouse(home)
    run = dnsvigil("compact", "--home", home)
    assert run.exit_code == 0, run.stderr
    assert run.stdout.splitlines()[0].startswith("6 files compacted into 2 in ")
    (line,) = [line.split() for line in run.stdout.splitlines() if line.split()[:1] == ["findings"]]
    assert line == ["findings", "6", "2", "13"]
    assert len(warehouse.files("findings")) == 2
    assert "compacting findings" in run.stderr  # progress, one line per table off a terminal


def test_compact_json_and_one_table(home: Path) -> None:
    _warehouse(home)
    run = dnsvigil("compact", "--table", "findings", "--json", "--home", home)
    assert run.exit_code == 0, run.stderr
    report = json.loads(run.stdout)
    assert report["home"] == str(home)
    assert report["tables"] == {"findings": {"files_before": 6, "files_after": 2, "rows": 13}}
    assert run.stderr == ""
    again = json.loads(dnsvigil("compact", "--json", "--home", home).stdout)
    assert set(again["tables"]) == set(TABLES)
    assert again["tables"]["findings"] == {"files_before": 2, "files_after": 2, "rows": 13}


def test_compact_refuses_an_unknown_table_and_a_missing_warehouse(home: Path, tmp_path: Path) -> None:
    _warehouse(home)
    run = dnsvigil("compact", "--table", "finding", "--home", home)
    assert run.exit_code == 2
    assert run.stderr.startswith("error: no table 'finding'") and "findings" in run.stderr
    missing = dnsvigil("compact", "--home", tmp_path / "nowhere")
    assert missing.exit_code == 1 and "no dnsvigil warehouse" in missing.stderr
    assert not (tmp_path / "nowhere").exists()


def test_help_says_when_to_run_it_and_that_readers_are_safe() -> None:
    run = dnsvigil("compact", "--help")
    assert run.exit_code == 0
    text = " ".join(run.stdout.split())
    for phrase in ("Merge each table's small files", "Run it after", "safe to run while", "--table"):
        assert phrase in text
