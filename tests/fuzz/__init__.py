"""A structure-aware fuzzing harness for every input the gate reads.

`cases` makes inputs (seeds from the project's own writers, then mutations that know each
format's structure), `targets` runs one through the library's entry points, `runner` runs many
in worker processes with time and memory limits, `known` names the crash classes still open.
`python -m tests.fuzz --help` is the long run; `test_fuzz.py` is the short seeded run.
"""
