"""`dnsvigil ingest`: real captures end to end, idempotency, bad input, interruption and concurrency."""

from __future__ import annotations

import gzip
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from dnsvigil.demo.world import DemoWorld, write_demo_captures
from dnsvigil.store.warehouse import Warehouse
from tests.cli.runner import Run, dnsvigil
from tests.ingest import pcap_builder as pb

REAL_CAPTURES = (
    "dnscap__dns.pcap",
    "dnscap__dns6.pcap",
    "dnscap__dnso1tcp.pcap",
    "dnscap__edns.pcap",
    "dnscap__sll2.pcap",
    "dnscap__vlan11.pcap",
    "dsc__1458044657.pcap",
    "dsc__pid.pcap",
    "ithitools__smalltest.pcap",
)


def summary_of(run: Run) -> dict[str, object]:
    assert run.exit_code == 0, run.stderr
    result = json.loads(run.stdout)
    assert isinstance(result, dict)
    return result


def stored(home: Path, sql: str = "SELECT count(*) AS n FROM dns_messages") -> list[dict[str, object]]:
    run = dnsvigil("query", sql, "--format", "json", "--home", home)
    assert run.exit_code == 0, run.stderr
    rows = json.loads(run.stdout)
    assert isinstance(rows, list)
    return rows


def stored_count(home: Path) -> int:
    return int(stored(home)[0]["n"])  # type: ignore[call-overload]


def test_real_captures_once_and_only_once(pcaps_dir: Path, tmp_path: Path) -> None:
    paths = [pcaps_dir / name for name in REAL_CAPTURES]
    first = summary_of(dnsvigil("ingest", "pcap", *paths, "--json", "--home", tmp_path))
    files = first["files"]
    assert isinstance(files, list) and [file["status"] for file in files] == ["ingested"] * len(paths)
    messages = first["messages"]
    assert isinstance(messages, int) and messages > 250
    assert stored_count(tmp_path) == messages
    by_file = stored(tmp_path, "SELECT source_file, count(*) AS n FROM dns_messages GROUP BY ALL")
    assert {row["source_file"]: row["n"] for row in by_file} == {
        str(path): file["messages"] for path, file in zip(paths, files, strict=True)
    }

    again = summary_of(dnsvigil("ingest", "pcap", *paths, "--json", "--home", tmp_path))
    assert [file["status"] for file in again["files"]] == ["already-ingested"] * len(paths)  # type: ignore[union-attr]
    assert again["messages"] == 0 and stored_count(tmp_path) == messages


def test_compressed_copy_of_a_capture_gives_the_same_rows(pcaps_dir: Path, tmp_path: Path) -> None:
    packed = tmp_path / "dns.pcap.gz"
    packed.write_bytes(gzip.compress((pcaps_dir / "dnscap__dns.pcap").read_bytes()))
    plain = summary_of(
        dnsvigil("ingest", "pcap", pcaps_dir / "dnscap__dns.pcap", "--json", "--home", tmp_path / "a")
    )
    gz = summary_of(dnsvigil("ingest", "pcap", packed, "--json", "--home", tmp_path / "b"))
    assert gz["messages"] == plain["messages"] == 82
    columns = "ts, src_addr, dst_addr, dns_id, qr, qname, qtype, rcode, msg_len"
    sql = f"SELECT {columns} FROM dns_messages ORDER BY ALL"
    assert stored(tmp_path / "a", sql) == stored(tmp_path / "b", sql)


def test_dnstap_file(pcaps_dir: Path, tmp_path: Path) -> None:
    result = summary_of(
        dnsvigil("ingest", "dnstap", pcaps_dir / "dsc__test.dnstap", "--json", "--home", tmp_path)
    )
    assert result["messages"] == stored_count(tmp_path) > 0
    mix = stored(tmp_path, "SELECT bool_or(qr) AS responses, bool_or(NOT qr) AS queries FROM dns_messages")
    assert mix == [{"responses": True, "queries": True}]


def test_dnstap_command_refuses_a_pcap_clearly(pcaps_dir: Path, tmp_path: Path) -> None:
    run = dnsvigil("ingest", "dnstap", pcaps_dir / "dnscap__dns.pcap", "--home", tmp_path)
    assert run.exit_code == 1
    assert run.stderr.startswith("error: ") and run.stderr.count("\n") == 1
    assert "dnscap__dns.pcap" in run.stderr and "Traceback" not in run.stderr


BAD_FILES = {
    "empty": b"",
    "wrong-magic": b"this is a text file, not a capture\n",
    "header-cut": pb.pcap_file([])[:10],
    "gzip-of-text": gzip.compress(b"hello\n" * 10),
}


@pytest.mark.parametrize("content", BAD_FILES.values(), ids=BAD_FILES.keys())
def test_unreadable_input_is_one_line_exit_1_and_stores_nothing(tmp_path: Path, content: bytes) -> None:
    bad = tmp_path / "input.pcap"
    bad.write_bytes(content)
    home = tmp_path / "home"
    run = dnsvigil("ingest", "pcap", bad, "--home", home)
    assert run.exit_code == 1
    lines = run.stderr.splitlines()
    assert lines[-1].startswith("error: ") and str(bad) in lines[-1]
    assert "Traceback" not in run.stderr
    assert stored_count(home) == 0


