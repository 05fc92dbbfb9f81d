"""Registrar IANA IDs that do not stand for a real registrar and that abuse rankings must leave out."""

from __future__ import annotations

from typing import Final

NOT_REAL_REGISTRAR_IDS: Final = frozenset(
    {1, 3, 8, 119, 376, 1797, 2482, 9995, 9996, 9997, 9998, 9999, 10009, 4000001, 8888888}
)
"""IDs reserved for registry operators acting as registrar, IANA itself, and other non-registrars."""


def is_real_registrar(iana_id: int, status: str) -> bool:
    """Whether an IANA registrar ID is an actual registrar: not a reserved ID, not of status Reserved."""
    return iana_id not in NOT_REAL_REGISTRAR_IDS and status.strip().lower() != "reserved"
