"""Which findings are news, what span of traffic to judge, and how an alert reads.

The detectors run again and again over a sliding span of recent traffic, so they find an ongoing attack
again on every run, with a later `last_seen`. An alert is raised once per incident: a subject (zone,
address) crossing one detector's thresholds; findings about the same subject and code that begin before
the incident has been quiet for `quiet_seconds` continue it.

A finding's identity includes its first message's time, so the span must not cut an ongoing incident's
start: `detection_span` reaches back to the start of every open incident (up to `MAX_LOOKBACK_SPANS`
spans), so each run finds the same finding, updated, rather than a new one starting at the span's edge.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from dnsvigil.findings import Finding
from dnsvigil.traffic.detection import NS_PER_SECOND, TimeWindow, instant_of_ns, ns_of_instant

MAX_LOOKBACK_SPANS = 6
"""How many detection spans back an open incident may hold the span's start; beyond, the start moves on."""

IncidentKey = tuple[str, str, str]
"""(finding code, subject type, subject)."""


def incident_key(finding: Finding) -> IncidentKey:
    return (finding.code, str(finding.subject_type), finding.subject)


@dataclass(slots=True)
class _Incident:
    first_seen: datetime
    last_seen: datetime


class AlertTracker:
    """Remembers the incidents alerted, to tell a new one from one still going on.

    Args:
        quiet_seconds: how long a subject must stay quiet before a new finding about it is a new incident.
    """

    def __init__(self, *, quiet_seconds: float) -> None:
        self._quiet = timedelta(seconds=quiet_seconds)
        self._incidents: dict[IncidentKey, _Incident] = {}

    def remember(self, key: IncidentKey, first_seen: datetime, last_seen: datetime) -> None:
        """Record an incident already known (alerted before a restart) so that it is not alerted again."""
        incident = self._incidents.get(key)
        if incident is None:
            self._incidents[key] = _Incident(first_seen, last_seen)
        else:
            incident.first_seen = min(incident.first_seen, first_seen)
            incident.last_seen = max(incident.last_seen, last_seen)

    def admit(self, findings: Iterable[Finding]) -> list[Finding]:
        """Record `findings`; return those that begin a new incident, in order of first message."""
        news: list[Finding] = []
        for finding in sorted(findings, key=lambda found: (found.first_seen, found.finding_id)):
            key = incident_key(finding)
            incident = self._incidents.get(key)
            if incident is not None and finding.first_seen <= incident.last_seen + self._quiet:
                incident.last_seen = max(incident.last_seen, finding.last_seen)
                continue
            self._incidents[key] = _Incident(finding.first_seen, finding.last_seen)
            news.append(finding)
        return news

    def open_since(self, latest: datetime, window_seconds: int) -> datetime | None:
        """The first message of the earliest incident still open at `latest` (seen within two windows)."""
        recent = latest - timedelta(seconds=2 * window_seconds)
        starts = [
            incident.first_seen for incident in self._incidents.values() if incident.last_seen >= recent
        ]
        return min(starts, default=None)

    def forget_before(self, moment: datetime) -> None:
        """Drop incidents quiet since before `moment` (and past their quiet time): memory stays bounded."""
        for key in [
            key for key, incident in self._incidents.items() if incident.last_seen + self._quiet < moment
        ]:
            del self._incidents[key]

    def __len__(self) -> int:
        return len(self._incidents)


def detection_span(
    latest_ns: int, *, span_seconds: int, window_seconds: int, open_since: datetime | None = None
) -> TimeWindow:
    """The span of stored traffic to judge: `span_seconds` back from the latest message, from a window
    boundary, reaching back further to the start of an incident still open (bounded), open at the end."""
    width = window_seconds * NS_PER_SECOND
    since_ns = (latest_ns - span_seconds * NS_PER_SECOND) // width * width
    if open_since is not None:
        floor_ns = latest_ns - MAX_LOOKBACK_SPANS * span_seconds * NS_PER_SECOND
        start_ns = max(ns_of_instant(open_since), floor_ns)
        since_ns = min(since_ns, start_ns // width * width)
    return TimeWindow(instant_of_ns(max(since_ns, 0)), None)


def finding_json(finding: Finding) -> dict[str, object]:
    """A finding as a JSON object: its table row, with times in ISO 8601 and the evidence as an object."""
    record = finding.to_record()
    record["first_seen"] = finding.first_seen.isoformat()
    record["last_seen"] = finding.last_seen.isoformat()
    record["evidence"] = dict(finding.evidence)
    return record


def alert_json(finding: Finding) -> str:
    """One JSON line for a new alert."""
    return json.dumps({"event": "alert", "finding": finding_json(finding)}, sort_keys=True, default=str)


_HEADLINE_EVIDENCE = (
    ("peak_qps", "peak {} q/s"),
    ("amplification_factor", "factor {}"),
    ("peak_share", "peak NXDOMAIN share {}"),
)


def alert_line(finding: Finding) -> str:
    """One line a person reads: severity, code, subject, since when, and the figure that matters most."""
    figure = next(
        (
            template.format(finding.evidence[key])
            for key, template in _HEADLINE_EVIDENCE
            if key in finding.evidence
        ),
        "",
    )
    return (
        f"ALERT {finding.severity.name.lower()} {finding.code} {finding.subject} since "
        f"{finding.first_seen.isoformat(timespec='seconds')}: {finding.message}"
        + (f" ({figure})" if figure else "")
    )
