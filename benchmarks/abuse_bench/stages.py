"""The measured stages: each `dnsvigil` command of the day as a child (time, peak memory), the pandas
implementation and dnsvigil's rates alone, and the check that pandas and dnsvigil give the same rates."""

from __future__ import annotations

import shutil
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from abuse_bench.day_files import FEEDS, input_folder
from abuse_bench.day_world import DayPlan
from ingest_bench.processes import REPO, BenchmarkError, child_env, failure, last_json, run_measured

DNSVIGIL = REPO / ".venv" / "bin" / "dnsvigil"
RATE_KEYS = ["entity_type", "denominator", "entity", "threat"]
COMPARED = ("(entity_type = 'tld' AND denominator = 'zone') OR "
            "(entity_type = 'registrar' AND denominator IN ('dum', 'new_registrations'))")  # fmt: skip


@dataclass(slots=True)
class StageRun:
    """One command's run: what it read and stored, its wall time and memory."""

    stage: str
    command: str
    rows: int
    wall_s: float
    reported_s: float
    peak_rss_bytes: int
    tree_pss_bytes: int
    input_bytes: int
    details: dict[str, Any] = field(default_factory=dict)

    @property
    def rate(self) -> float:
        return self.rows / self.wall_s if self.wall_s > 0 else 0.0


def dnsvigil_stages(plan: DayPlan, work: Path) -> list[tuple[str, list[str], list[Path]]]:
    """(stage, the command's arguments after `dnsvigil`, input files) for every stage of the day."""
    folder = input_folder(work, plan)
    zone = sorted((folder / "zone").iterdir())
    registrations = sorted((folder / "registrations").iterdir())
    registrars = sorted((folder / "registrars").iterdir())
    reports = sorted((folder / "reports").iterdir())
    stages: list[tuple[str, list[str], list[Path]]] = [
        ("zone", ["ingest", "zone", *map(str, zone)], zone),
        ("registrations", ["ingest", "registrations", "--format", "csv", str(folder / "registrations")],
         registrations),
        ("registrars", ["ingest", "registrars", *map(str, registrars)], registrars),
        ("dum", ["ingest", "dum", *map(str, reports)], reports),
    ]  # fmt: skip
    for feed in FEEDS:
        files = sorted((folder / "feeds").glob(f"{feed}-*.csv"))
        stages.append((f"feed {feed}", ["ingest", "feed", "--format", feed, *map(str, files)], files))
    stages.append(("analyze", ["abuse", "analyze"], []))
    return stages


def run_day(plan: DayPlan, work: Path, home: Path, timeout_s: float, log: Any) -> list[StageRun]:
    """Every stage of the day into a fresh warehouse at `home`, one measured child each."""
    shutil.rmtree(home, ignore_errors=True)
    runs = []
    for stage, arguments, inputs in dnsvigil_stages(plan, work):
        command = [str(DNSVIGIL), *arguments, "--home", str(home), "--json"]
        log(f"  {stage}: dnsvigil {' '.join(arguments[:3])} ...")
        run = run_measured(command, timeout_s=timeout_s, env=child_env())
        if run.returncode != 0:
            raise failure(f"dnsvigil {' '.join(arguments[:2])}", run)
        summary = last_json(run.stdout, f"dnsvigil {' '.join(arguments[:2])}")
        rows = int(summary.get("rows", 0)) if stage != "analyze" else _analyzed_rows(summary)
        found = StageRun(
            stage=stage,
            command="dnsvigil "
            + " ".join(arg if not arg.startswith("/") else Path(arg).name for arg in arguments),
            rows=rows,
            wall_s=run.wall_s,
            reported_s=float(summary.get("seconds") or 0.0),
            peak_rss_bytes=run.max_rss_bytes,
            tree_pss_bytes=run.tree_pss_bytes,
            input_bytes=sum(path.stat().st_size for path in inputs),
            details=_stage_details(stage, summary),
        )
        log(f"  {stage}: {found.rows:,} rows in {found.wall_s:.1f} s ({found.rate:,.0f}/s), "
            f"peak RSS {found.peak_rss_bytes / 1e6:,.0f} MB")  # fmt: skip
        runs.append(found)
    return runs


