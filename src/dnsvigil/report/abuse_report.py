"""The registration-abuse report: one folder holding a self-contained HTML page, every table behind it as
CSV and Parquet under `data/`, and `summary.json` (see `abuse_data` for the files and the folder).

The page carries Plotly's JavaScript inline, as the traffic report does, so it opens with no network. It
computes nothing: its charts and tables are drawn from `AbuseTables`, the very tables published beside it.
"""

from __future__ import annotations

import json
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from itertools import groupby
from pathlib import Path
from typing import Any, Final

import plotly.graph_objects as go
import plotly.offline
from markupsafe import Markup
from plotly.subplots import make_subplots

from dnsvigil.abuse.analyze import AbuseAnalysis
from dnsvigil.abuse.describe import finding_evidence, finding_subject, labelled
from dnsvigil.abuse.mitigation import WITHIN_DAYS
from dnsvigil.abuse.sources import SECURITY
from dnsvigil.findings import find_code
from dnsvigil.report.abuse_data import (
    PAGE,
    SUMMARY,
    AbuseTables,
    DataFile,
    check_report_folder,
    data_files,
    registrar_names,
    summarise,
    write_report_folder,
)
from dnsvigil.report.traffic_report import PALETTE, chart, environment

SHOWN_FLOW: Final = 0.005
"""Flows smaller than this share of the month's malicious registrations are left out of the flow charts
(they stay in `data/flows.csv`): dozens of hairline ribbons hide the moves that matter."""

Row = dict[str, Any]


@dataclass(frozen=True, slots=True)
class AbuseReport:
    """A written report: its folder, its data files, and the summary written to `summary.json`."""

    folder: Path
    files: tuple[DataFile, ...]
    summary: Row


def _month(day: date) -> str:
    return day.strftime("%Y-%m")


def _colour(index: int) -> str:
    return str(PALETTE[index % len(PALETTE)])


def _grouped(rows: Iterable[Row], key: Callable[[Row], str]) -> dict[str, list[Row]]:
    return {name: list(group) for name, group in groupby(sorted(rows, key=key), key=key)}


def _rates_chart(rows: Sequence[Row], div_id: str) -> Markup | None:
    if not rows:
        return None
    figure = go.Figure()
    by_registrar = _grouped(rows, lambda row: labelled(row["entity"], row["entity_name"]))
    for index, (label, points) in enumerate(by_registrar.items()):
        rates = [point["rate_per_10k"] for point in points]
        low = [rate - point["low_per_10k"] for point, rate in zip(points, rates, strict=True)]
        high = [point["high_per_10k"] - rate for point, rate in zip(points, rates, strict=True)]
        figure.add_trace(
            go.Scatter(
                x=[_month(point["period_start"]) for point in points],
                y=rates,
                error_y={"type": "data", "symmetric": False, "array": high, "arrayminus": low},
                mode="lines+markers",
                name=label,
                marker_color=_colour(index),
            )
        )
    figure.update_xaxes(title_text="month", type="category")
    figure.update_yaxes(title_text="per 10,000 domains under management", rangemode="tozero")
    return chart(figure, div_id, height=460)


def _lines(figure: go.Figure, series: Mapping[str, list[tuple[int, list[Any], list[Any]]]]) -> None:
    """Add each series as one coloured line in each of its panels (column, x, y), with one legend entry."""
    for index, (name, panels) in enumerate(series.items()):
        for position, (column, x, y) in enumerate(panels):
            figure.add_trace(
                go.Scatter(
                    x=x, y=y, mode="lines+markers", name=name, legendgroup=name, showlegend=position == 0,
                    marker_color=_colour(index),
                ),
                row=1, col=column,
            )  # fmt: skip


