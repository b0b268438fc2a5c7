"""WPA CSV exports built to break the reader: numbers past int64 or infinite, reserved module
names on stacks, unrelated files with giant fields beside an export, unusual file names.
Each ends in one CsvFormatError naming file, line and column, or in a clean read."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from gate.errors import CsvFormatError
from gate.inputs.wpa import read_wpa_csv, wpa_csv_traces
from gate.store import Store
from gate.tables.chunks import Chunk, TraceInfo, module_names

HEADER = "Pool Tag,Paged,Address,AllocTime (s),FreeTime (s),Size (B),Stack,Session"
STACK = "[Root]/ntoskrnl.exe!KiStartSystemThread/a.sys+0x10"


def _group(path: Path) -> list[Path]:
    """The files of the trace `path` makes when it is named alone."""
    return wpa_csv_traces([path])[path]


def _write(folder: Path, rows: list[str], header: str = HEADER, name: str = "Pool.csv") -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_text("\n".join([header, *rows]) + "\n", encoding="utf-8")
    return path


def _read(*paths: Path) -> tuple[dict[str, Chunk], TraceInfo]:
    chunks: dict[str, Chunk] = {}
    info = None
    for item in read_wpa_csv(list(paths)):
        if isinstance(item, TraceInfo):
            info = item
        else:
            chunks[item.table] = item
    assert info is not None
    return chunks, info


def _error(path: Path) -> str:
    with pytest.raises(CsvFormatError) as caught:
        _read(path)
    message = str(caught.value)
    assert "\n" not in message and len(message) < 400
    return message.replace(str(path), "Pool.csv")


@pytest.mark.parametrize(
    ("row", "message"),
    [
        (
            f"Ab,NonPaged,0x10,1.0,,{'9' * 400},{STACK},",
            "Pool.csv:2:6: 'Size (B)' value '" + "9" * 30 + "'... (400 chars) is not a whole",
        ),
        (
            f"Ab,NonPaged,0x10,1.0,,-9223372036854775808,{STACK},",
            "Pool.csv:2:6: 'Size (B)' value '-9223372036854775808' is out of range (0 to "
            "1,099,511,627,775)",
        ),
        (
            f"Ab,NonPaged,0x10,1.0,,9223372036854775807,{STACK},",
            "Pool.csv:2:6: 'Size (B)' value '9223372036854775807' is out of range",
        ),
        (
            f"Ab,NonPaged,0x10,1.0,,8,{STACK},{'9' * 25}",
            "Pool.csv:2:8: 'Session' value '" + "9" * 25 + "' is out of range (0 to 4,294,967,295)",
        ),
        (
            f"Ab,NonPaged,0x10,{'9' * 39},,8,{STACK},",
            "Pool.csv:2:4: 'AllocTime (s)' " + "1e+39 s is not a time in a trace",
        ),
        (
            f"Ab,NonPaged,0x10,1.0,,8,a.sys+0x{'f' * 40},",
            "Pool.csv:2:7: 'Stack': offset 0x" + "f" * 20 + " is past any image (4 GiB at most)",
        ),
    ],
)
def test_values_out_of_range_name_line_and_column(tmp_path: Path, row: str, message: str) -> None:
    assert _error(_write(tmp_path, [row])).startswith(message)


def test_a_400_digit_size_in_kb_is_not_infinity(tmp_path: Path) -> None:
    header = HEADER.replace("Size (B)", "Size (KB)")
    path = _write(tmp_path, [f"Ab,NonPaged,0x10,1.0,,{'9' * 400},{STACK},"], header)
    assert _error(path).startswith("Pool.csv:2:6: 'Size (KB)' value '999")


def test_largest_values_in_range_are_read_exactly(tmp_path: Path) -> None:
    size = (1 << 40) - 1
    path = _write(tmp_path, [f'Ab,NonPaged,0x10,1.0,,"{size:,}",a.sys+0xffffffff,4294967295'])
    chunks, _ = _read(path)
    alloc = chunks["pool_allocations"].columns
    assert int(alloc["size_bytes"][0]) == size  # exact: float64 would not round-trip it
    assert int(alloc["session_id"][0]) == 4294967295
    assert int(chunks["stack_frames"].columns["rva_bytes"][0]) == 0xFFFFFFFF


@pytest.mark.parametrize("module", ["(total)", "(kernel)", "(unattributed)", "*"])
def test_a_module_named_like_a_reserved_name_keeps_the_file_prefix(
    tmp_path: Path, module: str
) -> None:
    path = _write(tmp_path, [f"Ab,NonPaged,0x10,1.0,,8,{module}+0x10/{module}!Fn,"])
    chunks, _ = _read(path)
    modules = list(module_names(chunks["frame_modules"], chunks["stack_frames"]))
    assert modules == [f"file:{module}", f"file:{module}"]


def test_an_unrelated_csv_with_a_giant_field_does_not_break_the_export(tmp_path: Path) -> None:
    export = _write(tmp_path, [f"Ab,NonPaged,0x10,1.0,,8,{STACK},"])
    (tmp_path / "notes.csv").write_text('"' + "x" * (200 << 10) + '",b\n1,2\n')
    (tmp_path / "one-line.csv").write_text("y" * ((1 << 20) + 10))
    assert _group(tmp_path) == [export]
    assert _group(export) == [export]
    with pytest.raises(CsvFormatError) as caught:
        _group(tmp_path / "notes.csv")
    assert str(caught.value).startswith(
        f"{tmp_path / 'notes.csv'}:1: malformed CSV header: field larger than field limit"
    )
    with pytest.raises(CsvFormatError) as caught:
        _group(tmp_path / "one-line.csv")
    assert str(caught.value) == (
        f"{tmp_path / 'one-line.csv'}:1: the first line is over 1 MiB: not an export's header"
    )


def test_a_giant_field_in_the_data_names_its_line(tmp_path: Path) -> None:
    path = _write(tmp_path, [f"Ab,NonPaged,0x10,1.0,,8,{STACK},", '"' + "z" * (200 << 10) + '"'])
    assert _error(path).startswith("Pool.csv:3: malformed CSV: field larger than field limit")


def test_a_file_name_that_is_not_utf8_is_escaped_everywhere(tmp_path: Path) -> None:
    folder = Path(os.fsdecode(os.fsencode(tmp_path) + b"/caf\xe9"))
    path = _write(folder, [f"Ab,NonPaged,0x10,1.0,,8,{STACK},"], name="P\udcffool.csv")
    items = list(read_wpa_csv([path]))
    info = items[-1]
    assert isinstance(info, TraceInfo)
    assert info.source_path == f"{tmp_path}/caf\\xe9/P\\xffool.csv"
    assert info.notes[0] == "P\\xffool.csv: Pool export"
    with Store() as store:
        store.add_trace(iter(items))
        stored = store.con.execute("SELECT source_path, notes FROM traces").fetchall()
    assert stored == [(info.source_path, "\n".join(info.notes))]
    bad = _write(folder, ["Ab,NonPaged,0x10,x,,8,,"], name="P\udcffool.csv")
    with pytest.raises(CsvFormatError) as caught:
        _read(bad)
    assert str(caught.value).startswith(f"{tmp_path}/caf\\xe9/P\\xffool.csv:2:4: ")


def test_bytes_that_are_not_utf8_name_the_line_they_follow(tmp_path: Path) -> None:
    rows = [f"Ab,NonPaged,0x{i:x},1.0,,8,{STACK}," for i in range(3)]
    path = _write(tmp_path, rows)
    path.write_bytes(path.read_bytes() + b"Ab,NonPaged,0x9,1.0,,8,caf\xe9.sys+0x1,\n")
    assert _error(path) == "Pool.csv:5: not UTF-8 text (invalid continuation byte)"
    path.write_bytes(b"Pool Tag,Pag\xffed\n")
    with pytest.raises(CsvFormatError) as caught:
        _group(path)
    assert str(caught.value) == f"{path}:1: not UTF-8 text (invalid start byte)"


def test_a_utf16_export_is_read_line_by_line(tmp_path: Path) -> None:
    path = tmp_path / "Pool.csv"
    text = "\n".join([HEADER, f"Ab,NonPaged,0x10,1.0,2.0,8,{STACK},", ""])
    path.write_bytes(text.encode("utf-16"))
    chunks, _ = _read(path)
    alloc = chunks["pool_allocations"].columns
    assert (list(alloc["tag"]), list(alloc["size_bytes"]), list(alloc["free_s"])) == (
        ["Ab"],
        [8],
        [2.0],
    )


def test_a_resident_file_named_like_a_reserved_name_is_skipped_with_a_note(
    tmp_path: Path,
) -> None:
    header = "MMList,Page Category,Path,Size (B)"
    path = _write(
        tmp_path,
        [r"Active,Driver,C:\x\(total),8192", r"Active,Driver,C:\x\a.sys,4096"],
        header,
        "ResidentSet.csv",
    )
    chunks, info = _read(path)
    assert list(chunks["resident_pages"].columns["path"]) == [r"C:\x\a.sys"]
    assert "ResidentSet.csv:2: skipped a file named like a name the gate keeps for itself " in (
        "\n".join(info.notes)
    )


@pytest.mark.parametrize("control", ["\x0c", "\x1c", "\x85", "\u2028", "\u202e"])
def test_header_names_with_line_breaking_characters_stay_on_one_line(
    tmp_path: Path, control: str
) -> None:
    # str.splitlines() breaks at form feeds, file separators, NEL and U+2028: escaped, the
    # error is still one line.
    header = HEADER.replace("Size (B),", f"Size (B){control}")
    message = _error(_write(tmp_path / "missing", ["Pool,Paged,0x1,1,,16,,0"], header))
    assert len(message.splitlines()) == 1
    assert f"Size (B){control.encode('unicode_escape').decode()}Stack" in message
    unit = HEADER.replace("Size (B)", f"Size (K{control})")
    message = _error(_write(tmp_path / "unit", ["Pool,Paged,0x1,1,,16,,0"], unit))
    assert len(message.splitlines()) == 1, message
    assert "unknown size unit" in message
