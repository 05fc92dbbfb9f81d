"""Side-by-side ingest benchmark: dnsvigil's pcap reader and full ingest against tshark and dpkt.

One run, one input for every tool: a capture of real DNS traffic (Knot DNS answering dnsperf on loopback,
recorded by dumpcap; see knot_capture.py), at least 1,000,000 messages. It measures

  reader   dnsvigil's read_capture + decode_messages to Arrow, in one process pinned to core 0;
           the numba kernels are compiled first by a warm-up on a small sample of the same capture,
           so compile time is excluded (and reported apart);
  ingest   the full `dnsvigil ingest pcap PATH --json` to Parquet, on every core, after a warm-up run
           (so numba's on-disk cache, if the code uses one, is filled); wall time of the whole command;
  tshark   `tshark -T fields` with the same fields, pinned to core 0, rows counted and dropped;
  dpkt     a pure-Python loop (dpkt.pcap.Reader, Ethernet/IP/UDP, dpkt.dns.DNS) extracting the same
           fields, pinned to core 0;

then prints messages/s, the ratios and peak memory, and writes a Markdown results file with the machine
and tool versions. See benchmarks/README.md.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib.util
import json
import os
import platform
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any

BENCHMARKS = Path(__file__).resolve().parent
REPO = BENCHMARKS.parent
sys.path.insert(0, str(BENCHMARKS))

from knot_capture import CaptureBuildError, CaptureInfo, CapturePlan, build_capture, write_sample  # noqa: E402

TSHARK_FIELDS = (
    *("frame.time_epoch", "ip.src", "ipv6.src", "ip.dst", "ipv6.dst", "udp.srcport", "udp.dstport"),
    *("tcp.srcport", "tcp.dstport", "dns.id", "dns.flags.response", "dns.flags.rcode", "dns.qry.name"),
    "dns.qry.type",
)
TARGET_READER_VS_TSHARK = 40.0
TARGET_INGEST_RATE = 1_000_000
TARGET_PEAK_BYTES = 1_000_000_000
TOOLS = ("reader", "ingest", "tshark", "dpkt")
MISSING_READER = (
    "dnsvigil's reader is not available: {what}.\n"
    "The benchmark needs src/dnsvigil/ingest/capture_file.py (read_capture), "
    "src/dnsvigil/ingest/dns_wire.py (decode_messages) and the `dnsvigil ingest pcap` command.\n"
    "Run with --allow-missing (or --tools tshark,dpkt) to measure the other tools alone; the results then "
    "go to benchmarks/work/RESULTS-partial.md."
)


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


# --- measuring child processes -----------------------------------------------------------------------------


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
                high_water = _proc_kib(f"/proc/{pid}/status", "VmHWM:") * 1024
                self.high_water[pid] = max(self.high_water.get(pid, 0), high_water)
                pss += _proc_kib(f"/proc/{pid}/smaps_rollup", "Pss:")
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


def _proc_kib(path: str, key: str) -> int:
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


def _failed(what: str, run: ProcessRun) -> BenchmarkError:
    return BenchmarkError(f"{what} exited with {run.returncode}; its stderr ends:\n{run.stderr[-2500:]}")


# --- the four tools ----------------------------------------------------------------------------------------


def measure_reader(capture: Path, warmup: Path, port: int, chunk_mib: int, timeout_s: float) -> Measurement:
    """dnsvigil's reader alone, in a child pinned to core 0 with numba single-threaded."""
    env = child_env()
    env["NUMBA_NUM_THREADS"] = "1"
    command = [
        sys.executable,
        __file__,
        "--child",
        "reader",
        str(capture),
        str(warmup),
        str(port),
        str(chunk_mib),
    ]
    run = run_measured(pinned(command), timeout_s=timeout_s, env=env)
    if run.returncode != 0:
        raise _failed("the reader child", run)
    result = last_json(run.stdout, "the reader child")
    return Measurement(
        "reader", result["messages"], result["seconds"], result["peak_rss_bytes"], details=result
    )


