"""Stability report of a residual network (math.md 7): three kinds of numbers, side by side.

``"rigorous"``
    Discrete Gronwall bounds. With ``a_k = ||W_k||_op`` (bft) or ``|delta_k| ||A_k||_op``
    (ccrx) and ``c = sup |sigma'|``, each layer map is ``(1 + c a_k)``-Lipschitz, hence

        |h_L - h~_L| <= prod_k (1 + c a_k) |h_0 - h~_0| <= exp(c sum_k a_k) |h_0 - h~_0|,
        ||dh_L / dh_0||_op <= prod_k (1 + c a_k).

    Proved in docs/theory.md and tested on thousands of random networks.
``"functional (constants unknown)"``
    The rough-path quantities the seed's theorems are stated in (|||X|||_p, omega, rho_p, nu)
    and the shapes they enter; the constants C_p have no closed form, so none of these is a
    bound.
``"empirical"``
    Input-Lipschitz constants at given inputs (top singular value of the Jacobian product)
    and output changes between two networks at the same inputs.
"""

from __future__ import annotations

import dataclasses
import math

import numpy as np

from ._validation import as_p_values
from .resnet import DEFAULT_CHUNK_LAYERS, DERIVATIVE_BOUND, _inputs, _network, _run

__all__ = ["StabilityResult", "stability"]

RIGOROUS = "rigorous"
FUNCTIONAL = "functional (constants unknown)"
EMPIRICAL = "empirical"

#: sup |sigma|, |sigma'|, |sigma''|, |sigma'''| of the bounded smooth activations
_SUP_DERIVATIVES = {
    "tanh": (1.0, 1.0, 4.0 / (3.0 * math.sqrt(3.0)), 2.0),
    "sigmoid": (1.0, 0.25, math.sqrt(3.0) / 18.0, 0.125),
}


def _nu(activation, width):
    """nu = max(sqrt(d) sup|sigma|, sup|sigma'|, sup|sigma''|, sup|sigma'''|), inf if unbounded."""
    if activation not in _SUP_DERIVATIVES:
        return math.inf  # softplus grows linearly, relu is not differentiable
    s0, *rest = _SUP_DERIVATIVES[activation]
    return max(math.sqrt(width) * s0, *rest)


def _per_p(res, field):
    """A (P,) float64 array of `field` of a rough_pvar/rough_distance result."""
    return np.atleast_1d(np.asarray(getattr(res, field), dtype=np.float64))


