"""`/static/...`: the few files pages need, served from installed packages so pages work with no network:
Plotly's JavaScript from the plotly wheel, the dashboard's style sheet from this package.

Only names in `STATIC_FILES` are served, each from a fixed place inside a package: a requested path is
looked up, never joined to a folder, so no path (`../`, encoded or not) can reach another file.
"""

from __future__ import annotations

from importlib import resources

from fastapi import APIRouter
from fastapi.responses import Response

from dnsvigil.web.errors import ERROR_RESPONSES, ApiError

router = APIRouter(prefix="/static", tags=["static"], responses=ERROR_RESPONSES)

STATIC_FILES: dict[str, tuple[str, str, str]] = {
    "plotly.min.js": ("plotly", "package_data/plotly.min.js", "text/javascript; charset=utf-8"),
    "dashboard.css": ("dnsvigil.web", "static/dashboard.css", "text/css; charset=utf-8"),
}
"""Served name -> (package, path inside it, media type)."""


@router.get("/{name:path}", summary="A static file")
def get_static(name: str) -> Response:
    """A file pages load, such as `plotly.min.js` (Plotly's JavaScript, from the plotly wheel)."""
    try:
        package, path, media_type = STATIC_FILES[name]
    except KeyError:
        raise ApiError(404, "not_found", f"there is no static file {name[:100]!r}") from None
    content = resources.files(package).joinpath(path).read_bytes()
    return Response(content, media_type=media_type, headers={"Cache-Control": "public, max-age=86400"})
