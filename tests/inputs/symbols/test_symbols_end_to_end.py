"""Function names from the build's PDB in every report, from a trace the project's writer makes
with the identity of the corpus PDB (crash.pdb): a flat folder and a symbol store, a PDB of
another build refused and said so, a driver without a PDB keeping module+offset.

The trace: contoso.sys (PDB crash.pdb) leaks 40 x 4 KiB from `operator new` called by `main`,
and spikes 10 x 8 KiB from `std::exception::what` for one second; b.sys (no PDB) leaks too.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from pdb_kit import CRASH_GUID, CRASH_KEY, copy_pdb, patched
from report_kit import check_of, check_reports, failure_text
from scenario_kit import B_STACK, NT, NT_BASE
from typer.testing import CliRunner

from gate.cli import app
from gate.inputs.scenario import generate, parse_scenario
from gate.inputs.symbols import available_backends
from gate.synthetic.etl import PdbId, write_scenario_etl

C_BASE = 0xFFFFF80005000000
IMAGES = [
    {"path": NT, "base": NT_BASE, "size": 0x100000},
    {"path": r"\SystemRoot\System32\drivers\contoso.sys", "base": C_BASE, "size": 0x10000},
    {"path": r"\SystemRoot\System32\drivers\b.sys", "base": 0xFFFFF80002000000, "size": 0x10000},
]
# Innermost first: the allocator, the driver's frames, the kernel's caller above them.
LEAK_STACK = [
    "ntoskrnl.exe+0x10",
    "contoso.sys+0x2a84",  # operator new
    "contoso.sys+0x2a3d",  # main (inside its inlined crash())
    "contoso.sys+0x1a80",  # google_breakpad::ExceptionHandler::ExceptionHandlerThreadMain
    "ntoskrnl.exe+0x400",
]
SPIKE_STACK = [
    "ntoskrnl.exe+0x10",
    "contoso.sys+0x2f2e",  # std::exception::what
    "contoso.sys+0x3000",  # __scrt_initialize_onexit_tables
]
LEAK_SITE = "contoso.sys!operator new"
SPIKE_SITE = "contoso.sys!std::exception::what"
BUDGETS = """\
drivers:
  contoso.sys: {nonpaged_impacting_bytes: 64 KiB, nonpaged_transient_peak_bytes: 16 KiB}
  b.sys: {nonpaged_impacting_bytes: 1 KiB}
