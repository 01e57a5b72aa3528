"""RoughStream's Gram route: after every push the values equal the offline Gram route."""

import numpy as np
import pytest

import naive
import streamrough as sr

PS = [1.5, 2.2, 2.5, 2.9]
TOL = dict(rtol=1e-12, atol=1e-300)


def _offline(w, p, lift, convention):
    """gram_rough_pvar on the path so far: the increments' Gram (for "values", of the
    differences of the points, the form the stream uses; the path is the same up to a shift)."""
    w = np.asarray(w, dtype=np.float64).reshape(len(w), -1)
    inc = w if convention == "increments" else np.diff(w, axis=0)
    return sr.gram_rough_pvar(sr.layer_gram(inc), p, lift=lift, convention="increments", return_partition=True)


def _assert_matches(st, off):
    for name in ("level1", "level2", "norm", "omega"):
        np.testing.assert_allclose(getattr(st, name), getattr(off, name), **TOL, err_msg=name)


@pytest.mark.parametrize("lift", ["iterated", "geometric"])
@pytest.mark.parametrize("convention", ["increments", "values"])
@pytest.mark.parametrize("p", [PS, 2.5])
def test_every_push_equals_the_offline_gram_route(rng, lift, convention, p):
    w = rng.standard_normal((40, 3, 2)) / np.sqrt(40)
    st = sr.RoughStream(p, lift=lift, convention=convention, route="gram", capacity=2)  # forces growth
    for k in range(len(w)):
        st.push(w[k])
        assert st.route == "gram"
        assert st.n_layers == k + 1
        assert st.n_points == k + (2 if convention == "increments" else 1)
        if st.n_points < 2:
            assert (st.level1, st.level2) == (0.0, 0.0) if p == 2.5 else True
            continue
        _assert_matches(st, _offline(w[: k + 1], p, lift, convention))
    res = st.result()
    assert res.route == "gram" and res.lift == lift and res.convention == convention
    # the same numbers as rough_pvar's Gram route (which takes the layers as they come)
    ref = sr.rough_pvar(w, p, lift=lift, convention=convention, route="gram")
    np.testing.assert_allclose(res.level1_power, ref.level1_power, rtol=1e-12)
    np.testing.assert_allclose(res.level2_power, ref.level2_power, rtol=1e-12)
    # ... and as the direct route, up to the Gram route's rounding
    direct = sr.rough_pvar(w, p, lift=lift, convention=convention, route="direct")
    np.testing.assert_allclose(res.level2_power, direct.level2_power, rtol=1e-10)
    # the partitions reproduce the values (brute force on the path)
    x = sr.weight_path(w, convention)
    for r in [res] if p == 2.5 else list(res):
        assert naive.partition_sum(x, r.p, r.partition1) == pytest.approx(r.level1_power, rel=1e-10)
        assert naive.level2_partition_sum(x, r.p, r.partition2, lift) == pytest.approx(r.level2_power, rel=1e-10)


@pytest.mark.parametrize("convention", ["increments", "values"])
def test_brute_force_extend_and_push(rng, convention):
    w = rng.standard_normal((8, 2, 2))
    x = sr.weight_path(w, convention)
    one = sr.RoughStream(2.5, convention=convention, route="gram")
    for layer in w:
        one.push(layer)
    chunked = sr.RoughStream(2.5, convention=convention, route="gram", capacity=1)
    for part in (w[:1], w[1:5], w[5:5], w[5:]):
        chunked.extend(part)
    assert one.level2 == pytest.approx(naive.pvar_level2_brute(x, 2.5) ** (2 / 2.5), rel=1e-10)
    assert one.level1 == pytest.approx(naive.pvar_brute(x, 2.5) ** (1 / 2.5), rel=1e-10)
    assert chunked.level1 == pytest.approx(one.level1, rel=1e-13)
    assert chunked.level2 == pytest.approx(one.level2, rel=1e-13)


