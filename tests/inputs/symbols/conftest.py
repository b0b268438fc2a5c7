"""Fixtures for the symbol tests: the corpus PDB, our own PDB, the backends this system runs."""

from __future__ import annotations

from pathlib import Path

import pytest
from pdb_kit import CRASH_PDB, GATEFIX_PDB

from gate.inputs.symbols import available_backends


@pytest.fixture
def crash_pdb() -> Path:
    if not CRASH_PDB.is_file():
        pytest.skip(f"the shared corpus PDB is not at {CRASH_PDB} (only developers have it)")
    return CRASH_PDB


@pytest.fixture
def gatefix_pdb() -> Path:
    """The repository's own PDB: never skipped, since it is part of the checkout."""
    assert GATEFIX_PDB.is_file(), f"{GATEFIX_PDB} is missing from the checkout"
    return GATEFIX_PDB


@pytest.fixture(params=["symbolic", "dbghelp"])
def backend(request: pytest.FixtureRequest) -> str:
    """Each backend that runs on this system; the same tests run for both."""
    if request.param not in available_backends():
        where = "runs on Windows only" if request.param == "dbghelp" else "is not installed"
        pytest.skip(f"the {request.param} PDB reader {where}")
    return request.param
