"""The alert webhook: each new finding posted as JSON to a real local HTTP server; failures counted."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, HTTPServer
from typing import ClassVar

import pytest

from dnsvigil.errors import UsageError
from dnsvigil.watch.webhook import WebhookSender, checked_url
from tests.watch.test_alerts import finding


class _Receiver(BaseHTTPRequestHandler):
    posts: ClassVar[list[tuple[str, dict[str, object]]]] = []
    status = 200
    delay = 0.0

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        time.sleep(self.delay)
        type(self).posts.append((self.headers["Content-Type"], json.loads(body)))
        self.send_response(self.status)
        self.end_headers()

    def log_message(self, format: str, *args: object) -> None:
        """Keep the test output clean."""


@pytest.fixture
def receiver() -> Iterator[tuple[str, type[_Receiver]]]:
    """A webhook receiver on 127.0.0.1 at a free port, and its handler class (what it got and answers)."""
    handler = type("Receiver", (_Receiver,), {"posts": [], "status": 200, "delay": 0.0})
    server = HTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}/hook", handler
    finally:
        server.shutdown()
        server.server_close()


def sender_for(url: str, timeout: float = 5.0) -> tuple[WebhookSender, list[bool], list[str]]:
    outcomes: list[bool] = []
    notices: list[str] = []
    return (
        WebhookSender(url, notice=notices.append, counted=outcomes.append, timeout=timeout),
        outcomes,
        notices,
    )


def test_each_finding_is_posted_as_json(receiver: tuple[str, type[_Receiver]]) -> None:
    url, handler = receiver
    sender, outcomes, notices = sender_for(url)
    sender.send(finding("example.com", 0, 10, peak_qps=900.0))
    sender.send(finding("example.net", 5, 15))
    sender.close()
    assert outcomes == [True, True] and notices == []
    (content_type, first), (_, second) = handler.posts
    assert content_type == "application/json"
    assert (first["code"], first["subject"], first["evidence"]) == (
        "DDOS.RANDOM_SUBDOMAIN",
        "example.com",
        {"peak_qps": 900.0},
    )
    assert second["subject"] == "example.net" and second["finding_id"]


def test_a_refusing_or_absent_receiver_is_counted_not_fatal(receiver: tuple[str, type[_Receiver]]) -> None:
    url, handler = receiver
    handler.status = 500
    sender, outcomes, notices = sender_for(url)
    sender.send(finding("example.com", 0, 10))
    sender.close()
    assert outcomes == [False] and "HTTP 500" in notices[0]
    # Nothing listens on port 9 of the loopback (discard): the connection is refused.
    sender, outcomes, notices = sender_for("http://127.0.0.1:9/hook")
    sender.send(finding("example.com", 0, 10))
    sender.close()
    assert outcomes == [False] and "could not post DDOS.RANDOM_SUBDOMAIN example.com" in notices[0]


def test_a_slow_receiver_is_bounded_by_the_timeout(receiver: tuple[str, type[_Receiver]]) -> None:
    url, handler = receiver
    handler.delay = 2.0
    sender, outcomes, notices = sender_for(url, timeout=0.3)
    started = time.monotonic()
    sender.send(finding("example.com", 0, 10))
    sender.close()
    assert time.monotonic() - started < 1.9
    assert outcomes == [False] and "timed out" in notices[0]


def test_only_http_urls_are_taken() -> None:
    assert checked_url("https://hooks.example.net/dns") == "https://hooks.example.net/dns"
    for bad in ("ftp://example.net/x", "hooks.example.net", "http://"):
        with pytest.raises(UsageError, match="--alert-webhook"):
            checked_url(bad)
