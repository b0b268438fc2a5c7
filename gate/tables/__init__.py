"""Tables: what every reader produces and the store loads.

The chunk contract (`chunks`), the one pairing of pool events into allocations (`pairing`),
stable integer sorting (`order`), how drivers are named and which names the gate reserves
(`drivers`), the normalized folder format (`normalized`) and what `gate inspect` shows
(`inspect`). Nothing here reads a file format or touches DuckDB.
"""
