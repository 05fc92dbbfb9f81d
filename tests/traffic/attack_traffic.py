"""Hand-made traffic for the traffic detectors: ordinary traffic, and each attack to plant in it.

Every generator returns `dns_messages` rows (see `message_table`): a query and, where the attack has
them, its response, with sizes, RCODEs and addresses the way a capture at a name server records them.
Everything is seeded, so a test sees the same traffic every run.
"""

from __future__ import annotations

import random
from typing import Any

from tests.traffic.message_table import at, query, response

SERVER = "198.51.100.53"
ORDINARY_NAMES = (
    "www.example.com",
    "mail.example.com",
    "example.com",
    "www.example.org",
    "api.shop.example.net",
    "static.cdn.example.net",
    "www.news.example.co.uk",
    "login.bank.example",
)
Row = dict[str, Any]


def exchange(
    seconds: float,
    client: str,
    qname: str,
    *,
    rcode: int = 0,
    qtype: int = 1,
    query_len: int = 40,
    response_len: int = 90,
    tc: bool = False,
    answered: bool = True,
) -> list[Row]:
    """One query from `client` to the server and, when `answered`, the server's response 1 ms later."""
    rows = [
        query(ts=at(seconds), src_addr=client, dst_addr=SERVER, qname=qname, qtype=qtype, msg_len=query_len)
    ]
    if answered:
        rows.append(
            response(
                ts=at(seconds + 0.001),
                src_addr=SERVER,
                dst_addr=client,
                qname=qname,
                qtype=qtype,
                rcode=rcode,
                ancount=0 if rcode else 1,
                msg_len=response_len,
                tc=tc,
            )
        )
    return rows


def ordinary(minutes: int = 10, clients: int = 40, per_minute: int = 20, seed: int = 1) -> list[Row]:
    """Everyday traffic: many clients asking for a few popular names, about 5 % NXDOMAIN (typos)."""
    rng = random.Random(seed)
    rows: list[Row] = []
    for minute in range(minutes):
        for client in range(clients):
            address = f"192.0.2.{client + 1}" if client % 4 else f"2001:db8:{client}::1"
            for _ in range(per_minute):
                seconds = minute * 60 + rng.uniform(0, 59.9)
                if rng.random() < 0.05:
                    rows += exchange(seconds, address, f"wwww{rng.randrange(3)}.example.com", rcode=3)
                else:
                    name = rng.choice(ORDINARY_NAMES)
                    rows += exchange(seconds, address, name, response_len=rng.randrange(60, 160))
    return rows


def random_label(rng: random.Random, length: int = 12) -> str:
    return "".join(rng.choice("abcdefghijklmnopqrstuvwxyz0123456789") for _ in range(length))


def random_subdomain_flood(
    zone: str,
    *,
    start: float,
    seconds: float,
    qps: float,
    resolvers: int = 30,
    rcode: int = 3,
    repeat: int = 1,
    seed: int = 2,
) -> list[Row]:
    """Queries for `<random>.zone` through `resolvers` resolvers at `qps`, each label asked `repeat` times."""
    rng = random.Random(seed)
    rows: list[Row] = []
    count = round(seconds * qps)
    names = [f"{random_label(rng)}.{zone}" for _ in range(-(-count // repeat))]
    for index in range(count):
        name = names[index // repeat]
        resolver = f"203.0.113.{index % resolvers + 1}"
        rows += exchange(start + index / qps, resolver, name, rcode=rcode, response_len=100)
    return rows


def reflection(
    victim: str,
    *,
    start: float,
    seconds: float,
    qps: float,
    qname: str = "example.com",
    qtype: int = 255,
    response_len: int = 3000,
    with_queries: bool = True,
) -> list[Row]:
    """Spoofed ANY queries in the victim's name and the large responses the server sends it."""
    rows: list[Row] = []
    for index in range(round(seconds * qps)):
        pair = exchange(
            start + index / qps, victim, qname, qtype=qtype, query_len=40, response_len=response_len
        )
        rows += pair if with_queries else pair[1:]
    return rows


def query_flood(source: str, *, start: float, seconds: float, qps: float) -> list[Row]:
    """Queries from one source for an ordinary name at `qps`, answered."""
    rows: list[Row] = []
    for index in range(round(seconds * qps)):
        rows += exchange(start + index / qps, source, "www.example.com")
    return rows
