"""DGA families for the demo world's bots, each written from a published description of a real family.

Plohmann et al. sort domain generation algorithms by how they make a name ("A Comprehensive Measurement Study
of Domain Generating Malware", USENIX Security 2016): arithmetic (letters from a pseudo-random sequence),
hash (the hex digest of a hash), wordlist (words from a list, concatenated) and permutation (variations of
one seed domain). Each family here follows one analysis of a real family, so its names have that family's
shape (length, alphabet, TLDs); the seeds, constants, seed domains and word list are this project's own,
so the names are not the real malware's. The TLDs are among the demo vocabulary's (`names.TLDS`).
"""

from __future__ import annotations

import datetime
import hashlib
from collections.abc import Callable
from dataclasses import dataclass

SCHEMES = ("arithmetic", "hash", "wordlist", "permutation")

Generator = Callable[[int, datetime.date, int], tuple[str, ...]]


@dataclass(frozen=True, slots=True)
class DgaFamily:
    """A DGA family: how it makes names, from which description, and its generator.

    Attributes:
        name: the real family whose scheme it follows, as DGA feeds name it.
        scheme: one of `SCHEMES`.
        tlds: the TLDs its names end in.
        time_dependent: whether its names change with the day (otherwise the seed alone decides them).
        reference: the published description it was written from.
        domains: `(seed, day, count) -> names`, deterministic: the first `count` names of the list the
            family makes on `day` with `seed` (the botnet's hard-coded key), lower case, no trailing dot.

    Raises:
        ValueError: an unknown scheme, or no TLD.
    """

    name: str
    scheme: str
    tlds: tuple[str, ...]
    time_dependent: bool
    reference: str
    domains: Generator

    def __post_init__(self) -> None:
        if self.scheme not in SCHEMES:
            raise ValueError(f"DgaFamily {self.name}: scheme {self.scheme!r} is not one of {SCHEMES}")
        if not self.tlds:
            raise ValueError(f"DgaFamily {self.name}: no TLD")


def _checked(count: int) -> None:
    if count < 0:
        raise ValueError(f"a DGA cannot make {count} names; ask for 0 or more")


_PARK_MILLER_MODULUS = 2**31 - 1


def _park_miller(state: int) -> int:
    """The next state of Park and Miller's "minimal standard" generator (multiplier 16807)."""
    return state * 16807 % _PARK_MILLER_MODULUS


def ramnit_domains(seed: int, day: datetime.date, count: int) -> tuple[str, ...]:
    """Ramnit's arithmetic scheme: a Park–Miller generator spells 8 to 19 letters from a to y, then .com.

    As Bader describes it, the generator starts from a hard-coded seed; one draw modulo 12 sets the
    length, one draw modulo 25 per letter picks it, and each name's starting state feeds the next
    name's. The list is the same every day.
    """
    _checked(count)
    del day  # time-independent: the seed alone decides the list
    state = seed % _PARK_MILLER_MODULUS or 1
    names = []
    for _ in range(count):
        first = state
        state = _park_miller(state)
        letters = []
        for _ in range(8 + state % 12):
            state = _park_miller(state)
            letters.append(chr(ord("a") + state % 25))
        names.append("".join(letters) + ".com")
        state = (first + _park_miller(state)) % _PARK_MILLER_MODULUS or 1
    return tuple(names)


_BAMITAL_TLDS = ("org", "net")


def bamital_domains(seed: int, day: datetime.date, count: int) -> tuple[str, ...]:
    """Bamital's hash scheme: the MD5 hex digest (32 characters) of the date, the botnet key and a counter.

    The TLDs alternate between org and net.
    """
    _checked(count)
    names = []
    for index in range(count):
        text = f"{day:%Y%m%d}:{seed:08x}:{index}".encode("ascii")
        label = hashlib.md5(text, usedforsecurity=False).hexdigest()
        names.append(f"{label}.{_BAMITAL_TLDS[index % len(_BAMITAL_TLDS)]}")
    return tuple(names)


