"""Zones above query names: counting each name once per window gives what counting every message gives."""

from __future__ import annotations

import random

import pyarrow as pa
import pytest

from dnsvigil.traffic.detection import TimeWindow
from dnsvigil.traffic.zones import zone_counts_sql, zone_rows_sql
from tests.traffic.message_table import TableRunner, at, message_table, query, response

NAMES = [
    "www.example.com",
    "a.b.c.d.e.f.g.example.com",
    "x1.cdn.example.net",
    "com",
    "4.3.2.1.in-addr.arpa",
    "",
    None,
]


def mixed_traffic(seed: int) -> pa.Table:
    """Queries and responses of a few names repeated across three windows, with a malformed one."""
    chooser = random.Random(seed)
    rows = []
    for index in range(600):
        kind = response if chooser.random() < 0.5 else query
        rows.append(
            kind(
                ts=at(chooser.uniform(0, 180)),
                qname=chooser.choice(NAMES),
                rcode=chooser.choice([0, 2, 3]),
                malformed=index % 97 == 0,
            )
        )
    return message_table(rows)


def per_message(runner: TableRunner, *, responses_only: bool, with_apex: bool) -> list[dict[str, object]]:
    rows, params = zone_rows_sql(TimeWindow(), 60, with_apex=with_apex)
    where = "WHERE qr" if responses_only else ""
    return runner.arrow(
        "SELECT bucket, zone, child, count(*) AS messages, count(*) FILTER (WHERE rcode = 3) AS nxdomain,"
        f" min(ts) AS first_ts, max(ts) AS last_ts FROM ({rows}) {where} GROUP BY ALL ORDER BY ALL",
        params,
    ).to_pylist()


def per_name(runner: TableRunner, *, responses_only: bool, with_apex: bool) -> list[dict[str, object]]:
    counts = (
        "count(*) AS messages, count(*) FILTER (WHERE rcode = 3) AS nxdomain, min(ts) AS t0, max(ts) AS t1"
    )
    rows, params = zone_counts_sql(
        TimeWindow(), 60, counts, responses_only=responses_only, with_apex=with_apex
    )
    return runner.arrow(
        "SELECT bucket, zone, child, sum(messages)::BIGINT AS messages, sum(nxdomain)::BIGINT AS nxdomain,"
        f" min(t0) AS first_ts, max(t1) AS last_ts FROM ({rows}) GROUP BY ALL ORDER BY ALL",
        params,
    ).to_pylist()


@pytest.mark.parametrize("seed", [1, 2])
@pytest.mark.parametrize(("responses_only", "with_apex"), [(False, False), (True, True), (True, False)])
def test_counting_names_first_gives_every_zone_the_counts_of_its_messages(
    seed: int, responses_only: bool, with_apex: bool
) -> None:
    runner = TableRunner(mixed_traffic(seed))
    expected = per_message(runner, responses_only=responses_only, with_apex=with_apex)
    assert per_name(runner, responses_only=responses_only, with_apex=with_apex) == expected
    zones = {row["zone"] for row in expected}
    assert "d.e.f.g.example.com" in zones and "c.d.e.f.g.example.com" not in zones  # six labels at most
    assert not any(str(zone).endswith("arpa") for zone in zones)
    assert ("com" in {row["zone"] for row in expected if row["child"] is None}) == with_apex
