"""Exact p-variation of discrete paths (math.md section 2): offline, running and batched.

For a path x_0, ..., x_{N-1} in R^D and p >= 1,

    V_p(x) = max over 0 = t_0 < t_1 < ... < t_m = N-1 of  sum_i |x_{t_{i+1}} - x_{t_i}|^p,
    ||x||_{p-var} = V_p(x)^(1/p).

Methods (all exact; they agree to rounding):

``"dp"``
    the dynamic programme pv[j] = max_{i<j} pv[i] + |x_j - x_i|^p, N^2/2 distances.
``"bnb"``
    branch and bound over dyadic block summaries (math.md 2.2), any dimension and norm;
    typically a few dozen distance evaluations per point on diffusive data.
``"1d"``
    the near-linear one-dimensional method (math.md 2.3), d = 1 only.
``"auto"``
    p = 1: a single pass (the finest partition is optimal, V_1 = sum |x_{k+1} - x_k|);
    d = 1: ``"1d"``; otherwise ``"bnb"``.

The path is rescaled internally by an exact power of two close to max_k |x_k - x_0|, so
neither large coordinates nor large p overflow: the norm is finite whenever it is
representable (``power`` may overflow to inf when V_p itself is not representable). Limits
(docs/reliability.md): 1 <= p <= ``MAX_P`` = 500 (the rescaled sum lies between 2^-p and
N 2^p), coordinates below about 1e307 in magnitude (differences of coordinates must be
finite), and any nonzero scale down to the smallest subnormal.
"""

from __future__ import annotations

import math
import numpy as np

from . import _config
from ._parallel import launch, resolve_n_jobs
from ._validation import as_batch_of_paths, as_p_values, check_choice
from .paths import read_input
from .results import PVarResult, collect

__all__ = ["pvar", "pvar_running", "pvar_batch", "NORMS", "METHODS"]

NORMS = ("euclidean", "l1", "linf")
METHODS = ("auto", "dp", "bnb", "1d")


def _kernels():
    from ._kernels import pvar as kernels

    return kernels


def _unscale(pv_scaled, e, p):
    """(value, power) of V_p = pv_scaled * 2^(e p), overflowing to inf only if not representable."""
    if pv_scaled <= 0.0:
        return 0.0, 0.0
    try:
        value = math.ldexp(pv_scaled ** (1.0 / p), e)
    except OverflowError:
        value = math.inf
    ep = e * p
    k = math.floor(ep)
    try:
        power = math.ldexp(pv_scaled * 2.0 ** (ep - k), k)
    except OverflowError:
        power = math.inf
    return value, power


def _scaled_path(X, code):
    """(Xk, qs, e) with V_p(X) = V_p computed on Xk with q-scale qs, times 2^(e p); None if constant.

    The raw array is used (no copy) unless its scale is extreme; then a translated, rescaled
    copy is made. qs is an exact power of two.
    """
    kernels = _kernels()
    e = int(kernels.path_exponent(X, code))
    if e == kernels.NO_SCALE:
        return None
    if -kernels.SAFE_EXPONENT < e < kernels.SAFE_EXPONENT:
        qs = math.ldexp(1.0, -2 * e if code == kernels.EUCLIDEAN else -e)
        return X, qs, e
    return np.ldexp(X - X[0], -e), 1.0, e  # exact; 2^-e itself may not be a float64


def _resolve(method, p, d):
    if method != "auto":
        return method
    if p == 1.0:
        return "sum"
    return "1d" if d == 1 else "bnb"