@pytest.mark.parametrize("convention", ["increments", "values"])
def test_ties_repeated_and_constant_layers(rng, convention):
    base = rng.standard_normal((6, 2))
    cases = {
        "repeated": np.repeat(base, 3, axis=0),  # equal consecutive layers: ties in the DP
        "constant": np.ones((10, 2)),
        "zeros": np.zeros((7, 2)),
        "alternating": np.array([[1.0, 0.0], [-1.0, 0.0]] * 6),
        "d = 1": rng.standard_normal((25, 1)),
    }
    for name, w in cases.items():
        st = sr.RoughStream(PS, convention=convention, route="gram")
        for k in range(len(w)):
            st.push(w[k])
            if st.n_points >= 2:
                off = _offline(w[: k + 1], PS, "iterated", convention)
                for attr in ("level1", "level2"):
                    np.testing.assert_allclose(
                        getattr(st, attr), getattr(off, attr), rtol=1e-12, atol=1e-15, err_msg=name
                    )
        direct = sr.rough_pvar(w, PS, convention=convention, route="direct")
        np.testing.assert_allclose(st.level1, direct.level1, rtol=1e-10, atol=1e-12, err_msg=name)
        np.testing.assert_allclose(st.level2, direct.level2, rtol=1e-9, atol=1e-12, err_msg=name)


def test_float32_layers_stay_float32_and_a_float64_layer_promotes(rng):
    w = (rng.standard_normal((12, 3, 3)) / 4).astype(np.float32)
    st = sr.RoughStream(2.5, route="gram", capacity=4)
    for k in range(len(w)):
        st.push(w[k])
        _assert_matches(st, _offline(w[: k + 1], 2.5, "iterated", "increments"))
    assert st._gram.rows.dtype == np.float32
    extra = rng.standard_normal((3, 3))  # float64: the stored layers become float64 (exactly)
    st.push(extra)
    assert st._gram.rows.dtype == np.float64
    _assert_matches(st, _offline(np.concatenate([w, extra[None]]), 2.5, "iterated", "increments"))
    v = sr.RoughStream(2.5, convention="values", route="gram")
    v.extend(w)
    assert v._gram.rows.dtype == np.float32
    _assert_matches(v, _offline(w, 2.5, "iterated", "values"))


@pytest.mark.parametrize("scale", [1e-150, 1e40])  # level 2 up to ~1e262
def test_any_float64_scale_and_a_jump_of_scale(rng, scale):
    w = rng.standard_normal((10, 2, 2)) * scale
    w[6:] *= 2.0**300  # far beyond 2^T: every stored quantity is rescaled exactly
    st = sr.RoughStream([2.2, 2.5], lift="geometric", route="gram")
    for k in range(len(w)):
        st.push(w[k])
        ref = sr.rough_pvar(w[: k + 1], [2.2, 2.5], lift="geometric", convention="increments", route="gram")
        _assert_matches(st, ref)
    assert np.isfinite(st.level2).all() and (st.level2 > 0).all()


@pytest.mark.parametrize("lift", ["iterated", "geometric"])
def test_subnormal_layers(lift):
    """Layers near 2^-1026 (found by the slow property test): the Gram row's scale factor
    2^(-2e) alone would overflow; level 1 must stay finite and equal the offline route's."""
    w = np.full((2, 1), np.ldexp(4.50202095e-252, -191))  # 1.43e-309, subnormal
    s = sr.RoughStream(1.0, lift=lift, route="gram", capacity=2)
    s.extend(w)
    r = sr.rough_pvar(w, 1.0, lift=lift, route="gram")
    assert np.isfinite(s.level1) and s.level1 == pytest.approx(r.level1, rel=1e-12)
    assert s.level1 == pytest.approx(2 * 1.43442663183877e-309, rel=1e-6)


