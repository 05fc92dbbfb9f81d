"""Infected clients in the demo resolver's day: planned as described, in the capture as the truth says.

The capture is read back with dnsvigil's own readers (`read_capture`, `decode_messages`).
"""

from __future__ import annotations

import collections
import datetime
import re

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pytest

from dnsvigil.demo.dga_families import BANJORI_SEED_DOMAINS, SCHEMES, find_family
from dnsvigil.demo.infection import Botnet, plan_outbreak
from dnsvigil.demo.truth import InfectedClient
from dnsvigil.demo.world import DemoWorld, demo_truth, write_demo_captures
from dnsvigil.ingest.capture_file import read_capture
from dnsvigil.ingest.dns_wire import decode_messages

WORLD = DemoWorld(
    seed=9, day=datetime.date(2024, 3, 10), resolver_queries=2500, authoritative_queries=100, domains=400
)


BOT_NAME_SHAPES = {
    "ramnit": r"[a-y]{8,19}\.com",
    "bamital": r"[0-9a-f]{32}\.(org|net)",
    "suppobox": r"[a-z]{8,20}\.net",
    "banjori": r"[a-z]{4}(" + "|".join(re.escape(seed[4:]) for seed in BANJORI_SEED_DOMAINS) + ")",
}


@pytest.fixture(scope="module")
def resolver_table(tmp_path_factory: pytest.TempPathFactory) -> pa.Table:
    """The resolver capture as dnsvigil's own readers decode it."""
    path = write_demo_captures(WORLD, tmp_path_factory.mktemp("bots"))[0]
    return pa.Table.from_batches(
        [decode_messages(batch.slices, batch.counts, path.name) for batch in read_capture(path)]
    )


def test_infected_clients_run_every_generation_scheme() -> None:
    bots = demo_truth(WORLD).infected_clients
    assert len(bots) == 5 and len({bot.address for bot in bots}) == 5
    assert {bot.scheme for bot in bots} == set(SCHEMES)
    assert all(find_family(bot.family).scheme == bot.scheme for bot in bots)
    assert [bot.family for bot in bots].count("ramnit") == 2  # two bots of one botnet
    assert sorted(bot.ip_version for bot in bots) == [4, 4, 4, 4, 6]
    for bot in bots:
        assert all(re.fullmatch(BOT_NAME_SHAPES[bot.family], name) for name in bot.names), bot.family
        assert 1 <= len(bot.controllers) <= 2 and bot.nxdomain_responses < bot.dga_queries


def test_the_capture_holds_each_bots_queries_and_answers(resolver_table: pa.Table) -> None:
    table = resolver_table
    for bot in demo_truth(WORLD).infected_clients:
        own = pc.and_(
            pc.is_in(table["qname"], value_set=pa.array(bot.names)),
            pc.or_(pc.equal(table["src_addr"], bot.address), pc.equal(table["dst_addr"], bot.address)),
        )
        queries = table.filter(pc.and_(own, pc.invert(table["qr"])))
        answers = table.filter(pc.and_(own, table["qr"]))
        assert queries.num_rows == answers.num_rows == bot.dga_queries
        assert sorted(set(queries["qname"].to_pylist())) == list(bot.names)
        assert set(queries["qtype"].to_pylist()) == {1} and set(queries["transport"].to_pylist()) == {"udp"}
        rcodes = collections.Counter(answers["rcode"].to_pylist())
        resolved_count = bot.dga_queries - bot.nxdomain_responses
        assert rcodes == collections.Counter({3: bot.nxdomain_responses, 0: resolved_count})
        resolved = answers.filter(pc.equal(answers["rcode"], 0))
        assert sorted(set(resolved["qname"].to_pylist())) == list(bot.controllers)
        assert set(resolved["ancount"].to_pylist()) == {1}
        times = queries["ts"].to_pylist()
        assert (min(times), max(times)) == (bot.first_query, bot.last_query)


def test_only_bots_ask_for_dga_names_and_bots_keep_their_ordinary_traffic(resolver_table: pa.Table) -> None:
    table = resolver_table
    bots = demo_truth(WORLD).infected_clients
    generated = pc.is_in(table["qname"], value_set=pa.array(sorted({n for bot in bots for n in bot.names})))
    askers = table.filter(pc.and_(generated, pc.invert(table["qr"])))["src_addr"].to_pylist()
    assert set(askers) == {bot.address for bot in bots}
    for bot in bots:
        if bot.ip_version == 4:
            ordinary = pc.and_(pc.equal(table["src_addr"], bot.address), pc.invert(generated))
            assert table.filter(ordinary).num_rows > 0, bot.address


@pytest.mark.parametrize(("queries", "bots"), [(1, 0), (499, 0), (500, 1), (2499, 4), (2500, 5), (10**6, 5)])
def test_one_bot_per_500_resolver_queries_up_to_five(queries: int, bots: int) -> None:
    outbreak = plan_outbreak(np.random.default_rng(1), WORLD.day, queries)
    assert len(outbreak.bots) == bots and outbreak.dga_queries == queries // 50
    assert len(outbreak.botnets) == min(bots, 4)  # the fifth bot joins the first one's botnet
    assert len(outbreak.names) == len(outbreak.registered) == sum(len(b.domains) for b in outbreak.botnets)
    for botnet in outbreak.botnets:
        assert 30 <= len(botnet.domains) <= 80 and 1 <= sum(botnet.registered) <= 2


def test_a_botnet_needs_a_registered_name_and_a_flag_per_name() -> None:
    family = find_family("ramnit")
    names = family.domains(1, WORLD.day, 3)
    with pytest.raises(ValueError, match="at least one"):
        Botnet(family, names, (False, False, False))
    with pytest.raises(ValueError, match="one registered flag per name"):
        Botnet(family, names, (True,))


def test_no_bots_below_500_resolver_queries() -> None:
    world = DemoWorld(seed=1, resolver_queries=499, authoritative_queries=10, domains=40)
    assert demo_truth(world).infected_clients == ()


def test_infected_client_truth_must_be_consistent() -> None:
    bot = demo_truth(WORLD).infected_clients[0]
    fields = {name: getattr(bot, name) for name in InfectedClient.__dataclass_fields__}
    for change, words in (
        ({"address": "bot-1"}, "does not appear to be an IPv4 or IPv6 address"),
        ({"nxdomain_responses": bot.dga_queries + 1}, "inconsistent counts"),
        ({"controllers": ("elsewhere.com",)}, "controllers or times"),
        ({"first_query": bot.last_query, "last_query": bot.first_query}, "controllers or times"),
    ):
        with pytest.raises(ValueError, match=words):
            InfectedClient(**{**fields, **change})
