"""Residual networks as difference equations: forward passes and Jacobians (math.md 6).

Two block forms, applied to a batch of inputs ``h_0`` (B, d):

``"bft"`` (Bayer-Friz-Tapia, the seed's)
    ``h_{k+1} = h_k + W_k sigma(h_k) (+ b_k)``: linear in the weights, driven by the
    increments-convention path of ``W``.
``"ccrx"`` (Cohen-Cont-Rossier-Xu)
    ``h_{k+1} = h_k + delta_k sigma(A_k h_k + b_k)`` with scalars ``delta_k``.

Activations: ``"tanh"`` (default), ``"sigmoid"``, ``"softplus"`` (smooth, covered by the
rough-path theory) and ``"relu"`` (evaluated, but outside the smooth theory; results that
depend on the theory flag it, see :func:`streamrough.stability`).

Weights are read ``chunk_layers`` layers at a time, so a forward pass holds one chunk of
weights in memory: any array-like with ``shape`` and slicing along the layer axis (a NumPy
array or memmap, a Zarr array) is read chunk by chunk.
"""

from __future__ import annotations

import dataclasses

import numpy as np

from ._validation import _as_numeric_array, _check_finite, _check_real_dtype, check_choice

__all__ = ["FORMS", "ACTIVATIONS", "forward", "input_jacobian", "lipschitz", "output_change"]

FORMS = ("bft", "ccrx")
ACTIVATIONS = ("tanh", "sigmoid", "softplus", "relu")
#: sup |sigma'| of each activation (its Lipschitz constant)
DERIVATIVE_BOUND = {"tanh": 1.0, "sigmoid": 0.25, "softplus": 1.0, "relu": 1.0}
DEFAULT_CHUNK_LAYERS = 256


def _kernels():
    from ._kernels import resnet as kernels

    return kernels


class _WeightsSource:
    """Layers ``(L, d, d)`` of any array-like with ``shape`` and slicing, read by chunks."""

    def __init__(self, array, name):
        self.array, self.name = array, name
        self.n_layers = int(array.shape[0])

    def read(self, k0, k1):
        chunk = np.ascontiguousarray(np.asarray(self.array[k0:k1]), dtype=np.float64)
        _check_finite(chunk, f"{self.name}[{k0}:{k1}]")
        return chunk

    def chunks(self, chunk_layers):
        for k0 in range(0, self.n_layers, chunk_layers):
            k1 = min(k0 + chunk_layers, self.n_layers)
            yield k0, k1, self.read(k0, k1)


def _weights_source(source, name="weights", ndim=3):
    """The one entry point from user input to layers read chunk by chunk.

    A NumPy array, a sequence, or an array-like with ``shape``, ``dtype`` and slicing
    (a Zarr array: read lazily).  Hook for :mod:`streamrough.store`: a stored weight path
    (store group) resolves here to its layer array; nothing else in this module changes.
    """
    if not isinstance(source, np.ndarray) and all(hasattr(source, a) for a in ("shape", "dtype", "ndim", "__getitem__")):
        _check_real_dtype(source.dtype, name)
        array = source  # read lazily, chunk by chunk
    else:
        array = _as_numeric_array(source, name)
    if array.ndim != ndim:
        want = "(L, d, d)" if ndim == 3 else "(L, d)"
        raise ValueError(f"{name} must have shape {want}, got shape {tuple(array.shape)}")
    if array.shape[0] == 0:
        raise ValueError(f"{name} has no layers")
    if ndim == 3 and array.shape[1] != array.shape[2]:
        raise ValueError(f"{name} must hold square d x d layers, got layer shape {tuple(array.shape[1:])}")
    return _WeightsSource(array, name)


@dataclasses.dataclass(frozen=True)
class _Net:
    weights: _WeightsSource
    bias: _WeightsSource | None
    delta: np.ndarray | None
    form: str
    activation: str

    @property
    def width(self):
        return int(self.weights.array.shape[1])

    @property
    def n_layers(self):
        return self.weights.n_layers


