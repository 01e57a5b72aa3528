"""Which regime is a network's weight path in? Depth scaling and a verdict from weights alone.

Three regimes are seen in trained residual networks (math.md 6-8):

``"Brownian-like (rough)"``
    Layers behave like independent increments of size ~ L^(-1/2): the 1-variation of the
    increments path grows like sqrt(L), the p-variation for p > 2 stays bounded.
``"drift-dominated (smooth plus noise)"``
    A near-constant (smoothly varying) matrix per layer plus white noise: the path is a
    near-straight line plus a Brownian part, and its length is mostly the line's; every
    p-variation grows with depth when the drift per layer does not shrink like 1/L.
``"smooth (bounded variation)"``
    Adjacent layers nearly equal: the path has bounded variation, nothing white remains.

The split: ``drift`` is a polynomial trend (degree `trend_degree`, least squares in the layer
index) of the learned part ``W - W_init`` when the initial weights are known, of ``W``
otherwise; the ``fluctuation`` is ``W - drift``. Sizes (Frobenius norms, layers T_k):

    drift_length   = sum_k |drift_k|            (1-variation of the drift's increments path)
    fluct_size     = (sum_k |fluct_k|^2)^(1/2)  (root quadratic variation: the rough scale)
    fluct_length   = sum_k |fluct_k|
    whiteness      = sum_k |fluct_{k+1} - fluct_k|^2 / (2 sum_k |fluct_k|^2)
                     (about 1 for independent layers, about 0 for a smooth sequence)

For white noise alone the fitted trend has ``drift_length <= sqrt(degree + 1) fluct_size``
(a projection onto degree + 1 functions), so the single-depth rule is, in order:
undetermined if fewer than `min_layers` layers or ``sum_k |T_k| <= atol``; smooth if
``whiteness < 0.5`` or ``fluct_length < 0.5 drift_length``; drift-dominated if
``drift_length > 4 fluct_size``; rough otherwise. With several depths the log-log slopes of
the increments-path 1-variation and 2.5-variation against L decide (the 2.5-variation growing:
drift-dominated; the 1-variation bounded: smooth; growing like sqrt(L): rough), and the
single-depth rule only when the slopes fit none of these.
"""

from __future__ import annotations

import dataclasses
import math

import numpy as np

from ._validation import as_p_values, as_path
from .paths import CONVENTIONS, weight_path
from .stability_report import _per_p

__all__ = ["RegimeResult", "DepthScalingResult", "regime", "depth_scaling"]

ROUGH = "Brownian-like (rough)"
DRIFT = "drift-dominated (smooth plus noise)"
SMOOTH = "smooth (bounded variation)"
UNDETERMINED = "undetermined"
VERDICTS = (ROUGH, DRIFT, SMOOTH, UNDETERMINED)

#: depth-scaling statistics of Cohen-Cont-Rossier-Xu (values convention), math.md 8
SCALING_STATS = ("max_norm", "max_increment", "root_sum_squares", "quadratic_variation", "h1",
                 "sum_norm", "cumsum_deviation")
WHITENESS_MIN = 0.5
LENGTH_SHARE_MIN = 0.5
DRIFT_RATIO = 4.0
SLOPE_P = 2.5


def _as_mapping(paths, name):
    """{n_layers: (L, D) float64} from one weight sequence or a mapping {depth: weights}."""
    if isinstance(paths, dict):
        if not paths:
            raise ValueError(f"{name} is an empty mapping")
        items = [(int(k), v) for k, v in paths.items()]
    else:
        items = [(None, paths)]
    out = {}
    for key, w in items:
        arr = as_path(w, name if key is None else f"{name}[{key}]")
        if key is not None and arr.shape[0] != key:
            raise ValueError(f"{name}[{key}] has {arr.shape[0]} layers, not {key}")
        out[arr.shape[0]] = arr
    dims = {a.shape[1] for a in out.values()}
    if len(dims) > 1:
        raise ValueError(f"{name}: every depth must have the same layer shape, got sizes {sorted(dims)}")
    return dict(sorted(out.items()))


