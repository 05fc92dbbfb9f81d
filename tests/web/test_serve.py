"""`dnsvigil serve` as a user runs it: a real process on loopback, answering within 3 seconds; and
`dnsvigil users`, which hands out the tokens."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time

import anyio
import httpx

from dnsvigil.dga.model import load_model
from dnsvigil.web.app import create_app
from tests.cli.runner import dnsvigil
from tests.web.conftest import WebWorld

STARTUP_SECONDS = 60.0  # a bound for a loaded machine, not the start-up target


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    return port


def test_serve_answers_on_loopback(world: WebWorld) -> None:
    # How fast it starts is measured by benchmarks/web.py; here it need only start, on a loaded machine too.
    port = free_port()
    environment = {key: value for key, value in os.environ.items() if not key.startswith("DNSVIGIL_")}
    started = time.monotonic()
    server = subprocess.Popen(
        [sys.executable, "-m", "dnsvigil", "serve", "--home", str(world.home), "--port", str(port), "-q"],
        env=environment,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    try:
        answer = None
        while answer is None and time.monotonic() - started < STARTUP_SECONDS:
            try:
                answer = httpx.get(f"http://127.0.0.1:{port}/api/v1/health", timeout=0.5)
            except httpx.TransportError:
                assert server.poll() is None, server.communicate()[1].decode()
                time.sleep(0.05)
        elapsed = time.monotonic() - started
        assert answer is not None, f"no answer within {STARTUP_SECONDS} s"
        assert answer.json() == {"status": "ok"}, elapsed
        findings = httpx.get(
            f"http://127.0.0.1:{port}/api/v1/findings?limit=1",
            headers={"Authorization": f"Bearer {world.analyst_token}"},
        )
        assert findings.status_code == 200 and len(findings.json()["items"]) == 1
        assert httpx.get(f"http://127.0.0.1:{port}/api/v1/findings").status_code == 401
    finally:
        server.terminate()
        server.wait(timeout=10)


def test_serve_refuses_a_folder_without_a_warehouse(tmp_path: object) -> None:
    run = dnsvigil("serve", "--home", str(tmp_path), "--port", str(free_port()))
    assert run.exit_code == 1 and "no dnsvigil warehouse" in run.stderr


def test_users_add_prints_the_token_once(world: WebWorld) -> None:
    run = dnsvigil("users", "add", "cli-user", "--home", world.home, "-q")
    assert run.exit_code == 0, run.stderr
    token = run.stdout.strip()
    assert token.startswith("dv_") and len(token) > 40
    again = dnsvigil("users", "add", "cli-user", "--home", world.home)
    assert again.exit_code == 2 and "exists already" in again.stderr
    listed = dnsvigil("users", "list", "--home", world.home, "--json")
    assert {"name": "cli-user", "role": "analyst"}.items() <= next(
        user for user in json.loads(listed.stdout) if user["name"] == "cli-user"
    ).items()
    assert token not in listed.stdout and token not in (world.home / "users.json").read_text()
    assert dnsvigil("users", "remove", "cli-user", "--home", world.home, "-q").exit_code == 0
    assert dnsvigil("users", "remove", "cli-user", "--home", world.home).exit_code == 2


def test_the_dga_model_is_loaded_when_serving_starts_not_at_the_first_request(world: WebWorld) -> None:
    load_model.cache_clear()
    app = create_app(world.home)

    async def serve_a_while() -> bool:
        async with app.router.lifespan_context(app):
            deadline = time.monotonic() + STARTUP_SECONDS
            while time.monotonic() < deadline:
                if load_model.cache_info().currsize:
                    return True
                await anyio.sleep(0.05)
        return False

    assert anyio.run(serve_a_while)
