"""Live mode's throughput: Knot DNS driven by dnsperf at full rate, with and without dnstap to dnsvigil.

Two bounded runs on loopback, the zone and query mix of the ingest benchmark (`ingest_bench.knot_zone`):

1. baseline: knotd alone, dnsperf at full rate for `seconds`: what Knot sustains here;
2. live: `dnsvigil watch dnstap --json` (detectors on, default settings) first, then knotd with
   mod-dnstap logging every query and response to its socket, dnsperf as before; knotd is stopped
   (it closes its stream with STOP), then the watcher, whose summary says what it received, stored
   and dropped.

Every process is bounded (dnsperf by -l, the watcher by --max-seconds, every wait by a timeout) and
stopped in a `finally` block.
"""

from __future__ import annotations

import shutil
import signal
import subprocess
import sys
import tempfile
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
_DNSTAP = """mod-dnstap:
  - id: tap
    sink: "unix:{socket}"
    log-queries: on
    log-responses: on

template:
  - id: default
    global-module: mod-dnstap/tap

"""


@dataclass(frozen=True, slots=True)
class LiveRun:
    """What one run measured: dnsperf's summary and, with dnstap, the watcher's."""

    dnstap: bool
    rate: int
    dnsperf: dict[str, str]
    watcher: dict[str, Any] | None = None

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


@contextmanager
def _knotd(workdir: Path, plan: CapturePlan, tools: dict[str, str], socket: Path | None) -> Iterator[None]:
    """knotd serving the benchmark zone on 127.0.0.1, with dnstap to `socket` when given; stopped after."""
    config = knot_config(workdir, plan)
    if socket is not None:
        config = config.replace("\nzone:\n", "\n" + _DNSTAP.format(socket=socket) + "zone:\n", 1)
    path = workdir / ("knot-dnstap.conf" if socket else "knot.conf")
    path.write_text(config)
    with (workdir / "knotd.stderr").open("ab") as log:
        knotd = subprocess.Popen([tools["knotd"], "-c", str(path)], stdout=log, stderr=log)
        try:
            _wait_for(lambda: knotd.poll() is not None or _probe_query(plan.port), 30, "knotd to answer")
            if knotd.poll() is not None:
                raise CaptureBuildError(f"knotd exited with {knotd.returncode}; see {workdir}/knotd.stderr")
            yield
        finally:
            _stop_knotd(knotd, tools["knotc"], path)


def _dnsperf(
    tools: dict[str, str], plan: CapturePlan, queries: Path, seconds: int, rate: int
) -> dict[str, str]:
    """dnsperf (8 clients, 200 outstanding queries) for `seconds`, at most 100 passes; at `rate` queries/s,
    or as fast as Knot answers when `rate` is 0."""
    command = [
        tools["dnsperf"], "-s", "127.0.0.1", "-p", str(plan.port), "-l", str(seconds), "-n", "100",
        "-c", "8", "-q", "200", "-t", "2", "-T", "1", "-d", str(queries),
        *(["-Q", str(rate)] if rate else []),
    ]  # fmt: skip
    completed = subprocess.run(command, capture_output=True, text=True, timeout=seconds + 60, check=False)
    if completed.returncode != 0:
        raise CaptureBuildError(f"dnsperf exited with {completed.returncode}: {completed.stdout[-1500:]}")
    return parse_dnsperf(completed.stdout)


def run_live(workdir: Path, seconds: int, rates: tuple[int, ...], log: Any = print) -> list[LiveRun]:
    """The baseline run at full rate, then one run with dnstap to `dnsvigil watch dnstap` per rate in
    `rates` (queries/s; 0 for full rate)."""
    tools = require_tools("knotd", "knotc", "dnsperf")
    workdir = workdir.resolve()  # knotd reads its paths from its run directory
    plan = CapturePlan(port=PORT)
    shutil.rmtree(workdir, ignore_errors=True)
    (workdir / "db").mkdir(parents=True)
    (workdir / "bench.test.zone").write_text(zone_text(plan))
    queries = workdir / "queries.txt"
    queries.write_text("\n".join(query_lines(plan, plan.query_lines)) + "\n")

    log(f"baseline: knotd on 127.0.0.1@{plan.port}, no dnstap, dnsperf for {seconds} s")
    with _knotd(workdir, plan, tools, None):
        runs = [LiveRun(False, 0, _dnsperf(tools, plan, queries, seconds, 0))]
    log(f"  {runs[0].qps:,.0f} queries/s")
    for rate in rates:
        pace = f"{rate:,} queries/s" if rate else "full rate"
        log(f"live at {pace}: dnsvigil watch dnstap, knotd with dnstap")
        runs.append(_watched(workdir, plan, tools, queries, seconds, rate))
        log(f"  {runs[-1].qps:,.0f} queries/s; the watcher stored {runs[-1].watcher}")
    return runs


def _watched(
    workdir: Path, plan: CapturePlan, tools: dict[str, str], queries: Path, seconds: int, rate: int
) -> LiveRun:
    """One run with dnstap: the watcher first, then knotd, dnsperf, knotd stopped, the watcher stopped."""

    shutil.rmtree(workdir / "home", ignore_errors=True)
    folder = Path(tempfile.mkdtemp(prefix="dv"))  # a Unix socket path must stay under 108 bytes
    socket = folder / "tap.sock"
    environment = {key: value for key, value in child_env().items() if not key.startswith("DNSVIGIL_")}
    stderr = (workdir / "watch.stderr").open("wb")
    watcher = subprocess.Popen(
        [sys.executable, "-m", "dnsvigil", "watch", "dnstap", "--socket", str(socket), "--home",
         str(workdir / "home"), "--json", "--max-seconds", str(seconds + 120)],
        stdout=subprocess.PIPE, stderr=stderr, env=environment,
    )  # fmt: skip
    try:
        _wait_for(socket.is_socket, 60, "the watcher's socket")
        with _knotd(workdir, plan, tools, socket):
            _wait_for(lambda: b"connected" in (workdir / "watch.stderr").read_bytes(), 30, "knotd's dnstap")
            perf = _dnsperf(tools, plan, queries, seconds, rate)
        _wait_for(lambda: b"STOP" in (workdir / "watch.stderr").read_bytes(), 60, "knotd's dnstap STOP")
        watcher.send_signal(signal.SIGTERM)
        out, _ = watcher.communicate(timeout=300)
    finally:
        _stop(watcher, signal.SIGKILL, 10)
        stderr.close()
        shutil.rmtree(folder, ignore_errors=True)
    return LiveRun(True, rate, perf, last_json(out, "dnsvigil watch dnstap"))


def kept_up(live: LiveRun) -> bool:
    """No message dropped or lost by the watcher, and every answer's query and response stored."""
    summary = live.watcher or {}
    complete = summary.get("stored", 0) >= 2 * live.completed
    return complete and summary.get("dropped", 1) == 0 and summary.get("lost", 1) == 0
