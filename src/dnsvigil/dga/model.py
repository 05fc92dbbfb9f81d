"""The DGA model: score names, decide which are generated, and name their family.

Scoring goes from text to verdict without scikit-learn: names are reduced to registrable labels
(`names.parse_names`), described by compiled feature loops and their public suffix's odds of being a DGA's
(`suffix_odds`), scored by a linear n-gram model and boosted trees exported to arrays, and
`score > threshold` applies the operating point chosen on validation names for a false-positive rate of
1e-3. The model is read once from `model/dga_model.npz` inside the package.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from dnsvigil.dga.alphabet import EncodedLabels, encode_labels
from dnsvigil.dga.artifact import read_artifact, write_artifact
from dnsvigil.dga.attribution import STORED_WEIGHT_DTYPE, FamilyModel
from dnsvigil.dga.charngrams import linear_scores
from dnsvigil.dga.family_shapes import FamilyShapes
from dnsvigil.dga.features import DENSE_FEATURES, dense_features
from dnsvigil.dga.names import NameParts, Rejection, parse_name, parse_names
from dnsvigil.dga.ngrams import BenignNgrams
from dnsvigil.dga.suffix_odds import SuffixOdds
from dnsvigil.dga.trees import TreeEnsemble
from dnsvigil.dga.wordsplit import WordTable, shipped_word_table
from dnsvigil.errors import InputError

SHIPPED_MODEL = Path(__file__).parent / "model" / "dga_model.npz"
FORMAT = "dnsvigil-dga-model/4"  # 2: (suffix, length) pairs in the family model; 3: family shapes;
# 4: suffix odds in the detector
DETECTOR_ORDERS = (1, 5)  # character n-grams of the detector's linear model


@dataclass(frozen=True, slots=True)
class ModelInfo:
    """How a model was trained and where its operating point lies.

    Attributes:
        seed: the random seed of training.
        threshold: a name is DGA when its score is above this.
        target_fpr: the false-positive rate on benign validation names the threshold was chosen for.
        validation_fpr: the false-positive rate it has there.
        validation_tpr: the share of DGA validation names above it.
        counts: training and validation names by kind (`train_benign`, `validation_dga`, ...).
    """

    seed: int
    threshold: float
    target_fpr: float
    validation_fpr: float
    validation_tpr: float
    counts: dict[str, int]


@dataclass(frozen=True, slots=True)
class LabelVerdicts:
    """Verdicts on a batch of labels, in order; `family` is empty where `is_dga` is false (unless every
    label was attributed)."""

    score: npt.NDArray[np.float64]
    is_dga: npt.NDArray[np.bool_]
    family: list[str]
    family_confidence: npt.NDArray[np.float64]


@dataclass(frozen=True, slots=True)
class NameScore:
    """The verdict on one name.

    Attributes:
        name: the name, normalised (lower case, A-labels, no trailing dot).
        registrable: its registrable domain, whose label was scored.
        score: in [0, 1], higher is more likely generated.
        is_dga: `score` is above the model's operating threshold.
        family: the most likely family, `unknown` when none fits; empty when not DGA.
        family_confidence: the family's probability; 0 when not DGA.
    """

    name: str
    registrable: str
    score: float
    is_dga: bool
    family: str
    family_confidence: float


@dataclass(frozen=True, slots=True)
class ScoredNames:
    """Verdicts on a batch of names, in input order; rejected names have NaN scores and no family."""

    parts: list[NameParts | Rejection]
    score: npt.NDArray[np.float64]
    is_dga: npt.NDArray[np.bool_]
    family: list[str]
    family_confidence: npt.NDArray[np.float64]

    def __len__(self) -> int:
        return len(self.parts)

    def __iter__(self) -> Iterator[NameScore | Rejection]:
        """Each name's `NameScore`, or its `Rejection` when it has no registrable label."""
        for index, parts in enumerate(self.parts):
            if isinstance(parts, Rejection):
                yield parts
            else:
                yield NameScore(
                    parts.name,
                    parts.registrable,
                    float(self.score[index]),
                    bool(self.is_dga[index]),
                    self.family[index],
                    float(self.family_confidence[index]),
                )


@dataclass(frozen=True, slots=True)
class Detector:
    """The scoring half of a model: features, the linear n-gram model, the suffix odds and the trees."""

    ngrams: BenignNgrams
    words: WordTable
    ngram_weights: npt.NDArray[np.float32]
    ngram_bias: npt.NDArray[np.float32]
    suffix_odds: SuffixOdds
    trees: TreeEnsemble

    def features(self, labels: EncodedLabels, suffixes: Sequence[str]) -> npt.NDArray[np.float32]:
        """The rows the trees read: dense features, the n-gram model's decision value, the suffix odds."""
        dense = dense_features(labels, self.ngrams, self.words)
        linear = linear_scores(labels, self.ngram_weights, self.ngram_bias, orders=DETECTOR_ORDERS)
        return np.hstack([dense, linear.astype(np.float32), self.suffix_odds.of(suffixes)[:, None]])

    def scores(self, labels: EncodedLabels, suffixes: Sequence[str]) -> npt.NDArray[np.float64]:
        """The score in [0, 1] of each label under its public suffix."""
        return sigmoid(self.trees.raw_scores(self.features(labels, suffixes)))


