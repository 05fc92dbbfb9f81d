"""What every registration-abuse analysis starts from: the months analysed, the listed domains and their
registrars, in SQL fragments the analyses share.

A registrable domain counts once per period and threat however many feeds list it; domains under private
suffixes (blogspot.com users, dynamic DNS) are left out, as no registrar sold them. A domain's registrar and
creation date are those of its latest registration observation. Registrar IDs that stand for no real
registrar, by the fixed list or by the registrar list's own word, are never attributed abuse.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Final, Literal

import pyarrow as pa

from dnsvigil.abuse.registrars import NOT_REAL_REGISTRAR_IDS
from dnsvigil.abuse.threats import THREATS
from dnsvigil.errors import DnsvigilError, UsageError
from dnsvigil.store.sql import SqlRunner

PeriodKind = Literal["day", "month"]
PERIOD_KINDS: Final[tuple[PeriodKind, ...]] = ("day", "month")
SECURITY = "security"
THREAT_GROUPS: Final[tuple[str, ...]] = (*THREATS, SECURITY)
"""Each threat on its own, and `security`: any but spam (counting spam with security threats is what
DAAR was criticised for)."""


def _next_month(day: date) -> date:
    return date(day.year + day.month // 12, day.month % 12 + 1, 1)


def month_span(month: date) -> tuple[datetime, datetime]:
    """The first and the last second (UTC) of the month holding `month`: a finding's time window."""
    first = month.replace(day=1)
    following = _next_month(first)
    return datetime(first.year, first.month, 1, tzinfo=UTC), datetime(
        following.year, following.month, 1, tzinfo=UTC
    ) - timedelta(seconds=1)


@dataclass(frozen=True, slots=True)
class Window:
    """The whole months analysed: from `start` (a first of a month) up to, not including, `end`."""

    start: date
    end: date

    def __post_init__(self) -> None:
        if self.start.day != 1 or self.end.day != 1 or self.start >= self.end:
            raise ValueError(f"a window is whole months, start before end; got {self.start} to {self.end}")

    @classmethod
    def from_text(cls, text: str) -> Window:
        """The one month `YYYY-MM`.

        Raises:
            UsageError: `text` is not a month.
        """
        try:
            year, month = (int(part) for part in text.split("-"))
            start = date(year, month, 1)
        except ValueError:
            raise UsageError(f"--period must be a month, YYYY-MM, got {text!r}") from None
        return cls(start, _next_month(start))

    def months(self) -> list[date]:
        """The first day of each month in the window."""
        months = [self.start]
        while (following := _next_month(months[-1])) < self.end:
            months.append(following)
        return months

    def to_text(self) -> str:
        """`2024-01`, or `2024-01..2024-03` for several months."""
        months = self.months()
        first, last = months[0].strftime("%Y-%m"), months[-1].strftime("%Y-%m")
        return first if first == last else f"{first}..{last}"


def find_window(runner: SqlRunner, period: str | None) -> Window:
    """The month `period` (YYYY-MM), else every month holding abuse listings.

    Raises:
        UsageError: `period` is not a month.
        DnsvigilError: there is no abuse listing at all, or none in `period`.
    """
    span = runner.arrow(
        "SELECT min(observed) AS first, max(observed) AS last FROM abuse_listings WHERE NOT private_suffix"
    ).to_pylist()[0]
    if span["first"] is None:
        raise DnsvigilError(
            "no abuse listings in the warehouse",
            hint="ingest abuse feeds first: dnsvigil ingest feed --format urlhaus|phishtank|... FILE",
        )
    whole = Window(date(span["first"].year, span["first"].month, 1), _next_month(span["last"]))
    if period is None:
        return whole
    window = Window.from_text(period)
    if not whole.start <= window.start < whole.end:
        raise DnsvigilError(
            f"no abuse listings in {period}: the warehouse holds listings from {span['first']} to "
            f"{span['last']}",
            hint=f"choose a --period within {whole.to_text()}, or ingest that month's feeds",
        )
    return window


