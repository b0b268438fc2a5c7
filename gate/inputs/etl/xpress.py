"""MS-XCA plain LZ77 ("XPRESS", COMPRESSION_FORMAT_XPRESS = 3): the codec of compressed buffers.

Format (MS-XCA §2.3/2.4): the stream is groups of a 32-bit little-endian flag word followed by up
to 32 items, the most significant flag bit first. A 0 bit is one literal byte; a 1 bit is a match:
a u16 holding (offset-1)<<3 | length-3 in its low 3 bits. Length 7 in those bits means "longer":
a 4-bit extension (two matches share one byte, low nibble first), 15 there means another byte
follows, 255 there means a u16 (or, when 0, a u32) carrying length-3 outright. Offsets reach 8 KiB.
The stream ends when the output is full, or when a match flag meets the end of the input.

`decompress` picks the fastest available implementation: Windows' own `RtlDecompressBufferEx`,
else a numba-compiled kernel when numba is importable, else pure Python. All of them stop at
`out_size` and raise `XpressError` on corrupt input instead of reading or writing out of bounds.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import Any

import numpy as np

from gate.inputs.etl import jit


class XpressError(ValueError):
    """Corrupt or truncated XPRESS data. `position` is the input offset where it was noticed."""

    def __init__(self, position: int, problem: str) -> None:
        self.position = position
        self.problem = problem
        super().__init__(f"XPRESS input offset {position}: {problem}")


MAX_OFFSET = 8192  # 13 offset bits


# ------------------------------------------------------------------------------------------------
# Pure Python. Literal runs are copied as slices: counting the zero flag bits in one step is what
# keeps this far from byte-at-a-time speed.
def decompress_python(src: bytes | bytearray | memoryview, out_size: int) -> bytes:
    src = bytes(src)
    n = len(src)
    out = bytearray()
    ip = 0
    half = 0  # input position of the shared length nibble byte; 0 = none pending
    while len(out) < out_size:
        if ip + 4 > n:
            if ip == n:
                break
            raise XpressError(ip, "truncated flag word")
        flags = int.from_bytes(src[ip : ip + 4], "little")
        ip += 4
        bit = 31
        while bit >= 0 and len(out) < out_size:
            rest = flags & ((2 << bit) - 1)
            if not (rest >> bit) & 1:
                # Zero bits down to the next one bit (or the end of this word) are literals.
                run = bit + 1 if rest == 0 else bit + 1 - rest.bit_length()
                run = min(run, out_size - len(out))
                if ip + run > n:
                    raise XpressError(n, "truncated literal run")
                out += src[ip : ip + run]
                ip += run
                bit -= run
                continue
            bit -= 1
            if ip == n:
                # A match flag at the end of the input marks the end of the stream.
                return _finish(bytes(out), out_size, ip)
            if ip + 2 > n:
                raise XpressError(ip, "truncated match")
            mb = src[ip] | (src[ip + 1] << 8)
            ip += 2
            length = mb & 7
            offset = (mb >> 3) + 1
            if length == 7:
                if half == 0:
                    if ip >= n:
                        raise XpressError(ip, "truncated length nibble")
                    length = src[ip] & 15
                    half = ip
                    ip += 1
                else:
                    length = src[half] >> 4
                    half = 0
                if length == 15:
                    if ip >= n:
                        raise XpressError(ip, "truncated length byte")
                    length = src[ip]
                    ip += 1
                    if length == 255:
                        if ip + 2 > n:
                            raise XpressError(ip, "truncated length word")
                        length = src[ip] | (src[ip + 1] << 8)
                        ip += 2
                        if length == 0:
                            if ip + 4 > n:
                                raise XpressError(ip, "truncated length dword")
                            length = int.from_bytes(src[ip : ip + 4], "little")
                            ip += 4
                        if length < 15 + 7:
                            raise XpressError(ip, f"invalid match length {length}")
                        length -= 15 + 7
                    length += 15
                length += 7
            length += 3
            have = len(out)
            if offset > have:
                raise XpressError(ip, f"match offset {offset} before start of output ({have})")
            if length > out_size - have:
                raise XpressError(ip, f"match of {length} bytes runs past output size {out_size}")
            start = have - offset
            if length <= offset:
                out += out[start : start + length]
            else:
                seg = out[start:have]
                out += (seg * (length // offset + 1))[:length]
    return _finish(bytes(out), out_size, ip)


def _finish(out: bytes, out_size: int, ip: int) -> bytes:
    if len(out) != out_size:
        raise XpressError(ip, f"decompressed {len(out)} bytes, expected {out_size}")
    return out


# ------------------------------------------------------------------------------------------------
# Array kernels: plain Python on bytes/bytearray/list works, and numba compiles them unchanged
# for uint8 arrays. Return values < 0 are error codes; callers re-run the pure-Python decoder to
# get a precise message. `x[i] + 0` reads a byte as a signed int: numba types uint8 shifts
# and int() of uint8 as unsigned, and mixing unsigned with signed would make indices float.
def _decompress_kernel(src: Any, n: int, dst: Any, out_size: int) -> int:
    ip = 0
    op = 0
    half = 0
    while op < out_size:
        if ip + 4 > n:
            if ip == n:
                return op
            return -1
        flags = (
            (src[ip] + 0)
            | ((src[ip + 1] + 0) << 8)
            | ((src[ip + 2] + 0) << 16)
            | ((src[ip + 3] + 0) << 24)
        )
        ip += 4
        bit = 31
        while bit >= 0 and op < out_size:
            if ((flags >> bit) & 1) == 0:
                if ip >= n:
                    return -2
                dst[op] = src[ip] + 0
                op += 1
                ip += 1
                bit -= 1
                continue
            bit -= 1
            if ip == n:
                return op
            if ip + 2 > n:
                return -3
            mb = (src[ip] + 0) | ((src[ip + 1] + 0) << 8)
            ip += 2
            length = mb & 7
            offset = (mb >> 3) + 1
            if length == 7:
                if half == 0:
                    if ip >= n:
                        return -3
                    length = (src[ip] + 0) & 15
                    half = ip
                    ip += 1
                else:
                    length = (src[half] + 0) >> 4
                    half = 0
                if length == 15:
                    if ip >= n:
                        return -3
                    length = src[ip] + 0
                    ip += 1
                    if length == 255:
                        if ip + 2 > n:
                            return -3
                        length = (src[ip] + 0) | ((src[ip + 1] + 0) << 8)
                        ip += 2
                        if length == 0:
                            if ip + 4 > n:
                                return -3
                            length = (
                                (src[ip] + 0)
                                | ((src[ip + 1] + 0) << 8)
                                | ((src[ip + 2] + 0) << 16)
                                | ((src[ip + 3] + 0) << 24)
                            )
                            ip += 4
                        if length < 22:
                            return -6
                        length -= 22
                    length += 15
                length += 7
            length += 3
            if offset > op:
                return -4
            if length > out_size - op:
                return -5
            s = op - offset
            for k in range(length):
                dst[op + k] = dst[s + k] + 0
            op += length
    return op


def _compress_kernel(src: Any, n: int, dst: Any, table: Any, hash_bits: int) -> int:
    """Greedy LZ77 with a one-entry-per-bucket hash table of 3-byte prefixes."""
    mask = (1 << hash_bits) - 1
    shift = 32 - hash_bits
    flag_pos = 0
    op = 4
    flags = 0
    nflags = 0
    half = 0
    ip = 0
    while ip < n:
        best = 0
        off = 0
        if ip + 3 <= n:
            key = (src[ip] + 0) | ((src[ip + 1] + 0) << 8) | ((src[ip + 2] + 0) << 16)
            h = (((key * 2654435761) & 0xFFFFFFFF) >> shift) & mask
            cand = (table[h] + 0) - 1
            table[h] = ip + 1
            if cand >= 0 and ip - cand <= MAX_OFFSET:
                limit = n - ip
                k = 0
                while k < limit and (src[cand + k] + 0) == (src[ip + k] + 0):
                    k += 1
                if k >= 3:
                    best = k
                    off = ip - cand
        if best >= 3:
            word = ((off - 1) << 3) | min(best - 3, 7)
            dst[op] = word & 0xFF
            dst[op + 1] = word >> 8
            op += 2
            if best - 3 >= 7:
                rem = best - 3 - 7
                nib = min(rem, 15)
                if half == 0:
                    dst[op] = nib
                    half = op
                    op += 1
                else:
                    dst[half] = (dst[half] + 0) | (nib << 4)
                    half = 0
                if rem >= 15:
                    rem -= 15
                    if rem < 255:
                        dst[op] = rem
                        op += 1
                    else:
                        dst[op] = 255
                        op += 1
                        full = best - 3
                        if full <= 0xFFFF:
                            dst[op] = full & 0xFF
                            dst[op + 1] = full >> 8
                            op += 2
                        else:
                            dst[op] = 0
                            dst[op + 1] = 0
                            dst[op + 2] = full & 0xFF
                            dst[op + 3] = (full >> 8) & 0xFF
                            dst[op + 4] = (full >> 16) & 0xFF
                            dst[op + 5] = (full >> 24) & 0xFF
                            op += 6
            flags = (flags << 1) | 1
            ip += best
        else:
            dst[op] = src[ip] + 0
            op += 1
            ip += 1
            flags = flags << 1
        nflags += 1
        if nflags == 32:
            dst[flag_pos] = flags & 0xFF
            dst[flag_pos + 1] = (flags >> 8) & 0xFF
            dst[flag_pos + 2] = (flags >> 16) & 0xFF
            dst[flag_pos + 3] = (flags >> 24) & 0xFF
            flag_pos = op
            op += 4
            flags = 0
            nflags = 0
    # Unused flag bits are ones: a decoder meeting a match flag at the end of input stops there.
    flags = ((flags << (32 - nflags)) | ((1 << (32 - nflags)) - 1)) & 0xFFFFFFFF
    dst[flag_pos] = flags & 0xFF
    dst[flag_pos + 1] = (flags >> 8) & 0xFF
    dst[flag_pos + 2] = (flags >> 16) & 0xFF
    dst[flag_pos + 3] = (flags >> 24) & 0xFF
    return op


_HASH_BITS = 15


def _compress_bound(n: int) -> int:
    return n + 4 * (n // 32 + 2) + 16


def compress_python(data: bytes | bytearray | memoryview) -> bytes:
    src = bytes(data)
    dst = bytearray(_compress_bound(len(src)))
    table = [0] * (1 << _HASH_BITS)
    end = _compress_kernel(src, len(src), dst, table, _HASH_BITS)
    return bytes(dst[:end])


# ------------------------------------------------------------------------------------------------
# numba (optional "fast" extra).
_numba_decompress = jit.kernel(_decompress_kernel)
_numba_compress = jit.kernel(_compress_kernel)


def decompress_numba(src: bytes | bytearray | memoryview, out_size: int) -> bytes:
    if _numba_decompress is None:
        raise RuntimeError("numba is not available")
    arr = np.frombuffer(src, dtype=np.uint8)
    dst = np.empty(out_size, dtype=np.uint8)
    got = _numba_decompress(arr, len(arr), dst, out_size)
    if got != out_size:
        # Let the reference decoder describe the problem (it fails the same way).
        decompress_python(src, out_size)
        raise XpressError(len(arr), f"decompressed {max(got, 0)} bytes, expected {out_size}")
    return dst.tobytes()


def compress_numba(data: bytes | bytearray | memoryview) -> bytes:
    if _numba_compress is None:
        raise RuntimeError("numba is not available")
    src = np.frombuffer(data, dtype=np.uint8)
    dst = np.zeros(_compress_bound(len(src)), dtype=np.uint8)
    table = np.zeros(1 << _HASH_BITS, dtype=np.int64)
    end = _numba_compress(src, len(src), dst, table, _HASH_BITS)
    return dst[:end].tobytes()


# ------------------------------------------------------------------------------------------------
# Windows: the OS decoder.
_windows_decompress: Callable[[bytes, int], bytes] | None = None
if sys.platform == "win32":  # pragma: no cover - exercised on Windows only
    import ctypes
    from ctypes import wintypes

    def _make_windows() -> Callable[[bytes, int], bytes] | None:
        try:
            ntdll = ctypes.WinDLL("ntdll")
            fn = ntdll.RtlDecompressBufferEx
        except (OSError, AttributeError):
            return None
        fn.restype = ctypes.c_long
        fn.argtypes = [
            wintypes.USHORT,
            ctypes.c_void_p,
            wintypes.ULONG,
            ctypes.c_void_p,
            wintypes.ULONG,
            ctypes.POINTER(wintypes.ULONG),
            ctypes.c_void_p,
        ]
        ws_size = wintypes.ULONG()
        frag_size = wintypes.ULONG()
        status = ntdll.RtlGetCompressionWorkSpaceSize(
            wintypes.USHORT(3), ctypes.byref(ws_size), ctypes.byref(frag_size)
        )
        if status != 0:
            return None
        workspace = ctypes.create_string_buffer(max(ws_size.value, 1))

        def run(src: bytes, out_size: int) -> bytes:
            src_buf = ctypes.create_string_buffer(bytes(src), len(src))
            out = ctypes.create_string_buffer(max(out_size, 1))
            final = wintypes.ULONG()
            st = fn(3, out, out_size, src_buf, len(src), ctypes.byref(final), workspace)
            if st != 0 or final.value != out_size:
                decompress_python(src, out_size)
                raise XpressError(len(src), f"RtlDecompressBufferEx status {st & 0xFFFFFFFF:#x}")
            return out.raw[:out_size]

        return run

    _windows_decompress = _make_windows()


def available_backends() -> list[str]:
    """Names of the decoders usable here, fastest first."""
    names = []
    if _windows_decompress is not None:
        names.append("windows")
    if _numba_decompress is not None:
        names.append("numba")
    names.append("python")
    return names


def decompress(src: bytes | bytearray | memoryview, out_size: int) -> bytes:
    """Decompress `src` to exactly `out_size` bytes; XpressError when that is not possible."""
    if out_size < 0:
        raise XpressError(0, f"negative output size {out_size}")
    if _windows_decompress is not None:
        return _windows_decompress(bytes(src), out_size)
    if _numba_decompress is not None:
        return decompress_numba(src, out_size)
    return decompress_python(src, out_size)


def compress(data: bytes | bytearray | memoryview) -> bytes:
    """Compress with greedy LZ77 into the plain XPRESS format (any XPRESS decoder reads it)."""
    if _numba_compress is not None:
        return compress_numba(data)
    return compress_python(data)
