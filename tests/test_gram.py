"""The Gram route (math.md 5) against explicit level-2 tensors and brute force."""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import naive
import streamrough as sr
from streamrough import _config
from streamrough import gram as gram_module

P_LIST = [1.0, 1.5, 2.0, 2.5, 3.0]
CONVENTIONS = ["increments", "values"]
RTOL = 1e-10


def _path(w, convention):
    """The path of a weight sequence (math.md 1), by plain numpy."""
    flat = np.asarray(w, dtype=np.float64).reshape(len(w), -1)
    if convention == "values":
        return flat
    return np.vstack([np.zeros((1, flat.shape[1])), np.cumsum(flat, axis=0)])


def _gram(w):
    flat = np.asarray(w, dtype=np.float64).reshape(len(w), -1)
    return flat @ flat.T


def _weights(rng, n_layers, shape=(2, 2), offset=0.0):
    """Layers with i.i.d. N(0, 1 / n_layers) entries (not Brownian-scaled: entries, not layers,
    have variance 1 / L), plus `offset`."""
    return sr.brownian_weights(n_layers, shape=shape, seed=rng) * np.sqrt(np.prod(shape)) + offset


def _explicit(x, p_values, lift, y=None):
    """Level-1 and level-2 values and norm matrices from explicit tensors, by the naive DP."""
    n1, n2 = naive.level_norm_matrices(x, lift, y)
    v1 = [naive.weight_matrix_dp(n1**p)[0] for p in p_values]
    v2 = [naive.weight_matrix_dp(n2 ** (p / 2))[0] for p in p_values]
    return np.array(v1), np.array(v2), n1, n2


def _check_partitions(res, n1, n2):
    for p, part1, part2, v1, v2 in zip(res.p, res.partition1, res.partition2, res.level1_power, res.level2_power):
        assert part1[0] == 0 and part1[-1] == res.n_points - 1 and np.all(np.diff(part1) > 0)
        assert part2[0] == 0 and part2[-1] == res.n_points - 1 and np.all(np.diff(part2) > 0)
        np.testing.assert_allclose(np.sum(n1[part1[:-1], part1[1:]] ** p), v1, rtol=RTOL)
        np.testing.assert_allclose(np.sum(n2[part2[:-1], part2[1:]] ** (p / 2)), v2, rtol=RTOL)


# ------------------------------------------------------------------------------------------
# the reference itself


def test_naive_tensors_match_double_sums(rng):
    x = rng.standard_normal((6, 3))
    for lift in sr.LIFTS:
        tensors = naive.interval_level2_tensors(x, lift)
        for s in range(6):
            for t in range(s, 6):
                np.testing.assert_allclose(tensors[s][t], naive.level2_brute(x, s, t, lift), atol=1e-13)


# ------------------------------------------------------------------------------------------
# gram_rough_pvar


@pytest.mark.parametrize("lift", sr.LIFTS)
@pytest.mark.parametrize("convention", CONVENTIONS)
def test_brute_force_over_partitions(rng, lift, convention):
    for depth in (1, 2, 3, 7):
        w = _weights(rng, depth, (1, 3))
        x = _path(w, convention)
        res = sr.gram_rough_pvar(_gram(w), P_LIST, lift=lift, convention=convention)
        assert res.n_points == len(x)
        for k, p in enumerate(P_LIST):
            np.testing.assert_allclose(res.level1_power[k], naive.pvar_brute(x, p), rtol=RTOL, atol=1e-300)
            expected2 = naive.pvar_level2_brute(x, p, lift)
            np.testing.assert_allclose(res.level2_power[k], expected2, rtol=RTOL, atol=1e-300)


@pytest.mark.parametrize("lift", sr.LIFTS)
@pytest.mark.parametrize("convention", CONVENTIONS)
def test_matches_explicit_tensors_moderate(rng, lift, convention):
    # L = 60 layers of 4 x 4 (D = 16): explicit 16 x 16 tensors for every interval
    offset = 0.7 if convention == "values" else 0.0  # values: a common part of the layers
    w = _weights(rng, 60, (4, 4), offset)
    x = _path(w, convention)
    res = sr.gram_rough_pvar(_gram(w), P_LIST, lift=lift, convention=convention, return_partition=True)
    v1, v2, n1, n2 = _explicit(x, P_LIST, lift)
    np.testing.assert_allclose(res.level1_power, v1, rtol=RTOL)
    np.testing.assert_allclose(res.level2_power, v2, rtol=RTOL)
    _check_partitions(res, n1, n2)
    assert res.lift == lift and res.convention == convention


