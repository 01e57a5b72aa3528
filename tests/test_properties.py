"""Property tests across the API (marked slow; ``HYPOTHESIS_PROFILE=slow python -m pytest -m
slow`` runs 2000 examples each): Chen's identity, exact invariances under translation and
dilation by powers of two at any scale, p-variation inequalities, and stream = offline after
every push, also at extreme scales."""

import warnings

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

import streamrough as sr
from streamrough._validation import MAX_P

pytestmark = pytest.mark.slow

coords = st.floats(-10, 10, allow_nan=False, allow_infinity=False, allow_subnormal=False)
ps = st.sampled_from([1.0, 1.3, 2.0, 2.5, 4.0, 50.0, MAX_P])


@st.composite
def paths(draw, min_n=2, max_n=16, dims=(1, 2, 3)):
    n = draw(st.integers(min_n, max_n))
    d = draw(st.sampled_from(dims))
    return draw(arrays(np.float64, (n, d), elements=coords))


@given(paths(min_n=3), st.data(), st.sampled_from(["geometric", "iterated"]))
def test_chen_identity(x, data, lift):
    m = data.draw(st.integers(1, x.shape[0] - 2))
    d = x.shape[1]
    whole = sr.signature(x, 3, lift=lift)
    joined = sr.sig_combine(sr.signature(x[: m + 1], 3, lift=lift), sr.signature(x[m:], 3, lift=lift), d, 3)
    np.testing.assert_allclose(joined, whole, rtol=1e-9, atol=1e-9 * (1 + np.abs(whole).max()))


@given(paths(), ps, st.integers(-1000, 1000), arrays(np.float64, 3, elements=coords))
def test_pvar_dilation_by_powers_of_two_and_translation(x, p, k, shift):
    v = sr.pvar(x, p)
    assert sr.pvar(np.ldexp(x, k), p) == pytest.approx(np.ldexp(v, k), rel=1e-13)
    assert sr.pvar(x + shift[: x.shape[1]], p) == pytest.approx(v, rel=1e-9, abs=1e-9)
    assert sr.pvar(x[::-1], p) == pytest.approx(v, rel=1e-12, abs=1e-12)


@given(paths(), st.lists(ps, min_size=2, max_size=4, unique=True))
def test_pvar_inequalities(x, p_list):
    p_list = sorted(p_list)
    x = np.ldexp(x, -int(np.frexp(np.abs(x).max())[1]))  # unit scale: numpy's norms do not underflow
    values = sr.pvar(x, p_list)
    assert np.all(np.diff(values) <= 1e-12 * (1 + values[0]))  # non-increasing in p
    jumps = np.linalg.norm(x[:, None, :] - x[None, :, :], axis=-1)
    assert values[-1] >= jumps.max() * (1 - 1e-12)  # at least the largest jump
    total = np.linalg.norm(np.diff(x, axis=0), axis=1).sum()
    assert values[0] <= total * (1 + 1e-12)  # at most the 1-variation
    n = x.shape[0]
    assert values[-1] <= jumps.max() * (n - 1) ** (1 / p_list[-1]) * (1 + 1e-12)


@given(paths(max_n=12), st.lists(ps, min_size=1, max_size=3, unique=True), st.integers(-1060, 1000))
def test_pvar_stream_equals_offline_after_every_push(x, p_list, k):
    x = np.ldexp(x, k)  # any scale, subnormal included
    s = sr.PVarStream(p_list)
    for m in range(x.shape[0]):
        s.push(x[m])
        np.testing.assert_allclose(s.level1, sr.pvar(x[: m + 1], p_list), rtol=1e-11 if k > -1020 else 1e-6)


@given(paths(max_n=9, dims=(1, 2, 4)), st.sampled_from([1.0, 2.5, 2.8, 50.0]), st.integers(-480, 480),
       st.sampled_from(["increments", "values"]))
def test_rough_stream_equals_offline_after_every_push(w, p, k, convention):
    w = np.ldexp(w, k)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        s = sr.RoughStream(p, convention=convention)
        for m in range(w.shape[0]):
            s.push(w[m])
            r = sr.rough_pvar(w[: m + 1], p, convention=convention, route="direct")
            np.testing.assert_allclose(s.level1, r.level1, rtol=1e-9, atol=0)
            # level 2 (units of |a|^2) is lost to underflow on both routes below about
            # level1^2 2^-1000 (squared norms ~ |a|^4 leave float64; docs/reliability.md):
            # there the two routes may differ by a few subnormals, not more
            np.testing.assert_allclose(s.level2, r.level2, rtol=1e-9, atol=r.level1**2 * 2.0**-1000)


@given(paths(max_n=14), st.lists(ps, min_size=1, max_size=3, unique=True), st.integers(-1000, 1000), st.integers(1, 6))
def test_chunked_equals_eager(x, p_list, k, chunk):
    """The Dask route (any chunking, any scale) gives the eager values; bit for bit is tested
    in test_chunked.py, here to rounding because d = 1 runs the 1-d method eagerly."""
    import dask
    import dask.array as da

    x = np.ldexp(x, k)
    with dask.config.set(scheduler="synchronous"):
        got = sr.pvar(da.from_array(x, chunks=(chunk, x.shape[1])), p_list)
    np.testing.assert_allclose(got, sr.pvar(x, p_list), rtol=1e-11)


@given(paths(max_n=9, dims=(1, 2, 4)), st.sampled_from([1.0, 2.5, 2.8, 50.0]), st.integers(-480, 480),
       st.sampled_from(["increments", "values"]), st.sampled_from(["iterated", "geometric"]))
def test_rough_stream_gram_route_equals_offline_after_every_push(w, p, k, convention, lift):
    w = np.ldexp(w, k)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        s = sr.RoughStream(p, convention=convention, lift=lift, route="gram", capacity=2)
        for m in range(w.shape[0]):
            s.push(w[m])
            # the stream's increments: the layers, or (values) the differences of the points
            inc = w[: m + 1] if convention == "increments" else np.diff(w[: m + 1], axis=0)
            if inc.shape[0] == 0:
                assert (s.level1, s.level2) == (0.0, 0.0)
                continue
            r = sr.rough_pvar(inc, p, lift=lift, convention="increments", route="gram")
            np.testing.assert_allclose(s.level1, r.level1, rtol=1e-9, atol=0)
            # level 2 (units of |a|^2) is lost to underflow on both routes below about
            # level1^2 2^-1000 (squared norms ~ |a|^4 leave float64; docs/reliability.md):
            # there the two routes may differ by a few subnormals, not more
            np.testing.assert_allclose(s.level2, r.level2, rtol=1e-9, atol=r.level1**2 * 2.0**-1000)
