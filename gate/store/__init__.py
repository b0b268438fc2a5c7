"""Tables: the DuckDB store that every input is loaded into."""

from gate.store.store import Store

__all__ = ["Store"]