def _concentration_chart(tables: AbuseTables) -> Markup | None:
    summaries = [
        row for row in tables.concentration.to_pylist() if row["threat"] == SECURITY and row["total"]
    ]
    if not summaries:
        return None
    curves = _grouped(
        (row for row in tables.concentration_curves.to_pylist() if row["threat"] == SECURITY),
        lambda row: f"{row['entity_type']} {row['month']}",
    )
    kinds = ("registrar", "tld")
    series: dict[str, list[tuple[int, list[Any], list[Any]]]] = defaultdict(list)
    for row in summaries:
        points = curves[f"{row['entity_type']} {row['month']}"]
        # Past the largest few, only the end of the curve is known: all entities hold all the abuse.
        ends = [(row["entities"], 1.0)] if row["entities"] > len(points) else []
        steps = [(0, 0.0), *((point["position"], point["cumulative_share"]) for point in points), *ends]
        panel = (kinds.index(row["entity_type"]) + 1, [x for x, _ in steps], [y for _, y in steps])
        series[_month(row["month"])].append(panel)
    figure = make_subplots(rows=1, cols=2, shared_yaxes=True)
    _lines(figure, series)
    for column, kind in enumerate(("registrars", "TLDs"), start=1):
        figure.update_xaxes(title_text=f"number of {kind}, largest first", row=1, col=column)
    figure.update_yaxes(title_text="cumulative share of abused domains", tickformat=".0%", row=1, col=1)
    return chart(figure, "chart-concentration", height=420)


def _shares_chart(tables: AbuseTables, entity_type: str) -> Markup | None:
    rows = [row for row in tables.shares.to_pylist() if row["entity_type"] == entity_type]
    if not rows:
        return None
    months = sorted({row["month"] for row in rows})
    figure = go.Figure()
    by_entity = _grouped(rows, lambda row: labelled(row["entity"], row["entity_name"]))
    for index, (label, points) in enumerate(by_entity.items()):
        share = {point["month"]: point["share"] for point in points}
        figure.add_trace(
            go.Scatter(
                x=[_month(month) for month in months],
                y=[share.get(month, 0.0) for month in months],
                stackgroup="shares",
                name=label,
                line_color=_colour(index),
                hovertemplate="%{x}: %{y:.1%}",
            )
        )
    figure.update_xaxes(title_text="month of registration", type="category")
    figure.update_yaxes(title_text="share of malicious registrations", tickformat=".0%", range=[0, 1])
    return chart(figure, f"chart-shares-{entity_type}", height=420)


def _previous(month: date) -> date:
    return (month - timedelta(days=1)).replace(day=1)


def _flows_chart(tables: AbuseTables, entity_type: str) -> Markup | None:
    rows = [
        row
        for row in tables.flows.to_pylist()
        if row["entity_type"] == entity_type and row["share"] >= SHOWN_FLOW
    ]
    if not rows:
        return None
    nodes: dict[tuple[str, date], int] = {}
    labels: dict[str, str] = {}

    def node(entity: str, name: str | None, month: date) -> int:
        labels.setdefault(entity, labelled(entity, name))
        return nodes.setdefault((entity, month), len(nodes))

    links = [
        (
            node(row["source"], row["source_name"], _previous(row["month"])),
            node(row["target"], row["target_name"], row["month"]),
            row["share"],
            row["linked_domains"],
        )
        for row in rows
    ]
    # One column per month, an entity at the same rank in each: left alone, Plotly would place the nodes by
    # link depth, not by month.
    months = sorted({month for _, month in nodes})
    across = {month: 0.01 + 0.98 * index / (len(months) - 1) for index, month in enumerate(months)}
    place: dict[tuple[str, date], tuple[float, float]] = {}
    for month in months:
        column = sorted(key for key in nodes if key[1] == month)
        for rank, key in enumerate(column):
            place[key] = (across[month], (rank + 0.5) / len(column))
    entities = sorted(labels)
    figure = go.Figure(
        go.Sankey(
            arrangement="snap",
            node={
                "label": [labels[entity] for entity, _ in nodes],
                "customdata": [_month(month) for _, month in nodes],
                "x": [place[key][0] for key in nodes],
                "y": [place[key][1] for key in nodes],
                "pad": 10,
                "color": [_colour(entities.index(entity)) for entity, _ in nodes],
                "hovertemplate": "%{label} in %{customdata}<extra></extra>",
            },
            link={
                "source": [link[0] for link in links],
                "target": [link[1] for link in links],
                "value": [link[2] for link in links],
                "customdata": [link[3] for link in links],
                "hovertemplate": "%{source.label} (%{source.customdata}) → %{target.label}"
                " (%{target.customdata}): %{value:.1%} of malicious registrations, %{customdata} domains on"
                " name servers the first used<extra></extra>",
            },
        )
    )
    for month, x in across.items():
        figure.add_annotation(x=x, y=1.0, yanchor="bottom", text=_month(month), showarrow=False, yref="paper")
    height = max(420, 26 * max(Counter(month for _, month in nodes).values()))
    return chart(figure, f"chart-flows-{entity_type}", height=height)


