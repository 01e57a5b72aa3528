"""Slow, obviously correct references. Pure numpy and itertools: no Numba, no streamrough.

Every fast path in the library is tested against these on small inputs. Each function
follows its definition in ``shared design math.md`` literally; none is optimised.
"""

from __future__ import annotations

import itertools
import math

import numpy as np


def _as_points(x):
    x = np.asarray(x, dtype=np.float64)
    return x.reshape(len(x), -1)


def norm(v, kind="euclidean"):
    """Norm of a flat vector: "euclidean" (Frobenius for matrices), "l1" or "linf"."""
    v = np.ravel(v)
    if kind == "euclidean":
        return float(np.sqrt(np.sum(v * v)))
    if kind == "l1":
        return float(np.sum(np.abs(v)))
    if kind == "linf":
        return float(np.max(np.abs(v))) if v.size else 0.0
    raise ValueError(kind)


def row_norms(v, kind="euclidean"):
    """`norm` of every row of a 2-d array."""
    if kind == "euclidean":
        return np.sqrt(np.sum(v * v, axis=1))
    if kind == "l1":
        return np.sum(np.abs(v), axis=1)
    if kind == "linf":
        return np.max(np.abs(v), axis=1) if v.shape[1] else np.zeros(len(v))
    raise ValueError(kind)


def partitions(s, t):
    """All partitions s = t_0 < t_1 < ... < t_m = t of the integers s..t (2^(t-s-1) of them)."""
    inner = range(s + 1, t)
    for r in range(len(inner) + 1):
        for chosen in itertools.combinations(inner, r):
            yield (s, *chosen, t)


def pvar_brute(x, p, norm_kind="euclidean", s=0, t=None):
    """V_p(x; s, t) by enumerating every partition (N <= 12 or so)."""
    x = _as_points(x)
    t = len(x) - 1 if t is None else t
    if t == s:
        return 0.0
    return max(
        sum(norm(x[b] - x[a], norm_kind) ** p for a, b in zip(part, part[1:]))
        for part in partitions(s, t)
    )


def pvar_weight_brute(omega, s, t):
    """max over partitions of sum omega(t_i, t_{i+1}) for a two-index weight function."""
    if t == s:
        return 0.0
    return max(sum(omega(a, b) for a, b in zip(part, part[1:])) for part in partitions(s, t))


def pvar_dp(x, p, norm_kind="euclidean"):
    """The exact O(N^2) dynamic programme of math.md 2.1.

    Returns
    -------
    pv : ndarray, shape (N,)
        Running values V_p(x; 0, j).
    partition : list of int
        An optimal partition of [0, N-1], found by following the argmax links back.
    """
    x = _as_points(x)
    n = len(x)
    pv = np.zeros(n)
    link = np.zeros(n, dtype=int)
    for j in range(1, n):
        cands = pv[:j] + row_norms(x[j] - x[:j], norm_kind) ** p  # candidates i = 0 .. j - 1
        link[j] = int(np.argmax(cands))  # the first maximum, as a scan over i would take
        pv[j] = cands[link[j]]
    part = [n - 1]
    while part[-1] != 0:
        part.append(int(link[part[-1]]))
    return pv, part[::-1]


def partition_sum(x, p, partition, norm_kind="euclidean"):
    """sum over consecutive partition points of |x_b - x_a|^p."""
    x = _as_points(x)
    return float(sum(norm(x[b] - x[a], norm_kind) ** p for a, b in zip(partition, partition[1:])))


def sample_path(rng, n, d, kind):
    """A random (n, d) path of one kind: "walk" (Gaussian random walk), "int" (integer walk:
    ties everywhere), "repeat" (a walk with repeated points) or "iid" (no structure)."""
    if kind == "walk":
        return np.cumsum(rng.standard_normal((n, d)), axis=0)
    if kind == "int":
        return np.cumsum(rng.integers(-2, 3, size=(n, d)), axis=0).astype(float)
    if kind == "repeat":
        base = np.cumsum(rng.standard_normal((n, d)), axis=0)
        return base[np.sort(rng.integers(0, n, size=n))]
    if kind == "iid":
        return rng.standard_normal((n, d))
    raise ValueError(kind)


# one-dimensional paths (the same definitions on plain floats, fast enough for many cases)


def pvar_brute_1d(x, p):
    """V_p of a 1-d path by enumerating every partition, with Python floats (N <= 14 or so)."""
    x = [float(v) for v in np.ravel(x)]
    if len(x) == 1:
        return 0.0
    return max(
        sum(abs(x[b] - x[a]) ** p for a, b in zip(part, part[1:]))
        for part in partitions(0, len(x) - 1)
    )


