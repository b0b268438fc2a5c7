"""Stable sorting of integer keys, fast when the keys' spread leaves room for an index.

numpy sorts values several times faster than it argsorts them (a vectorized sort of 64-bit
integers against a merge sort of indices). When a key's spread, less the low zero bits all
keys share, fits in 64 bits beside the row index, the index is packed under the key and the
packed values are sorted: equal keys come out in row order, as a stable sort gives them.
"""

from __future__ import annotations

import numpy as np


def stable_argsort(key: np.ndarray) -> np.ndarray:
    """Indices that sort the integer array `key`, equal keys in index order (int64)."""
    n = len(key)
    if n < 2:
        return np.arange(n, dtype=np.int64)
    found = _packed(key)
    if found is None:
        return np.argsort(key, kind="stable").astype(np.int64, copy=False)
    packed, index_bits = found
    packed.sort()
    packed &= np.uint64((1 << index_bits) - 1)
    return packed.view(np.int64)


def _packed(key: np.ndarray) -> tuple[np.ndarray, int] | None:
    """(key - min) >> common zero bits, shifted over the row index; None when it does not fit."""
    n = len(key)
    index_bits = max(int(n - 1).bit_length(), 1)
    low = key.min()
    if key.dtype.kind == "i":  # the difference wraps to the distance, which fits 64 bits
        spread = (key.astype(np.int64) - np.int64(low)).view(np.uint64)
    else:
        spread = key.astype(np.uint64) - np.uint64(low)
    common = int(np.bitwise_or.reduce(spread))
    shift = (common & -common).bit_length() - 1 if common else 0
    if (int(spread.max()) >> shift).bit_length() + index_bits > 64:
        return None
    spread >>= np.uint64(shift)
    spread <<= np.uint64(index_bits)
    spread |= np.arange(n, dtype=np.uint64)
    return spread, index_bits


def unique_first_inverse(values: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """`np.unique(values, return_index=True, return_inverse=True)`, by `stable_argsort`."""
    order = stable_argsort(values)
    v = values[order]
    new = np.ones(len(v), dtype=bool)
    new[1:] = v[1:] != v[:-1]
    starts = np.flatnonzero(new)
    inverse = np.empty(len(v), dtype=np.int64)
    inverse[order] = np.cumsum(new) - 1
    return v[starts], order[starts], inverse


def sort_by_then(primary: np.ndarray, secondary: np.ndarray) -> np.ndarray:
    """`np.lexsort((secondary, primary))`: one packed sort by `primary`, and a lexsort of only
    the rows whose primary key another row shares."""
    order = stable_argsort(primary)
    p = primary[order]
    tie = p[1:] == p[:-1]
    if tie.any():
        involved = np.flatnonzero(np.concatenate([tie, [False]]) | np.concatenate([[False], tie]))
        rows = order[involved]
        order[involved] = rows[np.lexsort((secondary[rows], primary[rows]))]
    return order
