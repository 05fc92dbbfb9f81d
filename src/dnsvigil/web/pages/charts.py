"""The dashboard's Plotly charts: figures built on the server, drawn in the browser by the plotly.min.js
that `/static/` serves from the plotly package.

Each function returns the chart's markup (a div and the script that draws it), with axis titles in the
page's language. Figures are plain dicts, not validated graph objects: building those costs more than the
query behind a page. Plotly escapes `<`, `>` and `/` inside its JSON, so no data value can leave the script.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Sequence
from typing import Any

import plotly.io
from markupsafe import Markup
from plotly.colors import qualitative

from dnsvigil.traffic.overview import SIZE_BIN_BYTES, SizeBin, TrafficOverview

Translate = Callable[[str], str]
_PALETTE = qualitative.Safe  # distinguishable with the common colour-vision deficiencies
_CONFIG = {"displaylogo": False, "responsive": True}


def _markup(traces: list[dict[str, Any]], layout: dict[str, Any], div_id: str) -> Markup:
    figure = {
        "data": traces,
        "layout": {
            "plot_bgcolor": "#ffffff",
            "margin": {"l": 50, "r": 10, "t": 30, "b": 50},
            "legend": {"orientation": "h", "yanchor": "bottom", "y": 1.02, "x": 0},
            **layout,
        },
    }
    html = plotly.io.to_html(
        figure,
        full_html=False,
        include_plotlyjs=False,
        div_id=div_id,
        config=_CONFIG,
        default_width="100%",
        default_height="320px",
        validate=False,
    )
    return Markup(html)


def volume_chart(overview: TrafficOverview, _: Translate) -> Markup:
    """Queries and responses per time bucket, all transports together."""
    queries: dict[str, int] = defaultdict(int)
    responses: dict[str, int] = defaultdict(int)
    for point in overview.volume:
        start = point.start.strftime("%Y-%m-%d %H:%M:%S")
        queries[start] += point.queries
        responses[start] += point.responses
    traces = [
        {
            "type": "scatter",
            "mode": "lines",
            "x": list(series),
            "y": list(series.values()),
            "name": name,
            "line": {"color": _PALETTE[index]},
        }
        for index, (name, series) in enumerate(((_("queries"), queries), (_("responses"), responses)))
    ]
    layout = {
        "xaxis": {"title": {"text": _("time (UTC)")}},
        "yaxis": {"title": {"text": _("messages per bucket")}},
    }
    return _markup(traces, layout, "chart-volume")


def size_chart(bins: Sequence[SizeBin], div_id: str, _: Translate) -> Markup:
    """Message sizes in 16-byte bins, one colour per transport."""
    transports = sorted({size_bin.transport for size_bin in bins}, key=lambda name: (name != "udp", name))
    traces = []
    for index, transport in enumerate(transports):
        selected = [size_bin for size_bin in bins if size_bin.transport == transport]
        traces.append(
            {
                "type": "bar",
                "x": [size_bin.low for size_bin in selected],
                "y": [size_bin.count for size_bin in selected],
                "width": [SIZE_BIN_BYTES] * len(selected),
                "offset": 0,
                "name": transport.upper(),
                "marker": {"color": _PALETTE[index % len(_PALETTE)]},
            }
        )
    layout = {
        "barmode": "stack",
        "bargap": 0,
        "xaxis": {"title": {"text": _("size (bytes)")}},
        "yaxis": {"title": {"text": _("messages")}},
    }
    return _markup(traces, layout, div_id)


def bar_chart(labels: Sequence[str], counts: Sequence[float], div_id: str, axis: str, _: Translate) -> Markup:
    """One bar per label (RCODEs, QTYPEs, finding codes)."""
    traces = [{"type": "bar", "x": list(labels), "y": list(counts), "marker": {"color": _PALETTE[0]}}]
    layout = {
        "xaxis": {"title": {"text": axis}, "type": "category"},
        "yaxis": {"title": {"text": _("count")}},
    }
    return _markup(traces, layout, div_id)


def interval_chart(rows: Sequence[dict[str, Any]], div_id: str, _: Translate) -> Markup:
    """Abuse rates per 10,000 domains as dots with their confidence intervals as whiskers."""
    trace = {
        "type": "scatter",
        "mode": "markers",
        "x": [row["entity_name"] or row["entity"] for row in rows],
        "y": [row["rate_per_10k"] for row in rows],
        "marker": {"color": _PALETTE[0], "size": 9},
        "error_y": {
            "type": "data",
            "symmetric": False,
            "array": [row["high_per_10k"] - row["rate_per_10k"] for row in rows],
            "arrayminus": [row["rate_per_10k"] - row["low_per_10k"] for row in rows],
        },
        "name": _("rate per 10,000"),
    }
    layout = {
        "xaxis": {"type": "category"},
        "yaxis": {"title": {"text": _("rate per 10,000")}, "rangemode": "tozero"},
    }
    return _markup([trace], layout, div_id)
