"""`dnsvigil traffic detect` end to end: captures ingested, detectors run, findings stored once."""

from __future__ import annotations

import json
import random
from pathlib import Path
from typing import Any

import pytest

from tests.cli.runner import dnsvigil
from tests.ingest.dns_builder import TYPE_A, encode_name, message, question, record
from tests.ingest.pcap_builder import NS, Record, ethernet, ipv4, pcap_file, udp

START = 1_700_000_040  # on a minute boundary
SERVER = "198.51.100.53"
VICTIM_ZONE = "victim.example"
FLOOD_START, FLOOD_SECONDS, FLOOD_QPS = 180, 120, 120


def exchange(seconds: float, client: str, name: str, rcode: int, ident: int) -> list[Record]:
    """A query from `client` to the server and its response, as Ethernet/IPv4/UDP frames."""
    asked = question(encode_name(name), TYPE_A)
    answers = [] if rcode else [record(encode_name(name), TYPE_A, bytes([192, 0, 2, 80]))]
    frames = [
        (client, SERVER, 40000 + ident % 20000, 53, message([asked], dns_id=ident)),
        (
            SERVER,
            client,
            53,
            40000 + ident % 20000,
            message([asked], answers, dns_id=ident, qr=True, rcode=rcode),
        ),
    ]
    return [
        Record(
            ethernet(ipv4(src, dst, udp(sport, dport, payload))), ts_ns=round((START + seconds + lag) * NS)
        )
        for (src, dst, sport, dport, payload), lag in zip(frames, (0.0, 0.001), strict=True)
    ]


def flood_capture() -> bytes:
    """Seven minutes of ordinary lookups, with a random-subdomain flood on `victim.example` in minutes 3-4.

    The flood arrives through 30 resolvers in 30 different networks, as open resolvers do, at 4 q/s each.
    """
    rng = random.Random(5)
    records: list[Record] = []
    for index in range(7 * 60 * 3):  # 3 ordinary lookups a second
        client = f"192.0.2.{index % 10 + 1}"
        name = ("www.victim.example", "www.example.com", "mail.example.com")[index % 3]
        records += exchange(index / 3, client, name, 0, index)
    for index in range(FLOOD_SECONDS * FLOOD_QPS):
        label = "".join(rng.choice("abcdefghijklmnopqrstuvwxyz0123456789") for _ in range(12))
        resolver = f"198.18.{index % 30}.53"
        records += exchange(FLOOD_START + index / FLOOD_QPS, resolver, f"{label}.{VICTIM_ZONE}", 3, index)
    records.sort(key=lambda frame: frame.ts_ns)
    return pcap_file(records)


def detect(home: Path, *arguments: str) -> dict[str, Any]:
    run = dnsvigil("traffic", "detect", "--home", home, "--json", *arguments)
    assert run.exit_code == 0, run.stderr
    result: dict[str, Any] = json.loads(run.stdout)
    return result


@pytest.fixture(scope="module")
def flood_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("flood")
    capture = folder / "flood.pcap"
    capture.write_bytes(flood_capture())
    home = folder / "home"
    run = dnsvigil("ingest", "pcap", capture, "--home", home, "--quiet")
    assert run.exit_code == 0, run.stderr
    return home


