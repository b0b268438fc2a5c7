"""The gate's jobs, end to end: read the inputs into the store, build the model, run the rules,
judge, write the reports. One function per command (`check`, `ingest`, `inspect`, `measure`,
`propose`, `demo_request`); the CLI parses options, calls these, prints what they return and
picks the exit code. Everything here raises `GateError`s and never prints.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import date
from importlib import resources
from pathlib import Path

from gate import __version__
from gate.budgets.baseline import Baseline, read_baseline, write_baseline
from gate.budgets.loader import load_budgets
from gate.budgets.model import Attribution, BudgetSet
from gate.budgets.propose import propose_budgets, warn_at_for
from gate.errors import BudgetError, InputError, TraceQualityError
from gate.fileio import refuse_overlap, write_text_atomic
from gate.inputs import (
    input_kind,
    plan_inputs,
    read_trace,
    slow_to_decompress,
    stop_reading,
)
from gate.inputs.pooltag import PoolTagTable, read_pooltag
from gate.inputs.symbols import parse_symbol_path, require_backend
from gate.metrics import AGGREGATES
from gate.pipeline.baselines import check_baseline, recorded_settings
from gate.pipeline.explain import driver_trees, report_trees
from gate.pipeline.symbols import name_frames
from gate.reports import render_console, write_reports
from gate.reports.annotations import annotation_target, render_annotations
from gate.reports.explain import render_explain
from gate.rules.evidence import attach_growth, record_evidence
from gate.rules.inputs import load_rule_inputs
from gate.rules.judge import fail_on_warnings, figures, judge
from gate.rules.results import Outcome, TraceSummary, Verdict
from gate.rules.runner import builtin_rules, prepare, run_rule, user_rules
from gate.rules.timelines import attach_timelines
from gate.sql import ModelConfig, build_model
from gate.store import Store
from gate.store.normalized import export_normalized, import_normalized
from gate.tables.chunks import Progress
from gate.tables.drivers import RESERVED_NAMES, TOTAL
from gate.units import format_window, parse_percent, parse_window

__all__ = [
    "CheckRequest",
    "ReportPaths",
    "RunSettings",
    "Verdict",
    "annotation_target",
    "check",
    "demo_request",
    "explain",
    "ingest",
    "inspect",
    "measure",
    "propose",
    "publish",
    "publish_error",
    "render_annotations",
    "render_console",
    "settings_from_options",
    "slow_decompression_inputs",
    "stop_work",
    "update_baseline",
]

ProgressFactory = Callable[[Path], Progress | None]

# Compressed traces at least this large get a hint when only pure-Python XPRESS is available:
# it decompresses real traces at 1-5 MB/s, so this is a wait of several seconds.
SLOW_HINT_BYTES = 8 << 20


@dataclass
class RunSettings:
    """What a run needs besides its inputs; command-line options override the budgets'."""

    budgets: BudgetSet
    window: tuple[float | None, float | None] | None = None
    aggregate: str | None = None
    pooltag_files: list[Path] = field(default_factory=list)
    db_path: Path | None = None
    today: date = field(default_factory=date.today)
    skip_modules: list[str] = field(default_factory=list)  # beyond the budgets' own
    symbols: list[str] = field(default_factory=list)  # symbol path entries: folders, srv*DIR

    def attribution(self) -> Attribution:
        """The budgets' attribution with the command line's additions."""
        a = self.budgets.attribution
        skip = [*a.skip_modules, *(m.lower() for m in self.skip_modules)]
        pooltag = [*a.pooltag_paths, *self.pooltag_files]
        return Attribution(
            skip_modules=tuple(dict.fromkeys(skip)),
            tag_rules=a.tag_rules,
            pooltag_paths=tuple(dict.fromkeys(pooltag)),
        )

    def model_config(self) -> ModelConfig:
        b = self.budgets
        window = self.window if self.window is not None else b.window
        start, end = window if window else (None, None)
        attribution = self.attribution()
        table = PoolTagTable()
        for path in attribution.pooltag_paths:
            read_pooltag(Path(path), table)
        return ModelConfig(
            window_start_s=start,
            window_end_s=end,
            aggregate=self.aggregate or b.aggregate,
            extra_skip_modules=attribution.skip_modules,
            tag_rules=tuple((r.pattern, r.driver) for r in attribution.tag_rules),
            pooltag=table.drivers,
            pooltag_patterns=tuple(table.patterns),
        )


