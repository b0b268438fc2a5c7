"""Mutations that know each format's structure, driven by one `random.Random`.

`.etl`: buffer header fields, record header fields (size, type, hook), payload integers (sizes,
counts, string lengths), string terminators, compressed (XPRESS) payload bytes, truncation at
structure boundaries. Text formats: values replaced by grammar-aware hostile ones (numbers of
hundreds of digits, past int64, negative, infinite; reserved driver names; surrogate escapes),
structure (aliases, merge bombs, deep nesting, duplicate keys), encodings and raw bytes.
Normalized folders: the manifest's JSON and the Parquet tables' values and bytes.
"""

from __future__ import annotations

import contextlib
import functools
import json
import random
import struct
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import duckdb
import yaml

from .seeds import Case

INTERESTING_INTS = (
    0, 1, 2, 7, 8, 0x7F, 0x80, 0xFF, 0x100, 0x7FFF, 0x8000, 0xFFFF, 0x10000, 0x7FFFFFFF,
    0x80000000, 0xFFFFFFFF, 0x100000000, 2**63 - 1, 2**63, 2**64 - 1,
)  # fmt: skip
RESERVED = ("(total)", "(kernel)", "(unattributed)", "*", "(TOTAL)")
HOSTILE_TEXT = (
    "9" * 400, "-" + "9" * 400, "1" * 5000, "-9223372036854775808", "9223372036854775807",
    "18446744073709551616", "1e999", "-1", "inf", "nan", "NaN", ".inf", "0x" + "f" * 40, "",
    " ", "1,5", "1.000.000", "\u00e9", "\x00", "'", '"', "\\", "*", "../x", "/etc/passwd",
    "a" * 5000, "1.5 KB", "0s..", "..", "5s..1s", "2026-13-45", "\ufeff", "\u202e",
    *RESERVED,
)  # fmt: skip


# --- bytes -------------------------------------------------------------------------------------


def _bytes(rng: random.Random, data: bytes) -> tuple[bytes, str]:
    """A generic byte-level mutation: flip, overwrite, insert, delete, truncate, duplicate."""
    buf = bytearray(data)
    if not buf:
        return bytes(rng.randbytes(rng.randint(1, 64))), "random bytes"
    op = rng.randrange(6)
    pos = rng.randrange(len(buf))
    if op == 0:
        buf[pos] ^= 1 << rng.randrange(8)
        return bytes(buf), f"flip bit at {pos}"
    if op == 1:
        n = rng.randint(1, 8)
        buf[pos : pos + n] = rng.randbytes(n)
        return bytes(buf), f"overwrite {n} at {pos}"
    if op == 2:
        return bytes(buf[:pos] + rng.randbytes(rng.randint(1, 16)) + buf[pos:]), f"insert {pos}"
    if op == 3:
        n = rng.randint(1, 64)
        return bytes(buf[:pos] + buf[pos + n :]), f"delete {n} at {pos}"
    if op == 4:
        return bytes(buf[:pos]), f"truncate at {pos}"
    n = rng.randint(1, 256)
    return bytes(buf[:pos] + buf[pos : pos + n] * rng.randint(2, 50) + buf[pos:]), f"repeat {pos}"


def _put_int(rng: random.Random, buf: bytearray, offset: int, size: int) -> int:
    value = rng.choice(INTERESTING_INTS) if rng.random() < 0.7 else rng.getrandbits(8 * size)
    value &= (1 << (8 * size)) - 1
    if rng.random() < 0.3:  # near the old value: off-by-one sizes and counts
        old = int.from_bytes(buf[offset : offset + size], "little")
        value = (old + rng.choice((-8, -2, -1, 1, 2, 8, 0x1000))) % (1 << (8 * size))
    buf[offset : offset + size] = value.to_bytes(size, "little")
    return value


# --- .etl --------------------------------------------------------------------------------------


