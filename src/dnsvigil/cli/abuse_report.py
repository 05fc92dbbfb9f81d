"""`dnsvigil abuse report`: the registration-abuse analysis as an HTML report with its open data."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from dnsvigil.cli.context import HomeOption, JsonOption, QuietOption, common, stdout, step_progress


def report(
    context: typer.Context,
    out: Annotated[
        Path,
        typer.Option(
            "--out",
            help="Folder to write the report into: new, empty, or an earlier report's (which is replaced).",
            metavar="DIR",
        ),
    ],
    period: Annotated[
        str | None,
        typer.Option("--period", help="One month, YYYY-MM. [default: every month with abuse listings]"),
    ] = None,
    home: HomeOption = None,
    as_json: JsonOption = False,
    quiet: QuietOption = False,
) -> None:
    """Run the registration-abuse analysis and write it as a report that works with no network.

    Runs exactly what `dnsvigil abuse analyze` runs (and stores its rates and findings the same way, once),
    then writes into DIR:

    - `index.html`: one self-contained page (Plotly's JavaScript inline, no network needed) with the
    findings and their evidence, security-threat rates per registrar with confidence intervals,
    concentration curves, monthly shares and flows of malicious registrations between registrars and
    TLDs, mitigation times and feed quality; each chart says how to read it;

    - `data/NAME.csv` and `data/NAME.parquet`: every table behind the page (rates, concentration,
    concentration_curves, mitigation, shares, flows, feed_listings, feed_overlaps, feed_first_listings,
    feed_churn, findings), the same rows in both formats, with stable column names;

    - `summary.json`: the period, headline counts, the findings and every file with its row count.

    The folder is written all or nothing: it is built beside DIR and renamed into place, so a failure
    leaves the earlier report (or nothing) there. DIR must be new, empty, or an earlier report.

    Examples:

    `dnsvigil abuse report --out abuse-report/`

    `dnsvigil abuse report --period 2024-01 --out reports/2024-01 --json | jq '.counts'`

    `duckdb -c "SELECT * FROM 'abuse-report/data/flows.parquet' ORDER BY share DESC LIMIT 10"`
    """
    # Imported here: DuckDB and Plotly take a while to load, and other commands do not need them.
    from dnsvigil.abuse.analyze import AbuseSettings, analyze_and_store
    from dnsvigil.abuse.classifier import shipped_dga_scorer
    from dnsvigil.report.abuse_data import DATA, PAGE, check_report_folder
    from dnsvigil.report.abuse_report import write_abuse_report
    from dnsvigil.store.warehouse import Warehouse

    options = common(context, home=home, quiet=quiet or as_json)
    check_report_folder(out)  # before the analysis: a bad --out should not cost its minutes
    settings = AbuseSettings.from_settings()
    warehouse = Warehouse.open(options.home_path)
    with step_progress(options) as progress:
        progress("computing abuse rates, concentration, mitigation, flocking and feed quality")
        analysis = analyze_and_store(warehouse, settings, period=period, dga_score=shipped_dga_scorer())
        progress(f"writing the report to {out}")
        written = write_abuse_report(analysis, out)
    if as_json:
        document = {"home": str(options.home_path), "out": str(out), **written.summary}
        print(json.dumps(document, default=str, sort_keys=True))
        return
    counts = written.summary["counts"]
    stdout.print(
        f"{out / PAGE}: {analysis.window.to_text()}, {counts['findings']} finding(s), "
        f"{counts['listed_domains']:,} listed domains; open data: {len(written.files)} files in {out / DATA}",
        highlight=False,
    )