def test_alternating_weights_level2_dominates():
    # W_k = (-1)^k M / sqrt(L): level 1 shrinks like L^(1/p - 1/2), level 2 does not (math.md 4)
    depth = 40
    m = np.arange(1.0, 10.0).reshape(3, 3) / 10
    w = np.array([(-1) ** k * m for k in range(depth)]) / np.sqrt(depth)
    x = _path(w, "increments")
    res = sr.gram_rough_pvar(_gram(w), [2.5], return_partition=True)
    v1, v2, n1, n2 = _explicit(x, [2.5], "iterated")
    np.testing.assert_allclose(res.level1_power, v1, rtol=RTOL)
    np.testing.assert_allclose(res.level2_power, v2, rtol=RTOL)
    assert res.level2_power[0] > res.level1_power[0]


def test_values_equals_increments_of_differences(rng):
    w = _weights(rng, 30, (3, 3), offset=0.3)
    diffs = np.diff(w, axis=0)
    for lift in sr.LIFTS:
        a = sr.gram_rough_pvar(_gram(w), P_LIST, lift=lift, convention="values")
        b = sr.gram_rough_pvar(_gram(diffs), P_LIST, lift=lift, convention="increments")
        np.testing.assert_allclose(a.level1_power, b.level1_power, rtol=1e-9)
        np.testing.assert_allclose(a.level2_power, b.level2_power, rtol=1e-9)


def test_straight_line_oracles():
    # increments all positive multiples of one matrix: monotone along a line (math.md 9.2, 9.8)
    m = np.array([[1.0, -2.0], [0.5, 3.0]])
    lam = np.array([0.3, 1.0, 0.2, 0.7, 0.4])
    w = lam[:, None, None] * m
    msq = np.sum(m * m)
    for p in P_LIST:
        res = sr.gram_rough_pvar(_gram(w), p, lift="geometric")
        assert res.level1_power == pytest.approx((lam.sum() ** 2 * msq) ** (p / 2), rel=RTOL)
        # geometric lift of a line: x_{s,t} (x) x_{s,t} / 2, so |XX_{0,N}| = |x_{0,N}|^2 / 2
        assert res.level2_power == pytest.approx((lam.sum() ** 2 * msq / 2) ** (p / 2), rel=RTOL)


def test_scalar_and_sequence_results(rng):
    g = _gram(_weights(rng, 5))
    res = sr.gram_rough_pvar(g, 2.5, return_partition=True)
    assert isinstance(res, sr.RoughResult)
    assert isinstance(res.p, float) and isinstance(res.level1_power, float) and isinstance(res.level2_power, float)
    assert res.partition1.dtype == np.int64 and res.partition1[-1] == 5
    seq = sr.gram_rough_pvar(g, [2.5, 1.0])
    assert seq.level1_power.shape == (2,) and seq.partition1 is None and seq.partition2 is None
    assert seq.level1_power[0] == pytest.approx(res.level1_power, rel=1e-14)


def test_single_layer_and_single_point():
    w = np.array([[3.0, 4.0]])
    res = sr.gram_rough_pvar(_gram(w), [1.0, 3.0], lift="geometric", return_partition=True)
    np.testing.assert_allclose(res.level1_power, [5.0, 125.0])
    np.testing.assert_allclose(res.level2_power, [12.5**0.5, 12.5**1.5])  # |a (x) a / 2| = 12.5
    assert sr.gram_rough_pvar(_gram(w), 2.0).level2_power == 0.0  # iterated: no pair i < j
    one = sr.gram_rough_pvar(_gram(w), 2.0, convention="values", return_partition=True)
    assert one.level1_power == 0.0 and one.level2_power == 0.0 and one.n_points == 1
    assert one.partition1.tolist() == [0] and one.partition2.tolist() == [0]


def test_rounding_asymmetry_is_accepted(rng):
    g = _gram(_weights(rng, 12, (3, 3)))
    nearly = g.copy()
    nearly[0, 1] *= 1 + 1e-14
    np.testing.assert_allclose(
        sr.gram_rough_pvar(nearly, P_LIST).level2_power, sr.gram_rough_pvar(g, P_LIST).level2_power, rtol=1e-12
    )


def test_p_one_level1_is_total_length(rng):
    w = _weights(rng, 25, (3, 2))
    res = sr.gram_rough_pvar(_gram(w), 1.0)
    assert res.level1_power == pytest.approx(np.linalg.norm(w.reshape(25, -1), axis=1).sum(), rel=RTOL)


