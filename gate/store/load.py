"""Loads inputs of any supported kind into the store, choosing the reader by what the file is."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from gate.errors import InputError
from gate.store.normalized import MANIFEST, import_normalized, is_normalized_dir
from gate.store.store import Store
from gate.tables.chunks import Progress

ETL_SUFFIXES = {".etl"}
SCENARIO_SUFFIXES = {".yaml", ".yml"}


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


def load_input(store: Store, path: Path, progress: Progress | None = None) -> list[int]:
    """Load one input; returns the trace ids it added. `progress` follows long .etl reads."""
    kind = input_kind(path)
    if kind == "normalized":
        return import_normalized(store, path)
    if kind == "etl":
        from gate.inputs.etl.reader import read_etl

        return [store.add_trace(read_etl(path, progress=progress))]
    if kind == "scenario":
        from gate.inputs.scenario import generate, load_scenario, scenario_chunks

        return [store.add_trace(scenario_chunks(generate(load_scenario(path))))]
    from gate.inputs.wpa_csv import read_wpa_csv, source_name, wpa_csv_group

    # The exports in one folder are one trace (docs/wpa.md); naming a second file of a group
    # already loaded into this store adds nothing.
    group = wpa_csv_group(path)
    loaded = store.con.execute(
        "SELECT count(*) FROM traces WHERE source_format = 'wpa-csv' AND source_path = ?",
        [source_name(group)],
    ).fetchall()[0][0]
    if loaded:
        return []
    return [store.add_trace(read_wpa_csv(group))]


def load_inputs(
    store: Store, paths: list[Path], progress: Callable[[Path], Progress | None] | None = None
) -> list[int]:
    if not paths:
        raise InputError("no input given: name one or more .etl traces or normalized folders")
    ids: list[int] = []
    for path in paths:
        ids.extend(load_input(store, path, progress(path) if progress else None))
    return ids
