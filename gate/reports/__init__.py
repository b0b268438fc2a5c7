"""Reports: the verdict rendered for CI systems, people and machines.

Every renderer is a pure function of a `Verdict` that returns text and never prints;
`write_reports` is the one place that touches the file system.
"""

from __future__ import annotations

from pathlib import Path

from gate.fileio import write_text_atomic
from gate.reports.console import render_console
from gate.reports.html import render_html
from gate.reports.jsonreport import render_json
from gate.reports.junit import render_junit
from gate.reports.markdown import render_markdown
from gate.rules.results import Verdict

__all__ = [
    "render_console",
    "render_html",
    "render_json",
    "render_junit",
    "render_markdown",
    "write_reports",
    "write_text_atomic",
]


def write_reports(
    verdict: Verdict,
    *,
    junit: Path | None = None,
    markdown: Path | None = None,
    json: Path | None = None,
    html: Path | None = None,
    junit_schema_strict: bool = False,
) -> None:
    """Write each requested report atomically; raise `gate.errors.OutputError` on failure.

    `junit_schema_strict` leaves out the testcase attributes (file, line, owner) that the
    Jenkins xUnit schema does not declare, for consumers that validate against it.

    Everything is rendered before anything is written, so a renderer bug cannot leave one
    report new and another stale from a previous run.
    """
    pending: list[tuple[Path, str]] = []
    if junit is not None:
        pending.append((Path(junit), render_junit(verdict, schema_strict=junit_schema_strict)))
    if markdown is not None:
        link = None if html is None else _relative_name(Path(html), Path(markdown).parent)
        pending.append((Path(markdown), render_markdown(verdict, html_report=link)))
    if json is not None:
        pending.append((Path(json), render_json(verdict)))
    if html is not None:
        pending.append((Path(html), render_html(verdict)))
    for path, text in pending:
        write_text_atomic(path, text)


def _relative_name(path: Path, folder: Path) -> str:
    """`path` as seen from `folder` (the CI artifact keeps that layout), or its name alone
    when it is not below `folder`."""
    try:
        return path.absolute().relative_to(folder.absolute()).as_posix()
    except ValueError:
        return path.name
