"""Web load benchmark: `dnsvigil serve` on loopback over the demo warehouse, timed page by page, then
loaded by concurrent API clients for a bounded time.

Two parts, one run, results in `benchmarks/WEB.md`:

1. Pages: each dashboard page requested alone, one after another (median and worst of `--page-rounds`
   requests, after one warm-up), in English and Arabic: the server time a reader waits for.
2. Load: `--clients` asyncio clients (httpx) for `--seconds`, each cycling through a mix of open-data and
   authenticated API routes; requests per second and p50/p99 latency per route.

The server is a child process, ended whatever happens; a user is added for the run and removed after.

    .venv/bin/python benchmarks/web.py                 # 45 s of load, 8 clients
    .venv/bin/python benchmarks/web.py --seconds 10 --out benchmarks/scratch/WEB-quick.md
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import socket
import statistics
import subprocess
import sys
import time
from collections import defaultdict
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import httpx

HERE = Path(__file__).resolve().parent
SCRATCH = HERE / "scratch"
DNSVIGIL = [sys.executable, "-m", "dnsvigil"]
USER = "web-bench"
DOMAIN = "lndirxqxbeg.com"
"""A domain of the demo's findings (a DGA domain its infected clients resolve): every section of a domain
search has something to look at."""
PAGES = (
    "/",
    "/traffic",
    "/abuse",
    "/findings",
    "/dga",
    "/search?q=192.0.2.172",
    f"/search?q={DOMAIN}",
    "/login",
)
NAMES = ["wikipedia.org", "qxvzkjhtrwpl.com", "mail.example.com", "kjdhfgqwoeiruty.net"] * 5


@dataclass(frozen=True, slots=True)
class Route:
    """One request of the load mix: a name for the report, and whether it needs the token."""

    name: str
    method: str
    path: str
    authenticated: bool
    body: dict[str, list[str]] | None = None


MIX = (
    Route("health", "GET", "/api/v1/health", False),
    Route("findings summary", "GET", "/api/v1/findings/summary", False),
    Route("traffic overview", "GET", "/api/v1/traffic/overview", False),
    Route("abuse rates", "GET", "/api/v1/abuse/rates?period_kind=month&limit=100", False),
    Route("findings page", "GET", "/api/v1/findings?limit=50", True),
    Route("search (IP)", "GET", "/api/v1/search?q=192.0.2.172", True),
    Route("search (domain)", "GET", f"/api/v1/search?q={DOMAIN}", True),
    Route("DGA scores (20 names)", "POST", "/api/v1/dga/scores", True, {"names": NAMES}),
)


@dataclass(slots=True)
class Tally:
    """Latencies (seconds) and failures of one route."""

    latencies: list[float] = field(default_factory=list)
    failures: int = 0


def _cli(*args: str) -> str:
    run = subprocess.run([*DNSVIGIL, *args], capture_output=True, text=True, check=False)
    if run.returncode != 0:
        raise SystemExit(f"dnsvigil {' '.join(args)} failed: {run.stderr.strip()}")
    return run.stdout


def _warehouse(home: Path | None) -> Path:
    if home is not None:
        return home
    out = SCRATCH / "web-demo"
    if not (out / "warehouse" / "catalog.json").exists():
        print(f"building the demo warehouse in {out} (about a minute)", file=sys.stderr)
        _cli("demo", "--out", str(out), "--quiet")
    return out / "warehouse"


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    return port


@contextmanager
def _server(home: Path) -> Iterator[str]:
    port = _free_port()
    environment = {key: value for key, value in os.environ.items() if not key.startswith("DNSVIGIL_")}
    process = subprocess.Popen(
        [*DNSVIGIL, "serve", "--home", str(home), "--port", str(port), "-q"],
        env=environment,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                if httpx.get(f"{base}/api/v1/health", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                if process.poll() is not None or time.monotonic() > deadline:
                    raise SystemExit("dnsvigil serve did not start") from None
                time.sleep(0.1)
        yield base
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@contextmanager
def _user(home: Path) -> Iterator[str]:
    token: str = json.loads(_cli("users", "add", USER, "--home", str(home), "--json"))["token"]
    try:
        yield token
    finally:
        _cli("users", "remove", USER, "--home", str(home), "-q")


def _time_pages(base: str, token: str, rounds: int) -> list[tuple[str, str, float, float]]:
    """(page, language, median ms, worst ms) of each page requested alone, after one warm-up."""
    rows = []
    with httpx.Client(base_url=base, timeout=30) as client:
        login = client.post("/login", data={"token": token}, headers={"Origin": base})
        if login.status_code != 303:
            raise SystemExit(f"could not log in: {login.status_code}")
        for language in ("en", "ar"):
            for page in PAGES:
                path = page + ("&" if "?" in page else "?") + f"lang={language}"
                client.get(path)
                times = []
                for _ in range(rounds):
                    started = time.perf_counter()
                    response = client.get(path)
                    times.append((time.perf_counter() - started) * 1000)
                    if response.status_code != 200:
                        raise SystemExit(f"{path} answered {response.status_code}")
                rows.append((page, language, statistics.median(times), max(times)))
    return rows


async def _client(base: str, token: str, deadline: float, offset: int, tallies: dict[str, Tally]) -> None:
    headers = {"Authorization": f"Bearer {token}"}
    async with httpx.AsyncClient(base_url=base, timeout=30) as client:
        index = offset
        while time.monotonic() < deadline:
            route = MIX[index % len(MIX)]
            index += 1
            started = time.perf_counter()
            try:
                response = await client.request(
                    route.method,
                    route.path,
                    json=route.body,
                    headers=headers if route.authenticated else None,
                )
                ok = response.status_code == 200
            except httpx.HTTPError:
                ok = False
            tally = tallies[route.name]
            tally.latencies.append(time.perf_counter() - started)
            tally.failures += not ok


async def _load(base: str, token: str, clients: int, seconds: float) -> tuple[dict[str, Tally], float]:
    tallies: dict[str, Tally] = defaultdict(Tally)
    started = time.monotonic()
    deadline = started + seconds
    await asyncio.gather(*(_client(base, token, deadline, offset, tallies) for offset in range(clients)))
    return tallies, time.monotonic() - started


def _percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))] * 1000


def _machine() -> list[str]:
    cpu = next(
        (
            line.split(":", 1)[1].strip()
            for line in Path("/proc/cpuinfo").read_text().splitlines()
            if line.startswith("model name")
        ),
        platform.processor() or "unknown",
    )
    version = _cli("--version").strip()
    return [
        f"- date: {datetime.now(UTC):%Y-%m-%d %H:%M} UTC",
        f"- CPU: {cpu}, {os.cpu_count()} cores; load average before the run: "
        + ", ".join(f"{value:.2f}" for value in os.getloadavg()),
        f"- Python {platform.python_version()}, {platform.system()} {platform.release()}; {version}",
    ]


def _report(
    tables: dict[str, int],
    files: int,
    pages: list[tuple[str, str, float, float]],
    tallies: dict[str, Tally],
    elapsed: float,
    args: argparse.Namespace,
    machine: list[str],
) -> str:
    lines = [
        "# Web app: page times and API load",
        "",
        "Made by `benchmarks/web.py` against `dnsvigil serve` on loopback over the demo warehouse (`dnsvigil",
        f"demo`: {tables['dns_messages']:,} DNS messages, {tables['findings']:,} findings,"
        f" {tables['abuse_rates']:,} abuse rates; {files:,} Parquet files).",
        "",
        *machine,
        "",
        f"## Pages (one request at a time, median and worst of {args.page_rounds}, signed in)",
        "",
        "| page | language | median ms | worst ms |",
        "|---|---|---:|---:|",
        *(
            f"| `{page}` | {language} | {median:.0f} | {worst:.0f} |"
            for page, language, median, worst in pages
        ),
        "",
        f"## API load ({args.clients} concurrent clients, {elapsed:.0f} s, each cycling through the mix)",
        "",
        "| route | requests | req/s | p50 ms | p99 ms | failed |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    total = 0
    for route in MIX:
        tally = tallies[route.name]
        count = len(tally.latencies)
        total += count
        lines.append(
            f"| {route.name}{' (token)' if route.authenticated else ''} | {count} | {count / elapsed:.1f} |"
            f" {_percentile(tally.latencies, 0.5):.0f} | {_percentile(tally.latencies, 0.99):.0f} |"
            f" {tally.failures} |"
        )
    lines += ["", f"All routes: {total} requests, {total / elapsed:.1f} requests/s.", ""]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--home", type=Path, help="warehouse to serve (default: a demo one in scratch/)")
    parser.add_argument("--seconds", type=float, default=45.0, help="length of the load run")
    parser.add_argument("--clients", type=int, default=8, help="concurrent API clients")
    parser.add_argument("--page-rounds", type=int, default=7, help="requests per page for the page times")
    parser.add_argument("--out", type=Path, default=HERE / "WEB.md", help="where the Markdown goes")
    args = parser.parse_args()
    if not 1 <= args.seconds <= 600 or not 1 <= args.clients <= 256:
        parser.error("--seconds must be 1..600 and --clients 1..256")
    home = _warehouse(args.home)
    machine = _machine()
    files = sum(
        table["files"] for table in json.loads(_cli("info", "--home", str(home), "--json"))["tables"].values()
    )
    with _user(home) as token, _server(home) as base:
        tables = httpx.get(f"{base}/api/v1/").json()["tables"]
        pages = _time_pages(base, token, args.page_rounds)
        tallies, elapsed = asyncio.run(_load(base, token, args.clients, args.seconds))
    report = _report(tables, files, pages, tallies, elapsed, args, machine)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(report, encoding="utf-8")
    print(report)


if __name__ == "__main__":
    main()
