"""Integration: Knot DNS sends dnstap to `dnsvigil watch dnstap` while dnsperf drives it, on the loopback.

Ordinary lookups first (no finding may fire), then a random-subdomain flood against the test zone
(unique random labels, all NXDOMAIN): DDOS.RANDOM_SUBDOMAIN must fire within seconds, be printed as a
JSON line, stored, and posted to the webhook. Every load is bounded in count and time; knotd, dnsperf
and the watcher are killed whatever happens. Thresholds are set for a short test: one-second windows, and
a query-flood floor above the ordinary rate.
"""

from __future__ import annotations

import json
import os
import random
import re
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path
from typing import ClassVar

import pytest

from tests.watch.support import stored_rows, wait_for

ZONE = "example.com"
ORDINARY_QPS, ORDINARY_SECONDS = 300, 4
FLOOD_QPS, FLOOD_SECONDS, FLOOD_NAMES = 2000, 5, 12_000
WATCH_ENVIRONMENT = {
    "DNSVIGIL_TRAFFIC_WINDOW_SECONDS": "1",
    "DNSVIGIL_QUERY_FLOOD_MIN_QPS": "1000",
    "DNSVIGIL_WATCH_BATCH_SECONDS": "1",
    "DNSVIGIL_WATCH_DETECTION_WINDOW_SECONDS": "30",
}
ZONE_FILE = f"""$ORIGIN {ZONE}.
$TTL 300
@    SOA   ns1 hostmaster 1 3600 900 604800 300
@    NS    ns1
@    MX    10 mail
ns1  A     127.0.0.1
www  A     192.0.2.10
www  AAAA  2001:db8::10
mail A     192.0.2.20
ftp  CNAME www
"""
KNOT_CONF = """server:
    rundir: "{rundir}"
    listen: 127.0.0.1@{port}
    udp-workers: 1
    tcp-workers: 1
    background-workers: 1
log:
  - target: stderr
    any: info
database:
    storage: "{storage}"
mod-dnstap:
  - id: tap
    sink: "unix:{socket}"
    log-queries: on
    log-responses: on
template:
  - id: default
    storage: "{zones}"
    global-module: mod-dnstap/tap
zone:
  - domain: {zone}.
    file: {zone}.zone
"""


def required(command: str, package: str) -> str:
    """A Debian tool the test needs; missing, the test fails (a skip would pass unseen)."""
    path = shutil.which(command) or shutil.which(command, path="/usr/sbin:/sbin")
    if path is None:
        pytest.fail(f"{command} is not installed: `make test` installs it (Debian package {package})")
    return path


def free_port() -> int:
    """A loopback port free for both UDP and TCP now."""
    for _ in range(50):
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as udp:
            udp.bind(("127.0.0.1", 0))
            port = int(udp.getsockname()[1])
            with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as tcp:
                try:
                    tcp.bind(("127.0.0.1", port))
                except OSError:
                    continue
                return port
    raise AssertionError("no free loopback port")


class Lines:
    """The lines a process writes to one stream, with when each arrived, read by a thread."""

    def __init__(self, stream: object) -> None:
        self.lines: list[tuple[float, str]] = []
        self._thread = threading.Thread(target=self._read, args=(stream,), daemon=True)
        self._thread.start()

    def _read(self, stream: object) -> None:
        for line in stream:  # type: ignore[attr-defined]
            self.lines.append((time.monotonic(), line.rstrip("\n")))

    def has(self, text: str) -> bool:
        return any(text in line for _, line in self.lines)

    def text(self) -> str:
        return "\n".join(line for _, line in self.lines)

    def finish(self) -> None:
        self._thread.join(10)


class _Hook(BaseHTTPRequestHandler):
    posts: ClassVar[list[dict[str, object]]] = []

    def do_POST(self) -> None:
        type(self).posts.append(json.loads(self.rfile.read(int(self.headers["Content-Length"]))))
        self.send_response(204)
        self.end_headers()

    def log_message(self, format: str, *args: object) -> None:
        """Keep the test output clean."""


@pytest.fixture
def webhook() -> Iterator[tuple[str, list[dict[str, object]]]]:
    server = HTTPServer(("127.0.0.1", 0), _Hook)
    _Hook.posts = []
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}/alerts", _Hook.posts
    finally:
        server.shutdown()
        server.server_close()


def stop(process: subprocess.Popen[str]) -> None:
    """End a process we started: politely, then for good."""
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(10)


def dnsperf(binary: str, port: int, names: Path, *, qps: int, seconds: int) -> int:
    """Run dnsperf once through `names` at most, bounded in rate and time; return the queries completed."""
    completed = subprocess.run(
        [binary, "-s", "127.0.0.1", "-p", str(port), "-d", str(names), "-c", "1", "-T", "1",
         "-n", "1", "-l", str(seconds), "-Q", str(qps), "-t", "2"],
        capture_output=True, text=True, timeout=seconds + 30, check=False,
    )  # fmt: skip
    assert completed.returncode == 0, completed.stderr + completed.stdout
    found = re.search(r"Queries completed:\s+(\d+)", completed.stdout)
    assert found is not None, completed.stdout
    return int(found.group(1))


