"""The API's list queries over the warehouse: findings, their open summary, and abuse rates.

Each filter is a value object that turns itself into SQL conditions with `?` parameters: no value a
caller sends is ever written into SQL text.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from dnsvigil.abuse.sources import PeriodKind
from dnsvigil.findings import Severity, SubjectType
from dnsvigil.store.sql import SqlRunner
from dnsvigil.traffic.detection import instant_of_ns
from dnsvigil.web.paging import Page, PageQuery, SortKey, fetch_page

_FINDING_COLUMNS = (
    "finding_id, code, subject_type, subject, severity, confidence, epoch_ns(first_seen) AS first_ns,"
    ' epoch_ns(last_seen) AS last_ns, detector, evidence, "references", tlp, message'
)
_FINDING_KEYS = (
    SortKey("epoch_ns(first_seen)", numeric=True, descending=True),
    SortKey("finding_id", descending=True),
)


def _marks(values: tuple[object, ...]) -> str:
    return ", ".join("?" for _ in values)


@dataclass(frozen=True, slots=True)
class FindingFilter:
    """Which findings to list: any of `codes`, one subject, at least a severity, overlapping a window."""

    codes: tuple[str, ...] = ()
    subject: str | None = None
    subject_type: SubjectType | None = None
    min_severity: Severity | None = None
    since: datetime | None = None
    until: datetime | None = None

    def conditions(self) -> tuple[tuple[str, ...], tuple[object, ...]]:
        """SQL conditions on the `findings` view and their parameters."""
        conditions: list[str] = []
        params: list[object] = []
        if self.codes:
            conditions.append(f"code IN ({_marks(self.codes)})")
            params += self.codes
        if self.subject is not None:
            conditions.append("subject = ?")
            params.append(self.subject)
        if self.subject_type is not None:
            conditions.append("subject_type = ?")
            params.append(str(self.subject_type))
        if self.min_severity is not None:
            names = tuple(level.name.lower() for level in Severity if level >= self.min_severity)
            conditions.append(f"severity IN ({_marks(names)})")
            params += names
        if self.since is not None:
            conditions.append("last_seen >= ?")
            params.append(self.since)
        if self.until is not None:
            conditions.append("first_seen < ?")
            params.append(self.until)
        return tuple(conditions), tuple(params)

    def scope(self) -> dict[str, Any]:
        """The filter as plain data, which a cursor is tied to."""
        return {
            "list": "findings",
            "codes": sorted(self.codes),
            "subject": self.subject,
            "subject_type": self.subject_type,
            "min_severity": None if self.min_severity is None else self.min_severity.name,
            "since": self.since,
            "until": self.until,
        }


def _timed(row: dict[str, Any]) -> dict[str, Any]:
    """A row with its `first_ns`/`last_ns` epoch nanoseconds as `first_seen`/`last_seen` UTC datetimes."""
    first_ns, last_ns = row.pop("first_ns"), row.pop("last_ns")
    return {**row, "first_seen": instant_of_ns(first_ns), "last_seen": instant_of_ns(last_ns)}


def _finding(row: dict[str, Any]) -> dict[str, Any]:
    """A `findings` row as the API shows it: times as UTC datetimes, evidence as an object."""
    return {**_timed(row), "evidence": json.loads(row["evidence"])}


def list_findings(runner: SqlRunner, where: FindingFilter, *, limit: int, cursor: str | None) -> Page:
    """A page of findings matching `where`, newest first."""
    conditions, params = where.conditions()
    query = PageQuery(_FINDING_COLUMNS, "findings", conditions, params, _FINDING_KEYS, where.scope())
    page = fetch_page(runner, query, limit=limit, cursor=cursor)
    return Page([_finding(row) for row in page.rows], page.next_cursor)


def findings_about(runner: SqlRunner, subjects: tuple[str, ...], *, limit: int) -> list[dict[str, Any]]:
    """Findings about any of `subjects`, or naming one in their evidence, newest first."""
    mentions = " OR ".join("contains(evidence, ?)" for _ in subjects)
    sql = (
        f"SELECT {_FINDING_COLUMNS} FROM findings WHERE subject IN ({_marks(subjects)}) OR {mentions}"
        " ORDER BY first_seen DESC, finding_id DESC LIMIT ?"
    )
    quoted = [json.dumps(subject) for subject in subjects]
    rows = runner.arrow(sql, [*subjects, *quoted, limit]).to_pylist()
    return [_finding(row) for row in rows]


def find_finding(runner: SqlRunner, finding_id: str) -> dict[str, Any] | None:
    """The finding with `finding_id`, or None."""
    rows = runner.arrow(f"SELECT {_FINDING_COLUMNS} FROM findings WHERE finding_id = ?", [finding_id])
    return _finding(rows.to_pylist()[0]) if rows.num_rows else None


def summarise_findings(runner: SqlRunner, where: FindingFilter | None = None) -> list[dict[str, Any]]:
    """How many findings there are per code, severity and subject type (of those matching `where`):
    counts, never subjects."""
    conditions, params = (where or FindingFilter()).conditions()
    sql = (
        "SELECT code, severity, subject_type, count(*) AS findings,"
        " epoch_ns(min(first_seen)) AS first_ns, epoch_ns(max(last_seen)) AS last_ns"
        f" FROM findings WHERE {' AND '.join(conditions) or 'TRUE'}"
        " GROUP BY ALL ORDER BY code, severity, subject_type"
    )
    return [
        {
            **row,
            "first_seen": instant_of_ns(row.pop("first_ns")),
            "last_seen": instant_of_ns(row.pop("last_ns")),
        }
        for row in runner.arrow(sql, list(params)).to_pylist()
    ]


_RATE_COLUMNS = (
    "rate_id, strftime(computed_at, '%Y-%m-%dT%H:%M:%SZ') AS computed_at, period_kind, period_start,"
    " entity_type, entity, entity_name, denominator, threat, abused, population, rate_per_10k, low_per_10k,"
    ' high_per_10k, "interval", confidence, ranked, rank'
)
_RATE_KEYS = (
    SortKey("CAST(period_start AS VARCHAR)", descending=True),
    *(
        SortKey(f"CAST({column} AS VARCHAR)")
        for column in ("period_kind", "entity_type", "denominator", "threat")
    ),
    SortKey("coalesce(rank, 2147483647)", numeric=True),
    SortKey("rate_id"),
)


@dataclass(frozen=True, slots=True)
class RateFilter:
    """Which abuse rates to list; None leaves a column free."""

    period_kind: PeriodKind | None = None
    entity_type: str | None = None
    denominator: str | None = None
    threat: str | None = None
    entity: str | None = None
    since: date | None = None
    until: date | None = None
    ranked_only: bool = False

    def conditions(self) -> tuple[tuple[str, ...], tuple[object, ...]]:
        """SQL conditions on the `abuse_rates` view and their parameters."""
        conditions: list[str] = []
        params: list[object] = []
        for column in ("period_kind", "entity_type", "denominator", "threat", "entity"):
            value = getattr(self, column)
            if value is not None:
                conditions.append(f"CAST({column} AS VARCHAR) = ?")
                params.append(value)
        if self.since is not None:
            conditions.append("period_start >= ?")
            params.append(self.since)
        if self.until is not None:
            conditions.append("period_start < ?")
            params.append(self.until)
        if self.ranked_only:
            conditions.append("ranked")
        return tuple(conditions), tuple(params)

    def scope(self) -> dict[str, Any]:
        """The filter as plain data, which a cursor is tied to."""
        return {"list": "abuse_rates", **{name: getattr(self, name) for name in self.__slots__}}


def list_rates(runner: SqlRunner, where: RateFilter, *, limit: int, cursor: str | None) -> Page:
    """A page of abuse rates matching `where`: latest period first, then by table, then by rank."""
    conditions, params = where.conditions()
    query = PageQuery(_RATE_COLUMNS, "abuse_rates", conditions, params, _RATE_KEYS, where.scope())
    return fetch_page(runner, query, limit=limit, cursor=cursor)


def rate_periods(runner: SqlRunner, period_kind: PeriodKind) -> list[date]:
    """The periods of `period_kind` that abuse rates were computed for, latest first."""
    sql = (
        "SELECT DISTINCT period_start FROM abuse_rates WHERE CAST(period_kind AS VARCHAR) = ?"
        " ORDER BY period_start DESC"
    )
    periods: list[date] = runner.arrow(sql, [period_kind]).column(0).to_pylist()
    return periods
