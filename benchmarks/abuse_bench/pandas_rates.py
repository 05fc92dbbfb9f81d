"""A straightforward pandas implementation of the three monthly abuse rates, from the same files.

What an analyst would write: `read_csv` every file, reduce URLs to registrable domains (two labels, as
every name in the synthetic day is a second-level .com/.net name; IP hosts and blogspot.com subdomains
dropped, as dnsvigil drops them), then merges and groupbys following dnsvigil's definitions
(src/dnsvigil/abuse/rates.py), for the month of the listings:

- tld / zone: abused = distinct listed domains of the TLD per threat; population = the zone's domains
  together with the TLD's listed domains (set union);
- registrar / dum: population = domains under management of each real registrar; abused = listed domains
  whose registrar (registration data) has a report row for the listing's TLD;
- registrar / new_registrations: population = domains created in the month, per real registrar; abused =
  those of them listed in the month.

Each threat group is phishing, malware, botnet_cc, spam and security (any but spam). Run as a child by
benchmarks/abuse.py, it prints its timings as JSON and writes the rates to a Parquet file.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import pandas as pd

from dnsvigil.abuse.registrars import NOT_REAL_REGISTRAR_IDS

MONTH_START = pd.Timestamp("2024-01-01", tz="UTC")
MONTH_END = pd.Timestamp("2024-02-01", tz="UTC")
THREATS = ("phishing", "malware", "botnet_cc", "spam", "security")
DBL = {2: "spam", 4: "phishing", 5: "malware", 6: "botnet_cc", 102: "spam", 103: "spam", 104: "phishing",
       105: "malware", 106: "botnet_cc"}  # fmt: skip
GENERIC = {
    "phishing": "phishing",
    "malware": "malware",
    "botnet": "botnet_cc",
    "c2": "botnet_cc",
    "spam": "spam",
}
_HOST = r"^(?:[a-zA-Z]+://)?([^/:?#]+)"
_IP = r"^\d+\.\d+\.\d+\.\d+$"


def _registrable(hosts: pd.Series) -> pd.DataFrame:
    """Registrable domain and TLD of each host; IP addresses and private-suffix names dropped."""
    hosts = hosts.str.lower().str.rstrip(".")
    keep = ~hosts.str.match(_IP) & ~hosts.str.endswith(".blogspot.com")
    labels = hosts[keep].str.split(".")
    domain = labels.str[-2] + "." + labels.str[-1]
    return pd.DataFrame({"domain": domain, "tld": labels.str[-1]})


def read_feeds(folder: Path) -> pd.DataFrame:
    """Every listing: domain, tld, threat."""
    frames = []
    for path in sorted(folder.glob("urlhaus-*.csv")):
        skip = sum(1 for line in path.open() if line.startswith("#"))
        data = pd.read_csv(path, skiprows=skip, header=None, usecols=[2, 5], names=["url", "threat"])
        frames.append(_registrable(data["url"].str.extract(_HOST)[0]).assign(threat="malware"))
    for path in sorted(folder.glob("phishtank-*.csv")):
        data = pd.read_csv(path, usecols=["url", "verified"])
        data = data[data["verified"].str.lower() != "no"]
        frames.append(_registrable(data["url"].str.extract(_HOST)[0]).assign(threat="phishing"))
    for path in sorted(folder.glob("dbl-*.csv")):
        data = pd.read_csv(path)
        code = data["return_code"].str.rsplit(".", n=1).str[-1].astype(int)
        frames.append(_registrable(data["domain"]).assign(threat=code.map(DBL)))
    for path in sorted(folder.glob("generic-*.csv")):
        data = pd.read_csv(path, usecols=["indicator", "threat"])
        hosts = data["indicator"].str.extract(_HOST)[0]
        frames.append(_registrable(hosts).assign(threat=data["threat"].str.lower().map(GENERIC)))
    return pd.concat(frames, ignore_index=True)


def read_zone(path: Path) -> pd.Series:
    """The distinct owners of NS records below the apex, without the trailing dot."""
    zone = pd.read_csv(path, sep="\t", header=None, usecols=[0, 3], names=["owner", "type"], dtype=str)
    owners = zone.loc[zone["type"].str.lower() == "ns", "owner"].str.lower().str.rstrip(".")
    return owners[owners.str.contains(".", regex=False)].drop_duplicates()


def read_registrations(folder: Path) -> pd.DataFrame:
    frames = [
        pd.read_csv(path, usecols=["domain", "registrar_iana_id", "created"])
        for path in sorted(folder.glob("*.csv"))
    ]
    data = pd.concat(frames, ignore_index=True)
    data["created"] = pd.to_datetime(data["created"], utc=True)
    data["tld"] = data["domain"].str.rsplit(".", n=1).str[-1]
    return data.drop_duplicates("domain", keep="last")


def not_real_registrars(registrar_list: Path) -> set[int]:
    """IDs that the registrar list or the fixed list says are no real registrar."""
    data = pd.read_csv(registrar_list)
    reserved = data.loc[data["Status"].str.lower() == "reserved", "ID"]
    return set(NOT_REAL_REGISTRAR_IDS) | set(reserved.astype(int))


def _tagged(listings: pd.DataFrame) -> pd.DataFrame:
    listed = listings.dropna(subset=["threat"]).drop_duplicates(["domain", "tld", "threat"])
    security = listed[listed["threat"] != "spam"].assign(threat="security")
    return pd.concat([listed, security]).drop_duplicates(["domain", "tld", "threat"])


def _rows(population: pd.Series, abused: pd.DataFrame, entity_type: str, denominator: str) -> pd.DataFrame:
    """Every entity with a population, for every threat group, with its abused count (0 when none)."""
    population = population[population > 0]
    grid = pd.MultiIndex.from_product([population.index.astype(str), THREATS], names=["entity", "threat"])
    counts = abused.groupby(["entity", "threat"])["domain"].nunique() if len(abused) else pd.Series(dtype=int)
    table = pd.DataFrame(index=grid).join(counts.rename("abused")).fillna({"abused": 0}).reset_index()
    table["population"] = table["entity"].map(population.set_axis(population.index.astype(str)))
    table["entity_type"], table["denominator"] = entity_type, denominator
    table["abused"] = table["abused"].astype("int64")
    table["rate_per_10k"] = 10_000 * table["abused"] / table["population"]
    return table


def compute(inputs: Path) -> tuple[pd.DataFrame, dict[str, float]]:
    """The three monthly rates from the files under `inputs` (the benchmark's folder layout)."""
    seconds: dict[str, float] = {}
    started = time.perf_counter()
    zone = read_zone(next((inputs / "zone").glob("*.txt")))
    seconds["read_zone"] = time.perf_counter() - started
    started = time.perf_counter()
    registrations = read_registrations(inputs / "registrations")
    not_real = not_real_registrars(next((inputs / "registrars").glob("*.csv")))
    dum = pd.read_csv(
        next((inputs / "reports").glob("*.csv")), usecols=["registrar-name", "iana-id", "total-domains"]
    )
    dum = dum[dum["registrar-name"].str.lower() != "totals"].assign(tld="com")
    dum["iana-id"] = dum["iana-id"].astype(int)
    listings = read_feeds(inputs / "feeds")
    seconds["read_other"] = time.perf_counter() - started

    started = time.perf_counter()
    tagged = _tagged(listings)
    # TLD per zone domains: the zone's domains and the TLD's listed ones, as one set.
    zone_tlds = {"com"}
    listed_in_zone_tlds = tagged.loc[tagged["tld"].isin(zone_tlds), ["domain", "tld"]]
    members = pd.concat([pd.DataFrame({"domain": zone, "tld": "com"}), listed_in_zone_tlds]).drop_duplicates()
    by_tld = _rows(
        members.groupby("tld")["domain"].size(), tagged.rename(columns={"tld": "entity"}), "tld", "zone"
    )
    # Registrar per domains under management.
    real = ~dum["iana-id"].isin(not_real)
    managed = dum[real].groupby("iana-id")["total-domains"].sum()
    known = tagged.merge(registrations[["domain", "registrar_iana_id"]], on="domain")
    known = known.merge(
        dum[["tld", "iana-id"]].drop_duplicates(),
        left_on=["tld", "registrar_iana_id"],
        right_on=["tld", "iana-id"],
    )
    by_dum = _rows(managed, known.assign(entity=known["registrar_iana_id"].astype(str)), "registrar", "dum")
    # Registrar per new registrations.
    created = registrations["created"]
    new = registrations[(created >= MONTH_START) & (created < MONTH_END)]
    new = new[new["registrar_iana_id"].notna() & ~new["registrar_iana_id"].isin(not_real)]
    new_abused = tagged.merge(new[["domain", "registrar_iana_id"]], on="domain")
    by_new = _rows(
        new.groupby("registrar_iana_id").size(),
        new_abused.assign(entity=new_abused["registrar_iana_id"].astype(int).astype(str)),
        "registrar",
        "new_registrations",
    )
    seconds["rates"] = time.perf_counter() - started
    columns = ["entity_type", "denominator", "entity", "threat", "abused", "population", "rate_per_10k"]
    return pd.concat([by_tld, by_dum, by_new], ignore_index=True)[columns], seconds


def main(inputs: Path, out: Path) -> None:
    started = time.perf_counter()
    rates, seconds = compute(inputs)
    rates.to_parquet(out, index=False)
    seconds["total"] = time.perf_counter() - started
    print(json.dumps({"seconds": {key: round(value, 3) for key, value in seconds.items()}, "rows": len(rates),
                      "pandas": pd.__version__}))  # fmt: skip
