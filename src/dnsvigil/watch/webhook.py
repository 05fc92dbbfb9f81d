"""Post each new finding as JSON to a webhook, from a thread of its own so that a slow receiver never
holds up storing. Each post has a bounded timeout; a failure is told and counted, never fatal; posts
waiting are bounded too (beyond, they count as failed)."""

from __future__ import annotations

import json
import queue
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable

from dnsvigil import __version__
from dnsvigil.errors import UsageError
from dnsvigil.findings import Finding
from dnsvigil.watch.alerts import finding_json

DEFAULT_TIMEOUT_SECONDS = 5.0
MAX_WAITING_POSTS = 1000


def checked_url(url: str) -> str:
    """`url` when it is an http or https URL with a host.

    Raises:
        UsageError: it is not.
    """
    parts = urllib.parse.urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise UsageError(
            f"--alert-webhook must be an http:// or https:// URL, got {url!r}",
            hint="e.g. --alert-webhook https://alerts.example.net/hooks/dns",
        )
    return url


class WebhookSender:
    """Posts findings to `url` in the background.

    Args:
        url: the webhook (http or https).
        notice: tells the user about a failed post.
        counted: called with True for each post delivered (2xx), False for each that failed.
        timeout: seconds one post may take.

    Raises:
        UsageError: `url` is not an http or https URL.
    """

    def __init__(
        self,
        url: str,
        *,
        notice: Callable[[str], None],
        counted: Callable[[bool], None],
        timeout: float = DEFAULT_TIMEOUT_SECONDS,
    ) -> None:
        self._url = checked_url(url)
        self._notice = notice
        self._counted = counted
        self._timeout = timeout
        self._waiting: queue.Queue[Finding | None] = queue.Queue(maxsize=MAX_WAITING_POSTS)
        self._thread = threading.Thread(target=self._run, name="webhook", daemon=True)
        self._thread.start()

    def send(self, finding: Finding) -> None:
        """Post `finding` soon; when too many posts wait, it counts as failed at once."""
        try:
            self._waiting.put_nowait(finding)
        except queue.Full:
            self._notice(f"webhook {self._url}: {MAX_WAITING_POSTS} posts waiting; {finding.code} not posted")
            self._counted(False)

    def close(self, *, wait_seconds: float = 2 * DEFAULT_TIMEOUT_SECONDS) -> None:
        """Post what waits, for at most about `wait_seconds` more; what is left then counts as failed."""
        deadline = time.monotonic() + wait_seconds
        while True:
            try:
                self._waiting.put(None, timeout=max(deadline - time.monotonic(), 0.01))
                break
            except queue.Full:
                if time.monotonic() >= deadline:
                    break
        self._thread.join(max(deadline - time.monotonic(), 0.0))
        while True:
            try:
                left = self._waiting.get_nowait()
            except queue.Empty:
                break
            if left is not None:
                self._counted(False)

    def _run(self) -> None:
        while (finding := self._waiting.get()) is not None:
            self._counted(self._post(finding))

    def _post(self, finding: Finding) -> bool:
        body = json.dumps(finding_json(finding), sort_keys=True, default=str).encode()
        request = urllib.request.Request(
            self._url,
            data=body,
            method="POST",
            headers={"Content-Type": "application/json", "User-Agent": f"dnsvigil/{__version__}"},
        )
        try:
            with urllib.request.urlopen(request, timeout=self._timeout) as response:
                response.read(1 << 16)
                return True
        except urllib.error.HTTPError as error:
            problem = f"it answered HTTP {error.code} {error.reason}"
        except (urllib.error.URLError, OSError, ValueError) as error:
            problem = f"{getattr(error, 'reason', error)}"
        self._notice(f"webhook {self._url}: could not post {finding.code} {finding.subject} ({problem})")
        return False
