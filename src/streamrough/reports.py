"""An HTML page with PNG plots: stability, regime and depth scaling of residual networks.

Every number on the page comes from a public function, named next to it:
:func:`streamrough.stability`, :func:`streamrough.lipschitz`, :func:`streamrough.regime`,
:func:`streamrough.depth_scaling`, :func:`streamrough.rough_pvar`. Matplotlib is imported
only here, and only when a report is written.
"""

from __future__ import annotations

import html
import math
import os

import numpy as np

from .regimes import _as_mapping
from .stability_report import _per_p

__all__ = ["report"]

P_GRID = (1.0, 1.25, 1.5, 1.75, 2.0, 2.25, 2.5, 2.75)
ROUGH_P = (2.2, 2.5, 2.8)


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _save(fig, out_dir, name):
    fig.tight_layout()
    fig.savefig(os.path.join(out_dir, name), dpi=110)
    _pyplot().close(fig)
    return name



def _plot_pvar(layers, n, out_dir):
    from .rough import rough_pvar

    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(6.4, 4.2))
    for conv, style in (("increments", "-"), ("values", "--")):
        res = rough_pvar(layers, list(P_GRID), convention=conv)
        ax.plot(P_GRID, _per_p(res, "level1"), style + "o", color="C0", label=f"level 1, {conv}")
        ax.plot(P_GRID, _per_p(res, "level2"), style + "s", color="C3", label=f"level 2, {conv}")
    ax.set_yscale("log")
    ax.set_xlabel("p")
    ax.set_ylabel("||x||_p-var   /   ||XX||_p/2-var")
    ax.set_title(f"p-variation against p ({n} layers; rough_pvar)")
    ax.axvspan(2, 3, color="0.9", zorder=0)
    ax.legend(fontsize=8)
    return _save(fig, out_dir, "pvar_vs_p.png")


def _plot_weights(weights, out_dir, n_entries=4):
    plt = _pyplot()
    w = weights.reshape(weights.shape[0], -1)
    rng = np.random.default_rng(0)
    cols = np.sort(rng.choice(w.shape[1], size=min(n_entries, w.shape[1]), replace=False))
    fig, axes = plt.subplots(1, 2, figsize=(9.6, 3.6))
    k = np.arange(w.shape[0])
    for c in cols:
        label = f"entry {tuple(int(i) for i in np.unravel_index(c, weights.shape[1:]))}"
        axes[0].plot(k, w[:, c], lw=0.8, label=label)
        axes[1].plot(np.arange(w.shape[0] + 1), np.concatenate([[0.0], np.cumsum(w[:, c])]), lw=0.9, label=label)
    axes[0].set_title("weight entries W_k[i, j] against the layer k")
    axes[1].set_title("their cumulative sums (the increments path x_k)")
    for ax in axes:
        ax.set_xlabel("layer k")
    axes[1].legend(fontsize=7)
    return _save(fig, out_dir, "weights.png")


def _plot_gronwall(depth_axis, gronwall, gronwall_exp, lip_median, lip_max, title, out_dir):
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(6.4, 4.2))
    ax.plot(depth_axis, gronwall, "-", color="C3", label="Gronwall prod(1 + c a_k) (rigorous)")
    ax.plot(depth_axis, gronwall_exp, ":", color="C3", label="exp(c sum a_k) (rigorous, weaker)")
    ax.plot(depth_axis, np.log10(lip_max), "-o", ms=3, color="C0", label="empirical Lipschitz, max over inputs")
    ax.plot(depth_axis, np.log10(lip_median), "--", color="C0", label="empirical Lipschitz, median")
    ax.set_xscale("log")
    ax.set_xlabel("layers")
    ax.set_ylabel("log10")
    ax.set_title(title)
    ax.legend(fontsize=8)
    return _save(fig, out_dir, "gronwall_vs_lipschitz.png")


def _plot_scaling(scaling, out_dir):
    plt = _pyplot()
    keys = ["max_norm", "root_sum_squares", "quadratic_variation", "h1",
            "level1_increments[p=1]", "level1_increments[p=2.5]"]
    fig, ax = plt.subplots(figsize=(9.6, 4.4))
    n = scaling.n_layers.astype(float)
    for i, k in enumerate(keys):
        y, fit = scaling.table[k], scaling.fits[k]
        ax.plot(n, y, "o", color=f"C{i}")
        if np.isfinite(fit["slope"]):
            ax.plot(n, np.exp(fit["intercept"]) * n ** fit["slope"], "-", color=f"C{i}",
                    label=f"{k}: slope {fit['slope']:.2f}, R2 {fit['r2']:.2f}")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("number of layers L")
    ax.set_title("depth scaling (depth_scaling), log-log fits")
    ax.legend(fontsize=7, loc="center left", bbox_to_anchor=(1.02, 0.5))
    return _save(fig, out_dir, "depth_scaling.png")


