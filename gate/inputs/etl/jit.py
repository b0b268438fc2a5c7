"""numba compilation of the reader's loop kernels (a default dependency where numba has
wheels, see pyproject.toml; the `fast` extra asks for it anywhere).

A kernel is a plain Python function over arrays that numba compiles unchanged. `kernel(fn)`
gives the compiled function, or None when numba is not installed, fails to set itself up, or
`GATE_NO_NUMBA` is set; callers then take their numpy or pure-Python path. Compiled kernels
release the GIL, so the reader's worker threads run them in parallel, and are cached on disk
so that later runs skip compilation.

The cache lives in the user's cache folder (`NUMBA_CACHE_DIR` when set), never beside the
package: numba's default writes `.nbi`/`.nbc` files into site-packages, which may be read-only,
and which pip does not remove on uninstall, so a later editable install of the same package
finds a stale `gate/` folder of cache files that hides it.
"""

from __future__ import annotations

import os
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any


def cache_folder() -> Path:
    """Where compiled kernels are kept: the platform's per-user cache folder, or a per-user
    folder under the temporary directory when that cannot be written."""
    if sys.platform == "win32":
        base = os.environ.get("LOCALAPPDATA") or str(Path.home() / "AppData" / "Local")
    elif sys.platform == "darwin":
        base = str(Path.home() / "Library" / "Caches")
    else:
        base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    user = getattr(os, "getuid", lambda: "user")()
    for folder in (Path(base), Path(tempfile.gettempdir()) / f"gate-{user}"):
        target = folder / "driver-memory-gate" / "numba"
        try:
            target.mkdir(parents=True, exist_ok=True)
        except OSError:
            continue
        if os.access(target, os.W_OK):
            return target
    return Path(tempfile.mkdtemp(prefix="gate-numba-"))


_njit: Any = None
try:  # pragma: no cover - depends on numba being installed
    if os.environ.get("GATE_NO_NUMBA"):
        raise ImportError("numba disabled by GATE_NO_NUMBA")
    if "numba" not in sys.modules:  # numba reads its settings once, when first imported
        os.environ.setdefault("NUMBA_CACHE_DIR", str(cache_folder()))
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
