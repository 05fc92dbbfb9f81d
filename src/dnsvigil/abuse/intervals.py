"""Confidence intervals of abuse rates, from their published definitions, vectorised over many rates.

A rate whose denominator is the set of domains the abused ones are drawn from (a zone, a month's new
registrations) is a binomial proportion: Wilson's score interval (Wilson 1927) keeps its coverage near the
stated level for the small counts of small registrars, where the normal approximation fails. A rate per
domains under management is a count per exposure (month-end counts miss the domains created and deleted
within the month, so abused domains need not be a subset): the exact Poisson interval (Garwood 1936).
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
from scipy.stats import chi2, norm  # type: ignore[import-untyped]

Floats = npt.NDArray[np.float64]


def _check(confidence: float) -> float:
    if not 0.0 < confidence < 1.0:
        raise ValueError(f"confidence must be within (0, 1), got {confidence}")
    return 1.0 - confidence


def wilson(hits: npt.ArrayLike, totals: npt.ArrayLike, confidence: float = 0.95) -> tuple[Floats, Floats]:
    """Wilson score interval of `hits` of `totals` (elementwise); (0, 1) where a total is 0.

    Raises:
        ValueError: a count is negative or exceeds its total, or `confidence` is outside (0, 1).
    """
    alpha = _check(confidence)
    k = np.asarray(hits, dtype=np.float64)
    n = np.asarray(totals, dtype=np.float64)
    if np.any(k < 0) or np.any(k > n):
        raise ValueError("a binomial proportion needs 0 <= hits <= total")
    z = float(norm.ppf(1.0 - alpha / 2.0))
    with np.errstate(divide="ignore", invalid="ignore"):
        p = k / n
        denominator = 1.0 + z * z / n
        centre = (p + z * z / (2.0 * n)) / denominator
        half = z / denominator * np.sqrt(p * (1.0 - p) / n + z * z / (4.0 * n * n))
    empty = n == 0
    low = np.where(empty, 0.0, np.clip(centre - half, 0.0, 1.0))
    high = np.where(empty, 1.0, np.clip(centre + half, 0.0, 1.0))
    return low, high


def poisson(
    counts: npt.ArrayLike, exposures: npt.ArrayLike, confidence: float = 0.95
) -> tuple[Floats, Floats]:
    """Exact (Garwood) interval of the rate `counts / exposures` of a Poisson count (elementwise).

    Raises:
        ValueError: a count is negative, an exposure is not positive, or `confidence` is outside (0, 1).
    """
    alpha = _check(confidence)
    k = np.asarray(counts, dtype=np.float64)
    exposure = np.asarray(exposures, dtype=np.float64)
    if np.any(k < 0) or np.any(exposure <= 0):
        raise ValueError("a Poisson rate needs counts >= 0 and exposures > 0")
    low = np.where(k == 0, 0.0, chi2.ppf(alpha / 2.0, 2.0 * np.maximum(k, 1.0)) / 2.0)
    high = chi2.ppf(1.0 - alpha / 2.0, 2.0 * k + 2.0) / 2.0
    return np.asarray(low / exposure, dtype=np.float64), np.asarray(high / exposure, dtype=np.float64)
