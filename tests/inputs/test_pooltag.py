"""pooltag.txt: the shipped format's conventions, exact error lines, and attribution through it."""

from __future__ import annotations

import json
from pathlib import Path

import duckdb
import pytest
import yaml
from typer.testing import CliRunner

from gate.cli import app
from gate.errors import InputError
from gate.inputs.pooltag import KERNEL, PoolTagTable, read_pooltag

SAMPLE = """\
rem    The file has the following format:
rem       <PoolTag> - <binary-name> - <Description>
// team additions below
; also a comment
# and this

8042 - i8042prt.sys - PS/2 kb and mouse
Afd? - afd.sys      - AFD objects
Acp* - acpi.sys     - ACPI Pooltags
AcpA - ACPI.sys     - ACPI arbiter data - with a dash in the description
CcBc - nt!cc        - Cache Manager Bcb from pool
Atom - <unknown>    - Atom Tables
Ddk  - <unknown>    - Default for driver allocated memory (user's of ntddk.h)
Ndis - ndis.sys, wdf01000.sys - shared by two drivers
   Fbk1 - fabrikam.sys - indented sub-entry
Io   - nt!io        - general IO allocations
Tcp  - tcpip.sys!tcb - with a component
Vid  - vid
NoDs - nodesc.sys
"""


def write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def test_sample_in_the_shipped_format(tmp_path: Path) -> None:
    path = write(tmp_path / "pooltag.txt", SAMPLE)
    table = read_pooltag(path)
    assert table.drivers == {
        "8042": "i8042prt.sys",
        "AcpA": "acpi.sys",
        "CcBc": KERNEL,
        "Fbk1": "fabrikam.sys",
        "Io": KERNEL,
        "Tcp": "tcpip.sys",
        "NoDs": "nodesc.sys",
    }
    assert table.patterns == [("Afd?", "afd.sys"), ("Acp*", "acpi.sys")]
    # <unknown> twice, two drivers once, a name that is not a file once: counted, and listed.
    assert table.ambiguous == 4
    assert table.skipped == [
        f"{path}:12: tag 'Atom' names <unknown>, not one driver",
        f"{path}:13: tag 'Ddk' names <unknown>, not one driver",
        f"{path}:14: tag 'Ndis' names ndis.sys, wdf01000.sys, not one driver",
        f"{path}:18: tag 'Vid' names vid, not one driver",
    ]
    assert table.sources == [str(path)]


def test_lookup_exact_then_wildcards_case_sensitive(tmp_path: Path) -> None:
    table = read_pooltag(write(tmp_path / "pooltag.txt", SAMPLE))
    assert table.lookup("AcpA") == "acpi.sys"
    assert table.lookup("AcpZ") == "acpi.sys"
    assert table.lookup("AfdX") == "afd.sys"
    assert table.lookup("Afd") is None  # '?' is exactly one character
    assert table.lookup("Io  ") == KERNEL  # the trace's padding blanks do not matter
    assert table.lookup("acpA") is None
    assert table.lookup("Atom") is None


@pytest.mark.parametrize(
    ("line", "problem"),
    [
        (
            "Tag1 afd.sys",
            "expected 'Tag - driver.sys - description', got a line of 12 characters without it",
        ),
        (
            "- afd.sys - no tag",
            "expected 'Tag - driver.sys - description', got a line of 18 characters without it",
        ),
        (
            "FbkPool - fbk.sys - too long",
            "the pool tag has 7 characters, more than 4 (expected 'Tag - driver.sys - "
            "description')",
        ),
    ],
)
def test_malformed_lines_are_errors_with_file_and_line(
    tmp_path: Path, line: str, problem: str
) -> None:
    path = write(tmp_path / "pooltag.txt", f"// header\nGood - good.sys - fine\n{line}\n")
    with pytest.raises(InputError) as err:
        read_pooltag(path)
    assert str(err.value) == f"{path}:3: {problem}"


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(InputError, match=r"missing\.txt: cannot read"):
        read_pooltag(tmp_path / "missing.txt")


def test_a_tag_mapped_to_two_drivers_in_one_file_is_ambiguous(tmp_path: Path) -> None:
    path = write(tmp_path / "p.txt", "Dup1 - a.sys - one\nDup1 - b.sys - two\nDup1 - a.sys\n")
    table = read_pooltag(path)
    assert "Dup1" not in table.drivers
    assert table.ambiguous == 1
    assert table.skipped == [
        f"{path}:2: tag 'Dup1' maps to b.sys here and to a.sys at line 1; used for neither"
    ]


