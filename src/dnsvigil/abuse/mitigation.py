"""How fast listed abuse is mitigated: time from first listing to removal from the zone, to a hold status,
or to the end of its listing, per registrar and TLD.

A domain is mitigated at the earliest of: the first zone snapshot of its TLD, on or after the listing day,
that no longer delegates it (having delegated it before); the first registration observation, on or after
the listing day, with a hold status; the last time a feed saw it (else the first later feed snapshot), once
the feeds' later snapshots no longer list it. A domain none of these caught is still abused when the data
ends: its time is censored there, so medians and shares come from the Kaplan-Meier estimator (Kaplan and
Meier 1958), which counts a censored domain for as long as it was watched instead of dropping it or
pretending it was mitigated. Times are in days; a mitigation seen before the first listing (a snapshot at
midnight, a listing at noon) counts as 0.

An observation only brackets the moment of mitigation: it happened after the last observation that showed
the domain unmitigated (or its listing, if later) and before the first that showed it mitigated. Taking the
later bound would add half the observation interval to every time (half a day with daily snapshots), so
each time is the midpoint of its bracket: the usual treatment of interval-censored times. A feed's own
last-seen time is exact and used as is.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final

import numpy as np
import pyarrow as pa

from dnsvigil.abuse.sources import Window, listed_ctes, real_registrar, registered_table
from dnsvigil.store.sql import SqlRunner

WITHIN_DAYS: Final = (1, 7, 30)
METHODS: Final = ("zone", "hold", "feed")
"""How a mitigation is seen: removal from the zone, a hold status, the end of the feeds' listing."""
_DAY_SECONDS = 86_400.0


@dataclass(frozen=True, slots=True)
class Timeline:
    """One listed domain: days from its first listing to mitigation (None while still abused), by which
    means (`zone`, `hold`, `feed`), and days it was watched (to mitigation, else to the end of the data)."""

    domain: str
    tld: str
    registrar: str | None
    days: float | None
    method: str | None
    watched: float


@dataclass(frozen=True, slots=True)
class Survival:
    """The Kaplan-Meier estimate for a set of timelines.

    Attributes:
        median_days: smallest time by which at least half are estimated mitigated; None when fewer ever are.
        within: estimated share mitigated within each of `WITHIN_DAYS` days; None when no domain was watched
            that long (the estimate does not reach so far).
    """

    median_days: float | None
    within: dict[int, float | None]

    @classmethod
    def of(cls, days: Sequence[float], mitigated: Sequence[bool]) -> Survival:
        """Estimate from each domain's time (to mitigation, or watched when not mitigated)."""
        times = np.asarray(days, dtype=np.float64)
        events = np.asarray(mitigated, dtype=bool)
        if len(times) == 0:
            return cls(None, dict.fromkeys(WITHIN_DAYS))
        steps, ended = np.unique(times[events], return_counts=True)
        # At risk at each step: the times not before it (a sorted search, not a pass over all per step).
        at_risk = len(times) - np.searchsorted(np.sort(times), steps, side="left")
        surviving = np.cumprod(1.0 - ended / at_risk)  # sequential, as the product step by step
        curve: list[tuple[float, float]] = list(zip(steps.tolist(), surviving.tolist(), strict=True))
        median = next((moment for moment, value in curve if value <= 0.5 + 1e-12), None)
        longest = float(times.max())
        within: dict[int, float | None] = {}
        for limit in WITHIN_DAYS:
            passed = [value for moment, value in curve if moment <= limit]
            within[limit] = None if longest < limit else 1.0 - (passed[-1] if passed else 1.0)
        return cls(median, within)


@dataclass(frozen=True, slots=True)
class MitigationSummary:
    """Mitigation of the domains of one registrar, TLD, or all (`entity_type` "all")."""

    entity_type: str
    entity: str
    listed: int
    mitigated: int
    by_method: dict[str, int]
    survival: Survival
    unmitigated_median_days: float | None
    unmitigated_max_days: float | None


