"""WPA CSV exports: column aliases, units, number formats, summary rows, errors, grouping, and
the same scenario judged from a Pool CSV and from the scenario itself."""

from __future__ import annotations

import csv
import json
import math
import xml.etree.ElementTree as ET
from pathlib import Path

import numpy as np
import pytest
import yaml
from typer.testing import CliRunner

from gate.cli import app
from gate.errors import CsvFormatError
from gate.inputs.scenario import POOL_FREE, SyntheticTrace, generate, parse_scenario
from gate.inputs.wpa import read_wpa_csv, wpa_csv_traces
from gate.tables.chunks import Chunk, TraceInfo, module_names

CORPUS = Path(__file__).resolve().parents[2].parent / "shared" / "corpus"

POOL_HEADER = "Pool Tag,Paged,Address,AllocTime (s),FreeTime (s),Size (B),Stack"
ENGLISH = "'.' decimal point, ',' thousands separator (English-style)"


def _group(path: Path) -> list[Path]:
    """The files of the trace `path` makes when it is named alone."""
    return wpa_csv_traces([path])[path]


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def read(*paths: Path) -> tuple[dict[str, Chunk], TraceInfo]:
    chunks: dict[str, Chunk] = {}
    info = None
    for item in read_wpa_csv(list(paths)):
        if isinstance(item, TraceInfo):
            info = item
        else:
            chunks[item.table] = item
    assert info is not None
    return chunks, info


def pool(tmp_path: Path, rows: list[str], header: str = POOL_HEADER) -> Path:
    return write(tmp_path / "Pool.csv", "\n".join([header, *rows]) + "\n")


# --- Pool export ---------------------------------------------------------------------------


def test_pool_rows_become_allocations_with_stacks_innermost_first(tmp_path: Path) -> None:
    stack = "[Root]/ntoskrnl.exe!KiStartSystemThread/acpi.sys!ACPIBuildDeviceDpc/nt.exe+0x10"
    path = pool(
        tmp_path,
        [
            f"Acpi,NonPaged,0xffffc00000000040,0.100000000,0.300000000,512,{stack}",
            f"AcpP,Paged,0xffffd00000000000,0.200000000,,1024,{stack}",
            "None,NonPaged,0x10,0.250000000,n/a,64,n/a",
        ],
    )
    chunks, info = read(path)
    a = chunks["pool_allocations"].columns
    assert list(a["tag"]) == ["Acpi", "AcpP", "None"]
    assert list(a["pool_type"]) == [0, 1, 0]
    assert list(a["size_bytes"]) == [512, 1024, 64]
    assert list(a["address"]) == [0xFFFFC00000000040, 0xFFFFD00000000000, 0x10]
    assert list(a["free_kind"]) == ["freed", "none", "none"]
    assert math.isnan(a["free_s"][1]) and a["free_s"][0] == 0.3
    # Trace order: the 0.3 s free comes after the 0.2 s and 0.25 s allocations.
    assert list(a["alloc_seq"]) == [0, 1, 2] and list(a["free_seq"]) == [3, -1, -1]
    # One stack shared by two rows; the row with 'n/a' has none.
    assert list(a["stack_id"]) == [0, 0, -1]
    f = chunks["stack_frames"].columns
    names = module_names(chunks["frame_modules"], chunks["stack_frames"])
    assert list(names) == ["nt.exe", "acpi.sys", "ntoskrnl.exe"]
    assert sorted(chunks["frame_modules"].columns["module"]) == [
        "acpi.sys",
        "nt.exe",
        "ntoskrnl.exe",
    ]
    assert list(f["function"]) == ["", "ACPIBuildDeviceDpc", "KiStartSystemThread"]
    assert list(f["rva_bytes"]) == [0x10, -1, -1]
    assert list(f["frame_index"]) == [0, 1, 2]
    assert sorted(chunks["images"].columns["driver"]) == ["acpi.sys", "ntoskrnl.exe"]
    assert info.source_format == "wpa-csv"
    assert info.duration_s == 0.3
    assert not info.has_resident_set
    assert len(info.sha256) == 64