def pvar_dp_1d(x, p):
    """The DP of math.md 2.1 for a 1-d path, all candidates i < j of one step at once.

    Returns the running values pv (shape (N,)); pv[-1] = V_p.
    """
    x = np.ravel(np.asarray(x, dtype=np.float64))
    pv = np.zeros(len(x))
    for j in range(1, len(x)):
        pv[j] = np.max(pv[:j] + np.abs(x[j] - x[:j]) ** p)
    return pv


# rough paths


def level2_brute(x, s, t, lift="iterated"):
    """Level 2 of the lift over [s, t] by explicit double sums of the increments a_i.

    "iterated": XX_{s,t} = sum_{s <= i < k < t} a_i (x) a_k;
    "geometric": XX_{s,t} + (1/2) sum_{s <= i < t} a_i (x) a_i.
    """
    x = _as_points(x)
    a = np.diff(x, axis=0)
    d = x.shape[1]
    out = np.zeros((d, d))
    for i in range(s, t):
        for k in range(i + 1, t):
            out += np.outer(a[i], a[k])
        if lift == "geometric":
            out += 0.5 * np.outer(a[i], a[i])
    return out


def pvar_level2_brute(x, p, lift="iterated", y=None):
    """V_{p/2}(XX) (or of XX - YY when y is given): max over every partition of
    sum |XX_{t_i,t_{i+1}} - YY_{t_i,t_{i+1}}|^(p/2), XX from explicit double sums."""
    x = _as_points(x)
    n = len(x)

    def omega(a, b):
        v = level2_brute(x, a, b, lift)
        if y is not None:
            v = v - level2_brute(y, a, b, lift)
        return norm(v) ** (p / 2)

    return pvar_weight_brute(omega, 0, n - 1)


def level2_partition_sum(x, p, partition, lift="iterated", y=None):
    """sum over consecutive partition points of |XX_{a,b} (- YY_{a,b})|^(p/2), double sums."""
    total = 0.0
    for a, b in zip(partition, partition[1:]):
        v = level2_brute(x, a, b, lift)
        if y is not None:
            v = v - level2_brute(y, a, b, lift)
        total += norm(v) ** (p / 2)
    return float(total)


# Gram route (matrix-valued weight paths)


def interval_level2_tensors(x, lift="iterated"):
    """Every level-2 tensor of the path x: out[s][t] = XX_{s,t} (D x D), for s <= t.

    The double sum of the definition, with the inner sum grouped:
    XX_{s,t} = sum_{s<=j<t} (sum_{s<=i<j} a_i + h a_j) (x) a_j, h = 0 (iterated) or 1/2
    (geometric: adds (1/2) sum_j a_j (x) a_j). Memory N^2 D^2: small paths only.
    """
    x = _as_points(x)
    a = np.diff(x, axis=0)
    n, d = len(x), x.shape[1]
    h = 0.5 if lift == "geometric" else 0.0
    out = [[None] * n for _ in range(n)]
    for s in range(n):
        total = np.zeros((d, d))
        inner = np.zeros(d)  # sum_{s<=i<j} a_i
        out[s][s] = total.copy()
        for j in range(s, n - 1):
            total = total + np.outer(inner + h * a[j], a[j])
            inner = inner + a[j]
            out[s][j + 1] = total
    return out


def level_norm_matrices(x, lift="iterated", y=None):
    """Matrices n1[s, t] = |x_{s,t}| and n2[s, t] = |XX_{s,t}| (s < t) of the path x, or of
    x - y and XX - YY when y is given, from explicit D x D tensors."""
    x = _as_points(x)
    n = len(x)
    xx = interval_level2_tensors(x, lift)
    yy = None if y is None else interval_level2_tensors(y, lift)
    z = x if y is None else x - _as_points(y)
    n1 = np.zeros((n, n))
    n2 = np.zeros((n, n))
    for s in range(n):
        for t in range(s + 1, n):
            n1[s, t] = norm(z[t] - z[s])
            n2[s, t] = norm(xx[s][t] if yy is None else xx[s][t] - yy[s][t])
    return n1, n2


def weight_matrix_dp(omega):
    """max over partitions of [0, n-1] of sum omega[t_i, t_{i+1}] by the DP of math.md 2.1,
    for any non-negative weight matrix (upper triangle used). Returns (value, partition)."""
    omega = np.asarray(omega, dtype=np.float64)
    n = len(omega)
    pv = np.zeros(n)
    link = np.zeros(n, dtype=int)
    for j in range(1, n):
        cands = pv[:j] + omega[:j, j]
        link[j] = int(np.argmax(cands))
        pv[j] = cands[link[j]]
    part = [n - 1]
    while part[-1] != 0:
        part.append(int(link[part[-1]]))
    return float(pv[-1]), part[::-1]


# signatures


