"""Random and mutated bytes never crash or hang the zone, registration, registry and feed readers: they only
yield rows of the table's schema, count bad lines, or raise InputError."""

from __future__ import annotations

import gzip
import threading
from collections.abc import Callable
from datetime import date
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dnsvigil.errors import InputError
from dnsvigil.ingest.abuse_feeds import FEED_FORMATS, feed_source
from dnsvigil.ingest.registration_data import registration_source
from dnsvigil.ingest.registry_reports import dum_source, registrars_source
from dnsvigil.ingest.table_ingest import Source
from dnsvigil.ingest.zone_file import zone_source
from dnsvigil.store.schema import TABLES
from tests.ingest import registration_samples as rs
from tests.ingest import zone_samples as zs
from tests.ingest.table_rows import read_all

TIME_LIMIT_S = 20
DAY = date(2024, 1, 2)
SOURCES: dict[str, tuple[Callable[[Path], Source], str]] = {
    "zone": (
        lambda path: zone_source(path, tld="example", day=DAY, chunk_bytes=16),
        zs.BIND_STYLE + zs.DAMAGED,
    ),
    "rdap": (lambda path: registration_source(path, fmt="rdap", observed=DAY), rs.RDAP_LINES),
    "csv": (lambda path: registration_source(path, fmt="csv", observed=DAY), rs.REGISTRATIONS_CSV),
    "registrars": (lambda path: registrars_source(path, observed=DAY), rs.REGISTRAR_IDS),
    "dum": (lambda path: dum_source(path, tld="com", month=DAY), rs.TRANSACTIONS),
    **{
        fmt: (lambda path, fmt=fmt: feed_source(path, fmt=fmt, observed=DAY), text)  # type: ignore[misc]
        for fmt, text in zip(
            FEED_FORMATS, (rs.URLHAUS, rs.PHISHTANK, rs.OPENPHISH, rs.DBL, rs.GENERIC), strict=True
        )
    },
}


@pytest.fixture(scope="module", autouse=True)
def readers_compiled(tmp_path_factory: pytest.TempPathFactory) -> None:
    """Each reader reads its intact sample once, untimed: on a fresh checkout the first read compiles
    code (seconds), which the hang limit must not count."""
    folder = tmp_path_factory.mktemp("intact")
    for name, (plan, text) in SOURCES.items():
        path = folder / name
        path.write_text(text, encoding="utf-8")
        read_all(plan(path))


def check_read(source: Source) -> None:
    outcome: list[BaseException | None] = []

    def run() -> None:
        try:
            rows, tally = read_all(source)
            assert rows.schema.equals(TABLES[source.table].schema, check_metadata=False)
            assert all(count > 0 for count in tally.malformed.values())
            outcome.append(None)
        except InputError:
            outcome.append(None)
        except BaseException as error:
            outcome.append(error)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    thread.join(TIME_LIMIT_S)
    assert not thread.is_alive(), "the reader hung"
    if outcome[0] is not None:
        raise outcome[0]


def mutate(data: bytes, edits: list[tuple[int, int]], cut: int) -> bytes:
    damaged = bytearray(data[: max(1, len(data) * cut // 100)])
    for position, value in edits:
        damaged[position % len(damaged)] = value
    return bytes(damaged)


@pytest.mark.parametrize("name", sorted(SOURCES))
@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    edits=st.lists(st.tuples(st.integers(0, 1 << 20), st.integers(0, 255)), max_size=12),
    cut=st.integers(1, 100),
    packed=st.booleans(),
)
def test_mutated_samples(
    tmp_path: Path, name: str, edits: list[tuple[int, int]], cut: int, packed: bool
) -> None:
    plan, text = SOURCES[name]
    data = mutate(text.encode("utf-8"), edits, cut)
    path = tmp_path / "input"
    path.write_bytes(gzip.compress(data) if packed else data)
    check_read(plan(path))


@pytest.mark.parametrize("name", sorted(SOURCES))
@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.binary(max_size=4000))
def test_random_bytes(tmp_path: Path, name: str, data: bytes) -> None:
    path = tmp_path / "input"
    path.write_bytes(data)
    check_read(SOURCES[name][0](path))