@pytest.mark.parametrize(
    "header",
    [
        "Pool Tag,Paged,AllocTime (s),FreeTime (s),Size (B),Stack",
        "Tag,Paged,Alloc Time (s),Free Time (s),Size (B),Stack",
        "tag,PAGED,alloc_time (s),free_time (s),size (b),stack",
        "Type,Impacting Type,Pool Tag,Paged,AllocTime (s),FreeTime (s),Size (B),Stack,Count",
    ],
)
def test_column_aliases(tmp_path: Path, header: str) -> None:
    cells = {"type": "AIFO", "impactingtype": "Impacting", "count": "1"}
    values = []
    for name in header.split(","):
        key = name.split(" (")[0].replace(" ", "").replace("_", "").lower()
        values.append(
            cells.get(key)
            or {
                "pooltag": "Fbk1",
                "tag": "Fbk1",
                "paged": "NonPaged",
                "alloctime": "1.000000000",
                "freetime": "",
                "size": "100",
                "stack": "fbk.sys+0x1",
            }[key]
        )
    chunks, _ = read(pool(tmp_path, [",".join(values)], header))
    a = chunks["pool_allocations"].columns
    assert (a["tag"][0], a["pool_type"][0], a["alloc_s"][0], a["size_bytes"][0]) == (
        "Fbk1",
        0,
        1.0,
        100,
    )


@pytest.mark.parametrize(
    ("unit", "cell", "expected"),
    [("B", "1536", 1536), ("KB", "1.5", 1536), ("MB", "2", 2 << 20), ("KB", '"1,024"', 1 << 20)],
)
def test_size_unit_suffixes(tmp_path: Path, unit: str, cell: str, expected: int) -> None:
    header = f"Pool Tag,Paged,AllocTime (s),FreeTime (s),Size ({unit}),Stack"
    chunks, info = read(pool(tmp_path, [f"Tag1,NonPaged,1.000000000,,{cell},a.sys+0x1"], header))
    assert chunks["pool_allocations"].columns["size_bytes"][0] == expected
    assert any("rounded by WPA" in n for n in info.notes) == (unit != "B")


def test_time_unit_suffix(tmp_path: Path) -> None:
    header = "Pool Tag,Paged,AllocTime (ms),FreeTime (ms),Size (B),Stack"
    chunks, _ = read(pool(tmp_path, ["T,NonPaged,1500.5,2500,8,a.sys+0x1"], header))
    a = chunks["pool_allocations"].columns
    assert (a["alloc_s"][0], a["free_s"][0]) == (1.5005, 2.5)


def test_pool_type_number_and_session(tmp_path: Path) -> None:
    header = "Pool Tag,Pool Type,Paged,Session,AllocTime (s),FreeTime (s),Size (B),Stack"
    rows = [
        "NxT,512,NonPaged,,1.000000000,,8,a.sys+0x1",
        "SsP,33,Paged,1,1.000000000,,8,a.sys+0x1",
        "NmT,NonPagedPoolNx,NonPaged,n/a,1.000000000,,8,a.sys+0x1",
    ]
    a = read(pool(tmp_path, rows, header))[0]["pool_allocations"].columns
    assert list(a["pool_type"]) == [512, 33, 512]
    assert list(a["session_id"]) == [-1, 1, -1]


def test_quotes_and_thousands_separators(tmp_path: Path) -> None:
    rows = ['Big1,NonPaged,0x0,"1,234.500000000","1,235.000000000","16,384",a.sys+0x1']
    chunks, info = read(pool(tmp_path, rows))
    a = chunks["pool_allocations"].columns
    assert (a["alloc_s"][0], a["free_s"][0], a["size_bytes"][0]) == (1234.5, 1235.0, 16384)
    assert f"Pool.csv: numbers read with {ENGLISH}, from 'AllocTime (s)' at line 2" in info.notes


def test_german_number_format(tmp_path: Path) -> None:
    header = "Pool Tag,Paged,AllocTime (s),FreeTime (s),Size (KB),Stack"
    rows = [
        'De1,NonPaged,"1,176567818","2,5",4,a.sys+0x1',
        'De2,NonPaged,"1.234,500000000",,"1.234,5",a.sys+0x1',
    ]
    chunks, info = read(pool(tmp_path, rows, header))
    a = chunks["pool_allocations"].columns
    assert list(a["alloc_s"]) == [1.176567818, 1234.5]
    assert a["free_s"][0] == 2.5
    assert list(a["size_bytes"]) == [4096, round(1234.5 * 1024)]
    assert any("',' decimal comma, '.' thousands separator (German-style)" in n for n in info.notes)


