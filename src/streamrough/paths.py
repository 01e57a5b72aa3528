"""Weight sequences of residual networks as paths (math.md section 1).

A network with per-layer parameters ``W_0, ..., W_{L-1}`` is turned into a path in one of
two conventions, and every result records which:

``"increments"`` (default, the seed paper's)
    ``x_0 = 0, x_k = W_0 + ... + W_{k-1}`` for ``k = 0..L``: ``L + 1`` points whose
    increments are the weights. The network is a difference equation driven by ``x``.
``"values"`` (Cohen-Cont-Rossier-Xu)
    ``x_k = W_k`` for ``k = 0..L-1``: the weights as a function of depth. A plain path is
    read this way (row k is the point x_k).

One reading of an input array (:func:`read_input`), shared by every function that accepts
either a path or weights (``pvar``, ``pvar_running``, ``rough_pvar``, ``rough_distance`` and
``streamrough pvar --convention``): with ``convention=None`` (the default) an array with 3 or
more axes ``(L, m1, m2, ...)`` is a weight sequence read with ``"increments"``, and an array
with at most 2 axes ``(N,)`` or ``(N, d)`` is a path (``"values"``); an explicit convention
reads any array as a weight sequence. The convention used is recorded in every result.
Layer-by-layer inputs (:class:`streamrough.RoughStream`, the Gram functions) are weights and
default to ``"increments"``; batched functions (``pvar_batch``, ``signature``) take paths.

Lifts (:data:`LIFTS`): ``"iterated"`` (iterated sums ``sum_{i<k} a_i (x) a_k``) and
``"geometric"`` (the signature of the piecewise-linear path, which adds half of
``sum a_i (x) a_i``). Signatures default to ``"geometric"`` (the usual signature of a path,
as in iisignature and pySigLib: group-like, invariant under reparametrisation and
subdivision); rough paths default to ``"iterated"`` (the residual network's own lift: the
update ``h_{k+1} = h_k + W_k h_k`` expands into exactly these iterated sums).
"""

from __future__ import annotations

import numpy as np

from ._validation import as_path, check_choice, check_int

__all__ = ["CONVENTIONS", "LIFTS", "weight_path", "read_input", "brownian_weights", "brownian_path"]

#: How a weight sequence is read as a path.
CONVENTIONS = ("increments", "values")
#: The level-2 lifts of a path (signatures and rough paths).
LIFTS = ("iterated", "geometric")


def weight_path(weights, convention: str = "increments") -> np.ndarray:
    """Turn a weight sequence into a path.

    Parameters
    ----------
    weights : array_like, shape (L, m1, m2, ...) or (L, D)
        One entry per layer; trailing axes are flattened row-major.
    convention : {"increments", "values"}
        ``"increments"``: ``x_k = sum_{i<k} W_i`` (``L + 1`` points, ``x_0 = 0``);
        ``"values"``: ``x_k = W_k`` (``L`` points).

    Returns
    -------
    ndarray, shape (L + 1, D) or (L, D), float64

    Examples
    --------
    >>> weight_path([[1.0], [2.0]], "increments").ravel().tolist()
    [0.0, 1.0, 3.0]
    """
    check_choice(convention, "convention", CONVENTIONS)
    w = as_path(weights, "weights")
    if convention == "values":
        return w
    path = np.zeros((w.shape[0] + 1, w.shape[1]), dtype=np.float64)
    np.cumsum(w, axis=0, out=path[1:])
    return path


def read_input(x, convention=None, name="x"):
    """(path, weights or None, convention) from a path or a weight sequence (module notes).

    ``convention=None``: an array of 3 or more axes is a weight sequence under
    ``"increments"``, one of at most 2 axes a path (``"values"``, weights None). An explicit
    convention reads any array as a weight sequence.
    """
    if convention is None:
        try:
            ndim = np.ndim(x)
        except ValueError:  # ragged nested sequences
            raise ValueError(f"{name} is ragged: all points must have the same shape") from None
        if ndim <= 2:
            return as_path(x, name), None, "values"
        convention = "increments"
    check_choice(convention, "convention", CONVENTIONS)
    weights = as_path(x, name)
    return weight_path(weights, convention), weights, convention


def brownian_weights(n_layers: int, width: int = 16, *, seed=0, shape=None) -> np.ndarray:
    """Brownian-scaled residual weights: i.i.d. Gaussian layers of Frobenius norm about ``n_layers**-0.5``.

    ``W_k = Z_k / (width * sqrt(n_layers))`` with ``Z_k`` standard Gaussian ``width x width``,
    so ``E|W_k|_F^2 = 1 / n_layers`` and the increments-convention path is a discretised
    Brownian motion on [0, 1] (in ``width**2`` dimensions, total variance 1).

    Parameters
    ----------
    n_layers : int
        Number of layers ``L >= 1``.
    width : int
        Layer width ``m``; each weight is ``m x m`` unless `shape` is given.
    seed : int or numpy.random.Generator
    shape : tuple of int, optional
        Shape of one layer (default ``(width, width)``).

    Returns
    -------
    ndarray, shape (n_layers, *shape), float64

    Examples
    --------
    >>> brownian_weights(64, 8).shape
    (64, 8, 8)
    """
    n_layers = check_int(n_layers, "n_layers")
    layer_shape = (check_int(width, "width"),) * 2 if shape is None else tuple(shape)
    size = int(np.prod(layer_shape))
    if size < 1:
        raise ValueError(f"a layer must have at least one entry, got shape {layer_shape}")
    rng = np.random.default_rng(seed)
    return rng.standard_normal((n_layers, *layer_shape)) / np.sqrt(size * n_layers)


def brownian_path(n_points: int, dim: int = 1, *, seed=0) -> np.ndarray:
    """A seeded Brownian path on [0, 1]: ``x_0 = 0`` and i.i.d. ``N(0, I / (n_points - 1))`` steps.

    The path of :func:`brownian_weights` with ``n_points - 1`` layers of shape ``(dim,)``,
    rescaled so that every coordinate (not the total) has variance ``t`` at time ``t``; the
    one random-path generator of the tests and benchmarks.

    Parameters
    ----------
    n_points : int
        Number of points, ``>= 2``.
    dim : int
        Dimension of a point, ``>= 1``.
    seed : int or numpy.random.Generator

    Returns
    -------
    ndarray, shape (n_points, dim), float64

    Examples
    --------
    >>> x = brownian_path(5, 2, seed=1)
    >>> x.shape, x[0].tolist()
    ((5, 2), [0.0, 0.0])
    """
    n_layers = check_int(n_points, "n_points", 2) - 1
    dim = check_int(dim, "dim")
    path = weight_path(brownian_weights(n_layers, shape=(dim,), seed=seed), "increments")
    path *= np.sqrt(dim)
    return path