def _analyzed_rows(summary: dict[str, Any]) -> int:
    """What `abuse analyze` worked through: the listed domains it classified."""
    return int(summary["classifier"]["domains"])


def _stage_details(stage: str, summary: dict[str, Any]) -> dict[str, Any]:
    if stage != "analyze":
        return {"malformed": summary.get("malformed", {}), "skipped": summary.get("skipped", {})}
    classifier = summary["classifier"]
    return {
        "rates_rows": summary["rates"]["rows"],
        "classifier": {
            key: classifier[key] for key in ("basis", "labelled", "precision", "recall", "malicious")
        },
        "findings": len(summary["findings"]),
        "mitigation_groups": len(summary["mitigation"]),
        "flows": len(summary["flocking"]["flows"]),
    }


def run_child(kind: str, arguments: list[str], timeout_s: float) -> tuple[dict[str, Any], int, int, float]:
    """benchmarks/abuse.py --child KIND ARGS, measured: its JSON, peak RSS, tree PSS and wall time."""
    command = [
        sys.executable,
        str(Path(__file__).resolve().parent.parent / "abuse.py"),
        "--child",
        kind,
        *arguments,
    ]
    run = run_measured(command, timeout_s=timeout_s, env=child_env())
    if run.returncode != 0:
        raise failure(f"the {kind} child", run)
    return last_json(run.stdout, f"the {kind} child"), run.max_rss_bytes, run.tree_pss_bytes, run.wall_s


def child_rates(home: Path) -> dict[str, Any]:
    """In a child: dnsvigil's `compute_rates` alone on the warehouse (timed inside)."""
    import time
    from datetime import UTC, datetime

    from dnsvigil.abuse.analyze import AbuseSettings
    from dnsvigil.abuse.rates import compute_rates
    from dnsvigil.abuse.sources import find_window
    from dnsvigil.store.engine import DuckDBEngine
    from dnsvigil.store.warehouse import Warehouse

    engine = DuckDBEngine(Warehouse.open(home))
    started = time.perf_counter()
    window = find_window(engine, None)
    rates = compute_rates(engine, window, AbuseSettings.from_settings().rates, computed_at=datetime.now(UTC))
    return {"seconds": round(time.perf_counter() - started, 3), "rows": rates.num_rows}


def child_profile(home: Path) -> dict[str, Any]:
    """In a child: each part of `abuse analyze` (as `analyze_and_store` runs them), timed one by one."""
    import time
    from datetime import UTC, datetime

    from dnsvigil.abuse.analyze import AbuseSettings, store_computed
    from dnsvigil.abuse.classifier import classify_listed_domains, shipped_dga_scorer
    from dnsvigil.abuse.concentration import concentration_by_month
    from dnsvigil.abuse.disproportion import find_disproportionate
    from dnsvigil.abuse.feed_quality import feed_quality
    from dnsvigil.abuse.flocking import find_flocking
    from dnsvigil.abuse.mitigation import summarise, timelines
    from dnsvigil.abuse.rates import compute_rates
    from dnsvigil.abuse.sources import find_window, latest_registrations
    from dnsvigil.store.engine import DuckDBEngine
    from dnsvigil.store.schema import DOMAIN_VERDICTS
    from dnsvigil.store.warehouse import Warehouse

    seconds: dict[str, float] = {}
    now = datetime.now(UTC)
    settings = AbuseSettings.from_settings()
    warehouse = Warehouse.open(home)

    def timed(part: str, work: Any) -> Any:
        started = time.perf_counter()
        result = work()
        seconds[part] = round(time.perf_counter() - started, 2)
        return result

    engine = DuckDBEngine(warehouse)
    window = find_window(engine, None)
    scorer = timed("load the DGA model", shipped_dga_scorer)
    verdicts = timed("classifier (features SQL, DGA scores, cross-validated model)",
                     lambda: classify_listed_domains(engine, scorer, computed_at=now))  # fmt: skip
    engine.close()
    timed("store verdicts", lambda: store_computed(warehouse, DOMAIN_VERDICTS, verdicts.table, key="domain",
                                                   run="benchmark-profile"))  # fmt: skip
    engine = DuckDBEngine(warehouse)
    registered = timed("latest registration of each domain", lambda: latest_registrations(engine))
    timed(
        "rates", lambda: compute_rates(engine, window, settings.rates, computed_at=now, registered=registered)
    )
    timed("concentration", lambda: concentration_by_month(engine, window, registered=registered))
    found = timed("mitigation: timelines SQL", lambda: timelines(engine, window, registered=registered))
    timed("mitigation: Kaplan-Meier summaries", lambda: summarise(found))
    disproportion = settings.disproportion
    timed(
        "disproportion", lambda: find_disproportionate(engine, window, disproportion, registered=registered)
    )
    timed("flocking", lambda: find_flocking(engine, window, settings.shifts, registered=registered))
    timed("feed quality", lambda: feed_quality(engine, window))
    engine.close()
    return {"seconds": seconds}


