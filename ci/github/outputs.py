"""Turn a finished `gate check` into step outputs and the job summary of a GitHub Actions step.

Used by action.yml, run by the Python the gate is installed in (standard library only, any OS).
Reads the JSON report (`gate-report`, version 1) for the counts, decides the verdict from the
gate's exit code, writes `name=value` lines to $GITHUB_OUTPUT and appends the Markdown summary
to $GITHUB_STEP_SUMMARY.

Verdict: `error` for exit code 2 or anything but 0 and 1 (interrupted, crashed), and for exit
code 1 without a report (a crash exits 1 too, and a real failure always writes its reports);
`fail` for 1; `warn` for 0 with warnings; `pass` otherwise.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import uuid
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

OUTCOMES = ("pass", "notice", "not_evaluated", "waived", "warn", "fail", "error")

# GitHub refuses a step summary over 1 MiB (the job still passes, the summary is lost), so a
# longer Markdown report is cut at a line end below this and says where the rest is.
SUMMARY_LIMIT = 1024 * 1024 - 4096


def read_report(path: Path | None) -> dict[str, Any] | None:
    """The JSON report's document, or None when it is absent or not a gate report."""
    if path is None or not path.is_file():
        return None
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(document, dict) or document.get("format") != "gate-report":
        return None
    return document


def verdict_of(exit_code: int, report: Mapping[str, Any] | None) -> str:
    """pass, warn, fail or error (see the module text)."""
    if exit_code == 1 and report is not None:
        return "fail"
    if exit_code != 0:
        return "error"
    if report is not None and _count(report, "warn") > 0:
        return "warn"
    return "pass"


def _count(report: Mapping[str, Any], outcome: str) -> int:
    summary = report.get("summary")
    value = summary.get(outcome, 0) if isinstance(summary, dict) else 0
    return value if isinstance(value, int) else 0


def outputs_for(
    exit_code: int, report: Mapping[str, Any] | None, paths: Mapping[str, Path | None]
) -> dict[str, str]:
    """Every step output: verdict, exit code, counts per outcome, report paths."""
    values = {"verdict": verdict_of(exit_code, report), "exit-code": str(exit_code)}
    for outcome in OUTCOMES:
        values[f"{outcome.replace('_', '-')}-count"] = str(_count(report or {}, outcome))
    checks = report.get("checks") if report is not None else None
    values["check-count"] = str(len(checks) if isinstance(checks, list) else 0)
    for name, path in paths.items():
        values[name] = str(path.resolve()) if path is not None and path.is_file() else ""
    return values


def write_outputs(target: Path, values: Mapping[str, str]) -> None:
    """Append `values` to the $GITHUB_OUTPUT file, multi-line values with a delimiter."""
    with target.open("a", encoding="utf-8", newline="\n") as handle:
        for name, value in values.items():
            if "\n" in value or "\r" in value:
                delimiter = f"gate_{uuid.uuid4().hex}"
                handle.write(f"{name}<<{delimiter}\n{value}\n{delimiter}\n")
            else:
                handle.write(f"{name}={value}\n")


def summary_text(markdown: Path | None, exit_code: int) -> str:
    """What the step summary gets: the Markdown report (cut below GitHub's limit), or one
    line saying that none was written."""
    if markdown is None or not markdown.is_file():
        return (
            f"**Driver memory gate**: no summary was written (exit code {exit_code}); "
            "the step's log names the problem.\n"
        )
    text = markdown.read_text(encoding="utf-8", errors="replace")
    data = text.encode("utf-8")
    if len(data) <= SUMMARY_LIMIT:
        return text if text.endswith("\n") else text + "\n"
    head = data[:SUMMARY_LIMIT].decode("utf-8", errors="ignore")
    head = head[: head.rfind("\n") + 1] if "\n" in head else head
    return (
        f"{head}\n> The summary is cut here: GitHub shows at most 1 MiB. The whole of it is "
        f"{markdown.name} among the reports.\n"
    )


def _optional_path(text: str) -> Path | None:
    return Path(text) if text else None


def _parse(argv: Sequence[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--exit-code", type=int, required=True)
    for name in ("json", "markdown", "junit", "html"):
        parser.add_argument(f"--{name}", type=_optional_path, default=None)
    parser.add_argument("--summary", choices=("true", "false"), default="true")
    return parser.parse_args(argv)


def main(argv: Sequence[str], env: Mapping[str, str]) -> int:
    """Command-line entry; the files come from the runner's GITHUB_OUTPUT and
    GITHUB_STEP_SUMMARY variables."""
    args = _parse(argv)
    paths = {"junit": args.junit, "markdown": args.markdown, "json": args.json, "html": args.html}
    report = read_report(paths["json"])
    values = outputs_for(args.exit_code, report, paths)
    if env.get("GITHUB_OUTPUT"):
        write_outputs(Path(env["GITHUB_OUTPUT"]), values)
    if args.summary == "true" and env.get("GITHUB_STEP_SUMMARY"):
        with Path(env["GITHUB_STEP_SUMMARY"]).open("a", encoding="utf-8") as handle:
            handle.write(summary_text(paths["markdown"], args.exit_code))
    sys.stdout.write(
        f"driver memory gate: {values['verdict']} (exit code {args.exit_code}; "
        f"{values['fail-count']} failed, {values['warn-count']} warnings, "
        f"{values['error-count']} errors of {values['check-count']} checks)\n"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:], os.environ))
