"""Squared level-1 and level-2 norms of every interval of one path, by a dyadic tree (math.md 5).

The same numbers as ``streamrough._kernels.gram.interval_norms_sq`` with one channel (R = 1),
in O(n^2) scalar work plus about n^3 / 6 multiply-adds in dense matrix products (BLAS)
instead of ~n^3 / 3 scalar multiply-adds: at the node m of half-width w, the intervals
[s, t) with m - w <= s < m < t <= m + w are split by Chen's relation into the level 2 of
[s, m) and [m, t) (computed before, at the children), a product of level-1 norms, an O(w^2)
cross term and two triangular matrix products, one over the left half and one over the right
(``streamrough._kernels.gram_tree`` has the algebra). Nodes up to half-width
``small_half`` run entirely in Numba (``small_nodes``); above it, the tables of every node of
one level are built in one Numba launch (``level_tables``) and the products run through
numpy's matmul in strips of ``strip`` starts (or ends), skipping the zero triangles strip by
strip.

When the increments themselves are at hand (``rough_pvar`` on layers of D entries), nodes of
half-width w >= ``feature_ratio`` * D replace the two products by products over the layers
(``_feature_products``: about 3 w^2 D multiply-adds instead of w^3; at L = 4096, D = 256 the
top node costs 3.2e9 instead of 8.6e9, at L = 16,384 the tree as a whole about 1e11 instead of
7e11).

Threads: ``level_tables`` is a twin (``launch``: serial for jobs = 1), parallel over the
nodes of a level and over two halves of each node's work, so that the single top node also
uses two threads; the other Numba kernels are serial. The products use the BLAS library's
own threads; when ``threadpoolctl`` is importable they are limited to `jobs` for the call
(BLAS thread limits
are process-wide, not per thread), otherwise the BLAS default applies (set
``OPENBLAS_NUM_THREADS`` / ``OMP_NUM_THREADS`` / ``MKL_NUM_THREADS`` to bound it).

Memory: four w x w float64 tables per node of one level (nodes * w^2 <= (n / 2)^2 at every
level: about n^2 float64 in all) and one strip of w x ``strip``, on top of the two
(n + 1)^2 outputs.

Precision: every sum is anchored at the node's midpoint m or at the interval's own end, so
rounding errors are relative to the scale of the interval, as on the reference route; the two
routes agree to about 1e-13 relative on the intervals that do not nearly cancel (the tests
compare every interval).
"""

from __future__ import annotations

import contextlib

import numpy as np

from . import _config
from ._parallel import launch


def _blas_threads(jobs: int):
    """A context limiting the BLAS threads to `jobs` (threadpoolctl, if installed), else a no-op."""
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:
        return contextlib.nullcontext()
    return threadpool_limits(limits=jobs, user_api="blas")


def tree_interval_norms(G: np.ndarray, h: float, sq1: np.ndarray, sq2: np.ndarray, *, small_half: int, strip: int,
                        jobs: int, features=None, feature_ratio: float = _config.GRAM_TREE_FEATURE_RATIO) -> None:
    """Fill ``sq1[t, s] = |X_{s,t}|^2`` and ``sq2[t, s] = |Gamma_{s,t}|^2`` for all s < t.

    Parameters
    ----------
    G : float64 array, shape (n, n), C-contiguous
        Symmetric Gram matrix of the increments.
    h : float
        0.0 (iterated sums) or 0.5 (geometric lift).
    sq1, sq2 : float64 arrays, shape (n + 1, n + 1), written in place
        Lower triangle (row = end point), clamped at 0; other entries are untouched.
    small_half : int >= 1
        Nodes of half-width up to this run in Numba loops; larger ones use BLAS products.
    strip : int >= 1
        Width of the strips of starts (ends) of the products.
    jobs : int >= 1
        Threads the BLAS products may use (see the module notes).
    features : float64 array, shape (n, D), optional
        The increments themselves (``G = features @ features.T``), converted to float64 here
        once if they are not already (the nodes then slice it without copies). Nodes of half-width
        ``w >= feature_ratio * D`` then take their cubic part through the features
        (:func:`_feature_products`: about 3 w^2 D multiply-adds instead of w^3).
    feature_ratio : float
        See `features` (0: every node above the small ones goes through the features).

    Examples
    --------
    >>> import numpy as np
    >>> a = np.array([[1.0, 0.0], [0.0, 1.0], [1.0, 0.0]])
    >>> sq1 = np.zeros((4, 4)); sq2 = np.zeros((4, 4))
    >>> tree_interval_norms(a @ a.T, 0.0, sq1, sq2, small_half=1, strip=8, jobs=1)
    >>> float(sq1[3, 0]), float(sq2[3, 0])   # x = (2, 1); XX = e1(x)e2 + e1(x)e1 + e2(x)e1
    (5.0, 3.0)
    """
    from ._kernels import gram_tree as kernels

    n = G.shape[0]
    if features is not None:
        features = np.asarray(features, dtype=np.float64)
    kernels.leaves(G, h, sq1, sq2)
    kernels.small_nodes(G, h, sq1, sq2, small_half)
    w = 1
    while w <= small_half:
        w *= 2
    if w >= n:
        return
    top = 1 << ((n - 1).bit_length() - 1)  # the largest half-width of a node (a power of 2 < n)
    # the tables of every node of one level: nodes * w^2 <= top * w <= top^2 per table
    tables = np.empty((4, top * top))
    scratch = np.empty(min(strip, top) * top)
    with _blas_threads(jobs):
        while w < n:
            launch(kernels.level_tables, jobs, G, h, w, sq1, sq2, tables)
            by_features = features is not None and w >= feature_ratio * features.shape[1]
            for k, m in enumerate(range(w, n, 2 * w)):
                hi = min(m + w, n)
                nr = hi - m
                alpha, gamt, pt, dd = (t[k * w * w : (k + 1) * w * w].reshape(w, w) for t in tables)
                out = sq2[m + 1 : hi + 1, m - w : m]
                if by_features:
                    _feature_products(features, h, m - w, m, hi, alpha, dd[:nr, :nr], out, strip, scratch)
                else:
                    _products(alpha, gamt[:nr], pt[:nr], dd[:nr, :nr], out, strip, scratch)
            w *= 2


