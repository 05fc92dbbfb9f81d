"""Run the DGA traffic detector over a warehouse with a trained model, and keep what it finds.

The detector (`infected_clients`) is pure over a SQL runner and a scorer; this module supplies both from
a warehouse and a `DgaModel`, and stores the findings, so that `dnsvigil dga detect` and the demo run
exactly the same thing.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date

import numpy as np

from dnsvigil.dga.infected_clients import DetectorSettings, NameVerdicts, Scorer, detect_dga_activity
from dnsvigil.dga.model import DgaModel
from dnsvigil.dga.names import Rejection
from dnsvigil.findings import Finding
from dnsvigil.store.engine import DuckDBEngine
from dnsvigil.store.findings_store import store_findings
from dnsvigil.store.warehouse import Warehouse


@dataclass(frozen=True, slots=True)
class DetectionRun:
    """What one run of the detector found and how much of it was new to the warehouse."""

    findings: tuple[Finding, ...]
    stored: int


def model_scorer(model: DgaModel) -> Scorer:
    """The detector's view of `model`: registrable domain, score, verdict and family of each name."""

    def score(names: Sequence[str]) -> NameVerdicts:
        scored = model.score_names(names, attribute_all=True)
        registrable = ["" if isinstance(part, Rejection) else part.registrable for part in scored.parts]
        return NameVerdicts(registrable, np.nan_to_num(scored.score), scored.is_dga, scored.family)

    return score


def detect_and_store(
    warehouse: Warehouse,
    model: DgaModel,
    settings: DetectorSettings,
    *,
    days: Sequence[date] | None = None,
    resolver_addrs: Sequence[str] | None = None,
) -> DetectionRun:
    """Find infected clients and live DGA domains in the stored traffic and commit them as findings.

    Storing is idempotent: the same findings from the same data are not stored twice.
    """
    engine = DuckDBEngine(warehouse)
    try:
        findings = detect_dga_activity(
            engine, model_scorer(model), settings, days=days, resolver_addrs=resolver_addrs
        )
    finally:
        engine.close()
    run = (
        f"dga.traffic threshold={model.info.threshold:.6g} seed={model.info.seed}"
        f" min_dga_names={settings.min_dga_names} min_nxdomain_share={settings.min_nxdomain_share}"
        f" min_family_share={settings.min_family_share}"
    )
    return DetectionRun(tuple(findings), store_findings(warehouse, findings, run=run))