def _loglog_fit(depths, values):
    """(slope, intercept, r2, n) of log(values) against log(depths) over positive finite values."""
    x, y = np.asarray(depths, float), np.asarray(values, float)
    ok = np.isfinite(y) & (y > 0)
    n = int(ok.sum())
    if n < 2:
        return dict(slope=math.nan, intercept=math.nan, r2=math.nan, n=n)
    lx, ly = np.log(x[ok]), np.log(y[ok])
    slope, intercept = np.polyfit(lx, ly, 1)
    resid = ly - (slope * lx + intercept)
    ss = float(((ly - ly.mean()) ** 2).sum())
    r2 = 1.0 - float((resid ** 2).sum()) / ss if n > 2 and ss > 0 else math.nan
    return dict(slope=float(slope), intercept=float(intercept), r2=r2, n=n)


def _scaling_stats(w):
    """The statistics of math.md 8 for one network, layers w (L, D) in the values convention."""
    n = w.shape[0]
    norms = np.linalg.norm(w, axis=1)
    diffs = np.linalg.norm(np.diff(w, axis=0), axis=1) if n > 1 else np.zeros(1)
    qv = float((diffs ** 2).sum())
    cum = np.cumsum(w, axis=0)
    half = max(1, int(round(0.1 * n))) // 2
    csum = np.vstack([np.zeros((1, w.shape[1])), np.cumsum(cum, axis=0)])
    lo = np.clip(np.arange(n) - half, 0, n)
    hi = np.clip(np.arange(n) + half + 1, 0, n)
    local_mean = (csum[hi] - csum[lo]) / (hi - lo)[:, None]
    return dict(
        max_norm=float(norms.max()), max_increment=float(diffs.max()),
        root_sum_squares=float(np.sqrt((norms ** 2).sum())), quadratic_variation=qv, h1=n * qv,
        sum_norm=float(np.linalg.norm(w.sum(axis=0))),
        cumsum_deviation=float(np.linalg.norm(cum - local_mean, axis=1).max()),
    )



def _pvar_columns(w, ps, level2):
    """p-variation of each level and convention: {"level1_increments[p=..]": value, ...}."""
    from .rough import rough_pvar
    from .variation import pvar

    cols = {}
    for conv in CONVENTIONS:
        if level2:
            res = rough_pvar(w, list(ps), convention=conv)
            lv1, lv2 = _per_p(res, "level1"), _per_p(res, "level2")
        else:
            lv1 = np.atleast_1d(pvar(weight_path(w, conv), list(ps)))
            lv2 = None
        for i, p in enumerate(ps):
            cols[f"level1_{conv}[p={p:g}]"] = float(lv1[i])
            if lv2 is not None:
                cols[f"level2_{conv}[p={p:g}]"] = float(lv2[i])
    return cols


@dataclasses.dataclass(frozen=True)
class DepthScalingResult:
    """Statistics per depth and their log-log fits against the number of layers.

    Attributes
    ----------
    n_layers : ndarray (K,)
        The depths, increasing.
    table : dict of str -> ndarray (K,)
        The statistics of math.md 8 (values convention: ``max_norm`` = max_k |T_k|,
        ``max_increment`` = max_k |T_{k+1} - T_k|, ``root_sum_squares``,
        ``quadratic_variation`` = sum_k |T_{k+1} - T_k|^2, ``h1`` = L times that (the
        H1-type norm of t -> T_{tL}), ``sum_norm`` = |sum_k T_k|, ``cumsum_deviation``) and
        p-variations ``level{1,2}_{convention}[p=..]``.
    fits : dict of str -> dict
        Per statistic: ``slope``, ``intercept``, ``r2`` (nan with fewer than 3 depths), ``n``.
    beta : float
        Minus the slope of ``max_norm`` (weights scale like L^-beta).
    """

    n_layers: np.ndarray
    table: dict
    fits: dict
    beta: float

    def to_dict(self):
        return dict(n_layers=self.n_layers.tolist(), table={k: v.tolist() for k, v in self.table.items()},
                    fits=self.fits, beta=self.beta)

    def to_pandas(self):
        """One row per depth, one column per statistic."""
        import pandas as pd

        return pd.DataFrame(self.table, index=pd.Index(self.n_layers, name="n_layers"))


