"""Every error answers in the one JSON shape, whatever raised it; a 500 leaks nothing."""

from __future__ import annotations

from anyio.from_thread import BlockingPortal

from dnsvigil.web.app import MAX_BODY_BYTES, create_app
from tests.web.conftest import Api, WebWorld, error_of


def test_error_shape_is_pinned(api: Api, world: WebWorld) -> None:
    # One request per way of failing: ours, FastAPI's validation, Starlette's routing, the body guard.
    cases = [
        (api.get("/api/v1/findings"), 401, "unauthorized"),
        (api.get("/api/v1/users", token=world.analyst_token), 403, "forbidden"),
        (api.get("/api/v1/abuse/rates?limit=0"), 400, "invalid_parameter"),
        (api.get("/api/v1/no-such-route"), 404, "not_found"),
        (api.request("PUT", "/api/v1/health"), 405, "method_not_allowed"),
        (api.post("/api/v1/dga/scores", content=b"x" * (MAX_BODY_BYTES + 1)), 413, "payload_too_large"),
    ]
    for response, status, code in cases:
        assert error_of(response, status)["code"] == code


def test_validation_errors_name_the_parameter(api: Api) -> None:
    error = error_of(api.get("/api/v1/abuse/rates?limit=lots"), 400)
    assert error["detail"] == [{"location": "query.limit", "message": error["detail"][0]["message"]}]
    assert "query.limit" in error["message"]


def test_unauthorized_says_how_to_authenticate(api: Api) -> None:
    response = api.get("/api/v1/search?q=example.com")
    error_of(response, 401)
    assert response.headers["www-authenticate"] == "Bearer"


def test_server_error_has_the_shape_and_no_detail(portal: BlockingPortal, world: WebWorld) -> None:
    app = create_app(world.home)

    def broken() -> None:
        raise RuntimeError("secret internals")

    app.add_api_route("/api/v1/broken", broken)
    client = Api(portal, app, raise_app_exceptions=False)
    try:
        response = client.get("/api/v1/broken")
    finally:
        client.close()
    error = error_of(response, 500)
    assert error["code"] == "server_error" and error["detail"] is None
    assert "secret" not in response.text and "Traceback" not in response.text


def test_api_responses_are_not_cached_or_sniffed(api: Api) -> None:
    response = api.get("/api/v1/health")
    assert response.json() == {"status": "ok"}
    assert response.headers["cache-control"] == "no-store"
    assert response.headers["x-content-type-options"] == "nosniff"
