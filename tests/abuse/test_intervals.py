"""Wilson and exact Poisson intervals: published values, their defining equations, and coverage."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.stats import binom, norm  # type: ignore[import-untyped]
from scipy.stats import poisson as poisson_distribution

from dnsvigil.abuse.intervals import poisson, wilson


def wilson_by_quadratic(k: int, n: int, z: float) -> tuple[float, float]:
    """The Wilson bounds as the two roots p of (p - k/n)^2 = z^2 p (1 - p) / n (its definition)."""
    p_hat = k / n
    roots = np.roots([1 + z * z / n, -(2 * p_hat + z * z / n), p_hat * p_hat])
    low, high = sorted(float(root.real) for root in roots)
    return low, high


@pytest.mark.parametrize(("k", "n"), [(0, 10), (1, 10), (5, 100), (37, 1000), (10, 10)])
def test_wilson_solves_its_defining_equation(k: int, n: int) -> None:
    low, high = wilson([k], [n])
    expected = wilson_by_quadratic(k, n, float(norm.ppf(0.975)))
    assert low[0] == pytest.approx(max(0.0, expected[0]), abs=1e-12)
    assert high[0] == pytest.approx(min(1.0, expected[1]), abs=1e-12)


def test_wilson_published_value_and_edge_cases() -> None:
    # Newcombe (1998), table I, example 81/263: Wilson 0.2553 to 0.3662.
    low, high = wilson([81, 0], [263, 0])
    assert (round(float(low[0]), 4), round(float(high[0]), 4)) == (0.2553, 0.3662)
    assert (low[1], high[1]) == (0.0, 1.0)
    with pytest.raises(ValueError):
        wilson([3], [2])
    with pytest.raises(ValueError):
        wilson([1], [2], confidence=1.0)


def test_poisson_matches_the_classic_table_and_its_tail_equations() -> None:
    low, high = poisson([0, 1, 10], [1, 1, 1])
    assert low[0] == 0.0 and high[0] == pytest.approx(3.689, abs=1e-3)
    assert (low[1], high[1]) == (pytest.approx(0.0253, abs=1e-4), pytest.approx(5.572, abs=1e-3))
    # The exact bounds are where the tails hold 2.5 % each: P(X >= 10 | low) = P(X <= 10 | high) = 0.025.
    assert poisson_distribution.sf(9, low[2]) == pytest.approx(0.025, abs=1e-9)
    assert poisson_distribution.cdf(10, high[2]) == pytest.approx(0.025, abs=1e-9)
    scaled_low, scaled_high = poisson([10], [1000])
    assert (scaled_low[0], scaled_high[0]) == (pytest.approx(low[2] / 1000), pytest.approx(high[2] / 1000))
    with pytest.raises(ValueError):
        poisson([1], [0])


def test_wilson_covers_the_true_rate_at_its_level() -> None:
    rng = np.random.default_rng(2024)
    for p, n in ((0.002, 5000), (0.01, 1000), (0.05, 300), (0.2, 50)):
        hits = rng.binomial(n, p, size=20_000)
        low, high = wilson(hits, np.full(hits.shape, n))
        coverage = float(np.mean((low <= p) & (p <= high)))
        every_k = np.arange(n + 1)
        k_low, k_high = wilson(every_k, np.full(every_k.shape, n))
        # The simulation agrees with the exact coverage, the binomial mass of the counts whose interval
        # holds p; Wilson's stays near its level though it is not exact (it oscillates with p and n).
        exact = float(binom.pmf(every_k, n, p)[(k_low <= p) & (p <= k_high)].sum())
        assert coverage == pytest.approx(exact, abs=0.01)
        assert 0.92 <= coverage <= 0.98, (p, n, coverage)


def test_poisson_interval_covers_at_least_its_level() -> None:
    rng = np.random.default_rng(7)
    for rate, exposure in ((0.0005, 1000), (0.003, 1000), (0.02, 1000)):
        counts = rng.poisson(rate * exposure, size=20_000)
        low, high = poisson(counts, np.full(counts.shape, exposure))
        coverage = float(np.mean((low <= rate) & (rate <= high)))
        assert coverage >= 0.945, (rate, coverage)
