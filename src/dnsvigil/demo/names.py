"""The demo world's names: a seeded vocabulary of domains in wire format, and fixed rdata fragments.

Every name lives once in one concatenated byte array, so compiled kernels copy it into messages without
Python objects. Domains sit under com, net, org and example (RFC 2606 reserves example); reverse names are
those of the documentation prefixes (RFC 5737, RFC 3849), so no real network appears in the demo. Names
that do not resolve (mistyped domains, bots' DGA names) are in the vocabulary too, after the others.
"""

from __future__ import annotations

import enum
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import NamedTuple

import numpy as np
import numpy.typing as npt


class NameKind(enum.IntEnum):
    """What a vocabulary name is, which decides the queries it attracts and the answers it gets."""

    ROOT = 0
    TLD = 1
    APEX = 2
    HOST = 3
    REVERSE = 4
    GENERATED = 5  # made up by a bot's DGA: NXDOMAIN, unless its botnet registered it (a controller)
    MISTYPED = 6  # a registered domain mistyped, or under the wrong TLD: NXDOMAIN


# Bits of `Vocabulary.traits`: what data a name holds.
SIGNED = 1
HAS_AAAA = 2
HAS_HTTPS = 4
HAS_CNAME = 8
IN_BAILIWICK = 16
REGISTERED = 32  # a name added by `with_domains` that resolves (a botnet's live controller)

TLDS = ("com", "net", "org", "example")
_TLD_SHARES = (0.52, 0.12, 0.11, 0.25)


def _split(text: str) -> tuple[str, ...]:
    return tuple(text.split())


_WORDS = _split(
    "acme alpha amber apex apple arc arrow atlas aurora bay beacon bear berry birch blue bolt bright brook "
    "cab camp canyon cedar cloud coast comet coral crest crown cube data delta desk dove dream eagle echo "
    "edge ember falcon farm fern field fire flow fox frost garden gate gem glide globe gold green grid "
    "harbor hawk haven hill hub ice iron island jade jet kite lake lamp leaf light lime link lion logic "
    "lotus lunar maple market meadow mesa metro mint moon mountain nest net nova oak ocean orbit owl "
    "palm peak pearl pine pixel planet pond prime pulse quest rain ranch raven reef ridge river rock "
    "rose sage sail sand shop sky snow solar spark spring star stone storm stream summit sun swift "
    "tech tide tiger trail tree true union valley vector venture vista wave willow wind wolf wood zen"
)
_SYLLABLES = (
    "ba be bi bo bu ca co da de di do fa fe fi ga go ka ki ko la le li lo lu ma me mi mo na ne ni no "
)
_SYLLABLES += "pa pe po ra re ri ro sa se si so ta te ti to va ve vi vo za ze zi zo xa qui tri bra"
_SYLLABLE_LIST = _split(_SYLLABLES)
_HOST_LABELS = _split(
    "mail api cdn static img m login app shop blog news smtp vpn ftp portal docs assets auth "
    "status support dev admin media video"
)
_REVERSE_PREFIXES = ((192, 0, 2), (198, 51, 100), (203, 0, 113))
_LABEL = re.compile(r"[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?")


def _wire(name: str) -> bytes:
    """The uncompressed wire form of a dotted name ('' is the root)."""
    labels = [label for label in name.split(".") if label]
    return b"".join(bytes([len(label)]) + label.encode("ascii") for label in labels) + b"\x00"


# Fixed name and string fragments that rdata writers copy. A trailing zero ends a full name; labels
# without one are followed by a compression pointer.
_FRAGMENTS: list[bytes] = []


def _fragment(data: bytes) -> int:
    _FRAGMENTS.append(data)
    return len(_FRAGMENTS) - 1


FRAG_NS_LABEL = _fragment(b"\x03ns1")  # ns1..ns4 follow in order
for _number in range(2, 5):
    _fragment(b"\x03ns" + str(_number).encode())
