"""The HTML traffic report: offline, accessible, atomic, and showing exactly the overview's figures."""

from __future__ import annotations

import base64
import json
import re
import subprocess
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import numpy as np
import plotly.offline
import pytest

from dnsvigil.dga.infected_clients import DGA_DOMAIN, INFECTED_CLIENT
from dnsvigil.errors import OutputError
from dnsvigil.findings import Finding, Severity, SubjectType
from dnsvigil.report.traffic_report import MIX_BARS, render_traffic_report, write_traffic_report
from dnsvigil.traffic.overview import (
    QtypeCount,
    RankedCount,
    RcodeCount,
    SizeBin,
    TrafficOverview,
    TransportCount,
    VolumePoint,
    compute_overview,
)
from tests.conftest import required_tool
from tests.traffic.message_table import T0, TableRunner, at, message_table, query, response

CHART_IDS = ("chart-volume", "chart-request-sizes", "chart-response-sizes", "chart-rcodes", "chart-qtypes")
HOSTILE_NAME = "<script>alert(1)</script>.example."


def _overview() -> TrafficOverview:
    later = T0 + timedelta(minutes=5)
    return TrafficOverview(
        first_seen=T0,
        last_seen=later + timedelta(seconds=30),
        messages=14,
        queries=8,
        responses=6,
        malformed=1,
        edns_queries=6,
        do_queries=2,
        bucket_seconds=300,
        transports=(TransportCount("udp", 4, 6, 5), TransportCount("tcp", 6, 2, 1)),
        volume=(
            VolumePoint(T0, "udp", 4, 4, 3),
            VolumePoint(later, "tcp", 6, 2, 1),
            VolumePoint(later, "udp", 4, 2, 2),
        ),
        request_sizes=(SizeBin("tcp", 32, 2), SizeBin("udp", 16, 5), SizeBin("udp", 48, 1)),
        response_sizes=(SizeBin("tcp", 1488, 1), SizeBin("udp", 96, 5)),
        rcodes=(RcodeCount(0, "NOERROR", 4, 4 / 6), RcodeCount(3, "NXDOMAIN", 2, 2 / 6)),
        qtypes=(
            QtypeCount(1, "A", 5, 5 / 8),
            QtypeCount(28, "AAAA", 2, 2 / 8),
            QtypeCount(255, "ANY", 1, 1 / 8),
        ),
        top_names=(RankedCount("example.com.", 6, 6 / 8), RankedCount(HOSTILE_NAME, 2, 2 / 8)),
        top_sources=(RankedCount("192.0.2.1", 5, 5 / 8), RankedCount("2001:db8::1", 3, 3 / 8)),
    )


def _empty_overview() -> TrafficOverview:
    return TrafficOverview(
        first_seen=None, last_seen=None, messages=0, queries=0, responses=0, malformed=0, edns_queries=0,
        do_queries=0, bucket_seconds=300, transports=(), volume=(), request_sizes=(), response_sizes=(),
        rcodes=(), qtypes=(), top_names=(), top_sources=(),
    )  # fmt: skip