def _mitigation_chart(tables: AbuseTables) -> Markup | None:
    rows = [row for row in tables.mitigation.to_pylist() if row["entity_type"] in ("all", "registrar")]
    if not rows:
        return None
    labels = [
        "all listed domains" if row["entity_type"] == "all" else labelled(row["entity"], row["entity_name"])
        for row in rows
    ]
    figure = make_subplots(rows=1, cols=2, column_widths=[0.65, 0.35])
    for index, days in enumerate(WITHIN_DAYS):
        figure.add_trace(
            go.Bar(
                x=labels,
                y=[row[f"mitigated_within_{days}_days"] for row in rows],
                name=f"within {days} day{'s' if days > 1 else ''}",
                marker_color=_colour(index),
            ),
            row=1,
            col=1,
        )
    median = [row["median_days"] for row in rows]
    figure.add_trace(
        go.Bar(x=labels, y=median, name="median days", marker_color=_colour(len(WITHIN_DAYS))), row=1, col=2
    )
    figure.update_layout(barmode="group")
    figure.update_yaxes(title_text="share mitigated within", tickformat=".0%", range=[0, 1], row=1, col=1)
    figure.update_yaxes(title_text="median days to mitigation", row=1, col=2)
    return chart(figure, "chart-mitigation", height=460)


def _overlap_chart(tables: AbuseTables) -> Markup | None:
    feeds = tables.feed_listings.column("feed").to_pylist()
    if not feeds:
        return None
    domains = tables.feed_listings.column("domains").to_pylist()
    jaccard = [[1.0 if feed == other else 0.0 for other in feeds] for feed in feeds]
    common = [
        [str(domains[row]) if row == column else "0" for column in range(len(feeds))]
        for row in range(len(feeds))
    ]
    for row in tables.feed_overlaps.to_pylist():
        first, second = feeds.index(row["feed"]), feeds.index(row["other"])
        jaccard[first][second] = jaccard[second][first] = row["jaccard"]
        common[first][second] = common[second][first] = str(row["common"])
    figure = go.Figure(
        go.Heatmap(
            z=jaccard, x=feeds, y=feeds, zmin=0, zmax=1, colorscale="Blues", text=common,
            texttemplate="%{z:.2f}", colorbar={"title": {"text": "Jaccard"}},
            hovertemplate="%{y} and %{x}: %{text} common domains, Jaccard %{z:.2f}<extra></extra>",
        )
    )  # fmt: skip
    figure.update_yaxes(autorange="reversed")
    return chart(figure, "chart-feed-overlap", height=380)


def _first_listing_chart(tables: AbuseTables) -> Markup | None:
    rows = tables.feed_first_listings.to_pylist()
    if not rows:
        return None
    feeds = [row["feed"] for row in rows]
    parts = {
        "listed first alone": [row["listed_first"] for row in rows],
        "tied for first": [row["shared_first"] for row in rows],
        "listed later": [row["races"] - row["listed_first"] - row["shared_first"] for row in rows],
    }
    figure = go.Figure(
        [go.Bar(x=feeds, y=counts, name=name, marker_color=_colour(index))
         for index, (name, counts) in enumerate(parts.items())]
    )  # fmt: skip
    figure.update_layout(barmode="stack")
    figure.update_yaxes(title_text="domains also listed by another feed")
    return chart(figure, "chart-feed-first", height=380)


