"""Offline exact p-variation (`pvar`, `pvar_running`, `pvar_batch`) against tests/naive.py."""

import math
import os

import numpy as np
import pytest
from naive import partition_sum, pvar_brute, pvar_dp, sample_path

import streamrough as sr

RTOL = 1e-12
# kernels run as plain Python under NUMBA_DISABLE_JIT=1: smaller sizes there
JIT = os.environ.get("NUMBA_DISABLE_JIT", "0") != "1"
METHODS_ANY_D = ("auto", "dp", "bnb")
NORMS = ("euclidean", "l1", "linf")
P_VALUES = (1.0, 1.01, 1.04, 1.5, 2.0, 2.5, 3.0, 6.0)


def methods_for(d):
    return METHODS_ANY_D + (("1d",) if d == 1 else ())


def check_result(x, p, norm, res, expected):
    assert res.p == p and res.point_norm == norm
    assert res.level1_power == pytest.approx(expected, rel=RTOL, abs=1e-300)
    assert res.level1 == pytest.approx(expected ** (1 / p), rel=RTOL, abs=1e-300)
    part = np.asarray(res.partition1)
    assert part[0] == 0 and part[-1] == len(x) - 1 and np.all(np.diff(part) > 0)
    assert partition_sum(x, p, part, norm) == pytest.approx(res.level1_power, rel=RTOL, abs=1e-300)


@pytest.mark.parametrize("d", [1, 2, 3, 10])
def test_brute_force_small_paths_every_method(rng, d):
    for trial in range(12 if JIT else 3):
        n = int(rng.integers(2, 11))
        x = sample_path(rng, n, d, ("walk", "int", "repeat", "iid")[trial % 4])
        for p in P_VALUES:
            for norm in NORMS:
                expected = pvar_brute(x, p, norm)
                for method in methods_for(d):
                    res = sr.pvar(x, p, norm=norm, method=method, return_partition=True)
                    check_result(x, p, norm, res, expected)


@pytest.mark.parametrize("d", [1, 2, 3, 10])
@pytest.mark.parametrize("kind", ["walk", "int", "repeat", "iid"])
def test_dp_reference_longer_paths(rng, d, kind):
    n = 150 if JIT else 40
    x = sample_path(rng, n, d, kind)
    ps = [1.0, 1.02, 1.5, 2.0, 2.5, 3.0, 4.0, 7.0]
    for norm in NORMS if d > 1 else ("euclidean",):
        refs = [pvar_dp(x, p, norm)[0] for p in ps]
        for method in methods_for(d):
            got = sr.pvar(x, ps, norm=norm, method=method, power=True)
            np.testing.assert_allclose(got, [r[-1] for r in refs], rtol=RTOL)
        running = sr.pvar_running(x, ps, norm=norm)
        np.testing.assert_allclose(running, np.array(refs), rtol=RTOL, atol=0)


def test_brownian_methods_agree_and_partition_reproduces(rng):
    walk = sr.brownian_path(3000 if JIT else 200, 5, seed=3)
    drift = walk + np.linspace(0, 3, len(walk))[:, None]  # a trend: long monotone stretches
    ps = [1.0, 1.03, 1.5, 2.0, 2.5, 3.0, 4.0]
    for x in (walk, drift):
        dp = sr.pvar(x, ps, method="dp", return_partition=True)
        bnb = sr.pvar(x, ps, method="bnb", return_partition=True)
        for a, b in zip(dp, bnb):
            assert b.level1_power == pytest.approx(a.level1_power, rel=RTOL)
            assert partition_sum(x, b.p, b.partition1) == pytest.approx(b.level1_power, rel=RTOL)


def test_1d_method_matches_bnb_on_long_path():
    x = sr.brownian_path(5000 if JIT else 300, 1, seed=4)
    for p in (1.5, 2.0, 3.0):
        one = sr.pvar(x, p, method="1d", return_partition=True)
        bnb = sr.pvar(x, p, method="bnb", power=True)
        assert one.level1_power == pytest.approx(bnb, rel=RTOL)
        assert one.method == "1d"
        assert partition_sum(x, p, one.partition1) == pytest.approx(one.level1_power, rel=RTOL)


# ---------------------------------------------------------------- oracles of math.md 9