def child_reader(capture: Path, warmup: Path, port: int, chunk_mib: int) -> dict[str, Any]:
    """Inside the pinned child: warm up on the sample, then read and decode the whole capture once."""
    if importlib.util.find_spec("dnsvigil") is None:
        sys.path.insert(0, str(REPO / "src"))
    from dnsvigil.ingest.capture_file import read_capture
    from dnsvigil.ingest.dns_wire import decode_messages

    chunk_bytes = chunk_mib << 20
    started = time.perf_counter()
    warm_messages = 0
    # Twice: in one chunk, then in 64 KiB chunks, so the paths that carry records and TCP streams from one
    # chunk to the next are compiled too.
    for warm_chunk_bytes in (chunk_bytes, 64 << 10):
        for warm_batch in read_capture(warmup, ports=(port,), chunk_bytes=warm_chunk_bytes):
            warm_messages += decode_messages(warm_batch.slices, warm_batch.counts, warmup.name).num_rows
    warmup_s = time.perf_counter() - started

    messages = rows = records = not_messages = 0
    read_s = decode_s = 0.0
    started = time.perf_counter()
    batches = iter(read_capture(capture, ports=(port,), chunk_bytes=chunk_bytes))
    while True:
        tick = time.perf_counter()
        batch = next(batches, None)
        read_s += time.perf_counter() - tick
        if batch is None:
            break
        tick = time.perf_counter()
        table = decode_messages(batch.slices, batch.counts, capture.name)
        decode_s += time.perf_counter() - tick
        messages += len(batch.slices)
        rows += table.num_rows
        records += batch.records
        not_messages += int(batch.counts.sum())
    seconds = time.perf_counter() - started
    return {
        "messages": messages,
        "rows": rows,
        "records": records,
        "records_not_messages": not_messages,
        "seconds": seconds,
        "read_s": read_s,
        "decode_s": decode_s,
        "warmup_s": warmup_s,
        "warmup_messages": warm_messages,
        "peak_rss_bytes": _proc_kib("/proc/self/status", "VmHWM:") * 1024,
    }


def dnsvigil_command() -> list[str]:
    """How to run the `dnsvigil` command: the installed script, else its entry point from src/."""
    script = Path(sys.executable).parent / "dnsvigil"
    if script.exists():
        return [str(script)]
    return [sys.executable, "-c", "import sys; from dnsvigil.cli.main import main; sys.exit(main())"]


def measure_ingest(
    capture: Path, warmup: Path, port: int, chunk_mib: int, work: Path, timeout_s: float
) -> Measurement:
    """The full `dnsvigil ingest pcap` to Parquet on every core, after one warm-up run on the sample."""
    env = child_env()
    env["DNSVIGIL_DNS_PORTS"] = str(port)
    env["DNSVIGIL_CHUNK_MIB"] = str(chunk_mib)
    homes = work / "ingest-homes"
    shutil.rmtree(homes, ignore_errors=True)
    runs: dict[str, ProcessRun] = {}
    for name, source in (("warmup", warmup), ("timed", capture)):
        command = [*dnsvigil_command(), "ingest", "pcap", str(source), "--json", "--home", str(homes / name)]
        runs[name] = run_measured(command, timeout_s=timeout_s, env=env)
        if runs[name].returncode != 0:
            raise _failed(f"`dnsvigil ingest pcap` ({name} run)", runs[name])
    summary = last_json(runs["timed"].stdout, "`dnsvigil ingest pcap --json`")
    if "messages" not in summary:
        raise BenchmarkError(f"`dnsvigil ingest pcap --json` printed no 'messages': {summary}")
    failed = [file for file in summary.get("files", []) if file.get("status") not in ("ingested", None)]
    if failed:
        raise BenchmarkError(f"`dnsvigil ingest pcap` did not ingest the capture: {failed}")
    timed = runs["timed"]
    parquet_bytes = sum(path.stat().st_size for path in (homes / "timed").rglob("*.parquet"))
    return Measurement(
        "ingest",
        int(summary["messages"]),
        timed.wall_s,
        timed.max_rss_bytes,
        timed.tree_pss_bytes,
        details={
            "summary": summary,
            "warmup_s": runs["warmup"].wall_s,
            "parquet_bytes": parquet_bytes,
        },
    )


