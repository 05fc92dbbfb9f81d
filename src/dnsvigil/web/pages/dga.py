"""The DGA page (analysts): infected clients and DGA domains the detectors found, and a form that scores
names with the same model as `POST /api/v1/dga/scores`."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response
from starlette.concurrency import run_in_threadpool

from dnsvigil.web.api.dga import MAX_NAMES, score_names
from dnsvigil.web.api.models import DgaScores
from dnsvigil.web.context import Data
from dnsvigil.web.errors import bad_parameter
from dnsvigil.web.pages.view import PageView, View, read_form
from dnsvigil.web.queries import FindingFilter, list_findings

router = APIRouter(include_in_schema=False)

SHOWN = 100
MAX_NAME_CHARS = 1024


def _render(view: View, data: Data, names: str = "", scores: DgaScores | None = None) -> HTMLResponse:
    clients = list_findings(data, FindingFilter(codes=("DGA.INFECTED_CLIENT",)), limit=SHOWN, cursor=None)
    domains = list_findings(data, FindingFilter(codes=("DGA.DOMAIN",)), limit=SHOWN, cursor=None)
    return view.render(
        "dga.html",
        clients=clients.rows,
        domains=domains.rows,
        names=names,
        scores=scores,
        max_names=MAX_NAMES,
    )


@router.get("/dga", response_class=HTMLResponse)
def dga_page(view: PageView, data: Data) -> Response:
    """Infected clients and DGA domains, newest first, and the scoring form."""
    if not view.analyst:
        return view.login_redirect()
    return _render(view, data)


@router.post("/dga", response_class=HTMLResponse)
async def dga_score(view: PageView, data: Data, request: Request) -> Response:
    """The page with the model's verdicts on the names posted (one per line)."""
    if not view.analyst:
        return view.login_redirect()
    text = (await read_form(request)).get("names", "")
    names = text.split()
    if not 1 <= len(names) <= MAX_NAMES or any(len(name) > MAX_NAME_CHARS for name in names):
        raise bad_parameter("names", f"give 1 to {MAX_NAMES} names of at most {MAX_NAME_CHARS} characters")
    scores = await run_in_threadpool(score_names, names)
    return await run_in_threadpool(_render, view, data, text, scores)
