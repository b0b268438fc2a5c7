"""Stable sorting helpers against numpy's own stable sorts."""

from __future__ import annotations

import numpy as np
import pytest

from gate.tables.order import sort_by_then, stable_argsort, unique_first_inverse

KEYS = {
    "small ints": lambda rng, n: rng.integers(0, 9, n),
    "negative ints": lambda rng, n: rng.integers(-(2**62), 2**62, n) // 2**40 * 2**40,
    "aligned addresses": lambda rng, n: (
        np.uint64(0xFFFF_A000_0000_0000) + (rng.integers(0, 50, n) * 16).astype(np.uint64)
    ),
    "full 64-bit spread": lambda rng, n: rng.choice(
        np.array([0, 3, 2**63, 2**64 - 1], dtype=np.uint64), n
    ),
    "int64 extremes": lambda rng, n: rng.choice(
        np.array([-(2**63), -1, 0, 2**63 - 1], dtype=np.int64), n
    ),
}


@pytest.mark.parametrize("name", list(KEYS))
def test_stable_argsort_is_numpys_stable_argsort(name: str) -> None:
    rng = np.random.default_rng(3)
    for n in (0, 1, 2, 7, 300, 5000):
        key = KEYS[name](rng, n)
        got = stable_argsort(key)
        assert got.dtype == np.int64
        assert got.tolist() == np.argsort(key, kind="stable").tolist()


@pytest.mark.parametrize("name", list(KEYS))
def test_unique_first_inverse_is_numpys_unique(name: str) -> None:
    rng = np.random.default_rng(4)
    for n in (1, 2, 50, 4000):
        values = KEYS[name](rng, n)
        got = unique_first_inverse(values)
        want = np.unique(values, return_index=True, return_inverse=True)
        for g, w in zip(got, want, strict=True):
            assert g.tolist() == w.reshape(-1).tolist()


def test_sort_by_then_is_lexsort() -> None:
    rng = np.random.default_rng(5)
    for n in (0, 1, 2, 10, 1000):
        primary = rng.integers(0, 30, n) * 1_000_003 + 5_000_000
        secondary = rng.permutation(n).astype(np.uint64) << np.uint64(40)
        assert (
            sort_by_then(primary, secondary).tolist() == np.lexsort((secondary, primary)).tolist()
        )
