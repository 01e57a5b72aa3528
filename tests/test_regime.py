import os

import numpy as np
import pytest

import streamrough as sr
from streamrough import regimes as rg

JIT = os.environ.get("NUMBA_DISABLE_JIT", "0") != "1"
DEPTHS = (32, 128, 512) if JIT else (32, 64, 128)


def _unit(rng, m=4):
    a = rng.standard_normal((m, m))
    return a / np.linalg.norm(a)


def _drift(n, rng, noise=0.15):
    return _unit(rng) / n * np.ones((n, 1, 1)) + noise * sr.brownian_weights(n, 4, seed=n + 1)


def _smooth(n, rng):
    return 0.01 * np.sin(2 * np.pi * np.arange(n) / n)[:, None, None] * _unit(rng)


@pytest.mark.parametrize("n", DEPTHS)
def test_single_depth_verdicts_on_synthetic_paths(n, rng):
    assert sr.regime(sr.brownian_weights(n, 4, seed=n)).verdict == rg.ROUGH
    assert sr.regime(_drift(n, rng)).verdict == rg.DRIFT
    assert sr.regime(_smooth(n, rng)).verdict == rg.SMOOTH
    assert sr.regime(np.zeros((n, 4, 4))).verdict == rg.UNDETERMINED
    assert sr.regime(1e-20 * sr.brownian_weights(n, 4)).verdict == rg.UNDETERMINED
    assert sr.regime(sr.brownian_weights(4, 4)).verdict == rg.UNDETERMINED  # too few layers


def test_verdicts_over_several_depths_and_slopes(rng):
    rough = sr.regime({n: sr.brownian_weights(n, 4, seed=n) for n in DEPTHS})
    assert rough.verdict == rg.ROUGH
    assert rough.evidence["slope_verdict"] == rg.ROUGH
    assert 0.35 < rough.evidence["slopes"]["level1_increments[p=1]"]["slope"] < 0.65
    smooth = sr.regime({n: _smooth(n, rng) / n * 100 for n in DEPTHS})
    assert smooth.verdict == rg.SMOOTH
    # fixed drift per layer, Brownian noise: rough when shallow, drift-dominated when deep
    mixed = {n: _unit(rng) * 0.02 * np.ones((n, 1, 1)) + sr.brownian_weights(n, 4, seed=n) for n in DEPTHS}
    res = sr.regime(mixed)
    assert res.evidence["slope_verdict"] == rg.DRIFT
    assert res.verdict == rg.DRIFT


def test_init_splits_off_the_learned_part(rng):
    n = DEPTHS[1]
    w0 = sr.brownian_weights(n, 4, seed=3)
    learned = _unit(rng) * (6.0 / n) * np.ones((n, 1, 1))
    res = sr.regime(w0 + learned, init=w0)
    s = res.evidence["per_depth"][n]
    assert res.verdict == rg.DRIFT
    assert s["learned_length"] == pytest.approx(6.0)
    assert s["learned_straightness"] == pytest.approx(1.0)
    assert s["fluct_size"] == pytest.approx(np.linalg.norm(w0), rel=1e-12)  # the trend of a constant is exact
    small = sr.regime(w0 + learned / 20, init=w0)
    assert small.verdict == rg.ROUGH


def test_depth_scaling_statistics_against_direct_formulas(rng):
    ws = {n: rng.standard_normal((n, 2, 3)) for n in (10, 20, 40)}
    s = sr.depth_scaling(ws, p=[1.0, 2.5])
    for i, n in enumerate((10, 20, 40)):
        t = ws[n].reshape(n, -1)
        assert s.table["max_norm"][i] == pytest.approx(np.linalg.norm(t, axis=1).max())
        assert s.table["max_increment"][i] == pytest.approx(np.linalg.norm(np.diff(t, axis=0), axis=1).max())
        assert s.table["root_sum_squares"][i] == pytest.approx(np.linalg.norm(t))
        qv = (np.diff(t, axis=0) ** 2).sum()
        assert s.table["quadratic_variation"][i] == pytest.approx(qv)
        assert s.table["h1"][i] == pytest.approx(n * qv)
        assert s.table["sum_norm"][i] == pytest.approx(np.linalg.norm(t.sum(axis=0)))
        cum = np.cumsum(t, axis=0)
        w = max(1, round(0.1 * n)) // 2
        dev = max(np.linalg.norm(cum[k] - cum[max(0, k - w):k + w + 1].mean(axis=0)) for k in range(n))
        assert s.table["cumsum_deviation"][i] == pytest.approx(dev)
        assert s.table["level1_values[p=2.5]"][i] == pytest.approx(sr.pvar(t, 2.5))
        r = sr.rough_pvar(t, 2.5, convention="increments")
        assert s.table["level2_increments[p=2.5]"][i] == pytest.approx(r.level2)
    fit = s.fits["root_sum_squares"]
    x, y = np.log([10, 20, 40]), np.log(s.table["root_sum_squares"])
    assert fit["slope"] == pytest.approx(np.polyfit(x, y, 1)[0])
    assert 0.9 < fit["r2"] <= 1.0
    assert s.beta == pytest.approx(-s.fits["max_norm"]["slope"])


def test_loglog_fit_exact_power_law():
    f = rg._loglog_fit([1, 2, 4, 8], [3, 3 * 2 ** 0.5, 6, 3 * 8 ** 0.5])
    assert f["slope"] == pytest.approx(0.5) and f["r2"] == pytest.approx(1.0) and f["n"] == 4
    assert np.isnan(rg._loglog_fit([1, 2], [1, 2])["r2"])


def test_result_tables_and_errors(rng):
    res = sr.regime({16: rng.standard_normal((16, 2, 2)), 32: rng.standard_normal((32, 2, 2))})
    d = res.to_dict()
    assert d["verdict"] in rg.VERDICTS and "reason" in d["evidence"]
    pytest.importorskip("pandas")
    df = res.to_pandas()
    assert list(df.index) == [16, 32] and "whiteness" in df.columns and "max_norm" in df.columns
    with pytest.raises(ValueError, match="layers, not"):
        sr.regime({16: np.ones((8, 2, 2))})
    with pytest.raises(ValueError, match="same layer shape"):
        sr.regime({8: np.ones((8, 2, 2)), 9: np.ones((9, 3, 3))})
    with pytest.raises(ValueError, match="init must have"):
        sr.regime(np.ones((8, 2, 2)), init=np.ones((8, 3, 3)))
    with pytest.raises(ValueError, match="trend_degree"):
        sr.regime(np.ones((8, 2, 2)), trend_degree=-1)
