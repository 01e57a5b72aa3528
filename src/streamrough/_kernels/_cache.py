"""The on-disk cache of compiled kernels: streamrough's own directory, streamrough's kernels only.

A `KernelCache` is attached to each dispatcher made by ``streamrough._kernels._jit`` (and to
no other): Numba's global configuration (``NUMBA_CACHE_DIR``, the locators of
``cache=True``) and the environment are left as they are.

Where: ``streamrough._config.cache_dir()`` (``$STREAMROUGH_CACHE_DIR``, else
``$XDG_CACHE_HOME/streamrough``, else ``~/.cache/streamrough``), in a subdirectory named by
the versions of Python, Numba and streamrough and by a hash of the source of every kernel
module (:func:`cache_root`): a kernel compiled from other code, or by another Numba, is never
served; editing any kernel module starts a new subdirectory.

Each process that opens a subdirectory marks it used (the mtime of its ``.last-used`` file)
and removes the sibling subdirectories unused for ``_config.CACHE_MAX_AGE_DAYS`` days
(:func:`prune`): without that, every upgrade or kernel edit would leave its compiled kernels
on disk for good.

One file per compiled specialisation, named by a hash of its key (the function's module,
qualified name and line, the argument types, the target CPU, the hashes of its bytecode and
of its closure cells) and holding that key. There is no index shared by the specialisations
of a function, so processes compiling at once (pytest-xdist or Dask workers) never
overwrite each other's entries: a file is written under a temporary name and renamed into
place (atomic), a reader finds either no file or a whole one, and a file whose stored key
differs from the one asked for is ignored. A directory that cannot be created or written
leaves the kernels compiled in memory, silently.
"""

from __future__ import annotations

import functools
import hashlib
import os
import pickle
import sys
import uuid

import numba
from numba.core import caching
from numba.core.serialize import dumps

from .. import __version__, _config


@functools.lru_cache(maxsize=None)
def kernel_source_hash() -> str:
    """sha256 (hex) of the source of every module of ``streamrough._kernels``, in name order."""
    folder = os.path.dirname(os.path.abspath(__file__))
    digest = hashlib.sha256()
    for name in sorted(os.listdir(folder)):
        if name.endswith(".py"):
            with open(os.path.join(folder, name), "rb") as fh:
                digest.update(name.encode() + b"\0" + fh.read() + b"\0")
    return digest.hexdigest()


@functools.lru_cache(maxsize=None)
def cache_root() -> str | None:
    """The directory this process caches kernels in, created if needed; None if the cache is
    off (``STREAMROUGH_NUMBA_CACHE=0``) or the directory is not writable."""
    base = _config.cache_dir()
    if base is None:
        return None
    tag = "py{}{}-numba{}-streamrough{}-{}".format(
        *sys.version_info[:2], numba.__version__, __version__, kernel_source_hash()[:16]
    )
    path = os.path.join(base, "kernels", tag)
    try:
        os.makedirs(path, exist_ok=True)
        marker = os.path.join(path, LAST_USED)
        with open(marker, "wb"):  # also the probe of writability
            pass
        os.utime(marker)
    except OSError:
        return None
    prune(os.path.dirname(path), _config.CACHE_MAX_AGE_DAYS * 86400.0)
    return path


#: the file whose mtime says when a cache subdirectory was last opened
LAST_USED = ".last-used"


def prune(kernels_dir: str, max_age: float) -> list[str]:
    """Remove the subdirectories of `kernels_dir` last opened more than `max_age` seconds ago.

    The age is the mtime of the subdirectory's ``.last-used`` file (or of the subdirectory
    itself if it has none). Errors are ignored: another process may be pruning too, and a
    cache that cannot be cleaned is still a cache. Returns the removed paths.

    Examples
    --------
    >>> import os, tempfile, time
    >>> top = tempfile.mkdtemp()
    >>> for name, age in (("old", 90 * 86400), ("new", 0)):
    ...     os.mkdir(os.path.join(top, name))
    ...     t = time.time() - age
    ...     os.utime(os.path.join(top, name), (t, t))
    >>> [os.path.basename(p) for p in prune(top, 30 * 86400)]
    ['old']
    """
    import shutil
    import time

    removed = []
    now = time.time()
    try:
        names = os.listdir(kernels_dir)
    except OSError:
        return removed
    for name in names:
        sub = os.path.join(kernels_dir, name)
        if not os.path.isdir(sub):
            continue
        marker = os.path.join(sub, LAST_USED)
        try:
            used = os.path.getmtime(marker if os.path.exists(marker) else sub)
        except OSError:
            continue
        if now - used > max_age:
            shutil.rmtree(sub, ignore_errors=True)
            removed.append(sub)
    return removed


