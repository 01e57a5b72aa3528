"""RoughStream: per-layer updates equal the offline rough_pvar after every push."""

import numpy as np
import pytest

import naive
import streamrough as sr
from streamrough import RoughRegimeWarning

PS = [1.5, 2.2, 2.5, 2.9]


@pytest.mark.parametrize("lift", ["iterated", "geometric"])
@pytest.mark.parametrize("convention", ["increments", "values"])
def test_stream_equals_offline_after_every_push(rng, lift, convention):
    w = rng.standard_normal((70, 2, 3)) / np.sqrt(70)
    st = sr.RoughStream(PS, lift=lift, convention=convention, capacity=4)  # forces growth
    for k in range(len(w)):
        st.push(w[k])
        off = sr.rough_pvar(w[: k + 1], PS, lift=lift, convention=convention)
        assert st.n_layers == k + 1
        assert st.n_points == k + (2 if convention == "increments" else 1)
        np.testing.assert_allclose(st.level1, [r.level1 for r in off], rtol=1e-12, atol=1e-300)
        np.testing.assert_allclose(st.level2, [r.level2 for r in off], rtol=1e-12, atol=1e-300)
        np.testing.assert_allclose(st.norm, [r.norm for r in off], rtol=1e-12, atol=1e-300)
        np.testing.assert_allclose(st.omega, [r.omega for r in off], rtol=1e-12, atol=1e-300)
    for a, b in zip(st.result(), off):
        assert a.p == b.p and a.convention == convention and a.lift == lift
        assert a.level2_power == pytest.approx(b.level2_power, rel=1e-12)
        # the stream's partition reproduces its value
        x = sr.weight_path(w, convention)
        assert naive.level2_partition_sum(x, a.p, a.partition2, lift) == pytest.approx(
            a.level2_power, rel=1e-9
        )
        assert naive.partition_sum(x, a.p, a.partition1) == pytest.approx(a.level1_power, rel=1e-9)


def test_stream_rescales_its_summaries_when_the_scale_jumps(rng):
    # layers 2^-150 times smaller first: the stream raises its scale (every stored quantity,
    # the block summaries included, divided by its power of 2^k), then still equals offline
    w = rng.standard_normal((60, 3)) / np.sqrt(60)
    w[:30] *= 2.0**-150
    st = sr.RoughStream(PS[1:], convention="increments")
    for k in range(len(w)):
        st.push(w[k])
    off = sr.rough_pvar(w, PS[1:], convention="increments")
    np.testing.assert_allclose(st.level2, [r.level2 for r in off], rtol=1e-12, atol=1e-300)
    np.testing.assert_allclose(st.level1, [r.level1 for r in off], rtol=1e-12, atol=1e-300)


def test_stream_rescales_box_lows_and_highs_by_their_own_powers(rng):
    # at large p the stream raises its scale after a growth of 2^(400 // p) only, so the old
    # blocks still matter: the lows of the box of x_{m,b} are level 1 and the highs of the
    # box of g level 3 (a wrong power shrank the box and pruned the best candidate)
    for seed in range(6):
        r = np.random.default_rng(seed)
        x1 = np.cumsum(r.standard_normal((40, 2)), axis=0)
        grow = np.geomspace(1.0, 2.0**14, 40)[:, None]
        x = np.vstack([x1, x1[-1] + np.cumsum(r.standard_normal((40, 2)), axis=0) * grow])
        with pytest.warns(RoughRegimeWarning):
            st = sr.RoughStream([30.0, 40.0], convention="values")
            for row in x:
                st.push(row)
            off = sr.rough_pvar(x, [30.0, 40.0])
        np.testing.assert_allclose(st.level2, [v.level2 for v in off], rtol=1e-12, atol=0.0)


def test_stream_against_brute_force_and_extend_equals_push(rng):
    w = rng.standard_normal((9, 2, 2))
    x = sr.weight_path(w)
    one = sr.RoughStream(2.5)
    for layer in w:
        one.push(layer)
    chunked = sr.RoughStream(2.5, capacity=1)
    chunked.extend(w[:1])
    chunked.extend(w[1:5])
    chunked.extend(w[5:5])  # empty: nothing happens
    chunked.extend(w[5:])
    v2 = naive.pvar_level2_brute(x, 2.5)
    assert isinstance(one.level2, float)
    assert one.level2 == pytest.approx(v2 ** (2 / 2.5), rel=1e-10)
    assert chunked.level2 == pytest.approx(one.level2, rel=1e-12)
    assert chunked.level1 == pytest.approx(one.level1, rel=1e-12)
    assert chunked.level1 == pytest.approx(naive.pvar_brute(x, 2.5) ** (1 / 2.5), rel=1e-10)


