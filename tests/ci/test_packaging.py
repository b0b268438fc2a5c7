"""The published distribution: metadata in pyproject, and a built wheel and sdist that hold
what an installed gate and a test run from the sdist need."""

from __future__ import annotations

import email.parser
import importlib.metadata
import importlib.util
import re
import shutil
import subprocess
import sys
import tarfile
import zipfile
from pathlib import Path

import pytest
from scenario_kit import REPO

import gate

HOME = "https://github.com/driver-memory-gate/driver-memory-gate"
# Left out of the copy that is built: caches and leftovers of a working checkout.
IGNORED = shutil.ignore_patterns(
    ".git",
    "__pycache__",
    "*.egg-info",
    "build",
    "dist",
    ".pytest_cache",
    ".ruff_cache",
    "*.nbi",
    "*.nbc",
    "gate-reports",
    "bench-out",
    ".venv",
)
_NO_NETWORK = re.compile(
    r"No matching distribution|Could not find a version|ConnectionError|NewConnectionError|"
    r"Network is unreachable|Temporary failure in name resolution|Max retries exceeded",
    re.I,
)


def _pyproject() -> dict:
    tomllib = pytest.importorskip("tomllib", reason="tomllib is in Python 3.11 and later")
    return tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))


def test_the_distribution_is_named_as_the_package_says() -> None:
    project = _pyproject()["project"]
    assert project["name"] == gate.DISTRIBUTION == "driver-memory-gate"
    assert project["dynamic"] == ["version"]
    assert _pyproject()["tool"]["setuptools"]["dynamic"]["version"] == {"attr": "gate.__version__"}
    assert project["scripts"] == {"gate": "gate.cli:main"}
    assert project["license"] == "MIT"
    assert project["license-files"] == ["LICENSE"]
    assert project["urls"] == {
        "Homepage": HOME,
        "Repository": HOME,
        "Issues": f"{HOME}/issues",
        "Changelog": f"{HOME}/releases",
    }


def test_classifiers_say_what_is_true() -> None:
    classifiers = _pyproject()["project"]["classifiers"]
    pythons = [c.rsplit(" ", 1)[1] for c in classifiers if re.fullmatch(r".*:: 3\.\d+", c)]
    assert pythons == ["3.10", "3.11", "3.12", "3.13"]
    assert _pyproject()["project"]["requires-python"] == ">=3.10"
    for expected in (
        "Environment :: Console",
        "Operating System :: OS Independent",
        "Topic :: Software Development :: Testing",
        "Topic :: Software Development :: Quality Assurance",
    ):
        assert expected in classifiers
    # An SPDX licence expression and a licence classifier together are refused by the index.
    assert not [c for c in classifiers if c.startswith("License ::")]
    # "Typed" is a promise that type checkers may read the package: it needs the marker file.
    assert ("Typing :: Typed" in classifiers) == (REPO / "gate" / "py.typed").is_file()


def test_the_licence_is_mit_for_the_authors() -> None:
    text = (REPO / "LICENSE").read_text(encoding="utf-8")
    assert text.startswith("MIT License\n\nCopyright (c) ")
    assert re.search(r"Copyright \(c\) \d{4} The driver-memory-gate authors\n", text)
    assert 'THE SOFTWARE IS PROVIDED "AS IS"' in text


# --- building ----------------------------------------------------------------------------------


def _build(source: Path, out: Path, *, isolated: bool) -> subprocess.CompletedProcess:
    command = [sys.executable, "-m", "build", "--outdir", str(out), str(source)]
    if not isolated:
        command.insert(3, "--no-isolation")
    return subprocess.run(command, capture_output=True, text=True, timeout=900, check=False)


def _installed(distribution: str) -> bool:
    """Whether a distribution is installed: not merely importable, since a checkout's own
    `build/` folder (left by `pip install .`) imports as a namespace package."""
    try:
        importlib.metadata.version(distribution)
    except importlib.metadata.PackageNotFoundError:
        return False
    return True


def _has_backend() -> bool:
    """Whether this Python has the build backend pyproject.toml asks for: an older setuptools
    fails on the SPDX licence before build can name the missing requirement."""
    want = _pyproject()["build-system"]["requires"]
    (spec,) = [r for r in want if r.startswith("setuptools")]
    least = int(spec.split(">=")[1].split(".")[0])
    try:
        have = importlib.metadata.version("setuptools")
    except importlib.metadata.PackageNotFoundError:
        return False
    return int(have.split(".")[0]) >= least


