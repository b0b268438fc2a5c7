"""The one exception hierarchy of the gate.

Every error a user can cause is a `GateError` whose message is a single line that names the
file, the place in it and the problem. Only `gate.cli` turns these into printed messages and
exit codes; library code raises and never prints.
"""

from __future__ import annotations


class GateError(Exception):
    """Base class: an input, configuration or rule the gate cannot use (exit code 2)."""


class InputError(GateError):
    """An input file is missing, unreadable or of a format the gate does not know."""


class TraceFormatError(InputError):
    """An `.etl` file is corrupt or truncated; the message carries the file offset."""

    def __init__(self, path: str, offset: int | None, problem: str) -> None:
        self.path = path
        self.offset = offset
        self.problem = problem
        where = f"{path}" if offset is None else f"{path}: offset 0x{offset:x}"
        super().__init__(f"{where}: {problem}")


class NormalizedFormatError(InputError):
    """A normalized folder (manifest plus Parquet tables) cannot be read."""


class CsvFormatError(InputError):
    """A WPA CSV export cannot be read."""


class TraceQualityError(InputError):
    """The inputs cannot be trusted to measure anything (no pool events, a window that sees
    nothing). Holds every problem found, one line each."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = list(problems)
        super().__init__("\n".join(self.problems))


class BudgetError(GateError):
    """One or more budget files are invalid. Holds every problem found, one line each."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = list(problems)
        super().__init__("\n".join(self.problems))


class BaselineError(GateError):
    """A baseline file cannot be read or does not match the run."""


class RuleContractError(GateError):
    """A rule's SQL returned columns that break the fixed rule contract."""


class RuleExecutionError(GateError):
    """A rule's SQL failed to run."""


class OutputError(GateError):
    """A report or baseline file cannot be written."""
