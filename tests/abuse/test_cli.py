"""`dnsvigil abuse analyze` end to end: sample files through the real ingest commands, then the analysis."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests.cli.runner import dnsvigil
from tests.ingest import registration_samples as rs
from tests.ingest import zone_samples as zs

REGISTRATIONS = """\
domain,registrar_iana_id,created,expires,status
example.com,146,2019-03-04,2025-03-04,clientTransferProhibited|clientHold
shop-online24.com,1068,2024-01-01,2025-01-01,ok
login-a.com,1068,2024-01-01,2025-01-01,ok
login-b.com,1068,2024-01-01,2025-01-01,ok
login-c.com,1068,2024-01-02,2025-01-02,ok
reserved.com,9999,2024-01-02,2025-01-02,ok
"""
FEED = """\
indicator,threat,first_seen,last_seen,source
shop-online24.com,phishing,2024-01-02T00:00:00Z,,partner
http://login-a.com/x,phishing,2024-01-02T00:00:00Z,,partner
login-b.com,phishing,2024-01-02T00:00:00Z,,partner
login-c.com,malware,2024-01-02T00:00:00Z,,partner
example.com,phishing,2024-01-02T00:00:00Z,,partner
reserved.com,spam,2024-01-02T00:00:00Z,,partner
"""
ENV = {"DNSVIGIL_ABUSE_MIN_MALICIOUS": "2", "DNSVIGIL_ABUSE_MIN_POPULATION": "100"}


@pytest.fixture(scope="module")
def home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("abuse")
    files = {
        "com-20240102.txt": zs.CZDS_STYLE,
        # Ten days later shop-online24.com is gone from the zone.
        "com-20240112.txt": zs.CZDS_STYLE.replace("shop-online24.com.", "other-shop.com."),
        "regs-20240105.csv": REGISTRATIONS,
        "registrar-ids-20240101.csv": rs.REGISTRAR_IDS,
        "com-transactions-202401-en.csv": rs.TRANSACTIONS.replace(",500,", ",5,"),
        "generic-20240102.csv": FEED,
    }
    for name, text in files.items():
        (folder / name).write_text(text)
    home = folder / "home"
    commands: list[list[str | Path]] = [
        ["zone", folder / "com-20240102.txt", folder / "com-20240112.txt"],
        ["registrations", "--format", "csv", folder / "regs-20240105.csv"],
        ["registrars", folder / "registrar-ids-20240101.csv"],
        ["dum", folder / "com-transactions-202401-en.csv"],
        ["feed", "--format", "generic", folder / "generic-20240102.csv"],
    ]
    for command in commands:
        run = dnsvigil("ingest", *command, "--home", home, "-q")
        assert run.exit_code == 0, run.stderr
    return home


def analyze(home: Path, *args: str) -> dict[str, Any]:
    run = dnsvigil("abuse", "analyze", "--json", "--home", home, *args, env=ENV)
    assert run.exit_code == 0, run.stderr
    result: dict[str, Any] = json.loads(run.stdout)
    return result


def stored(home: Path, sql: str) -> list[dict[str, Any]]:
    run = dnsvigil("query", sql, "--format", "json", "--home", home)
    assert run.exit_code == 0, run.stderr
    rows: list[dict[str, Any]] = json.loads(run.stdout)
    return rows


def test_analyze_stores_rates_and_findings_once(home: Path) -> None:
    result = analyze(home, "--period", "2024-01")
    assert result["period"] == "2024-01" and result["rates"]["stored"] == result["rates"]["rows"] > 0
    # NameCheap (1068) holds 5 of 1,005 domains under management and 4 of the 5 malicious registrations.
    (finding,) = result["findings"]
    assert (finding["code"], finding["subject"]) == ("ABUSE.DISPROPORTIONATE", "1068")
    assert json.loads(finding["evidence"])["malicious"] == 4
    top = result["rates"]["top_registrars"]
    assert [(row["entity"], row["abused"], row["population"]) for row in top] == [
        ("146", 1, 1000)
    ]  # 1068 < 100
    rates = stored(
        home,
        "SELECT entity, abused, population, rate_per_10k FROM abuse_rates WHERE period_kind = 'month'"
        " AND denominator = 'dum' AND threat = 'security' AND entity_type = 'registrar' ORDER BY entity",
    )
    assert rates == [
        {"entity": "1068", "abused": 4, "population": 5, "rate_per_10k": 8000.0},
        {"entity": "146", "abused": 1, "population": 1000, "rate_per_10k": 10.0},
    ]
    registrars = next(
        item
        for item in result["concentration"]
        if item["entity_type"] == "registrar" and item["threat"] == "security"
    )
    assert registrars["hhi"] == pytest.approx(80**2 + 20**2) and registrars["top1_share"] == 0.8
    curve = [
        (row["entity"], row["abused"], row["cumulative_share"])
        for row in result["concentration_curves"]
        if row["entity_type"] == "registrar" and row["threat"] == "security"
    ]
    assert curve == [("1068", 4, 0.8), ("146", 1, 1.0)]
    shares = {(row["entity_type"], row["entity"]): row["malicious"] for row in result["flocking"]["shares"]}
    assert shares == {("registrar", "1068"): 4, ("tld", "com"): 4}  # registered in January, listed
    assert result["flocking"]["flows"] == []  # nothing registered in December to compare with
    (feed,) = result["feed_quality"]["feeds"]  # one feed, so no overlap and no race to list first
    assert (feed["feed"], feed["domains"], feed["exclusive"]) == ("partner", 6, 6)
    assert result["feed_quality"]["overlaps"] == [] and result["feed_quality"]["churn"][0]["added"] == 6
    overall = next(item for item in result["mitigation"] if item["entity_type"] == "all")
    # shop-online24.com left the zone on the 12th (10 days); example.com was on hold when seen on the 5th.
    assert (overall["listed"], overall["mitigated_by_hold"], overall["mitigated_by_zone"]) == (6, 1, 1)
    again = analyze(home, "--period", "2024-01")
    assert (again["rates"]["stored"], again["stored_findings"]) == (0, 0)
    assert stored(home, "SELECT count(*) AS n FROM findings") == [{"n": 1}]


def test_human_summary_and_help(home: Path) -> None:
    run = dnsvigil("abuse", "analyze", "--home", home, env=ENV)
    assert run.exit_code == 0, run.stderr
    assert (
        "ABUSE.DISPROPORTIONATE 2024-01: NameCheap, Inc. (1068): 4 of 4 malicious registrations (100.0%) "
        "against 0.5% of domains under management"
    ) in " ".join(run.stdout.split())
    help_run = dnsvigil("abuse", "analyze", "--help")
    assert help_run.exit_code == 0 and "--period" in help_run.stdout and "Example" in help_run.stdout


def test_bad_period_and_missing_data(home: Path, tmp_path: Path) -> None:
    assert dnsvigil("abuse", "analyze", "--period", "2024-13", "--home", home).exit_code == 2
    run = dnsvigil("abuse", "analyze", "--period", "2023-06", "--home", home)
    assert run.exit_code == 1 and run.stderr.splitlines()[-1].startswith(
        "error: no abuse listings in 2023-06"
    )
    from dnsvigil.store.warehouse import Warehouse

    Warehouse.open(tmp_path / "empty", create=True)
    empty = dnsvigil("abuse", "analyze", "--home", tmp_path / "empty")
    assert empty.exit_code == 1 and "no abuse listings in the warehouse" in empty.stderr
    assert "Traceback" not in empty.stderr + run.stderr