def stored_rates(home: Path) -> Any:
    """The monthly rates dnsvigil stored, of the three kinds pandas computes, as a DataFrame."""
    from dnsvigil.store.engine import DuckDBEngine
    from dnsvigil.store.warehouse import Warehouse

    engine = DuckDBEngine(Warehouse.open(home))
    try:
        return engine.arrow(
            f"SELECT {', '.join(RATE_KEYS)}, abused, population, rate_per_10k FROM abuse_rates "
            f"WHERE period_kind = 'month' AND ({COMPARED})"
        ).to_pandas()
    finally:
        engine.close()


def compare_rates(ours: Any, theirs: Any) -> dict[str, Any]:
    """Where dnsvigil's rates (`ours`) and pandas' (`theirs`) differ: missing rows, other counts."""
    import numpy as np

    ours = ours.astype({"entity": str, "threat": str, "entity_type": str, "denominator": str})
    theirs = theirs.astype({"entity": str, "threat": str, "entity_type": str, "denominator": str})
    both = ours.merge(theirs, on=RATE_KEYS, how="outer", suffixes=("_dnsvigil", "_pandas"), indicator=True)
    only_ours = both[both["_merge"] == "left_only"]
    only_theirs = both[both["_merge"] == "right_only"]
    matched = both[both["_merge"] == "both"]
    differ = matched[
        (matched["abused_dnsvigil"] != matched["abused_pandas"])
        | (matched["population_dnsvigil"] != matched["population_pandas"])
        | ~np.isclose(matched["rate_per_10k_dnsvigil"], matched["rate_per_10k_pandas"], rtol=1e-12, atol=0)
    ]
    columns = [*RATE_KEYS, "abused_dnsvigil", "abused_pandas", "population_dnsvigil", "population_pandas"]
    return {
        "rows_dnsvigil": len(ours),
        "rows_pandas": len(theirs),
        "matched": len(matched),
        "only_dnsvigil": len(only_ours),
        "only_pandas": len(only_theirs),
        "different": len(differ),
        "abused_total_dnsvigil": int(ours["abused"].sum()),
        "abused_total_pandas": int(theirs["abused"].sum()),
        "examples": [
            {key: (value.item() if hasattr(value, "item") else value) for key, value in row.items()}
            for row in (
                differ[columns].head(5).to_dict("records")
                + only_ours[RATE_KEYS].head(5).to_dict("records")
                + only_theirs[RATE_KEYS].head(5).to_dict("records")
            )
        ],
        "same": len(differ) == 0 and len(only_ours) == 0 and len(only_theirs) == 0,
    }


__all__ = [
    "BenchmarkError",
    "StageRun",
    "child_profile",
    "child_rates",
    "compare_rates",
    "run_child",
    "run_day",
    "stored_rates",
]
