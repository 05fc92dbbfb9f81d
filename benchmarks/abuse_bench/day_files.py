"""Write the synthetic day as the files the ingest commands read, and cache them.

Under `inputs/<plan name>/`: `zone/com-20240115.txt` (CZDS shape: two NS records per delegation, a DS
record for about a third), `registrations/registrations-2024-01-15-partN.csv`, `registrars/registrar-ids-
2024-01-15.csv`, `reports/com-transactions-202401-en.csv` and `feeds/<feed>-2024-01-15.csv` for URLhaus,
PhishTank, a DBL-style list and the generic CSV. `manifest.json` is written last: a folder without it is
incomplete and written anew.
"""

from __future__ import annotations

import json
import shutil
import time
from collections.abc import Callable
from dataclasses import asdict
from pathlib import Path
from typing import Any, Final

import numpy as np

from abuse_bench.day_world import (
    DAY,
    DAY_SECONDS,
    DAY_START,
    KIND_BLOGSPOT,
    KIND_COMPROMISED,
    KIND_IP,
    KIND_MALICIOUS,
    KIND_NET,
    STATUSES,
    WORDS,
    DayPlan,
    DayWorld,
    build_world,
    host_field,
    mix,
    name_parts,
)
from abuse_bench.text_rows import (
    HEX,
    Field,
    choice,
    concat,
    constant,
    digits,
    fixed,
    join_rows,
    merge,
    timestamps,
)
from dnsvigil.demo.registration_files import TRANSACTION_COLUMNS

GENERATOR_VERSION: Final = 1
ZONE_CHUNK: Final = 2_000_000
ROWS_CHUNK: Final = 1_000_000
REGISTRATION_FILE_ROWS: Final = 2_500_000
ZONE_BYTES_PER_DELEGATION: Final = 140
FEEDS: Final = ("urlhaus", "phishtank", "dbl", "generic")
Log = Callable[[str], None]


def input_folder(work: Path, plan: DayPlan) -> Path:
    return work / "inputs" / plan.name


def cached_inputs(work: Path, plan: DayPlan) -> dict[str, Any] | None:
    """The manifest of a complete cached copy of `plan`'s files, None if there is none."""
    manifest = input_folder(work, plan) / "manifest.json"
    if not manifest.exists():
        return None
    found: dict[str, Any] = json.loads(manifest.read_text())
    return found if found.get("version") == GENERATOR_VERSION else None


def needed_bytes(plan: DayPlan) -> int:
    """About how much disk the files take (the zone file is nearly all of it)."""
    return plan.delegations * ZONE_BYTES_PER_DELEGATION + plan.registrations * 80 + plan.listings * 150


def write_day(work: Path, plan: DayPlan, log: Log) -> dict[str, Any]:
    """Write every file of `plan` (anew), then its manifest; return the manifest."""
    folder = input_folder(work, plan)
    shutil.rmtree(folder, ignore_errors=True)
    started = time.perf_counter()
    world = build_world(plan)
    log(f"generating {plan.name} in {folder} ...")
    timings: dict[str, float] = {}
    for part, writer in (
        ("zone", _write_zone), ("registrations", _write_registrations), ("registrars", _write_registrars),
        ("reports", _write_report), ("feeds", _write_feeds),
    ):  # fmt: skip
        begun = time.perf_counter()
        (folder / part).mkdir(parents=True, exist_ok=True)
        writer(world, folder / part)
        timings[part] = round(time.perf_counter() - begun, 2)
        log(f"  {part}: {timings[part]:.1f} s")
    files = {
        part: {path.name: path.stat().st_size for path in sorted((folder / part).iterdir())}
        for part in ("zone", "registrations", "registrars", "reports", "feeds")
    }
    manifest = {
        "version": GENERATOR_VERSION,
        "plan": asdict(plan),
        "files": files,
        "bytes": sum(size for part in files.values() for size in part.values()),
        "seconds": round(time.perf_counter() - started, 1),
        "part_seconds": timings,
        "listed_domains": plan.listed_domains,
    }
    (folder / "manifest.json").write_text(json.dumps(manifest, indent=1) + "\n")
    return manifest


def _domain(world: DayWorld, numbers: np.ndarray, tld: bytes = b".com") -> Field:
    return concat(_domain_fields(world, numbers, tld))


def _domain_fields(world: DayWorld, numbers: np.ndarray, tld: bytes = b".com") -> list[Field]:
    parts = name_parts(numbers, world.words_of(numbers))
    return [
        Field(parts.letters, parts.prefix),
        choice(WORDS, parts.word),
        fixed(parts.number),
        constant(tld, len(numbers)),
    ]


