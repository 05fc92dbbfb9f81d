"""The search page (analysts): a domain, IP address or registrar, and everything the warehouse knows of it,
as `GET /api/v1/search` answers."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query
from fastapi.responses import HTMLResponse, Response

from dnsvigil.web.context import Data
from dnsvigil.web.errors import ApiError
from dnsvigil.web.i18n import N_
from dnsvigil.web.pages.view import PageView
from dnsvigil.web.search import MAX_QUERY_CHARS, SearchKind, parse_term, search

router = APIRouter(include_in_schema=False)

KINDS = {
    "auto": N_("any"),
    "domain": N_("domain"),
    "ip": N_("IP address"),
    "registrar": N_("registrar"),
}
SECTIONS = {
    "registrations": N_("Registrations"),
    "zone": N_("In zone files"),
    "abuse_listings": N_("Abuse listings"),
    "registrars": N_("Registrars"),
    "abuse_rates": N_("Abuse rates"),
}
"""Table sections of a search result, in the order shown (findings and traffic are shown apart)."""


@router.get("/search", response_class=HTMLResponse)
def search_page(
    view: PageView,
    data: Data,
    q: Annotated[str | None, Query(max_length=MAX_QUERY_CHARS * 4)] = None,
    kind: Annotated[SearchKind, Query()] = SearchKind.AUTO,
) -> Response:
    """The search form and, once asked, the findings and records about the text searched."""
    if not view.analyst:
        return view.login_redirect()
    result: dict[str, Any] | None = None
    problem = None
    if q:
        try:
            result = search(data, parse_term(q, kind))
        except ApiError as error:
            if error.status != 400:
                raise
            problem = error.message
    traffic = (result or {}).get("traffic") or {}
    return view.render(
        "search.html",
        status=400 if problem else 200,
        q=q or "",
        kind=kind.value,
        kinds=KINDS,
        result=result,
        problem=problem,
        sections=[(title, (result or {}).get(name, [])) for name, title in SECTIONS.items()],
        traffic=[(key, value) for key, value in traffic.items() if key != "top_names"],
        top_names=traffic.get("top_names", []),
    )
