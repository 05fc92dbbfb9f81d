"""Names reduced to registrable labels: the PSL's published vectors, edge cases, properties, an oracle."""

from __future__ import annotations

from importlib import resources
from pathlib import Path

import idna
import pytest
from hypothesis import assume, given
from hypothesis import strategies as st
from publicsuffixlist import PublicSuffixList

from dnsvigil.dga.names import (
    EXCLUSION_CODES,
    NameParts,
    Rejection,
    parse_name,
    parse_names,
    parse_suffix_list,
    registrable_label,
    suffix_rules,
)

# The PSL's own test vectors (publicsuffix/list tests/test_psl.txt, public domain): name -> registrable
# domain, None where the name has none. Unicode answers are compared in A-labels.
PSL_VECTORS = [
    ("COM", None),
    ("example.COM", "example.com"),
    ("WwW.example.COM", "example.com"),
    (".com", None),
    (".example", None),
    (".example.com", None),
    (".example.example", None),
    ("example", None),
    ("example.example", "example.example"),
    ("b.example.example", "example.example"),
    ("a.b.example.example", "example.example"),
    ("biz", None),
    ("domain.biz", "domain.biz"),
    ("b.domain.biz", "domain.biz"),
    ("a.b.domain.biz", "domain.biz"),
    ("com", None),
    ("example.com", "example.com"),
    ("b.example.com", "example.com"),
    ("a.b.example.com", "example.com"),
    ("uk.com", None),
    ("example.uk.com", "example.uk.com"),
    ("b.example.uk.com", "example.uk.com"),
    ("a.b.example.uk.com", "example.uk.com"),
    ("test.ac", "test.ac"),
    ("mm", None),
    ("c.mm", None),
    ("b.c.mm", "b.c.mm"),
    ("a.b.c.mm", "b.c.mm"),
    ("jp", None),
    ("test.jp", "test.jp"),
    ("www.test.jp", "test.jp"),
    ("ac.jp", None),
    ("test.ac.jp", "test.ac.jp"),
    ("www.test.ac.jp", "test.ac.jp"),
    ("kyoto.jp", None),
    ("test.kyoto.jp", "test.kyoto.jp"),
    ("ide.kyoto.jp", None),
    ("b.ide.kyoto.jp", "b.ide.kyoto.jp"),
    ("a.b.ide.kyoto.jp", "b.ide.kyoto.jp"),
    ("c.kobe.jp", None),
    ("b.c.kobe.jp", "b.c.kobe.jp"),
    ("a.b.c.kobe.jp", "b.c.kobe.jp"),
    ("city.kobe.jp", "city.kobe.jp"),
    ("www.city.kobe.jp", "city.kobe.jp"),
    ("ck", None),
    ("test.ck", None),
    ("b.test.ck", "b.test.ck"),
    ("a.b.test.ck", "b.test.ck"),
    ("www.ck", "www.ck"),
    ("www.www.ck", "www.ck"),
    ("us", None),
    ("test.us", "test.us"),
    ("www.test.us", "test.us"),
    ("ak.us", None),
    ("test.ak.us", "test.ak.us"),
    ("www.test.ak.us", "test.ak.us"),
    ("k12.ak.us", None),
    ("test.k12.ak.us", "test.k12.ak.us"),
    ("www.test.k12.ak.us", "test.k12.ak.us"),
    ("食狮.com.cn", "食狮.com.cn"),
    ("食狮.公司.cn", "食狮.公司.cn"),
    ("www.食狮.公司.cn", "食狮.公司.cn"),
    ("shishi.公司.cn", "shishi.公司.cn"),
    ("公司.cn", None),
    ("食狮.中国", "食狮.中国"),
    ("www.食狮.中国", "食狮.中国"),
    ("shishi.中国", "shishi.中国"),
    ("中国", None),
    ("xn--85x722f.com.cn", "xn--85x722f.com.cn"),
    ("xn--85x722f.xn--55qx5d.cn", "xn--85x722f.xn--55qx5d.cn"),
    ("www.xn--85x722f.xn--55qx5d.cn", "xn--85x722f.xn--55qx5d.cn"),
    ("shishi.xn--55qx5d.cn", "shishi.xn--55qx5d.cn"),
    ("xn--55qx5d.cn", None),
    ("xn--85x722f.xn--fiqs8s", "xn--85x722f.xn--fiqs8s"),
    ("www.xn--85x722f.xn--fiqs8s", "xn--85x722f.xn--fiqs8s"),
    ("shishi.xn--fiqs8s", "shishi.xn--fiqs8s"),
    ("xn--fiqs8s", None),
]


