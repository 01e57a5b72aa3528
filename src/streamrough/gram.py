"""Rough-path p-variation of wide layers from Gram matrices (math.md section 5).

For a weight path of width-m layers, D = m^2 and a level-2 tensor has D^2 entries per
interval (m = 64: 16.8 million). None is ever built here: level 1 and level 2 of every
interval are functions of the L x L Gram matrix of the layers, so the cost is one GEMM
(O(L^2 D), chunked over the feature axis), the squared level-2 norms of all intervals (for
one path: a dyadic tree, O(L^2) scalar work and ~L^3 / 6 multiply-adds in BLAS matrix
products, see ``streamrough._gram_tree``, or ~3 w^2 D at its nodes of half-width w >= 6 D when
``rough_pvar`` passes the layers; for the difference of two paths: an O(L^3) running
recursion), and the exact dynamic programme (math.md 2.1) in O(L^2) per exponent, in O(L^2)
memory throughout.

Conventions (math.md 1): with ``convention="increments"`` the Gram describes the increments
a_k = W_k of the path x_k = W_0 + ... + W_{k-1} (L + 1 points); with ``"values"`` it is the
Gram K of the points x_k = W_k (L points).

Precision: the squared norms of an interval [s, t) are accumulated in float64 by running
sums that start at s or, on the tree route, at a point inside [s, t] (not by differences of
prefix sums from 0, which would lose a further
eps |x|^2 / |x_{s,t}|^2), so their absolute error is of order eps times the sum of |G_ik|
over the block [s, t)^2. Intervals over which the path nearly returns to where it started
therefore have a larger relative error (measured: 2e-8 on squared level-1 norms of an
alternating path with 1e-3 noise, L = 400); the Gram entries themselves carry that much
information and no more. In the ``"values"`` convention the increment Gram
is a second difference of K, which loses the relative accuracy eps |x|^2 / |a|^2 when the
layers share a large common part. There, for full accuracy, pass the Gram of the layer
differences ``W_{k+1} - W_k`` with ``convention="increments"``: the path is the same up to a
translation, so level 1 and level 2 are identical.
"""

from __future__ import annotations

import math

import numpy as np

from . import _config
from ._parallel import launch, resolve_n_jobs
from ._validation import _as_numeric_array, as_p_values, check_choice, check_int
from .paths import CONVENTIONS, LIFTS
from .results import RoughDistanceResult, RoughResult, collect, rough_result

__all__ = [
    "layer_gram",
    "gram_rough_pvar",
    "gram_rough_distance",
    "random_projection",
]



# ------------------------------------------------------------------------------------------
# input checks


def _as_layers(weights, name: str):
    """Weights as an (L, D) array-like (a view when possible), without converting the dtype."""
    w = _as_numeric_array(weights, name, keep_array_like=True)
    if w.ndim == 0:
        raise ValueError(f"{name} must have a layer axis (axis 0), got a scalar")
    if w.shape[0] == 0:
        raise ValueError(f"{name} is empty: it needs at least one layer")
    if w.ndim == 1:
        w = w.reshape(w.shape[0], 1)
    elif w.ndim > 2:
        w = w.reshape(w.shape[0], -1)
    if w.shape[1] == 0:
        raise ValueError(f"{name} has layers with no entries")
    return w


def _float64_chunk(chunk, name: str, row0: int = 0, col0: int = 0) -> np.ndarray:
    """One 2-d chunk as float64 (converted here, chunk by chunk), checked for NaN/inf.

    `row0`, `col0`: position of the chunk in the (L, D) array, for the error message.
    """
    arr = np.asarray(chunk, dtype=np.float64)
    if not np.isfinite(arr).all():
        i, k = np.argwhere(~np.isfinite(arr))[0]
        raise ValueError(f"{name} contains NaN or inf (layer {int(i) + row0}, flat entry {int(k) + col0})")
    return arr