def _write_zone(world: DayWorld, folder: Path) -> None:
    total = world.plan.delegations
    rng = np.random.default_rng(world.plan.seed + 3)
    with (folder / f"com-{DAY:%Y%m%d}.txt").open("wb") as out:
        out.write(
            b"com.\t900\tin\tsoa\ta.gtld-servers.net. nstld.verisign-grs.com. 1705276800 1800 900 "
            b"604800 86400\n"
            b"com.\t172800\tin\tns\ta.gtld-servers.net.\ncom.\t172800\tin\tns\tb.gtld-servers.net.\n"
        )
        for first in range(0, total, ZONE_CHUNK):
            numbers = np.arange(first, min(total, first + ZONE_CHUNK), dtype=np.int64)
            parts = name_parts(numbers, world.words_of(numbers))
            with_ds = (mix(numbers, 31) % np.uint64(3) == 0).astype(np.int64)
            hosts = host_field(numbers).matrix
            # Lines of one prefix length, word and DS or not have one layout: plain byte matrices.
            key = (parts.prefix * len(WORDS) + parts.word) * 2 + with_ds
            order = np.argsort(key, kind="stable")
            bounds = np.flatnonzero(np.diff(key[order])) + 1
            for group in np.split(order, bounds):
                first_row = group[0]
                word = WORDS[parts.word[first_row]]
                name = np.hstack([
                    parts.letters[group, : parts.prefix[first_row]],
                    np.broadcast_to(np.frombuffer(word, np.uint8), (len(group), len(word))),
                    parts.number[group],
                ])  # fmt: skip
                out.write(_zone_lines(name, hosts[group], bool(with_ds[first_row]), rng))


def _zone_lines(
    name_matrix: np.ndarray, host_matrix: np.ndarray, with_ds: bool, rng: np.random.Generator
) -> bytes:
    rows = len(name_matrix)
    name, hosts = fixed(name_matrix), fixed(host_matrix)
    fields = [
        name, constant(b".com.\t172800\tin\tns\tns1.", rows), hosts, constant(b".net.\n", rows),
        name, constant(b".com.\t172800\tin\tns\tns2.", rows), hosts, constant(b".net.\n", rows),
    ]  # fmt: skip
    if with_ds:
        digest = np.frombuffer(rng.bytes(rows * 32), np.uint8).reshape(rows, 32)
        hexed = np.empty((rows, 64), np.uint8)
        hexed[:, 0::2], hexed[:, 1::2] = HEX[digest >> 4], HEX[digest & 15]
        fields += [
            name, constant(b".com.\t86400\tin\tds\t", rows), digits(rng.integers(10000, 65536, rows), 5),
            constant(b" 13 2 ", rows), fixed(hexed), constant(b"\n", rows),
        ]  # fmt: skip
    return join_rows(fields)


