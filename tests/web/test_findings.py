"""`/api/v1/findings`: filters agree with the warehouse, and cursor paging is complete and stable."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dnsvigil.store.engine import DuckDBEngine
from tests.web.conftest import Api, WebWorld, error_of

FILTERS: list[tuple[str, str]] = [
    ("", "TRUE"),
    ("code=DGA.INFECTED_CLIENT", "code = 'DGA.INFECTED_CLIENT'"),
    ("code=DGA.DOMAIN&code=ABUSE.DISPROPORTIONATE", "code IN ('DGA.DOMAIN', 'ABUSE.DISPROPORTIONATE')"),
    ("subject_type=client", "subject_type = 'client'"),
    ("min_severity=high", "severity IN ('high', 'critical')"),
    ("subject=192.0.2.25", "subject = '192.0.2.25'"),
    (
        "since=2026-11-02T12:00:00Z&until=2026-11-02T18:00:00%2B00:00",
        "last_seen >= TIMESTAMPTZ '2026-11-02 12:00:00+00'"
        " AND first_seen < TIMESTAMPTZ '2026-11-02 18:00:00+00'",
    ),
    ("until=2026-11-02T06:00:00", "first_seen < TIMESTAMPTZ '2026-11-02 06:00:00+00'"),
]


def all_pages(api: Api, token: str, query: str, limit: int) -> tuple[list[dict[str, Any]], int]:
    """Every finding of a filtered list, page by page; and how many pages it took."""
    items: list[dict[str, Any]] = []
    cursor, pages = None, 0
    while True:
        params = f"{query}&limit={limit}" + (f"&cursor={cursor}" if cursor else "")
        body = api.get(f"/api/v1/findings?{params}", token=token).json()
        pages += 1
        assert len(body["items"]) <= limit
        items += body["items"]
        cursor = body["next_cursor"]
        if cursor is None:
            return items, pages


def expected_ids(stored: DuckDBEngine, where: str) -> list[str]:
    sql = f"SELECT finding_id FROM findings WHERE {where} ORDER BY first_seen DESC, finding_id DESC"
    return [row["finding_id"] for row in stored.arrow(sql).to_pylist()]


@pytest.mark.parametrize(("query", "where"), FILTERS, ids=[query or "all" for query, _ in FILTERS])
def test_filters_match_the_warehouse(
    api: Api, world: WebWorld, stored: DuckDBEngine, query: str, where: str
) -> None:
    items, _ = all_pages(api, world.analyst_token, query, 1000)
    assert [item["finding_id"] for item in items] == expected_ids(stored, where)


def test_the_world_has_findings_to_page_through(stored: DuckDBEngine) -> None:
    # DGA findings from the traffic, ABUSE.* findings from the registration world.
    assert len(expected_ids(stored, "TRUE")) >= 20
    assert expected_ids(stored, "code = 'ABUSE.DISPROPORTIONATE'") and expected_ids(
        stored, "subject_type = 'client'"
    )


@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(limit=st.integers(1, 16), filter_index=st.integers(0, len(FILTERS) - 1))
def test_paging_is_complete_without_duplicates(
    api: Api, world: WebWorld, stored: DuckDBEngine, limit: int, filter_index: int
) -> None:
    query, where = FILTERS[filter_index]
    items, pages = all_pages(api, world.analyst_token, query, limit)
    ids = [item["finding_id"] for item in items]
    assert ids == expected_ids(stored, where)
    assert pages == max(1, -(-len(ids) // limit))  # the last full page says there is no next one


def test_a_page_is_the_same_when_asked_again(api: Api, world: WebWorld) -> None:
    first = api.get("/api/v1/findings?limit=4", token=world.analyst_token).json()
    cursor = first["next_cursor"]
    again = api.get(f"/api/v1/findings?limit=4&cursor={cursor}", token=world.analyst_token).json()
    assert again == api.get(f"/api/v1/findings?limit=4&cursor={cursor}", token=world.analyst_token).json()
    assert not {item["finding_id"] for item in first["items"]} & {
        item["finding_id"] for item in again["items"]
    }


def test_a_cursor_belongs_to_its_filters(api: Api, world: WebWorld) -> None:
    cursor = api.get("/api/v1/findings?limit=2&code=DGA.DOMAIN", token=world.analyst_token).json()[
        "next_cursor"
    ]
    assert cursor
    error = error_of(api.get(f"/api/v1/findings?limit=2&cursor={cursor}", token=world.analyst_token), 400)
    assert error["code"] == "invalid_cursor" and error["detail"] == {"parameter": "cursor"}
    for forged in ("x", "eyJhZnRlciI6WzEsMl19", "e30", cursor[:-3], "%00", "W10"):
        assert error_of(api.get(f"/api/v1/findings?cursor={forged}", token=world.analyst_token), 400)[
            "code"
        ] in (
            "invalid_cursor",
            "invalid_parameter",
        )


def test_a_finding_as_served(api: Api, world: WebWorld) -> None:
    body = api.get("/api/v1/findings?subject=192.0.2.25", token=world.analyst_token).json()
    (finding,) = body["items"]
    assert finding["code"] == "DGA.INFECTED_CLIENT" and finding["subject_type"] == "client"
    assert isinstance(finding["evidence"], dict) and finding["evidence"]["dga_domains"] >= 8
    assert finding["first_seen"].endswith("Z") and finding["first_seen"] <= finding["last_seen"]


def test_the_open_summary_counts_without_subjects(api: Api, stored: DuckDBEngine) -> None:
    counts = api.get("/api/v1/findings/summary").json()["counts"]
    expected = stored.arrow(
        "SELECT code, severity, subject_type, count(*) AS n FROM findings GROUP BY ALL"
    ).to_pylist()
    assert {(c["code"], c["severity"], c["subject_type"], c["findings"]) for c in counts} == {
        (row["code"], row["severity"], row["subject_type"], row["n"]) for row in expected
    }
    assert "192.0.2.25" not in str(counts)


@pytest.mark.parametrize(
    "query",
    [
        "limit=0",
        "limit=1001",
        "limit=99999999999999999999999",
        "limit=-1",
        "min_severity=urgent",
        "subject_type=planet",
        "code=drop%20table",
        "code=" + "A." * 40,
        "since=yesterday",
        "since=0001-01-01T00:00:00Z",
        "until=9999-12-31T00:00:00Z",
        "cursor=" + "A" * 3000,
    ],
)
def test_bad_parameters_are_refused(api: Api, world: WebWorld, query: str) -> None:
    response = api.get(f"/api/v1/findings?{query}", token=world.analyst_token)
    assert error_of(response, 400)["code"] in ("invalid_parameter", "invalid_cursor")


def test_a_window_ending_before_it_starts_is_empty(api: Api, world: WebWorld) -> None:
    query = "since=2026-11-03T00:00:00Z&until=2026-11-02T00:00:00Z"
    assert api.get(f"/api/v1/findings?{query}", token=world.analyst_token).json()["items"] == []