def settings_from_options(
    budgets: list[Path] | None,
    window: str | None,
    aggregate: str | None,
    pooltag: list[Path] | None,
    db: Path | None,
    today: str | None = None,
    skip_modules: list[str] | None = None,
    symbols: list[str] | None = None,
) -> RunSettings:
    """Settings from command-line options as typed; every bad option is one line."""
    problems: list[str] = []
    win = None
    if window is not None:
        try:
            win = parse_window(window)
        except ValueError as exc:
            problems.append(f"--window {window!r}: {exc}")
    if aggregate is not None and aggregate not in AGGREGATES:
        problems.append(f"--aggregate {aggregate!r}: expected one of {', '.join(AGGREGATES)}")
    day = date.today()
    if today is not None:
        try:
            day = date.fromisoformat(today)
        except ValueError:
            problems.append(f"--today {today!r}: expected YYYY-MM-DD")
    if problems:
        raise BudgetError(problems)
    budget_set = load_budgets(list(budgets), today=day) if budgets else BudgetSet.empty()
    return RunSettings(
        budgets=budget_set,
        window=win,
        aggregate=aggregate,
        pooltag_files=list(pooltag or []),
        db_path=db,
        today=day,
        skip_modules=list(skip_modules or []),
        symbols=list(symbols or []),
    )


def settings_files(settings: RunSettings) -> list[Path]:
    """The files the settings were read from: budget files and pooltag.txt files."""
    files = [Path(f) for f in settings.budgets.files]
    return files + [Path(p) for p in settings.attribution().pooltag_paths]


def stop_work() -> None:
    """The process is stopping (Ctrl-C, SIGTERM): work on other threads ends promptly."""
    stop_reading()


def slow_decompression_inputs(inputs: list[Path]) -> list[Path]:
    """Large compressed traces that only the pure-Python XPRESS decoder is there to read."""
    return [p for p in inputs if slow_to_decompress(p, SLOW_HINT_BYTES)]


# --- reading inputs -----------------------------------------------------------------------------


def load_inputs(
    store: Store, paths: list[Path], progress: ProgressFactory | None = None
) -> list[int]:
    """Read every input into the store, choosing the reader by what the path is."""
    if not paths:
        raise InputError("no input given: name one or more .etl traces or normalized folders")
    ids: list[int] = []
    for planned in plan_inputs(paths):
        if planned.kind == "normalized":
            ids += import_normalized(store, planned.path)
            continue
        if planned.kind == "wpa-csv" and store.has_trace("wpa-csv", planned.source):
            continue  # the same exports named again (docs/wpa.md)
        report = progress(planned.path) if progress else None
        ids.append(store.add_trace(read_trace(planned, report)))
    return ids


def open_and_model(
    inputs: list[Path], settings: RunSettings, *, progress: ProgressFactory | None = None
) -> tuple[Store, ModelConfig, list[str]]:
    """Load the inputs into a store, name frames from PDBs when a symbol path is given, and
    build the SQL model; the caller closes the store. Returns notes for the reports."""
    config = settings.model_config()
    notes: list[str] = []
    entries = [*settings.budgets.symbols, *settings.symbols]  # the budgets', then the options'
    path = parse_symbol_path(entries) if entries else None
    if path is not None:
        require_backend()  # before the long read: say what to install at once
    store = Store(settings.db_path)
    try:
        load_inputs(store, inputs, progress)
        if path is not None:
            notes = name_frames(store, path)
        build_model(store.con, config)
    except BaseException:
        store.close()
        raise
    return store, config, notes


def measured_figures(store: Store) -> dict[str, dict[str, float]]:
    rows = store.con.execute(
        "SELECT driver, metric, value FROM driver_metrics_aggregated ORDER BY driver, metric"
    ).fetchall()
    out: dict[str, dict[str, float]] = {}
    for driver, metric, value in rows:
        out.setdefault(driver, {})[metric] = float(value)
    return out


def trace_provenance(store: Store) -> list[dict[str, str]]:
    rows = store.con.execute(
        "SELECT source_path, sha256, source_format FROM traces ORDER BY trace_id"
    ).fetchall()
    return [{"source": s, "sha256": h, "format": f} for s, h, f in rows]


