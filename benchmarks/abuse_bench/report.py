"""The results as Markdown: the day's stages against the targets, the pandas comparison, input, machine."""

from __future__ import annotations

import importlib.metadata
from typing import Any

from abuse_bench.stages import StageRun

TARGET_DAY_S = 600.0
TARGET_ZONE_RATE = 1_000_000


def mb(value: int) -> str:
    return f"{value / 1e6:,.0f} MB" if value else "—"


def package_versions() -> dict[str, str]:
    found = {}
    for package in ("numpy", "pyarrow", "duckdb", "numba", "scikit-learn", "pandas"):
        try:
            found[package] = importlib.metadata.version(package)
        except importlib.metadata.PackageNotFoundError:
            found[package] = "missing"
    return found


def _verdict(ok: bool) -> str:
    return "**met**" if ok else "**missed**"


def stage_table(runs: list[StageRun]) -> list[str]:
    lines = [
        "| Stage | Command | Input | Rows | Wall time (s) | Rows/s | Peak RSS | Peak PSS (tree) |",
        "|---|---|---:|---:|---:|---:|---:|---:|",
    ]
    for run in runs:
        unit = "listed domains" if run.stage == "analyze" else ("names" if run.stage == "zone" else "rows")
        lines.append(
            f"| {run.stage} | `{run.command}` | {mb(run.input_bytes)} | {run.rows:,} {unit} | "
            f"{run.wall_s:.1f} "
            f"| {run.rate:,.0f} | {mb(run.peak_rss_bytes)} | {mb(run.tree_pss_bytes)} |"
        )
    total = sum(run.wall_s for run in runs)
    peak = max(run.peak_rss_bytes for run in runs)
    lines.append(
        f"| **whole day** | all of the above, one after another | | | **{total:.1f}** | | {mb(peak)} | |"
    )
    return lines


def render(context: dict[str, Any]) -> str:
    """The results document."""
    runs: list[StageRun] = context["runs"]
    lines = [
        "# Registration-abuse benchmark: a .com-sized day",
        "",
        f"Run {context['date']} with `{context['command']}`.",
        "",
    ]
    if runs:
        total = sum(run.wall_s for run in runs)
        zone = next(run for run in runs if run.stage == "zone")
        zone_reported = zone.rows / zone.reported_s if zone.reported_s else 0.0
        lines += [
            f"## The day: {context['plan']['delegations']:,} delegations, "
            f"{context['plan']['registrations']:,} "
            f"registrations, {context['plan']['listings']:,} feed listings",
            "",
            "| Figure | Measured | Target | |",
            "|---|---:|---:|---|",
            f"| whole day, ingest and analysis (sum of the commands' wall times) | {total:,.0f} s "
            f"({total / 60:.1f} min) | < {TARGET_DAY_S / 60:.0f} min | {_verdict(total < TARGET_DAY_S)} |",
            f"| zone ingest, whole command | {zone.rate:,.0f} names/s | ≥ {TARGET_ZONE_RATE:,} names/s "
            f"| {_verdict(zone.rate >= TARGET_ZONE_RATE)} |",
            f"| zone ingest, as the command reports it (start-up excluded) | {zone_reported:,.0f} names/s "
            f"| ≥ {TARGET_ZONE_RATE:,} names/s | {_verdict(zone_reported >= TARGET_ZONE_RATE)} |",
            f"| largest peak RSS of any stage | {mb(max(run.peak_rss_bytes for run in runs))} | "
            f"< {context['memory']} (the machine) | |",
            "",
            *stage_table(runs),
            "",
        ]
        analyze = next(run for run in runs if run.stage == "analyze")
        lines += [f"`abuse analyze` computed {analyze.details['rates_rows']:,} rate rows, classified "
                  f"{analyze.rows:,} listed domains ({analyze.details['classifier']}), "
                  f"{analyze.details['mitigation_groups']:,} mitigation groups, {analyze.details['flows']:,} "
                  f"flocking flows, {analyze.details['findings']:,} findings.", ""]  # fmt: skip
        if context.get("profile"):
            lines += [
                "Where `abuse analyze` spends its time (the same functions, timed one by one in a child):",
                "",
            ]
            lines += ["| Part | Seconds |", "|---|---:|"]
            lines += [f"| {part} | {seconds:.1f} |" for part, seconds in context["profile"].items()]
            lines.append("")
    else:
        lines += ["The full day was not run (`--skip-day`).", ""]
    lines += _comparison(context)
    lines += ["## Input", "", *context["input_notes"], ""]
    lines += ["## Machine and versions", ""]
    lines += [f"- {key}: {value}" for key, value in context["machine"].items()]
    lines += [
        f"- load average (1, 5, 15 min) before: {context['load_before']}; after: {context['load_after']}"
    ]
    lines += [f"- {key}: {value}" for key, value in context["versions"].items()]
    lines += ["", "## Method and notes", "", *context["notes"], ""]
    return "\n".join(lines)


