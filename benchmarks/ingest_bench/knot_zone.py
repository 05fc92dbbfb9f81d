"""The generated zone Knot DNS serves, its configuration, and the query mix dnsperf sends."""

from __future__ import annotations

import random
from pathlib import Path

from ingest_bench.capture_plan import CapturePlan

ZONE_ORIGIN = "bench.test."

# Query types and how often dnsperf asks for them; names outside the zone and names that do not exist in it
# are mixed in separately (see `QUERY_MIX_NXDOMAIN`, `QUERY_MIX_OUT_OF_ZONE`).
QUERY_TYPE_WEIGHTS: tuple[tuple[str, float], ...] = (
    ("A", 0.50),
    ("AAAA", 0.25),
    ("MX", 0.06),
    ("TXT", 0.06),
    ("NS", 0.03),
    ("SOA", 0.03),
    ("SRV", 0.02),
    ("CNAME", 0.05),
)
QUERY_MIX_NXDOMAIN = 0.10
QUERY_MIX_OUT_OF_ZONE = 0.02

_WORDS = (
    *("www", "mail", "api", "cdn", "img", "static", "shop", "blog", "dev", "test", "vpn", "ns", "git"),
    *("wiki", "docs", "app", "login", "auth", "pay", "media", "video", "news", "forum", "status", "portal"),
    *("m", "admin", "smtp", "imap", "pop", "files", "backup", "db", "cache", "edge", "proxy", "gw", "lb"),
)
_LABEL_CHARACTERS = "abcdefghijklmnopqrstuvwxyz0123456789"


def zone_owner_names(plan: CapturePlan) -> list[str]:
    """The generated owner names, relative to the origin, in a stable order."""
    rng = random.Random(plan.seed)
    names: list[str] = []
    seen: set[str] = set()
    while len(names) < plan.zone_names:
        word = rng.choice(_WORDS)
        shape = rng.random()
        if shape < 0.4:
            label = f"{word}{rng.randrange(1, 999)}"
        elif shape < 0.8:
            label = f"{word}-{rng.choice(_WORDS)}{rng.randrange(1, 99)}"
        else:
            label = f"{word}{rng.randrange(1, 99)}.{rng.choice(_WORDS)}"
        if label not in seen:
            seen.add(label)
            names.append(label)
    return names


def zone_text(plan: CapturePlan) -> str:
    """A zone file: every name has an A; AAAA, MX, TXT, SRV and CNAME names are mixed in."""
    rng = random.Random(plan.seed + 1)
    lines = [
        f"$ORIGIN {ZONE_ORIGIN}",
        "$TTL 3600",
        "@ IN SOA ns1 hostmaster 2024060101 7200 3600 1209600 300",
        "@ IN NS ns1",
        "@ IN NS ns2",
        "@ IN A 192.0.2.1",
        "@ IN MX 10 mail",
        '@ IN TXT "v=spf1 mx -all"',
        "ns1 IN A 192.0.2.53",
        "ns2 IN A 198.51.100.53",
        "ns1 IN AAAA 2001:db8::53",
    ]
    names = zone_owner_names(plan)
    for index, name in enumerate(names):
        if index % 20 == 19:
            # Every twentieth name is an alias of the name before it, never itself an alias.
            lines.append(f"{name} IN CNAME {names[index - 1]}")
            continue
        lines.append(f"{name} IN A 192.0.{2 + index // 254 % 250}.{1 + index % 254}")
        if rng.random() < 0.6:
            lines.append(f"{name} IN AAAA 2001:db8:{index // 65536:x}::{index % 65536:x}")
        if rng.random() < 0.15:
            lines.append(f"{name} IN MX {rng.choice((5, 10, 20))} mail")
        if rng.random() < 0.2:
            token = "".join(rng.choice(_LABEL_CHARACTERS) for _ in range(32))
            lines.append(f'{name} IN TXT "site-verification={token}"')
        if rng.random() < 0.03:
            lines.append(f"_sip._udp.{name} IN SRV 10 5 5060 {name}")
    return "\n".join(lines) + "\n"


def query_lines(plan: CapturePlan, count: int, *, seed_offset: int = 0) -> list[str]:
    """`count` dnsperf query lines ("name type") in the realistic mix of `QUERY_TYPE_WEIGHTS`."""
    rng = random.Random(plan.seed + 2 + seed_offset)
    names = zone_owner_names(plan)
    types = [qtype for qtype, _ in QUERY_TYPE_WEIGHTS]
    weights = [weight for _, weight in QUERY_TYPE_WEIGHTS]
    # Popularity follows a Zipf-like law, as on real servers: a few names take most of the queries.
    popularity = [1.0 / (rank + 1) ** 0.9 for rank in range(len(names))]
    lines: list[str] = []
    for _ in range(count):
        roll = rng.random()
        if roll < QUERY_MIX_NXDOMAIN:
            junk = "".join(rng.choice(_LABEL_CHARACTERS) for _ in range(rng.randrange(6, 16)))
            lines.append(f"{junk}.{ZONE_ORIGIN} {rng.choice(('A', 'AAAA'))}")
        elif roll < QUERY_MIX_NXDOMAIN + QUERY_MIX_OUT_OF_ZONE:
            lines.append(f"{rng.choice(_WORDS)}.example.com. A")
        else:
            name = rng.choices(names, popularity)[0]
            lines.append(f"{name}.{ZONE_ORIGIN} {rng.choices(types, weights)[0]}")
    return lines


def knot_config(workdir: Path, plan: CapturePlan) -> str:
    """A Knot DNS configuration serving the generated zone on 127.0.0.1 at `plan.port`, files in `workdir`."""
    return f"""server:
    rundir: "{workdir}"
    listen: 127.0.0.1@{plan.port}
    background-workers: 1

database:
    storage: "{workdir / "db"}"

control:
    listen: "{workdir / "knot.sock"}"

log:
  - target: "{workdir / "knotd.log"}"
    any: notice

zone:
  - domain: {ZONE_ORIGIN}
    storage: "{workdir}"
    file: "bench.test.zone"
    zonefile-sync: -1
    zonefile-load: whole
    journal-content: none
    semantic-checks: off
"""
