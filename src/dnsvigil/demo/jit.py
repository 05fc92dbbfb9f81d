"""Typed decorators that compile the demo world's byte-writing kernels with numba, and their hash.

numba's disk cache keys a kernel on its own file only: after editing a module whose kernels others call
(rdata.py, sections.py, jit.py), delete `src/dnsvigil/demo/__pycache__/*.nbi` so callers are rebuilt.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeAlias, TypeVar, cast

import numba

_Function = TypeVar("_Function", bound=Callable[..., Any])

# One row of a structured array as compiled kernels read it (`plan.qtype`): numpy's stubs give `np.void`
# no fields, so kernels annotate records with this alias.
Record: TypeAlias = Any


def compiled(function: _Function) -> _Function:
    """Compile `function` to machine code once, caching it beside the module for the next run."""
    return cast(_Function, numba.njit(cache=True, nogil=True)(function))


def compiled_as(signature: str) -> Callable[[_Function], _Function]:
    """Compile at import for exactly `signature` (cached like `compiled`).

    Callers' arguments are converted to it. Without a fixed signature numba compiles a helper again for
    every constant a caller passes it (it specialises on literal arguments), which multiplies compile time.
    """

    def decorate(function: _Function) -> _Function:
        return cast(_Function, numba.njit(signature, cache=True, nogil=True)(function))

    return decorate


@compiled_as("int64(int64)")
def mix32(value: int) -> int:
    """A 32-bit integer hash (xor-shift-multiply); keeps every intermediate inside int64."""
    value &= 0xFFFFFFFF
    value = ((value ^ (value >> 16)) * 0x45D9F3B) & 0xFFFFFFFF
    value = ((value ^ (value >> 16)) * 0x45D9F3B) & 0xFFFFFFFF
    return value ^ (value >> 16)


@compiled_as("int64(int64, int64)")
def stream32(seed: int, index: int) -> int:
    """The `index`-th pseudo-random 32-bit value of the stream named by `seed`."""
    return mix32(mix32(seed) ^ ((index * 0x27D4EB2F + 0x165667B1) & 0xFFFFFFFF))
