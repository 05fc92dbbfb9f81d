"""Who is asking: an API token (`Authorization: Bearer ...`) or a login session cookie, and their rights.

Open-data routes take no credentials at all. Every other route declares the role it needs with
`require(role)`: no or bad credentials answer 401, a role too small 403, and neither ever reaches data.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated

from fastapi import Depends
from fastapi.security import APIKeyCookie, HTTPAuthorizationCredentials, HTTPBearer

from dnsvigil.web.context import Context
from dnsvigil.web.errors import ApiError
from dnsvigil.web.sessions import SESSION_COOKIE
from dnsvigil.web.users import Role, User

_bearer = HTTPBearer(
    auto_error=False,
    scheme_name="token",
    description="An API token from `dnsvigil users add NAME`, sent as `Authorization: Bearer <token>`.",
)
_cookie = APIKeyCookie(
    name=SESSION_COOKIE,
    auto_error=False,
    scheme_name="session",
    description="The session cookie set by `POST /api/v1/session`.",
)


def _unauthorized(message: str) -> ApiError:
    return ApiError(401, "unauthorized", message, headers={"WWW-Authenticate": "Bearer"})


def signed_in_user(
    context: Context,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
    session_id: Annotated[str | None, Depends(_cookie)],
) -> User | None:
    """The user behind the request's token or session, None without credentials.

    Raises:
        ApiError: 401 when a token or session is given but is not valid (a wrong token never falls back
            to a session, so a client learns its token is bad).
    """
    if credentials is not None:
        user = context.users.verify(credentials.credentials)
        if user is None:
            raise _unauthorized("the API token is not valid; ask an admin for a new one")
        return user
    if session_id is not None:
        key_id = context.sessions.find_key(session_id)
        user = None if key_id is None else context.users.find_key(key_id)
        if user is None:
            raise _unauthorized("the session has ended; log in again")
        return user
    return None


def require(role: Role) -> Callable[[User | None], User]:
    """A dependency that lets through only users whose role includes `role`."""

    def check(user: Annotated[User | None, Depends(signed_in_user)]) -> User:
        if user is None:
            raise _unauthorized(
                "this needs an API token (Authorization: Bearer ...) or a session (POST /api/v1/session)"
            )
        if not user.role.allows(role):
            raise ApiError(403, "forbidden", f"this needs the {role} role; {user.name} is {user.role}")
        return user

    return check


Analyst = Annotated[User, Depends(require(Role.ANALYST))]
Admin = Annotated[User, Depends(require(Role.ADMIN))]
