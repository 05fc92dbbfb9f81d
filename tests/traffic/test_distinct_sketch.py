"""HyperLogLog registers as SQL rows: estimates close to the truth, and counting in parts merges exactly."""

from __future__ import annotations

import duckdb
import pytest

from dnsvigil.traffic.distinct_sketch import distinct_sql, estimate_sql, rank_sql, register_sql


def _registers(values: str) -> str:
    """Register rows (key 1) of the values a SQL relation `v` gives."""
    hashed = "hash(v)"
    return f"(SELECT 1 AS k, {register_sql(hashed)} AS register, {rank_sql(hashed)} AS rank FROM {values})"


def _estimate(connection: duckdb.DuckDBPyConnection, registers: str) -> int:
    ((key, estimate),) = connection.sql(estimate_sql(registers, "k")).fetchall()
    assert key == 1
    return int(estimate)


@pytest.mark.parametrize("distinct", [1, 7, 50, 900, 20_000, 300_000])
def test_the_estimate_is_within_a_few_standard_errors(distinct: int) -> None:
    connection = duckdb.connect()
    values = f"(SELECT 'label' || (i % {distinct})::VARCHAR AS v FROM range({2 * distinct}) t(i))"
    estimate = _estimate(connection, _registers(values))
    if distinct <= 50:
        assert estimate == distinct  # few values: nearly every register untouched, counted exactly
    else:
        assert abs(estimate - distinct) <= 0.03 * distinct  # 0.8 % standard error, here within ~4 of them


def test_parts_merge_to_the_estimate_of_the_whole() -> None:
    connection = duckdb.connect()
    first = "(SELECT 'x' || i::VARCHAR AS v FROM range(0, 60000) t(i))"
    second = "(SELECT 'x' || i::VARCHAR AS v FROM range(40000, 100000) t(i))"  # overlapping
    whole = "(SELECT 'x' || i::VARCHAR AS v FROM range(0, 100000) t(i))"
    merged = f"({_registers(first)} UNION ALL {_registers(second)})"
    assert _estimate(connection, merged) == _estimate(connection, _registers(whole))
    assert _estimate(connection, merged) != _estimate(connection, _registers(first))


def test_rank_counts_leading_zeros_of_the_low_32_bits() -> None:
    connection = duckdb.connect()
    cases = {0: 33, 1: 32, 2: 31, 3: 31, (1 << 31) - 1: 2, 1 << 31: 1, (1 << 32) - 1: 1, 1 << 40: 33}
    for value, rank in cases.items():
        ((got,),) = connection.sql(f"SELECT {rank_sql(f'{value}::UBIGINT')}").fetchall()
        assert got == rank, value
    ((register,),) = connection.sql(f"SELECT {register_sql(f'{(1 << 64) - 1}::UBIGINT')}").fetchall()
    assert register == (1 << 14) - 1


def test_distinct_sql_skips_nulls_and_gives_zero_for_nothing() -> None:
    connection = duckdb.connect()
    relation = "(SELECT CASE WHEN i < 20 THEN 'n' || (i % 6)::VARCHAR END AS v FROM range(30) t(i))"
    empty = f"(SELECT * FROM {relation} WHERE false)"
    ((some, none),) = connection.sql(
        f"SELECT {distinct_sql('v', relation)}, {distinct_sql('v', empty)}"
    ).fetchall()
    assert (some, none) == (6, 0)  # ten NULLs are not a value
