"""The default install is the compiled one where numba has wheels; GATE_NO_NUMBA=1 forces the
numpy path, and both paths read a trace to the same chunks."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from gate.inputs.etl import jit

REPO = Path(__file__).resolve().parents[3]

# (sys_platform, platform_machine, python_version, implementation) -> numba installed by default.
PLATFORMS = [
    ("linux", "x86_64", "3.10", "CPython", True),
    ("linux", "x86_64", "3.14", "CPython", True),
    ("linux", "aarch64", "3.12", "CPython", True),
    ("win32", "AMD64", "3.11", "CPython", True),
    ("win32", "ARM64", "3.13", "CPython", True),
    ("win32", "ARM64", "3.11", "CPython", False),  # no numba wheels before 3.12
    ("darwin", "arm64", "3.14", "CPython", True),
    ("darwin", "x86_64", "3.13", "CPython", True),
    ("darwin", "x86_64", "3.14", "CPython", False),  # numba's last x86-64 macOS wheels: 3.13
    ("linux", "ppc64le", "3.12", "CPython", False),
    ("linux", "x86_64", "3.12", "PyPy", False),
    ("linux", "x86_64", "3.15", "CPython", False),
]


def _numba_requirements() -> tuple[list[str], list[str]]:
    tomllib = pytest.importorskip("tomllib")  # Python 3.11+
    project = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    default = [r for r in project["dependencies"] if r.startswith("numba")]
    return default, project["optional-dependencies"]["fast"]


@pytest.mark.parametrize(("plat", "machine", "python", "impl", "expected"), PLATFORMS)
def test_numba_is_a_default_dependency_where_it_has_wheels(
    plat: str, machine: str, python: str, impl: str, expected: bool
) -> None:
    requirements = pytest.importorskip("packaging.requirements")
    default, _ = _numba_requirements()
    env = {
        "sys_platform": plat,
        "platform_machine": machine,
        "python_version": python,
        "python_full_version": python + ".0",
        "platform_python_implementation": impl,
        "implementation_name": impl.lower(),
    }
    markers = [requirements.Requirement(r).marker for r in default]
    assert markers and all(m is not None for m in markers)
    assert any(m.evaluate(env) for m in markers if m is not None) == expected


def test_the_fast_extra_still_names_numba() -> None:
    _, fast = _numba_requirements()
    assert [r.split(";")[0].strip() for r in fast] == ["numba>=0.59"]


def _run(code: str, no_numba: bool) -> str:
    env = {k: v for k, v in os.environ.items() if k != "GATE_NO_NUMBA"}
    if no_numba:
        env["GATE_NO_NUMBA"] = "1"
    done = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, cwd=REPO, check=False
    )
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()


BACKENDS = (
    "from gate.inputs.etl import jit, xpress; print(jit.AVAILABLE, xpress.available_backends())"
)


def test_gate_no_numba_forces_the_numpy_path() -> None:
    assert _run(BACKENDS, no_numba=True).startswith("False ")
    assert "numba" not in _run(BACKENDS, no_numba=True)


def test_without_the_switch_numba_is_used_when_installed() -> None:
    pytest.importorskip("numba")
    assert _run(BACKENDS, no_numba=False).startswith("True ")


# Every chunk a trace reads to, as one digest: columns in order, object columns as text.
DIGEST = """
import hashlib
from gate.inputs.etl.reader import read_etl
h = hashlib.sha256()
rows = {}
for c in read_etl(TRACE):
    if not hasattr(c, "columns"):
        continue
    h.update(c.table.encode())
    for name, col in c.columns.items():
        h.update(name.encode())
        text = "\\x1f".join(map(str, col.tolist())) if col.dtype == object else None
        h.update(text.encode() if text is not None else col.tobytes())
    rows[c.table] = rows.get(c.table, 0) + c.rows
print(h.hexdigest(), rows["pool_allocations"], rows["stack_frames"])
"""


def test_both_paths_read_a_compressed_trace_to_the_same_chunks(tmp_path: Path) -> None:
    pytest.importorskip("numba")
    if not jit.AVAILABLE:
        pytest.skip("GATE_NO_NUMBA is set: this run compares nothing against the kernels")
    from gate.inputs.scenario import generate, parse_scenario
    from gate.synthetic.etl import write_scenario_etl

    nt = "\\SystemRoot\\system32\\ntoskrnl.exe"
    drivers = [f"d{i}.sys" for i in range(6)]
    images = [{"path": nt, "base": 0xFFFFF802_4000_0000, "size": 0x100_0000}] + [
        {"path": f"\\SystemRoot\\System32\\drivers\\{d}", "base": 0xFFFFF802_5000_0000 + (i << 24),
         "size": 0x10_0000}
        for i, d in enumerate(drivers)
    ]  # fmt: skip
    allocations = [
        {
            "tag": f"T{i:03d}"[:4],
            "size": [16, 4096],
            "count": 40,
            "start_s": 0.1,
            "end_s": 9.0,
            "lifetime_s": 0.5 if i % 3 else None,
            "stack": [f"ntoskrnl.exe+0x{0x1000 + i:x}"]
            + [f"{drivers[(i + k) % 6]}+0x{0x100 * k + i:x}" for k in range(1 + i % 9)],
        }
        for i in range(60)
    ]
    for a in allocations:
        if a["lifetime_s"] is None:
            del a["lifetime_s"]
    doc = {"scenario": 1, "name": "paths", "duration_s": 10.0, "cpus": 4, "seed": 3,
           "images": images, "allocations": allocations}  # fmt: skip
    trace = write_scenario_etl(
        generate(parse_scenario(doc)), tmp_path / "t.etl", compress=True, buffer_size=8192
    )
    code = DIGEST.replace("TRACE", repr(str(trace)))
    numpy_path = _run(code, no_numba=True)
    assert numpy_path == _run(code, no_numba=False)
    _, allocs, frames = numpy_path.split()
    assert int(allocs) == 60 * 40 and int(frames) > 60
    assert jit.AVAILABLE  # this process has numba: the comparison above did use it
