"""Running the measured tools as child processes: wall time, peak memory, output, timeouts."""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import signal
import subprocess
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

BENCHMARKS = Path(__file__).resolve().parent.parent
REPO = BENCHMARKS.parent


class BenchmarkError(RuntimeError):
    """A measurement could not be made; the message says which and why."""


@dataclass(slots=True)
class Measurement:
    """One tool's run over the capture."""

    tool: str
    messages: int
    seconds: float
    peak_rss_bytes: int
    tree_pss_bytes: int = 0
    details: dict[str, Any] = field(default_factory=dict)

    @property
    def rate(self) -> float:
        """Messages per second."""
        return self.messages / self.seconds if self.seconds > 0 else 0.0


@dataclass(slots=True)
class ProcessRun:
    """What a measured child process did: exit code, wall time and memory."""

    returncode: int
    wall_s: float
    max_rss_bytes: int
    tree_pss_bytes: int
    stdout: bytes
    stderr: str


class TreeMemorySampler(threading.Thread):
    """Samples the memory of a process and all its descendants, keeping the peaks.

    Peak RSS is each process's own high-water mark (VmHWM), read from /proc while it runs: getrusage's
    ru_maxrss cannot serve, because Linux carries the parent's RSS at fork into a child's ru_maxrss across
    exec, so a small tool started by a large parent would report the parent's size. The summed PSS covers
    a multi-process ingest: PSS divides shared pages among the processes sharing them.
    """

    def __init__(self, pid: int, interval_s: float = 0.05) -> None:
        super().__init__(daemon=True)
        self.pid = pid
        self.interval_s = interval_s
        self.high_water: dict[int, int] = {}
        self.peak_pss = 0
        self._stop_event = threading.Event()

    def run(self) -> None:
        while not self._stop_event.wait(self.interval_s):
            pss = 0
            for pid in self.tree():
                high_water = proc_kib(f"/proc/{pid}/status", "VmHWM:") * 1024
                self.high_water[pid] = max(self.high_water.get(pid, 0), high_water)
                pss += proc_kib(f"/proc/{pid}/smaps_rollup", "Pss:")
            self.peak_pss = max(self.peak_pss, pss * 1024)

    def stop(self) -> None:
        self._stop_event.set()
        self.join(timeout=5)

    def tree(self) -> list[int]:
        """The process and its descendants now alive, parents first."""
        children: dict[int, list[int]] = {}
        for entry in Path("/proc").iterdir():
            if not entry.name.isdigit():
                continue
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            parent = int(stat[stat.rindex(")") + 2 :].split()[1])
            children.setdefault(parent, []).append(int(entry.name))
        tree, pending = [], [self.pid]
        while pending:
            pid = pending.pop()
            tree.append(pid)
            pending.extend(children.get(pid, ()))
        return tree


def proc_kib(path: str, key: str) -> int:
    try:
        with open(path) as stream:  # noqa: PTH123 - many tiny reads; open() is the cheap path
            for line in stream:
                if line.startswith(key):
                    return int(line.split()[1])
    except (OSError, ValueError, IndexError):
        pass
    return 0


def run_measured(
    command: list[str],
    *,
    timeout_s: float,
    env: dict[str, str] | None = None,
    consume: Callable[[IO[bytes]], None] | None = None,
) -> ProcessRun:
    """Run `command`, timing it and measuring its memory; kill it after `timeout_s` seconds.

    `consume`, when given, reads the child's stdout as it comes (the stdout kept is then empty).
    """
    with tempfile.TemporaryFile() as stderr_file:
        start = time.perf_counter()
        process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=stderr_file, env=env)
        sampler = TreeMemorySampler(process.pid)
        sampler.start()
        timed_out = threading.Event()

        def kill_tree() -> None:
            timed_out.set()
            for pid in sampler.tree():
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)

        watchdog = threading.Timer(timeout_s, kill_tree)
        watchdog.start()
        try:
            assert process.stdout is not None
            if consume is not None:
                consume(process.stdout)
                stdout = b""
            else:
                stdout = process.stdout.read()
            process.stdout.close()
            process.wait()
            wall_s = time.perf_counter() - start
        finally:
            watchdog.cancel()
            sampler.stop()
        stderr_file.seek(0)
        stderr = stderr_file.read().decode(errors="replace")
    if timed_out.is_set():
        raise BenchmarkError(f"{Path(command[0]).name} ran past its {timeout_s:.0f} s limit and was killed")
    return ProcessRun(
        returncode=process.returncode,
        wall_s=wall_s,
        max_rss_bytes=max(sampler.high_water.values(), default=0),
        tree_pss_bytes=sampler.peak_pss,
        stdout=stdout,
        stderr=stderr,
    )


def pinned(command: list[str], cores: str = "0") -> list[str]:
    """`command` run by taskset on `cores`."""
    return [shutil.which("taskset") or "/usr/bin/taskset", "-c", cores, *command]


def child_env() -> dict[str, str]:
    """The environment for children: dnsvigil importable from src/, numba single-threaded."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, (str(REPO / "src"), env.get("PYTHONPATH"))))
    return env


def last_json(stdout: bytes, what: str) -> dict[str, Any]:
    """The last JSON object in `stdout` that starts a line (it may span several lines)."""
    text = stdout.decode(errors="replace")
    decoder = json.JSONDecoder()
    starts = [match.start() for match in re.finditer(r"^\{", text, re.MULTILINE)]
    for start in reversed(starts):
        try:
            value, _ = decoder.raw_decode(text, start)
        except json.JSONDecodeError:
            continue
        if isinstance(value, dict):
            return value
    raise BenchmarkError(f"{what} printed no JSON object; its output ends:\n{text[-1500:]}")


def failure(what: str, run: ProcessRun) -> BenchmarkError:
    return BenchmarkError(f"{what} exited with {run.returncode}; its stderr ends:\n{run.stderr[-2500:]}")
