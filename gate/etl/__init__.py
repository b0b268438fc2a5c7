"""Reading and writing Windows `.etl` trace files without Windows.

Container layer: `open_etl` (`container`), XPRESS decompression (`xpress`), synthetic files
(`writer`), layouts (`layouts`). Payload decoding lives in `decode`/`payloads`.
"""

from gate.etl.container import EtlFile, LogfileHeader, RecordBatch, open_etl

__all__ = ["EtlFile", "LogfileHeader", "RecordBatch", "open_etl"]