def dense_part(features: npt.NDArray[np.float32]) -> npt.NDArray[np.float32]:
    """The dense feature columns (`features.DENSE_FEATURES`) of the detector's rows."""
    return features[:, : len(DENSE_FEATURES)]


@dataclass(frozen=True, slots=True)
class DgaModel:
    """A trained DGA model (see the module docstring); build with `training.train` or `load_model`."""

    detector: Detector
    families: FamilyModel
    info: ModelInfo

    def score_labels(
        self, labels: Sequence[str], suffixes: Sequence[str], *, attribute_all: bool = False
    ) -> LabelVerdicts:
        """Verdicts on registrable labels with their public suffixes.

        With `attribute_all`, every label gets its most likely family, DGA-scored or not: a client whose
        many unresolved names one family explains is suspect even where no single name is conclusive.
        Each distinct (label, suffix) is scored once: a day's query log names `google.com` in many ways.
        """
        pairs = list(zip(labels, suffixes, strict=True))
        distinct = dict.fromkeys(pairs)
        if len(distinct) == len(pairs):
            return self._score_distinct_labels(labels, suffixes, attribute_all=attribute_all)
        verdicts = self._score_distinct_labels(
            [label for label, _ in distinct], [suffix for _, suffix in distinct], attribute_all=attribute_all
        )
        row_of = {pair: row for row, pair in enumerate(distinct)}
        rows = np.fromiter(map(row_of.__getitem__, pairs), np.int64, len(pairs))
        return LabelVerdicts(
            verdicts.score[rows],
            verdicts.is_dga[rows],
            [verdicts.family[row] for row in rows.tolist()],
            verdicts.family_confidence[rows],
        )

    def _score_distinct_labels(
        self, labels: Sequence[str], suffixes: Sequence[str], *, attribute_all: bool
    ) -> LabelVerdicts:
        """`score_labels` of labels known to be distinct."""
        encoded = encode_labels(labels)
        features = self.detector.features(encoded, suffixes)
        score = sigmoid(self.detector.trees.raw_scores(features))
        is_dga = score > self.info.threshold
        family = [""] * len(labels)
        confidence = np.zeros(len(labels), dtype=np.float64)
        flagged = np.arange(len(labels)) if attribute_all else np.flatnonzero(is_dga)
        if len(flagged):
            rows = flagged.tolist()
            names, probabilities = self.families.attribute(
                encoded.select(flagged), [suffixes[index] for index in rows], dense_part(features[flagged])
            )
            for index, name in zip(rows, names, strict=True):
                family[index] = name
            confidence[flagged] = probabilities
        return LabelVerdicts(score, is_dga, family, confidence)

    def score_names(self, texts: Sequence[str], *, attribute_all: bool = False) -> ScoredNames:
        """Verdicts on domain names given as text, in order; bad or excluded names come back rejected.

        `attribute_all` names a family for every scored name, not only DGA-scored ones (`score_labels`).
        """
        parts = parse_names(texts)
        valid = [index for index, part in enumerate(parts) if isinstance(part, NameParts)]
        kept = [part for part in parts if isinstance(part, NameParts)]
        verdicts = self.score_labels(
            [part.label for part in kept], [part.suffix for part in kept], attribute_all=attribute_all
        )
        score = np.full(len(parts), np.nan)
        score[valid] = verdicts.score
        is_dga = np.zeros(len(parts), dtype=np.bool_)
        is_dga[valid] = verdicts.is_dga
        family = [""] * len(parts)
        for index, name in zip(valid, verdicts.family, strict=True):
            family[index] = name
        confidence = np.zeros(len(parts), dtype=np.float64)
        confidence[valid] = verdicts.family_confidence
        return ScoredNames(parts, score, is_dga, family, confidence)

    def score_name(self, text: str) -> NameScore | Rejection:
        """The verdict on one name, for streaming use: the same path as a batch of one."""
        parts = parse_name(text)
        if isinstance(parts, Rejection):
            return parts
        verdicts = self.score_labels([parts.label], [parts.suffix])
        return NameScore(
            parts.name,
            parts.registrable,
            float(verdicts.score[0]),
            bool(verdicts.is_dga[0]),
            verdicts.family[0],
            float(verdicts.family_confidence[0]),
        )

    def to_file(self, path: Path) -> None:
        """Write the model as an `.npz` artifact (byte-identical for identical models)."""
        header, arrays = _to_arrays(self)
        write_artifact(path, header, arrays)

    @classmethod
    def from_file(cls, path: Path) -> DgaModel:
        """Read a model written by `to_file`.

        Raises:
            InputError: the file is missing, not a model, or of another format version.
        """
        header, arrays = read_artifact(path)
        if header.get("format") != FORMAT:
            raise InputError(
                f"{path}: model format {header.get('format')!r}, this dnsvigil reads {FORMAT!r}",
                hint="retrain it with `make model`",
            )
        try:
            return _from_arrays(header, arrays)
        except (KeyError, TypeError, ValueError) as error:
            raise InputError(
                f"{path}: incomplete or inconsistent model ({error})", hint="retrain it"
            ) from None


