"""The parallel routes of branch and bound against tests/naive.py and the serial route.

Two routes run on several Numba threads: several p in parallel (``bnb_many``, one serial run
per p) and the exact chunked DP for one p (``bnb_chunked``, math.md 2.4). Both must give the
values of the serial route exactly (the same candidate values are compared, only the order
and the pruning differ), and the values of the naive DP. Each kernel is run both as its
parallel and as its serial twin (the same body compiled without ``parallel=True``).
"""

import os

import numpy as np
import pytest
from naive import partition_sum, pvar_brute, pvar_dp, sample_path

import streamrough as sr
from streamrough import _config
from streamrough._kernels import pvar as kernels
from streamrough.variation import _run_bnb

RTOL = 1e-12
JIT = os.environ.get("NUMBA_DISABLE_JIT", "0") != "1"  # smaller sizes when kernels run as Python
NORMS = {"euclidean": kernels.EUCLIDEAN, "l1": kernels.L1, "linf": kernels.LINF}


def serial(x, p, code):
    pv, link, _ = _run_bnb(x, 1.0, np.array([p]), code, 1)
    return pv[0], link[0]


def chunked(x, p, code, lb, parts, twin="parallel"):
    """The chunked kernel called directly, with chunks of 2^lb points (its parallel or serial twin)."""
    n, d = x.shape
    specialised = kernels.for_norm(code)
    summ = np.zeros((kernels.summary_rows(n), kernels.summary_cols(d)))
    getattr(specialised.build_summaries, twin)(x, summ, parts)
    pv = np.zeros((1, n))
    link = np.zeros((1, n), np.int64)
    stats = np.zeros(2, np.int64)
    getattr(specialised.bnb_chunked, twin)(x, 1.0, p, pv, link, summ, lb, parts, stats)
    return pv[0], link[0]


def check_links(x, p, norm, pv, link):
    for j in range(len(x)):
        part = kernels.follow_links(link, j)
        assert part[0] == 0 and part[-1] == j and np.all(np.diff(part) > 0)
        assert partition_sum(x[: j + 1], p, part, norm) == pytest.approx(pv[j], rel=RTOL, abs=1e-300)


@pytest.mark.parametrize("kind", ["walk", "int", "repeat", "iid"])
# the other norms' parallel kernels compile for seconds each: CI's slow step
@pytest.mark.parametrize("norm", ["euclidean", pytest.param("linf", marks=pytest.mark.slow)])
def test_chunked_equals_dp_and_serial_across_chunk_boundaries(kind, norm):
    rng = np.random.default_rng(sorted(NORMS).index(norm) * 10 + len(kind))
    # Euclidean: bit for bit; l1 / linf sums may be vectorised differently in each kernel
    rtol_serial = 0.0 if norm == "euclidean" else 1e-14
    for lb, n in ((0, 2), (1, 5), (2, 9), (2, 12), (3, 17), (4, 15), (4, 16), (4, 61 if JIT else 35)):
        # lengths at, just after and around chunk boundaries, and ragged last chunks
        x = sample_path(rng, n, 3, kind)
        for p in (1.0, 1.01, 2.5, 6.0):
            ref = pvar_dp(x, p, norm)[0]
            s_pv, _ = serial(x, p, NORMS[norm])
            for parts in (1, 2) if lb < 4 else (2, 3):
                pv, link = chunked(x, p, NORMS[norm], lb, parts)
                np.testing.assert_allclose(pv, ref, rtol=RTOL, atol=0)
                np.testing.assert_allclose(pv, s_pv, rtol=rtol_serial, atol=0)
                if parts == 2:
                    check_links(x, p, norm, pv, link)
                    twin = chunked(x, p, NORMS[norm], lb, parts, "serial")
                    np.testing.assert_array_equal(twin[0], pv)
                    np.testing.assert_array_equal(twin[1], link)


def test_chunked_brute_force_small_paths():
    rng = np.random.default_rng(5)
    for trial in range(16 if JIT else 6):
        n = int(rng.integers(1, 10))
        x = sample_path(rng, n, 2, ("walk", "int", "repeat", "iid")[trial % 4])
        for p in (1.0, 1.02, 2.0, 2.7):
            expected = pvar_brute(x, p)
            for lb in (1, 2):
                pv, link = chunked(x, p, kernels.EUCLIDEAN, lb, 2)
                assert pv[-1] == pytest.approx(expected, rel=RTOL, abs=1e-300)
                part = kernels.follow_links(link, n - 1)
                assert partition_sum(x, p, part) == pytest.approx(expected, rel=RTOL, abs=1e-300)


