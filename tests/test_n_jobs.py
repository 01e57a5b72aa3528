"""``n_jobs``: the same values for one and several threads, serial kernels only for n_jobs=1,
argument checks, and no environment change on import."""

import os
import subprocess
import sys
import threading

import numpy as np
import pytest

import streamrough as sr
from streamrough import _config, _parallel

JIT = os.environ.get("NUMBA_DISABLE_JIT", "0") != "1"
N = 60 if JIT else 24

rng = np.random.default_rng(7)
X = np.cumsum(rng.standard_normal((N, 3)), axis=0)
BATCH = np.cumsum(rng.standard_normal((3, N, 2)), axis=1)
W = np.random.default_rng(1).standard_normal((10, 3, 3)) / 10
V = np.random.default_rng(2).standard_normal((10, 3, 3)) / 10
SIGS = np.random.default_rng(3).standard_normal((4, 3, 6)) / 4  # (batch, K, sig_length(2, 2))


def _levels(r):
    return np.array([r.level1, r.level2])


def _gram_distance(n_jobs):
    g, gxy, gyy = sr.layer_gram(W), sr.layer_gram(W, V), sr.layer_gram(V)
    return _levels(sr.gram_rough_distance(g, gxy, gyy, [2.5, 2.8], n_jobs=n_jobs))


# name -> f(n_jobs); every public function with an n_jobs keyword, on the routes it controls
CALLS = {
    "pvar one p (chunked)": lambda j: sr.pvar(X, 2.5, n_jobs=j),
    "pvar several p": lambda j: sr.pvar(X, [1.0, 1.5, 2.5, 4.0], power=True, n_jobs=j),
    "pvar partition": lambda j: sr.pvar(X, 2.5, return_partition=True, n_jobs=j).partition1,
    "pvar_running": lambda j: sr.pvar_running(X, [2.0, 3.0], n_jobs=j),
    "pvar_batch": lambda j: sr.pvar_batch(BATCH, [2.0, 2.5], n_jobs=j),
    "pvar_batch 1d": lambda j: sr.pvar_batch(BATCH[..., :1], 2.5, n_jobs=j),
    "signature batch": lambda j: sr.signature(BATCH, 3, n_jobs=j),
    "signature stream": lambda j: sr.signature(BATCH, 2, stream=True, n_jobs=j),
    "sig_combine": lambda j: sr.sig_combine(SIGS[:, 0], SIGS[:, 1], 2, 2, n_jobs=j),
    "sig_combine_many": lambda j: sr.sig_combine_many(SIGS, 2, 2, n_jobs=j),
    "sig_inverse": lambda j: sr.sig_inverse(SIGS[:, 0], 2, 2, lift="iterated", n_jobs=j),
    "sig_join": lambda j: sr.sig_join(SIGS[:3, 0], BATCH[:, 0], 2, 2, n_jobs=j),
    "rough_pvar direct": lambda j: _levels(sr.rough_pvar(W, [2.0, 2.5], route="direct", n_jobs=j)[1]),
    "rough_pvar gram": lambda j: _levels(sr.rough_pvar(W, 2.5, route="gram", n_jobs=j)),
    "rough_distance direct": lambda j: _levels(sr.rough_distance(W, V, 2.5, route="direct", n_jobs=j)),
    "rough_distance gram": lambda j: _levels(sr.rough_distance(W, V, 2.5, route="gram", n_jobs=j)),
    "gram_rough_pvar": lambda j: _levels(sr.gram_rough_pvar(sr.layer_gram(W), [2.5, 2.8], n_jobs=j)),
    "gram_rough_distance": _gram_distance,
}


@pytest.fixture
def parallel_routes(monkeypatch):
    """Small inputs take the parallel routes (chunked p-variation, parallel signature batches,
    level 1 in a second thread on the direct rough route)."""
    monkeypatch.setattr(_config, "CHUNKED_MIN_N", 16)
    monkeypatch.setattr(_config, "CHUNK_LOG", 3)
    monkeypatch.setattr(_config, "SIG_PARALLEL_WORK", 0)
    monkeypatch.setattr(_config, "SIG_CHUNKED_WORK", 0)
    monkeypatch.setattr(_config, "LEVEL_OVERLAP_MIN_POINTS", 0)  # level 1 beside level 2


class _NoLaunch:
    def __enter__(self):
        raise AssertionError("a parallel kernel was launched with n_jobs=1")

    def __exit__(self, *exc):
        return False


@pytest.mark.parametrize("name", sorted(CALLS))
def test_one_and_two_threads_give_identical_values(name, parallel_routes, monkeypatch):
    two = np.asarray(CALLS[name](2))
    np.testing.assert_array_equal(np.asarray(CALLS[name](3)), two)
    monkeypatch.setattr(_parallel, "_LAUNCH_LOCK", _NoLaunch())  # every parallel launch takes it
    np.testing.assert_array_equal(np.asarray(CALLS[name](1)), two)


def test_long_single_path_signature_in_chunks(parallel_routes, monkeypatch):
    """One path split into n_jobs chunks, multiplied in order: equal to rounding."""
    x = X[:, :2]  # (d, depth) = (2, 3), as the other signature tests: no compilation of its own
    two = sr.signature(x, 3, n_jobs=2)
    monkeypatch.setattr(_parallel, "_LAUNCH_LOCK", _NoLaunch())
    np.testing.assert_allclose(sr.signature(x, 3, n_jobs=1), two, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("name", ["pvar several p", "pvar_batch", "signature batch", "gram_rough_pvar"])
@pytest.mark.parametrize(
    "bad, exc",
    [(0, ValueError), (-2, ValueError), (1.5, TypeError), ("2", TypeError), (True, TypeError)],
)
def test_bad_n_jobs_is_refused(name, bad, exc):
    with pytest.raises(exc, match="n_jobs"):
        CALLS[name](bad)


def test_n_jobs_rule():
    import numba

    assert _parallel.resolve_n_jobs(None) == numba.get_num_threads()
    assert _parallel.resolve_n_jobs(-1) == numba.config.NUMBA_NUM_THREADS
    assert _parallel.resolve_n_jobs(5) == 5
    assert _parallel.resolve_n_jobs(np.int64(2)) == 2
    seen = []
    worker = threading.Thread(target=lambda: seen.append(_parallel.resolve_n_jobs(None)))
    worker.start()
    worker.join()
    assert seen == [1]  # outside the main thread (a Dask task): serial by default


def test_more_jobs_than_threads_is_fine(parallel_routes):
    import numba

    many = numba.config.NUMBA_NUM_THREADS + 3
    np.testing.assert_array_equal(sr.pvar_batch(BATCH, 2.5, n_jobs=many), sr.pvar_batch(BATCH, 2.5, n_jobs=1))
    assert sr.pvar(X, 2.5, n_jobs=many) == sr.pvar(X, 2.5, n_jobs=1)


def test_import_and_first_kernels_leave_the_environment_unchanged():
    code = (
        "import os; before = dict(os.environ); import streamrough as sr; "
        "sr.pvar_batch([[[0.0], [1.0], [0.0]]], 2.0, n_jobs=2); sr.gram_rough_pvar([[1.0]], 2.0, n_jobs=2); "
        "print(dict(os.environ) == before)"
    )
    env = {k: v for k, v in os.environ.items() if k != "OMP_WAIT_POLICY"}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, env=env)
    assert out.stdout.strip() == "True"
