"""`dnsvigil abuse report` end to end on the demo's registration world: the page, its open data, the summary.

The world is generated, ingested and reported on once (about a minute); every test reads that one report
and compares it with the same analysis run in-process.
"""

from __future__ import annotations

import json
import re
import subprocess
from dataclasses import dataclass
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import plotly.offline
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv
import pyarrow.parquet
import pytest
from markupsafe import escape

from dnsvigil.abuse.analyze import AbuseAnalysis, AbuseSettings, analyze_and_store
from dnsvigil.abuse.classifier import shipped_dga_scorer
from dnsvigil.abuse.describe import finding_evidence
from dnsvigil.demo.registration_files import write_registration_files
from dnsvigil.demo.registration_world import build_world
from dnsvigil.demo.run import ingest_registration_files
from dnsvigil.errors import OutputError
from dnsvigil.report.abuse_data import DESCRIPTIONS, FLOWS_SCHEMA, AbuseTables, registrar_names
from dnsvigil.report.abuse_report import write_abuse_report
from dnsvigil.store.warehouse import Warehouse
from tests.cli.runner import dnsvigil
from tests.conftest import required_tool

SEED = 5
TABLES = tuple(DESCRIPTIONS)
CHART_IDS = (
    "chart-rates-ranked", "chart-rates-unranked", "chart-concentration", "chart-shares-registrar",
    "chart-shares-tld", "chart-flows-registrar", "chart-flows-tld", "chart-mitigation", "chart-feed-overlap",
    "chart-feed-first", "chart-feed-churn",
)  # fmt: skip
TITLES = (
    "Security threats per 10,000 domains under management, by registrar and month",
    "Cumulative share of security-threat abuse held by the largest registrars and TLDs, per month",
    "Monthly shares of malicious registrations per registrar",
    "Monthly shares of malicious registrations per TLD",
    "Flows of malicious registrations between registrars from month to month",
    "Share of listed domains mitigated within 1, 7 and 30 days, and median days, per registrar",
    "Overlap of the abuse feeds' domains (Jaccard index)",
    "Who lists a shared domain first, per feed",
    "Domains added to and removed from each feed per month",
)


@dataclass(frozen=True, slots=True)
class Reported:
    """The demo world's warehouse, the report the command wrote of it, and the same analysis in-process."""

    home: Path
    folder: Path
    stdout: dict[str, Any]
    analysis: AbuseAnalysis


@pytest.fixture(scope="module")
def reported(tmp_path_factory: pytest.TempPathFactory) -> Reported:
    out = tmp_path_factory.mktemp("abuse-report")
    files = write_registration_files(build_world(SEED), out / "registration")
    home = out / "warehouse"
    ingest_registration_files(Warehouse.open(home, create=True), files)
    run = dnsvigil("abuse", "report", "--home", home, "--out", out / "report", "--json")
    assert run.exit_code == 0, run.stderr
    analysis = analyze_and_store(
        Warehouse.open(home), AbuseSettings.from_settings(), dga_score=shipped_dga_scorer()
    )
    return Reported(home, out / "report", json.loads(run.stdout), analysis)


@pytest.fixture(scope="module")
def tables(reported: Reported) -> AbuseTables:
    return AbuseTables.of(reported.analysis)


def _parquet(reported: Reported, name: str) -> pa.Table:
    return pyarrow.parquet.read_table(reported.folder / "data" / f"{name}.parquet")


def _page(reported: Reported) -> str:
    return (reported.folder / "index.html").read_text(encoding="utf-8")


