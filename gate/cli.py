"""The `gate` command line: options parsed, `gate.pipeline` called, results printed.

This is the only module that prints and picks exit codes, and the only one it calls is
`gate.pipeline`. Every GateError becomes one message per problem on stderr and exit code 2;
a budget failure is exit code 1; Ctrl-C is 130 and SIGTERM (a CI system cancelling the job)
143, after the work in progress is undone (temporary files removed, no report half-written).

Exit codes of `gate check` and `gate demo`:
  0  nothing failed (warnings allowed, unless --warn-as-error)
  1  a driver or total is over its budget or beyond baseline tolerance
  2  bad input, bad budgets, a broken rule, or a trace that cannot be trusted
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, TypeVar

import typer

from gate import DISTRIBUTION, __version__
from gate.errors import BudgetError, GateError, TraceQualityError
from gate.units import parse_bytes

if TYPE_CHECKING:
    from gate.pipeline import ReportPaths, Verdict

_HELP = {"help_option_names": ["-h", "--help"]}
_INPUTS_TEXT = (
    "INPUT is a boot trace: an .etl file (uncompressed or compressed), a folder of WPA CSV "
    "exports (or one Pool / Resident Set .csv of it), a normalized folder written by 'gate "
    "ingest', or a scenario .yaml. Several inputs are several boot iterations of one build."
)

app = typer.Typer(
    name="gate",
    help=(
        "CI regression gate for Windows driver memory budgets.\n\n"
        "Reads WPR boot traces (.etl) and WPA CSV exports without Windows tools, computes per "
        "driver non-paged impacting pool, transient peaks and active code bytes, judges them "
        "against YAML budgets and a baseline, and writes JUnit, Markdown and JSON reports.\n\n"
        "First steps: gate inspect boot.etl; gate budgets init boot.etl -o budgets.yaml; "
        "gate check boot.etl -b budgets.yaml.\n\n"
        "Exit codes: 0 nothing failed (warnings allowed), 1 a budget failed, 2 bad input, "
        "budgets or rules."
    ),
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    context_settings=_HELP,
)
budgets_app = typer.Typer(
    help="Validate or propose budget files.", no_args_is_help=True, context_settings=_HELP
)
baseline_app = typer.Typer(
    help="Record baseline figures from reference traces.",
    no_args_is_help=True,
    context_settings=_HELP,
)
app.add_typer(budgets_app, name="budgets")
app.add_typer(baseline_app, name="baseline")

T = TypeVar("T")


class _Terminated(BaseException):
    """SIGTERM, raised in the main thread so that everything unwinds as for Ctrl-C."""


def _fail(message: str, code: int = 2) -> typer.Exit:
    for line in message.splitlines() or [message]:
        typer.echo(f"gate: error: {line}", err=True)
    return typer.Exit(code)


@contextlib.contextmanager
def _sigterm_unwinds() -> Iterator[None]:
    def on_term(signum: int, frame: Any) -> None:
        raise _Terminated

    try:
        previous = signal.signal(signal.SIGTERM, on_term)
    except ValueError:  # not the main thread (tests running commands on a thread)
        yield
        return
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def _guard(fn: Callable[[], T]) -> T:
    """Run a command body, turning the gate's errors into messages and exit code 2."""
    try:
        with _sigterm_unwinds():
            return fn()
    except (BudgetError, TraceQualityError) as exc:
        raise _fail("\n".join(exc.problems)) from None
    except GateError as exc:
        raise _fail(str(exc)) from None
    except KeyboardInterrupt:
        typer.echo("gate: interrupted", err=True)
        raise typer.Exit(130) from None
    except _Terminated:
        typer.echo("gate: terminated", err=True)
        raise typer.Exit(143) from None
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
        help=".etl traces, WPA CSV export folders or files, normalized folders, scenario .yaml.",
        metavar="INPUT...",
        show_default=False,
    ),
]
BudgetsOpt = Annotated[
    list[Path] | None,
    typer.Option(
        "--budgets",
        "-b",
        help="Budget YAML file (or a folder of them); repeat for several.",
        metavar="FILE",
        show_default=False,
    ),
]
WindowOpt = Annotated[
    str | None,
    typer.Option(
        "--window",
        help="Evaluation window in seconds from trace start, e.g. 0s..30s (overrides the "
        "budgets').",
        metavar="START..END",
        show_default=False,
    ),
]
AggregateOpt = Annotated[
    str | None,
    typer.Option(
        "--aggregate",
        help="Across several traces: max, median, mean or min (overrides the budgets').",
        metavar="NAME",
        show_default=False,
    ),
]
PooltagOpt = Annotated[
    list[Path] | None,
    typer.Option(
        "--pooltag",
        help="A pooltag.txt mapping tags to drivers; repeatable.",
        metavar="FILE",
        show_default=False,
    ),
]
SkipModuleOpt = Annotated[
    list[str] | None,
    typer.Option(
        "--skip-module",
        help="An image the stack walk looks past, as for the kernel (e.g. wdf01000.sys, which "
        "allocates for its client drivers); repeatable, added to the budgets' skip_modules.",
        metavar="IMAGE",
        show_default=False,
    ),
]
SymbolsOpt = Annotated[
    list[str] | None,
    typer.Option(
        "--symbols",
        help="Where the build's PDBs are: a folder (flat or a symbol store), or local parts of "
        "the _NT_SYMBOL_PATH syntax (srv*C:\\symbols; URLs are never used); repeatable. "
        "Frames then read driver.sys!Function.",
        metavar="PATH",
        show_default=False,
    ),
]
DbOpt = Annotated[
    Path | None,
    typer.Option(
        "--db",
        help="Keep this run's DuckDB database in this file for later queries (replaced whole).",
        metavar="FILE",
        show_default=False,
    ),
]


