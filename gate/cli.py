"""The `gate` command line: options parsed, `gate.pipeline` called, results printed.

This is the only module that prints and picks exit codes, and the only one it calls is
`gate.pipeline`. Every GateError becomes one message per problem on stderr and exit code 2;
a budget failure is exit code 1.

Exit codes of `gate check` and `gate demo`:
  0  nothing failed (warnings allowed, unless --warn-as-error)
  1  a driver or total is over its budget or beyond baseline tolerance
  2  bad input, bad budgets, a broken rule, or a trace that cannot be trusted
"""

from __future__ import annotations

import os
import shutil
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, TypeVar

import typer

from gate import __version__
from gate.errors import BudgetError, GateError

if TYPE_CHECKING:
    from gate.pipeline import ReportPaths, Verdict

app = typer.Typer(
    name="gate",
    help=(
        "CI regression gate for Windows driver memory budgets.\n\n"
        "Reads WPR boot traces (.etl) without Windows tools, computes per-driver non-paged "
        "impacting pool, transient peaks and active code bytes, judges them against YAML "
        "budgets and a baseline, and writes JUnit, Markdown and JSON reports.\n\n"
        "Exit codes: 0 nothing failed (warnings allowed), 1 a budget failed, 2 bad input, "
        "budgets or rules."
    ),
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
budgets_app = typer.Typer(help="Validate or propose budget files.", no_args_is_help=True)
baseline_app = typer.Typer(
    help="Record baseline figures from reference traces.", no_args_is_help=True
)
app.add_typer(budgets_app, name="budgets")
app.add_typer(baseline_app, name="baseline")

T = TypeVar("T")


def _fail(message: str, code: int = 2) -> typer.Exit:
    for line in message.splitlines() or [message]:
        typer.echo(f"gate: error: {line}", err=True)
    return typer.Exit(code)


def _guard(fn: Callable[[], T]) -> T:
    """Run a command body, turning the gate's errors into messages and exit code 2."""
    try:
        return fn()
    except BudgetError as exc:
        raise _fail("\n".join(exc.problems)) from None
    except GateError as exc:
        raise _fail(str(exc)) from None
    except KeyboardInterrupt:
        typer.echo("gate: interrupted", err=True)
        raise typer.Exit(130) from None
    except Exception as exc:
        if not _interrupted_query(exc):
            raise
        typer.echo("gate: interrupted", err=True)
        raise typer.Exit(130) from None


def _interrupted_query(exc: Exception) -> bool:
    """Ctrl-C while DuckDB runs a query surfaces as its own error, not KeyboardInterrupt; it
    must not end as a traceback with exit code 1, which means "over budget"."""
    return type(exc).__name__ == "InterruptException" or (
        isinstance(exc, RuntimeError) and str(exc) == "Query interrupted"
    )


def _version(value: bool) -> None:
    if value:
        typer.echo(f"gate {__version__}")
        raise typer.Exit(0)


@app.callback()
def main_callback(
    version: Annotated[
        bool, typer.Option("--version", callback=_version, is_eager=True, help="Print the version.")
    ] = False,
) -> None:
    """CI regression gate for Windows driver memory budgets."""


# --- shared options -----------------------------------------------------------------------------

InputsArg = Annotated[
    list[Path],
    typer.Argument(
        help="Boot traces: .etl files, gate normalized folders or scenario .yaml files.",
        show_default=False,
    ),
]
BudgetsOpt = Annotated[
    list[Path] | None,
    typer.Option(
        "--budgets", "-b", help="Budget YAML file; repeat for several.", show_default=False
    ),
]
WindowOpt = Annotated[
    str | None,
    typer.Option(
        "--window",
        help="Evaluation window, e.g. 0s..30s (overrides the budgets').",
        show_default=False,
    ),
]
AggregateOpt = Annotated[
    str | None,
    typer.Option(
        "--aggregate",
        help="Across traces: max, median, mean or min (overrides the budgets').",
        show_default=False,
    ),
]
PooltagOpt = Annotated[
    list[Path] | None,
    typer.Option(
        "--pooltag", help="A pooltag.txt mapping tags to drivers; repeatable.", show_default=False
    ),
]
DbOpt = Annotated[
    Path | None,
    typer.Option(
        "--db", help="Keep the DuckDB database in this file for later queries.", show_default=False
    ),
]


class _ProgressBar:
    """A one-line bar on stderr while a long trace is read; only on an interactive terminal."""

    def __init__(self, path: Path) -> None:
        self.label = path.name
        self.shown = 0.0

    def __call__(self, done: int, total: int) -> None:
        now = time.monotonic()
        if done < total and now - self.shown < 0.2:
            return
        self.shown = now
        share = done / total if total else 1.0
        filled = int(share * 30)
        sys.stderr.write(
            f"\rreading {self.label} [{'#' * filled}{'.' * (30 - filled)}] {share:4.0%} "
            f"{done / 2**20:,.0f}/{total / 2**20:,.0f} MiB"
        )
        if done >= total:
            sys.stderr.write("\n")
        sys.stderr.flush()


def _progress(path: Path) -> _ProgressBar | None:
    # CI logs are not terminals: they get no bar, only the results.
    return _ProgressBar(path) if sys.stderr.isatty() else None


def _speed_hints(inputs: list[Path]) -> None:
    """One line on stderr, before a long wait, for each large compressed trace that will be
    decompressed in pure Python (no `fast` extra, not Windows)."""
    from gate.pipeline import slow_decompression_inputs

    for path in slow_decompression_inputs(inputs):
        typer.echo(
            f"gate: note: {path} is compressed and the 'fast' extra is not installed: it "
            "decompresses at about 5 MB/s; python -m pip install 'gate[fast]' reads it "
            "about ten times faster",
            err=True,
        )


def _color() -> bool:
    return sys.stdout.isatty() and "NO_COLOR" not in os.environ


def _render_and_write(verdict: Verdict, reports: ReportPaths) -> None:
    from gate.pipeline import publish, render_console

    publish(verdict, reports)
    width = shutil.get_terminal_size((120, 40)).columns
    typer.echo(render_console(verdict, color=_color(), width=width), nl=False)
    for label, path in reports.written():
        typer.echo(f"{label} report: {path}")


# --- commands -----------------------------------------------------------------------------------


@app.command()
def check(
    inputs: InputsArg,
    budgets: BudgetsOpt = None,
    baseline: Annotated[
        Path | None,
        typer.Option(
            "--baseline",
            help="Baseline JSON written by 'gate baseline update'.",
            show_default=False,
        ),
    ] = None,
    baseline_trace: Annotated[
        list[Path] | None,
        typer.Option(
            "--baseline-trace",
            help="A trace of the reference build to compare against; repeatable.",
            show_default=False,
        ),
    ] = None,
    window: WindowOpt = None,
    aggregate: AggregateOpt = None,
    pooltag: PooltagOpt = None,
    junit: Annotated[
        Path | None,
        typer.Option("--junit", help="Write a JUnit XML report here.", show_default=False),
    ] = None,
    markdown: Annotated[
        Path | None,
        typer.Option(
            "--markdown",
            help="Write a Markdown summary here (e.g. $GITHUB_STEP_SUMMARY).",
            show_default=False,
        ),
    ] = None,
    json_out: Annotated[
        Path | None, typer.Option("--json", help="Write a JSON report here.", show_default=False)
    ] = None,
    junit_strict: Annotated[
        bool,
        typer.Option(
            "--junit-strict",
            help="Leave out the testcase file, line and owner attributes, for JUnit consumers "
            "that validate against the Jenkins xUnit schema.",
        ),
    ] = False,
    rules: Annotated[
        Path | None,
        typer.Option(
            "--rules", help="A folder of extra rule .sql files to run.", show_default=False
        ),
    ] = None,
    warn_as_error: Annotated[
        bool, typer.Option("--warn-as-error", help="Treat warnings as failures (exit 1).")
    ] = False,
    db: DbOpt = None,
    today: Annotated[
        str | None, typer.Option("--today", hidden=True, help="Date for waiver expiry (tests).")
    ] = None,
) -> None:
    """Judge traces against budgets and a baseline; exit 1 when a driver is over budget."""
    from gate.pipeline import CheckRequest, ReportPaths, require_budgets, settings_from_options
    from gate.pipeline import check as run_check

    def body() -> int:
        settings = settings_from_options(budgets, window, aggregate, pooltag, db, today)
        require_budgets(settings.budgets)
        _speed_hints(inputs)
        verdict = run_check(
            CheckRequest(
                inputs=inputs,
                settings=settings,
                baseline_file=baseline,
                baseline_traces=list(baseline_trace or []),
                rules_dir=rules,
                warn_as_error=warn_as_error,
            ),
            progress=_progress,
        )
        _render_and_write(verdict, ReportPaths(junit, markdown, json_out, junit_strict))
        return int(verdict.exit_code)

    raise typer.Exit(_guard(body))


@app.command()
def ingest(
    inputs: InputsArg,
    out: Annotated[Path, typer.Option("--out", "-o", help="Folder to write (replaced whole).")],
) -> None:
    """Read traces and write them as one normalized folder (Parquet tables plus a manifest)."""
    from gate.pipeline import ingest as run_ingest

    def body() -> None:
        _speed_hints(inputs)
        counts = run_ingest(inputs, out, progress=_progress)
        typer.echo(
            f"wrote {out}: {counts['traces']} trace(s), {counts['pool_allocations']:,} pool "
            f"allocations, {counts['images']:,} images, {counts['stack_frames']:,} stack frames"
        )

    _guard(body)


@app.command()
def inspect(
    trace: Annotated[Path, typer.Argument(help="An .etl trace.", show_default=False)],
) -> None:
    """Show what a trace holds: OS, pointer size, duration, CPUs, events per kind, drivers."""

    def body() -> None:
        from gate.pipeline import inspect as run_inspect

        typer.echo(run_inspect(trace, progress=_progress), nl=False)

    _guard(body)


@app.command()
def demo(
    out: Annotated[Path, typer.Option("--out", help="Folder for the three reports.")] = Path("."),
) -> None:
    """Run the whole job on the bundled synthetic sample; exits 1 (the sample has a failure)."""
    from gate.pipeline import check as run_check
    from gate.pipeline import demo_request

    def body() -> int:
        request, reports, title = demo_request(out)
        typer.echo(title)
        out.mkdir(parents=True, exist_ok=True)
        verdict = run_check(request)
        _render_and_write(verdict, reports)
        return int(verdict.exit_code)

    raise typer.Exit(_guard(body))


@budgets_app.command("check")
def budgets_check(
    paths: Annotated[list[Path], typer.Argument(help="Budget YAML files.", show_default=False)],
) -> None:
    """Validate budget files; print every problem with file:line:column."""
    from gate.pipeline import settings_from_options

    def body() -> None:
        b = settings_from_options(list(paths), None, None, None, None).budgets
        typer.echo(
            f"ok: {len(paths)} file(s), {len(b.drivers)} driver budget(s)"
            f"{', a * default' if b.default else ''}, {len(b.totals)} total(s), "
            f"{len(b.waivers)} waiver(s)"
        )

    _guard(body)


@budgets_app.command("init")
def budgets_init(
    inputs: InputsArg,
    headroom: Annotated[
        str, typer.Option("--headroom", help="Room above measured figures.")
    ] = "20%",
    out: Annotated[
        Path | None,
        typer.Option("--out", "-o", help="Write here instead of stdout.", show_default=False),
    ] = None,
    window: WindowOpt = None,
    aggregate: AggregateOpt = None,
    pooltag: PooltagOpt = None,
) -> None:
    """Propose a budget file from measured figures plus headroom."""
    from gate.pipeline import propose, settings_from_options, write_proposal

    def body() -> None:
        settings = settings_from_options(None, window, aggregate, pooltag, None)
        text, count = propose(inputs, settings, headroom)
        if out is None:
            typer.echo(text, nl=False)
        else:
            write_proposal(out, text)
            typer.echo(f"wrote {out}: {count} driver budget(s)")

    _guard(body)


@baseline_app.command("update")
def baseline_update(
    inputs: InputsArg,
    out: Annotated[Path, typer.Option("--out", "-o", help="Baseline JSON to write.")],
    budgets: BudgetsOpt = None,
    window: WindowOpt = None,
    aggregate: AggregateOpt = None,
    pooltag: PooltagOpt = None,
) -> None:
    """Measure reference traces and write their per-driver figures as baseline JSON."""
    from gate.pipeline import settings_from_options, update_baseline

    def body() -> None:
        settings = settings_from_options(budgets, window, aggregate, pooltag, None)
        b = update_baseline(inputs, settings, out)
        typer.echo(f"wrote {out}: {len(b.drivers)} driver(s) from {len(b.traces)} trace(s)")

    _guard(body)


def main() -> None:
    app()
