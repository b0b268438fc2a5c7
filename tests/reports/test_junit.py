"""JUnit report: golden file, schema, what CI readers parse out of it, and atomic writing."""

from __future__ import annotations

import os
import xml.etree.ElementTree as ET
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import pytest
import xmlschema
from junitparser import Error, Failure, JUnitXml, Skipped

from gate import fileio as atomic_module
from gate.errors import OutputError
from gate.reports import render_json, render_junit, render_markdown, write_reports
from gate.rules.results import Check, Outcome, Verdict

# Attributes real consumers read that the Jenkins xUnit XSD does not declare (see PROVENANCE.md
# beside the XSD): set aside when validating so anything else wrong still fails.
NOT_IN_XSD = {
    "testsuites": {"disabled"},
    "testsuite": {"disabled"},
    "testcase": {"file", "line", "owner"},
}

# Compares with golden/<name>, or rewrites it when GATE_UPDATE_GOLDEN=1 (conftest.py).
GoldenCheck = Callable[[str, str], None]


def _cases(xml: str) -> list[ET.Element]:
    return list(ET.fromstring(xml.encode("utf-8")).iter("testcase"))


def _case(xml: str, classname: str, name: str) -> ET.Element:
    found = [c for c in _cases(xml) if c.get("classname") == classname and c.get("name") == name]
    assert len(found) == 1, f"{classname} {name}: {len(found)} testcases"
    return found[0]


def _parse_junitparser(xml: str, tmp_path: Path) -> JUnitXml:
    path = tmp_path / "junit.xml"
    path.write_text(xml, encoding="utf-8")
    return JUnitXml.fromfile(str(path))


def test_golden(verdict: Verdict, golden: GoldenCheck) -> None:
    golden("verdict.junit.xml", render_junit(verdict))


def test_valid_against_jenkins_xsd_with_known_extra_attributes_set_aside(
    verdict: Verdict, junit_xsd: Path
) -> None:
    schema = xmlschema.XMLSchema(str(junit_xsd))
    root = ET.fromstring(render_junit(verdict).encode("utf-8"))
    for element in root.iter():
        for name in NOT_IN_XSD.get(element.tag, ()):
            element.attrib.pop(name, None)
    # The other documented extension: a warning's `gate.warning` property on its testcase.
    for case in root.iter("testcase"):
        for props in case.findall("properties"):
            assert [p.get("name") for p in props] == ["gate.warning"]
            case.remove(props)
    schema.validate(ET.tostring(root, encoding="unicode"))


def test_schema_strict_output_is_valid_as_written(verdict: Verdict, junit_xsd: Path) -> None:
    schema = xmlschema.XMLSchema(str(junit_xsd))
    xml = render_junit(verdict, schema_strict=True)
    schema.validate(xml)
    assert "owner=" not in xml and "file=" not in xml and "disabled=" not in xml


def test_junitparser_counts(verdict: Verdict, tmp_path: Path) -> None:
    report = _parse_junitparser(render_junit(verdict), tmp_path)
    results = [r for suite in report for case in suite for r in case.result]
    assert sum(isinstance(r, Failure) for r in results) == 2
    assert sum(isinstance(r, Error) for r in results) == 1
    assert sum(isinstance(r, Skipped) for r in results) == 2  # waived + not evaluated
    assert sum(suite.tests for suite in report) == len(verdict.checks)
    assert sum(suite.failures for suite in report) == 2
    assert sum(suite.errors for suite in report) == 1
    assert sum(suite.skipped for suite in report) == 2


def test_one_suite_per_metric_and_trace_checks_in_gate_trace(verdict: Verdict) -> None:
    root = ET.fromstring(render_junit(verdict).encode("utf-8"))
    names = [s.get("name") for s in root.iter("testsuite")]
    assert names == [
        "gate.nonpaged_impacting_bytes",
        "gate.paged_impacting_bytes",
        "gate.nonpaged_allocations",
        "gate.active_code_bytes",
        "gate.trace",
    ]
    trace = _case(render_junit(verdict), "gate.trace", "traces/boot_2.etl")
    assert trace.find("system-out").text.startswith("WARNING:")


