"""CRC-32C by google-crc32c's C library without the GIL, and the store's choice of a GIL-free
hash."""

import subprocess
import sys

import google_crc32c
import numpy as np
import pytest

from streamrough import _crc32c_library as library
from streamrough import store as st
from streamrough._kernels import crc32c as kernel

crc32c = library.library_crc32c()
needs_library = pytest.mark.skipif(crc32c is None, reason="google-crc32c ships no separate C library here")


@needs_library
@pytest.mark.parametrize("length", [0, 1, 7, 8, 9, 63, 64, 65, 1000, 4099, 3 * 2**20 + 5])
def test_library_equals_google_crc32c(rng, length):
    data = rng.integers(0, 256, length + 11, dtype=np.uint8)
    for start in (0, 1, 3, 8, 11):  # every alignment of the first byte
        piece = data[start : start + length]
        assert crc32c(piece) == google_crc32c.value(piece.tobytes()), (length, start)
        assert crc32c(piece, 0xDEADBEEF) == google_crc32c.extend(0xDEADBEEF, piece.tobytes())


@needs_library
def test_library_takes_contiguous_bytes_only():
    with pytest.raises(ValueError, match="C-contiguous uint8"):
        crc32c(np.zeros(4, np.float32))
    with pytest.raises(ValueError, match="C-contiguous uint8"):
        crc32c(np.zeros(8, np.uint8)[::2])


def test_no_library_with_the_python_implementation(monkeypatch):
    """The binding's pure-Python fallback has no C library to call."""
    monkeypatch.setattr(google_crc32c, "implementation", "python")
    library.library_crc32c.cache_clear()
    try:
        assert library.library_crc32c() is None
    finally:
        library.library_crc32c.cache_clear()


@needs_library
def test_the_store_prefers_the_library_then_the_kernel(monkeypatch):
    assert st._gil_free_crc32c() is library.library_crc32c()
    monkeypatch.setattr(library, "library_crc32c", lambda: None)
    # Numba is loaded in the tests: the kernel where it runs compiled
    assert st._gil_free_crc32c() is (kernel.crc32c if kernel.available() else None)


def test_a_one_shot_ingest_does_not_load_numba(tmp_path):
    """Loading Numba and the kernel to hash one model costs more than the thread saves: a
    process that has not loaded Numba never loads it, and hashes its large layers in the hash
    thread where google-crc32c's library is found."""
    code = f"""
import sys, threading, numpy as np, streamrough as sr
from streamrough._crc32c_library import library_crc32c
sr.ingest({{"b.0.W": np.ones((600, 600), np.float32), "b.1.W": np.zeros((600, 600), np.float32)}}, {str(tmp_path / "s")!r})
threaded = any(t.name.startswith("streamrough-hash") for t in threading.enumerate())
print("numba" in sys.modules, threaded == (library_crc32c() is not None))
"""
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == ["False", "True"]
