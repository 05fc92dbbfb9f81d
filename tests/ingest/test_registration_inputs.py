"""Registration data (RDAP, CSV), the registrar list and monthly reports: rows, and bad lines by reason."""

from __future__ import annotations

import gzip
from datetime import UTC, date, datetime
from pathlib import Path

import pytest

from dnsvigil.errors import InputError
from dnsvigil.ingest.popularity_lists import popularity_source
from dnsvigil.ingest.registration_data import registration_source
from dnsvigil.ingest.registry_reports import dum_source, registrars_source, report_tld
from tests.ingest import registration_samples as samples
from tests.ingest.table_rows import read_all

DAY = date(2024, 1, 6)


def write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def test_rdap_responses(tmp_path: Path) -> None:
    rows, tally = read_all(
        registration_source(write(tmp_path, "r.jsonl", samples.RDAP_LINES), fmt="rdap", observed=DAY)
    )
    first, second = rows.to_pylist()
    assert first["domain"] == "example-shop.com" and first["tld"] == "com"
    assert first["registrar_iana_id"] == 1068 and first["registrar_name"] == "NameCheap, Inc."
    assert first["abuse_email"] == "abuse@namecheap.com"
    assert first["created"] == datetime(2024, 1, 2, 10, 20, 30, tzinfo=UTC)
    assert first["observed"] == datetime(2024, 1, 6, 8, tzinfo=UTC)
    assert first["on_hold"] is True and first["status"] == ["client transfer prohibited", "server hold"]
    assert first["nameservers"] == ["dns1.registrar-servers.com", "dns2.registrar-servers.com"]
    assert second["domain"] == "old-site.org" and second["registrar_iana_id"] is None
    assert second["observed"] == datetime(2024, 1, 6, tzinfo=UTC) and second["on_hold"] is False
    assert tally.skipped == {"rdap_error_response": 1}
    assert tally.malformed == {"bad_json": 1, "not_a_domain_object": 1, "bad_domain": 1, "bad_time": 1}
    assert tally.first_line["bad_json"] == 4


def test_registrations_csv(tmp_path: Path) -> None:
    path = write(tmp_path, "registrations.csv", samples.REGISTRATIONS_CSV)
    rows, tally = read_all(registration_source(path, fmt="csv", observed=DAY))
    by_domain = {row["domain"]: row for row in rows.to_pylist()}
    assert set(by_domain) == {"example.com", "fresh-login-verify.top", "nosponsor.net"}
    held = by_domain["example.com"]
    assert held["status"] == ["client transfer prohibited", "client hold"] and held["on_hold"] is True
    assert by_domain["fresh-login-verify.top"]["status"] == ["active"]
    assert (
        by_domain["nosponsor.net"]["registrar_iana_id"] is None
        and by_domain["nosponsor.net"]["expires"] is None
    )
    assert tally.malformed == {"bad_domain": 1, "bad_registrar_id": 1, "wrong_field_count": 1, "bad_time": 1}
    assert tally.records == 7


def test_registrar_list(tmp_path: Path) -> None:
    rows, tally = read_all(
        registrars_source(write(tmp_path, "registrar-ids.csv", samples.REGISTRAR_IDS), observed=DAY)
    )
    by_id = {row["iana_id"]: row for row in rows.to_pylist()}
    assert sorted(by_id) == [1, 146, 1068, 4321, 9999]
    assert (
        by_id[146]["name"] == "GoDaddy.com, LLC"
        and by_id[146]["rdap_base_url"] == "https://rdap.godaddy.com/v1/"
    )
    assert by_id[146]["real_registrar"] and by_id[4321]["real_registrar"]
    assert not by_id[1]["real_registrar"] and not by_id[9999]["real_registrar"]
    assert by_id[4321]["status"] == "Terminated" and by_id[4321]["rdap_base_url"] is None
    assert tally.malformed == {"bad_registrar_id": 1, "bad_status": 1}


