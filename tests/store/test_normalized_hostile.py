"""Normalized folders built to break the loader: manifests naming files outside the folder,
fields of the wrong type, deep nesting, bad bytes, stray trace ids, values no reader makes,
reserved names; and an output folder whose name would break SQL text."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from scenario_kit import alloc, load, scenario

from gate.errors import NormalizedFormatError
from gate.store import Store
from gate.store.normalized import export_normalized, import_normalized


def _folder(tmp_path: Path, name: str = "norm") -> Path:
    out = tmp_path / name
    with Store() as store:
        load(store, scenario([alloc(1, 0x1000, 64)]))
        export_normalized(store, out)
    return out


def _manifest(out: Path) -> dict:
    return json.loads((out / "manifest.json").read_text())


def _error(out: Path) -> str:
    with Store() as store:
        with pytest.raises(NormalizedFormatError) as caught:
            import_normalized(store, out)
        assert store.trace_count() == 0
    message = str(caught.value)
    assert "\n" not in message
    return message.replace(str(out), "norm")


def _rewrite(out: Path, table: str, select: str) -> None:
    """Replace one Parquet file with `select` over its own rows (the path is bound)."""
    target = out / f"{table}.parquet"
    with Store() as store:
        rows = store.con.sql(f"SELECT {select} FROM read_parquet('{target}')")
        rows.write_parquet(str(out / "tmp.parquet"))
    os.replace(out / "tmp.parquet", target)


def test_an_output_folder_named_to_inject_sql_is_just_a_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    name = "x' (FORMAT csv); COPY (SELECT 1) TO 'injected.csv' (FORMAT csv); --"
    out = _folder(tmp_path / "q'uote", name)
    assert out.name == name and (out / "traces.parquet").is_file()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["q'uote"]
    with Store() as store:
        assert import_normalized(store, out) == [1]


@pytest.mark.parametrize("name", ["../outside.parquet", "/etc/passwd", "sub/../../x.parquet"])
def test_a_manifest_may_name_only_files_of_its_own_folder(tmp_path: Path, name: str) -> None:
    out = _folder(tmp_path)
    (tmp_path / "outside.parquet").write_bytes((out / "traces.parquet").read_bytes())
    manifest = _manifest(out)
    manifest["tables"]["traces"]["file"] = name
    (out / "manifest.json").write_text(json.dumps(manifest))
    assert _error(out) == (
        f"norm/manifest.json: key 'tables.traces.file': '{name}' is not a file in the folder itself"
    )


def test_a_link_out_of_the_folder_is_refused(tmp_path: Path) -> None:
    out = _folder(tmp_path)
    os.replace(out / "images.parquet", tmp_path / "images.parquet")
    (out / "images.parquet").symlink_to(tmp_path / "images.parquet")
    assert _error(out) == (
        "norm/manifest.json: key 'tables.images.file': 'images.parquet' is not a file in the "
        "folder itself"
    )


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda m: m.update(tables=[1]), "key 'tables': expected a mapping of table to file"),
        (
            lambda m: m["tables"].update(traces=5),
            "key 'tables.traces': expected a mapping with 'file', got int",
        ),
        (
            lambda m: m["tables"]["traces"].update(file=12),
            "key 'tables.traces.file': expected a file name, got int",
        ),
        (
            lambda m: m["tables"]["traces"].update(file="a" * 5000),
            "key 'tables.traces.file': not a file name the folder can hold (5,000 characters)",
        ),
        (lambda m: m.update(version=True), "format version True is not supported"),
    ],
)
def test_manifest_fields_of_the_wrong_type(tmp_path: Path, change, message: str) -> None:
    out = _folder(tmp_path)
    manifest = _manifest(out)
    change(manifest)
    (out / "manifest.json").write_text(json.dumps(manifest))
    assert _error(out).startswith(f"norm/manifest.json: {message}")


def test_a_manifest_100000_deep_names_its_place(tmp_path: Path) -> None:
    out = _folder(tmp_path)
    (out / "manifest.json").write_text('{"x":\n ' + "[" * 100_000 + "]" * 100_000 + "}")
    assert _error(out) == "norm/manifest.json:2:17: nested more than 16 levels deep"


def test_a_manifest_that_is_not_utf8_names_its_offset(tmp_path: Path) -> None:
    out = _folder(tmp_path)
    (out / "manifest.json").write_bytes(b'{"format": "gate-normalized\xff"}')
    assert _error(out) == "norm/manifest.json: not UTF-8 text (byte offset 27)"


def test_stray_and_duplicate_trace_ids_are_refused(tmp_path: Path) -> None:
    out = _folder(tmp_path)
    _rewrite(out, "pool_allocations", "* REPLACE (trace_id - 5 AS trace_id)")
    assert _error(out) == (
        "norm/pool_allocations.parquet: row 1: trace_id -4 is not a trace of traces.parquet"
    )
    out = _folder(tmp_path, "norm2")
    _rewrite(
        out,
        "traces",
        "* FROM read_parquet('" + str(out / "traces.parquet") + "') UNION ALL SELECT *",
    )
    assert _error(out).startswith(
        f"{out}/traces.parquet: column 'trace_id': expected distinct ids 1, 2, ..., found 2 rows "
        "with 1 distinct ids from 1 to 1".replace(str(out), "norm")
    )


@pytest.mark.parametrize(
    ("table", "replace", "problem"),
    [
        ("pool_allocations", "-1 AS size_bytes", "size_bytes is not a pool size"),
        ("pool_allocations", "9223372036854775807 AS size_bytes", "size_bytes is not a pool size"),
        ("pool_allocations", "'inf'::DOUBLE AS alloc_s", "alloc_s is not a time in a trace"),
        ("pool_allocations", "'nan'::DOUBLE AS free_s", "free_s is not after alloc_s"),
        ("traces", "3 AS pointer_size_bytes", "pointer_size_bytes is neither 4 nor 8"),
        ("traces", "0 AS page_size_bytes", "page_size_bytes is not a page size"),
    ],
)
def test_values_no_reader_makes_are_refused_with_their_row(
    tmp_path: Path, table: str, replace: str, problem: str
) -> None:
    out = _folder(tmp_path)
    _rewrite(out, table, f"* REPLACE ({replace})")
    assert _error(out) == f"norm/{table}.parquet: row 1: {problem}"


def test_reserved_names_in_the_tables_get_the_file_prefix(tmp_path: Path) -> None:
    out = _folder(tmp_path)
    _rewrite(out, "stack_frames", "* REPLACE ('(TOTAL)' AS module)")
    _rewrite(
        out, "images", "* REPLACE (CASE WHEN driver = 'a.sys' THEN '*' ELSE driver END AS driver)"
    )
    with Store() as store:
        import_normalized(store, out)
        modules = {r[0] for r in store.con.execute("SELECT module FROM stack_frames").fetchall()}
        drivers = {r[0] for r in store.con.execute("SELECT driver FROM images").fetchall()}
    assert modules == {"file:(total)"}
    assert "file:*" in drivers and "*" not in drivers and "a.sys" not in drivers


def test_a_folder_name_that_is_not_utf8_is_one_clear_line(tmp_path: Path) -> None:
    from gate.errors import OutputError

    odd = Path(os.fsdecode(os.fsencode(tmp_path) + b"/caf\xe9"))
    with Store() as store:
        load(store, scenario([alloc(1, 0x1000, 64)]))
        with pytest.raises(OutputError) as caught:
            export_normalized(store, odd)
    assert str(caught.value) == (
        f"{tmp_path}/caf\\xe9: the folder's name is not valid UTF-8; choose another name"
    )
    os.rename(_folder(tmp_path), odd)
    with Store() as store, pytest.raises(NormalizedFormatError) as caught:
        import_normalized(store, odd)
    assert str(caught.value) == (
        f"{tmp_path}/caf\\xe9: the folder's name is not valid UTF-8, which DuckDB cannot "
        "open; rename it"
    )
