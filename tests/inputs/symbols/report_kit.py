"""One `gate check` through the CLI with every report written, read back for the symbol tests'
assertions: what each report says about a frame's function."""

from __future__ import annotations

import html
import json
from pathlib import Path
from xml.etree import ElementTree

from typer.testing import CliRunner

from gate.cli import app

runner = CliRunner()


def check_reports(tmp_path: Path, boot: Path, budgets: Path, *symbols: str) -> dict[str, object]:
    """Console, JSON, JUnit, Markdown and HTML (unescaped) of a check that must fail."""
    args = ["check", str(boot), "-b", str(budgets), "--annotations", "none"]
    for s in symbols:
        args += ["--symbols", s]
    out = {k: tmp_path / f"report.{k}" for k in ("json", "xml", "md", "html")}
    args += ["--json", str(out["json"]), "--junit", str(out["xml"]), "--markdown", str(out["md"])]
    args += ["--html", str(out["html"])]
    result = runner.invoke(app, args)
    assert result.exit_code == 1, result.output
    return {
        "console": result.output,
        "json": json.loads(out["json"].read_text(encoding="utf-8")),
        "junit": ElementTree.parse(out["xml"]).getroot(),
        "markdown": out["md"].read_text(encoding="utf-8"),
        "html": html.unescape(out["html"].read_text(encoding="utf-8")),
    }


def check_of(report: dict[str, object], driver: str, metric: str) -> dict[str, object]:
    checks = report["json"]["checks"]  # type: ignore[index]
    return next(c for c in checks if c["driver"] == driver and c["metric"] == metric)


def failure_text(report: dict[str, object], driver: str, metric: str) -> tuple[str, str]:
    """The JUnit failure's message and body for a driver's metric."""
    root = report["junit"]
    for case in root.iter("testcase"):  # type: ignore[union-attr]
        if case.get("name", "").startswith(driver) and metric in case.get("classname", ""):
            failure = case.find("failure")
            assert failure is not None
            return failure.get("message", ""), failure.text or ""
    raise AssertionError(f"no testcase for {driver} {metric}")
