"""Run the registration-abuse analyses over a warehouse and keep their results.

The analyses are pure over a SQL runner; this module supplies a warehouse's, commits the rates to the
`abuse_rates` table and the findings to `findings`, so that `dnsvigil abuse analyze` and later callers (the
demo, the web layer) run exactly the same thing. Storing is idempotent: the same results from the same
data and settings are stored once.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import UTC, datetime

import pyarrow as pa
import pyarrow.compute as pc

from dnsvigil.abuse.classifier import DgaScorer, Verdicts, classify_listed_domains
from dnsvigil.abuse.concentration import PeriodConcentration, concentration_by_month
from dnsvigil.abuse.disproportion import DisproportionSettings, find_disproportionate
from dnsvigil.abuse.feed_quality import FeedQuality, feed_quality
from dnsvigil.abuse.flocking import Flocking, ShiftSettings, find_flocking
from dnsvigil.abuse.mitigation import MitigationSummary, summarise, timelines
from dnsvigil.abuse.rates import RateSettings, compute_rates
from dnsvigil.abuse.sources import Window, find_window, latest_registrations
from dnsvigil.config import read_int, read_share
from dnsvigil.errors import UsageError
from dnsvigil.findings import Finding
from dnsvigil.store.engine import DuckDBEngine
from dnsvigil.store.findings_store import store_findings
from dnsvigil.store.schema import ABUSE_RATES, DOMAIN_VERDICTS, TableSchema
from dnsvigil.store.warehouse import Warehouse


@dataclass(frozen=True, slots=True)
class AbuseSettings:
    """The thresholds of every analysis, as one value."""

    rates: RateSettings
    disproportion: DisproportionSettings
    shifts: ShiftSettings

    @classmethod
    def from_settings(cls, min_population: str | None = None) -> AbuseSettings:
        """The thresholds in force (environment, else the documented defaults).

        Raises:
            UsageError: a setting holds a value out of its range.
        """
        alpha = read_share("abuse_alpha")
        min_malicious = read_int("abuse_min_malicious", minimum=1)
        try:
            return cls(
                RateSettings(
                    confidence=read_share("abuse_confidence"),
                    min_population=read_int("abuse_min_population", min_population, minimum=1),
                ),
                DisproportionSettings(
                    alpha=alpha,
                    min_malicious=min_malicious,
                    min_ratio=float(read_int("abuse_min_ratio", minimum=1)),
                ),
                ShiftSettings(
                    alpha=alpha, min_malicious=min_malicious, min_change=read_share("abuse_min_share_change")
                ),
            )
        except ValueError as error:
            raise UsageError(f"abuse settings: {error}") from None

    def describe(self) -> str:
        """The thresholds as text, part of each stored result's identity."""
        rates, disproportion, shifts = self.rates, self.disproportion, self.shifts
        return (
            f"confidence={rates.confidence} min_population={rates.min_population}"
            f" alpha={disproportion.alpha} min_malicious={disproportion.min_malicious}"
            f" min_ratio={disproportion.min_ratio} min_share_change={shifts.min_change}"
        )


@dataclass(frozen=True, slots=True)
class AbuseAnalysis:
    """Everything one run computed, and how much of it was new to the warehouse."""

    window: Window
    rates: pa.Table
    concentration: tuple[PeriodConcentration, ...]
    mitigation: tuple[MitigationSummary, ...]
    flocking: Flocking
    feeds: FeedQuality
    verdicts: Verdicts
    findings: tuple[Finding, ...]
    stored_verdicts: int
    stored_rates: int
    stored_findings: int


def analyze_and_store(
    warehouse: Warehouse, settings: AbuseSettings, *, period: str | None = None, dga_score: DgaScorer | None
) -> AbuseAnalysis:
    """Classify the listed domains (malicious or compromised), then compute the rates, concentration,
    mitigation, flocking, feed quality and findings of `period` (YYYY-MM, else every month with listings);
    commit the verdicts, rates and findings. `dga_score` scores names for the classifier (None: no DGA
    feature).

    Raises:
        UsageError: `period` is not a month.
        DnsvigilError: there are no abuse listings (in `period`).
    """
    computed_at = datetime.now(UTC)
    engine = DuckDBEngine(warehouse)
    try:
        window = find_window(engine, period)
        verdicts = classify_listed_domains(engine, dga_score, computed_at=computed_at)
    finally:
        engine.close()
    stored_verdicts = store_computed(
        warehouse, DOMAIN_VERDICTS, verdicts.table, key="domain", run=f"abuse.verdicts {verdicts.basis}"
    )
    engine = DuckDBEngine(warehouse)  # anew: its views include the verdicts just stored
    try:
        registered = latest_registrations(engine)  # once: five analyses read it
        rates = compute_rates(engine, window, settings.rates, computed_at=computed_at, registered=registered)
        concentration = concentration_by_month(engine, window, registered=registered)
        mitigation = summarise(timelines(engine, window, registered=registered))
        disproportionate = find_disproportionate(
            engine, window, settings.disproportion, registered=registered
        )
        flocking = find_flocking(engine, window, settings.shifts, registered=registered)
        del registered
        feeds = feed_quality(engine, window)
    finally:
        engine.close()
    described = settings.describe()
    findings = (*disproportionate, *flocking.findings)
    return AbuseAnalysis(
        window=window,
        rates=rates,
        concentration=tuple(concentration),
        mitigation=tuple(mitigation),
        flocking=flocking,
        feeds=feeds,
        verdicts=verdicts,
        findings=findings,
        stored_verdicts=stored_verdicts,
        stored_rates=store_computed(
            warehouse, ABUSE_RATES, rates, key="rate_id", run=f"abuse.rates {described}"
        ),
        stored_findings=store_findings(warehouse, findings, run=f"abuse.findings {described}"),
    )


def store_computed(warehouse: Warehouse, table: TableSchema, rows: pa.Table, *, key: str, run: str) -> int:
    """Commit computed `rows` to `table`, partitioned by day of its time column; return the rows stored
    (0 when the same results are already there).

    The commit's identity is the rows' content without their `computed_at`, so that a rerun on unchanged
    data stores nothing, while a rerun on grown data supersedes (by `key`, latest first) what it recomputes.
    """
    if rows.num_rows == 0:
        return 0
    rows = rows.sort_by(key)
    digest = hashlib.sha256(f"{table.name}\0{run}\0".encode())
    digest.update(repr(rows.drop_columns(["computed_at"]).to_pydict()).encode())
    days = pc.cast(rows.column(table.time_column), pa.date32())
    with warehouse.begin(table.name) as write:
        for day in sorted(pc.unique(days).to_pylist()):
            chosen = rows.filter(pc.equal(days, pa.scalar(day, pa.date32())))
            write.write(chosen.cast(table.schema), day.isoformat())
        return rows.num_rows if write.commit(digest.hexdigest(), origin=run) else 0
