"""pooltag.txt files with unusual names, oversized files and lines, and driver names the gate
reserves: file names are escaped, sizes bounded, reserved names never come out as drivers."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from gate.errors import InputError
from gate.inputs.pooltag import read_pooltag


def test_a_file_name_that_is_not_utf8_is_escaped(tmp_path: Path) -> None:
    path = Path(os.fsdecode(os.fsencode(tmp_path) + b"/pool\xe9.txt"))
    path.write_bytes(b"Ab1 - a.sys - x\nAbcdef - b.sys - y\n")
    with pytest.raises(InputError) as caught:
        read_pooltag(path)
    assert str(caught.value) == (
        f"{tmp_path}/pool\\xe9.txt:2: the pool tag has 6 characters, more than 4 "
        "(expected 'Tag - driver.sys - description')"
    )
    path.write_bytes(b"Ab1 - a.sys - x\nAb2 - <unknown> - y\n")
    table = read_pooltag(path)
    assert table.sources == [f"{tmp_path}/pool\\xe9.txt"]
    assert table.drivers == {"Ab1": "a.sys"}
    assert table.skipped == [
        f"{tmp_path}/pool\\xe9.txt:2: tag 'Ab2' names <unknown>, not one driver"
    ]


def test_a_file_too_large_to_be_a_pooltag_list_is_not_read(tmp_path: Path) -> None:
    path = tmp_path / "pooltag.txt"
    with path.open("wb") as fh:
        fh.truncate((64 << 20) + 1)  # sparse: nothing is written
    with pytest.raises(InputError) as caught:
        read_pooltag(path)
    assert str(caught.value) == f"{path}: 67,108,865 bytes is too large for a pooltag.txt"


@pytest.mark.parametrize("binary", ["(total)", "(kernel).sys", "*", "(unattributed)"])
def test_reserved_names_never_come_out_as_drivers(tmp_path: Path, binary: str) -> None:
    path = tmp_path / "pooltag.txt"
    path.write_text(f"Ab1 - {binary} - x\n", encoding="utf-8")
    table = read_pooltag(path)
    assert table.drivers == {}
    assert table.skipped == [f"{path}:1: tag 'Ab1' names {binary}, not one driver"]


def test_a_file_that_is_not_a_pooltag_list_is_not_quoted(tmp_path: Path) -> None:
    path = tmp_path / "environ"
    path.write_bytes(b"CI_TOKEN=s3cr3t\0HOME=/root\0")
    with pytest.raises(InputError) as caught:
        read_pooltag(path)
    assert str(caught.value) == (
        f"{path}:1: expected 'Tag - driver.sys - description', got a line of 27 characters "
        "without it"
    )