def _check_chunk_size(chunk_size, n_rows: int) -> int:
    if chunk_size is None:
        return max(1, _config.GRAM_CHUNK_ENTRIES // max(n_rows, 1))
    return check_int(chunk_size, "chunk_size")


def _as_gram(gram, name: str, *, symmetric: bool) -> np.ndarray:
    """A checked float64 C-contiguous square matrix (no copy if it already is one)."""
    g = _as_numeric_array(gram, name, keep_array_like=True)
    if g.ndim != 2 or g.shape[0] != g.shape[1]:
        raise ValueError(f"{name} must be a square (L, L) matrix, got shape {g.shape}")
    if g.shape[0] == 0:
        raise ValueError(f"{name} is empty: it needs at least one layer")
    g = np.ascontiguousarray(g, dtype=np.float64)
    if not np.isfinite(g).all():
        i, k = np.argwhere(~np.isfinite(g))[0]
        raise ValueError(f"{name} contains NaN or inf (first at index {(int(i), int(k))})")
    if symmetric:
        if (np.diagonal(g) < 0).any():
            raise ValueError(f"{name} has a negative diagonal entry: it is not a Gram matrix")
        asymmetry = float(np.max(np.abs(g - g.T)))
        if asymmetry > 1e-10 * float(np.max(np.diagonal(g))):
            raise ValueError(f"{name} is not symmetric: it is not a Gram matrix")
        if asymmetry > 0:  # rounding only: make it exactly symmetric (an L x L copy)
            g = (g + g.T) * 0.5
    return g


def _check_lift_convention(lift, convention) -> float:
    check_choice(lift, "lift", LIFTS)
    check_choice(convention, "convention", CONVENTIONS)
    return 0.5 if lift == "geometric" else 0.0


# ------------------------------------------------------------------------------------------
# Gram matrices


def layer_gram(weights, other=None, *, chunk_size=None) -> np.ndarray:
    """Gram matrix of flattened layers, ``G[i, k] = <W_i, V_k>`` (Frobenius), in float64.

    Computed as a sum of partial GEMMs over chunks of the feature axis,
    ``G = sum_c W[:, c] V[:, c]^T``, so that only one chunk at a time is converted to
    float64 (a float32 input is never copied whole) and so that a chunked (dask) array can
    be passed: each chunk is materialised with ``numpy.asarray`` in turn.

    Parameters
    ----------
    weights : array_like, shape (L, m1, m2, ...) or (L, D)
        One layer per entry of axis 0; trailing axes are flattened row-major.
    other : array_like, shape (L2, ...), optional
        A second sequence with layers of the same size D; then the cross Gram
        ``<W_i, V_k>`` of shape (L, L2) is returned. Default: ``other = weights``.
    chunk_size : int, optional
        Number of flattened features per partial GEMM. Default: about 2 million float64
        entries (16 MB) per chunk (the whole feature axis when L * D is smaller).

    Returns
    -------
    ndarray, shape (L, L) or (L, L2), float64

    Raises
    ------
    ValueError
        Empty or NaN/inf input, layers of different sizes, bad `chunk_size`.
    TypeError
        Non-numeric or complex input.

    Examples
    --------
    >>> import numpy as np
    >>> w = np.arange(8.0).reshape(2, 2, 2)
    >>> layer_gram(w).tolist()
    [[14.0, 38.0], [38.0, 126.0]]
    """
    w = _as_layers(weights, "weights")
    v = None if other is None else _as_layers(other, "other")
    if v is not None and v.shape[1] != w.shape[1]:
        raise ValueError(
            f"other has layers of {v.shape[1]} entries but weights has {w.shape[1]}: "
            "the layers must have the same size"
        )
    n_rows = w.shape[0] + (0 if v is None else v.shape[0])
    size = _check_chunk_size(chunk_size, n_rows)
    d = w.shape[1]
    out = None
    for c0 in range(0, d, size):
        c1 = min(c0 + size, d)
        wc = _float64_chunk(w[:, c0:c1], "weights", col0=c0)
        # the same object on both sides: numpy's matmul then runs BLAS syrk, whose result is
        # exactly symmetric (the Gram route relies on it, see _gram_rough_pvar)
        vc = wc if v is None else _float64_chunk(v[:, c0:c1], "other", col0=c0)
        if out is None:  # the first chunk's product is the sum so far: no L x L zeros to add to
            out = wc @ vc.T
        else:
            out += wc @ vc.T
    return out


def _second_difference(k: np.ndarray) -> np.ndarray:
    """Increment Gram from a point Gram: <x_{i+1} - x_i, y_{k+1} - y_k>.

    Grouped so that a symmetric `k` gives an exactly symmetric result.
    """
    return (k[1:, 1:] + k[:-1, :-1]) - (k[1:, :-1] + k[:-1, 1:])


def _point_distances_sq(k: np.ndarray, out: np.ndarray) -> None:
    """out[t, s] = |x_t - x_s|^2 = K_tt + K_ss - 2 K_st, clamped at 0 (whole matrix)."""
    diag = np.diagonal(k)
    np.multiply(k, -2.0, out=out)
    out += diag[:, None]
    out += diag[None, :]
    np.maximum(out, 0.0, out=out)


# ------------------------------------------------------------------------------------------
# p-variation of the level-1 and level-2 norm matrices


def _interval_norms(F, E, h: float, n_points: int, jobs: int, features=None):
    """Squared level-1 and level-2 norms of every interval (lower triangles of ``sq[0]``, ``sq[1]``).

    One path (one channel, ``F = E = G[None, None]``) of at least ``GRAM_TREE_MIN_N``
    increments takes the dyadic-tree route (``streamrough._gram_tree``: O(n^2) scalar work
    and ~n^3 / 6 multiply-adds in BLAS products); otherwise, and for the two-channel
    difference of :func:`gram_rough_distance`, the running recursion of
    ``_kernels.gram.interval_norms_sq`` (~n^3 / 3 scalar multiply-adds, parallel over starts).
    Both give the same values up to rounding. One (2, n_points, n_points) array, so that the
    DPs of both levels run in one launch (:func:`_pvar_of_squares`). `features`: the
    increments (n, D) of one path, if known; the tree route then runs its large nodes through
    them when that is cheaper (``GRAM_TREE_FEATURE_RATIO``).
    """
    sq = np.zeros((2, n_points, n_points))
    sq1, sq2 = sq
    if F.shape[0] == 1 and F.shape[2] >= _config.GRAM_TREE_MIN_N:
        from ._gram_tree import tree_interval_norms

        tree_interval_norms(F[0, 0], h, sq1, sq2, small_half=_config.GRAM_TREE_SMALL_HALF,
                            strip=_config.GRAM_TREE_STRIP, jobs=jobs, features=features,
                            feature_ratio=_config.GRAM_TREE_FEATURE_RATIO)
    else:
        from ._kernels import gram as kernels

        launch(kernels.interval_norms_sq, jobs, F, E, h, sq1, sq2, _config.GRAM_ROW_BLOCK, _config.GRAM_TASKS)
    return sq


def _pvar_of_squares(sq: np.ndarray, exponents: np.ndarray, want_partitions: bool, jobs: int):
    """Max over partitions of sum sq[k](t_i, t_{i+1}) ** e for each e in ``exponents[k]``.

    `sq` (shape (K, n, n), lower triangles) is only read. All K * P DPs run in one launch, the
    K matrices on parallel threads and the P exponents of one matrix together (they share its
    rows' block maxima and logs, ``_kernels.gram.dp_squares``). Returns values of shape
    (K, P) and, if wanted, partitions ``parts[k][a]``.
    """
    from ._kernels import gram as kernels
    from ._kernels.pvar import follow_links

    values = np.zeros(exponents.shape)
    links = np.zeros(exponents.shape + (sq.shape[1],), dtype=np.int64)
    launch(kernels.dp_squares, min(jobs, exponents.shape[0]), sq, exponents, values, links)
    parts = [[follow_links(row, row.shape[0] - 1) for row in level] for level in links] if want_partitions else None
    return values, parts


def _result(sq, p_values, scalar, return_partition, lift, convention, jobs, *, distance):
    """One RoughResult (RoughDistanceResult) of the squared interval norms of both levels."""
    n_points = sq.shape[1]
    (v1, v2), parts = _pvar_of_squares(sq, np.stack([p_values / 2.0, p_values / 4.0]), return_partition, jobs)
    parts1, parts2 = parts if return_partition else (None, None)
    results = [
        rough_result(
            p,
            (v1[a], v1[a] ** (1.0 / p), parts1[a] if return_partition else None),
            (v2[a], v2[a] ** (2.0 / p), parts2[a] if return_partition else None),
            distance=distance, lift=lift, convention=convention, route="gram", n_points=n_points,
        )
        for a, p in enumerate(p_values.tolist())
    ]
    return collect(RoughDistanceResult if distance else RoughResult, results, scalar)


def gram_rough_pvar(gram, p, *, lift="iterated", convention="increments", return_partition=False, n_jobs=None):
    """Exact level-1 and level-2 p-variation of a weight path given only its Gram matrix.

    With increments ``a_k`` of the path and ``G_ik = <a_i, a_k>``, every interval's norms are
    computed from `gram` (math.md 5): ``|x_{s,t}|^2 = sum_{i,k in [s,t)} G_ik`` and, for the
    iterated-sums lift ``XX_{s,t} = sum_{s<=i<j<t} a_i (x) a_j``, the recursion

        |XX_{s,t+1}|^2 = |XX_{s,t}|^2 + 2 sum_{s<=j<t} G_jt <x_{s,j}, x_{s,t}> + |x_{s,t}|^2 G_tt

    (geometric lift: ``XX + D/2``, ``D_{s,t} = sum_{s<=i<t} a_i (x) a_i``). Then the exact
    dynamic programme of math.md 2.1 runs over ``omega(s, t) = |x_{s,t}|^p`` (level 1) and
    ``|XX_{s,t}|^(p/2)`` (level 2) -- no triangle-inequality pruning, level 2 is not a
    metric. The same squared norms come, from 32 increments on, from Chen's relation at the
    midpoints of a dyadic tree, with the cubic part as BLAS matrix products (about L^3 / 6
    multiply-adds; ``streamrough._gram_tree``). Time O(L^3) + O(L^2) per exponent, memory
    O(L^2) (the tree's tables add about one L x L float64 matrix to the two outputs): the
    D^2-entry tensors are never formed. Norms are Frobenius (Euclidean on the flattened layers).

    Parameters
    ----------
    gram : array_like, shape (L, L)
        Symmetric Gram matrix of the layers ``W_0 .. W_{L-1}`` (e.g. :func:`layer_gram`).
    p : float or sequence of float
        Exponents, each >= 1.
    lift : {"iterated", "geometric"}
        Iterated sums (the residual network's own lift, default) or the geometric lift.
    convention : {"increments", "values"}
        ``"increments"``: the layers are the increments of ``x_k = W_0 + ... + W_{k-1}``
        (L + 1 points); ``"values"``: the layers are the points ``x_k = W_k`` (L points;
        the increment Gram is then the second difference of `gram`, and level 1 uses
        ``|x_t - x_s|^2 = K_tt + K_ss - 2 K_st``). See the module notes on precision.
    return_partition : bool
        Also compute optimal partitions (indices of the path's points); otherwise
        ``partition1`` and ``partition2`` are None.
    n_jobs : int or None
        Threads for the interval norms (the BLAS products of the tree route, limited through
        ``threadpoolctl`` when it is installed, else the BLAS default; the recursion's Numba
        threads below 32 increments) and the DP (parallel over exponents): None =
        ``numba.get_num_threads()`` in the main thread and 1 in any other thread (a Dask
        task); -1 = all of Numba's threads; 1 = serial kernels only. The same values for
        every `n_jobs` up to rounding (BLAS may sum in another order).

    Returns
    -------
    RoughResult
        The type :func:`streamrough.rough_pvar` returns (``route="gram"``): ``level1``,
        ``level2``, ``norm`` are norms, ``level1_power = V_p(x)`` and ``level2_power =
        V_{p/2}(XX)`` their p-th-power forms; floats for a single `p`, arrays of shape (P,)
        for a sequence.

    Raises
    ------
    ValueError
        Non-square, non-symmetric or NaN/inf `gram`, negative diagonal, p < 1, unknown `lift`
        or `convention`.

    Examples
    --------
    >>> import numpy as np
    >>> w = np.array([[1.0, 0.0], [0.0, 1.0]])  # two orthogonal unit steps
    >>> r = gram_rough_pvar(w @ w.T, 2)
    >>> round(r.level1_power, 12), round(r.level2_power, 12)   # |x_{0,2}|^2 = 2, |a_0 (x) a_1| = 1
    (2.0, 1.0)
    """
    g = _as_gram(gram, "gram", symmetric=True)
    return _gram_rough_pvar(g, p, lift=lift, convention=convention, return_partition=return_partition,
                            n_jobs=n_jobs)


def _gram_rough_pvar(g: np.ndarray, p, *, lift, convention, return_partition, n_jobs, features=None):
    """:func:`gram_rough_pvar` of a Gram matrix that needs no checks: float64, C-contiguous,
    finite, exactly symmetric, non-negative diagonal. ``rough_pvar``'s Gram route builds it so:
    :func:`layer_gram` of one layer sequence (its chunks checked for NaN/inf; syrk makes the
    result exactly symmetric) scaled to at most unit size (its entries cannot overflow). The
    checks of :func:`_as_gram` are several full passes over the L x L entries (measured: a
    sixth of such a call at L = 4096). `features`: with ``convention="increments"``, optionally
    the (L, D) layers whose Gram `g` is (:func:`_interval_norms`)."""
    p_values, scalar = as_p_values(p)
    h = _check_lift_convention(lift, convention)
    jobs = resolve_n_jobs(n_jobs)
    if convention == "increments":
        inc = g
        n_points = g.shape[0] + 1
    else:
        inc = _second_difference(g)
        n_points = g.shape[0]
    sq = _interval_norms(inc[None, None], inc[None, None], h, n_points, jobs, features)
    if convention == "values":
        _point_distances_sq(g, sq[0])
    return _result(sq, p_values, scalar, return_partition, lift, convention, jobs, distance=False)


def gram_rough_distance(
    gram_xx, gram_xy, gram_yy, p, *, lift="iterated", convention="increments", return_partition=False, n_jobs=None
):
    """Level-1 ``V_p(x - y)`` and level-2 ``V_{p/2}(XX - YY)`` of two weight paths from Gram blocks.

    The inhomogeneous rough-path distance of math.md 4 is
    ``rho_p(X, Y) = level1 + level2`` (the norms ``level1_power ** (1/p)`` and
    ``level2_power ** (2/p)``). With ``c = a - b`` the difference of
    the increments, the level-2 difference is accumulated as

        XX_{s,t+1} - YY_{s,t+1} = (XX_{s,t} - YY_{s,t}) + x_{s,t} (x) c_t + (x - y)_{s,t} (x) b_t

    (geometric lift: with the midpoints ``x_{s,t} + a_t / 2`` and ``(x - y)_{s,t} + c_t / 2``),
    so every term is small when the paths are close; the Gram of ``c`` is formed from the
    blocks, so its absolute accuracy is eps times the blocks' scale.

    Parameters
    ----------
    gram_xx, gram_yy : array_like, shape (L, L)
        Gram matrices of the layers of the two networks (same depth L).
    gram_xy : array_like, shape (L, L)
        Cross Gram ``<W^x_i, W^y_k>`` (e.g. ``layer_gram(wx, wy)``).
    p, lift, convention, return_partition, n_jobs
        As in :func:`gram_rough_pvar`.

    Returns
    -------
    RoughDistanceResult
        The type :func:`streamrough.rough_distance` returns (``route="gram"``):
        ``level1_power = V_p(x - y)``, ``level2_power = V_{p/2}(XX - YY)``, their norms
        ``level1``, ``level2`` and ``rho = level1 + level2``.

    Examples
    --------
    >>> import numpy as np
    >>> wx = np.array([[1.0, 0.0], [0.0, 1.0]]); wy = np.array([[1.0, 0.0], [0.0, 2.0]])
    >>> r = gram_rough_distance(wx @ wx.T, wx @ wy.T, wy @ wy.T, 2)
    >>> round(r.level1_power, 12), round(r.level2_power, 12)   # x - y = (0, -1); XX - YY = -e1 (x) e2
    (1.0, 1.0)
    """
    gxx = _as_gram(gram_xx, "gram_xx", symmetric=True)
    gyy = _as_gram(gram_yy, "gram_yy", symmetric=True)
    gxy = _as_gram(gram_xy, "gram_xy", symmetric=False)
    if gyy.shape != gxx.shape:
        raise ValueError(
            f"gram_yy has shape {gyy.shape} but gram_xx has {gxx.shape}: the paths must have equal length"
        )
    if gxy.shape != gxx.shape:
        raise ValueError(f"gram_xy must have shape {gxx.shape} (cross Gram of the two paths), got {gxy.shape}")
    p_values, scalar = as_p_values(p)
    h = _check_lift_convention(lift, convention)
    jobs = resolve_n_jobs(n_jobs)
    if convention == "increments":
        aa, ab, bb = gxx, gxy, gyy
        n_points = gxx.shape[0] + 1
    else:
        aa, ab, bb = _second_difference(gxx), _second_difference(gxy), _second_difference(gyy)
        n_points = gxx.shape[0]
    ba = ab.T
    ac = aa - ab  # <a_i, c_k>
    cc = ac - ba + bb  # <c_i, c_k>
    cb = ab - bb  # <c_i, b_k>
    # left factors f = (a, c), right factors e = (c, b); blocks [r][q] = <f^r_i, f^q_k>
    F = np.array([[aa, ac], [ac.T, cc]])
    E = np.array([[cc, cb], [cb.T, bb]])
    sq = _interval_norms(F, E, h, n_points, jobs)
    if convention == "values":
        _point_distances_sq(gxx - gxy - gxy.T + gyy, sq[0])
    return _result(sq, p_values, scalar, return_partition, lift, convention, jobs, distance=True)


# ------------------------------------------------------------------------------------------
# approximate mode


def random_projection(weights, k, *, seed):
    """Seeded Johnson-Lindenstrauss projection of each flattened layer to `k` dimensions.

    APPROXIMATE: ``P = W R`` with ``R`` a (D, k) matrix of i.i.d. N(0, 1/k) entries drawn from
    `seed`, so ``E|P_i - P_j|^2 = |W_i - W_j|^2`` and, with high probability, all pairwise
    distances of n points are preserved up to a factor ``1 +- O(sqrt(log n / k))``. Level-2
    norms are only approximately preserved. Use it when the exact O(L^3) Gram route is too
    slow; the projected path (L, k) is then analysed directly. The measured distortion is
    returned; it is never applied silently.

    Parameters
    ----------
    weights : array_like, shape (L, m1, m2, ...) or (L, D)
        Layers (float32 or float64; converted to float64 one feature chunk at a time).
    k : int
        Target dimension, >= 1.
    seed : int
        Non-negative seed of the projection (required: there is no default seed).

    Returns
    -------
    projected : ndarray, shape (L, k), float64
    info : dict
        ``seed``, ``k``, ``method``; ``n_sampled`` (number of sampled intervals); and the
        measured distortion on seeded random samples: ``max_rel_error_increments``, the
        largest ``| |P-sum| / |W-sum| - 1 |`` over intervals ``x_{s,t} = W_s + ... + W_{t-1}``
        (the increments convention), and ``max_rel_error_values``, the same for
        ``|W_t - W_s|`` (the values convention; NaN when L = 1).

    Examples
    --------
    >>> import numpy as np
    >>> w = np.random.default_rng(0).standard_normal((50, 400))
    >>> proj, info = random_projection(w, 200, seed=7)
    >>> proj.shape, info["seed"], info["max_rel_error_increments"] < 0.3
    ((50, 200), 7, True)
    """
    w = _as_layers(weights, "weights")
    k = check_int(k, "k")
    seed = check_int(seed, "seed (required: there is no default seed)", 0)
    n_layers, d = w.shape
    proj_seq, sample_seq = np.random.SeedSequence(seed).spawn(2)
    proj_rng = np.random.default_rng(proj_seq)
    size = _check_chunk_size(None, n_layers + k)
    projected = np.zeros((n_layers, k))
    for c0 in range(0, d, size):
        c1 = min(c0 + size, d)
        # rows of R drawn in order, so R does not depend on the chunking
        r = proj_rng.standard_normal((c1 - c0, k)) / math.sqrt(k)
        projected += _float64_chunk(w[:, c0:c1], "weights", col0=c0) @ r

    sample_rng = np.random.default_rng(sample_seq)
    n_sampled = min(64, n_layers * (n_layers + 1) // 2)
    err_inc = err_val = 0.0
    for _ in range(n_sampled):
        s, t = sorted(sample_rng.choice(n_layers + 1, size=2, replace=False))
        exact = _layer_sum(w, s, t)
        err_inc = max(err_inc, _rel_error(projected[s:t].sum(axis=0), exact))
        if n_layers > 1:
            s, t = sorted(sample_rng.choice(n_layers, size=2, replace=False))
            exact = _float64_chunk(w[t : t + 1], "weights", t) - _float64_chunk(w[s : s + 1], "weights", s)
            err_val = max(err_val, _rel_error(projected[t] - projected[s], exact))
    info = {
        "seed": seed,
        "k": k,
        "method": "gaussian Johnson-Lindenstrauss, R_ij ~ N(0, 1/k) (approximate)",
        "n_sampled": n_sampled,
        "max_rel_error_increments": err_inc,
        "max_rel_error_values": err_val if n_layers > 1 else float("nan"),
    }
    return projected, info


def _layer_sum(w, s: int, t: int) -> np.ndarray:
    """W_s + ... + W_{t-1} in float64, converting a bounded block of layers at a time."""
    rows = max(1, _config.GRAM_CHUNK_ENTRIES // w.shape[1])
    total = np.zeros((1, w.shape[1]))
    for r0 in range(s, t, rows):
        total += _float64_chunk(w[r0 : min(r0 + rows, t)], "weights", r0).sum(axis=0)
    return total


def _rel_error(approx: np.ndarray, exact: np.ndarray) -> float:
    """| |approx| / |exact| - 1 | (0 when both vanish)."""
    ne, na = float(np.linalg.norm(exact)), float(np.linalg.norm(approx))
    if ne == 0.0:
        return 0.0 if na == 0.0 else math.inf
    return abs(na / ne - 1.0)
