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
    with pytest.raises(ValueError, match="depth"):
        sr.brownian_weights(0)
