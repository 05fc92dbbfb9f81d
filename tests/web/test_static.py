"""`/static/`: only the listed files, from their packages; no path reaches anything else."""

from __future__ import annotations

import pytest

from tests.web.conftest import Api, error_of


def test_plotly_is_served_from_its_wheel(api: Api) -> None:
    response = api.get("/static/plotly.min.js")
    assert response.status_code == 200 and response.headers["content-type"].startswith("text/javascript")
    assert b"plotly" in response.content[:2000].lower() and len(response.content) > 1_000_000


@pytest.mark.parametrize(
    "path",
    [
        "/static/%2e%2e/%2e%2e/%2e%2e/%2e%2e/etc/passwd",
        "/static/..%2f..%2f..%2fetc%2fpasswd",
        "/static/%2e%2e%2f%2e%2e%2fwarehouse%2fusers.json",
        "/static/....//....//etc/passwd",
        "/static//etc/passwd",
        "/static/plotly.min.js/%2e%2e/%2e%2e/web/users.py",
        "/static/..%5c..%5cusers.json",
        "/static/users.json",
        "/static/%00plotly.min.js",
        "/static/plotly.min.js%00",
    ],
)
def test_paths_outside_the_list_are_not_found(api: Api, path: str) -> None:
    # Dots are percent-encoded so that they reach the app as `..` (httpx, like browsers, folds plain ones).
    response = api.get(path)
    error = error_of(response, 404)
    assert error["code"] == "not_found" and "no static file" in error["message"]
    assert "root:" not in response.text and "token_hash" not in response.text
