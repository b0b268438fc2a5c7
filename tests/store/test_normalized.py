"""The normalized folder: round trips, several traces, and every way a folder can be bad."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from scenario_kit import alloc, free, load, scenario

from gate.errors import InputError, NormalizedFormatError, OutputError
from gate.inputs import input_kind
from gate.pipeline import load_inputs
from gate.sql import ModelConfig, build_model
from gate.store import Store
from gate.store.normalized import export_normalized, import_normalized

TABLES = ("traces", "images", "pool_allocations", "pool_unmatched_frees", "stack_frames")


def _dump(store: Store) -> dict[str, list[tuple]]:
    # Times with a zone as text: DuckDB needs pytz to give them to Python 3.10 as datetimes.
    def select(t: str) -> str:
        star = "* REPLACE (CAST(start_utc AS VARCHAR) AS start_utc)" if t == "traces" else "*"
        return f"SELECT {star} FROM {t} ORDER BY ALL"

    return {t: store.con.execute(select(t)).fetchall() for t in TABLES}


def _two_traces(store: Store) -> None:
    load(store, scenario([alloc(1, 0x1000, 100), free(2, 0x1000), free(3, 0x5000)]))
    load(store, scenario([alloc(1, 0x1000, 300), alloc(2, 0x1000, 7)]))


def test_round_trip_keeps_every_row(tmp_path: Path) -> None:
    out = tmp_path / "norm"
    with Store() as store:
        _two_traces(store)
        counts = export_normalized(store, out)
        before = _dump(store)
    assert counts["traces"] == 2 and counts["pool_allocations"] == 3
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["format"] == "gate-normalized" and manifest["version"] == 1
    with Store() as store:
        assert import_normalized(store, out) == [1, 2]
        assert _dump(store) == before


def test_several_folders_keep_their_own_trace_ids(tmp_path: Path) -> None:
    with Store() as store:
        _two_traces(store)
        export_normalized(store, tmp_path / "a")
    with Store() as store:
        ids = load_inputs(store, [tmp_path / "a", tmp_path / "a"])
        assert ids == [1, 2, 3, 4]
        build_model(store.con, ModelConfig())
        per_trace = store.con.execute(
            "SELECT trace_id, value FROM driver_metrics WHERE driver = 'a.sys' "
            "AND metric = 'nonpaged_impacting_bytes' ORDER BY trace_id"
        ).fetchall()
    assert per_trace == [(1, 0), (2, 7), (3, 0), (4, 7)]


def test_export_replaces_an_earlier_folder_atomically(tmp_path: Path) -> None:
    out = tmp_path / "norm"
    with Store() as store:
        load(store, scenario([alloc(1, 0x1000, 1)]))
        export_normalized(store, out)
        load(store, scenario([alloc(1, 0x1000, 1)]))
        export_normalized(store, out)
    assert json.loads((out / "manifest.json").read_text())["tables"]["traces"]["rows"] == 2
    assert sorted(p.name for p in tmp_path.iterdir()) == ["norm"]


def test_export_refuses_to_replace_a_foreign_folder(tmp_path: Path) -> None:
    (tmp_path / "keep.txt").write_text("mine")
    with Store() as store, pytest.raises(OutputError, match="not a gate normalized folder"):
        export_normalized(store, tmp_path)


def _folder(tmp_path: Path) -> Path:
    out = tmp_path / "norm"
    with Store() as store:
        load(store, scenario([alloc(1, 0x1000, 1)]))
        export_normalized(store, out)
    return out


def test_unknown_format_version_is_named(tmp_path: Path) -> None:
    out = _folder(tmp_path)
    manifest = json.loads((out / "manifest.json").read_text())
    manifest["version"] = 99
    (out / "manifest.json").write_text(json.dumps(manifest))
    with Store() as store, pytest.raises(NormalizedFormatError) as err:
        import_normalized(store, out)
    assert str(err.value) == (
        f"{out / 'manifest.json'}: format version 99 is not supported (this gate reads version 1);"
        " re-run 'gate ingest' with this gate version"
    )


def test_corrupt_parquet_names_the_file(tmp_path: Path) -> None:
    out = _folder(tmp_path)
    (out / "pool_allocations.parquet").write_bytes(b"PAR1 this is not parquet")
    with Store() as store, pytest.raises(NormalizedFormatError) as err:
        import_normalized(store, out)
    assert str(err.value).startswith(f"{out / 'pool_allocations.parquet'}: not a readable Parquet")
    with Store() as store:
        assert store.trace_count() == 0


def test_missing_column_is_named(tmp_path: Path) -> None:
    out = _folder(tmp_path)
    with Store() as store:
        store.con.execute(
            f"COPY (SELECT trace_id FROM read_parquet('{out / 'images.parquet'}')) "
            f"TO '{out / 'images.parquet'}' (FORMAT parquet)"
        ).fetchall()
        with pytest.raises(NormalizedFormatError, match="column 'driver' is missing"):
            import_normalized(store, out)


def test_bad_manifest_json_gives_line_and_column(tmp_path: Path) -> None:
    out = _folder(tmp_path)
    (out / "manifest.json").write_text('{"format": ')
    with Store() as store, pytest.raises(NormalizedFormatError, match=r"manifest.json:1:12: not"):
        import_normalized(store, out)


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("missing.etl", "no such file or folder"),
        ("trace.txt", "unknown input kind '.txt'"),
    ],
)
def test_input_kind_errors(tmp_path: Path, name: str, message: str) -> None:
    path = tmp_path / name
    if name.endswith(".txt"):
        path.write_text("x")
    with pytest.raises(InputError, match=message):
        input_kind(path)


def test_a_plain_folder_is_not_an_input(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="not a gate normalized folder"):
        input_kind(tmp_path)
