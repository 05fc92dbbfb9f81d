"""Write the demo's registration world as the standard files a registry, a researcher and feeds provide,
and its truth apart from them.

The files, under `out/`:
- `zones/<tld>-YYYYMMDD.txt.gz`: weekly CZDS-style zone snapshots (held domains are not delegated);
- `registrations/registrations-YYYY-MM-DD.csv`: the registry's full list on the first day, then each day's
  new registrations of the day before;
- `rdap/rdap-YYYY-MM-DD.jsonl.gz`: RDAP responses of listed domains, polled every 12 hours while listed;
- `registrars/registrar-ids-YYYY-MM-DD.csv` (IANA's list) and `reports/<tld>-transactions-YYYYMM-en.csv`;
- `feeds/<feed>/<feed>-YYYY-MM-DD.*`: daily snapshots of PhishTank, OpenPhish, URLhaus, a DBL-style list and a
  community feed in the generic CSV, each listing what is active when it is fetched (00:00 UTC);
- `popularity/tranco-YYYY-MM-DD.csv`: a weekly Tranco-style top list (`rank,domain`) of the most visited
  domains delegated that day. Popularity comes from traffic, which the world does not model otherwise: each
  domain gets a latent log-normal draw from its own stream of the seed (so the rest of the world is the
  same with or without lists), older domains a little more, plus weekly noise. A hacked site is as popular
  as any of its age; a campaign's domain draws less, and only while it is up, so a few enter a list.
The truth goes to `truth/` (`registration-truth.json`, `domains.csv`), which no analysis reads.
"""

from __future__ import annotations

import csv
import gzip
import io
import json
import zlib
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path

import numpy as np

from dnsvigil.demo.registration_world import (
    END,
    REGISTRARS,
    REGISTRY_ID,
    START,
    TLDS,
    Domain,
    RegistrationWorld,
    at,
    month_starts,
)
from dnsvigil.ingest.abuse_feeds import FeedFormat
from dnsvigil.outputs import write_atomically

ZONE_EVERY_DAYS = 7
TOP_LIST_SIZE = 3000
TOP_LIST_NOISE = 0.15  # weekly change of a domain's log-popularity, as a list averaged over days keeps
POLL_HOURS = 12.0
LAST_FETCH = END - timedelta(days=1)
DBL_CODES = {"spam": 2, "phishing": 4, "malware": 5, "botnet_cc": 6}
ABUSED_LEGITIMATE = 100  # DBL adds 100 to a code for an abused legitimate (compromised) domain
TRANSACTION_COLUMNS = (
    "registrar-name", "iana-id", "total-domains", "total-nameservers",
    *(f"net-adds-{years}-yr" for years in range(1, 11)),
    *(f"net-renews-{years}-yr" for years in range(1, 11)),
    "transfer-gaining-successful", "transfer-gaining-nacked", "transfer-losing-successful",
    "transfer-losing-nacked", "transfer-disputed-won", "transfer-disputed-lost",
    "transfer-disputed-nodecision",
    "deleted-domains-grace", "deleted-domains-nograce", "restored-domains", "restored-noreport",
    "agp-exemption-requests", "agp-exemptions-granted", "agp-exempted-domains", "attempted-adds",
)  # fmt: skip
"""The columns of an ICANN registry monthly transaction report."""
FEED_FILES: dict[str, tuple[FeedFormat, str]] = {
    "phishtank": ("phishtank", "csv"),
    "openphish": ("openphish", "txt"),
    "urlhaus": ("urlhaus", "csv"),
    "dbl": ("dbl", "csv"),
    "generic": ("generic", "csv"),
}


@dataclass(frozen=True, slots=True)
class RegistrationFiles:
    """The folders written, by the ingest command that reads them."""

    zones: Path
    registrations: Path
    rdap: Path
    registrars: Path
    reports: Path
    feeds: dict[str, Path]
    popularity: Path
    truth: Path


def days_between(first: date, last: date, step: int = 1) -> Iterator[date]:
    """`first`, `first + step`, ... up to `last` included."""
    day = first
    while day <= last:
        yield day
        day += timedelta(days=step)


