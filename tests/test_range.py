"""The numerical range stated in docs/reliability.md, tested at its ends on every route."""

import warnings

import numpy as np
import pytest

import streamrough as sr
from streamrough._validation import MAX_P


def _stream_value(x, ps):
    s = sr.PVarStream(ps)
    s.extend(x)
    return s.level1


PVAR_ROUTES = {
    "auto": lambda x, ps: sr.pvar(x, ps),
    "dp": lambda x, ps: sr.pvar(x, ps, method="dp"),
    "bnb": lambda x, ps: sr.pvar(x, ps, method="bnb"),
    "batch": lambda x, ps: sr.pvar_batch(np.asarray(x, float).reshape(len(x), -1)[None], ps)[0],
    "stream": _stream_value,
}
PS = [1.0, 2.5, MAX_P]


def _routes(d):
    routes = dict(PVAR_ROUTES)
    if d == 1:
        routes["1d"] = lambda x, ps: sr.pvar(x, ps, method="1d")
    return routes


@pytest.mark.parametrize("d", [1, 3])
@pytest.mark.parametrize("scale", [2.0**-1022, 2.0**-500, 1.0, 2.0**500, 2.0**1000])
def test_pvar_is_homogeneous_from_the_smallest_normal_to_the_largest_scale(scale, d):
    x = np.cumsum(np.random.default_rng(3).standard_normal((12, d)), axis=0)
    ref = sr.pvar(x, PS)
    for name, route in _routes(d).items():
        np.testing.assert_allclose(route(x * scale, PS) / scale, ref, rtol=1e-12, err_msg=name)


@pytest.mark.parametrize("name", sorted(_routes(1)))
def test_pvar_range_ends_exactly(name):
    route = _routes(1)[name]
    tiny = route([0.0, 5e-324, 0.0], [2.0, MAX_P])  # the smallest subnormal jump
    assert list(tiny) == [5e-324, 5e-324]
    huge = route([0.0, 8e307, -8e307], [2.0, MAX_P])  # the largest jumps with finite differences
    np.testing.assert_allclose(huge, [np.hypot(0.8, 1.6) * 1e308, 1.6e308], rtol=1e-14)
    big_p = route([0.0, 1, 0.2, 2, 1], [MAX_P])  # tends to the largest jump
    assert big_p[0] == pytest.approx(2.0, rel=1e-14)


def test_subnormal_paths_on_every_route():
    x = [0.0, 1e-310, 0.0]
    for name, route in _routes(1).items():
        assert route(x, [2.0])[0] == pytest.approx(np.sqrt(2.0) * 1e-310, rel=1e-9), name


@pytest.mark.parametrize("scale", [2.0**-200, 1.0, 2.0**200])
def test_pvar_running_powers_where_representable(scale):
    x = np.cumsum(np.random.default_rng(4).standard_normal((12, 2)), axis=0) * scale
    run = sr.pvar_running(x, [1.0, 2.5])
    np.testing.assert_allclose(run[:, -1], sr.pvar(x, [1.0, 2.5], power=True), rtol=1e-12)


def _rough_routes(p):
    def stream(w, route="auto"):
        s = sr.RoughStream(p, route=route)
        s.extend(w)
        return np.array([s.level1, s.level2])

    def offline(route):
        return lambda w: (lambda r: np.array([r.level1, r.level2]))(sr.rough_pvar(w, p, route=route))

    return {
        "direct": offline("direct"), "gram": offline("gram"), "stream": stream,
        "stream_gram": lambda w: stream(w, "gram"),
    }


