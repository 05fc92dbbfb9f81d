"""The API's response bodies, as they appear in the OpenAPI document."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from pydantic import BaseModel, ConfigDict

from dnsvigil.traffic.overview import QtypeCount, RcodeCount, SizeBin, TransportCount, VolumePoint


class _Body(BaseModel):
    model_config = ConfigDict(frozen=True)


class Finding(_Body):
    """One finding, as stored by its detector (see `dnsvigil.findings`)."""

    finding_id: str
    code: str
    subject_type: str
    subject: str
    severity: str
    confidence: float
    first_seen: datetime
    last_seen: datetime
    detector: str
    evidence: dict[str, Any]
    references: list[str]
    tlp: str
    message: str


class FindingPage(_Body):
    """A page of findings, newest first; `next_cursor` is null on the last page."""

    items: list[Finding]
    next_cursor: str | None


class FindingCount(_Body):
    """How many findings share a code, severity and subject type, and when they were seen."""

    code: str
    severity: str
    subject_type: str
    findings: int
    first_seen: datetime
    last_seen: datetime


class FindingSummary(_Body):
    """Counts of findings, never their subjects: open data."""

    counts: list[FindingCount]


class AbuseRate(_Body):
    """One row of the `abuse_rates` table (see `dnsvigil.abuse.rates`)."""

    rate_id: str
    computed_at: str
    period_kind: str
    period_start: date
    entity_type: str
    entity: str
    entity_name: str | None
    denominator: str
    threat: str
    abused: int
    population: int
    rate_per_10k: float
    low_per_10k: float
    high_per_10k: float
    interval: str
    confidence: float
    ranked: bool
    rank: int | None


class RatePage(_Body):
    """A page of abuse rates; `next_cursor` is null on the last page."""

    items: list[AbuseRate]
    next_cursor: str | None


class TrafficShares(_Body):
    """Shares (0..1): of messages over TCP, over IPv6 and malformed; of responses NXDOMAIN; of queries
    with EDNS and with the DO bit."""

    tcp: float
    ipv6: float
    malformed: float
    nxdomain: float
    edns: float
    dnssec_ok: float


class TrafficSummary(_Body):
    """The traffic overview of the stored messages in a window: counts and series, never addresses or
    names (see `dnsvigil.traffic.overview`)."""

    first_seen: datetime | None
    last_seen: datetime | None
    messages: int
    queries: int
    responses: int
    malformed: int
    edns_queries: int
    do_queries: int
    shares: TrafficShares
    bucket_seconds: int
    transports: list[TransportCount]
    volume: list[VolumePoint]
    request_sizes: list[SizeBin]
    response_sizes: list[SizeBin]
    rcodes: list[RcodeCount]
    qtypes: list[QtypeCount]


class Rssac002Documents(_Body):
    """RSSAC002 documents, each the mapping its published YAML file holds (keys as published)."""

    documents: list[dict[str, Any]]


class DgaVerdict(_Body):
    """The verdict on one submitted name; a name that cannot be scored says why in `rejected`."""

    name: str
    normalized: str | None = None
    registrable: str | None = None
    score: float | None = None
    is_dga: bool | None = None
    family: str | None = None
    family_confidence: float | None = None
    rejected: str | None = None


class DgaScores(_Body):
    """Verdicts in the order the names were given, and the model's operating threshold."""

    threshold: float
    verdicts: list[DgaVerdict]


class SearchResult(_Body):
    """Everything known about one domain, IP address or registrar; sections that do not apply are empty."""

    query: str
    kind: str
    subject: str
    findings: list[Finding]
    registrations: list[dict[str, Any]] = []
    zone: list[dict[str, Any]] = []
    abuse_listings: list[dict[str, Any]] = []
    traffic: dict[str, Any] | None = None
    registrars: list[dict[str, Any]] = []
    abuse_rates: list[dict[str, Any]] = []


class SessionInfo(_Body):
    """Who the request is signed in as."""

    user: str
    role: str


class UserInfo(_Body):
    """A user as admins see it: never the token or its hash."""

    name: str
    role: str
    created: str


class ApiIndex(_Body):
    """What this API serves, and how much the warehouse holds (stored rows per table)."""

    version: str
    openapi: str
    open_data: list[str]
    tables: dict[str, int]
