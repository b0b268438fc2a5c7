"""What a gate run concluded: the data the reports render.

A `Check` is one (metric, driver) pair: one JUnit testcase, one row of the console table.
`Finding`s are the rows rules returned for it. The run's `Verdict` holds every check plus
facts about the traces, and decides the exit code.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum, IntEnum

from gate.metrics import priority


class Outcome(str, Enum):
    PASS = "pass"
    NOTICE = "notice"  # passes, with a hint (e.g. the budget can be tightened)
    NOT_EVALUATED = "not_evaluated"
    WAIVED = "waived"
    WARN = "warn"
    FAIL = "fail"
    ERROR = "error"

    @property
    def severity(self) -> int:
        return _SEVERITY[self]


_SEVERITY = {
    Outcome.PASS: 0,
    Outcome.NOTICE: 1,
    Outcome.WAIVED: 2,
    Outcome.NOT_EVALUATED: 3,
    Outcome.WARN: 4,
    Outcome.FAIL: 5,
    Outcome.ERROR: 6,
}


class ExitCode(IntEnum):
    """Exit status of `gate check`.

    0 OK: nothing failed (warnings allowed unless --warn-as-error).
    1 BUDGET_FAILED: a driver or total went over its budget or baseline tolerance.
    2 ERROR: bad input, bad budgets, a broken rule, or an untrustworthy trace.
    """

    OK = 0
    BUDGET_FAILED = 1
    ERROR = 2


# The metric of the one check of a run that could not judge anything (`Verdict.error`).
RUN_METRIC = "run"


@dataclass(frozen=True)
class Finding:
    """One row returned by a rule."""

    rule_id: str  # stable code, e.g. GATE001
    rule_name: str  # dotted name, e.g. budget.over
    driver: str
    metric: str
    observed: float | None
    limit: float | None
    baseline: float | None
    outcome: Outcome
    message: str


@dataclass(frozen=True)
class TagUse:
    """A pool tag's share of a driver's allocations inside the window."""

    tag: str
    impacting_bytes: int
    allocated_bytes: int
    allocations: int


@dataclass(frozen=True)
class CallSite:
    """An allocating call site: the frame that attributed the allocation to the driver."""

    site: str  # 'acpi.sys+0x1a2b' or 'acpi.sys!ACPIInitStartACPI'
    impacting_bytes: int
    allocated_bytes: int
    allocations: int


@dataclass(frozen=True)
class PeakMoment:
    """When a driver's transient peak is reached: the moment its evidence describes."""

    time_s: float  # seconds from the start of `trace`
    peak_bytes: int
    trace: str  # the trace where the peak is highest


@dataclass(frozen=True)
class Growth:
    """A call site or tag whose share of a check's figure grew over the baseline's."""

    kind: str  # site | tag
    name: str
    observed_bytes: int
    baseline_bytes: int | None  # None: not among the baseline's top rows
    new: bool  # not in the baseline at all (its top rows held everything it had)

    @property
    def delta_bytes(self) -> int:
        return self.observed_bytes - (self.baseline_bytes or 0)


# The node that stands for the frames above a driver's outermost frame (the kernel's loader,
# a work item's dispatcher ...), folded: they say how the driver was called, not where it
# allocates. A frame is never spelled like this (frames read 'module!...' or 'module+0x...').
FOLDED_FRAMES = "(callers)"


@dataclass(frozen=True)
class StackNode:
    """One function of a stack tree: what the allocations below it add up to."""

    frame: str  # 'acpi.sys!ACPIInitStartACPI', 'acpi.sys+0x1a2b', or FOLDED_FRAMES
    allocations: int
    size_bytes: int
    children: tuple[StackNode, ...] = ()
    hidden_bytes: int = 0  # of callees not shown (below --min-bytes or --depth)


@dataclass(frozen=True)
class StackTree:
    """A driver's allocations of one kind as a tree of functions, from the outermost frame in
    the driver down to the allocating call site, largest first (WPA's expanded Stack column).

    kind 'impacting': the allocations that make up the impacting bytes (each weighs its
    effect on them); 'transient': those live at the transient peak (`peak`)."""

    driver: str
    kind: str  # impacting | transient
    allocations: int  # of every allocation the tree covers, shown or not
    size_bytes: int
    roots: tuple[StackNode, ...]
    without_stack_bytes: int = 0  # covered allocations attributed by tag, not by a stack
    hidden_bytes: int = 0  # below --min-bytes or beyond --depth, summed into their parent
    peak: PeakMoment | None = None


@dataclass(frozen=True)
class Waiver:
    driver: str
    metric: str | None
    reason: str
    expires: str  # ISO date
    expired: bool
    file: str
    line: int