# --- jobs ---------------------------------------------------------------------------------------


@dataclass
class Measurement:
    """What `budgets init` and `baseline update` measure: the figures with their provenance,
    and the trace-quality warnings (lost events) a reader of the result should know."""

    baseline: Baseline
    warnings: list[str]


def trace_quality(store: Store) -> list[str]:
    """The trace-quality rules (`trace.*`) on a built model, as `check` runs them: raises
    `TraceQualityError` with every error (no pool events, a window that sees nothing);
    returns the warnings."""
    prepare(store.con)
    load_rule_inputs(store.con, BudgetSet.empty(), None)
    rules = [r for r in builtin_rules() if r.name.startswith("trace.")]
    findings = [f for rule in rules for f in run_rule(store.con, rule)]
    errors = [f.message for f in findings if f.outcome is Outcome.ERROR]
    if errors:
        raise TraceQualityError(errors)
    return [f.message for f in findings if f.outcome is Outcome.WARN]


def measure(
    inputs: list[Path], settings: RunSettings, *, progress: ProgressFactory | None = None
) -> Measurement:
    """Every driver's aggregated figures over `inputs`, with provenance: a baseline. Traces
    that cannot be trusted are refused as `check` refuses them."""
    store, config, _ = open_and_model(inputs, settings, progress=progress)
    with store:
        warnings = trace_quality(store)
        prepare(store.con)
        load_rule_inputs(store.con, settings.budgets, None)
        baseline = Baseline(
            drivers=measured_figures(store),
            traces=trace_provenance(store),
            window=config.window_label(),
            aggregate=config.aggregate,
            source=", ".join(str(p) for p in inputs),
            settings=recorded_settings(config, settings.attribution().pooltag_paths),
            evidence=record_evidence(store.con),
        )
        return Measurement(baseline, warnings)


def update_baseline(
    inputs: list[Path],
    settings: RunSettings,
    out: Path,
    *,
    progress: ProgressFactory | None = None,
) -> Measurement:
    """`gate baseline update`: measure `inputs` and write the baseline JSON to `out`."""
    refuse_overlap([("baseline", out)], [*inputs, *settings_files(settings)])
    measured = measure(inputs, settings, progress=progress)
    write_baseline(out, measured.baseline)
    return measured


@dataclass(frozen=True)
class Proposal:
    """What `gate budgets init` proposes: the file's text and what it chose."""

    text: str
    drivers: int
    totals: int
    headroom: float
    warn_at: float
    warnings: list[str]

    def summary(self) -> str:
        return (
            f"{self.drivers} driver budget(s) and {self.totals} total(s): each limit is the "
            f"measured figure + {self.headroom * 100:g}% headroom, rounded up; warn_at "
            f"{self.warn_at * 100:g}%, so the traces measured pass with no warning"
        )


def propose(
    inputs: list[Path],
    settings: RunSettings,
    headroom: str,
    *,
    out: Path | None = None,
    progress: ProgressFactory | None = None,
) -> Proposal:
    """`gate budgets init`: a budget file from measured figures plus `headroom` (e.g. '20%'),
    measured with the run's window, aggregate and attribution, which the file then names, so
    that `gate check` with it judges the same way. Pooltag paths are written relative to the
    folder of `out` (the current folder when it goes to stdout)."""
    try:
        room = parse_percent(headroom)
        if room <= 0:
            raise ValueError("a proposal needs headroom above the measured figures, e.g. 20%")
    except ValueError as exc:
        raise BudgetError([f"--headroom {headroom!r}: {exc}"]) from None
    if out is not None:
        refuse_overlap([("budget file", out)], [*inputs, *settings_files(settings)])
    measured = measure(inputs, settings, progress=progress)
    figures = measured.baseline.drivers
    drivers = {d: m for d, m in figures.items() if d not in RESERVED_NAMES}
    totals = figures.get(TOTAL, {})
    config = settings.model_config()
    window = None if config.window_label() == format_window(None, None) else config.window_label()
    base = (out.parent if out is not None else Path.cwd()).resolve()
    attribution = settings.attribution()
    attribution = replace(
        attribution,
        pooltag_paths=tuple(_relative(Path(p), base) for p in attribution.pooltag_paths),
    )
    text = propose_budgets(
        drivers, totals, room, window=window, aggregate=config.aggregate, attribution=attribution
    )
    return Proposal(text, len(drivers), len(totals), room, warn_at_for(room), measured.warnings)


