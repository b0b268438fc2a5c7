"""Variable-length rows of 64-bit words (call stacks), hashed, de-duplicated and interned.

A set of rows is held as CSR: one flat array of words and k+1 offsets. Everything here works
on whole sets at once, so that the reader's cost per distinct stack is a few numpy passes (or
one compiled loop with the `fast` extra), never a Python step:

* `csr_hashes`: one 64-bit hash per row, the same from the numba kernel and from numpy;
* `distinct_rows`: which rows are equal, ids in order of first occurrence;
* `StackTable`: the trace's distinct rows and an open-addressing index over their hashes;
  `intern` gives each row of a set its id, adding the rows not yet known.

Equal hashes never make two rows one: every match is confirmed word by word.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from gate.inputs.etl import jit

_GOLD = np.uint64(0x9E3779B97F4A7C15)
_POS = np.uint64(0xD6E8FEB86659FD93)
_MIX1 = np.uint64(0xBF58476D1CE4E5B9)
_MIX2 = np.uint64(0x94D049BB133111EB)
_S30, _S27, _S31 = np.uint64(30), np.uint64(27), np.uint64(31)
_EMPTY = -1
_MIN_SLOTS = 1 << 10


# --- hashing ----------------------------------------------------------------------------------


def _mix(x: np.ndarray) -> np.ndarray:
    """A bijective 64-bit mixer (the splitmix64 finaliser), in place on an array."""
    x ^= x >> _S30
    x *= _MIX1
    x ^= x >> _S27
    x *= _MIX2
    x ^= x >> _S31
    return x


def _hash_kernel(flat: Any, offsets: Any, out: Any) -> None:
    """`csr_hashes` as one loop (numba only); the same arithmetic as the numpy path."""
    for i in range(len(out)):
        lo = offsets[i]
        hi = offsets[i + 1]
        acc = np.uint64(hi - lo) * _GOLD
        for j in range(lo, hi):
            x = flat[j] ^ (np.uint64(j - lo + 1) * _POS)
            x ^= x >> _S30
            x *= _MIX1
            x ^= x >> _S27
            x *= _MIX2
            x ^= x >> _S31
            acc += x
        acc ^= acc >> _S30
        acc *= _MIX1
        acc ^= acc >> _S27
        acc *= _MIX2
        acc ^= acc >> _S31
        out[i] = acc


_hash_rows = jit.kernel(_hash_kernel)


def within_positions(offsets: np.ndarray) -> np.ndarray:
    """For each word of a CSR set, its position inside its row (0 for a row's first word)."""
    lengths = np.diff(offsets)
    total = int(offsets[-1] - offsets[0]) if len(offsets) else 0
    return np.arange(total, dtype=np.int64) - np.repeat(offsets[:-1] - offsets[0], lengths)


def csr_hashes(flat: np.ndarray, offsets: np.ndarray) -> np.ndarray:
    """A 64-bit hash of each row `flat[offsets[i]:offsets[i + 1]]` (uint64 words).

    Every word is mixed with its position in the row, the mixed words are summed (mod 2**64)
    with the row's length and the sum is mixed once more: rows that differ in a word, in the
    order of their words or in length hash differently, barring chance.
    """
    flat = np.ascontiguousarray(flat, dtype=np.uint64)
    offsets = np.ascontiguousarray(offsets, dtype=np.int64)
    k = len(offsets) - 1
    out = np.empty(max(k, 0), dtype=np.uint64)
    if k <= 0:
        return out
    if _hash_rows is not None:
        _hash_rows(flat, offsets, out)
        return out
    with np.errstate(over="ignore"):
        lo, hi = int(offsets[0]), int(offsets[-1])
        pos = within_positions(offsets).view(np.uint64)
        pos += np.uint64(1)
        pos *= _POS
        pos ^= flat[lo:hi]
        words = _mix(pos)
        sums = np.zeros(hi - lo + 1, dtype=np.uint64)
        np.cumsum(words, out=sums[1:])
        del words, pos
        rel = offsets - lo
        out[:] = sums[rel[1:]] - sums[rel[:-1]]
        out += np.diff(offsets).astype(np.uint64) * _GOLD
        return _mix(out)


# --- comparing and de-duplicating -----------------------------------------------------------


def ranges(starts: np.ndarray, lengths: np.ndarray) -> np.ndarray:
    """The concatenated index ranges `starts[i] : starts[i] + lengths[i]` (int64).

    One running sum: each range's first index is the previous range's last plus a jump.
    """
    lengths = np.asarray(lengths, dtype=np.int64)
    starts = np.asarray(starts, dtype=np.int64)
    keep = lengths > 0
    if not keep.all():
        starts, lengths = starts[keep], lengths[keep]
    if len(lengths) == 0:
        return np.zeros(0, dtype=np.int64)
    steps = np.ones(int(lengths.sum()), dtype=np.int64)
    heads = np.cumsum(lengths[:-1])
    steps[0] = starts[0]
    steps[heads] = starts[1:] - (starts[:-1] + lengths[:-1] - 1)
    return np.cumsum(steps, out=steps)


def gather_rows(
    flat: np.ndarray, offsets: np.ndarray, rows: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """The CSR set of `rows` of (flat, offsets), in that order."""
    rows = np.asarray(rows, dtype=np.int64)
    lengths = offsets[rows + 1] - offsets[rows]
    out_offsets = np.zeros(len(rows) + 1, dtype=np.int64)
    np.cumsum(lengths, out=out_offsets[1:])
    return flat[ranges(offsets[rows], lengths)], out_offsets


def rows_equal(
    flat_a: np.ndarray,
    off_a: np.ndarray,
    rows_a: np.ndarray,
    flat_b: np.ndarray,
    off_b: np.ndarray,
    rows_b: np.ndarray,
) -> np.ndarray:
    """Whether row `rows_a[i]` of set a equals row `rows_b[i]` of set b, word by word."""
    len_a = off_a[rows_a + 1] - off_a[rows_a]
    same = len_a == off_b[rows_b + 1] - off_b[rows_b]
    sel = np.flatnonzero(same & (len_a > 0))
    if len(sel):
        n = len_a[sel]
        pos_a = ranges(off_a[rows_a[sel]], n)
        pos_b = ranges(off_b[rows_b[sel]], n)
        differ = flat_a[pos_a] != flat_b[pos_b]
        if differ.any():
            which = np.repeat(np.arange(len(sel)), n)[differ]
            same[sel[which]] = False
    return same


def distinct_rows(
    flat: np.ndarray, offsets: np.ndarray, hashes: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """(first, inverse): the first row of each distinct row value, in row order, and for each
    row the index into `first` of its value.

    Rows are grouped by hash and compared with their group's first row. Rows of a group that
    differ from it (hash collisions) are grouped again among themselves, until every row has
    found its first occurrence: the first remaining row of a group is always one.
    """
    n = len(hashes)
    rep = np.arange(n, dtype=np.int64)
    pending = rep.copy()
    while len(pending):
        h = hashes[pending]
        order = np.argsort(h, kind="stable")
        hs = h[order]
        new = np.ones(len(hs), dtype=bool)
        new[1:] = hs[1:] != hs[:-1]
        cand = np.empty(len(pending), dtype=np.int64)
        cand[order] = pending[order[np.flatnonzero(new)]][np.cumsum(new) - 1]
        check = np.flatnonzero(cand != pending)
        if len(check) == 0:
            break
        rows = pending[check]
        eq = rows_equal(flat, offsets, rows, flat, offsets, cand[check])
        rep[rows[eq]] = cand[check[eq]]
        pending = rows[~eq]
    is_first = rep == np.arange(n)
    first = np.flatnonzero(is_first)
    index_of = np.cumsum(is_first) - 1
    return first, index_of[rep]


# --- the table --------------------------------------------------------------------------------


def _intern_kernel(
    flat: Any,
    offsets: Any,
    hashes: Any,
    store: Any,
    store_off: Any,
    store_hash: Any,
    slots: Any,
    count: Any,
    out: Any,
    start: int,
) -> int:
    """`StackTable.intern` as one loop from row `start` (numba only): probe, confirm word by
    word, append. `count` holds [rows stored, words stored] and is updated. Returns the row it
    stopped at: len(out) when done, earlier when a new row does not fit what is reserved."""
    mask = len(slots) - 1
    n = count[0]
    w = count[1]
    stop = len(out)
    for i in range(start, len(out)):
        h = hashes[i]
        lo = offsets[i]
        length = offsets[i + 1] - lo
        pos = np.int64(h & np.uint64(mask))
        found = -1
        while slots[pos] >= 0:
            s = slots[pos]
            if store_hash[s] == h and store_off[s + 1] - store_off[s] == length:
                b = store_off[s]
                same = True
                for j in range(length):
                    if store[b + j] != flat[lo + j]:
                        same = False
                        break
                if same:
                    found = s
                    break
            pos = (pos + 1) & mask
        if found < 0:
            room = w + length <= len(store) and n + 2 <= len(store_off)
            if not (room and n + 1 <= len(store_hash) and 2 * (n + 1) <= len(slots)):
                stop = i
                break
            found = n
            for j in range(length):
                store[w + j] = flat[lo + j]
            w += length
            store_hash[n] = h
            n += 1
            store_off[n] = w
            slots[pos] = found
        out[i] = found
    count[0] = n
    count[1] = w
    return stop


def _place_kernel(slots: Any, ids: Any, hashes: Any) -> None:
    """Put each id at the first free slot of its probe sequence (numba only)."""
    mask = len(slots) - 1
    for i in range(len(ids)):
        pos = np.int64(hashes[i] & np.uint64(mask))
        while slots[pos] >= 0:
            pos = (pos + 1) & mask
        slots[pos] = ids[i]


_intern_rows = jit.kernel(_intern_kernel)
_place_rows = jit.kernel(_place_kernel)


# How much a full table grows: the part of its room never written costs address space only
# (the pages are never touched), while each copy touches fresh pages for everything stored,
# which the kernel must zero first; with millions of distinct stacks those copies cost more
# than the interning. Four times over means all the copies together cost a third of a copy.
_GROWTH = 4


def _grown(a: np.ndarray, used: int, need: int) -> np.ndarray:
    """`a` itself when it holds `need` items, else a copy of its first `used` items with room
    for at least `_GROWTH` times as many."""
    if need <= len(a):
        return a
    out = np.empty(max(need, _GROWTH * len(a), 16), dtype=a.dtype)
    out[:used] = a[:used]
    return out


class StackTable:
    """The distinct rows (raw stacks: frame addresses, innermost first) and their ids.

    Ids are given in order of first `intern`. Rows live in one growing CSR set; an open
    addressing table (linear probing, at most half full) maps a row's hash to the ids to
    confirm. Memory: the rows' words, and about 40 bytes per row.
    """

    def __init__(self) -> None:
        self._words = np.zeros(0, dtype=np.uint64)
        self._offsets = np.zeros(1, dtype=np.int64)
        self._hashes = np.zeros(0, dtype=np.uint64)
        self._slots = np.full(_MIN_SLOTS, _EMPTY, dtype=np.int64)
        self._n = 0
        self._w = 0

    def __len__(self) -> int:
        return self._n

    @property
    def flat(self) -> np.ndarray:
        """Every stored row's words, row after row (a view)."""
        return self._words[: self._w]

    @property
    def offsets(self) -> np.ndarray:
        """Row i is `flat[offsets[i]:offsets[i + 1]]` (a view)."""
        return self._offsets[: self._n + 1]

    def frames(self, sid: int) -> np.ndarray:
        """The words of row `sid` (a view)."""
        return self._words[self._offsets[sid] : self._offsets[sid + 1]]

    def gather(self, ids: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The CSR set of rows `ids`, in that order."""
        return gather_rows(self.flat, self.offsets, ids)

    def add(self, frames: np.ndarray) -> int:
        """The id of one row, added if new."""
        frames = np.ascontiguousarray(frames, dtype=np.uint64)
        return int(self.intern(frames, np.array([0, len(frames)], dtype=np.int64))[0])

    def intern(
        self, flat: np.ndarray, offsets: np.ndarray, hashes: np.ndarray | None = None
    ) -> np.ndarray:
        """The id of each row of a CSR set (`hashes`: its `csr_hashes`, if known); rows not
        yet in the table are added, in order of first occurrence."""
        offsets = np.ascontiguousarray(offsets, dtype=np.int64)
        k = len(offsets) - 1
        if k <= 0:
            return np.zeros(0, dtype=np.int64)
        lo, hi = int(offsets[0]), int(offsets[-1])
        flat = np.ascontiguousarray(flat[lo:hi], dtype=np.uint64)
        offsets = offsets - lo
        if hashes is None:
            hashes = csr_hashes(flat, offsets)
        hashes = np.ascontiguousarray(hashes, dtype=np.uint64)
        if _intern_rows is not None:
            return self._intern_compiled(flat, offsets, hashes)
        first, inverse = distinct_rows(flat, offsets, hashes)
        ids = self._lookup(flat, offsets, first, hashes[first])
        new = first[ids < 0]
        self._reserve(len(new), int((offsets[new + 1] - offsets[new]).sum()))
        ids[ids < 0] = self._n + np.arange(len(new), dtype=np.int64)
        _place(self._slots, self._n + np.arange(len(new), dtype=np.int64), hashes[new])
        self._append(flat, offsets, new, hashes[new])
        return ids[inverse]

    def _intern_compiled(
        self, flat: np.ndarray, offsets: np.ndarray, hashes: np.ndarray
    ) -> np.ndarray:
        """The kernel's way: it runs until a new row does not fit, the table grows, it goes on."""
        assert _intern_rows is not None
        k = len(hashes)
        out = np.empty(k, dtype=np.int64)
        # Room for every word of the set at once (untouched room costs no memory): the words
        # are most of the table, and growing them row by row would copy them again and again.
        self._words = _grown(self._words, self._w, self._w + len(flat))
        count = np.array([self._n, self._w], dtype=np.int64)
        at = 0
        while True:
            at = _intern_rows(
                flat, offsets, hashes, self._words, self._offsets, self._hashes, self._slots,
                count, out, at,
            )  # fmt: skip
            self._n, self._w = int(count[0]), int(count[1])
            if at >= k:
                return out
            self._reserve(1, int(offsets[at + 1] - offsets[at]))

    def _reserve(self, rows: int, words: int) -> None:
        """Room for `rows` more rows of `words` words in all, the index at most half full."""
        self._words = _grown(self._words, self._w, self._w + words)
        self._offsets = _grown(self._offsets, self._n + 1, self._n + rows + 1)
        self._hashes = _grown(self._hashes, self._n, self._n + rows)
        size = len(self._slots)
        while 2 * (self._n + rows) > size:
            size *= 2
        if size != len(self._slots):
            self._slots = np.full(size, _EMPTY, dtype=np.int64)
            _place(self._slots, np.arange(self._n, dtype=np.int64), self._hashes[: self._n])

    def _append(
        self, flat: np.ndarray, offsets: np.ndarray, rows: np.ndarray, hashes: np.ndarray
    ) -> None:
        words, row_offsets = gather_rows(flat, offsets, rows)
        n, w = self._n, self._w
        self._words[w : w + len(words)] = words
        self._offsets[n + 1 : n + 1 + len(rows)] = w + row_offsets[1:]
        self._hashes[n : n + len(rows)] = hashes
        self._n, self._w = n + len(rows), w + len(words)

    def _lookup(
        self, flat: np.ndarray, offsets: np.ndarray, rows: np.ndarray, hashes: np.ndarray
    ) -> np.ndarray:
        """The id of each of `rows` already in the table, else -1: probe all rows at once,
        one slot further per round, until each meets its row or an empty slot."""
        out = np.full(len(rows), -1, dtype=np.int64)
        if self._n == 0:
            return out
        mask = len(self._slots) - 1
        pos = (hashes & np.uint64(mask)).astype(np.int64)
        pending = np.arange(len(rows), dtype=np.int64)
        while len(pending):
            s = self._slots[pos[pending]]
            go_on = s >= 0
            cand = np.flatnonzero(go_on)
            cand = cand[self._hashes[s[cand]] == hashes[pending[cand]]]
            if len(cand):
                eq = rows_equal(
                    flat, offsets, rows[pending[cand]], self.flat, self.offsets, s[cand]
                )
                out[pending[cand[eq]]] = s[cand[eq]]
                go_on[cand[eq]] = False
            pending = pending[go_on]
            pos[pending] = (pos[pending] + 1) & mask
        return out


def _place(slots: np.ndarray, ids: np.ndarray, hashes: np.ndarray) -> None:
    """Put each id at the first free slot of its probe sequence from its hash.

    numpy: all ids try their slot at once; of those meeting at a free slot one takes it, the
    others try the next slot in the next round.
    """
    if len(ids) == 0:
        return
    if _place_rows is not None:
        _place_rows(slots, ids, hashes)
        return
    mask = len(slots) - 1
    pos = (hashes & np.uint64(mask)).astype(np.int64)
    pending = np.arange(len(ids), dtype=np.int64)
    while len(pending):
        p = pos[pending]
        free = np.flatnonzero(slots[p] < 0)
        # Of several ids written to one slot one stays; which one does not matter (a lookup
        # finds an id anywhere on its probe sequence before the first empty slot).
        slots[p[free]] = ids[pending[free]]
        won = free[slots[p[free]] == ids[pending[free]]]
        left = np.ones(len(pending), dtype=bool)
        left[won] = False
        pending = pending[left]
        pos[pending] = (pos[pending] + 1) & mask
