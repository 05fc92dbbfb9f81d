"""Flocking: how the shares of malicious registrations move between registrars and TLDs month to month.

Each malicious registration (see `sources.listed_ctes`) counts in the month it was created, so a share is
where abusers chose to register that month, whenever the feeds caught up with them. For each month and the
one before it, each registrar (and each TLD) with enough malicious registrations in the two months is tested:
is its share different from last month's beyond chance? The test is Fisher's exact test, two-sided, on the
2x2 table (this entity / all others, this month / last month), with Bonferroni over the entities tested that
month; a shift must also be large (at least `min_change` of all malicious registrations) to be reported.

The test counts registration batches, not domains: abusers register names in batches (same registrar, TLD,
day and name servers), and one batch is one choice of where to register. Counting its domains as
independent draws would overstate the evidence and find shifts in batch-size noise.

Where abuse went when a share fell is estimated by the month's flows: each entity's lost share is divided
among the entities that gained, in proportion to their gains. Name servers corroborate a flow: a gaining
entity's new malicious domains that use a name server the losing entity's domains used last month.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, timedelta
from itertools import pairwise
from typing import Any, Literal

import pyarrow as pa
from scipy.stats import fisher_exact  # type: ignore[import-untyped]

from dnsvigil.abuse.sources import (
    Window,
    listed_ctes,
    month_span,
    real_registrar,
    registered_table,
    registrar_names,
)
from dnsvigil.findings import Finding, FindingCode, Severity, SubjectType, register_code
from dnsvigil.store.sql import SqlRunner

DETECTOR = "abuse.flocking"
EntityType = Literal["registrar", "tld"]
ENTITY_TYPES: tuple[EntityType, ...] = ("registrar", "tld")
SHOWN_FLOWS = 5
MIN_FLOW_SHARE = 0.001
"""Smaller estimated flows (under 0.1 % of the month's malicious registrations) are left out: with
thousands of registrars every loser pairs with every gainer, and the pairs are noise."""
HIGH_CHANGE = 0.25
TEST = (
    "two-sided Fisher exact test on registration batches, (entity, all others) x (month, previous month), "
    "Bonferroni over the entities tested in the month"
)

REGISTRAR_SHIFT = register_code(
    FindingCode(
        "ABUSE.REGISTRAR_SHIFT",
        "Abusers moved to or away from a registrar",
        "A registrar's share of the month's malicious registrations changed from the month before by more "
        "than chance explains (two-sided Fisher exact test, Bonferroni-corrected) and by a large amount.",
        ("https://www.icann.org/octo-ssr/daar",),
    )
)
TLD_SHIFT = register_code(
    FindingCode(
        "ABUSE.TLD_SHIFT",
        "Abusers moved to or away from a TLD",
        "A TLD's share of the month's malicious registrations changed from the month before by more than "
        "chance explains (two-sided Fisher exact test, Bonferroni-corrected) and by a large amount.",
        ("https://www.icann.org/octo-ssr/daar",),
    )
)
_CODES = {
    "registrar": (REGISTRAR_SHIFT.code, SubjectType.REGISTRAR),
    "tld": (TLD_SHIFT.code, SubjectType.TLD),
}


@dataclass(frozen=True, slots=True)
class ShiftSettings:
    """Thresholds of the shift test (defaults in `dnsvigil.config`).

    Attributes:
        alpha: significance level for one month, shared among the entities tested (Bonferroni).
        min_malicious: malicious registrations an entity needs in the two months together to be tested.
        min_change: smallest change of share, as a fraction of all malicious registrations, worth reporting.
    """

    alpha: float = 0.01
    min_malicious: int = 10
    min_change: float = 0.1

    def __post_init__(self) -> None:
        if not 0.0 < self.alpha < 1.0 or not 0.0 < self.min_change < 1.0:
            raise ValueError("alpha and min_change must be within (0, 1)")
        if self.min_malicious < 1:
            raise ValueError("min_malicious must be at least 1")


@dataclass(frozen=True, slots=True)
class Flow:
    """An estimated move of abuse from one entity to another between `month`'s previous month and `month`.

    Attributes:
        share: the fraction of all malicious registrations estimated to have moved.
        linked_domains: `target`'s malicious domains of `month` using a name server that `source`'s malicious
            domains used the month before.
    """

    month: date
    entity_type: EntityType
    source: str
    target: str
    share: float
    linked_domains: int


@dataclass(frozen=True, slots=True)
class Flocking:
    """Monthly shares (a table), the flows between entities, and the shift findings."""

    shares: pa.Table
    flows: tuple[Flow, ...]
    findings: tuple[Finding, ...]


@dataclass(frozen=True, slots=True)
class _Registration:
    domain: str
    month: date
    day: date
    registrar: str | None
    tld: str
    nameservers: frozenset[str]

    @property
    def batch(self) -> tuple[object, ...]:
        """Registrations made together: same registrar, TLD, day and name servers (unknown servers: alone)."""
        if not self.nameservers:
            return (self.domain,)
        return (self.registrar, self.tld, self.day, self.nameservers)


def find_flocking(
    runner: SqlRunner, window: Window, settings: ShiftSettings, *, registered: pa.Table | None = None
) -> Flocking:
    """Shares, flows and shift findings for each month of `window` (compared with the month before it;
    `registered`: `sources.latest_registrations`, computed here when not given)."""
    previous = _previous_month(window.start)
    rows = runner.arrow(
        f"""WITH {listed_ctes("month")},
servers AS (
  SELECT domain, arg_max(nameservers, observed) AS nameservers
  FROM registrations WHERE domain IN (SELECT domain FROM malicious) GROUP BY domain
)
SELECT r.domain, date_trunc('month', r.created)::DATE AS month, r.created::DATE AS day,
  CASE WHEN {real_registrar("r.registrar")} THEN r.registrar::VARCHAR END AS registrar,
  r.tld, s.nameservers
FROM registered r JOIN malicious USING (domain) LEFT JOIN servers s USING (domain)
WHERE r.created >= $3::DATE AND r.created < $2::DATE""",
        [window.start, window.end, previous],
        tables=registered_table(runner, registered),
    ).to_pylist()
    registrations = [
        _Registration(
            row["domain"],
            row["month"],
            row["day"],
            row["registrar"],
            row["tld"],
            frozenset(row["nameservers"] or ()),
        )
        for row in rows
    ]
    names = registrar_names(runner)
    months = [previous, *window.months()]
    share_rows: list[dict[str, Any]] = []
    flows: list[Flow] = []
    findings: list[Finding] = []
    for entity_type in ENTITY_TYPES:
        counts = _counts(registrations, entity_type)
        batches = _counts(registrations, entity_type, by_batch=True)
        share_rows += _share_rows(counts, batches, months[1:], entity_type, names)
        for before, month in pairwise(months):
            month_flows = _flows(registrations, counts, before, month, entity_type)
            flows += month_flows
            findings += _shifts(
                _Counts(counts, batches), before, month, entity_type, month_flows, names, settings
            )
    return Flocking(pa.Table.from_pylist(share_rows, schema=SHARES_SCHEMA), tuple(flows), tuple(findings))


SHARES_SCHEMA = pa.schema(
    [
        pa.field("month", pa.date32()),
        pa.field("entity_type", pa.string()),
        pa.field("entity", pa.string()),
        pa.field("entity_name", pa.string()),
        pa.field("malicious", pa.int64()),
        pa.field("batches", pa.int64()),
        pa.field("month_total", pa.int64()),
        pa.field("share", pa.float64()),
    ]
)


def _previous_month(first: date) -> date:
    return (first - timedelta(days=1)).replace(day=1)


def _entity(registration: _Registration, entity_type: EntityType) -> str | None:
    return registration.registrar if entity_type == "registrar" else registration.tld


def _counts(
    registrations: Iterable[_Registration], entity_type: EntityType, *, by_batch: bool = False
) -> dict[date, Counter[str]]:
    """Malicious registrations (or their batches) per month and entity (no real registrar: left out)."""
    seen: set[tuple[object, ...]] = set()
    counts: dict[date, Counter[str]] = defaultdict(Counter)
    for registration in registrations:
        entity = _entity(registration, entity_type)
        if entity is None or (by_batch and registration.batch in seen):
            continue
        seen.add(registration.batch)
        counts[registration.month][entity] += 1
    return counts


@dataclass(frozen=True, slots=True)
class _Counts:
    """Per month and entity: malicious domains, and the batches they were registered in."""

    domains: dict[date, Counter[str]]
    batches: dict[date, Counter[str]]


def _share(counts: dict[date, Counter[str]], month: date, entity: str) -> float:
    total = counts[month].total()
    return counts[month][entity] / total if total else 0.0


def _share_rows(
    counts: dict[date, Counter[str]],
    batches: dict[date, Counter[str]],
    months: list[date],
    entity_type: EntityType,
    names: dict[str, str],
) -> list[dict[str, Any]]:
    return [
        {
            "month": month,
            "entity_type": entity_type,
            "entity": entity,
            "entity_name": names.get(entity, "") if entity_type == "registrar" else entity,
            "malicious": count,
            "batches": batches[month][entity],
            "month_total": counts[month].total(),
            "share": round(count / counts[month].total(), 6),
        }
        for month in months
        for entity, count in sorted(counts[month].items())
    ]


def _flows(
    registrations: list[_Registration],
    counts: dict[date, Counter[str]],
    before: date,
    month: date,
    entity_type: EntityType,
) -> list[Flow]:
    """Each loser's lost share divided among the gainers in proportion to their gains."""
    if not counts[before] or not counts[month]:
        return []
    entities = set(counts[before]) | set(counts[month])
    change = {entity: _share(counts, month, entity) - _share(counts, before, entity) for entity in entities}
    gained = {entity: delta for entity, delta in change.items() if delta > 0}
    total_gain = sum(gained.values())
    servers_before: dict[str, set[str]] = defaultdict(set)
    servers_now: dict[str, list[frozenset[str]]] = defaultdict(list)
    for registration in registrations:
        entity = _entity(registration, entity_type)
        if entity is None:
            continue
        if registration.month == before:
            servers_before[entity] |= registration.nameservers
        elif registration.month == month:
            servers_now[entity].append(registration.nameservers)
    flows = []
    for source, delta in sorted(change.items()):
        if delta >= 0:
            continue
        for target, gain in sorted(gained.items()):
            share = round(-delta * gain / total_gain, 6)
            if share < MIN_FLOW_SHARE:
                continue
            linked = sum(1 for servers in servers_now[target] if servers & servers_before[source])
            flows.append(Flow(month, entity_type, source, target, share, linked))
    return flows


def _shifts(
    counts: _Counts,
    before: date,
    month: date,
    entity_type: EntityType,
    flows: list[Flow],
    names: dict[str, str],
    settings: ShiftSettings,
) -> list[Finding]:
    domains, batches = counts.domains, counts.batches
    total_before, total_now = domains[before].total(), domains[month].total()
    if not total_before or not total_now:
        return []
    tested = sorted(
        entity
        for entity in set(domains[before]) | set(domains[month])
        if domains[before][entity] + domains[month][entity] >= settings.min_malicious
    )
    level = settings.alpha / max(len(tested), 1)
    code, subject_type = _CODES[entity_type]
    first, last = month_span(month)
    batches_before, batches_now = batches[before].total(), batches[month].total()
    findings = []
    for entity in tested:
        now, then = domains[month][entity], domains[before][entity]
        change = now / total_now - then / total_before
        batch_now, batch_then = batches[month][entity], batches[before][entity]
        table = [[batch_now, batches_now - batch_now], [batch_then, batches_before - batch_then]]
        p_value = float(fisher_exact(table)[1])
        if p_value >= level or abs(change) < settings.min_change:
            continue
        falling = change < 0
        related = [flow for flow in flows if (flow.source if falling else flow.target) == entity]
        related.sort(key=lambda flow: (-flow.share, flow.target if falling else flow.source))
        findings.append(
            Finding(
                code=code,
                subject_type=subject_type,
                subject=entity,
                severity=Severity.HIGH if abs(change) >= HIGH_CHANGE else Severity.MEDIUM,
                confidence=round(1.0 - min(1.0, p_value * len(tested)), 6),
                first_seen=first,
                last_seen=last,
                detector=DETECTOR,
                evidence={
                    "month": month.strftime("%Y-%m"),
                    "previous_month": before.strftime("%Y-%m"),
                    "direction": "fall" if falling else "rise",
                    "entity_name": names.get(entity, "") if entity_type == "registrar" else entity,
                    "malicious": now,
                    "malicious_total": total_now,
                    "share": round(now / total_now, 6),
                    "previous_malicious": then,
                    "previous_malicious_total": total_before,
                    "previous_share": round(then / total_before, 6),
                    "batches": batch_now,
                    "batches_total": batches_now,
                    "previous_batches": batch_then,
                    "previous_batches_total": batches_before,
                    "change": round(change, 6),
                    "p_value": p_value,
                    "test": TEST,
                    "alpha": settings.alpha,
                    "entities_tested": len(tested),
                    ("went_to" if falling else "came_from"): [
                        {
                            entity_type: flow.target if falling else flow.source,
                            "share": flow.share,
                            "linked_domains": flow.linked_domains,
                        }
                        for flow in related[:SHOWN_FLOWS]
                    ],
                },
            )
        )
    return findings