def _depth_scaling(mapping, ps, level2):
    depths = np.array(sorted(mapping))
    rows = []
    for n in depths:
        row = _scaling_stats(mapping[n])
        row.update(_pvar_columns(mapping[n], ps, level2))
        rows.append(row)
    table = {k: np.array([r[k] for r in rows]) for k in rows[0]}
    fits = {k: _loglog_fit(depths, v) for k, v in table.items()}
    return DepthScalingResult(n_layers=depths, table=table, fits=fits, beta=-fits["max_norm"]["slope"])


def depth_scaling(paths, p=(1.0, 2.5), *, level2=True):
    r"""Depth-scaling statistics of Cohen et al. and p-variations against depth, with log-log fits.

    For each network (layers ``T_k``, values convention) ``max_k |T_k|``,
    ``max_k |T_{k+1} - T_k|``, ``(sum_k |T_k|^2)^(1/2)``, ``sum_k |T_{k+1} - T_k|^2`` (and ``L``
    times it, an H1-type norm), ``|sum_k T_k|``, the largest deviation of the cumulative sum
    from its local mean (window 10% of L), and the p-variation of each level and convention;
    then ``log stat = slope log L + intercept`` by least squares, with R^2.

    Parameters
    ----------
    paths : array_like (L, ...) or dict {n_layers: array_like}
        Weights of one network or of the same architecture at several depths.
    p : float or sequence of float
    level2 : bool
        Also the level-2 p-variation (costs a rough-path computation per depth and convention).

    Returns
    -------
    DepthScalingResult

    Examples
    --------
    >>> import streamrough as sr
    >>> ws = {n: sr.brownian_weights(n, 3, seed=n) for n in (16, 64, 256)}
    >>> s = sr.depth_scaling(ws, p=[1.0], level2=False)
    >>> round(s.fits["level1_increments[p=1]"]["slope"], 1)   # 1-variation ~ sqrt(L)
    0.5
    """
    ps = np.atleast_1d(as_p_values(p)[0])
    return _depth_scaling(_as_mapping(paths, "paths"), ps, level2)


def _trend(w, degree):
    """Least-squares polynomial trend of each entry in the layer index (Legendre basis on [-1, 1])."""
    n = w.shape[0]
    deg = min(degree, n - 1)
    t = np.linspace(-1.0, 1.0, n) if n > 1 else np.zeros(1)
    basis = np.polynomial.legendre.legvander(t, deg)
    coef, *_ = np.linalg.lstsq(basis, w, rcond=None)
    return basis @ coef


def _split(w, w0, degree):
    learned = w if w0 is None else w - w0
    drift = _trend(learned, degree)
    fluct = w - drift
    fn = np.linalg.norm(fluct, axis=1)
    fluct_sq = float((fn ** 2).sum())
    dfl = np.diff(fluct, axis=0)
    out = dict(
        drift_length=float(np.linalg.norm(drift, axis=1).sum()),
        drift_displacement=float(np.linalg.norm(drift.sum(axis=0))),
        fluct_size=math.sqrt(fluct_sq), fluct_length=float(fn.sum()),
        whiteness=float((dfl ** 2).sum() / (2 * fluct_sq)) if fluct_sq > 0 else 0.0,
        one_variation=float(np.linalg.norm(w, axis=1).sum()),
    )
    out["drift_ratio"] = out["drift_length"] / out["fluct_size"] if fluct_sq > 0 else math.inf
    if w0 is not None:
        ln = np.linalg.norm(learned, axis=1).sum()
        out["learned_length"] = float(ln)
        out["learned_straightness"] = float(np.linalg.norm(learned.sum(axis=0)) / ln) if ln > 0 else math.nan
    return out