FRAG_MX_LABEL = _fragment(b"\x04mail")  # mail, mx2, mx3 follow
_fragment(b"\x03mx2")
_fragment(b"\x03mx3")
FRAG_HOSTMASTER = _fragment(b"\x0ahostmaster")
FRAG_ROOT_MNAME = _fragment(_wire("a.root-servers.net"))
FRAG_ROOT_RNAME = _fragment(_wire("nstld.verisign-grs.com"))
PROVIDERS = 6
FRAG_PROVIDER_NS = _fragment(_wire("ns1.dns-host1.net"))  # ns1, ns2 of each provider, in order
for _provider in range(1, PROVIDERS + 1):
    for _server in (1, 2):
        if (_provider, _server) != (1, 1):
            _fragment(_wire(f"ns{_server}.dns-host{_provider}.net"))
CDN_TARGETS = 8
FRAG_CDN = _fragment(_wire("e1.dsc.cdn-edge.net"))
for _target in range(2, CDN_TARGETS + 1):
    _fragment(_wire(f"e{_target * 37}.{'dsc' if _target % 2 else 'g'}.cdn-edge.net"))
_SPF = b"v=spf1 ip4:203.0.113.0/24 include:_spf.mail-relay.example ~all"
FRAG_SPF = _fragment(bytes([len(_SPF)]) + _SPF)
FRAG_VERIFICATION = _fragment(b"site-verification=")
FRAG_NSID_RESOLVER = _fragment(b"res1.fra1")
FRAG_NSID_AUTHORITATIVE = _fragment(b"ns1-ams3")
FRAG_RFC8482 = _fragment(b"\x07RFC8482\x00")
FRAG_ALPN = _fragment(b"\x02h2\x02h3")

FRAGMENT_WIRE = np.frombuffer(b"".join(_FRAGMENTS), dtype=np.uint8).copy()
FRAGMENT_START = np.concatenate([[0], np.cumsum([len(fragment) for fragment in _FRAGMENTS])]).astype(np.int64)


class NameTables(NamedTuple):
    """The vocabulary and fragment arrays the kernel reads, in one argument (see `Vocabulary`)."""

    wire: npt.NDArray[np.uint8]
    start: npt.NDArray[np.int64]
    zone_offset: npt.NDArray[np.int32]
    tld_offset: npt.NDArray[np.int32]
    apex: npt.NDArray[np.int32]
    traits: npt.NDArray[np.uint8]
    algorithm: npt.NDArray[np.uint8]
    fragments: npt.NDArray[np.uint8]
    fragment_start: npt.NDArray[np.int64]
    forward_names: int  # names before this index are the root, TLDs, apexes and hosts (PTR targets)


