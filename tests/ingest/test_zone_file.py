"""The zone reader: RFC 1035 master-file syntax, distinct delegations, damage counted by reason, chunking."""

from __future__ import annotations

import gzip
from pathlib import Path

import pytest

from dnsvigil.errors import InputError
from dnsvigil.ingest.zone_file import ZoneReader
from tests.ingest import zone_samples as samples


def delegations(path: Path, tld: str, chunk_bytes: int = 1 << 20) -> tuple[list[str], ZoneReader]:
    reader = ZoneReader(path, tld, chunk_bytes=chunk_bytes)
    names: list[str] = []
    for batch, _ in reader.batches():
        names.extend(batch.to_pylist())
    return names, reader


def write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_bytes(text.encode("latin-1"))
    return path


def test_czds_style_zone(tmp_path: Path) -> None:
    names, reader = delegations(write(tmp_path, "com.txt", samples.CZDS_STYLE), "com")
    assert names == ["example.com", "xn--bcher-kva.com", "shop-online24.com"]
    assert reader.records == 10 and reader.ns_records == 7
    assert reader.malformed() == {}


@pytest.mark.parametrize("chunk_bytes", [1, 7, 64, 1 << 20])
def test_bind_style_zone_whatever_the_chunking(tmp_path: Path, chunk_bytes: int) -> None:
    names, reader = delegations(write(tmp_path, "example.zone", samples.BIND_STYLE), "example", chunk_bytes)
    assert names == samples.BIND_DELEGATIONS
    assert reader.malformed() == {}


def test_gzip_gives_the_same_delegations(tmp_path: Path) -> None:
    packed = tmp_path / "example.zone.gz"
    packed.write_bytes(gzip.compress(samples.BIND_STYLE.encode()))
    assert delegations(packed, "example")[0] == samples.BIND_DELEGATIONS


@pytest.mark.parametrize("chunk_bytes", [3, 1 << 20])
def test_damage_is_counted_by_reason_at_its_line(tmp_path: Path, chunk_bytes: int) -> None:
    names, reader = delegations(write(tmp_path, "example.zone", samples.DAMAGED), "example", chunk_bytes)
    assert reader.malformed() == samples.DAMAGED_REASONS
    assert names == ["good.example", "last.example"]
    lines = reader.first_lines()
    assert lines["bad_owner_name"] == 4 and lines["missing_type"] == 5 and lines["outside_zone"] == 10
    assert lines["unbalanced_parenthesis"] == 11 and lines["unterminated_quote"] == 12
    assert lines["unsupported_directive"] == 13 and lines["bad_directive"] == 14
    assert lines["bad_character"] == 15


def test_records_of_one_owner_far_apart_count_once_even_past_table_growth(tmp_path: Path) -> None:
    count = 120_000  # past the first set's 60 % of 65,536 slots, so the set grows while reading
    body = "".join(f"d{index}\tNS\tns1.host.net.\n" for index in range(count))
    again = "".join(f"d{index}\tNS\tns2.host.net.\n" for index in range(0, count, 7))
    path = write(tmp_path, "test.zone", f"$ORIGIN test.\n{body}{again}")
    names, reader = delegations(path, "test", chunk_bytes=1 << 16)
    assert len(names) == count == len(set(names))
    assert reader.ns_records == count + len(range(0, count, 7))


def test_names_are_lower_case_without_the_trailing_dot(tmp_path: Path) -> None:
    path = write(tmp_path, "org.zone", "ExAmPle.ORG. 3600 IN NS NS1.Example.ORG.\nMIXED IN ns x.net.\n")
    assert delegations(path, "org")[0] == ["example.org", "mixed.org"]


def test_apex_only_zone_has_no_delegation(tmp_path: Path) -> None:
    path = write(tmp_path, "net.zone", "net. 86400 IN NS a.gtld-servers.net.\n")
    names, reader = delegations(path, "net")
    assert names == [] and reader.ns_records == 1 and reader.malformed() == {}


def test_cut_gzip_is_an_input_error(tmp_path: Path) -> None:
    packed = gzip.compress(samples.CZDS_STYLE.encode() * 50)
    cut = tmp_path / "com.txt.gz"
    cut.write_bytes(packed[: len(packed) // 2])
    with pytest.raises(InputError, match=r"com\.txt\.gz"):
        delegations(cut, "com")


def test_an_unterminated_line_longer_than_any_entry_is_skipped(tmp_path: Path) -> None:
    path = tmp_path / "big.zone"
    path.write_bytes(b"x" * (3 << 20) + b"\nok NS ns.x.net.\n")
    names, reader = delegations(path, "big", chunk_bytes=1 << 20)
    assert names == ["ok.big"] and reader.malformed() == {"line_too_long": 1}
