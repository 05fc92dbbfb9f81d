"""The median taken in Python equals the engine's `quantile_cont(x, 0.5)`, to the bit."""

from __future__ import annotations

import duckdb
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dnsvigil.traffic.detection import continuous_median

SHARES = st.lists(st.floats(min_value=0.0, max_value=1.0, allow_nan=False), min_size=1, max_size=40)


@settings(max_examples=200, deadline=None)
@given(values=SHARES)
def test_the_median_is_the_engines_to_the_bit(values: list[float]) -> None:
    with duckdb.connect() as connection:
        (engine,) = connection.execute(
            "SELECT quantile_cont(v, 0.5) FROM (SELECT unnest(?::DOUBLE[]) AS v)", [values]
        ).fetchone()
    assert continuous_median(values) == engine


def test_small_cases_and_no_values() -> None:
    assert continuous_median([3.0]) == 3.0
    assert continuous_median([0.4, 0.1]) == pytest.approx(0.25)
    assert continuous_median([5, 1, 3]) == 3.0
    with pytest.raises(ValueError, match="no values"):
        continuous_median([])
