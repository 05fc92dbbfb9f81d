"""The results as Markdown: figures, ratios against the targets, the input, the machine and the method."""

from __future__ import annotations

import os
import platform
import re
import subprocess
from pathlib import Path
from typing import Any

from ingest_bench.capture_plan import CaptureInfo
from ingest_bench.processes import REPO, Measurement
from ingest_bench.tools import TSHARK_FIELDS

TARGET_READER_VS_TSHARK = 40.0
TARGET_INGEST_RATE = 1_000_000
TARGET_PEAK_BYTES = 1_000_000_000
TOOLS = ("reader", "ingest", "tshark", "dpkt", "ingest-scaled")
"""The measured tools; `ingest-scaled` is the extra row: the ingest command on a capture repeated in time."""


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


def format_bytes(value: int) -> str:
    return f"{value / 1e6:,.0f} MB" if value else "—"


def _ratio(numerator: Measurement | None, denominator: Measurement | None) -> float | None:
    if numerator is None or denominator is None or denominator.rate == 0:
        return None
    return numerator.rate / denominator.rate


def render_results(
    results: dict[str, Measurement], failures: dict[str, str], info: CaptureInfo, context: dict[str, Any]
) -> str:
    """The results as Markdown: the table, the ratios against the targets, the input, machine and versions."""
    reader, ingest, tshark, dpkt, scaled = (results.get(tool) for tool in TOOLS)
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
        "ingest-scaled": (
            f"*extra:* dnsvigil full ingest, input ×{context['scale']}",
            f"as above, on the capture repeated {context['scale']}× in time (not the others' file)",
            f"{machine_cores()} (all)",
        ),
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
            memory = f"{format_bytes(found.peak_rss_bytes)} RSS"
            if found.tree_pss_bytes:
                memory += f"; {format_bytes(found.tree_pss_bytes)} PSS, all processes"
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
        f"| dnsvigil full ingest peak memory | {format_bytes(ingest_peak) if ingest else '—'} | < 1 GB "
        f"| {verdict(None if ingest is None else ingest_peak < TARGET_PEAK_BYTES)} |",
    ]
    if scaled is not None:
        scaled_peak = max(scaled.peak_rss_bytes, scaled.tree_pss_bytes)
        extra = f"*extra:* full ingest on the input ×{context['scale']}"
        lines += [
            f"| {extra}, rate of the whole command (start-up amortised) | {scaled.rate:,.0f} msg/s | | |",
            f"| {extra}, peak memory | {format_bytes(scaled_peak)} "
            f"| < 1 GB | {verdict(scaled_peak < TARGET_PEAK_BYTES)} |",
        ]
    counts = {tool: found.messages for tool, found in results.items() if tool != "ingest-scaled"}
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
        f"- dnsvigil reads the capture in chunks of {context['chunk']}, reader and ingest command alike.",
        f"- {context['repeat']} round(s) of every tool, interleaved; each figure is the tool's fastest round "
        f"(all rounds in `scratch/last-run.json`). Machine load: {context['load']}; other work on the "
        "machine during the run slows every tool and makes the figures noisier.",
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
    if "ingest-scaled" in results:
        found = results["ingest-scaled"]
        notes.append(
            f"- Extra row, not part of the comparison: the same ingest command on the capture's records "
            f"repeated {context['scale']}× with timestamps moved forward ({found.messages:,} messages, "
            f"{context['scaled_bytes'] / 1e6:,.0f} MB), to show the rate once start-up is amortised and that "
            f"memory stays bounded as the input grows; the command itself reported "
            f"{float(found.details['summary'].get('seconds') or 0):.2f} s."
        )
    notes.append(
        "- tshark: `-n`, `-d udp.port==PORT,dns -d tcp.port==PORT,dns`, `-Y dns`, fields "
        + ", ".join(f"`{name}`" for name in TSHARK_FIELDS)
        + " (the TCP ports added so TCP rows carry ports too); a row holding several messages counts each."
    )
    notes.append("- dpkt: no TCP reassembly (whole length-prefixed messages per segment); addresses as text.")
    return notes
