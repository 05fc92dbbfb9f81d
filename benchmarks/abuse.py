"""Registration-abuse scale benchmark: a synthetic .com-sized day through dnsvigil's ingest and analysis.

The issue's requirement: 160 million delegated domains in a zone file, 10 million registrations and 2 million
feed listings, through `dnsvigil ingest zone|registrations|registrars|dum|feed` and `dnsvigil abuse analyze`
on a 2-core, 24 GB machine, in under 10 minutes, the zone at 1,000,000 names/s or more; time and peak memory
per stage; and, side by side, a straightforward pandas implementation of the same monthly rates on a size
pandas can hold, checked to give the same answers as dnsvigil on the same files. See benchmarks/README.md.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import time
from dataclasses import asdict
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

BENCHMARKS = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCHMARKS))
sys.path.insert(0, str(BENCHMARKS.parent / "src"))

from abuse_bench.day_files import cached_inputs, input_folder, needed_bytes, write_day  # noqa: E402
from abuse_bench.day_world import DayPlan  # noqa: E402
from abuse_bench.report import package_versions, render  # noqa: E402
from abuse_bench.stages import (  # noqa: E402
    BenchmarkError,
    child_profile,
    child_rates,
    compare_rates,
    run_child,
    run_day,
    stored_rates,
)
from ingest_bench.report import machine, versions  # noqa: E402

FULL = DayPlan(160_000_000, 10_000_000, 2_000_000)
COMPARE = DayPlan(10_000_000, 1_000_000, 200_000)
WARMUP = DayPlan(50_000, 5_000, 2_000)
SCRATCH = BENCHMARKS / "scratch"


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="benchmarks/abuse.py",
        description=(
            "Run a synthetic .com-sized day (zone file, registrations, registrar list, transaction report,\n"
            "abuse feeds) through every dnsvigil registration-abuse command, measuring each; run a pandas\n"
            "implementation of the same monthly rates beside dnsvigil on a smaller copy and check that both\n"
            "give the same rates; write the figures, the targets' verdicts and the machine as Markdown."
        ),
        epilog=(
            "examples:\n"
            "  .venv/bin/python benchmarks/abuse.py                 # the issue's sizes; "
            "benchmarks/ABUSE.md\n"
            "  .venv/bin/python benchmarks/abuse.py --quick         # 1/100 of them; scratch/ABUSE-quick.md\n"
            "  .venv/bin/python benchmarks/abuse.py --skip-day      # only the pandas comparison\n\n"
            "inputs are cached under benchmarks/scratch/abuse/inputs/ (the full day's zone file is ~23 GB:\n"
            "--clean deletes them after the run); each run ingests into a fresh warehouse, deleted after.\n"
            "needs: pandas (not in the project's locks: .venv/bin/pip install pandas).\n\n"
            "exit status: 0 when every stage ran and pandas and dnsvigil agree; 1 when a stage failed or\n"
            "the answers differ; 2 on a usage error or too little disk space."
        ),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add = parser.add_argument
    add("--delegations", type=int, default=FULL.delegations, help="zone size (default 160,000,000)")
    add("--registrations", type=int, default=FULL.registrations, help="registrations (default 10,000,000)")
    add("--listings", type=int, default=FULL.listings, help="feed listings (default 2,000,000)")
    add("--quick", action="store_true", help="1/100 of the sizes (and of the comparison's)")
    add("--compare", default=f"{COMPARE.delegations},{COMPARE.registrations},{COMPARE.listings}",
        help="pandas comparison sizes: DELEGATIONS,REGISTRATIONS,LISTINGS (default %(default)s)")  # fmt: skip
    add("--skip-day", action="store_true", help="run only the pandas comparison")
    add("--skip-compare", action="store_true", help="run only the day")
    add(
        "--profile", action="store_true", help="also time each part of `abuse analyze` on the day's warehouse"
    )
    add("--seed", type=int, default=1)
    add(
        "--timeout", type=float, default=1800, metavar="S", help="limit per command in seconds (default 1800)"
    )
    add("--work", type=Path, default=SCRATCH / "abuse", help="cache and scratch folder")
    add("--out", type=Path, help="write the Markdown here")
    add("--clean", action="store_true", help="delete the cached inputs of this run's sizes afterwards")
    add("--child", nargs="+", help=argparse.SUPPRESS)
    return parser


def log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def main(argv: list[str] | None = None) -> int:
    arguments = build_parser().parse_args(argv)
    if arguments.child:
        kind, *rest = arguments.child
        if kind == "pandas":
            from abuse_bench.pandas_rates import main as pandas_main

            pandas_main(Path(rest[0]), Path(rest[1]))
            return 0
        result = child_rates(Path(rest[0])) if kind == "rates" else child_profile(Path(rest[0]))
        print(json.dumps(result))
        return 0
    try:
        return run(arguments)
    except BenchmarkError as error:
        log(f"failed: {error}")
        return 1


def plans(arguments: argparse.Namespace) -> tuple[DayPlan, DayPlan]:
    scale = 100 if arguments.quick else 1
    try:
        compare = [int(part) for part in arguments.compare.split(",")]
        day = DayPlan(arguments.delegations // scale, arguments.registrations // scale,
                      arguments.listings // scale,
                      arguments.seed)  # fmt: skip
        smaller = DayPlan(*(size // (10 if arguments.quick else 1) for size in compare), arguments.seed)
    except (ValueError, TypeError) as error:
        raise SystemExit(f"bad sizes: {error}") from None
    return day, smaller


def ensure_inputs(plan: DayPlan, work: Path) -> dict[str, Any]:
    """The cached inputs of `plan`, written first if missing (after checking the disk has room)."""
    manifest = cached_inputs(work, plan)
    if manifest is not None:
        log(f"using cached inputs {input_folder(work, plan)} ({manifest['bytes'] / 1e9:,.1f} GB)")
        return manifest
    work.mkdir(parents=True, exist_ok=True)
    free = shutil.disk_usage(work).free
    # Room for the files, and for the warehouse (~15 bytes a delegation) and DuckDB's spill beside them.
    needed = needed_bytes(plan) + plan.delegations * 30 + (2 << 30)
    if free < needed:
        raise DiskError(
            f"{work}: {free / 1e9:,.1f} GB free, the {plan.name} inputs and warehouse need about "
            f"{needed / 1e9:,.1f} GB; free some space, use --work on a larger disk, or smaller sizes"
        )
    return write_day(work, plan, log)


class DiskError(RuntimeError):
    """Not enough free disk space for the inputs and the warehouse."""


def run(arguments: argparse.Namespace) -> int:
    day, smaller = plans(arguments)
    work: Path = arguments.work.resolve()
    work.mkdir(parents=True, exist_ok=True)
    load_before = os.getloadavg()
    context: dict[str, Any] = {
        "date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "command": " ".join(
            [".venv/bin/python benchmarks/abuse.py", *(sys.argv[1:] if argv_is_ours() else [])]
        ),
        "plan": asdict(day),
        "runs": [],
        "machine": machine(),
        "memory": machine()["memory"],
    }
    try:
        manifests = {plan.name: ensure_inputs(plan, work) for plan in (WARMUP, smaller, day)
                     if not (plan is day and arguments.skip_day)
                     and not (plan is smaller and arguments.skip_compare)}  # fmt: skip
    except DiskError as error:
        log(str(error))
        return 2
    # The runs' DuckDB spill files (`.tmp`) and warehouses go under work/, not where the command was run.
    os.chdir(work)
    home = work / "warehouse"
    log("warm-up: the whole day on a tiny copy (fills numba's cache) ...")
    started = time.perf_counter()
    run_day(WARMUP, work, home, arguments.timeout, lambda _: None)
    warmup_s = time.perf_counter() - started
    status = 0
    if not arguments.skip_compare:
        context["comparison"] = run_comparison(smaller, work, home, arguments.timeout)
        status = 0 if context["comparison"]["check"]["same"] else 1
    if not arguments.skip_day:
        log(f"the day: {day.name} ...")
        context["runs"] = run_day(day, work, home, arguments.timeout, log)
        if arguments.profile:
            log("profiling abuse analyze, part by part ...")
            context["profile"] = run_child("profile", [str(home)], arguments.timeout)[0]["seconds"]
    shutil.rmtree(home, ignore_errors=True)
    context["load_before"] = ", ".join(f"{value:.2f}" for value in load_before)
    context["load_after"] = ", ".join(f"{value:.2f}" for value in os.getloadavg())
    found = versions()
    context["versions"] = {"python": found["python"], "dnsvigil": found["dnsvigil"], **package_versions()}
    context["input_notes"] = input_notes(manifests, day, smaller)
    context["notes"] = notes(warmup_s, context)
    out = arguments.out or default_out(arguments, day)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(render(context))
    (work / "last-run.json").write_text(
        json.dumps(
            context,
            default=lambda value: asdict(value) if hasattr(value, "__dataclass_fields__") else str(value),
            indent=1,
        )
    )
    log(f"results in {out}")
    if arguments.clean:
        for plan in (day, smaller):
            shutil.rmtree(input_folder(work, plan), ignore_errors=True)
    return status


def argv_is_ours() -> bool:
    return Path(sys.argv[0]).name == "abuse.py"


def default_out(arguments: argparse.Namespace, day: DayPlan) -> Path:
    if arguments.quick:
        return SCRATCH / "ABUSE-quick.md"
    if day == FULL and not arguments.skip_day and not arguments.skip_compare:
        return BENCHMARKS / "ABUSE.md"
    return SCRATCH / "ABUSE-partial.md"


def run_comparison(plan: DayPlan, work: Path, home: Path, timeout_s: float) -> dict[str, Any]:
    """pandas and dnsvigil on the same `plan` files; their rates compared."""
    log(f"comparison on {plan.name}: pandas ...")
    rates_file = work / "pandas-rates.parquet"
    pandas_json, pandas_rss, _, pandas_wall = run_child(
        "pandas", [str(input_folder(work, plan)), str(rates_file)], timeout_s
    )
    log(f"  pandas: {pandas_wall:.1f} s, peak RSS {pandas_rss / 1e6:,.0f} MB")
    log("comparison: dnsvigil ...")
    runs = run_day(plan, work, home, timeout_s, log)
    rates_json, rates_rss, _, _ = run_child("rates", [str(home)], timeout_s)
    import pandas as pd

    check = compare_rates(stored_rates(home), pd.read_parquet(rates_file))
    rates_file.unlink()
    log(f"  same rates: {check['same']} ({check['matched']:,} rows matched, {check['different']:,} differ, "
        f"{check['only_dnsvigil']:,} only dnsvigil, {check['only_pandas']:,} only pandas)")  # fmt: skip
    if not check["same"]:
        log(f"  examples: {check['examples']}")
    return {"plan": asdict(plan), "pandas": pandas_json, "pandas_rss": pandas_rss,
            "pandas_wall_s": pandas_wall,
            "runs": runs, "rates_only": rates_json, "rates_only_rss": rates_rss, "check": check}  # fmt: skip


def input_notes(manifests: dict[str, Any], day: DayPlan, smaller: DayPlan) -> list[str]:
    lines = []
    for plan, what in ((day, "the day"), (smaller, "the comparison")):
        manifest = manifests.get(plan.name)
        if manifest is None:
            continue
        zone = sum(manifest["files"]["zone"].values())
        lines.append(
            f"- {what}: {manifest['bytes'] / 1e9:,.2f} GB of files ({zone / 1e9:,.2f} GB zone file), "
            f"generated in {manifest['seconds']:,.0f} s ({manifest['part_seconds']}); "
            f"{plan.listed_domains:,} distinct listed domains."
        )
    lines += [
        "- Zone `com-20240115.txt`: CZDS shape (absolute lower-case names, `name ttl in type rdata` "
        "on tabs), "
        "an SOA and the apex NS, then per delegation two NS records (ns1/ns2 of one of 50,000 Zipf-popular "
        "hosts) and, for a third, a DS record; about 140 bytes a delegation. Names: 3-12 letters, for half "
        "the malicious listed domains a brand or lure word (`paypal-`, `secure-login-`, ...), and "
        "the domain's "
        "number in base 36.",
        "- Registrations: `domain,registrar_iana_id,created,expires,status` in files of 2.5 M rows; "
        "97% of the "
        "domains delegated, 3% not (held, parked); 2,000 registrars with Zipf(1.1) sizes and the registry's "
        "reserved ID 9999; 8% created in January before the day, 4% in December, the rest over 26 years.",
        "- Registrar list (IANA `registrar-ids.csv` shape, some Terminated, 9999 Reserved) and the month's "
        "transaction report `com-transactions-202401-en.csv` (ICANN columns; domains under "
        "management summing "
        "to the zone plus the undelegated, by the same Zipf shares; a Totals row).",
        "- Feeds of the day: URLhaus (CSV export with its comment header, quoted), PhishTank (2% "
        "unverified), "
        "a DBL-style `domain,return_code` list (ordinary codes on malicious domains, 102/104/105 on "
        "compromised "
        "ones: the classifier's labels) and the generic CSV (half domains, half URLs). Each listed "
        "domain is in "
        "one feed, a quarter in a second: 85% of listed domains are in the registrations (60% of those "
        "malicious: created in December or January, half at two cheap registrars that change between the "
        "months, 30% on hold; 40% compromised old sites with `/wp-` paths), 12% delegated but not in the "
        "registration data, 3% .net names, URLs on IP addresses and blogspot.com subdomains (both skipped).",
    ]
    return lines


def notes(warmup_s: float, context: dict[str, Any]) -> list[str]:
    return [
        "- Each stage is the real command, `.venv/bin/dnsvigil ... --home WAREHOUSE --json`, run as a child "
        "into a fresh warehouse, one after another in the order of the table; wall time is the whole command "
        "(interpreter start and imports included); rows/s divides the rows it stored by that time (for "
        "`abuse analyze`: the listed domains it classified).",
        "- Peak RSS is the largest process's high-water mark (VmHWM) and PSS the whole process tree's sum, "
        "sampled every 50 ms from /proc (benchmarks/ingest_bench/processes.py).",
        f"- Before anything is measured, the whole day runs once on a tiny copy ({WARMUP.delegations:,} "
        "delegations) to fill numba's on-disk cache, as a user's second day would find it "
        f"({warmup_s:.0f} s).",
        "- The inputs are read from disk as they come: a 22 GB zone file does not stay in the page "
        "cache of a "
        "24 GB machine, so the zone stage includes reading it from disk.",
        "- The machine is shared (two cores): other work during the run slows every stage; the load average "
        "is recorded above.",
        "- pandas runs in a child too, reading the same files; it computes only the three monthly "
        "rates, while "
        "`abuse analyze` also classifies, computes every rate day by day and month by month with intervals, "
        "concentration, mitigation, flocking and feed quality, and stores its results: "
        "`compute_rates` alone is "
        "timed for a like-for-like figure. pandas reduces URLs to registrable domains by taking two labels "
        "(true of every name in this data), dnsvigil with the Public Suffix List.",
    ]


if __name__ == "__main__":
    sys.exit(main())
