"""CRC-32C (Castagnoli) by the CPU's ``crc32`` instruction in a kernel that releases the GIL.

The per-layer hash of weight stores (``streamrough.store``) is CRC-32C; ``google_crc32c``
computes it as fast but holds the GIL, so no other Python thread can run meanwhile. This
kernel gives the same values without the GIL: the store hashes a layer in a thread while the
calling thread writes it.

The state is the raw CRC register (the caller inverts it before and after, as the CRC-32C
standard does). The instruction folds 8 bytes into the register; its latency is three times
its throughput, so blocks of ``STREAMS * LONG_BYTES`` (then ``STREAMS * SHORT_BYTES``) bytes
are cut into ``STREAMS`` streams computed in one loop, all but the first from a zero
register, and joined by linearity: the register after ``X || Y`` is ``shift_|Y|(register after X) ^ (register of Y
from 0)``, where ``shift_n`` (the effect of n zero bytes) is a linear map of the 32 bits,
applied by four 256-entry tables (:func:`shift_tables`).

Without the instruction (``NUMBA_DISABLE_JIT=1``) the same kernel runs in Python with a
bitwise step, the reference of the tests; the store then uses ``google_crc32c``
(:func:`available`).
"""

from __future__ import annotations

import functools

import numpy as np
from numba import types
from numba.core import cgutils
from numba.extending import intrinsic, overload

from ._jit import jit

#: CRC-32C polynomial, bit-reflected.
POLY = 0x82F63B78
#: Streams computed together (the instruction's latency is several times its throughput:
#: measured on an AMD EPYC (Zen 4), 1 stream 9.6 GB/s, 3 streams 12 GB/s, 6 streams 23 GB/s).
STREAMS = 6
#: Bytes per stream of the long and short blocks (algorithm constants: each has its shift
#: tables).
LONG_BYTES = 8192
SHORT_BYTES = 256


def step_bytes(crc, value, nbytes):
    """Reference step: the register `crc` after the `nbytes` little-endian bytes of `value`
    (what the instruction does), bit by bit."""
    crc ^= int(value)
    for _ in range(8 * nbytes):
        crc = (crc >> 1) ^ (POLY if crc & 1 else 0)
    return crc


def _step_u64(crc, word):
    return np.uint32(step_bytes(int(crc), word, 8))


def _step_u8(crc, byte):
    return np.uint32(step_bytes(int(crc), byte, 1))


@intrinsic
def _crc32_u64(typingctx, crc, word):
    """``crc32 r64, r/m64``: the register after the 8 bytes of `word`."""
    from llvmlite import ir

    def codegen(context, builder, signature, args):
        i64 = ir.IntType(64)
        fn = cgutils.get_or_insert_function(builder.module, ir.FunctionType(i64, [i64, i64]), "llvm.x86.sse42.crc32.64.64")
        return builder.trunc(builder.call(fn, [builder.zext(args[0], i64), args[1]]), ir.IntType(32))

    return types.uint32(types.uint32, types.uint64), codegen


@intrinsic
def _crc32_u8(typingctx, crc, byte):
    """``crc32 r32, r/m8``: the register after one byte."""
    from llvmlite import ir

    def codegen(context, builder, signature, args):
        i32, i8 = ir.IntType(32), ir.IntType(8)
        fn = cgutils.get_or_insert_function(builder.module, ir.FunctionType(i32, [i32, i8]), "llvm.x86.sse42.crc32.32.8")
        return builder.call(fn, args)

    return types.uint32(types.uint32, types.uint8), codegen


@overload(_step_u64)
def _step_u64_instruction(crc, word):
    return lambda crc, word: _crc32_u64(np.uint32(crc), np.uint64(word))


@overload(_step_u8)
def _step_u8_instruction(crc, byte):
    return lambda crc, byte: _crc32_u8(np.uint32(crc), np.uint8(byte))


@jit
def _shift(table, crc):
    """Apply the linear map of `table` (:func:`shift_tables`) to the register `crc`."""
    return table[0, crc & 0xFF] ^ table[1, (crc >> 8) & 0xFF] ^ table[2, (crc >> 16) & 0xFF] ^ table[3, crc >> 24]