def _write_registrations(world: DayWorld, folder: Path) -> None:
    total = world.registered
    parts = max(1, -(-total // REGISTRATION_FILE_ROWS))
    per_file = -(-total // parts)
    header = b"domain,registrar_iana_id,created,expires,status\n"
    for part in range(parts):
        with (folder / f"registrations-{DAY.isoformat()}-part{part + 1}.csv").open("wb") as out:
            out.write(header)
            end = min(total, (part + 1) * per_file)
            for first in range(part * per_file, end, ROWS_CHUNK):
                index = np.arange(first, min(end, first + ROWS_CHUNK), dtype=np.int64)
                created = world.reg_created[index]
                years = 1 + (mix(index, 41) % np.uint64(5)).astype(np.int64)
                expires = created + years * 365 * DAY_SECONDS
                expires = np.where(expires < DAY_START, expires + 10 * 365 * DAY_SECONDS, expires)
                rows = len(index)
                out.write(join_rows([
                    *_domain_fields(world, world.zone_number(index)), constant(b",", rows),
                    digits(world.registrar_ids[world.reg_registrar[index]]), constant(b",", rows),
                    timestamps(created), constant(b",", rows), timestamps(expires), constant(b",", rows),
                    choice(STATUSES, world.reg_status[index]), constant(b"\n", rows),
                ]))  # fmt: skip


def _write_registrars(world: DayWorld, folder: Path) -> None:
    lines = ["ID,Registrar Name,Status,RDAP Base URL"]
    for rank, iana_id in enumerate(world.registrar_ids.tolist()):
        if iana_id == world.registrar_ids[-1]:
            lines.append(f"{iana_id},Reserved for Registry Operator,Reserved,")
        else:
            status = "Terminated" if rank % 97 == 96 else "Accredited"
            lines.append(
                f"{iana_id},Registrar {iana_id} Ltd,{status},https://rdap.registrar{iana_id}.example/"
            )
    (folder / f"registrar-ids-{DAY.isoformat()}.csv").write_text("\n".join(lines) + "\n")


def _write_report(world: DayWorld, folder: Path) -> None:
    """The month's transaction report: domains under management summing to the zone plus the undelegated."""
    rng = np.random.default_rng(world.plan.seed + 1)
    managed = world.plan.delegations + (world.registered - world.registered_in_zone)
    totals = rng.multinomial(managed, world.registrar_weights)
    added = rng.multinomial(round(0.02 * managed), world.registrar_weights)
    lines = [",".join(TRANSACTION_COLUMNS)]
    for iana_id, total, adds in zip(
        world.registrar_ids.tolist(), totals.tolist(), added.tolist(), strict=True
    ):
        name = "Registry" if iana_id == world.registrar_ids[-1] else f"Registrar {iana_id} Ltd"
        values = dict.fromkeys(TRANSACTION_COLUMNS, "0") | {
            "registrar-name": name,
            "iana-id": str(iana_id), "total-domains": str(total), "total-nameservers": str(total // 40),
            "net-adds-1-yr": str(adds),
        }  # fmt: skip
        lines.append(",".join(values[column] for column in TRANSACTION_COLUMNS))
    lines.append(",".join(["Totals", "", str(managed)] + ["0"] * (len(TRANSACTION_COLUMNS) - 3)))
    (folder / f"com-transactions-{DAY:%Y%m}-en.csv").write_text("\n".join(lines) + "\n")


_MALICIOUS_PATHS = [b"/", b"/login.php", b"/secure/verify/index.html", b"/account/update",
                    b"/wallet/connect.html",
                    b"/bins/mozi.m", b"/signin/office365/"]  # fmt: skip
_COMPROMISED_PATHS = [b"/wp-content/uploads/2023/11/inv.php", b"/wp-includes/css/dist/a.zip",
                      b"/images/old/page.html", b"/wp-admin/css/login.php",
                      b"/blog/2019/05/x/index.php"]  # fmt: skip


def _write_feeds(world: DayWorld, folder: Path) -> None:
    """One snapshot per feed: every listed domain once in its first feed, a quarter again in another."""
    rng = np.random.default_rng(world.plan.seed + 2)
    plan = world.plan
    listed = plan.listed_domains
    again = rng.choice(listed, plan.listings - listed, replace=False)
    domain = np.concatenate([np.arange(listed), again])
    kind = world.listed_kind[domain]
    first_feed = rng.choice(4, listed, p=[0.3, 0.3, 0.15, 0.25])
    feed = np.concatenate([first_feed, (first_feed[again] + 1 + rng.integers(0, 3, len(again))) % 4])
    feed = np.where(kind == KIND_IP, 0, np.where((kind == KIND_BLOGSPOT) & (feed == 2), 3, feed))
    created = world.listed_created[domain]
    earliest = np.maximum(created, DAY_START - 14 * DAY_SECONDS)
    seen = earliest + (rng.random(len(domain)) * (DAY_START - 60 - earliest)).astype(np.int64)
    malicious = kind == KIND_MALICIOUS
    path = merge(
        [choice(_MALICIOUS_PATHS, rng.integers(0, len(_MALICIOUS_PATHS), int(malicious.sum()))),
         choice(_COMPROMISED_PATHS, rng.integers(0, len(_COMPROMISED_PATHS), int((~malicious).sum())))],
        (~malicious).astype(np.int64),
    )  # fmt: skip
    host = _hosts(world, domain, kind, rng)
    www = np.where((rng.random(len(domain)) < 0.3) & (kind != KIND_IP), 1, 0)
    url_host = concat([choice([b"", b"www."], www), host])
    url = concat([choice([b"http://", b"https://"], rng.integers(0, 2, len(domain))), url_host, path])
    for number, name in enumerate(FEEDS):
        rows = np.flatnonzero(feed == number)
        writer = {"urlhaus": _urlhaus, "phishtank": _phishtank, "dbl": _dbl, "generic": _generic}[name]
        text = writer(rows, host=host, url=url, seen=seen, kind=kind, rng=rng)
        (folder / f"{name}-{DAY.isoformat()}.csv").write_bytes(text)


def _hosts(world: DayWorld, domain: np.ndarray, kind: np.ndarray, rng: np.random.Generator) -> Field:
    numbers = world.listed_number[domain]
    category = np.select([kind == KIND_NET, kind == KIND_IP, kind == KIND_BLOGSPOT], [1, 2, 3], 0)
    quads = rng.integers(1, 255, (int((category == 2).sum()), 4))
    dot = constant(b".", len(quads))
    ip = concat(
        [digits(quads[:, 0]), dot, digits(quads[:, 1]), dot, digits(quads[:, 2]), dot, digits(quads[:, 3])]
    )
    parts = [
        _domain(world, numbers[category == 0]),
        _domain(world, numbers[category == 1], b".net"),
        ip,
        _domain(world, numbers[category == 3], b".blogspot.com"),
    ]
    return merge(parts, category)


def _ids(rows: np.ndarray, salt: int) -> Field:
    return digits(1_000_000 + (mix(rows.astype(np.int64), salt) % np.uint64(8_999_999)).astype(np.int64), 7)


def _urlhaus(rows: np.ndarray, *, host: Field, url: Field, seen: np.ndarray, kind: np.ndarray,
             rng: np.random.Generator) -> bytes:  # fmt: skip
    count = len(rows)
    quote, comma = constant(b'"', count), constant(b'","', count)
    entry = _ids(rows, 51)
    header = (
        b"################################################################\n"
        b"# abuse.ch URLhaus Database Dump (CSV - recent URLs)            #\n"
        b"# Terms Of Use: https://urlhaus.abuse.ch/api/                   #\n"
        b"################################################################\n#\n"
        b"# id,dateadded,url,url_status,last_online,threat,tags,urlhaus_link,reporter\n"
    )
    return header + join_rows([
        quote, entry, comma, timestamps(seen[rows], "space"), comma, url.take(rows), comma,
        constant(b'online","","malware_download","elf,mozi","https://urlhaus.abuse.ch/url/', count), entry,
        constant(b'/","', count),
        choice([b"abuse_ch", b"lrz_urlhaus", b"Cryptolaemus1"], rng.integers(0, 3, count)),
        constant(b'"\n', count),
    ])  # fmt: skip


def _phishtank(rows: np.ndarray, *, host: Field, url: Field, seen: np.ndarray, kind: np.ndarray,
               rng: np.random.Generator) -> bytes:  # fmt: skip
    count = len(rows)
    comma = constant(b",", count)
    entry = _ids(rows, 53)
    verified = np.where(rng.random(count) < 0.02, 1, 0)
    header = b"phish_id,url,phish_detail_url,submission_time,verified,verification_time,online,target\n"
    return header + join_rows([
        entry, comma, url.take(rows),
        constant(b",http://www.phishtank.com/phish_detail.php?phish_id=", count),
        entry, comma, timestamps(seen[rows]), comma, choice([b"yes", b"no"], verified), comma,
        timestamps(seen[rows] + 1800), constant(b",yes,", count),
        choice([b"Other", b"PayPal", b"Microsoft", b"Apple"], rng.integers(0, 4, count)),
        constant(b"\n", count),
    ])  # fmt: skip


def _dbl(rows: np.ndarray, *, host: Field, url: Field, seen: np.ndarray, kind: np.ndarray,
         rng: np.random.Generator) -> bytes:  # fmt: skip
    count = len(rows)
    malicious = kind[rows] != KIND_COMPROMISED
    ordinary = rng.choice([4, 5, 6, 2], count, p=[0.4, 0.25, 0.1, 0.25])
    legitimate = rng.choice([104, 105, 102], count, p=[0.45, 0.45, 0.1])
    code = np.where(malicious, ordinary, legitimate)
    return b"domain,return_code\n" + join_rows(
        [host.take(rows), constant(b",127.0.1.", count), digits(code), constant(b"\n", count)]
    )


def _generic(rows: np.ndarray, *, host: Field, url: Field, seen: np.ndarray, kind: np.ndarray,
             rng: np.random.Generator) -> bytes:  # fmt: skip
    count = len(rows)
    as_url = rng.random(count) < 0.5
    indicator = merge([host.take(rows[~as_url]), url.take(rows[as_url])], as_url.astype(np.int64))
    threats = [b"phishing", b"malware", b"botnet", b"spam", b"c2"]
    comma = constant(b",", count)
    return b"indicator,threat,first_seen,last_seen,source\n" + join_rows([
        indicator, comma, choice(threats, rng.choice(5, count, p=[0.35, 0.3, 0.05, 0.25, 0.05])), comma,
        timestamps(seen[rows]), constant(b",,community-cert\n", count),
    ])  # fmt: skip