@pytest.mark.parametrize("method", ["auto", "dp", "bnb"])
def test_oracle_two_points_and_one_point(method):
    assert sr.pvar([[1.0, 2.0]], 2.5, method=method) == 0.0
    res = sr.pvar([[1.0, 2.0]], 2.5, method=method, return_partition=True)
    assert res.partition1.tolist() == [0] and res.level1_power == 0.0
    for p in (1.0, 1.5, 3.0):
        assert sr.pvar([[0.0, 0.0], [3.0, 4.0]], p, power=True, method=method) == pytest.approx(5.0**p, rel=RTOL)


@pytest.mark.parametrize("method", ["auto", "dp", "bnb", "1d"])
def test_oracle_monotone_path(method):
    x = np.sort(np.random.default_rng(1).uniform(-3, 5, 40))
    for p in (1.0, 1.3, 2.0, 4.5):
        assert sr.pvar(x, p, power=True, method=method) == pytest.approx((x[-1] - x[0]) ** p, rel=RTOL)
    if method != "1d":  # monotone along a line in R^3
        direction = np.array([1.0, -2.0, 0.5])
        line = x[:, None] * direction
        for p in (1.0, 2.5):
            expected = ((x[-1] - x[0]) * np.linalg.norm(direction)) ** p
            assert sr.pvar(line, p, power=True, method=method) == pytest.approx(expected, rel=RTOL)


@pytest.mark.parametrize("method", ["auto", "dp", "bnb", "1d"])
def test_oracle_zigzag(method):
    for n in (1, 2, 7, 40):
        x = np.arange(n + 1) % 2
        for p in (1.0, 1.5, 2.0, 3.0):
            assert sr.pvar(x, p, power=True, method=method) == pytest.approx(n, rel=RTOL)
            assert sr.pvar(2.5 * x, p, power=True, method=method) == pytest.approx(n * 2.5**p, rel=RTOL)


@pytest.mark.parametrize("method", ["auto", "dp", "bnb", "1d"])
def test_oracle_0114_repeated(method):
    for r in (1, 2, 5):
        x = np.tile([0.0, 1.0, 1.0, 4.0], r)
        for p in (1.0, 1.5, 2.0, 3.0):
            expected = 4.0**p * (2 * r - 1)
            assert sr.pvar(x, p, power=True, method=method) == pytest.approx(expected, rel=RTOL)


@pytest.mark.parametrize("method", ["auto", "dp", "bnb", "1d"])
def test_oracle_sine(method):
    for k in (1, 3):
        t = np.linspace(0, 2 * np.pi * k, 8 * k + 1)  # contains the extrema
        x = np.sin(t)
        x[-1] = 0.0
        for p in (1.0, 1.5, 2.0, 3.0):
            expected = 2 + (2 * k - 1) * 2**p
            assert sr.pvar(x, p, power=True, method=method) == pytest.approx(expected, rel=1e-12)


@pytest.mark.parametrize("method", ["auto", "dp", "bnb"])
def test_oracle_unit_square(method):
    square = [(0, 0), (1, 0), (1, 1), (0, 1), (0, 0)]
    for p in (1.0, 1.5, 2.0, 2.5, 3.0, 5.0):
        expected = 4.0 if p <= 2 else 2 ** (p / 2 + 1)
        assert sr.pvar(square, p, power=True, method=method) == pytest.approx(expected, rel=RTOL)


@pytest.mark.parametrize("method", ["auto", "dp", "bnb", "1d"])
def test_oracle_v2_of_integers(method):
    for k in (1, 5, 33):
        assert sr.pvar(np.arange(k + 1), 2, power=True, method=method) == pytest.approx(k * k, rel=RTOL)


def test_oracle_inequalities(rng):
    x = sr.brownian_path(400, 3, seed=5)
    jumps = np.linalg.norm(x[:, None] - x[None], axis=-1)
    steps = np.linalg.norm(np.diff(x, axis=0), axis=1)
    ps = np.array([1.0, 1.2, 1.7, 2.0, 2.6, 3.5])
    powers = sr.pvar(x, ps, power=True)
    norms = sr.pvar(x, ps)
    v1 = steps.sum()
    for p, w in zip(ps, powers):
        assert w >= jumps.max() ** p * (1 - 1e-12)
        assert w >= np.sum(steps**p) * (1 - 1e-12)
        assert w <= v1**p * (1 + 1e-12)
    assert np.all(np.diff(norms) <= 1e-12 * norms[:-1])  # ||x||_{q-var} <= ||x||_{p-var}, q >= p
    assert powers[0] == pytest.approx(v1, rel=RTOL)
    # super-additivity at every split point
    for u in (1, 57, 200, 398):
        assert sr.pvar(x[: u + 1], 2.6, power=True) + sr.pvar(x[u:], 2.6, power=True) <= powers[4] * (1 + 1e-12)


