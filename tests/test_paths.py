import numpy as np
import pytest

import streamrough as sr


def test_increments_convention_is_cumulative_sum_from_zero():
    w = np.arange(12.0).reshape(3, 2, 2)
    x = sr.weight_path(w, "increments")
    assert x.shape == (4, 4)
    np.testing.assert_array_equal(x[0], 0)
    np.testing.assert_allclose(np.diff(x, axis=0), w.reshape(3, 4))


def test_values_convention_is_the_weights():
    w = np.arange(12.0).reshape(3, 2, 2)
    np.testing.assert_array_equal(sr.weight_path(w, "values"), w.reshape(3, 4))


def test_bad_convention():
    with pytest.raises(ValueError, match="convention"):
        sr.weight_path(np.ones((2, 2)), "cumulative")


def test_brownian_weights_scaling():
    w = sr.brownian_weights(4096, 16, seed=1)
    assert w.shape == (4096, 16, 16)
    sq = np.sum(w.reshape(4096, -1) ** 2, axis=1)
    assert abs(sq.mean() * 4096 - 1) < 0.02  # E|W_k|_F^2 = 1/L
    np.testing.assert_array_equal(w, sr.brownian_weights(4096, 16, seed=1))
    with pytest.raises(ValueError, match="n_layers"):
        sr.brownian_weights(0)
    with pytest.raises(TypeError, match="n_layers"):
        sr.brownian_weights(2.0)


def test_one_reading_of_a_weight_array_everywhere():
    # pvar and rough_pvar read an (L, m, m) array the same way
    w = sr.brownian_weights(16, 3)
    level1 = sr.rough_pvar(w, 2.5).level1
    assert sr.pvar(w, 2.5) == pytest.approx(level1, rel=1e-12)
    assert sr.pvar(w, 2.5) == pytest.approx(sr.pvar(sr.weight_path(w, "increments"), 2.5), rel=1e-12)
    assert sr.pvar(w, 2.5, convention="values") == pytest.approx(
        sr.pvar(w.reshape(16, -1), 2.5), rel=1e-12
    )
    assert sr.pvar_running(w, 2.5)[-1] == pytest.approx(sr.pvar(w, 2.5, power=True), rel=1e-12)
    # the convention is recorded in every result
    assert sr.pvar(w, 2.5, return_partition=True).convention == "increments"
    assert sr.pvar(w, 2.5, return_partition=True, convention="values").convention == "values"
    assert sr.pvar(w.reshape(16, -1), 2.5, return_partition=True).convention == "values"
    assert sr.rough_pvar(w, 2.5).convention == "increments"
    assert sr.gram_rough_pvar(sr.layer_gram(w), 2.5).convention == "increments"
    assert sr.rough_distance(w, w, 2.5).convention == "increments"
    # an explicit convention reads a 2-axis array as weights too
    flat = w.reshape(16, -1)
    assert sr.pvar(flat, 2.5, convention="increments") == pytest.approx(sr.pvar(w, 2.5), rel=1e-12)
    with pytest.raises(ValueError, match="convention"):
        sr.pvar(w, 2.5, convention="cumulative")


def test_read_input():
    w = np.arange(12.0).reshape(3, 2, 2)
    path, weights, convention = sr.read_input(w)
    assert convention == "increments" and path.shape == (4, 4) and weights.shape == (3, 4)
    path, weights, convention = sr.read_input(w.reshape(3, 4))
    assert convention == "values" and weights is None and path.shape == (3, 4)
    with pytest.raises(ValueError, match="ragged"):
        sr.read_input([[1.0, 2.0], [3.0]])


def test_brownian_path():
    x = sr.brownian_path(2001, 3, seed=5)
    assert x.shape == (2001, 3) and not x[0].any()
    steps = np.diff(x, axis=0)
    assert abs(steps.var(axis=0).mean() * 2000 - 1) < 0.1  # N(0, 1/(n-1)) per coordinate
    np.testing.assert_array_equal(x, sr.brownian_path(2001, 3, seed=5))
    with pytest.raises(ValueError, match="n_points"):
        sr.brownian_path(1)
    with pytest.raises(TypeError, match="dim"):
        sr.brownian_path(5, 2.0)