def _relative(path: Path, base: Path) -> Path:
    try:
        return Path(os.path.relpath(path.resolve(), base))
    except ValueError:  # another drive on Windows
        return path.resolve()


def write_proposal(out: Path, text: str) -> None:
    write_text_atomic(out, text, what="budget file")


@dataclass
class CheckRequest:
    inputs: list[Path]
    settings: RunSettings
    baseline_file: Path | None = None
    baseline_traces: list[Path] = field(default_factory=list)
    rules_dir: Path | None = None
    warn_as_error: bool = False
    allow_baseline_mismatch: bool = False  # compare with a baseline of other settings

    def files_read(self) -> list[Path]:
        """Every file the run reads: traces, budgets, baseline, pooltag.txt files, rules."""
        s = self.settings
        files = [*self.inputs, *self.baseline_traces, *(Path(f) for f in s.budgets.files)]
        files += [Path(p) for p in s.attribution().pooltag_paths]
        if self.baseline_file is not None:
            files.append(self.baseline_file)
        if self.rules_dir is not None and self.rules_dir.is_dir():
            files += sorted(self.rules_dir.glob("*.sql"))
        return files


def require_budgets(budgets: BudgetSet) -> BudgetSet:
    if not budgets.drivers and budgets.default is None and not budgets.totals:
        raise BudgetError(["no budgets given: pass --budgets FILE (see 'gate budgets init')"])
    return budgets


def check(
    req: CheckRequest,
    *,
    progress: ProgressFactory | None = None,
    reports: ReportPaths | None = None,
) -> Verdict:
    """`gate check`: judge the inputs against the budgets and the baseline. `reports` are the
    files the caller will write: refused up front when one would replace an input."""
    settings = req.settings
    outputs = reports.written() if reports is not None else []
    if settings.db_path is not None:
        outputs.append(("database", settings.db_path))
    refuse_overlap(outputs, req.files_read())
    baseline: Baseline | None = None
    baseline_notes: list[str] = []
    if req.baseline_file is not None:
        baseline = read_baseline(req.baseline_file)
        current = recorded_settings(settings.model_config(), settings.attribution().pooltag_paths)
        baseline_notes = check_baseline(
            baseline, current, allow_mismatch=req.allow_baseline_mismatch
        )
    if req.baseline_traces:
        reference = replace(settings, db_path=None)
        baseline = measure(req.baseline_traces, reference, progress=progress).baseline
    rules = builtin_rules()
    if req.rules_dir is not None:
        rules += user_rules(req.rules_dir)
    store, config, notes = open_and_model(req.inputs, settings, progress=progress)
    with store:
        prepare(store.con)
        load_rule_inputs(store.con, settings.budgets, baseline)
        findings = [f for rule in rules for f in run_rule(store.con, rule)]
        owners = {d: b.owner for d, b in settings.budgets.drivers.items() if b.owner}
        checks = judge(store.con, findings, owners, settings.budgets.waivers, settings.today)
        if req.warn_as_error:
            fail_on_warnings(checks)
        if baseline is not None:
            attach_growth(store.con, checks, recorded=baseline.evidence is not None)
        trees = report_trees(store.con, checks)
        verdict = Verdict(
            checks=checks,
            traces=_trace_summaries(store),
            window=config.window_label(),
            aggregate=config.aggregate,
            budget_files=[str(f) for f in settings.budgets.files],
            baseline_source=baseline.source if baseline else None,
            gate_version=__version__,
            warn_as_error=req.warn_as_error,
            figures=figures(store.con),
            notes=[*baseline_notes, *notes],
            trees=trees,
        )
        if reports is not None and reports.html is not None:
            attach_timelines(store.con, verdict)  # drawn by the HTML report alone
        return verdict


