"""Residual-network steps over a chunk of layers (math.md 6), serial and nogil.

Activation codes: 0 tanh, 1 sigmoid, 2 softplus, 3 relu. Both forms update a batch of
states ``h`` (B, d) in place and, when ``jac`` has a batch axis of length B, the Jacobians
``J = dh_k / dh_0`` (B, d, d) in place:

    BFT   h <- h + W sigma(h) + b             J <- J + W diag(sigma'(h)) J
    CCRX  h <- h + delta sigma(A h + b)       J <- J + delta diag(sigma'(A h + b)) A J

(the derivative is taken at the state before the update).  ``b`` has length 0 along its
layer axis when there is no bias.
"""

from __future__ import annotations

import math

import numpy as np

from ._jit import jit


@jit
def activation(z, code):
    if code == 0:
        return math.tanh(z)
    if code == 1:
        if z >= 0.0:
            return 1.0 / (1.0 + math.exp(-z))
        e = math.exp(z)
        return e / (1.0 + e)
    if code == 2:  # softplus, overflow-safe: max(z, 0) + log1p(exp(-|z|))
        return max(z, 0.0) + math.log1p(math.exp(-abs(z)))
    return max(z, 0.0)


@jit
def activation_derivative(z, code):
    if code == 0:
        t = math.tanh(z)
        return 1.0 - t * t
    if code == 1 or code == 2:  # softplus' = sigmoid
        s = activation(z, 1)
        return s * (1.0 - s) if code == 1 else s
    return 1.0 if z > 0.0 else 0.0


@jit
def bft_chunk(h, jac, weights, bias, code):
    """Layers ``weights`` (n, d, d) applied to states ``h`` (B, d): BFT form."""
    n_batch, d = h.shape
    with_jac = jac.shape[0] == n_batch
    s = np.empty(d)
    ds = np.empty(d)
    tmp = np.empty((d, d))
    for k in range(weights.shape[0]):
        w = weights[k]
        for b in range(n_batch):
            for i in range(d):
                s[i] = activation(h[b, i], code)
                ds[i] = activation_derivative(h[b, i], code)
            for i in range(d):
                acc = 0.0
                for j in range(d):
                    acc += w[i, j] * s[j]
                if bias.shape[0] > 0:
                    acc += bias[k, i]
                h[b, i] += acc
            if with_jac:
                # tmp = W diag(ds) J, then J += tmp
                for i in range(d):
                    for c in range(d):
                        acc = 0.0
                        for j in range(d):
                            acc += w[i, j] * ds[j] * jac[b, j, c]
                        tmp[i, c] = acc
                for i in range(d):
                    for c in range(d):
                        jac[b, i, c] += tmp[i, c]


@jit
def ccrx_chunk(h, jac, weights, bias, delta, code):
    """Layers ``A = weights`` (n, d, d), scalars ``delta`` (n,): CCRX form."""
    n_batch, d = h.shape
    with_jac = jac.shape[0] == n_batch
    z = np.empty(d)
    tmp = np.empty((d, d))
    for k in range(weights.shape[0]):
        a = weights[k]
        dk = delta[k]
        for b in range(n_batch):
            for i in range(d):
                acc = 0.0
                for j in range(d):
                    acc += a[i, j] * h[b, j]
                if bias.shape[0] > 0:
                    acc += bias[k, i]
                z[i] = acc
            if with_jac:
                # tmp = delta diag(sigma'(z)) A J, then J += tmp
                for i in range(d):
                    g = dk * activation_derivative(z[i], code)
                    for c in range(d):
                        acc = 0.0
                        for j in range(d):
                            acc += a[i, j] * jac[b, j, c]
                        tmp[i, c] = g * acc
                for i in range(d):
                    for c in range(d):
                        jac[b, i, c] += tmp[i, c]
            for i in range(d):
                h[b, i] += dk * activation(z[i], code)