@cache
def load_model(path: Path = SHIPPED_MODEL) -> DgaModel:
    """The model at `path` (by default the one shipped in the package), read once per process."""
    return DgaModel.from_file(path)


def sigmoid(raw: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
    """The logistic function: scores in [0, 1] from the trees' log-odds."""
    result: npt.NDArray[np.float64] = 1.0 / (1.0 + np.exp(-np.clip(raw, -500.0, 500.0)))
    return result


def _to_arrays(model: DgaModel) -> tuple[dict[str, Any], dict[str, npt.NDArray[Any]]]:
    detector, families, info = model.detector, model.families, model.info
    trees = detector.trees
    header = {
        "format": FORMAT,
        "seed": info.seed,
        "threshold": info.threshold,
        "target_fpr": info.target_fpr,
        "validation_fpr": info.validation_fpr,
        "validation_tpr": info.validation_tpr,
        "counts": info.counts,
        "trees_baseline": trees.baseline,
        "suffix_unseen_log_odds": detector.suffix_odds.unseen,
        "families": list(families.families),
        "family_min_confidence": families.min_confidence,
        "family_max_distance": families.max_distance,
        "family_shape_weights": [
            families.shapes.shape_weight,
            families.shapes.bigram_weight,
            families.shapes.prior_weight,
        ],
    }
    arrays: dict[str, npt.NDArray[Any]] = {
        "ngrams_bigrams": detector.ngrams.bigrams,
        "ngrams_trigrams": detector.ngrams.trigrams,
        "ngrams_fourgrams": detector.ngrams.fourgrams,
        "detector_weights": detector.ngram_weights,
        "detector_bias": detector.ngram_bias,
        "detector_suffixes": np.array(list(detector.suffix_odds.log_odds), dtype=np.str_),
        "detector_suffix_log_odds": np.array(list(detector.suffix_odds.log_odds.values()), dtype=np.float64),
    }
    for field in ("feature", "threshold", "left", "value", "missing_left", "roots"):
        arrays[f"trees_{field}"] = getattr(trees, field)
    for field in ("extra_weights", "bias", "dense_mean", "dense_scale", "low", "high"):
        arrays[f"family_{field}"] = getattr(families, field)
    arrays["family_ngram_weights"] = families.ngram_weights.astype(STORED_WEIGHT_DTYPE)
    for field in ("pair_counts", "suffix_counts", "length_counts", "bigram_log_probs"):
        arrays[f"family_shapes_{field}"] = getattr(families.shapes, field)
    return header, arrays


def _from_arrays(header: dict[str, Any], arrays: dict[str, npt.NDArray[Any]]) -> DgaModel:
    trees = TreeEnsemble(
        feature=arrays["trees_feature"],
        threshold=arrays["trees_threshold"],
        left=arrays["trees_left"],
        value=arrays["trees_value"],
        missing_left=arrays["trees_missing_left"],
        roots=arrays["trees_roots"],
        baseline=float(header["trees_baseline"]),
    )
    families = FamilyModel(
        families=tuple(str(family) for family in header["families"]),
        ngram_weights=arrays["family_ngram_weights"].astype(np.float32),
        extra_weights=arrays["family_extra_weights"],
        bias=arrays["family_bias"],
        dense_mean=arrays["family_dense_mean"],
        dense_scale=arrays["family_dense_scale"],
        low=arrays["family_low"],
        high=arrays["family_high"],
        shapes=FamilyShapes(
            arrays["family_shapes_pair_counts"],
            arrays["family_shapes_suffix_counts"],
            arrays["family_shapes_length_counts"],
            arrays["family_shapes_bigram_log_probs"],
            *(float(weight) for weight in header["family_shape_weights"]),
        ),
        min_confidence=float(header["family_min_confidence"]),
        max_distance=float(header["family_max_distance"]),
    )
    info = ModelInfo(
        seed=int(header["seed"]),
        threshold=float(header["threshold"]),
        target_fpr=float(header["target_fpr"]),
        validation_fpr=float(header["validation_fpr"]),
        validation_tpr=float(header["validation_tpr"]),
        counts={str(key): int(value) for key, value in header["counts"].items()},
    )
    ngrams = BenignNgrams(arrays["ngrams_bigrams"], arrays["ngrams_trigrams"], arrays["ngrams_fourgrams"])
    suffix_odds = SuffixOdds(
        dict(
            zip(
                arrays["detector_suffixes"].tolist(),
                arrays["detector_suffix_log_odds"].tolist(),
                strict=True,
            )
        ),
        float(header["suffix_unseen_log_odds"]),
    )
    detector = Detector(
        ngrams, shipped_word_table(), arrays["detector_weights"], arrays["detector_bias"], suffix_odds, trees
    )
    return DgaModel(detector, families, info)