def _run_bnb(Xk, qs, ps, code, jobs):
    """pv (k, N) scaled running values and link (k, N) by branch and bound (p = 1: one pass).

    The route depends on `jobs` (a resolved ``n_jobs``) and the input's size only: with
    jobs > 1, several p run in parallel (one serial run per p, sharing the read-only block
    summaries), and a single p > 1 on a path of N >= ``_config.CHUNKED_MIN_N`` points runs the
    exact chunked DP of math.md 2.4; otherwise one serial run. Every route gives the same values.
    """
    kernels = _kernels()
    specialised = kernels.for_norm(code)
    n, d = Xk.shape
    pv = np.empty((ps.size, n))
    link = np.empty((ps.size, n), np.int64)
    pv[:, 0] = 0.0
    link[:, 0] = 0
    stats = np.zeros(2, np.int64)
    needs = bool((ps != 1.0).any())
    summ = np.zeros((kernels.summary_rows(n) if needs else 1, kernels.summary_cols(d)))
    many = ps.size > 1 and jobs > 1
    chunked = ps.size == 1 and needs and jobs > 1 and n >= _config.CHUNKED_MIN_N
    if not (many or chunked):
        specialised.bnb_advance(Xk, 1, n, qs, ps, pv, link, summ, stats)
        return pv, link, stats
    if needs:
        launch(specialised.build_summaries, jobs, Xk, summ, jobs)
    if chunked:
        launch(specialised.bnb_chunked, jobs, Xk, qs, float(ps[0]), pv, link, summ, _config.CHUNK_LOG, jobs, stats)
    else:  # the smallest p (the costliest) first, dealt out to the parts in turn
        order = np.argsort(ps, kind="stable")
        parts = min(jobs, ps.size)
        launch(specialised.bnb_many, parts, Xk, qs, ps, pv, link, summ, order, parts, stats)
    return pv, link, stats


def _compute(X, ps, norm, method, want_partition, jobs):
    """Per p: (scaled V_p, exponent e, partition or None, method used)."""
    kernels = _kernels()
    code = kernels.NORM_CODES[norm]
    n, d = X.shape
    used = [_resolve(method, float(p), d) for p in ps]
    out = [None] * ps.size
    scaled = _scaled_path(X, code) if n > 1 else None
    if scaled is None:  # one point, or a constant path: every partition sums to 0
        part = np.array([0] if n == 1 else [0, n - 1], np.int64)
        return [(0.0, 0, part if want_partition else None, used[a]) for a in range(ps.size)]
    Xk, qs, e = scaled
    for a in range(ps.size):
        if used[a] == "sum":  # p = 1 under "auto": one pass, the finest partition
            part = np.arange(n, dtype=np.int64) if want_partition else None
            out[a] = (float(kernels.for_norm(code).one_variation(Xk, qs)), e, part, "sum")
    for group in (("bnb",), ("dp",)):
        idx = [a for a in range(ps.size) if used[a] in group]
        if not idx:
            continue
        sub = np.ascontiguousarray(ps[idx])
        if group[0] == "dp":
            pv = np.empty((sub.size, n))
            link = np.empty((sub.size, n), np.int64)
            kernels.for_norm(code).dp_run(Xk, qs, sub, pv, link)
        else:
            pv, link, _ = _run_bnb(Xk, qs, sub, code, jobs)
        for r, a in enumerate(idx):
            part = kernels.follow_links(link[r], n - 1) if want_partition else None
            out[a] = (float(pv[r, n - 1]), e, part, used[a])
    idx = [a for a in range(ps.size) if used[a] == "1d"]
    if idx:
        from ._kernels.pvar_1d import pvar_power_1d

        y = np.ascontiguousarray(X[:, 0])
        ys = None
        for a in idx:
            p = float(ps[a])
            # the raw path when neither a power nor a square (used inside) can overflow or underflow
            if abs(e) < kernels.SAFE_EXPONENT and p * (abs(e) + 2) + math.log2(n) < 900:
                value, part = pvar_power_1d(y, p, want_partition)
                out[a] = (float(value), 0, part if want_partition else None, "1d")
            else:
                if ys is None:
                    ys = np.ldexp(y - y[0], -e)
                value, part = pvar_power_1d(ys, p, want_partition)
                out[a] = (float(value), e, part if want_partition else None, "1d")
    return out