def _network(weights, form, activation, bias, delta, name="weights"):
    check_choice(form, "form", FORMS)
    check_choice(activation, "activation", ACTIVATIONS)
    src = _weights_source(weights, name)
    n, d = src.n_layers, int(src.array.shape[1])
    bias_src = None
    if bias is not None:
        bias_src = _weights_source(bias, f"{name} bias", ndim=2)
        if tuple(bias_src.array.shape) != (n, d):
            raise ValueError(f"bias must have shape ({n}, {d}), got {tuple(bias_src.array.shape)}")
    if form == "bft":
        if delta is not None:
            raise ValueError("delta is a parameter of the 'ccrx' form; the 'bft' form has none")
        deltas = None
    else:
        if delta is None:
            raise ValueError("the 'ccrx' form needs delta (a scalar or one per layer)")
        deltas = np.asarray(_as_numeric_array(delta, "delta"), dtype=np.float64)
        if deltas.ndim == 0:
            deltas = np.full(n, float(deltas))
        if deltas.shape != (n,):
            raise ValueError(f"delta must be a scalar or have shape ({n},), got {deltas.shape}")
        _check_finite(deltas, "delta")
    return _Net(src, bias_src, deltas, form, activation)


def _inputs(inputs, d):
    x = _as_numeric_array(inputs, "inputs")
    single = x.ndim == 1
    x = np.array(x, dtype=np.float64, ndmin=2, copy=True)  # the kernels update it in place
    if x.ndim != 2 or x.shape[1] != d or x.shape[0] == 0:
        raise ValueError(f"inputs must have shape (d,) or (B, d) with d = {d}, got {np.shape(inputs)}")
    _check_finite(x, "inputs")
    return x, single


def _run(net, h, with_jac, chunk_layers, at_layers=()):
    """Propagate ``h`` (updated in place); Jacobians and their top singular values at `at_layers`."""
    if int(chunk_layers) != chunk_layers or chunk_layers < 1:
        raise ValueError(f"chunk_layers must be a positive integer, got {chunk_layers!r}")
    kern = _kernels()
    code = ACTIVATIONS.index(net.activation)
    n_batch, d = h.shape
    jac = np.zeros((n_batch if with_jac else 0, d, d))
    jac[:, np.arange(d), np.arange(d)] = 1.0
    stops = sorted(set(int(a) for a in at_layers) | {net.n_layers})
    no_bias = np.zeros((0, d))
    profile = []
    if 0 in stops:
        profile.append(np.linalg.norm(jac, 2, axis=(1, 2)))
    k0 = 0
    for stop in (s for s in stops if s > 0):
        while k0 < stop:
            k1 = min(k0 + int(chunk_layers), stop)
            w = net.weights.read(k0, k1)
            b = no_bias if net.bias is None else net.bias.read(k0, k1)
            if net.form == "bft":
                kern.bft_chunk(h, jac, w, b, code)
            else:
                kern.ccrx_chunk(h, jac, w, b, np.ascontiguousarray(net.delta[k0:k1]), code)
            k0 = k1
        if with_jac and stop in at_layers:
            profile.append(np.linalg.norm(jac, 2, axis=(1, 2)))
    return h, jac, profile


def forward(weights, inputs, *, form="bft", activation="tanh", bias=None, delta=None,
            chunk_layers=DEFAULT_CHUNK_LAYERS):
    r"""Output ``h_L`` of a residual network for a batch of inputs.

    .. math::

        \text{bft:}\ h_{k+1} = h_k + W_k\,\sigma(h_k) + b_k, \qquad
        \text{ccrx:}\ h_{k+1} = h_k + \delta_k\,\sigma(A_k h_k + b_k)

    Parameters
    ----------
    weights : array_like, shape (L, d, d)
        ``W_k`` (bft) or ``A_k`` (ccrx). Any array-like with slicing (a Zarr array) is read
        `chunk_layers` layers at a time.
    inputs : array_like, shape (d,) or (B, d)
    form : {"bft", "ccrx"}
    activation : {"tanh", "sigmoid", "softplus", "relu"}
    bias : array_like, shape (L, d), optional
    delta : float or array_like, shape (L,)
        Required for ``form="ccrx"`` (e.g. ``1 / L``), rejected for ``"bft"``.
    chunk_layers : int
        Layers read per chunk (memory O(chunk_layers d^2)).

    Returns
    -------
    ndarray, shape like `inputs`, float64

    Examples
    --------
    >>> import numpy as np, streamrough as sr
    >>> w = np.zeros((3, 2, 2)); w[:, 0, 1] = 1.0
    >>> sr.forward(w, [0.0, 1.0]).round(6).tolist()   # h_0 += 3 tanh(1)
    [2.284782, 1.0]
    """
    net = _network(weights, form, activation, bias, delta)
    h, single = _inputs(inputs, net.width)
    _run(net, h, False, chunk_layers)
    return h[0] if single else h


