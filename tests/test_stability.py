import math
import os

import numpy as np
import pytest

import streamrough as sr

JIT = os.environ.get("NUMBA_DISABLE_JIT", "0") != "1"
N_NETWORKS = 3000 if JIT else 300
ACTS = ["tanh", "sigmoid", "softplus", "relu"]


def test_gronwall_bounds_hold_on_thousands_of_random_networks():
    """The rigorous bounds: |h_L - h~_L| <= prod(1 + c a_k)|h_0 - h~_0| and ||J||_op <= prod."""
    rng = np.random.default_rng(2024)
    worst = 0.0
    for i in range(N_NETWORKS):
        form = ("bft", "ccrx")[i % 2]
        activation = ACTS[(i // 2) % 4]
        n, d = int(rng.integers(1, 9)), int(rng.integers(1, 5))
        scale = 10.0 ** rng.uniform(-2, 0.7)
        w = rng.standard_normal((n, d, d)) * scale
        bias = rng.standard_normal((n, d)) if rng.random() < 0.5 else None
        delta = rng.standard_normal(n) if form == "ccrx" else None
        x = rng.standard_normal((2, d)) * 10.0 ** rng.uniform(-3, 1)
        if rng.random() < 0.3:  # nearby inputs: the local, tightest case
            x[1] = x[0] + 1e-4 * rng.standard_normal(d)
        kw = dict(form=form, activation=activation, bias=bias, delta=delta)
        res = sr.stability(w, x, p=None, **kw)
        bound = 10.0 ** res.gronwall_log10_product
        assert bound <= 10.0 ** res.gronwall_log10_exp * (1 + 1e-12)
        out = sr.forward(w, x, **kw)
        lhs = np.linalg.norm(out[0] - out[1])
        rhs = bound * np.linalg.norm(x[0] - x[1])
        assert lhs <= rhs * (1 + 1e-9) + 1e-300, (i, lhs, rhs)
        assert (res.lipschitz <= bound * (1 + 1e-9)).all(), (i, res.lipschitz, bound)
        worst = max(worst, lhs / rhs, res.lipschitz.max() / bound)
    assert worst > 0.5  # the bound is attained closely somewhere (not vacuous)


def test_factors_are_spectral_norms_and_ccrx_scales_by_delta(rng):
    w = rng.standard_normal((5, 3, 3))
    r = sr.stability(w, p=None)
    np.testing.assert_allclose(r.layer_factors, [np.linalg.svd(m, compute_uv=False)[0] for m in w])
    delta = np.array([0.5, -2.0, 1.0, 0.0, 3.0])
    rc = sr.stability(w, p=None, form="ccrx", delta=delta)
    np.testing.assert_allclose(rc.layer_factors, np.abs(delta) * r.layer_factors)
    assert rc.gronwall_log10_product == pytest.approx(np.log10(np.prod(1 + rc.layer_factors)))
    assert r.one_variation == pytest.approx(np.linalg.norm(w.reshape(5, -1), axis=1).sum())
    s = sr.stability(w, p=None, activation="sigmoid")
    assert s.gronwall_log10_exp == pytest.approx(0.25 * r.layer_factors.sum() / math.log(10))


def test_rough_functionals_match_rough_pvar_and_rho(rng):
    w = rng.standard_normal((12, 2, 2)) / np.sqrt(48)
    v = rng.standard_normal((12, 2, 2)) / np.sqrt(48)
    x = rng.standard_normal((5, 2))
    r = sr.stability(w, x, p=[2.2, 2.5], other=v)
    ref = [sr.rough_pvar(w, q, convention="increments") for q in (2.2, 2.5)]
    np.testing.assert_allclose(r.norm, [q.norm for q in ref])
    np.testing.assert_allclose(r.omega, [q.omega for q in ref])
    rho = [sr.rough_distance(w, v, q, convention="increments").rho for q in (2.2, 2.5)]
    np.testing.assert_allclose(r.rho, rho)
    np.testing.assert_allclose(r.lipschitz, sr.lipschitz(w, x))
    np.testing.assert_allclose(r.output_change, sr.output_change(w, v, x))
    assert r.lipschitz_median == pytest.approx(np.median(r.lipschitz))


def test_bias_is_part_of_the_bft_driving_path(rng):
    w = rng.standard_normal((6, 2, 2)) * 0.3
    b = rng.standard_normal((6, 2)) * 0.3
    r = sr.stability(w, p=2.5, bias=b)
    aug = np.concatenate([w.reshape(6, -1), b], axis=1)
    assert r.norm[0] == pytest.approx(sr.rough_pvar(aug, 2.5, convention="increments").norm)
    assert r.one_variation == pytest.approx(np.linalg.norm(aug, axis=1).sum())


def test_every_item_is_labelled_and_nothing_functional_is_called_rigorous(rng):
    w = rng.standard_normal((8, 2, 2)) * 0.2
    r = sr.stability(w, rng.standard_normal((3, 2)), p=[2.5], other=w * 0.9)
    labels = {i["name"]: i["label"] for i in r.items()}
    assert labels["gronwall_log10_product"] == "rigorous"
    assert labels["norm[p=2.5]"] == "functional (constants unknown)"
    assert labels["rho[p=2.5]"] == "functional (constants unknown)"
    assert labels["lipschitz_max"] == "empirical"
    rigorous = {n for n, lab in labels.items() if lab == "rigorous"}
    assert rigorous == {"gronwall_log10_product", "gronwall_log10_exp", "sum_factors"}
    d = r.to_dict()
    assert d["smooth_theory"] is True and isinstance(d["layer_factors"], list)
    pd = pytest.importorskip("pandas")
    assert list(r.to_pandas().columns) == ["name", "value", "label", "statement"]
    assert isinstance(r.to_pandas(), pd.DataFrame)


def test_relu_and_softplus_are_flagged_outside_the_smooth_theory(rng):
    w = rng.standard_normal((4, 2, 2))
    assert not sr.stability(w, p=None, activation="relu").smooth_theory
    assert not sr.stability(w, p=None, activation="softplus").smooth_theory
    assert math.isinf(sr.stability(w, p=None, activation="relu").nu)
    assert sr.stability(w, p=None, activation="tanh").nu == pytest.approx(2.0)  # sup |tanh'''| = 2 > sqrt(2)


def test_brownian_story_gronwall_grows_rough_norm_and_lipschitz_stay_bounded():
    sizes = (64, 1024) if JIT else (16, 128)
    x = np.random.default_rng(0).standard_normal((4, 4))
    res = [sr.stability(sr.brownian_weights(n, 4, seed=1), x, p=2.5) for n in sizes]
    assert res[1].gronwall_log10_product > 2 * res[0].gronwall_log10_product
    assert res[1].one_variation > 2 * res[0].one_variation
    assert res[1].norm[0] < 2 * res[0].norm[0]
    assert res[1].lipschitz_max < 3 * res[0].lipschitz_max


def test_errors(rng):
    w = rng.standard_normal((4, 2, 2))
    with pytest.raises(ValueError, match="other must have the shape"):
        sr.stability(w, p=None, other=w[:2])
    with pytest.raises(ValueError, match="p"):
        sr.stability(w, p=0.5)
