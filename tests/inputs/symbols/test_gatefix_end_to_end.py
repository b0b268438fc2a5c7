"""Function names from our own PDB (fixtures/gatefix.pdb) in every report, from a trace the
project's writer makes with that PDB's identity: a flat folder and a symbol store, a PDB of
another GUID or age refused and said so, a driver without a PDB keeping module+offset.

Unlike test_symbols_end_to_end.py, nothing here needs the shared corpus, so it runs in CI with
whichever PDB reader the system has (DbgHelp on Windows, symbolic elsewhere).

The trace: gatefix.sys leaks 40 x 4 KiB from HashSlot (called by Contoso::Queue::Grow, called
by DriverEntry) and 4 x 4 KiB from Contoso::Queue::Flush (a public symbol only), and spikes
10 x 8 KiB for one second from `anonymous namespace'::callback (called by
Contoso::Pool<int>::Reserve); b.sys (no PDB) leaks too. The RVAs are inside those functions
as llvm-pdbutil reads them (see test_gatefix_pdb.py and fixtures/PROVENANCE.md).
"""

from __future__ import annotations

from pathlib import Path

import pytest
from pdb_kit import GATEFIX_AGE, GATEFIX_GUID, GATEFIX_KEY, FakeDbgHelp, copy_pdb, patched
from report_kit import check_of, check_reports, failure_text
from scenario_kit import B_STACK, NT, NT_BASE
from typer.testing import CliRunner

from gate.cli import app
from gate.inputs.scenario import generate, parse_scenario
from gate.inputs.symbols import DBGHELP, available_backends, dbghelp, readers
from gate.synthetic.etl import PdbId, write_scenario_etl

G_BASE = 0xFFFFF80005000000
IMAGES = [
    {"path": NT, "base": NT_BASE, "size": 0x100000},
    # SizeOfImage of gatefix.sys: its last section, .pdata, ends at 0x4024.
    {"path": r"\SystemRoot\System32\drivers\gatefix.sys", "base": G_BASE, "size": 0x5000},
    {"path": r"\SystemRoot\System32\drivers\b.sys", "base": 0xFFFFF80002000000, "size": 0x10000},
]
# Innermost first: the allocator, the driver's frames, the kernel's caller above them.
LEAK_STACK = [
    "ntoskrnl.exe+0x10",
    "gatefix.sys+0x1080",  # HashSlot (static: S_LPROC32)
    "gatefix.sys+0x102f",  # Contoso::Queue::Grow
    "gatefix.sys+0x1119",  # DriverEntry (inside its inlined Mix)
    "ntoskrnl.exe+0x400",
]
FLUSH_STACK = [
    "ntoskrnl.exe+0x10",
    "gatefix.sys+0x12b6",  # Contoso::Queue::Flush (public symbol only)
    "gatefix.sys+0x1180",  # DriverEntry
]
SPIKE_STACK = [
    "ntoskrnl.exe+0x10",
    "gatefix.sys+0x121f",  # `anonymous namespace'::callback
    "gatefix.sys+0x11b5",  # Contoso::Pool<int>::Reserve
    "gatefix.sys+0x1160",  # DriverEntry
]
LEAK_SITE = "gatefix.sys!HashSlot"
FLUSH_SITE = "gatefix.sys!Contoso::Queue::Flush"
SPIKE_SITE = "gatefix.sys!`anonymous namespace'::callback"
UNNAMED = ["gatefix.sys+0x1080", "gatefix.sys+0x12b6"]  # the leak's sites without the PDB
BUDGETS = """\
drivers:
  gatefix.sys: {nonpaged_impacting_bytes: 64 KiB, nonpaged_transient_peak_bytes: 16 KiB}
  b.sys: {nonpaged_impacting_bytes: 1 KiB}
"""

runner = CliRunner()


@pytest.fixture
def reader() -> None:
    if not available_backends():
        pytest.skip("no PDB reader on this system (the symbols extra is not installed)")


def _alloc(t: float, address: int, size: int, stack: list[str]) -> dict[str, object]:
    return {
        "t": t,
        "op": "alloc",
        "address": address,
        "size": size,
        "tag": "Gfix",
        "pool": "nonpaged",
        "stack": stack,
    }