def _trace_summaries(store: Store) -> list[TraceSummary]:
    rows = store.con.execute(
        """SELECT t.trace_id, t.source_path, t.source_format, t.sha256, t.duration_s,
                  q.pool_allocations, t.events_lost, t.buffers_lost, q.unmatched_frees,
                  q.lost_frees, t.has_resident_set, t.synthetic, t.notes
           FROM traces AS t JOIN trace_quality AS q USING (trace_id) ORDER BY t.trace_id"""
    ).fetchall()
    return [
        TraceSummary(
            int(r[0]),
            r[1],
            r[2],
            r[3],
            float(r[4] or 0),
            int(r[5]),
            int(r[6]),
            int(r[7]),
            int(r[8]),
            int(r[9]),
            bool(r[10]),
            bool(r[11]),
            tuple(n for n in r[12].splitlines() if n),
        )
        for r in rows
    ]


@dataclass(frozen=True)
class ReportPaths:
    junit: Path | None = None
    markdown: Path | None = None
    json: Path | None = None
    junit_strict: bool = False
    html: Path | None = None

    def written(self) -> list[tuple[str, Path]]:
        pairs = (
            ("JUnit", self.junit),
            ("Markdown", self.markdown),
            ("JSON", self.json),
            ("HTML", self.html),
        )
        return [(label, path) for label, path in pairs if path is not None]


def publish(verdict: Verdict, reports: ReportPaths) -> None:
    """Write the requested report files (each atomically, all rendered first)."""
    write_reports(
        verdict,
        junit=reports.junit,
        markdown=reports.markdown,
        json=reports.json,
        html=reports.html,
        junit_schema_strict=reports.junit_strict,
    )


def publish_error(problems: list[str], reports: ReportPaths, inputs: list[Path]) -> None:
    """The reports of a run that stopped on an error (exit 2), each holding one `error` check
    with the problems: a CI reporter then shows a red test instead of finding no results.
    Never over one of `inputs`."""
    refuse_overlap(reports.written(), inputs)
    publish(Verdict.error(problems, __version__), reports)


def ingest(
    inputs: list[Path], out: Path, *, progress: ProgressFactory | None = None
) -> dict[str, int]:
    """`gate ingest`: read the inputs once and write them as one normalized folder."""
    refuse_overlap([("normalized folder", out)], inputs)
    with Store() as store:
        load_inputs(store, inputs, progress)
        return export_normalized(store, out)


def explain(
    inputs: list[Path],
    settings: RunSettings,
    driver: str,
    *,
    depth: int | None = None,
    min_bytes: int = 0,
    progress: ProgressFactory | None = None,
) -> str:
    """`gate explain`: one driver's impacting and transient allocations as stack trees, with
    the window, attribution and symbols a check of the same inputs would use."""
    store, config, notes = open_and_model(inputs, settings, progress=progress)
    with store:
        prepare(store.con)
        trees = driver_trees(store.con, driver, depth=depth, min_bytes=min_bytes)
        return render_explain(driver.strip().lower(), config.window_label(), trees, notes)


def inspect(trace: Path, *, progress: ProgressFactory | None = None) -> str:
    """`gate inspect`: what an `.etl` trace holds, as text."""
    from gate.inputs.etl.reader import inspect_etl
    from gate.reports.inspect import render_inspect

    if input_kind(trace) != "etl":
        raise InputError(f"{trace}: 'gate inspect' reads .etl traces")
    return render_inspect(inspect_etl(trace, progress=progress(trace) if progress else None))


def demo_request(out: Path) -> tuple[CheckRequest, ReportPaths, str]:
    """The check `gate demo` runs on the bundled sample, its report paths in `out`, and the
    line that says what it runs."""
    sample = resources.files("gate.data").joinpath("sample")
    trace = Path(str(sample.joinpath("sample-boot.etl")))
    if not trace.is_file():
        trace = Path(str(sample.joinpath("sample-boot.scenario.yaml")))
    budget = Path(str(sample.joinpath("budgets.yaml")))
    base = Path(str(sample.joinpath("baseline.json")))
    settings = settings_from_options([budget], None, None, None, None)
    request = CheckRequest(inputs=[trace], settings=settings, baseline_file=base)
    reports = ReportPaths(
        junit=out / "gate-junit.xml",
        markdown=out / "gate-summary.md",
        json=out / "gate-report.json",
        html=out / "gate-report.html",
    )
    title = f"gate demo: {trace.name} (synthetic sample) against {budget.name} and {base.name}"
    return request, reports, title
