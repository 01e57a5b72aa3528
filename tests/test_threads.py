"""Every public entry point called from several Python threads at once, under Numba's
workqueue threading layer (which aborts the process on concurrent parallel launches unless
the library serialises them). Runs in a subprocess: a crash fails this test, not the suite.
"""

import os
import subprocess
import sys

import pytest

JIT = os.environ.get("NUMBA_DISABLE_JIT", "0") != "1"

# Each job is computed once in the main thread (the reference), then every job runs
# concurrently, with the default n_jobs (serial kernels in worker threads) and with n_jobs=2
# (parallel kernels launched from worker threads), several rounds. Thresholds are lowered so
# that small inputs take the parallel routes (chunked p-variation, parallel signature batches).
SCRIPT = r"""
import sys
from concurrent.futures import ThreadPoolExecutor

import numpy as np

import streamrough as sr
from streamrough import _config

_config.CHUNKED_MIN_N = 16
_config.CHUNK_LOG = 3
_config.SIG_PARALLEL_WORK = 0
_config.SIG_CHUNKED_WORK = 0

rng = np.random.default_rng(0)
x = np.cumsum(rng.standard_normal((N, 3)), axis=0)
y = np.cumsum(rng.standard_normal((N, 3)), axis=0)
batch = np.cumsum(rng.standard_normal((4, N, 3)), axis=1)
W = sr.brownian_weights(12, 3, seed=1)
V = sr.brownian_weights(12, 3, seed=2)
G, GXY, GYY = sr.layer_gram(W), sr.layer_gram(W, V), sr.layer_gram(V)
sigs = sr.signature(batch[:, None, :9].repeat(3, axis=1).reshape(4, 3, 9, 3), 2)


def pvar_stream():
    s = sr.PVarStream([2.0, 2.5])
    for point in x:
        s.push(point)
    return s.level1_power


def sig_stream():
    s = sr.SigStream(3, 2)
    s.extend(x[:10])
    for point in x[10:]:
        s.push(point)
    return s.value


def rough_stream():
    s = sr.RoughStream(2.5)
    for layer in W:
        s.push(layer)
    return np.array([s.level1, s.level2])


def fields(r):
    return np.array([r.level1, r.level2])


def jobs(n_jobs):
    kw = {} if n_jobs is None else {"n_jobs": n_jobs}
    return {
        "pvar one p": lambda: sr.pvar(x, 2.5, **kw),
        "pvar many p": lambda: sr.pvar(x, [1.5, 2.0, 3.0], **kw),
        "pvar partition": lambda: sr.pvar(x, 2.5, return_partition=True, **kw).partition1,
        "pvar_running": lambda: sr.pvar_running(x, [2.0, 2.5], **kw),
        "pvar_batch": lambda: sr.pvar_batch(batch, [2.0, 2.5], **kw),
        "signature": lambda: sr.signature(x, 2, **kw),
        "signature batch": lambda: sr.signature(batch, 2, **kw),
        "signature stream": lambda: sr.signature(batch, 2, stream=True, **kw),
        "sig_combine": lambda: sr.sig_combine(sigs[:, 0], sigs[:, 1], 3, 2, **kw),
        "sig_combine_many": lambda: sr.sig_combine_many(sigs, 3, 2, **kw),
        "sig_inverse": lambda: sr.sig_inverse(sigs[:, 0], 3, 2, lift="iterated", **kw),
        "sig_join": lambda: sr.sig_join(sigs[:, 0], batch[:, 0], 3, 2, **kw),
        "rough_pvar direct": lambda: fields(sr.rough_pvar(W, 2.5, route="direct", **kw)),
        "rough_pvar gram": lambda: fields(sr.rough_pvar(W, 2.5, route="gram", **kw)),
        "rough_distance direct": lambda: fields(sr.rough_distance(W, V, 2.5, route="direct", **kw)),
        "rough_distance gram": lambda: fields(sr.rough_distance(W, V, 2.5, route="gram", **kw)),
        "layer_gram": lambda: sr.layer_gram(W, V),
        "gram_rough_pvar": lambda: fields(sr.gram_rough_pvar(G, [2.5, 3.0], **kw)),
        "gram_rough_distance": lambda: fields(sr.gram_rough_distance(G, GXY, GYY, [2.5, 3.0], **kw)),
        "PVarStream": pvar_stream,
        "SigStream": sig_stream,
        "RoughStream": rough_stream,
    }


reference = {name: np.asarray(f()) for name, f in jobs(1).items()}
with ThreadPoolExecutor(max_workers=6) as pool:
    for n_jobs in (None, 2, None, 2):
        futures = {name: pool.submit(f) for name, f in jobs(n_jobs).items()}
        for name, fut in futures.items():
            got, want = np.asarray(fut.result()), reference[name]
            # one path in n_jobs chunks multiplied in order (Chen): equal to rounding only
            ok = np.allclose(got, want, rtol=1e-12, atol=1e-12) if name == "signature" else np.array_equal(got, want)
            if not ok:
                sys.exit(f"{name} (n_jobs={n_jobs}) differs from the single-threaded result")
print("OK", len(reference))
"""


@pytest.mark.slow  # a fresh process compiles every kernel (about a minute): CI's slow step
def test_every_entry_point_from_a_thread_pool_under_workqueue():
    env = dict(os.environ, NUMBA_THREADING_LAYER="workqueue", NUMBA_NUM_THREADS="2")
    code = f"N = {40 if JIT else 20}\n" + SCRIPT
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=900)
    assert out.returncode == 0, out.stderr[-3000:]
    assert out.stdout.startswith("OK 22"), out.stdout
