"""Logging in and out in a browser: an API token (from `dnsvigil users add`) exchanged for the same session
cookie as `POST /api/v1/session` sets."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from starlette.concurrency import run_in_threadpool

from dnsvigil.web.api.session import end_session, start_session
from dnsvigil.web.pages.view import PageView, check_origin, read_form, safe_next

router = APIRouter(include_in_schema=False)

MAX_TOKEN_CHARS = 256


@router.get("/login", response_class=HTMLResponse)
def login_page(view: PageView, next: Annotated[str | None, Query(max_length=2048)] = None) -> HTMLResponse:
    """The login form."""
    return view.render("login.html", next=safe_next(next), failed=False)


@router.post("/login", response_class=HTMLResponse)
async def login(view: PageView, request: Request) -> Response:
    """Check the token; on success set the session cookie and go back to the page that asked for it."""
    form = await read_form(request)
    target = safe_next(form.get("next"))
    token = form.get("token", "").strip()
    # Checking a token is a deliberately slow hash: off the event loop.
    user = None
    if 0 < len(token) <= MAX_TOKEN_CHARS:
        user = await run_in_threadpool(view.context.users.verify, token)
    if user is None:
        return view.render("login.html", status=401, next=target, failed=True)
    response = RedirectResponse(target, status_code=303)
    start_session(view.context, user, request, response)
    return response


@router.post("/logout")
def logout(view: PageView, request: Request) -> Response:
    """End the session and go to the overview."""
    check_origin(request)
    response = RedirectResponse("/", status_code=303)
    end_session(view.context, request, response)
    return response