@dataclass(frozen=True, slots=True)
class Vocabulary:
    """The names of the demo world, column-parallel: element i of each array describes name i.

    Attributes:
        wire: uint8, every name in uncompressed wire form, one after another.
        start: int64, `len + 1` offsets: name i is `wire[start[i]:start[i + 1]]`.
        zone_offset: int32, where the name's own zone (its apex, delegation or reverse zone) begins in
            its wire form.
        tld_offset: int32, where its top-level domain begins in its wire form.
        kind: uint8 `NameKind`.
        apex: int32, index of the name's zone apex (itself for apexes, TLDs, the root and reverse names,
            whose zones the vocabulary does not hold).
        tld: int32, index of its top-level domain (0, the root, for the root).
        traits: uint8 bits `SIGNED`, `HAS_AAAA`, `HAS_HTTPS`, `HAS_CNAME`, `IN_BAILIWICK`, `REGISTERED`.
        algorithm: uint8 DNSSEC algorithm of the name's zone (8 RSASHA256 or 13 ECDSAP256SHA256).
        addresses: uint8, how many A records the name has (1 to 4).
    """

    wire: npt.NDArray[np.uint8]
    start: npt.NDArray[np.int64]
    zone_offset: npt.NDArray[np.int32]
    tld_offset: npt.NDArray[np.int32]
    kind: npt.NDArray[np.uint8]
    apex: npt.NDArray[np.int32]
    tld: npt.NDArray[np.int32]
    traits: npt.NDArray[np.uint8]
    algorithm: npt.NDArray[np.uint8]
    addresses: npt.NDArray[np.uint8]

    def __len__(self) -> int:
        return len(self.kind)

    def to_text(self, index: int) -> str:
        """Name `index` in presentation form with its trailing dot, for tests and debugging."""
        data = bytes(self.wire[self.start[index] : self.start[index + 1]])
        labels, position = [], 0
        while data[position]:
            length = data[position]
            labels.append(data[position + 1 : position + 1 + length].decode("ascii"))
            position += 1 + length
        return ".".join(labels) + "."

    def tables(self) -> NameTables:
        """The compiled kernels' view of this vocabulary and of the fixed fragments."""
        return NameTables(
            self.wire,
            self.start,
            self.zone_offset,
            self.tld_offset,
            self.apex,
            self.traits,
            self.algorithm,
            FRAGMENT_WIRE,
            FRAGMENT_START,
            int(np.flatnonzero(self.kind <= NameKind.HOST)[-1]) + 1,
        )

    def with_domains(self, names: Sequence[str], kind: NameKind, registered: Sequence[bool]) -> Vocabulary:
        """This vocabulary with more domains appended, in order: mistyped ones, bots' DGA names.

        An unregistered name's zone is its TLD, so its NXDOMAIN answers carry the TLD's SOA and DNSSEC; a
        registered one (a bot's live controller) is its own unsigned zone with one A record.

        Args:
            names: `label.tld` names, the TLD one of `TLDS`.
            kind: their kind, `GENERATED` or `MISTYPED`.
            registered: per name, whether it resolves.

        Raises:
            ValueError: a name is not one label under one of `TLDS`, or the lengths differ.
        """
        if len(names) != len(registered):
            raise ValueError(f"{len(names)} names but {len(registered)} registered flags")
        first = len(self)
        labels = [name.partition(".")[0] for name in names]
        tld = np.array([_tld_index(name) for name in names], dtype=np.int32)
        live = np.array(registered, dtype=np.bool_)
        label_ends = np.array([len(label) + 1 for label in labels], dtype=np.int32)
        wires = [_wire(name) for name in names]
        lengths = np.array([len(wire) for wire in wires], dtype=np.int64)
        return Vocabulary(
            wire=np.concatenate([self.wire, np.frombuffer(b"".join(wires), dtype=np.uint8)]),
            start=np.concatenate([self.start, self.start[-1] + np.cumsum(lengths)]),
            zone_offset=np.concatenate([self.zone_offset, np.where(live, 0, label_ends).astype(np.int32)]),
            tld_offset=np.concatenate([self.tld_offset, label_ends]),
            kind=np.concatenate([self.kind, np.full(len(names), kind, dtype=np.uint8)]),
            apex=np.concatenate(
                [self.apex, np.where(live, first + np.arange(len(names)), tld).astype(np.int32)]
            ),
            tld=np.concatenate([self.tld, tld]),
            traits=np.concatenate(
                [self.traits, np.where(live, REGISTERED, self.traits[tld] & SIGNED).astype(np.uint8)]
            ),
            algorithm=np.concatenate([self.algorithm, self.algorithm[tld]]),
            addresses=np.concatenate([self.addresses, np.ones(len(names), dtype=np.uint8)]),
        )

    def index_of(self, kind: NameKind, tld: str | None = None) -> npt.NDArray[np.int64]:
        """Indices of the names of one kind, optionally only those under one TLD of `TLDS`."""
        selected = self.kind == kind
        if tld is not None:
            selected &= self.tld == 1 + TLDS.index(tld)
        return np.flatnonzero(selected)


def _tld_index(name: str) -> int:
    """The vocabulary index of the TLD of `name`, one label under one of `TLDS`."""
    label, _, tld = name.partition(".")
    if not 0 < len(label) < 64 or not label.isascii() or tld not in TLDS:
        raise ValueError(f"{name!r} is not one label under one of {', '.join(TLDS)}")
    return 1 + TLDS.index(tld)