def test_a_whole_byte_count_tells_the_format_when_no_time_does(tmp_path: Path) -> None:
    header = "MMList,Page Category,Path,Size (B)"
    path = write(tmp_path / "rs.csv", f'{header}\nActive,Driver,a.sys,"16.384"\n')
    chunks, info = read(path)
    assert chunks["resident_pages"].columns["size_bytes"][0] == 16384
    assert "German-style" in info.notes[-1]


def test_semicolon_delimiter(tmp_path: Path) -> None:
    header = "Pool Tag;Paged;AllocTime (s);FreeTime (s);Size (B);Stack"
    chunks, _ = read(pool(tmp_path, ["Semi;NonPaged;0,500000000;;16;a.sys+0x1"], header))
    assert chunks["pool_allocations"].columns["alloc_s"][0] == 0.5


def test_header_only_pool_export_is_a_trace_without_allocations(tmp_path: Path) -> None:
    chunks, info = read(pool(tmp_path, []))
    assert chunks["pool_allocations"].rows == 0
    assert info.duration_s == 0.0
    assert any("no number shows its decimal mark" in n for n in info.notes)


def test_trailing_total_row_is_skipped_with_a_note(tmp_path: Path) -> None:
    rows = ["A1,NonPaged,0x0,1.000000000,,512,a.sys+0x1", 'Total,,,,,"1,024",']
    chunks, info = read(pool(tmp_path, rows))
    assert chunks["pool_allocations"].rows == 1
    assert "Pool.csv:3: skipped the summary row ('Total') at the end of the export" in info.notes


@pytest.mark.parametrize("first", ["", "Summe"])
def test_total_row_inside_the_data_is_an_error(tmp_path: Path, first: str) -> None:
    rows = [
        "A1,NonPaged,0x0,1.000000000,,512,a.sys+0x1",
        f"{first},,,,,512,",
        "A2,NonPaged,0x0,2.000000000,,512,a.sys+0x1",
    ]
    path = pool(tmp_path, rows)
    label = repr(first) if first else "first cell empty"
    with pytest.raises(CsvFormatError) as err:
        read(path)
    assert str(err.value) == (
        f"{path}:3: a summary row ({label}) inside the data: export raw rows (a profile with "
        "no key columns), not a grouped table"
    )


def test_missing_column_message(tmp_path: Path) -> None:
    header = "Pool Tag,Paged,AllocTime (s),FreeTime (s),Stack"
    path = pool(tmp_path, [], header)
    with pytest.raises(CsvFormatError) as err:
        read(path)
    assert str(err.value) == (
        f"{path}: column 'Size' is missing (found: Pool Tag, Paged, AllocTime (s), "
        "FreeTime (s), Stack)"
    )


def test_neither_paged_nor_pool_type(tmp_path: Path) -> None:
    path = pool(tmp_path, [], "Pool Tag,AllocTime (s),FreeTime (s),Size (B),Stack")
    with pytest.raises(CsvFormatError, match="column 'Paged' is missing"):
        read(path)


def test_unknown_layout(tmp_path: Path) -> None:
    path = write(tmp_path / "x.csv", "Disk,Process,Size (B)\n0,System (4),12\n")
    with pytest.raises(CsvFormatError) as err:
        read(path)
    assert str(err.value) == (
        f"{path}: not a WPA Pool or Resident Set export: expected a Pool export (Pool Tag, "
        "Paged, AllocTime, FreeTime, Size, Stack) or a Resident Set export (MMList, Page "
        "Category, Path, Size); found: Disk, Process, Size (B)"
    )


def test_bad_number_names_file_line_and_column(tmp_path: Path) -> None:
    rows = ["A1,NonPaged,0x0,1.000000000,,512,a.sys+0x1", "A2,NonPaged,0x0,2.000000000,,12x,"]
    path = pool(tmp_path, rows)
    with pytest.raises(CsvFormatError) as err:
        read(path)
    assert str(err.value) == (
        f"{path}:3:6: 'Size (B)' value '12x' is not a whole number (numbers in this file use "
        f"{ENGLISH})"
    )


