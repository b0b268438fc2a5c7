"""Running one input through the library's entry points, in-process, and naming the result.

Anything but a `GateError` is a crash; a MemoryError (or DuckDB running out of memory) is a
blow-up. A crash's signature is its exception type and the innermost frame inside `gate/`, so
that one bug found by many inputs counts once.
"""

from __future__ import annotations

import traceback
from dataclasses import dataclass
from datetime import date
from pathlib import Path

from .seeds import BUDGETS_YAML, Case, baseline_json, scenario_doc

READER_KINDS = ("etl", "wpa-csv", "scenario")


@dataclass
class Outcome:
    status: str  # 'ok', 'rejected' (a GateError), 'crash', 'blowup'
    signature: str = ""
    detail: str = ""


def _signature(exc: BaseException) -> str:
    frames = traceback.extract_tb(exc.__traceback__)
    inner = [f for f in frames if "/gate/" in f.filename.replace("\\", "/")]
    where = inner[-1] if inner else (frames[-1] if frames else None)
    place = ""
    if where is not None:
        path = where.filename.replace("\\", "/")
        path = path[path.rfind("/gate/") + 1 :] if "/gate/" in path else Path(path).name
        place = f" at {path}:{where.name}"
    return f"{type(exc).__name__}{place}"


def _fixed_files(folder: Path) -> tuple[Path, Path, Path]:
    """A budget file, a baseline and a scenario trace that are always valid."""
    import yaml

    budgets, baseline, trace = folder / "fixed.yaml", folder / "fixed.json", folder / "fixed-s.yaml"
    budgets.write_text(BUDGETS_YAML, encoding="utf-8")
    baseline.write_bytes(baseline_json())
    trace.write_text(yaml.safe_dump(scenario_doc(True)), encoding="utf-8")
    return budgets, baseline, trace


def _read(case: Case, path: Path) -> None:
    from gate.budgets.baseline import read_baseline
    from gate.budgets.loader import load_budgets
    from gate.inputs import PlannedInput, read_trace
    from gate.inputs.pooltag import read_pooltag
    from gate.store import Store
    from gate.store.normalized import import_normalized

    if case.kind in READER_KINDS:
        for _item in read_trace(PlannedInput(case.kind, (path,))):
            pass
    elif case.kind == "budgets":
        load_budgets([path], today=date(2026, 1, 1))
    elif case.kind == "baseline":
        read_baseline(path)
    elif case.kind == "pooltag":
        read_pooltag(path)
    elif case.kind == "normalized":
        with Store() as store:
            import_normalized(store, path)
    else:
        raise ValueError(case.kind)


def _check(case: Case, path: Path, folder: Path) -> None:
    """The whole job, `gate.pipeline.check`, with the input in its place."""
    from gate.pipeline import CheckRequest, check, settings_from_options

    budgets, baseline, trace = _fixed_files(folder)
    inputs, pooltag = [trace], None
    if case.kind in (*READER_KINDS, "normalized"):
        inputs = [path]
    elif case.kind == "budgets":
        budgets = path
    elif case.kind == "baseline":
        baseline = path
    elif case.kind == "pooltag":
        pooltag = [path]
    settings = settings_from_options([budgets], None, None, pooltag, None, "2026-01-01")
    check(CheckRequest(inputs=inputs, settings=settings, baseline_file=baseline))


def run_case(case: Case, folder: Path, whole_job: bool) -> Outcome:
    """Write `case` into `folder`, read it (and run `check` when `whole_job`), name the end."""
    import duckdb

    from gate.errors import GateError

    try:
        path = case.write(folder)
        _read(case, path)
        if whole_job:
            _check(case, path, folder)
    except GateError as exc:
        lines = str(exc).splitlines() or [""]
        if case.kind != "budgets" and len(lines) > 1:
            return Outcome("crash", "GateError of several lines", str(exc)[:2000])
        return Outcome("rejected", detail=lines[0][:300])
    except MemoryError:
        return Outcome("blowup", "MemoryError", traceback.format_exc()[-4000:])
    except duckdb.OutOfMemoryException:
        return Outcome("blowup", "DuckDB out of memory", traceback.format_exc()[-4000:])
    except BaseException as exc:
        if isinstance(exc, KeyboardInterrupt):
            raise
        return Outcome("crash", _signature(exc), traceback.format_exc()[-6000:])
    return Outcome("ok")
