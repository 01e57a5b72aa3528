"""``n_jobs``: how many threads a call may use, and the one place parallel kernels start.

The rule (every public function with an ``n_jobs`` keyword)::

    n_jobs=None   numba.get_num_threads() when called from the main thread,
                  1 from any other thread (a Dask task, a thread pool): kernels there run
                  serially unless the caller asks for threads explicitly;
    n_jobs=-1     every thread Numba started (numba.config.NUMBA_NUM_THREADS);
    n_jobs=k >= 1 the work is split into k parts; at most NUMBA_NUM_THREADS threads run them.

``n_jobs=1`` runs serial kernels only: no Numba parallel region is started. Routes depend on
the resolved ``n_jobs`` and on the input's size only (never on the machine's load), and
every route gives the same values.

Thread safety: Numba's workqueue threading layer (the fallback where OpenMP and TBB are
missing) aborts the process when two Python threads start parallel regions at once. Every
parallel launch therefore holds one process-wide lock (whatever the layer: an uncontended
lock costs well under a microsecond, and a parallel kernel already uses every thread it is
given, so concurrent launches would only compete for the same cores). Serial kernels take
no lock and run concurrently (they release the GIL).
"""

from __future__ import annotations

import numbers
import threading

_LAUNCH_LOCK = threading.Lock()


def resolve_n_jobs(n_jobs) -> int:
    """The number of parts (>= 1) for `n_jobs` (None, -1 or a positive integer); see the module.

    Raises
    ------
    TypeError
        `n_jobs` is not None or an integer (bool included).
    ValueError
        `n_jobs` is 0 or below -1.
    """
    if n_jobs is None:
        if threading.current_thread() is not threading.main_thread():
            return 1
        import numba

        return int(numba.get_num_threads())
    if isinstance(n_jobs, bool) or not isinstance(n_jobs, numbers.Integral):
        raise TypeError(f"n_jobs must be None or an integer (-1 or >= 1), got {n_jobs!r}")
    if n_jobs == -1:
        import numba

        return int(numba.config.NUMBA_NUM_THREADS)
    if n_jobs < 1:
        raise ValueError(f"n_jobs must be None, -1 (all threads) or >= 1, got {n_jobs!r}")
    return int(n_jobs)


def run_parallel(kernel, jobs: int, *args):
    """Call a ``parallel=True`` kernel on min(jobs, NUMBA_NUM_THREADS) threads, under the lock.

    The thread count is set for this thread only (Numba's setting is thread-local) and
    restored afterwards.
    """
    import numba

    threads = min(jobs, numba.config.NUMBA_NUM_THREADS)
    with _LAUNCH_LOCK:
        previous = numba.get_num_threads()
        numba.set_num_threads(threads)
        try:
            return kernel(*args)
        finally:
            numba.set_num_threads(previous)


def launch(twin, jobs: int, *args):
    """``twin.serial(*args)`` for jobs == 1, else ``twin.parallel`` through `run_parallel`."""
    if jobs == 1:
        return twin.serial(*args)
    return run_parallel(twin.parallel, jobs, *args)
