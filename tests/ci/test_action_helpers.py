"""The action's two helpers: splitting inputs into arguments, and step outputs from a report."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from composite_runner import read_outputs
from scenario_kit import REPO


def _load(name: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(
        f"action_{name}", REPO / "ci" / "github" / f"{name}.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


words = _load("words")
outputs = _load("outputs")


# --- words.py ----------------------------------------------------------------------------------


def test_words_split_at_whitespace_with_quotes_and_backslashes_kept() -> None:
    assert words.split_words("--window 0s..30s  \"a b\"\n--x='c d' C:\\traces\\b.etl") == [
        "--window",
        "0s..30s",
        "a b",
        "--x=c d",
        "C:\\traces\\b.etl",
    ]
    assert words.split_words("") == []
    assert words.split_words("# not a comment") == ["#", "not", "a", "comment"]


def test_an_unclosed_quote_is_a_problem() -> None:
    with pytest.raises(words.InputProblem, match="cannot split"):
        words.split_words('--window "0s..30s')


def test_traces_globs_expand_sorted_and_recursive_plain_paths_pass(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in ("b/boot2.etl", "b/boot1.etl", "b/deep/boot3.etl", "wpa/Pool.csv"):
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text("x")
    monkeypatch.chdir(tmp_path)
    assert words.expand_traces("b/*.etl\nwpa missing.etl") == [
        "b/boot1.etl",
        "b/boot2.etl",
        "wpa",
        "missing.etl",
    ]
    assert words.expand_traces("b/**/*.etl") == ["b/boot1.etl", "b/boot2.etl", "b/deep/boot3.etl"]


def test_traces_that_match_nothing_or_are_empty_are_problems(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    with pytest.raises(words.InputProblem, match=r"the pattern 'x/\*\.etl' matches no file"):
        words.expand_traces("x/*.etl")
    with pytest.raises(words.InputProblem, match="names no trace"):
        words.expand_traces(" \n ")


def test_words_main_prints_nul_separated_or_one_error_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    assert words.main(["args", "-b 'a b.yaml'"]) == 0
    assert capsys.readouterr().out == "-b\0a b.yaml\0"
    assert words.main(["traces", "100%/*.etl"]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err == (
        "::error title=driver memory gate::traces: the pattern '100%25/*.etl' matches no file\n"
    )
    assert words.main(["other", "x"]) == 2
    assert "usage" in capsys.readouterr().err


# --- outputs.py --------------------------------------------------------------------------------


def _report(tmp_path: Path, **summary: int) -> Path:
    counts = dict.fromkeys(outputs.OUTCOMES, 0)
    counts.update(summary)
    path = tmp_path / "report.json"
    document: dict[str, Any] = {
        "format": "gate-report",
        "version": 1,
        "exit_code": 0,
        "summary": counts,
        "checks": [{}] * sum(counts.values()),
    }
    path.write_text(json.dumps(document), encoding="utf-8")
    return path


@pytest.mark.parametrize(
    ("code", "has_report", "warnings", "verdict"),
    [
        (0, True, 0, "pass"),
        (0, True, 2, "warn"),
        (0, False, 0, "pass"),
        (1, True, 0, "fail"),
        (1, False, 0, "error"),  # a crash exits 1 and writes no report
        (2, True, 0, "error"),
        (2, False, 0, "error"),
        (130, False, 0, "error"),
    ],
)
def test_the_verdict(
    tmp_path: Path, code: int, has_report: bool, warnings: int, verdict: str
) -> None:
    report = outputs.read_report(_report(tmp_path, warn=warnings)) if has_report else None
    assert outputs.verdict_of(code, report) == verdict


def test_a_report_that_is_not_a_gate_report_is_no_report(tmp_path: Path) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text('{"format": "other"}', encoding="utf-8")
    cut = tmp_path / "cut.json"
    cut.write_text('{"format": "gate-rep', encoding="utf-8")
    listed = tmp_path / "list.json"
    listed.write_text("[1, 2]", encoding="utf-8")
    for path in (bad, cut, listed, tmp_path / "absent.json", None):
        assert outputs.read_report(path) is None


def test_main_writes_every_output_and_the_summary(tmp_path: Path) -> None:
    report = _report(tmp_path, **{"pass": 5, "warn": 1, "fail": 2, "not_evaluated": 1})
    markdown = tmp_path / "summary.md"
    markdown.write_text("## Driver memory gate\n\nFAIL", encoding="utf-8")
    out, summary = tmp_path / "out", tmp_path / "step-summary"
    env = {"GITHUB_OUTPUT": str(out), "GITHUB_STEP_SUMMARY": str(summary)}
    argv = ["--exit-code", "1", "--json", str(report), "--markdown", str(markdown)]
    assert outputs.main([*argv, "--junit", "", "--html", str(tmp_path / "none.html")], env) == 0
    assert read_outputs(out) == {
        "verdict": "fail",
        "exit-code": "1",
        "pass-count": "5",
        "notice-count": "0",
        "not-evaluated-count": "1",
        "waived-count": "0",
        "warn-count": "1",
        "fail-count": "2",
        "error-count": "0",
        "check-count": "9",
        "junit": "",
        "markdown": str(markdown.resolve()),
        "json": str(report.resolve()),
        "html": "",
    }
    assert summary.read_text(encoding="utf-8") == "## Driver memory gate\n\nFAIL\n"


def test_no_summary_when_asked_not_to(tmp_path: Path) -> None:
    summary = tmp_path / "step-summary"
    env = {"GITHUB_STEP_SUMMARY": str(summary)}
    assert outputs.main(["--exit-code", "2", "--summary", "false"], env) == 0
    assert not summary.exists()


def test_a_summary_over_githubs_limit_is_cut_at_a_line_end(tmp_path: Path) -> None:
    markdown = tmp_path / "gate-summary.md"
    line = "| driver.sys | 1.00 MiB | fail |\n"
    markdown.write_text(line * (outputs.SUMMARY_LIMIT // len(line) + 100), encoding="utf-8")
    text = outputs.summary_text(markdown, 1)
    assert len(text.encode("utf-8")) < 1024 * 1024
    body, note = text.rsplit("\n\n", 1)
    assert (body + "\n").count(line) == outputs.SUMMARY_LIMIT // len(line)
    assert note == (
        "> The summary is cut here: GitHub shows at most 1 MiB. The whole of it is "
        "gate-summary.md among the reports.\n"
    )


def test_multiline_values_use_a_delimiter(tmp_path: Path) -> None:
    out = tmp_path / "out"
    outputs.write_outputs(out, {"a": "one", "b": "two\nlines"})
    assert read_outputs(out) == {"a": "one", "b": "two\nlines"}
    assert out.read_text(encoding="utf-8").startswith("a=one\nb<<gate_")
