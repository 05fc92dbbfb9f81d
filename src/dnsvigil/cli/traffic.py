"""`dnsvigil traffic`: standard traffic metrics and attack detection over the stored DNS messages."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from dnsvigil.cli.context import (
    HomeOption,
    JsonOption,
    QuietOption,
    common,
    parse_day,
    stdout,
    step_progress,
)
from dnsvigil.errors import NothingReadError, UsageError
from dnsvigil.store.sql import SqlRunner
from dnsvigil.store.warehouse import Warehouse

app = typer.Typer(
    help="Traffic metrics and attack detection over the stored DNS messages.", no_args_is_help=True
)


def _has_messages_on(engine: SqlRunner, day: date) -> bool:
    """Whether any message is stored for the UTC `day`: zeros for a day never captured would mislead."""
    found = engine.arrow(
        "SELECT count(*) AS n FROM dns_messages"
        " WHERE ts >= $1::TIMESTAMPTZ AND ts < $1::TIMESTAMPTZ + INTERVAL 1 DAY",
        [f"{day.isoformat()} 00:00:00+00"],
    )
    return bool(found.column("n")[0].as_py())


@app.command("rssac002")
def rssac002(
    context: typer.Context,
    service: Annotated[
        str, typer.Option("--service", help="Service name written in each document, e.g. a.root-servers.net.")
    ],
    out: Annotated[Path, typer.Option("--out", help="Directory to write the YAML files under.")],
    day: Annotated[
        str | None,
        typer.Option("--date", help="One UTC day, YYYY-MM-DD. [default: every day in the warehouse]"),
    ] = None,
    server_addrs: Annotated[
        list[str] | None,
        typer.Option(
            "--server-addr",
            help="An address of the service (repeatable): queries to it and responses from it count. "
            "[default: every query and response counts]",
        ),
    ] = None,
    home: HomeOption = None,
    as_json: JsonOption = False,
    quiet: QuietOption = False,
) -> None:
    """Write the RSSAC002v5 traffic metrics (traffic-volume, traffic-sizes, rcode-volume, unique-sources).

    One YAML file per metric and UTC day, in the published layout
    `OUT/YYYY/MM/<metric>/<label>-YYYYMMDD-<metric>.yaml` (`a.root-servers.net` is labelled `a-root`).
    Sizes are DNS message lengths in 16-byte bins; RCODEs are extended RCODEs; unique sources count
    distinct query sources, with IPv6 also aggregated by /64.

    Example: `dnsvigil traffic rssac002 --service a.root-servers.net --server-addr 198.41.0.4
    --server-addr 2001:503:ba3e::2:30 --date 2025-01-01 --out rssac002/`
    """
    # Imported here: DuckDB takes a while to load, and other commands do not need it.
    from dnsvigil.store.engine import DuckDBEngine
    from dnsvigil.traffic.rssac002 import compute_traffic_metrics
    from dnsvigil.traffic.rssac002_yaml import write_documents

    options = common(context, home=home, quiet=quiet or as_json)
    days = parse_day(day)
    engine = DuckDBEngine(Warehouse.open(options.home_path))
    try:
        if days and not _has_messages_on(engine, days[0]):
            raise NothingReadError(
                f"{options.home_path}: no DNS messages stored on {days[0]}; nothing written to {out}",
                hint="ingest captures of that day first (`dnsvigil ingest pcap ...`), or pick another --date",
            )
        documents = compute_traffic_metrics(
            engine, service=service, server_addrs=server_addrs or None, days=days
        )
    finally:
        engine.close()
    if not documents:
        raise NothingReadError(
            f"{options.home_path}: no DNS messages stored; nothing written to {out}",
            hint="ingest captures first: `dnsvigil ingest pcap ...`",
        )
    paths = write_documents(documents, out)
    if as_json:
        print(json.dumps({"files": [str(path) for path in paths], "documents": len(documents)}))
        return
    for path in paths:
        stdout.print(str(path), highlight=False)


def _parse_instant(option: str, text: str | None) -> datetime | None:
    """A `--since`/`--until` value: an ISO 8601 date or date and time; without an offset it is UTC."""
    if text is None:
        return None
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise UsageError(
            f"{option} must be an ISO 8601 time such as 2024-05-01 or 2024-05-01T10:00:00Z, got {text!r}"
        ) from None
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def _summary(evidence: dict[str, object]) -> str:
    """The figure an operator reads first in a finding's evidence."""
    for key, label in (
        ("amplification_factor", "factor"),
        ("peak_qps", "peak q/s"),
        ("peak_share", "peak NXDOMAIN share"),
    ):
        if key in evidence:
            return f"{label} {evidence[key]}"
    return ""


