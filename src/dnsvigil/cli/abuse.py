"""`dnsvigil abuse`: registration-abuse analytics over the stored zone files, registrations, registry
reports and abuse feeds."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.table import Table

from dnsvigil.cli import abuse_report
from dnsvigil.cli.context import HomeOption, JsonOption, QuietOption, common, stdout, step_progress
from dnsvigil.config import find_setting

if TYPE_CHECKING:
    from dnsvigil.abuse.analyze import AbuseAnalysis

app = typer.Typer(
    help="Registration abuse: rates per TLD and registrar, concentration, mitigation, flocking.",
    no_args_is_help=True,
)
SHOWN = 10


def _setting_help(name: str) -> str:
    setting = find_setting(name)
    return f"{setting.help} [default: ${setting.env}, else {setting.default}]"


@app.command("analyze")
def analyze(
    context: typer.Context,
    period: Annotated[
        str | None,
        typer.Option("--period", help="One month, YYYY-MM. [default: every month with abuse listings]"),
    ] = None,
    min_population: Annotated[
        str | None,
        typer.Option("--min-population", help=_setting_help("abuse_min_population"), show_default=False),
    ] = None,
    home: HomeOption = None,
    as_json: JsonOption = False,
    quiet: QuietOption = False,
) -> None:
    """Tell malicious from compromised domains; compute abuse rates, concentration, mitigation times, flocking
    and feed quality; store the verdicts, rates and findings.

    Rates per 10,000 domains, day by day and month by month, per TLD and per registrar, per threat
    (phishing, malware, botnet_cc, spam, and `security`: all but spam), for three denominators: the zone
    (TLDs), domains under management (registry reports) and new registrations; with Wilson or exact
    Poisson intervals. Registrars and TLDs smaller than --min-population are listed but not ranked;
    registrar IDs that are no real registrar are left out. A registrar whose share of a month's malicious
    registrations far exceeds its share of domains under management becomes an ABUSE.DISPROPORTIONATE
    finding (one-sided binomial test, Bonferroni-corrected; settings abuse_alpha, abuse_min_malicious,
    abuse_min_ratio). A registrar or TLD whose share of malicious registrations (by month of creation)
    moves from one month to the next beyond chance becomes an ABUSE.REGISTRAR_SHIFT or ABUSE.TLD_SHIFT
    finding (two-sided Fisher exact test, Bonferroni-corrected, at least abuse_min_share_change), with an
    estimate of where the abuse went (or came from), corroborated by shared name servers. Running it again
    on the same data stores nothing new.

    Examples:

    `dnsvigil abuse analyze --period 2024-01`

    `dnsvigil abuse analyze --json | jq '.concentration'`

    `dnsvigil query "SELECT entity_name, rate_per_10k, low_per_10k, high_per_10k FROM abuse_rates
    WHERE period_kind = 'month' AND denominator = 'dum' AND threat = 'security' AND ranked ORDER BY rank"`
    """
    from dnsvigil.abuse.analyze import AbuseSettings, analyze_and_store
    from dnsvigil.abuse.classifier import shipped_dga_scorer
    from dnsvigil.store.warehouse import Warehouse

    options = common(context, home=home, quiet=quiet or as_json)
    settings = AbuseSettings.from_settings(min_population)
    warehouse = Warehouse.open(options.home_path)
    with step_progress(options) as progress:
        progress("computing abuse rates, concentration and mitigation")
        result = analyze_and_store(warehouse, settings, period=period, dga_score=shipped_dga_scorer())
    if as_json:
        print(json.dumps(_to_json(result, str(options.home_path)), default=str, sort_keys=True))
    else:
        _print(result, str(options.home_path))


def _top_rates(result: AbuseAnalysis) -> list[dict[str, Any]]:
    """The ranked monthly registrar rates of security threats per domains under management, top first."""
    rows = [
        row
        for row in result.rates.to_pylist()
        if row["period_kind"] == "month"
        and row["entity_type"] == "registrar"
        and row["denominator"] == "dum"
        and row["threat"] == "security"
        and row["ranked"]
    ]
    return sorted(rows, key=lambda row: (row["period_start"], row["rank"], row["entity"]))


def _to_json(result: AbuseAnalysis, home: str) -> dict[str, Any]:
    """The analysis as the `abuse report` publishes its tables (one row shape for both), plus counts."""
    from dnsvigil.report.abuse_data import AbuseTables

    tables = AbuseTables.of(result)
    top_columns = (
        "period_start", "entity", "entity_name", "abused", "population", "rate_per_10k", "low_per_10k",
        "high_per_10k", "rank",
    )  # fmt: skip
    return {
        "home": home,
        "period": result.window.to_text(),
        "rates": {
            "rows": result.rates.num_rows,
            "stored": result.stored_rates,
            "ranked": sum(result.rates.column("ranked").to_pylist()),
            "top_registrars": [{key: row[key] for key in top_columns} for row in _top_rates(result)],
        },
        "concentration": tables.concentration.to_pylist(),
        "concentration_curves": tables.concentration_curves.to_pylist(),
        "mitigation": tables.mitigation.to_pylist(),
        "flocking": {"shares": tables.shares.to_pylist(), "flows": tables.flows.to_pylist()},
        "classifier": {
            "basis": result.verdicts.basis,
            "labelled": result.verdicts.labelled,
            "labelled_malicious": result.verdicts.labelled_malicious,
            "precision": result.verdicts.precision,
            "recall": result.verdicts.recall,
            "domains": result.verdicts.table.num_rows,
            "malicious": sum(result.verdicts.table.column("malicious").to_pylist()),
            "stored": result.stored_verdicts,
        },
        "feed_quality": {
            "feeds": tables.feed_listings.to_pylist(),
            "overlaps": tables.feed_overlaps.to_pylist(),
            "first_listings": tables.feed_first_listings.to_pylist(),
            "churn": tables.feed_churn.to_pylist(),
        },
        "findings": [finding.to_record() for finding in result.findings],
        "stored_findings": result.stored_findings,
    }


def _days(value: float | None) -> str:
    return "-" if value is None else f"{value:.1f}"


def _print(result: AbuseAnalysis, home: str) -> None:
    stdout.print(
        f"{result.window.to_text()}: {result.rates.num_rows:,} rates ({result.stored_rates:,} new), "
        f"{len(result.findings)} finding(s) ({result.stored_findings} new) in {home}",
        highlight=False,
    )
    top = _top_rates(result)
    if top:
        table = Table(
            "month",
            "rank",
            "registrar",
            "abused",
            "domains",
            "per 10k",
            "interval",
            box=None,
            title="security threats per 10,000 domains under management",
        )
        for row in top[:SHOWN]:
            table.add_row(
                row["period_start"].strftime("%Y-%m"),
                str(row["rank"]),
                f"{row['entity_name'] or ''} ({row['entity']})",
                f"{row['abused']:,}",
                f"{row['population']:,}",
                f"{row['rate_per_10k']:.1f}",
                f"{row['low_per_10k']:.1f}-{row['high_per_10k']:.1f}",
            )
        stdout.print(table)
    for item in result.concentration:
        if item.threat == "security" and item.concentration.total:
            c = item.concentration
            stdout.print(
                f"{item.month:%Y-%m} {item.entity_type}s: top 1/5/10 hold "
                f"{c.top_share[1]:.0%}/{c.top_share[5]:.0%}/{c.top_share[10]:.0%} "
                f"of {c.total:,} abused domains; "
                f"{c.entities_for_half} make half, {c.entities_for_90} make 90 %; HHI {c.hhi:,.0f}",
                highlight=False,
            )
    overall = next((item for item in result.mitigation if item.entity_type == "all"), None)
    if overall is not None:
        within = overall.survival.within
        stdout.print(
            f"mitigation: {overall.mitigated:,} of {overall.listed:,} listed domains, median "
            f"{_days(overall.survival.median_days)} days; within 1/7/30 days: "
            + "/".join("-" if within[d] is None else f"{within[d]:.0%}" for d in sorted(within)),
            highlight=False,
        )
    from dnsvigil.abuse.classifier import YOUNG_DAYS

    verdicts = result.verdicts
    measured = (
        f"cross-validated precision {verdicts.precision:.3f}, recall {verdicts.recall:.3f} on "
        f"{verdicts.labelled:,} labelled domains"
        if verdicts.precision is not None and verdicts.recall is not None
        else f"too few labelled domains to learn from: listed within {YOUNG_DAYS:g} days of registration = "
        "malicious"
    )
    stdout.print(
        f"malicious vs compromised ({verdicts.basis}): "
        f"{sum(verdicts.table.column('malicious').to_pylist()):,} of {verdicts.table.num_rows:,} listed "
        f"domains maliciously registered; {measured}",
        highlight=False,
    )
    for first in result.feeds.first_listings:
        listing = next(item for item in result.feeds.listings if item.feed == first.feed)
        lag = "-" if first.median_lag_hours is None else f"{first.median_lag_hours:+.1f} h"
        stdout.print(
            f"feed {first.feed}: {listing.domains:,} domains ({listing.exclusive:,} no other feed lists); "
            f"first in {first.listed_first:,} of {first.races:,} shared; median lag {lag}",
            highlight=False,
        )
    from dnsvigil.abuse.describe import finding_evidence, finding_subject
    from dnsvigil.report.abuse_data import registrar_names

    names = registrar_names(result)
    for finding in result.findings:
        stdout.print(
            f"{finding.code} {finding.evidence['month']}: {finding_subject(finding)}: "
            f"{finding_evidence(finding, names)}",
            highlight=False,
            markup=False,
        )


app.command("report")(abuse_report.report)