@pytest.mark.parametrize(
    ("row", "where", "problem"),
    [
        ("A,Both,0x0,1.0,,8,", "2:2", "'Paged' value 'Both' is neither 'Paged' nor 'NonPaged'"),
        ("A,NonPaged,0xZZ,1.0,,8,", "2:3", "'Address' value '0xZZ' is not an address"),
        ("A,NonPaged,0x0,,,8,", "2:4", "'AllocTime (s)' is empty"),
        ("A,NonPaged,0x0,2.0,1.0,8,", "2:5", "FreeTime 1.000000000 s is before AllocTime"),
        ('A,NonPaged,0x0,"1,5",,8,', "2:4", "'AllocTime (s)' value '1,5' is not a number"),
    ],
)
def test_bad_cells(tmp_path: Path, row: str, where: str, problem: str) -> None:
    # The third row's time settles the '.' decimal point before the bad one is read.
    path = pool(tmp_path, [row] if "1,5" not in row else ["B,NonPaged,0x0,0.5,,8,", row])
    if "1,5" in row:
        where = "3:4"
    with pytest.raises(CsvFormatError) as err:
        read(path)
    assert str(err.value).startswith(f"{path}:{where}: {problem}")


def test_empty_file(tmp_path: Path) -> None:
    path = write(tmp_path / "e.csv", "")
    with pytest.raises(CsvFormatError, match="empty file: no header row"):
        read(path)


# --- Resident Set export --------------------------------------------------------------------


@pytest.mark.parametrize(
    "header",
    [
        "MMList,Page Category,Path,Size (B)",
        "Page List,Category,Path Tree,Size (B)",
        "MMList,Page Category,Description,Size (B)",
    ],
)
def test_resident_set_aliases(tmp_path: Path, header: str) -> None:
    rows = [r"Active,Driver,C:\Windows\System32\drivers\ACPI.sys,8192", "Standby,Image,x.dll,4096"]
    chunks, info = read(write(tmp_path / "rs.csv", "\n".join([header, *rows]) + "\n"))
    r = chunks["resident_pages"].columns
    assert list(r["page_list"]) == ["Active", "Standby"]
    assert list(r["category"]) == ["Driver", "Image"]
    assert list(r["size_bytes"]) == [8192, 4096]
    assert r["path"][0].endswith("ACPI.sys")
    assert info.has_resident_set
    assert "no Pool export: the trace has no pool allocations" in info.notes


def test_resident_set_page_count_and_last_full_snapshot(tmp_path: Path) -> None:
    text = (
        "Snapshot Time (s),MMList,Page Category,Path,Page Count\n"
        "10.000000000,Active,Driver,a.sys,1\n"
        "20.000000000,Active,Driver,a.sys,3\n"
        "25.000000000,Standby,Driver,a.sys,7\n"
    )
    chunks, info = read(write(tmp_path / "rs.csv", text))
    r = chunks["resident_pages"].columns
    assert list(r["size_bytes"]) == [3 * 4096]
    assert info.duration_s == 25.0
    assert any("kept the last one with Active pages (1 of 3 rows)" in n for n in info.notes)


# --- grouping -----------------------------------------------------------------------------


def test_a_folder_is_one_trace_and_unrelated_csvs_are_left_out(tmp_path: Path) -> None:
    p = pool(tmp_path, ["A1,NonPaged,0x0,1.000000000,,512,a.sys+0x1"])
    r = write(tmp_path / "Resident.csv", "MMList,Page Category,Path,Size (B)\nActive,Driver,a,1\n")
    write(tmp_path / "Disk.csv", "Disk,Size (B)\n0,1\n")
    write(tmp_path / "notes.txt", "x")
    assert _group(p) == [p, r]
    assert _group(r) == [p, r]
    assert _group(tmp_path) == [p, r]
    with pytest.raises(CsvFormatError, match="not a WPA Pool or Resident Set export"):
        _group(tmp_path / "Disk.csv")


