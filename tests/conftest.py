"""Shared fixtures: paths to the repository, the bundled sample and the shared corpus."""

from __future__ import annotations

from pathlib import Path

import pytest
from scenario_kit import CORPUS


@pytest.fixture
def corpus_dir() -> Path:
    if not CORPUS.is_dir():
        pytest.skip(f"the shared corpus is not at {CORPUS} (only developers' machines have it)")
    return CORPUS
