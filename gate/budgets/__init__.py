"""Budgets: the YAML files that say how much memory each driver may use, loaded and proposed.

`load_budgets` reads and validates budget files into a `BudgetSet`; `propose_budgets` writes a
first budget file from measured figures. The format is described in docs/budgets.md.
"""

from gate.budgets.loader import load_budgets
from gate.budgets.model import (
    METRICS,
    Attribution,
    BudgetSet,
    DriverBudget,
    Limit,
    TagRule,
    WaiverRule,
)
from gate.budgets.propose import propose_budgets

__all__ = [
    "METRICS",
    "Attribution",
    "BudgetSet",
    "DriverBudget",
    "Limit",
    "TagRule",
    "WaiverRule",
    "load_budgets",
    "propose_budgets",
]
