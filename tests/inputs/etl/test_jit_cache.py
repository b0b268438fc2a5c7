"""Compiled kernels are cached in the user's cache folder, never beside the package: files
numba leaves in site-packages outlive an uninstall and make a stale `gate/` folder there."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from gate.inputs.etl import jit

pytestmark = pytest.mark.skipif(not jit.AVAILABLE, reason="numba is not installed here")

PROBE = textwrap.dedent(
    """
    import os, sys
    sys.path.insert(0, sys.argv[1])
    import probe_kernels
    print(probe_kernels.twice(21))
    print(os.environ["NUMBA_CACHE_DIR"])
    """
)
MODULE = textwrap.dedent(
    """
    from gate.inputs.etl.jit import kernel

    def _twice(x):
        return 2 * x

    twice = kernel(_twice)
    """
)


def _run(tmp_path: Path, **env: str) -> list[str]:
    code = tmp_path / "code"
    code.mkdir(exist_ok=True)
    (code / "probe_kernels.py").write_text(MODULE, encoding="utf-8")
    base = {k: v for k, v in os.environ.items() if k not in ("NUMBA_CACHE_DIR", "GATE_NO_NUMBA")}
    done = subprocess.run(
        [sys.executable, "-c", PROBE, str(code)],
        env={**base, **env},
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    return done.stdout.split()


def _cache_files(folder: Path) -> list[Path]:
    return [p for p in folder.rglob("*") if p.suffix in (".nbi", ".nbc")]


def test_kernels_are_cached_in_the_users_cache_folder(tmp_path: Path) -> None:
    cache = tmp_path / "xdg-cache"
    result, folder = _run(tmp_path, XDG_CACHE_HOME=str(cache), HOME=str(tmp_path))
    assert result == "42"
    expected = (
        cache / "driver-memory-gate" / "numba"
        if sys.platform not in ("win32", "darwin")
        else Path(folder)
    )
    assert Path(folder) == expected
    assert _cache_files(Path(folder)), "the kernel was compiled but not cached"
    assert not _cache_files(tmp_path / "code"), "numba wrote its cache beside the module"


def test_a_cache_folder_the_user_chose_is_kept(tmp_path: Path) -> None:
    chosen = tmp_path / "chosen"
    _, folder = _run(tmp_path, NUMBA_CACHE_DIR=str(chosen))
    assert Path(folder) == chosen
    assert _cache_files(chosen)