def parts_of(text: str) -> NameParts:
    parts = parse_name(text)
    assert isinstance(parts, NameParts), parts
    return parts


def rejection_of(text: str) -> Rejection:
    rejection = parse_name(text)
    assert isinstance(rejection, Rejection), rejection
    return rejection


@pytest.mark.parametrize(("text", "registrable"), PSL_VECTORS)
def test_published_psl_vectors(text: str, registrable: str | None) -> None:
    parts = parse_name(text)
    if registrable is None:
        assert isinstance(parts, Rejection)
        assert parts.code in {"public-suffix", "empty-label"}
    else:
        assert isinstance(parts, NameParts)
        assert parts.registrable == idna.encode(registrable).decode("ascii")


@pytest.mark.parametrize(
    ("text", "label", "suffix", "private"),
    [
        ("www.google.co.uk", "google", "co.uk", False),
        ("abcxyz.dyndns.org", "abcxyz", "dyndns.org", True),
        ("foo.blogspot.com", "foo", "blogspot.com", True),
        ("a.b.github.io", "b", "github.io", True),
        ("user.github.io", "user", "github.io", True),
        ("foo.example", "foo", "example", False),  # unknown TLD: the implicit `*` rule
        ("x.y.foo.unknowntld", "foo", "unknowntld", False),
        ("a.foo.ck", "a", "foo.ck", False),  # `*.ck`
        ("www.ck", "www", "ck", False),  # `!www.ck`
        ("x.www.ck", "www", "ck", False),
        ("foo_bar.com", "foo_bar", "com", False),  # `_` inside a label is not a service label
        ("-foo-.lel.asia", "lel", "asia", False),  # hyphens anywhere, as in real query names
        ("1.2.3.4.example.arpa", "example", "arpa", False),  # under arpa but not reverse DNS
    ],
)
def test_split_at_the_public_suffix(text: str, label: str, suffix: str, private: bool) -> None:
    parts = parts_of(text)
    assert (parts.label, parts.suffix, parts.private_suffix) == (label, suffix, private)
    assert parts.registrable == f"{label}.{suffix}"
    assert parts.name.endswith(parts.registrable)


@pytest.mark.parametrize(
    "text", ["  WWW.Example.COM.  ", "www.example.com.", "\twww.example.com\n", "WWW.EXAMPLE.COM"]
)
def test_case_whitespace_and_one_trailing_dot_are_normalised(text: str) -> None:
    parts = parts_of(text)
    assert (parts.name, parts.label, parts.registrable) == ("www.example.com", "example", "example.com")


@pytest.mark.parametrize(
    "text", ["bücher.de", "BÜCHER.de", "xn--bcher-kva.de", "XN--BCHER-KVA.DE.", "bücher。de"]
)
def test_idn_in_unicode_and_punycode_give_both_forms(text: str) -> None:
    parts = parts_of(text)
    assert (parts.label, parts.unicode_label, parts.suffix) == ("xn--bcher-kva", "bücher", "de")
    assert parts.name == "xn--bcher-kva.de"


def test_an_idn_suffix_is_matched_in_a_labels() -> None:
    parts = parts_of("www.食狮.公司.cn")
    assert (parts.unicode_label, parts.suffix) == ("食狮", "xn--55qx5d.cn")


def test_a_valid_punycode_label_outside_idna_2008_is_kept() -> None:
    # An emoji domain: bad IDNA 2008, yet registered and resolving.
    parts = parts_of("xn--i-7iq.ws")
    assert (parts.label, parts.unicode_label) == ("xn--i-7iq", "i❤")


