"""`dnsvigil ingest zone|rdap|registrations|registrars|dum|feed|popularity`: inputs of registration-abuse
analytics."""

from __future__ import annotations

import enum
import json
import re
from collections.abc import Callable
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.table import Table

from dnsvigil.cli.context import HomeOption, JsonOption, QuietOption, byte_progress, common, note, stdout
from dnsvigil.config import read_int
from dnsvigil.errors import UsageError
from dnsvigil.ingest.pipeline import expand_paths
from dnsvigil.ingest.snapshot_day import check_tld, parse_day_option
from dnsvigil.store.warehouse import Warehouse

if TYPE_CHECKING:
    from dnsvigil.ingest.registration_plans import IngestPlan
    from dnsvigil.ingest.table_ingest import TableIngestSummary

_LIST_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")
PathsArgument = Annotated[
    list[Path],
    typer.Argument(help="Files or directories (searched recursively). .gz, .xz and .zst are read as is."),
]
DayOption = Annotated[
    str | None,
    typer.Option(
        "--day",
        help="Day the files describe (YYYY-MM-DD); default: a date in the file name, else the file's mtime.",
        show_default=False,
    ),
]


class ZoneFormat(enum.StrEnum):
    master = "master"


class RegistrationFormat(enum.StrEnum):
    csv = "csv"
    rdap = "rdap"


class RegistrarFormat(enum.StrEnum):
    iana = "iana"


class ReportFormat(enum.StrEnum):
    icann = "icann"


class FeedFormatChoice(enum.StrEnum):
    urlhaus = "urlhaus"
    phishtank = "phishtank"
    openphish = "openphish"
    dbl = "dbl"
    generic = "generic"


class PopularityFormat(enum.StrEnum):
    tranco = "tranco"
    umbrella = "umbrella"
    alexa = "alexa"


def _run(
    context: typer.Context,
    build: Callable[[], IngestPlan],
    paths: list[Path],
    *,
    home: str | None,
    quiet: bool,
    as_json: bool,
) -> None:
    """Check the options (`build`), then ingest `paths` with a progress bar and print the summary."""
    plan = build()
    options = common(context, home=home, quiet=quiet or as_json)
    files = expand_paths(paths)
    warehouse = Warehouse.open(options.home_path, create=True)
    total = sum(path.stat().st_size for path in files)
    with byte_progress(options, f"ingest {plan.table}", total) as progress:
        advance = (lambda count: progress.advance(progress.task_ids[0], count)) if progress else None
        summary = plan.ingest(warehouse, files, advance)
    if as_json:
        print(json.dumps(summary.to_json(), sort_keys=True))
    else:
        _print_summary(summary, options.quiet)
    for file in summary.files:
        if file.error:
            note(options, f"warning: {file.error}")


def _print_summary(summary: TableIngestSummary, quiet: bool) -> None:
    stdout.print(
        f"{summary.rows:,} rows stored in {summary.table} from {len(summary.files)} file(s) "
        f"in {summary.seconds:.2f} s ({summary.rate:,.0f} rows/s)",
        highlight=False,
    )
    if quiet:
        return
    table = Table("file", "status", "rows", "malformed", "skipped", box=None)
    table.columns[0].overflow = "fold"
    for file in summary.files:
        table.add_row(
            Path(file.path).name,
            file.status,
            f"{file.rows:,}",
            ", ".join(f"{reason} {count:,}" for reason, count in file.malformed.items()) or "0",
            ", ".join(f"{reason} {count:,}" for reason, count in file.skipped.items()) or "0",
        )
    stdout.print(table)


