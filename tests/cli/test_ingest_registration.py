"""`dnsvigil ingest zone|rdap|registrations|registrars|dum|feed`: rows, idempotency, bad input, usage."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import pytest

from tests.cli.runner import Run, dnsvigil
from tests.ingest import registration_samples as rs
from tests.ingest import zone_samples as zs


def summary_of(run: Run) -> dict[str, object]:
    assert run.exit_code == 0, run.stderr
    result = json.loads(run.stdout)
    assert isinstance(result, dict)
    return result


def query(home: Path, sql: str) -> list[dict[str, object]]:
    run = dnsvigil("query", sql, "--format", "json", "--home", home)
    assert run.exit_code == 0, run.stderr
    rows = json.loads(run.stdout)
    assert isinstance(rows, list)
    return rows


def test_zone_snapshot_is_stored_once_per_tld_and_day(tmp_path: Path) -> None:
    folder = tmp_path / "2024-01-02"
    folder.mkdir()
    plain = folder / "com.txt"
    plain.write_text(zs.CZDS_STYLE)
    packed = tmp_path / "com-20240102.txt.gz"
    packed.write_bytes(gzip.compress(zs.CZDS_STYLE.encode()))
    home = tmp_path / "home"
    first = summary_of(dnsvigil("ingest", "zone", packed, "--json", "--home", home))
    assert first["rows"] == 3 and first["table"] == "zone_domains"
    assert query(home, "SELECT day::VARCHAR AS day, tld, count(*) AS n FROM zone_domains GROUP BY ALL") == [
        {"day": "2024-01-02", "tld": "com", "n": 3}
    ]
    again = summary_of(dnsvigil("ingest", "zone", plain, packed, "--json", "--home", home))
    assert [file["status"] for file in again["files"]] == ["already-ingested"] * 2  # type: ignore[union-attr]
    assert query(home, "SELECT count(*) AS n FROM zone_domains") == [{"n": 3}]


def test_zone_without_a_date_asks_for_day(tmp_path: Path) -> None:
    path = tmp_path / "com.txt"
    path.write_text(zs.CZDS_STYLE)
    run = dnsvigil("ingest", "zone", path, "--home", tmp_path / "home")
    assert run.exit_code == 1 and run.stderr.count("\n") == 1
    assert "com.txt: no date in the file or folder name" in run.stderr and "--day" in run.stderr
    ok = summary_of(
        dnsvigil("ingest", "zone", path, "--day", "2024-01-03", "--json", "--home", tmp_path / "home")
    )
    assert ok["rows"] == 3


@pytest.mark.parametrize(
    ("command", "name", "text", "rows", "malformed"),
    [
        (["rdap"], "rdap-20240106.jsonl", rs.RDAP_LINES, 2, 4),
        (["registrations", "--format", "csv"], "regs-20240106.csv", rs.REGISTRATIONS_CSV, 3, 4),
        (["registrars"], "registrar-ids-20240106.csv", rs.REGISTRAR_IDS, 5, 2),
        (["dum"], "com-transactions-202401-en.csv", rs.TRANSACTIONS, 2, 2),
        (["feed", "--format", "urlhaus"], "urlhaus-20240102.csv", rs.URLHAUS, 2, 3),
        (["feed", "--format", "phishtank"], "phishtank-20240102.csv", rs.PHISHTANK, 2, 1),
        (["feed", "--format", "openphish"], "openphish-20240102.txt", rs.OPENPHISH, 3, 1),
        (["feed", "--format", "dbl"], "dbl-20240102.csv", rs.DBL, 4, 1),
        (["feed", "--format", "generic"], "generic-20240102.csv", rs.GENERIC, 3, 1),
        (["popularity", "--format", "umbrella"], "top-1m-20240102.csv", rs.TOP_LIST, 3, 1),
    ],
)
def test_each_input_once(
    tmp_path: Path, command: list[str], name: str, text: str, rows: int, malformed: int
) -> None:
    path = tmp_path / name
    path.write_text(text)
    home = tmp_path / "home"
    first = summary_of(dnsvigil("ingest", *command, path, "--json", "--home", home))
    assert first["rows"] == rows and first["malformed_total"] == malformed
    assert float(first["rows_per_second"]) > 0  # type: ignore[arg-type]
    table = first["table"]
    assert query(home, f"SELECT count(*) AS n FROM {table}") == [{"n": rows}]
    again = summary_of(dnsvigil("ingest", *command, path, "--json", "--home", home))
    assert again["rows"] == 0 and again["files"][0]["status"] == "already-ingested"  # type: ignore[index]
    assert query(home, f"SELECT count(*) AS n FROM {table}") == [{"n": rows}]


@pytest.mark.parametrize(
    ("command", "content"),
    [
        (["zone", "--tld", "com", "--day", "2024-01-02"], b""),
        (["zone", "--tld", "com", "--day", "2024-01-02"], b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" * 20),
        (["feed", "--format", "dbl"], b"this is not a feed\n"),
        (["feed", "--format", "urlhaus"], rs.PHISHTANK.encode()),
        (["rdap"], gzip.compress(b"not json\n" * 5)),
        (["popularity"], rs.URLHAUS.encode()),
    ],
    ids=[
        "empty-zone",
        "binary-zone",
        "prose-as-dbl",
        "phishtank-as-urlhaus",
        "gzip-of-text-as-rdap",
        "urlhaus-as-top-list",
    ],
)
def test_nothing_readable_is_one_line_exit_1(tmp_path: Path, command: list[str], content: bytes) -> None:
    path = tmp_path / "input-20240102.txt"
    path.write_bytes(content)
    run = dnsvigil("ingest", *command, path, "--home", tmp_path / "home")
    assert run.exit_code == 1
    last = run.stderr.splitlines()[-1]
    assert (
        last.startswith("error: nothing could be read")
        and str(path) in last
        and "Traceback" not in run.stderr
    )


def test_usage_errors_exit_2(tmp_path: Path) -> None:
    path = tmp_path / "f.csv"
    path.write_text(rs.DBL)
    assert dnsvigil("ingest", "feed", "--format", "nosuch", path, "--home", tmp_path).exit_code == 2
    assert dnsvigil("ingest", "feed", path, "--home", tmp_path).exit_code == 2
    run = dnsvigil("ingest", "zone", path, "--tld", "a.b", "--home", tmp_path)
    assert run.exit_code == 2 and "--tld" in run.stderr
    run = dnsvigil("ingest", "popularity", path, "--list", "../etc", "--home", tmp_path)
    assert run.exit_code == 2 and "--list" in run.stderr


@pytest.mark.parametrize(
    "command", ["zone", "rdap", "registrations", "registrars", "dum", "feed", "popularity"]
)
def test_help_has_an_example(command: str) -> None:
    run = dnsvigil("ingest", command, "--help")
    assert run.exit_code == 0 and f"dnsvigil ingest {command}" in run.stdout and "--format" in run.stdout