class _Locator(caching._CacheLocator):
    """Every kernel in one directory; freshness is carried by the directory's name."""

    def __init__(self, path: str, lineno: int):
        self._path = path
        self._lineno = lineno

    def ensure_cache_path(self):
        os.makedirs(self._path, exist_ok=True)

    def get_cache_path(self):
        return self._path

    def get_source_stamp(self):
        return kernel_source_hash()

    def get_disambiguator(self):
        return str(self._lineno)


class _Impl(caching.CompileResultCacheImpl):
    """Numba's serialisation of compile results; file names from the function's module (so
    generated modules, which have no file, are cacheable too) and qualified name."""

    def __init__(self, py_func, path: str):
        self._lineno = py_func.__code__.co_firstlineno
        self._locator = _Locator(path, self._lineno)
        fullname = f"{py_func.__module__}.{py_func.__qualname__}"
        self._filename_base = self.get_filename_base(fullname, getattr(sys, "abiflags", ""))

    def check_cachable(self, cres):
        """Whether a compile result can be saved (not if it holds addresses of this process:
        dynamic globals, lifted loops); one that cannot stays in memory, without a warning."""
        return all(x.can_cache for x in cres.lifted) and not cres.library.has_dynamic_globals


class _Files:
    """One file per key, ``<base>.<hash of the key>.nbc``, holding ``(key, data)``."""

    def __init__(self, path: str, base: str):
        self._path = path
        self._base = base

    def _file(self, key) -> str:
        return os.path.join(self._path, f"{self._base}.{hashlib.sha256(repr(key).encode()).hexdigest()[:24]}.nbc")

    def load(self, key):
        try:
            with open(self._file(key), "rb") as fh:
                stored, data = pickle.loads(fh.read())
        except Exception:  # absent, unreadable or written by something else: compile instead
            return None
        return data if stored == key else None

    def save(self, key, data):
        path = self._file(key)
        tmp = f"{path}.{uuid.uuid4().hex}.tmp"
        try:
            with open(tmp, "wb") as fh:
                fh.write(dumps((key, data)))
            os.replace(tmp, path)  # atomic: readers see no file or a whole one
        except OSError:
            try:
                os.remove(tmp)
            except OSError:
                pass

    def flush(self):
        """Nothing to forget: entries are only ever added (Numba's ``Cache.flush`` hook)."""


class KernelCache(caching.Cache):
    """Numba cache of one streamrough dispatcher in `path` (see the module docstring).

    `identity` names the function and its closure the same way in every process (the stable
    dispatcher id of ``_jit``). It replaces Numba's hash of the pickled closure cells: a cell
    holding a dispatcher pickles with its compile options, and a set among them (``fastmath``)
    pickles in an order that changes from process to process."""

    _impl_class = _Impl

    def __init__(self, py_func, path: str, identity: str):
        self._name = repr(py_func)
        self._py_func = py_func
        self._identity = identity
        self._impl = _Impl(py_func, path)
        self._cache_path = path
        self._cache_file = _Files(path, self._impl.filename_base)
        self.enable()

    def _index_key(self, sig, codegen):
        code = hashlib.sha256(self._py_func.__code__.co_code).hexdigest()
        return (sig, codegen.magic_tuple(), code, self._identity)

    def save_overload(self, sig, data):
        try:
            super().save_overload(sig, data)
        except OSError:  # the directory went away or became read-only: stay in memory
            pass
