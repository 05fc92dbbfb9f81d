"""The dnstap watcher's own cost: Knot DNS's dnstap recorded at full rate, replayed into the watcher.

1. Record: Knot serves the ingest benchmark's zone under dnsperf at full rate for `--record-seconds`, its
   `mod-dnstap` writing to a file (kept under benchmarks/scratch/detect-replay/ for later runs).
2. Replay, for each piece size and placement: the file is sent into a fresh watcher's socket paced to
   `--rate` messages a second, in pieces of that many bytes (Knot writes small ones); the watcher stores and
   runs its detectors with default settings and is stopped once its input is stored. Its CPU comes from its
   rusage, less what a watcher that receives nothing uses over its start-up.

Results: benchmarks/REPLAY.md (default options) or benchmarks/scratch/REPLAY-partial.md. See DETECT.md's
notes.
"""

from __future__ import annotations

import argparse
import sys
from datetime import UTC, datetime
from pathlib import Path

BENCHMARKS = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCHMARKS))

from detect_bench.replay import Recording, Replay, record, replay  # noqa: E402
from ingest_bench.report import machine, versions  # noqa: E402

WORK = BENCHMARKS / "scratch" / "detect-replay"


def build_parser() -> argparse.ArgumentParser:
    """The command line."""
    parser = argparse.ArgumentParser(
        prog="benchmarks/dnstap_replay.py",
        description=__doc__.split("\n\n")[0] if __doc__ else None,
        epilog=(
            "example:\n"
            "  .venv/bin/python benchmarks/dnstap_replay.py --rate 330000 --pieces 4096,65536 --cpus any,1"
        ),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--record-seconds", type=int, default=20, help="dnsperf's -l for the recording")
    parser.add_argument("--rerecord", action="store_true", help="record anew even if a recording exists")
    parser.add_argument("--rate", type=int, default=330_000, help="messages a second sent to the watcher")
    parser.add_argument(
        "--pieces", type=_sizes, default="4096,65536", help="bytes per send, comma-separated (1..1048576)"
    )
    parser.add_argument(
        "--cpus", default="any,1", help="the watcher's CPUs per run ('any', or a taskset list)"
    )
    return parser


def main(argv: list[str] | None = None) -> int:
    """Record if needed, replay as asked, write the table."""
    options = build_parser().parse_args(argv)
    if not 1 <= options.record_seconds <= 120 or not 1_000 <= options.rate <= 2_000_000:
        raise SystemExit("choose 1..120 recording seconds and 1,000..2,000,000 messages a second")
    tap = WORK / "knot.tap"
    count = WORK / "messages.txt"
    if options.rerecord or not tap.exists() or not count.exists():
        recording = record(WORK, options.record_seconds)
        count.write_text(str(recording.messages))
    else:
        recording = Recording(tap, int(count.read_text()))
    runs: list[Replay] = []
    for cpus in options.cpus.split(","):
        for piece in options.pieces:
            runs.append(
                replay(recording, rate=options.rate, piece_bytes=piece, cpus=None if cpus == "any" else cpus)
            )
            print(f"  {_row(runs[-1])}", flush=True)
    host, tools = machine(), versions()
    lines = [
        "# dnstap watcher: Knot's recorded dnstap replayed",
        "",
        f"`benchmarks/dnstap_replay.py` on {host['cpu']}, {host['cores']} cores, dnsvigil "
        f"{tools.get('dnsvigil', 'unknown')}, {datetime.now(UTC):%Y-%m-%d}: Knot's dnstap of "
        f"{recording.messages // 2:,} answers "
        f"({recording.path.stat().st_size:,} bytes) sent at {options.rate:,} a second; sender: any core.",
        "",
        "| watcher's CPUs | bytes per send | seconds to send | received | stored | dropped "
        "| CPU (s), start-up less | µs a message |",
        "|---|---|---|---|---|---|---|---|",
        *(f"| {_row(run)} |" for run in runs),
    ]
    defaults = build_parser().parse_args([])
    asked = (options.rate, options.pieces, options.cpus)
    default = asked == (defaults.rate, defaults.pieces, defaults.cpus)
    target = BENCHMARKS / "REPLAY.md" if default else BENCHMARKS / "scratch" / "REPLAY-partial.md"
    target.write_text("\n".join(lines) + "\n")
    print(f"results in {target}")
    return 0


def _sizes(text: str) -> tuple[int, ...]:
    """A comma-separated list of send sizes, checked before anything is recorded."""
    try:
        sizes = tuple(int(size) for size in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a list of byte counts: {text!r}") from None
    if not all(1 <= size <= 1 << 20 for size in sizes):
        raise argparse.ArgumentTypeError(f"each size must be 1..1048576 bytes: {text!r}")
    return sizes


def _row(run: Replay) -> str:
    summary = run.summary
    return (
        f"{run.cpus} | {run.piece_bytes:,} | {run.sent_s:.1f} | {summary.get('received', 0):,} | "
        f"{summary.get('stored', 0):,} | {summary.get('dropped', 0):,} | "
        f"{run.cpu_s - run.startup_cpu_s:.1f} | {run.us_per_message:.2f}"
    )


if __name__ == "__main__":
    sys.exit(main())