def period_of(column: str, kind: PeriodKind) -> str:
    """SQL for the first day of the period of kind `kind` holding the date `column`."""
    return f"{column}::DATE" if kind == "day" else f"date_trunc('month', {column})::DATE"


def real_registrar(column: str) -> str:
    """SQL condition: `column` is the IANA ID of a real registrar."""
    excluded = ", ".join(str(iana_id) for iana_id in sorted(NOT_REAL_REGISTRAR_IDS))
    return (
        f"({column} IS NOT NULL AND {column} NOT IN ({excluded})"
        f" AND {column} NOT IN (SELECT iana_id FROM registrars WHERE NOT real_registrar))"
    )


_REGISTERED_SQL: Final = """
SELECT domain, arg_max(tld::VARCHAR, observed) AS tld, arg_max(registrar_iana_id, observed) AS registrar,
  arg_max(created, observed) AS created
FROM registrations GROUP BY domain"""


def latest_registrations(runner: SqlRunner) -> pa.Table:
    """`registered(domain, tld, registrar, created)`, each domain's latest registration record.

    An `arg_max` over every registration row (ten million on a .com day) that ten queries of `abuse analyze`
    each computed again: it computes this once and hands it to every analysis. Held in memory (about 45 MB a
    million domains), so it leaves out the name servers, which only flocking reads, for few domains.
    """
    return runner.arrow(_REGISTERED_SQL)


def registered_table(runner: SqlRunner, registered: pa.Table | None) -> dict[str, pa.Table]:
    """The `tables` of a query that reads `registered`: the table given, else `latest_registrations` now."""
    return {"registered": latest_registrations(runner) if registered is None else registered}


def listed_ctes(kind: PeriodKind) -> str:
    """SQL common table expressions (to follow `WITH`) over the window `[$1, $2)`:

    - `listed(period_start, domain, tld, threat)`: each listed domain once per period and threat;
    - `tagged`: the same, plus each domain once more under the threat `security` when listed for any but spam;
    - `malicious(domain)`: the domains ever listed for a security threat (not spam) that no feed marks as an
      abused legitimate domain and the classifier (`domain_verdicts`) does not call compromised.

    A query that also reads `registered` is given it as a table (`registered_table`).
    """
    return f"""
listed AS (
  SELECT DISTINCT {period_of("observed", kind)} AS period_start, domain, tld::VARCHAR AS tld,
    threat::VARCHAR AS threat
  FROM abuse_listings WHERE NOT private_suffix AND observed >= $1::DATE AND observed < $2::DATE
),
tagged AS (
  SELECT * FROM listed UNION SELECT period_start, domain, tld, '{SECURITY}' FROM listed WHERE threat <> 'spam'
),
malicious AS (
  SELECT DISTINCT domain FROM abuse_listings WHERE NOT private_suffix AND threat <> 'spam'
  EXCEPT SELECT domain FROM abuse_listings WHERE abused_legitimate
  EXCEPT SELECT domain FROM domain_verdicts WHERE NOT malicious
)"""


def registrar_names(runner: SqlRunner) -> dict[str, str]:
    """Registrar names by IANA ID (as text): the registrar list's, else a registry report's, else the
    registration data's."""
    rows = runner.arrow(
        "SELECT iana_id::VARCHAR AS id, arg_min(name, source) AS name FROM ("
        " SELECT iana_id, name, 1 AS source FROM registrars"
        " UNION ALL SELECT registrar_iana_id, registrar_name, 2 FROM domains_under_management"
        " UNION ALL SELECT registrar_iana_id, registrar_name, 3 FROM registrations"
        "  WHERE registrar_iana_id IS NOT NULL AND registrar_name IS NOT NULL"
        ") GROUP BY iana_id"
    ).to_pylist()
    return {row["id"]: row["name"] for row in rows}
