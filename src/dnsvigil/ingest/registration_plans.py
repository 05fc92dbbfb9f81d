"""How each registration-abuse input is ingested: its table, how a file becomes a `Source`, what to say
when nothing could be read.

The `dnsvigil ingest zone|rdap|registrations|registrars|dum|feed|popularity` commands and the demo build their
ingests here, so that a file the demo writes is read exactly as a user's would be.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import date
from pathlib import Path

from dnsvigil.errors import InputError
from dnsvigil.ingest.abuse_feeds import FeedFormat, feed_source
from dnsvigil.ingest.pipeline import ProgressCallback
from dnsvigil.ingest.popularity_lists import POPULARITY_FORMAT, popularity_source
from dnsvigil.ingest.registration_csv import CSV_FORMAT
from dnsvigil.ingest.registration_data import RDAP_FORMAT, registration_source
from dnsvigil.ingest.registry_reports import (
    DUM_FORMAT,
    REGISTRARS_FORMAT,
    dum_source,
    registrars_source,
    report_tld,
)
from dnsvigil.ingest.snapshot_day import day_in_name, month_in_name, snapshot_day, tld_in_name
from dnsvigil.ingest.table_ingest import Source, TableIngestSummary, ingest_sources
from dnsvigil.ingest.zone_file import ZONE_FORMAT, zone_source
from dnsvigil.store.warehouse import Warehouse


@dataclass(frozen=True, slots=True)
class IngestPlan:
    """One kind of input: the table it fills, the `Source` of each file, the hint when nothing is read."""

    table: str
    source: Callable[[Path], Source]
    hint: str

    def ingest(
        self, warehouse: Warehouse, paths: Iterable[Path], progress: ProgressCallback | None = None
    ) -> TableIngestSummary:
        """Ingest `paths` (directories expanded), one commit per file.

        Raises:
            NothingReadError: no file gave a row.
        """
        return ingest_sources(
            warehouse, paths, table=self.table, plan=self.source, hint=self.hint, progress=progress
        )


def zone_plan(*, tld: str | None, day: date | None, chunk_bytes: int) -> IngestPlan:
    """Zone files; TLD and day from the arguments, else from each file's name."""

    def source(path: Path) -> Source:
        zone_tld = tld or tld_in_name(path)
        if zone_tld is None:
            raise InputError(f"{path}: the TLD is not in the file name", hint="name it with --tld")
        zone_day = day or day_in_name(path)
        if zone_day is None:
            raise InputError(
                f"{path}: no date in the file or folder name",
                hint="give --day YYYY-MM-DD or name the file like com-20240102.txt.gz",
            )
        return zone_source(path, tld=zone_tld, day=zone_day, chunk_bytes=chunk_bytes)

    return IngestPlan("zone_domains", source, f"expected {ZONE_FORMAT} with NS records below the apex")


def registrations_plan(*, fmt: str, day: date | None) -> IngestPlan:
    """Registration data, `rdap` or `csv`, observed on `day`, else the day in each file's name."""

    def source(path: Path) -> Source:
        return registration_source(path, fmt=fmt, observed=snapshot_day(path, day))

    return IngestPlan("registrations", source, f"expected {RDAP_FORMAT if fmt == 'rdap' else CSV_FORMAT}")


def registrars_plan(*, day: date | None) -> IngestPlan:
    """IANA registrar lists."""

    def source(path: Path) -> Source:
        return registrars_source(path, observed=snapshot_day(path, day))

    return IngestPlan("registrars", source, f"expected {REGISTRARS_FORMAT}")


def dum_plan(*, tld: str | None, month: date | None) -> IngestPlan:
    """Registry monthly transaction reports; TLD and month from the arguments, else from each file's name."""

    def source(path: Path) -> Source:
        report_month = month or month_in_name(path)
        if report_month is None:
            raise InputError(
                f"{path}: no month in the file name",
                hint="give --month YYYY-MM or keep the name <tld>-transactions-YYYYMM-en.csv",
            )
        return dum_source(path, tld=tld or report_tld(path), month=report_month)

    return IngestPlan("domains_under_management", source, f"expected {DUM_FORMAT}")


def feed_plan(*, fmt: FeedFormat, day: date | None) -> IngestPlan:
    """Abuse feed snapshots in format `fmt`, fetched on `day`, else the day in each file's name."""

    def source(path: Path) -> Source:
        return feed_source(path, fmt=fmt, observed=snapshot_day(path, day))

    return IngestPlan("abuse_listings", source, f"is it a {fmt} feed? choose the format with --format")


def popularity_plan(*, list_name: str, day: date | None) -> IngestPlan:
    """Snapshots of top list `list_name`, published on `day`, else the day in each file's name."""

    def source(path: Path) -> Source:
        return popularity_source(path, list_name=list_name, observed=snapshot_day(path, day))

    return IngestPlan("domain_popularity", source, f"expected {POPULARITY_FORMAT}")
