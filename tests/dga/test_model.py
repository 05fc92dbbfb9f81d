"""The shipped model: generated names score high, popular names low, families named or `unknown`."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from dnsvigil.dga.alphabet import encode_labels
from dnsvigil.dga.attribution import UNKNOWN
from dnsvigil.dga.dataset import DGA_FILE, deduplicate, read_dga_domains
from dnsvigil.dga.model import SHIPPED_MODEL, DgaModel, NameScore, dense_part, load_model
from dnsvigil.dga.names import Rejection
from dnsvigil.errors import InputError

POPULAR = [
    "google.com", "youtube.com", "facebook.com", "wikipedia.org", "amazon.co.uk", "twitter.com",
    "instagram.com", "linkedin.com", "netflix.com", "microsoft.com", "www.apple.com", "github.com",
    "stackoverflow.com", "reddit.com", "bbc.co.uk", "nytimes.com", "paypal.com", "weather.com",
]  # fmt: skip


@pytest.fixture(scope="module")
def model() -> DgaModel:
    return load_model()


@pytest.fixture(scope="module")
def dga_names(shared_data: Path) -> dict[str, list[str]]:
    """Registrable domains of a few families of the reference data, by family."""
    names = deduplicate(read_dga_domains(shared_data / DGA_FILE).names)
    by_family: dict[str, list[str]] = {}
    for name in names:
        if name.family in {"bamital", "cryptolocker", "gameover", "banjori", "suppobox"}:
            by_family.setdefault(name.family, []).append(f"{name.label}.{name.suffix}")
    return {family: found[:200] for family, found in by_family.items()}


def test_shipped_model_is_small_and_loaded_once(model: DgaModel) -> None:
    assert SHIPPED_MODEL.stat().st_size < 20_000_000
    assert load_model() is model
    assert 0 < model.info.threshold < 1
    assert model.info.validation_fpr <= model.info.target_fpr == 1e-3


def test_popular_names_are_not_dga(model: DgaModel) -> None:
    scored = model.score_names(POPULAR)
    assert not scored.is_dga.any()
    assert scored.family == [""] * len(POPULAR)
    assert (scored.score < 0.5).all()


def test_generated_names_of_known_families_are_dga(model: DgaModel, dga_names: dict[str, list[str]]) -> None:
    for family, names in dga_names.items():
        scored = model.score_names(names)
        assert scored.is_dga.mean() > 0.7, family
        assert np.median(scored.score) > np.max(model.score_names(POPULAR).score), family


def test_families_are_attributed(model: DgaModel, dga_names: dict[str, list[str]]) -> None:
    for family, names in dga_names.items():
        scored = model.score_names(names)
        named = [name for name, flagged in zip(scored.family, scored.is_dga, strict=True) if flagged]
        assert named.count(family) / len(named) > 0.8, family
        assert (scored.family_confidence[scored.is_dga] > 0).all()


def test_out_of_family_labels_are_unknown(model: DgaModel) -> None:
    """Labels longer than any modelled family's, of shapes no family uses, get no family name."""
    rng = np.random.default_rng(0)
    letters = np.array(list("abcdefghijklmnopqrstuvwxyz0123456789"))
    labels = ["".join(rng.choice(letters, 60)) for _ in range(20)]
    labels += ["-".join("".join(rng.choice(letters, 5)) for _ in range(10)) for _ in range(20)]
    encoded = encode_labels(labels)
    suffixes = ["com"] * len(labels)
    dense = dense_part(model.detector.features(encoded, suffixes))
    families, confidence = model.families.attribute(encoded, suffixes, dense)
    assert families == [UNKNOWN] * len(labels)
    assert ((confidence >= 0) & (confidence <= 1)).all()


def test_batch_keeps_order_and_rejects_bad_names(model: DgaModel) -> None:
    texts = ["WWW.Example.COM.", "", "1.2.0.192.in-addr.arpa", "bad name.com", "xn--bcher-kva.example"]
    scored = model.score_names(texts)
    verdicts = list(scored)
    assert len(scored) == len(verdicts) == len(texts)
    assert isinstance(verdicts[0], NameScore) and verdicts[0].registrable == "example.com"
    assert [type(verdict) for verdict in verdicts[1:4]] == [Rejection] * 3
    assert np.isnan(scored.score[1:4]).all() and not scored.is_dga[1:4].any()
    assert isinstance(verdicts[4], NameScore) and verdicts[4].registrable == "xn--bcher-kva.example"


def test_streaming_path_equals_the_batch_path(model: DgaModel) -> None:
    texts = ["google.com", "47faeb4f1b75a48499ba14e9b1cd895a.org", "rememberspace.net", "_dmarc.example.com"]
    for text, batch in zip(texts, model.score_names(texts), strict=True):
        assert model.score_name(text) == batch


def test_a_file_that_is_not_a_model_is_an_input_error(tmp_path: Path) -> None:
    path = tmp_path / "model.npz"
    path.write_bytes(b"PK\x05\x06" + bytes(18))  # an empty zip archive
    with pytest.raises(InputError, match="not a dnsvigil DGA model"):
        DgaModel.from_file(path)


def test_repeated_names_are_scored_once_and_answered_alike(
    model: DgaModel, monkeypatch: pytest.MonkeyPatch
) -> None:
    texts = ["www.google.com", "rememberspace.net", "mail.google.com", "REMEMBERSPACE.net.", "google.com"]
    texts += ["47faeb4f1b75a48499ba14e9b1cd895a.org", "rememberspace.net", "bad name.com"]
    alone = [model.score_name(text) for text in texts]
    scored_labels: list[str] = []
    score_distinct = DgaModel._score_distinct_labels

    def counting(self: DgaModel, labels: list[str], suffixes: list[str], **options: bool) -> object:
        scored_labels.extend(labels)
        return score_distinct(self, labels, suffixes, **options)

    monkeypatch.setattr(DgaModel, "_score_distinct_labels", counting)
    together = list(model.score_names(texts))
    assert scored_labels == ["google", "rememberspace", "47faeb4f1b75a48499ba14e9b1cd895a"]
    assert together == alone
