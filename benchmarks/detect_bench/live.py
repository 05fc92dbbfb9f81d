"""Live mode's throughput: Knot DNS driven by dnsperf at full rate, with and without dnstap to dnsvigil.

Bounded runs on loopback, the zone and query mix of the ingest benchmark (`ingest_bench.knot_zone`):

1. baseline: knotd alone, dnsperf at full rate for `seconds`: what Knot sustains here;
2. for each rate, twice: knotd with mod-dnstap logging every query and response to a Unix socket read
   first by `null_reader.py` (reads and counts, nothing else: what Knot's own dnstap queue loses on this
   machine whatever the reader), then by `dnsvigil watch dnstap --json` (detectors on, default settings);
   dnsperf as before; knotd is stopped (it closes its stream with STOP), then the reader, whose summary
   says what it received (and the watcher's what it stored and dropped).

Knot counts nothing it drops from its dnstap queue, so its losses are measured: every answer dnsperf
counted is one query and one response Knot logged, and what the reader did not receive of those was lost
before it (in Knot's queue). Each run also records how much CPU processes other than its own used while it
ran (the machine is shared), from /proc/stat less its children's rusage.

Every process is bounded (dnsperf by -l, the watcher by --max-seconds, every wait by a timeout) and
stopped in a `finally` block.
"""

from __future__ import annotations

import os
import resource
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ingest_bench.capture_plan import CaptureBuildError, CapturePlan, require_tools
from ingest_bench.knot_live import _probe_query, _stop, _stop_knotd, _wait_for, parse_dnsperf
from ingest_bench.knot_zone import knot_config, query_lines, zone_text
from ingest_bench.processes import child_env, last_json

PORT = 53547
NULL_READER = Path(__file__).resolve().parent / "null_reader.py"
WATCHER = "dnsvigil"
NULL_BESIDE_BUSY = "null reader beside a busy process"
_BUSY = "import time\nend = time.monotonic() + {seconds}\nwhile time.monotonic() < end:\n    pass\n"
"""A process that keeps one core busy for `seconds` and stops by itself: what any busy neighbour of Knot
costs it, the comparison for the watcher's CPU (it uses about a core at full rate)."""
_DNSTAP = """mod-dnstap:
  - id: tap
    sink: "{sink}"
    log-queries: on
    log-responses: on

template:
  - id: default
    global-module: mod-dnstap/tap

"""


@dataclass(frozen=True, slots=True)
class LiveRun:
    """What one run measured: dnsperf's summary and, with dnstap, the reader's.

    Attributes:
        reader: None for Knot alone, `WATCHER` for `dnsvigil watch dnstap`, else "null reader".
        rate: queries/s asked of dnsperf; 0 for full rate.
        dnsperf: dnsperf's summary lines, by label.
        summary: the reader's JSON summary.
        other_cores: CPU used meanwhile by processes other than this run's, in cores.
        reader_cpu_s: CPU seconds (user and system) the reader used over its whole life, start-up included.
    """

    reader: str | None
    rate: int
    dnsperf: dict[str, str]
    summary: dict[str, Any] | None = None
    other_cores: float = 0.0
    reader_cpu_s: float = 0.0

    @property
    def completed(self) -> int:
        """Queries Knot answered (dnsperf's "Queries completed")."""
        return int(self.dnsperf.get("Queries completed", "0").split()[0])

    @property
    def qps(self) -> float:
        """Queries per second dnsperf achieved."""
        return float(self.dnsperf.get("Queries per second", "0").split()[0])

    @property
    def run_s(self) -> float:
        return float(self.dnsperf.get("Run time (s)", "0").split()[0])

    @property
    def expected(self) -> int:
        """dnstap messages Knot logged at least: a query and a response per answer dnsperf counted."""
        return 2 * self.completed

    @property
    def lost_by_knot(self) -> int:
        """Logged messages the reader never received: dropped by Knot's dnstap queue."""
        return max(self.expected - int((self.summary or {}).get("received", 0)), 0)


@dataclass(frozen=True, slots=True)
class Placement:
    """The CPUs the server side (knotd, dnsperf) and the reader may run on; None: any.

    Shared, they compete for both cores, and what Knot loses mixes the reader's speed with the CPU it takes
    from Knot; pinned apart, Knot's losses with either reader say whether the reader keeps up.
    """

    server: tuple[int, ...] | None = None
    reader: tuple[int, ...] | None = None

    def describe(self) -> str:
        if self.server is None and self.reader is None:
            return "every process on any core"
        return f"knotd and dnsperf on CPU {_cpus(self.server)}, the reader on CPU {_cpus(self.reader)}"