# Everyday English words, none of them in the benign vocabulary's list (`names._WORDS`), so that the
# demo's wordlist names are the bots' alone.
_SUPPOBOX_TEXT = """
    able absent accept account across action adapt admire advice afford again agent agree ahead album alert
    allow almost alone always amount ancient angle animal answer appear arrive article artist attempt attend
    author autumn avenue award balance ballet bargain barrel basket battle beauty become before begin behind
    belief belong bench beyond bicycle bitter blanket border borrow bottle bottom branch breath bridge brief
    broken brother budget bundle butter button cabin candle canvas carbon career carpet castle cattle cause
    center chair chance change channel chapter charge cheese cherry chicken choice circle clever climate
    closet coffee collect colony column common copper corner cotton county couple course cousin cradle
    credit crisis crowd custom damage dance danger dealer debate decade decide defend degree demand depend
    desert design detail device dinner direct doctor dollar double dozen drawer driver early effort eight
    either elbow empty enemy energy engine enough entire escape evening event exact expect fabric factor
    family famous father fellow fence figure finger finish flavor flower follow forest forget formal fortune
    forward frame friend future gallery garage gather gentle giant ginger glance glass govern grace grain
    grand gravity guitar habit hammer handle happen harvest health heavy height hello helmet hidden history
    hockey honest hunger hurry idea image impact income indeed inside invite jacket jelly journey judge juice
    jungle kettle kitchen knife ladder language laptop laugh lawyer leader lemon lesson letter level liquid
    listen little lizard lobster lonely lucky lumber magnet manner marble margin master matter measure
    member memory mention method middle minute mirror modern moment monkey morning mother motion muscle
    museum music narrow nation nature nearly needle nephew nickel noble normal notice number object office
    orange orchard outer oxygen paddle palace panel paper parade parent parrot pattern pencil people pepper
    period person picnic pilot plastic pocket poem potato powder praise pretty profit proper public puzzle
    rabbit radio random rather reason record reflect region remain remind repair report rescue result
    return reward rhythm ribbon ripple ritual rocket rubber saddle salad salmon sample sauce school science
    screen season second secret select senior series shadow shelter shoulder signal silver simple sister
    sketch slender smooth soccer social soldier sorrow source spider spirit sponsor square stable stadium
    steel sticky strong student subject sudden sugar supply surface survey switch symbol system table talent
    target teacher temple tennis theory thunder ticket timber toast tomato tongue total towel tower travel
    trophy tunnel turkey twelve umbrella uncle unique update useful velvet vessel victory village violin
    visual vital voice volume voyage wagon walnut window winter wisdom wonder worker yellow young zebra
"""
SUPPOBOX_WORDS = tuple(_SUPPOBOX_TEXT.split())
_ANSI_C_MULTIPLIER, _ANSI_C_INCREMENT = 1103515245, 12345


def suppobox_domains(seed: int, day: datetime.date, count: int) -> tuple[str, ...]:
    """Suppobox's wordlist scheme: two different words of a fixed list, concatenated, then .net.

    A linear congruential generator seeded with the botnet key and the day picks both words; a pair
    already made that day is skipped, so the names are distinct.

    Raises:
        ValueError: `count` is negative or more than the list has pairs.
    """
    _checked(count)
    if count > len(SUPPOBOX_WORDS) * (len(SUPPOBOX_WORDS) - 1):
        raise ValueError(f"suppobox cannot make {count} distinct names from {len(SUPPOBOX_WORDS)} words")
    state = (seed ^ day.toordinal() * 0x9E3779B1) & 0x7FFFFFFF
    names: dict[str, None] = {}
    while len(names) < count:
        picks: list[str] = []
        while len(picks) < 2:
            state = (state * _ANSI_C_MULTIPLIER + _ANSI_C_INCREMENT) & 0x7FFFFFFF
            word = SUPPOBOX_WORDS[(state >> 8) % len(SUPPOBOX_WORDS)]
            if word not in picks:
                picks.append(word)
        names.setdefault("".join(picks) + ".net")
    return tuple(names)


# Made-up seed domains in banjori's style (words, then a short random tail); the seed picks one.
BANJORI_SEED_DOMAINS = (
    "lanternorchardcartographyzuv.com",
    "harbourglasswrightemblemoqix.com",
    "copperfieldsmapmakeryelrad.com",
)


def banjori_domains(seed: int, day: datetime.date, count: int) -> tuple[str, ...]:
    """Banjori's permutation scheme: the seed domain, then each name rewrites the previous one's first four
    letters, each new letter a function of the other three; the rest of the seed domain stays.

    Each step adds to one letter a nonlinear function of the other three (mod 26), so a step can be undone
    and the names run through one long cycle before repeating. The list is the same every day.
    """
    _checked(count)
    del day  # time-independent: the seed domain alone decides the list
    domain = BANJORI_SEED_DOMAINS[seed % len(BANJORI_SEED_DOMAINS)]
    letters = [ord(character) - ord("a") for character in domain[:4]]
    names = []
    for _ in range(count):
        names.append("".join(chr(ord("a") + letter) for letter in letters) + domain[4:])
        a, b, c, d = letters
        a = (a + b * c + d + 7) % 26
        b = (b + c * d + a + 3) % 26
        c = (c + d * a + b + 5) % 26
        d = (d + a * b + c + 1) % 26
        letters = [a, b, c, d]
    return tuple(names)


_PLOHMANN = (
    "Plohmann et al., A Comprehensive Measurement Study of Domain Generating Malware, USENIX Security 2016, "
    "https://www.usenix.org/conference/usenixsecurity16/technical-sessions/presentation/plohmann"
)

FAMILIES = (
    DgaFamily(
        "ramnit",
        "arithmetic",
        ("com",),
        False,
        "J. Bader, The DGA of Ramnit (2014), https://bin.re/blog/the-dga-of-ramnit/",
        ramnit_domains,
    ),
    DgaFamily("bamital", "hash", _BAMITAL_TLDS, True, _PLOHMANN + " (hash scheme; Bamital)", bamital_domains),
    DgaFamily(
        "suppobox", "wordlist", ("net",), True, _PLOHMANN + " (wordlist scheme; Suppobox)", suppobox_domains
    ),
    DgaFamily(
        "banjori",
        "permutation",
        ("com",),
        False,
        "J. Bader, The DGA of Banjori (2015), https://bin.re/blog/the-dga-of-banjori/",
        banjori_domains,
    ),
)


def find_family(name: str) -> DgaFamily:
    """The family called `name`.

    Raises:
        KeyError: no family has that name.
    """
    for family in FAMILIES:
        if family.name == name:
            return family
    raise KeyError(f"no demo DGA family {name!r}; known: {', '.join(family.name for family in FAMILIES)}")