def _churn_chart(tables: AbuseTables) -> Markup | None:
    rows = tables.feed_churn.to_pylist()
    if not rows:
        return None
    measures = ("added", "removed")
    series = {
        feed: [
            (column, [_month(point["month"]) for point in points], [point[measure] for point in points])
            for column, measure in enumerate(measures, start=1)
        ]
        for feed, points in _grouped(rows, lambda row: row["feed"]).items()
    }
    figure = make_subplots(rows=1, cols=2)
    _lines(figure, series)
    figure.update_xaxes(type="category")
    for column, measure in enumerate(measures, start=1):
        figure.update_yaxes(title_text=f"domains {measure} per month", rangemode="tozero", row=1, col=column)
    return chart(figure, "chart-feed-churn", height=380)


def _charts(tables: AbuseTables) -> dict[str, Markup | None]:
    rates = [
        row
        for row in tables.rates.to_pylist()
        if (row["period_kind"], row["entity_type"], row["denominator"], row["threat"])
        == ("month", "registrar", "dum", SECURITY)
    ]
    rates.sort(key=lambda row: (row["entity_name"] or "", row["entity"], row["period_start"]))
    return {
        "rates_ranked": _rates_chart([row for row in rates if row["ranked"]], "chart-rates-ranked"),
        "rates_unranked": _rates_chart([row for row in rates if not row["ranked"]], "chart-rates-unranked"),
        "concentration": _concentration_chart(tables),
        "shares_registrar": _shares_chart(tables, "registrar"),
        "shares_tld": _shares_chart(tables, "tld"),
        "flows_registrar": _flows_chart(tables, "registrar"),
        "flows_tld": _flows_chart(tables, "tld"),
        "mitigation": _mitigation_chart(tables),
        "feed_overlap": _overlap_chart(tables),
        "feed_first": _first_listing_chart(tables),
        "feed_churn": _churn_chart(tables),
    }


def render_abuse_report(analysis: AbuseAnalysis, tables: AbuseTables, summary: Row) -> str:
    """The report page: one HTML document with Plotly's JavaScript inline, showing `tables` and `summary`."""
    codes = sorted({finding.code for finding in analysis.findings})
    findings = sorted(
        analysis.findings, key=lambda f: (f.evidence.get("month", ""), f.code, -f.severity, f.subject)
    )
    template = environment().get_template("abuse_report.html")
    return template.render(
        title=f"Registration abuse, {analysis.window.to_text()}",
        summary=summary,
        findings=findings,
        codes=[find_code(code) for code in codes],
        names=registrar_names(analysis),
        subject=finding_subject,
        evidence=finding_evidence,
        charts=_charts(tables),
        plotly_js=Markup(plotly.offline.get_plotlyjs()),
        data_files=[file for file in summary["files"] if file["table"]],
    )


def write_abuse_report(analysis: AbuseAnalysis, folder: Path) -> AbuseReport:
    """Write the report of `analysis` into `folder` (replacing an earlier report there), all or nothing.

    Raises:
        OutputError: `folder` is not free for a report (see `check_report_folder`) or cannot be written.
    """
    check_report_folder(folder)  # before the page is built: refuse a bad destination at once
    tables = AbuseTables.of(analysis)
    summary = summarise(analysis, tables)
    documents = {
        SUMMARY: json.dumps(summary, indent=1, sort_keys=True, default=str) + "\n",
        PAGE: render_abuse_report(analysis, tables, summary),
    }
    write_report_folder(folder, tables, documents)
    return AbuseReport(folder, data_files(tables), summary)
