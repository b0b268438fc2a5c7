"""The lab recipe: the WPR profile records what the gate reads, and the PowerShell scripts are
well-formed and call WPR and the gate the way docs/lab-recipe.md says."""

from __future__ import annotations

import re
import shutil
import subprocess
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
LAB = REPO / "lab"
SCRIPTS = ("Start-GateBootTrace.ps1", "Stop-GateBootTrace.ps1")
SHARED = "GateLab.ps1"

# Switches documented for wpr.exe (windows-tools.md §5); a typo would fail only on the lab machine.
WPR_SWITCHES = {
    "-start",
    "-stop",
    "-cancel",
    "-status",
    "-boottrace",
    "-addboot",
    "-stopboot",
    "-cancelboot",
    "-filemode",
    "-recordtempto",
    "-instancename",
    "-disablepagingexecutive",
    "-profiles",
    "-profiledetails",
    "-exportprofile",
}


def wprp() -> ET.Element:
    return ET.parse(LAB / "gate.wprp").getroot()


def values(root: ET.Element, tag: str) -> set[str]:
    return {e.get("Value", "") for e in root.iter(tag)}


def test_wprp_is_well_formed_and_names_what_the_gate_reads() -> None:
    root = wprp()
    assert root.tag == "WindowsPerformanceRecorder"
    keywords = values(root, "Keyword")
    # Pool events, image loads and rundown, and the resident set.
    assert {"Pool", "Loader", "ProcessThread"} <= keywords
    assert {"Memory", "MemoryInfo", "VAMap"} <= keywords
    stacks = values(root, "Stack")
    assert {"PoolAllocation", "PoolAllocationSession", "PoolFree"} <= stacks
    providers = {e.get("Name") for e in root.iter("EventProvider")}
    assert "b7a19fcd-15ba-41ba-a3d7-dc352d5f79ba" in providers  # Kernel-Memory


def test_wprp_profiles_follow_wpr_naming_and_reference_defined_ids() -> None:
    root = wprp()
    profiles = root.findall("Profiles/Profile")
    ids = {p.get("Id") for p in profiles}
    assert ids == {"GateBoot.Verbose.File", "GateBoot.Light.File"}
    for p in profiles:
        assert p.get("Id") == f"{p.get('Name')}.{p.get('DetailLevel')}.{p.get('LoggingMode')}"
        assert p.get("Base") in (None, *ids)
    defined = {e.get("Id") for e in root.find("Profiles") if e.get("Id")}
    referenced = {
        e.get("Value")
        for tag in ("SystemCollectorId", "SystemProviderId", "EventCollectorId", "EventProviderId")
        for e in root.iter(tag)
    }
    assert referenced <= defined


def code_lines(text: str) -> list[tuple[int, str]]:
    """Script lines without comments (line and block), with their line numbers."""
    out: list[tuple[int, str]] = []
    in_block = False
    for number, line in enumerate(text.splitlines(), start=1):
        if in_block:
            if "#>" in line:
                in_block = False
            continue
        if line.lstrip().startswith("<#"):
            in_block = "#>" not in line
            continue
        out.append((number, strip_comment(line)))
    return out


def strip_comment(line: str) -> str:
    """The line up to a '#' that is outside quotes."""
    quote = ""
    for i, ch in enumerate(line):
        if quote:
            if ch == quote:
                quote = ""
        elif ch in "'\"":
            quote = ch
        elif ch == "#":
            return line[:i]
    return line


def unquoted(line: str) -> str:
    """The line with string contents blanked, so brackets inside strings do not count."""
    return re.sub(r"'[^']*'|\"(?:`.|[^\"`])*\"", "''", line)


@pytest.mark.parametrize("name", (*SCRIPTS, SHARED))
def test_script_brackets_balance(name: str) -> None:
    text = (LAB / name).read_text(encoding="utf-8")
    pairs = {")": "(", "}": "{", "]": "["}
    stack: list[tuple[str, int]] = []
    for number, line in code_lines(text):
        for ch in unquoted(line):
            if ch in "({[":
                stack.append((ch, number))
            elif ch in pairs:
                assert stack, f"{name}:{number}: unmatched {ch!r}"
                opener, where = stack.pop()
                assert opener == pairs[ch], f"{name}:{number}: {ch!r} closes {opener!r} of {where}"
    assert not stack, f"{name}: unclosed {stack}"
    assert text.count("<#") == text.count("#>")