@pytest.mark.parametrize(
    ("text", "code"),
    [
        ("", "empty"),
        ("   ", "empty"),
        (".", "empty"),
        ("a..b.com", "empty-label"),
        ("example.com..", "empty-label"),
        (".example.com", "empty-label"),
        ("a" * 64 + ".com", "label-too-long"),
        (".".join(["a" * 63] * 4) + ".com", "name-too-long"),
        ("exa mple.com", "bad-character"),
        ("http://example.com", "bad-character"),
        ("foo!.com", "bad-character"),
        ("xn--zz.com", "bad-punycode"),
        ("www.xn--zz.example.com", "bad-punycode"),
        ("xn--abc-.com", "bad-punycode"),  # decodes to ASCII only: not an A-label
        ("☃.com", "bad-idn"),
        ("_dmarc.example.com", "service-label"),
        ("_sip._udp.example.com", "service-label"),
        ("_tcp.example.com", "service-label"),
        ("1.0.0.127.in-addr.arpa", "reverse-dns"),
        ("in-addr.arpa", "reverse-dns"),
        ("b.a.9.8.7.6.5.0.4.0.0.0.3.0.0.0.2.0.0.0.1.0.0.0.0.0.0.0.1.2.3.4.ip6.arpa", "reverse-dns"),
        ("com", "public-suffix"),
        ("co.uk", "public-suffix"),
        ("github.io", "public-suffix"),
        ("dyndns.org", "public-suffix"),
        ("foo.ck", "public-suffix"),
        ("localhost", "public-suffix"),
    ],
)
def test_rejections_carry_a_code_and_say_whether_excluded_by_rule(text: str, code: str) -> None:
    rejection = rejection_of(text)
    assert (rejection.text, rejection.code) == (text, code)
    assert rejection.excluded == (code in EXCLUSION_CODES)
    assert rejection.reason
    assert registrable_label(text) is None


def test_length_limits_are_inclusive() -> None:
    longest_label = "a" * 63
    assert parts_of(f"{longest_label}.com").label == longest_label
    longest_name = ".".join(["b" * 63] * 3 + ["c" * 57, "com"])
    assert len(longest_name) == 253
    assert parts_of(longest_name + ".").label == "c" * 57


def test_registrable_label() -> None:
    assert registrable_label("WWW.Google.co.uk.") == "google"
    assert registrable_label("1.0.0.127.in-addr.arpa") is None


def test_batch_agrees_with_single() -> None:
    texts = [text for text, _ in PSL_VECTORS] + ["_dmarc.example.com", "bücher.de", "xn--zz.com", "", "a..b"]
    assert parse_names(texts) == [parse_name(text) for text in texts]
    assert parse_names(iter(texts)) == parse_names(texts)


def test_suffix_list_sections_wildcards_exceptions_and_unicode_rules() -> None:
    rules = parse_suffix_list(
        "// ===BEGIN ICANN DOMAINS===\n"
        "example\n*.wild.example\n!keep.wild.example\n公司.cn trailing words are ignored\n"
        "// ===END ICANN DOMAINS===\n"
        "// ===BEGIN PRIVATE DOMAINS===\n"
        "  dyn.example\n"
        "// ===END PRIVATE DOMAINS===\n"
    )
    assert set(rules.flags) == {
        "example",
        "wild.example",
        "keep.wild.example",
        "xn--55qx5d.cn",
        "cn",
        "dyn.example",
    }
    assert rules.irregular_tlds == frozenset()


# --- properties ---------------------------------------------------------------------------------------

LABELS = st.from_regex(r"[a-z0-9][a-z0-9_-]{0,20}", fullmatch=True).filter(lambda label: label[2:4] != "--")


def plain_suffixes() -> list[str]:
    """The list's normal rules that have no wildcard below them: `label.rule` is always registrable."""
    lines = resources.files("publicsuffixlist").joinpath("public_suffix_list.dat").read_text("utf-8")
    rules = {line.split()[0] for line in lines.splitlines() if line.strip() and not line.startswith("//")}
    return sorted(
        idna.encode(rule).decode("ascii")
        for rule in rules
        if rule[0] not in "*!" and f"*.{rule}" not in rules
    )


PLAIN_SUFFIXES = plain_suffixes()


