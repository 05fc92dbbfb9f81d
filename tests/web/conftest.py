"""The web tests' world: the demo warehouse, two users, and the API in process.

The warehouse is built once per session through the real commands (`dnsvigil demo`, `users add`);
requests go through httpx's ASGI transport to the app, on one event loop kept in a blocking portal so
that tests (and Hypothesis) stay synchronous.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from anyio.from_thread import BlockingPortal, start_blocking_portal
from fastapi import FastAPI

from dnsvigil.store.engine import DuckDBEngine
from dnsvigil.store.warehouse import Warehouse
from dnsvigil.web.app import create_app
from tests.cli.runner import dnsvigil

SCREENSHOTS = pytest.StashKey[list[Path]]()
"""Screenshots the browser tests saved, listed at the end of the run."""


def pytest_terminal_summary(terminalreporter: Any, exitstatus: int, config: pytest.Config) -> None:
    taken = config.stash.get(SCREENSHOTS, [])
    if taken:
        terminalreporter.section(f"screenshots ({len(taken)})")
        for path in taken:
            terminalreporter.write_line(str(path))


@dataclass(frozen=True, slots=True)
class WebWorld:
    """Where the demo put things, and the users' tokens."""

    out: Path
    home: Path
    admin_token: str
    analyst_token: str


def _run(*args: str | Path) -> str:
    run = dnsvigil(*args)
    assert run.exit_code == 0, run.stderr
    return run.stdout


@pytest.fixture(scope="session")
def world(tmp_path_factory: pytest.TempPathFactory) -> WebWorld:
    """The demo's warehouse (traffic, DGA findings, the registration world and its abuse analysis), with
    an admin and an analyst."""
    out = tmp_path_factory.mktemp("web") / "demo"
    _run("demo", "--out", out, "--quiet")
    home = out / "warehouse"
    tokens = {
        role: json.loads(_run("users", "add", f"{role}-user", "--role", role, "--home", home, "--json"))[
            "token"
        ]
        for role in ("admin", "analyst")
    }
    return WebWorld(out, home, tokens["admin"], tokens["analyst"])


@pytest.fixture(scope="session")
def web_app(world: WebWorld) -> FastAPI:
    return create_app(world.home)


@pytest.fixture(scope="session")
def portal() -> Iterator[BlockingPortal]:
    with start_blocking_portal() as running:
        yield running


class Api:
    """A synchronous face on an async httpx client bound to the app; cookies persist per `Api`."""

    def __init__(self, portal: BlockingPortal, app: FastAPI, *, raise_app_exceptions: bool = True) -> None:
        transport = httpx.ASGITransport(app=app, raise_app_exceptions=raise_app_exceptions)
        self._portal = portal
        self.client = httpx.AsyncClient(transport=transport, base_url="http://testserver")

    def request(self, method: str, path: str, *, token: str | None = None, **options: Any) -> httpx.Response:
        headers = dict(options.pop("headers", {}))
        if token is not None:
            headers["Authorization"] = f"Bearer {token}"
        call = functools.partial(self.client.request, method, path, headers=headers, **options)
        response: httpx.Response = self._portal.call(call)
        return response

    def get(self, path: str, **options: Any) -> httpx.Response:
        return self.request("GET", path, **options)

    def post(self, path: str, **options: Any) -> httpx.Response:
        return self.request("POST", path, **options)

    def close(self) -> None:
        self._portal.call(self.client.aclose)


@pytest.fixture(scope="session")
def api(portal: BlockingPortal, web_app: FastAPI) -> Iterator[Api]:
    """The shared client; tests that log in use `fresh_api` so no cookie leaks into others."""
    client = Api(portal, web_app)
    yield client
    client.close()


@pytest.fixture
def fresh_api(portal: BlockingPortal, web_app: FastAPI) -> Iterator[Api]:
    client = Api(portal, web_app)
    yield client
    client.close()


@pytest.fixture(scope="session")
def stored(world: WebWorld) -> Iterator[DuckDBEngine]:
    """The warehouse read directly, to check what the API answers against."""
    engine = DuckDBEngine(Warehouse.open(world.home))
    yield engine
    engine.close()


def error_of(response: httpx.Response, status: int) -> dict[str, Any]:
    """The error object of a response, after checking it has the one error shape and `status`."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/json"
    body = response.json()
    assert list(body) == ["error"]
    error: dict[str, Any] = body["error"]
    assert list(error) == ["status", "code", "message", "detail"]
    assert error["status"] == status and isinstance(error["code"], str) and error["message"]
    return error
