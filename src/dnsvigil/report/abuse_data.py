"""The open data of the registration-abuse report and the folder it is published in: every table the page
shows or plots, as Arrow tables with stable column names and types built from an `AbuseAnalysis` alone,
their CSV and Parquet files, the JSON summary, and the folder written all or nothing.

The page's charts are drawn from these same tables, so the files published beside it hold exactly what it
shows. Each table has a fixed schema, so an empty table (no flows in a one-month report) still has its
columns, and a reader's code does not break on a quiet month. The folder is built under a temporary name
beside its target and renamed into place: a reader sees the previous report or the new one, never half of
one, and a failure leaves nothing behind.
"""

from __future__ import annotations

import json
import shutil
import tempfile
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Any, Final

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv
import pyarrow.parquet

from dnsvigil.abuse.analyze import AbuseAnalysis
from dnsvigil.abuse.concentration import TOP
from dnsvigil.abuse.flocking import SHARES_SCHEMA
from dnsvigil.abuse.mitigation import METHODS, WITHIN_DAYS
from dnsvigil.abuse.threats import THREATS
from dnsvigil.errors import OutputError
from dnsvigil.outputs import atomic_output, write_atomically
from dnsvigil.store.schema import ABUSE_RATES

PAGE: Final = "index.html"
SUMMARY: Final = "summary.json"
DATA: Final = "data"
FORMATS: Final = ("csv", "parquet")
GENERATOR: Final = "dnsvigil abuse report"

"""The observations `abuse.mitigation` tells a mitigation by, each a column of the mitigation table."""

_TEXT, _COUNT, _SHARE, _MONTH = pa.string(), pa.int64(), pa.float64(), pa.date32()
_UTC = pa.timestamp("us", "UTC")


def _schema(**columns: pa.DataType) -> pa.Schema:
    return pa.schema([pa.field(name, kind) for name, kind in columns.items()])


# The warehouse keeps low-cardinality columns dictionary-encoded; published files carry plain text.
RATES_SCHEMA: Final = pa.schema(
    [
        pa.field(field.name, _TEXT if pa.types.is_dictionary(field.type) else field.type, field.nullable)
        for field in ABUSE_RATES.schema
    ]
)
# fmt: off
CONCENTRATION_SCHEMA: Final = _schema(
    month=_MONTH, entity_type=_TEXT, threat=_TEXT, total=_COUNT, entities=_COUNT, unattributed=_COUNT,
    **{f"top{n}_share": _SHARE for n in TOP}, entities_for_half=_COUNT, entities_for_90=_COUNT, hhi=_SHARE,
)
CURVES_SCHEMA: Final = _schema(
    month=_MONTH, entity_type=_TEXT, threat=_TEXT, position=_COUNT, entity=_TEXT, abused=_COUNT,
    cumulative_share=_SHARE,
)
MITIGATION_SCHEMA: Final = _schema(
    entity_type=_TEXT, entity=_TEXT, entity_name=_TEXT, listed=_COUNT, mitigated=_COUNT,
    **{f"mitigated_by_{method}": _COUNT for method in METHODS}, median_days=_SHARE,
    **{f"mitigated_within_{days}_days": _SHARE for days in WITHIN_DAYS}, unmitigated_median_days=_SHARE,
    unmitigated_max_days=_SHARE,
)
FLOWS_SCHEMA: Final = _schema(
    month=_MONTH, entity_type=_TEXT, source=_TEXT, source_name=_TEXT, target=_TEXT, target_name=_TEXT,
    share=_SHARE, linked_domains=_COUNT,
)
FEED_LISTINGS_SCHEMA: Final = _schema(
    feed=_TEXT, domains=_COUNT, exclusive=_COUNT, **{f"domains_{threat}": _COUNT for threat in THREATS}
)
FEED_OVERLAPS_SCHEMA: Final = _schema(
    feed=_TEXT, other=_TEXT, common=_COUNT, jaccard=_SHARE, feed_share=_SHARE, other_share=_SHARE
)
FEED_FIRST_LISTINGS_SCHEMA: Final = _schema(
    feed=_TEXT, races=_COUNT, listed_first=_COUNT, shared_first=_COUNT, median_lag_hours=_SHARE
)
FEED_CHURN_SCHEMA: Final = _schema(
    feed=_TEXT, month=_MONTH, listed=_COUNT, added=_COUNT, returned=_COUNT, removed=_COUNT,
    median_persistence_days=_SHARE,
)
FINDINGS_SCHEMA: Final = _schema(
    finding_id=_TEXT, code=_TEXT, subject_type=_TEXT, subject=_TEXT, severity=_TEXT, confidence=_SHARE,
    first_seen=_UTC, last_seen=_UTC, detector=_TEXT, evidence=_TEXT, references=_TEXT, tlp=_TEXT,
    message=_TEXT,
)
# fmt: on