SHARED = Placement()
PINNED_APART = Placement(server=(0,), reader=(1,))


def _cpus(cpus: tuple[int, ...] | None) -> str:
    return "any" if cpus is None else ",".join(str(cpu) for cpu in cpus)


def _on(cpus: tuple[int, ...] | None, command: list[str]) -> list[str]:
    """`command` confined to `cpus` (by `taskset`, which execs it: the process keeps its pid)."""
    return command if cpus is None else ["taskset", "-c", _cpus(cpus), *command]


class OtherLoad:
    """CPU used by processes other than this one and its children between `__init__` and `cores`."""

    def __init__(self) -> None:
        self._started = time.monotonic()
        self._busy = _busy_seconds()
        self._ours = _our_seconds()

    def cores(self) -> float:
        """Average cores the others used; call once every child of the run has been waited for."""
        wall = time.monotonic() - self._started
        others = (_busy_seconds() - self._busy) - (_our_seconds() - self._ours)
        return max(others, 0.0) / wall if wall > 0 else 0.0


def _busy_seconds() -> float:
    with Path("/proc/stat").open() as stat:
        fields = [int(value) for value in stat.readline().split()[1:]]
    idle = fields[3] + fields[4]  # idle, iowait
    return (sum(fields[:8]) - idle) / os.sysconf("SC_CLK_TCK")


def _children_cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def _our_seconds() -> float:
    return sum(
        usage.ru_utime + usage.ru_stime
        for usage in (resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN))
    )


@contextmanager
def knotd(
    workdir: Path,
    plan: CapturePlan,
    tools: dict[str, str],
    socket: Path | None,
    cpus: tuple[int, ...] | None,
    *,
    to_file: bool = False,
) -> Iterator[None]:
    """knotd serving the benchmark zone on 127.0.0.1, with dnstap to `socket` when given (to a file at that
    path with `to_file`), on `cpus`; stopped after."""
    config = knot_config(workdir, plan)
    if socket is not None:
        sink = str(socket) if to_file else f"unix:{socket}"
        config = config.replace("\nzone:\n", "\n" + _DNSTAP.format(sink=sink) + "zone:\n", 1)
    path = workdir / ("knot-dnstap.conf" if socket else "knot.conf")
    path.write_text(config)
    with (workdir / "knotd.stderr").open("ab") as log:
        server = subprocess.Popen(_on(cpus, [tools["knotd"], "-c", str(path)]), stdout=log, stderr=log)
        try:
            _wait_for(lambda: server.poll() is not None or _probe_query(plan.port), 30, "knotd to answer")
            if server.poll() is not None:
                raise CaptureBuildError(f"knotd exited with {server.returncode}; see {workdir}/knotd.stderr")
            yield
        finally:
            _stop_knotd(server, tools["knotc"], path)


def dnsperf(
    tools: dict[str, str],
    plan: CapturePlan,
    queries: Path,
    seconds: int,
    rate: int,
    cpus: tuple[int, ...] | None,
) -> dict[str, str]:
    """dnsperf (8 clients, 200 outstanding queries) for `seconds`, at most 100 passes, on `cpus`; at `rate`
    queries/s, or as fast as Knot answers when `rate` is 0."""
    command = [
        tools["dnsperf"], "-s", "127.0.0.1", "-p", str(plan.port), "-l", str(seconds), "-n", "100",
        "-c", "8", "-q", "200", "-t", "2", "-T", "1", "-d", str(queries),
        *(["-Q", str(rate)] if rate else []),
    ]  # fmt: skip
    completed = subprocess.run(
        _on(cpus, command), capture_output=True, text=True, timeout=seconds + 60, check=False
    )
    if completed.returncode != 0:
        raise CaptureBuildError(f"dnsperf exited with {completed.returncode}: {completed.stdout[-1500:]}")
    return parse_dnsperf(completed.stdout)


