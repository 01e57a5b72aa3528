"""PVarStream equals the offline computation (and tests/naive.py) after every append."""

import math
import os

import numpy as np
import pytest
from naive import partition_sum, pvar_dp

import streamrough as sr

RTOL = 1e-12
JIT = os.environ.get("NUMBA_DISABLE_JIT", "0") != "1"  # smaller sizes when kernels run as Python


@pytest.mark.parametrize("norm", ["euclidean", "l1", "linf"])
def test_push_equals_dp_prefix_after_every_point(norm):
    rng = np.random.default_rng(1)
    x = np.cumsum(rng.standard_normal((90, 3)), axis=0)
    ps = [1.0, 1.3, 2.0, 2.5, 3.0]
    refs = np.array([pvar_dp(x, p, norm)[0] for p in ps])
    s = sr.PVarStream(ps, norm=norm)
    for j in range(len(x)):
        s.push(x[j])
        assert s.n_points == j + 1
        np.testing.assert_allclose(s.level1_power, refs[:, j], rtol=RTOL, atol=0)
        np.testing.assert_allclose(s.level1, refs[:, j] ** (1 / np.array(ps)), rtol=RTOL, atol=0)
        for p, part, w in zip(ps, s.partition1, s.level1_power):
            assert part[0] == 0 and part[-1] == j
            assert partition_sum(x[: j + 1], p, part, norm) == pytest.approx(w, rel=RTOL, abs=1e-300)


def test_push_equals_offline_on_longer_walk_with_ties():
    rng = np.random.default_rng(2)
    x = np.cumsum(rng.integers(-1, 2, size=(700 if JIT else 150, 2)), axis=0)  # integer lattice: many ties
    s = sr.PVarStream(2.5, dim=2)
    for j in range(len(x)):
        s.push(x[j])
        if j % 37 == 0 or j == len(x) - 1:
            assert s.level1_power == pytest.approx(sr.pvar(x[: j + 1], 2.5, power=True), rel=RTOL)
            assert partition_sum(x[: j + 1], 2.5, s.partition1) == pytest.approx(s.level1_power, rel=RTOL)
    assert s.distance_evaluations > 0


def test_extend_in_random_pieces_equals_offline():
    rng = np.random.default_rng(3)
    x = sr.brownian_path(1500 if JIT else 300, 4, seed=3)
    ps = [1.0, 1.7, 2.2, 3.0]
    running = sr.pvar_running(x, ps)
    s = sr.PVarStream(ps)
    j = 0
    while j < len(x):
        m = int(rng.integers(1, 200))
        s.extend(x[j : j + m])
        j = min(j + m, len(x))
        np.testing.assert_allclose(s.level1_power, running[:, j - 1], rtol=RTOL)
    assert s.n_points == len(x)
    np.testing.assert_allclose(s.level1, sr.pvar(x, ps), rtol=RTOL)


def test_one_dimensional_scalar_points_and_matrix_points():
    s = sr.PVarStream(2.0)
    for v in [0.0, 1.0, 0.0, 1.0]:
        s.push(v)  # a bare number is a 1-d point
    assert s.level1_power == pytest.approx(3.0) and s.partition1.tolist() == [0, 1, 2, 3]
    rng = np.random.default_rng(4)
    mats = rng.standard_normal((30, 2, 3))
    t = sr.PVarStream([2.0, 3.0])
    for m in mats:
        t.push(m)
    np.testing.assert_allclose(t.level1_power, sr.pvar(mats, [2.0, 3.0], power=True, convention="values"), rtol=RTOL)
    assert isinstance(s.level1, float) and isinstance(t.level1, np.ndarray)
    assert isinstance(t.partition1, tuple) and s.p == 2.0 and t.p.tolist() == [2.0, 3.0]


def test_first_point_and_constant_start():
    s = sr.PVarStream(3.0, dim=2)
    s.push([5.0, 5.0])
    assert s.level1 == 0.0 and s.level1_power == 0.0 and s.partition1.tolist() == [0]
    s.push([5.0, 5.0])  # no displacement yet: no scale chosen
    assert s.level1 == 0.0
    s.push([5.0, 8.0])
    assert s.level1_power == pytest.approx(27.0, rel=RTOL)


def test_growth_of_scale_rescales_without_overflow():
    # tiny first steps, then a path a factor 1e200 larger, with a large p
    rng = np.random.default_rng(5)
    x = np.vstack([np.cumsum(rng.standard_normal((40, 2)), 0) * 1e-100, np.cumsum(rng.standard_normal((60, 2)), 0) * 1e100])
    for p in (2.0, 60.0):
        s = sr.PVarStream(p)
        for j, point in enumerate(x):
            s.push(point)
            if j in (10, 39, 40, 41, 99):
                expected = sr.pvar(x[: j + 1], p)
                assert math.isfinite(s.level1) and s.level1 == pytest.approx(expected, rel=1e-11)


def test_grows_past_initial_capacity_and_matches_offline_huge_values():
    x = sr.brownian_path(5000 if JIT else 400, 2, seed=6) * 1e250
    s = sr.PVarStream([1.5, 4.0])
    s.extend(x[:17])
    for point in x[17:300]:
        s.push(point)
    s.extend(x[300:])
    np.testing.assert_allclose(s.level1, sr.pvar(x, [1.5, 4.0]), rtol=RTOL)


def test_bad_input():
    with pytest.raises(ValueError, match="p"):
        sr.PVarStream(0.5)
    with pytest.raises(ValueError, match="p"):
        sr.PVarStream([2.0, np.nan])
    with pytest.raises(ValueError, match="norm"):
        sr.PVarStream(2.0, norm="l3")
    with pytest.raises(ValueError, match="dim"):
        sr.PVarStream(2.0, dim=0)
    s = sr.PVarStream(2.0, dim=3)
    with pytest.raises(ValueError, match="empty"):
        s.level1
    with pytest.raises(ValueError, match="dimension"):
        s.push([1.0, 2.0])
    s.push([1.0, 2.0, 3.0])
    with pytest.raises(ValueError, match="NaN"):
        s.push([1.0, np.nan, 3.0])
    with pytest.raises(ValueError, match="points"):
        s.extend([[1.0, np.inf, 3.0]])
    with pytest.raises(ValueError, match="dimension"):
        s.extend(np.zeros((2, 4)))
    assert s.n_points == 1  # failed appends leave the state unchanged
    s.push([2.0, 2.0, 3.0])
    assert s.level1_power == pytest.approx(1.0)
    assert "PVarStream" in repr(s)