def _etl_structure(data: bytes) -> tuple[list[int], list[tuple[int, int]]]:
    """Buffer starts, and (offset, size) of records in uncompressed buffers, walked loosely."""
    from gate.inputs.etl import layouts as L

    buffers, records = [], []
    pos = 0
    while pos + L.BUFFER_HEADER_SIZE <= len(data) and len(buffers) < 10_000:
        (size,) = struct.unpack_from("<I", data, pos)
        buffers.append(pos)
        (flags,) = struct.unpack_from("<H", data, pos + 0x34)
        end = min(pos + size, len(data))
        (offset,) = struct.unpack_from("<I", data, pos + 0x30)
        rec = pos + L.BUFFER_HEADER_SIZE
        while not flags & L.BUFFER_FLAG_COMPRESSED and rec + 8 <= min(pos + offset, end):
            htype = data[rec + 2]
            (rsize,) = struct.unpack_from(
                "<H", data, rec + (4 if htype in L.KERNEL_HEADER_TYPES else 0)
            )
            if rsize < 8 or data[rec : rec + 4] == b"\xff\xff\xff\xff":
                break
            records.append((rec, rsize))
            rec += (rsize + 7) & ~7
        if size < L.BUFFER_HEADER_SIZE:
            break
        pos += size
    return buffers, records


# (offset, width, name) of record header fields worth breaking: kernel headers keep Size at 4,
# generic headers at 0; the type byte, the hook and the timestamp follow.
_RECORD_FIELDS = (
    (4, 2, "Size"), (0, 2, "Size/Version"), (2, 1, "HeaderType"), (6, 2, "HookId"),
    (0x10, 8, "timestamp"),
)  # fmt: skip
_MANIFEST_FILES = (
    "../outside.parquet", "/etc/passwd", 12, "a" * 5000, None, "", "sub/x.parquet",
    "manifest.json", "traces.parquet",
)  # fmt: skip


def mutate_etl(rng: random.Random, data: bytes) -> tuple[bytes, str]:
    from gate.inputs.etl import layouts as L

    buf = bytearray(data)
    buffers, records = _etl_structure(data)
    op = rng.randrange(8)
    if op == 0 and buffers:
        start = rng.choice(buffers)
        f = rng.choice(L.WMI_BUFFER_HEADER.fields)
        value = _put_int(rng, buf, start + f.offset, min(f.size, 8))
        return bytes(buf), f"buffer at {start:#x}: {f.name} = {value:#x}"
    if op in (1, 2) and records:
        rec, size = rng.choice(records)
        offset, width, what = rng.choice(_RECORD_FIELDS)
        value = _put_int(rng, buf, rec + offset, width)
        return bytes(buf), f"record at {rec:#x}: {what} = {value:#x}"
    if op == 3 and records:
        rec, size = rng.choice(records)
        if size > 0x20:  # a payload integer: a size, a count, a string length, an address
            at = rec + rng.randrange(0x18, size - 4) // 4 * 4
            value = _put_int(rng, buf, at, rng.choice((2, 4, 8)) if at + 8 <= len(buf) else 4)
            return bytes(buf), f"payload of record {rec:#x} at {at:#x} = {value:#x}"
    if op == 4 and records:
        rec, size = rng.choice(records)
        zeros = [i for i in range(rec, rec + size - 1, 2) if buf[i : i + 2] == b"\0\0"]
        if zeros:  # a string without its terminator runs into the next record
            for i in zeros[: rng.randint(1, 4)]:
                buf[i : i + 2] = b"A\0"
            return bytes(buf), f"unterminated strings in record {rec:#x}"
    if op == 5 and buffers:
        start = rng.choice(buffers)
        (flags,) = struct.unpack_from("<H", buf, start + 0x34)
        if flags & L.BUFFER_FLAG_COMPRESSED:
            end = start + struct.unpack_from("<I", buf, start)[0]
            at = rng.randrange(
                start + L.BUFFER_HEADER_SIZE, max(end, start + L.BUFFER_HEADER_SIZE + 1)
            )
            n = rng.randint(1, 4)
            buf[at : at + n] = rng.randbytes(n)
            return bytes(buf), f"XPRESS bytes at {at:#x}"
    if op == 6 and (buffers or records):
        cuts = [b for b in buffers] + [r for r, _ in records] + [r + s for r, s in records]
        at = max(0, rng.choice(cuts) + rng.choice((-1, 0, 0, 1, 4, 8)))
        return bytes(buf[:at]), f"truncate at structure boundary {at:#x}"
    return _bytes(rng, data)


# --- text formats --------------------------------------------------------------------------