@pytest.mark.parametrize("name", SCRIPTS)
def test_script_has_requires_and_a_param_block(name: str) -> None:
    text = (LAB / name).read_text(encoding="utf-8")
    assert text.startswith("#Requires -Version 5.1\n")
    code = "\n".join(line for _, line in code_lines(text))
    assert re.search(r"\[CmdletBinding\(\)\]\s*param\(", code)
    assert ". (Join-Path $PSScriptRoot 'GateLab.ps1')" in code
    assert "if (-not (Test-Elevated))" in code


def test_shared_helpers_check_elevation() -> None:
    text = (LAB / SHARED).read_text(encoding="utf-8")
    assert text.startswith("#Requires -Version 5.1\n")
    assert "IsInRole([Security.Principal.WindowsBuiltInRole]::Administrator)" in text
    assert "function Get-WprMessage([int]$Code, [hashtable]$Known)" in text


def wpr_calls(name: str) -> list[list[str]]:
    text = (LAB / name).read_text(encoding="utf-8")
    calls = []
    for _, line in code_lines(text):
        match = re.search(r"&\s*\$wpr\s+(.*)$", line)
        if match:
            calls.append(re.findall(r"(?<![\w$])-[a-z]+", unquoted(match.group(1))))
    return calls


@pytest.mark.parametrize("name", SCRIPTS)
def test_every_wpr_call_uses_known_switches(name: str) -> None:
    calls = wpr_calls(name)
    assert calls
    for switches in calls:
        assert set(switches) <= WPR_SWITCHES, switches


def test_start_arms_the_boot_trace_with_the_profile() -> None:
    calls = wpr_calls("Start-GateBootTrace.ps1")
    assert ["-boottrace", "-addboot", "-filemode", "-recordtempto"] in calls
    assert ["-disablepagingexecutive"] in calls
    text = (LAB / "Start-GateBootTrace.ps1").read_text(encoding="utf-8")
    assert '"$ProfilePath!GateBoot"' in text
    for code in ("0xc5585011", "0xc5583000", "0xc5586004"):
        assert f"'{code}'" in text
    assert "Restart-Computer" in text and "Read-Host" in text


def test_stop_saves_then_inspects_and_checks_and_returns_the_gates_exit_code() -> None:
    assert ["-boottrace", "-stopboot"] in wpr_calls("Stop-GateBootTrace.ps1")
    text = (LAB / "Stop-GateBootTrace.ps1").read_text(encoding="utf-8")
    order = [text.index(s) for s in ("-stopboot", "& $Gate inspect", "& $Gate @checkArgs")]
    assert order == sorted(order)
    assert "'--budgets', $Budgets" in text and "'--baseline', $Baseline" in text
    assert "$gateExit = $LASTEXITCODE" in text and text.rstrip().endswith("exit $gateExit")


@pytest.mark.parametrize("name", (*SCRIPTS, SHARED))
def test_scripts_parse_with_powershell(name: str) -> None:
    pwsh = shutil.which("pwsh")
    if pwsh is None:
        pytest.skip("pwsh (PowerShell 7) is not installed; the static checks above still ran")
    command = (
        "$errors = $null; "
        f"[void][System.Management.Automation.Language.Parser]::ParseFile('{LAB / name}', "
        "[ref]$null, [ref]$errors); $errors | ForEach-Object { $_.ToString() }; "
        "exit $errors.Count"
    )
    result = subprocess.run(
        [pwsh, "-NoProfile", "-NonInteractive", "-Command", command],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_recipe_doc_names_the_files_and_commands() -> None:
    text = (REPO / "docs" / "lab-recipe.md").read_text(encoding="utf-8")
    for needle in (
        "Start-GateBootTrace.ps1",
        "Stop-GateBootTrace.ps1",
        "gate inspect",
        "gate budgets init",
        "--headroom 20%",
        "gate baseline update",
        "--junit",
    ):
        assert needle in text, needle