def test_planted_flood_is_found_and_stored_once(flood_home: Path) -> None:
    result = detect(flood_home)
    assert result["messages"] == 2 * (7 * 60 * 3 + FLOOD_SECONDS * FLOOD_QPS)
    found = {(row["code"], row["subject"]): row for row in result["findings"]}
    # The flood also lifts the zone's NXDOMAIN share far above its own baseline (about zero).
    assert set(found) == {("DDOS.RANDOM_SUBDOMAIN", VICTIM_ZONE), ("DNS.NXDOMAIN_SURGE", VICTIM_ZONE)}
    flood = found[("DDOS.RANDOM_SUBDOMAIN", VICTIM_ZONE)]
    assert flood["first_seen"].startswith("2023-11-14 22:17:00")  # START + 180 s
    assert flood["last_seen"].startswith("2023-11-14 22:18:59")
    evidence = json.loads(flood["evidence"])
    # The zone's own ordinary lookups (one a second) count too.
    assert evidence["peak_qps"] == FLOOD_QPS + 1 and evidence["windows"] == 2
    assert {row["client"] for row in evidence["top_resolvers"]} <= {f"198.18.{n}.53" for n in range(30)}
    assert result["stored"] == 2

    again = detect(flood_home)
    assert again["stored"] == 0 and len(again["findings"]) == 2
    stored = dnsvigil(
        "query", "SELECT code, subject FROM findings ORDER BY ALL", "--format", "json", "--home", flood_home
    )
    assert json.loads(stored.stdout) == [
        {"code": "DDOS.RANDOM_SUBDOMAIN", "subject": VICTIM_ZONE},
        {"code": "DNS.NXDOMAIN_SURGE", "subject": VICTIM_ZONE},
    ]


def test_window_options_select_the_span(flood_home: Path) -> None:
    before = detect(flood_home, "--until", "2023-11-14T22:17:00Z")
    assert before["findings"] == [] and before["messages"] == 2 * 180 * 3
    table = dnsvigil(
        "traffic",
        "detect",
        "--home",
        flood_home,
        "--since",
        "2023-11-14T22:17:00+00:00",
        env={"COLUMNS": "200"},
    )
    assert table.exit_code == 0, table.stderr
    assert "DDOS.RANDOM_SUBDOMAIN" in table.stdout and VICTIM_ZONE in table.stdout


def test_real_capture_of_ordinary_traffic_gives_no_findings(pcaps_dir: Path, tmp_path: Path) -> None:
    home = tmp_path / "home"
    for name in ("dnscap__dns.pcap", "ithitools__smalltest.pcap", "dsc__1458044657.pcap"):
        ingested = dnsvigil("ingest", "pcap", pcaps_dir / name, "--home", home, "--quiet")
        assert ingested.exit_code == 0, ingested.stderr
    result = detect(home)
    # A few dozen lookups over seconds: far below every rate and volume threshold.
    assert result["messages"] > 80 and result["findings"] == [] and result["stored"] == 0


def test_empty_window_and_bad_options(flood_home: Path, tmp_path: Path) -> None:
    empty = dnsvigil("traffic", "detect", "--home", flood_home, "--since", "2030-01-01")
    last_line = empty.stderr.strip().splitlines()[-1]
    assert empty.exit_code == 1 and last_line.startswith("error: ") and "no DNS messages" in last_line
    bad = dnsvigil("traffic", "detect", "--home", flood_home, "--since", "yesterday")
    assert bad.exit_code == 2 and "ISO 8601" in bad.stderr and "Traceback" not in bad.stderr
    swapped = dnsvigil(
        "traffic", "detect", "--home", flood_home, "--since", "2024-01-02", "--until", "2024-01-01"
    )
    assert swapped.exit_code == 2 and "swap" in swapped.stderr
    setting = dnsvigil(
        "traffic", "detect", "--home", flood_home, env={"DNSVIGIL_QUERY_FLOOD_MIN_QPS": "lots"}
    )
    assert setting.exit_code == 2 and "DNSVIGIL_QUERY_FLOOD_MIN_QPS" in setting.stderr
    missing = dnsvigil("traffic", "detect", "--home", tmp_path / "nowhere")
    assert missing.exit_code == 1 and "no dnsvigil warehouse" in missing.stderr


def test_help_has_examples() -> None:
    run = dnsvigil("traffic", "detect", "--help")
    assert run.exit_code == 0
    assert (
        "--since" in run.stdout
        and "DDOS.RANDOM_SUBDOMAIN" in run.stdout
        and "traffic detect --since" in run.stdout
    )
