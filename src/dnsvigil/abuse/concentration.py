"""How concentrated abuse is among registrars and TLDs: shares of the top few, how many entities make half
and nine tenths of it, and the Herfindahl-Hirschman index.

A high concentration says takedown effort pays off at a few places; its change over months is the first
sign of abusers moving between registrars or TLDs.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from typing import Final

import numpy as np
import pyarrow as pa

from dnsvigil.abuse.sources import THREAT_GROUPS, Window, listed_ctes, real_registrar, registered_table
from dnsvigil.store.sql import SqlRunner

TOP: Final = (1, 5, 10)
EXAMPLES: Final = 10


@dataclass(frozen=True, slots=True)
class Concentration:
    """Concentration of `total` abused domains among `entities` entities.

    Attributes:
        top_share: share of the abuse held by the top N entities, for N in `TOP`.
        entities_for_half, entities_for_90: fewest entities that together hold at least 50 % / 90 %.
        hhi: Herfindahl-Hirschman index, the sum of squared shares in percent (0..10,000; 10,000 for one
            entity holding everything, 10,000 / n for n equal ones).
        top: the largest entities and their counts, largest first (ties by name).
    """

    total: int
    entities: int
    top_share: Mapping[int, float]
    entities_for_half: int
    entities_for_90: int
    hhi: float
    top: tuple[tuple[str, int], ...]

    @classmethod
    def of(cls, counts: Mapping[str, int]) -> Concentration:
        """The concentration of `counts` (entity to abused domains; zero counts are ignored).

        Raises:
            ValueError: a count is negative.
        """
        if any(count < 0 for count in counts.values()):
            raise ValueError("abuse counts cannot be negative")
        ranked = sorted(
            ((name, count) for name, count in counts.items() if count), key=lambda x: (-x[1], x[0])
        )
        values = np.array([count for _, count in ranked], dtype=np.float64)
        total = float(values.sum())
        if total == 0:
            return cls(0, 0, dict.fromkeys(TOP, 0.0), 0, 0, 0.0, ())
        cumulative = np.cumsum(values) / total
        shares = values / total
        return cls(
            total=int(total),
            entities=len(ranked),
            top_share={n: float(cumulative[min(n, len(ranked)) - 1]) for n in TOP},
            # A tiny tolerance so that a cumulative share of 0.8999999 from rounding still counts as 0.9.
            entities_for_half=int(np.searchsorted(cumulative, 0.5 - 1e-12) + 1),
            entities_for_90=int(np.searchsorted(cumulative, 0.9 - 1e-12) + 1),
            hhi=float(np.sum((100.0 * shares) ** 2)),
            top=tuple(ranked[:EXAMPLES]),
        )


@dataclass(frozen=True, slots=True)
class PeriodConcentration:
    """The concentration of one month's abuse of one threat group among registrars or TLDs.

    `unattributed` counts abused domains with no known real registrar (always 0 for TLDs).
    """

    month: date
    entity_type: str
    threat: str
    unattributed: int
    concentration: Concentration


def concentration_by_month(
    runner: SqlRunner, window: Window, *, registered: pa.Table | None = None
) -> list[PeriodConcentration]:
    """The concentration of each month, threat group and kind of entity in the window (`registered`:
    `sources.latest_registrations`, computed here when not given)."""
    rows = runner.arrow(
        f"""WITH {listed_ctes("month")}
SELECT period_start, 'tld' AS entity_type, tld AS entity, threat, count(DISTINCT domain) AS abused
FROM tagged GROUP BY ALL
UNION ALL
SELECT t.period_start, 'registrar', CASE WHEN {real_registrar("r.registrar")} THEN r.registrar::VARCHAR END,
  t.threat, count(DISTINCT t.domain)
FROM tagged t LEFT JOIN registered r ON r.domain = t.domain GROUP BY ALL""",
        [window.start, window.end],
        tables=registered_table(runner, registered),
    ).to_pylist()
    counts: dict[tuple[date, str, str], dict[str, int]] = defaultdict(dict)
    unattributed: dict[tuple[date, str, str], int] = defaultdict(int)
    for row in rows:
        key = (row["period_start"], row["entity_type"], row["threat"])
        if row["entity"] is None:
            unattributed[key] += row["abused"]
        else:
            counts[key][row["entity"]] = row["abused"]
    order = {threat: index for index, threat in enumerate(THREAT_GROUPS)}
    return [
        PeriodConcentration(key[0], key[1], key[2], unattributed[key], Concentration.of(counts[key]))
        for key in sorted(counts.keys() | unattributed.keys(), key=lambda k: (k[0], k[1], order[k[2]]))
    ]