def test_knot_dnstap_flood_fires_random_subdomain_within_seconds(
    home: Path, tmp_path: Path, socket_path: Path, webhook: tuple[str, list[dict[str, object]]]
) -> None:
    knotd = required("knotd", "knot")
    dnsperf_binary = required("dnsperf", "dnsperf")
    port = free_port()
    zones, storage, rundir = tmp_path / "zones", tmp_path / "storage", socket_path.parent / "run"
    for folder in (zones, storage, rundir):
        folder.mkdir()
    (zones / f"{ZONE}.zone").write_text(ZONE_FILE)
    conf = tmp_path / "knot.conf"
    conf.write_text(
        KNOT_CONF.format(
            rundir=rundir, port=port, storage=storage, socket=socket_path, zones=zones, zone=ZONE
        )
    )
    ordinary = tmp_path / "ordinary.txt"
    # Names that exist, and one typo (NXDOMAIN), cycled: an ordinary, steady mix.
    ordinary.write_text(
        "".join(f"{name} {qtype}\n" for name, qtype in [
            (f"www.{ZONE}", "A"), (f"www.{ZONE}", "AAAA"), (f"mail.{ZONE}", "A"), (ZONE, "MX"),
            (f"ftp.{ZONE}", "A"), (f"ns1.{ZONE}", "A"), (f"wwww.{ZONE}", "A"),
        ]) * 250
    )  # fmt: skip
    rng = random.Random(53)
    alphabet = "abcdefghijklmnopqrstuvwxyz0123456789"
    labels = {"".join(rng.choice(alphabet) for _ in range(12)) for _ in range(FLOOD_NAMES)}
    flood = tmp_path / "flood.txt"
    flood.write_text("".join(f"{label}.{ZONE} A\n" for label in sorted(labels)))

    environment = {key: value for key, value in os.environ.items() if not key.startswith("DNSVIGIL_")}
    environment.update(WATCH_ENVIRONMENT)
    hook_url, posts = webhook
    watcher = subprocess.Popen(
        [sys.executable, "-m", "dnsvigil", "watch", "dnstap", "--socket", str(socket_path),
         "--home", str(home), "--json", "--max-seconds", "120", "--alert-webhook", hook_url],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=environment,
    )  # fmt: skip
    knot: subprocess.Popen[str] | None = None
    try:
        out, err = Lines(watcher.stdout), Lines(watcher.stderr)
        wait_for(socket_path.is_socket, seconds=30, what="the watcher's socket")
        knot = subprocess.Popen(
            [knotd, "-c", str(conf)], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
        )
        knot_log = Lines(knot.stdout)
        try:
            wait_for(
                lambda: knot_log.has("server started") and err.has("connected"), seconds=30, what="knotd"
            )
        except AssertionError:
            raise AssertionError(
                "knotd did not start or did not connect (is Debian's knot-module-dnstap installed?):\n"
                + knot_log.text()
            ) from None

        ordinary_done = dnsperf(dnsperf_binary, port, ordinary, qps=ORDINARY_QPS, seconds=ORDINARY_SECONDS)
        time.sleep(3)  # two batches and two detection runs over the ordinary traffic
        assert out.lines == [], f"a finding fired on ordinary traffic: {out.text()}"

        flood_started, flood_wall = time.monotonic(), time.time()
        flood_done = dnsperf(dnsperf_binary, port, flood, qps=FLOOD_QPS, seconds=FLOOD_SECONDS)
        flood_seconds = time.monotonic() - flood_started
        wait_for(lambda: out.has("DDOS.RANDOM_SUBDOMAIN"), seconds=15, what="DDOS.RANDOM_SUBDOMAIN")
        fired_at = next(moment for moment, line in out.lines if "DDOS.RANDOM_SUBDOMAIN" in line)

        stop(knot)  # knotd closes its dnstap stream with STOP, and the watcher answers FINISH
        wait_for(lambda: err.has("sent STOP"), seconds=15, what="knotd's STOP")
        wait_for(lambda: bool(posts), seconds=15, what="the webhook post")
        watcher.send_signal(signal.SIGTERM)
        watcher.wait(60)
        out.finish()
        err.finish()
    finally:
        if knot is not None:
            stop(knot)
        stop(watcher)

    assert watcher.returncode == 0, err.text()
    *alerts, summary_line = [json.loads(line) for _, line in out.lines]
    summary = summary_line
    assert summary["event"] == "summary"
    latency = fired_at - flood_started
    flood_rate = flood_done / flood_seconds
    print(
        f"\nknot: {ordinary_done} ordinary + {flood_done} flood queries; the watcher received "
        f"{summary['received']} messages, stored {summary['stored']}, dropped {summary['dropped']}; flood "
        f"{flood_rate:.0f} q/s = {2 * flood_rate:.0f} dnstap messages/s; alert {latency:.1f} s into the flood"
    )
    assert latency < FLOOD_SECONDS + 3, f"DDOS.RANDOM_SUBDOMAIN fired {latency:.1f} s after the flood began"
    flooded = [alert["finding"] for alert in alerts if alert["finding"]["code"] == "DDOS.RANDOM_SUBDOMAIN"]
    assert [finding["subject"] for finding in flooded] == [ZONE]
    assert flooded[0]["evidence"]["failure_share"] > 0.95
    # Nothing fired on the ordinary traffic: every alert's traffic began with the flood.
    assert all(alert["finding"]["first_seen"] >= _iso(flood_wall - 1) for alert in alerts), alerts
    # Every query and response Knot sent was received and stored, none dropped or lost.
    assert (summary["dropped"], summary["lost"], summary["peer_errors"]) == (0, 0, 0)
    assert summary["stored"] == summary["received"] >= 0.98 * 2 * (ordinary_done + flood_done)
    assert [peer["state"] for peer in summary["peers"]] == ["finished"]
    assert stored_rows(home) == summary["stored"]
    assert stored_rows(home, f"qr AND rcode = 3 AND qname LIKE '%.{ZONE}'") >= 0.98 * flood_done
    assert any(post["code"] == "DDOS.RANDOM_SUBDOMAIN" and post["subject"] == ZONE for post in posts)


def _iso(seconds: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(seconds))
