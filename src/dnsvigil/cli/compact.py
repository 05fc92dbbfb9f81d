"""`dnsvigil compact`: merge the warehouse's small Parquet files, so that queries open fewer of them."""

from __future__ import annotations

import json
import time
from typing import Annotated

import typer
from rich.table import Table

from dnsvigil.cli.context import HomeOption, JsonOption, QuietOption, common, stdout, step_progress
from dnsvigil.store.schema import TABLES
from dnsvigil.store.warehouse import Warehouse


def compact(
    context: typer.Context,
    table: Annotated[
        str | None,
        typer.Option(
            "--table",
            help=f"Compact only this table: {', '.join(TABLES)}. [default: every table]",
            show_default=False,
            metavar="TABLE",
        ),
    ] = None,
    home: HomeOption = None,
    as_json: JsonOption = False,
    quiet: QuietOption = False,
) -> None:
    """Merge each table's small files of a day into as few files as possible (4 million rows at most).

    Every ingest commits at least one file per table and day, so a warehouse fed by many small sources
    (`dnsvigil watch`, a feed file a day per feed, registration data) gathers thousands of files, and every
    query and dashboard page pays for each file it opens. Run it after a large batch of ingests and now and
    then while `dnsvigil watch` runs, e.g. nightly; a second run finds little or nothing to do.

    It is safe to run while the warehouse is read or written (`dnsvigil serve`, `query`, ingests): the
    rows stay the same, the new files replace the old ones in one commit, readers see one set or the other,
    and sources already ingested stay known, so ingesting them again still stores nothing. The replaced
    files stay on disk for readers that opened them first, and are deleted by the first commit or compaction
    an hour later. Interrupted, it leaves the warehouse as it was.

    Example: `dnsvigil compact --home demo-out/warehouse`, or `dnsvigil compact --table dns_messages --json`.
    """
    options = common(context, home=home, quiet=quiet or as_json)
    warehouse = Warehouse.open(options.home_path)
    started = time.perf_counter()
    with step_progress(options) as on_step:
        results = warehouse.compact(table, on_table=lambda name: on_step(f"compacting {name}"))
    seconds = round(time.perf_counter() - started, 2)
    if as_json:
        report = {
            "home": str(warehouse.home),
            "seconds": seconds,
            "tables": {
                result.table: {
                    "files_before": result.files_before,
                    "files_after": result.files_after,
                    "rows": result.rows,
                }
                for result in results
            },
        }
        print(json.dumps(report, sort_keys=True))
        return
    before = sum(result.files_before for result in results)
    after = sum(result.files_after for result in results)
    stdout.print(f"{before:,} files compacted into {after:,} in {seconds} s", highlight=False)
    if options.quiet:
        return
    listing = Table("table", "files before", "files after", "rows", box=None)
    for result in results:
        listing.add_row(
            result.table, f"{result.files_before:,}", f"{result.files_after:,}", f"{result.rows:,}"
        )
    stdout.print(listing)