class _Page(HTMLParser):
    """Collects what the accessibility and offline checks look at."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.headings: list[int] = []
        self.title = ""
        self._in_title = False
        self.cells: list[str] = []
        self._in_cell = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))
        if re.fullmatch(r"h[1-6]", tag):
            self.headings.append(int(tag[1]))
        self._in_title = tag == "title"
        self._in_cell = tag == "td"

    def handle_endtag(self, tag: str) -> None:
        self._in_title = self._in_cell = False

    def handle_data(self, data: str) -> None:
        if self._in_title:
            self.title += data
        if self._in_cell:
            self.cells.append(data)


def _parse(html: str) -> _Page:
    page = _Page()
    page.feed(html)
    return page


def _values(encoded: Any) -> list[Any]:
    """Plotly writes numeric arrays either as JSON lists or as base64 typed arrays."""
    if isinstance(encoded, dict) and "bdata" in encoded:
        return list(np.frombuffer(base64.b64decode(encoded["bdata"]), dtype=encoded["dtype"]).tolist())
    return list(encoded)


def _figure(html: str, div_id: str) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """The traces and layout that the page hands to `Plotly.newPlot` for the chart `div_id`."""
    match = re.search(r'Plotly\.newPlot\(\s*"' + re.escape(div_id) + r'",\s*', html)
    assert match, f"no chart {div_id}"
    decoder = json.JSONDecoder()
    traces, end = decoder.raw_decode(html, match.end())
    layout, _ = decoder.raw_decode(html, html.index("{", end))
    return traces, layout


@pytest.fixture(scope="module")
def html() -> str:
    return render_traffic_report(_overview(), title="Traffic at ns1 & ns2", rssac002_hrefs=["a.yaml"])


def test_page_is_self_contained_and_offline(html: str) -> None:
    page = _parse(html)
    for tag, attributes in page.tags:
        for name in ("src", "href"):
            value = attributes.get(name) or ""
            assert not re.match(r"(https?:)?//", value), f"<{tag} {name}={value}> needs the network"
    assert not any(tag == "script" and "src" in attributes for tag, attributes in page.tags)
    assert not any(tag == "link" for tag, _ in page.tags)
    assert "@import" not in html
    assert not re.search(r"url\(\s*['\"]?(https?:)?//", html)
    assert html.count(plotly.offline.get_plotlyjs()) == 1


def test_title_language_and_heading_order(html: str) -> None:
    page = _parse(html)
    assert page.tags[0] == ("html", {"lang": "en", "dir": "ltr"})
    assert page.title == "Traffic at ns1 & ns2"
    assert "<title>Traffic at ns1 &amp; ns2</title>" in html
    assert page.headings[0] == 1 and page.headings.count(1) == 1
    assert all(later <= earlier + 1 for earlier, later in zip(page.headings, page.headings[1:], strict=False))
    assert any(tag == "meta" and attrs.get("name") == "viewport" for tag, attrs in page.tags)


def test_one_labelled_chart_per_section_each_explained(html: str) -> None:
    sections = re.findall(r"<section\b.*?</section>", html, flags=re.DOTALL)
    charted = [section for section in sections if "plotly-graph-div" in section]
    assert [re.search(r'id="(chart-[a-z-]+)"', section)[1] for section in charted] == list(CHART_IDS)  # type: ignore[index]
    for section in charted:
        assert section.count("plotly-graph-div") == 1
        assert re.search(r'<figure class="chart" aria-label="[^"]{20,}"', section)
        assert re.search(r'<p class="explain">[^<]{40,}</p>', section)
    rcode_section = next(section for section in charted if "chart-rcodes" in section)
    assert "NXDOMAIN share" in rcode_section and "attack" in rcode_section


def test_summary_cards_show_the_overview_figures(html: str) -> None:
    cards = re.findall(r'<span class="value">([^<]*)</span><span class="label">([^<]*)</span>', html)
    shown = {label: value for value, label in cards}
    assert shown["DNS messages"] == "14"
    assert shown["queries"] == "8" and shown["responses"] == "6"
    assert shown["over TCP"] == "21.4%"  # 3 of 14
    assert shown["over IPv6"] == "21.4%"
    assert shown["of responses NXDOMAIN"] == "33.3%"
    assert shown["of queries with EDNS"] == "75.0%"
    assert shown["of queries with DO (DNSSEC OK)"] == "25.0%"
    assert shown["malformed (7.1%)"] == "1"


def test_mix_charts_carry_the_counts(html: str) -> None:
    (rcodes,), _ = _figure(html, "chart-rcodes")
    assert (rcodes["type"], rcodes["x"], _values(rcodes["y"])) == ("bar", ["NOERROR", "NXDOMAIN"], [4, 2])
    assert rcodes["text"] == ["66.7%", "33.3%"]
    (qtypes,), _ = _figure(html, "chart-qtypes")
    assert (qtypes["x"], _values(qtypes["y"])) == (["A", "AAAA", "ANY"], [5, 2, 1])


def test_volume_chart_stacks_queries_and_responses_by_series(html: str) -> None:
    traces, layout = _figure(html, "chart-volume")
    assert layout["barmode"] == "stack"
    by_axis = {(trace["name"], trace.get("yaxis", "y")): trace for trace in traces}
    udp_queries, udp_responses = by_axis["UDP/IPv4", "y"], by_axis["UDP/IPv4", "y2"]
    assert udp_queries["x"] == ["2024-05-01 10:00:00", "2024-05-01 10:05:00"]
    assert _values(udp_queries["y"]) == [4, 2] and _values(udp_responses["y"]) == [3, 2]
    assert _values(by_axis["TCP/IPv6", "y"]["y"]) == [2]
    assert _values(by_axis["TCP/IPv6", "y2"]["y"]) == [1]
    assert _values(udp_queries["width"]) == [300_000, 300_000]
    assert udp_queries["marker"]["color"] == udp_responses["marker"]["color"]
    assert layout["yaxis"]["title"]["text"] == "per 5 minutes"
    assert 'aria-label="Stacked bar chart of queries and responses per 5 minutes,' in html


@pytest.mark.parametrize(
    ("seconds", "text"), [(3600, "hour"), (86_400, "day"), (60, "minute"), (90, "90 seconds")]
)
def test_bucket_width_is_spelled_out(seconds: int, text: str) -> None:
    html = render_traffic_report(replace(_overview(), bucket_seconds=seconds), title="t")
    assert f"queries and responses per {text}," in html
    _, layout = _figure(html, "chart-volume")
    assert layout["yaxis"]["title"]["text"] == f"per {text}"


def test_size_charts_use_the_bins(html: str) -> None:
    requests, _ = _figure(html, "chart-request-sizes")
    assert {trace["name"]: (_values(trace["x"]), _values(trace["y"])) for trace in requests} == {
        "TCP": ([32], [2]),
        "UDP": ([16, 48], [5, 1]),
    }
    responses, _ = _figure(html, "chart-response-sizes")
    tcp = next(trace for trace in responses if trace["name"] == "TCP")
    assert _values(tcp["x"]) == [1488] and tcp["customdata"] == ["1488-1503"]


def test_mix_charts_show_the_most_frequent_values_only() -> None:
    many = tuple(QtypeCount(qtype, f"TYPE{qtype}", 100 - qtype, 0.01) for qtype in range(1, MIX_BARS + 6))
    html = render_traffic_report(replace(_overview(), qtypes=many), title="t")
    (qtypes,), _ = _figure(html, "chart-qtypes")
    assert qtypes["x"] == [f"TYPE{qtype}" for qtype in range(1, MIX_BARS + 1)]


def test_report_of_a_computed_overview(tmp_path: Path) -> None:
    rows = [query(), query(ts=at(1), qtype=255), response(ts=at(2), rcode=5), response(ts=at(3), rcode=5)]
    overview = compute_overview(TableRunner(message_table(rows)))
    html = write_traffic_report(overview, tmp_path / "t.html", title="t").read_text(encoding="utf-8")
    (rcodes,), _ = _figure(html, "chart-rcodes")
    assert (rcodes["x"], _values(rcodes["y"])) == (["REFUSED"], [2])
    (qtypes,), _ = _figure(html, "chart-qtypes")
    assert (qtypes["x"], _values(qtypes["y"])) == (["A", "ANY"], [1, 1])


def test_tables_list_names_and_sources_escaped(html: str) -> None:
    page = _parse(html)
    assert page.cells[:6] == ["example.com.", "6", "75.0%", HOSTILE_NAME, "2", "25.0%"]
    assert page.cells[6:] == ["192.0.2.1", "5", "62.5%", "2001:db8::1", "3", "37.5%"]
    assert HOSTILE_NAME not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;.example." in html


def test_rssac002_links_are_relative(tmp_path: Path) -> None:
    out = tmp_path / "out" / "traffic.html"
    beside = tmp_path / "out" / "rssac002" / "ns1-20240501-traffic-volume.yaml"
    elsewhere = tmp_path / "metrics" / "with space.yaml"
    write_traffic_report(_overview(), out, title="t", rssac002_links=[beside, elsewhere])
    anchors = [attrs for tag, attrs in _parse(out.read_text(encoding="utf-8")).tags if tag == "a"]
    assert [attrs["href"] for attrs in anchors] == [
        "rssac002/ns1-20240501-traffic-volume.yaml",
        "../metrics/with%20space.yaml",
    ]
    assert "with space.yaml</a>" in out.read_text(encoding="utf-8")


def test_no_links_section_without_links() -> None:
    assert "RSSAC002 metrics" not in render_traffic_report(_overview(), title="t")


def test_write_is_atomic_and_leaves_no_temporary_file(tmp_path: Path) -> None:
    out = tmp_path / "reports" / "traffic.html"
    assert write_traffic_report(_overview(), out, title="first") == out
    write_traffic_report(_overview(), out, title="second")
    assert "<title>second</title>" in out.read_text(encoding="utf-8")
    assert [path.name for path in out.parent.iterdir()] == ["traffic.html"]


def test_failed_write_keeps_the_old_report(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    out = tmp_path / "traffic.html"
    write_traffic_report(_overview(), out, title="old")

    def refuse(self: Path, target: Path) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(Path, "replace", refuse)
    with pytest.raises(OutputError, match="No space left"):
        write_traffic_report(_overview(), out, title="new")
    assert "<title>old</title>" in out.read_text(encoding="utf-8")
    assert [path.name for path in tmp_path.iterdir()] == ["traffic.html"]


def test_unwritable_destination_is_a_usage_error(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a directory", encoding="utf-8")
    with pytest.raises(OutputError, match="cannot write the traffic report"):
        write_traffic_report(_overview(), blocker / "traffic.html", title="t")


def test_empty_overview_says_so_without_charts() -> None:
    html = render_traffic_report(_empty_overview(), title="Nothing")
    assert "No traffic" in html and "plotly-graph-div" not in html
    assert plotly.offline.get_plotlyjs()[:200] not in html
    assert _parse(html).headings == [1, 2, 2]


def test_page_renders_in_chromium_at_phone_width(tmp_path: Path) -> None:
    out = write_traffic_report(_overview(), tmp_path / "traffic.html", title="t")
    screenshot = tmp_path / "traffic.png"
    chromium = required_tool("chromium")
    common = [chromium, "--headless", "--no-sandbox", "--disable-gpu", "--window-size=390,2400"]
    dom = subprocess.run(
        [*common, "--virtual-time-budget=10000", "--enable-logging=stderr", "--dump-dom", out.as_uri()],
        capture_output=True, text=True, timeout=120, check=True,
    )  # fmt: skip
    # Plotly adds its SVG only when its JavaScript ran without error.
    assert dom.stdout.count('class="main-svg"') >= len(CHART_IDS)
    assert "Uncaught" not in dom.stderr
    subprocess.run(
        [*common, f"--screenshot={screenshot}", out.as_uri()], capture_output=True, timeout=120, check=True
    )
    assert screenshot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_findings_are_listed_most_severe_first_with_their_evidence(tmp_path: Path) -> None:
    moment = datetime(2024, 5, 1, 10, 0, tzinfo=UTC)
    common = {"first_seen": moment, "last_seen": moment, "detector": "test"}
    findings = [
        Finding(DGA_DOMAIN.code, SubjectType.DOMAIN, "low.example", Severity.LOW, 0.5, **common),  # type: ignore[arg-type]
        Finding(
            INFECTED_CLIENT.code,
            SubjectType.CLIENT,
            "192.0.2.66",
            Severity.HIGH,
            0.93,
            evidence={"family": "<b>fam</b>", "examples": ["qx1.com", "qx2.com"], "family_votes": {"fam": 2}},
            **common,  # type: ignore[arg-type]
        ),
    ]
    html = render_traffic_report(_overview(), title="t", findings=findings)
    assert html.index("192.0.2.66") < html.index("low.example")
    assert "qx1.com, qx2.com" in html and "93.0%" in html
    assert "<b>fam</b>" not in html and "&lt;b&gt;fam&lt;/b&gt;" in html  # evidence is escaped
    assert "Findings" not in render_traffic_report(_overview(), title="t")
