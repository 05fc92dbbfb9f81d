"""Loading labelled DGA and benign names: hand-made files for the rules, the shared data for the counts."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from pathlib import Path

import pytest

from dnsvigil.dga.dataset import (
    ALEXA_FILE,
    DGA_FILE,
    UMBRELLA_FILE,
    LabelledData,
    LabelledName,
    deduplicate,
    load_labelled_names,
    read_alexa,
    read_dga_domains,
    read_umbrella,
)
from dnsvigil.errors import InputError


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def test_dga_rows_become_labelled_names(tmp_path: Path) -> None:
    path = write(
        tmp_path / "dga.csv",
        "domain,family\r\nqwxzk.com,fam\r\nWWW.Qwxzk.net.,fam\r\nabcxyz.dyndns.org,other\r\n\r\n",
    )
    data = read_dga_domains(path)
    assert [(name.name, name.label, name.suffix, name.family) for name in data.names] == [
        ("qwxzk.com", "qwxzk", "com", "fam"),
        ("www.qwxzk.net", "qwxzk", "net", "fam"),
        ("abcxyz.dyndns.org", "abcxyz", "dyndns.org", "other"),
    ]
    assert all(name.is_dga and name.source == "dga" and name.first_seen is None for name in data.names)
    (report,) = data.reports
    assert (report.source, report.path, report.rows, report.kept, report.rejections) == (
        "dga",
        path,
        3,
        3,
        (),
    )


def test_alexa_urls_are_cut_to_their_host(tmp_path: Path) -> None:
    path = write(tmp_path / "alexa.csv", "1,google.com\n2,wenku.baidu.com/user/reg\n3,blogspot.com\n")
    data = read_alexa(path)
    assert [(name.name, name.label, name.family, name.source) for name in data.names] == [
        ("google.com", "google", None, "alexa"),
        ("wenku.baidu.com", "baidu", None, "alexa"),
    ]
    assert data.reports[0].rejection_counts() == {"public-suffix": 1}


def test_umbrella_keeps_first_seen_and_counts_what_it_drops(tmp_path: Path) -> None:
    path = write(
        tmp_path / "umbrella.tsv",
        "fqdn\tfirst_seen\n"
        "ezviz7.com\t2026-07-07\n"
        "1.0.0.127.in-addr.arpa\t2026-07-08\n"
        "4.3.2.1.in-addr.arpa\t2026-07-08\n"
        "_dmarc.example.com\t2026-07-09\n"
        "github.io\t2026-07-09\n"
        "a..b\t2026-07-10\n",
    )
    data = read_umbrella(path)
    assert data.names == (LabelledName("ezviz7.com", "ezviz7", "com", None, "umbrella", date(2026, 7, 7)),)
    (report,) = data.reports
    assert (report.rows, report.kept) == (6, 1)
    assert report.rejection_counts() == {
        "reverse-dns": 2,
        "service-label": 1,
        "public-suffix": 1,
        "empty-label": 1,
    }
    assert [rejection.excluded for rejection in report.rejections] == [True, True, True, True, False]


@pytest.mark.parametrize(
    ("reader", "text", "message"),
    [
        (read_dga_domains, "name,family\nqwxzk.com,fam\n", ":1: the header is 'name,family'"),
        (read_dga_domains, "", ":1: the header is ''"),
        (read_dga_domains, "domain,family\nqwxzk.com,fam\nqwxzk.net\n", ":3: 1 fields where `domain,family`"),
        (read_dga_domains, "domain,family\nqwxzk.com,fam,extra\n", ":2: 3 fields"),
        (read_dga_domains, "domain,family\nqwxzk.com,\n", ":2: the domain 'qwxzk.com' has no family"),
        (read_alexa, "rank,domain\n1,google.com\n", ":1: the rank 'rank' is not a whole number"),
        (read_umbrella, "fqdn,first_seen\n", ":1: the header is 'fqdn,first_seen'"),
        (
            read_umbrella,
            "fqdn\tfirst_seen\nezviz7.com\t07/07/2026\n",
            ":2: first_seen '07/07/2026' is not a date",
        ),
    ],
)
def test_malformed_files_say_where_and_what_to_do(
    tmp_path: Path, reader: Callable[[Path], LabelledData], text: str, message: str
) -> None:
    path = write(tmp_path / "input.txt", text)
    with pytest.raises(InputError) as caught:
        reader(path)
    assert f"{path}{message}" in str(caught.value)
    assert caught.value.hint


def test_a_missing_file_is_an_input_error(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="no such file") as caught:
        load_labelled_names(tmp_path)
    assert str(tmp_path / DGA_FILE) in caught.value.message
    assert "shared" in caught.value.hint


def test_a_file_that_is_not_utf8_is_an_input_error(tmp_path: Path) -> None:
    path = tmp_path / "dga.csv"
    path.write_bytes(b"domain,family\n\xff\xfe.com,fam\n")
    with pytest.raises(InputError, match="UTF-8"):
        read_dga_domains(path)


def test_deduplicate_keeps_the_first_name_of_each_label_and_family() -> None:
    def name(text: str, family: str | None) -> LabelledName:
        label, _, suffix = text.partition(".")
        return LabelledName(text, label, suffix, family, "dga" if family else "alexa", None)

    names = [
        name("abc.com", "fam"),
        name("abc.net", "fam"),  # same label, same family: the same example
        name("abc.org", "other"),  # same label, another family: kept
        name("abc.info", None),  # benign: kept
        name("abc.biz", None),
        name("xyz.com", "fam"),
    ]
    assert [item.name for item in deduplicate(names)] == ["abc.com", "abc.org", "abc.info", "xyz.com"]


def test_the_shared_data(shared_data: Path) -> None:
    data = load_labelled_names(shared_data)
    reports = {report.source: report for report in data.reports}
    assert [report.path for report in data.reports] == [
        shared_data / DGA_FILE,
        shared_data / ALEXA_FILE,
        shared_data / UMBRELLA_FILE,
    ]
    assert {source: report.rows for source, report in reports.items()} == {
        "dga": 82_025,
        "alexa": 99_997,
        "umbrella": 99_366,
    }
    for report in data.reports:
        assert report.kept + len(report.rejections) == report.rows
        assert all(rejection.excluded for rejection in report.rejections)  # no invalid name at all
    assert reports["dga"].kept == 82_025
    assert reports["umbrella"].rejection_counts()["reverse-dns"] == 9_451
    # Public suffixes depend on the list's snapshot: blogspot.com, github.io, ... in Alexa.
    assert 150 < reports["alexa"].rejection_counts()["public-suffix"] < 350
    assert len(data.names) == sum(report.kept for report in data.reports)

    dga = [name for name in data.names if name.is_dga]
    assert len({name.family for name in dga}) == 80
    assert all(name.source == "dga" and name.label for name in dga)
    umbrella_days = [day for name in data.names if name.source == "umbrella" and (day := name.first_seen)]
    assert (min(umbrella_days), max(umbrella_days)) == (date(2026, 7, 7), date(2026, 7, 16))
    assert len(umbrella_days) == reports["umbrella"].kept

    unique = deduplicate(data.names)
    assert len({(name.label, name.family) for name in unique}) == len(unique)
    # The same generated label under several TLDs: one example per label and family.
    assert len([name for name in unique if name.is_dga]) < len(dga) - 5_000
