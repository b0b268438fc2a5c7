"""The DbgHelp structure layout, checked on every system (the calls themselves need Windows).

Offsets are those of dbghelp.h's SYMBOL_INFOW with natural alignment, as MSVC lays it out
for both x86 and x64: the 4 bytes after `Flags` align `Value` to 8.
"""

from __future__ import annotations

import ctypes

from gate.inputs.symbols.dbghelp import (
    MAX_SYM_NAME,
    SYMBOL_INFOW,
    new_symbol_buffer,
    symbol_name,
)

OFFSETS = {
    "SizeOfStruct": 0,
    "TypeIndex": 4,
    "Reserved": 8,
    "Index": 24,
    "Size": 28,
    "ModBase": 32,
    "Flags": 40,
    "Value": 48,
    "Address": 56,
    "Register": 64,
    "Scope": 68,
    "Tag": 72,
    "NameLen": 76,
    "MaxNameLen": 80,
    "Name": 84,
}


def test_symbol_info_offsets_and_size() -> None:
    assert {name: getattr(SYMBOL_INFOW, name).offset for name in OFFSETS} == OFFSETS
    assert ctypes.sizeof(SYMBOL_INFOW) == 88


def test_buffer_sizes_and_name_decoding() -> None:
    buf = new_symbol_buffer()
    assert buf.info.SizeOfStruct == 88
    assert buf.info.MaxNameLen == MAX_SYM_NAME + 2  # the name may use Name[1] and the padding
    assert 84 + 2 * buf.info.MaxNameLen == ctypes.sizeof(buf)
    text = "Contoso::Queue::Grow"
    raw = text.encode("utf-16-le")
    ctypes.memmove(ctypes.addressof(buf.info) + 84, raw, len(raw))
    buf.info.NameLen = len(text)
    assert symbol_name(buf) == text
    buf.info.NameLen = 7
    assert symbol_name(buf) == "Contoso"
    buf.info.NameLen = 10**6  # a length past the buffer is cut to the buffer
    assert len(symbol_name(buf)) == buf.info.MaxNameLen
