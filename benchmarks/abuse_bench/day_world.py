"""The synthetic .com day: which domains exist, who registered them when, and which the feeds list.

Everything is arrays indexed by domain number, derived from the plan and its seed, so the zone writer can
name domain `i` without holding 160 million names: a domain's name is a hash-chosen run of letters, for
some listed malicious ones a brand or lure word, and its number in base 36 (unique by construction).

- Zone: domains 0 .. delegations-1, all delegated in .com.
- Registrations: registration `j` is zone domain `permuted(j)` for 97% of them (an affine permutation, so
  distinct), the rest registered but not delegated (held or parked without name servers).
- Listed: `listings / 1.25` distinct domains, a quarter of them listed twice (by two feeds). 85% are
  registered (registrations 0 .. n-1; the first 60% of those malicious, young, many in a few cheap
  registrars, some on hold; the others compromised old sites), 12% delegated but absent from the
  registration data, 3% elsewhere: .net names, URLs on IP addresses, blogspot.com subdomains.
- Registrars: 2,000 with Zipf sizes, and the registry's reserved ID 9999 (not a real registrar).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Final

import numpy as np
import numpy.typing as npt

from abuse_bench.text_rows import LETTERS, Field, base36, choice, concat, fixed

DAY: Final = date(2024, 1, 15)
MONTH: Final = date(2024, 1, 1)
DAY_SECONDS: Final = 86_400
DAY_START: Final = int(datetime(2024, 1, 15, tzinfo=UTC).timestamp())
MONTH_START: Final = int(datetime(2024, 1, 1, tzinfo=UTC).timestamp())
DECEMBER_START: Final = int(datetime(2023, 12, 1, tzinfo=UTC).timestamp())
RESERVED_ID: Final = 9999
REGISTRARS: Final = 2_000
SKIPPED_IDS: Final = frozenset({1797, 2482})  # in dnsvigil's list of IDs that are no real registrar
CHEAP_RANKS: Final = (20, 22)  # the abusers' favourite registrar in December, then in January
WORDS: Final = [
    b"", b"paypal-", b"secure-login-", b"apple-id-", b"microsoft-", b"verify-", b"netflix-", b"wallet-",
    b"account-update-", b"amazon-", b"support-", b"coinbase-",
]  # fmt: skip
"""Name words of malicious listed domains (code 0: none)."""
_MULTIPLIER: Final = 0x9E3779B97F4A7C15
_PERMUTE: Final = 2_654_435_761
Ints = npt.NDArray[np.int64]


@dataclass(frozen=True, slots=True)
class DayPlan:
    """How big the day is."""

    delegations: int
    registrations: int
    listings: int
    seed: int = 1

    def __post_init__(self) -> None:
        if min(self.delegations, self.registrations, self.listings) < 1000:
            raise ValueError("delegations, registrations and listings must each be at least 1,000")
        listed = self.listed_domains
        if round(0.85 * listed) > round(0.97 * self.registrations):
            raise ValueError("too few registrations for the listed domains (need registrations >= listings)")
        if round(0.97 * self.registrations) + listed > self.delegations:
            raise ValueError("too few delegations for the registrations and listed domains")

    @property
    def listed_domains(self) -> int:
        return round(self.listings / 1.25)

    @property
    def name(self) -> str:
        return f"d{self.delegations}-r{self.registrations}-l{self.listings}-s{self.seed}"


def mix(values: Ints, salt: int) -> npt.NDArray[np.uint64]:
    """A 64-bit hash of each value (splitmix64's finaliser)."""
    with np.errstate(over="ignore"):
        x = values.astype(np.uint64) * np.uint64(_MULTIPLIER) + np.uint64(salt)
        x ^= x >> np.uint64(30)
        x *= np.uint64(0xBF58476D1CE4E5B9)
        x ^= x >> np.uint64(27)
        x *= np.uint64(0x94D049BB133111EB)
        x ^= x >> np.uint64(31)
    return x


_LETTER_OF_BYTE = LETTERS[np.arange(256) % 26]


@dataclass(frozen=True, slots=True)
class NameParts:
    """The parts of domains' first labels: `letters[:, :prefix]`, then `WORDS[word]`, then `number`."""

    letters: npt.NDArray[np.uint8]
    prefix: Ints
    word: Ints
    number: npt.NDArray[np.uint8]

    def field(self) -> Field:
        """The labels as one field."""
        return concat([Field(self.letters, self.prefix), choice(WORDS, self.word), fixed(self.number)])


def name_parts(numbers: Ints, words: Ints) -> NameParts:
    """The first label of domains `numbers`: 3-12 letters, a word (code 0: none), the number in base 36."""
    count = len(numbers)
    hashed = mix(numbers, 7)
    letters = np.empty((count, 16), np.uint8)
    letters[:, :8] = _LETTER_OF_BYTE[hashed.view(np.uint8).reshape(count, 8)]
    letters[:, 8:] = _LETTER_OF_BYTE[mix(numbers, 11).view(np.uint8).reshape(count, 8)]
    prefix = (3 + (hashed >> np.uint64(40)) % np.uint64(10)).astype(np.int64)
    return NameParts(letters[:, :12], prefix, words, base36(numbers, 6).matrix)


def names(numbers: Ints, words: Ints) -> Field:
    """The first label of domains `numbers` (see `name_parts`)."""
    return name_parts(numbers, words).field()


@dataclass(frozen=True, slots=True)
class DayWorld:
    """The day's registrars, registrations and listed domains, as arrays."""

    plan: DayPlan
    registrar_ids: Ints
    registrar_weights: npt.NDArray[np.float64]
    permute_by: int
    registered: int
    registered_in_zone: int
    reg_registrar: Ints
    reg_created: Ints
    reg_status: Ints
    listed_kind: Ints
    listed_number: Ints
    listed_registration: Ints
    listed_created: Ints
    styled_numbers: Ints
    styled_words: Ints

    def zone_number(self, registration: Ints) -> Ints:
        """The domain number of each registration (delegated ones first)."""
        inside = registration < self.registered_in_zone
        permuted = registration * self.permute_by % self.plan.delegations  # < 2**63 for any .com size
        return np.where(inside, permuted, self.plan.delegations + registration - self.registered_in_zone)

    def words_of(self, numbers: Ints) -> Ints:
        """The name word of each domain number (0: none)."""
        if len(self.styled_numbers) == 0:
            return np.zeros(len(numbers), np.int64)
        place = np.minimum(np.searchsorted(self.styled_numbers, numbers), len(self.styled_numbers) - 1)
        return np.where(self.styled_numbers[place] == numbers, self.styled_words[place], 0)


KIND_MALICIOUS, KIND_COMPROMISED, KIND_UNREGISTERED, KIND_NET, KIND_IP, KIND_BLOGSPOT = range(6)
STATUSES: Final = [b"ok", b"clientTransferProhibited", b"clientHold", b"serverHold",
                   b"clientTransferProhibited|clientUpdateProhibited"]  # fmt: skip


def build_world(plan: DayPlan) -> DayWorld:
    """Draw the day's registrars, registrations and listed domains from the plan's seed."""
    rng = np.random.default_rng(plan.seed)
    ids = [
        number for number in range(1000, 1000 + REGISTRARS + len(SKIPPED_IDS)) if number not in SKIPPED_IDS
    ]
    registrar_ids = np.array([*ids[:REGISTRARS], RESERVED_ID], np.int64)
    weights = 1.0 / np.arange(1, REGISTRARS + 2) ** 1.1
    weights[-1] = weights[0] * 0.01  # the registry's own, small
    weights /= weights.sum()
    permute_by = _PERMUTE
    while math.gcd(permute_by, plan.delegations) != 1:
        permute_by += 2
    registered = plan.registrations
    in_zone = round(0.97 * registered)
    registrar = rng.choice(len(registrar_ids), registered, p=weights)
    # Creation: 8% this month before the day, 4% in December, the rest over the 26 years before.
    draw = rng.random(registered)
    created = np.where(
        draw < 0.08,
        MONTH_START + (rng.random(registered) * (DAY_START - MONTH_START - 3600)).astype(np.int64),
        np.where(
            draw < 0.12,
            DECEMBER_START + (rng.random(registered) * (MONTH_START - DECEMBER_START)).astype(np.int64),
            DECEMBER_START - (rng.random(registered) ** 1.5 * 26 * 365 * DAY_SECONDS).astype(np.int64),
        ),
    )
    status = np.where(rng.random(registered) < 0.7, 0, 1)

    listed = plan.listed_domains
    listed_registered = round(0.85 * listed)
    malicious = round(0.6 * listed_registered)
    unregistered = round(0.12 * listed)
    others = listed - listed_registered - unregistered
    kind = np.concatenate([
        np.full(malicious, KIND_MALICIOUS), np.full(listed_registered - malicious, KIND_COMPROMISED),
        np.full(unregistered, KIND_UNREGISTERED), rng.choice([KIND_NET, KIND_IP, KIND_BLOGSPOT], others),
    ]).astype(np.int64)  # fmt: skip
    registration = np.where(kind <= KIND_COMPROMISED, np.arange(listed), -1)
    # Malicious registrations are young: 70% this month, 30% in December; half at a cheap registrar.
    december = rng.random(malicious) < 0.3
    created[:malicious] = np.where(
        december,
        DECEMBER_START + (rng.random(malicious) * (MONTH_START - DECEMBER_START)).astype(np.int64),
        MONTH_START + (rng.random(malicious) * (DAY_START - MONTH_START - 7200)).astype(np.int64),
    )
    cheap = rng.random(malicious) < 0.5
    favourite = np.where(december, CHEAP_RANKS[0], CHEAP_RANKS[1]) + rng.integers(0, 2, malicious)
    registrar[:malicious] = np.where(cheap, favourite, registrar[:malicious])
    held = rng.random(malicious)
    status[:malicious] = np.where(held < 0.25, 2, np.where(held < 0.3, 3, 0))
    compromised = slice(malicious, listed_registered)
    created[compromised] = np.minimum(created[compromised], DECEMBER_START - 400 * DAY_SECONDS)
    status[compromised] = 4

    world = DayWorld(
        plan=plan, registrar_ids=registrar_ids, registrar_weights=weights, permute_by=permute_by,
        registered=registered, registered_in_zone=in_zone, reg_registrar=registrar.astype(np.int64),
        reg_created=created, reg_status=status.astype(np.int64), listed_kind=kind,
        listed_number=np.zeros(0, np.int64), listed_registration=registration,
        listed_created=np.where(registration >= 0, created[np.maximum(registration, 0)], -1),
        styled_numbers=np.zeros(0, np.int64), styled_words=np.zeros(0, np.int64),
    )  # fmt: skip
    numbers = np.empty(listed, np.int64)
    is_registered = registration >= 0
    numbers[is_registered] = world.zone_number(registration[is_registered])
    # Delegated but not in the registration data: registrations numbered past the last one.
    spare = in_zone + np.arange(unregistered, dtype=np.int64)
    numbers[kind == KIND_UNREGISTERED] = spare * permute_by % plan.delegations
    numbers[kind >= KIND_NET] = plan.delegations + registered + np.arange(others)
    worded = np.flatnonzero((kind == KIND_MALICIOUS) & (rng.random(listed) < 0.5))
    order = np.argsort(numbers[worded])
    return _replace(
        world,
        listed_number=numbers,
        styled_numbers=numbers[worded][order],
        styled_words=rng.integers(1, len(WORDS), len(worded))[order],
    )


def _replace(world: DayWorld, **changes: object) -> DayWorld:
    values = {name: getattr(world, name) for name in DayWorld.__slots__} | changes
    return DayWorld(**values)  # type: ignore[arg-type]


def host_ids(numbers: Ints, hosts: int = 50_000) -> Ints:
    """The hosting provider (name server pair) of each domain: Zipf-like over `hosts`."""
    draw = (mix(numbers, 23) >> np.uint64(11)).astype(np.float64) / float(1 << 53)
    return np.minimum((hosts * draw**3).astype(np.int64), hosts - 1)


def host_field(numbers: Ints) -> Field:
    """`hXXXX.net`: a name server host (fixed width)."""
    return concat([fixed(np.full((len(numbers), 1), ord("h"), np.uint8)), base36(host_ids(numbers), 4)])
