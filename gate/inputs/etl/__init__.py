"""Reading Windows `.etl` trace files without Windows.

`read_etl` (reader) yields a trace as the store's chunks and `inspect_etl` summarizes it. Below
it: `container` (buffers, logfile header), `records` (record headers), `xpress` (buffer
decompression), `decode` (payload decoders and their dispatch table), `batch` (one batch
decoded on a worker thread), `stacks` and `images` (what is settled at the end of the file),
`resident` (the resident set), `decoder` (the pass that ties them together). Layouts are
declared once: `layouts` (container structures), `payloads` (event payloads).

Set GATE_NO_NUMBA=1 to force the pure-Python paths even when numba is installed.
"""
