"""Distinct counts that merge: HyperLogLog registers as SQL rows.

A live watcher counts the newest messages once and adds them to what it counted before
(`watch.window_rows`), so a detector's counts must merge. Sums do; a distinct count does not, and keeping the
distinct values themselves is unbounded under a flood of never-repeated names. So a distinct count is kept as
HyperLogLog registers (Flajolet, Fusy, Gandouet and Meunier, 2007): each value's 64-bit hash picks one of
`REGISTERS` registers by its top bits and offers the position of the first 1-bit among its low 32 bits; a
register keeps the largest position offered. Registers of two sets merge by taking the larger of each pair,
so counting in parts gives exactly the registers of counting at once. A subject keeps at most `REGISTERS`
rows (one per register it touched); the estimate's standard error is 1.04 / sqrt(`REGISTERS`), about 0.8 %,
and below 2.5 x `REGISTERS` values it comes from the share of untouched registers (linear counting).

The sums are exact integers (each register contributes 2^(33 - position)), so the estimate does not depend
on the order DuckDB adds them in: counting in parts and at once give the same number.
"""

from __future__ import annotations

REGISTER_BITS = 14
REGISTERS = 1 << REGISTER_BITS
_RANK_BITS = 32
_ALPHA = 0.7213 / (1 + 1.079 / REGISTERS)


def register_sql(hashed: str) -> str:
    """SQL for the register a value's hash (`hash(value)`, UBIGINT) picks: its top bits."""
    return f"({hashed} >> {64 - REGISTER_BITS})::USMALLINT"


def rank_sql(hashed: str) -> str:
    """SQL for the position (1..33) of the first 1-bit among a hash's low 32 bits, from the top.

    `floor(log2(x))` is exact for integers below 2^32: a double tells 2^k - 1 from 2^k there."""
    low = f"({hashed} & {(1 << _RANK_BITS) - 1})"
    position = f"{_RANK_BITS} - floor(log2({low}))::INTEGER"
    return f"(CASE WHEN {low} = 0 THEN {_RANK_BITS + 1} ELSE {position} END)::UTINYINT"


def estimate_sql(registers: str, keys: str) -> str:
    """SQL giving `keys` and `distinct_estimate` (BIGINT) from a relation of `keys`, `register` and `rank`
    (the largest rank per register; several rows of one register are allowed and merged here)."""
    scale = 1 << (_RANK_BITS + 1)
    raw = f"{_ALPHA * REGISTERS * REGISTERS * scale!r} / (weights + (({REGISTERS} - touched) * {scale}))"
    return f"""
SELECT {keys}, round(CASE WHEN {raw} <= {2.5 * REGISTERS} AND touched < {REGISTERS}
                          THEN {REGISTERS} * ln({REGISTERS}::DOUBLE / ({REGISTERS} - touched))
                          ELSE {raw} END)::BIGINT AS distinct_estimate
FROM (SELECT {keys}, count(*) AS touched, sum(1::BIGINT << ({_RANK_BITS + 1} - rank)) AS weights
      FROM (SELECT {keys}, register, max(rank) AS rank FROM {registers} GROUP BY ALL) GROUP BY ALL)
"""


def distinct_sql(value: str, relation: str) -> str:
    """A scalar SQL subquery: the estimated distinct non-NULL `value`s of `relation`, 0 when none (the
    same estimate as the counts that merge, for evidence read in one go)."""
    hashed = f"hash({value})"
    registers = (
        f"(SELECT 0 AS whole, {register_sql(hashed)} AS register, {rank_sql(hashed)} AS rank"
        f" FROM {relation} WHERE {value} IS NOT NULL)"
    )
    return f"coalesce((SELECT distinct_estimate FROM ({estimate_sql(registers, 'whole')})), 0)"