def _second_level_labels(rng: np.random.Generator, count: int) -> list[str]:
    """`count` registrable labels in the shapes people register: words, brandables, hyphens, digits."""
    shape = rng.random(count).tolist()
    word = rng.integers(len(_WORDS), size=(count, 2)).tolist()
    syllable = rng.integers(len(_SYLLABLE_LIST), size=(count, 4)).tolist()
    syllables = rng.integers(2, 5, count).tolist()
    number = rng.integers(1, 1000, count).tolist()
    labels = []
    for row in range(count):
        first, second = _WORDS[word[row][0]], _WORDS[word[row][1]]
        if shape[row] < 0.35:
            labels.append(first + second)
        elif shape[row] < 0.50:
            labels.append(first)
        elif shape[row] < 0.72:
            labels.append("".join(_SYLLABLE_LIST[index] for index in syllable[row][: syllables[row]]))
        elif shape[row] < 0.85:
            labels.append(f"{first}-{second}")
        else:
            labels.append(f"{first}{number[row]}")
    return labels


def _registered_domains(rng: np.random.Generator, count: int) -> list[tuple[str, int]]:
    """`count` distinct (label, TLD number) pairs."""
    domains: dict[tuple[str, int], None] = {}
    while len(domains) < count:
        wanted = count - len(domains)
        tlds = rng.choice(len(TLDS), size=2 * wanted, p=_TLD_SHARES).tolist()
        for pair in zip(_second_level_labels(rng, 2 * wanted), tlds, strict=True):
            domains.setdefault(pair)
            if len(domains) == count:
                break
    return list(domains)


