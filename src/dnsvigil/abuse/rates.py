"""Abuse rates per 10,000 domains, per period, TLD and registrar, with confidence intervals.

Each rate is `10,000 x abused / population` for one threat group (`sources.THREAT_GROUPS`), where the
population is one of three denominators:

- `zone` (TLDs): the distinct domains of the period's zone snapshots, with the listed domains of the TLD the
  snapshots missed (registered and deleted between two of them): the set the abused ones belong to, so the
  rate is a binomial proportion with a Wilson interval. Only where the period has a snapshot of the TLD.
- `dum` (TLDs, registrars): domains under management in the registry reports of the period's month; a
  registrar's abused domains count in the TLDs its reports cover. A month-end count is an exposure, not the
  set the abused domains come from, so the interval is the exact Poisson one.
- `new_registrations` (TLDs, registrars): domains created in the period, and of them those listed in the
  same period: a binomial proportion, Wilson interval.

Every entity with a population gets a row, with zero abuse too. Entities whose population is below the
minimum size are kept but not ranked, so that a registrar with ten domains does not top a table on noise.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Final, Literal

import numpy as np
import pyarrow as pa

from dnsvigil.abuse.intervals import poisson, wilson
from dnsvigil.abuse.sources import (
    PERIOD_KINDS,
    THREAT_GROUPS,
    PeriodKind,
    Window,
    listed_ctes,
    period_of,
    real_registrar,
    registered_table,
    registrar_names,
)
from dnsvigil.store.schema import ABUSE_RATES
from dnsvigil.store.sql import SqlRunner

PER = 10_000


@dataclass(frozen=True, slots=True)
class RateSettings:
    """How rates are qualified (defaults in `dnsvigil.config`).

    Attributes:
        confidence: level of the two-sided intervals.
        min_population: smallest population (domains) for a rate to be ranked.
    """

    confidence: float = 0.95
    min_population: int = 1000

    def __post_init__(self) -> None:
        if not 0.0 < self.confidence < 1.0:
            raise ValueError(f"confidence must be within (0, 1), got {self.confidence}")
        if self.min_population < 1:
            raise ValueError(f"min_population must be >= 1, got {self.min_population}")


@dataclass(frozen=True, slots=True)
class _Measure:
    """One denominator for one kind of entity: SQL defining `population(period_start, entity, population)`
    and `abused(period_start, entity, threat, abused)`, and its interval."""

    entity_type: Literal["tld", "registrar"]
    denominator: Literal["zone", "dum", "new_registrations"]
    interval: Literal["wilson", "poisson"]
    ctes: Callable[[PeriodKind], str]


_TAGGED_BY_TLD = (
    "abused AS (SELECT period_start, tld AS entity, threat, count(DISTINCT domain) AS abused"
    " FROM tagged GROUP BY ALL)"
)


def _zone(kind: PeriodKind) -> str:
    # Over the 160 M names of a .com day every pass over the domain strings counts, and holding them (a
    # materialised CTE) more: each use scans the files, the counts read only days and TLDs, the names are read
    # once, for the listed ones the snapshots hold (a semi-join built on the few listed), and counted distinct
    # only where a period has several snapshots of a TLD (a single snapshot's names are distinct).
    period = period_of("day", kind)
    return f"""
zone AS NOT MATERIALIZED (
  SELECT day, tld::VARCHAR AS tld, domain FROM zone_domains WHERE day >= $1::DATE AND day < $2::DATE
),
snapshots AS (SELECT {period} AS period_start, tld, count(DISTINCT day) AS days, count(*) AS names
  FROM zone GROUP BY ALL),
repeated AS (
  SELECT {period} AS period_start, tld, count(DISTINCT domain) AS names FROM zone
  WHERE ({period}, tld) IN (SELECT (period_start, tld) FROM snapshots WHERE days > 1) GROUP BY ALL
),
found AS (
  SELECT DISTINCT {period} AS period_start, tld, domain FROM zone
  WHERE domain IN (SELECT domain FROM listed)
),
missed AS (
  SELECT period_start, tld, count(*) AS missed FROM (
    SELECT DISTINCT period_start, tld, domain FROM listed EXCEPT SELECT * FROM found
  ) GROUP BY ALL
),
population AS (
  SELECT s.period_start, s.tld AS entity,
    CASE WHEN s.days = 1 THEN s.names ELSE r.names END + coalesce(m.missed, 0) AS population
  FROM snapshots s LEFT JOIN repeated r USING (period_start, tld) LEFT JOIN missed m USING (period_start, tld)
),
{_TAGGED_BY_TLD}"""


def _dum(kind: PeriodKind) -> str:
    return f"""
dum AS (
  SELECT p.period_start, d.tld::VARCHAR AS tld, d.registrar_iana_id AS registrar, d.total_domains
  FROM (SELECT DISTINCT period_start FROM listed) p
  JOIN domains_under_management d ON d.month = {period_of("p.period_start", "month")}
)"""


def _dum_by_tld(kind: PeriodKind) -> str:
    return f"""{_dum(kind)},
population AS (SELECT period_start, tld AS entity, sum(total_domains) AS population FROM dum GROUP BY ALL),
{_TAGGED_BY_TLD}"""


def _dum_by_registrar(kind: PeriodKind) -> str:
    return f"""{_dum(kind)},
population AS (SELECT period_start, registrar::VARCHAR AS entity, sum(total_domains) AS population
  FROM dum WHERE {real_registrar("registrar")} GROUP BY ALL),
