"""`dnsvigil abuse`: registration-abuse analytics over the stored zone files, registrations, registry
reports and abuse feeds."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.table import Table

from dnsvigil.cli.context import HomeOption, JsonOption, QuietOption, common, stdout, step_progress
from dnsvigil.config import find_setting, read_int, read_share
from dnsvigil.errors import UsageError

if TYPE_CHECKING:
    from dnsvigil.abuse.analyze import AbuseAnalysis

app = typer.Typer(
    help="Registration abuse: rates per TLD and registrar, concentration, mitigation, disproportion.",
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
    """Compute abuse rates, concentration and mitigation times; store the rates and findings.

    Rates per 10,000 domains, day by day and month by month, per TLD and per registrar, per threat
    (phishing, malware, botnet_cc, spam, and `security`: all but spam), for three denominators: the zone
    (TLDs), domains under management (registry reports) and new registrations; with Wilson or exact
    Poisson intervals. Registrars and TLDs smaller than --min-population are listed but not ranked;
    registrar IDs that are no real registrar are left out. A registrar whose share of a month's malicious
    registrations far exceeds its share of domains under management becomes an ABUSE.DISPROPORTIONATE
    finding (one-sided binomial test, Bonferroni-corrected; settings abuse_alpha, abuse_min_malicious,
    abuse_min_ratio). Running it again on the same data stores nothing new.

    Examples:

    `dnsvigil abuse analyze --period 2024-01`

    `dnsvigil abuse analyze --json | jq '.concentration'`

    `dnsvigil query "SELECT entity_name, rate_per_10k, low_per_10k, high_per_10k FROM abuse_rates
    WHERE period_kind = 'month' AND denominator = 'dum' AND threat = 'security' AND ranked ORDER BY rank"`
    """
    from dnsvigil.abuse.analyze import analyze_and_store
    from dnsvigil.abuse.disproportion import DisproportionSettings
    from dnsvigil.abuse.rates import RateSettings
    from dnsvigil.store.warehouse import Warehouse

    options = common(context, home=home, quiet=quiet or as_json)
    try:
        rate_settings = RateSettings(
            confidence=read_share("abuse_confidence"),
            min_population=read_int("abuse_min_population", min_population, minimum=1),
        )
        disproportion = DisproportionSettings(
            alpha=read_share("abuse_alpha"),
            min_malicious=read_int("abuse_min_malicious", minimum=1),
            min_ratio=float(read_int("abuse_min_ratio", minimum=1)),
        )
    except ValueError as error:
        if isinstance(error, UsageError):
            raise
        raise UsageError(f"abuse settings: {error}") from None
    warehouse = Warehouse.open(options.home_path)
    with step_progress(options) as progress:
        progress("computing abuse rates, concentration and mitigation")
        result = analyze_and_store(warehouse, rate_settings, disproportion, period=period)
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
    return {
        "home": home,
        "period": result.window.to_text(),
        "rates": {
            "rows": result.rates.num_rows,
            "stored": result.stored_rates,
            "ranked": sum(result.rates.column("ranked").to_pylist()),
            "top_registrars": [
                {
                    key: row[key]
                    for key in (
                        "period_start",
                        "entity",
                        "entity_name",
                        "abused",
                        "population",
                        "rate_per_10k",
                        "low_per_10k",
                        "high_per_10k",
                        "rank",
                    )
                }
                for row in _top_rates(result)
            ],
        },
        "concentration": [
            {
                "month": item.month.strftime("%Y-%m"),
                "entity_type": item.entity_type,
                "threat": item.threat,
                "unattributed": item.unattributed,
                "total": item.concentration.total,
                "entities": item.concentration.entities,
                "top_share": {str(n): share for n, share in item.concentration.top_share.items()},
                "entities_for_half": item.concentration.entities_for_half,
                "entities_for_90": item.concentration.entities_for_90,
                "hhi": item.concentration.hhi,
                "top": [list(pair) for pair in item.concentration.top],
            }
            for item in result.concentration
        ],
        "mitigation": [
            {
                "entity_type": item.entity_type,
                "entity": item.entity,
                "listed": item.listed,
                "mitigated": item.mitigated,
                "by_method": item.by_method,
                "median_days": item.survival.median_days,
                "within_days": {str(days): share for days, share in item.survival.within.items()},
                "unmitigated_median_days": item.unmitigated_median_days,
                "unmitigated_max_days": item.unmitigated_max_days,
            }
            for item in result.mitigation
        ],
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
    for finding in result.findings:
        evidence = finding.evidence
        stdout.print(
            f"{finding.code} {evidence['month']}: {evidence['registrar_name']} ({finding.subject}) holds "
            f"{evidence['malicious_share']:.1%} of malicious registrations, {evidence['managed_share']:.2%} "
            f"of domains under management (p = {evidence['p_value']:.2g})",
            highlight=False,
        )
