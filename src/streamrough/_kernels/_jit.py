"""The decorators every kernel uses, so that caching and threading are set in one place.

Every dispatcher made here gets streamrough's on-disk cache (``streamrough._kernels._cache``:
on by default, ``STREAMROUGH_NUMBA_CACHE=0`` turns it off) unless the directory is not
writable; a kernel is then compiled in memory once per process. Nothing of Numba's global
configuration is changed: only these dispatchers are cached.

Every kernel with a ``prange`` loop is a `Twin`: one body compiled twice, ``.parallel``
(``parallel=True``, the loop runs on Numba's threads) and ``.serial`` (``prange`` runs as
``range``; it never starts a parallel region, so it is safe in any thread, e.g. a Dask task).
Eager code launches them through ``streamrough._parallel.launch`` only.

Importing this module changes no environment variable. Numba's OpenMP layer spins idle
threads by default; on a machine whose cores are held by other processes, setting
``OMP_WAIT_POLICY=PASSIVE`` in the environment before the first parallel call makes parallel
launches much cheaper (measured: 0.7-12 ms per launch with active waiting, 8 us passive).
That is the user's choice (it also changes how other OpenMP libraries in the process wait).
"""

from __future__ import annotations

import functools
import types
import uuid

import numba

from . import _cache


def _stable_uuid(func) -> str:
    """A dispatcher id that is the same in every process for the same kernel.

    Numba keys its on-disk cache of a closure by the pickled closure variables, and a captured
    dispatcher pickles with its instance id, random per process by default: every kernel that
    calls another specialised kernel through a closure (the per-norm p-variation kernels)
    then missed the cache and recompiled in each new process (measured: 6 s of a 6.3 s first
    call with a warm cache). Here the id is derived from the module, the qualified name and
    the closure: ids of captured dispatchers (themselves stable), ``repr`` of other values.
    """
    parts = [func.__module__, func.__qualname__]
    for cell in func.__closure__ or ():
        value = cell.cell_contents
        parts.append(value._uuid if isinstance(value, numba.core.dispatcher.Dispatcher) else repr(value))
    return str(uuid.uuid5(uuid.NAMESPACE_URL, "\x00".join(parts)))


def _njit(func, options):
    dispatcher = numba.njit(**options)(func)
    root = _cache.cache_root()
    if root is not None and hasattr(dispatcher, "_set_uuid"):  # a real dispatcher (JIT enabled)
        identity = _stable_uuid(func)
        if func.__closure__:
            # Numba names a compiled function's symbol by module, qualified name and a
            # per-process counter: a cached closure loaded into another process could share
            # its symbol with a different instance of the same closure compiled there, and
            # the linker would then call the wrong one. The id makes each instance's name unique.
            func.__qualname__ = f"{func.__qualname__}_{identity.replace('-', '')[:16]}"
        dispatcher._set_uuid(identity)
        dispatcher._cache = _cache.KernelCache(func, root, identity)
    return dispatcher


def jit(func=None, **options):
    """Serial kernel: ``numba.njit(nogil=True)`` with streamrough's on-disk cache."""
    options.setdefault("nogil", True)
    if func is None:
        return lambda f: _njit(f, options)
    return _njit(func, options)


def parallel_jit(func=None, **options):
    """Parallel kernel (``prange``). Launch it through ``streamrough._parallel``, which
    serialises parallel launches; call a serial kernel inside a Dask task."""
    options.setdefault("parallel", True)
    return jit(func, **options)


class Twin:
    """A ``prange`` kernel compiled twice from one body.

    Attributes
    ----------
    parallel : numba dispatcher
        Compiled with ``parallel=True``: the ``prange`` loops run on Numba's threads.
    serial : numba dispatcher
        Compiled without it: ``prange`` is ``range``, no parallel region is ever started.
        Same arguments, same values.
    """

    def __init__(self, func, options):
        self.parallel = parallel_jit(func, **options)
        # a separate function object with its own qualified name: Numba's on-disk cache is
        # keyed by the function, not by the compile flags, so the twins must not share it
        copy = types.FunctionType(func.__code__, func.__globals__, func.__name__, func.__defaults__, func.__closure__)
        functools.update_wrapper(copy, func)
        copy.__qualname__ = func.__qualname__ + "_serial"
        del copy.__wrapped__
        self.serial = jit(copy, **options)
        self.__doc__ = func.__doc__


def twin_jit(func=None, **options):
    """Decorator: a `Twin` (``.parallel`` and ``.serial``) of a kernel with ``prange`` loops."""
    if func is None:
        return lambda f: Twin(f, options)
    return Twin(func, options)