def _products(alpha, gamt, pt, dd, out, strip: int, scratch: np.ndarray) -> None:
    """``out[t, s] = max(out[t, s] + (pt @ alpha.T)[t, s] + (dd @ gamt)[t, s], 0)``.

    ``alpha[s, j]`` vanishes for j < s and ``dd[t, l]`` for l > t, so the first product runs
    by column strips of `strip` starts (a strip from start ``a`` needs only the columns j >= a
    of `pt`) and the second by row strips of `strip` ends (ends below ``d`` need only l < d).
    Strips rather than square tiles: BLAS runs long products much faster (measured 2x at
    w = 2048). `scratch` holds one strip.
    """
    nl = alpha.shape[0]
    nr = gamt.shape[0]
    for a in range(0, nl, strip):
        b = min(a + strip, nl)
        part = scratch[: nr * (b - a)].reshape(nr, b - a)
        np.matmul(pt[:, a:], alpha[a:b, a:].T, out=part)
        out[:, a:b] += part
    for c in range(0, nr, strip):
        d = min(c + strip, nr)
        part = scratch[: (d - c) * nl].reshape(d - c, nl)
        np.matmul(dd[c:d, :d], gamt[:d], out=part)
        rows = out[c:d]
        rows += part
        np.maximum(rows, 0.0, out=rows)  # rows c:d are final: clamp them while they are in cache


def _feature_products(a, h: float, lo: int, m: int, hi: int, alpha, dd, out, strip: int, scratch: np.ndarray) -> None:
    """The same update of `out` as :func:`_products`, through the increments ``a`` (n, D, float64).

    ``2 T5 = sum_j alpha[s, j] <a_j, V_t> = <r_s, V_t>`` with ``r_s = sum_j alpha[s, j] a_j``,
    and ``2 T6 = 2 <B_t, U_s (x) V_t> = <U_s, 2 q_t>`` with
    ``q_t = sum_{m<=l<t} <a_l, V_t> mu_{m,l} = sum_l dd[t, l] mu_{m,l}`` (the Gamma of the
    right child contracted with V_t on its second factor). So the two triangular products of
    w^3 / 2 each become ``[V | 2 q] @ [r | U]^T`` over 2D features (w^2 2D) plus the two
    triangular products that build r and q (w^2 D / 2 each): about 3 w^2 D multiply-adds,
    fewer when the layers are narrower than w / 3. U and V are anchored at m, like the tables.
    """
    left = a[lo:m]
    right = a[m:hi]
    dim = left.shape[1]
    nl = m - lo
    nr = right.shape[0]
    rhs = np.empty((nl, 2 * dim))  # [r_s | U_s]
    for c in range(0, nl, strip):  # alpha[s, j] = 0 for j < s
        d = min(c + strip, nl)
        np.matmul(alpha[c:d, c:], left[c:], out=rhs[c:d, :dim])
    np.cumsum(left[::-1], axis=0, out=rhs[::-1, dim:])  # U_s = a_s + ... + a_{m-1}
    lhs = np.empty((nr, 2 * dim))  # [V_t | 2 q_t]
    np.cumsum(right, axis=0, out=lhs[:, :dim])  # V_t = a_m + ... + a_{t-1}, t = m + 1 + row
    mu = np.multiply(right, 2.0 * h)  # 2 mu_{m,l} = 2 (X_{m,l} + h a_l)
    mu[1:] += 2.0 * lhs[:-1, :dim]
    for c in range(0, nr, strip):  # dd[t, l] = 0 for l > t
        d = min(c + strip, nr)
        np.matmul(dd[c:d, :d], mu[:d], out=lhs[c:d, dim:])
    for c in range(0, nr, strip):
        d = min(c + strip, nr)
        part = scratch[: (d - c) * nl].reshape(d - c, nl)
        np.matmul(lhs[c:d], rhs.T, out=part)
        rows = out[c:d]
        rows += part
        np.maximum(rows, 0.0, out=rows)
