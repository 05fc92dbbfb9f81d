"""`dnsvigil demo`: the whole pipeline on a seeded, generated day of DNS traffic."""

from __future__ import annotations

import json
import time
from datetime import date
from pathlib import Path
from typing import Annotated

import typer

from dnsvigil.cli.context import JsonOption, QuietOption, byte_progress, common, note, stdout
from dnsvigil.demo.world import DemoWorld, demo_truth, write_demo_captures
from dnsvigil.ingest.pipeline import ingest_files
from dnsvigil.report.traffic_report import write_traffic_report
from dnsvigil.store.engine import DuckDBEngine
from dnsvigil.store.warehouse import Warehouse
from dnsvigil.traffic.overview import compute_overview
from dnsvigil.traffic.rssac002 import compute_traffic_metrics
from dnsvigil.traffic.rssac002_yaml import write_documents

DEMO_DAY = date(2026, 11, 2)


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
    and writes OUT/report.html, which opens with no network.

    Example: `dnsvigil demo --seed 7 --out demo-out`, then open demo-out/report.html.
    """
    options = common(context, quiet=quiet or as_json)
    started = time.perf_counter()
    world = DemoWorld(seed=seed, day=DEMO_DAY)
    note(options, f"generating the demo world (seed {seed}) under {out}/captures ...")
    captures = write_demo_captures(world, out / "captures")
    truth = demo_truth(world)
    home = out / "warehouse"
    warehouse = Warehouse.open(home, create=True)
    with byte_progress(options, "ingest", sum(path.stat().st_size for path in captures)) as progress:
        advance = (lambda count: progress.advance(progress.task_ids[0], count)) if progress else None
        summary = ingest_files(warehouse, captures, kind="pcap", progress=advance)
    engine = DuckDBEngine(warehouse)
    try:
        documents = compute_traffic_metrics(
            engine,
            service=truth.authoritative_service,
            server_addrs=truth.authoritative_addrs,
            days=[world.day],
        )
        overview = compute_overview(engine)
    finally:
        engine.close()
    rssac_paths = write_documents(documents, out / "rssac002")
    report = write_traffic_report(
        overview,
        out / "report.html",
        title=f"dnsvigil demo: DNS traffic on {world.day.isoformat()}",
        rssac002_links=rssac_paths,
    )
    result = {
        "report": str(report),
        "warehouse": str(home),
        "rssac002": [str(path) for path in rssac_paths],
        "captures": [str(path) for path in captures],
        "messages": summary.messages,
        "seconds": round(time.perf_counter() - started, 2),
    }
    if as_json:
        print(json.dumps(result))
        return
    stdout.print(
        f"demo done in {result['seconds']} s: {summary.messages:,} DNS messages ingested\n"
        f"  report:    {report}  (open it in a browser; it needs no network)\n"
        f"  RSSAC002:  {out / 'rssac002'} ({len(rssac_paths)} files)\n"
        f"  warehouse: {home}\n"
        f"  explore:   dnsvigil query --home {home} "
        '"SELECT qtype, count(*) AS n FROM dns_messages GROUP BY ALL ORDER BY n DESC"',
        highlight=False,
    )
