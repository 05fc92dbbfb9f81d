"""The watcher's running counts: the longest pause of receiving is kept, told in JSON and in text."""

from __future__ import annotations

import json

import pytest

from dnsvigil.watch.stats import WatchStats, WatchSummary


def test_the_longest_receive_pause_is_kept_and_reported() -> None:
    stats = WatchStats("unix:/run/tap.sock", clock=lambda: 10.0)
    assert stats.summary().longest_receive_pause_ms is None
    assert stats.summary().to_json()["longest_receive_pause_ms"] is None
    for seconds in (0.004, 0.031, -0.001, 0.012):
        stats.receive_paused(seconds)
    summary = stats.summary()
    assert summary.longest_receive_pause_ms is not None
    assert round(summary.longest_receive_pause_ms, 3) == 31.0
    assert summary.to_json()["longest_receive_pause_ms"] == 31.0
    assert "receiving paused at most 31.0 ms" in summary.to_text()


def test_a_negative_lateness_counts_as_no_pause() -> None:
    stats = WatchStats("unix:/run/tap.sock")
    stats.receive_paused(-0.0005)
    assert stats.summary().longest_receive_pause_ms == 0.0


def test_the_receiving_process_counts_cross_as_json_and_add_to_the_watchers() -> None:
    receiving = WatchStats("dnstap", clock=lambda: 10.0)
    receiving.add(received=7, dropped=2)
    receiving.add_reasons(malformed={"dns_too_short": 1}, skipped={"dnstap_no_dns_message": 3})
    receiving.peer_connected("peer 1 (pid 9)")
    receiving.peer_received("peer 1 (pid 9)", messages=7, size=900)
    receiving.peer_error("peer 1 (pid 9)", "cut")
    receiving.peer_ended("peer 1 (pid 9)", "disconnected")
    receiving.receive_paused(0.004)
    sent = receiving.summary()
    assert WatchSummary.from_json(json.loads(json.dumps(sent.to_json()))) == sent
    watcher = WatchStats("dnstap")
    watcher.add(stored=5, dropped=1)
    watcher.receive_paused(0.001)
    watcher.absorb(sent)
    summary = watcher.summary()
    assert (summary.received, summary.stored, summary.dropped) == (7, 5, 3)
    assert summary.malformed == {"dns_too_short": 1} and summary.skipped == {"dnstap_no_dns_message": 3}
    assert summary.peers == sent.peers
    assert summary.longest_receive_pause_ms == pytest.approx(4.0)