def test_classname_never_ends_with_the_driver(verdict: Verdict) -> None:
    xml = render_junit(verdict)
    pairs = set()
    for case in _cases(xml):
        classname, name = case.get("classname"), case.get("name")
        # Jenkins: package = before the last dot, class = after it.
        package, cls = classname.rsplit(".", 1)
        assert package == "gate"
        assert cls not in ("sys", "etl") and name not in classname
        assert case.get("time") == "0"
        assert (classname, name) not in pairs
        pairs.add((classname, name))


def test_duplicate_checks_get_unique_names(verdict: Verdict) -> None:
    twin = replace(verdict.checks[0])
    verdict.checks.append(twin)
    names = [
        c.get("name")
        for c in _cases(render_junit(verdict))
        if c.get("classname") == f"gate.{twin.metric}"
    ]
    assert len(names) == len(set(names))
    assert f"{twin.driver} [2]" in names


def test_failure_message_is_one_line_with_numbers(verdict: Verdict) -> None:
    xml = render_junit(verdict)
    failure = _case(xml, "gate.nonpaged_impacting_bytes", "acpi.sys").find("failure")
    assert failure.get("type") == "budget.over"
    message = failure.get("message")
    assert "\n" not in message
    assert message.startswith(
        "acpi.sys nonpaged_impacting_bytes: 1.20 MiB, +205 KiB over limit 1.00 MiB (baseline "
        "1.02 MiB); top call site acpi.sys!ACPIBuildDeviceExtension"
    )
    body = failure.text
    assert "GATE002 baseline.growth" in body
    assert "AcpO" in body and "acpi.sys+0x1a2b" in body
    assert "seen in 2 of 2" in body


def test_file_line_and_owner(verdict: Verdict) -> None:
    xml = render_junit(verdict)
    acpi = _case(xml, "gate.nonpaged_impacting_bytes", "acpi.sys")
    assert acpi.get("file") == "budgets/platform.yaml"
    assert acpi.get("line") == "12"
    assert acpi.get("owner") == "platform-power@example.com"
    unowned = _case(xml, "gate.nonpaged_impacting_bytes", "drv00.sys")
    assert "owner" not in unowned.attrib and "file" not in unowned.attrib


def test_warning_is_a_visible_pass(verdict: Verdict) -> None:
    xml = render_junit(verdict)
    warn = _case(xml, "gate.nonpaged_impacting_bytes", "wdf01000.sys")
    assert warn.find("failure") is None and warn.find("skipped") is None
    assert warn.find("system-out").text.startswith("WARNING: wdf01000.sys")
    suite = ET.fromstring(xml.encode("utf-8")).find(
        "testsuite[@name='gate.nonpaged_impacting_bytes']"
    )
    props = {p.get("name"): p.get("value") for p in suite.iter("property")}
    assert props["gate.warnings"] == "1"
    assert props["gate.warning.wdf01000.sys"].startswith("wdf01000.sys nonpaged_impacting_bytes")


def test_waivers(verdict: Verdict) -> None:
    xml = render_junit(verdict)
    waived = _case(xml, "gate.nonpaged_impacting_bytes", "storport.sys").find("skipped")
    assert waived.get("message") == (
        "waived until 2099-06-30: NVMe queue depth change | tracked in STOR-88"
    )
    expired = _case(xml, "gate.nonpaged_impacting_bytes", "ndis.sys").find("failure")
    assert "waiver expired on 2024-01-31" in expired.get("message")


def test_not_evaluated_is_skipped_with_reason(verdict: Verdict) -> None:
    case = _case(render_junit(verdict), "gate.active_code_bytes", "acpi.sys")
    assert case.find("skipped").get("message") == "traces/boot_2.etl has no resident-set data"


def test_error_is_an_error_not_a_failure(verdict: Verdict) -> None:
    case = _case(render_junit(verdict), "gate.paged_impacting_bytes", "mystery|driver.sys")
    assert case.find("failure") is None
    assert case.find("error").get("type") == "rule.contract"


