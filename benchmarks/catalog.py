"""Catalog cost as a warehouse grows: a commit that appends to the log, against rewriting the whole catalog.

A live watcher commits a file per batch, about 69,000 a day at 40,000 queries/s. For catalogs listing that
many files (and their sources), this measures on one core: a commit through the warehouse (its log
entry, and a checkpoint when one falls due), a fresh process's first listing of every table (the checkpoint
parsed, the log replayed), and writing the whole catalog once, which is what every commit cost before the
catalog had a log and what a checkpoint still costs. Synthetic: the catalog lists files that are not on disk
(a commit reads none). Results: benchmarks/CATALOG.md.

    .venv/bin/python benchmarks/catalog.py                 # 1,000, 10,000, 69,000 and 250,000 files
    .venv/bin/python benchmarks/catalog.py --files 69000   # one size; results in scratch/CATALOG-partial.md
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import pyarrow as pa

from dnsvigil.store.catalog import (
    CHECKPOINT_ENTRIES,
    FILES_PER_ENTRY_BETWEEN_CHECKPOINTS,
    write_json_atomically,
)
from dnsvigil.store.schema import FINDINGS
from dnsvigil.store.warehouse import Warehouse

BENCHMARKS = Path(__file__).resolve().parent
DEFAULT_SIZES = (1_000, 10_000, 69_000, 250_000)
COMMITS = 20


def _catalog_of(home: Path, files: int) -> None:
    """Make `home` a warehouse whose checkpoint lists `files` files, one source each, of the table the
    commits go to (a commit copies its table's list of files and map of sources)."""
    warehouse = Warehouse.open(home, create=True)
    state = json.loads((home / "catalog.json").read_text())
    table = state["tables"][FINDINGS.name]
    for number in range(files):
        source = hashlib.sha256(str(number).encode()).hexdigest()
        path = f"tables/{FINDINGS.name}/day=2026-11-30/watch-{number:012x}-00001.parquet"
        table["files"].append({"day": "2026-11-30", "path": path, "rows": 100_000, "source_id": source})
        committed = "2026-11-30T00:00:00+00:00"
        table["sources"][source] = {"committed_at": committed, "origin": "unix:tap", "rows": 1}
    write_json_atomically(home / "catalog.json", state)
    assert len(warehouse.files(FINDINGS.name)) == files


def _finding_rows(number: int) -> pa.Table:
    row = {name: None for name in FINDINGS.schema.names}
    moment = datetime(2026, 11, 30, tzinfo=UTC)
    row.update(finding_id=f"f{number}", code="TEST.CODE", subject_type="domain", subject="example.test",
               severity="low", confidence=0.5, first_seen=moment, last_seen=moment, detector="bench",
               evidence="{}", references=[], tlp="clear", message="")  # fmt: skip
    return pa.Table.from_pylist([row], schema=FINDINGS.schema)


def measure(work: Path, files: int) -> dict[str, float]:
    """Seconds for each operation on a catalog of `files` files (medians over `COMMITS` commits)."""
    home = work / f"home-{files}"
    shutil.rmtree(home, ignore_errors=True)
    _catalog_of(home, files)
    warehouse = Warehouse.open(home)
    warehouse.files(FINDINGS.name)  # this process has read the catalog, as a running watcher has
    commits = []
    for number in range(-1, COMMITS):  # the first warms up Parquet writing
        started = time.perf_counter()
        with warehouse.begin("findings") as write:
            write.write(_finding_rows(number), "2026-11-30")
            write.commit(f"bench-{number}", "bench")
        if number >= 0:
            commits.append(time.perf_counter() - started)
    started = time.perf_counter()
    Warehouse.open(home).listing()
    fresh = time.perf_counter() - started
    state = json.loads((home / "catalog.json").read_text())
    rewrite, waited = _while_another_thread_waits(
        lambda: write_json_atomically(home / "rewritten.json", state)
    )
    size = (home / "rewritten.json").stat().st_size
    whole = json.dumps(state, separators=(",", ":"))  # warms the encoder's memory like the rewrite did
    _, waited_one_call = _while_another_thread_waits(lambda: json.dumps(state, separators=(",", ":")))
    assert len(whole) == size
    shutil.rmtree(home, ignore_errors=True)
    return {
        "commit": statistics.median(commits),
        "fresh": fresh,
        "rewrite": rewrite,
        "waited": waited,
        "waited_one_call": waited_one_call,
        "megabytes": size / 1e6,
    }


def _while_another_thread_waits(work: Callable[[], object]) -> tuple[float, float]:
    """Seconds `work` took, and the longest another thread (waking every millisecond, as the watcher's
    receiving thread does when frames arrive) waited for the interpreter lock meanwhile."""
    done = threading.Event()
    gaps = [0.0]

    def wake_every_millisecond() -> None:
        last = time.perf_counter()
        while not done.is_set():
            time.sleep(0.001)
            now = time.perf_counter()
            gaps.append(now - last - 0.001)
            last = now

    sampler = threading.Thread(target=wake_every_millisecond)
    sampler.start()
    time.sleep(0.02)
    started = time.perf_counter()
    work()
    took = time.perf_counter() - started
    done.set()
    sampler.join()
    return took, max(gaps)


def _report(rows: dict[int, dict[str, float]]) -> str:
    revision = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True,
                              cwd=BENCHMARKS, check=False).stdout.strip()  # fmt: skip
    lines = [
        "# Catalog: what a commit costs as the warehouse grows",
        "",
        f"`benchmarks/catalog.py` on {platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
        f"Python {platform.python_version()}, git {revision}, {datetime.now(UTC):%Y-%m-%d}; load average "
        f"{', '.join(f'{load:.2f}' for load in os.getloadavg())}.",
        "",
        "A synthetic catalog lists N files of the table committed to, one source each (a watcher at 40,000",
        "queries/s commits about 69,000 a day); the process has read it once, as a running watcher has. Then",
        f"{COMMITS} commits of one small file each (their median), none of them a checkpoint. A fresh",
        "process's first listing parses the checkpoint and replays the log. Rewriting the whole catalog once",
        "is what every commit cost before the catalog had a log, and what a checkpoint costs, once per",
        "`max(CHECKPOINT_ENTRIES, files // FILES_PER_ENTRY_BETWEEN_CHECKPOINTS)` commits",
        "(`store/catalog.py`). Meanwhile a second thread wakes every millisecond, as the watcher's",
        "receiving thread does; its longest wait for the interpreter lock is shown for the checkpoint",
        "(encoded in pieces of `ITEMS_PER_PIECE` items) and for encoding the same catalog in one",
        "`json.dumps` call, as the checkpoint did until it was written in pieces.",
        "",
        "| files listed | catalog (MB) | commit (ms) | whole rewrite = checkpoint (ms) | commits between"
        " checkpoints | checkpoint per commit (ms) | another thread's longest wait: checkpoint (ms) |"
        " the same, catalog encoded in one call (ms) | first listing, fresh process (ms) |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for files, row in rows.items():
        between = max(CHECKPOINT_ENTRIES, files // FILES_PER_ENTRY_BETWEEN_CHECKPOINTS)
        commit, rewrite, fresh, waited, waited_one_call = (
            row[key] * 1e3 for key in ("commit", "rewrite", "fresh", "waited", "waited_one_call")
        )
        lines.append(
            f"| {files:,} | {row['megabytes']:.1f} | {commit:.1f} | {rewrite:.0f} | {between:,} | "
            f"{rewrite / between:.2f} | {waited:.1f} | {waited_one_call:.0f} | {fresh:.0f} |"
        )
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--files", type=int, action="append", help="catalog sizes (repeatable)")
    parser.add_argument("--work", type=Path, default=BENCHMARKS / "scratch" / "catalog")
    arguments = parser.parse_args()
    sizes = tuple(arguments.files or DEFAULT_SIZES)
    arguments.work.mkdir(parents=True, exist_ok=True)
    rows = {}
    for files in sizes:
        print(f"{files:,} files ...", file=sys.stderr)
        rows[files] = measure(arguments.work, files)
    target = BENCHMARKS / ("CATALOG.md" if sizes == DEFAULT_SIZES else "scratch/CATALOG-partial.md")
    target.write_text(_report(rows))
    print(f"results in {target}", file=sys.stderr)


if __name__ == "__main__":
    main()