def test_two_pool_exports_in_one_trace_are_an_error(tmp_path: Path) -> None:
    a = pool(tmp_path, [])
    b = write(tmp_path / "Pool2.csv", POOL_HEADER + "\n")
    with pytest.raises(CsvFormatError, match="2 Pool exports for one trace; write each trace"):
        read(a, b)


RS_TEXT = "MMList,Page Category,Path,Size (B)\nActive,Driver,a.sys,1\n"


def test_a_named_file_pairs_with_the_only_other_export_of_its_folder(tmp_path: Path) -> None:
    p = pool(tmp_path, [])
    r = write(tmp_path / "RS.csv", RS_TEXT)
    assert wpa_csv_traces([p]) == {p: [p, r]}
    assert wpa_csv_traces([r]) == {r: [p, r]}


def test_a_named_file_is_read_alone_when_its_folder_holds_more(tmp_path: Path) -> None:
    p = pool(tmp_path, [])
    p2 = write(tmp_path / "Pool2.csv", POOL_HEADER + "\n")
    r = write(tmp_path / "RS.csv", RS_TEXT)
    assert wpa_csv_traces([p]) == {p: [p]}
    assert wpa_csv_traces([r]) == {r: [r]}
    # Both Pool exports named: two traces, neither with the Resident Set export.
    assert wpa_csv_traces([p, p2]) == {p: [p], p2: [p2]}


def test_one_pool_and_one_resident_set_named_from_a_folder_are_one_trace(tmp_path: Path) -> None:
    p = pool(tmp_path, [])
    write(tmp_path / "Pool2.csv", POOL_HEADER + "\n")
    r = write(tmp_path / "RS.csv", RS_TEXT)
    write(tmp_path / "RS2.csv", RS_TEXT)
    assert wpa_csv_traces([r, p]) == {p: [p, r], r: [p, r]}


def test_exports_named_that_cannot_be_paired_are_an_error(tmp_path: Path) -> None:
    p = pool(tmp_path, [])
    p2 = write(tmp_path / "Pool2.csv", POOL_HEADER + "\n")
    r = write(tmp_path / "RS.csv", RS_TEXT)
    with pytest.raises(CsvFormatError) as caught:
        wpa_csv_traces([p, p2, r])
    assert str(caught.value) == (
        f"{tmp_path}: 2 Pool and 1 Resident Set exports named from this folder cannot be "
        "paired; name one of each per boot, or give each boot its own folder (wpaexporter "
        "-outputfolder) and name the folders"
    )


def test_a_folder_named_is_one_trace_of_all_its_exports(tmp_path: Path) -> None:
    p = pool(tmp_path / "b1", [])
    r = write(tmp_path / "b1" / "RS.csv", RS_TEXT)
    assert wpa_csv_traces([tmp_path / "b1"]) == {tmp_path / "b1": [p, r]}


def test_two_pool_exports_of_one_folder_named_are_two_traces(tmp_path: Path) -> None:
    p = pool(tmp_path / "t", ["A1,NonPaged,0x0,1.000000000,,512,a.sys+0x1"])
    p2 = write(tmp_path / "t" / "Pool2.csv", POOL_HEADER + "\nA1,NonPaged,0x0,1.0,,256,a.sys+0x1\n")
    write(tmp_path / "t" / "RS.csv", RS_TEXT)  # of another boot: not read
    budgets = write(tmp_path / "b.yaml", "version: 1\ndrivers:\n  a.sys: {owner: t}\n")
    code, data = run_check(p, p2, "--budgets", budgets, tmp_path / "out.json")
    assert code == 0, data["_output"]
    assert [t["source_path"] for t in data["traces"]] == [str(p), str(p2)]
    assert not any(t["has_resident_set"] for t in data["traces"])


def run_check(*args: str | Path) -> tuple[int, dict]:
    out = Path(str(args[-1]))
    result = CliRunner().invoke(app, ["check", *map(str, args[:-1]), "--json", str(out)])
    data = json.loads(out.read_text()) if out.exists() else {}
    return result.exit_code, data | {"_output": result.output}