# ---------------------------------------------------------------- dtypes, shapes, scaling


def test_dtypes_and_shapes():
    rng = np.random.default_rng(7)
    x = rng.integers(-5, 6, size=(30, 2, 3))
    expected = pvar_dp(x.reshape(30, 6).astype(float), 2.5)[0][-1]
    # matrix-valued points: the "values" reading (3-axis arrays are weights by default)
    assert sr.pvar(x, 2.5, power=True, convention="values") == pytest.approx(expected, rel=RTOL)
    assert sr.pvar(x.astype(np.float32), 2.5, power=True, convention="values") == pytest.approx(expected, rel=RTOL)
    assert sr.pvar(x.tolist(), 2.5, power=True, convention="values") == pytest.approx(expected, rel=RTOL)
    x32 = rng.standard_normal((50, 3)).astype(np.float32)
    assert sr.pvar(x32, 2.0, power=True) == pytest.approx(pvar_dp(x32.astype(np.float64), 2.0)[0][-1], rel=RTOL)
    one_d = rng.standard_normal(25)
    assert sr.pvar(one_d, 3.0) == pytest.approx(sr.pvar(one_d[:, None], 3.0, method="bnb"), rel=RTOL)
    assert isinstance(sr.pvar(one_d, 2.0), float)
    out = sr.pvar(one_d, (2.0, 3.0))
    assert isinstance(out, np.ndarray) and out.shape == (2,)
    results = sr.pvar(one_d, [2.0, 3.0], return_partition=True)
    assert [r.p for r in results] == [2.0, 3.0]
    assert sr.pvar(one_d, 2.0, return_partition=True).method == "1d"
    assert sr.pvar(one_d, 1.0, return_partition=True).method == "sum"
    assert sr.pvar(np.ones((5, 3)), 2.0, return_partition=True).partition1.tolist() == [0, 4]


def test_no_copy_of_float64_input(monkeypatch):
    from streamrough._kernels import pvar as kernels

    x = sr.brownian_path(100, 4, seed=2)
    seen = []
    specialised = kernels.for_norm(kernels.EUCLIDEAN)
    original = specialised.bnb_advance

    def spy(X, *args):
        seen.append(X)
        return original(X, *args)

    monkeypatch.setattr(specialised, "bnb_advance", spy)
    sr.pvar(x, 2.5)
    assert seen and np.shares_memory(seen[0], x)


@pytest.mark.parametrize("method", ["auto", "dp", "bnb", "1d"])
def test_huge_and_tiny_values_and_large_p(method):
    rng = np.random.default_rng(11)
    base = np.cumsum(rng.standard_normal(60))
    ref = {p: pvar_dp(base, p)[0][-1] for p in (2.0, 50.0)}
    for scale in (1e150, 1e-150, 1e300, 1e-300):
        for p in (2.0, 50.0):
            got = sr.pvar(base * scale, p, method=method)
            expected = ref[p] ** (1 / p) * scale
            assert math.isfinite(got) and got == pytest.approx(expected, rel=1e-11)
    # an offset far larger than the variation: the same floats give the same value
    shifted = base + 1e12
    assert sr.pvar(shifted, 2.0, power=True, method=method) == pytest.approx(pvar_dp(shifted, 2.0)[0][-1], rel=1e-9)
    # power beyond float64 overflows to inf while the norm stays finite
    res = sr.pvar(base * 1e150, 50.0, method=method, return_partition=True)
    assert res.level1_power == math.inf and math.isfinite(res.level1)


def test_path_exponent_of_one_dimension_matches_the_general_route(rng):
    """d = 1 takes one frexp of the largest distance; a zero second coordinate keeps the same
    distances and takes the per-point route."""
    from streamrough._kernels import pvar as kernels

    for _ in range(2000):
        n = int(rng.integers(1, 6))
        x = rng.standard_normal((n, 1)) * 10.0 ** int(rng.integers(-320, 308))
        if rng.random() < 0.3:
            x = np.round(x / np.abs(x).max()) * np.abs(x).max()  # ties and constant paths
        wide = np.concatenate([x, np.zeros_like(x)], axis=1)
        for code in kernels.NORM_CODES.values():
            assert kernels.path_exponent(x, code) == kernels.path_exponent(wide, code)