@app.command("detect")
def detect(
    context: typer.Context,
    since: Annotated[
        str | None,
        typer.Option("--since", help="First instant analysed, ISO 8601 (UTC unless an offset is given)."),
    ] = None,
    until: Annotated[
        str | None,
        typer.Option("--until", help="First instant not analysed, ISO 8601 (UTC unless an offset is given)."),
    ] = None,
    home: HomeOption = None,
    as_json: JsonOption = False,
    quiet: QuietOption = False,
) -> None:
    """Find DNS attacks in the stored traffic and store them as findings.

    Four detectors run over the stored `dns_messages`, counting in windows of
    $DNSVIGIL_TRAFFIC_WINDOW_SECONDS (60 s): DDOS.RANDOM_SUBDOMAIN (water torture against a zone),
    DDOS.AMPLIFICATION (large responses reflected at a spoofed address), DDOS.QUERY_FLOOD (sources or
    /24, /56 networks far above the learnt baseline rate) and DNS.NXDOMAIN_SURGE (a zone's NXDOMAIN share
    far above its own baseline). Their thresholds are settings (see the README); each finding's evidence
    says which thresholds it crossed and by how much. Running it again on the same data stores nothing
    new. See the findings with `dnsvigil query "SELECT code, subject, evidence FROM findings"`.

    Examples:

    `dnsvigil traffic detect`

    `dnsvigil traffic detect --since 2024-05-01T10:00Z --until 2024-05-01T11:00Z --json`

    `DNSVIGIL_RANDOM_SUBDOMAIN_MIN_QPS=500 dnsvigil traffic detect --home /srv/dnsvigil`
    """
    # Imported here: DuckDB takes a while to load, and other commands do not need it.
    from dnsvigil.traffic.detect import detect_and_store, detectors_from_settings
    from dnsvigil.traffic.detection import TimeWindow

    options = common(context, home=home, quiet=quiet or as_json)
    window = TimeWindow(_parse_instant("--since", since), _parse_instant("--until", until))
    detectors = detectors_from_settings()
    warehouse = Warehouse.open(options.home_path)
    with step_progress(options) as progress:
        progress("running the traffic detectors")
        run = detect_and_store(warehouse, detectors, window)
    if as_json:
        records = [finding.to_record() for finding in run.findings]
        print(
            json.dumps(
                {"messages": run.messages, "findings": records, "stored": run.stored},
                default=str,
                sort_keys=True,
            )
        )
        return
    stdout.print(
        f"{run.messages:,} message(s) analysed: {len(run.findings)} finding(s), {run.stored} new in "
        f"{options.home_path}",
        highlight=False,
    )
    if run.findings:
        table = Table(box=None)
        for header in ("code", "subject", "first seen", "last seen", "severity", "measure"):
            table.add_column(header, overflow="fold")  # a narrow terminal wraps, never cuts, a subject
        for finding in run.findings:
            table.add_row(
                finding.code,
                finding.subject,
                finding.first_seen.isoformat(timespec="seconds"),
                finding.last_seen.isoformat(timespec="seconds"),
                finding.severity.name.lower(),
                _summary(dict(finding.evidence)),
            )
        stdout.print(table)
