"""Abuse feeds: listings reduced to registrable domains, threats normalised, bad lines counted by reason."""

from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path

from dnsvigil.ingest.abuse_feeds import FeedFormat, feed_source
from tests.ingest import registration_samples as samples
from tests.ingest.table_rows import read_all

DAY = date(2024, 1, 2)


def listings(tmp_path: Path, fmt: FeedFormat, text: str) -> tuple[list[dict[str, object]], object]:
    path = tmp_path / f"{fmt}.txt"
    path.write_text(text, encoding="utf-8")
    rows, tally = read_all(feed_source(path, fmt=fmt, observed=DAY))
    assert set(rows.column("observed").to_pylist()) <= {DAY}
    return rows.to_pylist(), tally


def test_urlhaus(tmp_path: Path) -> None:
    rows, tally = listings(tmp_path, "urlhaus", samples.URLHAUS)
    assert [(row["domain"], row["threat"], row["online"]) for row in rows] == [
        ("example.com", "malware", True),
        ("user.blogspot.com", "malware", False),
    ]
    assert rows[0]["url"] == "http://malware-drop.example.com/bins/x86" and rows[0]["feed_entry"] == "2763141"
    assert rows[0]["first_seen"] == datetime(2024, 1, 2, 9, 55, 6, tzinfo=UTC)
    assert rows[1]["private_suffix"] is True and rows[0]["private_suffix"] is False
    assert tally.skipped == {"ip_address": 1}  # type: ignore[attr-defined]
    assert tally.malformed == {"bad_domain": 1, "unknown_threat": 1, "wrong_field_count": 1}  # type: ignore[attr-defined]


def test_phishtank(tmp_path: Path) -> None:
    rows, tally = listings(tmp_path, "phishtank", samples.PHISHTANK)
    assert [(row["domain"], row["tld"], row["online"], row["target"]) for row in rows] == [
        ("paypa1-verify.com", "com", True, "PayPal"),
        ("bank-update.co.uk", "uk", False, "Other"),
    ]
    assert {row["threat"] for row in rows} == {"phishing"} and {row["feed"] for row in rows} == {"phishtank"}
    assert tally.skipped == {"unverified": 1} and tally.malformed == {"bad_time": 1}  # type: ignore[attr-defined]


def test_openphish(tmp_path: Path) -> None:
    rows, tally = listings(tmp_path, "openphish", samples.OPENPHISH)
    assert [row["domain"] for row in rows] == ["example-secure.com", "xn--pypal-4ve.com", "google.com"]
    assert tally.skipped == {"ip_address": 1} and tally.malformed == {"bad_url": 1}  # type: ignore[attr-defined]


def test_dbl(tmp_path: Path) -> None:
    rows, tally = listings(tmp_path, "dbl", samples.DBL)
    assert [(row["domain"], row["threat"], row["abused_legitimate"], row["url"]) for row in rows] == [
        ("example.com", "spam", False, None),
        ("example.net", "phishing", False, None),
        ("example.org", "phishing", True, None),
        ("example.info", "botnet_cc", False, None),
    ]
    assert tally.malformed == {"bad_return_code": 1}  # type: ignore[attr-defined]


def test_generic(tmp_path: Path) -> None:
    rows, tally = listings(tmp_path, "generic", samples.GENERIC)
    assert [(row["domain"], row["threat"], row["feed"]) for row in rows] == [
        ("example.com", "phishing", "partner-cert"),
        ("example.net", "botnet_cc", "generic"),
        ("example.org", "spam", "partner-cert"),
    ]
    assert rows[1]["url"] == "http://c2.example.net:443/gate.php" and rows[0]["url"] is None
    assert rows[0]["last_seen"] == datetime(2024, 1, 2, tzinfo=UTC)
    assert tally.malformed == {"unknown_threat": 1}  # type: ignore[attr-defined]


def test_a_csv_feed_read_as_openphish_gives_nothing(tmp_path: Path) -> None:
    rows, tally = listings(tmp_path, "openphish", samples.PHISHTANK)
    assert rows == [] and sum(tally.malformed.values()) == 5  # type: ignore[attr-defined]