def pvar(
    x, p, *, power=False, norm="euclidean", method="auto", return_partition=False, convention=None, n_jobs=None,
    client=None,
):
    """Exact p-variation of a path.

    V_p(x) = max over partitions 0 = t_0 < ... < t_m = N-1 of sum_i |x_{t_{i+1}} - x_{t_i}|^p,
    and ||x||_{p-var} = V_p(x)^(1/p).

    Parameters
    ----------
    x : array_like, shape (N,), (N, d), or a weight sequence (L, m1, m2, ...)
        A path (points along axis 0) or a weight sequence, read as `convention` says;
        trailing axes are flattened row-major (matrix-valued points with the default norm
        use the Frobenius norm). Any real dtype, computed in float64.
    p : float >= 1, or a sequence of them
        Several p share one pass over the data and the block summaries.
    power : bool
        Return V_p instead of ||x||_{p-var} = V_p^(1/p).
    norm : {"euclidean", "l1", "linf"}
    method : {"auto", "dp", "bnb", "1d"}
        See the module docstring; all are exact. "1d" requires d = 1.
    return_partition : bool
        Return a :class:`~streamrough.PVarResult` (``level1``, ``level1_power``,
        ``partition1``, ``method``, ``convention``, ...) instead of a number; for a sequence
        of p, one PVarResult whose fields are arrays over p (see :mod:`streamrough.results`).
    convention : {None, "increments", "values"}
        How `x` is read (:func:`streamrough.read_input`, the same rule in every function):
        None reads an array with 3 or more axes as a weight sequence under ``"increments"``
        and one with at most 2 axes as a path; ``"increments"`` / ``"values"`` read any
        array as a weight sequence (:func:`streamrough.weight_path`).
    n_jobs : int or None
        Threads for branch and bound: None = ``numba.get_num_threads()`` in the main thread
        and 1 in any other thread (a Dask task); -1 = all of Numba's threads; 1 = serial
        kernels only. The same values for every `n_jobs`.
    client : None or dask.distributed.Client
        Used only for chunked input (a Dask array, Zarr array or store path, computed out of
        core by :mod:`streamrough.chunked`): None runs on the active Dask scheduler (threads
        by default), a Client on its cluster. Ignored for in-memory arrays.

    Returns
    -------
    float, ndarray of shape (k,), or PVarResult

    Raises
    ------
    ValueError
        Empty, ragged or non-finite `x`; p < 1 or not finite; unknown `norm` or `method`;
        method="1d" with d > 1.

    Notes
    -----
    With ``n_jobs > 1``, branch and bound runs several p in parallel, and one p on a long
    path (N >= ``streamrough._config.CHUNKED_MIN_N`` = 2^15 points) runs the exact chunked DP
    (math.md 2.4); otherwise one thread. The route depends on `n_jobs` and the input only,
    and all routes return the same values. Safe to call from several threads at once.

    Examples
    --------
    >>> import numpy as np, streamrough as sr
    >>> sr.pvar([0.0, 1.0, 0.0, 1.0], p=2, power=True)   # zigzag: V_p = number of steps
    3.0
    >>> square = [(0, 0), (1, 0), (1, 1), (0, 1), (0, 0)]
    >>> float(sr.pvar(square, p=3, power=True))         # 2^(p/2 + 1) for p >= 2
    5.656854249492381
    >>> sr.pvar([0.0, 2.0, 1.0, 3.0], p=[1, 2], power=True).tolist()
    [5.0, 9.0]
    >>> res = sr.pvar([0.0, 3.0, 2.0, 4.0], p=2, return_partition=True)
    >>> res.level1_power, res.partition1.tolist(), res.convention   # |4 - 0|^2 beats 9 + 1 + 4
    (16.0, [0, 3], 'values')
    """
    from .chunked import is_chunked

    if is_chunked(x):  # a dask array, zarr array or store path: out of core (streamrough.chunked)
        from . import chunked

        return chunked.pvar(
            x, p, power=power, norm=norm, return_partition=return_partition, convention=convention, client=client,
            quiet=True,
        )
    X, _, convention = read_input(x, convention, "x")
    ps, scalar = as_p_values(p, "p")
    check_choice(norm, "norm", NORMS)
    check_choice(method, "method", METHODS)
    if method == "1d" and X.shape[1] != 1:
        raise ValueError(f"method='1d' needs a one-dimensional path (d = 1), got d = {X.shape[1]}")
    res = _compute(X, ps, norm, method, return_partition, resolve_n_jobs(n_jobs))
    if return_partition:
        out = []
        for a, (pv_s, e, part, used) in enumerate(res):
            value, pw = _unscale(pv_s, e, float(ps[a]))
            out.append(
                PVarResult(
                    p=float(ps[a]), level1=value, level1_power=pw, partition1=part, method=used,
                    point_norm=norm, convention=convention, n_points=X.shape[0],
                )
            )
        return collect(PVarResult, out, scalar)
    vals = np.array([_unscale(pv_s, e, float(ps[a]))[1 if power else 0] for a, (pv_s, e, _, _) in enumerate(res)])
    return float(vals[0]) if scalar else vals