abused AS (
  SELECT t.period_start, r.registrar::VARCHAR AS entity, t.threat, count(DISTINCT t.domain) AS abused
  FROM tagged t JOIN registered r ON r.domain = t.domain
  -- A semi-join: as an inner join the planner may pair every listing with every registrar of its TLD first.
  WHERE EXISTS (
    SELECT 1 FROM dum d WHERE d.period_start = t.period_start AND d.tld = t.tld AND d.registrar = r.registrar
  )
  GROUP BY ALL
)"""


def _new_registrations(key: str, condition: str) -> Callable[[PeriodKind], str]:
    def ctes(kind: PeriodKind) -> str:
        return f"""
new AS (SELECT domain, tld, registrar, {period_of("created", kind)} AS period_start FROM registered
  WHERE created >= $1::TIMESTAMPTZ AND created < $2::TIMESTAMPTZ AND {condition}),
population AS (SELECT period_start, {key} AS entity, count(*) AS population FROM new GROUP BY ALL),
abused AS (
  SELECT t.period_start, n.{key} AS entity, t.threat, count(DISTINCT t.domain) AS abused
  FROM tagged t JOIN new n ON n.domain = t.domain AND n.period_start = t.period_start GROUP BY ALL
)"""

    return ctes


MEASURES: Final[tuple[_Measure, ...]] = (
    _Measure("tld", "zone", "wilson", _zone),
    _Measure("tld", "dum", "poisson", _dum_by_tld),
    _Measure("registrar", "dum", "poisson", _dum_by_registrar),
    _Measure("tld", "new_registrations", "wilson", _new_registrations("tld", "tld IS NOT NULL")),
    _Measure(
        "registrar",
        "new_registrations",
        "wilson",
        _new_registrations("registrar::VARCHAR", real_registrar("registrar")),
    ),
)


def _query(measure: _Measure, kind: PeriodKind) -> str:
    key = f"'{kind}', period_start, '{measure.entity_type}', entity, '{measure.denominator}', threat"
    return f"""WITH {listed_ctes(kind)},{measure.ctes(kind)}
SELECT md5(concat_ws('|', {key})) AS rate_id, period_start, entity, threat, population, abused,
  population >= $4 AS ranked,
  CASE WHEN population >= $4 THEN
    rank() OVER (PARTITION BY period_start, threat, population >= $4 ORDER BY abused / population DESC)
  END AS rank
FROM (
  SELECT p.period_start, p.entity, t.threat, p.population::BIGINT AS population,
    coalesce(a.abused, 0)::BIGINT AS abused
  FROM population p CROSS JOIN (SELECT unnest($3::VARCHAR[]) AS threat) t
  LEFT JOIN abused a ON a.period_start = p.period_start AND a.entity = p.entity AND a.threat = t.threat
  WHERE p.population > 0
)
ORDER BY period_start, threat, entity"""


def compute_rates(
    runner: SqlRunner,
    window: Window,
    settings: RateSettings,
    *,
    computed_at: datetime,
    registered: pa.Table | None = None,
) -> pa.Table:
    """Every rate of the window, day by day and month by month, as rows of the `abuse_rates` table
    (`registered`: `sources.latest_registrations`, computed here when not given)."""
    names = registrar_names(runner)
    tables = registered_table(runner, registered)
    parts = []
    for kind in PERIOD_KINDS:
        for measure in MEASURES:
            rows = runner.arrow(
                _query(measure, kind),
                [window.start, window.end, list(THREAT_GROUPS), settings.min_population],
                tables=tables,
            )
            if rows.num_rows:
                parts.append(_qualified(rows, kind, measure, names, settings, computed_at))
    if not parts:
        return ABUSE_RATES.schema.empty_table()
    return pa.concat_tables(parts)


def _qualified(
    rows: pa.Table,
    kind: PeriodKind,
    measure: _Measure,
    names: dict[str, str],
    settings: RateSettings,
    computed_at: datetime,
) -> pa.Table:
    """Rates with their intervals, in the table's schema."""
    abused = rows.column("abused").to_numpy().astype(np.float64)
    population = rows.column("population").to_numpy().astype(np.float64)
    bounds = wilson if measure.interval == "wilson" else poisson
    low, high = bounds(abused, population, settings.confidence)
    entities = rows.column("entity").to_pylist()
    count = rows.num_rows
    columns = {
        "rate_id": rows.column("rate_id"),
        "computed_at": pa.array([computed_at] * count, ABUSE_RATES.schema.field("computed_at").type),
        "period_kind": [kind] * count,
        "period_start": rows.column("period_start"),
        "entity_type": [measure.entity_type] * count,
        "entity": entities,
        "entity_name": [
            names.get(entity) if measure.entity_type == "registrar" else None for entity in entities
        ],
        "denominator": [measure.denominator] * count,
        "threat": rows.column("threat"),
        "abused": rows.column("abused"),
        "population": rows.column("population"),
        "rate_per_10k": PER * abused / population,
        "low_per_10k": PER * low,
        "high_per_10k": PER * high,
        "interval": [measure.interval] * count,
        "confidence": [settings.confidence] * count,
        "ranked": rows.column("ranked"),
        "rank": rows.column("rank").cast(pa.int32()),
    }
    return pa.Table.from_pydict(columns).cast(ABUSE_RATES.schema)