DESCRIPTIONS: Final[Mapping[str, str]] = {
    "rates": "abuse rates per 10,000 domains with their confidence intervals, per day and month, TLD and "
    "registrar, threat and denominator (the rows of the abuse_rates table)",
    "concentration": "per month, threat and kind of entity: abused domains, shares of the top 1/5/10, "
    "entities making 50 % and 90 % of the abuse, Herfindahl-Hirschman index",
    "concentration_curves": "the largest entities of each month, threat and kind, with their cumulative "
    "share of the abuse (the concentration curves)",
    "mitigation": "Kaplan-Meier mitigation of listed domains, overall, per TLD and per registrar",
    "shares": "monthly shares of malicious registrations (by month of creation) per registrar and TLD",
    "flows": "estimated moves of malicious registrations between registrars or TLDs from one month to the "
    "next, as shares of all malicious registrations, with the domains sharing name servers",
    "feed_listings": "domains each feed listed, per threat, and those no other feed listed",
    "feed_overlaps": "pairwise overlap of the feeds' domains (common, Jaccard, shares)",
    "feed_first_listings": "how often each feed listed a shared domain first, and its median lag",
    "feed_churn": "each feed's domains listed, added, returned and removed per month",
    "findings": "the findings, their evidence and references as JSON text",
}


@dataclass(frozen=True, slots=True)
class AbuseTables:
    """Every table of the report, in the order the files are listed."""

    rates: pa.Table
    concentration: pa.Table
    concentration_curves: pa.Table
    mitigation: pa.Table
    shares: pa.Table
    flows: pa.Table
    feed_listings: pa.Table
    feed_overlaps: pa.Table
    feed_first_listings: pa.Table
    feed_churn: pa.Table
    findings: pa.Table

    @classmethod
    def of(cls, analysis: AbuseAnalysis) -> AbuseTables:
        """The tables of `analysis`."""
        names = registrar_names(analysis)
        feeds = analysis.feeds
        return cls(
            rates=analysis.rates.cast(RATES_SCHEMA),
            concentration=_table(_concentration_rows(analysis), CONCENTRATION_SCHEMA),
            concentration_curves=_table(_curve_rows(analysis), CURVES_SCHEMA),
            mitigation=_table(_mitigation_rows(analysis, names), MITIGATION_SCHEMA),
            shares=analysis.flocking.shares.cast(SHARES_SCHEMA),
            flows=_table(_flow_rows(analysis, names), FLOWS_SCHEMA),
            feed_listings=_table(
                (
                    {
                        "feed": item.feed,
                        "domains": item.domains,
                        "exclusive": item.exclusive,
                        **{f"domains_{threat}": item.by_threat.get(threat, 0) for threat in THREATS},
                    }
                    for item in feeds.listings
                ),
                FEED_LISTINGS_SCHEMA,
            ),
            feed_overlaps=_table(map(asdict, feeds.overlaps), FEED_OVERLAPS_SCHEMA),
            feed_first_listings=_table(map(asdict, feeds.first_listings), FEED_FIRST_LISTINGS_SCHEMA),
            feed_churn=_table(map(asdict, feeds.churn), FEED_CHURN_SCHEMA),
            findings=_table(
                (
                    {**record, "references": json.dumps(record["references"])}
                    for record in (finding.to_record() for finding in analysis.findings)
                ),
                FINDINGS_SCHEMA,
            ),
        )

    def named(self) -> tuple[tuple[str, pa.Table], ...]:
        """Each table with the name its files carry."""
        return tuple((field.name, getattr(self, field.name)) for field in fields(self))


