"""gate: a CI regression gate for Windows driver memory budgets."""

__version__ = "0.1.0"
# The name the package is published under (the import package and the command stay `gate`).
DISTRIBUTION = "driver-memory-gate"
