"""Read the registrar list and the registries' monthly reports: `registrars` and `domains_under_management`.

The registrar list is IANA's `registrar-ids.csv`: `ID,Registrar Name,Status,RDAP Base URL`, status
Accredited, Terminated or Reserved. A monthly transaction report (Registry Agreement Specification 3) is
`<tld>-transactions-YYYYMM-en.csv`: a header of lower-case hyphenated names beginning
`registrar-name,iana-id,total-domains,total-nameservers,net-adds-1-yr,...`, one row per registrar and a last
row `Totals`. Columns are found by name, so republished copies with a leading `tld` column or capitalised
names read as well; a counter a report lacks is stored as null. New registrations are the sum of
`net-adds-1-yr` to `net-adds-10-yr`, as ICANN counts net new registrations.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import date
from pathlib import Path

from dnsvigil.abuse.registrars import is_real_registrar
from dnsvigil.errors import InputError
from dnsvigil.ingest.field_values import parse_count
from dnsvigil.ingest.pipeline import source_id_of
from dnsvigil.ingest.table_ingest import LineTally, Record, Rows, Source, batched
from dnsvigil.ingest.text_lines import csv_fields, numbered_lines
from dnsvigil.store.schema import DOMAINS_UNDER_MANAGEMENT, REGISTRARS

REGISTRARS_FORMAT = "IANA registrar-ids.csv (ID,Registrar Name,Status,RDAP Base URL)"
DUM_FORMAT = "registry monthly transaction reports (<tld>-transactions-YYYYMM-en.csv)"
_REPORT_NAME = re.compile(r"^(?P<tld>[a-z0-9-]+?)-transactions-", re.IGNORECASE)
_REGISTRAR_STATUSES = {"accredited": "Accredited", "terminated": "Terminated", "reserved": "Reserved"}
_SUMMED = {
    "net_adds": [f"net-adds-{years}-yr" for years in range(1, 11)],
    "net_renews": [f"net-renews-{years}-yr" for years in range(1, 11)],
    "transfers_gained": ["transfer-gaining-successful"],
    "transfers_lost": ["transfer-losing-successful"],
    "deleted_in_grace": ["deleted-domains-grace"],
    "deleted_after_grace": ["deleted-domains-nograce"],
    "restored": ["restored-domains"],
}


def registrars_source(path: Path, *, observed: date) -> Source:
    """The `registrars` source of a registrar-ids.csv file as published on `observed`."""
    day = observed.isoformat()

    def read(tally: LineTally) -> Iterator[Rows]:
        def records() -> Iterator[tuple[Record | None, int]]:
            for number, text, consumed in numbered_lines(path):
                yield _registrar(number, text, tally, observed, str(path)), consumed

        return batched(records(), REGISTRARS.schema, day)

    return Source(path, REGISTRARS.name, source_id_of(path, f"registrars:{day}"), read)


def _registrar(number: int, text: str | None, tally: LineTally, observed: date, origin: str) -> Record | None:
    if text is None:
        tally.bad("not_utf8", number)
        return None
    fields = csv_fields(text)
    if not text.strip() or (fields and fields[0].strip().lower() == "id"):
        return None
    tally.records += 1
    if fields is None or len(fields) < 3:
        tally.bad("bad_csv" if fields is None else "wrong_field_count", number)
        return None
    status = _REGISTRAR_STATUSES.get(fields[2].strip().lower())
    try:
        iana_id = parse_count(fields[0], "bad_registrar_id")
    except ValueError as error:
        tally.bad(str(error), number)
        return None
    if iana_id is None or status is None or not fields[1].strip():
        tally.bad("missing_field" if status is not None else "bad_status", number)
        return None
    rdap = fields[3].strip() if len(fields) > 3 else ""
    return {
        "observed": observed,
        "iana_id": iana_id,
        "name": fields[1].strip(),
        "status": status,
        "rdap_base_url": rdap or None,
        "real_registrar": is_real_registrar(iana_id, status),
        "source_file": origin,
    }


def report_tld(path: Path) -> str | None:
    """The TLD in a transaction report's name (`com-transactions-202401-en.csv`), None if not named so."""
    match = _REPORT_NAME.match(path.name)
    return match["tld"].lower() if match else None


def dum_source(path: Path, *, tld: str | None, month: date) -> Source:
    """The `domains_under_management` source of one monthly transaction report.

    Args:
        tld: the report's TLD, unless a `tld` column names it on each row.
        month: the first day of the month reported.
    """
    day = month.isoformat()

    def read(tally: LineTally) -> Iterator[Rows]:
        def records() -> Iterator[tuple[Record | None, int]]:
            columns: dict[str, int] | None = None
            for number, text, consumed in numbered_lines(path):
                if text is None:
                    tally.bad("not_utf8", number)
                elif not text.strip():
                    pass
                elif columns is None:
                    columns = _header(path, number, text, tld)
                else:
                    yield _report_row(number, text, columns, tally, tld, month, str(path)), consumed
                    continue
                yield None, consumed

        return batched(records(), DOMAINS_UNDER_MANAGEMENT.schema, day)

    return Source(path, DOMAINS_UNDER_MANAGEMENT.name, source_id_of(path, f"dum:{day}:{tld}"), read)


def _header(path: Path, number: int, text: str, tld: str | None) -> dict[str, int]:
    names = [field.strip().lower().replace(" ", "-").replace("_", "-") for field in csv_fields(text) or []]
    columns = {name: index for index, name in enumerate(names)}
    missing = [name for name in ("registrar-name", "iana-id", "total-domains") if name not in columns]
    if missing:
        raise InputError(
            f"{path}:{number}: not a transaction report header (no {', '.join(missing)})",
            hint=f"expected {DUM_FORMAT}, header first",
        )
    if tld is None and "tld" not in columns:
        raise InputError(
            f"{path}: the report's TLD is neither in its name nor in a tld column",
            hint="name it with --tld",
        )
    return columns


def _report_row(
    number: int,
    text: str,
    columns: dict[str, int],
    tally: LineTally,
    tld: str | None,
    month: date,
    origin: str,
) -> Record | None:
    fields = csv_fields(text)
    if fields is None:
        tally.bad("bad_csv", number)
        return None
    tally.records += 1
    if any(field.strip().lower() == "totals" for field in fields[:2]):  # after a leading tld column too
        tally.skip("totals_row", number)
        return None
    if len(fields) != len(columns):
        tally.bad("wrong_field_count", number)
        return None
    try:
        iana_id = parse_count(fields[columns["iana-id"]], "bad_registrar_id")
        total = parse_count(fields[columns["total-domains"]])
        counters = {name: _sum(fields, columns, parts) for name, parts in _SUMMED.items()}
    except ValueError as error:
        tally.bad(str(error), number)
        return None
    row_tld = fields[columns["tld"]].strip().lower().strip(".") if "tld" in columns else tld
    if iana_id is None or total is None or not row_tld:
        tally.bad("missing_field", number)
        return None
    return {
        "month": month,
        "tld": row_tld,
        "registrar_iana_id": iana_id,
        "registrar_name": fields[columns["registrar-name"]].strip(),
        "total_domains": total,
        **counters,
        "source_file": origin,
    }


def _sum(fields: list[str], columns: dict[str, int], names: list[str]) -> int | None:
    """The sum of the named counters, None when the report has none of them."""
    present = [parse_count(fields[columns[name]]) for name in names if name in columns]
    values = [value for value in present if value is not None]
    return sum(values) if values else None