def _table(rows: Iterable[Mapping[str, Any]], schema: pa.Schema) -> pa.Table:
    return pa.Table.from_pylist(list(rows), schema=schema)


def registrar_names(analysis: AbuseAnalysis) -> dict[str, str]:
    """Registrar names by IANA ID, as the rates and shares carry them."""
    names: dict[str, str] = {}
    for table in (analysis.rates, analysis.flocking.shares):
        registrars = table.filter(pc.equal(table.column("entity_type").cast(_TEXT), "registrar"))
        for entity, name in zip(
            registrars.column("entity").to_pylist(), registrars.column("entity_name").to_pylist(), strict=True
        ):
            if name:
                names[entity] = name
    return names


def _name(names: Mapping[str, str], entity_type: str, entity: str) -> str | None:
    return names.get(entity) if entity_type == "registrar" else entity


def _concentration_rows(analysis: AbuseAnalysis) -> Iterable[dict[str, Any]]:
    for item in analysis.concentration:
        measured = item.concentration
        yield {
            "month": item.month,
            "entity_type": item.entity_type,
            "threat": item.threat,
            "total": measured.total,
            "entities": measured.entities,
            "unattributed": item.unattributed,
            **{f"top{n}_share": measured.top_share[n] for n in TOP},
            "entities_for_half": measured.entities_for_half,
            "entities_for_90": measured.entities_for_90,
            "hhi": measured.hhi,
        }


def _curve_rows(analysis: AbuseAnalysis) -> Iterable[dict[str, Any]]:
    for item in analysis.concentration:
        cumulative = 0
        for position, (entity, abused) in enumerate(item.concentration.top, start=1):
            cumulative += abused
            yield {
                "month": item.month,
                "entity_type": item.entity_type,
                "threat": item.threat,
                "position": position,
                "entity": entity,
                "abused": abused,
                "cumulative_share": cumulative / item.concentration.total,
            }


def _mitigation_rows(analysis: AbuseAnalysis, names: Mapping[str, str]) -> Iterable[dict[str, Any]]:
    for item in analysis.mitigation:
        yield {
            "entity_type": item.entity_type,
            "entity": item.entity,
            "entity_name": _name(names, item.entity_type, item.entity),
            "listed": item.listed,
            "mitigated": item.mitigated,
            **{f"mitigated_by_{method}": item.by_method.get(method, 0) for method in METHODS},
            "median_days": item.survival.median_days,
            **{f"mitigated_within_{days}_days": item.survival.within[days] for days in WITHIN_DAYS},
            "unmitigated_median_days": item.unmitigated_median_days,
            "unmitigated_max_days": item.unmitigated_max_days,
        }


def _flow_rows(analysis: AbuseAnalysis, names: Mapping[str, str]) -> Iterable[dict[str, Any]]:
    for flow in analysis.flocking.flows:
        yield {
            "month": flow.month,
            "entity_type": flow.entity_type,
            "source": flow.source,
            "source_name": _name(names, flow.entity_type, flow.source),
            "target": flow.target,
            "target_name": _name(names, flow.entity_type, flow.target),
            "share": flow.share,
            "linked_domains": flow.linked_domains,
        }


@dataclass(frozen=True, slots=True)
class DataFile:
    """One published file: its path inside the report folder (POSIX), its table and how many rows."""

    path: str
    table: str
    rows: int


def data_files(tables: AbuseTables) -> tuple[DataFile, ...]:
    """The files `write_report_folder` writes for `tables`."""
    return tuple(
        DataFile(f"{DATA}/{name}.{fmt}", name, table.num_rows)
        for name, table in tables.named()
        for fmt in FORMATS
    )


