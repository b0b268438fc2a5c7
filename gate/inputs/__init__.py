"""Inputs: readers that turn trace files into the column chunks of `gate.tables`.

Readers yield data and never print. Every reader produces the same chunk tables
(`gate.tables.chunks`), so the store and everything above it do not know which file format
the data came from. `input_kind` tells what a path is; `plan_inputs` which files make each
trace; `read_trace` reads one planned trace. A normalized folder (`gate.tables.normalized`)
is already in the store's own shape: the store loads it directly.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
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


@dataclass(frozen=True)
class PlannedInput:
    """One trace (or normalized folder) to read: its reader kind and its files, which are
    several only for WPA CSV exports (a Pool and a Resident Set export)."""

    kind: str
    paths: tuple[Path, ...]

    @property
    def path(self) -> Path:
        return self.paths[0]

    @property
    def source(self) -> str:
        """The name the store knows the trace by (for CSV exports: all its files)."""
        if self.kind == "wpa-csv":
            from gate.inputs.wpa import source_name

            return source_name(list(self.paths))
        return str(self.path)


def plan_inputs(paths: list[Path]) -> list[PlannedInput]:
    """What the named inputs are, in the order named: one entry per trace or normalized
    folder. WPA CSV files and folders are grouped into traces together (`wpa_csv_traces`)."""
    kinds = [(p, input_kind(p)) for p in paths]
    csv = [p for p, k in kinds if k == "wpa-csv"]
    groups: dict[Path, list[Path]] = {}
    if csv:
        from gate.inputs.wpa import wpa_csv_traces

        groups = wpa_csv_traces(csv)
    out: list[PlannedInput] = []
    for path, kind in kinds:
        files = tuple(groups[path]) if kind == "wpa-csv" else (path,)
        planned = PlannedInput(kind, files)
        # CSV exports named twice (a file and its folder) are one trace, read once; other
        # inputs are taken as named (the same .etl twice is two boot iterations).
        if kind != "wpa-csv" or planned not in out:
            out.append(planned)
    return out


def read_trace(
    planned: PlannedInput, progress: Progress | None = None
) -> Iterator[Chunk | TraceInfo]:
    """The chunks of one planned trace of a reader kind ('etl', 'scenario', 'wpa-csv').

    `progress` follows long `.etl` reads.
    """
    path = planned.path
    if planned.kind == "etl":
        from gate.inputs.etl.reader import read_etl

        return read_etl(path, progress=progress)
    if planned.kind == "scenario":
        from gate.inputs.scenario import generate, load_scenario, scenario_chunks

        return scenario_chunks(generate(load_scenario(path)))
    if planned.kind == "wpa-csv":
        from gate.inputs.wpa import read_wpa_csv

        return read_wpa_csv(list(planned.paths))
    raise ValueError(f"{path}: {planned.kind!r} is not a reader kind")


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
