"""The store: the DuckDB database every input is loaded into (schema.sql, normalized folders)."""

from gate.store.store import Store

__all__ = ["Store"]
