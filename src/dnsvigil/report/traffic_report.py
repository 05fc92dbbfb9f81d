"""The HTML traffic report: one self-contained page that shows a `TrafficOverview` and explains it.

The page carries Plotly's JavaScript inline, so it opens from a USB stick or an air-gapped laptop with
no network. It renders what the analyzer computed and computes nothing itself: charts, summary cards,
top lists, and relative links to the RSSAC002 YAML files written beside it.
"""

from __future__ import annotations

import functools
import os
import posixpath
from collections.abc import Sequence
from datetime import datetime, timedelta
from pathlib import Path
from urllib.parse import quote, unquote

import jinja2
import plotly.graph_objects as go
import plotly.offline
from markupsafe import Markup
from plotly.colors import qualitative
from plotly.subplots import make_subplots

from dnsvigil.findings import Finding
from dnsvigil.outputs import write_atomically
from dnsvigil.traffic.overview import SIZE_BIN_BYTES, SizeBin, TrafficOverview

MIX_BARS = 20
"""The RCODE and QTYPE charts show this many of the most frequent values."""

PALETTE = qualitative.Safe  # distinguishable with the common colour-vision deficiencies
_CHART_CONFIG = {"displaylogo": False, "responsive": True}
_TIME_FORMAT = "%Y-%m-%d %H:%M:%S"


def _percent(share: float) -> str:
    return f"{share:.1%}"


def _thousands(count: int) -> str:
    return f"{count:,}"


def _utc_time(moment: datetime | None) -> str:
    return "—" if moment is None else moment.strftime(_TIME_FORMAT) + " UTC"


def _duration(span: timedelta) -> str:
    whole = int(span.total_seconds())
    days, rest = divmod(whole, 86_400)
    hours, rest = divmod(rest, 3_600)
    minutes, seconds = divmod(rest, 60)
    clock = f"{hours:02d}:{minutes:02d}:{seconds:02d}"
    return f"{days} d {clock}" if days else clock


def _bucket_text(seconds: int) -> str:
    for unit, size in (("day", 86_400), ("hour", 3_600), ("minute", 60)):
        if seconds % size == 0:
            count = seconds // size
            return f"{count} {unit}s" if count > 1 else unit
    return f"{seconds} seconds"


