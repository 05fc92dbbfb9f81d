"""The data the web app serves: the demo leaves its warehouse compact, and concurrent requests, which query
the shared engine side by side, each get the answer they would get alone."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import httpx
from anyio.from_thread import BlockingPortal
from fastapi import FastAPI

from dnsvigil.store.compaction import plan_merges
from dnsvigil.store.schema import TABLES
from dnsvigil.store.warehouse import Warehouse
from tests.web.conftest import Api, WebWorld

PATHS = (
    "/api/v1/search?q=lndirxqxbeg.com",
    "/api/v1/search?q=192.0.2.25",
    "/api/v1/search?q=192.0.2.172",
    "/api/v1/traffic/overview",
    "/api/v1/findings/summary",
    "/api/v1/findings?limit=5",
    "/api/v1/abuse/rates?period_kind=month&limit=20",
)


def test_the_demo_leaves_its_warehouse_compact(world: WebWorld) -> None:
    warehouse = Warehouse.open(world.home)
    files = {table: warehouse.files(table) for table in TABLES}
    assert {table: plan_merges(stored) for table, stored in files.items()} == {table: [] for table in TABLES}
    days = {table: {stored.day for stored in stored_files} for table, stored_files in files.items()}
    assert len(files["abuse_listings"]) == len(days["abuse_listings"]) > 1  # one file a day, not one a feed
    listed = {stored.path for stored_files in files.values() for stored in stored_files}
    on_disk = {str(path.relative_to(world.home)) for path in Path(world.home, "tables").rglob("*.parquet")}
    assert on_disk == listed  # the replaced files are gone


async def _concurrently(app: FastAPI, token: str, paths: list[str]) -> list[httpx.Response]:
    transport = httpx.ASGITransport(app=app)
    headers = {"Authorization": f"Bearer {token}"}
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        return list(await asyncio.gather(*(client.get(path, headers=headers) for path in paths)))


def test_concurrent_requests_each_get_their_own_answer(
    api: Api, portal: BlockingPortal, web_app: FastAPI, world: WebWorld
) -> None:
    alone: dict[str, Any] = {}
    for path in PATHS:
        response = api.get(path, token=world.analyst_token)
        assert response.status_code == 200, response.text
        alone[path] = response.json()
    assert alone[PATHS[0]]["traffic"]["queries"] > 0 and alone[PATHS[1]]["traffic"]["queries_sent"] > 0
    paths = [path for _ in range(3) for path in PATHS]
    responses = portal.call(_concurrently, web_app, world.analyst_token, paths)
    assert [response.status_code for response in responses] == [200] * len(paths)
    assert [response.json() for response in responses] == [alone[path] for path in paths]
