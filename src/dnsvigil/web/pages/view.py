"""What every dashboard page shares: its language, who is looking, and rendering a template with both.

A page is a router function that takes a `View` (a FastAPI dependency) and returns `view.render(...)`.
Pages that show more than open data call `view.login_redirect()` when nobody is signed in; a page never
raises a 401 at a browser, it sends it to the login page and back.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Any
from urllib.parse import parse_qs, urlencode, urlsplit

import jinja2
from fastapi import Depends, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse

from dnsvigil import __version__
from dnsvigil.web.api.params import instant
from dnsvigil.web.auth import signed_in_user
from dnsvigil.web.context import Context, WebContext
from dnsvigil.web.errors import ApiError, bad_parameter
from dnsvigil.web.i18n import LANGUAGE_COOKIE, N_, Localizer, language_names, negotiate
from dnsvigil.web.sessions import SESSION_COOKIE
from dnsvigil.web.users import Role, User

LANGUAGE_COOKIE_SECONDS = 365 * 86_400
SEVERITIES = {
    "info": N_("info"),
    "low": N_("low"),
    "medium": N_("medium"),
    "high": N_("high"),
    "critical": N_("critical"),
}
"""Severity names as stored, and their words in the catalogs."""


@functools.cache
def _environment() -> jinja2.Environment:
    return jinja2.Environment(
        loader=jinja2.PackageLoader("dnsvigil.web", "templates"),
        autoescape=jinja2.select_autoescape(["html"]),
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )


def safe_next(target: str | None) -> str:
    """A path on this site to go back to after logging in; anything else (another site) becomes `/`."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return "/"
    return target


@dataclass(frozen=True, slots=True)
class View:
    """One page request: where it was asked, in which language, and by whom (None: nobody signed in)."""

    request: Request
    context: WebContext
    words: Localizer
    user: User | None
    language_asked: bool

    @property
    def analyst(self) -> bool:
        """Whether the viewer may see more than open data."""
        return self.user is not None and self.user.role.allows(Role.ANALYST)

    def here(self) -> str:
        """This page's path and query."""
        query = self.request.url.query
        return self.request.url.path + (f"?{query}" if query else "")

    def link(self, path: str, **params: object) -> str:
        """A link to `path` with the query parameters that are not None or empty."""
        kept = {name: value for name, value in params.items() if value not in (None, "")}
        return path + (f"?{urlencode(kept, doseq=True)}" if kept else "")

    def switch_href(self, language: str) -> str:
        """This page in another language."""
        params = [(k, v) for k, v in self.request.query_params.multi_items() if k != "lang"]
        return self.request.url.path + "?" + urlencode([*params, ("lang", language)])

    def login_redirect(self) -> RedirectResponse:
        """Send the browser to the login page, and back here afterwards."""
        return RedirectResponse(self.link("/login", next=self.here()), status_code=303)

    def render(self, template: str, *, status: int = 200, **values: Any) -> HTMLResponse:
        """The page `template` rendered in the viewer's language with `values`."""
        words = self.words
        html = (
            _environment()
            .get_template(template)
            .render(
                view=self,
                words=words,
                _=words.gettext,
                severities=SEVERITIES,
                languages=language_names(),
                version=__version__,
                **values,
            )
        )
        response = HTMLResponse(html, status_code=status)
        response.headers["Cache-Control"] = "no-store"
        response.headers["Content-Language"] = words.language
        if self.language_asked:
            response.set_cookie(
                LANGUAGE_COOKIE, words.language, max_age=LANGUAGE_COOKIE_SECONDS, samesite="lax", path="/"
            )
        return response


def get_view(
    request: Request,
    context: Context,
    lang: Annotated[str | None, Query(max_length=16, description="Page language.")] = None,
) -> View:
    """The `View` of a page request (a FastAPI dependency).

    Raises:
        ApiError: 400 when `lang` names a language the dashboard is not written in.
    """
    language = negotiate(lang, request.cookies.get(LANGUAGE_COOKIE), request.headers.get("accept-language"))
    try:
        user = signed_in_user(context, None, request.cookies.get(SESSION_COOKIE))
    except ApiError:
        user = None  # an ended session reads as signed out; the login page is one click away
    return View(request, context, Localizer(language), user, lang is not None)


PageView = Annotated[View, Depends(get_view)]


def check_origin(request: Request) -> None:
    """Refuse a form posted from another site's page (a browser says where from in `Origin`).

    Raises:
        ApiError: 403 when `Origin` names another site.
    """
    origin = request.headers.get("origin")
    if origin is not None and urlsplit(origin).netloc != request.headers.get("host"):
        raise ApiError(403, "forbidden", "forms are accepted only from this site's own pages")


async def read_form(request: Request) -> dict[str, str]:
    """The fields of a form posted from this site (URL-encoded), each its last value.

    Raises:
        ApiError: 403 for a form posted from another site, 415 for a body that is not a form.
    """
    check_origin(request)
    media_type = request.headers.get("content-type", "").split(";")[0].strip()
    if media_type != "application/x-www-form-urlencoded":
        raise ApiError(415, "unsupported_media_type", "post the page's own form (URL-encoded)")
    fields = parse_qs((await request.body()).decode("utf-8", "replace"), keep_blank_values=True)
    return {name: values[-1] for name, values in fields.items()}


def form_instant(name: str, text: str | None) -> datetime | None:
    """A form field's date (`YYYY-MM-DD`) or date and time as a UTC instant; None when left empty.

    Raises:
        ApiError: 400 when it is neither, or outside what the warehouse holds.
    """
    if not text:
        return None
    try:
        value = datetime.fromisoformat(text)
    except ValueError:
        raise bad_parameter(name, f"{name} must be a date (YYYY-MM-DD) or a date and time") from None
    return instant(name, value)