def measure_tshark(capture: Path, port: int, timeout_s: float) -> Measurement:
    """tshark printing the same fields, pinned to core 0; rows counted here and dropped."""
    tshark = shutil.which("tshark")
    if tshark is None:
        raise BenchmarkError("tshark is missing (apt-get install -y tshark)")
    command = [tshark, "-n", "-r", str(capture), "-d", f"udp.port=={port},dns", "-d", f"tcp.port=={port},dns"]
    command += ["-Y", "dns", "-T", "fields", *(part for name in TSHARK_FIELDS for part in ("-e", name))]
    id_column = TSHARK_FIELDS.index("dns.id")
    counts = {"rows": 0, "messages": 0}

    def count(stream: IO[bytes]) -> None:
        tail = b""
        while chunk := stream.read(1 << 20):
            lines = (tail + chunk).split(b"\n")
            tail = lines.pop()
            counts["rows"] += len(lines)
            # A TCP segment holding several DNS messages is one row with comma-separated values.
            counts["messages"] += sum(line.split(b"\t")[id_column].count(b",") + 1 for line in lines)

    run = run_measured(pinned(command), timeout_s=timeout_s, consume=count)
    if run.returncode != 0:
        raise _failed("tshark", run)
    return Measurement("tshark", counts["messages"], run.wall_s, run.max_rss_bytes, details=counts)


def measure_dpkt(capture: Path, port: int, timeout_s: float) -> Measurement:
    """The dpkt loop in a child pinned to core 0."""
    command = [sys.executable, __file__, "--child", "dpkt", str(capture), "-", str(port), "0"]
    run = run_measured(pinned(command), timeout_s=timeout_s, env=child_env())
    if run.returncode != 0:
        raise _failed("the dpkt child", run)
    result = last_json(run.stdout, "the dpkt child")
    return Measurement("dpkt", result["messages"], result["seconds"], run.max_rss_bytes, details=result)


def child_dpkt(capture: Path, port: int) -> dict[str, Any]:
    """Inside the pinned child: dpkt parses every frame and DNS message, extracting tshark's fields.

    dpkt has no TCP reassembly; whole length-prefixed messages within a segment are parsed, which on this
    loopback capture is every TCP message.
    """
    import dpkt  # type: ignore[import-untyped]

    inet_ntop, inet, inet6 = socket.inet_ntop, socket.AF_INET, socket.AF_INET6
    rows: list[tuple[Any, ...]] = []
    messages = malformed = 0
    started = time.perf_counter()
    with capture.open("rb") as stream:
        for timestamp, frame in dpkt.pcap.Reader(stream):
            packet = dpkt.ethernet.Ethernet(frame).data
            if isinstance(packet, dpkt.ip.IP):
                src, dst = inet_ntop(inet, packet.src), inet_ntop(inet, packet.dst)
            elif isinstance(packet, dpkt.ip6.IP6):
                src, dst = inet_ntop(inet6, packet.src), inet_ntop(inet6, packet.dst)
            else:
                continue
            segment = packet.data
            if not isinstance(segment, dpkt.udp.UDP | dpkt.tcp.TCP) or port not in (
                segment.sport,
                segment.dport,
            ):
                continue
            payloads = [segment.data] if isinstance(segment, dpkt.udp.UDP) else _tcp_messages(segment.data)
            for payload in payloads:
                try:
                    message = dpkt.dns.DNS(payload)
                except (dpkt.UnpackError, IndexError, ValueError):
                    malformed += 1
                    continue
                qname, qtype = (message.qd[0].name, message.qd[0].type) if message.qd else (None, None)
                rows.append(
                    (timestamp, src, dst, segment.sport, segment.dport, message.id, message.qr, message.rcode,
                     qname, qtype)
                )  # fmt: skip
                messages += 1
            if len(rows) >= 65536:
                rows.clear()
    return {"messages": messages, "malformed": malformed, "seconds": time.perf_counter() - started}


def _tcp_messages(payload: bytes) -> list[bytes]:
    messages, position = [], 0
    while position + 2 <= len(payload):
        length = int.from_bytes(payload[position : position + 2], "big")
        if position + 2 + length > len(payload):
            break
        messages.append(payload[position + 2 : position + 2 + length])
        position += 2 + length
    return messages


