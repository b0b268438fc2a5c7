"""Reading and writing Windows `.etl` trace files without Windows.

Container layer: `open_etl` and `RecordBatch` (`container`), XPRESS decompression (`xpress`),
synthetic files (`writer`), binary layouts declared once (`layouts`). Payload decoding builds on
`RecordBatch` in `decode`/`payloads`.

Set GATE_NO_NUMBA=1 to force the pure-Python paths even when numba is installed.
"""

from gate.inputs.etl.container import EtlFile, EtlStats, LogfileHeader, RecordBatch, open_etl

__all__ = ["EtlFile", "EtlStats", "LogfileHeader", "RecordBatch", "open_etl"]
