"""Traffic detection benchmark: precision and recall on labelled attack captures, and live-mode throughput.

1. The labelled set: for each seed, the demo's attack capture with every attack kind at several
   intensities (weak ones near the thresholds included) between ordinary windows; `dnsvigil ingest pcap`
   and `dnsvigil traffic detect` run as commands; each detector's window-level precision and recall, with
   Clopper-Pearson intervals, recall by intensity, and false alarms in ordinary windows.
2. Live mode: Knot DNS driven by dnsperf at full rate on loopback, alone (the rate Knot sustains here) and
   with mod-dnstap streaming to a null reader (what Knot's own dnstap queue loses here) and to
   `dnsvigil watch dnstap` with its detectors on, at full rate and at fixed rates: what dnsperf achieved,
   what Knot answered, what its queue lost, what dnsvigil received, stored and dropped.

The results go to benchmarks/DETECT.md (a full default run; `--skip-labelled` with the default live
options replaces only its live section) or benchmarks/scratch/DETECT-partial.md. See benchmarks/README.md.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

BENCHMARKS = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCHMARKS))

from detect_bench.labelled import run_seed  # noqa: E402
from detect_bench.live import PINNED_APART, SHARED, run_live  # noqa: E402
from detect_bench.report import labelled_section, live_section, with_live_section  # noqa: E402
from detect_bench.scoring import score  # noqa: E402
from ingest_bench.report import machine, versions  # noqa: E402

SCRATCH = BENCHMARKS / "scratch"
DEFAULT_SEEDS = 4
DEFAULT_LIVE_SECONDS = 20
DEFAULT_LIVE_RATES = (0, 40_000, 20_000, 10_000)


def build_parser() -> argparse.ArgumentParser:
    """The command line."""
    parser = argparse.ArgumentParser(
        prog="benchmarks/detect.py",
        description=__doc__.split("\n\n")[0] if __doc__ else None,
        epilog=(
            "examples:\n"
            "  .venv/bin/python benchmarks/detect.py                  # everything; benchmarks/DETECT.md\n"
            "  .venv/bin/python benchmarks/detect.py --seeds 1 --skip-live   # ~15 s; scratch/\n"
            "  .venv/bin/python benchmarks/detect.py --skip-labelled --live-seconds 5"
        ),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--seeds", type=int, default=DEFAULT_SEEDS, help="labelled captures, seeds 1..N")
    parser.add_argument("--live-seconds", type=int, default=DEFAULT_LIVE_SECONDS, help="dnsperf's -l per run")
    parser.add_argument(
        "--live-rates",
        default=",".join(str(rate) for rate in DEFAULT_LIVE_RATES),
        help="queries/s of the runs with dnstap, comma-separated; 0 is full rate",
    )
    parser.add_argument(
        "--pin-apart",
        action="store_true",
        help="knotd and dnsperf on CPU 0, the reader on CPU 1: does it keep up given a core of its own?",
    )
    parser.add_argument(
        "--busy-neighbour",
        action="store_true",
        help="also a run per rate with the null reader beside a process keeping a core busy",
    )
    parser.add_argument("--skip-live", action="store_true", help="leave out the Knot/dnsperf runs")
    parser.add_argument("--skip-labelled", action="store_true", help="leave out the labelled set")
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run what was asked and write the Markdown results."""
    options = build_parser().parse_args(argv)
    if not 1 <= options.seeds <= 20 or not 1 <= options.live_seconds <= 600:
        raise SystemExit("choose 1..20 seeds and 1..600 live seconds")
    started = time.perf_counter()
    host = machine()
    tools = versions()
    today = f"{datetime.now(UTC):%Y-%m-%d}"
    lines: list[str] = []
    if not options.skip_labelled:
        runs = []
        for seed in range(1, options.seeds + 1):
            print(f"seed {seed}: generating, ingesting, detecting", flush=True)
            runs.append(run_seed(seed, SCRATCH / "detect"))
        lines += labelled_section(runs, score((run.truth, run.findings) for run in runs))
    live: list[str] = []
    if not options.skip_live:
        rates = tuple(int(rate) for rate in options.live_rates.split(",") if rate.strip())
        load = os.getloadavg()
        placement = PINNED_APART if options.pin_apart else SHARED
        when = (
            f"{today} on {host['cpu']}, {host['cores']} cores, dnsvigil {tools.get('dnsvigil', 'unknown')}; "
            f"{placement.describe()}"
        )
        live = live_section(
            run_live(
                SCRATCH / "detect-live",
                options.live_seconds,
                rates,
                placement=placement,
                busy_neighbour=options.busy_neighbour,
            ),
            options.live_seconds,
            when=when,
            load=load,
        )
    default_live = (
        options.live_seconds == DEFAULT_LIVE_SECONDS
        and options.live_rates == ",".join(str(rate) for rate in DEFAULT_LIVE_RATES)
        and not options.pin_apart
        and not options.busy_neighbour
    )
    results = BENCHMARKS / "DETECT.md"
    if options.skip_labelled and live and default_live and results.exists():
        # The live part alone, as committed: the labelled section and the header stay as they were.
        results.write_text(with_live_section(results.read_text(), live))
        print(f"live section replaced in {results}")
        return 0
    partial = options.skip_live or options.skip_labelled
    full = options.seeds == DEFAULT_SEEDS and not partial and default_live
    target = results if full else SCRATCH / "DETECT-partial.md"
    header = [
        "# Traffic detection: precision, recall and live throughput",
        "",
        f"`benchmarks/detect.py` on {host['cpu']}, {host['cores']} cores, {host['memory']}, kernel "
        f"{host['kernel']}, Debian {host['debian']}; dnsvigil {tools.get('dnsvigil', 'unknown')}, "
        f"{today}; the run took {time.perf_counter() - started:.0f} s.",
        "",
    ]
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text("\n".join(header + lines + ([""] if lines and live else []) + live) + "\n")
    print(f"results in {target}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
