"""The watcher's running counts: the longest pause of receiving is kept, told in JSON and in text."""

from __future__ import annotations

from dnsvigil.watch.stats import WatchStats


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