@dataclasses.dataclass(frozen=True)
class StabilityResult:
    """Stability numbers of one network, each labelled (see :meth:`items`).

    Attributes
    ----------
    form, activation : str
    n_layers, width : int
    smooth_theory : bool
        False for relu (not differentiable) and softplus (unbounded): the rough-path
        functionals are still computed, but the theorems they enter do not cover the network.
    layer_factors : ndarray (L,)
        ``a_k = ||W_k||_op`` (bft) or ``|delta_k| ||A_k||_op`` (ccrx), spectral norms.
    derivative_bound : float
        ``c = sup |sigma'|``.
    gronwall_log10_product, gronwall_log10_exp : float
        ``log10 prod_k (1 + c a_k)`` and ``log10 exp(c sum_k a_k)`` (rigorous).
    sum_factors : float
        ``sum_k a_k``.
    one_variation : float
        ``sum_k |W_k|_F``, the 1-variation of the driving path (the neural-ODE scale).
    nu : float
        Size of the vector field, ``max(sqrt(d) sup|sigma|, sup|sigma'|, sup|sigma''|, sup|sigma'''|)``.
    p, level1, level2, norm, omega : ndarray (P,)
        Rough-path functionals of the driving path (increments convention, iterated sums):
        ``||x||_p-var``, ``||XX||_p/2-var``, ``|||X|||_p``, ``omega(0, L)``. Empty when ``p=None``.
    rho : ndarray (P,) or None
        ``rho_p`` to `other`.
    lipschitz : ndarray (B,) or None
        Empirical input-Lipschitz constants at the inputs; ``lipschitz_median``, ``lipschitz_max``.
    output_change : ndarray (B,) or None
        ``|h_L - h~_L|`` against `other` at the inputs.
    """

    form: str
    activation: str
    n_layers: int
    width: int
    smooth_theory: bool
    layer_factors: np.ndarray
    derivative_bound: float
    gronwall_log10_product: float
    gronwall_log10_exp: float
    sum_factors: float
    one_variation: float
    nu: float
    p: np.ndarray
    level1: np.ndarray
    level2: np.ndarray
    norm: np.ndarray
    omega: np.ndarray
    rho: np.ndarray | None = None
    lipschitz: np.ndarray | None = None
    output_change: np.ndarray | None = None

    @property
    def lipschitz_median(self):
        return None if self.lipschitz is None else float(np.median(self.lipschitz))

    @property
    def lipschitz_max(self):
        return None if self.lipschitz is None else float(np.max(self.lipschitz))

    def items(self):
        """Every number as ``{"name", "value", "label", "statement"}``, in reading order."""
        out = [
            dict(name="gronwall_log10_product", value=self.gronwall_log10_product, label=RIGOROUS,
                 statement="|h_L - h~_L| <= prod_k (1 + c a_k) |h_0 - h~_0|; ||dh_L/dh_0||_op <= prod_k (1 + c a_k)"),
            dict(name="gronwall_log10_exp", value=self.gronwall_log10_exp, label=RIGOROUS,
                 statement="prod_k (1 + c a_k) <= exp(c sum_k a_k) (the neural-ODE form)"),
            dict(name="sum_factors", value=self.sum_factors, label=RIGOROUS,
                 statement="sum_k a_k, a_k = ||W_k||_op (bft) or |delta_k| ||A_k||_op (ccrx)"),
            dict(name="one_variation", value=self.one_variation, label=FUNCTIONAL,
                 statement="||x||_1-var = sum_k |W_k|_F: drives the smooth (Young, p = 1) estimates"),
            dict(name="nu", value=self.nu, label=FUNCTIONAL,
                 statement="size of the vector field F(h)M = M sigma(h) and its derivatives"),
        ]
        for i, p in enumerate(self.p):
            tag = f"[p={p:g}]"
            out += [
                dict(name=f"level1{tag}", value=float(self.level1[i]), label=FUNCTIONAL, statement="||x||_p-var"),
                dict(name=f"level2{tag}", value=float(self.level2[i]), label=FUNCTIONAL, statement="||XX||_p/2-var"),
                dict(name=f"norm{tag}", value=float(self.norm[i]), label=FUNCTIONAL,
                     statement="|||X|||_p; a priori ||h||_p-var <~ C_p (nu |||X|||_p v (nu |||X|||_p)^p)"),
                dict(name=f"omega{tag}", value=float(self.omega[i]), label=FUNCTIONAL,
                     statement="omega(0, L) = V_p(x) + V_p/2(XX)"),
                dict(name=f"log10_lipschitz_shape{tag}",
                     value=float(self.nu ** p * self.norm[i] ** p / math.log(10.0)), label=FUNCTIONAL,
                     statement="log10 exp(nu^p |||X|||_p^p): input Lipschitz <~ C_p exp(C_p nu^p |||X|||_p^p)"),
            ]
            if self.rho is not None:
                out.append(dict(name=f"rho{tag}", value=float(self.rho[i]), label=FUNCTIONAL,
                                statement="rho_p(X, Y); |h_L - h~_L| <~ C exp(C nu^p (|||X|||^p + |||Y|||^p)) "
                                          "(|h_0 - h~_0| + rho_p(X, Y))"))
        if self.lipschitz is not None:
            out += [
                dict(name="lipschitz_median", value=self.lipschitz_median, label=EMPIRICAL,
                     statement="median over inputs of ||dh_L/dh_0||_op"),
                dict(name="lipschitz_max", value=self.lipschitz_max, label=EMPIRICAL,
                     statement="max over inputs of ||dh_L/dh_0||_op (a lower bound of the global constant)"),
            ]
        if self.output_change is not None:
            out.append(dict(name="output_change_max", value=float(np.max(self.output_change)), label=EMPIRICAL,
                            statement="max over inputs of |h_L - h~_L| against other"))
        return out

    def to_dict(self):
        """Plain dict: the metadata, the per-layer and per-input arrays as lists, and ``items``."""
        d = {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}
        d = {k: (v.tolist() if isinstance(v, np.ndarray) else v) for k, v in d.items()}
        d["lipschitz_median"], d["lipschitz_max"] = self.lipschitz_median, self.lipschitz_max
        d["items"] = self.items()
        return d

    def to_pandas(self):
        """One row per item: name, value, label, statement."""
        import pandas as pd

        return pd.DataFrame(self.items(), columns=["name", "value", "label", "statement"])


def _layer_factors(net, chunk_layers):
    """a_k per layer, read chunk by chunk, and the 1-variation of the driving path."""
    factors = np.empty(net.n_layers)
    one_var = 0.0
    for k0, k1, w in net.weights.chunks(chunk_layers):
        factors[k0:k1] = np.linalg.norm(w, 2, axis=(1, 2))
        if net.form == "ccrx":
            factors[k0:k1] *= np.abs(net.delta[k0:k1])
            w = w * net.delta[k0:k1, None, None]
        sq = np.einsum("kij,kij->k", w, w)
        if net.bias is not None and net.form == "bft":
            b = net.bias.read(k0, k1)
            sq = sq + np.einsum("ki,ki->k", b, b)
        one_var += float(np.sqrt(sq).sum())
    return factors, one_var