def _events() -> list[dict[str, object]]:
    events = [_alloc(1.0 + i * 0.01, 0x10000 + i * 0x1000, 4096, LEAK_STACK) for i in range(40)]
    events += [_alloc(2.0 + i * 0.01, 0x60000 + i * 0x1000, 4096, FLUSH_STACK) for i in range(4)]
    events += [_alloc(5.0 + i * 0.01, 0x90000 + i * 0x2000, 8192, SPIKE_STACK) for i in range(10)]
    events += [{"t": 6.0 + i * 0.01, "op": "free", "address": 0x90000 + i * 0x2000} for i in range(10)]  # fmt: skip # noqa: E501
    events.append(_alloc(7.0, 0xF0000, 2048, B_STACK))
    return events


@pytest.fixture
def boot(tmp_path: Path) -> Path:
    doc = {"scenario": 1, "duration_s": 10.0, "cpus": 1, "images": IMAGES, "events": _events()}
    trace = generate(parse_scenario(doc))
    ident = {"gatefix.sys": PdbId("gatefix.pdb", GATEFIX_GUID, GATEFIX_AGE)}
    return write_scenario_etl(trace, tmp_path / "boot.etl", pdb_ids=ident)


@pytest.fixture
def budgets(tmp_path: Path) -> Path:
    path = tmp_path / "budgets.yaml"
    path.write_text(BUDGETS)
    return path


def _sites(report: dict[str, object], metric: str) -> list[str]:
    return [s["site"] for s in check_of(report, "gatefix.sys", metric)["top_sites"]]  # type: ignore[index]


def _assert_named(report: dict[str, object]) -> None:
    assert _sites(report, "nonpaged_impacting_bytes") == [LEAK_SITE, FLUSH_SITE]
    transient = _sites(report, "nonpaged_transient_peak_bytes")
    assert transient[0] == SPIKE_SITE
    assert LEAK_SITE not in transient and FLUSH_SITE not in transient  # leaks: not the spike
    b_sites = check_of(report, "b.sys", "nonpaged_impacting_bytes")["top_sites"]
    assert b_sites[0]["site"] == "b.sys+0x200"  # type: ignore[index]
    for kind in ("console", "markdown", "html"):
        text = report[kind]
        for site in (LEAK_SITE, FLUSH_SITE, SPIKE_SITE):
            assert site in text, (kind, site)  # type: ignore[operator]
    message, body = failure_text(report, "gatefix.sys", "nonpaged_impacting_bytes")
    assert LEAK_SITE in message and FLUSH_SITE in message + body
    message, body = failure_text(report, "gatefix.sys", "nonpaged_transient_peak_bytes")
    assert SPIKE_SITE in message + body and LEAK_SITE not in message + body


def _first_path(tree: dict[str, object]) -> tuple[list[str], dict[str, object]]:
    """The frames from the root down the largest child each time, and the last node."""
    node = tree["roots"][0]  # type: ignore[index]
    frames = [node["frame"]]
    while node["children"]:
        node = node["children"][0]
        frames.append(node["frame"])
    return frames, node


def test_functions_from_a_flat_folder(
    tmp_path: Path, boot: Path, budgets: Path, gatefix_pdb: Path, reader: None
) -> None:
    folder = tmp_path / "pdbs"
    copy_pdb(gatefix_pdb, folder / "gatefix.pdb")
    report = check_reports(tmp_path, boot, budgets, str(folder))
    _assert_named(report)
    trees = report["json"]["trees"]  # type: ignore[index]
    impacting = next(t for t in trees if t["driver"] == "gatefix.sys" and t["kind"] == "impacting")
    frames, leaf = _first_path(impacting)
    assert frames == [
        "(callers)",
        "gatefix.sys!DriverEntry",
        "gatefix.sys!Contoso::Queue::Grow",
        LEAK_SITE,
    ]
    assert (leaf["size_bytes"], leaf["allocations"]) == (40 * 4096, 40)
    transient = next(t for t in trees if t["driver"] == "gatefix.sys" and t["kind"] == "transient")
    frames, leaf = _first_path(transient)
    assert frames == [  # no kernel frame above DriverEntry in this stack: nothing folded
        "gatefix.sys!DriverEntry",
        "gatefix.sys!Contoso::Pool<int>::Reserve",
        SPIKE_SITE,
    ]
    assert (leaf["size_bytes"], leaf["allocations"]) == (10 * 8192, 10)
    assert "gatefix.sys" not in " ".join(report["json"]["notes"])  # type: ignore[index]