@jit
def _six_streams(crc, words, start, width, table):
    """The register after words ``start .. start + 6 * width`` from `crc`: six streams of
    `width` words in one loop (the instruction's latency overlaps), joined by `table`
    (the shift by ``8 * width`` bytes)."""
    a = np.uint32(crc)
    b = c = d = e = f = np.uint32(0)
    for i in range(start, start + width):
        a = _step_u64(a, words[i])
        b = _step_u64(b, words[i + width])
        c = _step_u64(c, words[i + 2 * width])
        d = _step_u64(d, words[i + 3 * width])
        e = _step_u64(e, words[i + 4 * width])
        f = _step_u64(f, words[i + 5 * width])
    for g in (b, c, d, e, f):
        a = _shift(table, a) ^ g
    return a


@jit
def crc32c_update(crc, head, words, tail, long_table, short_table):
    """The raw CRC-32C register `crc` after the bytes `head`, then the 8-byte words `words`
    (little endian), then the bytes `tail`.

    Parameters
    ----------
    crc : uint32
    head, tail : uint8 array
    words : uint64 array (aligned: :func:`crc32c` splits a buffer so)
    long_table, short_table : uint32 array (4, 256)
        ``shift_tables(LONG_BYTES)`` and ``shift_tables(SHORT_BYTES)``.
    """
    c = np.uint32(crc)
    for i in range(head.size):
        c = _step_u8(c, head[i])
    n = words.size
    i = 0
    width = LONG_BYTES // 8
    while n - i >= STREAMS * width:
        c = _six_streams(c, words, i, width, long_table)
        i += STREAMS * width
    width = SHORT_BYTES // 8
    while n - i >= STREAMS * width:
        c = _six_streams(c, words, i, width, short_table)
        i += STREAMS * width
    while i < n:
        c = _step_u64(c, words[i])
        i += 1
    for k in range(tail.size):
        c = _step_u8(c, tail[k])
    return c


@functools.lru_cache(maxsize=None)
def shift_tables(nbytes: int) -> np.ndarray:
    """Tables (4, 256) of ``shift_n``, the linear map of the register by `nbytes` zero bytes:
    ``shift_n(r) = T[0, r & 255] ^ T[1, r >> 8 & 255] ^ T[2, r >> 16 & 255] ^ T[3, r >> 24]``.

    ``shift_n`` is the n-th power of the one-zero-byte map, a 32 x 32 matrix over GF(2)
    (column i: the register ``1 << i`` after one zero byte), raised by repeated squaring."""
    bits = np.arange(32)
    one_byte = np.array([[(step_bytes(1 << i, 0, 1) >> r) & 1 for i in bits] for r in bits], np.int64)
    power, base, n = np.eye(32, dtype=np.int64), one_byte, int(nbytes)
    while n:
        if n & 1:
            power = power @ base % 2
        base = base @ base % 2
        n >>= 1
    byte_bits = (np.arange(256)[None, :] >> np.arange(8)[:, None]) & 1  # (8, 256)
    tables = np.empty((4, 256), np.uint32)
    for k in range(4):
        images = power[:, 8 * k : 8 * k + 8] @ byte_bits % 2  # (32, 256): bits of shift_n(v << 8k)
        tables[k] = (images.astype(np.uint64) << bits[:, None].astype(np.uint64)).sum(axis=0)
    return tables


def crc32c(data, crc: int = 0) -> int:
    """CRC-32C of the bytes of `data` (a contiguous array or bytes-like), continuing `crc`
    (the value of the bytes before), as ``google_crc32c.extend(crc, data)``."""
    buf = np.frombuffer(data, np.uint8) if not isinstance(data, np.ndarray) else data.reshape(-1).view(np.uint8)
    head = min(-buf.ctypes.data % 8, buf.size)  # bytes before the first aligned word
    end = head + (buf.size - head) // 8 * 8
    register = crc32c_update(
        np.uint32(crc ^ 0xFFFFFFFF), buf[:head], buf[head:end].view(np.uint64), buf[end:],
        shift_tables(LONG_BYTES), shift_tables(SHORT_BYTES),
    )
    return int(register) ^ 0xFFFFFFFF


@functools.lru_cache(maxsize=None)
def available() -> bool:
    """Whether the kernel runs compiled with the instruction here: Numba's JIT on, and the
    CPU Numba compiles for is x86-64 with SSE 4.2 (without it the instruction cannot be
    compiled; other machines use ``google_crc32c``)."""
    import platform

    from numba import config

    if config.DISABLE_JIT or platform.machine().lower() not in ("x86_64", "amd64"):
        return False
    features = config.CPU_FEATURES
    if features is None:
        from numba.core.codegen import get_host_cpu_features

        features = get_host_cpu_features()
    return "+sse4.2" in features.split(",")
