"""The `dbghelp` backend: PDBs read by Windows' own DbgHelp, through ctypes.

Each reader is one DbgHelp session: `SymInitializeW` with a unique pseudo-handle (DbgHelp
asks for a unique non-zero value and never uses it as a process handle when it is not told
to invade a process), the PDB loaded by `SymLoadModuleExW` as a module at a made-up base
address, `SymFromAddrW` for each RVA at that base, `SymCleanup` at the end. `SYMOPT_UNDNAME`
makes DbgHelp undecorate public symbols to their names alone, the form WPA shows. The search
path given to `SymInitializeW` is the PDB's own folder, so DbgHelp never consults
`_NT_SYMBOL_PATH` nor a symbol server. DbgHelp is single-threaded: every call holds one lock.
Its options (`SymSetOptions`) belong to the whole process; each reader sets them again before
it starts its session.

Function signatures and `SYMBOL_INFOW` follow dbghelp.h as documented on Microsoft Learn
("SymInitializeW", "SymLoadModuleExW", "SymFromAddrW", "SYMBOL_INFOW"); the structure is laid
out with fixed-width types so that its offsets are the same on every system and can be
tested anywhere: `SizeOfStruct` is `sizeof(SYMBOL_INFOW)`, 88 bytes, and `MaxNameLen` counts
the UTF-16 characters room is left for after the `Name` field at offset 84.

DbgHelp answers with the nearest symbol below an address even past a function's end. Like
symbolic, the reader names no function there: an answer whose size is known and does not
reach the RVA is dropped, and a public symbol (which has no size) is dropped when DbgHelp
knows a sized function at the same address that ends before the RVA.
"""

from __future__ import annotations

import ctypes
import itertools
import os
import threading
from pathlib import Path

from gate.inputs.symbols.cached import CachedReader
from gate.inputs.symbols.identity import Function
from gate.inputs.symbols.pdbfile import PdbFormatError, PdbInfo

SYMOPT_UNDNAME = 0x00000002
SYMOPT_FAIL_CRITICAL_ERRORS = 0x00000200
SYMOPT_AUTO_PUBLICS = 0x00010000
SYMOPT_NO_PROMPTS = 0x00080000
OPTIONS = SYMOPT_UNDNAME | SYMOPT_FAIL_CRITICAL_ERRORS | SYMOPT_AUTO_PUBLICS | SYMOPT_NO_PROMPTS
SYMFLAG_PUBLIC_CODE = 0x00400000
SYMTAG_PUBLIC_SYMBOL = 10  # SymTagEnum (cvconst.h)
MAX_SYM_NAME = 2000
# Where the PDB's image is pretended to be loaded; any base that leaves room for the image.
FAKE_BASE = 0x10000000
DEFAULT_IMAGE_SIZE = 0x40000000  # when the PDB lists no sections to size the image by

_LOCK = threading.Lock()
_HANDLES = itertools.count(0x6A7E0001)


class SYMBOL_INFOW(ctypes.Structure):
    """dbghelp.h `SYMBOL_INFOW`, up to and including the first character of `Name`."""

    _fields_ = (
        ("SizeOfStruct", ctypes.c_uint32),  # 0x00
        ("TypeIndex", ctypes.c_uint32),  # 0x04
        ("Reserved", ctypes.c_uint64 * 2),  # 0x08
        ("Index", ctypes.c_uint32),  # 0x18
        ("Size", ctypes.c_uint32),  # 0x1C
        ("ModBase", ctypes.c_uint64),  # 0x20
        ("Flags", ctypes.c_uint32),  # 0x28
        ("Value", ctypes.c_uint64),  # 0x30 (after 4 bytes of alignment)
        ("Address", ctypes.c_uint64),  # 0x38
        ("Register", ctypes.c_uint32),  # 0x40
        ("Scope", ctypes.c_uint32),  # 0x44
        ("Tag", ctypes.c_uint32),  # 0x48
        ("NameLen", ctypes.c_uint32),  # 0x4C
        ("MaxNameLen", ctypes.c_uint32),  # 0x50
        ("Name", ctypes.c_uint16 * 1),  # 0x54, WCHAR[1]; the name runs on past the structure
    )


class _SymbolBuffer(ctypes.Structure):
    """A SYMBOL_INFOW with room for a name of MAX_SYM_NAME characters."""

    _fields_ = (("info", SYMBOL_INFOW), ("room", ctypes.c_uint16 * MAX_SYM_NAME))


def new_symbol_buffer() -> _SymbolBuffer:
    """A buffer ready for SymFromAddrW: SizeOfStruct and MaxNameLen set."""
    buf = _SymbolBuffer()
    buf.info.SizeOfStruct = ctypes.sizeof(SYMBOL_INFOW)
    buf.info.MaxNameLen = (ctypes.sizeof(_SymbolBuffer) - SYMBOL_INFOW.Name.offset) // 2
    return buf


