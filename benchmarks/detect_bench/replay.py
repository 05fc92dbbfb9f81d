"""Knot DNS's dnstap recorded once, replayed into `dnsvigil watch dnstap` at a fixed rate: the watcher alone.

Live runs mix the watcher's cost with Knot's and dnsperf's, and vary from run to run. Here Knot's
`mod-dnstap` writes to a file (its file sink: the same Frame Streams it sends to a socket) while dnsperf
drives it at full rate; the file is then sent into the watcher's socket, paced to a message rate and in
pieces of a chosen size (Knot writes small ones), and the watcher's CPU is taken from its rusage.

Every process is bounded: dnsperf by -l, the watcher by --max-seconds, every wait by a timeout.
"""

from __future__ import annotations

import resource
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from detect_bench import live
from ingest_bench.capture_plan import CapturePlan, require_tools
from ingest_bench.knot_live import _stop, _wait_for
from ingest_bench.knot_zone import query_lines, zone_text
from ingest_bench.processes import child_env, last_json

STARTUP_SECONDS = 2
"""How long the watcher runs with no input, to measure the CPU its start-up takes."""


@dataclass(frozen=True, slots=True)
class Recording:
    """A dnstap file and how many messages it holds (a query and a response per answer dnsperf counted)."""

    path: Path
    messages: int


@dataclass(frozen=True, slots=True)
class Replay:
    """One replay: what was asked, what the watcher said, and its CPU."""

    rate: int
    piece_bytes: int
    cpus: str
    sent_s: float
    cpu_s: float
    startup_cpu_s: float
    summary: dict[str, Any]

    @property
    def us_per_message(self) -> float:
        """CPU a received message cost, start-up left out."""
        received = max(int(self.summary.get("received", 0)), 1)
        return (self.cpu_s - self.startup_cpu_s) / received * 1e6


def record(workdir: Path, seconds: int, log: Any = print) -> Recording:
    """Knot serving the benchmark zone, its dnstap written to a file, under dnsperf at full rate."""
    tools = require_tools("knotd", "knotc", "dnsperf")
    workdir = workdir.resolve()
    plan = CapturePlan(port=live.PORT)
    shutil.rmtree(workdir, ignore_errors=True)
    (workdir / "db").mkdir(parents=True)
    (workdir / "bench.test.zone").write_text(zone_text(plan))
    queries = workdir / "queries.txt"
    queries.write_text("\n".join(query_lines(plan, plan.query_lines)) + "\n")
    tap = workdir / "knot.tap"
    log(f"recording Knot's dnstap at full rate for {seconds} s into {tap}")
    with live.knotd(workdir, plan, tools, tap, None, to_file=True):
        perf = live.dnsperf(tools, plan, queries, seconds, 0, None)
    completed = int(perf.get("Queries completed", "0").split()[0])
    return Recording(tap, 2 * completed)


def replay(
    recording: Recording, *, rate: int, piece_bytes: int, cpus: str | None, log: Any = print
) -> Replay:
    """Send `recording` into a fresh watcher at `rate` messages/s in pieces of `piece_bytes`; the watcher on
    `cpus` (any when None), stopped once its input has been stored."""
    folder = Path(tempfile.mkdtemp(prefix="dv"))  # a Unix socket path must stay under 108 bytes
    try:
        startup = _watcher_cpu(folder, cpus, None, rate, piece_bytes)
        return _watcher_cpu(folder, cpus, recording, rate, piece_bytes, startup=startup, log=log)
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def _watcher_cpu(
    folder: Path,
    cpus: str | None,
    recording: Recording | None,
    rate: int,
    piece_bytes: int,
    *,
    startup: Replay | None = None,
    log: Any = print,
) -> Replay:
    """Run a watcher on `cpus`; with `recording`, replay it into the watcher, else let it idle."""
    home, sock, stderr_path = folder / "home", folder / "tap.sock", folder / "watch.stderr"
    shutil.rmtree(home, ignore_errors=True)
    environment = {key: value for key, value in child_env().items() if not key.startswith("DNSVIGIL_")}
    command = [
        sys.executable, "-m", "dnsvigil", "watch", "dnstap", "--socket", str(sock), "--home", str(home),
        "--json", "--max-seconds", str(STARTUP_SECONDS if recording is None else 600),
    ]  # fmt: skip
    if cpus is not None:
        command = ["taskset", "-c", cpus, *command]
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    with stderr_path.open("wb") as stderr:
        process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=stderr, env=environment)
    sent_s = 0.0
    try:
        _wait_for(sock.is_socket, 60, "the watcher's socket")
        if recording is not None:
            log(f"  replaying {recording.messages:,} messages at {rate:,}/s in {piece_bytes:,}-byte pieces")
            sent_s = _send(recording, sock, rate, piece_bytes)
            _wait_for(lambda: b"sent STOP" in stderr_path.read_bytes(), 60, "the watcher to read STOP")
            time.sleep(6)  # a batch's time: what is queued is stored before the stop
            process.send_signal(signal.SIGTERM)
        out, _ = process.communicate(timeout=600)
    finally:
        _stop(process, signal.SIGKILL, 10)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu_s = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    summary = last_json(out, "the watcher") if recording is not None else {}
    return Replay(
        rate, piece_bytes, cpus or "any", sent_s, cpu_s, startup.cpu_s if startup else cpu_s, summary
    )


def _send(recording: Recording, sock: Path, rate: int, piece_bytes: int) -> float:
    """Send the file's bytes paced so that messages arrive at `rate` a second; the seconds it took."""
    bytes_per_message = recording.path.stat().st_size / max(recording.messages, 1)
    started = time.monotonic()
    sent = 0
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sender, recording.path.open("rb") as tap:
        sender.connect(str(sock))
        while piece := tap.read(piece_bytes):
            sender.sendall(piece)
            sent += len(piece)
            pause = started + sent / bytes_per_message / rate - time.monotonic()
            if pause > 0:
                time.sleep(pause)
        return time.monotonic() - started