def test_naming_both_files_of_a_folder_loads_one_trace(tmp_path: Path) -> None:
    p = pool(tmp_path / "t", ["A1,NonPaged,0x0,1.000000000,,512,a.sys+0x1"])
    r = write(
        tmp_path / "t" / "RS.csv", "MMList,Page Category,Path,Size (B)\nActive,Driver,a.sys,1\n"
    )
    budgets = write(tmp_path / "b.yaml", "version: 1\ndrivers:\n  a.sys: {owner: t}\n")
    code, data = run_check(p, r, "--budgets", budgets, tmp_path / "out.json")
    assert code == 0, data["_output"]
    assert len(data["traces"]) == 1
    assert data["traces"][0]["has_resident_set"] is True
    assert data["traces"][0]["source_path"] == f"{p} + {r}"


def test_header_only_pool_export_is_judged_as_an_error_by_the_rules(tmp_path: Path) -> None:
    p = pool(tmp_path / "t", [])
    budgets = write(tmp_path / "b.yaml", "version: 1\ndrivers:\n  a.sys: {owner: t}\n")
    code, data = run_check(p, "--budgets", budgets, tmp_path / "out.json")
    assert code == 2
    assert any(c["outcome"] == "error" for c in data["checks"])


# --- the same scenario as CSV and as scenario ----------------------------------------------

SCENARIO = {
    "scenario": 1,
    "name": "csv cross-check",
    "duration_s": 30.0,
    "seed": 3,
    "images": [
        {
            "path": r"\SystemRoot\system32\ntoskrnl.exe",
            "base": 0xFFFFF80000000000,
            "size": 0x100000,
        },
        {
            "path": r"\SystemRoot\System32\drivers\a.sys",
            "base": 0xFFFFF80001000000,
            "size": 0x10000,
        },
        {
            "path": r"\SystemRoot\System32\drivers\b.sys",
            "base": 0xFFFFF80002000000,
            "size": 0x10000,
        },
        {
            "path": r"\SystemRoot\System32\drivers\Wdf01000.sys",
            "base": 0xFFFFF80003000000,
            "size": 0x10000,
        },
    ],
    "allocations": [
        # a.sys leaks non-paged pool and has a transient spike
        {
            "tag": "AaLk",
            "size": [100, 3000],
            "count": 400,
            "start_s": 0.5,
            "end_s": 10.0,
            "stack": ["ntoskrnl.exe+0x10", "a.sys+0x100", "ntoskrnl.exe+0x900"],
        },
        {
            "tag": "AaTr",
            "size": 8192,
            "count": 200,
            "start_s": 1.0,
            "end_s": 3.0,
            "lifetime_s": 0.25,
            "stack": ["ntoskrnl.exe+0x10", "a.sys+0x200"],
        },
        {
            "tag": "AaPg",
            "pool": "paged",
            "size": 4096,
            "count": 50,
            "start_s": 2.0,
            "end_s": 4.0,
            "stack": ["ntoskrnl.exe+0x10", "a.sys+0x300"],
        },
        # b.sys allocates through the framework, NX pool, some freed
        {
            "tag": "BbNx",
            "pool": "nonpaged_nx",
            "size": [64, 512],
            "count": 300,
            "start_s": 5.0,
            "end_s": 20.0,
            "lifetime_s": 1.5,
            "stack": ["ntoskrnl.exe+0x10", "wdf01000.sys+0x40", "b.sys+0x80"],
        },
        {
            "tag": "BbLk",
            "size": 2048,
            "count": 120,
            "start_s": 5.0,
            "end_s": 25.0,
            "stack": ["ntoskrnl.exe+0x10", "wdf01000.sys+0x40", "b.sys+0x90"],
        },
        # kernel-only and stack-less allocations
        {
            "tag": "Krnl",
            "size": 256,
            "count": 40,
            "start_s": 0.1,
            "end_s": 2.0,
            "stack": ["ntoskrnl.exe+0x10", "ntoskrnl.exe+0x20"],
        },
        {"tag": "NoSk", "size": 128, "count": 30, "start_s": 0.1, "end_s": 2.0},
    ],
    "resident_set": [
        {
            "path": r"\SystemRoot\System32\drivers\a.sys",
            "list": "Active",
            "category": "Driver",
            "size": 57344,
        },
        {
            "path": r"\SystemRoot\System32\drivers\a.sys",
            "list": "Standby",
            "category": "Driver",
            "size": 8192,
        },
        {
            "path": r"\SystemRoot\System32\drivers\b.sys",
            "list": "Active",
            "category": "Driver",
            "size": 20480,
        },
    ],
}