def test_a_later_file_overrides_an_earlier_one(tmp_path: Path) -> None:
    shipped = write(tmp_path / "shipped.txt", "Fbk1 - old.sys - x\nKeep - keep.sys - y\n")
    team = write(tmp_path / "team.txt", "Fbk1 - fabrikam.sys - ours\n")
    table = PoolTagTable()
    read_pooltag(shipped, table)
    read_pooltag(team, table)
    assert table.drivers == {"Fbk1": "fabrikam.sys", "Keep": "keep.sys"}
    assert table.overridden == 1
    assert table.sources == [str(shipped), str(team)]


# --- attribution through the pooltag, end to end --------------------------------------------

SCENARIO = {
    "scenario": 1,
    "duration_s": 10.0,
    "images": [
        {
            "path": r"\SystemRoot\system32\ntoskrnl.exe",
            "base": 0xFFFFF80000000000,
            "size": 0x100000,
        },
        {
            "path": r"\SystemRoot\System32\drivers\fabrikam.sys",
            "base": 0xFFFFF80001000000,
            "size": 0x10000,
        },
    ],
    "allocations": [
        # Only kernel frames: the stack cannot name a driver, the pooltag can.
        {
            "tag": "Fbk1",
            "size": 4096,
            "count": 10,
            "start_s": 1.0,
            "end_s": 2.0,
            "stack": ["ntoskrnl.exe+0x10", "ntoskrnl.exe+0x20"],
        },
        # Only kernel frames and a tag the pooltag does not know.
        {
            "tag": "Zzzz",
            "size": 64,
            "count": 2,
            "start_s": 1.0,
            "end_s": 2.0,
            "stack": ["ntoskrnl.exe+0x10"],
        },
    ],
}
POOLTAG = "Fbk1 - fabrikam.sys - Fabrikam sensor buffers\n"


def attributions(db: Path) -> dict[str, tuple[str, str]]:
    with duckdb.connect(str(db), read_only=True) as con:
        rows = con.execute("SELECT DISTINCT tag, driver, attribution FROM allocations").fetchall()
    return {tag: (driver, how) for tag, driver, how in rows}


@pytest.mark.parametrize("via", ["option", "budgets"])
def test_kernel_only_stack_is_attributed_through_the_pooltag(tmp_path: Path, via: str) -> None:
    trace = tmp_path / "boot.scenario.yaml"
    trace.write_text(yaml.safe_dump(SCENARIO), encoding="utf-8")
    write(tmp_path / "pooltag.txt", POOLTAG)
    budgets_text = (
        "version: 1\ndrivers:\n  fabrikam.sys: {owner: f, nonpaged_impacting_bytes: 1 MiB}\n"
    )
    args = []
    if via == "budgets":
        budgets_text = "attribution:\n  pooltag: pooltag.txt\n" + budgets_text
    else:
        args = ["--pooltag", str(tmp_path / "pooltag.txt")]
    budgets = write(tmp_path / "budgets.yaml", budgets_text)
    db, out = tmp_path / "run.duckdb", tmp_path / "out.json"
    result = CliRunner().invoke(
        app,
        [
            "check",
            str(trace),
            "--budgets",
            str(budgets),
            "--db",
            str(db),
            "--json",
            str(out),
            *args,
        ],
    )
    assert result.exit_code == 0, result.output
    assert attributions(db) == {
        "Fbk1": ("fabrikam.sys", "pooltag"),
        "Zzzz": ("(kernel)", "kernel"),
    }
    checks = json.loads(out.read_text())["checks"]
    fabrikam = [c for c in checks if c["driver"] == "fabrikam.sys"]
    assert [(c["metric"], c["outcome"], c["observed"]) for c in fabrikam] == [
        ("nonpaged_impacting_bytes", "pass", 40960)
    ]


def test_malformed_pooltag_at_the_cli_exits_2_with_file_and_line(tmp_path: Path) -> None:
    trace = tmp_path / "boot.scenario.yaml"
    trace.write_text(yaml.safe_dump(SCENARIO), encoding="utf-8")
    bad = write(tmp_path / "pooltag.txt", "Fbk1 - fabrikam.sys - ok\nnot a pooltag line\n")
    budgets = write(tmp_path / "b.yaml", "version: 1\ndrivers:\n  fabrikam.sys: {owner: f}\n")
    result = CliRunner().invoke(
        app, ["check", str(trace), "--budgets", str(budgets), "--pooltag", str(bad)]
    )
    assert result.exit_code == 2
    assert f"{bad}:2: expected 'Tag - driver.sys - description'" in result.output