def run_live(
    workdir: Path,
    seconds: int,
    rates: tuple[int, ...],
    log: Any = print,
    placement: Placement = SHARED,
    busy_neighbour: bool = False,
) -> list[LiveRun]:
    """The baseline run at full rate, then for each rate in `rates` (queries/s; 0 for full rate) one run
    with dnstap to the null reader, with `busy_neighbour` one to the null reader beside a process that keeps
    a core busy (on the reader's CPUs), and one to `dnsvigil watch dnstap`; each where `placement` says."""
    tools = require_tools("knotd", "knotc", "dnsperf")
    workdir = workdir.resolve()  # knotd reads its paths from its run directory
    plan = CapturePlan(port=PORT)
    shutil.rmtree(workdir, ignore_errors=True)
    (workdir / "db").mkdir(parents=True)
    (workdir / "bench.test.zone").write_text(zone_text(plan))
    queries = workdir / "queries.txt"
    queries.write_text("\n".join(query_lines(plan, plan.query_lines)) + "\n")

    log(f"baseline: knotd on 127.0.0.1@{plan.port}, no dnstap, dnsperf for {seconds} s")
    load = OtherLoad()
    with knotd(workdir, plan, tools, None, placement.server):
        perf = dnsperf(tools, plan, queries, seconds, 0, placement.server)
    runs = [LiveRun(None, 0, perf, other_cores=load.cores())]
    log(f"  {runs[0].qps:,.0f} queries/s; other processes used {runs[0].other_cores:.2f} cores")
    for rate in rates:
        pace = f"{rate:,} queries/s" if rate else "full rate"
        for reader in ("null reader", *([NULL_BESIDE_BUSY] if busy_neighbour else []), WATCHER):
            log(f"live at {pace}: knotd with dnstap to {reader}")
            runs.append(_watched(workdir, plan, tools, queries, seconds, rate, reader, placement))
            run = runs[-1]
            log(
                f"  {run.qps:,.0f} queries/s; Knot lost {run.lost_by_knot:,} of {run.expected:,}; "
                f"other processes used {run.other_cores:.2f} cores; the reader said {run.summary}"
            )
    return runs


def _watched(
    workdir: Path,
    plan: CapturePlan,
    tools: dict[str, str],
    queries: Path,
    seconds: int,
    rate: int,
    reader: str,
    placement: Placement,
) -> LiveRun:
    """One run with dnstap: the reader first, then knotd, dnsperf, knotd stopped, the reader stopped."""

    shutil.rmtree(workdir / "home", ignore_errors=True)
    folder = Path(tempfile.mkdtemp(prefix="dv"))  # a Unix socket path must stay under 108 bytes
    socket = folder / "tap.sock"
    environment = {key: value for key, value in child_env().items() if not key.startswith("DNSVIGIL_")}
    log_path = workdir / "reader.stderr"
    stderr = log_path.open("wb")
    command = (
        [sys.executable, "-m", "dnsvigil", "watch", "dnstap", "--socket", str(socket), "--home",
         str(workdir / "home"), "--json", "--max-seconds", str(seconds + 120)]
        if reader == WATCHER
        else [sys.executable, str(NULL_READER), str(socket)]
    )  # fmt: skip
    load = OtherLoad()
    busy = (
        subprocess.Popen(_on(placement.reader, [sys.executable, "-c", _BUSY.format(seconds=seconds + 120)]))
        if reader == NULL_BESIDE_BUSY
        else None
    )
    process = subprocess.Popen(
        _on(placement.reader, command), stdout=subprocess.PIPE, stderr=stderr, env=environment
    )
    try:
        _wait_for(socket.is_socket, 60, "the reader's socket")
        with knotd(workdir, plan, tools, socket, placement.server):
            _wait_for(lambda: b"connected" in log_path.read_bytes(), 30, "knotd's dnstap")
            perf = dnsperf(tools, plan, queries, seconds, rate, placement.server)
        _wait_for(lambda: b"sent STOP" in log_path.read_bytes(), 60, "knotd's dnstap STOP")
        process.send_signal(signal.SIGTERM)
        reaped_before = _children_cpu_seconds()  # knotd and dnsperf are reaped: what follows is the reader's
        out, _ = process.communicate(timeout=300)
        reader_cpu_s = _children_cpu_seconds() - reaped_before
    finally:
        _stop(process, signal.SIGKILL, 10)
        if busy is not None:
            _stop(busy, signal.SIGKILL, 10)
        stderr.close()
        shutil.rmtree(folder, ignore_errors=True)
    summary = last_json(out, reader)
    return LiveRun(reader, rate, perf, summary, other_cores=load.cores(), reader_cpu_s=reader_cpu_s)


def kept_up(live: LiveRun) -> bool:
    """The watcher dropped and lost nothing, and stored every message it received."""
    summary = live.summary or {}
    complete = summary.get("stored", -1) == summary.get("received", 0)
    return complete and summary.get("dropped", 1) == 0 and summary.get("lost", 1) == 0
