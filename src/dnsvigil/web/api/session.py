"""`/api/v1/session` and `/api/v1/users`: logging in with a token for a browser session, and who is who."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response
from pydantic import BaseModel, ConfigDict, Field

from dnsvigil.web.api.models import SessionInfo, UserInfo
from dnsvigil.web.auth import Admin, Analyst
from dnsvigil.web.context import Context, WebContext
from dnsvigil.web.errors import ERROR_RESPONSES, ApiError
from dnsvigil.web.sessions import SESSION_COOKIE
from dnsvigil.web.users import User

router = APIRouter(prefix="/api/v1", tags=["session"], responses=ERROR_RESPONSES)


class Login(BaseModel):
    """The API token to log in with."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    token: str = Field(min_length=1, max_length=256)


def start_session(context: WebContext, user: User, request: Request, response: Response) -> None:
    """Open a session for `user` and set its cookie on `response` (HTTP-only, same-site strict)."""
    response.set_cookie(
        SESSION_COOKIE,
        context.sessions.open(user.key_id),
        max_age=int(context.sessions.lifetime_seconds),
        httponly=True,
        samesite="strict",
        secure=request.url.scheme == "https",
        path="/",
    )


def end_session(context: WebContext, request: Request, response: Response) -> None:
    """End the request's session, if any, and clear its cookie on `response`."""
    session_id = request.cookies.get(SESSION_COOKIE)
    if session_id is not None:
        context.sessions.close(session_id)
    response.delete_cookie(SESSION_COOKIE, path="/")


@router.post("/session", response_model=SessionInfo, summary="Log in")
def post_session(body: Login, context: Context, request: Request, response: Response) -> SessionInfo:
    """Exchange an API token for a session cookie (HTTP-only, same-site strict), for browsers."""
    user = context.users.verify(body.token)
    if user is None:
        raise ApiError(
            401, "unauthorized", "the API token is not valid", headers={"WWW-Authenticate": "Bearer"}
        )
    start_session(context, user, request, response)
    return SessionInfo(user=user.name, role=user.role)


@router.get("/session", response_model=SessionInfo, summary="Who am I")
def get_session(user: Analyst) -> SessionInfo:
    """The user the request's token or session belongs to."""
    return SessionInfo(user=user.name, role=user.role)


@router.delete("/session", status_code=204, summary="Log out")
def delete_session(context: Context, request: Request, response: Response) -> None:
    """End the request's session, if any, and clear its cookie."""
    end_session(context, request, response)


@router.get("/users", response_model=list[UserInfo], summary="List users (admin)")
def get_users(user: Admin, context: Context) -> list[UserInfo]:
    """Every user, with role and creation time (never a token or its hash)."""
    return [UserInfo(name=u.name, role=u.role, created=u.created) for u in context.users.users()]