def test_path_exponent_of_unscaled_distances_matches_the_per_point_route(rng):
    """path_exponent's one-pass route (coordinate differences within 2^+-250) equals the
    maximum of the per-point diff_exponent, at powers of two, ties and either side of its range."""
    from streamrough._kernels import pvar as kernels

    taken = 0
    for _ in range(1500):
        n, d = int(rng.integers(1, 7)), int(rng.integers(2, 5))
        x = rng.standard_normal((n, d)) * 2.0 ** rng.integers(-262, 262, size=(n, d)).astype(float)
        if rng.random() < 0.3:
            x[rng.random((n, d)) < 0.4] = 0.0  # zero differences, repeated points
        if rng.random() < 0.2:
            x = 2.0 ** rng.integers(-3, 3, size=(n, d)).astype(float)  # distances at powers of two
        taken += kernels._plain_exponent(x, kernels.EUCLIDEAN) != kernels.NO_PLAIN
        for code in kernels.NORM_CODES.values():
            per_point = max([kernels.diff_exponent(x[k], x[0], code) for k in range(1, n)], default=kernels.NO_SCALE)
            assert kernels.path_exponent(x, code) == per_point
    assert 100 < taken < 1400, taken  # both routes exercised


@pytest.mark.parametrize("norm", NORMS)
def test_large_p_in_d_dimensions(norm):
    x = sr.brownian_path(300, 4, seed=8) * 1e100
    for p in (40.0, 200.0):
        got = sr.pvar(x, p, norm=norm)
        expected = sr.pvar(x / 1e100, p, norm=norm) * 1e100
        assert math.isfinite(got) and got == pytest.approx(expected, rel=1e-11)


def test_root_up_squares_back_to_at_least_its_argument(rng):
    """The reach column holds rho = root_up(R), read back as rho * rho: never below R, so the
    reach stays a bound (normal floats of every magnitude, squares of floats, 0)."""
    from streamrough._kernels import pvar as kernels

    values = np.concatenate(
        [rng.random(2000) * 2.0 ** rng.integers(-900, 900, 2000), np.square(rng.random(500)), [0.0, 1.0, 2.0, 0.5]]
    )
    for R in values:
        rho = kernels.root_up(R)
        assert rho * rho >= R
        assert rho * rho <= R * (1.0 + 1e-14)  # and barely above: the tests keep their strength


@pytest.mark.parametrize("norm", NORMS)
def test_reach_bounds_every_block_and_the_reach_test_matches_the_dp(norm, rng):
    """p < 2 tests a block by its reach (the DP value at its last point bounds the block):
    the stored reach covers every point's distance from the last point, and the values equal
    the plain DP's bit for bit, on lattice paths (ties, repeated points) and Brownian ones."""
    from streamrough._kernels import pvar as kernels

    code = kernels.NORM_CODES[norm]
    n = 300 if JIT else 90
    lattice = np.cumsum(rng.integers(-1, 2, size=(n, 3)), axis=0).astype(float)
    lattice[40:60] = lattice[40]  # a run of repeated points
    for x in (lattice, sr.brownian_path(n, 4, seed=5)):
        summ = np.zeros((kernels.summary_rows(n), kernels.summary_cols(x.shape[1])))
        kernels.for_norm(code).build_summaries.serial(x, summ, 1)
        for l in range(kernels.LMIN, 63):
            if 1 << l > n:
                break
            for s in range(0, n - (1 << l) + 1, 1 << l):
                e = s + (1 << l) - 1
                far = max(kernels.qdist(x, k, e, code) for k in range(s, e + 1))
                far = math.sqrt(far) if code == kernels.EUCLIDEAN else far
                assert kernels.reach_of(summ, kernels._row(s, l), x.shape[1]) >= far
        for p in (1.2, 1.5, 1.9):
            bnb = sr.pvar(x, p, power=True, norm=norm, method="bnb", n_jobs=1)
            assert bnb == sr.pvar(x, p, power=True, norm=norm, method="dp")


# ---------------------------------------------------------------- batches


def _batch_paths():
    xb = np.cumsum(np.random.default_rng(3).standard_normal((3, 4, 80, 2)), axis=2)
    xb[0, 1] = 1.0  # a constant path
    xb[2, 3] *= 1e200  # an extreme scale
    return xb


