"""`dnsvigil demo`: the whole pipeline on a seeded, generated day of DNS traffic."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Annotated

import typer

from dnsvigil.cli.context import JsonOption, QuietOption, common, stdout, step_progress
from dnsvigil.config import read_int, read_share


def demo(
    context: typer.Context,
    seed: Annotated[
        int, typer.Option("--seed", help="Seed of the generated world: same seed, same bytes.")
    ] = 7,
    out: Annotated[
        Path, typer.Option("--out", help="Directory for the captures, warehouse, RSSAC002 files and report.")
    ] = Path("demo-out"),
    as_json: JsonOption = False,
    quiet: QuietOption = False,
) -> None:
    """Generate a day of a resolver's and an authoritative server's traffic, then run the pipeline on it.

    Writes pcap/pcapng captures under OUT/captures, ingests them through the same readers as real
    captures into OUT/warehouse, computes RSSAC002 for the authoritative service into OUT/rssac002,
    runs the DGA detector over the resolver's clients (some run DGA malware) and the traffic detectors over
    every capture (OUT/captures/attacks-*.pcap holds planted floods), stores their findings,
    and writes OUT/report.html, which opens with no network. Then it writes six months of a registration
    world under OUT/registration (zone files, registration data, RDAP, registry reports, five abuse feeds;
    the truth apart in OUT/registration/truth), ingests them and runs the registration-abuse analyses.
    Last, it compacts the warehouse (`dnsvigil compact`), ready for `dnsvigil serve`.

    Example: `dnsvigil demo --seed 7 --out demo-out`, then open demo-out/report.html.
    """
    # Imported here: generating the world compiles numba kernels that other commands do not need.
    from dnsvigil.demo.run import run_demo
    from dnsvigil.dga.infected_clients import DetectorSettings
    from dnsvigil.dga.model import load_model

    options = common(context, quiet=quiet or as_json)
    started = time.perf_counter()
    settings = DetectorSettings(
        min_dga_names=read_int("dga_min_names", minimum=1),
        min_nxdomain_share=read_share("dga_min_nxdomain_share"),
        min_family_share=read_share("dga_min_family_share"),
    )
    with step_progress(options) as on_step:
        run = run_demo(seed, out, load_model(), settings, on_step=on_step)
    infected = [finding for finding in run.dga.findings if finding.code == "DGA.INFECTED_CLIENT"]
    live = [finding for finding in run.dga.findings if finding.code == "DGA.DOMAIN"]
    controllers = [finding for finding in live if finding.evidence["infected_clients"]]
    files_before = sum(table.files_before for table in run.compaction)
    files_after = sum(table.files_after for table in run.compaction)
    result = {
        "report": str(run.report),
        "warehouse": str(run.warehouse),
        "rssac002": [str(path) for path in run.rssac002],
        "captures": [str(path) for path in run.captures],
        "messages": run.ingest.messages,
        "infected_clients": [finding.subject for finding in infected],
        "dga_domains": [finding.subject for finding in live],
        "controllers": [finding.subject for finding in controllers],
        "attack_findings": [
            {
                "code": finding.code,
                "subject": finding.subject,
                "first_seen": finding.first_seen.isoformat(),
                "last_seen": finding.last_seen.isoformat(),
            }
            for finding in run.attacks.findings
        ],
        "registration_truth": str(run.registration.truth),
        "abuse_findings": [
            {
                "code": finding.code,
                "subject": finding.subject,
                "month": finding.evidence["month"],
                "direction": finding.evidence.get("direction"),
            }
            for finding in run.abuse.findings
        ],
        "warehouse_files": {"before_compaction": files_before, "after_compaction": files_after},
        "seconds": round(time.perf_counter() - started, 2),
    }
    if as_json:
        print(json.dumps(result))
        return
    found = "".join(
        f"\n    {finding.subject:<18} {finding.evidence['family']:<10} "
        f"{finding.evidence['dga_domains']} DGA domains, "
        f"{finding.evidence['nxdomain_share']:.0%} NXDOMAIN"
        for finding in infected
    )
    shifts = [
        f"{finding.subject} {finding.evidence['direction']}s in {finding.evidence['month']}"
        for finding in run.abuse.findings
        if finding.code in ("ABUSE.REGISTRAR_SHIFT", "ABUSE.TLD_SHIFT")
    ]
    attacked = sorted({f"{finding.code} {finding.subject}" for finding in run.attacks.findings})
    stdout.print(
        f"demo done in {result['seconds']} s: {run.ingest.messages:,} DNS messages ingested\n"
        f"  report:    {run.report}  (open it in a browser; it needs no network)\n"
        f"  RSSAC002:  {out / 'rssac002'} ({len(run.rssac002)} files)\n"
        f"  DGA:       {len(infected)} infected client(s); {len(live)} DGA-looking domain(s) resolve, "
        f"{len(controllers)} of them asked for by infected clients (likely controllers){found}\n"
        f"  attacks:   {len(run.attacks.findings)} finding(s) in the traffic: {', '.join(attacked)}\n"
        f"  abuse:     {run.abuse.window.to_text()}: {len(run.abuse.findings)} finding(s), of them "
        f"{len(shifts)} shift(s) of abusers between registrars or TLDs ({', '.join(shifts)}); "
        f"truth in {run.registration.truth}\n"
        f"  warehouse: {run.warehouse} ({files_after:,} files, compacted from {files_before:,})\n"
        f"  explore:   dnsvigil query --home {run.warehouse} "
        '"SELECT code, subject, evidence FROM findings"',
        highlight=False,
    )
