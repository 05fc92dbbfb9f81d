"""`/api/v1/findings`: what the detectors found. Listing needs an analyst (subjects include client
addresses); the summary of counts is open data."""

from __future__ import annotations

import re
from typing import Annotated, Literal

from fastapi import APIRouter, Query

from dnsvigil.findings import Severity, SubjectType
from dnsvigil.web.api.models import Finding, FindingCount, FindingPage, FindingSummary
from dnsvigil.web.api.params import Cursor, Limit, Since, Until, instant
from dnsvigil.web.auth import Analyst
from dnsvigil.web.context import Data
from dnsvigil.web.errors import ERROR_RESPONSES, bad_parameter
from dnsvigil.web.paging import DEFAULT_PAGE_SIZE
from dnsvigil.web.queries import FindingFilter, list_findings, summarise_findings

router = APIRouter(prefix="/api/v1/findings", tags=["findings"], responses=ERROR_RESPONSES)

MAX_CODES = 20
_CODE = re.compile(r"[A-Z][A-Z0-9_]*(?:\.[A-Z0-9_]+)+")
SeverityName = Literal["info", "low", "medium", "high", "critical"]


def finding_codes(codes: list[str] | None) -> tuple[str, ...]:
    """The `code` parameters, checked.

    Raises:
        ApiError: 400 for too many codes, or one that is not shaped like a finding code.
    """
    codes = codes or []
    if len(codes) > MAX_CODES:
        raise bad_parameter("code", f"give at most {MAX_CODES} codes")
    for code in codes:
        if len(code) > 64 or not _CODE.fullmatch(code):
            raise bad_parameter("code", f"{code[:64]!r} is not a finding code such as DGA.INFECTED_CLIENT")
    return tuple(codes)


@router.get("", response_model=FindingPage, summary="List findings (analyst)")
def get_findings(
    user: Analyst,
    data: Data,
    code: Annotated[
        list[str] | None, Query(description="Finding codes, e.g. DGA.DOMAIN; repeat for any of several.")
    ] = None,
    subject: Annotated[
        str | None, Query(max_length=253, description="Exact subject: domain, IP, ...")
    ] = None,
    subject_type: Annotated[SubjectType | None, Query(description="What the findings are about.")] = None,
    min_severity: Annotated[SeverityName | None, Query(description="Lowest severity listed.")] = None,
    since: Since = None,
    until: Until = None,
    limit: Limit = DEFAULT_PAGE_SIZE,
    cursor: Cursor = None,
) -> FindingPage:
    """Findings matching every filter given, newest first (by `first_seen`), a page at a time.

    A finding is in the time window when it was seen in it: `last_seen >= since` and `first_seen < until`.
    Follow `next_cursor` with the same filters for the next page; pages neither skip nor repeat findings,
    even while detectors add new ones.
    """
    where = FindingFilter(
        codes=finding_codes(code),
        subject=subject,
        subject_type=subject_type,
        min_severity=None if min_severity is None else Severity[min_severity.upper()],
        since=instant("since", since),
        until=instant("until", until),
    )
    page = list_findings(data, where, limit=limit, cursor=cursor)
    return FindingPage(items=[Finding(**row) for row in page.rows], next_cursor=page.next_cursor)


@router.get("/summary", response_model=FindingSummary, summary="Count findings (open data)")
def get_summary(data: Data) -> FindingSummary:
    """How many findings there are per code, severity and subject type, with when they were seen."""
    return FindingSummary(counts=[FindingCount(**row) for row in summarise_findings(data)])