@given(st.text())
def test_any_text_gives_parts_or_a_rejection(text: str) -> None:
    result = parse_name(text)
    assert isinstance(result, NameParts | Rejection)
    if isinstance(result, NameParts):
        assert result.label.isascii()
        assert result.label == result.label.lower()
        assert result.label and "." not in result.label and len(result.label) <= 63
        assert len(result.name) <= 253


@given(st.text(alphabet=st.sampled_from("aZ09-_.. \tü。xn"), max_size=30))
def test_name_like_text_gives_lower_case_ascii_labels(text: str) -> None:
    result = parse_name(text)
    if isinstance(result, NameParts):
        assert result.label.isascii() and result.label == result.label.lower()
        assert result.registrable == f"{result.label}.{result.suffix}"
    else:
        assert result.text == text


@given(st.text(alphabet=st.sampled_from([*"abxn-_.。0ÜüßİI ", "\u200d", "\u0301"]), max_size=30))
def test_a_normalised_name_parses_to_itself(text: str) -> None:
    result = parse_name(text)
    if isinstance(result, NameParts):
        assert parse_name(result.name) == result


@given(LABELS, st.sampled_from(PLAIN_SUFFIXES), st.lists(LABELS, max_size=3))
def test_a_registrable_domain_and_its_subdomains_parse_alike(
    label: str, suffix: str, subs: list[str]
) -> None:
    registrable = f"{label}.{suffix}"
    # Where a longer rule ends with the domain (`s3.amazonaws.com` under `amazonaws.com`), a subdomain
    # can be a suffix of its own: the property is about domains no rule reaches below.
    assume(registrable not in suffix_rules().flags)
    parts = parts_of(registrable)
    assert (parts.label, parts.suffix) == (label, suffix)
    sub = parts_of(".".join([*subs, registrable]))
    assert (sub.label, sub.suffix, sub.registrable, sub.private_suffix) == (
        parts.label,
        parts.suffix,
        parts.registrable,
        parts.private_suffix,
    )


# --- the publicsuffixlist package as an oracle on real names -------------------------------------------


def shared_names(data_dir: Path) -> list[str]:
    dga = (data_dir / "dga" / "dga_domains.csv").read_text("utf-8").splitlines()[1:]
    alexa = (data_dir / "benign" / "alexa_top100k_2015.csv").read_text("utf-8").splitlines()
    umbrella = (data_dir / "benign" / "umbrella_top100k_firstseen.tsv").read_text("utf-8").splitlines()[1:]
    return (
        [line.split(",")[0] for line in dga]
        + [line.split(",", 1)[1].split("/")[0] for line in alexa]
        + [line.split("\t")[0] for line in umbrella]
    )


def test_agrees_with_the_publicsuffixlist_package_on_the_shared_names(shared_data: Path) -> None:
    """Our matcher against the package's, on 280k real names, both reading the same snapshot.

    One known difference: the package also counts the root of a wildcard rule as a public suffix
    (`run.app` under `*.run.app`), which the published algorithm does not: a wildcard matches exactly one
    label, so `run.app` has the registrable label `run`. Only whole names differ that way.
    """
    texts = shared_names(shared_data)
    everything, icann_only = PublicSuffixList(), PublicSuffixList(only_icann=True)
    wildcard_roots = []
    checked = 0
    for text, parts in zip(texts, parse_names(texts), strict=True):
        if isinstance(parts, Rejection):
            if parts.code == "public-suffix":
                assert everything.privatesuffix(text.lower()) is None, text
            continue
        expected = (everything.privatesuffix(parts.name), everything.publicsuffix(parts.name))
        if expected != (parts.registrable, parts.suffix):
            assert expected == (None, parts.name), text
            assert parts_of(f"a.any.{parts.name}").suffix == f"any.{parts.name}", text  # `*.` below it
            wildcard_roots.append(parts.name)
            continue
        assert parts.private_suffix == (icann_only.publicsuffix(parts.name) != parts.suffix), text
        checked += 1
    assert len(texts) > 280_000
    assert checked > len(texts) - 10_000
    assert len(wildcard_roots) < 100
