"""Detection metrics at a low false-positive rate, with exact binomial confidence intervals.

A detector that flags one benign name in a thousand is judged by how many DGA names score above the
threshold that allows that rate on benign validation names; both rates are proportions of finite test
sets, so each comes with its Clopper–Pearson interval.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from scipy.stats import beta  # type: ignore[import-untyped]

CONFIDENCE = 0.95


@dataclass(frozen=True, slots=True)
class Rate:
    """`hits` of `total` with its Clopper–Pearson interval at `CONFIDENCE`."""

    hits: int
    total: int
    low: float
    high: float

    def __post_init__(self) -> None:
        if not 0 <= self.hits <= self.total:
            raise ValueError(f"a rate needs 0 <= hits <= total, got {self.hits} of {self.total}")

    @property
    def value(self) -> float:
        """hits / total (NaN for an empty set)."""
        return self.hits / self.total if self.total else float("nan")

    @classmethod
    def of(cls, hits: int, total: int) -> Rate:
        """The rate of `hits` in `total` with its interval."""
        low, high = clopper_pearson(hits, total)
        return cls(hits, total, low, high)

    def to_text(self, digits: int = 3) -> str:
        """`0.953 [0.941, 0.963]`, or `n/a` for an empty set."""
        if not self.total:
            return "n/a"
        return f"{self.value:.{digits}f} [{self.low:.{digits}f}, {self.high:.{digits}f}]"


def clopper_pearson(hits: int, total: int, confidence: float = CONFIDENCE) -> tuple[float, float]:
    """The exact (Clopper–Pearson) two-sided interval of a binomial proportion; (0, 1) when `total` is 0."""
    if total == 0:
        return 0.0, 1.0
    tail = (1 - confidence) / 2
    low = 0.0 if hits == 0 else float(beta.ppf(tail, hits, total - hits + 1))
    high = 1.0 if hits == total else float(beta.ppf(1 - tail, hits + 1, total - hits))
    return low, high


def threshold_at_fpr(benign_scores: npt.NDArray[np.float64], fpr: float) -> float:
    """The lowest threshold `t` with at most `fpr` of `benign_scores` above it (a name is flagged if > t).

    With n benign scores, floor(fpr * n) of them may be flagged; ties at the threshold are never flagged,
    so the rate on these scores never exceeds `fpr`.
    """
    if len(benign_scores) == 0:
        raise ValueError("a threshold needs benign scores")
    allowed = int(np.floor(fpr * len(benign_scores)))
    ranked = np.sort(benign_scores)[::-1]
    return float(ranked[min(allowed, len(ranked) - 1)])


def rate_above(scores: npt.NDArray[np.float64], threshold: float) -> Rate:
    """The share of `scores` above `threshold`."""
    return Rate.of(int(np.count_nonzero(scores > threshold)), len(scores))


def roc_auc(benign_scores: npt.NDArray[np.float64], dga_scores: npt.NDArray[np.float64]) -> float:
    """Area under the ROC curve: the probability a DGA name outscores a benign one (ties count half)."""
    if len(benign_scores) == 0 or len(dga_scores) == 0:
        return float("nan")
    scores = np.concatenate([benign_scores, dga_scores])
    order = np.argsort(scores, kind="mergesort")
    ranks = np.empty(len(scores))
    sorted_scores = scores[order]
    # average ranks over runs of tied scores
    starts = np.flatnonzero(np.r_[True, sorted_scores[1:] != sorted_scores[:-1]])
    ends = np.r_[starts[1:], len(scores)]
    average = (starts + ends + 1) / 2.0
    ranks[order] = np.repeat(average, ends - starts)
    n_dga = len(dga_scores)
    dga_rank_sum = ranks[len(benign_scores) :].sum()
    return float((dga_rank_sum - n_dga * (n_dga + 1) / 2) / (n_dga * len(benign_scores)))


def macro_f1(truth: list[str], predicted: list[str], classes: list[str]) -> tuple[float, dict[str, float]]:
    """Mean F1 over `classes` (a prediction outside them, such as `unknown`, is simply wrong), and each F1."""
    truth_array, predicted_array = np.array(truth), np.array(predicted)
    scores = {}
    for name in classes:
        true_positive = np.count_nonzero((truth_array == name) & (predicted_array == name))
        denominator = np.count_nonzero(truth_array == name) + np.count_nonzero(predicted_array == name)
        scores[name] = 2 * true_positive / denominator if denominator else 0.0
    return (float(np.mean(list(scores.values()))) if scores else float("nan")), scores
