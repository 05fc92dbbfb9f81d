"""`/api/v1/search`: everything known about a domain, IP address or registrar (analyst)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from dnsvigil.web.api.models import Finding, SearchResult
from dnsvigil.web.auth import Analyst
from dnsvigil.web.context import Data
from dnsvigil.web.errors import ERROR_RESPONSES
from dnsvigil.web.search import MAX_QUERY_CHARS, SearchKind, parse_term, search

router = APIRouter(prefix="/api/v1", tags=["search"], responses=ERROR_RESPONSES)


@router.get("/search", response_model=SearchResult, summary="Search (analyst)")
def get_search(
    user: Analyst,
    data: Data,
    q: Annotated[
        str, Query(max_length=MAX_QUERY_CHARS * 4, description="A domain, IP address or registrar.")
    ],
    kind: Annotated[
        SearchKind, Query(description="What `q` is; `auto` decides from its form.")
    ] = SearchKind.AUTO,
) -> SearchResult:
    """Findings about or mentioning it, and by kind: a domain's registrations, zone presence, abuse
    listings and traffic; an address's traffic and the names it asked for most; a registrar's records
    (by IANA id or part of its name), domains seen and abuse rates. Each section holds at most 50 rows.

    `auto` reads an IP address as one, text with a dot as a domain, anything else as a registrar; pass
    `kind=registrar` for a registrar named like a domain. Text that can be none of these is refused (400).
    """
    found = search(data, parse_term(q, kind))
    return SearchResult(query=q, **{**found, "findings": [Finding(**row) for row in found["findings"]]})
