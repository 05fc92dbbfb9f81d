"""Which findings are news, how far back the detectors read, and how an alert reads."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

from dnsvigil.findings import Finding, Severity, SubjectType
from dnsvigil.traffic.detection import NS_PER_SECOND
from dnsvigil.traffic.random_subdomain import RANDOM_SUBDOMAIN
from dnsvigil.watch.alerts import (
    MAX_LOOKBACK_SPANS,
    AlertTracker,
    alert_json,
    alert_line,
    detection_span,
    incident_key,
)

T0 = datetime(2024, 5, 1, 10, 0, tzinfo=UTC)


def finding(subject: str, first: float, last: float, **evidence: object) -> Finding:
    return Finding(
        code=RANDOM_SUBDOMAIN.code,
        subject_type=SubjectType.ZONE,
        subject=subject,
        severity=Severity.HIGH,
        confidence=0.9,
        first_seen=T0 + timedelta(seconds=first),
        last_seen=T0 + timedelta(seconds=last),
        detector="traffic.random_subdomain",
        evidence=evidence,
    )


def test_an_incident_is_alerted_once_while_it_goes_on() -> None:
    tracker = AlertTracker(quiet_seconds=60)
    assert tracker.admit([finding("example.com", 0, 10)]) == [finding("example.com", 0, 10)]
    # The same flood found again on the next runs, longer each time: no new alert.
    assert tracker.admit([finding("example.com", 0, 20)]) == []
    assert tracker.admit([finding("example.com", 5, 40)]) == []
    # Another zone is another incident.
    assert [f.subject for f in tracker.admit([finding("example.net", 30, 40)])] == ["example.net"]
    # Back after less than the quiet time: still the same incident.
    assert tracker.admit([finding("example.com", 90, 95)]) == []
    # Back after a quiet time: a new incident.
    assert [f.first_seen for f in tracker.admit([finding("example.com", 200, 210)])] == [
        T0 + timedelta(seconds=200)
    ]
    assert len(tracker) == 2


def test_incidents_remembered_from_before_a_restart_are_not_news() -> None:
    tracker = AlertTracker(quiet_seconds=60)
    known = finding("example.com", 0, 30)
    tracker.remember(incident_key(known), known.first_seen, known.last_seen)
    assert tracker.admit([finding("example.com", 0, 50)]) == []


def test_quiet_incidents_are_forgotten() -> None:
    tracker = AlertTracker(quiet_seconds=60)
    tracker.admit([finding("a.example", 0, 10), finding("b.example", 0, 100)])
    tracker.forget_before(T0 + timedelta(seconds=100))
    assert len(tracker) == 1
    assert tracker.admit([finding("a.example", 150, 160)]) != []


def test_the_span_starts_at_a_window_boundary_before_the_latest_message() -> None:
    latest_ns = int((T0 + timedelta(seconds=1000, milliseconds=250)).timestamp()) * NS_PER_SECOND
    span = detection_span(latest_ns, span_seconds=600, window_seconds=60)
    assert span.until is None and span.since is not None
    assert span.since.timestamp() % 60 == 0
    assert T0 + timedelta(seconds=1000 - 660) < span.since <= T0 + timedelta(seconds=1000 - 600)


def test_the_span_reaches_back_to_an_open_incident_but_not_without_bound() -> None:
    latest = T0 + timedelta(hours=2)
    latest_ns = int(latest.timestamp()) * NS_PER_SECOND
    tracker = AlertTracker(quiet_seconds=600)
    tracker.admit([finding("example.com", 3600 + 17, 7200)])  # open: seen up to the latest message
    open_since = tracker.open_since(latest, 60)
    assert open_since == T0 + timedelta(seconds=3617)
    span = detection_span(latest_ns, span_seconds=600, window_seconds=60, open_since=open_since)
    assert span.since == T0 + timedelta(seconds=3600)  # the window holding the incident's first message
    far = detection_span(latest_ns, span_seconds=60, window_seconds=60, open_since=open_since)
    assert far.since == latest - timedelta(seconds=MAX_LOOKBACK_SPANS * 60)
    # An incident quiet for more than two windows no longer holds the span back.
    assert tracker.open_since(latest + timedelta(seconds=121), 60) is None


def test_an_alert_reads_as_one_line_or_one_json_object() -> None:
    found = finding("example.com", 0, 10, peak_qps=2000.5)
    line = alert_line(found)
    assert line == (
        "ALERT high DDOS.RANDOM_SUBDOMAIN example.com since 2024-05-01T10:00:00+00:00: "
        "Random-subdomain flood against a zone: example.com (peak 2000.5 q/s)"
    )
    record = json.loads(alert_json(found))
    assert record["event"] == "alert"
    assert record["finding"]["finding_id"] == found.finding_id
    assert record["finding"]["evidence"] == {"peak_qps": 2000.5}
    assert record["finding"]["first_seen"] == "2024-05-01T10:00:00+00:00"
