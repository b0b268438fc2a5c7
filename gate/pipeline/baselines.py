"""Which baseline a check may compare with: one recorded with the same settings.

A baseline's figures depend on the window, the aggregate, the attribution (skipped modules,
tag rules, pooltag.txt files) and the metric definitions as much as on the traces. A check
whose settings differ would report growth that is only a change of method, so it refuses the
baseline with one line that says what differs, unless the user allows it explicitly; then
every report says so.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

from gate import __version__
from gate.budgets.baseline import Baseline
from gate.errors import BaselineError
from gate.metrics import METRICS_VERSION
from gate.sql import ModelConfig

ALLOW_OPTION = "--allow-baseline-mismatch"


def recorded_settings(config: ModelConfig, pooltag_paths: tuple[Path, ...]) -> dict[str, object]:
    """The settings a baseline records (and a check compares) as plain JSON values."""
    return {
        "window": config.window_label(),
        "aggregate": config.aggregate,
        "metrics_version": METRICS_VERSION,
        "attribution": {
            "skip_modules": sorted(config.extra_skip_modules),
            "tag_rules": [[pattern, driver] for pattern, driver in config.tag_rules],
            "pooltag_sha256": sorted(_sha256(p) for p in pooltag_paths),
        },
    }


def _sha256(path: Path) -> str:
    try:
        return hashlib.sha256(path.read_bytes()).hexdigest()
    except OSError:  # read (and reported) by the model's configuration already
        return ""


_SHOWN = {
    "window": "window",
    "aggregate": "aggregate",
    "metrics_version": "metric definitions version",
    "skip_modules": "skip_modules",
    "tag_rules": "attribution tag rules",
    "pooltag_sha256": "pooltag.txt files",
}


def _flat(settings: dict[str, object]) -> dict[str, object]:
    out = {k: v for k, v in settings.items() if k != "attribution"}
    attribution = settings.get("attribution")
    if isinstance(attribution, dict):
        out.update(attribution)
    return out


def _shown(value: object) -> str:
    if isinstance(value, list):
        if not value:
            return "none"
        text = ", ".join(
            "→".join(str(x) for x in v) if isinstance(v, list) else str(v) for v in value
        )
        return text if len(text) <= 60 else f"{len(value)} entries"
    return str(value)


def check_baseline(
    baseline: Baseline, current: dict[str, object], *, allow_mismatch: bool
) -> list[str]:
    """Notes for the reports about `baseline`; a `BaselineError` naming the settings that
    differ from `current`, unless `allow_mismatch` (then the difference is a note)."""
    notes: list[str] = []
    recorded = baseline.settings
    if recorded is None:  # version 1: window and aggregate only, no call sites
        recorded = {"window": baseline.window, "aggregate": baseline.aggregate}
        notes.append(
            f"baseline {baseline.source} (version {baseline.version}) records no attribution "
            "settings and no call sites: attribution is not compared and growth failures "
            "cannot say what grew; record it again with 'gate baseline update'"
        )
    was, now = _flat(recorded), _flat(current)
    differ = [
        f"{_SHOWN.get(k, k)} {_shown(was[k])} (this check: {_shown(now.get(k))})"
        for k in _SHOWN
        if k in was and was[k] != now.get(k)
    ]
    if differ:
        what = "; ".join(differ)
        if not allow_mismatch:
            raise BaselineError(
                f"{baseline.source}: recorded with other settings: {what}; record it again "
                f"with these settings, or pass {ALLOW_OPTION} to compare anyway"
            )
        notes.append(
            f"baseline {baseline.source} was recorded with other settings ({what}): compared "
            f"anyway ({ALLOW_OPTION}); growth may be a change of method, not of the driver"
        )
    if baseline.gate_version and baseline.gate_version != __version__:
        notes.append(
            f"baseline recorded by gate {baseline.gate_version}; this is gate {__version__}"
        )
    return notes