def symbol_name(buf: _SymbolBuffer) -> str:
    """The UTF-16 name SymFromAddrW wrote into `buf`."""
    length = min(buf.info.NameLen, buf.info.MaxNameLen)
    raw = ctypes.string_at(ctypes.addressof(buf.info) + SYMBOL_INFOW.Name.offset, 2 * length)
    return raw.decode("utf-16-le", errors="replace")


def _dbghelp() -> ctypes.CDLL:
    """The system's dbghelp.dll (System32's, not a copy found first on the DLL path)."""
    from ctypes import wintypes

    root = os.environ.get("SYSTEMROOT", r"C:\Windows")
    system = os.path.join(root, "System32", "dbghelp.dll")
    where = system if os.path.exists(system) else "dbghelp.dll"
    dll = ctypes.WinDLL(where, use_last_error=True)  # type: ignore[attr-defined]
    handle, pcwstr, u64 = wintypes.HANDLE, wintypes.LPCWSTR, ctypes.c_uint64
    dll.SymSetOptions.argtypes, dll.SymSetOptions.restype = [wintypes.DWORD], wintypes.DWORD
    dll.SymInitializeW.argtypes = [handle, pcwstr, wintypes.BOOL]
    dll.SymInitializeW.restype = wintypes.BOOL
    dll.SymLoadModuleExW.argtypes = [
        handle, handle, pcwstr, pcwstr, u64, wintypes.DWORD, ctypes.c_void_p, wintypes.DWORD
    ]  # fmt: skip
    dll.SymLoadModuleExW.restype = u64
    dll.SymFromAddrW.argtypes = [handle, u64, ctypes.POINTER(u64), ctypes.POINTER(SYMBOL_INFOW)]
    dll.SymFromAddrW.restype = wintypes.BOOL
    dll.SymCleanup.argtypes, dll.SymCleanup.restype = [handle], wintypes.BOOL
    return dll


class DbgHelpReader(CachedReader):
    """A PDB opened with DbgHelp."""

    def __init__(self, path: Path, info: PdbInfo) -> None:
        super().__init__(path, info)
        self._dll = _dbghelp()
        self._buf = new_symbol_buffer()
        ends = [end for _start, end in info.code_ranges()]
        size = max(ends) if ends else DEFAULT_IMAGE_SIZE
        handle = next(_HANDLES)
        self._handle: int | None = None
        with _LOCK:
            self._dll.SymSetOptions(OPTIONS)
            if not self._dll.SymInitializeW(handle, str(path.parent), False):
                code = ctypes.get_last_error()  # type: ignore[attr-defined]
                raise PdbFormatError(path, f"DbgHelp SymInitializeW failed (error {code})")
            base = self._dll.SymLoadModuleExW(
                handle, None, str(path), None, FAKE_BASE, size, None, 0
            )
            if base == 0:
                code = ctypes.get_last_error()  # type: ignore[attr-defined]
                self._dll.SymCleanup(handle)
                raise PdbFormatError(path, f"DbgHelp cannot load it (error {code})")
        self._handle, self._base = handle, int(base)

    def _symbol_at(self, address: int) -> tuple[int, int, bool, str] | None:
        """(address, size, is public, name) of DbgHelp's symbol for `address`, or None."""
        buf = self._buf
        buf.info.NameLen = 0
        displacement = ctypes.c_uint64(0)
        if not self._dll.SymFromAddrW(
            self._handle, address, ctypes.byref(displacement), ctypes.byref(buf.info)
        ):
            return None
        public = buf.info.Tag == SYMTAG_PUBLIC_SYMBOL or bool(buf.info.Flags & SYMFLAG_PUBLIC_CODE)
        return int(buf.info.Address), int(buf.info.Size), public, symbol_name(buf)

    def _lookup(self, rva: int) -> Function | None:
        if self._handle is None:
            return None
        wanted = self._base + rva
        with _LOCK:
            got = self._symbol_at(wanted)
            if got is None:
                return None
            address, size, public, name = got
            if size and wanted >= address + size:
                return None  # past the end of the function below
            if public and address != wanted:
                at = self._symbol_at(address)
                if at is not None and not at[2] and at[1] and wanted >= address + at[1]:
                    return None  # past the end of the function the public symbol names
        return Function(name, address - self._base)

    def close(self) -> None:
        """End the DbgHelp session (`SymCleanup`)."""
        super().close()
        if self._handle is not None:
            with _LOCK:
                self._dll.SymCleanup(self._handle)
            self._handle = None