@dataclass
class Check:
    """One (metric, driver) judgement: one JUnit testcase."""

    metric: str
    driver: str  # a driver name, '(total)', or a trace label for trace checks
    outcome: Outcome
    observed: float | None = None
    limit: float | None = None
    baseline: float | None = None
    message: str = ""
    findings: list[Finding] = field(default_factory=list)
    traces_seen: int = 0
    budget_file: str | None = None
    budget_line: int | None = None
    owner: str | None = None
    waiver: Waiver | None = None
    top_tags: list[TagUse] = field(default_factory=list)
    top_sites: list[CallSite] = field(default_factory=list)
    warned_as_error: bool = False  # a warning that fails the run because of --warn-as-error
    peak: PeakMoment | None = None  # transient peak checks: when the evidence is from
    # What grew since the baseline, largest first (growth and new-driver checks); None when not
    # asked. grew_unknown: asked, but the baseline keeps no call sites for this figure.
    grew: list[Growth] | None = None
    grew_unknown: bool = False

    @property
    def excess(self) -> float:
        """How far over: observed / limit, else observed / baseline (growth); 0 when unknown."""
        if self.observed is None:
            return 0.0
        for reference in (self.limit, self.baseline):
            if reference:
                return self.observed / reference
        return 0.0


@dataclass(frozen=True)
class DriverFigures:
    """Every figure of one driver, judged or not: what the JSON report's table holds.

    `values[metric]` is the aggregated value, or None where the metric could not be computed;
    `not_evaluated[metric]` then says why.
    """

    driver: str  # a driver, (kernel), (unattributed) or (total)
    traces_seen: int
    values: dict[str, float | None]
    not_evaluated: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Timeline:
    """A driver's non-paged pool over the boot of one trace, for the HTML report's figures.

    After each pool event of the driver (of every driver for '(total)') in trace order, the
    bytes of its live non-paged allocations that the window classifies as impacting (AIFO,
    AOFI) and as transient (AIFI); gate/rules/timelines.py gives the exact definition. Only
    some of the events are kept (`points` of `events`), every time bucket's extremes exact."""

    driver: str  # a driver, (kernel), (unattributed) or (total)
    trace: str  # source path of the trace shown
    duration_s: float
    window_start_s: float | None  # the evaluation window; None: open on that side
    window_end_s: float | None
    times_s: tuple[float, ...]  # seconds from trace start, in trace order (may repeat)
    impacting_bytes: tuple[int, ...]
    transient_bytes: tuple[int, ...]
    events: int  # pool events the series was reduced from

    @property
    def points(self) -> int:
        return len(self.times_s)

    def transient_peak(self) -> tuple[float, int] | None:
        """(time, bytes) of the first highest transient point; None when nothing is transient."""
        if not self.transient_bytes:
            return None
        peak = max(self.transient_bytes)
        if peak <= 0:
            return None
        i = self.transient_bytes.index(peak)
        return self.times_s[i], peak


@dataclass(frozen=True)
class TraceSummary:
    trace_id: int
    source_path: str
    source_format: str
    sha256: str
    duration_s: float
    pool_allocations: int
    events_lost: int
    buffers_lost: int
    unmatched_frees: int
    lost_frees: int
    has_resident_set: bool
    synthetic: bool
    notes: tuple[str, ...] = ()  # what the reader noticed: skipped rows, unverified layouts ...


@dataclass
class Verdict:
    """Everything one `gate check` concluded."""

    checks: list[Check]
    traces: list[TraceSummary]
    window: str  # e.g. '0s..30s' or 'whole trace'
    aggregate: str  # max, median, mean, min
    budget_files: list[str]
    baseline_source: str | None
    gate_version: str
    warn_as_error: bool = False
    figures: list[DriverFigures] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)  # about the run: baseline provenance, ...
    # Stack trees of the drivers with a failing or warning check, by (driver, kind).
    trees: dict[tuple[str, str], StackTree] = field(default_factory=dict)
    # Boot timelines by driver ('(total)': all drivers), filled only for the HTML report.
    timelines: dict[str, Timeline] = field(default_factory=dict)
    # Each (driver, metric)'s value in each trace (by trace_id), behind its aggregate; filled
    # only for the HTML report.
    trace_values: dict[tuple[str, str], dict[int, float]] = field(default_factory=dict)

    @classmethod
    def error(cls, problems: list[str], gate_version: str) -> Verdict:
        """The verdict of a run that could not judge anything (bad input, budgets or rules):
        one `error` check holding every problem, so that the reports CI publishes say what
        went wrong instead of being missing, which a reporter may count as a pass."""
        check = Check(
            metric=RUN_METRIC,
            driver="gate",
            outcome=Outcome.ERROR,
            message="; ".join(problems),
        )
        return cls([check], [], "", "", [], None, gate_version)

    def count(self, outcome: Outcome) -> int:
        return sum(1 for c in self.checks if c.outcome is outcome)

    @property
    def exit_code(self) -> ExitCode:
        outcomes = {c.outcome for c in self.checks}
        if Outcome.ERROR in outcomes:
            return ExitCode.ERROR
        if Outcome.FAIL in outcomes:
            return ExitCode.BUDGET_FAILED
        return ExitCode.OK

    def worst_first(self) -> list[Check]:
        """By outcome, then the metric's priority (gate.metrics.priority), then how far over."""
        return sorted(
            self.checks,
            key=lambda c: (-c.outcome.severity, priority(c.metric), -c.excess, c.metric, c.driver),
        )
