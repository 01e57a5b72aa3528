import os

import naive
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import streamrough as sr


def level_rel_errors(got, want, d, depth):
    """Per level (and per row): max |got - want| / max |want| over that level."""
    got, want = np.atleast_2d(got), np.atleast_2d(want)
    errs = []
    for k in range(1, depth + 1):
        g = sr.sig_level(got, d, depth, k).reshape(len(got), -1)
        w = sr.sig_level(want, d, depth, k).reshape(len(want), -1)
        scale = np.maximum(np.abs(w).max(axis=1), 1e-300)
        errs.append(np.abs(g - w).max(axis=1) / scale)
    return np.max(errs)


@pytest.mark.parametrize("lift", sr.LIFTS)
def test_long_drifting_path_prefixes_and_queries(lift):
    """10^5 points with drift: every prefix and random [s, t] queries equal direct computation."""
    rng = np.random.default_rng(7)
    # plain Python (coverage runs) gets a shorter path
    n = 5_000 if os.environ.get("NUMBA_DISABLE_JIT", "0") == "1" else 100_000
    d, depth = 2, 3
    x = np.cumsum(rng.standard_normal((n, d)) * 0.01, axis=0) + 1e-3 * np.arange(n)[:, None] * [1.0, 0.5]
    stream = sr.SigStream(d, depth, lift=lift)
    values = np.empty((n - 1, sr.sig_length(d, depth)))
    stream.push(x[0])
    for j in range(1, n):
        stream.push(x[j])
        values[j - 1] = stream._val  # the running value (``.value`` returns a copy of it)
    assert stream.n_points == n
    prefixes = sr.signature(x, depth, lift=lift, stream=True)
    assert level_rel_errors(values, prefixes, d, depth) <= 1e-12
    np.testing.assert_array_equal(stream.value, prefixes[-1])
    for _ in range(40):
        s, t = np.sort(rng.integers(0, n, 2))
        got = stream.query(int(s), int(t))
        want = sr.signature(x[s : t + 1], depth, lift=lift)
        if t > s:
            assert level_rel_errors(got, want, d, depth) <= 1e-12, (s, t)
        else:
            np.testing.assert_array_equal(got, 0)
    assert level_rel_errors(stream.query(0, n - 1), prefixes[-1], d, depth) <= 1e-12
    s = n // 8 + 3
    assert level_rel_errors(stream.query(s, n - 1), sr.signature(x[s:], depth, lift=lift), d, depth) <= 1e-12


@pytest.mark.parametrize("lift", sr.LIFTS)
def test_small_stream_against_brute(lift, rng):
    x = rng.standard_normal((40, 2))
    stream = sr.SigStream(2, 3, lift=lift, capacity=4)
    for p in x:
        stream.push(p)
    assert stream._leaf < 40  # the tree is used
    for s in range(0, 40, 3):
        for t in range(s, 40, 5):
            np.testing.assert_allclose(
                stream.query(s, t), naive.sig_brute(x[s : t + 1], 3, lift), rtol=1e-12, atol=1e-12 * np.abs(x).max() ** 3
            )


