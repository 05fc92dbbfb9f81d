"""The one `Finding` type every analyzer emits, and the registry of finding codes.

Reports, the dashboard, cases and STIX export all consume this type, so a finding carries everything
downstream needs: a stable code, a subject, how bad and how sure, when, the evidence, and references.
"""

from __future__ import annotations

import enum
import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from types import MappingProxyType
from typing import Any

from dnsvigil.errors import DnsvigilError


class Severity(enum.IntEnum):
    """How much a finding matters to an operator; ordered so that filters can say `>= HIGH`."""

    INFO = 0
    LOW = 1
    MEDIUM = 2
    HIGH = 3
    CRITICAL = 4


class SubjectType(enum.StrEnum):
    """What a finding is about."""

    DOMAIN = "domain"
    IP = "ip"
    CLIENT = "client"
    REGISTRAR = "registrar"
    TLD = "tld"
    SERVER = "server"
    ZONE = "zone"


class Tlp(enum.StrEnum):
    """Traffic Light Protocol 2.0 labels, which bound who a finding may be shared with."""

    CLEAR = "clear"
    GREEN = "green"
    AMBER = "amber"
    AMBER_STRICT = "amber+strict"
    RED = "red"


@dataclass(frozen=True, slots=True)
class FindingCode:
    """A registered kind of finding: its stable code, what it means, and where it is defined."""

    code: str
    title: str
    description: str
    references: tuple[str, ...] = ()


_REGISTRY: dict[str, FindingCode] = {}


def register_code(code: FindingCode) -> FindingCode:
    """Add a finding code to the registry; registering the same code twice differently is a bug."""
    existing = _REGISTRY.get(code.code)
    if existing is not None and existing != code:
        raise ValueError(f"finding code {code.code} registered twice with different definitions")
    _REGISTRY[code.code] = code
    return code


def find_code(code: str) -> FindingCode:
    """Return the registered definition of `code`; raise when it is unknown."""
    try:
        return _REGISTRY[code]
    except KeyError:
        raise DnsvigilError(
            f"unknown finding code {code!r}", hint=f"known codes: {', '.join(sorted(_REGISTRY))}"
        ) from None


def registered_codes() -> tuple[FindingCode, ...]:
    """All registered finding codes, sorted by code."""
    return tuple(_REGISTRY[name] for name in sorted(_REGISTRY))


def _json_default(value: object) -> str:
    return value.isoformat() if isinstance(value, datetime) else str(value)


def _frozen_evidence(evidence: Mapping[str, Any]) -> Mapping[str, Any]:
    # Round-trip through JSON so evidence is plain data that every output can render and store.
    return MappingProxyType(json.loads(json.dumps(dict(evidence), sort_keys=True, default=_json_default)))


@dataclass(frozen=True, slots=True)
class Finding:
    """One thing an analyzer found, with the evidence a responder needs to act on it."""

    code: str
    subject_type: SubjectType
    subject: str
    severity: Severity
    confidence: float
    first_seen: datetime
    last_seen: datetime
    detector: str
    evidence: Mapping[str, Any] = field(default_factory=dict)
    references: tuple[str, ...] = ()
    tlp: Tlp = Tlp.AMBER

    def __post_init__(self) -> None:
        find_code(self.code)
        if not self.subject:
            raise ValueError("a finding needs a subject")
        if not 0.0 <= self.confidence <= 1.0:
            raise ValueError(f"confidence must be within [0, 1], got {self.confidence}")
        for name in ("first_seen", "last_seen"):
            moment = getattr(self, name)
            if moment.tzinfo is None:
                raise ValueError(f"{name} must be timezone-aware (UTC)")
        if self.last_seen < self.first_seen:
            raise ValueError("last_seen is before first_seen")
        object.__setattr__(self, "evidence", _frozen_evidence(self.evidence))

    @property
    def finding_id(self) -> str:
        """A stable identity: the same finding found twice on the same data gets the same id."""
        key = "|".join(
            (self.code, self.subject_type, self.subject, self.detector, self.first_seen.isoformat())
        )
        return hashlib.blake2b(key.encode(), digest_size=16).hexdigest()

    @property
    def message(self) -> str:
        """One line a person can read, from the code's title and the subject."""
        return f"{find_code(self.code).title}: {self.subject}"

    def to_record(self) -> dict[str, Any]:
        """This finding as one row of the `findings` table."""
        return {
            "finding_id": self.finding_id,
            "code": self.code,
            "subject_type": str(self.subject_type),
            "subject": self.subject,
            "severity": self.severity.name.lower(),
            "confidence": self.confidence,
            "first_seen": self.first_seen.astimezone(UTC),
            "last_seen": self.last_seen.astimezone(UTC),
            "detector": self.detector,
            "evidence": json.dumps(dict(self.evidence), sort_keys=True),
            "references": list(self.references or find_code(self.code).references),
            "tlp": str(self.tlp),
            "message": self.message,
        }