def _fmt(v):
    if isinstance(v, (float, np.floating)):
        return "inf" if math.isinf(v) else f"{v:.4g}"
    return html.escape(str(v))


def _table(rows, columns):
    head = "".join(f"<th>{html.escape(c)}</th>" for c in columns)
    body = "".join("<tr>" + "".join(f"<td>{_fmt(r.get(c, ''))}</td>" for c in columns) + "</tr>" for r in rows)
    return f"<table><tr>{head}</tr>{body}</table>"


HEADINGS = {
    "pvar_vs_p.png": "p-variation against p, per level and convention",
    "weights.png": "Weights against the layer index",
    "gronwall_vs_lipschitz.png": "Gronwall bound against the empirical Lipschitz constant",
    "depth_scaling.png": "Depth scaling",
}

CSS = """body{font-family:sans-serif;max-width:1000px;margin:2em auto;color:#222}
h1{font-size:1.5em}h2{font-size:1.15em;margin-top:1.6em;border-bottom:1px solid #ccc}
table{border-collapse:collapse;font-size:.85em;margin:.6em 0}td,th{border:1px solid #ccc;padding:3px 7px}
th{background:#f2f2f2}.verdict{font-size:1.3em;padding:.6em 1em;background:#eef4ff;border-left:6px solid #36c}
img{max-width:100%;border:1px solid #eee}.rigorous{color:#070}.note{color:#555;font-size:.9em}"""