# Values at the edges of what the readers accept: they pass the reading and reach the SQL
# model and the rules, where sums, differences and ratios of them must not overflow.
EDGE_TEXT = (
    "1099511627775", "4294967295", "999999999.000000000", "0.000000001", "0", "9999999.0",
    "9223372036854775807", "8589934591 GiB", "0s..3153600000s", "0%", "1000%", "100%",
    "9.2e18", "-9.2e18", "0xffffffffffff0000", "1,099,511,627,775",
)  # fmt: skip
EDGE_NUMBERS = (2**40 - 1, 2**32 - 1, 2**63 - 1, -(2**63) + 1, 9.2e18, 1e7, 0, 100_000)


def _hostile(rng: random.Random) -> str:
    if rng.random() < 0.3:
        return rng.choice(EDGE_TEXT)
    if rng.random() < 0.15:
        return rng.choice(RESERVED) + rng.choice(("", ".sys", "+0x10", "!Fn"))
    return rng.choice(HOSTILE_TEXT)


def _tree(rng: random.Random, doc: Any, depth: int = 0) -> Any:
    """A copy of a JSON/YAML tree with one value, key or shape changed."""
    if isinstance(doc, dict) and doc and rng.random() < 0.8:
        key = rng.choice(list(doc))
        out = dict(doc)
        roll = rng.random()
        if roll < 0.1:
            out[_hostile(rng)] = out.pop(key)
        elif roll < 0.15:
            del out[key]
        else:
            out[key] = _tree(rng, doc[key], depth + 1)
        return out
    if isinstance(doc, list) and doc and rng.random() < 0.8:
        i = rng.randrange(len(doc))
        out = list(doc)
        if rng.random() < 0.1:
            out.append(out[i])
        else:
            out[i] = _tree(rng, doc[i], depth + 1)
        return out
    return _leaf(rng, doc)


def _leaf(rng: random.Random, value: Any) -> Any:
    if isinstance(value, (int, float)) and not isinstance(value, bool) and rng.random() < 0.3:
        return rng.choice(EDGE_NUMBERS)
    roll = rng.random()
    if roll < 0.35:
        return _hostile(rng)
    if roll < 0.6:
        return rng.choice((-1, 0, 2**63, 2**64, -(2**63) - 1, 10**12, 10**400, 1e308, 2**31))
    if roll < 0.7:
        return rng.choice((None, True, [], {}, [1, 2], {"x": 1}, 0.5, float("nan")))
    if roll < 0.8 and isinstance(value, str):
        return value * rng.randint(2, 200)
    if roll < 0.9:
        return [[[[value]]]] if rng.random() < 0.5 else {"<<": value}
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return value * rng.choice((-1, 2, 1000, 10**9))
    return _hostile(rng)


def _yaml_structure(rng: random.Random, text: str) -> tuple[str, str]:
    """Aliases, merge bombs, self references, deep nesting, duplicate keys."""
    op = rng.randrange(5)
    if op == 0:
        levels, width = rng.randint(3, 9), rng.randint(2, 9)
        bomb = ["x-l0: &l0 {k: 1}"] + [
            f"x-l{i}: &l{i} {{<<: [{', '.join([f'*l{i - 1}'] * width)}]}}" for i in range(1, levels)
        ]
        return "\n".join(bomb) + "\n" + text, f"merge bomb {levels}x{width}"
    if op == 1:
        return text + "x-self: &me {<<: *me}\n", "self-referring merge"
    if op == 2:
        depth = rng.choice((40, 600, 5000))
        return text + "x-deep: " + "[" * depth + "]" * depth + "\n", f"nesting {depth}"
    if op == 3:
        lines = text.splitlines(keepends=True)
        i = rng.randrange(len(lines))
        return "".join([*lines[: i + 1], lines[i], *lines[i + 1 :]]), f"duplicate line {i}"
    lines = text.splitlines(keepends=True)
    i = rng.randrange(len(lines))
    return "".join([*lines[:i], f'"\\ud800{rng.choice(RESERVED)}": 1\n', *lines[i:]]), "surrogate"