def test_one_and_two_point_paths_every_route():
    for x in (np.array([[1.0, 2.0]]), np.array([[0.0, 0.0], [3.0, 4.0]])):
        n = len(x)
        for p in (1.0, 1.5, 3.0):
            expected = 0.0 if n == 1 else 5.0**p
            for lb in (0, 3):
                pv, link = chunked(x, p, kernels.EUCLIDEAN, lb, 2)
                assert pv[-1] == pytest.approx(expected, rel=RTOL) and link[-1] == 0
        for jobs in (1, 2):
            pv, link, _ = _run_bnb(x, 1.0, np.array([1.0, 2.0, 3.0]), kernels.EUCLIDEAN, jobs)
            np.testing.assert_allclose(pv[:, -1], [0.0] * 3 if n == 1 else [5.0, 25.0, 125.0], rtol=RTOL)


@pytest.fixture
def small_chunks(monkeypatch):
    """The chunked route for every length, with chunks of 8 points."""
    monkeypatch.setattr(_config, "CHUNKED_MIN_N", 2)
    monkeypatch.setattr(_config, "CHUNK_LOG", 3)


@pytest.mark.parametrize("norm", ["euclidean", pytest.param("l1", marks=pytest.mark.slow)])
def test_routes_agree_exactly(small_chunks, norm):
    x = sr.brownian_path(700 if JIT else 120, 4, seed=7)
    ps = np.array([3.0, 1.0, 1.03, 2.5, 1.5, 2.0, 4.0, 2.25])  # unsorted on purpose
    code = NORMS[norm]
    one = _run_bnb(x, 1.0, ps, code, 1)
    for jobs in (2, 3):
        many = _run_bnb(x, 1.0, ps, code, jobs)
        np.testing.assert_array_equal(many[0], one[0])
        np.testing.assert_array_equal(many[1], one[1])
        assert many[2][0] == one[2][0]  # the same work: one serial run per p either way
        for a, p in enumerate(ps):
            single = _run_bnb(x, 1.0, ps[a : a + 1], code, jobs)  # the chunked route
            np.testing.assert_array_equal(single[0][0], one[0][a])
    refs = np.array([pvar_dp(x[: 80 if JIT else 40], p, norm)[0] for p in ps[:4]])
    np.testing.assert_allclose(one[0][:4, : refs.shape[1]], refs, rtol=RTOL, atol=0)


def test_public_calls_several_p_equal_single_calls(small_chunks):
    x = sr.brownian_path(600 if JIT else 100, 5, seed=11)
    ps = [1.25, 1.5, 1.75, 2.0, 2.25, 2.5, 2.75, 3.0]
    together = sr.pvar(x, ps, power=True)
    singles = np.array([sr.pvar(x, p, power=True) for p in ps])
    np.testing.assert_array_equal(together, singles)
    running = sr.pvar_running(x, ps)
    np.testing.assert_array_equal(running[:, -1], together)
    np.testing.assert_array_equal(sr.pvar_running(x, 2.5), running[5])
    results = sr.pvar(x, ps, return_partition=True)
    for p, res in zip(ps, results):
        assert partition_sum(x, p, res.partition1) == pytest.approx(res.level1_power, rel=RTOL)


def test_ties_on_a_lattice_every_route(small_chunks):
    rng = np.random.default_rng(3)
    x = np.cumsum(rng.integers(-1, 2, size=(300 if JIT else 80, 2)), axis=0).astype(float)
    for p in (1.0, 1.5, 2.0, 3.0):
        ref = pvar_dp(x, p)[0]
        for jobs in (1, 2):
            pv, link, _ = _run_bnb(x, 1.0, np.array([p]), kernels.EUCLIDEAN, jobs)
            np.testing.assert_allclose(pv[0], ref, rtol=RTOL, atol=0)
            check_links(x, p, "euclidean", pv[0], link[0])


def test_route_depends_on_n_jobs_and_size_only(monkeypatch):
    """The chunked kernel runs exactly when n_jobs > 1 and N >= CHUNKED_MIN_N; n_jobs = 1 never
    touches a parallel twin (they are replaced by stubs that fail)."""
    x = sr.brownian_path(200, 3, seed=2)
    specialised = kernels.for_norm(kernels.EUCLIDEAN)
    calls = []

    class Spy:
        def __init__(self, twin, name):
            self.serial = twin.serial
            self.twin, self.name = twin, name

        @property
        def parallel(self):
            calls.append(self.name)
            return self.twin.parallel

    for name in ("build_summaries", "bnb_chunked", "bnb_many"):
        monkeypatch.setattr(specialised, name, Spy(getattr(specialised, name), name))
    ref = sr.pvar(x, 2.5, n_jobs=1)
    sr.pvar(x, [2.0, 2.5], n_jobs=1)
    assert calls == []
    monkeypatch.setattr(_config, "CHUNKED_MIN_N", 201)
    assert sr.pvar(x, 2.5, n_jobs=2) == ref
    assert calls == []  # too short for the chunked route
    monkeypatch.setattr(_config, "CHUNKED_MIN_N", 200)
    for _ in range(2):  # the same route every time
        assert sr.pvar(x, 2.5, n_jobs=2) == ref
    assert calls == ["build_summaries", "bnb_chunked"] * 2