def timelines(runner: SqlRunner, window: Window, *, registered: pa.Table | None = None) -> list[Timeline]:
    """The timeline of every domain first listed within the window (followed to the end of the data;
    `registered`: `sources.latest_registrations`, computed here when not given)."""
    rows = runner.arrow(
        f"""WITH {listed_ctes("month")},
first AS (
  SELECT domain, any_value(tld::VARCHAR) AS tld,
    min(coalesce(first_seen::TIMESTAMPTZ, observed::TIMESTAMPTZ)) AS listed,
    max(observed) AS last_day, max(last_seen::TIMESTAMPTZ) AS last_seen
  FROM abuse_listings WHERE NOT private_suffix GROUP BY domain
  HAVING listed >= $1::TIMESTAMPTZ AND listed < $2::TIMESTAMPTZ
),
snapshots AS (SELECT DISTINCT tld::VARCHAR AS tld, day FROM zone_domains),
present AS (SELECT z.domain, z.day FROM zone_domains z WHERE z.domain IN (SELECT domain FROM first)),
removed AS (
  SELECT f.domain, min(s.day) AS day
  FROM first f JOIN snapshots s ON s.tld = f.tld AND s.day >= f.listed::DATE
  WHERE EXISTS (SELECT 1 FROM present p WHERE p.domain = f.domain AND p.day < s.day)
    AND NOT EXISTS (SELECT 1 FROM present p WHERE p.domain = f.domain AND p.day = s.day)
  GROUP BY f.domain
),
held AS (
  SELECT r.domain, min(r.observed::TIMESTAMPTZ) AS moment
  FROM registrations r JOIN first f ON f.domain = r.domain
  WHERE r.on_hold AND r.observed >= f.listed::DATE::TIMESTAMPTZ GROUP BY r.domain
),
held_bracket AS (
  SELECT h.domain, h.moment, greatest(f.listed, max(r.observed::TIMESTAMPTZ)) AS after
  FROM held h JOIN first f USING (domain)
  LEFT JOIN registrations r ON r.domain = h.domain AND NOT r.on_hold AND r.observed::TIMESTAMPTZ < h.moment
  GROUP BY h.domain, h.moment, f.listed
),
removed_bracket AS (
  SELECT m.domain, m.day, greatest(f.listed, max(p.day)::TIMESTAMPTZ) AS after
  FROM removed m JOIN first f USING (domain) JOIN present p ON p.domain = m.domain AND p.day < m.day
  GROUP BY m.domain, m.day, f.listed
),
data_end AS (
  SELECT greatest(
    (SELECT max(observed)::TIMESTAMPTZ FROM abuse_listings),
    (SELECT max(day)::TIMESTAMPTZ FROM zone_domains),
    (SELECT max(observed)::TIMESTAMPTZ FROM registrations)) AS moment
)
SELECT f.domain, f.tld, CASE WHEN {real_registrar("s.registrar")} THEN s.registrar::VARCHAR END AS registrar,
  epoch(z.day::TIMESTAMPTZ - f.listed) AS zone_at, epoch(z.after - f.listed) AS zone_after,
  epoch(h.moment - f.listed) AS hold_at, epoch(h.after - f.listed) AS hold_after,
  CASE WHEN f.last_day < (SELECT max(observed) FROM abuse_listings) THEN epoch(coalesce(f.last_seen,
    (SELECT min(a.observed) FROM abuse_listings a WHERE a.observed > f.last_day)::TIMESTAMPTZ) - f.listed) END
    AS feed_at,
  CASE WHEN f.last_seen IS NULL THEN epoch(f.last_day::TIMESTAMPTZ - f.listed) END AS feed_after,
  epoch((SELECT moment FROM data_end) - f.listed) AS watched_seconds
FROM first f LEFT JOIN removed_bracket z USING (domain) LEFT JOIN held_bracket h USING (domain)
  LEFT JOIN registered s USING (domain)
ORDER BY f.domain""",
        [window.start, window.end],
        tables=registered_table(runner, registered),
    ).to_pylist()
    result = []
    for row in rows:
        days, method = _mitigated(row)
        watched = days if days is not None else max(0.0, row["watched_seconds"] / _DAY_SECONDS)
        result.append(Timeline(row["domain"], row["tld"], row["registrar"], days, method, watched))
    return result


def _mitigated(row: dict[str, float | None]) -> tuple[float | None, str | None]:
    """Days from listing to mitigation, and the observation that first showed it, from one domain's
    brackets (seconds after its listing): mitigated before the earliest `*_at`, after the latest
    observation showing it unmitigated (a zone snapshot delegating it, registration data without a hold;
    its own feed still listing it when the feed ended the listing). A feed's last-seen time is exact."""
    ends = {method: row[f"{method}_at"] for method in METHODS}
    known = {method: end for method, end in ends.items() if end is not None}
    if not known:
        return None, None
    method = min(known, key=lambda name: known[name])
    upper = max(0.0, known[method])
    if method == "feed" and row["feed_after"] is None:
        return upper / _DAY_SECONDS, method
    afters = [row["zone_after"], row["hold_after"], row["feed_after"] if method == "feed" else None]
    lower = min(upper, max([0.0, *(after for after in afters if after is not None and after <= upper)]))
    return (lower + upper) / 2 / _DAY_SECONDS, method


def summarise(timelines: Sequence[Timeline]) -> list[MitigationSummary]:
    """Mitigation of all the domains, then per TLD, then per registrar (domains with no known real
    registrar count in the totals only)."""
    groups: dict[tuple[str, str], list[Timeline]] = defaultdict(list)
    for timeline in timelines:
        groups[("all", "all")].append(timeline)
        groups[("tld", timeline.tld)].append(timeline)
        if timeline.registrar is not None:
            groups[("registrar", timeline.registrar)].append(timeline)
    order = {"all": 0, "tld": 1, "registrar": 2}
    return [
        _summary(entity_type, entity, members)
        for (entity_type, entity), members in sorted(
            groups.items(), key=lambda item: (order[item[0][0]], item[0][1])
        )
    ]


def _summary(entity_type: str, entity: str, members: list[Timeline]) -> MitigationSummary:
    by_method: dict[str, int] = defaultdict(int)
    for timeline in members:
        if timeline.method:
            by_method[timeline.method] += 1
    open_ages = [timeline.watched for timeline in members if timeline.days is None]
    return MitigationSummary(
        entity_type=entity_type,
        entity=entity,
        listed=len(members),
        mitigated=sum(by_method.values()),
        by_method=dict(sorted(by_method.items())),
        survival=Survival.of([t.watched for t in members], [t.days is not None for t in members]),
        unmitigated_median_days=float(np.median(open_ages)) if open_ages else None,
        unmitigated_max_days=max(open_ages) if open_ages else None,
    )