def _comparison(context: dict[str, Any]) -> list[str]:
    compare = context.get("comparison")
    if not compare:
        return []
    plan, pandas_run, runs, check = compare["plan"], compare["pandas"], compare["runs"], compare["check"]
    ingest = sum(run.wall_s for run in runs if run.stage != "analyze")
    analyze = next(run for run in runs if run.stage == "analyze")
    seconds = pandas_run["seconds"]
    lines = [
        f"## Side by side with pandas: {plan['delegations']:,} delegations, {plan['registrations']:,} "
        f"registrations, {plan['listings']:,} listings",
        "",
        "The same files, read by a straightforward pandas implementation of the three monthly rates "
        "(`abuse_bench/pandas_rates.py`) and by dnsvigil's commands into a fresh warehouse.",
        "",
        "| | Time (s) | Peak RSS |",
        "|---|---:|---:|",
        f"| pandas: read the zone file (`read_csv`, NS owners, distinct) | {seconds['read_zone']:.1f} | |",
        f"| pandas: read registrations, registrar list, report, feeds | {seconds['read_other']:.1f} | |",
        f"| pandas: the three monthly rates (merges, groupbys) | {seconds['rates']:.1f} | |",
        f"| **pandas, whole child** (interpreter and imports included) | **{compare['pandas_wall_s']:.1f}** "
        f"| {mb(compare['pandas_rss'])} |",
        f"| dnsvigil: every ingest command (zone, registrations, registrars, report, 4 feeds) | {ingest:.1f} "
        f"| {mb(max(run.peak_rss_bytes for run in runs if run.stage != 'analyze'))} |",
        f"| dnsvigil: `abuse analyze` (all rates, both period kinds, classifier, mitigation, flocking, feed "
        f"quality, storing) | {analyze.wall_s:.1f} | {mb(analyze.peak_rss_bytes)} |",
        f"| **dnsvigil, ingest + analyze** | **{ingest + analyze.wall_s:.1f}** | |",
        f"| dnsvigil: `compute_rates` alone on the warehouse (5 measures x day and month) | "
        f"{compare['rates_only']['seconds']:.1f} | {mb(compare['rates_only_rss'])} |",
        "",
        "Per stage:",
        "",
        *stage_table(runs),
        "",
    ]
    if check["same"]:
        lines.append(
            f"**Same answers**: all {check['matched']:,} monthly rate rows (TLD per zone, registrar "
            "per domains "
            f"under management, registrar per new registrations; every threat group) have the same abused "
            f"count, population and rate in both ({check['abused_total_dnsvigil']:,} abused in all)."
        )
    else:
        lines.append(
            f"**The answers differ**: {check['different']:,} rows with other counts, "
            f"{check['only_dnsvigil']:,} "
            f"only in dnsvigil, {check['only_pandas']:,} only in pandas (of {check['rows_dnsvigil']:,} / "
            f"{check['rows_pandas']:,}). Examples: `{check['examples']}`"
        )
    return [*lines, ""]