@functools.cache
def environment() -> jinja2.Environment:
    """The reports' Jinja2 environment: the package's templates, autoescaped, with the number filters."""
    environment = jinja2.Environment(
        loader=jinja2.PackageLoader("dnsvigil.report", "templates"),
        autoescape=jinja2.select_autoescape(["html"]),
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    environment.filters.update(
        percent=_percent, thousands=_thousands, utc_time=_utc_time, duration=_duration, bucket=_bucket_text
    )
    return environment


def chart(figure: go.Figure, div_id: str, *, height: int = 380) -> Markup:
    """A Plotly figure as an HTML fragment in the reports' style, its JavaScript loaded once by the page."""
    figure.update_layout(
        template="plotly_white",
        margin={"l": 50, "r": 10, "t": 40, "b": 50},
        legend={"orientation": "h", "yanchor": "bottom", "y": 1.02, "x": 0},
    )
    html = figure.to_html(
        full_html=False,
        include_plotlyjs=False,
        div_id=div_id,
        config=_CHART_CONFIG,
        default_width="100%",
        default_height=f"{height}px",
    )
    # Plotly escapes `<`, `>` and `/` inside its JSON, so data values cannot break out of the script.
    return Markup(html)


def _volume_chart(overview: TrafficOverview) -> Markup:
    figure = make_subplots(
        rows=2, cols=1, shared_xaxes=True, vertical_spacing=0.12, subplot_titles=("Queries", "Responses")
    )
    width_ms = overview.bucket_seconds * 1000
    for index, transport in enumerate(overview.transports):
        points = [point for point in overview.volume if point.series == transport.series]
        starts = [point.start.strftime(_TIME_FORMAT) for point in points]
        colour = PALETTE[index % len(PALETTE)]
        for row, counts in ((1, [p.queries for p in points]), (2, [p.responses for p in points])):
            figure.add_trace(
                go.Bar(
                    x=starts,
                    y=counts,
                    width=[width_ms] * len(points),
                    offset=0,
                    name=transport.series,
                    legendgroup=transport.series,
                    showlegend=row == 1,
                    marker_color=colour,
                ),
                row=row,
                col=1,
            )
    figure.update_layout(barmode="stack", bargap=0)
    figure.update_xaxes(title_text="time (UTC)", row=2, col=1)
    for row in (1, 2):
        figure.update_yaxes(title_text=f"per {_bucket_text(overview.bucket_seconds)}", row=row, col=1)
    return chart(figure, "chart-volume", height=520)


def _size_chart(bins: Sequence[SizeBin], div_id: str) -> Markup:
    figure = go.Figure()
    # UDP first, so it takes the first colour as UDP/IPv4 does in the volume chart.
    transports = sorted({size_bin.transport for size_bin in bins}, key=lambda name: (name != "udp", name))
    for index, transport in enumerate(transports):
        selected = [size_bin for size_bin in bins if size_bin.transport == transport]
        figure.add_trace(
            go.Bar(
                x=[size_bin.low for size_bin in selected],
                y=[size_bin.count for size_bin in selected],
                width=[SIZE_BIN_BYTES] * len(selected),
                offset=0,
                customdata=[f"{size_bin.low}-{size_bin.high}" for size_bin in selected],
                hovertemplate="%{customdata} bytes: %{y}",
                name=transport.upper(),
                marker_color=PALETTE[index % len(PALETTE)],
            )
        )
    figure.update_layout(barmode="stack", bargap=0)
    figure.update_xaxes(title_text="DNS message size (bytes, 16-byte bins)")
    figure.update_yaxes(title_text="messages")
    return chart(figure, div_id)


def _mix_chart(names: list[str], counts: list[int], shares: list[float], div_id: str, what: str) -> Markup:
    figure = go.Figure(
        go.Bar(
            x=names,
            y=counts,
            text=[_percent(share) for share in shares],
            textposition="auto",
            name=what,
            marker_color=PALETTE[0],
        )
    )
    figure.update_xaxes(title_text=what, type="category")
    figure.update_yaxes(title_text="messages")
    return chart(figure, div_id)


def render_traffic_report(
    overview: TrafficOverview,
    *,
    title: str,
    rssac002_hrefs: Sequence[str] = (),
    findings: Sequence[Finding] = (),
) -> str:
    """Render the traffic report as one HTML document with Plotly's JavaScript inline.

    Args:
        overview: what to show.
        title: the page title and top heading.
        rssac002_hrefs: URLs (relative to the page) of RSSAC002 YAML files to link to.
        findings: what analyzers found in this traffic, listed most severe and most confident first.

    Returns:
        The complete HTML document.
    """
    charts: dict[str, Markup] = {}
    if overview.messages:
        rcodes = overview.rcodes[:MIX_BARS]
        qtypes = overview.qtypes[:MIX_BARS]
        charts = {
            "volume": _volume_chart(overview),
            "request_sizes": _size_chart(overview.request_sizes, "chart-request-sizes"),
            "response_sizes": _size_chart(overview.response_sizes, "chart-response-sizes"),
            "rcodes": _mix_chart(
                [e.name for e in rcodes],
                [e.count for e in rcodes],
                [e.share for e in rcodes],
                "chart-rcodes",
                "RCODE",
            ),
            "qtypes": _mix_chart(
                [e.name for e in qtypes],
                [e.count for e in qtypes],
                [e.share for e in qtypes],
                "chart-qtypes",
                "QTYPE",
            ),
        }
    links = [(href, unquote(posixpath.basename(href.rstrip("/")))) for href in rssac002_hrefs]
    template = environment().get_template("traffic.html")
    return template.render(
        overview=overview,
        title=title,
        charts=charts,
        plotly_js=Markup(plotly.offline.get_plotlyjs()) if charts else "",
        mix_bars=MIX_BARS,
        links=links,
        findings=sorted(findings, key=lambda item: (-item.severity, -item.confidence, item.subject)),
    )


def _relative_href(target: Path, page: Path) -> str:
    relative = os.path.relpath(target.absolute(), page.absolute().parent)
    return quote(Path(relative).as_posix())


def write_traffic_report(
    overview: TrafficOverview,
    out_path: Path,
    *,
    title: str,
    rssac002_links: Sequence[Path] = (),
    findings: Sequence[Finding] = (),
) -> Path:
    """Write the traffic report to `out_path` as one self-contained HTML file, atomically.

    The file is written under a temporary name beside `out_path` and renamed into place, so a reader
    never sees half a report and an interrupted run leaves the previous report intact.

    Args:
        overview: what to show.
        out_path: where to write the page; its directory is created if needed.
        title: the page title and top heading.
        rssac002_links: RSSAC002 YAML files to link to, usually written beside the page; the links
            are relative to the page, so the folder can be moved or published as a whole.
        findings: what analyzers found in this traffic.

    Returns:
        `out_path`.

    Raises:
        OutputError: the page cannot be written there.
    """
    hrefs = [_relative_href(link, out_path) for link in rssac002_links]
    page = render_traffic_report(overview, title=title, rssac002_hrefs=hrefs, findings=findings)
    write_atomically(out_path, page, what="the traffic report")
    return out_path