# --- the machine, the versions, the report -----------------------------------------------------------------


def machine() -> dict[str, str]:
    """The CPU model, core count, memory, kernel and Debian release this run measured on."""
    cpuinfo = Path("/proc/cpuinfo").read_text()
    model = re.search(r"^model name\s*:\s*(.+)$", cpuinfo, re.MULTILINE)
    memory = re.search(r"^MemTotal:\s+(\d+)", Path("/proc/meminfo").read_text(), re.MULTILINE)
    debian = Path("/etc/debian_version")
    return {
        "cpu": model.group(1).strip() if model else platform.processor() or "unknown",
        "cores": str(os.cpu_count()),
        "memory": f"{int(memory.group(1)) / 1024**2:.1f} GiB" if memory else "unknown",
        "kernel": platform.release(),
        "debian": debian.read_text().strip() if debian.exists() else "not Debian",
    }


def _first_line(command: list[str], pattern: str) -> str:
    try:
        output = subprocess.run(command, capture_output=True, text=True, timeout=20, check=False)
    except OSError:
        return "missing"
    match = re.search(pattern, output.stdout + output.stderr)
    return match.group(1) if match else "unknown"


def versions() -> dict[str, str]:
    """Versions of every tool in the run, and the dnsvigil commit measured."""
    found: dict[str, str] = {
        "tshark": _first_line(["tshark", "--version"], r"TShark \(Wireshark\) (\S+)"),
        "knot": _first_line(["knotd", "--version"], r"version (\S+)"),
        "dnsperf": _first_line(["dnsperf", "-h"], r"Version (\S+)"),
        "python": platform.python_version(),
    }
    for package in ("dpkt", "numba", "numpy", "pyarrow"):
        try:
            found[package] = __import__(package).__version__
        except ImportError:
            found[package] = "missing"
    init = (REPO / "src" / "dnsvigil" / "__init__.py").read_text()
    version = re.search(r'__version__ = "([^"]+)"', init)
    commit = _first_line(["git", "-C", str(REPO), "rev-parse", "--short", "HEAD"], r"(\w+)")
    dirty = subprocess.run(["git", "-C", str(REPO), "status", "--porcelain", "src"], capture_output=True,
                           text=True, check=False).stdout.strip()  # fmt: skip
    found["dnsvigil"] = (
        f"{version.group(1) if version else '?'} (git {commit}{', src/ modified' if dirty else ''})"
    )
    return found


def _bytes(value: int) -> str:
    return f"{value / 1e6:,.0f} MB" if value else "—"


def _ratio(numerator: Measurement | None, denominator: Measurement | None) -> float | None:
    if numerator is None or denominator is None or denominator.rate == 0:
        return None
    return numerator.rate / denominator.rate


