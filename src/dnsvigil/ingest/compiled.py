"""How the ingest kernels are compiled: numba, cached on disk, GIL released, without reference counting.

`nogil=True` lets a kernel run while another thread (the Parquet writer, the file hash) holds the GIL, so
ingest uses every core. `_nrt=False` (numba's own string kernels use it) leaves out reference counting:
these kernels allocate nothing, and the atomic counts numba puts around every array handed between
functions cost more than the work done on a packet or a message.

Kernels called from Python are `compiled`; the helpers they call are `inlined` into them by numba itself:
LLVM does not inline one numba function into another, and a call that hands over a tuple of a dozen arrays
costs more than what most helpers do (inlining made frame decoding 2.5 times faster).

numba's disk cache keys a kernel on its own file only: after editing a helper that kernels of other files
inline, delete `src/dnsvigil/ingest/__pycache__/*.nbi` so those kernels are built anew.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar, cast

import numba

_Function = TypeVar("_Function", bound=Callable[..., Any])
_OPTIONS: dict[str, Any] = {"cache": True, "nogil": True, "_nrt": False}


def compiled(function: _Function) -> _Function:
    """`function` as a cached, GIL-free numba kernel that allocates nothing."""
    return cast(_Function, numba.njit(**_OPTIONS)(function))


def inlined(function: _Function) -> _Function:
    """`function` as a helper of kernels, compiled into each kernel that calls it."""
    return cast(_Function, numba.njit(inline="always", **_OPTIONS)(function))