# --- progress -----------------------------------------------------------------------------------


class _ProgressBar:
    """A one-line bar on stderr while a long trace is read, on an interactive terminal."""

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


class _ProgressLines:
    """For CI logs (not a terminal): a line every few seconds of a long read, so the log
    says the job is working; short reads print nothing."""

    EVERY_S = 5.0

    def __init__(self, path: Path) -> None:
        self.label = str(path)
        self.started = self.shown = time.monotonic()

    def __call__(self, done: int, total: int) -> None:
        now = time.monotonic()
        if now - self.shown < self.EVERY_S:
            return
        self.shown = now
        share = done / total if total else 1.0
        sys.stderr.write(
            f"gate: reading {self.label}: {done / 2**20:,.0f} of {total / 2**20:,.0f} MiB "
            f"({share:.0%}) after {now - self.started:.0f} s\n"
        )
        sys.stderr.flush()


def _progress(path: Path) -> _ProgressBar | _ProgressLines:
    return _ProgressBar(path) if sys.stderr.isatty() else _ProgressLines(path)


def _speed_hints(inputs: list[Path]) -> None:
    """One line on stderr, before a long wait, for each compressed trace that will take more
    than a few seconds to decompress in pure Python (no `fast` extra, not Windows)."""
    from gate.pipeline import slow_decompression_inputs

    for path in slow_decompression_inputs(inputs):
        typer.echo(
            f"gate: note: {path} is compressed and the 'fast' extra is not installed: it "
            f"decompresses at 1-5 MB/s; python -m pip install '{DISTRIBUTION}[fast]' reads it "
            "ten times faster or more",
            err=True,
        )


def _warnings(lines: list[str]) -> None:
    for line in lines:
        typer.echo(f"gate: warning: {line}", err=True)


def _color() -> bool:
    return sys.stdout.isatty() and "NO_COLOR" not in os.environ


def _render_and_write(verdict: Verdict, reports: ReportPaths, annotations: str = "auto") -> None:
    from gate.pipeline import annotation_target, publish, render_annotations, render_console

    publish(verdict, reports)
    width = shutil.get_terminal_size((120, 40)).columns
    typer.echo(render_console(verdict, color=_color(), width=width), nl=False)
    for label, path in reports.written():
        typer.echo(f"{label} report: {path}")
    target = annotation_target(os.environ) if annotations == "auto" else annotations
    written = [str(path) for _, path in reports.written()]
    typer.echo(render_annotations(verdict, target, reports=written), nl=False)  # type: ignore[arg-type]