def _single_verdict(s, n, min_layers, atol):
    if n < min_layers:
        return UNDETERMINED, f"{n} layers < min_layers = {min_layers}: too short to tell"
    if not s["one_variation"] > atol:
        return UNDETERMINED, f"sum_k |W_k| = {s['one_variation']:.3g} <= atol = {atol:g}: the residual branches vanish"
    if s["whiteness"] < WHITENESS_MIN:
        return SMOOTH, (f"whiteness {s['whiteness']:.3g} < {WHITENESS_MIN}: what is left after the trend varies "
                        "smoothly between adjacent layers")
    if s["fluct_length"] < LENGTH_SHARE_MIN * s["drift_length"]:
        return SMOOTH, (f"fluctuation length {s['fluct_length']:.3g} < {LENGTH_SHARE_MIN} x drift length "
                        f"{s['drift_length']:.3g}: the path's length is the trend's")
    if s["drift_ratio"] > DRIFT_RATIO:
        return DRIFT, (f"drift length {s['drift_length']:.3g} > {DRIFT_RATIO} x fluctuation size "
                       f"{s['fluct_size']:.3g} (white noise alone gives at most about sqrt(degree + 1))")
    return ROUGH, (f"white fluctuation (whiteness {s['whiteness']:.3g}) of size {s['fluct_size']:.3g} "
                   f"with drift length only {s['drift_ratio']:.3g} x that")


def _slope_verdict(scaling):
    f1 = scaling.fits["level1_increments[p=1]"]
    fp = scaling.fits[f"level1_increments[p={SLOPE_P:g}]"]
    s1, sp = f1["slope"], fp["slope"]
    text = f"slopes in log L: 1-variation {s1:.3g} (R^2 {f1['r2']:.3g}), {SLOPE_P:g}-variation {sp:.3g} (R^2 {fp['r2']:.3g})"
    if not (np.isfinite(s1) and np.isfinite(sp)):
        return UNDETERMINED, text
    if sp > 0.25:
        return DRIFT, text + f": the {SLOPE_P:g}-variation grows with depth"
    if s1 < 0.2:
        return SMOOTH, text + ": the 1-variation stays bounded"
    if 0.3 <= s1 <= 0.7:
        return ROUGH, text + f": 1-variation ~ sqrt(L), {SLOPE_P:g}-variation bounded"
    return UNDETERMINED, text


@dataclasses.dataclass(frozen=True)
class RegimeResult:
    """The regime verdict with the numbers behind it.

    Attributes
    ----------
    verdict : str
        One of ``"Brownian-like (rough)"``, ``"drift-dominated (smooth plus noise)"``,
        ``"smooth (bounded variation)"``, ``"undetermined"``.
    evidence : dict
        ``reason`` (the rule that decided), ``per_depth`` ({n_layers: split sizes, the
        single-depth verdict and its reason}), and with several depths ``slope_verdict``,
        ``slope_reason`` and ``slopes``.
    scaling : DepthScalingResult
        Statistics per depth and their fits.
    """

    verdict: str
    evidence: dict
    scaling: DepthScalingResult

    def to_dict(self):
        return dict(verdict=self.verdict, evidence=self.evidence, scaling=self.scaling.to_dict())

    def to_pandas(self):
        """One row per depth: split sizes, single-depth verdict and the scaling statistics."""
        import pandas as pd

        per = pd.DataFrame.from_dict(self.evidence["per_depth"], orient="index")
        per.index.name = "n_layers"
        return per.join(self.scaling.to_pandas())