def mutate_yaml_text(rng: random.Random, text: str, load: bool = True) -> tuple[str, str]:
    roll = rng.random()
    if roll < 0.45 and load:
        try:
            doc = yaml.safe_load(text)
        except yaml.YAMLError:
            doc = None
        if doc is not None:
            try:
                return yaml.safe_dump(_tree(rng, doc), allow_unicode=True), "tree value"
            except (yaml.YAMLError, ValueError, OverflowError):
                pass
    if roll < 0.7:
        return _yaml_structure(rng, text)
    if roll < 0.85:  # a scalar in the text replaced as written
        words = [w for w in text.replace(",", " ").replace("}", " ").split() if not w.endswith(":")]
        if words:
            word = rng.choice(words)
            new = _hostile(rng)
            return text.replace(
                word, json.dumps(new) if rng.random() < 0.5 else new, 1
            ), f"{word!r}"
    data, what = _bytes(rng, text.encode("utf-8", "surrogateescape"))
    return data.decode("utf-8", "surrogateescape"), what


def mutate_csv(rng: random.Random, text: str) -> tuple[str, str]:
    lines = text.splitlines()
    op = rng.randrange(6)
    if op <= 2 and len(lines) > 1:
        i = rng.randrange(1, len(lines))
        cells = lines[i].split(",")
        j = rng.randrange(len(cells))
        new = _hostile(rng)
        if rng.random() < 0.3:
            new = "/".join(
                f"{rng.choice(RESERVED)}+0x{rng.getrandbits(rng.choice((8, 64, 160))):x}"
                for _ in range(2)
            )
        cells[j] = f'"{new}"' if "," in new else new
        lines[i] = ",".join(cells)
        return "\n".join(lines) + "\n", f"cell {i}:{j} = {new[:30]!r}"
    if op == 3:
        header = lines[0].split(",")
        j = rng.randrange(len(header))
        header[j] = rng.choice(("Size (KB)", "Size (XB)", "Stack", "Paged", "", "AllocTime (ms)",
                                "Session", "Page Count", _hostile(rng)))  # fmt: skip
        return "\n".join([",".join(header), *lines[1:]]) + "\n", f"header {j} = {header[j][:20]!r}"
    if op == 4:
        i = rng.randrange(len(lines))
        return "\n".join(
            lines[: i + 1] + [lines[i]] * rng.randint(1, 3) + lines[i + 1 :]
        ) + "\n", "dup"
    data, what = _bytes(rng, text.encode("utf-8", "surrogateescape"))
    return data.decode("utf-8", "surrogateescape"), what


def _encoded(rng: random.Random, text: str) -> bytes:
    raw = text.encode("utf-8", "surrogateescape")
    if rng.random() < 0.05:
        return text.encode("utf-16", "surrogatepass")
    return raw


# --- normalized folders -------------------------------------------------------------------


@functools.cache
def _duckdb() -> duckdb.DuckDBPyConnection:
    """One in-memory connection per process for the Parquet rewrites: connecting costs more
    than the rewrite itself."""
    return duckdb.connect()


def _parquet_variant(rng: random.Random, data: bytes, table: str) -> tuple[bytes, str]:
    """The table rewritten by DuckDB with one column replaced by extreme values."""
    extremes = ("1099511627775", "999999999.0", "4294967295",
                "NULL", "-1", "9223372036854775807", "-9223372036854775808", "'inf'::DOUBLE",
                "'nan'::DOUBLE", "1e300", "'(total)'", "''", "repeat('x', 100000)", "0",
                "4294967296", "'\\x00'")  # fmt: skip
    with tempfile.TemporaryDirectory(prefix="gate-fuzz-pq-") as tmp:
        src, dst = Path(tmp) / "in.parquet", Path(tmp) / "out.parquet"
        src.write_bytes(data)
        con = _duckdb()
        try:
            cols = [
                r[0]
                for r in con.execute(
                    "DESCRIBE SELECT * FROM read_parquet(?)", [str(src)]
                ).fetchall()
            ]
            col = rng.choice(cols)
            value = rng.choice(extremes)
            try:
                con.sql(
                    f"SELECT * REPLACE ({value} AS \"{col}\") FROM read_parquet('{src}')"
                ).write_parquet(str(dst))
            except duckdb.Error:
                con.sql(
                    f"SELECT * REPLACE ({value}::VARCHAR AS \"{col}\") FROM read_parquet('{src}')"
                ).write_parquet(str(dst))
            return dst.read_bytes(), f"{table}.{col} = {value}"
        except duckdb.Error as exc:
            return data, f"parquet variant failed: {exc}"


