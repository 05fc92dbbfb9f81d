"""`dnsvigil watch` as a user runs it: help, stopping by itself or on SIGTERM, JSON lines, bad options."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from dnsvigil.cli import watch as watch_cli
from tests.cli.runner import dnsvigil
from tests.ingest import dnstap_builder as b
from tests.watch.support import connect, frames, send_bidirectional, stored_rows, wait_for


def start_watcher(*args: str | Path) -> subprocess.Popen[str]:
    environment = {key: value for key, value in os.environ.items() if not key.startswith("DNSVIGIL_")}
    return subprocess.Popen(
        [sys.executable, "-m", "dnsvigil", "watch", *map(str, args)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=environment,
    )


def test_help_teaches_with_examples() -> None:
    group = dnsvigil("watch", "--help")
    assert group.exit_code == 0 and "dnstap" in group.stdout and "pcap" in group.stdout
    receive = dnsvigil("watch", "dnstap", "--help")
    assert receive.exit_code == 0
    for text in (
        "Examples",
        "--socket",
        "mod-dnstap",
        "dnstap-socket-path",
        "--alert-webhook",
        "--max-seconds",
    ):
        assert text in receive.stdout
    follow = dnsvigil("watch", "pcap", "--help")
    assert (
        follow.exit_code == 0
        and "tcpdump" in follow.stdout
        and "DNSVIGIL_WATCH_SETTLE_SECONDS" in follow.stdout
    )


def test_max_messages_stops_it_and_json_lines_end_with_the_summary(home: Path, socket_path: Path) -> None:
    watcher = start_watcher(
        "dnstap", "--socket", socket_path, "--home", home, "--max-messages", "20", "--json"
    )
    try:
        wait_for(socket_path.is_socket, what="the socket")
        with connect(socket_path) as sender:
            sender.sendall(b.control_frame(b.START) + b"".join(b.data_frame(p) for p in frames(25)))
            out, err = watcher.communicate(timeout=60)
    finally:
        watcher.kill()
    assert watcher.returncode == 0, err
    summary = json.loads(out.splitlines()[-1])
    assert summary["event"] == "summary"
    assert (summary["received"], summary["stored"], summary["dropped"], summary["lost"]) == (20, 20, 0, 0)
    # How long receiving could not run is measured, and on an idle loop it is short.
    assert isinstance(summary["longest_receive_pause_ms"], float)
    assert 0.0 <= summary["longest_receive_pause_ms"] < summary["seconds"] * 1000
    assert "connected" in err
    assert stored_rows(home) == 20


def test_sigterm_stores_what_was_received_then_stops(home: Path, socket_path: Path) -> None:
    watcher = start_watcher("dnstap", "--socket", socket_path, "--home", home)
    try:
        wait_for(socket_path.is_socket, what="the socket")
        _, finish, _ = send_bidirectional(socket_path, frames(9))  # FINISH: all 9 were read
        assert finish == b.control_frame(b.FINISH)
        watcher.send_signal(signal.SIGTERM)
        out, err = watcher.communicate(timeout=60)
    finally:
        watcher.kill()
    assert watcher.returncode == 0, err
    assert "SIGTERM: storing what was received, then stopping" in err
    assert "9 stored" in out and "0 dropped" in out
    assert stored_rows(home) == 9
    assert not socket_path.exists()


def test_bad_options_are_usage_errors(home: Path, tmp_path: Path, socket_path: Path) -> None:
    missing = dnsvigil("watch", "pcap", "--dir", tmp_path / "nowhere", "--home", home, "--max-seconds", "1")
    assert missing.exit_code == 2 and "no such directory to watch" in missing.stderr
    hook = dnsvigil("watch", "pcap", "--dir", tmp_path, "--home", home, "--alert-webhook", "ftp://x/y")
    assert hook.exit_code == 2 and "--alert-webhook must be an http:// or https:// URL" in hook.stderr
    mode = dnsvigil("watch", "dnstap", "--socket", socket_path, "--home", home, "--socket-mode", "999")
    assert mode.exit_code == 2 and "--socket-mode must be octal" in mode.stderr
    batch = dnsvigil(
        "watch", "dnstap", "--socket", socket_path, "--home", home, env={"DNSVIGIL_WATCH_BATCH_SECONDS": "0"}
    )
    assert batch.exit_code == 2 and "DNSVIGIL_WATCH_BATCH_SECONDS" in batch.stderr
    for niceness in ("20", "-1", "high"):
        nice = dnsvigil(
            "watch", "pcap", "--dir", tmp_path, "--home", home, env={"DNSVIGIL_WATCH_NICE": niceness}
        )
        assert nice.exit_code == 2 and "DNSVIGIL_WATCH_NICE" in nice.stderr, niceness


def test_the_watcher_lowers_its_own_cpu_priority(home: Path, socket_path: Path) -> None:
    """A watcher beside a name server yields the CPU to it: DNSVIGIL_WATCH_NICE is added to its niceness."""
    started_at = os.getpriority(os.PRIO_PROCESS, 0)
    for setting, added in ((None, 10), ("3", 3), ("0", 0)):
        environment = {key: value for key, value in os.environ.items() if not key.startswith("DNSVIGIL_")}
        if setting is not None:
            environment["DNSVIGIL_WATCH_NICE"] = setting
        watcher = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "dnsvigil",
                "watch",
                "dnstap",
                "--socket",
                str(socket_path),
                "--home",
                str(home),
            ],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=environment,
        )
        try:
            # It listens after lowering its priority, so on a busy machine its start-up is slow: a long wait,
            # cut short if it exits.
            def listening_or_gone(process: subprocess.Popen[str] = watcher) -> bool:
                return socket_path.is_socket() or process.poll() is not None

            wait_for(listening_or_gone, seconds=120, what="the socket")
            assert watcher.poll() is None, watcher.communicate()[1]
            niceness = os.getpriority(os.PRIO_PROCESS, watcher.pid)
        finally:
            watcher.send_signal(signal.SIGTERM)
            _, err = watcher.communicate(timeout=60)
        assert watcher.returncode == 0, err
        assert niceness == min(started_at + added, 19), setting
        assert (f"niceness +{added}" in err) == (added > 0), err


def test_a_signal_handler_writes_raw_so_it_cannot_reenter_a_print(
    capfd: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """SIGTERM right after start-up can land while the main thread prints its first line, half-way through
    rich importing its emoji table; a handler printing through rich re-entered that import and failed."""

    class Unprintable:
        def print(self, *args: object, **kwargs: object) -> None:
            raise AssertionError("the handler printed through rich")

    monkeypatch.setattr(watch_cli, "stderr", Unprintable())
    with watch_cli._stop_on_signals() as stop:
        os.kill(os.getpid(), signal.SIGTERM)
        assert stop.wait(5)
        with pytest.raises(KeyboardInterrupt):  # a second signal stops at once
            os.kill(os.getpid(), signal.SIGTERM)
            stop.wait(5)
    assert "SIGTERM: storing what was received, then stopping" in capfd.readouterr().err
