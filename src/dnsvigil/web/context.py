"""What every request of one web app shares: the warehouse, the users and the login sessions."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request

from dnsvigil.web.data import Snapshot, WarehouseData
from dnsvigil.web.sessions import SessionStore
from dnsvigil.web.users import UserDirectory


@dataclass(frozen=True, slots=True)
class WebContext:
    """The state of one app, built once by `create_app` and kept in `app.state.dnsvigil`."""

    data: WarehouseData
    users: UserDirectory
    sessions: SessionStore


def get_context(request: Request) -> WebContext:
    """The app's shared state (a FastAPI dependency)."""
    context: WebContext = request.app.state.dnsvigil
    return context


def get_snapshot(context: Annotated[WebContext, Depends(get_context)]) -> Snapshot:
    """A runner over the warehouse for one request (a FastAPI dependency)."""
    return context.data.snapshot()


Context = Annotated[WebContext, Depends(get_context)]
Data = Annotated[Snapshot, Depends(get_snapshot)]
