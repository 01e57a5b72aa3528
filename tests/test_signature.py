import itertools
from pathlib import Path

import naive

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

import streamrough as sr
from streamrough import _config


def assert_sig_close(got, want, d, depth, rtol=1e-12):
    """Level by level: |got - want| <= rtol * max |want at that level| (plus a tiny floor)."""
    got, want = np.asarray(got), np.asarray(want)
    assert got.shape == want.shape
    for k in range(1, depth + 1):
        g = sr.sig_level(got, d, depth, k)
        w = sr.sig_level(want, d, depth, k)
        scale = max(float(np.max(np.abs(w))), 1e-300)
        err = float(np.max(np.abs(g - w)))
        assert err <= rtol * scale, f"level {k}: error {err:.3e} vs scale {scale:.3e}"


# ---------------------------------------------------------------------------- sig_length


def test_sig_length():
    assert sr.sig_length(2, 3) == 14
    assert sr.sig_length(1, 4) == 4
    assert sr.sig_length(10, 4) == 11110
    assert sr.sig_length(3, 1) == 3
    with pytest.raises(ValueError, match="GiB"):
        sr.sig_length(1000, 4)
    with pytest.raises(ValueError, match="depth"):
        sr.sig_length(2, 0)
    with pytest.raises(ValueError, match="dim"):
        sr.sig_length(0, 2)
    with pytest.raises(TypeError, match="depth"):
        sr.sig_length(2, 2.5)


# ---------------------------------------------------------------------- against brute force


def slow_cells(fast, slow):
    """Parameter cells: `fast` run in the README's command, `slow` (the same code at other
    sizes, each a compilation of its own) in CI's slow step."""
    as_args = lambda cell: cell if isinstance(cell, tuple) else (cell,)  # noqa: E731
    return list(fast) + [pytest.param(*as_args(cell), marks=pytest.mark.slow) for cell in slow]


@pytest.mark.parametrize("lift", sr.LIFTS)
@pytest.mark.parametrize(
    "d,depth",
    # one cell per kernel variant: depth 1, straight-line, hybrid, loop kernels
    slow_cells([(1, 4), (2, 1), (2, 3), (3, 4), (13, 3)], [(2, 2), (2, 4), (3, 3), (4, 2), (4, 4)]),
)
def test_against_explicit_iterated_sums_and_integrals(lift, d, depth, rng):
    for n in (2, 3, 6):
        x = rng.standard_normal((n, d))
        assert_sig_close(sr.signature(x, depth, lift=lift), naive.sig_brute(x, depth, lift), d, depth)


@pytest.mark.parametrize("lift", sr.LIFTS)
def test_documented_example_values(lift):
    x = np.array([[0.0, 0.0], [1.0, 0.0], [1.0, 2.0]])
    want = {"geometric": [1, 2, 0.5, 2, 0, 2], "iterated": [1, 2, 0, 2, 0, 0]}[lift]
    np.testing.assert_array_equal(sr.signature(x, 2, lift=lift), want)


@pytest.mark.parametrize("lift", sr.LIFTS)
def test_float32_computes_in_float32(lift, rng):
    x = rng.standard_normal((40, 2))
    s32 = sr.signature(x.astype(np.float32), 3, lift=lift)
    assert s32.dtype == np.float32
    assert_sig_close(s32, sr.signature(x.astype(np.float32).astype(np.float64), 3, lift=lift), 2, 3, rtol=2e-5)
    st32 = sr.signature(x.astype(np.float32), 2, lift=lift, stream=True)
    assert st32.dtype == np.float32


@pytest.mark.slow  # compiles float32 variants of the larger kernels
@pytest.mark.parametrize("lift", sr.LIFTS)
def test_float32_larger_kernels(lift, rng):
    for d, depth in [(3, 4), (13, 3), (2, 8)]:  # medium and loop kernels
        y = rng.standard_normal((30, d)).astype(np.float32)
        s32 = sr.signature(y, depth, lift=lift)
        assert s32.dtype == np.float32
        assert_sig_close(s32, sr.signature(y.astype(np.float64), depth, lift=lift), d, depth, rtol=1e-5)
        pre = sr.signature(y, depth, lift=lift, stream=True)
        assert pre.dtype == np.float32
        assert_sig_close(pre[-1], s32, d, depth, rtol=1e-5)


def test_integer_input_is_float64_and_no_copy_of_float64(rng):
    xi = np.arange(12).reshape(6, 2) ** 2
    s = sr.signature(xi, 3)
    assert s.dtype == np.float64
    np.testing.assert_allclose(s, naive.sig_brute(xi, 3), rtol=1e-12)
    with pytest.raises(TypeError, match="x"):
        sr.signature(np.ones((3, 2), dtype=np.longdouble) if np.dtype(np.longdouble).itemsize > 8 else "ab", 2)