@given(
    data=st.lists(st.floats(-3, 3), min_size=2, max_size=18),
    scale=st.floats(0.1, 10),
    p=st.sampled_from(P_LIST),
    lift=st.sampled_from(sr.LIFTS),
)
def test_scaling_and_reversal(data, scale, p, lift):
    w = np.array(data[: len(data) // 2 * 2]).reshape(-1, 2)
    g = _gram(w)
    base = sr.gram_rough_pvar(g, p, lift=lift)
    scaled = sr.gram_rough_pvar(scale**2 * g, p, lift=lift)
    assert scaled.level1_power == pytest.approx(scale**p * base.level1_power, rel=1e-9, abs=1e-12)
    assert scaled.level2_power == pytest.approx(scale**p * base.level2_power, rel=1e-9, abs=1e-12)
    # reversal: increments -a_{n-1-i}; the level 2 becomes the transpose, same Frobenius norm
    rev = sr.gram_rough_pvar(g[::-1, ::-1], p, lift=lift)
    assert rev.level1_power == pytest.approx(base.level1_power, rel=1e-9, abs=1e-12)
    assert rev.level2_power == pytest.approx(base.level2_power, rel=1e-9, abs=1e-12)


# ------------------------------------------------------------------------------------------
# gram_rough_distance


def _blocks(wx, wy):
    fx = wx.reshape(len(wx), -1)
    fy = wy.reshape(len(wy), -1)
    return fx @ fx.T, fx @ fy.T, fy @ fy.T


@pytest.mark.parametrize("lift", sr.LIFTS)
@pytest.mark.parametrize("convention", CONVENTIONS)
def test_distance_brute_force(rng, lift, convention):
    for depth in (1, 2, 6):
        wx, wy = _weights(rng, depth, (3,)), _weights(rng, depth, (3,))
        x, y = _path(wx, convention), _path(wy, convention)
        res = sr.gram_rough_distance(*_blocks(wx, wy), P_LIST, lift=lift, convention=convention)
        for k, p in enumerate(P_LIST):
            np.testing.assert_allclose(res.level1_power[k], naive.pvar_brute(x - y, p), rtol=RTOL, atol=1e-300)
            expected2 = naive.pvar_level2_brute(x, p, lift, y=y)
            np.testing.assert_allclose(res.level2_power[k], expected2, rtol=RTOL, atol=1e-300)


@pytest.mark.parametrize("lift", sr.LIFTS)
@pytest.mark.parametrize("convention", CONVENTIONS)
def test_distance_matches_explicit_tensors_moderate(rng, lift, convention):
    wx = _weights(rng, 40, (4, 4), 0.5 if convention == "values" else 0.0)
    wy = wx + 0.3 * _weights(rng, 40, (4, 4))
    x, y = _path(wx, convention), _path(wy, convention)
    res = sr.gram_rough_distance(
        *_blocks(wx, wy), P_LIST, lift=lift, convention=convention, return_partition=True
    )
    v1, v2, n1, n2 = _explicit(x, P_LIST, lift, y)
    np.testing.assert_allclose(res.level1_power, v1, rtol=RTOL)
    np.testing.assert_allclose(res.level2_power, v2, rtol=RTOL)
    _check_partitions(res, n1, n2)


@pytest.mark.parametrize("lift", sr.LIFTS)
@pytest.mark.parametrize("convention", CONVENTIONS)
def test_distance_zero_and_symmetric(rng, lift, convention):
    wx, wy = _weights(rng, 20, (3, 3)), _weights(rng, 20, (3, 3))
    gxx, gxy, gyy = _blocks(wx, wy)
    same = sr.gram_rough_distance(gxx, gxx, gxx, P_LIST, lift=lift, convention=convention)
    assert np.all(same.level1_power == 0.0) and np.all(same.level2_power == 0.0)
    xy = sr.gram_rough_distance(gxx, gxy, gyy, P_LIST, lift=lift, convention=convention)
    yx = sr.gram_rough_distance(gyy, gxy.T, gxx, P_LIST, lift=lift, convention=convention)
    np.testing.assert_allclose(xy.level1_power, yx.level1_power, rtol=1e-12)
    np.testing.assert_allclose(xy.level2_power, yx.level2_power, rtol=1e-12)
    assert np.all(xy.level2_power > 0)


def test_distance_to_zero_path_is_the_pvar(rng):
    w = _weights(rng, 15, (2, 3))
    g = _gram(w)
    zero = np.zeros_like(g)
    for lift in sr.LIFTS:
        d = sr.gram_rough_distance(g, zero, zero, P_LIST, lift=lift)
        v = sr.gram_rough_pvar(g, P_LIST, lift=lift)
        np.testing.assert_allclose(d.level1_power, v.level1_power, rtol=1e-12)
        np.testing.assert_allclose(d.level2_power, v.level2_power, rtol=1e-12)


def test_distance_of_close_paths(rng):
    # no cancellation of large terms: the result follows the small difference
    wx = _weights(rng, 30, (3, 3))
    wy = wx + 1e-4 * _weights(rng, 30, (3, 3))
    x, y = _path(wx, "increments"), _path(wy, "increments")
    res = sr.gram_rough_distance(*_blocks(wx, wy), [2.5])
    v1, v2, _, _ = _explicit(x, [2.5], "iterated", y)
    np.testing.assert_allclose(res.level1_power, v1, rtol=1e-6)
    np.testing.assert_allclose(res.level2_power, v2, rtol=1e-6)


# ------------------------------------------------------------------------------------------
# layer_gram


@pytest.mark.parametrize("chunk_size", [None, 1, 4, 7, 15, 16, 1000])
def test_layer_gram_chunks(rng, chunk_size):
    w = rng.standard_normal((6, 3, 5))  # D = 15: chunks of 4 and 7 leave a ragged last chunk
    v = rng.standard_normal((4, 15))
    flat = w.reshape(6, -1)
    np.testing.assert_allclose(sr.layer_gram(w, chunk_size=chunk_size), flat @ flat.T, rtol=1e-13)
    np.testing.assert_allclose(sr.layer_gram(w, v, chunk_size=chunk_size), flat @ v.T, rtol=1e-13)


@pytest.mark.parametrize("chunk_size", [None, 1, 7, 100])
def test_layer_gram_is_exactly_symmetric(rng, chunk_size):
    """rough_pvar's Gram route skips the symmetry check of the Gram it builds (gram._gram_rough_pvar)."""
    for w in (rng.standard_normal((70, 300)), rng.standard_normal((41, 5, 9)).astype(np.float32)):
        g = sr.layer_gram(w, chunk_size=chunk_size)
        np.testing.assert_array_equal(g, g.T)


def test_layer_gram_dtypes(rng):
    w32 = rng.standard_normal((5, 4, 4)).astype(np.float32)
    exact = w32.reshape(5, -1).astype(np.float64)
    g = sr.layer_gram(w32, chunk_size=5)
    assert g.dtype == np.float64
    np.testing.assert_allclose(g, exact @ exact.T, rtol=1e-13)  # float64 accumulation
    wint = np.arange(12).reshape(3, 4)
    np.testing.assert_array_equal(sr.layer_gram(wint), (wint @ wint.T).astype(np.float64))
    np.testing.assert_array_equal(sr.layer_gram([1.0, 2.0]), [[1.0, 2.0], [2.0, 4.0]])


def test_layer_gram_dask_chunks(rng):
    da = pytest.importorskip("dask.array")
    w = rng.standard_normal((7, 6, 6))
    lazy = da.from_array(w, chunks=(3, 6, 6))
    flat = w.reshape(7, -1)
    np.testing.assert_allclose(sr.layer_gram(lazy, chunk_size=10), flat @ flat.T, rtol=1e-13)


def test_layer_gram_bad_input(rng):
    w = rng.standard_normal((4, 3, 3))
    bad = w.copy()
    bad[2, 1, 1] = np.nan
    with pytest.raises(ValueError, match=r"weights contains NaN.*layer 2, flat entry 4"):
        sr.layer_gram(bad, chunk_size=2)
    with pytest.raises(ValueError, match="other"):
        sr.layer_gram(w, rng.standard_normal((4, 8)))
    with pytest.raises(ValueError, match="chunk_size"):
        sr.layer_gram(w, chunk_size=0)
    with pytest.raises(ValueError, match="empty"):
        sr.layer_gram(np.zeros((0, 3)))
    with pytest.raises(TypeError, match="complex"):
        sr.layer_gram(w + 1j)
    with pytest.raises(ValueError, match="ragged"):
        sr.layer_gram([[1.0, 2.0], [3.0]])


# ------------------------------------------------------------------------------------------
# bad input of the Gram-route functions


def test_gram_bad_input(rng):
    g = _gram(_weights(rng, 5))
    with pytest.raises(ValueError, match="gram must be a square"):
        sr.gram_rough_pvar(g[:4], 2.0)
    with pytest.raises(ValueError, match="gram must be a square"):
        sr.gram_rough_pvar(np.ones(5), 2.0)
    bad = g.copy()
    bad[1, 2] = bad[2, 1] = np.nan
    with pytest.raises(ValueError, match="gram contains NaN"):
        sr.gram_rough_pvar(bad, 2.0)
    asym = g.copy()
    asym[0, 1] += 1.0
    with pytest.raises(ValueError, match="not symmetric"):
        sr.gram_rough_pvar(asym, 2.0)
    with pytest.raises(ValueError, match="negative diagonal"):
        sr.gram_rough_pvar(-g, 2.0)
    with pytest.raises(ValueError, match="empty"):
        sr.gram_rough_pvar(np.zeros((0, 0)), 2.0)
    for p in (0.5, np.nan, [2.0, 0.9]):
        with pytest.raises(ValueError, match="p must"):
            sr.gram_rough_pvar(g, p)
    with pytest.raises(ValueError, match="lift"):
        sr.gram_rough_pvar(g, 2.0, lift="ito")
    with pytest.raises(ValueError, match="convention"):
        sr.gram_rough_pvar(g, 2.0, convention="cumulative")
    with pytest.raises(TypeError, match="complex"):
        sr.gram_rough_pvar(g + 0j, 2.0)


def test_distance_bad_input(rng):
    gxx, gxy, gyy = _blocks(_weights(rng, 5), _weights(rng, 5))
    small = _gram(_weights(rng, 4))
    with pytest.raises(ValueError, match="gram_yy.*equal length"):
        sr.gram_rough_distance(gxx, gxy, small, 2.0)
    with pytest.raises(ValueError, match="gram_xy"):
        sr.gram_rough_distance(gxx, gxy[:, :4], gyy, 2.0)
    with pytest.raises(ValueError, match="gram_xx contains NaN"):
        sr.gram_rough_distance(np.full((5, 5), np.nan), gxy, gyy, 2.0)
    with pytest.raises(ValueError, match="p must"):
        sr.gram_rough_distance(gxx, gxy, gyy, 0.99)
    with pytest.raises(ValueError, match="lift"):
        sr.gram_rough_distance(gxx, gxy, gyy, 2.0, lift="stratonovich")


# ------------------------------------------------------------------------------------------
# random_projection (approximate mode)


def test_random_projection_is_seeded_and_reports_distortion(rng, monkeypatch):
    w = rng.standard_normal((30, 40, 50))
    proj, info = sr.random_projection(w, 800, seed=3)
    assert proj.shape == (30, 800) and proj.dtype == np.float64
    assert info["seed"] == 3 and info["k"] == 800 and "approximate" in info["method"]
    assert 0 < info["max_rel_error_increments"] < 0.2
    assert 0 < info["max_rel_error_values"] < 0.2
    again, info2 = sr.random_projection(w, 800, seed=3)
    np.testing.assert_array_equal(proj, again)
    assert info2 == info
    other, _ = sr.random_projection(w, 800, seed=4)
    assert not np.allclose(proj, other)
    # the projection matrix does not depend on the feature chunking
    monkeypatch.setattr(_config, "GRAM_CHUNK_ENTRIES", 300)
    chunked, info3 = sr.random_projection(w.astype(np.float32), 800, seed=3)
    np.testing.assert_allclose(chunked, proj, rtol=1e-5, atol=1e-5)
    assert info3["max_rel_error_increments"] == pytest.approx(info["max_rel_error_increments"], abs=1e-5)


def test_random_projection_approximates_the_gram_route(rng):
    w = _weights(rng, 20, (30, 30))
    proj, _ = sr.random_projection(w, 2000, seed=0)
    exact = sr.gram_rough_pvar(_gram(w), 2.5)
    approx = sr.gram_rough_pvar(_gram(proj), 2.5)
    assert approx.level1_power == pytest.approx(exact.level1_power, rel=0.25)
    assert approx.level2_power == pytest.approx(exact.level2_power, rel=0.5)


def test_random_projection_bad_input(rng):
    w = rng.standard_normal((4, 6))
    with pytest.raises(TypeError):
        sr.random_projection(w, 3)  # no default seed
    with pytest.raises(TypeError, match="seed"):
        sr.random_projection(w, 3, seed=None)
    with pytest.raises(ValueError, match="k must"):
        sr.random_projection(w, 0, seed=1)
    bad = w.copy()
    bad[3, 5] = np.inf
    with pytest.raises(ValueError, match="NaN or inf"):
        sr.random_projection(bad, 3, seed=1)
    _, info = sr.random_projection(w[:1], 3, seed=1)
    assert np.isnan(info["max_rel_error_values"])