def _with_error_reports(
    reports: ReportPaths, inputs: list[Path], body: Callable[[], T]
) -> Callable[[], T]:
    """`body`, writing the requested reports as one error check when it stops on a GateError
    (exit 2), so that a CI step publishing JUnit shows the error rather than no results."""
    from gate.pipeline import publish_error

    def run() -> T:
        try:
            return body()
        except GateError as exc:
            problems = getattr(exc, "problems", None) or str(exc).splitlines()
            if reports.written():
                # The reports must not hide the error itself, whatever stops them.
                with contextlib.suppress(GateError):
                    publish_error(list(problems), reports, inputs)
            raise

    return run


# --- commands -----------------------------------------------------------------------------------


@app.command(epilog=_INPUTS_TEXT)
def check(
    inputs: InputsArg,
    budgets: BudgetsOpt = None,
    baseline: Annotated[
        Path | None,
        typer.Option(
            "--baseline",
            help="Baseline JSON written by 'gate baseline update'.",
            metavar="FILE",
            show_default=False,
        ),
    ] = None,
    baseline_trace: Annotated[
        list[Path] | None,
        typer.Option(
            "--baseline-trace",
            help="A trace of the reference build to compare against; repeatable.",
            metavar="INPUT",
            show_default=False,
        ),
    ] = None,
    allow_baseline_mismatch: Annotated[
        bool,
        typer.Option(
            "--allow-baseline-mismatch",
            help="Compare with a baseline recorded with another window, aggregate or "
            "attribution instead of refusing it; every report then says so.",
        ),
    ] = False,
    window: WindowOpt = None,
    aggregate: AggregateOpt = None,
    pooltag: PooltagOpt = None,
    skip_module: SkipModuleOpt = None,
    symbols: SymbolsOpt = None,
    junit: Annotated[
        Path | None,
        typer.Option(
            "--junit", help="Write a JUnit XML report here.", metavar="FILE", show_default=False
        ),
    ] = None,
    markdown: Annotated[
        Path | None,
        typer.Option(
            "--markdown",
            help="Write a Markdown summary here (e.g. $GITHUB_STEP_SUMMARY).",
            metavar="FILE",
            show_default=False,
        ),
    ] = None,
    json_out: Annotated[
        Path | None,
        typer.Option(
            "--json", help="Write a JSON report here.", metavar="FILE", show_default=False
        ),
    ] = None,
    html: Annotated[
        Path | None,
        typer.Option(
            "--html",
            help="Write one self-contained HTML page here: boot timelines, stack views and "
            "every figure (keep it as a build artifact).",
            metavar="FILE",
            show_default=False,
        ),
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
            "--rules",
            help="A folder of extra rule .sql files to run.",
            metavar="DIR",
            show_default=False,
        ),
    ] = None,
    warn_as_error: Annotated[
        bool,
        typer.Option("--warn-as-error", help="Warnings fail the run (exit 1), in every report."),
    ] = False,
    annotations: Annotated[
        str,
        typer.Option(
            "--annotations",
            help="Print CI annotations for the worst checks: github, azure or none; auto picks "
            "github under GitHub Actions, azure under Azure Pipelines.",
            metavar="KIND",
        ),
    ] = "auto",
    db: DbOpt = None,
    today: Annotated[
        str | None, typer.Option("--today", hidden=True, help="Date for waiver expiry (tests).")
    ] = None,
) -> None:
    """Judge traces against budgets and a baseline; exit 1 when a driver is over budget.

    Example: gate check boot1.etl boot2.etl -b budgets/drivers.yaml --baseline
    budgets/baseline.json --junit gate-junit.xml --markdown gate-summary.md
    """
    from gate.pipeline import CheckRequest, ReportPaths, require_budgets, settings_from_options
    from gate.pipeline import check as run_check

    reports = ReportPaths(junit, markdown, json_out, junit_strict, html)

    def body() -> int:
        if annotations not in ("auto", "github", "azure", "none"):
            raise BudgetError([f"--annotations {annotations!r}: expected github, azure or none"])
        settings = settings_from_options(
            budgets, window, aggregate, pooltag, db, today, skip_module, symbols
        )
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
                allow_baseline_mismatch=allow_baseline_mismatch,
            ),
            progress=_progress,
            reports=reports,
        )
        _render_and_write(verdict, reports, annotations)
        return int(verdict.exit_code)

    read = [*inputs, *(budgets or []), *(baseline_trace or []), *(pooltag or [])]
    read += [baseline] if baseline is not None else []
    raise typer.Exit(_guard(_with_error_reports(reports, read, body)))