def test_control_characters_and_ansi_are_stripped(tmp_path: Path) -> None:
    nasty = Check(
        metric="nonpaged_impacting_bytes",
        driver="bad\x01.sys",
        outcome=Outcome.FAIL,
        observed=2048,
        limit=1024,
        message="\x1b[31mred\x1b[0m and \x01 bell\x07 done",
        owner="team\x1b[1m",
    )
    verdict = Verdict([nasty], [], "whole trace", "max", [], None, "0")
    xml = render_junit(verdict)
    for bad in ("\x1b", "\x01", "\x07", "[31m", "[0m", "[1m"):
        assert bad not in xml
    ET.fromstring(xml.encode("utf-8"))  # stdlib parser rejects any illegal character
    report = _parse_junitparser(xml, tmp_path)
    case = next(iter(next(iter(report))))
    assert case.name == "bad.sys"
    assert "red and  bell done" not in case.result[0].message  # whitespace folded
    assert "red and bell done" in case.result[0].message
    assert _cases(xml)[0].get("owner") == "team"


def test_message_is_capped(verdict: Verdict) -> None:
    long = Check(
        metric="nonpaged_impacting_bytes",
        driver="long.sys",
        outcome=Outcome.FAIL,
        observed=2048,
        limit=1024,
        message="word " * 1000,
    )
    xml = render_junit(Verdict([long], [], "whole trace", "max", [], None, "0"))
    message = _cases(xml)[0].find("failure").get("message")
    assert len(message) <= 500
    assert message.endswith("…")


def test_empty_verdict_is_still_valid_xml() -> None:
    xml = render_junit(Verdict([], [], "whole trace", "max", [], None, "0"))
    assert ET.fromstring(xml.encode("utf-8")).tag == "testsuites"


# write_reports / atomic writing: a CI publisher must never pick up half a report.


def test_write_reports_writes_each_report(verdict: Verdict, tmp_path: Path) -> None:
    junit, md, js = tmp_path / "r.xml", tmp_path / "r.md", tmp_path / "r.json"
    write_reports(verdict, junit=junit, markdown=md, json=js)
    assert junit.read_bytes() == render_junit(verdict).encode("utf-8")
    assert md.read_bytes() == render_markdown(verdict).encode("utf-8")
    assert js.read_bytes() == render_json(verdict).encode("utf-8")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["r.json", "r.md", "r.xml"]


def test_missing_folder_raises_and_creates_nothing(verdict: Verdict, tmp_path: Path) -> None:
    target = tmp_path / "missing" / "junit.xml"
    with pytest.raises(OutputError, match="missing"):
        write_reports(verdict, junit=target)
    assert not (tmp_path / "missing").exists()
    assert list(tmp_path.iterdir()) == []


def test_failed_replace_keeps_old_file_and_leaves_no_temp(
    verdict: Verdict, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    target = tmp_path / "junit.xml"
    target.write_text("old report", encoding="utf-8")

    def broken_replace(src: str, dst: str) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(atomic_module.os, "replace", broken_replace)
    with pytest.raises(OutputError) as raised:
        write_reports(verdict, junit=target)
    assert str(target) in str(raised.value)
    assert "No space left on device" in str(raised.value)
    assert target.read_text(encoding="utf-8") == "old report"
    assert os.listdir(tmp_path) == ["junit.xml"]


def test_failure_mid_write_leaves_nothing(
    verdict: Verdict, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken_fsync(fd: int) -> None:
        raise OSError(5, "Input/output error")

    monkeypatch.setattr(atomic_module.os, "fsync", broken_fsync)
    with pytest.raises(OutputError, match="Input/output error"):
        write_reports(verdict, json=tmp_path / "r.json")
    assert list(tmp_path.iterdir()) == []


def test_target_that_is_a_folder_is_refused(verdict: Verdict, tmp_path: Path) -> None:
    with pytest.raises(OutputError, match="folder"):
        write_reports(verdict, markdown=tmp_path)
