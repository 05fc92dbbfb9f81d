"""The demo pipeline: generate the world's captures, then run them through dnsvigil like real ones.

Captures are ingested by the same readers as any capture, RSSAC002 is computed for the authoritative
service, the DGA detector runs over the resolver's clients and the traffic detectors over every capture
(a third one, of a hosting provider's server, holds planted attacks) and store their findings, and the
report shows all of it. Then six months of a registration world (zone files, registration data,
registry reports, abuse feeds) go through the registration ingest commands' plans and the
registration-abuse analyses; last, the warehouse is compacted, as the web app will serve it. The truth of
the generated worlds is returned (or written) beside the results so that tests (and curious users) can
compare what was found with what was there.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path

from dnsvigil.abuse.analyze import AbuseAnalysis, AbuseSettings, analyze_and_store
from dnsvigil.abuse.classifier import model_dga_scorer
from dnsvigil.demo.attacks import write_attack_capture
from dnsvigil.demo.registration_files import FEED_FILES, RegistrationFiles, write_registration_files
from dnsvigil.demo.registration_world import build_world
from dnsvigil.demo.resolver import RESOLVER
from dnsvigil.demo.world import DemoTruth, DemoWorld, demo_truth, write_demo_captures
from dnsvigil.dga.detect import DetectionRun, detect_and_store
from dnsvigil.dga.infected_clients import DetectorSettings
from dnsvigil.dga.model import DgaModel
from dnsvigil.ingest.pipeline import IngestSummary, ingest_files
from dnsvigil.ingest.registration_plans import (
    dum_plan,
    feed_plan,
    popularity_plan,
    registrars_plan,
    registrations_plan,
    zone_plan,
)
from dnsvigil.ingest.table_ingest import TableIngestSummary
from dnsvigil.report.traffic_report import write_traffic_report
from dnsvigil.store.compaction import TableCompaction
from dnsvigil.store.engine import DuckDBEngine
from dnsvigil.store.warehouse import Warehouse
from dnsvigil.traffic import detect as traffic_detect
from dnsvigil.traffic.detection import TimeWindow
from dnsvigil.traffic.overview import compute_overview
from dnsvigil.traffic.rssac002 import compute_traffic_metrics
from dnsvigil.traffic.rssac002_yaml import write_documents

DEMO_DAY = date(2026, 11, 2)


@dataclass(frozen=True, slots=True)
class DemoRun:
    """Where the demo wrote its outputs, what it measured and found, and the truth to compare with."""

    captures: tuple[Path, ...]
    warehouse: Path
    rssac002: tuple[Path, ...]
    report: Path
    ingest: IngestSummary
    dga: DetectionRun
    attacks: traffic_detect.DetectionRun
    truth: DemoTruth
    registration: RegistrationFiles
    abuse: AbuseAnalysis
    compaction: tuple[TableCompaction, ...]


def run_demo(
    seed: int,
    out: Path,
    model: DgaModel,
    settings: DetectorSettings,
    *,
    on_step: Callable[[str], None] = lambda message: None,
) -> DemoRun:
    """Generate the seeded world under `out` and run the whole pipeline on it.

    Args:
        seed: the world's seed: same seed, same captures.
        out: the folder for captures, warehouse, RSSAC002 files and report.
        model: the DGA model the detector scores names with.
        settings: the detector's thresholds.
        on_step: told when each step starts.
    """
    world = DemoWorld(seed=seed, day=DEMO_DAY)
    on_step(f"generating the demo world (seed {seed}) under {out}/captures")
    captures = [*write_demo_captures(world, out / "captures"), write_attack_capture(world, out / "captures")]
    truth = demo_truth(world)
    warehouse = Warehouse.open(out / "warehouse", create=True)
    on_step("ingesting the captures")
    summary = ingest_files(warehouse, captures, kind="pcap")
    on_step("looking for DGA-infected clients of the resolver")
    dga = detect_and_store(
        warehouse, model, settings, days=[world.day], resolver_addrs=[RESOLVER.ipv4, RESOLVER.ipv6]
    )
    on_step("looking for DNS attacks in the traffic (the attack capture holds some)")
    attacks = traffic_detect.detect_and_store(
        warehouse, traffic_detect.detectors_from_settings(), TimeWindow()
    )
    on_step("computing RSSAC002 and the traffic overview")
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
    on_step("generating six months of registrations, zone files and abuse feeds")
    registration = write_registration_files(build_world(seed), out / "registration")
    on_step("ingesting them")
    ingest_registration_files(warehouse, registration)
    on_step("analysing registration abuse")
    abuse = analyze_and_store(warehouse, AbuseSettings.from_settings(), dga_score=model_dga_scorer(model))
    on_step("compacting the warehouse")
    # Nothing else reads this new warehouse yet: the files compaction replaces can go at once.
    compaction = warehouse.compact(keep_replaced=timedelta(0))
    report = write_traffic_report(
        overview,
        out / "report.html",
        title=f"dnsvigil demo: DNS traffic on {world.day.isoformat()}",
        rssac002_links=rssac_paths,
        findings=(*dga.findings, *attacks.findings),
    )
    return DemoRun(
        captures=tuple(captures),
        warehouse=warehouse.home,
        rssac002=tuple(rssac_paths),
        report=report,
        ingest=summary,
        dga=dga,
        attacks=attacks,
        truth=truth,
        registration=registration,
        abuse=abuse,
        compaction=tuple(compaction),
    )


def ingest_registration_files(warehouse: Warehouse, files: RegistrationFiles) -> list[TableIngestSummary]:
    """Ingest the registration world's files the way `dnsvigil ingest zone|registrations|rdap|registrars|
    dum|feed|popularity` would; one summary per command."""
    plans = [
        (zone_plan(tld=None, day=None, chunk_bytes=8 << 20), files.zones),
        (registrations_plan(fmt="csv", day=None), files.registrations),
        (registrations_plan(fmt="rdap", day=None), files.rdap),
        (registrars_plan(day=None), files.registrars),
        (dum_plan(tld=None, month=None), files.reports),
        *((feed_plan(fmt=FEED_FILES[feed][0], day=None), folder) for feed, folder in files.feeds.items()),
        (popularity_plan(list_name="tranco", day=None), files.popularity),
    ]
    return [plan.ingest(warehouse, [folder]) for plan, folder in plans]