def write_registration_files(world: RegistrationWorld, out: Path) -> RegistrationFiles:
    """Write every file of `world` under `out` and return where each kind went."""
    files = RegistrationFiles(
        zones=out / "zones",
        registrations=out / "registrations",
        rdap=out / "rdap",
        registrars=out / "registrars",
        reports=out / "reports",
        feeds={feed: out / "feeds" / feed for feed in FEED_FILES},
        popularity=out / "popularity",
        truth=out / "truth",
    )
    _write_zones(world, files.zones)
    _write_registrations(world, files.registrations)
    _write_registrars(files.registrars)
    _write_reports(world, files.reports)
    published = _write_feeds(world, files.feeds)
    _write_rdap(world, published, files.rdap)
    _write_popularity(world, files.popularity)
    _write_truth(world, published, files.truth)
    return files


def _text(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    data = text.encode()
    write_atomically(path, gzip.compress(data, compresslevel=1, mtime=0) if path.suffix == ".gz" else data)


def _stamp(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def _delegated(domain: Domain, moment: datetime) -> bool:
    held = domain.kind == "malicious" and domain.mitigated_at is not None and domain.mitigated_at <= moment
    return domain.created <= moment and not held


def _write_zones(world: RegistrationWorld, folder: Path) -> None:
    for day in days_between(START, LAST_FETCH, ZONE_EVERY_DAYS):
        moment = at(day)
        for tld, _, _ in TLDS:
            soa = f"a.nic.{tld}. hostmaster.nic.{tld}. {day:%Y%m%d}01 1800 900 604800 86400"
            lines = [f"{tld}.\t900\tin\tsoa\t{soa}"]
            for domain in world.domains:
                if domain.tld == tld and _delegated(domain, moment):
                    lines += [f"{domain.name}.\t86400\tin\tns\t{server}." for server in domain.nameservers]
            _text(folder / f"{tld}-{day:%Y%m%d}.txt.gz", "\n".join(lines) + "\n")


def _write_popularity(world: RegistrationWorld, folder: Path) -> None:
    rng = np.random.default_rng([world.seed, 7])
    popularity = rng.normal(0.0, 1.0, len(world.domains))
    for index, domain in enumerate(world.domains):
        if domain.kind == "malicious":
            popularity[index] -= 1.5
        else:
            popularity[index] += 0.3 * np.log1p(max(0.0, (at(START) - domain.created).days) / 365.0)
    for day in days_between(START, LAST_FETCH, ZONE_EVERY_DAYS):
        moment = at(day)
        weekly = popularity + rng.normal(0.0, TOP_LIST_NOISE, len(popularity))
        up = [index for index, domain in enumerate(world.domains) if _delegated(domain, moment)]
        top = sorted(up, key=lambda index: -weekly[index])[:TOP_LIST_SIZE]
        lines = [f"{rank},{world.domains[index].name}" for rank, index in enumerate(top, start=1)]
        _text(folder / f"tranco-{day.isoformat()}.csv", "\n".join(lines) + "\n")


def _csv_text(rows: list[list[str]]) -> str:
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\n").writerows(rows)
    return buffer.getvalue()


def _registration_row(domain: Domain) -> list[str]:
    expires = domain.created + timedelta(days=365)
    return [domain.name, str(domain.registrar), _stamp(domain.created), _stamp(expires), "ok"]


def _write_registrations(world: RegistrationWorld, folder: Path) -> None:
    header = ["domain", "registrar_iana_id", "created", "expires", "status"]
    by_day: dict[date, list[Domain]] = defaultdict(list)
    for domain in world.domains:
        by_day[max(START, (domain.created + timedelta(days=1)).date())].append(domain)
    for day in days_between(START, LAST_FETCH):
        rows = [header] + [_registration_row(domain) for domain in by_day[day]]
        _text(folder / f"registrations-{day.isoformat()}.csv", _csv_text(rows))


def _write_registrars(folder: Path) -> None:
    rows = [["ID", "Registrar Name", "Status", "RDAP Base URL"]]
    rows.append(
        [
            "1",
            "Reserved for non-billable transactions where Registry Operator acts as Registrar",
            "Reserved",
            "",
        ]
    )
    rows += [[str(iana_id), name, "Accredited", ""] for iana_id, name, _, _ in REGISTRARS]
    rows.append(
        [
            str(REGISTRY_ID),
            "Reserved for non-billable transactions where Registry Operator acts as Registrar",
            "Reserved",
            "",
        ]
    )
    _text(folder / f"registrar-ids-{START.isoformat()}.csv", _csv_text(rows))


def month_totals(world: RegistrationWorld, month: date) -> dict[tuple[str, int], tuple[int, int]]:
    """Domains under management at the end of `month` and new registrations in it, by (TLD, registrar)."""
    following = (month.replace(day=28) + timedelta(days=4)).replace(day=1)
    totals: dict[tuple[str, int], tuple[int, int]] = {}
    for domain in world.domains:
        if domain.created < at(following):
            total, adds = totals.get((domain.tld, domain.registrar), (0, 0))
            totals[domain.tld, domain.registrar] = (total + 1, adds + (domain.created >= at(month)))
    return totals


def _write_reports(world: RegistrationWorld, folder: Path) -> None:
    names = {iana_id: name for iana_id, name, _, _ in REGISTRARS} | {REGISTRY_ID: "Registry Operator"}
    for month in month_starts():
        totals = month_totals(world, month)
        for tld, _, _ in TLDS:
            rows = [list(TRANSACTION_COLUMNS)]
            for (report_tld, registrar), (total, adds) in sorted(totals.items()):
                if report_tld != tld:
                    continue
                values = dict.fromkeys(TRANSACTION_COLUMNS, "0") | {
                    "registrar-name": names[registrar],
                    "iana-id": str(registrar),
                    "total-domains": str(total),
                    "net-adds-1-yr": str(adds),
                }
                rows.append([values[column] for column in TRANSACTION_COLUMNS])
            _text(folder / f"{tld}-transactions-{month:%Y%m}-en.csv", _csv_text(rows))


@dataclass(slots=True)
class Published:
    """What the feeds made public about one domain: its first listing moment (a feed's own first-seen time,
    else the first fetch that listed it), the feeds, and the last fetch that listed it."""

    anchor: datetime
    feeds: set[str]
    last_fetch: datetime


def _entry_id(domain: Domain) -> str:
    return str(zlib.crc32(domain.name.encode()) % 9_000_000 + 1_000_000)


def _url(domain: Domain) -> str:
    return f"http://{domain.name}{domain.url_path}"


def _feed_line(
    feed: str, domain: Domain, threat: str, listed: datetime, ended: datetime | None, active: bool
) -> list[str]:
    if feed == "phishtank":
        entry = _entry_id(domain)
        return [
            entry,
            _url(domain),
            f"http://phishtank.example/{entry}",
            _stamp(listed),
            "yes",
            _stamp(listed),
            "yes",
            "Other",
        ]
    if feed == "openphish":
        return [_url(domain)]
    if feed == "urlhaus":
        entry = _entry_id(domain)
        last_online = _stamp(ended) if not active and ended else ""
        status = "online" if active else "offline"
        return [
            entry,
            listed.strftime("%Y-%m-%d %H:%M:%S"),
            _url(domain),
            status,
            last_online,
            "malware_download",
            "exe",
            "",
            "demo",
        ]
    if feed == "dbl":
        code = DBL_CODES[threat] + (ABUSED_LEGITIMATE if domain.kind == "compromised" else 0)
        return [domain.name, f"127.0.1.{code}"]
    return [domain.name, threat, _stamp(listed), "", "community-cert"]


FEED_HEADERS = {
    "phishtank": "phish_id,url,phish_detail_url,submission_time,verified,verification_time,online,target\n",
    "openphish": "",
    "urlhaus": "# abuse.ch URLhaus Database Dump (CSV), demo\n"
    "# id,dateadded,url,url_status,last_online,threat,tags,urlhaus_link,reporter\n",
    "dbl": "domain,return_code\n",
    "generic": "indicator,threat,first_seen,last_seen,source\n",
}
_GIVES_FIRST_SEEN = frozenset({"phishtank", "urlhaus", "generic"})


def _write_feeds(world: RegistrationWorld, folders: dict[str, Path]) -> dict[str, Published]:
    """One snapshot per feed and day: the entries active at the fetch; URLhaus also shows, once, the
    entries that went offline since the fetch before, with their last online time."""
    listings = [(domain, *listing) for domain in world.domains for listing in domain.listings]
    published: dict[str, Published] = {}
    for day in days_between(START + timedelta(days=1), LAST_FETCH):
        moment = at(day)
        lines: dict[str, list[list[str]]] = defaultdict(list)
        for domain, feed, threat, listed, ended in listings:
            if listed > moment:
                continue
            active = ended is None or moment < ended
            went_offline = (
                feed == "urlhaus" and ended is not None and moment - timedelta(days=1) <= ended < moment
            )
            if not (active or went_offline):
                continue
            lines[feed].append(_feed_line(feed, domain, threat, listed, ended, active))
            anchor = listed if feed in _GIVES_FIRST_SEEN else moment
            seen = published.setdefault(domain.name, Published(anchor, set(), moment))
            seen.anchor, seen.last_fetch = min(seen.anchor, anchor), moment
            seen.feeds.add(feed)
        for feed, folder in folders.items():
            extension = FEED_FILES[feed][1]
            _text(
                folder / f"{feed}-{day.isoformat()}.{extension}", FEED_HEADERS[feed] + _csv_text(lines[feed])
            )
    return published


def _rdap_response(domain: Domain, polled: datetime, held: bool) -> str:
    registrar = str(domain.registrar)
    return json.dumps(
        {
            "objectClassName": "domain",
            "ldhName": domain.name,
            "status": ["client hold"] if held else ["active"],
            "events": [
                {"eventAction": "registration", "eventDate": _stamp(domain.created)},
                {"eventAction": "expiration", "eventDate": _stamp(domain.created + timedelta(days=365))},
                {"eventAction": "last update of RDAP database", "eventDate": _stamp(polled)},
            ],
            "entities": [
                {
                    "objectClassName": "entity",
                    "handle": registrar,
                    "roles": ["registrar"],
                    "publicIds": [{"type": "IANA Registrar ID", "identifier": registrar}],
                }
            ],
            "nameservers": [
                {"objectClassName": "nameserver", "ldhName": server} for server in domain.nameservers
            ],
        },
        separators=(",", ":"),
    )


def _write_rdap(world: RegistrationWorld, published: dict[str, Published], folder: Path) -> None:
    """Poll each listed domain every `POLL_HOURS` from its first listing until a poll sees it held, or a
    day after the feeds stopped listing it, or the data ends."""
    by_day: dict[date, list[str]] = defaultdict(list)
    end = at(END)
    for domain in world.domains:
        seen = published.get(domain.name)
        if seen is None:
            continue
        offset = (zlib.crc32(domain.name.encode()) % 1000) / 1000 * POLL_HOURS
        polled = seen.anchor + timedelta(hours=offset)
        stop = min(end, seen.last_fetch + timedelta(days=1))
        while polled < end:
            held = (
                domain.kind == "malicious"
                and domain.mitigated_at is not None
                and domain.mitigated_at <= polled
            )
            by_day[polled.date()].append(_rdap_response(domain, polled, held))
            if held or (polled >= stop and domain.kind != "malicious"):
                break
            polled += timedelta(hours=POLL_HOURS)
    for day, lines in sorted(by_day.items()):
        _text(folder / f"rdap-{day.isoformat()}.jsonl.gz", "\n".join(lines) + "\n")


def _write_truth(world: RegistrationWorld, published: dict[str, Published], folder: Path) -> None:
    """The truth: each published domain's class and true days to mitigation (from its first published
    listing; 0 when mitigated before), the planted shifts, and the true monthly compromise (malware) rates."""
    rows = [["domain", "kind", "registrar", "tld", "created", "first_listed", "true_days", "innocent"]]
    for domain in world.domains:
        seen = published.get(domain.name)
        if seen is None:
            continue
        days = ""
        if domain.mitigated_at is not None:
            days = f"{max(0.0, (domain.mitigated_at - seen.anchor).total_seconds() / 86_400):.6f}"
        rows.append(
            [domain.name, domain.kind, str(domain.registrar), domain.tld, _stamp(domain.created),
             _stamp(seen.anchor), days, "yes" if domain.innocent_listing else "no"]
        )  # fmt: skip
    rates = []
    for month in month_starts():
        managed: dict[int, int] = defaultdict(int)
        for (_, registrar), (total, _) in month_totals(world, month).items():
            managed[registrar] += total
        for registrar, rate in sorted(world.compromise_rates.items()):
            expected = rate * world.at_risk.get((registrar, month), 0)
            rates.append(
                {"month": month.isoformat(), "registrar": str(registrar), "threat": "malware",
                 "denominator": "dum", "rate_per_10k": 10_000 * expected / managed[registrar]}
            )  # fmt: skip
    document = {
        "seed": world.seed,
        "shifts": [
            {
                "entity_type": s.entity_type,
                "entity": s.entity,
                "month": s.month.strftime("%Y-%m"),
                "direction": s.direction,
            }
            for s in world.shifts
        ],
        "registrars": {
            str(iana_id): {"name": name, "median_mitigation_days": median}
            for iana_id, name, _, median in REGISTRARS
        },
        "rates": rates,
    }
    _text(folder / "domains.csv", _csv_text(rows))
    _text(folder / "registration-truth.json", json.dumps(document, indent=1, sort_keys=True) + "\n")