def test_monthly_transaction_report(tmp_path: Path) -> None:
    path = write(tmp_path, "com-transactions-202401-en.csv", samples.TRANSACTIONS)
    assert report_tld(path) == "com"
    rows, tally = read_all(dum_source(path, tld="com", month=date(2024, 1, 1)))
    by_id = {row["registrar_iana_id"]: row for row in rows.to_pylist()}
    assert sorted(by_id) == [146, 1068]
    godaddy = by_id[146]
    assert godaddy["total_domains"] == 1000 and godaddy["net_adds"] == 12 and godaddy["net_renews"] == 5
    assert godaddy["transfers_gained"] == 3 and godaddy["transfers_lost"] == 1
    assert (
        godaddy["deleted_in_grace"] == 4 and godaddy["deleted_after_grace"] == 6 and godaddy["restored"] == 1
    )
    assert by_id[1068]["net_adds"] == 40 and godaddy["month"] == date(2024, 1, 1) and godaddy["tld"] == "com"
    assert tally.malformed == {"bad_registrar_id": 1, "wrong_field_count": 1}
    assert tally.skipped == {"totals_row": 1}


def test_republished_report_with_tld_column_and_capitals(tmp_path: Path) -> None:
    text = "TLD,Registrar Name,IANA ID,Total Domains\nshop,Registrar A,1068,77\nshop,Totals,,77\n"
    rows, tally = read_all(dum_source(write(tmp_path, "r.csv", text), tld=None, month=date(2024, 2, 1)))
    assert rows.to_pylist()[0] | {"source_file": ""} == {
        "month": date(2024, 2, 1), "tld": "shop", "registrar_iana_id": 1068, "registrar_name": "Registrar A",
        "total_domains": 77, "net_adds": None, "net_renews": None, "transfers_gained": None,
        "transfers_lost": None, "deleted_in_grace": None, "deleted_after_grace": None, "restored": None,
        "source_file": "",
    }  # fmt: skip
    assert tally.skipped == {"totals_row": 1}


def test_report_without_its_header_is_refused_with_the_place(tmp_path: Path) -> None:
    path = write(tmp_path, "com-transactions-202401-en.csv", "a,b,c\n1,2,3\n")
    with pytest.raises(
        InputError, match=r"com-transactions-202401-en.csv:1: not a transaction report header"
    ):
        read_all(dum_source(path, tld="com", month=date(2024, 1, 1)))


def test_gzip_and_cut_gzip(tmp_path: Path) -> None:
    packed = gzip.compress(samples.REGISTRATIONS_CSV.encode() * 200)
    whole = tmp_path / "r.csv.gz"
    whole.write_bytes(packed)
    rows, _ = read_all(registration_source(whole, fmt="csv", observed=DAY))
    assert rows.num_rows == 3 * 200
    cut = tmp_path / "cut.csv.gz"
    cut.write_bytes(packed[: len(packed) // 2])
    with pytest.raises(InputError, match=r"cut\.csv\.gz: cannot read to the end"):
        read_all(registration_source(cut, fmt="csv", observed=DAY))


def test_popularity_list_ranks_registrable_domains(tmp_path: Path) -> None:
    text = (
        "rank,domain\n1,Google.com.\n2,www.example.co.uk\n3,192.0.2.1\nx,bad.com\n4,co.uk\n"
        "5,foo..bar\n6,a,b\n0,zero.com\n7,xn--bcher-kva.example\n"
    )
    path = write(tmp_path, "tranco-2024-01-06.csv", text)
    rows, tally = read_all(popularity_source(path, list_name="tranco", observed=DAY))
    assert [(row["rank"], row["name"], row["domain"]) for row in rows.to_pylist()] == [
        (1, "google.com", "google.com"),
        (2, "www.example.co.uk", "example.co.uk"),
        (7, "xn--bcher-kva.example", "xn--bcher-kva.example"),
    ]
    assert {row["list_name"] for row in rows.to_pylist()} == {"tranco"}
    assert rows.column("observed").to_pylist() == [DAY] * 3
    assert tally.skipped == {"ip_address": 1, "not_registrable": 1}
    assert tally.malformed == {"bad_rank": 2, "bad_domain": 1, "wrong_field_count": 1}
    assert tally.first_line["bad_rank"] == 5