class _Tags(HTMLParser):
    """Every start tag with its attributes, and whether it sits in the references section."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, dict[str, str | None], bool]] = []
        self._in_references = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "section":
            self._in_references = dict(attrs).get("aria-labelledby") == "references-heading"
        self.tags.append((tag, dict(attrs), self._in_references))


def _traces(html: str, div_id: str) -> list[dict[str, Any]]:
    """The traces the page hands to `Plotly.newPlot` for the chart `div_id`."""
    match = re.search(r'Plotly\.newPlot\(\s*"' + re.escape(div_id) + r'",\s*', html)
    assert match, f"no chart {div_id}"
    traces: list[dict[str, Any]] = json.JSONDecoder().raw_decode(html, match.end())[0]
    return traces


def test_folder_holds_the_page_the_summary_and_every_table_twice(reported: Reported) -> None:
    written = {path.relative_to(reported.folder).as_posix() for path in reported.folder.rglob("*")}
    data = {f"data/{name}.{fmt}" for name in TABLES for fmt in ("csv", "parquet")}
    assert written == {"index.html", "summary.json", "data", *data}
    assert [path.name for path in reported.folder.parent.iterdir() if path.name.startswith(".")] == []


@pytest.mark.parametrize("name", TABLES)
def test_each_csv_equals_its_parquet_twin_with_stable_columns(
    reported: Reported, tables: AbuseTables, name: str
) -> None:
    parquet = _parquet(reported, name)
    assert parquet.schema.remove_metadata() == getattr(tables, name).schema.remove_metadata()
    options = pyarrow.csv.ConvertOptions(
        column_types=parquet.schema, strings_can_be_null=True, quoted_strings_can_be_null=False
    )
    csv = pyarrow.csv.read_csv(reported.folder / "data" / f"{name}.csv", convert_options=options)
    assert csv.column_names == parquet.column_names
    assert csv.equals(parquet.cast(csv.schema))


def test_rates_are_the_analysis_rates(reported: Reported) -> None:
    def keyed(table: pa.Table) -> dict[str, tuple[Any, ...]]:
        rows = table.drop_columns(["computed_at"]).to_pylist()
        return {row["rate_id"]: tuple(str(value) for value in row.values()) for row in rows}

    published = keyed(_parquet(reported, "rates"))
    assert len(published) == reported.analysis.rates.num_rows > 10_000
    assert published == keyed(reported.analysis.rates)


def test_flows_shares_and_findings_are_the_analysis(reported: Reported) -> None:
    analysis = reported.analysis
    flows = {
        (row["month"], row["entity_type"], row["source"], row["target"], row["share"], row["linked_domains"])
        for row in _parquet(reported, "flows").to_pylist()
    }
    assert flows == {
        (flow.month, flow.entity_type, flow.source, flow.target, flow.share, flow.linked_domains)
        for flow in analysis.flocking.flows
    }
    assert len(flows) == len(analysis.flocking.flows) > 0
    assert _parquet(reported, "shares").to_pylist() == analysis.flocking.shares.to_pylist()
    findings = _parquet(reported, "findings").to_pylist()
    assert [row["finding_id"] for row in findings] == [f.finding_id for f in analysis.findings]
    assert [json.loads(row["evidence"]) for row in findings] == [dict(f.evidence) for f in analysis.findings]


def test_concentration_mitigation_and_feeds_are_the_analysis(reported: Reported) -> None:
    analysis = reported.analysis
    concentration = _parquet(reported, "concentration").to_pylist()
    assert [(row["month"], row["entity_type"], row["threat"], row["hhi"]) for row in concentration] == [
        (item.month, item.entity_type, item.threat, item.concentration.hhi) for item in analysis.concentration
    ]
    curves = _parquet(reported, "concentration_curves").to_pylist()
    assert len(curves) == sum(len(item.concentration.top) for item in analysis.concentration)
    last = {(row["month"], row["entity_type"], row["threat"]): row for row in curves}  # largest position
    complete = [row for row in concentration if 0 < row["entities"] <= 10]
    assert len(complete) > 10
    for row in complete:  # all the entities, when few, hold all the abuse
        end = last[row["month"], row["entity_type"], row["threat"]]
        assert (end["position"], end["cumulative_share"]) == (row["entities"], pytest.approx(1.0))
    mitigation = _parquet(reported, "mitigation").to_pylist()
    assert [(row["entity_type"], row["entity"], row["listed"]) for row in mitigation] == [
        (item.entity_type, item.entity, item.listed) for item in analysis.mitigation
    ]
    for row in mitigation:  # every way of mitigation has its column
        assert sum(row[f"mitigated_by_{method}"] for method in ("zone", "hold", "feed")) == row["mitigated"]
    listings = _parquet(reported, "feed_listings").to_pylist()
    assert [(row["feed"], row["domains"], row["exclusive"]) for row in listings] == [
        (item.feed, item.domains, item.exclusive) for item in analysis.feeds.listings
    ]
    assert _parquet(reported, "feed_overlaps").num_rows == len(analysis.feeds.overlaps) == 10
    assert _parquet(reported, "feed_churn").num_rows == len(analysis.feeds.churn)


def test_summary_lists_every_file_with_its_rows(reported: Reported) -> None:
    summary = json.loads((reported.folder / "summary.json").read_text())
    assert summary["period"] == "2026-05..2026-10" and len(summary["months"]) == 6
    files = {file["path"]: file for file in summary["files"]}
    assert set(files) == {"index.html", *(f"data/{n}.{fmt}" for n in TABLES for fmt in ("csv", "parquet"))}
    for name in TABLES:
        rows = _parquet(reported, name).num_rows
        assert files[f"data/{name}.csv"]["rows"] == files[f"data/{name}.parquet"]["rows"] == rows
    counts = summary["counts"]
    assert counts["findings"] == len(reported.analysis.findings) == len(summary["findings"]) > 0
    assert counts["rates"] == reported.analysis.rates.num_rows
    assert {finding["code"] for finding in summary["findings"]} == {
        "ABUSE.DISPROPORTIONATE", "ABUSE.REGISTRAR_SHIFT", "ABUSE.TLD_SHIFT",
    }  # fmt: skip


def test_json_output_is_the_summary(reported: Reported) -> None:
    summary = json.loads((reported.folder / "summary.json").read_text())
    assert reported.stdout == {**summary, "home": str(reported.home), "out": str(reported.folder)}


def test_page_shows_every_finding_and_chart(reported: Reported) -> None:
    html = _page(reported)
    for finding in reported.analysis.findings:
        name = finding.evidence.get("registrar_name") or finding.evidence["entity_name"]
        label = f"{name} ({finding.subject})" if name != finding.subject else finding.subject
        assert f'<td class="name">{escape(label)}</td>' in html, label
        said = finding_evidence(finding, registrar_names(reported.analysis))  # as the command line says it
        assert f'<td class="evidence">{escape(said)}</td>' in html, said
    assert html.count('<td class="month">') == len(reported.analysis.findings)
    for title in TITLES:
        assert f">{escape(title)}</h3>" in html
    for div_id in CHART_IDS:
        assert _traces(html, div_id)
    rates = reported.analysis.rates
    monthly = rates.filter(
        pc.and_(
            pc.and_(pc.equal(rates["period_kind"], "month"), pc.equal(rates["entity_type"], "registrar")),
            pc.and_(pc.equal(rates["denominator"], "dum"), pc.equal(rates["threat"], "security")),
        )
    ).to_pylist()
    ranked = {f"{row['entity_name']} ({row['entity']})" for row in monthly if row["ranked"]}
    traces = _traces(html, "chart-rates-ranked")
    assert {trace["name"] for trace in traces} == ranked
    assert all(trace["error_y"]["symmetric"] is False for trace in traces)


def test_page_needs_no_network(reported: Reported) -> None:
    html = _page(reported)
    parser = _Tags()
    parser.feed(html)
    for tag, attributes, in_references in parser.tags:
        assert tag != "link" and not (tag == "script" and "src" in attributes)
        for name in ("src", "href"):
            value = attributes.get(name) or ""
            network = re.match(r"(https?:)?//", value)
            assert not network or (tag == "a" and in_references), f"<{tag} {name}={value}> needs the network"
    assert any(tag == "a" and in_references for tag, _, in_references in parser.tags)
    assert "@import" not in html and not re.search(r"url\(\s*['\"]?(https?:)?//", html)
    assert html.count(plotly.offline.get_plotlyjs()) == 1


def test_page_renders_in_chromium(reported: Reported) -> None:
    chromium = required_tool("chromium")
    dom = subprocess.run(
        [chromium, "--headless", "--no-sandbox", "--disable-gpu", "--window-size=1280,2400",
         "--virtual-time-budget=15000", "--enable-logging=stderr", "--dump-dom",
         (reported.folder / "index.html").as_uri()],
        capture_output=True, text=True, timeout=180, check=True,
    )  # fmt: skip
    # Plotly adds its SVG only when its JavaScript ran without error.
    assert dom.stdout.count('class="main-svg"') >= len(CHART_IDS)
    assert "Uncaught" not in dom.stderr


def test_one_month_report_replaces_the_earlier_one(reported: Reported, tmp_path: Path) -> None:
    folder = tmp_path / "report"
    write_abuse_report(reported.analysis, folder)
    month = analyze_and_store(
        Warehouse.open(reported.home), AbuseSettings.from_settings(), period="2026-05",
        dga_score=shipped_dga_scorer(),
    )  # fmt: skip
    written = write_abuse_report(month, folder)
    assert written.summary["period"] == "2026-05"
    assert json.loads((folder / "summary.json").read_text()) == json.loads(
        json.dumps(written.summary, default=str)
    )
    flows = pyarrow.parquet.read_table(folder / "data" / "flows.parquet")
    # April has no data to compare May with: no flow, yet the table keeps its columns.
    assert flows.num_rows == 0 and flows.column_names == FLOWS_SCHEMA.names
    assert (folder / "data" / "flows.csv").read_text().startswith('"month","entity_type","source"')
    assert "Nothing to plot for this period." in (folder / "index.html").read_text()
    assert [path.name for path in tmp_path.iterdir()] == ["report"]


def test_failed_write_keeps_the_earlier_report(
    reported: Reported, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = tmp_path / "report"
    write_abuse_report(reported.analysis, folder)
    before = {path: path.read_bytes() for path in folder.rglob("*") if path.is_file()}

    def full_disk(*args: object, **kwargs: object) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(pyarrow.parquet, "write_table", full_disk)
    with pytest.raises(OutputError, match="No space left"):
        write_abuse_report(reported.analysis, folder)
    assert {path: path.read_bytes() for path in folder.rglob("*") if path.is_file()} == before
    assert [path.name for path in tmp_path.iterdir()] == ["report"]


def test_bad_inputs_fail_clearly_and_write_nothing(reported: Reported, tmp_path: Path) -> None:
    out = tmp_path / "out"
    bad_period = dnsvigil("abuse", "report", "--period", "2026-13", "--home", reported.home, "--out", out)
    assert bad_period.exit_code == 2 and "--period must be a month" in bad_period.stderr
    blocker = tmp_path / "file.txt"
    blocker.write_text("keep me")
    on_file = dnsvigil("abuse", "report", "--home", reported.home, "--out", blocker)
    assert on_file.exit_code == 1
    assert (
        on_file.stderr.splitlines()[-1]
        == f"error: {blocker}: is a file, not a folder; give --out a new or empty folder"
    )
    assert blocker.read_text() == "keep me"
    foreign = tmp_path / "photos"
    (foreign / "data").mkdir(parents=True)
    (foreign / "data" / "holiday.jpg").write_bytes(b"\xff\xd8")
    on_folder = dnsvigil("abuse", "report", "--home", reported.home, "--out", foreign)
    assert on_folder.exit_code == 1 and "data/holiday.jpg" in on_folder.stderr
    assert [path.name for path in foreign.rglob("*")] == ["data", "holiday.jpg"]
    Warehouse.open(tmp_path / "empty", create=True)
    empty = dnsvigil("abuse", "report", "--home", tmp_path / "empty", "--out", out)
    assert empty.exit_code == 1 and "no abuse listings in the warehouse" in empty.stderr
    assert "Traceback" not in bad_period.stderr + on_file.stderr + on_folder.stderr + empty.stderr
    assert sorted(path.name for path in tmp_path.iterdir()) == ["empty", "file.txt", "photos"]


def test_help_teaches_with_examples() -> None:
    run = dnsvigil("abuse", "report", "--help")
    assert run.exit_code == 0
    assert "--out" in run.stdout and "--period" in run.stdout and "Examples" in run.stdout
    assert "summary.json" in run.stdout and "data/NAME.csv" in run.stdout