@pytest.mark.parametrize("name", ["missing.pcap", "dangling-link.pcap"])
def test_paths_that_cannot_be_opened(tmp_path: Path, name: str) -> None:
    (tmp_path / "dangling-link.pcap").symlink_to(tmp_path / "nowhere")
    run = dnsvigil("ingest", "pcap", tmp_path / name, "--home", tmp_path / "home")
    assert run.exit_code == 1
    assert run.stderr.startswith("error: ") and name in run.stderr and run.stderr.count("\n") == 1


def test_truncated_capture_keeps_what_precedes_the_cut(pcaps_dir: Path, tmp_path: Path) -> None:
    cut = tmp_path / "cut.pcap"
    cut.write_bytes((pcaps_dir / "dnscap__dns.pcap").read_bytes()[:3000])
    result = summary_of(dnsvigil("ingest", "pcap", cut, "--json", "--home", tmp_path / "home"))
    assert result["malformed"] == {"truncated_record": 1}
    assert 0 < int(result["messages"]) < 82  # type: ignore[call-overload]
    assert stored_count(tmp_path / "home") == result["messages"]


def no_dns_capture() -> bytes:
    frame = pb.ethernet(pb.ipv4("192.0.2.1", "192.0.2.2", pb.udp(40000, 123, b"\x23" + b"\x00" * 47)))
    return pb.pcap_file([pb.Record(frame)] * 3)


def test_capture_without_dns_is_a_failure_when_alone(tmp_path: Path) -> None:
    path = tmp_path / "ntp.pcap"
    path.write_bytes(no_dns_capture())
    run = dnsvigil("ingest", "pcap", path, "--home", tmp_path / "home")
    assert run.exit_code == 1
    assert run.stderr.splitlines()[-1].startswith("error: ") and "ntp.pcap" in run.stderr


def test_directory_of_mixed_files_ingests_the_captures_and_warns_about_the_rest(
    pcaps_dir: Path, tmp_path: Path
) -> None:
    folder = tmp_path / "mixed"
    (folder / "nested").mkdir(parents=True)
    shutil.copy(pcaps_dir / "dnscap__dns.pcap", folder / "dns.pcap")
    shutil.copy(pcaps_dir / "dnscap__dns6.pcap", folder / "nested" / "dns6.pcap")
    (folder / "notes.txt").write_text("not a capture\n")
    (folder / "ntp.pcap").write_bytes(no_dns_capture())
    run = dnsvigil("ingest", "pcap", folder, "--home", tmp_path / "home")
    assert run.exit_code == 0, run.stderr
    warnings = run.stderr.splitlines()
    assert len(warnings) == 2 and all(line.startswith("warning: ") for line in warnings)
    assert any("notes.txt" in line for line in warnings) and any("ntp.pcap" in line for line in warnings)
    assert stored(tmp_path / "home", "SELECT count(DISTINCT source_file) AS n FROM dns_messages") == [
        {"n": 2}
    ]
    assert stored_count(tmp_path / "home") == 82 + 2


@pytest.fixture(scope="module")
def demo_captures(tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    """Two captures of the demo world: big enough that an ingest takes a while."""
    return write_demo_captures(DemoWorld(seed=11), tmp_path_factory.mktemp("demo"))


def ingest_process(paths: list[Path], home: Path) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "dnsvigil", "--home", str(home), "ingest", "pcap", *map(str, paths), "--json"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={key: value for key, value in os.environ.items() if not key.startswith("DNSVIGIL_")},
    )


def test_killed_ingest_leaves_no_partial_data(demo_captures: list[Path], tmp_path: Path) -> None:
    home = tmp_path / "home"
    complete = summary_of(dnsvigil("ingest", "pcap", demo_captures[0], "--json", "--home", home))
    before = stored_count(home)
    process = ingest_process([demo_captures[1]], home)
    staging = home / "staging"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and not any(staging.rglob("*.parquet")) and process.poll() is None:
        time.sleep(0.01)  # kill it while it holds staged, uncommitted files
    assert process.poll() is None, "the ingest ended before it could be interrupted"
    assert any(staging.rglob("*.parquet"))
    process.send_signal(signal.SIGKILL)
    process.wait(timeout=30)
    assert before == complete["messages"] == stored_count(home)  # the earlier ingest is intact, nothing added

    again = summary_of(dnsvigil("ingest", "pcap", *demo_captures, "--json", "--home", home))
    statuses = [file["status"] for file in again["files"]]  # type: ignore[union-attr]
    assert statuses == ["already-ingested", "ingested"]
    assert stored_count(home) == before + int(again["messages"])  # type: ignore[call-overload]
    listed = {path.name for path in (home / "tables").rglob("*.parquet")}
    committed = Warehouse.open(home).files("dns_messages")
    assert listed == {Path(stored.path).name for stored in committed}


def test_concurrent_ingests_of_the_same_and_different_files(
    demo_captures: list[Path], tmp_path: Path
) -> None:
    home = tmp_path / "home"
    processes = [
        ingest_process([demo_captures[0]], home),
        ingest_process([demo_captures[0]], home),
        ingest_process([demo_captures[1]], home),
    ]
    results = []
    for process in processes:
        out, err = process.communicate(timeout=300)
        assert process.returncode == 0, err
        results.append(json.loads(out))
    same = sorted(result["files"][0]["status"] for result in results[:2])
    assert same == ["already-ingested", "ingested"]
    expected = sum(result["messages"] for result in results)
    assert expected > 100_000 and stored_count(home) == expected