def render_results(
    results: dict[str, Measurement], failures: dict[str, str], info: CaptureInfo, context: dict[str, Any]
) -> str:
    """The results as Markdown: the table, the ratios against the targets, the input, machine and versions."""
    reader, ingest, tshark, dpkt = (results.get(tool) for tool in TOOLS)
    what = {
        "reader": (
            "dnsvigil reader",
            "`read_capture` + `decode_messages` → Arrow, called from Python, warm",
            "1",
        ),
        "ingest": (
            "dnsvigil full ingest",
            "`dnsvigil ingest pcap --json` → Parquet, whole command",
            f"{machine_cores()} (all)",
        ),
        "tshark": ("tshark", f"`-T fields`, {len(TSHARK_FIELDS)} fields, `-Y dns`, rows counted", "1"),
        "dpkt": ("dpkt", "`pcap.Reader` + `Ethernet` + `dns.DNS`, same fields, pure Python", "1"),
    }
    lines = [
        "# Ingest benchmark results",
        "",
        f"Run {context['date']} with `{context['command']}`.",
        "",
        "| Tool | What is measured | Cores | Messages | Time (s) | Messages/s | Peak memory | Rounds (s) |",
        "|---|---|---|---:|---:|---:|---:|---:|",
    ]
    for tool in TOOLS:
        name, description, cores = what[tool]
        if tool in results:
            found = results[tool]
            memory = f"{_bytes(found.peak_rss_bytes)} RSS"
            if found.tree_pss_bytes:
                memory += f"; {_bytes(found.tree_pss_bytes)} PSS, all processes"
            rounds = ", ".join(f"{seconds:.2f}" for seconds in found.details["all_seconds"])
            lines.append(
                f"| {name} | {description} | {cores} | {found.messages:,} | {found.seconds:.2f} "
                f"| {found.rate:,.0f} | {memory} | {rounds} |"
            )
        else:
            lines.append(
                f"| {name} | {description} | {cores} | — | — | — "
                f"| not measured: {failures.get(tool, 'not asked for')} | |"
            )
    reader_vs_tshark = _ratio(reader, tshark)
    ingest_peak = max(ingest.peak_rss_bytes, ingest.tree_pss_bytes) if ingest else 0
    reported_seconds = float(ingest.details["summary"].get("seconds") or 0) if ingest else 0.0
    reported_rate = ingest.messages / reported_seconds if ingest and reported_seconds > 0 else 0.0

    def verdict(ok: bool | None) -> str:
        return "—" if ok is None else ("**met**" if ok else "**missed**")

    def times(value: float | None) -> str:
        return "—" if value is None else f"{value:,.1f}×"

    lines += [
        "",
        "| Figure | Measured | Target | |",
        "|---|---:|---:|---|",
        f"| dnsvigil reader / tshark (one core each) | {times(reader_vs_tshark)} "
        f"| ≥ {TARGET_READER_VS_TSHARK:.0f}× "
        f"| {verdict(None if reader_vs_tshark is None else reader_vs_tshark >= TARGET_READER_VS_TSHARK)} |",
        f"| dnsvigil full ingest / tshark | {times(_ratio(ingest, tshark))} | | |",
        f"| dnsvigil reader / dpkt (one core each) | {times(_ratio(reader, dpkt))} | | |",
        f"| dnsvigil full ingest rate, whole command ({machine_cores()} cores) | "
        f"{f'{ingest.rate:,.0f} msg/s' if ingest else '—'} | ≥ {TARGET_INGEST_RATE:,} msg/s "
        f"| {verdict(None if ingest is None else ingest.rate >= TARGET_INGEST_RATE)} |",
        f"| dnsvigil full ingest rate, as the command reports it (start-up excluded) | "
        f"{f'{reported_rate:,.0f} msg/s' if reported_rate else '—'} | ≥ {TARGET_INGEST_RATE:,} msg/s "
        f"| {verdict(None if not reported_rate else reported_rate >= TARGET_INGEST_RATE)} |",
        f"| dnsvigil full ingest peak memory | {_bytes(ingest_peak) if ingest else '—'} | < 1 GB "
        f"| {verdict(None if ingest is None else ingest_peak < TARGET_PEAK_BYTES)} |",
    ]
    counts = {tool: found.messages for tool, found in results.items()}
    if len(set(counts.values())) > 1 or any(count != info.messages for count in counts.values()):
        found_text = ", ".join(f"{tool} {count:,}" for tool, count in counts.items())
        lines += ["", f"**Message counts differ** (the capture holds {info.messages:,}): {found_text}."]
    lines += ["", "## Input", "", *describe_capture(info)]
    lines += ["", "## Machine and versions", ""]
    lines += [f"- {key}: {value}" for key, value in context["machine"].items()]
    lines += [f"- {key}: {value}" for key, value in context["versions"].items()]
    lines += ["", "## Method", "", *method_notes(results, context)]
    return "\n".join(lines) + "\n"


def machine_cores() -> int:
    """The number of CPU cores this machine offers."""
    return os.cpu_count() or 1