def summarise(analysis: AbuseAnalysis, tables: AbuseTables) -> dict[str, Any]:
    """The report's JSON summary: the period, headline counts, the findings, and every file with its rows."""
    overall = next((row for row in tables.mitigation.to_pylist() if row["entity_type"] == "all"), None)
    month_totals = {
        row["month"]: row["month_total"] for row in tables.shares.to_pylist() if row["entity_type"] == "tld"
    }
    return {
        "generator": GENERATOR,
        "period": analysis.window.to_text(),
        "months": [month.strftime("%Y-%m") for month in analysis.window.months()],
        "counts": {
            "rates": tables.rates.num_rows,
            "ranked_rates": sum(tables.rates.column("ranked").to_pylist()),
            "listed_domains": overall["listed"] if overall else 0,
            "mitigated_domains": overall["mitigated"] if overall else 0,
            "malicious_registrations": sum(month_totals.values()),
            "feeds": tables.feed_listings.num_rows,
            "findings": len(analysis.findings),
            "findings_by_code": dict(sorted(Counter(f.code for f in analysis.findings).items())),
        },
        "findings": [{**f.to_record(), "evidence": dict(f.evidence)} for f in analysis.findings],
        "files": [
            {"path": PAGE, "table": None, "rows": None, "description": "the report page"},
            *({**asdict(file), "description": DESCRIPTIONS[file.table]} for file in data_files(tables)),
        ],
    }


def check_report_folder(folder: Path) -> None:
    """Refuse a destination the report cannot take over: a file, or a folder holding anything but an
    earlier report's files (replacing it would delete them).

    Raises:
        OutputError: `folder` is a file or a folder of something else.
    """
    if folder.exists() and not folder.is_dir():
        raise OutputError(f"{folder}: is a file, not a folder", hint="give --out a new or empty folder")
    if not folder.is_dir():
        return
    # Level by level, so that `--out ~` is refused at a glance rather than after walking all of it.
    others = sorted(
        path.name
        for path in folder.iterdir()
        if path.name not in (PAGE, SUMMARY, DATA) or (path.name == DATA and not path.is_dir())
    )
    if not others and (folder / DATA).is_dir():
        ours = {f"{name}.{fmt}" for name in DESCRIPTIONS for fmt in FORMATS}
        others = sorted(f"{DATA}/{path.name}" for path in (folder / DATA).iterdir() if path.name not in ours)
    if others:
        raise OutputError(
            f"{folder}: holds files that are not part of a dnsvigil abuse report: {', '.join(others[:3])}",
            hint="give --out a new or empty folder, or the folder of an earlier report to replace it",
        )


def write_report_folder(folder: Path, tables: AbuseTables, documents: Mapping[str, str]) -> None:
    """Write `tables` as CSV and Parquet under `folder/data/` and `documents` (file name to text) in
    `folder`, replacing an earlier report there, all or nothing.

    Raises:
        OutputError: `folder` is not free for a report (see `check_report_folder`) or cannot be written.
    """
    check_report_folder(folder)
    try:
        folder.parent.mkdir(parents=True, exist_ok=True)
        building = Path(tempfile.mkdtemp(prefix=f".{folder.name}.", dir=folder.parent))
    except OSError as error:
        raise OutputError(f"{folder}: cannot write the abuse report ({error.strerror or error})") from error
    try:
        for file in data_files(tables):
            table = getattr(tables, file.table)
            with atomic_output(building / file.path, what=f"the {file.table} table") as sink:
                if file.path.endswith(".csv"):
                    pyarrow.csv.write_csv(table, sink)
                else:
                    pyarrow.parquet.write_table(table, sink)
        for name, text in documents.items():
            write_atomically(building / name, text, what=name)
        _move_into_place(building, folder)
    finally:
        shutil.rmtree(building, ignore_errors=True)


def _move_into_place(building: Path, folder: Path) -> None:
    """Rename the finished `building` to `folder`; an earlier report there is set aside, then deleted."""
    previous = folder.with_name(f"{building.name}.previous") if folder.exists() else None
    try:
        building.chmod(0o755)
        if previous is not None:
            folder.replace(previous)
        building.replace(folder)
    except OSError as error:
        if previous is not None and previous.exists() and not folder.exists():
            previous.replace(folder)
        raise OutputError(f"{folder}: cannot write the abuse report ({error.strerror or error})") from error
    if previous is not None:
        shutil.rmtree(previous, ignore_errors=True)
