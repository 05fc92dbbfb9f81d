"""`/api/v1/` and `/api/v1/health`: what the API serves, and whether it is up (open)."""

from __future__ import annotations

from fastapi import APIRouter

from dnsvigil import __version__
from dnsvigil.web.api.models import ApiIndex
from dnsvigil.web.context import Context
from dnsvigil.web.errors import ERROR_RESPONSES

router = APIRouter(prefix="/api/v1", tags=["meta"], responses=ERROR_RESPONSES)

OPENAPI_URL = "/api/v1/openapi.json"
OPEN_DATA = (
    "/api/v1/",
    "/api/v1/health",
    OPENAPI_URL,
    "/api/v1/findings/summary",
    "/api/v1/traffic/overview",
    "/api/v1/traffic/rssac002",
    "/api/v1/abuse/rates",
)
"""The routes anyone may read; every other route needs a token or a session."""


@router.get("/", response_model=ApiIndex, summary="API index (open data)")
def get_index(context: Context) -> ApiIndex:
    """The API's version, its OpenAPI document, its open-data routes and the stored rows per table."""
    warehouse = context.data.warehouse
    tables = {name: sum(stored.rows for stored in files) for name, files in warehouse.listing().items()}
    return ApiIndex(version=__version__, openapi=OPENAPI_URL, open_data=list(OPEN_DATA), tables=tables)


@router.get("/health", summary="Health (open)")
def get_health() -> dict[str, str]:
    """`{"status": "ok"}` while the server answers."""
    return {"status": "ok"}