@pytest.mark.parametrize("lift", sr.LIFTS)
def test_extend_equals_pushes_and_queries_after_more_points(lift, rng):
    x = rng.standard_normal((300, 2))
    a = sr.SigStream(2, 3, lift=lift)
    b = sr.SigStream(2, 3, lift=lift)
    a.extend(x[:100])
    q = a.query(10, 99)  # builds part of the tree
    a.extend(x[100:])
    a.extend(np.empty((0, 2)))
    for p in x:
        b.push(p.tolist())
    np.testing.assert_array_equal(a.value, b.value)
    np.testing.assert_allclose(q, sr.signature(x[10:100], 3, lift=lift), rtol=1e-12)
    np.testing.assert_allclose(a.query(5, 290), sr.signature(x[5:291], 3, lift=lift), rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(b.value, sr.signature(x, 3, lift=lift), rtol=1e-12)


@pytest.mark.parametrize("lift", sr.LIFTS)
def test_window(lift, rng):
    x = rng.standard_normal((500, 2))
    w = sr.SigStream(2, 3, lift=lift, window=37, capacity=8)
    np.testing.assert_array_equal(w.value, 0)
    for j, p in enumerate(x):
        w.push(p)
        if j % 23 == 0 or j < 40:
            want = sr.signature(x[max(0, j - 37) : j + 1], 3, lift=lift)
            np.testing.assert_allclose(w.value, want, rtol=1e-12, atol=1e-12)
    assert w.n_points == 500
    assert len(w._pts) <= 2 * 38 + 8  # memory stays bounded
    np.testing.assert_allclose(w.query(480, 499), sr.signature(x[480:], 3, lift=lift), rtol=1e-12, atol=1e-12)
    with pytest.raises(ValueError, match="window"):
        w.query(0, 499)
    w.extend(x[:100])
    np.testing.assert_allclose(w.value, sr.signature(x[62:100], 3, lift=lift), rtol=1e-12, atol=1e-12)


def test_bad_input():
    st_ = sr.SigStream(2, 2)
    with pytest.raises(ValueError, match="point"):
        st_.push([1.0, 2.0, 3.0])
    st_.push([0.0, 0.0])
    with pytest.raises(ValueError, match="NaN"):
        st_.push(np.array([np.nan, 0.0]))
    with pytest.raises(ValueError, match="NaN"):
        st_.extend([[1.0, 1.0], [np.inf, 0.0]])
    assert st_.n_points == 1  # nothing appended
    with pytest.raises(ValueError, match="point"):
        st_.push(np.zeros(3))  # float64 fast path, wrong length
    with pytest.raises(ValueError, match="point"):
        st_.push(np.zeros((1, 2)))
    st_.push(np.array([1, 2]))  # integers are converted
    st_.push(np.array([2.0, 2.0], dtype=np.float32))
    np.testing.assert_allclose(st_.value, sr.signature(np.array([[0.0, 0.0], [1.0, 2.0], [2.0, 2.0]]), 2))
    st_ = sr.SigStream(2, 2)
    st_.push([0.0, 0.0])
    with pytest.raises(ValueError, match="points"):
        st_.extend(np.zeros((2, 3)))
    with pytest.raises(ValueError, match="n_points"):
        st_.query(0, 1)
    with pytest.raises(ValueError, match="s"):
        st_.query(-1, 0)
    with pytest.raises(ValueError, match="lift"):
        sr.SigStream(2, 2, lift="ito")
    with pytest.raises(ValueError, match="depth"):
        sr.SigStream(2, 0)
    with pytest.raises(ValueError, match="window"):
        sr.SigStream(2, 2, window=0)
    empty = sr.SigStream(3, 2)
    np.testing.assert_array_equal(empty.value, np.zeros(12))
    assert empty.n_points == 0
    assert "SigStream(dim=3" in repr(empty)


@given(
    st.lists(st.lists(st.floats(-5, 5), min_size=2, max_size=2), min_size=1, max_size=80),
    st.sampled_from(sr.LIFTS),
    st.data(),
)
def test_property_queries(points, lift, data):
    x = np.array(points)
    stream = sr.SigStream(2, 3, lift=lift, capacity=1)
    stream.extend(x[: len(x) // 2])
    for p in x[len(x) // 2 :]:
        stream.push(p)
    s = data.draw(st.integers(0, len(x) - 1))
    t = data.draw(st.integers(s, len(x) - 1))
    want = sr.signature(x[s : t + 1], 3, lift=lift)
    np.testing.assert_allclose(stream.query(s, t), want, rtol=1e-10, atol=1e-10 * max(1.0, np.abs(want).max()))
    np.testing.assert_allclose(stream.value, sr.signature(x, 3, lift=lift), rtol=1e-12, atol=1e-12)