def zone(
    context: typer.Context,
    paths: PathsArgument,
    tld: Annotated[
        str | None, typer.Option("--tld", help="The zone's TLD; default: the file name's first part.")
    ] = None,
    day: Annotated[
        str | None,
        typer.Option(
            "--day", help="Snapshot day (YYYY-MM-DD); default: the date in the file or folder name."
        ),
    ] = None,
    fmt: Annotated[ZoneFormat, typer.Option("--format", help="Input format.")] = ZoneFormat.master,
    home: HomeOption = None,
    as_json: JsonOption = False,
    quiet: QuietOption = False,
) -> None:
    """Ingest zone files (RFC 1035 master format, as CZDS delivers them): the delegated domains of a TLD
    on a day, into table zone_domains.

    A delegated domain is the owner of NS records below the apex, stored once, lower-cased, without the
    trailing dot. One snapshot per (TLD, day): the TLD comes from --tld or the file name (`com.txt.gz`,
    `com.zone`, `xn--p1ai-20240102.txt.gz`), the day from --day or a `YYYYMMDD` / `YYYY-MM-DD` date in the
    file or folder name. A second file for a stored (TLD, day) is reported as already ingested.

    Example: `dnsvigil ingest zone czds/2024-01-02/com.txt.gz --json`
    """
    from dnsvigil.ingest.registration_plans import zone_plan

    def build() -> IngestPlan:
        return zone_plan(
            tld=check_tld(tld) if tld is not None else None,
            day=parse_day_option(day),
            chunk_bytes=read_int("chunk_mib", minimum=1) << 20,
        )

    _run(context, build, paths, home=home, quiet=quiet, as_json=as_json)


def _registrations(
    context: typer.Context,
    fmt: str,
    paths: list[Path],
    day: str | None,
    home: str | None,
    quiet: bool,
    as_json: bool,
) -> None:
    from dnsvigil.ingest.registration_plans import registrations_plan

    _run(
        context,
        lambda: registrations_plan(fmt=fmt, day=parse_day_option(day)),
        paths,
        home=home,
        quiet=quiet,
        as_json=as_json,
    )


def registrations(
    context: typer.Context,
    paths: PathsArgument,
    fmt: Annotated[
        RegistrationFormat, typer.Option("--format", help="Input format.")
    ] = RegistrationFormat.csv,
    day: DayOption = None,
    home: HomeOption = None,
    as_json: JsonOption = False,
    quiet: QuietOption = False,
) -> None:
    """Ingest registration data into table registrations: RDAP JSON lines, or CSV
    `domain,registrar_iana_id,created,expires,status` (header optional; statuses separated by | ; or ,).

    Example: `dnsvigil ingest registrations --format csv registrations-20240102.csv`
    """
    _registrations(context, fmt.value, paths, day, home, quiet, as_json)


def rdap(
    context: typer.Context,
    paths: PathsArgument,
    fmt: Annotated[
        RegistrationFormat, typer.Option("--format", help="Input format.")
    ] = RegistrationFormat.rdap,
    day: DayOption = None,
    home: HomeOption = None,
    as_json: JsonOption = False,
    quiet: QuietOption = False,
) -> None:
    """Ingest RDAP domain responses (RFC 9083 JSON, one per line) into table registrations.

    The registrar is the entity with role `registrar` (IANA ID from its publicIds of type "IANA Registrar
    ID", abuse email from its nested `abuse` entity); events give created, expires and updated; statuses
    with a hold set on_hold. RDAP error responses are counted as skipped.

    Example: `dnsvigil ingest rdap rdap-responses-20240102.jsonl.gz --json`
    """
    _registrations(context, fmt.value, paths, day, home, quiet, as_json)


def registrars(
    context: typer.Context,
    paths: PathsArgument,
    fmt: Annotated[RegistrarFormat, typer.Option("--format", help="Input format.")] = RegistrarFormat.iana,
    day: DayOption = None,
    home: HomeOption = None,
    as_json: JsonOption = False,
    quiet: QuietOption = False,
) -> None:
    """Ingest IANA's registrar list (registrar-ids.csv: ID, Registrar Name, Status, RDAP Base URL) into
    table registrars; IDs that are not real registrars (reserved ones, status Reserved) are flagged.

    Example: `dnsvigil ingest registrars registrar-ids-2024-01-02.csv`
    """
    from dnsvigil.ingest.registration_plans import registrars_plan

    _run(
        context,
        lambda: registrars_plan(day=parse_day_option(day)),
        paths,
        home=home,
        quiet=quiet,
        as_json=as_json,
    )


