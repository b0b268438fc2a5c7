"""Synthetic traces: the `.etl` writer (`writer`) and scenario → `.etl` (`etl`).

They write what the readers read, for the bundled sample, the tests' round trips and the
benchmark; no command of the gate's own needs them.
"""