@pytest.mark.parametrize("lift", ["iterated", "geometric"])
def test_running_signature_levels_1_and_2(rng, lift):
    w = rng.standard_normal((12, 3)) / 3
    st = sr.RoughStream(2.5, lift=lift, convention="increments", depth=2)
    assert st.signature is None
    for k in range(len(w)):
        st.push(w[k])
        x = np.vstack([np.zeros((1, 3)), np.cumsum(w[: k + 1], axis=0)])
        sig = st.signature
        assert sig.shape == (3 + 9,)
        np.testing.assert_allclose(sig[:3], x[-1] - x[0], atol=1e-13)
        np.testing.assert_allclose(sig[3:], naive.level2_brute(x, 0, k + 1, lift).ravel(), atol=1e-13)


def test_values_before_and_after_the_first_push():
    st = sr.RoughStream([2.0, 2.5])
    np.testing.assert_array_equal(st.level1, 0.0)
    np.testing.assert_array_equal(st.level2, 0.0)
    with pytest.raises(ValueError, match="no layer"):
        st.result()
    st.push([[3.0, 4.0]])  # increments: two points, one step, XX = 0 (iterated)
    np.testing.assert_allclose(st.level1, 5.0)
    np.testing.assert_array_equal(st.level2, 0.0)
    v = sr.RoughStream(2.5, convention="values")
    v.push(np.ones(3))  # values: one point
    assert (v.n_points, v.level1, v.level2) == (1, 0.0, 0.0)
    assert "RoughStream(p=2.5" in repr(v)


def test_level2_is_non_decreasing_along_the_stream(rng):
    st = sr.RoughStream(2.5)
    last = 0.0
    for layer in rng.standard_normal((60, 2)):
        st.push(layer)
        assert st.level2 >= last
        last = st.level2


def test_regime_warning():
    with pytest.warns(RoughRegimeWarning):
        st = sr.RoughStream([2.5, 3.2])
    st.push(np.ones((2, 2)))
    assert [r.regime for r in st.result()] == ["rough", "beyond"]


def test_bad_input(rng):
    with pytest.raises(ValueError, match="p"):
        sr.RoughStream(0.9)
    with pytest.raises(ValueError, match="lift"):
        sr.RoughStream(2.5, lift="ito")
    with pytest.raises(ValueError, match="convention"):
        sr.RoughStream(2.5, convention="cumulative")
    with pytest.raises(ValueError, match="depth"):
        sr.RoughStream(2.5, depth=0)
    with pytest.raises(ValueError, match="capacity"):
        sr.RoughStream(2.5, capacity=0)
    with pytest.raises(ValueError, match="memory_budget"):
        sr.RoughStream(2.5, memory_budget=0)
    st = sr.RoughStream(2.5)
    st.push(np.ones((2, 2)))
    with pytest.raises(ValueError, match="layer shape"):
        st.push(np.ones((2, 3)))
    with pytest.raises(ValueError, match="layer shape"):
        st.extend(np.ones((3, 4)))
    bad = np.ones((2, 2))
    bad[1, 0] = np.nan
    with pytest.raises(ValueError, match="NaN or inf"):
        st.push(bad)
    with pytest.raises(ValueError, match="NaN or inf"):
        st.extend(np.full((2, 2, 2), np.inf))
    with pytest.raises(TypeError, match="numeric"):
        st.push(np.array([["a", "b"], ["c", "d"]]))
    assert st.n_layers == 1  # nothing was appended by the failed calls
    wide = sr.RoughStream(2.5, capacity=2, memory_budget=10_000)
    wide.push(np.ones((3, 3)))  # D = 9: 8 * 2 * 81 bytes fit
    with pytest.raises(MemoryError, match="gram"):
        wide.extend(np.ones((20, 3, 3)))
