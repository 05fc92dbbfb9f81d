"""The ingest pipeline: hashing beside decoding, one commit per file, progress, and what a failure leaves."""

from __future__ import annotations

from pathlib import Path

import pyarrow.parquet as pq
import pytest

from dnsvigil.errors import NothingReadError
from dnsvigil.ingest.pipeline import ingest_files, source_id_of
from dnsvigil.store.warehouse import Warehouse
from tests.ingest import pcap_builder as b

CLIENT, SERVER = "192.0.2.1", "198.51.100.53"
T0 = 1_700_000_000 * b.NS


def capture(tmp_path: Path, name: str, exchanges: int) -> Path:
    """A pcap of `exchanges` UDP queries and responses, a second apart."""
    records = []
    for ident in range(exchanges):
        query = b.ipv4(CLIENT, SERVER, b.udp(40000, 53, b.dns_message(ident, f"q{ident}.example")))
        answer = b.ipv4(SERVER, CLIENT, b.udp(53, 40000, b.dns_message(ident, "a.example", response=True)))
        records += [b.Record(b.ethernet(query), T0 + ident * b.NS), b.Record(b.ethernet(answer), T0 + 1)]
    path = tmp_path / name
    path.write_bytes(b.pcap_file(records, nanosecond=True))
    return path


def stored_rows(warehouse: Warehouse) -> int:
    return sum(pq.read_metadata(warehouse.home / f.path).num_rows for f in warehouse.files("dns_messages"))


def test_a_file_is_stored_once_and_progress_covers_it_each_time(tmp_path: Path) -> None:
    path = capture(tmp_path, "one.pcap", 300)
    warehouse = Warehouse.open(tmp_path / "home", create=True)
    for expected_status in ("ingested", "already-ingested"):
        progress: list[int] = []
        summary = ingest_files(warehouse, [path], kind="pcap", chunk_bytes=4096, progress=progress.append)
        assert [file.status for file in summary.files] == [expected_status]
        assert sum(progress) == path.stat().st_size
    assert stored_rows(warehouse) == 600
    assert [source.source_id for source in warehouse.sources("dns_messages")] == [
        source_id_of(path, "pcap", (53,))
    ]
    assert not any((tmp_path / "home" / "staging").rglob("*.parquet"))


def test_batches_decoded_from_a_reused_buffer_are_stored_intact(tmp_path: Path) -> None:
    path = capture(tmp_path, "many.pcap", 2000)
    warehouse = Warehouse.open(tmp_path / "home", create=True)
    summary = ingest_files(warehouse, [path], kind="pcap", chunk_bytes=1000)
    assert summary.messages == 4000
    table = pq.read_table([warehouse.home / f.path for f in warehouse.files("dns_messages")])
    queries = table.filter(table.column("qr").to_numpy(zero_copy_only=False) == 0)
    assert sorted(queries.column("qname").to_pylist()) == sorted(f"q{ident}.example" for ident in range(2000))
    assert queries.column("dns_id").to_pylist() == list(range(2000))


def test_a_file_that_cannot_be_read_stages_nothing_and_the_others_go_on(tmp_path: Path) -> None:
    bad = tmp_path / "bad.pcap"
    bad.write_bytes(b"not a capture at all")
    good = capture(tmp_path, "good.pcap", 5)
    warehouse = Warehouse.open(tmp_path / "home", create=True)
    summary = ingest_files(warehouse, [bad, good], kind="pcap")
    assert [file.status for file in summary.files] == ["failed", "ingested"]
    assert "bad.pcap" in summary.files[0].error
    assert stored_rows(warehouse) == 10
    with pytest.raises(NothingReadError):
        ingest_files(warehouse, [bad], kind="pcap")
    assert not any((tmp_path / "home" / "staging").rglob("*.parquet"))