def input_jacobian(weights, inputs, *, form="bft", activation="tanh", bias=None, delta=None,
                   chunk_layers=DEFAULT_CHUNK_LAYERS):
    r"""Outputs and input Jacobians ``dh_L / dh_0`` at each input (a product of layer Jacobians).

    .. math::

        J_{k+1} = (I + W_k \operatorname{diag}(\sigma'(h_k))) J_k \ \text{(bft)}, \qquad
        J_{k+1} = (I + \delta_k \operatorname{diag}(\sigma'(A_k h_k + b_k)) A_k) J_k \ \text{(ccrx)}

    Parameters are those of :func:`forward`.

    Returns
    -------
    outputs : ndarray, shape (B, d) (or (d,) for one input)
    jacobians : ndarray, shape (B, d, d) (or (d, d))

    Examples
    --------
    >>> import numpy as np, streamrough as sr
    >>> out, jac = sr.input_jacobian(np.zeros((4, 2, 2)), [1.0, 2.0])
    >>> jac.tolist()
    [[1.0, 0.0], [0.0, 1.0]]
    """
    net = _network(weights, form, activation, bias, delta)
    h, single = _inputs(inputs, net.width)
    h, jac, _ = _run(net, h, True, chunk_layers)
    return (h[0], jac[0]) if single else (h, jac)


def lipschitz(weights, inputs, *, form="bft", activation="tanh", bias=None, delta=None,
              at_layers=None, chunk_layers=DEFAULT_CHUNK_LAYERS):
    r"""Empirical input-Lipschitz constants: the top singular value of ``dh_L / dh_0`` at each input.

    A local quantity (the operator norm of the Jacobian at the given inputs), not a bound:
    the global Lipschitz constant is the supremum over all inputs.

    Parameters
    ----------
    weights, inputs, form, activation, bias, delta, chunk_layers
        As in :func:`forward`.
    at_layers : sequence of int, optional
        Also evaluate after the first ``k`` layers for each ``k`` here (a depth profile in one
        pass).

    Returns
    -------
    ndarray, shape (B,)  (or (len(at_layers), B) when `at_layers` is given)

    Examples
    --------
    >>> import numpy as np, streamrough as sr
    >>> w = np.zeros((1, 2, 2)); w[0] = [[0.5, 0.0], [0.0, 0.0]]
    >>> np.round(sr.lipschitz(w, [[0.0, 0.0]]), 12).tolist()     # 1 + 0.5 tanh'(0)
    [1.5]
    """
    net = _network(weights, form, activation, bias, delta)
    h, _ = _inputs(inputs, net.width)
    if at_layers is None:
        return np.linalg.norm(_run(net, h, True, chunk_layers)[1], 2, axis=(1, 2))
    at = np.asarray(at_layers)
    if at.ndim != 1 or at.size == 0 or at.dtype.kind not in "iu" or at.min() < 0 or at.max() > net.n_layers:
        raise ValueError(f"at_layers must be a non-empty sequence of integers in [0, {net.n_layers}], got {at_layers!r}")
    _, _, profile = _run(net, h, True, chunk_layers, at_layers=at.tolist())
    order = {k: i for i, k in enumerate(sorted(set(at.tolist())))}
    return np.stack([profile[order[k]] for k in at.tolist()])


def output_change(weights, other, inputs, *, form="bft", activation="tanh", bias=None, delta=None,
                  other_bias=None, other_delta=None, chunk_layers=DEFAULT_CHUNK_LAYERS):
    r"""``|h_L^A - h_L^B|`` at the same inputs for two networks A (`weights`) and B (`other`).

    The empirical side of weight stability: compare with ``rho_p`` of the two weight paths.
    Network B has the same form and activation; its bias and delta default to A's.

    Returns
    -------
    ndarray, shape (B,)
        Euclidean norms of the output differences.

    Examples
    --------
    >>> import numpy as np, streamrough as sr
    >>> w = np.zeros((2, 2, 2))
    >>> sr.output_change(w, w, [[1.0, 2.0]]).tolist()
    [0.0]
    """
    if np.shape(weights) != np.shape(other):
        raise ValueError(f"other must have the shape of weights {np.shape(weights)}, got {np.shape(other)}")
    a = forward(weights, inputs, form=form, activation=activation, bias=bias, delta=delta,
                chunk_layers=chunk_layers)
    b = forward(other, inputs, form=form, activation=activation,
                bias=bias if other_bias is None else other_bias,
                delta=delta if other_delta is None else other_delta, chunk_layers=chunk_layers)
    return np.linalg.norm(np.atleast_2d(a - b), axis=1)
