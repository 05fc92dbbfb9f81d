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
import importlib.util
import json
import os
import signal
import sys
import time
from collections.abc import Callable
from dataclasses import asdict
from datetime import UTC, datetime
from pathlib import Path

BENCHMARKS = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCHMARKS))

from ingest_bench.capture_plan import CaptureBuildError, CapturePlan  # noqa: E402
from ingest_bench.pcap_records import read_pcap, write_repeated, write_sample  # noqa: E402
from ingest_bench.processes import REPO, BenchmarkError, Measurement  # noqa: E402
from ingest_bench.report import TOOLS, format_bytes, machine, render_results, versions  # noqa: E402
from ingest_bench.tools import (  # noqa: E402
    child_dpkt,
    child_reader,
    default_chunk_mib,
    measure_dpkt,
    measure_ingest,
    measure_reader,
    measure_tshark,
)
from knot_capture import build_capture  # noqa: E402

MISSING_READER = (
    "dnsvigil's reader is not available: {what}.\n"
    "The benchmark needs src/dnsvigil/ingest/capture_file.py (read_capture), "
    "src/dnsvigil/ingest/dns_wire.py (decode_messages) and the `dnsvigil ingest pcap` command.\n"
    "Run with --allow-missing (or --tools tshark,dpkt) to measure the other tools alone; the results then "
    "go to benchmarks/scratch/RESULTS-partial.md."
)


def build_parser() -> argparse.ArgumentParser:
    """The command line: what the benchmark does, how to run it, and every option."""
    parser = argparse.ArgumentParser(
        prog="benchmarks/ingest.py",
        description=(
            "Measure dnsvigil's pcap reader and full ingest against tshark and dpkt on one capture of real "
            "DNS traffic,\nand write the figures, ratios, machine and versions as Markdown.\n\n"
            "1. The capture: Knot DNS (knotd) serves a generated zone on 127.0.0.1, dnsperf queries it over\n"
            "   UDP and TCP (realistic qtype mix, ~10% NXDOMAIN), dumpcap records 'lo'. It is cached under\n"
            "   benchmarks/scratch/ and, if short, its records are repeated up to the message count asked.\n"
            "2. The tools, on the same file: dnsvigil's reader (read_capture + decode_messages, one core,\n"
            "   numba warmed up on a small sample first), `dnsvigil ingest pcap` to Parquet (every core),\n"
            "   tshark -T fields and a dpkt loop (one core each), extracting the same fields.\n"
            "3. The results: messages/s, peak memory, the ratios against the targets (reader >= 40x\n"
            "   tshark on one core; full ingest >= 1,000,000 msg/s on every core; peak memory < 1 GB)."
        ),
        epilog=(
            "examples:\n"
            "  .venv/bin/python benchmarks/ingest.py --repeat 3  # 1M messages; benchmarks/RESULTS.md\n"
            "  .venv/bin/python benchmarks/ingest.py --quick     # 100k messages in ~20 s; scratch/\n"
            "  .venv/bin/python benchmarks/ingest.py --tools reader,tshark --rebuild\n\n"
            "output: benchmarks/RESULTS.md only after a default-size run in which every tool was measured\n"
            "(commit it); otherwise scratch/RESULTS-quick.md or scratch/RESULTS-partial.md. Every figure\n"
            "of the last run is in scratch/last-run.json; the last recording's logs in scratch/knot-run/.\n\n"
            "needs: Debian's knot, dnsperf, tshark and wireshark-common (dumpcap), util-linux (taskset),\n"
            "the test extras (dpkt); root, or dumpcap allowed to capture on 'lo'.\n\n"
            "exit status: 0 when every tool asked for was measured; 1 when one failed or the capture could\n"
            "not be built; 2 on a usage error, or when dnsvigil's reader is missing."
        ),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add = parser.add_argument
    add("--quick", action="store_true", help="a 100,000-message capture; results in scratch/RESULTS-quick.md")
    add("--messages", type=int, metavar="N", help="a capture of at least N messages (default 1,000,000)")
    add("--rebuild", action="store_true", help="record the capture anew even when a cached one fits")
    add("--tools", default=",".join(TOOLS), help=f"comma-separated subset of {','.join(TOOLS)} (default all)")
    add("--repeat", type=int, default=1, metavar="N", help="rounds of every tool; each keeps its fastest")
    add("--port", type=int, default=53535, help="loopback port knotd listens on (default 53535)")
    add("--tcp-share", type=float, default=0.02, metavar="F", help="share of queries over TCP (default 0.02)")
    add(
        "--chunk-mib",
        type=int,
        metavar="MIB",
        help="capture bytes per batch, for the reader and the ingest command (default: dnsvigil's own)",
    )
    add(
        "--scale",
        type=int,
        default=10,
        metavar="N",
        help="the extra row: ingest the capture repeated N times in time (default 10; 1 skips it)",
    )
    add("--timeout", type=float, default=600, metavar="S", help="limit per tool run in seconds (default 600)")
    add("--work", type=Path, default=BENCHMARKS / "scratch", help="cache and scratch folder")
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
    if arguments.repeat < 1 or (arguments.chunk_mib is not None and arguments.chunk_mib < 1):
        log("--repeat and --chunk-mib must be at least 1")
        return 2
    chunk_mib = arguments.chunk_mib or (default_chunk_mib() if not missing else 8)
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
    scaled = capture.with_name(f"{capture.stem}-x{arguments.scale}.pcap")
    if arguments.scale < 2:
        tools = [tool for tool in tools if tool != "ingest-scaled"]
    elif "ingest-scaled" in tools and (
        not scaled.exists() or scaled.stat().st_mtime < capture.stat().st_mtime
    ):
        log(f"writing the capture repeated {arguments.scale}x in time to {scaled} (the extra row) ...")
        write_repeated(read_pcap(capture), scaled, arguments.scale)
    for path in (capture, *([scaled] if "ingest-scaled" in tools else [])):
        with path.open("rb") as stream:
            while stream.read(16 << 20):
                pass

    results: dict[str, Measurement] = {}
    failures: dict[str, str] = {}
    steps: dict[str, Callable[[], Measurement]] = {
        "reader": lambda: measure_reader(capture, warmup, plan.port, chunk_mib, arguments.timeout),
        "ingest": lambda: measure_ingest(capture, warmup, plan.port, chunk_mib, work, arguments.timeout),
        "tshark": lambda: measure_tshark(capture, plan.port, arguments.timeout),
        "dpkt": lambda: measure_dpkt(capture, plan.port, arguments.timeout),
        "ingest-scaled": lambda: measure_ingest(
            scaled, warmup, plan.port, chunk_mib, work, arguments.timeout, "ingest-scaled"
        ),
    }
    load_before = os.getloadavg()
    runs: dict[str, list[Measurement]] = {}
    # Rounds interleave the tools, so that a burst of other load on the machine falls on all of them alike.
    for round_number in range(1, arguments.repeat + 1):
        for tool in tools:
            if tool in failures:
                continue
            if missing and tool in ("reader", "ingest", "ingest-scaled"):
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
                f"peak RSS {format_bytes(found.peak_rss_bytes)}")  # fmt: skip
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
        "chunk": f"{chunk_mib} MiB" + ("" if arguments.chunk_mib else " (dnsvigil's default)"),
        "scale": arguments.scale,
        "scaled_bytes": scaled.stat().st_size if scaled.exists() else 0,
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
    complete = not failures and set(results) >= set(TOOLS) - {"ingest-scaled"}
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