def pvar_running(x, p, *, norm="euclidean", convention=None, n_jobs=None):
    """All prefix p-variations V_p(x; 0, j), j = 0..N-1 (p-th powers, as the DP produces them).

    V_p(x; 0, j) = max over partitions of [0, j] of sum |x_{t_{i+1}} - x_{t_i}|^p; non-decreasing
    in j, with V_p(x; 0, 0) = 0. Computed by branch and bound (one pass for p = 1).

    Parameters
    ----------
    x : array_like, shape (N,), (N, d), or a weight sequence (L, m1, ...)
    p : float >= 1 or sequence of them
    norm : {"euclidean", "l1", "linf"}
    convention : {None, "increments", "values"}
        How `x` is read, as in :func:`pvar`.
    n_jobs : int or None
        Threads, as in :func:`pvar`.

    Returns
    -------
    ndarray, shape (N,) for a single p, (k, N) for a sequence

    Examples
    --------
    >>> import streamrough as sr
    >>> sr.pvar_running([0.0, 1.0, 0.0, 2.0], p=2).tolist()
    [0.0, 1.0, 2.0, 6.0]
    """
    X, _, _ = read_input(x, convention, "x")
    ps, scalar = as_p_values(p, "p")
    check_choice(norm, "norm", NORMS)
    jobs = resolve_n_jobs(n_jobs)
    kernels = _kernels()
    n = X.shape[0]
    scaled = _scaled_path(X, kernels.NORM_CODES[norm]) if n > 1 else None
    if scaled is None:
        out = np.zeros((ps.size, n))
    else:
        Xk, qs, e = scaled
        out, _, _ = _run_bnb(Xk, qs, ps, kernels.NORM_CODES[norm], jobs)
        with np.errstate(over="ignore"):
            for a in range(ps.size):
                ep = e * float(ps[a])
                k = math.floor(ep)
                out[a] = np.ldexp(out[a] * 2.0 ** (ep - k), k)
    return out[0] if scalar else out


def pvar_batch(x, p, *, power=False, norm="euclidean", n_jobs=None):
    """Exact p-variation of many paths of the same length, in parallel over paths.

    Parameters
    ----------
    x : array_like, shape (..., N, d)
        Leading axes index paths, axis -2 indexes points, and the LAST axis is the point
        (a batch of scalar paths needs a trailing axis of length 1: ``x[..., None]``).
        Paths only (``"values"``): turn weight sequences into paths with
        :func:`streamrough.weight_path` first.
    p : float >= 1 or sequence of them
    power : bool
        Return V_p instead of V_p^(1/p).
    norm : {"euclidean", "l1", "linf"}
    n_jobs : int or None
        Threads, as in :func:`pvar` (1: the paths one after another on this thread).

    Returns
    -------
    ndarray of shape (...) for a single p, (..., k) for a sequence (a float if x is one path)

    Notes
    -----
    Each path runs one serial kernel, the paths spread over `n_jobs` threads: branch and bound,
    or the 1-d method when d = 1. Equal to ``pvar(path, p)`` for every path (to rounding).

    Examples
    --------
    >>> import numpy as np, streamrough as sr
    >>> paths = np.array([[[0.0], [1.0], [0.0]], [[0.0], [2.0], [4.0]]])   # (2, 3, 1)
    >>> sr.pvar_batch(paths, 2, power=True).tolist()
    [2.0, 16.0]
    """
    batch_shape, Xb = as_batch_of_paths(x, "x", point_ndim=1)
    ps, scalar = as_p_values(p, "p")
    check_choice(norm, "norm", NORMS)
    jobs = resolve_n_jobs(n_jobs)
    kernels = _kernels()
    nb = Xb.shape[0]
    out = np.empty((nb, ps.size))
    expo = np.empty(nb, np.int64)
    launch(kernels.for_norm(kernels.NORM_CODES[norm]).bnb_batch, jobs, Xb, ps, out, expo)
    res = np.empty_like(out)
    for b in range(nb):
        for a in range(ps.size):
            res[b, a] = _unscale(out[b, a], int(expo[b]), float(ps[a]))[1 if power else 0]
    res = res.reshape(tuple(batch_shape) + (ps.size,))
    if scalar:
        res = res[..., 0]
    if res.ndim == 0:
        return float(res)
    return res
