"""The web app factory: the JSON API over one warehouse, its access control and its one error shape.

`create_app(home)` builds a FastAPI app that only reads the warehouse (DuckDB views over its Parquet
files); users come from `users.json` beside the catalog, sessions live in memory. API routers sit in
`web/api/`, one per capability; the dashboard's pages are the routers of `web/pages/`.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

from fastapi import FastAPI, Request, Response

from dnsvigil import __version__
from dnsvigil.web import static_files
from dnsvigil.web.api import abuse, dga, findings, meta, search, session, traffic
from dnsvigil.web.context import WebContext
from dnsvigil.web.data import WarehouseData
from dnsvigil.web.errors import ApiError, error_response, install_error_handlers
from dnsvigil.web.pages import ROUTERS as PAGE_ROUTERS
from dnsvigil.web.sessions import SessionStore
from dnsvigil.web.users import UserDirectory

MAX_BODY_BYTES = 1 << 20
_DESCRIPTION = """\
The dnsvigil observatory's data: findings, traffic metrics, RSSAC002 documents, DGA verdicts, abuse rates.

**Open data** needs no login: the index, health, the findings summary, the traffic overview, RSSAC002 and
abuse rates. **Everything else** needs an API token (`Authorization: Bearer <token>`, from
`dnsvigil users add NAME`) or the session cookie of `POST /api/v1/session`: a request without it gets 401,
one whose role is too small 403.

Every error answers `{"error": {"status", "code", "message", "detail"}}`. Lists page by cursor: pass a
page's `next_cursor` back, with the same filters, for the next page.
"""


@contextlib.asynccontextmanager
async def _lifespan(app: FastAPI) -> AsyncIterator[None]:
    threading.Thread(target=dga.warm_up, name="dga-warm-up", daemon=True).start()
    yield


def create_app(home: Path, *, session_hours: float = 8.0) -> FastAPI:
    """The web app over the warehouse at `home`.

    Raises:
        WarehouseError: `home` holds no readable warehouse, or its users file is damaged.
    """
    context = WebContext(
        data=WarehouseData(home),
        users=UserDirectory(home),
        sessions=SessionStore(session_hours * 3600),
    )
    context.users.users()  # a damaged users file stops the start, not the first login
    app = FastAPI(
        lifespan=_lifespan,
        title="dnsvigil",
        version=__version__,
        description=_DESCRIPTION,
        openapi_url=meta.OPENAPI_URL,
        docs_url=None,
        redoc_url=None,
    )
    app.state.dnsvigil = context
    install_error_handlers(app)
    for module in (meta, findings, traffic, dga, abuse, search, session, static_files):
        app.include_router(module.router)
    for router in PAGE_ROUTERS:
        app.include_router(router)

    @app.middleware("http")
    async def guard(request: Request, call_next: Callable[[Request], Awaitable[Response]]) -> Response:
        length = request.headers.get("content-length", "0")
        if not length.isdigit():
            return error_response(ApiError(400, "bad_request", "Content-Length must be a byte count"))
        if int(length) > MAX_BODY_BYTES:
            return error_response(
                ApiError(413, "payload_too_large", f"request bodies are limited to {MAX_BODY_BYTES} bytes")
            )
        response = await call_next(request)
        response.headers["X-Content-Type-Options"] = "nosniff"
        # Same-origin, not no-referrer: under no-referrer browsers post forms with `Origin: null`, and the
        # pages' forms are told from other sites' by their Origin.
        response.headers["Referrer-Policy"] = "same-origin"
        if request.url.path.startswith("/api/"):
            response.headers["Cache-Control"] = "no-store"
        return response

    return app
