"""The decorators every kernel uses, so that caching and threading are set in one place.

Numba's on-disk cache is opt-in (``STREAMROUGH_NUMBA_CACHE=1``): it has caused crashes
under Dask and multiprocessing elsewhere, so the default is to compile in memory once per
process and reuse the compiled kernel for every later call.
"""

from __future__ import annotations

import os

# Numba's OpenMP threading layer reads this when it starts its thread pool (at the first
# parallel call, after this import). With the default active wait, idle threads spin, and
# when another process holds a core every parallel launch waits for a time slice: measured
# here 0.7 to 12 ms per launch instead of 8 us with passive waiting. A user's own setting wins.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import numba  # noqa: E402  (must follow the environment default above)

CACHE = os.environ.get("STREAMROUGH_NUMBA_CACHE", "0").lower() in {"1", "true", "yes", "on"}


def jit(func=None, **options):
    """Serial kernel: ``numba.njit(nogil=True)``, cached on disk only when opted in."""
    options.setdefault("nogil", True)
    options.setdefault("cache", CACHE)
    if func is None:
        return lambda f: numba.njit(**options)(f)
    return numba.njit(**options)(func)


def parallel_jit(func=None, **options):
    """Parallel kernel (``prange``). Never call one from inside a Dask task."""
    options.setdefault("parallel", True)
    return jit(func, **options)
