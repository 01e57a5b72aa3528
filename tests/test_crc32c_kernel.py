"""The GIL-free CRC-32C kernel against google_crc32c and a bit-by-bit reference, and the store's
hashing of layers in a thread."""

import google_crc32c
import numpy as np
import pytest
from numba import config

import streamrough as sr
from streamrough import _config
from streamrough import store as st
from streamrough._kernels import crc32c as kernel

# compiled, the kernel needs the x86-64 instruction; without the JIT it runs anywhere
pytestmark = pytest.mark.skipif(not (config.DISABLE_JIT or kernel.available()), reason="no CRC-32C instruction")

BLOCKS = (kernel.STREAMS * kernel.SHORT_BYTES, kernel.STREAMS * kernel.LONG_BYTES)
# around every boundary of the kernel: words, short and long blocks of streams
LENGTHS = [0, 1, 7, 8, 9, 15, 16, 17, 63, 64, 65] + [b + d for b in BLOCKS for d in (-1, 0, 1, 9)]


def test_step_is_crc32c_bit_by_bit():
    crc = 0xFFFFFFFF
    for byte in b"123456789":
        crc = kernel.step_bytes(crc, byte, 1)
    assert crc ^ 0xFFFFFFFF == 0xE3069283  # the standard check value
    assert kernel.step_bytes(0x1234, 0x0807060504030201, 8) == google_crc32c.extend(
        0x1234 ^ 0xFFFFFFFF, bytes(range(1, 9))
    ) ^ 0xFFFFFFFF


@pytest.mark.parametrize("nbytes", [1, 8, kernel.SHORT_BYTES, kernel.LONG_BYTES, 12345])
def test_shift_tables_are_zero_bytes(rng, nbytes):
    tables = kernel.shift_tables(nbytes)
    for register in rng.integers(0, 2**32, 5):
        register = int(register)
        shifted = int(tables[0, register & 255] ^ tables[1, register >> 8 & 255] ^ tables[2, register >> 16 & 255] ^ tables[3, register >> 24])
        # google_crc32c inverts the register before and after
        assert shifted == google_crc32c.extend(register ^ 0xFFFFFFFF, bytes(nbytes)) ^ 0xFFFFFFFF


@pytest.mark.parametrize("length", LENGTHS)
def test_kernel_equals_google_crc32c(rng, length):
    data = rng.integers(0, 256, length + 8, dtype=np.uint8)
    # every alignment of the start (the kernel reads aligned 8-byte words between bytes);
    # without the JIT (a Python loop per bit) two of them for the long blocks
    starts = range(8) if length < BLOCKS[1] or not config.DISABLE_JIT else (0, 5)
    for start in starts:
        piece = data[start : start + length]
        assert kernel.crc32c(piece) == google_crc32c.value(piece.tobytes()), (length, start)
        assert kernel.crc32c(piece, 0xDEADBEEF) == google_crc32c.extend(0xDEADBEEF, piece.tobytes())


@pytest.mark.skipif(config.DISABLE_JIT, reason="megabytes: compiled kernel only")
def test_kernel_equals_google_crc32c_on_large_buffers(rng):
    data = rng.standard_normal(3 * 2**20 + 7, dtype=np.float32)
    for piece in (data, data[1:], data.view(np.uint8)[3:-5], np.zeros(9 * 2**20, np.uint8)):
        assert kernel.crc32c(piece) == google_crc32c.value(np.ascontiguousarray(piece).tobytes())
    assert kernel.crc32c(b"123456789") == 0xE3069283  # bytes-like input


def test_not_available_without_the_jit(monkeypatch):
    """Without the JIT the instruction cannot be used: the store must take google_crc32c."""
    monkeypatch.setattr(config, "DISABLE_JIT", True)
    kernel.available.cache_clear()
    try:
        assert not kernel.available()
    finally:
        kernel.available.cache_clear()  # computed again, with the real setting, by the next caller


@pytest.mark.parametrize("shape", [(300, 300), (8, 8)])  # one-layer chunks; chunks of several layers
def test_layers_hashed_in_a_thread_give_the_same_store(tmp_path, rng, monkeypatch, shape):
    data = rng.standard_normal((7, *shape)).astype(np.float32)
    infos = {}
    calls = []
    monkeypatch.setattr(st, "_gil_free_crc32c", lambda: calls.append(1) or kernel.crc32c)  # also without the JIT
    for mode in ("calling thread", "hash thread"):
        if mode == "hash thread":
            monkeypatch.setattr(_config, "HASH_THREAD_MIN_BYTES", 0)
        calls.clear()
        with sr.open_store(tmp_path / mode.replace(" ", "_"), mode="w") as store:
            writer = store.create_path("b.{k}.W", shape, "float32", capacity=5)
            writer.append_many(data[:3])
            for layer in data[3:]:
                writer.append(layer)
            infos[mode] = store.info("b.{k}.W")
        assert bool(calls) == (mode == "hash thread")
        np.testing.assert_array_equal(sr.open_store(tmp_path / mode.replace(" ", "_")).read("b.{k}.W"), data)
    a, b = infos.values()
    assert (a.content_hash, a.n_layers) == (b.content_hash, b.n_layers)


def test_a_shut_down_hash_thread_means_hashing_inline(tmp_path, rng, monkeypatch):
    from concurrent.futures import ThreadPoolExecutor

    closed = ThreadPoolExecutor(1)
    closed.shutdown()  # as at interpreter exit: submit raises RuntimeError
    monkeypatch.setattr(st, "_hash_thread", lambda: closed)
    monkeypatch.setattr(st, "_gil_free_crc32c", lambda: kernel.crc32c)
    monkeypatch.setattr(_config, "HASH_THREAD_MIN_BYTES", 0)
    data = rng.standard_normal((3, 300, 300)).astype(np.float32)
    with sr.open_store(tmp_path / "s", mode="w") as store:
        store.create_path("b.{k}.W", (300, 300), "float32").append_many(data)
    np.testing.assert_array_equal(sr.open_store(tmp_path / "s").read("b.{k}.W"), data)