BUDGETS = """\
version: 1
attribution:
  skip_modules: [wdf01000.sys]
drivers:
  a.sys:
    owner: team-a
    nonpaged_impacting_bytes: 512 KiB
    nonpaged_transient_peak_bytes: 16 KiB
    paged_impacting_bytes: 256 KiB
    active_code_bytes: 64 KiB
  b.sys:
    owner: team-b
    nonpaged_impacting_bytes: 256 KiB
    nonpaged_transient_peak_bytes: 64 KiB
    nonpaged_allocations: 400
    active_code_bytes: 16 KiB
  "(kernel)": {owner: os, nonpaged_impacting_bytes: 4 KiB}
  "(unattributed)": {owner: os, nonpaged_impacting_bytes: 16 KiB}
"""


def write_pool_csv(trace: SyntheticTrace, path: Path) -> None:
    """The Pool export WPA would print for the scenario: one row per allocation, root first."""
    rows: list[list[str]] = []
    open_rows: dict[int, list[str]] = {}
    for i in range(trace.event_count):
        address = int(trace.address[i])
        if trace.event[i] == POOL_FREE:
            open_rows.pop(address)[5] = f"{trace.time_s[i]:.9f}"
            continue
        sid = int(trace.stack_id[i])
        frames = trace.stacks[sid] if sid >= 0 else ()
        pool_type = int(trace.pool_type[i])
        row = [
            trace.tag[i],
            "Paged" if pool_type & 1 else "NonPaged",
            str(pool_type),
            f"0x{address:x}",
            f"{trace.time_s[i]:.9f}",
            "",
            f"{int(trace.size_bytes[i]):,}",
            "/".join(str(f) for f in reversed(frames)) if frames else "n/a",
            "System (4)",
        ]
        open_rows[address] = row
        rows.append(row)
    with path.open("w", newline="", encoding="utf-8") as fh:
        out = csv.writer(fh)
        out.writerow(
            [
                "Pool Tag",
                "Paged",
                "Pool Type",
                "Address",
                "AllocTime (s)",
                "FreeTime (s)",
                "Size (B)",
                "Stack",
                "Process",
            ]
        )
        out.writerows(rows)


def write_resident_csv(trace: SyntheticTrace, path: Path) -> None:
    with path.open("w", newline="", encoding="utf-8") as fh:
        out = csv.writer(fh)
        out.writerow(["MMList", "Page Category", "Path", "Size (B)"])
        for r in trace.scenario.resident_set or ():
            out.writerow([r.page_list, r.category, r.path, f"{r.size_bytes:,}"])


def outcomes(data: dict) -> list[tuple]:
    return sorted((c["driver"], c["metric"], c["outcome"], c["observed"]) for c in data["checks"])


def test_same_scenario_as_csv_and_as_scenario_gives_the_same_verdicts(tmp_path: Path) -> None:
    scenario_file = write(tmp_path / "boot.scenario.yaml", yaml.safe_dump(SCENARIO))
    trace = generate(parse_scenario(SCENARIO, str(scenario_file)))
    exports = tmp_path / "exports"
    exports.mkdir()
    write_pool_csv(trace, exports / "Pool_gate-pool.csv")
    write_resident_csv(trace, exports / "Resident_Set_gate-resident-set.csv")
    budgets = write(tmp_path / "budgets.yaml", BUDGETS)

    code_s, from_scenario = run_check(scenario_file, "--budgets", budgets, tmp_path / "s.json")
    code_c, from_csv = run_check(exports, "--budgets", budgets, tmp_path / "c.json")

    assert code_s == code_c == 1, from_csv["_output"]
    assert outcomes(from_csv) == outcomes(from_scenario)
    # The scenario fails some checks and passes others, so the comparison is not vacuous.
    kinds = {o[2] for o in outcomes(from_csv)}
    assert {"fail", "pass"} <= kinds
    assert from_csv["traces"][0]["pool_allocations"] == int((trace.event == 0).sum())