"""

runner = CliRunner()


@pytest.fixture
def reader() -> None:
    if not available_backends():
        pytest.skip("no PDB reader on this system (the symbols extra is not installed)")


def _events() -> list[dict[str, object]]:
    events: list[dict[str, object]] = []
    for i in range(40):
        events.append(_alloc(1.0 + i * 0.01, 0x10000 + i * 0x1000, 4096, LEAK_STACK))
    for i in range(10):
        events.append(_alloc(5.0 + i * 0.01, 0x90000 + i * 0x2000, 8192, SPIKE_STACK))
    for i in range(10):
        events.append({"t": 6.0 + i * 0.01, "op": "free", "address": 0x90000 + i * 0x2000})
    events.append(_alloc(7.0, 0xF0000, 2048, B_STACK))
    return events


def _alloc(t: float, address: int, size: int, stack: list[str]) -> dict[str, object]:
    return {
        "t": t,
        "op": "alloc",
        "address": address,
        "size": size,
        "tag": "Ctso",
        "pool": "nonpaged",
        "stack": stack,
    }


@pytest.fixture
def boot(tmp_path: Path) -> Path:
    doc = {"scenario": 1, "duration_s": 10.0, "cpus": 1, "images": IMAGES, "events": _events()}
    trace = generate(parse_scenario(doc))
    ident = {"contoso.sys": PdbId("crash.pdb", CRASH_GUID, 1)}
    return write_scenario_etl(trace, tmp_path / "boot.etl", pdb_ids=ident)


@pytest.fixture
def budgets(tmp_path: Path) -> Path:
    path = tmp_path / "budgets.yaml"
    path.write_text(BUDGETS)
    return path


def _assert_named(report: dict[str, object]) -> None:
    impacting = check_of(report, "contoso.sys", "nonpaged_impacting_bytes")
    assert impacting["top_sites"][0]["site"] == LEAK_SITE
    transient = check_of(report, "contoso.sys", "nonpaged_transient_peak_bytes")
    sites = [s["site"] for s in transient["top_sites"]]
    assert sites[0] == SPIKE_SITE
    assert LEAK_SITE not in sites  # the leak does not explain the spike
    assert check_of(report, "b.sys", "nonpaged_impacting_bytes")["top_sites"][0]["site"] == (
        "b.sys+0x200"
    )
    for text in (report["console"], report["markdown"]):
        assert LEAK_SITE in text and SPIKE_SITE in text  # type: ignore[operator]
    message, body = failure_text(report, "contoso.sys", "nonpaged_impacting_bytes")
    assert LEAK_SITE in message
    message, body = failure_text(report, "contoso.sys", "nonpaged_transient_peak_bytes")
    assert SPIKE_SITE in message + body and LEAK_SITE not in message + body


def test_functions_from_a_flat_folder(
    tmp_path: Path, boot: Path, budgets: Path, crash_pdb: Path, reader: None
) -> None:
    folder = tmp_path / "pdbs"
    copy_pdb(crash_pdb, folder / "crash.pdb")
    report = check_reports(tmp_path, boot, budgets, str(folder))
    _assert_named(report)
    trees = report["json"]["trees"]  # type: ignore[index]
    impacting = next(t for t in trees if t["driver"] == "contoso.sys" and t["kind"] == "impacting")
    path = []
    node = impacting["roots"][0]
    while True:
        path.append(node["frame"])
        if not node["children"]:
            break
        node = node["children"][0]
    assert path == [
        "(callers)",
        "contoso.sys!google_breakpad::ExceptionHandler::ExceptionHandlerThreadMain",
        "contoso.sys!main",
        LEAK_SITE,
    ]
    assert node["size_bytes"] == 40 * 4096 and node["allocations"] == 40


def test_functions_from_a_symbol_store(
    tmp_path: Path, boot: Path, budgets: Path, crash_pdb: Path, reader: None
) -> None:
    store = tmp_path / "store"
    copy_pdb(crash_pdb, store / "crash.pdb" / CRASH_KEY / "crash.pdb")
    _assert_named(check_reports(tmp_path, boot, budgets, f"srv*{store}*https://example.invalid/s"))


def test_a_pdb_of_another_build_is_refused_and_reported(
    tmp_path: Path, boot: Path, budgets: Path, crash_pdb: Path, reader: None
) -> None:
    folder = tmp_path / "pdbs"
    patched(crash_pdb, folder / "crash.pdb", guid="00000000-1111-2222-3333-444444444444")
    report = check_reports(tmp_path, boot, budgets, str(folder))
    impacting = check_of(report, "contoso.sys", "nonpaged_impacting_bytes")
    assert impacting["top_sites"][0]["site"] == "contoso.sys+0x2a84"
    notes = " ".join(report["json"]["notes"])  # type: ignore[index]
    assert "contoso.sys" in notes and "GUID" in notes
    assert "contoso.sys" in report["console"] and "GUID" in report["console"]  # type: ignore[operator]


def test_a_pdb_of_another_age_is_refused(
    tmp_path: Path, boot: Path, budgets: Path, crash_pdb: Path, reader: None
) -> None:
    folder = tmp_path / "pdbs"
    patched(crash_pdb, folder / "crash.pdb", age=2)
    report = check_reports(tmp_path, boot, budgets, str(folder))
    assert "age" in " ".join(report["json"]["notes"])  # type: ignore[index]
    impacting = check_of(report, "contoso.sys", "nonpaged_impacting_bytes")
    assert impacting["top_sites"][0]["site"] == "contoso.sys+0x2a84"


def test_explain_names_functions(
    tmp_path: Path, boot: Path, budgets: Path, crash_pdb: Path, reader: None
) -> None:
    folder = tmp_path / "pdbs"
    copy_pdb(crash_pdb, folder / "crash.pdb")
    result = runner.invoke(
        app,
        ["explain", str(boot), "--driver", "Contoso.sys", "-b", str(budgets), "--symbols",
         str(folder)],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[0] == "contoso.sys: where its non-paged pool comes from (whole trace)"
    assert "     160 KiB          40        contoso.sys!operator new" in lines
    assert any(line.endswith("contoso.sys!std::exception::what") for line in lines)


def test_symbols_from_the_budgets(
    tmp_path: Path, boot: Path, budgets: Path, crash_pdb: Path, reader: None
) -> None:
    """`symbols:` in a budget file, relative to it, as the option would be."""
    copy_pdb(crash_pdb, tmp_path / "pdbs" / "crash.pdb")
    budgets.write_text(BUDGETS + "symbols: pdbs\n")
    _assert_named(check_reports(tmp_path, boot, budgets))


def test_without_a_pdb_reader_symbols_say_what_to_install(
    tmp_path: Path, boot: Path, budgets: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from gate.inputs.symbols import readers

    monkeypatch.setattr(readers, "available_backends", lambda: [])
    result = runner.invoke(app, ["check", str(boot), "-b", str(budgets), "--symbols", "x"])
    assert result.exit_code == 2
    lines = [line for line in result.output.splitlines() if line.startswith("gate: error")]
    assert lines == [
        "gate: error: function names from PDBs: no PDB reader on this system (the symbolic "
        "package is not installed); install it with python -m pip install "
        "'driver-memory-gate[symbols]'"
    ]
    plain = runner.invoke(app, ["check", str(boot), "-b", str(budgets)])
    assert plain.exit_code == 1  # without --symbols nothing changes