# the parallel batch kernel of each other norm compiles for seconds: CI's slow step
@pytest.mark.parametrize(
    "norm", ["euclidean", pytest.param("l1", marks=pytest.mark.slow), pytest.param("linf", marks=pytest.mark.slow)]
)
def test_batch_matches_loop(norm):
    xb = _batch_paths()
    ps = [1.0, 1.5, 2.5]
    got = sr.pvar_batch(xb, ps, norm=norm, power=True)
    assert got.shape == (3, 4, 3)
    for i in range(3):
        for j in range(4):
            np.testing.assert_allclose(got[i, j], sr.pvar(xb[i, j], ps, norm=norm, power=True), rtol=RTOL)
    single = sr.pvar_batch(xb, 2.0, norm=norm)
    assert single.shape == (3, 4)
    assert single[1, 2] == pytest.approx(sr.pvar(xb[1, 2], 2.0, norm=norm), rel=RTOL)


def test_batch_of_one_path_scalar_paths_and_one_point_paths():
    xb = _batch_paths()
    ps = [1.0, 1.5, 2.5]
    assert isinstance(sr.pvar_batch(xb[0, 0], 2.0), float)
    scalar_paths = xb[..., :1]  # d = 1: the 1-d method per path
    np.testing.assert_allclose(
        sr.pvar_batch(scalar_paths, ps)[1, 2], sr.pvar(scalar_paths[1, 2], ps, method="bnb"), rtol=RTOL
    )
    one_point = sr.pvar_batch(np.zeros((2, 1, 3)), [2.0, 3.0])
    np.testing.assert_array_equal(one_point, 0.0)


# ---------------------------------------------------------------- bad input


def test_bad_input():
    good = np.zeros((4, 2))
    with pytest.raises(ValueError, match="x"):
        sr.pvar([[0.0, np.nan], [1.0, 2.0]], 2)
    with pytest.raises(ValueError, match="x"):
        sr.pvar([0.0, np.inf], 2)
    with pytest.raises(ValueError, match="empty"):
        sr.pvar(np.zeros((0, 3)), 2)
    with pytest.raises(ValueError, match="ragged"):
        sr.pvar([[0.0, 1.0], [1.0]], 2)
    with pytest.raises(TypeError, match="x"):
        sr.pvar(np.array(["a", "b"]), 2)
    for bad_p in (0.5, -1.0, np.nan, np.inf, [2.0, 0.9]):
        with pytest.raises(ValueError, match="p"):
            sr.pvar(good, bad_p)
    with pytest.raises(ValueError, match="norm"):
        sr.pvar(good, 2, norm="l2")
    with pytest.raises(ValueError, match="method"):
        sr.pvar(good, 2, method="fast")
    with pytest.raises(ValueError, match="1d"):
        sr.pvar(good, 2, method="1d")
    with pytest.raises(ValueError, match="norm"):
        sr.pvar_running(good, 2, norm="max")
    with pytest.raises(ValueError, match="x"):
        sr.pvar_batch(np.array([[[0.0], [np.nan]]]), 2)
    with pytest.raises(ValueError, match="p"):
        sr.pvar_batch(np.zeros((2, 3, 1)), 0.3)


def test_running_is_nondecreasing_and_matches_prefixes():
    x = sr.brownian_path(200, 3, seed=9)
    run = sr.pvar_running(x, [1.0, 2.5])
    assert run.shape == (2, 200) and np.all(np.diff(run, axis=1) >= 0)
    for j in (0, 1, 13, 100, 199):
        np.testing.assert_allclose(run[:, j], sr.pvar(x[: j + 1], [1.0, 2.5], power=True), rtol=RTOL)
    assert sr.pvar_running([[1.0, 1.0]], 2.0).tolist() == [0.0]


@pytest.mark.parametrize("ex", [0.5, 0.75, 1.0, 1.25, 1.5, 2.0, 3.1])
def test_power_comparison_without_roots_matches_the_power(rng, ex):
    """qpow_le(u, g, ex) (integer powers for ex = 3/4, 5/4, 3/2) says u^ex <= g as a power does,
    away from ties, at every scale including outside the range of its root-free test."""
    from streamrough._kernels.pvar import POW_SAFE, qpow_le

    for scale in (1.0, 1e-3, 1e5, POW_SAFE, 1e-200, 1e70):
        u = rng.uniform(0.0, 4.0, 200) * scale
        for a, b in ((u, u**ex * 1.0000001), (u, u**ex * 0.9999999), (u, rng.uniform(0.0, 8.0, 200) * scale**ex)):
            for uu, g in zip(a, b):
                if g > 0.0 and abs(uu**ex - g) > 1e-9 * g:
                    assert qpow_le(float(uu), float(g), ex) == (uu**ex <= g), (uu, g, ex)