def dum(
    context: typer.Context,
    paths: PathsArgument,
    fmt: Annotated[ReportFormat, typer.Option("--format", help="Input format.")] = ReportFormat.icann,
    tld: Annotated[
        str | None,
        typer.Option("--tld", help="The report's TLD; default: from the file name or a tld column."),
    ] = None,
    month: Annotated[
        str | None, typer.Option("--month", help="Month reported (YYYY-MM); default: from the file name.")
    ] = None,
    home: HomeOption = None,
    as_json: JsonOption = False,
    quiet: QuietOption = False,
) -> None:
    """Ingest registry monthly transaction reports (`<tld>-transactions-YYYYMM-en.csv`): domains under
    management per registrar per TLD per month, with new registrations (net adds), transfers and deletions,
    into table domains_under_management.

    Example: `dnsvigil ingest dum reports/com-transactions-202401-en.csv`
    """
    from dnsvigil.ingest.registration_plans import dum_plan

    def build() -> IngestPlan:
        return dum_plan(tld=check_tld(tld) if tld is not None else None, month=_parse_month(month))

    _run(context, build, paths, home=home, quiet=quiet, as_json=as_json)


def _parse_month(text: str | None) -> date | None:
    if text is None:
        return None
    try:
        return date.fromisoformat(f"{text}-01")
    except ValueError:
        raise UsageError(f"--month must be YYYY-MM, got {text!r}") from None


def feed(
    context: typer.Context,
    paths: PathsArgument,
    fmt: Annotated[FeedFormatChoice, typer.Option("--format", help="The feed's format.")],
    day: DayOption = None,
    home: HomeOption = None,
    as_json: JsonOption = False,
    quiet: QuietOption = False,
) -> None:
    """Ingest abuse feeds into table abuse_listings: each URL or domain reduced to its registrable domain
    (Public Suffix List), threats normalised to phishing, malware, botnet_cc and spam.

    Formats: urlhaus (CSV export), phishtank (CSV), openphish (one URL a line), dbl (`domain,return_code`,
    Spamhaus DBL codes), generic (`indicator,threat,first_seen,last_seen,source`). URLs on IP addresses
    have no registrable domain and are counted as skipped.

    Example: `dnsvigil ingest feed --format urlhaus urlhaus-2024-01-02.csv --json`
    """
    from dnsvigil.ingest.registration_plans import feed_plan

    _run(
        context,
        lambda: feed_plan(fmt=fmt.value, day=parse_day_option(day)),
        paths,
        home=home,
        quiet=quiet,
        as_json=as_json,
    )


def popularity(
    context: typer.Context,
    paths: PathsArgument,
    fmt: Annotated[
        PopularityFormat, typer.Option("--format", help="The top list (each is `rank,domain` lines).")
    ] = PopularityFormat.tranco,
    list_name: Annotated[
        str | None, typer.Option("--list", help="Name to store the list under; default: the format.")
    ] = None,
    day: DayOption = None,
    home: HomeOption = None,
    as_json: JsonOption = False,
    quiet: QuietOption = False,
) -> None:
    """Ingest domain popularity top lists (Tranco, Cisco Umbrella, Alexa-style `rank,domain` CSV) into
    table domain_popularity, each listed name also reduced to its registrable domain.

    `abuse analyze` uses a domain's best rank before it was first listed to tell a hacked popular site from
    a domain registered to abuse. Ingest the daily or weekly snapshots that cover your feeds' period.

    Example: `dnsvigil ingest popularity --format tranco --day 2024-01-02 top-1m.csv`
    """
    from dnsvigil.ingest.registration_plans import popularity_plan

    _run(
        context,
        lambda: popularity_plan(list_name=_list_name(list_name, fmt.value), day=parse_day_option(day)),
        paths,
        home=home,
        quiet=quiet,
        as_json=as_json,
    )


def _list_name(given: str | None, default: str) -> str:
    if given is None:
        return default
    if not _LIST_NAME.fullmatch(given):
        raise UsageError(f"--list must be a short name of letters, digits, '.', '_' or '-', got {given!r}")
    return given


def register(app: typer.Typer) -> None:
    """Add these commands to the `ingest` group."""
    for command in (zone, rdap, registrations, registrars, dum, feed, popularity):
        app.command(command.__name__)(command)