@app.command(epilog=_INPUTS_TEXT)
def ingest(
    inputs: InputsArg,
    out: Annotated[
        Path,
        typer.Option("--out", "-o", help="Folder to write (replaced whole).", metavar="DIR"),
    ],
) -> None:
    """Read traces once and write them as one normalized folder (Parquet tables and a
    manifest) that every command reads faster than the traces.

    Example: gate ingest boot1.etl boot2.etl -o boots/
    """
    from gate.pipeline import ingest as run_ingest

    def body() -> None:
        _speed_hints(inputs)
        counts = run_ingest(inputs, out, progress=_progress)
        typer.echo(
            f"wrote {out}: {counts['traces']} trace(s), {counts['pool_allocations']:,} pool "
            f"allocations, {counts['images']:,} images, {counts['stack_frames']:,} stack frames"
        )

    _guard(body)


@app.command(epilog=_INPUTS_TEXT)
def explain(
    inputs: InputsArg,
    driver: Annotated[
        str,
        typer.Option(
            "--driver", "-d", help="The driver to explain, e.g. acpi.sys.", metavar="NAME"
        ),
    ],
    budgets: BudgetsOpt = None,
    window: WindowOpt = None,
    pooltag: PooltagOpt = None,
    skip_module: SkipModuleOpt = None,
    symbols: SymbolsOpt = None,
    depth: Annotated[
        int | None,
        typer.Option(
            "--depth",
            help="Show this many levels of functions below the driver's outermost frame.",
            metavar="N",
            min=1,
            show_default=False,
        ),
    ] = None,
    min_bytes: Annotated[
        str,
        typer.Option(
            "--min-bytes",
            help="Fold functions smaller than this into one line under their caller, e.g. 64KiB.",
            metavar="SIZE",
        ),
    ] = "0",
) -> None:
    """Show where a driver's non-paged pool comes from: its impacting allocations and those
    live at its transient peak, as trees of functions from the driver's outermost frame down
    to the allocating call, largest first (WPA's expanded Stack column). Budgets are optional:
    they give the window, attribution and symbols.

    Example: gate explain boot.etl --driver contosonet.sys -b budgets/drivers.yaml --symbols
    build/pdb --depth 6
    """
    from gate.pipeline import explain as run_explain
    from gate.pipeline import settings_from_options

    def body() -> None:
        try:
            floor = parse_bytes(min_bytes)
        except ValueError as exc:
            raise BudgetError([f"--min-bytes {exc}"]) from None
        settings = settings_from_options(
            budgets, window, None, pooltag, None, skip_modules=skip_module, symbols=symbols
        )
        _speed_hints(inputs)
        text = run_explain(
            inputs, settings, driver, depth=depth, min_bytes=floor, progress=_progress
        )
        typer.echo(text, nl=False)

    _guard(body)


@app.command()
def inspect(
    trace: Annotated[
        Path, typer.Argument(help="An .etl trace.", metavar="TRACE.etl", show_default=False)
    ],
) -> None:
    """Show what an .etl trace holds: OS, pointer size, duration, CPUs, compression, events
    per kind, lost events, stacks, PDB identities, resident set, drivers.

    Example: gate inspect boot.etl
    """

    def body() -> None:
        from gate.pipeline import inspect as run_inspect

        typer.echo(run_inspect(trace, progress=_progress), nl=False)

    _guard(body)


@app.command()
def demo(
    out: Annotated[
        Path, typer.Option("--out", help="Folder for the reports.", metavar="DIR")
    ] = Path("."),
) -> None:
    """Run the whole job on the bundled synthetic sample; exits 1 (the sample has a failure).

    Example: gate demo --out demo/
    """
    from gate.pipeline import check as run_check
    from gate.pipeline import demo_request

    def body() -> int:
        request, reports, title = demo_request(out)
        typer.echo(title)
        out.mkdir(parents=True, exist_ok=True)
        verdict = run_check(request, reports=reports)
        _render_and_write(verdict, reports)
        return int(verdict.exit_code)

    raise typer.Exit(_guard(body))


