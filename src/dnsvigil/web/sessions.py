"""Login sessions: a random id in an HTTP-only cookie, mapped in memory to a user's key until it expires.

Sessions live in the server's memory only: a restart logs everyone out, and nothing about them is ever
written to the warehouse (the web app only reads it).
"""

from __future__ import annotations

import secrets
import threading
import time
from dataclasses import dataclass

SESSION_COOKIE = "dnsvigil_session"


@dataclass(frozen=True, slots=True)
class Session:
    """Whose token logged in (its key id: a user removed and added again does not inherit sessions),
    and until when (monotonic seconds)."""

    key_id: str
    expires: float


class SessionStore:
    """Open sessions by id; an expired one is gone."""

    def __init__(self, lifetime_seconds: float) -> None:
        self.lifetime_seconds = lifetime_seconds
        self._sessions: dict[str, Session] = {}
        self._lock = threading.Lock()

    def open(self, key_id: str) -> str:
        """Start a session for the user with `key_id`; return its id, to be sent as the cookie."""
        now = time.monotonic()
        session_id = secrets.token_urlsafe(32)
        with self._lock:
            self._sessions = {key: s for key, s in self._sessions.items() if s.expires > now}
            self._sessions[session_id] = Session(key_id, now + self.lifetime_seconds)
        return session_id

    def find_key(self, session_id: str) -> str | None:
        """The user's key id of a live session, or None."""
        with self._lock:
            session = self._sessions.get(session_id)
        return session.key_id if session is not None and session.expires > time.monotonic() else None

    def close(self, session_id: str) -> None:
        """End a session (logging out); an unknown id is ignored."""
        with self._lock:
            self._sessions.pop(session_id, None)