# ---------------------------------------------------------------- pass certificates (p >= 2)


def _certificate_paths(rng, n):
    """Paths on which pass certificates live long, expire and are cleared: a slow Brownian
    path (small steps, long-lived certificates), one that rests for a long run and then
    jumps far and back (the anchor's jump clears them), and a lattice walk (ties)."""
    slow = sr.brownian_path(n, 4, seed=11)
    rest = np.cumsum(rng.standard_normal((n, 3)), axis=0)
    rest[n // 4 : n // 2] = rest[n // 4]
    rest[n // 2 :] += 1e3 * (np.arange(n - n // 2) % 7 == 3)[:, None]
    lattice = np.cumsum(rng.integers(-1, 2, size=(n, 2)), axis=0).astype(float)
    return slow, rest, lattice


def test_certificates_keep_the_values_of_the_dp(rng):
    """A block that passed its ball test with room to spare passes later tests untested
    (``cert_drift``): running values and partitions equal the plain DP's, for single and
    several p in one call, on paths that keep, expire and clear certificates."""
    n = 700 if JIT else 120
    ps = [2.0, 2.5, 3.0]
    for x in _certificate_paths(rng, n):
        refs = [pvar_dp(x, p)[0] for p in ps]
        np.testing.assert_allclose(sr.pvar_running(x, ps, n_jobs=1), np.array(refs), rtol=RTOL, atol=0)
        for p, ref in zip(ps, refs):
            res = sr.pvar(x, p, method="bnb", return_partition=True, n_jobs=1)
            check_result(x, p, "euclidean", res, ref[-1])
            assert res.level1_power == sr.pvar(x, p, power=True, method="dp")


def test_certificates_in_a_stream_across_rescales(rng):
    """The stream clears its certificates when it rescales the path: the values after
    every point equal the offline ones, before and after each rescale."""
    n = 400 if JIT else 90
    x = np.cumsum(rng.standard_normal((n, 3)), axis=0) * (1e60 ** (np.arange(n) // (n // 4)))[:, None]
    s = sr.PVarStream([2.0, 3.0], dim=3)
    for j, row in enumerate(x):
        s.push(row)
        if j % (n // 8) == 0 or j == n - 1:
            np.testing.assert_allclose(s.level1, sr.pvar(x[: j + 1], [2.0, 3.0]), rtol=RTOL)


@pytest.mark.parametrize("ex", [1.0, 1.25, 1.5])
def test_ball_budget_is_a_lower_bound(rng, ex):
    """The budget t of a passing ball test (``ball_fails``): a ball of radius r at distance
    D + t from x_j still satisfies (r + D + t)^k <= G DEFLATE, checked with 40 digits."""
    from decimal import Decimal, getcontext

    from streamrough._kernels import pvar as kernels

    getcontext().prec = 40
    ball_fails = kernels.for_norm(kernels.EUCLIDEAN).ball_fails
    k = {1.0: 2, 1.25: 5, 1.5: 3}[ex]
    seen = 0
    for _ in range(300 if JIT else 60):
        qc = float(rng.uniform(0.0, 2.0)) ** 2
        r = float(rng.uniform(0.0, 1.0))
        g = float(rng.uniform(0.0, 3.0)) ** (2 * ex) * float(rng.choice([1.0, 1.5, 4.0, 50.0]))
        qs = 4.0 ** float(rng.integers(-3, 4))
        f, t = ball_fails(qc / qs, r / math.sqrt(qs), g, qs, math.sqrt(qs), ex)  # raw units
        if t < 0.0:
            continue
        seen += 1
        G = Decimal(g) * Decimal(abs(g)) if ex == 1.25 else Decimal(g)
        reach = Decimal(r) + Decimal(qc).sqrt() + Decimal(t)
        assert reach**k <= G * Decimal(kernels.DEFLATE), (qc, r, g, t)
    assert seen > 10
