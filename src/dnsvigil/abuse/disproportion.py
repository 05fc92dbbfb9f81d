"""`ABUSE.DISPROPORTIONATE`: a registrar whose share of a month's malicious registrations far exceeds its
share of the domains under management.

The test: were malicious registrations spread in proportion to domains under management, a registrar
holding the share `s` of them would get `X ~ Binomial(N, s)` of the month's `N` malicious registrations. A
registrar is flagged when its count `x` makes the one-sided p-value `P(X >= x)` smaller than the
significance level divided by the number of registrars tested that month (Bonferroni, so the level holds
for the whole month's ranking), when `x` reaches the minimum size, and when its share is at least the
minimum multiple of `s` (significant and large, not just significant).

A malicious registration is a domain listed for a security threat (spam is left out) that no feed marks as
an abused legitimate domain and the classifier does not call compromised (`sources.listed_ctes`). Counts
and shares cover the TLDs whose registry reports are in the warehouse for that month, and real registrars
only.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass
from datetime import date
from typing import Any

import pyarrow as pa
from scipy.stats import binom  # type: ignore[import-untyped]

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

DETECTOR = "abuse.disproportion"
EXAMPLES = 10
HIGH_RATIO = 10.0

DISPROPORTIONATE = register_code(
    FindingCode(
        "ABUSE.DISPROPORTIONATE",
        "Registrar with a disproportionate share of malicious registrations",
        "In one month the registrar's share of malicious registrations far exceeds its share of domains "
        "under management, beyond what chance explains (one-sided binomial test, Bonferroni-corrected).",
        ("https://www.icann.org/octo-ssr/daar",),
    )
)


@dataclass(frozen=True, slots=True)
class DisproportionSettings:
    """Thresholds of the test (defaults in `dnsvigil.config`).

    Attributes:
        alpha: significance level for one month, shared among the registrars tested (Bonferroni).
        min_malicious: malicious registrations a registrar needs in the month to be tested.
        min_ratio: how many times its share of domains under management its share of malicious
            registrations must reach.
    """

    alpha: float = 0.01
    min_malicious: int = 10
    min_ratio: float = 3.0

    def __post_init__(self) -> None:
        if not 0.0 < self.alpha < 1.0:
            raise ValueError(f"alpha must be within (0, 1), got {self.alpha}")
        if self.min_malicious < 1 or self.min_ratio < 1.0:
            raise ValueError("min_malicious and min_ratio must be at least 1")


def find_disproportionate(
    runner: SqlRunner, window: Window, settings: DisproportionSettings, *, registered: pa.Table | None = None
) -> list[Finding]:
    """The `ABUSE.DISPROPORTIONATE` findings of each month of the window, by month and registrar
    (`registered`: `sources.latest_registrations`, computed here when not given)."""
    rows = runner.arrow(
        f"""WITH {listed_ctes("month")},
dum AS (
  SELECT month, tld::VARCHAR AS tld, registrar_iana_id AS registrar, total_domains
  FROM domains_under_management
  WHERE month >= $1::DATE AND month < $2::DATE AND {real_registrar("registrar_iana_id")}
),
managed AS (SELECT month, registrar, sum(total_domains)::BIGINT AS managed FROM dum GROUP BY ALL),
listed_malicious AS (
  SELECT DISTINCT l.period_start AS month, r.registrar, l.domain, l.threat
  FROM listed l JOIN malicious USING (domain) JOIN registered r ON r.domain = l.domain
  -- A semi-join: as an inner join the planner may pair every listing with every registrar of its TLD first.
  WHERE l.threat <> 'spam'
    AND EXISTS (
      SELECT 1 FROM dum d WHERE d.month = l.period_start AND d.tld = l.tld AND d.registrar = r.registrar
    )
)
SELECT m.month, m.registrar::VARCHAR AS registrar, m.managed,
  list(DISTINCT x.domain ORDER BY x.domain) FILTER (WHERE x.domain IS NOT NULL) AS domains,
  list(x.threat) FILTER (WHERE x.domain IS NOT NULL) AS threats
FROM managed m LEFT JOIN listed_malicious x ON x.month = m.month AND x.registrar = m.registrar
WHERE m.managed > 0 GROUP BY ALL ORDER BY m.month, registrar""",
        [window.start, window.end],
        tables=registered_table(runner, registered),
    ).to_pylist()
    months: dict[date, list[dict[str, Any]]] = defaultdict(list)
    for row in rows:
        months[row["month"]].append(row)
    names = registrar_names(runner)
    findings = []
    for month, registrars in sorted(months.items()):
        findings += _test_month(month, registrars, names, settings)
    return findings


def _test_month(
    month: date, registrars: list[dict[str, Any]], names: dict[str, str], settings: DisproportionSettings
) -> list[Finding]:
    total_managed = sum(row["managed"] for row in registrars)
    total_malicious = sum(len(row["domains"] or []) for row in registrars)
    tested = [row for row in registrars if len(row["domains"] or []) >= settings.min_malicious]
    if not tested:
        return []
    level = settings.alpha / len(tested)
    start, end = month_span(month)
    findings = []
    for row in tested:
        malicious = len(row["domains"])
        managed_share = row["managed"] / total_managed
        malicious_share = malicious / total_malicious
        ratio = malicious_share / managed_share
        p_value = float(binom.sf(malicious - 1, total_malicious, managed_share))
        if p_value >= level or ratio < settings.min_ratio:
            continue
        findings.append(
            Finding(
                code=DISPROPORTIONATE.code,
                subject_type=SubjectType.REGISTRAR,
                subject=row["registrar"],
                severity=Severity.HIGH if ratio >= HIGH_RATIO else Severity.MEDIUM,
                confidence=round(1.0 - min(1.0, p_value * len(tested)), 6),
                first_seen=start,
                last_seen=end,
                detector=DETECTOR,
                evidence={
                    "month": month.strftime("%Y-%m"),
                    "registrar_name": names.get(row["registrar"], ""),
                    "malicious": malicious,
                    "malicious_total": total_malicious,
                    "malicious_share": round(malicious_share, 6),
                    "domains_under_management": row["managed"],
                    "domains_under_management_total": total_managed,
                    "managed_share": round(managed_share, 6),
                    "ratio": round(ratio, 3),
                    "p_value": p_value,
                    "test": "one-sided binomial, Bonferroni over the registrars tested",
                    "alpha": settings.alpha,
                    "registrars_tested": len(tested),
                    "threats": dict(Counter(row["threats"]).most_common()),
                    "examples": row["domains"][:EXAMPLES],
                },
            )
        )
    return findings