def mutate_normalized(rng: random.Random, case: Case) -> str:
    files = case.files
    manifest_name = f"{case.entry}/manifest.json"
    roll = rng.random()
    if roll < 0.4:
        doc = json.loads(files[manifest_name])
        if rng.random() < 0.4:
            table = rng.choice(list(doc["tables"]))
            doc["tables"][table]["file"] = rng.choice(_MANIFEST_FILES)
            what = f"{table} file"
        else:
            doc, what = _tree(rng, doc), "manifest tree"
        with contextlib.suppress(ValueError, OverflowError):
            files[manifest_name] = json.dumps(doc).encode()
        if rng.random() < 0.1:
            files[manifest_name] = b'{"x":' + b"[" * 100_000 + b"]" * 100_000 + b"}"
            what = "deep manifest"
        return what
    parquets = sorted(n for n in files if n.endswith(".parquet"))
    name = rng.choice(parquets)
    if roll < 0.8:
        files[name], what = _parquet_variant(rng, files[name], Path(name).stem)
        return what
    files[name], what = _bytes(rng, files[name])
    return f"{name}: {what}"


# --- any case -----------------------------------------------------------------------------


def mutate(rng: random.Random, case: Case) -> Case:
    """`case` with one to three mutations; the notes say which."""
    out = Case(case.kind, dict(case.files), case.entry, list(case.notes))
    for _ in range(rng.choice((1, 1, 1, 2, 3))):
        try:
            out.notes.append(_one(rng, out))
        except Exception:
            # A tree mutation cannot parse what an earlier one broke: mutate the bytes.
            name = rng.choice(sorted(out.files))
            out.files[name], what = _bytes(rng, out.files[name])
            out.notes.append(f"{name}: {what}")
    return out


def _one(rng: random.Random, case: Case) -> str:
    if case.kind == "normalized":
        return mutate_normalized(rng, case)
    name = rng.choice(sorted(case.files))
    if case.kind == "wpa-csv" and rng.random() < 0.05:
        case.files["notes.csv"] = b'"' + b"x" * (200 << 10) + b'",b\n'
        return "unrelated notes.csv with a giant field"
    data = case.files[name]
    if case.kind == "etl":
        case.files[name], what = mutate_etl(rng, data)
        return what
    text = data.decode("utf-8", "surrogateescape")
    handlers: dict[str, Callable[[random.Random, str], tuple[str, str]]] = {
        "wpa-csv": mutate_csv,
        "scenario": mutate_yaml_text,
        "budgets": mutate_yaml_text,
        "baseline": lambda r, t: _json_text(r, t),
        "pooltag": lambda r, t: _pooltag(r, t),
    }
    text, what = handlers[case.kind](rng, text)
    case.files[name] = _encoded(rng, text)
    return f"{name}: {what}"


def _json_text(rng: random.Random, text: str) -> tuple[str, str]:
    roll = rng.random()
    if roll < 0.5:
        try:
            return json.dumps(_tree(rng, json.loads(text))), "tree value"
        except (ValueError, OverflowError):
            pass
    if roll < 0.7:
        digits = rng.choice(("9" * 400, "9" * 5000, "1e999", "-0", "1" * 25))
        return text.replace("40", digits, 1), f"number of {len(digits)} characters"
    if roll < 0.8:
        depth = rng.choice((20, 1200, 100_000))
        return text[:-2] + ', "x": ' + "[" * depth + "]" * depth + "}\n", f"nesting {depth}"
    data, what = _bytes(rng, text.encode("utf-8", "surrogateescape"))
    return data.decode("utf-8", "surrogateescape"), what


def _pooltag(rng: random.Random, text: str) -> tuple[str, str]:
    roll = rng.random()
    if roll < 0.6:
        tag = rng.choice(("Ab", "Abcdef", "*", "?", "[x", "-Ab", "", "A" * 5000))
        binary = rng.choice((*RESERVED, "nt!x", "a.sys, b.sys", "x" * 300 + ".sys", "ntoskrnl.exe"))
        line = f"{tag} - {binary} - {_hostile(rng)}\n"
        return text + line, f"line {line[:40]!r}"
    data, what = _bytes(rng, text.encode("utf-8", "surrogateescape"))
    return data.decode("utf-8", "surrogateescape"), what
