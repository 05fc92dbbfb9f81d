"""The demo's registration world: TLDs, registrars, registrations, abusers and the feeds that catch them.

A seeded model of six months of a few TLDs, kept small enough for a laptop demo:

- Registrars with Zipf-distributed sizes and prices; every month each adds new ordinary registrations.
- Abusers register malicious domains (phishing, botnet C&C, spam) in campaigns of similar names on one
  name server pair, choosing registrars and TLDs by price: in `CRACKDOWN_MONTH` the cheapest registrar
  cracks down and they move to the next cheap one; in `PRICE_CUT_MONTH` one TLD cuts its price and they
  move there. Those moves are the planted shifts.
- Old ordinary domains get compromised (malware on a hacked site), each domain independently at its
  registrar's monthly rate, and are cleaned within the month.
- Registrars mitigate malicious domains (client hold) after an exponential time with their own median.
- Feeds list what they see, with delays; a community feed also lists a few innocent domains.

Everything an analysis may read is written as standard files (`registration_files`); the truth (each
domain's class and true mitigation time, the planted shifts, the true rates) goes to a separate file.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta

import numpy as np

START = date(2026, 5, 1)
MONTHS = 6
END = date(2026, 11, 1)
CRACKDOWN_MONTH = date(2026, 8, 1)
PRICE_CUT_MONTH = date(2026, 7, 1)

# (TLD, existing domains, price per year in dollars); `top` cuts its price to PRICE_CUT in PRICE_CUT_MONTH.
TLDS = (("com", 9000, 10.0), ("net", 2500, 12.0), ("org", 2000, 11.0), ("xyz", 1500, 2.0), ("top", 1000, 4.0))
PRICE_CUT_TLD, PRICE_CUT = "top", 0.8
# (IANA ID, name, price factor, median days to mitigate); sizes follow Zipf in this order.
REGISTRARS = (
    (4101, "Aurora Names, Inc.", 1.0, 1.5),
    (4102, "Boreal Domains LLC", 1.1, 2.0),
    (4103, "Cedar Registry Services", 0.9, 3.0),
    (4104, "Delta Web Names", 1.0, 1.0),
    (4105, "Ember Hosting Ltd", 1.2, 4.0),
    (4106, "Fjord Internet AS", 1.0, 2.5),
    (4107, "Granite Names GmbH", 1.0, 6.0),
    (4108, "Harbor Domains Pte", 0.35, 12.0),  # the cheapest: abusers' first choice, until its crackdown
    (4109, "Iris Registrar SA", 1.1, 5.0),
    (4110, "Juniper Names Co", 0.45, 20.0),  # the next cheapest: where abusers go after the crackdown
    (4111, "Kestrel Domains", 1.0, 3.5),
    (4112, "Lumen Registrations", 0.9, 8.0),
)
REGISTRY_ID = 9999  # the registry acting as registrar: not a real registrar, never ranked
CHEAP, NEXT_CHEAP = 4108, 4110
NEW_PER_MONTH = 0.02  # ordinary new registrations, as a share of a registrar's domains
MALICIOUS_PER_MONTH = 450
COMPROMISE_PER_10K = 40.0  # mean monthly compromises per 10,000 old domains; varies by registrar
ABUSER_SERVERS = 40
INNOCENT_LISTED_PER_MONTH = 4
PRICE_SCALE = 1.5  # how strongly abusers prefer a cheap price: weight exp(-price / PRICE_SCALE)
BRANDS = ("paypal", "apple", "microsoft", "netflix", "amazon", "chase", "dhl", "office365", "wellsfargo")
LURES = ("login", "secure", "verify", "account", "update", "support", "signin", "billing", "auth")
WORDS = (
    "garden", "river", "studio", "bakery", "travel", "photo", "design", "music", "coffee", "fitness",
    "dental", "books", "family", "kitchen", "ocean", "mountain", "city", "green", "smart", "happy", "local",
    "north", "craft", "pixel", "cloud", "market", "home", "auto", "pet", "yoga",
)  # fmt: skip


@dataclass(slots=True)
class Domain:
    """One registered domain and what happens to it (times are UTC datetimes; None when it never happens).

    `kind` is "ordinary", "malicious" or "compromised" (an ordinary domain that got hacked); `listings`
    are (feed, threat, listed_at, delisted_at) for each feed that lists it.
    """

    name: str
    tld: str
    registrar: int
    created: datetime
    nameservers: tuple[str, ...]
    kind: str = "ordinary"
    threat: str | None = None
    compromised_at: datetime | None = None
    mitigated_at: datetime | None = None
    listings: list[tuple[str, str, datetime, datetime | None]] = field(default_factory=list)
    url_path: str = "/"
    innocent_listing: bool = False


@dataclass(frozen=True, slots=True)
class PlantedShift:
    """A move of abusers the world was built with: which entity's share rises or falls, in which month."""

    entity_type: str
    entity: str
    month: date
    direction: str