@pytest.fixture(scope="module")
def dist(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A wheel and an sdist built from a copy of this checkout: without build isolation when
    this Python has the build backend, else isolated (which needs the network)."""
    if not _installed("build"):
        pytest.skip("the `build` package is not installed (python -m pip install build twine)")
    root = tmp_path_factory.mktemp("packaging")
    source, out = root / "source", root / "dist"
    shutil.copytree(REPO, source, ignore=IGNORED)
    done = _build(source, out, isolated=not _has_backend())
    if done.returncode != 0:
        if "Missing dependencies" not in done.stdout + done.stderr:
            pytest.fail(f"python -m build --no-isolation failed:\n{done.stdout}\n{done.stderr}")
        done = _build(source, out, isolated=True)
        if done.returncode != 0 and _NO_NETWORK.search(done.stdout + done.stderr):
            pytest.skip("this Python lacks the build backend and the index cannot be reached")
        assert done.returncode == 0, f"python -m build failed:\n{done.stdout}\n{done.stderr}"
    return out


def _only(folder: Path, pattern: str) -> Path:
    (path,) = folder.glob(pattern)
    return path


def test_twine_accepts_both(dist: Path) -> None:
    if not _installed("twine"):
        pytest.skip("twine is not installed (python -m pip install twine)")
    files = sorted(str(p) for p in dist.iterdir())
    assert len(files) == 2
    done = subprocess.run(
        [sys.executable, "-m", "twine", "check", "--strict", *files],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout.count("PASSED") == 2


def test_the_wheel_holds_the_sql_the_sample_and_the_wpa_profiles(dist: Path) -> None:
    version = gate.__version__
    wheel = _only(dist, f"driver_memory_gate-{version}-py3-none-any.whl")
    with zipfile.ZipFile(wheel) as archive:
        names = set(archive.namelist())
        info = f"driver_memory_gate-{version}.dist-info"
        metadata = email.parser.Parser().parsestr(archive.read(f"{info}/METADATA").decode("utf-8"))
        entry_points = archive.read(f"{info}/entry_points.txt").decode("utf-8")
    package = REPO / "gate"
    wanted = {
        p.relative_to(REPO).as_posix()
        for pattern in ("**/*.sql", "data/sample/*", "data/wpa/*.wpaProfile", "py.typed")
        for p in package.glob(pattern)
        if p.is_file()
    }
    assert {"gate/store/schema.sql", "gate/data/sample/sample-boot.etl", "gate/py.typed"} <= wanted
    assert any(n.endswith(".wpaProfile") for n in wanted)
    assert wanted <= names, wanted - names
    assert f"{info}/licenses/LICENSE" in names
    assert not [n for n in names if n.startswith("tests/") or "__pycache__" in n]
    assert metadata["Name"] == "driver-memory-gate"
    assert metadata["Version"] == version
    assert metadata["License-Expression"] == "MIT"
    assert metadata["Requires-Python"] == ">=3.10"
    assert metadata["Description-Content-Type"] == "text/markdown"
    assert f"Homepage, {HOME}" in metadata.get_all("Project-URL")
    assert "gate = gate.cli:main" in entry_points


def test_the_sdist_holds_tests_docs_budgets_and_the_ci_integrations(dist: Path) -> None:
    version = gate.__version__
    sdist = _only(dist, f"driver_memory_gate-{version}.tar.gz")
    top = f"driver_memory_gate-{version}/"
    with tarfile.open(sdist) as archive:
        names = {m.name.removeprefix(top) for m in archive.getmembers() if m.isfile()}
    expected = {
        "LICENSE",
        "README.md",
        "pyproject.toml",
        "action.yml",
        "ci/azure/gate.yml",
        "ci/gitlab/gate.gitlab-ci.yml",
        "ci/jenkins/Jenkinsfile",
        "docs/ci.md",
        "budgets/example.yaml",
        "budgets/example.baseline.json",
        "gate/data/sample/sample-boot.etl",
        "gate/data/sample/budgets.yaml",
        "gate/data/sample/baseline.json",
        "tests/conftest.py",
        "tests/scenario_kit.py",
        "tests/ci/test_packaging.py",
    }
    assert expected <= names, expected - names
    tests = {p.relative_to(REPO).as_posix() for p in (REPO / "tests").rglob("test_*.py")}
    assert tests <= names, tests - names
    assert not [n for n in names if "__pycache__" in n or n.endswith((".pyc", ".nbi", ".nbc"))]
