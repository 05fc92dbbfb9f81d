"""`dnsvigil traffic`: standard traffic metrics over the stored DNS messages."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path
from typing import Annotated

import typer

from dnsvigil.cli.context import HomeOption, JsonOption, QuietOption, common, parse_day, stdout
from dnsvigil.errors import NothingReadError
from dnsvigil.store.sql import SqlRunner
from dnsvigil.store.warehouse import Warehouse

app = typer.Typer(help="Traffic metrics over the stored DNS messages.", no_args_is_help=True)


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
