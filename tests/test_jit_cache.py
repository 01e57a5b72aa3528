"""The on-disk cache of compiled kernels (streamrough._kernels._cache): on by default, in
streamrough's own directory, found again by a new process for every kernel (closures and
generated signature kernels included), safe with processes compiling at once, silent when
the directory is not writable, and changing nothing process-wide."""

import json
import os
import subprocess
import sys

import numpy as np
import pytest

JIT = os.environ.get("NUMBA_DISABLE_JIT", "0") != "1"
needs_jit = pytest.mark.skipif(not JIT, reason="nothing is compiled when the JIT is disabled")

IDS = """
from streamrough._kernels import pvar
ids = []
for code in sorted(pvar.NORM_CODES.values()):
    k = pvar.for_norm(code)
    ids += [k.bnb_many.parallel._uuid, k.bnb_many.serial._uuid, k.step._uuid]
print(" ".join(ids))
"""

# a small analysis touching every kind of serial kernel: plain, a per-norm closure (p = 1),
# drivers whose closures capture generated signature kernels (unrolled and lanes variants);
# FULL adds the branch and bound's closures calling closures, the parallel twins (seconds of
# compilation each), the rough-path kernels, the Gram route and the other generated variants
ANALYSIS = """
import gc, json, sys
import numpy as np
import streamrough as sr
from numba.core.dispatcher import Dispatcher
from streamrough._kernels._cache import KernelCache
x = sr.brownian_path(300, 2, seed=1)
values = [sr.pvar(x, 1.0, n_jobs=1), sr.signature(np.stack([x] * 17), 2, n_jobs=1).sum()]
if sys.argv[1:] == ["full"]:
    W = sr.brownian_weights(40, 3, seed=0)
    values += [
        sr.pvar(x, 2.5), sr.pvar(x.astype(np.float32), [1.5, 2.5], norm="linf").tolist(),
        sr.signature(np.stack([x] * 17), 2).sum(),
        sr.pvar(W, 2.5, convention="values"), sr.rough_pvar(W, 2.5).norm,
        sr.rough_pvar(W, 2.5, route="gram").norm, sr.rough_distance(W, W[::-1], 2.5).rho,
        sr.signature(W.reshape(40, -1)[:, :3], 3).sum(), sr.signature(x, 4, lift="iterated", stream=True).sum(),
    ]
ours = [d for d in gc.get_objects() if isinstance(d, Dispatcher) and isinstance(d._cache, KernelCache)]
print(json.dumps({
    "values": values,
    "hits": sum(sum(d._cache_hits.values()) for d in ours),
    "misses": sum(sum(d._cache_misses.values()) for d in ours),
    "cached": len(ours),
}))
"""


def _env(cache_dir, **extra):
    return {**os.environ, "STREAMROUGH_CACHE_DIR": str(cache_dir), "STREAMROUGH_NUMBA_CACHE": "1", **extra}


def _run(code, cache_dir, **extra):
    out = subprocess.run([sys.executable, "-c", code], env=_env(cache_dir, **extra), capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    return out.stdout


def _analysis(cache_dir, full=False, **extra):
    out = subprocess.run(
        [sys.executable, "-c", ANALYSIS] + ["full"] * full, env=_env(cache_dir, **extra), capture_output=True, text=True
    )
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout.splitlines()[-1])


def _start(cache_dir, full):
    args = [sys.executable, "-c", ANALYSIS] + ["full"] * full
    return subprocess.Popen(args, env=_env(cache_dir), stdout=subprocess.PIPE, text=True)


@needs_jit
def test_kernel_ids_stable_across_processes(tmp_path):
    first, second = _run(IDS, tmp_path).split(), _run(IDS, tmp_path, PYTHONHASHSEED="7").split()
    assert first == second
    assert len(set(first)) == len(first)  # one id per kernel: norms and twins kept apart


@needs_jit
def test_ids_random_with_the_cache_off(tmp_path):
    """Off, nothing changes: Numba's own per-process ids, nothing written."""
    assert _run(IDS, tmp_path, STREAMROUGH_NUMBA_CACHE="0") != _run(IDS, tmp_path, STREAMROUGH_NUMBA_CACHE="0")
    assert not list(tmp_path.iterdir())


@needs_jit
@pytest.mark.parametrize("full", [False, pytest.param(True, marks=pytest.mark.slow)], ids=["small", "full"])
def test_concurrent_processes_then_a_warm_one_compiles_nothing(tmp_path, full):
    """Two processes compile into one empty directory at once; a third (another hash seed:
    closure keys must not depend on it) then loads every kernel and compiles none, with the
    same values; with the cache off, the same values and nothing written."""
    procs = [_start(tmp_path, full), _start(tmp_path, full)]
    outs = [p.communicate(timeout=900)[0] for p in procs]
    assert [p.returncode for p in procs] == [0, 0]
    first, second = (json.loads(out.splitlines()[-1]) for out in outs)
    assert first["values"] == second["values"] and first["cached"] > 0
    warm = _analysis(tmp_path, full, PYTHONHASHSEED="11")
    assert warm["misses"] == 0 and warm["hits"] > 0
    assert warm["values"] == first["values"]
    if full:
        off = _analysis(tmp_path / "unused", full, STREAMROUGH_NUMBA_CACHE="0")
        np.testing.assert_allclose(np.hstack(off["values"]), np.hstack(first["values"]), rtol=1e-12)
        assert off["cached"] == 0 and not (tmp_path / "unused").exists()