def regime(paths, init=None, *, p=(1.0, SLOPE_P), trend_degree=2, level2=False, min_layers=8, atol=1e-12):
    r"""Classify a weight path as rough, drift-dominated or smooth, with the evidence.

    Split each network's layers into a drift (a degree-`trend_degree` polynomial trend in the
    layer index of ``W - W_init`` when `init` is given, of ``W`` otherwise) and a fluctuation
    ``W - drift``, measure both, and decide (module docstring):

    .. math::

        \text{whiteness} = \frac{\sum_k |F_{k+1} - F_k|^2}{2 \sum_k |F_k|^2}, \qquad
        \text{drift ratio} = \frac{\sum_k |D_k|}{(\sum_k |F_k|^2)^{1/2}}

    With several depths, also the log-log slopes in L of the increments-path 1-variation
    (rough ~ 1/2, smooth ~ 0) and 2.5-variation (drift > 0); they decide unless they fit
    none of these patterns.  Pass the driving layers: ``W_k`` for the bft form,
    ``delta_k A_k`` for the ccrx form (the slopes depend on the scale).

    Parameters
    ----------
    paths : array_like (L, ...) or dict {n_layers: array_like}
    init : same structure as `paths`, optional
        Initial weights (same depths and shapes).
    p : sequence of float
        p-variations reported per depth (1 and 2.5 are always included).
    trend_degree : int
    level2 : bool
        Also level-2 p-variations in the depth table (slower).
    min_layers : int
        Fewer layers: undetermined.
    atol : float
        ``sum_k |W_k| <= atol``: undetermined (no residual branch to speak of).

    Returns
    -------
    RegimeResult

    Examples
    --------
    >>> import streamrough as sr
    >>> sr.regime(sr.brownian_weights(256, 4, seed=0)).verdict
    'Brownian-like (rough)'
    """
    mapping = _as_mapping(paths, "paths")
    init_map = None
    if init is not None:
        init_map = _as_mapping(init, "init")
        if sorted(init_map) != sorted(mapping) or any(init_map[n].shape != mapping[n].shape for n in mapping):
            raise ValueError("init must have the depths and layer shapes of paths")
    if int(trend_degree) != trend_degree or trend_degree < 0:
        raise ValueError(f"trend_degree must be a non-negative integer, got {trend_degree!r}")
    ps = np.unique(np.concatenate([np.atleast_1d(as_p_values(p)[0]), [1.0, SLOPE_P]]))
    per_depth = {}
    for n, w in mapping.items():
        s = _split(w, None if init_map is None else init_map[n], int(trend_degree))
        s["verdict"], s["reason"] = _single_verdict(s, n, min_layers, atol)
        per_depth[n] = s
    scaling = _depth_scaling(mapping, ps, level2)
    evidence = dict(per_depth=per_depth, trend_degree=int(trend_degree), init_given=init is not None)
    deepest = per_depth[max(per_depth)]
    verdicts = {s["verdict"] for s in per_depth.values()}
    if len(mapping) >= 3:
        sv, sr_ = _slope_verdict(scaling)
        evidence.update(slope_verdict=sv, slope_reason=sr_, slopes={
            k: scaling.fits[k] for k in ("level1_increments[p=1]", f"level1_increments[p={SLOPE_P:g}]", "max_norm")})
    if len(mapping) >= 3 and evidence["slope_verdict"] != UNDETERMINED:
        verdict, reason = evidence["slope_verdict"], evidence["slope_reason"]
    elif len(verdicts) == 1:
        verdict, reason = deepest["verdict"], (f"every depth: {deepest['reason']}" if len(mapping) > 1
                                               else deepest["reason"])
    else:
        verdict, reason = deepest["verdict"], f"depths disagree; deepest network: {deepest['reason']}"
    evidence["reason"] = reason
    return RegimeResult(verdict=verdict, evidence=evidence, scaling=scaling)