def report(source, out_dir, *, inputs=None, init=None, form="bft", activation="tanh", bias=None, delta=None,
           p=ROUGH_P, n_inputs=16, seed=0, title="streamrough report"):
    """Write ``index.html`` and its PNGs to `out_dir`; return the path of the page.

    Parameters
    ----------
    source : array_like (L, d, d) or dict {n_layers: array_like}
        One network, or the same architecture at several depths (then the Gronwall and
        Lipschitz plot runs over the networks and depth scaling is fitted).
    out_dir : str or path-like
        Created if missing.
    inputs : array_like (B, d), optional
        Inputs for the empirical Lipschitz constants; default `n_inputs` standard Gaussian
        inputs drawn with `seed` (said so on the page).
    init : like `source`, optional
        Initial weights, for the regime's drift/fluctuation split.
    form, activation, bias, delta
        As in :func:`streamrough.forward` (bias and delta for one network only; `delta` may
        be a scalar applied at every depth).
    p : sequence of float
        Exponents of the rough-path functionals in the stability table.

    Returns
    -------
    str
        Path of ``index.html``.
    """
    from .regimes import regime
    from .resnet import lipschitz
    from .stability_report import stability

    mapping = _as_mapping(source, "source")
    arrays = source if isinstance(source, dict) else {next(iter(mapping)): source}
    arrays = {int(k): np.asarray(v, dtype=np.float64) for k, v in arrays.items()}
    if isinstance(source, dict) and (bias is not None or (delta is not None and np.ndim(delta) > 0)):
        raise ValueError("bias and per-layer delta are for one network; pass a scalar delta with several depths")
    os.makedirs(out_dir, exist_ok=True)
    deepest = max(arrays)
    d = arrays[deepest].shape[1]
    note_inputs = "given inputs"
    if inputs is None:
        inputs = np.random.default_rng(seed).standard_normal((n_inputs, d))
        note_inputs = f"{n_inputs} standard Gaussian inputs, numpy default_rng({seed})"
    inputs = np.asarray(inputs, dtype=np.float64)

    def delta_for(n):
        return None if form == "bft" else delta

    stab = {n: stability(w, inputs, p=list(p), form=form, activation=activation, bias=bias,
                         delta=delta_for(n)) for n, w in arrays.items()}
    driving = {n: (w if form == "bft" else w * np.broadcast_to(np.asarray(delta, float), (n,))[:, None, None])
               for n, w in arrays.items()}
    init_map = None
    if init is not None:
        init_arrays = init if isinstance(init, dict) else {deepest: init}
        init_map = {int(n): (np.asarray(v, float) if form == "bft" else
                             np.asarray(v, float) * np.broadcast_to(np.asarray(delta, float), (int(n),))[:, None, None])
                    for n, v in init_arrays.items()}
    reg = regime(driving, init=init_map, level2=True)

    images = [_plot_pvar(driving[deepest].reshape(deepest, -1), deepest, out_dir),
              _plot_weights(arrays[deepest], out_dir)]
    if len(arrays) >= 2:
        ns = sorted(arrays)
        images.append(_plot_gronwall(
            ns, [stab[n].gronwall_log10_product for n in ns], [stab[n].gronwall_log10_exp for n in ns],
            [stab[n].lipschitz_median for n in ns], [stab[n].lipschitz_max for n in ns],
            "Gronwall bound vs empirical Lipschitz, by network depth", out_dir))
        images.append(_plot_scaling(reg.scaling, out_dir))
    else:
        s = stab[deepest]
        at = np.unique(np.geomspace(1, deepest, num=min(24, deepest)).astype(int))
        prof = lipschitz(arrays[deepest], inputs, form=form, activation=activation, bias=bias,
                         delta=delta_for(deepest), at_layers=at)
        cum = np.cumsum(np.log1p(s.derivative_bound * s.layer_factors)) / math.log(10.0)
        cum_exp = np.cumsum(s.derivative_bound * s.layer_factors) / math.log(10.0)
        images.append(_plot_gronwall(at, cum[at - 1], cum_exp[at - 1], np.median(prof, axis=1), prof.max(axis=1),
                                     "Gronwall bound vs empirical Lipschitz over the first k layers", out_dir))

    parts = [f"<!doctype html><html><head><meta charset='utf-8'><title>{html.escape(title)}</title>"
             f"<style>{CSS}</style></head><body><h1>{html.escape(title)}</h1>"]
    parts.append(f"<p>{len(arrays)} network(s), depths {sorted(arrays)}, width {d}, form <b>{form}</b>, "
                 f"activation <b>{activation}</b>; empirical numbers at {note_inputs}.</p>")
    if not stab[deepest].smooth_theory:
        parts.append(f"<p class='note'><b>Note:</b> {activation} is outside the smooth theory (not C^3 with "
                     "bounded derivatives): the rough-path functionals are computed, but the theorems they "
                     "enter do not cover this network. The Gronwall bounds remain rigorous.</p>")
    parts.append(f"<h2>Regime</h2><div class='verdict'>{html.escape(reg.verdict)}</div>"
                 f"<p>{html.escape(reg.evidence['reason'])}</p>")
    rows = [dict(n_layers=n, **{k: v for k, v in s.items()}) for n, s in reg.evidence["per_depth"].items()]
    cols = ["n_layers", "verdict", "drift_length", "fluct_size", "fluct_length", "whiteness", "drift_ratio",
            "one_variation"] + (["learned_length", "learned_straightness"] if init is not None else [])
    parts.append(_table(rows, cols))
    parts.append("<p class='note'>From <code>streamrough.regime(paths, init)</code>: drift = polynomial trend "
                 "in the layer index (of W - W_init when init is known), fluctuation = the rest.</p>")
    parts.append(f"<h2>Stability ({deepest} layers)</h2>")
    parts.append(_table(stab[deepest].items(), ["name", "value", "label", "statement"]))
    parts.append("<p class='note'>From <code>streamrough.stability(weights, inputs, p)</code>. Only the rows "
                 "labelled <span class='rigorous'>rigorous</span> are bounds; the functionals enter the theorems "
                 "with constants that are not known in closed form.</p>")
    for img in images:
        parts.append(f"<h2>{HEADINGS[img]}</h2><img src='{img}' alt='{img}'>")
    if len(arrays) >= 2:
        fits = [dict(statistic=k, **v) for k, v in reg.scaling.fits.items()]
        parts.append("<h2>Depth-scaling fits</h2>" + _table(fits, ["statistic", "slope", "intercept", "r2", "n"]))
        parts.append(f"<p>beta (minus the slope of max_k |W_k|) = {_fmt(reg.scaling.beta)}; from "
                     "<code>streamrough.depth_scaling(paths)</code>.</p>")
    parts.append("</body></html>")
    page = os.path.join(out_dir, "index.html")
    with open(page, "w", encoding="utf-8") as f:
        f.write("\n".join(parts))
    return page