def _driving_layers(net):
    """The layers of the driving path: W_k (with b_k appended, bft) or delta_k A_k (ccrx)."""
    w = net.weights.read(0, net.n_layers).reshape(net.n_layers, -1)
    if net.form == "ccrx":
        return w * net.delta[:, None]
    if net.bias is not None:
        return np.concatenate([w, net.bias.read(0, net.n_layers)], axis=1)
    return w


def stability(source, inputs=None, p=(2.2, 2.5, 2.8), other=None, *, form="bft", activation="tanh",
              bias=None, delta=None, other_bias=None, other_delta=None, chunk_layers=DEFAULT_CHUNK_LAYERS):
    r"""Rigorous Gronwall bounds, rough-path functionals and empirical Lipschitz constants.

    .. math::

        |h_L - \tilde h_L| \le \prod_k (1 + c\,a_k)\,|h_0 - \tilde h_0|
        \le e^{c \sum_k a_k} |h_0 - \tilde h_0|, \quad c = \sup|\sigma'|

    with ``a_k = ||W_k||_op`` (bft) or ``|delta_k| ||A_k||_op`` (ccrx); the rough-path
    functionals ``|||X|||_p``, ``omega`` and ``rho_p`` of the driving path (``W_k``, with
    ``b_k`` appended when there is a bias, for bft; ``delta_k A_k`` for ccrx; increments
    convention, iterated-sums lift); and, at `inputs`, the empirical Lipschitz constants.

    Parameters
    ----------
    source : array_like, shape (L, d, d)
        The weights (``W_k`` or ``A_k``); an array-like with slicing is read by chunks for the
        Gronwall bounds and Jacobians (the rough-path functionals read all layers).
    inputs : array_like, shape (B, d), optional
        Inputs for the empirical Lipschitz constants (and output changes against `other`).
    p : float, sequence of float or None
        Exponents of the rough-path functionals (None: skip them).
    other : array_like, shape (L, d, d), optional
        A second network or checkpoint of the same shape: ``rho_p`` to it, and output changes.
    form, activation, bias, delta, chunk_layers
        As in :func:`streamrough.forward`; `other_bias`, `other_delta` default to these.

    Returns
    -------
    StabilityResult
        ``.to_dict()``, ``.to_pandas()`` and ``.items()`` give every number with its label.

    Examples
    --------
    >>> import numpy as np, streamrough as sr
    >>> w = np.zeros((2, 2, 2)); w[:, 0, 0] = 1.0
    >>> r = sr.stability(w, p=None)
    >>> round(10 ** r.gronwall_log10_product, 12)   # (1 + 1)(1 + 1)
    4.0
    """
    net = _network(source, form, activation, bias, delta, "source")
    factors, one_var = _layer_factors(net, chunk_layers)
    c = DERIVATIVE_BOUND[activation]
    ps = np.empty(0) if p is None else np.atleast_1d(as_p_values(p)[0])
    fields = dict(level1=np.empty(0), level2=np.empty(0), norm=np.empty(0), omega=np.empty(0))
    rho = None
    other_net = None
    if other is not None:
        other_net = _network(other, form, activation, other_bias if other_bias is not None else bias,
                             other_delta if other_delta is not None else delta, "other")
        if other_net.weights.array.shape != net.weights.array.shape:
            raise ValueError(f"other must have the shape of source {tuple(net.weights.array.shape)}, "
                             f"got {tuple(other_net.weights.array.shape)}")
    if ps.size:
        from .rough import rough_distance, rough_pvar

        layers = _driving_layers(net)
        res = rough_pvar(layers, list(ps), convention="increments")
        fields = {k: _per_p(res, k) for k in fields}
        if other_net is not None:
            rho = _per_p(rough_distance(layers, _driving_layers(other_net), list(ps), convention="increments"), "rho")
    lip = change = None
    if inputs is not None:
        h, _ = _inputs(inputs, net.width)
        out, jac, _ = _run(net, h, True, chunk_layers)
        lip = np.linalg.norm(jac, 2, axis=(1, 2))
        if other_net is not None:
            h2, _ = _inputs(inputs, net.width)
            out2 = _run(other_net, h2, False, chunk_layers)[0]
            change = np.linalg.norm(out - out2, axis=1)
    return StabilityResult(
        form=form, activation=activation, n_layers=net.n_layers, width=net.width,
        smooth_theory=activation in _SUP_DERIVATIVES,
        layer_factors=factors, derivative_bound=c,
        gronwall_log10_product=float(np.log1p(c * factors).sum() / math.log(10.0)),
        gronwall_log10_exp=float(c * factors.sum() / math.log(10.0)),
        sum_factors=float(factors.sum()), one_variation=one_var, nu=_nu(activation, net.width),
        p=ps, rho=rho, lipschitz=lip, output_change=change, **fields,
    )
