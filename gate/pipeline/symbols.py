"""Function names for the store's stack frames, from the build's PDBs (a pipeline step).

Each trace's images carry their PDB identity; `name_frames` opens the matching PDB of every
image (through `gate.inputs.symbols`, never by name alone), looks up the distinct frames of
that image once, and fills `stack_frame_rows.function`, so that the model's call sites read
`driver.sys!Function` instead of `driver.sys+0x1130`. Frames of images without a matching
PDB keep their offset.
"""

from __future__ import annotations

from collections import Counter

import numpy as np

from gate.inputs.symbols import FOUND, NO_IDENTITY, NOT_FOUND, PdbIdentity, Symbolizer, SymbolPath
from gate.store.store import Store

# Images without a PDB are usual (a team has the PDBs of its own drivers only): they are
# counted in one line, with this many names.
_NAMED_MISSING = 5


def name_frames(store: Store, path: SymbolPath) -> list[str]:
    """Fill `stack_frame_rows.function` where a PDB matches; returns lines for the reports: which
    images had no matching PDB and why, and what the symbol path ignored."""
    con = store.con
    notes: list[str] = list(path.notes)
    missing: Counter[str] = Counter()
    named = 0
    for (trace_id,) in con.execute("SELECT trace_id FROM traces ORDER BY trace_id").fetchall():
        images = con.execute(
            "SELECT DISTINCT driver, pdb_name, pdb_guid, pdb_age FROM images "
            "WHERE trace_id = ? AND process_id = 0",
            [trace_id],
        ).fetchall()
        idents = [(d, PdbIdentity.from_columns(n, g, int(a))) for d, n, g, a in images]
        with Symbolizer(idents, path) as symbols:
            for result in symbols.report():
                if result.status == FOUND:
                    named += _name_module(store, symbols, trace_id, result.driver)
                elif result.status in (NOT_FOUND, NO_IDENTITY):
                    missing[result.driver] += 1
                else:  # a PDB of another build, or one that cannot be read: say exactly why
                    notes.append(result.line())
    if missing:
        shown = ", ".join(sorted(missing)[:_NAMED_MISSING])
        more = len(missing) - _NAMED_MISSING
        notes.append(
            f"symbols: no matching PDB for {len(missing)} image(s) ({shown}"
            f"{f' and {more} more' if more > 0 else ''}): their frames keep module+offset"
        )
    notes.append(f"symbols: {named:,} distinct frame(s) named from PDBs")
    return notes


def _name_module(store: Store, symbols: Symbolizer, trace_id: int, driver: str) -> int:
    con = store.con
    ids = [
        r[0]
        for r in con.execute(
            "SELECT module_id FROM frame_modules WHERE trace_id = ? AND module = ?",
            [trace_id, driver],
        ).fetchall()
    ]
    rvas = con.execute(
        "SELECT DISTINCT rva_bytes FROM stack_frame_rows "
        "WHERE trace_id = ? AND module_id IN (SELECT unnest(?::INTEGER[])) "
        "AND rva_bytes IS NOT NULL",
        [trace_id, ids],
    ).fetchnumpy()["rva_bytes"]
    rvas = np.asarray(rvas, dtype=np.int64)
    names = symbols.names(driver, rvas)
    keep = np.array([n is not None for n in names], dtype=bool)
    if not keep.any():
        return 0
    found = {
        "rva_bytes": rvas[keep],
        "function": np.array([n for n in names if n is not None], dtype=object),
    }
    con.register("_named_frames", found)
    try:
        con.execute(
            "UPDATE stack_frame_rows SET function = n.function FROM _named_frames AS n "
            "WHERE stack_frame_rows.trace_id = ? "
            "AND stack_frame_rows.module_id IN (SELECT unnest(?::INTEGER[])) "
            "AND stack_frame_rows.rva_bytes = n.rva_bytes",
            [trace_id, ids],
        ).fetchall()
    finally:
        con.unregister("_named_frames")
    return int(keep.sum())