@budgets_app.command("check")
def budgets_check(
    paths: Annotated[
        list[Path],
        typer.Argument(
            help="Budget YAML files or folders of them.", metavar="FILE...", show_default=False
        ),
    ],
) -> None:
    """Validate budget files; print every problem with file:line:column.

    Example: gate budgets check budgets/
    """
    from gate.pipeline import settings_from_options

    def body() -> None:
        b = settings_from_options(list(paths), None, None, None, None).budgets
        typer.echo(
            f"ok: {len(paths)} file(s), {len(b.drivers)} driver budget(s)"
            f"{', a * default' if b.default else ''}, {len(b.totals)} total(s), "
            f"{len(b.waivers)} waiver(s)"
        )

    _guard(body)


@budgets_app.command("init", epilog=_INPUTS_TEXT)
def budgets_init(
    inputs: InputsArg,
    headroom: Annotated[
        str,
        typer.Option("--headroom", help="Room above the measured figures.", metavar="PERCENT"),
    ] = "20%",
    out: Annotated[
        Path | None,
        typer.Option(
            "--out",
            "-o",
            help="Write the budget file here instead of stdout.",
            metavar="FILE",
            show_default=False,
        ),
    ] = None,
    budgets: Annotated[
        list[Path] | None,
        typer.Option(
            "--budgets",
            "-b",
            help="An existing budget file whose window, aggregate and attribution the "
            "proposal measures with (and writes down); repeatable.",
            metavar="FILE",
            show_default=False,
        ),
    ] = None,
    window: WindowOpt = None,
    aggregate: AggregateOpt = None,
    pooltag: PooltagOpt = None,
    skip_module: SkipModuleOpt = None,
) -> None:
    """Propose a budget file from measured figures plus headroom, set to pass the traces it
    was measured on with no warning.

    Example: gate budgets init boot.etl --headroom 20% --skip-module wdf01000.sys -o
    budgets/drivers.yaml
    """
    from gate.pipeline import propose, settings_from_options, write_proposal

    def body() -> None:
        settings = settings_from_options(
            budgets, window, aggregate, pooltag, None, skip_modules=skip_module
        )
        proposal = propose(inputs, settings, headroom, out=out, progress=_progress)
        _warnings(proposal.warnings)
        if out is None:
            typer.echo(proposal.text, nl=False)
            typer.echo(f"gate: proposed {proposal.summary()}", err=True)
        else:
            write_proposal(out, proposal.text)
            typer.echo(f"wrote {out}: {proposal.summary()}")

    _guard(body)


@baseline_app.command("update", epilog=_INPUTS_TEXT)
def baseline_update(
    inputs: InputsArg,
    out: Annotated[
        Path, typer.Option("--out", "-o", help="Baseline JSON to write.", metavar="FILE")
    ],
    budgets: BudgetsOpt = None,
    window: WindowOpt = None,
    aggregate: AggregateOpt = None,
    pooltag: PooltagOpt = None,
    skip_module: SkipModuleOpt = None,
) -> None:
    """Measure reference traces and write their per-driver figures as baseline JSON, with the
    window, aggregate and attribution they were measured with.

    Example: gate baseline update main1.etl main2.etl -b budgets/drivers.yaml -o
    budgets/baseline.json
    """
    from gate.pipeline import settings_from_options, update_baseline

    def body() -> None:
        settings = settings_from_options(
            budgets, window, aggregate, pooltag, None, skip_modules=skip_module
        )
        measured = update_baseline(inputs, settings, out, progress=_progress)
        _warnings(measured.warnings)
        b = measured.baseline
        typer.echo(f"wrote {out}: {len(b.drivers)} driver(s) from {len(b.traces)} trace(s)")

    _guard(body)


def main() -> None:
    """The `gate` command. When it stops on Ctrl-C or SIGTERM, reads still running on worker
    threads are told to end at their next buffer, so the process exits within a moment
    instead of finishing batches of pure-Python decompression first."""
    try:
        app()
    except SystemExit as exc:
        pipeline = sys.modules.get("gate.pipeline")  # loaded only if work was started
        if exc.code in (130, 143) and pipeline is not None:
            pipeline.stop_work()
        raise
