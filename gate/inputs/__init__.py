"""Inputs: readers that turn trace files into column chunks for the store.

Readers yield data and never print. Every reader produces the same chunk tables
(`gate.tables.chunks`), so the store and everything above it do not know which
file format the data came from.
"""