@pytest.mark.parametrize("lift", sr.LIFTS)
def test_batch_axes(lift, rng):
    x = rng.standard_normal((2, 3, 7, 2))
    s = sr.signature(x, 3, lift=lift)
    assert s.shape == (2, 3, 14)
    for i, j in itertools.product(range(2), range(3)):
        np.testing.assert_array_equal(s[i, j], sr.signature(x[i, j], 3, lift=lift))
    st_ = sr.signature(x, 2, lift=lift, stream=True)
    assert st_.shape == (2, 3, 6, 6)
    np.testing.assert_array_equal(st_[1, 2], sr.signature(x[1, 2], 2, lift=lift, stream=True))


@pytest.mark.parametrize("dtype", [np.float64, pytest.param(np.float32, marks=pytest.mark.slow)])
@pytest.mark.parametrize("lift", sr.LIFTS)
def test_batch_lanes_kernel(lift, dtype, rng):
    """Batches of small signatures run LANES paths side by side (one per SIMD lane); the
    paths past the last full block of LANES take the one-path kernel."""
    from streamrough._kernels.sig_codegen import LANE_GROUP
    from streamrough._kernels.signature import LANE_STEPS, LANES

    rtol = 1e-12 if dtype == np.float64 else 2e-5
    cases = [(2, 3), (10, 2)] if dtype == np.float32 else [(1, 4), (2, 3), (10, 2)]
    for d, depth in cases:
        for n in (2, 5):
            x = rng.standard_normal((LANES + 1, n, d)).astype(dtype)
            if d == 1:  # monotone: level 4 of a short wiggling 1-d path is all cancellation
                x = np.cumsum(np.abs(x), axis=1)
            s = sr.signature(x, depth, lift=lift)
            assert s.dtype == dtype
            for b in (0, LANES - 1, LANES):
                assert_sig_close(s[b], naive.sig_brute(x[b].astype(np.float64), depth, lift), d, depth, rtol=rtol)
    # more steps than one block of transposed increments, the second ending on a partial
    # group of top-level updates; a batch of exactly 2 LANES
    x = rng.standard_normal((2 * LANES, LANE_STEPS + LANE_GROUP + 4, 10)).astype(dtype)
    s = sr.signature(x, 2, lift=lift)
    for b in (0, 2 * LANES - 1):
        assert_sig_close(s[b], naive.sig_brute(x[b].astype(np.float64), 2, lift), 10, 2, rtol=rtol)


