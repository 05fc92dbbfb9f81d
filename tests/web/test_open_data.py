"""Open data: the traffic overview, RSSAC002 documents and abuse rates, against what the warehouse and the
demo's published files hold."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml
from anyio.from_thread import BlockingPortal

from dnsvigil.demo.run import DEMO_DAY
from dnsvigil.demo.world import DemoWorld, demo_truth
from dnsvigil.store.engine import DuckDBEngine
from dnsvigil.store.warehouse import Warehouse
from dnsvigil.web.app import create_app
from tests.web.conftest import Api, WebWorld, error_of


def test_overview_counts_agree_with_the_warehouse(api: Api, stored: DuckDBEngine) -> None:
    body = api.get("/api/v1/traffic/overview").json()
    (row,) = stored.arrow(
        "SELECT count(*) AS messages, count(*) FILTER (WHERE qr) AS responses,"
        " count(*) FILTER (WHERE qr AND rcode = 3) AS nxdomain FROM dns_messages"
    ).to_pylist()
    assert (body["messages"], body["responses"]) == (row["messages"], row["responses"])
    assert body["shares"]["nxdomain"] == pytest.approx(row["nxdomain"] / row["responses"])
    assert sum(point["queries"] + point["responses"] for point in body["volume"]) == row["messages"]
    assert "top_sources" not in body and "192.0.2.25" not in str(body)


def test_overview_window(api: Api, stored: DuckDBEngine) -> None:
    window = "since=2026-11-02T06:00:00Z&until=2026-11-02T07:00:00Z&bucket_seconds=600"
    body = api.get(f"/api/v1/traffic/overview?{window}").json()
    (row,) = stored.arrow(
        "SELECT count(*) AS n FROM dns_messages WHERE ts >= TIMESTAMPTZ '2026-11-02 06:00:00+00'"
        " AND ts < TIMESTAMPTZ '2026-11-02 07:00:00+00'"
    ).to_pylist()
    assert body["messages"] == row["n"] > 0 and body["bucket_seconds"] == 600
    assert len({point["start"] for point in body["volume"]}) == 6


def test_rssac002_equals_the_files_the_demo_published(api: Api, world: WebWorld) -> None:
    truth = demo_truth(DemoWorld(seed=7, day=DEMO_DAY))
    servers = "".join(f"&server={address}" for address in truth.authoritative_addrs)
    query = f"service={truth.authoritative_service}&day={DEMO_DAY.isoformat()}{servers}"
    served = api.get(f"/api/v1/traffic/rssac002?{query}").json()["documents"]
    published = [
        document
        for path in sorted((world.out / "rssac002").rglob("*.yaml"))
        for document in yaml.safe_load_all(path.read_text(encoding="utf-8"))
    ]
    assert len(served) == 4
    assert sorted(served, key=lambda d: d["metric"]) == sorted(published, key=lambda d: d["metric"])


@pytest.mark.parametrize(
    ("query", "parameter"),
    [
        ("service=ns1.example", "day"),
        ("service=not%20a%20host&day=2026-11-02", None),
        ("service=ns1.example&day=2026-13-01", "day"),
        ("service=ns1.example&day=1900-01-01", "day"),
        ("service=ns1.example&day=2026-11-02&server=not-an-address", None),
        (
            "service=ns1.example&"
            + "&".join(f"day=2026-10-{d:02d}" for d in range(1, 32))
            + "&day=2026-11-01",
            "day",
        ),
    ],
)
def test_rssac002_bad_input(api: Api, query: str, parameter: str | None) -> None:
    error = error_of(api.get(f"/api/v1/traffic/rssac002?{query}"), 400)
    assert parameter is None or parameter in error["message"]


def rates(api: Api, query: str, limit: int) -> list[dict[str, Any]]:
    """Every rate of a filtered list, page by page."""
    items: list[dict[str, Any]] = []
    cursor = None
    while True:
        page = f"/api/v1/abuse/rates?{query}&limit={limit}" + (f"&cursor={cursor}" if cursor else "")
        body = api.get(page).json()
        items += body["items"]
        cursor = body["next_cursor"]
        if cursor is None:
            return items


@pytest.mark.parametrize(
    ("query", "where", "limit"),
    [
        ("", "TRUE", 1000),
        (
            "period_kind=month&entity_type=registrar&denominator=dum&threat=security",
            "period_kind = 'month' AND entity_type = 'registrar' AND denominator = 'dum'"
            " AND threat = 'security'",
            7,
        ),
        ("entity=4110", "entity = '4110'", 97),
        (
            "ranked_only=true&since=2026-10-25&until=2026-11-01",
            "ranked AND period_start >= DATE '2026-10-25' AND period_start < DATE '2026-11-01'",
            50,
        ),
    ],
)
def test_rates_match_the_warehouse_page_by_page(
    api: Api, stored: DuckDBEngine, query: str, where: str, limit: int
) -> None:
    served = rates(api, query, limit)
    expected = stored.arrow(f"SELECT rate_id FROM abuse_rates WHERE {where}").column(0).to_pylist()
    assert expected and sorted(r["rate_id"] for r in served) == sorted(expected)
    assert len({r["rate_id"] for r in served}) == len(served)
    assert served == sorted(
        served,
        key=lambda r: (
            -int(r["period_start"].replace("-", "")),
            r["period_kind"],
            r["entity_type"],
            r["denominator"],
            r["threat"],
            r["rank"] if r["rank"] is not None else 2**31 - 1,
            r["rate_id"],
        ),
    )


def test_a_registrar_rate_as_stored(api: Api, stored: DuckDBEngine) -> None:
    query = "period_kind=month&entity_type=registrar&denominator=dum&threat=security&limit=1000"
    served = {
        (r["period_start"], r["entity"]): r for r in api.get(f"/api/v1/abuse/rates?{query}").json()["items"]
    }
    rows = stored.arrow(
        "SELECT CAST(a.period_start AS VARCHAR) AS period_start, a.entity, a.abused, a.population,"
        " a.rate_per_10k, g.name FROM abuse_rates a JOIN registrars g ON g.iana_id::VARCHAR = a.entity"
        " WHERE a.period_kind = 'month' AND a.entity_type = 'registrar' AND a.denominator = 'dum'"
        " AND a.threat = 'security'"
    ).to_pylist()
    assert rows and len(served) == len(rows)
    for row in rows:
        rate = served[(row["period_start"], row["entity"])]
        assert (rate["abused"], rate["population"], rate["entity_name"]) == (
            row["abused"],
            row["population"],
            row["name"],
        )
        assert rate["rate_per_10k"] == pytest.approx(row["rate_per_10k"])
        assert rate["low_per_10k"] <= rate["rate_per_10k"] <= rate["high_per_10k"]


def test_rates_bad_input(api: Api) -> None:
    for query in (
        "threat=everything",
        "period_kind=week",
        "since=someday",
        "limit=5000",
        "ranked_only=perhaps",
    ):
        error_of(api.get(f"/api/v1/abuse/rates?{query}"), 400)


def test_an_empty_warehouse_answers_empty(portal: BlockingPortal, tmp_path: Path) -> None:
    Warehouse.open(tmp_path, create=True)
    client = Api(portal, create_app(tmp_path))
    try:
        assert client.get("/api/v1/abuse/rates").json() == {"items": [], "next_cursor": None}
        assert client.get("/api/v1/findings/summary").json() == {"counts": []}
        overview = client.get("/api/v1/traffic/overview").json()
        assert (overview["messages"], overview["first_seen"], overview["volume"]) == (0, None, [])
    finally:
        client.close()
