"""Reading a baseline: a round trip keeps every figure; hostile or corrupt files give one
BaselineError line that names the file and the key or place."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from gate.budgets.baseline import (
    Baseline,
    EvidenceRest,
    EvidenceRow,
    MetricEvidence,
    read_baseline,
    write_baseline,
)
from gate.errors import BaselineError


def _doc(**drivers: object) -> dict:
    return {"format": "gate-baseline", "version": 1, "drivers": drivers}


def _error(tmp_path: Path, content: str | bytes) -> str:
    path = tmp_path / "base.json"
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content, encoding="utf-8")
    with pytest.raises(BaselineError) as caught:
        read_baseline(path)
    message = str(caught.value)
    assert "\n" not in message
    return message.replace(str(path), "base.json")


def test_round_trip_keeps_figures_and_provenance(tmp_path: Path) -> None:
    written = Baseline(
        drivers={"acpi.sys": {"nonpaged_impacting_bytes": 4096.0}, "(total)": {"x": -2.5}},
        traces=[{"source": "boot.etl", "sha256": "ab", "format": "etl"}],
        window="0s..30s",
        aggregate="max",
        source="",
        created_utc="2026-01-01T00:00:00Z",
        gate_version="9.9",
    )
    path = tmp_path / "base.json"
    write_baseline(path, written)
    read = read_baseline(path)
    assert read.drivers == written.drivers
    assert read.traces == written.traces
    assert (read.window, read.aggregate, read.created_utc, read.gate_version) == (
        "0s..30s",
        "max",
        "2026-01-01T00:00:00Z",
        "9.9",
    )
    assert read.source == str(path)


@pytest.mark.parametrize("digits", [400, 5000])
def test_integers_of_hundreds_or_thousands_of_digits_are_refused(
    tmp_path: Path, digits: int
) -> None:
    text = json.dumps(_doc(**{"a.sys": {"m": 0}})).replace('"m": 0', '"m": ' + "9" * digits)
    assert _error(tmp_path, text) == (
        f"base.json: key 'drivers.a.sys.m': an integer of {digits:,} digits is too large"
    )


@pytest.mark.parametrize(
    ("value", "got"),
    [(2**63, "9223372036854775808"), (True, "True"), ("12", "str"), (None, "None")],
)
def test_values_outside_the_metric_range_are_refused(
    tmp_path: Path, value: object, got: str
) -> None:
    text = json.dumps(_doc(**{"a.sys": {"m": value}}))
    assert _error(tmp_path, text) == (
        f"base.json: key 'drivers.a.sys.m': expected a number below 2**63, got {got}"
    )


def test_infinity_and_overflowing_floats_are_refused(tmp_path: Path) -> None:
    text = json.dumps(_doc(**{"a.sys": {"m": 0}})).replace('"m": 0', '"m": 1e999')
    assert _error(tmp_path, text) == (
        "base.json: key 'drivers.a.sys.m': expected a number below 2**63, got inf"
    )


def test_nesting_1200_deep_names_its_place(tmp_path: Path) -> None:
    text = '{"format": "gate-baseline",\n "x": ' + "[" * 1200 + "]" * 1200 + "}"
    assert _error(tmp_path, text) == "base.json:2:22: nested more than 16 levels deep"


def test_brackets_inside_strings_do_not_count_as_nesting(tmp_path: Path) -> None:
    path = tmp_path / "base.json"
    path.write_text(json.dumps(_doc(**{"[" * 50 + '"{': {"m": 1}})), encoding="utf-8")
    assert read_baseline(path).drivers == {"[" * 50 + '"{': {"m": 1.0}}


def test_invalid_utf8_names_its_byte_offset(tmp_path: Path) -> None:
    content = b'{"format": "gate-baseline", "drivers": {"caf\xe9.sys": {}}}'
    assert _error(tmp_path, content) == "base.json: not UTF-8 text (byte offset 44)"


def test_a_lone_surrogate_in_a_driver_name_is_refused(tmp_path: Path) -> None:
    text = json.dumps(_doc(**{"a\ud800.sys": {"m": 1}}))
    assert _error(tmp_path, text) == (
        "base.json: key 'drivers.a\\ud800.sys': a name that holds U+D800, which is not a "
        "character a report can show"
    )


def test_provenance_that_cannot_be_shown_is_dropped(tmp_path: Path) -> None:
    doc = _doc(**{"a.sys": {"m": 1}})
    doc |= {"window": {"x": 1}, "aggregate": "\ud800", "traces": [{"source": 5}, 7]}
    path = tmp_path / "base.json"
    path.write_text(json.dumps(doc), encoding="utf-8")
    read = read_baseline(path)
    assert (read.window, read.aggregate, read.traces) == ("", "", [{"source": ""}])


def test_wrong_shapes_and_versions(tmp_path: Path) -> None:
    assert _error(tmp_path, "[]") == (
        "base.json: not a gate baseline (format is not 'gate-baseline')"
    )
    text = json.dumps({"format": "gate-baseline", "version": [1] * 99})
    assert _error(tmp_path, text) == (
        "base.json: baseline version list is not supported (this gate reads versions 1, 2)"
    )
    text = json.dumps({"format": "gate-baseline", "version": 1, "drivers": {"a.sys": 3}})
    assert _error(tmp_path, text) == "base.json: key 'drivers.a.sys': expected a mapping of metrics"
    assert _error(tmp_path, '{"format": "gate-baseline",') == (
        "base.json:1:28: not valid JSON: Expecting property name enclosed in double quotes"
    )


def _v2(evidence: object) -> str:
    doc = {
        "format": "gate-baseline",
        "version": 2,
        "drivers": {"a.sys": {"nonpaged_impacting_bytes": 10}},
        "settings": {"window": "whole trace"},
        "evidence": evidence,
    }
    return json.dumps(doc)


def test_round_trip_keeps_settings_and_evidence(tmp_path: Path) -> None:
    evidence = {
        "a.sys": {
            "nonpaged_impacting_bytes": MetricEvidence(
                sites=(EvidenceRow("a.sys!Init", 4096, 2), EvidenceRow("a.sys+0x10", -512, 1)),
                tags=(EvidenceRow("Abcd", 3584, 3),),
                rest_sites=EvidenceRest(100, 4, 2),
                rest_tags=EvidenceRest(),
            )
        }
    }
    written = Baseline(
        drivers={"a.sys": {"nonpaged_impacting_bytes": 3684.0}},
        traces=[],
        window="whole trace",
        aggregate="max",
        source="",
        settings={"window": "whole trace", "attribution": {"skip_modules": ["x.sys"]}},
        evidence=evidence,
    )
    path = tmp_path / "base.json"
    write_baseline(path, written)
    read = read_baseline(path)
    assert read.version == 2
    assert read.settings == written.settings
    assert read.evidence == evidence


def test_a_version_1_file_has_no_settings_or_evidence(tmp_path: Path) -> None:
    path = tmp_path / "base.json"
    path.write_text(json.dumps(_doc(**{"a.sys": {"m": 1}})))
    read = read_baseline(path)
    assert (read.version, read.settings, read.evidence) == (1, None, None)


@pytest.mark.parametrize(
    ("evidence", "message"),
    [
        ([], "base.json: key 'evidence': expected a mapping of driver to metrics"),
        ({"a.sys": []}, "base.json: key 'evidence.a.sys': expected a mapping of metrics"),
        ({"a.sys": {"m": 1}}, "base.json: key 'evidence.a.sys.m': expected sites, tags and rest"),
        (
            {"a.sys": {"m": {"sites": [{"name": 1}]}}},
            "base.json: key 'evidence.a.sys.m.sites[0]': expected name, bytes, allocations",
        ),
        (
            {"a.sys": {"m": {"sites": [{"name": "x", "bytes": "1", "allocations": 1}]}}},
            "base.json: key 'evidence.a.sys.m.sites[0].bytes': expected a number below 2**63, "
            "got str",
        ),
        (
            {"a.sys": {"m": {"tags": [{"name": "x", "bytes": 1, "allocations": 1}] * 1001}}},
            "base.json: key 'evidence.a.sys.m.tags': expected a list of at most 1000 rows",
        ),
        (
            {"a.sys": {"m": {"rest": {"sites": {"bytes": 2**70}}}}},
            "base.json: key 'evidence.a.sys.m.rest.sites.bytes': expected a number below 2**63",
        ),
        (
            {"a\x01.sys": {}},
            "base.json: key 'evidence.a\\x01.sys': a name that holds U+0001",
        ),
    ],
)
def test_hostile_evidence_is_one_line(tmp_path: Path, evidence: object, message: str) -> None:
    assert message in _error(tmp_path, _v2(evidence))