@pytest.mark.parametrize("p", [1.0, 2.5, 50.0, MAX_P])
@pytest.mark.parametrize("scale", [1e-150, 1e-100, 1e8, 1e78, 1e150])
def test_rough_range_ends(scale, p):
    w = sr.brownian_weights(8, 2, seed=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for name, route in _rough_routes(p).items():
            ref = route(w)
            got = route(w * scale) / np.array([scale, scale * scale])
            np.testing.assert_allclose(got, ref, rtol=1e-12, err_msg=name)


def test_rough_stream_rescales_when_the_path_grows():
    small = sr.brownian_weights(6, 2, seed=1) * 1e-6
    big = sr.brownian_weights(6, 2, seed=2) * 1e6
    w = np.concatenate([small, big, small])
    s = sr.RoughStream([2.5, 2.8])
    for layer in w:
        s.push(layer)
    r = sr.rough_pvar(w, [2.5, 2.8], route="direct")
    np.testing.assert_allclose(s.level1, r.level1, rtol=1e-12)
    np.testing.assert_allclose(s.level2, r.level2, rtol=1e-12)


def test_p_above_the_maximum_is_refused_everywhere():
    x = [0.0, 1.0, 0.2, 2.0, 1.0]
    calls = [
        lambda: sr.pvar(x, 1080), lambda: sr.pvar_running(x, 1080), lambda: sr.pvar_batch(np.array(x)[None, :, None], 1080),
        lambda: sr.PVarStream(1080), lambda: sr.rough_pvar(sr.brownian_weights(3, 2), 1080), lambda: sr.RoughStream(1080),
    ]
    for call in calls:
        with pytest.raises(ValueError, match="p must be <= 500"):
            call()


def test_inputs_in_other_types():
    import torch

    x = np.cumsum(np.random.default_rng(0).standard_normal((6, 2)), axis=0)
    assert np.array_equal(sr.signature(x.astype(">f8"), 3), sr.signature(x, 3))
    s = sr.signature(x, 2)
    assert np.array_equal(sr.sig_inverse(s.astype(">f8"), 2, 2), sr.sig_inverse(s, 2, 2))
    assert np.array_equal(sr.sig_combine_many(np.stack([s, s]).astype(">f8"), 2, 2), sr.sig_combine_many(np.stack([s, s]), 2, 2))
    w = sr.brownian_weights(5, 2, seed=0)
    g = sr.layer_gram(w)
    assert sr.gram_rough_pvar(torch.tensor(g), 2.5).norm == sr.gram_rough_pvar(g, 2.5).norm
    assert np.array_equal(sr.layer_gram(torch.tensor(w)), g)
    with pytest.raises(TypeError, match="p must be a real number"):
        sr.pvar(x, "2.5")


@pytest.mark.parametrize("k", [-538, -450, 450])
def test_one_dimensional_method_where_squares_would_underflow(k):
    """Found by the slow property run: at 2^-538 the 1-d method ran on the raw path, a square
    inside it underflowed and V_p came out 7 % low. Every method must agree at every scale."""
    x = np.ldexp(np.array([1.0, 0.0, 0.125, -1.0]), k)
    want = np.ldexp(2.0, k)  # the endpoints' jump: (2^1.3)^(1/1.3) = 2
    for method in ("1d", "dp", "bnb"):
        assert sr.pvar(x, 1.3, method=method) == pytest.approx(want, rel=1e-12), method


def test_rough_stream_tiny_first_layer_then_unit_layers():
    """Found by the slow property run: a first increment of 4e-87 fixed the stream's scale, the
    next unit layers grew the path by 2^287 without a rescale and |XX|^2 overflowed (p = 1)."""
    w = np.array([[4.43858087e-87], [1.0], [1.0]])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        s = sr.RoughStream(1.0)
        s.extend(w)
        r = sr.rough_pvar(w, 1.0, convention="increments", route="direct")
    np.testing.assert_allclose([s.level1, s.level2], [r.level1, r.level2], rtol=1e-12)


@pytest.mark.parametrize("k", [-1000, -300, 0, 300, 1000])
def test_chunked_route_range(k):
    """The Dask route over the same scales as the eager one (level 1, and the Gram route of
    level 2 within the rough-path range)."""
    da = pytest.importorskip("dask.array")
    x = np.ldexp(sr.brownian_path(40, 3, seed=1), k)
    for p in (1.0, 2.5, float(MAX_P)):
        assert sr.pvar(da.from_array(x, chunks=7), p) == pytest.approx(sr.pvar(x, p), rel=1e-12)
    if abs(k) <= 300:
        w = np.ldexp(sr.brownian_weights(12, 3, seed=2), k // 2)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            got = sr.rough_pvar(da.from_array(w, chunks=(5, 3, 3)), 2.5)
            want = sr.rough_pvar(w, 2.5, route="gram")
        np.testing.assert_allclose([got.level1, got.level2], [want.level1, want.level2], rtol=1e-10)
