"""`/api/v1/abuse/rates`: registration-abuse rates per TLD and registrar (open data)."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Literal

from fastapi import APIRouter, Query

from dnsvigil.abuse.sources import THREAT_GROUPS, PeriodKind
from dnsvigil.web.api.models import AbuseRate, RatePage
from dnsvigil.web.api.params import Cursor, Limit
from dnsvigil.web.context import Data
from dnsvigil.web.errors import ERROR_RESPONSES, bad_parameter
from dnsvigil.web.paging import DEFAULT_PAGE_SIZE
from dnsvigil.web.queries import RateFilter, list_rates

router = APIRouter(prefix="/api/v1/abuse", tags=["abuse"], responses=ERROR_RESPONSES)


@router.get("/rates", response_model=RatePage, summary="List abuse rates (open data)")
def get_rates(
    data: Data,
    period_kind: Annotated[PeriodKind | None, Query(description="`day` or `month`.")] = None,
    entity_type: Annotated[
        Literal["tld", "registrar"] | None, Query(description="Rates of TLDs or registrars.")
    ] = None,
    denominator: Annotated[
        Literal["zone", "dum", "new_registrations"] | None,
        Query(description="Population: zone, domains under management (dum), or new registrations."),
    ] = None,
    threat: Annotated[
        str | None, Query(max_length=32, description=f"One of {', '.join(THREAT_GROUPS)}.")
    ] = None,
    entity: Annotated[
        str | None, Query(max_length=253, description="A TLD, or a registrar's IANA id.")
    ] = None,
    since: Annotated[date | None, Query(description="First period start included (YYYY-MM-DD).")] = None,
    until: Annotated[date | None, Query(description="First period start excluded (YYYY-MM-DD).")] = None,
    ranked_only: Annotated[bool, Query(description="Only entities large enough to be ranked.")] = False,
    limit: Limit = DEFAULT_PAGE_SIZE,
    cursor: Cursor = None,
) -> RatePage:
    """Abuse rates per 10,000 domains with their confidence intervals, as `dnsvigil abuse analyze` stored
    them: latest period first, then by period kind, entity type, denominator and threat, then by rank
    (unranked last). Follow `next_cursor` with the same filters for the next page."""
    if threat is not None and threat not in THREAT_GROUPS:
        raise bad_parameter("threat", f"threat must be one of {', '.join(THREAT_GROUPS)}")
    where = RateFilter(
        period_kind=period_kind,
        entity_type=entity_type,
        denominator=denominator,
        threat=threat,
        entity=entity,
        since=since,
        until=until,
        ranked_only=ranked_only,
    )
    page = list_rates(data, where, limit=limit, cursor=cursor)
    return RatePage(items=[AbuseRate(**row) for row in page.rows], next_cursor=page.next_cursor)