def test_functions_from_a_symbol_store(
    tmp_path: Path, boot: Path, budgets: Path, gatefix_pdb: Path, reader: None
) -> None:
    store = tmp_path / "store"
    copy_pdb(gatefix_pdb, store / "gatefix.pdb" / GATEFIX_KEY / "gatefix.pdb")
    _assert_named(check_reports(tmp_path, boot, budgets, f"srv*{store}*https://example.invalid/s"))


def test_a_pdb_of_another_guid_is_refused_and_reported(
    tmp_path: Path, boot: Path, budgets: Path, gatefix_pdb: Path, reader: None
) -> None:
    folder = tmp_path / "pdbs"
    other = "00000000-1111-2222-3333-444444444444"
    patched(gatefix_pdb, folder / "gatefix.pdb", guid=other, old_guid=GATEFIX_GUID)
    report = check_reports(tmp_path, boot, budgets, str(folder))
    assert _sites(report, "nonpaged_impacting_bytes") == UNNAMED
    notes = [n for n in report["json"]["notes"] if "gatefix.sys" in n]  # type: ignore[index]
    assert len(notes) == 1 and other in notes[0] and GATEFIX_GUID in notes[0], notes
    assert "GUID" in notes[0]
    assert "gatefix.sys" in report["console"] and other in report["console"]  # type: ignore[operator]


def test_a_pdb_of_another_age_is_refused_and_reported(
    tmp_path: Path, boot: Path, budgets: Path, gatefix_pdb: Path, reader: None
) -> None:
    folder = tmp_path / "pdbs"
    patched(gatefix_pdb, folder / "gatefix.pdb", age=2)
    report = check_reports(tmp_path, boot, budgets, str(folder))
    assert _sites(report, "nonpaged_impacting_bytes") == UNNAMED
    notes = [n for n in report["json"]["notes"] if "gatefix.sys" in n]  # type: ignore[index]
    assert len(notes) == 1 and "its age is 2, the trace's is 1" in notes[0], notes


def test_explain_names_functions(
    tmp_path: Path, boot: Path, budgets: Path, gatefix_pdb: Path, reader: None
) -> None:
    folder = tmp_path / "pdbs"
    copy_pdb(gatefix_pdb, folder / "gatefix.pdb")
    result = runner.invoke(
        app,
        ["explain", str(boot), "--driver", "GateFix.sys", "-b", str(budgets), "--symbols",
         str(folder)],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[0] == "gatefix.sys: where its non-paged pool comes from (whole trace)"
    assert "     160 KiB          40        gatefix.sys!HashSlot" in lines
    assert any(line.endswith(f"  {FLUSH_SITE}") for line in lines)
    assert any(line.endswith(f"  {SPIKE_SITE}") for line in lines)
    assert any(line.endswith("  gatefix.sys!Contoso::Pool<int>::Reserve") for line in lines)


def test_the_dbghelp_backend_names_the_same_functions_on_any_system(
    tmp_path: Path,
    boot: Path,
    budgets: Path,
    gatefix_pdb: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The whole check with the dbghelp backend, its DbgHelp emulated as documented
    (`pdb_kit.FakeDbgHelp`), so that its path through the gate runs without Windows."""
    fake = FakeDbgHelp()
    monkeypatch.setattr(dbghelp, "_dbghelp", lambda: fake)
    monkeypatch.setattr(readers, "available_backends", lambda: [DBGHELP])
    folder = tmp_path / "pdbs"
    copy_pdb(gatefix_pdb, folder / "gatefix.pdb")
    _assert_named(check_reports(tmp_path, boot, budgets, str(folder)))
    assert fake.lookups and fake.sessions == {}  # DbgHelp answered, and the session ended
