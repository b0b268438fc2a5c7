"""Inputs: readers that turn trace files into the column chunks of `gate.tables`.

Readers yield data and never print. Every reader produces the same chunk tables
(`gate.tables.chunks`), so the store and everything above it do not know which file format
the data came from. `input_kind` tells what a path is; `read_trace` reads one trace of the
reader kinds. A normalized folder (`gate.tables.normalized`) is already in the store's own
shape: the store loads it directly.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from gate.errors import InputError
from gate.tables.chunks import Chunk, Progress, TraceInfo
from gate.tables.normalized import MANIFEST, is_normalized_dir

ETL_SUFFIXES = {".etl"}
SCENARIO_SUFFIXES = {".yaml", ".yml"}
# What each kind of input is, for `--help` texts and messages.
KINDS = {
    "etl": ".etl trace",
    "wpa-csv": "WPA CSV export (a folder, or a Pool or Resident Set .csv)",
    "normalized": "gate normalized folder (written by 'gate ingest')",
    "scenario": "scenario .yaml (a synthetic trace)",
}


def input_kind(path: Path) -> str:
    """'normalized', 'etl', 'scenario' or 'wpa-csv'; raises InputError for anything else."""
    if not path.exists():
        raise InputError(f"{path}: no such file or folder")
    if path.is_dir():
        if is_normalized_dir(path):
            return "normalized"
        if any(p.suffix.lower() == ".csv" for p in path.iterdir()):
            return "wpa-csv"
        raise InputError(
            f"{path}: a folder, but not a gate normalized folder (no {MANIFEST}) and holds no "
            "WPA CSV exports"
        )
    suffix = path.suffix.lower()
    if suffix in ETL_SUFFIXES:
        return "etl"
    if suffix in SCENARIO_SUFFIXES:
        return "scenario"
    if suffix == ".csv":
        return "wpa-csv"
    raise InputError(
        f"{path}: unknown input kind '{suffix or path.name}'; expected an .etl trace, a gate "
        "normalized folder, WPA CSV exports or a scenario .yaml"
    )


def wpa_csv_trace(path: Path) -> tuple[list[Path], str]:
    """The exports that make up the trace `path` belongs to, and the trace's source name."""
    from gate.inputs.wpa import source_name, wpa_csv_group

    group = wpa_csv_group(path)
    return group, source_name(group)


def read_trace(
    path: Path, kind: str, progress: Progress | None = None
) -> Iterator[Chunk | TraceInfo]:
    """The chunks of the one trace at `path`, of a reader kind ('etl', 'scenario', 'wpa-csv').

    `progress` follows long `.etl` reads.
    """
    if kind == "etl":
        from gate.inputs.etl.reader import read_etl

        return read_etl(path, progress=progress)
    if kind == "scenario":
        from gate.inputs.scenario import generate, load_scenario, scenario_chunks

        return scenario_chunks(generate(load_scenario(path)))
    if kind == "wpa-csv":
        from gate.inputs.wpa import read_wpa_csv

        return read_wpa_csv(wpa_csv_trace(path)[0])
    raise ValueError(f"{path}: {kind!r} is not a reader kind")


def stop_reading() -> None:
    """The process is stopping: reads in flight on worker threads end at their next buffer
    instead of finishing their batch."""
    from gate.inputs.etl.container import stop_reads

    stop_reads()


def slow_to_decompress(path: Path, min_bytes: int) -> bool:
    """Whether `path` is a compressed `.etl` of at least `min_bytes` that only the pure-Python
    XPRESS decoder is there to decompress (no `fast` extra, not Windows)."""
    from gate.inputs.etl import xpress
    from gate.inputs.etl.container import open_etl

    if xpress.available_backends() != ["python"]:
        return False
    try:
        if path.suffix.lower() not in ETL_SUFFIXES or path.stat().st_size < min_bytes:
            return False
        with open_etl(path) as etl:
            return etl.header.compressed
    except (OSError, InputError):
        return False  # the read itself reports what is wrong
