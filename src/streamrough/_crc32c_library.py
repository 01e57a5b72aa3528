"""CRC-32C by the C library of ``google-crc32c``, called through ctypes, without the GIL.

The store's per-layer hash is CRC-32C (``streamrough.store.layer_hash``).  The Python
binding ``google_crc32c.value`` holds the GIL while it hashes, so a thread hashing a layer
would stop the thread writing it.  The binding's wheels ship the C library itself
(``libcrc32c``, with the SSE 4.2 / ARMv8 CRC instruction), and a ctypes foreign call
releases the GIL for its duration: calling the library's C API ``crc32c_extend`` directly
gives the same values, at the same speed, in parallel with the writer.  Nothing is compiled
and Numba is not loaded, so a one-shot ``streamrough ingest`` gets the overlap too.

Where no such library is found (a build of ``google-crc32c`` without a separate library,
another wheel layout), :func:`library_crc32c` returns None and the store falls back
(``streamrough.store._gil_free_crc32c``).
"""

from __future__ import annotations

import ctypes
import functools
import glob
import os

import numpy as np

#: Where wheels put the library, relative to the folder holding the ``google_crc32c``
#: package: auditwheel (Linux) and delvewheel (Windows) use a sibling ``<package>.libs``,
#: delocate (macOS) a ``.dylibs`` folder inside the package.
_LIBRARY_PATTERNS = (
    os.path.join("google_crc32c.libs", "libcrc32c*"),
    os.path.join("google_crc32c.libs", "crc32c*"),
    os.path.join("google_crc32c", ".dylibs", "libcrc32c*"),
)


@functools.lru_cache(maxsize=None)
def library_crc32c():
    """CRC-32C ``fn(data, crc=0) -> int`` by the library of ``google-crc32c``, or None.

    `data` is a C-contiguous uint8 array; the result equals ``google_crc32c.extend(crc,
    data)``.  The library is checked against the binding on a test buffer before use.

    Examples
    --------
    >>> import numpy as np
    >>> fn = library_crc32c()
    >>> fn is None or fn(np.frombuffer(b"123456789", np.uint8)) == 0xE3069283
    True
    """
    import google_crc32c  # a dependency of zarr (its crc32c codec)

    if getattr(google_crc32c, "implementation", None) != "c":
        return None
    site = os.path.dirname(os.path.dirname(os.path.abspath(google_crc32c.__file__)))
    for pattern in _LIBRARY_PATTERNS:
        for candidate in sorted(glob.glob(os.path.join(site, pattern))):
            fn = _load(candidate)
            if fn is not None and _agrees(fn, google_crc32c):
                return fn
    return None


def _load(path):
    """The library's ``crc32c_extend`` as a Python function, or None if `path` is not it."""
    try:
        extend = ctypes.CDLL(path).crc32c_extend  # a CDLL call releases the GIL
    except (OSError, AttributeError):
        return None
    extend.restype = ctypes.c_uint32
    extend.argtypes = (ctypes.c_uint32, ctypes.c_void_p, ctypes.c_size_t)

    def crc32c(data: np.ndarray, crc: int = 0) -> int:
        if data.dtype != np.uint8 or not data.flags.c_contiguous:
            raise ValueError("data must be a C-contiguous uint8 array")
        # the caller's reference keeps `data` alive during the call
        return extend(crc, data.__array_interface__["data"][0], data.size)

    return crc32c


def _agrees(fn, google_crc32c) -> bool:
    probe = np.arange(1031, dtype=np.uint32).view(np.uint8)[3:]  # odd length, unaligned start
    return fn(probe) == google_crc32c.value(probe.tobytes()) and fn(probe, 7) == google_crc32c.extend(7, probe.tobytes())
