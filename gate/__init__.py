"""gate: a CI regression gate for Windows driver memory budgets."""

__version__ = "0.1.0"
