"""Access control: open data for anyone, everything else only with a valid token or session and role."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI

from dnsvigil.errors import UsageError
from dnsvigil.web.api.meta import OPEN_DATA
from dnsvigil.web.users import Role, add_user, read_users, remove_user
from tests.web.conftest import Api, WebWorld, error_of

# A request each route answers with data when allowed.
EXAMPLES = {
    "/api/v1/findings": "/api/v1/findings?limit=1",
    "/api/v1/search": "/api/v1/search?q=example.com",
    "/api/v1/traffic/rssac002": "/api/v1/traffic/rssac002?service=ns1.example&day=2026-11-02",
}

# Not data, and for everyone: logging in and out (tested below), and the files pages load.
PUBLIC = {("POST", "/api/v1/session"), ("DELETE", "/api/v1/session"), ("GET", "/static/{name}")}


def _routes(app: FastAPI) -> list[tuple[str, str]]:
    paths: dict[str, Any] = app.openapi()["paths"]
    return [(method.upper(), path) for path, item in paths.items() for method in item]


def test_every_route_but_open_data_refuses_anonymous_callers(api: Api, web_app: FastAPI) -> None:
    closed = [(method, path) for method, path in _routes(web_app) if path not in OPEN_DATA]
    assert ("GET", "/api/v1/findings") in closed and ("POST", "/api/v1/dga/scores") in closed
    for method, path in closed:
        if (method, path) in PUBLIC:
            continue
        response = api.request(method, EXAMPLES.get(path, path), json={"names": ["example.com"]})
        assert error_of(response, 401)["code"] == "unauthorized", (method, path)


def test_open_data_needs_no_login(api: Api) -> None:
    for path in OPEN_DATA:
        response = api.get(EXAMPLES.get(path, path))
        assert response.status_code == 200, (path, response.text)


def test_bad_tokens_are_refused(api: Api, world: WebWorld) -> None:
    good = world.analyst_token
    for token in (
        "",
        "nonsense",
        good[:-1] + ("A" if good[-1] != "A" else "B"),
        good + "x",
        "dv_" + "0" * 12 + "_" + "a" * 43,
    ):
        response = api.get("/api/v1/findings", headers={"Authorization": f"Bearer {token}"})
        assert response.status_code in (401, 403) and "items" not in response.text


def test_roles(api: Api, world: WebWorld) -> None:
    assert api.get("/api/v1/findings?limit=1", token=world.analyst_token).status_code == 200
    error = error_of(api.get("/api/v1/users", token=world.analyst_token), 403)
    assert "admin" in error["message"]
    users = api.get("/api/v1/users", token=world.admin_token).json()
    assert {(user["name"], user["role"]) for user in users} >= {
        ("admin-user", "admin"),
        ("analyst-user", "analyst"),
    }
    assert "hash" not in str(users) and "salt" not in str(users)


def test_session_login_and_logout(fresh_api: Api, world: WebWorld) -> None:
    error_of(fresh_api.post("/api/v1/session", json={"token": "dv_nope"}), 401)
    login = fresh_api.post("/api/v1/session", json={"token": world.analyst_token})
    assert login.json() == {"user": "analyst-user", "role": "analyst"}
    cookie = login.headers["set-cookie"].lower()
    assert "httponly" in cookie and "samesite=strict" in cookie and world.analyst_token.lower() not in cookie
    assert fresh_api.get("/api/v1/findings?limit=1").status_code == 200
    assert fresh_api.get("/api/v1/session").json()["user"] == "analyst-user"
    assert fresh_api.request("DELETE", "/api/v1/session").status_code == 204
    error_of(fresh_api.get("/api/v1/findings?limit=1"), 401)


def test_a_forged_session_cookie_is_refused(fresh_api: Api) -> None:
    fresh_api.client.cookies.set("dnsvigil_session", "forged")
    assert error_of(fresh_api.get("/api/v1/findings"), 401)["code"] == "unauthorized"


def test_a_removed_user_is_refused_at_once(fresh_api: Api, world: WebWorld) -> None:
    _, token = add_user(world.home, "short-lived", Role.ANALYST)
    assert fresh_api.post("/api/v1/session", json={"token": token}).status_code == 200
    assert fresh_api.get("/api/v1/findings?limit=1", token=token).status_code == 200
    remove_user(world.home, "short-lived")
    error_of(fresh_api.get("/api/v1/findings?limit=1", token=token), 401)
    error_of(fresh_api.get("/api/v1/findings?limit=1"), 401)  # the session cookie, too


def test_tokens_are_stored_hashed_in_a_private_file(world: WebWorld) -> None:
    path: Path = world.home / "users.json"
    text = path.read_text(encoding="utf-8")
    assert world.admin_token not in text and world.admin_token.split("_", 2)[2] not in text
    assert path.stat().st_mode & 0o077 == 0
    (admin,) = [user for user in read_users(world.home) if user.name == "admin-user"]
    assert re.fullmatch(r"[0-9a-f]{64}", admin.token_hash) and re.fullmatch(r"[0-9a-f]{32}", admin.salt)
    assert admin.matches(world.admin_token.split("_", 2)[2]) and not admin.matches("guess")


@pytest.mark.parametrize("name", ["", "Alice", "-x", "a" * 65, "../etc", "a b"])
def test_user_names_are_checked(world: WebWorld, name: str) -> None:
    with pytest.raises(UsageError):
        add_user(world.home, name, Role.ANALYST)