def _tensor(vectors, d):
    """a_1 (x) ... (x) a_k as an array of shape (d,) * k (the scalar 1 when k = 0)."""
    out = np.ones(())
    for v in vectors:
        out = np.multiply.outer(out, v)
    return out.reshape((d,) * len(vectors))


def sig_levels_brute(x, depth, lift="geometric"):
    """Levels 1..depth of the signature of the points x (N, d), as arrays of shape (d,) * k.

    "iterated": level k = sum over i_1 < ... < i_k of a_{i_1} (x) ... (x) a_{i_k}.
    "geometric": the iterated integral int_{t_1 < ... < t_k} dx_{t_1} (x) ... (x) dx_{t_k} of
    the piecewise-linear path; on segments i_1 <= ... <= i_k (the simplex split by which
    segment each t_j falls in) it is a_{i_1} (x) ... (x) a_{i_k} / prod_m (multiplicity of
    segment m)!, since the ordered times inside one segment fill a simplex of volume 1/r!.
    """
    x = _as_points(x)
    a = np.diff(x, axis=0)
    d = x.shape[1]
    levels = []
    for k in range(1, depth + 1):
        total = np.zeros((d,) * k)
        if lift == "iterated":
            words = itertools.combinations(range(len(a)), k)
        else:
            words = itertools.combinations_with_replacement(range(len(a)), k)
        for idx in words:
            weight = 1.0
            for m in set(idx):
                weight /= math.factorial(idx.count(m))  # exact (an int64 product overflows past 20!)
            total = total + weight * _tensor([a[i] for i in idx], d)
        levels.append(total)
    return levels


def sig_flat(levels):
    """Levels (arrays of shape (d,) * k) -> the flat layout of iisignature (no scalar term)."""
    return np.concatenate([np.ravel(lv) for lv in levels])


def sig_brute(x, depth, lift="geometric"):
    """Flat signature of the points x by explicit iterated sums / integrals."""
    return sig_flat(sig_levels_brute(x, depth, lift))


def sig_unflat(s, d, depth):
    """Flat signature -> list of levels of shape (d,) * k."""
    s = np.asarray(s, dtype=np.float64)
    out, start = [], 0
    for k in range(1, depth + 1):
        out.append(s[start : start + d**k].reshape((d,) * k))
        start += d**k
    return out


def tensor_mul_brute(p, q, d, depth):
    """Truncated tensor product of flat p and q (scalar terms 1 implicit, not stored):
    level k = p_k + q_k + sum_{j=1}^{k-1} p_j (x) q_{k-j}."""
    pl, ql = sig_unflat(p, d, depth), sig_unflat(q, d, depth)
    out = []
    for k in range(1, depth + 1):
        total = pl[k - 1] + ql[k - 1]
        for j in range(1, k):
            total = total + np.multiply.outer(pl[j - 1], ql[k - j - 1])
        out.append(total)
    return sig_flat(out)


def level2_double_sum(x, s, t, lift="iterated"):
    """Level 2 over [s, t] by the double sum of its definition:
    sum_{s <= i < j < t} a_i (x) a_j (+ (1/2) sum_{s <= i < t} a_i (x) a_i if geometric)."""
    a = np.diff(_as_points(x), axis=0)
    d = a.shape[1]
    total = np.zeros((d, d))
    for j in range(s, t):
        for i in range(s, j):
            total = total + np.outer(a[i], a[j])
        if lift == "geometric":
            total = total + 0.5 * np.outer(a[j], a[j])
    return total


NAIVE_ACTIVATIONS = {
    "tanh": (np.tanh, lambda z: 1.0 - np.tanh(z) ** 2),
    "sigmoid": (lambda z: 1.0 / (1.0 + np.exp(-z)), lambda z: np.exp(-z) / (1.0 + np.exp(-z)) ** 2),
    "softplus": (lambda z: np.log1p(np.exp(z)), lambda z: 1.0 / (1.0 + np.exp(-z))),
    "relu": (lambda z: np.maximum(z, 0.0), lambda z: (z > 0).astype(float)),
}


def resnet_forward(weights, h0, form="bft", activation="tanh", bias=None, delta=None):
    """One input through the layers, written from the definitions:
    bft  h <- h + W_k sigma(h) + b_k;  ccrx  h <- h + delta_k sigma(A_k h + b_k).
    Returns every state h_0..h_L (L+1, d)."""
    sig = NAIVE_ACTIVATIONS[activation][0]
    h = np.array(h0, dtype=float)
    states = [h.copy()]
    for k, w in enumerate(weights):
        b = 0.0 if bias is None else bias[k]
        if form == "bft":
            h = h + w @ sig(h) + b
        else:
            dk = delta if np.ndim(delta) == 0 else delta[k]
            h = h + dk * sig(w @ h + b)
        states.append(h.copy())
    return np.array(states)