def test_same_verdicts_with_window(tmp_path: Path) -> None:
    scenario_file = write(tmp_path / "boot.scenario.yaml", yaml.safe_dump(SCENARIO))
    trace = generate(parse_scenario(SCENARIO, str(scenario_file)))
    exports = tmp_path / "exports"
    exports.mkdir()
    write_pool_csv(trace, exports / "Pool.csv")
    budgets = write(tmp_path / "budgets.yaml", BUDGETS)
    window = ["--window", "2s..12s"]
    _, from_scenario = run_check(scenario_file, "--budgets", budgets, *window, tmp_path / "s.json")
    _, from_csv = run_check(
        exports / "Pool.csv", "--budgets", budgets, *window, tmp_path / "c.json"
    )
    pool_checks = [o for o in outcomes(from_scenario) if o[1] != "active_code_bytes"]
    assert [o for o in outcomes(from_csv) if o[1] != "active_code_bytes"] == pool_checks


# --- real exports of other tables -----------------------------------------------------------


@pytest.mark.parametrize(
    "name",
    [
        "Disk_Usage_Utilization_by_Disk.csv",
        "Disk_Usage_Utilization_by_Disk_DE.csv",
        "Disk_Usage_Utilization_by_Disk_Empty.csv",
    ],
)
def test_real_exports_of_other_tables_are_an_unknown_layout(tmp_path: Path, name: str) -> None:
    if not CORPUS.is_dir():
        pytest.skip(f"the shared corpus is not at {CORPUS} (only developers' machines have it)")
    path = CORPUS / "wpa" / "etwanalyzer" / name
    with pytest.raises(CsvFormatError, match="not a WPA Pool or Resident Set export"):
        read(path)
    budgets = write(tmp_path / "b.yaml", "version: 1\ndrivers:\n  a.sys: {owner: t}\n")
    result = CliRunner().invoke(app, ["check", str(path), "--budgets", str(budgets)])
    assert result.exit_code == 2
    assert "not a WPA Pool or Resident Set export" in result.output
    assert "Traceback" not in result.output


def test_chunk_dtypes_match_the_contract(tmp_path: Path) -> None:
    chunks, _ = read(pool(tmp_path, ["A1,NonPaged,0x0,1.000000000,,512,a.sys+0x1"]))
    assert chunks["pool_allocations"].columns["address"].dtype == np.uint64


# --- the shipped profiles -------------------------------------------------------------------

PROFILES = Path(__file__).resolve().parents[2] / "gate" / "data" / "wpa"
NS = {"w": "http://tempuri.org/SerializableElement.xsd"}
UNIT_OF_FORMAT = {"B": " (B)", "sN": " (s)"}


@pytest.mark.parametrize(
    ("name", "layout"), [("gate-pool.wpaProfile", "pool"), ("gate-resident-set.wpaProfile", "rs")]
)
def test_shipped_profiles_export_what_the_reader_needs(
    tmp_path: Path, name: str, layout: str
) -> None:
    root = ET.parse(PROFILES / name).getroot()
    assert root.get("Version") == "2"
    presets = root.findall(".//w:Preset", NS)
    assert len(presets) == 1
    # Raw rows: no key columns, and every visible column is exported.
    assert presets[0].get("KeyColumnCount") is None
    columns = [c for c in presets[0].findall("w:Columns/w:Column", NS) if c.get("IsVisible")]
    assert presets[0].get("GraphColumnCount") == str(len(columns))
    header = [c.get("Name", "") + UNIT_OF_FORMAT.get(c.get("CellFormat", ""), "") for c in columns]
    assert next(c for c in columns if c.get("Name") == "Size").get("CellFormat") == "B"
    path = write(tmp_path / f"{name}.csv", ",".join(header) + "\n")
    chunks, info = read(path)
    table = "pool_allocations" if layout == "pool" else "resident_pages"
    assert table in chunks and chunks[table].rows == 0
    assert info.has_resident_set == (layout == "rs")


def test_pool_profile_marks_its_placeholders() -> None:
    text = (PROFILES / "gate-pool.wpaProfile").read_text(encoding="utf-8")
    assert "PLACEHOLDER" in text and "docs/wpa.md" in text