def test_unwritable_directory_compiles_in_memory(tmp_path, monkeypatch):
    """A directory that cannot be created (its parent is a file) turns the cache off, silently:
    kernels still compile, in memory."""
    from numba.core.caching import NullCache

    from streamrough._kernels import _cache, _jit

    blocker = tmp_path / "a-file"
    blocker.write_text("")
    monkeypatch.setenv("STREAMROUGH_CACHE_DIR", str(blocker / "cache"))
    monkeypatch.delenv("STREAMROUGH_NUMBA_CACHE", raising=False)
    assert _cache.cache_root.__wrapped__() is None
    monkeypatch.setattr(_cache, "cache_root", _cache.cache_root.__wrapped__)

    @_jit.jit
    def twice(v):
        return 2 * v

    assert twice(21) == 42
    assert not hasattr(twice, "_cache") or isinstance(twice._cache, NullCache)


def test_old_subdirectories_are_pruned_and_the_current_one_marked(tmp_path, monkeypatch):
    """Opening the cache removes the subdirectories (other versions, edited kernels) unused
    for CACHE_MAX_AGE_DAYS and marks its own as used; recently used ones stay."""
    import time

    from streamrough import _config
    from streamrough._kernels import _cache

    monkeypatch.setenv("STREAMROUGH_CACHE_DIR", str(tmp_path))
    monkeypatch.delenv("STREAMROUGH_NUMBA_CACHE", raising=False)
    kernels = tmp_path / "kernels"
    ages = {"stale": _config.CACHE_MAX_AGE_DAYS + 1, "recent": _config.CACHE_MAX_AGE_DAYS - 1, "marked": 0}
    for name, days in ages.items():
        (kernels / name).mkdir(parents=True)
        (kernels / name / "entry.nbc").write_bytes(b"x")
        t = time.time() - days * 86400
        os.utime(kernels / name, (t, t))
    old = time.time() - 90 * 86400  # the folder looks old, its marker says it was used today
    os.utime(kernels / "marked", (old, old))
    (kernels / "marked" / _cache.LAST_USED).write_bytes(b"")
    (kernels / "a-file").write_bytes(b"")  # not a subdirectory: left alone
    os.utime(kernels / "a-file", (old, old))
    root = _cache.cache_root.__wrapped__()
    assert sorted(p.name for p in kernels.iterdir()) == sorted(["recent", "marked", "a-file", os.path.basename(root)])
    assert time.time() - os.path.getmtime(os.path.join(root, _cache.LAST_USED)) < 3600


def test_default_directory_and_switch(monkeypatch, tmp_path):
    from streamrough import _config

    monkeypatch.delenv("STREAMROUGH_CACHE_DIR", raising=False)
    monkeypatch.delenv("STREAMROUGH_NUMBA_CACHE", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    assert _config.cache_dir() == str(tmp_path / "streamrough")
    monkeypatch.delenv("XDG_CACHE_HOME")
    assert _config.cache_dir() == os.path.join(os.path.expanduser("~"), ".cache", "streamrough")
    monkeypatch.setenv("STREAMROUGH_CACHE_DIR", str(tmp_path / "mine"))
    assert _config.cache_dir() == str(tmp_path / "mine")
    for off in ("0", "off", "False"):
        monkeypatch.setenv("STREAMROUGH_NUMBA_CACHE", off)
        assert _config.cache_dir() is None


def test_directory_named_by_versions_and_kernel_source():
    import numba

    from streamrough import __version__
    from streamrough._kernels import _cache

    root = _cache.cache_root()
    if root is None:
        pytest.skip("the cache is off in this run")
    tag = os.path.basename(root)
    assert tag.startswith(f"py{sys.version_info[0]}{sys.version_info[1]}-numba{numba.__version__}-streamrough{__version__}-")
    assert tag.endswith(_cache.kernel_source_hash()[:16])


def test_an_entry_with_another_key_is_never_served(tmp_path):
    from numba.core.serialize import dumps

    from streamrough._kernels._cache import _Files

    files = _Files(str(tmp_path), "kernel")
    files.save(("sig", 1), "compiled")
    assert files.load(("sig", 1)) == "compiled"
    assert files.load(("sig", 2)) is None
    with open(files._file(("sig", 3)), "wb") as fh:  # e.g. a hash collision
        fh.write(dumps((("sig", 1), "compiled")))
    assert files.load(("sig", 3)) is None
    with open(files._file(("sig", 4)), "wb") as fh:  # a truncated file
        fh.write(b"\x80\x05garbage")
    assert files.load(("sig", 4)) is None


@needs_jit
def test_nothing_process_wide_changes(rng):
    """Compiling a cached kernel leaves os.environ and Numba's configuration as they were."""
    import numba

    env, numba_dir = dict(os.environ), numba.config.CACHE_DIR
    import streamrough as sr

    sr.pvar(rng.standard_normal((20, 2)), 2.5)
    assert dict(os.environ) == env and numba.config.CACHE_DIR == numba_dir


@needs_jit
def test_cached_closure_instances_have_distinct_names():
    """Numba names compiled symbols by module, qualified name and a per-process counter: each
    cached closure instance gets its id in its name, so that one loaded from the cache never
    shares a symbol with another instance compiled in this process."""
    from streamrough._kernels import _cache, pvar

    if _cache.cache_root() is None:
        pytest.skip("the cache is off in this run")
    names = {pvar.for_norm(code).bnb_advance.py_func.__qualname__ for code in pvar.NORM_CODES.values()}
    assert len(names) == len(pvar.NORM_CODES)
    assert all(name.startswith("_specialise.<locals>.bnb_advance_") for name in names)
