"""The web app's users: names, roles and API tokens, kept hashed in `users.json` in the warehouse home.

A token is shown once, when the user is added, and only its scrypt hash (with a random salt) is kept. The
token names its key (`dv_<key id>_<secret>`), so checking one costs a single hash, compared in constant
time. The file is rewritten atomically under a lock, so concurrent `dnsvigil users` commands never lose
a user and the server never reads half a file.
"""

from __future__ import annotations

import contextlib
import enum
import fcntl
import hashlib
import hmac
import json
import re
import secrets
import threading
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from dnsvigil.errors import UsageError, WarehouseError
from dnsvigil.outputs import write_atomically

USERS_FILE = "users.json"
FORMAT = 1
_KDF = "scrypt:16384:8:1"
_NAME = re.compile(r"[a-z0-9][a-z0-9._-]{0,63}")
_TOKEN = re.compile(r"dv_([0-9a-f]{12})_([A-Za-z0-9_-]{43})")


class Role(enum.StrEnum):
    """What a user may see: analysts read findings and search; admins also see the users."""

    ANALYST = "analyst"
    ADMIN = "admin"

    def allows(self, needed: Role) -> bool:
        """Whether this role includes `needed` (an admin can do all an analyst can)."""
        order = list(Role)
        return order.index(self) >= order.index(needed)


@dataclass(frozen=True, slots=True)
class User:
    """A user as stored: never the token, only its key id, salt and hash."""

    name: str
    role: Role
    key_id: str
    salt: str
    token_hash: str
    created: str

    def __post_init__(self) -> None:
        check_name(self.name)
        object.__setattr__(self, "role", Role(self.role))

    def matches(self, secret: str) -> bool:
        """Whether `secret` is this user's token secret, compared in constant time."""
        return hmac.compare_digest(_hash(secret, bytes.fromhex(self.salt)), self.token_hash)


def check_name(name: str) -> str:
    """The user name, or UsageError when it is not 1-64 of `a-z 0-9 . _ -` starting with a letter or digit."""
    if not _NAME.fullmatch(name):
        raise UsageError(
            f"user name {name!r} is not allowed",
            hint="use 1 to 64 lower-case letters, digits, '.', '_' or '-', starting with a letter or digit",
        )
    return name


def _hash(secret: str, salt: bytes) -> str:
    _, n, r, p = _KDF.split(":")
    return hashlib.scrypt(secret.encode(), salt=salt, n=int(n), r=int(r), p=int(p), dklen=32).hex()


def new_user(name: str, role: Role) -> tuple[User, str]:
    """A new user and its token, which is returned here once and stored nowhere."""
    key_id, secret, salt = secrets.token_hex(6), secrets.token_urlsafe(32), secrets.token_bytes(16)
    user = User(
        name=check_name(name),
        role=role,
        key_id=key_id,
        salt=salt.hex(),
        token_hash=_hash(secret, salt),
        created=datetime.now(UTC).isoformat(timespec="seconds"),
    )
    return user, f"dv_{key_id}_{secret}"


def _file_error(path: Path, what: str) -> WarehouseError:
    return WarehouseError(
        f"{path}: {what}", hint="restore it from a backup, or remove it and add the users again"
    )


def read_users(home: Path) -> tuple[User, ...]:
    """The users stored in `home`; none when the file does not exist yet.

    Raises:
        WarehouseError: the file exists but cannot be read or is not a users file.
    """
    path = home / USERS_FILE
    try:
        document: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return ()
    except (OSError, ValueError) as error:
        raise _file_error(path, f"cannot read the users file ({error})") from error
    if not isinstance(document, dict) or document.get("format") != FORMAT or document.get("kdf") != _KDF:
        raise _file_error(path, f"not a users file of format {FORMAT}")
    try:
        return tuple(User(**record) for record in document["users"])
    except (KeyError, TypeError, ValueError) as error:
        raise _file_error(path, f"a user record is damaged ({error})") from error


@contextlib.contextmanager
def _locked(home: Path) -> Iterator[None]:
    with (home / "users.lock").open("a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def _write_users(home: Path, users: tuple[User, ...]) -> None:
    document = {
        "format": FORMAT,
        "kdf": _KDF,
        "users": [asdict(user) for user in users],
    }
    path = home / USERS_FILE
    write_atomically(path, json.dumps(document, indent=1) + "\n", what="the users file")
    path.chmod(0o600)


def add_user(home: Path, name: str, role: Role) -> tuple[User, str]:
    """Add a user to `home`'s users file and return it with its token.

    Raises:
        UsageError: the name is taken or not allowed.
    """
    with _locked(home):
        users = read_users(home)
        if any(user.name == name for user in users):
            raise UsageError(
                f"user {name!r} exists already", hint="remove it first to give it a new token or role"
            )
        user, token = new_user(name, role)
        _write_users(home, (*users, user))
    return user, token


def remove_user(home: Path, name: str) -> None:
    """Remove a user: its token and sessions stop working at the server's next request.

    Raises:
        UsageError: there is no such user.
    """
    with _locked(home):
        users = read_users(home)
        kept = tuple(user for user in users if user.name != name)
        if len(kept) == len(users):
            raise UsageError(f"there is no user {name!r}", hint="`dnsvigil users list` shows them")
        _write_users(home, kept)


@dataclass(frozen=True, slots=True)
class _Loaded:
    stamp: tuple[int, int, int]
    users: dict[str, User]
    by_key: dict[str, User]
    verified: dict[str, str]


class UserDirectory:
    """The users the server knows, reread when the file changes, with tokens it has checked remembered.

    Remembering a checked token (by its SHA-256, for the life of the file's version) spares a scrypt per
    request; a changed file forgets them all, so a removed user is refused at once.
    """

    def __init__(self, home: Path) -> None:
        self._path = home / USERS_FILE
        self._home = home
        self._lock = threading.Lock()
        self._loaded = _Loaded((0, 0, 0), {}, {}, {})

    def _current(self) -> _Loaded:
        try:
            status = self._path.stat()
            stamp = (status.st_ino, status.st_mtime_ns, status.st_size)
        except FileNotFoundError:
            stamp = (0, 0, 0)
        with self._lock:
            if stamp != self._loaded.stamp:
                users = read_users(self._home)
                by_name = {user.name: user for user in users}
                self._loaded = _Loaded(stamp, by_name, {user.key_id: user for user in users}, {})
            return self._loaded

    def find_key(self, key_id: str) -> User | None:
        """The user whose token has `key_id`, or None (a removed user's session ends here)."""
        return self._current().by_key.get(key_id)

    def users(self) -> tuple[User, ...]:
        """Every user, in the order they were added."""
        return tuple(self._current().users.values())

    def verify(self, token: str) -> User | None:
        """The user whose token this is, or None."""
        match = _TOKEN.fullmatch(token)
        if match is None:
            return None
        loaded = self._current()
        digest = hashlib.sha256(token.encode()).hexdigest()
        name = loaded.verified.get(digest)
        if name is not None:
            return loaded.users.get(name)
        user = loaded.by_key.get(match[1])
        if user is None or not user.matches(match[2]):
            return None
        with self._lock:
            loaded.verified[digest] = user.name
        return user