def describe_capture(info: CaptureInfo) -> list[str]:
    """Markdown bullets describing the capture the tools read."""
    udp = info.dnsperf.get("udp", {})
    return [
        f"- {info.messages:,} DNS messages ({info.udp_messages:,} over UDP, {info.tcp_messages:,} over TCP) "
        f"in {info.records:,} pcap records, {info.bytes / 1e6:,.0f} MB, Ethernet link type, "
        f"port {info.plan['port']}.",
        "- Real traffic: Knot DNS on 127.0.0.1 answering dnsperf (EDNS0, "
        f"{info.plan['zone_names']:,} generated names with A/AAAA/MX/TXT/SRV/CNAME; ~10% of queries for "
        "names that do not exist, ~2% outside the zone), recorded by dumpcap on `lo`.",
        f"- The live run gave {info.real_messages:,} messages"
        + (
            f"; its records were repeated {info.repeats}× with timestamps moved forward, each copy after "
            "the one before."
            if info.repeats > 1
            else ", enough: no record is repeated."
        ),
        f"- dnsperf UDP run: {float(udp.get('Queries per second', 'nan')):,.0f} queries/s; "
        f"response codes {udp.get('Response codes', '?')}.",
    ]


def method_notes(results: dict[str, Measurement], context: dict[str, Any]) -> list[str]:
    """Markdown bullets saying how each figure was taken, with the warm-up times excluded."""
    notes = [
        "- One run, the same file for every tool, read once beforehand so each finds it in the page cache.",
        "- One-core tools run under `taskset -c 0`; the ingest command runs unpinned on every core.",
        f"- {context['repeat']} round(s) of every tool, interleaved; each figure is the tool's fastest round "
        f"(all rounds in `work/last-run.json`). Machine load: {context['load']}; other work on the machine "
        "during the run slows every tool and makes the figures noisier.",
        "- Messages/s divides the messages each tool itself reported by its time: for the reader and dpkt, "
        "the read loop inside the child (interpreter start and imports excluded); for tshark and the ingest "
        "command, the wall time of the whole command.",
    ]
    if "reader" in results:
        details = results["reader"].details
        notes.append(
            "- Reader: numba compile time excluded by a warm-up on a "
            f"{context['warmup_records']:,}-record sample of the same capture, read whole and in 64 KiB "
            f"chunks (warm-up took {details['warmup_s']:.2f} s); timed pass split "
            f"{details['read_s']:.2f} s in `read_capture`, {details['decode_s']:.2f} s in `decode_messages`; "
            "peak RSS is the child's VmHWM, imports and warm-up included."
        )
    if "ingest" in results:
        details = results["ingest"].details
        notes.append(
            "- Full ingest: wall time of the whole command (interpreter start and imports included), "
            f"after a warm-up run on the sample that took {details['warmup_s']:.2f} s; peak RSS is the "
            "largest process's high-water mark (VmHWM), PSS the whole process tree's sum, both sampled "
            "every 50 ms; "
            f"{details['parquet_bytes'] / 1e6:,.1f} MB of Parquet written."
        )
    notes.append(
        "- tshark: `-n`, `-d udp.port==PORT,dns -d tcp.port==PORT,dns`, `-Y dns`, fields "
        + ", ".join(f"`{name}`" for name in TSHARK_FIELDS)
        + " (the TCP ports added so TCP rows carry ports too); a row holding several messages counts each."
    )
    notes.append("- dpkt: no TCP reassembly (whole length-prefixed messages per segment); addresses as text.")
    return notes


# --- the command line --------------------------------------------------------------------------------------


