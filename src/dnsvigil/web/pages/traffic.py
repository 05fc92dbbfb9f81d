"""The overview page (`/`: the chosen period at a glance) and the traffic page (`/traffic`): open data,
with the period's most severe findings added for signed-in analysts."""

from __future__ import annotations

from collections import Counter
from datetime import date, timedelta
from typing import Annotated

from fastapi import APIRouter, Query
from fastapi.responses import HTMLResponse

from dnsvigil.findings import Severity
from dnsvigil.traffic.overview import TrafficOverview, compute_overview
from dnsvigil.web.context import Data
from dnsvigil.web.pages import charts
from dnsvigil.web.pages.view import PageView, form_instant
from dnsvigil.web.queries import FindingFilter, list_findings, summarise_findings

router = APIRouter(include_in_schema=False)

TOP_FINDINGS = 10
MIX_BARS = 15
RSSAC002_DAYS = 31
Period = Annotated[str | None, Query(max_length=32)]


def _overview(data: Data, since: str | None, until: str | None) -> TrafficOverview:
    return compute_overview(data, start=form_instant("since", since), end=form_instant("until", until), top=1)


@router.get("/", response_class=HTMLResponse)
def overview_page(view: PageView, data: Data, since: Period = None, until: Period = None) -> HTMLResponse:
    """What happened in the period: traffic totals, findings per code and severity, the top findings."""
    traffic = _overview(data, since, until)
    where = FindingFilter(since=form_instant("since", since), until=form_instant("until", until))
    counts = summarise_findings(data, where)
    by_code: Counter[str] = Counter()
    by_severity: Counter[str] = Counter()
    for row in counts:
        by_code[row["code"]] += row["findings"]
        by_severity[row["severity"]] += row["findings"]
    top = []
    if view.analyst:
        severe = FindingFilter(min_severity=Severity.HIGH, since=where.since, until=where.until)
        top = list_findings(data, severe, limit=TOP_FINDINGS, cursor=None).rows
    _ = view.words.gettext
    return view.render(
        "overview.html",
        traffic=traffic,
        since=since or "",
        until=until or "",
        by_code=sorted(by_code.items()),
        by_severity=[(level.name.lower(), by_severity[level.name.lower()]) for level in reversed(Severity)],
        findings_total=sum(by_code.values()),
        top=top,
        volume=charts.volume_chart(traffic, _) if traffic.messages else None,
    )


def _days(traffic: TrafficOverview) -> list[date]:
    if traffic.first_seen is None or traffic.last_seen is None:
        return []
    first, last = traffic.first_seen.date(), traffic.last_seen.date()
    count = min((last - first).days + 1, RSSAC002_DAYS)
    return [first + timedelta(days=offset) for offset in range(count)]


@router.get("/traffic", response_class=HTMLResponse)
def traffic_page(
    view: PageView,
    data: Data,
    since: Period = None,
    until: Period = None,
    service: Annotated[str | None, Query(max_length=253)] = None,
) -> HTMLResponse:
    """Volume, message sizes and RCODEs of the period, and links to its RSSAC002 documents."""
    traffic = _overview(data, since, until)
    _ = view.words.gettext
    chart_set = {}
    if traffic.messages:
        rcodes = traffic.rcodes[:MIX_BARS]
        qtypes = traffic.qtypes[:MIX_BARS]
        chart_set = {
            "volume": charts.volume_chart(traffic, _),
            "request_sizes": charts.size_chart(traffic.request_sizes, "chart-request-sizes", _),
            "response_sizes": charts.size_chart(traffic.response_sizes, "chart-response-sizes", _),
            "rcodes": charts.bar_chart(
                [row.name for row in rcodes], [row.count for row in rcodes], "chart-rcodes", "RCODE", _
            ),
            "qtypes": charts.bar_chart(
                [row.name for row in qtypes], [row.count for row in qtypes], "chart-qtypes", "QTYPE", _
            ),
        }
    service = (service or "").strip()
    rssac002 = [
        (day, view.link("/api/v1/traffic/rssac002", service=service, day=day.isoformat()))
        for day in (_days(traffic) if service else [])
    ]
    return view.render(
        "traffic.html",
        traffic=traffic,
        since=since or "",
        until=until or "",
        charts=chart_set,
        mix_bars=MIX_BARS,
        service=service,
        rssac002=rssac002,
    )
