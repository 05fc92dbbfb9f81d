"""The findings pages (analysts): a filtered, paged table, and each finding with its evidence and
references."""

from __future__ import annotations

import json
from typing import Annotated, Any

from fastapi import APIRouter, Query
from fastapi.responses import HTMLResponse, Response

from dnsvigil.findings import Severity
from dnsvigil.web.api.findings import finding_codes
from dnsvigil.web.api.params import Cursor
from dnsvigil.web.context import Data
from dnsvigil.web.errors import ApiError, bad_parameter
from dnsvigil.web.pages.view import SEVERITIES, PageView, form_instant
from dnsvigil.web.queries import FindingFilter, find_finding, list_findings, summarise_findings

router = APIRouter(include_in_schema=False)

PAGE_ROWS = 25
Text = Annotated[str | None, Query(max_length=253)]


@router.get("/findings", response_class=HTMLResponse)
def findings_page(
    view: PageView,
    data: Data,
    code: Text = None,
    severity: Text = None,
    subject: Text = None,
    since: Text = None,
    until: Text = None,
    cursor: Cursor = None,
) -> Response:
    """Findings matching the filters, newest first, `PAGE_ROWS` a page."""
    if not view.analyst:
        return view.login_redirect()
    if severity and severity not in SEVERITIES:
        raise bad_parameter("severity", f"severity must be one of {', '.join(SEVERITIES)}")
    where = FindingFilter(
        codes=finding_codes([code] if code else None),
        subject=(subject or "").strip() or None,
        min_severity=Severity[severity.upper()] if severity else None,
        since=form_instant("since", since),
        until=form_instant("until", until),
    )
    page = list_findings(data, where, limit=PAGE_ROWS, cursor=cursor or None)
    filters = {"code": code, "severity": severity, "subject": subject, "since": since, "until": until}
    return view.render(
        "findings.html",
        findings=page.rows,
        filters={name: value or "" for name, value in filters.items()},
        codes=sorted({row["code"] for row in summarise_findings(data)}),
        first_href=view.link("/findings", **filters) if cursor else None,
        next_href=view.link("/findings", **filters, cursor=page.next_cursor) if page.next_cursor else None,
    )


def _shown(value: Any) -> str:
    """An evidence value as text: scalars as they are, lists and objects as indented JSON."""
    if isinstance(value, dict | list):
        return json.dumps(value, indent=2, ensure_ascii=False)
    return str(value)


@router.get("/findings/{finding_id}", response_class=HTMLResponse)
def finding_page(view: PageView, data: Data, finding_id: str) -> Response:
    """One finding: what, about whom, when, how sure, its evidence and its references."""
    if not view.analyst:
        return view.login_redirect()
    finding = find_finding(data, finding_id[:128])
    if finding is None:
        raise ApiError(404, "not_found", f"there is no finding {finding_id[:64]!r}")
    evidence = [(key, _shown(value)) for key, value in sorted(finding["evidence"].items())]
    return view.render("finding.html", finding=finding, evidence=evidence)