def build_parser() -> argparse.ArgumentParser:
    """The command line: what the benchmark does, how to run it, and every option."""
    parser = argparse.ArgumentParser(
        prog="benchmarks/ingest.py",
        description=(
            "Measure dnsvigil's pcap reader and full ingest against tshark and dpkt on one capture of real "
            "DNS traffic,\nand write the figures, ratios, machine and versions as Markdown.\n\n"
            "1. The capture: Knot DNS (knotd) serves a generated zone on 127.0.0.1, dnsperf queries it over\n"
            "   UDP and TCP (realistic qtype mix, ~10% NXDOMAIN), dumpcap records 'lo'. It is cached under\n"
            "   benchmarks/work/ and, if short, its records are repeated up to the message count asked for.\n"
            "2. The tools, on the same file: dnsvigil's reader (read_capture + decode_messages, one core,\n"
            "   numba warmed up on a small sample first), `dnsvigil ingest pcap` to Parquet (every core),\n"
            "   tshark -T fields and a dpkt loop (one core each), extracting the same fields.\n"
            "3. The results: messages/s, peak memory, the ratios against the targets (reader >= 40x\n"
            "   tshark on one core; full ingest >= 1,000,000 msg/s on every core; peak memory < 1 GB)."
        ),
        epilog=(
            "examples:\n"
            "  .venv/bin/python benchmarks/ingest.py --repeat 3  # 1M messages; benchmarks/RESULTS.md\n"
            "  .venv/bin/python benchmarks/ingest.py --quick     # 100k messages in ~20 s; work/\n"
            "  .venv/bin/python benchmarks/ingest.py --tools reader,tshark --rebuild\n\n"
            "output: benchmarks/RESULTS.md only after a default-size run in which every tool was measured\n"
            "(commit it); otherwise work/RESULTS-quick.md or work/RESULTS-partial.md. Every figure of the\n"
            "last run is in work/last-run.json; the last recording's logs in work/knot-run/.\n\n"
            "needs: Debian's knot, dnsperf, tshark and wireshark-common (dumpcap), util-linux (taskset),\n"
            "the test extras (dpkt); root, or dumpcap allowed to capture on 'lo'.\n\n"
            "exit status: 0 when every tool asked for was measured; 1 when one failed or the capture could\n"
            "not be built; 2 on a usage error, or when dnsvigil's reader is missing."
        ),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add = parser.add_argument
    add("--quick", action="store_true", help="a 100,000-message capture; results go to work/RESULTS-quick.md")
    add("--messages", type=int, metavar="N", help="a capture of at least N messages (default 1,000,000)")
    add("--rebuild", action="store_true", help="record the capture anew even when a cached one fits")
    add("--tools", default=",".join(TOOLS), help=f"comma-separated subset of {','.join(TOOLS)} (default all)")
    add("--repeat", type=int, default=1, metavar="N", help="rounds of every tool; each keeps its fastest")
    add("--port", type=int, default=53535, help="loopback port knotd listens on (default 53535)")
    add("--tcp-share", type=float, default=0.02, metavar="F", help="share of queries over TCP (default 0.02)")
    add(
        "--chunk-mib",
        type=int,
        default=64,
        metavar="MIB",
        help="capture bytes per batch, for the reader and the ingest command (default 64)",
    )
    add("--timeout", type=float, default=600, metavar="S", help="limit per tool run in seconds (default 600)")
    add("--work", type=Path, default=BENCHMARKS / "work", help="cache and scratch folder (benchmarks/work)")
    add("--results", type=Path, metavar="FILE", help="write the Markdown results here instead")
    add(
        "--allow-missing",
        action="store_true",
        help="when dnsvigil's reader or CLI is not there yet, measure the other tools instead of stopping",
    )
    add("--child", nargs=5, help=argparse.SUPPRESS)
    return parser


def check_dnsvigil(tools: list[str]) -> str | None:
    """Why dnsvigil's reader or CLI cannot be measured, or None when the modules are there."""
    if importlib.util.find_spec("dnsvigil") is None:
        sys.path.insert(0, str(REPO / "src"))
    needed = {
        "reader": ("dnsvigil.ingest.capture_file", "dnsvigil.ingest.dns_wire"),
        "ingest": ("dnsvigil.cli.main",),
    }
    missing = [
        module
        for tool in tools
        for module in needed.get(tool, ())
        if importlib.util.find_spec(module) is None
    ]
    return f"missing modules {', '.join(sorted(set(missing)))}" if missing else None


def main(argv: list[str] | None = None) -> int:
    arguments = build_parser().parse_args(argv)
    if arguments.child:
        kind, capture, warmup, port, chunk_mib = arguments.child
        if kind == "reader":
            result = child_reader(Path(capture), Path(warmup), int(port), int(chunk_mib))
        else:
            result = child_dpkt(Path(capture), int(port))
        print(json.dumps(result))
        return 0
    return run_benchmark(arguments)


def log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def run_benchmark(arguments: argparse.Namespace) -> int:
    tools = [tool.strip() for tool in arguments.tools.split(",") if tool.strip()]
    unknown = set(tools) - set(TOOLS)
    if unknown:
        log(f"unknown tools {', '.join(sorted(unknown))}; choose from {', '.join(TOOLS)}")
        return 2
    missing = check_dnsvigil(tools)
    if missing and not arguments.allow_missing:
        log(MISSING_READER.format(what=missing))
        return 2
    target = arguments.messages or (100_000 if arguments.quick else 1_000_000)
    if arguments.repeat < 1 or arguments.chunk_mib < 1:
        log("--repeat and --chunk-mib must be at least 1")
        return 2
    try:
        plan = CapturePlan(
            target_messages=target,
            query_lines=min(100_000, max(10_000, target // 10)),
            port=arguments.port,
            tcp_share=arguments.tcp_share,
        )
    except ValueError as error:
        log(f"bad option: {error}")
        return 2
    work: Path = arguments.work.resolve()
    try:
        info = build_capture(plan, work, rebuild=arguments.rebuild, log=log)
    except CaptureBuildError as error:
        log(f"could not build the capture: {error}")
        return 1
    capture = Path(info.path).resolve()
    warmup = work / "warmup.pcap"
    warmup_records = write_sample(capture, warmup, plan.port)
    with capture.open("rb") as stream:
        while stream.read(16 << 20):
            pass

    results: dict[str, Measurement] = {}
    failures: dict[str, str] = {}
    steps: dict[str, Callable[[], Measurement]] = {
        "reader": lambda: measure_reader(capture, warmup, plan.port, arguments.chunk_mib, arguments.timeout),
        "ingest": lambda: measure_ingest(
            capture, warmup, plan.port, arguments.chunk_mib, work, arguments.timeout
        ),
        "tshark": lambda: measure_tshark(capture, plan.port, arguments.timeout),
        "dpkt": lambda: measure_dpkt(capture, plan.port, arguments.timeout),
    }
    load_before = os.getloadavg()
    runs: dict[str, list[Measurement]] = {}
    # Rounds interleave the tools, so that a burst of other load on the machine falls on all of them alike.
    for round_number in range(1, arguments.repeat + 1):
        for tool in tools:
            if tool in failures:
                continue
            if missing and tool in ("reader", "ingest"):
                failures[tool] = missing
                continue
            log(
                f"round {round_number}/{arguments.repeat}: measuring {tool} on {info.messages:,} messages ..."
            )
            try:
                found = steps[tool]()
            except BenchmarkError as error:
                failures[tool] = str(error).splitlines()[0]
                log(f"{tool} failed: {error}")
                continue
            runs.setdefault(tool, []).append(found)
            log(f"{tool}: {found.messages:,} messages in {found.seconds:.2f} s = {found.rate:,.0f} msg/s, "
                f"peak RSS {_bytes(found.peak_rss_bytes)}")  # fmt: skip
    for tool, measured in runs.items():
        if tool not in failures:
            results[tool] = min(measured, key=lambda found: found.seconds)
            results[tool].details["all_seconds"] = [round(found.seconds, 3) for found in measured]

    context = {
        "date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "command": " ".join(["benchmarks/ingest.py", *(sys.argv[1:])]),
        "machine": machine(),
        "versions": versions(),
        "warmup_records": warmup_records,
        "repeat": arguments.repeat,
        "load": f"{load_before[0]:.2f} before, {os.getloadavg()[0]:.2f} after (1-minute load average)",
    }
    report = render_results(results, failures, info, context)
    print(report)
    (work / "last-run.json").write_text(
        json.dumps(
            {"results": {k: asdict(v) for k, v in results.items()}, "failures": failures,
             "capture": asdict(info), **context},
            indent=2,
            default=str,
        )
    )  # fmt: skip
    complete = not failures and set(results) == set(TOOLS)
    if arguments.results is not None:
        results_path = arguments.results
    elif arguments.quick or arguments.messages:
        results_path = work / "RESULTS-quick.md"
    else:
        # Only a full run of every tool replaces the committed results.
        results_path = BENCHMARKS / "RESULTS.md" if complete else work / "RESULTS-partial.md"
    results_path.write_text(report)
    not_measured = [tool for tool in TOOLS if tool not in results]
    log(f"wrote {results_path}" + (f"; not measured: {', '.join(not_measured)}" if not_measured else ""))
    return 1 if failures else 0


if __name__ == "__main__":
    signal.signal(signal.SIGPIPE, signal.SIG_DFL)
    raise SystemExit(main())