def test_auto_route_takes_gram_for_wide_layers():
    w = sr.brownian_weights(3, 32, seed=1)
    st = sr.RoughStream(2.5)  # a 32 x 32 layer: the direct route would need 8.6 GB
    assert st.route == "auto"
    for layer in w:
        st.push(layer)
    assert st.route == "gram"
    _assert_matches(st, _offline(w, 2.5, "iterated", "increments"))
    small = sr.RoughStream(2.5)
    small.push(np.ones((2, 2)))
    assert small.route == "direct"
    forced = sr.RoughStream(2.5, route="direct", capacity=64)  # 8 * 64 * 1024^2 bytes
    with pytest.raises(MemoryError, match="route='gram'"):
        forced.push(w[0])


def test_gram_memory_budget():
    st = sr.RoughStream(2.5, route="gram", capacity=1024, memory_budget=1 << 20)
    with pytest.raises(MemoryError, match="memory_budget = 1048576"):
        st.push(np.ones((4, 4)))  # two 1024 x 1024 float64 arrays do not fit in 1 MiB
    assert (st.n_points, st.route) == (0, "gram")
    st = sr.RoughStream(2.5, route="gram", capacity=64, memory_budget=1 << 17)
    w = sr.brownian_weights(70, 2, seed=0)
    st.extend(w[:60])
    with pytest.raises(MemoryError, match="memory_budget"):
        st.extend(w[60:])  # 128 x 128 would not fit: nothing is appended
    assert st.n_layers == 60
    _assert_matches(st, _offline(w[:60], 2.5, "iterated", "increments"))
    st.extend(w[60:64])  # still fits
    _assert_matches(st, _offline(w[:64], 2.5, "iterated", "increments"))


@pytest.mark.parametrize("lift", ["iterated", "geometric"])
@pytest.mark.parametrize("convention", ["increments", "values"])
def test_signature_is_computed_on_request(rng, lift, convention):
    w = rng.standard_normal((7, 2, 2))
    gram = sr.RoughStream(2.5, lift=lift, convention=convention, route="gram", depth=2)
    direct = sr.RoughStream(2.5, lift=lift, convention=convention, route="direct", depth=2)
    assert gram.signature is None
    for layer in w:
        gram.push(layer)
        direct.push(layer)
        np.testing.assert_allclose(gram.signature, direct.signature, rtol=1e-12, atol=1e-13)
    assert gram.signature is gram.signature  # cached until the next push
    wide = sr.RoughStream(2.5, route="gram", depth=2, capacity=8, memory_budget=1 << 20)
    wide.push(np.ones((32, 32)))
    with pytest.raises(MemoryError, match="depth 2 at D = 1024"):
        wide.signature
    assert wide.level1 == pytest.approx(32.0)


def test_bad_input():
    with pytest.raises(ValueError, match="route"):
        sr.RoughStream(2.5, route="projection")
    st = sr.RoughStream(2.5, convention="values", route="gram")
    st.push(np.full(2, 1e308))
    with pytest.raises(ValueError, match="overflows"):
        st.extend(np.array([[1.0, 1.0], [-1e308, -1e308]])[::-1])  # 1e308 -> -1e308
    assert st.n_layers == 1
    with pytest.raises(ValueError, match="NaN or inf"):
        st.push(np.array([np.nan, 0.0]))
    with pytest.raises(ValueError, match="layer shape"):
        st.push(np.ones(3))
    st.push(np.zeros(2))
    assert st.n_layers == 2


def test_values_with_a_large_common_part(rng):
    # checkpoints sharing a large common part: the increments are formed as differences of
    # the points (before any product), so nothing cancels
    w = 1e3 + rng.standard_normal((30, 3)) * 1e-3
    st = sr.RoughStream([2.2, 2.5], convention="values", route="gram", lift="geometric")
    st.extend(w)
    off = _offline(w, [2.2, 2.5], "geometric", "values")
    _assert_matches(st, off)
