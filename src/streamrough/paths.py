"""Weight sequences of residual networks as paths (math.md section 1).

A network with per-layer parameters ``W_0, ..., W_{L-1}`` is turned into a path in one of
two conventions, and every result records which:

``"increments"`` (default, the seed paper's)
    ``x_0 = 0, x_k = W_0 + ... + W_{k-1}`` for ``k = 0..L``: ``L + 1`` points whose
    increments are the weights. The network is a difference equation driven by ``x``.
``"values"`` (Cohen-Cont-Rossier-Xu)
    ``x_k = W_k`` for ``k = 0..L-1``: the weights as a function of depth.
"""

from __future__ import annotations

import numpy as np

from ._validation import as_path, check_choice

__all__ = ["CONVENTIONS", "weight_path", "brownian_weights"]

CONVENTIONS = ("increments", "values")


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


def brownian_weights(depth: int, width: int = 16, *, seed=0, shape=None) -> np.ndarray:
    """Brownian-scaled residual weights: i.i.d. Gaussian layers of Frobenius norm about ``depth**-0.5``.

    ``W_k = Z_k / (width * sqrt(depth))`` with ``Z_k`` standard Gaussian ``width x width``,
    so ``E|W_k|_F^2 = 1 / depth`` and the increments-convention path is a discretised
    Brownian motion on [0, 1] (in ``width**2`` dimensions, total variance 1).

    Parameters
    ----------
    depth : int
        Number of layers ``L >= 1``.
    width : int
        Layer width ``m``; each weight is ``m x m`` unless `shape` is given.
    seed : int or numpy.random.Generator
    shape : tuple of int, optional
        Shape of one layer (default ``(width, width)``).

    Returns
    -------
    ndarray, shape (depth, *shape), float64
    """
    if int(depth) != depth or depth < 1:
        raise ValueError(f"depth must be a positive integer, got {depth!r}")
    layer_shape = (width, width) if shape is None else tuple(shape)
    size = int(np.prod(layer_shape))
    if size < 1:
        raise ValueError(f"a layer must have at least one entry, got shape {layer_shape}")
    rng = np.random.default_rng(seed)
    return rng.standard_normal((int(depth), *layer_shape)) / np.sqrt(size * depth)