@dataclass(frozen=True, slots=True)
class RegistrationWorld:
    """The whole world: its domains (ordinary, malicious, compromised) and the parameters behind them.

    `at_risk[(registrar, month)]` counts the old domains that could be compromised that month, each with
    probability `compromise_rates[registrar]`: the true compromise rate follows from them.
    """

    seed: int
    domains: tuple[Domain, ...]
    compromise_rates: dict[int, float]
    at_risk: dict[tuple[int, date], int]
    shifts: tuple[PlantedShift, ...]


def month_starts() -> list[date]:
    """The first day of each month of the world."""
    return [
        date(START.year + (START.month - 1 + i) // 12, (START.month - 1 + i) % 12 + 1, 1)
        for i in range(MONTHS)
    ]


def at(day: date, hours: float = 0.0) -> datetime:
    """`day` at 00:00 UTC plus `hours`."""
    return datetime(day.year, day.month, day.day, tzinfo=UTC) + timedelta(hours=hours)


def build_world(seed: int) -> RegistrationWorld:
    """Generate the world of `seed` (same seed, same world)."""
    rng = np.random.default_rng(seed)
    ranks = np.arange(1, len(REGISTRARS) + 1)
    shares = (1.0 / ranks) / (1.0 / ranks).sum()
    total = sum(size for _, size, _ in TLDS)
    sizes = {
        registrar[0]: round(float(share) * total) for registrar, share in zip(REGISTRARS, shares, strict=True)
    }
    compromise_rates = {
        registrar[0]: float(COMPROMISE_PER_10K * rng.uniform(0.4, 2.0)) / 10_000 for registrar in REGISTRARS
    }
    names = _NameMaker(rng)
    domains = _ordinary_domains(rng, names, sizes)
    domains += _registry_domains(rng, names)
    at_risk: dict[tuple[int, date], int] = {}
    for month in month_starts():
        domains += _new_ordinary(rng, names, domains, month)
        domains += _malicious(rng, names, month)
        _list_innocents(rng, domains, month)
        for registrar, count in _compromise(rng, domains, month, compromise_rates).items():
            at_risk[registrar, month] = count
    shifts = (
        PlantedShift("registrar", str(CHEAP), CRACKDOWN_MONTH, "fall"),
        PlantedShift("registrar", str(NEXT_CHEAP), CRACKDOWN_MONTH, "rise"),
        PlantedShift("tld", PRICE_CUT_TLD, PRICE_CUT_MONTH, "rise"),
        PlantedShift("tld", "xyz", PRICE_CUT_MONTH, "fall"),
    )
    return RegistrationWorld(seed, tuple(domains), compromise_rates, at_risk, shifts)


class _NameMaker:
    """Unique, plausible labels: ordinary ones from words, malicious ones from brands and lures."""

    def __init__(self, rng: np.random.Generator) -> None:
        self.rng = rng
        self.taken: set[str] = set()

    def _unique(self, label: str, tld: str) -> str:
        name, counter = f"{label}.{tld}", 1
        while name in self.taken:
            counter += 1
            name = f"{label}{counter}.{tld}"
        self.taken.add(name)
        return name

    def ordinary(self, tld: str) -> str:
        first, second = self.rng.choice(WORDS, size=2, replace=False)
        joiner = "-" if self.rng.random() < 0.3 else ""
        return self._unique(f"{first}{joiner}{second}", tld)

    def campaign(self, tld: str, brand: str, count: int) -> list[str]:
        lures = self.rng.choice(LURES, size=count)
        tails = self.rng.integers(10, 999, size=count)
        return [self._unique(f"{brand}-{lure}-{tail}", tld) for lure, tail in zip(lures, tails, strict=True)]


def _price(tld: str, month: date) -> float:
    if tld == PRICE_CUT_TLD and month >= PRICE_CUT_MONTH:
        return PRICE_CUT
    return next(price for name, _, price in TLDS if name == tld)


def _pick_tld(rng: np.random.Generator, weights_of: dict[str, float]) -> str:
    names = list(weights_of)
    weights = np.array([weights_of[name] for name in names])
    return str(names[rng.choice(len(names), p=weights / weights.sum())])


def _ordinary_tld_weights() -> dict[str, float]:
    return {name: float(size) for name, size, _ in TLDS}


def _ordinary_domains(rng: np.random.Generator, names: _NameMaker, sizes: dict[int, int]) -> list[Domain]:
    domains = []
    for registrar, size in sizes.items():
        servers = (f"ns1.dns-{registrar}.net", f"ns2.dns-{registrar}.net")
        for _ in range(size):
            tld = _pick_tld(rng, _ordinary_tld_weights())
            age_days = float(rng.uniform(60, 3650))
            created = at(START) - timedelta(days=age_days)
            domains.append(Domain(names.ordinary(tld), tld, registrar, created, servers))
    return domains


def _registry_domains(rng: np.random.Generator, names: _NameMaker) -> list[Domain]:
    """A few domains the registry holds itself (an IANA ID that is not a registrar)."""
    servers = ("a.nic.example", "b.nic.example")
    return [
        Domain(names.ordinary("com"), "com", REGISTRY_ID, at(START) - timedelta(days=900), servers)
        for _ in range(int(rng.integers(20, 30)))
    ]


def _new_ordinary(
    rng: np.random.Generator, names: _NameMaker, domains: list[Domain], month: date
) -> list[Domain]:
    counts: dict[int, int] = {}
    for domain in domains:
        if domain.kind == "ordinary":
            counts[domain.registrar] = counts.get(domain.registrar, 0) + 1
    new = []
    days = _days_in(month)
    for registrar, count in counts.items():
        if registrar == REGISTRY_ID:
            continue
        servers = (f"ns1.dns-{registrar}.net", f"ns2.dns-{registrar}.net")
        for _ in range(int(rng.poisson(count * NEW_PER_MONTH))):
            tld = _pick_tld(rng, _ordinary_tld_weights())
            created = at(month, float(rng.uniform(0, 24 * days)))
            new.append(Domain(names.ordinary(tld), tld, registrar, created, servers))
    return new


def _days_in(month: date) -> int:
    following = (month.replace(day=28) + timedelta(days=4)).replace(day=1)
    return (following - month).days


def _registrar_weights(month: date) -> dict[int, float]:
    weights = {}
    for iana_id, _, price_factor, _ in REGISTRARS:
        weight = math.exp(-price_factor * 10.0 / PRICE_SCALE / 3.0)
        if month >= CRACKDOWN_MONTH and iana_id == CHEAP:
            weight *= 0.05  # the crackdown: identity checks and prepayment
        elif month >= CRACKDOWN_MONTH and iana_id == NEXT_CHEAP:
            weight *= 4.0  # word spreads among abusers: the next cheap registrar asks no questions
        weights[iana_id] = weight
    return weights


def _malicious(rng: np.random.Generator, names: _NameMaker, month: date) -> list[Domain]:
    """This month's campaigns: each a few similar names registered the same day at one registrar and TLD."""
    registrar_weights = _registrar_weights(month)
    tld_weights = {name: math.exp(-_price(name, month) / PRICE_SCALE) for name, _, _ in TLDS}
    registrars = list(registrar_weights)
    probabilities = np.array([registrar_weights[r] for r in registrars])
    probabilities /= probabilities.sum()
    median_days = {iana_id: median for iana_id, _, _, median in REGISTRARS}
    domains: list[Domain] = []
    days = _days_in(month)
    remaining = int(rng.poisson(MALICIOUS_PER_MONTH))
    while remaining > 0:
        count = min(remaining, int(rng.integers(1, 5)))
        remaining -= count
        registrar = int(registrars[rng.choice(len(registrars), p=probabilities)])
        tld = _pick_tld(rng, tld_weights)
        server = int(rng.integers(ABUSER_SERVERS))
        servers = (f"ns1.host{server}.ru", f"ns2.host{server}.ru")
        day = at(month, 24.0 * float(rng.integers(0, days)))
        threat = str(rng.choice(["phishing", "botnet_cc", "spam"], p=[0.7, 0.15, 0.15]))
        brand = str(rng.choice(BRANDS))
        for name in names.campaign(tld, brand, count):
            created = day + timedelta(hours=float(rng.uniform(0, 24)))
            domain = Domain(name, tld, registrar, created, servers, kind="malicious", threat=threat)
            domain.url_path = "/" + str(rng.choice(["signin", "login.php", "verify/account", "index.html"]))
            first_listed = created + timedelta(hours=float(rng.uniform(2, 72)))
            rate = math.log(2) / median_days[registrar]
            domain.mitigated_at = first_listed + timedelta(days=float(rng.exponential(1.0 / rate)))
            domain.listings = _malicious_listings(rng, domain, first_listed)
            domains.append(domain)
    return domains


def _malicious_listings(
    rng: np.random.Generator, domain: Domain, first: datetime
) -> list[tuple[str, str, datetime, datetime | None]]:
    """Feeds that list a malicious domain; each stops listing it some hours after it is mitigated."""
    assert domain.mitigated_at is not None and domain.threat is not None
    threat = domain.threat

    def until() -> datetime:
        assert domain.mitigated_at is not None
        return domain.mitigated_at + timedelta(hours=float(rng.uniform(6, 48)))

    listings: list[tuple[str, str, datetime, datetime | None]] = []
    if threat == "phishing":
        listings.append(("phishtank", threat, first, until()))
        if rng.random() < 0.5:
            listings.append(
                ("openphish", threat, first + timedelta(hours=float(rng.uniform(1, 24))), until())
            )
    elif threat == "botnet_cc":
        listings.append(("generic", threat, first, until()))
    if threat == "spam" or rng.random() < 0.6:  # DBL misses some: the classifier decides those
        listings.append(("dbl", threat, first + timedelta(hours=float(rng.uniform(0, 36))), until()))
    return listings


def _compromise(
    rng: np.random.Generator, domains: list[Domain], month: date, rates: dict[int, float]
) -> dict[int, int]:
    """Old ordinary domains hacked this month: malware on the site, found by URLhaus within hours, cleaned
    (and delisted) within the month. Returns how many domains of each registrar were at risk."""
    days = _days_in(month)
    at_risk: dict[int, int] = dict.fromkeys(rates, 0)
    for domain in domains:
        if domain.kind != "ordinary" or domain.listings or domain.registrar == REGISTRY_ID:
            continue
        if domain.created >= at(month):
            continue
        at_risk[domain.registrar] += 1
        if rng.random() >= rates[domain.registrar]:
            continue
        domain.kind, domain.threat = "compromised", "malware"
        domain.compromised_at = at(month, float(rng.uniform(0, 24 * (days - 8))))
        listed = domain.compromised_at + timedelta(hours=float(rng.uniform(1, 12)))
        cleaned = listed + timedelta(days=1.5 + float(min(rng.exponential(2.0), 4.5)))
        domain.mitigated_at = cleaned
        year = int(rng.integers(2018, 2026))
        upload = f"{year}/{int(rng.integers(1, 13)):02}/invoice-{int(rng.integers(100, 999))}.php"
        domain.url_path = f"/wp-content/uploads/{upload}"
        domain.listings = [("urlhaus", "malware", listed, cleaned)]
        if rng.random() < 0.7:
            dbl_listed = listed + timedelta(hours=float(rng.uniform(0, 24)))
            domain.listings.append(("dbl", "malware", dbl_listed, cleaned))
    return at_risk


def _list_innocents(rng: np.random.Generator, domains: list[Domain], month: date) -> None:
    """Ordinary domains a community feed lists by mistake and drops a few days later."""
    ordinary = [
        domain
        for domain in domains
        if domain.kind == "ordinary" and not domain.listings and domain.registrar != REGISTRY_ID
    ]
    for index in rng.choice(len(ordinary), size=INNOCENT_LISTED_PER_MONTH, replace=False):
        domain = ordinary[int(index)]
        listed = at(month, float(rng.uniform(0, 24 * (_days_in(month) - 8))))
        domain.innocent_listing = True
        domain.mitigated_at = listed + timedelta(days=float(rng.uniform(1, 5)))
        domain.listings.append(("generic", "phishing", listed, domain.mitigated_at))
