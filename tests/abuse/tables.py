"""Hand-made registration-abuse tables for analyzer tests, and a DuckDB `SqlRunner` over them.

Each `*_row(...)` gives one row with sensible defaults, overridden by keyword; `AbuseRunner` serves the
given rows as the warehouse tables, in exactly their canonical schemas (a table not given is empty).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import UTC, date, datetime
from typing import Any

import duckdb
import pyarrow as pa

from dnsvigil.store.schema import (
    ABUSE_LISTINGS,
    DOMAIN_POPULARITY,
    DOMAIN_VERDICTS,
    DOMAINS_UNDER_MANAGEMENT,
    REGISTRARS,
    REGISTRATIONS,
    ZONE_DOMAINS,
    TableSchema,
)

JAN = date(2024, 1, 1)


def utc(year: int, month: int, day: int, hour: int = 0) -> datetime:
    return datetime(year, month, day, hour, tzinfo=UTC)


def listing(domain: str, **fields: Any) -> dict[str, Any]:
    """An abuse listing of `domain`, phishing, seen on 2024-01-10 by feed `f1`."""
    return {
        "observed": date(2024, 1, 10),
        "domain": domain,
        "tld": domain.rsplit(".", 1)[-1],
        "private_suffix": False,
        "url": None,
        "threat": "phishing",
        "abused_legitimate": None,
        "feed": "f1",
        "feed_entry": None,
        "first_seen": None,
        "last_seen": None,
        "online": None,
        "target": None,
        "source_file": "feed.csv",
        **fields,
    }


def zone(domain: str, day: date = date(2024, 1, 10)) -> dict[str, Any]:
    """`domain` delegated in its TLD's snapshot of `day`."""
    return {"day": day, "tld": domain.rsplit(".", 1)[-1], "domain": domain, "source_file": "zone.txt"}


def registration(domain: str, registrar: int | None, **fields: Any) -> dict[str, Any]:
    """`domain` sponsored by `registrar`, created 2023-01-01, observed 2024-01-10."""
    return {
        "observed": utc(2024, 1, 10),
        "domain": domain,
        "tld": domain.rsplit(".", 1)[-1],
        "registrar_iana_id": registrar,
        "registrar_name": None,
        "created": utc(2023, 1, 1),
        "expires": None,
        "updated": None,
        "status": [],
        "on_hold": False,
        "nameservers": [],
        "abuse_email": None,
        "source_format": "csv",
        "source_file": "regs.csv",
        **fields,
    }


def registrar(iana_id: int, name: str, *, real: bool = True) -> dict[str, Any]:
    return {
        "observed": JAN,
        "iana_id": iana_id,
        "name": name,
        "status": "Accredited" if real else "Reserved",
        "rdap_base_url": None,
        "real_registrar": real,
        "source_file": "registrar-ids.csv",
    }


def dum(tld: str, registrar: int, total: int, month: date = JAN) -> dict[str, Any]:
    """A registry report's row: `registrar` holds `total` domains of `tld` at the end of `month`."""
    return {
        "month": month,
        "tld": tld,
        "registrar_iana_id": registrar,
        "registrar_name": f"Registrar {registrar}",
        "total_domains": total,
        "net_adds": None,
        "net_renews": None,
        "transfers_gained": None,
        "transfers_lost": None,
        "deleted_in_grace": None,
        "deleted_after_grace": None,
        "restored": None,
        "source_file": f"{tld}-transactions-202401-en.csv",
    }


def popular(domain: str, rank: int, day: date) -> dict[str, Any]:
    """`domain` at `rank` in the Tranco snapshot of `day`."""
    return {
        "observed": day,
        "list_name": "tranco",
        "rank": rank,
        "name": domain,
        "domain": domain,
        "source_file": "tranco.csv",
    }


def _table(schema: TableSchema, rows: Iterable[Mapping[str, Any]]) -> pa.Table:
    return pa.Table.from_pylist(list(rows), schema=schema.schema)


class AbuseRunner:
    """A `SqlRunner` over hand-made registration-abuse tables, the way the DuckDB engine runs SQL."""

    def __init__(
        self,
        *,
        listings: Iterable[Mapping[str, Any]] = (),
        zones: Iterable[Mapping[str, Any]] = (),
        registrations: Iterable[Mapping[str, Any]] = (),
        registrars: Iterable[Mapping[str, Any]] = (),
        dums: Iterable[Mapping[str, Any]] = (),
        verdicts: Iterable[Mapping[str, Any]] = (),
        popularity: Iterable[Mapping[str, Any]] = (),
    ) -> None:
        self.connection = duckdb.connect(":memory:")
        self.connection.execute("SET TimeZone = 'UTC'")
        for schema, rows in (
            (ABUSE_LISTINGS, listings),
            (ZONE_DOMAINS, zones),
            (REGISTRATIONS, registrations),
            (REGISTRARS, registrars),
            (DOMAINS_UNDER_MANAGEMENT, dums),
            (DOMAIN_VERDICTS, verdicts),
            (DOMAIN_POPULARITY, popularity),
        ):
            self.connection.register(schema.name, _table(schema, rows))

    def arrow(
        self, sql: str, params: list[object] | None = None, *, tables: Mapping[str, pa.Table] | None = None
    ) -> pa.Table:
        for name, own in (tables or {}).items():
            self.connection.register(name, own)
        try:
            result: pa.Table = self.connection.sql(sql, params=params or None).to_arrow_table()
        finally:
            for name in tables or {}:
                self.connection.unregister(name)
        return result
