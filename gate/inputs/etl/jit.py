"""numba compilation of the reader's loop kernels (a default dependency where numba has
wheels, see pyproject.toml; the `fast` extra asks for it anywhere).

A kernel is a plain Python function over arrays that numba compiles unchanged. `kernel(fn)`
gives the compiled function, or None when numba is not installed, fails to set itself up, or
`GATE_NO_NUMBA` is set; callers then take their numpy or pure-Python path. Compiled kernels
release the GIL, so the reader's worker threads run them in parallel, and are cached on disk
next to the package so that later runs skip compilation.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

_njit: Any = None
try:  # pragma: no cover - depends on numba being installed
    if os.environ.get("GATE_NO_NUMBA"):
        raise ImportError("numba disabled by GATE_NO_NUMBA")
    import numba

    _njit = numba.njit(cache=True, nogil=True)
except Exception:  # ImportError, or numba failing to set itself up
    _njit = None

AVAILABLE = _njit is not None


def kernel(fn: Callable[..., Any]) -> Callable[..., Any] | None:
    """`fn` compiled by numba, or None without numba."""
    if _njit is None:
        return None
    try:  # pragma: no cover - depends on numba being installed
        return _njit(fn)
    except Exception:
        return None
