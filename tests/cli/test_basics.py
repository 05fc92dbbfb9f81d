"""The command line's contract: help everywhere, exit statuses, one-line errors."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.cli.runner import dnsvigil

COMMANDS = [
    [],
    ["ingest"],
    ["ingest", "pcap"],
    ["ingest", "dnstap"],
    ["query"],
    ["traffic"],
    ["traffic", "rssac002"],
    ["demo"],
    ["info"],
    ["compact"],
]


@pytest.mark.parametrize("command", COMMANDS, ids=lambda command: " ".join(command) or "dnsvigil")
def test_every_command_has_help(command: list[str]) -> None:
    run = dnsvigil(*command, "--help")
    assert run.exit_code == 0, run.stderr
    assert "Usage" in run.stdout
    assert "--help" in run.stdout


def test_usage_error_exits_2() -> None:
    run = dnsvigil("query", "SELECT 1", "--format", "yaml")
    assert run.exit_code == 2
    run = dnsvigil("no-such-command")
    assert run.exit_code == 2


def test_query_on_missing_warehouse_is_one_line_error(tmp_path: Path) -> None:
    run = dnsvigil("query", "SELECT 1", "--home", tmp_path / "nowhere")
    assert run.exit_code == 1
    lines = run.stderr.strip().splitlines()
    assert len(lines) == 1
    assert lines[0].startswith("error:") and "no dnsvigil warehouse" in lines[0]
    assert "Traceback" not in run.stderr


def test_writes_are_refused_by_query(tmp_path: Path) -> None:
    dnsvigil("info", "--home", tmp_path)
    home = tmp_path / "w"
    from dnsvigil.store.warehouse import Warehouse

    Warehouse.open(home, create=True)
    run = dnsvigil("query", "DROP VIEW dns_messages", "--home", home)
    assert run.exit_code == 1
    assert "only SELECT" in run.stderr


def test_home_from_environment_and_json_info(tmp_path: Path) -> None:
    from dnsvigil.store.warehouse import Warehouse

    Warehouse.open(tmp_path, create=True)
    run = dnsvigil("info", "--json", env={"DNSVIGIL_HOME": str(tmp_path)})
    assert run.exit_code == 0, run.stderr
    report = json.loads(run.stdout)
    assert report["home"] == str(tmp_path)
    assert report["tables"]["dns_messages"]["rows"] == 0


def test_query_formats(tmp_path: Path) -> None:
    from dnsvigil.store.warehouse import Warehouse

    Warehouse.open(tmp_path, create=True)
    sql = "SELECT 1 AS one, 'a,b' AS text"
    assert json.loads(dnsvigil("query", sql, "--format", "json", "--home", tmp_path).stdout) == [
        {"one": 1, "text": "a,b"}
    ]
    assert dnsvigil("query", sql, "--format", "csv", "--home", tmp_path).stdout == 'one,text\n1,"a,b"\n'
    assert "a,b" in dnsvigil("query", sql, "--home", tmp_path).stdout
