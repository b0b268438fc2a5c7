"""The n-th input of a campaign: a seed mutated by a generator seeded with (seed, kind, n), so
that any input can be made again from its three numbers (a reproducer names them)."""

from __future__ import annotations

import random

from .mutate import mutate
from .seeds import Case, seeds


def make_case(kind: str, seed: int, index: int) -> Case:
    """Input `index` of `kind` for campaign `seed`; the first few are the unmutated seeds."""
    bases = seeds(kind)
    if index < len(bases):
        return bases[index]
    rng = random.Random(f"{seed}:{kind}:{index}")
    return mutate(rng, rng.choice(bases))
