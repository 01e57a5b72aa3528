"""Invariances and inequalities of p-variation (math.md section 2), with hypothesis."""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays
from naive import pvar_brute

import streamrough as sr

RTOL = 1e-10  # the transformed path is a different float computation

# no magnitudes below 1e-6: the naive references square them and would underflow
coords = st.floats(-100, 100, allow_nan=False, allow_infinity=False).map(lambda v: round(v, 6))
ps = st.sampled_from([1.0, 1.02, 1.5, 2.0, 2.5, 3.0, 4.5])
norms = st.sampled_from(["euclidean", "l1", "linf"])


@st.composite
def paths(draw, min_n=2, max_n=40):
    n = draw(st.integers(min_n, max_n))
    d = draw(st.sampled_from([1, 2, 3]))
    x = draw(arrays(np.float64, (n, d), elements=coords))
    if draw(st.booleans()):  # integer-valued: ties
        x = np.round(x)
    return x


def close(a, b):
    return a == pytest.approx(b, rel=RTOL, abs=1e-9)


@given(paths(), ps, norms, arrays(np.float64, 3, elements=coords))
def test_translation_and_reversal(x, p, norm, shift):
    v = sr.pvar(x, p, power=True, norm=norm)
    assert close(sr.pvar(x + shift[: x.shape[1]], p, power=True, norm=norm), v)
    assert close(sr.pvar(x[::-1], p, power=True, norm=norm), v)


@given(paths(), ps, norms, st.data())
def test_repeating_a_point_and_inserting_on_a_segment(x, p, norm, data):
    v = sr.pvar(x, p, power=True, norm=norm)
    k = data.draw(st.integers(0, len(x) - 1))
    assert close(sr.pvar(np.insert(x, k, x[k], axis=0), p, power=True, norm=norm), v)
    k = data.draw(st.integers(0, len(x) - 2))
    t = data.draw(st.sampled_from([0.25, 0.5, 0.75]))  # exact in binary
    mid = x[k] + t * (x[k + 1] - x[k])
    assert close(sr.pvar(np.insert(x, k + 1, mid, axis=0), p, power=True, norm=norm), v)


@given(paths(), ps, norms, st.sampled_from([-3.0, -0.5, 0.125, 2.0, 1e-7, 1e9]))
def test_scaling(x, p, norm, c):
    v = sr.pvar(x, p, power=True, norm=norm)
    assert sr.pvar(c * x, p, power=True, norm=norm) == pytest.approx(abs(c) ** p * v, rel=RTOL, abs=1e-300)


@given(paths(min_n=3), ps, norms, st.data())
def test_super_additivity(x, p, norm, data):
    u = data.draw(st.integers(1, len(x) - 2))
    left = sr.pvar(x[: u + 1], p, power=True, norm=norm)
    right = sr.pvar(x[u:], p, power=True, norm=norm)
    assert left + right <= sr.pvar(x, p, power=True, norm=norm) * (1 + 1e-12) + 1e-12


@given(paths(), norms)
def test_monotone_in_p_and_bounds(x, norm):
    grid = np.array([1.0, 1.1, 1.5, 2.0, 2.7, 3.5, 6.0])
    norm_values = sr.pvar(x, grid, norm=norm)
    assert np.all(np.diff(norm_values) <= 1e-12 * (1 + norm_values[:-1]))
    powers = sr.pvar(x, grid, power=True, norm=norm)
    order = {"euclidean": None, "l1": 1, "linf": np.inf}[norm]
    steps = np.linalg.norm(np.diff(x, axis=0), ord=order, axis=1)
    jumps = np.linalg.norm(x[:, None] - x[None], ord=order, axis=-1)
    v1 = steps.sum()
    for p, w in zip(grid, powers):
        assert w >= jumps.max() ** p * (1 - 1e-12) - 1e-300
        assert w >= np.sum(steps**p) * (1 - 1e-12) - 1e-300
        assert w <= v1**p * (1 + 1e-12) + 1e-300


@given(paths(max_n=9), ps, norms)
def test_brute_force_every_method(x, p, norm):
    expected = pvar_brute(x, p, norm)
    for method in ("dp", "bnb") + (("1d",) if x.shape[1] == 1 else ()):
        assert sr.pvar(x, p, power=True, norm=norm, method=method) == pytest.approx(expected, rel=1e-12, abs=1e-300)