@pytest.mark.parametrize("lift", sr.LIFTS)
def test_parallel_batch_lanes(lift, rng, monkeypatch):
    """In parallel, short paths run in blocks of LANES, long ones one by one, each split
    into LANES pieces side by side."""
    from streamrough._kernels.signature import LANE_MIN_STEPS, LANES

    monkeypatch.setattr(_config, "SIG_PARALLEL_WORK", 0)
    x = rng.standard_normal((LANES + 3, 6, 2))
    s = sr.signature(x, 3, lift=lift, n_jobs=2)
    for b in (0, LANES // 2, LANES + 2):
        assert_sig_close(s[b], naive.sig_brute(x[b], 3, lift), 2, 3)
    y = naive.sample_path(rng, 3 * (LANES * LANE_MIN_STEPS + 2), 2, "walk").reshape(3, -1, 2)
    s = sr.signature(y, 3, lift=lift, n_jobs=2)
    for b in range(3):
        want = np.zeros(14)
        for t in range(y.shape[1] - 1):
            want = naive.tensor_mul_brute(want, naive.sig_brute(y[b, t : t + 2], 3, lift), 2, 3)
        assert_sig_close(s[b], want, 2, 3)


@pytest.mark.parametrize("dtype", [np.float64, pytest.param(np.float32, marks=pytest.mark.slow)])
@pytest.mark.parametrize("lift", sr.LIFTS)
def test_long_single_path_in_lanes(lift, dtype, rng):
    """A long single path runs as LANES consecutive pieces side by side, then their Chen
    product and the leftover steps: against the product of the one-step signatures."""
    from streamrough._kernels.signature import LANE_MIN_STEPS, LANES

    rtol = 1e-12 if dtype == np.float64 else 1e-4
    for d, depth in [(2, 3), (10, 2)]:
        x = naive.sample_path(rng, LANES * LANE_MIN_STEPS + 4, d, "walk").astype(dtype)
        want = np.zeros(sr.sig_length(d, depth))
        for t in range(len(x) - 1):
            step = naive.sig_brute(x[t : t + 2].astype(np.float64), depth, lift)
            want = naive.tensor_mul_brute(want, step, d, depth)
        got = sr.signature(x, depth, lift=lift)
        assert got.dtype == dtype
        assert_sig_close(got, want, d, depth, rtol=rtol)
        assert_sig_close(sr.signature(x[None], depth, lift=lift)[0], want, d, depth, rtol=rtol)


@pytest.mark.parametrize("lift", sr.LIFTS)
def test_parallel_paths_agree_with_serial(lift, rng, monkeypatch):
    x = rng.standard_normal((5, 300, 2))  # (d, depth) = (2, 3), (2, 2): as test_n_jobs
    serial = sr.signature(x, 3, lift=lift)
    serial_one = sr.signature(x[0], 3, lift=lift)
    serial_stream = sr.signature(x, 2, lift=lift, stream=True)
    monkeypatch.setattr(_config, "SIG_PARALLEL_WORK", 0)
    monkeypatch.setattr(_config, "SIG_CHUNKED_WORK", 0)
    np.testing.assert_allclose(sr.signature(x, 3, lift=lift, n_jobs=3), serial, rtol=1e-13, atol=1e-13)
    assert_sig_close(sr.signature(x[0], 3, lift=lift, n_jobs=3), serial_one, 2, 3)  # chunked + Chen
    np.testing.assert_array_equal(sr.signature(x, 2, lift=lift, stream=True, n_jobs=3), serial_stream)
    a, b = serial, sr.signature(x[:, :, ::-1], 3, lift=lift)  # coordinates permuted
    np.testing.assert_allclose(
        sr.sig_combine(a, b, 2, 3, n_jobs=3),
        np.stack([naive.tensor_mul_brute(p, q, 2, 3) for p, q in zip(a, b)]),
        rtol=1e-12,
    )


# ------------------------------------------------------------------------ stream / options


@pytest.mark.parametrize("lift", sr.LIFTS)
@pytest.mark.parametrize("stride", [1, 2, 5])
@pytest.mark.parametrize("d,depth", [(2, 3), (3, 4)])  # straight-line and medium kernels
def test_stream_prefixes(lift, stride, d, depth, rng):
    x = rng.standard_normal((13, d))
    st_ = sr.signature(x, depth, lift=lift, stream=True, stride=stride)
    assert st_.shape == (12 // stride, sr.sig_length(d, depth))
    for j in range(st_.shape[0]):
        assert_sig_close(st_[j], naive.sig_brute(x[: (j + 1) * stride + 1], depth, lift), d, depth)


@pytest.mark.parametrize("lift", sr.LIFTS)
def test_stream_prefixes_large_kernels(lift, rng):
    x = rng.standard_normal((30, 13))
    st_ = sr.signature(x, 3, lift=lift, stream=True, stride=3)  # loop kernels
    for j in range(st_.shape[0]):
        assert_sig_close(st_[j], sr.signature(x[: 3 * (j + 1) + 1], 3, lift=lift), 13, 3)


@pytest.mark.slow  # deep loop kernels compile for a while
@pytest.mark.parametrize("lift", sr.LIFTS)
def test_deep_loop_kernels(lift, rng):
    x = rng.standard_normal((7, 2))
    assert_sig_close(sr.signature(x, 8, lift=lift), naive.sig_brute(x, 8, lift), 2, 8)
    y = rng.standard_normal((30, 2))
    pre = sr.signature(y, 8, lift=lift, stream=True, stride=3)
    for j in range(pre.shape[0]):
        assert_sig_close(pre[j], sr.signature(y[: 3 * (j + 1) + 1], 8, lift=lift), 2, 8)


def test_scalar_term_and_identity():
    x = np.array([[1.0, 2.0]])
    np.testing.assert_array_equal(sr.signature(x, 2), np.zeros(6))
    np.testing.assert_array_equal(sr.signature(x, 2, scalar_term=True), [1, 0, 0, 0, 0, 0, 0])
    assert sr.signature(x, 2, stream=True).shape == (0, 6)
    y = np.array([[0.0, 0.0], [1.0, 1.0]])
    s = sr.signature(y, 2, scalar_term=True)
    np.testing.assert_allclose(s, [1, 1, 1, 0.5, 0.5, 0.5, 0.5])
    assert sr.signature(y[None], 2, stream=True, scalar_term=True).shape == (1, 1, 7)


def test_bad_input():
    x = np.zeros((4, 2))
    sr.signature(x, 2)  # the kernel is loaded: the calls below try the small-call fast path first
    sr.signature(x.astype(np.float32), 2)
    with pytest.raises(ValueError, match="NaN or inf"):
        sr.signature(np.array([[0.0, 1.0], [np.inf, 1.0]], dtype=np.float32), 2)
    with pytest.raises(ValueError, match="depth"):
        sr.signature(x, 0)
    with pytest.raises(TypeError, match="depth"):
        sr.signature(x, 2.0)
    with pytest.raises(ValueError, match="lift"):
        sr.signature(x, 2, lift="ito")
    with pytest.raises(ValueError, match="NaN"):
        sr.signature(np.array([[0.0, np.nan], [1, 1]]), 2)
    with pytest.raises(ValueError, match="NaN or inf"):
        sr.signature(np.array([[0.0, np.inf], [1, 1]]), 2)
    for bad in (np.nan, np.inf, -np.inf):  # the prefix fast path checks the last prefix
        with pytest.raises(ValueError, match=r"NaN or inf \(first at index \(2, 0\)\)"):
            sr.signature(np.array([[0.0, 1], [1, 1], [bad, 2], [3, 4]]), 2, stream=True)
    batch = np.zeros((3, 5, 2))  # the batch fast path checks level 1 of its results
    for bad in (np.nan, np.inf, -np.inf):
        batch[1, 2, 1] = bad
        with pytest.raises(ValueError, match=r"NaN or inf \(first at index \(1, 2, 1\)\)"):
            sr.signature(batch, 2)
    with pytest.raises(ValueError, match="empty"):
        sr.signature(np.zeros((0, 2)), 2)
    with pytest.raises(ValueError, match="shape"):
        sr.signature(np.zeros(5), 2)
    with pytest.raises(ValueError, match="stride"):
        sr.signature(x, 2, stream=True, stride=0)
    with pytest.raises(TypeError, match="x"):
        sr.signature(np.zeros((3, 2), dtype=complex), 2)


# --------------------------------------------------------------------------- Chen algebra


@pytest.mark.parametrize("lift", sr.LIFTS)
@pytest.mark.parametrize("sweep", [False, pytest.param(True, marks=pytest.mark.slow)], ids=["fixed", "sweep"])
def test_chen_identity_random_splits(lift, sweep, rng):
    """Random splits; d and depth random in the slow sweep, two kernel variants otherwise."""
    for i in range(10):
        n = int(rng.integers(3, 40))
        d, depth = (int(rng.integers(1, 4)), int(rng.integers(1, 5))) if sweep else [(2, 3), (3, 4)][i % 2]
        x = rng.standard_normal((n, d))
        u = int(rng.integers(0, n))
        s = sr.signature(x, depth, lift=lift)
        left, right = sr.signature(x[: u + 1], depth, lift=lift), sr.signature(x[u:], depth, lift=lift)
        assert_sig_close(sr.sig_combine(left, right, d, depth), s, d, depth)
        np.testing.assert_allclose(
            sr.sig_combine(left, right, d, depth), naive.tensor_mul_brute(left, right, d, depth), rtol=1e-12, atol=1e-12
        )


@pytest.mark.parametrize("lift", sr.LIFTS)
def test_combine_many_in_order(lift, rng):
    x = rng.standard_normal((31, 2))
    cuts = [0, 4, 5, 17, 30]
    parts = np.stack([sr.signature(x[a : b + 1], 3, lift=lift) for a, b in zip(cuts, cuts[1:])])
    assert_sig_close(sr.sig_combine_many(parts, 2, 3), sr.signature(x, 3, lift=lift), 2, 3)
    batch = np.stack([parts, parts[::-1]])
    got = sr.sig_combine_many(batch, 2, 3)
    assert got.shape == (2, 14)
    want = parts[3]
    for p in parts[2::-1]:
        want = naive.tensor_mul_brute(want, p, 2, 3)
    np.testing.assert_allclose(got[1], want, rtol=1e-12)
    np.testing.assert_array_equal(sr.sig_combine_many(np.zeros((0, 14)), 2, 3), np.zeros(14))


def test_combine_broadcasts_and_checks(rng):
    a = rng.standard_normal((4, 14))
    b = rng.standard_normal(14)
    got = sr.sig_combine(a, b, 2, 3)
    for i in range(4):
        np.testing.assert_allclose(got[i], naive.tensor_mul_brute(a[i], b, 2, 3), rtol=1e-12)
    with pytest.raises(ValueError, match="sig_length"):
        sr.sig_combine(a, np.zeros(13), 2, 3)
    with pytest.raises(ValueError, match="broadcast"):
        sr.sig_combine(a, np.zeros((3, 14)), 2, 3)
    with pytest.raises(ValueError, match="NaN"):
        sr.sig_combine(a, np.full(14, np.nan), 2, 3)
    assert sr.sig_combine(a.astype(np.float32), b.astype(np.float32), 2, 3).dtype == np.float32


@pytest.mark.parametrize("lift", sr.LIFTS)
def test_inverse(lift, rng):
    x = rng.standard_normal((9, 3))
    s = sr.signature(x, 4, lift=lift)
    inv = sr.sig_inverse(s, 3, 4, lift=lift)
    assert np.max(np.abs(sr.sig_combine(s, inv, 3, 4))) < 1e-11 * np.max(np.abs(s))
    assert np.max(np.abs(sr.sig_combine(inv, s, 3, 4))) < 1e-11 * np.max(np.abs(s))
    a = np.diff(x, axis=0)
    if lift == "geometric":  # the signature of the reversed path
        assert_sig_close(inv, naive.sig_brute(x[::-1], 4, "geometric"), 3, 4)
    else:  # (1 + a_{N-1})^-1 (x) ... (x) (1 + a_0)^-1, with (1 + a)^-1 = sum_k (-a)^(x)k
        want = np.zeros_like(s)
        for ak in a[::-1]:
            factor = naive.sig_flat([naive._tensor([-ak] * k, 3) for k in range(1, 5)])
            want = naive.tensor_mul_brute(want, factor, 3, 4)
        assert_sig_close(inv, want, 3, 4)
    # the general inverse agrees with the antipode on geometric signatures
    g = sr.signature(x, 4)
    assert_sig_close(sr.sig_inverse(g, 3, 4, lift="iterated"), sr.sig_inverse(g, 3, 4), 3, 4, rtol=1e-11)
    batch = np.stack([s, 2 * s]).reshape(2, 1, -1)
    assert sr.sig_inverse(batch, 3, 4, lift=lift).shape == (2, 1, 120)


@pytest.mark.parametrize("lift", sr.LIFTS)
def test_join(lift, rng):
    x = rng.standard_normal((8, 2))
    s = sr.signature(x[:-1], 3, lift=lift)
    assert_sig_close(sr.sig_join(s, x[-1] - x[-2], 2, 3, lift=lift), sr.signature(x, 3, lift=lift), 2, 3)
    xb = rng.standard_normal((3, 5, 2))
    sb = sr.signature(xb[:, :-1], 2, lift=lift)
    got = sr.sig_join(sb, xb[:, -1] - xb[:, -2], 2, 2, lift=lift)
    np.testing.assert_allclose(got, sr.signature(xb, 2, lift=lift), rtol=1e-12)
    one = sr.sig_join(np.zeros(6), [1.0, 2.0], 2, 2, lift=lift)
    np.testing.assert_allclose(one, sr.signature(np.array([[0.0, 0.0], [1.0, 2.0]]), 2, lift=lift))
    with pytest.raises(ValueError, match="increment"):
        sr.sig_join(s, [1.0, 2.0, 3.0], 2, 3)
    with pytest.raises(ValueError, match="NaN"):
        sr.sig_join(s, [1.0, np.nan], 2, 3)
    with pytest.raises(ValueError, match="lift"):
        sr.sig_join(s, [1.0, 2.0], 2, 3, lift="x")


# --------------------------------------------------------------------- relations of kinds


def test_level2_geometric_minus_iterated_is_half_the_bracket(rng):
    x = naive.sample_path(rng, 50, 4, "walk")
    a = np.diff(x, axis=0)
    geo = sr.sig_level(sr.signature(x, 2), 4, 2, 2)
    it = sr.sig_level(sr.signature(x, 2, lift="iterated"), 4, 2, 2)
    bracket = np.einsum("ki,kj->ij", a, a)
    np.testing.assert_allclose(geo - it, bracket / 2, rtol=1e-12, atol=1e-12 * np.abs(geo).max())
    # quasi-shuffle: x_{s,t} (x) x_{s,t} = XX + XX^T + D
    inc = x[-1] - x[0]
    np.testing.assert_allclose(np.outer(inc, inc), it + it.T + bracket, rtol=1e-12, atol=1e-12 * np.abs(it).max())
    # geometric: the symmetric part of level 2 is x (x) x / 2 (shuffle)
    np.testing.assert_allclose(geo + geo.T, np.outer(inc, inc), rtol=1e-12, atol=1e-12 * np.abs(geo).max())


def test_quasi_shuffle_level3_letters(rng):
    """Quasi-shuffle of a letter with a word: S^i S^{jk} = S^{ijk} + S^{jik} + S^{jki} + S^{[ij]k} + S^{j[ik]}."""
    x = rng.standard_normal((9, 2))
    a = np.diff(x, axis=0)
    s = sr.signature(x, 3, lift="iterated")
    l1, l2, l3 = (sr.sig_level(s, 2, 3, k) for k in (1, 2, 3))

    def bracket_word(first, second):  # S^{[first second] k}: sum_{p<q} (a_p first * a_p second) a_q k
        return lambda k: sum(a[p, first] * a[p, second] * a[q, k] for p in range(8) for q in range(p + 1, 8))

    def word_bracket(j, first, second):  # S^{j [first second]}
        return sum(a[p, j] * a[q, first] * a[q, second] for p in range(8) for q in range(p + 1, 8))

    for i, j, k in itertools.product(range(2), repeat=3):
        lhs = l1[i] * l2[j, k]
        rhs = l3[i, j, k] + l3[j, i, k] + l3[j, k, i] + bracket_word(i, j)(k) + word_bracket(j, i, k)
        assert abs(lhs - rhs) <= 1e-12 * max(1.0, abs(lhs))


@pytest.mark.parametrize("lift", sr.LIFTS)
def test_level2_interval_from_prefixes_with_s_positive(lift, rng):
    """XX_{s,t} = XX_{0,t} - XX_{0,s} - x_{0,s} (x) x_{s,t} (math.md 3), against double sums."""
    x = naive.sample_path(rng, 20, 3, "walk")
    pre = sr.signature(x, 2, lift=lift, stream=True)
    lev = sr.sig_level(pre, 3, 2, 2)
    for s, t in [(1, 5), (3, 19), (7, 8), (10, 18)]:
        direct = naive.level2_double_sum(x, s, t, lift)
        from_prefix = lev[t - 1] - lev[s - 1] - np.outer(x[s] - x[0], x[t] - x[s])
        np.testing.assert_allclose(from_prefix, direct, rtol=1e-10, atol=1e-12 * np.abs(x).max() ** 2)
        got = sr.sig_level(sr.signature(x[s : t + 1], 2, lift=lift), 3, 2, 2)
        np.testing.assert_allclose(got, direct, rtol=1e-12, atol=1e-12 * np.abs(x).max() ** 2)


def test_straight_line_level2_is_symmetric(rng):
    v = rng.standard_normal(3)
    x = np.cumsum(rng.random(12))[:, None] * v
    for lift in sr.LIFTS:
        lev = sr.sig_level(sr.signature(x, 2, lift=lift), 3, 2, 2)
        np.testing.assert_allclose(lev - lev.T, 0, atol=1e-12 * np.abs(lev).max())
    geo = sr.signature(x, 4)
    assert_sig_close(geo, naive.sig_brute(x[[0, -1]], 4), 3, 4)  # a straight line is one segment


def test_geometric_invariances(rng):
    x = naive.sample_path(rng, 10, 2, "walk")
    s = sr.signature(x, 3)
    assert_sig_close(sr.signature(x + rng.standard_normal(2), 3), s, 2, 3, rtol=1e-11)
    repeated = np.repeat(x, [1, 3, 1, 1, 2, 1, 1, 1, 4, 1], axis=0)  # reparametrisation
    assert_sig_close(sr.signature(repeated, 3), s, 2, 3)
    mid = np.insert(x, 3, 0.3 * x[2] + 0.7 * x[3], axis=0)  # a point on a segment
    assert_sig_close(sr.signature(mid, 3), s, 2, 3, rtol=1e-11)
    # the iterated lift is translation invariant and ignores repeated points (zero increments)
    it = sr.signature(x, 3, lift="iterated")
    assert_sig_close(sr.signature(repeated, 3, lift="iterated"), it, 2, 3)


def test_sig_level():
    s = np.arange(14.0)
    np.testing.assert_array_equal(sr.sig_level(s, 2, 3, 1), [0, 1])
    np.testing.assert_array_equal(sr.sig_level(s, 2, 3, 2), [[2, 3], [4, 5]])
    assert sr.sig_level(s, 2, 3, 3).shape == (2, 2, 2)
    assert sr.sig_level(s, 2, 3, 3)[1, 0, 1] == 6 + 5
    np.testing.assert_array_equal(sr.sig_level(np.arange(15.0), 2, 3, 1), [1, 2])  # scalar term
    with pytest.raises(ValueError, match="level"):
        sr.sig_level(s, 2, 3, 4)
    with pytest.raises(ValueError, match="shape"):
        sr.sig_level(s, 2, 2, 1)


# ------------------------------------------------------------------------- property tests


# Every (d, depth, lift) the properties draw is a compilation of its own (seconds each): the
# README's command draws from the sizes other tests compile anyway, the slow step from all
# up to (3, 4).
SIZE_DRAWS = {
    "common": st.sampled_from([(1, 4), (2, 1), (2, 2), (2, 3)]),
    "all": st.tuples(st.integers(1, 3), st.integers(1, 4)),
}
PROPERTY_SIZES = slow_cells(["common"], ["all"])


@pytest.mark.parametrize("sizes", PROPERTY_SIZES)
@given(data=st.data(), lift=st.sampled_from(sr.LIFTS))
def test_property_chen_and_brute(sizes, lift, data):
    d, depth = data.draw(SIZE_DRAWS[sizes], label="d, depth")
    x = data.draw(arrays(np.float64, (data.draw(st.integers(1, 12), label="n"), d), elements=st.floats(-3, 3)), label="x")
    s = sr.signature(x, depth, lift=lift)
    want = naive.sig_brute(x, depth, lift) if len(x) <= 7 else None
    if want is not None:
        np.testing.assert_allclose(s, want, rtol=1e-10, atol=1e-10 * max(1.0, np.abs(want).max()))
    u = data.draw(st.integers(0, len(x) - 1))
    both = sr.sig_combine(sr.signature(x[: u + 1], depth, lift=lift), sr.signature(x[u:], depth, lift=lift), d, depth)
    np.testing.assert_allclose(both, s, rtol=1e-10, atol=1e-10 * max(1.0, np.abs(s).max()))


@pytest.mark.parametrize("sizes", PROPERTY_SIZES)
@given(data=st.data())
def test_property_reversal_is_inverse(sizes, data):
    d, depth = data.draw(SIZE_DRAWS[sizes], label="d, depth")
    x = data.draw(arrays(np.float64, (data.draw(st.integers(2, 10), label="n"), d), elements=st.floats(-2, 2)), label="x")
    np.testing.assert_allclose(
        sr.sig_inverse(sr.signature(x, depth), d, depth), sr.signature(x[::-1], depth), rtol=1e-10, atol=1e-9
    )


# ------------------------------------------------------------------------------ iisignature


IISIGNATURE_REFERENCE = Path(__file__).parent / "data" / "iisignature_reference.npz"
IISIGNATURE_CASES = [(1, 4), (2, 3), (3, 4), (10, 2), (4, 4)]  # the first four: sizes the other tests compile too


@pytest.mark.parametrize("d,depth", slow_cells(IISIGNATURE_CASES[:4], IISIGNATURE_CASES[4:]))
def test_matches_iisignature_reference(d, depth):
    """iisignature's outputs, held in tests/data (made by make_iisignature_reference.py)."""
    with np.load(IISIGNATURE_REFERENCE) as ref:
        r = {name[len(f"d{d}_n{depth}_"):]: ref[name] for name in ref.files if name.startswith(f"d{d}_n{depth}_")}
    x = r["x"]
    assert_sig_close(sr.signature(x, depth), r["sig"], d, depth, rtol=1e-13)
    pre = sr.signature(x, depth, stream=True)
    for row, j in enumerate((0, 17, 58)):
        assert_sig_close(pre[j], r["prefixes"][row], d, depth, rtol=1e-13)
    np.testing.assert_allclose(sr.signature(r["xb"], depth), r["sig_batch"], rtol=1e-12, atol=1e-12)
    # iisignature's sigcombine returns float32
    np.testing.assert_allclose(sr.sig_combine(r["s1"], r["s2"], d, depth), r["combined"], rtol=1e-6)


@pytest.mark.parametrize("d,depth", slow_cells(IISIGNATURE_CASES[:2], IISIGNATURE_CASES[2:]))
def test_matches_iisignature_live(d, depth, rng):
    """The same cross-check on fresh random input, where iisignature is installed (CI installs it)."""
    iisignature = pytest.importorskip("iisignature")
    x = naive.sample_path(rng, 60, d, "walk") + 0.1 * np.arange(60)[:, None]
    assert_sig_close(sr.signature(x, depth), iisignature.sig(x, depth), d, depth, rtol=1e-13)
    assert_sig_close(sr.signature(x, depth, stream=True)[-1], iisignature.sig(x, depth, 2)[-1], d, depth, rtol=1e-13)


# ------------------------------------------------------------------ kernel building blocks


def test_render_fills_blocks_and_fields():
    from streamrough._kernels.sig_codegen import render

    text = render("def f(x):\n    $body\n    return ${out} + $k\n", body=["y = x", "y *= 2"], out="y", k="1")
    assert text == "def f(x):\n    y = x\n    y *= 2\n    return y + 1\n"
    with pytest.raises(KeyError):
        render("$missing", body=[])


# iterated at depth 64 compiles a long straight-line kernel: in the slow step
@pytest.mark.parametrize("lift", slow_cells(["geometric"], ["iterated"]))
def test_deep_d1_uses_loop_kernels(lift, rng):
    """d = 1 at depth 64: the generated straight-line source would grow like depth^2 and take
    minutes to compile; the plain loop kernels serve it instead."""
    from streamrough._kernels import sig_codegen

    source = sig_codegen.generate_source(1, 64, lift)
    assert (source.count("\n") > sig_codegen.MAX_SOURCE_LINES) == (lift == "geometric")
    # monotone: no cancellation in the reference; 3 points, as the reference's cost grows
    # like depth^4 with 4 (7 s) and like depth^3 with 3 (0.3 s)
    x = np.cumsum(rng.uniform(0.5, 1.5, (3, 1)), axis=0)
    assert_sig_close(sr.signature(x, 64, lift=lift), naive.sig_brute(x, 64, lift), 1, 64)
    pre = sr.signature(x, 64, lift=lift, stream=True)
    assert_sig_close(pre[0], naive.sig_brute(x[:2], 64, lift), 1, 64)


@pytest.mark.parametrize("lift", sr.LIFTS)
@pytest.mark.parametrize("d,depth", slow_cells([(2, 3), (70, 1)], [(1, 3), (3, 2)]))
def test_loop_kernels_against_explicit(lift, d, depth, rng):
    """The plain loop kernels (step and path) against the brute-force signature, and the
    algebra (product, inverse) against its definition."""
    from streamrough._kernels.sig_algebra import algebra, loop_kernels

    k = loop_kernels(d, depth, lift)
    length = sr.sig_length(d, depth)
    x = rng.standard_normal((5, d))
    buf = np.empty(d ** (depth - 1) + d)
    s = np.zeros(length)
    k.path_into(x, 0, 2, s, buf)
    for t in (2, 3):
        k.step(s, x[t + 1] - x[t], buf)
    assert_sig_close(s, naive.sig_brute(x, depth, lift), d, depth)
    alg = algebra(d, depth)
    p, q = rng.standard_normal((2, length))
    prod = p.copy()
    alg.mul_into(prod, q)
    np.testing.assert_allclose(prod, naive.tensor_mul_brute(p, q, d, depth), rtol=1e-12, atol=1e-12)
    inv = np.empty(length)
    alg.inverse_into(p, inv)
    np.testing.assert_allclose(naive.tensor_mul_brute(p, inv, d, depth), np.zeros(length), atol=1e-12)


@pytest.mark.parametrize("d,k", [(1, 3), (2, 1), (2, 4), (3, 3), (5, 2), (4, 4)])
def test_reversed_index_against_digit_reversal(d, k):
    """reversed_index (no divisions) against the base-d digits of each word reversed, with the
    plain and a padded block per last letter."""
    from streamrough._kernels.sig_algebra import reversed_index

    words = list(itertools.product(range(d), repeat=k))  # standard order: last letter fastest
    for last in (d ** (k - 1), d ** (k - 1) + 3):
        weights = [d**j for j in range(k - 1)] + [last]
        idx = np.full(d**k, -1, dtype=np.int64)
        reversed_index(idx, k, d, last)
        assert idx.tolist() == [sum(i * wj for i, wj in zip(word, weights)) for word in words]


def test_generated_variants_cover_the_size_classes():
    """Which kernels are generated: straight-line, straight-line + top-level loop, loops on a
    reversed-word copy; lanes kernels for short signatures; none for depth 1 of many letters."""
    from streamrough._kernels import sig_codegen

    def kernels_in(d, depth):
        source = sig_codegen.generate_source(d, depth, "geometric")
        return None if source is None else {name for name in ("step", "prefixes", "lower_step", "lanes_into") if f"def {name}(" in source}

    assert kernels_in(2, 3) == {"step", "lanes_into"}
    assert kernels_in(3, 4) == {"step", "prefixes", "lanes_into"}
    assert kernels_in(13, 3) == {"prefixes", "lower_step"}
    assert kernels_in(70, 1) is None


@pytest.mark.parametrize("lift", sr.LIFTS)
@pytest.mark.parametrize("d,depth", slow_cells([(3, 4), (13, 3)], [(9, 2), (5, 3), (2, 8)]))
def test_generated_path_into_on_a_running_signature(lift, d, depth, rng):
    """The generated path_into of each size class (hybrid at depths 2, 3, 4, loops) on a
    nonzero running signature, from a step inside the path and over a last, partial group of
    steps: s (x) S(x[t0 .. t1]) against the brute-force product."""
    from streamrough._kernels import sig_codegen
    from streamrough._kernels.signature import kernels

    assert sig_codegen.generated_module(d, depth, lift) is not None
    k = kernels(d, depth, lift)
    x = rng.standard_normal((2 * sig_codegen.GROUP + 5, d))
    s0 = 0.1 * rng.standard_normal(k.LENGTH)
    t0, t1 = 2, x.shape[0] - 1  # 2 GROUP + 2 steps
    s = s0.copy()
    k.path_into(x, np.int64(t0), t1, s, np.full(k.SCRATCH, np.nan))  # scratch not assumed zero
    want = naive.tensor_mul_brute(s0, naive.sig_brute(x[t0 : t1 + 1], depth, lift), d, depth)
    assert_sig_close(s, want, d, depth)
