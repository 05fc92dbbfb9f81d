"""Domain names reduced to their registrable label, the unit a DGA model scores.

A DGA generates the label a bot registers, so the model must see `abcxyz` whether the bot asked for
`abcxyz.com`, `www.abcxyz.com` or `abcxyz.dyndns.org`. The reduction follows the Public Suffix List
(https://publicsuffix.org/list/) with its private section included, so that dynamic-DNS DGAs count; the
list is the snapshot inside the installed `publicsuffixlist` package, read once, never fetched. The
matcher is ours, a dict walked from the right: `dnsvigil dga score` must keep up with a resolver's query
stream, the package's matcher took three times as long, and ours also says which section a suffix is from.

Names a model must not score are rejected with a reason instead of raising, because a batch of query
names (`dnsvigil dga score`) reports the bad lines and goes on: invalid names (`excluded` False) and names
excluded by rule (`excluded` True): reverse DNS, service labels (`_dmarc`, `_sip._udp`) and public
suffixes themselves.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable
from dataclasses import dataclass
from importlib import resources
from typing import Final, Literal

import idna

RejectionCode = Literal[
    "empty",
    "name-too-long",
    "empty-label",
    "label-too-long",
    "bad-character",
    "bad-punycode",
    "bad-idn",
    "reverse-dns",
    "service-label",
    "public-suffix",
]
EXCLUSION_CODES: Final = frozenset({"reverse-dns", "service-label", "public-suffix"})

MAX_NAME_OCTETS: Final = 253
MAX_LABEL_OCTETS: Final = 63

# A host name in A-label form; `_` is allowed because real query names carry it, and hyphens anywhere
# because real query names start labels with them (Umbrella's top list holds `---10-18-4-c.lel.asia`).
_BAD_CHARACTER: Final = re.compile(r"[^a-z0-9_.-]")
_REVERSE_ZONES: Final = ("in-addr.arpa", "ip6.arpa")

# Flags of a suffix in `SuffixRules.flags`.
_RULE: Final = 1
_RULE_PRIVATE: Final = 2
_WILDCARD: Final = 4
_WILDCARD_PRIVATE: Final = 8
_EXCEPTION: Final = 16
_EXCEPTION_PRIVATE: Final = 32
_DEEPER: Final = 64


@dataclass(frozen=True, slots=True, init=False)
class NameParts:
    """A valid name split at its public suffix; built only by `parse_name`, which has validated it.

    The constructor is written by hand: a frozen dataclass's generated one calls `object.__setattr__` per
    field and took a third of the time of `parse_names`; the slots' own setters do the same, faster. For
    the same reason the registrable domain and the Unicode label are derived when asked for.

    Attributes:
        name: the whole name, normalised (lower case, A-labels, no trailing dot).
        label: the registrable label in A-label form (`xn--...` for an IDN), what a model scores.
        suffix: the public suffix, A-labels (`co.uk`, `dyndns.org`).
        private_suffix: the suffix comes from the list's PRIVATE section (dyndns.org, github.io, ...).
    """

    name: str
    label: str
    suffix: str
    private_suffix: bool

    def __init__(self, name: str, label: str, suffix: str, private_suffix: bool) -> None:
        _set_name(self, name)
        _set_label(self, label)
        _set_suffix(self, suffix)
        _set_private_suffix(self, private_suffix)

    @property
    def registrable(self) -> str:
        """`label.suffix`, the registrable domain."""
        return f"{self.label}.{self.suffix}"

    @property
    def unicode_label(self) -> str:
        """The label decoded from punycode; the label itself when it is ASCII."""
        return (_unicode_of(self.label) or self.label) if self.label.startswith("xn--") else self.label


_set_name, _set_label, _set_suffix, _set_private_suffix = (
    vars(NameParts)[field].__set__ for field in ("name", "label", "suffix", "private_suffix")
)


@dataclass(frozen=True, slots=True)
class SuffixRules:
    """The Public Suffix List as a lookup table, walked from the right by `_suffix_start`.

    Attributes:
        flags: every rule and every tail of a rule (`co.uk` -> `uk`), in A-labels, to a set of `_RULE`,
            `_WILDCARD` (`*.` below it), `_EXCEPTION`, their `_PRIVATE` section flags and `_DEEPER` (a
            longer rule ends with it, so the walk goes on).
        irregular_tlds: top-level labels that are more than a plain ICANN rule (a wildcard: `*.ck`), for
            which the shortcut of `_parse` does not hold.
    """

    flags: dict[str, int]
    irregular_tlds: frozenset[str]


@dataclass(frozen=True, slots=True)
class Rejection:
    """A name that gets no registrable label: invalid, or excluded by rule.

    Attributes:
        text: the input as given.
        code: a stable code to count rejections by.
        reason: what is wrong, for a person.
    """

    text: str
    code: RejectionCode
    reason: str

    @property
    def excluded(self) -> bool:
        """True for a valid name excluded by rule (reverse DNS, service label, public suffix)."""
        return self.code in EXCLUSION_CODES


def parse_name(text: str) -> NameParts | Rejection:
    """Normalise `text` and split it at its public suffix, or say why it has no registrable label."""
    return _parse(text, suffix_rules())


def parse_names(texts: Iterable[str]) -> list[NameParts | Rejection]:
    """`parse_name` over many names, in order; never raises for a bad name."""
    rules = suffix_rules()
    return [_parse(text, rules) for text in texts]


def registrable_label(text: str) -> str | None:
    """The registrable label of `text` in A-label form, or None when it has none."""
    parts = parse_name(text)
    return parts.label if isinstance(parts, NameParts) else None


def _parse(text: str, rules: SuffixRules) -> NameParts | Rejection:
    """`parse_name` with the rule table passed in; cheap tests first, as nearly every name passes them."""
    name = text.strip()
    if name.isascii():
        name = name.lower()
    else:
        converted = _to_a_labels(text, name)
        if isinstance(converted, Rejection):
            return converted
        name = converted
    if name.endswith("."):
        name = name[:-1]
    if (
        not name
        or _BAD_CHARACTER.search(name) is not None
        or name[0] == "."
        or name[-1] == "."
        or ".." in name
        or (len(name) > MAX_LABEL_OCTETS and _too_long(name))
    ):
        return _diagnose(text, name)
    if "_" in name and (name[0] == "_" or "._" in name):
        service = next(label for label in name.split(".") if label.startswith("_"))
        return Rejection(text, "service-label", f"has the service label {service!r}")
    if name.endswith(".arpa") and _is_reverse(name):
        return Rejection(text, "reverse-dns", "is a reverse-DNS name (in-addr.arpa or ip6.arpa)")
    if "xn--" in name:
        bad = next((label for label in name.split(".") if _unicode_of(label) is None), None)
        if bad is not None:
            return Rejection(text, "bad-punycode", f"the label {bad!r} is not valid punycode")
    # Most names end in `<label>.<plain TLD>`, which settles the suffix without the walk.
    last_dot = name.rfind(".")
    if last_dot < 0:
        start, private = 0, False
    elif (
        name[name.rfind(".", 0, last_dot) + 1 :] not in rules.flags
        and name[last_dot + 1 :] not in rules.irregular_tlds
    ):
        start, private = last_dot + 1, False
    else:
        start, private = _suffix_start(name, rules.flags)
    if start == 0:
        return Rejection(text, "public-suffix", f"{name!r} is a public suffix: it has no registrable label")
    label_start = name.rfind(".", 0, start - 1) + 1
    return NameParts(name, name[label_start : start - 1], name[start:], private)


def _suffix_start(name: str, flags_of: dict[str, int]) -> tuple[int, bool]:
    """Where the public suffix of `name` starts (0: the whole name is one) and whether it is private.

    Walks suffixes from the right: an exception rule wins at once and yields its parent; otherwise the
    longest normal or wildcard rule wins; with none, the implicit `*` rule makes the last label the suffix.
    """
    start, private = name.rfind(".") + 1, False
    previous_dot, parent_flags = len(name), 0
    while True:
        dot = name.rfind(".", 0, previous_dot)
        flags = flags_of.get(name[dot + 1 :], 0)
        if flags & _EXCEPTION:
            return previous_dot + 1, bool(flags & _EXCEPTION_PRIVATE)
        if flags & _RULE:
            start, private = dot + 1, bool(flags & _RULE_PRIVATE)
        elif parent_flags & _WILDCARD:
            start, private = dot + 1, bool(parent_flags & _WILDCARD_PRIVATE)
        if dot < 0 or not flags & (_DEEPER | _WILDCARD):
            return start, private
        previous_dot, parent_flags = dot, flags


def _too_long(name: str) -> bool:
    return len(name) > MAX_NAME_OCTETS or max(map(len, name.split("."))) > MAX_LABEL_OCTETS


def _is_reverse(name: str) -> bool:
    return any(name == zone or name.endswith("." + zone) for zone in _REVERSE_ZONES)


def _unicode_of(label: str) -> str | None:
    """The Unicode form of an `xn--` label, None when its punycode is bad; other labels as they are.

    Only the punycode is checked, not IDNA 2008's stricter code-point rules: registered emoji domains
    (`xn--i-7iq.ws`) are bad IDNA 2008 yet resolve, and a DGA model should still score them.
    """
    if not label.startswith("xn--"):
        return label
    try:
        decoded = label[4:].encode("ascii").decode("punycode")
    except UnicodeError:
        return None
    if not decoded or decoded.isascii() or decoded.encode("punycode").decode("ascii") != label[4:]:
        return None
    return decoded


def _to_a_labels(text: str, name: str) -> str | Rejection:
    """`name` with UTS-46 mapping (case folding, full-width dots) and its Unicode labels as A-labels."""
    try:
        mapped = idna.uts46_remap(name, std3_rules=False, transitional=False)
        return ".".join(
            label if label.isascii() else idna.alabel(label).decode("ascii") for label in mapped.split(".")
        )
    except (idna.IDNAError, UnicodeError) as error:
        return Rejection(text, "bad-idn", f"is not a valid internationalised name ({error})")


def _diagnose(text: str, name: str) -> Rejection:
    """The first reason why the normalised `name` is not a host name."""
    if not name:
        return Rejection(text, "empty", "is empty")
    if len(name) > MAX_NAME_OCTETS:
        return Rejection(text, "name-too-long", f"is {len(name)} octets long, over {MAX_NAME_OCTETS}")
    for label in name.split("."):
        if not label:
            return Rejection(text, "empty-label", "has an empty label (two dots in a row, or a leading dot)")
        if len(label) > MAX_LABEL_OCTETS:
            return Rejection(
                text, "label-too-long", f"has a label of {len(label)} octets, over {MAX_LABEL_OCTETS}"
            )
    bad = next(char for char in name if not (char.isascii() and (char.isalnum() or char in "-_.")))
    return Rejection(text, "bad-character", f"has the character {bad!r}, not allowed in a host name")


@functools.cache
def suffix_rules() -> SuffixRules:
    """The Public Suffix List of the installed `publicsuffixlist` package as a flag table, parsed once."""
    text = resources.files("publicsuffixlist").joinpath("public_suffix_list.dat").read_text("utf-8")
    return parse_suffix_list(text)


def parse_suffix_list(text: str) -> SuffixRules:
    """The rule table of the text of a Public Suffix List; rules are stored in A-labels.

    Only the first word of a line is the rule; `//` lines are comments; the `===BEGIN PRIVATE DOMAINS===`
    marker starts the private section.
    """
    rules: dict[str, int] = {}
    private = False
    for line in text.splitlines():
        line = line.strip()
        if line.startswith("//"):
            if "===BEGIN PRIVATE DOMAINS===" in line:
                private = True
            elif "===END PRIVATE DOMAINS===" in line:
                private = False
            continue
        if not line:
            continue
        rule = line.split()[0].lower()
        if rule.startswith("!"):
            rule, flag, private_flag = rule[1:], _EXCEPTION, _EXCEPTION_PRIVATE
        elif rule.startswith("*."):
            rule, flag, private_flag = rule[2:], _WILDCARD, _WILDCARD_PRIVATE
        else:
            flag, private_flag = _RULE, _RULE_PRIVATE
        labels = [_a_label_of_rule(label) for label in rule.split(".")]
        rule = ".".join(labels)
        rules[rule] = rules.get(rule, 0) | flag | (private_flag if private else 0)
        for index in range(1, len(labels)):
            tail = ".".join(labels[index:])
            rules[tail] = rules.get(tail, 0) | _DEEPER
    irregular = {tld for tld, flags in rules.items() if "." not in tld and flags & ~(_RULE | _DEEPER)}
    return SuffixRules(rules, frozenset(irregular))


def _a_label_of_rule(label: str) -> str:
    # The list is already normalised (lower case, NFC), so plain punycode gives the A-label.
    return label if label.isascii() else "xn--" + label.encode("punycode").decode("ascii")