def build_vocabulary(rng: np.random.Generator, domains: int) -> Vocabulary:
    """A vocabulary of `domains` registered domains with their hosts, plus the root, TLDs and reverse names.

    Index 0 is the root, 1 to 4 the TLDs of `TLDS`, 5 the `arpa` TLD, then apexes each followed by its
    hosts, then the reverse names, then a quarter as many mistyped domains as registered ones.
    """
    texts: list[str] = ["", *TLDS, "arpa"]
    zone_offsets: list[int] = [0] * len(texts)
    tld_offsets: list[int] = [0] * len(texts)
    kinds: list[int] = [int(NameKind.ROOT)] + [int(NameKind.TLD)] * (len(texts) - 1)
    apexes: list[int] = list(range(len(texts)))
    tld_indices: list[int] = [0, *range(1, len(texts))]
    registered = _registered_domains(rng, domains)
    has_www = (rng.random(domains) < 0.8).tolist()
    extra_hosts = np.minimum(rng.geometric(0.55, domains) - 1, 6).tolist()
    host_order = rng.random((domains, len(_HOST_LABELS))).argsort(axis=1)[:, :6].tolist()
    for row, (label, tld_number) in enumerate(registered):
        apex_text = f"{label}.{TLDS[tld_number]}"
        apex_index = len(texts)
        hosts = (["www"] if has_www[row] else []) + [
            _HOST_LABELS[index] for index in host_order[row][: extra_hosts[row]]
        ]
        for host in ["", *hosts]:
            texts.append(f"{host}.{apex_text}" if host else apex_text)
            zone_offsets.append(len(host) + 1 if host else 0)
            tld_offsets.append((len(host) + 1 if host else 0) + len(label) + 1)
            kinds.append(NameKind.HOST if host else NameKind.APEX)
            apexes.append(apex_index)
            tld_indices.append(1 + tld_number)
    for prefix in _REVERSE_PREFIXES:
        zone = ".".join(str(octet) for octet in reversed(prefix)) + ".in-addr.arpa"
        for host_octet in sorted(rng.choice(np.arange(1, 255), size=64, replace=False)):
            label = str(int(host_octet))
            texts.append(f"{label}.{zone}")
            zone_offsets.append(len(label) + 1)
            tld_offsets.append(len(label) + 1 + len(zone) - len("arpa"))
            kinds.append(NameKind.REVERSE)
            apexes.append(len(apexes))
            tld_indices.append(len(TLDS) + 1)
    vocabulary = _assemble(rng, texts, zone_offsets, tld_offsets, kinds, apexes, tld_indices)
    mistyped = _mistyped_domains(rng, registered, max(1, domains // 4))
    return vocabulary.with_domains(mistyped, NameKind.MISTYPED, [False] * len(mistyped))


def _mistyped_domains(rng: np.random.Generator, registered: list[tuple[str, int]], count: int) -> list[str]:
    """`count` distinct unregistered domains people type for registered ones: a letter dropped, doubled,
    swapped with the next or replaced, or the right label under another TLD."""
    taken = {f"{label}.{TLDS[tld]}" for label, tld in registered}
    mistyped: dict[str, None] = {}
    while len(mistyped) < count:
        rows = 2 * (count - len(mistyped))
        source = rng.integers(len(registered), size=rows).tolist()
        edit = rng.integers(5, size=rows).tolist()
        place = rng.random(rows).tolist()
        letter = rng.integers(26, size=rows).tolist()
        tld_shift = rng.integers(1, len(TLDS), size=rows).tolist()
        for row in range(rows):
            label, tld = registered[source[row]]
            if edit[row] == 4:
                tld = (tld + tld_shift[row]) % len(TLDS)
            else:
                label = _mistype(label, edit[row], place[row], letter[row])
            text = f"{label}.{TLDS[tld]}"
            if text not in taken and _LABEL.fullmatch(label):
                mistyped.setdefault(text)
                if len(mistyped) == count:
                    break
    return list(mistyped)


def _mistype(label: str, edit: int, place: float, letter: int) -> str:
    """`label` (3 characters or more) with one typo: 0 drops a letter, 1 doubles it, 2 swaps it with the
    next, 3 replaces it with `letter` (0 to 25); `place` (0 to 1) says where."""
    at = min(int(place * len(label)), len(label) - 2)
    if edit == 0:
        return label[:at] + label[at + 1 :]
    if edit == 1:
        return label[: at + 1] + label[at:]
    if edit == 2:
        return label[:at] + label[at + 1] + label[at] + label[at + 2 :]
    return label[:at] + chr(ord("a") + letter) + label[at + 1 :]


def _assemble(
    rng: np.random.Generator,
    texts: list[str],
    zone_offsets: list[int],
    tld_offsets: list[int],
    kinds: list[int],
    apexes: list[int],
    tld_indices: list[int],
) -> Vocabulary:
    wires = [_wire(text) for text in texts]
    count = len(wires)
    kind = np.array(kinds, dtype=np.uint8)
    apex = np.array(apexes, dtype=np.int32)
    # Zone-level facts (signed, algorithm) are drawn per apex and inherited by the apex's hosts.
    zone_signed = rng.random(count) < 0.12
    zone_algorithm = np.where(rng.random(count) < 0.7, 13, 8).astype(np.uint8)
    zone_signed[kind <= NameKind.TLD] = True
    zone_algorithm[kind <= NameKind.TLD] = 8
    traits = np.where(zone_signed[apex], SIGNED, 0)
    traits |= np.where(rng.random(count) < 0.55, HAS_AAAA, 0)
    traits |= np.where(rng.random(count) < 0.3, HAS_HTTPS, 0)
    traits |= np.where((kind == NameKind.HOST) & (rng.random(count) < 0.25), HAS_CNAME, 0)
    traits |= np.where(rng.random(count) < 0.35, IN_BAILIWICK, 0)
    addresses = rng.choice(np.arange(1, 5, dtype=np.uint8), size=count, p=[0.55, 0.25, 0.1, 0.1])
    return Vocabulary(
        wire=np.frombuffer(b"".join(wires), dtype=np.uint8).copy(),
        start=np.concatenate([[0], np.cumsum([len(wire) for wire in wires])]).astype(np.int64),
        zone_offset=np.array(zone_offsets, dtype=np.int32),
        tld_offset=np.array(tld_offsets, dtype=np.int32),
        kind=kind,
        apex=apex,
        tld=np.array(tld_indices, dtype=np.int32),
        traits=traits.astype(np.uint8),
        algorithm=zone_algorithm[apex],
        addresses=addresses.astype(np.uint8),
    )
