"""Rough-path norms of paths and weight sequences: exact level-2 p-variation (math.md 4).

For a path x with increments a_k, the level-2 term of its lift over [s, t] is

    iterated sums (default, the residual network's own lift):
        XX_{s,t} = sum_{s <= i < k < t} a_i (x) a_k
    geometric (the piecewise-linear path's signature):
        XX_{s,t} + (1/2) sum_{s <= i < t} a_i (x) a_i

and, with every norm Frobenius,

    V_{p/2}(XX)  = max over partitions of sum_i |XX_{t_i, t_{i+1}}|^(p/2)
    ||XX||_{p/2-var} = V_{p/2}(XX)^(2/p)
    |||X|||_p   = ||x||_{p-var} + ||XX||_{p/2-var}^(1/2)
    omega(0, N) = V_p(x) + V_{p/2}(XX)
    rho_p(X, Y) = ||x - y||_{p-var} + ||XX - YY||_{p/2-var}.

Level 1 comes from :func:`streamrough.pvar`.  Level 2 is exact: a branch and bound whose
bounds come from Chen's identity (never from the triangle inequality, which |XX| does not
satisfy), or, for wide layers, the Gram route of :mod:`streamrough.gram`.
"""

from __future__ import annotations

import warnings

import numpy as np

from . import _config
from ._config import DEFAULT_MEMORY_BUDGET
from ._parallel import resolve_n_jobs
from ._validation import as_p_values, check_choice, check_positive
from .paths import LIFTS, read_input, weight_path
from .results import RoughDistanceResult, RoughRegimeWarning, RoughResult, collect, rough_result

__all__ = ["rough_pvar", "rough_distance"]
ROUTES = ("auto", "direct", "gram", "projection")
METHODS = ("bnb", "dp")


def _warn_beyond(ps) -> None:
    if (ps >= 3).any():
        warnings.warn(
            f"p = {float(ps.max())} >= 3: a p-rough path needs levels 1..floor(p) of the "
            "signature; the level-1 and level-2 terms reported here do not control it",
            RoughRegimeWarning,
            stacklevel=3,
        )


def _layers(path, weights, convention):
    """Layers and Gram convention for gram.py: the weights as given, or a path's increments."""
    if weights is not None:
        return weights, convention
    return np.ascontiguousarray(np.diff(path, axis=0)), "increments"


def _chen_prefix(path, geometric, k):
    """Path relative to its start times 2^-k, its prefix level 2 (N, D*D), and Chen scale."""
    from ._kernels.rough import level2_prefix

    xs = np.ldexp(path - path[0], -k)  # exact; 2^-k itself may not be a float64
    p2 = np.empty((xs.shape[0], xs.shape[1] ** 2))
    chen = level2_prefix(xs, p2, geometric)
    return xs, p2, chen


def _unit_exponent(*paths):
    """k with 2^-k max|x_k - x_0| in [0.5, 1): scaling by 2^-k is exact, and keeps |XX|^(p/2)
    clear of overflow and underflow for large p (V_{p/2}(XX) scales like 2^(-k p))."""
    size = max(_largest_excursion(p) for p in paths)
    return 0 if size == 0.0 else int(np.frexp(size)[1])


def _largest_excursion(path) -> float:
    """max_k |x_k - x_0| over all coordinates, as computed entrywise in float64, from the
    coordinates' maxima and minima: x -> fl(x - c) is monotone, so the largest entry of
    fl(x_k - x_0) is fl(max_k x_k - x_0) (likewise the smallest), without an N x d temporary."""
    start = path[0]
    return float(max(np.max(path.max(axis=0) - start), np.max(start - path.min(axis=0))))


def _times_power_of_two(v, e):
    """v * 2^e for a real e (v a number or an array), without intermediate overflow (inf only
    if the result is)."""
    whole = np.floor(e)
    with np.errstate(over="ignore", under="ignore"):
        out = np.ldexp(v * 2.0 ** (e - whole), int(whole))
    return float(out) if np.ndim(out) == 0 else out


def _raised_scale(e, values, slack: int):
    """The scale exponent of a stream (which stores its state in units of 2^e) after it
    sees `values`: ``(e, shift)``, where ``shift > 0`` means the stored state
    must first be divided by 2^shift. The exponent is set by the first nonzero values and
    raised only when new values exceed it by more than `slack` binary orders, so that most
    pushes rescale nothing."""
    size = float(np.abs(values).max())
    if size == 0.0:
        return e, 0
    ey = int(np.frexp(size)[1])
    if e is None:
        return ey, 0
    if ey - e > slack:
        return ey, ey - e
    return e, 0


def _level2_bnb(p2, xs, ys, has_y, geometric, qs, abs_tol, pool, then):
    """Running values and links of the branch and bound, one row per exponent.

    With a one-worker thread pool, the worker builds the block summaries of the indices from
    ``_config.LEVEL2_OWN_SUMMARIES * N`` on while this thread builds the others and runs the
    DP steps they allow; ``then()`` is called once that work is queued (it may queue more).
    Each index writes its own summary rows, so the two never touch the same row.  Without a
    pool, one kernel call.  The same values either way.
    """
    from ._kernels import rough as kernels

    n = xs.shape[0]
    n0 = int(n * _config.LEVEL2_OWN_SUMMARIES)
    if pool is None or n0 < 2 or n0 >= n:
        if then is not None:
            then()
        pv, link, _ = kernels.level2_pvar_bnb(p2, xs, ys, has_y, geometric, qs, abs_tol)
        return pv, link
    summ = np.zeros((n, kernels.summary_width(xs.shape[1], has_y)))
    later = pool.submit(kernels.build_summaries, n0, n, p2, xs, ys, has_y, geometric, summ)
    if then is not None:
        then()
    kernels.build_summaries(0, n0, p2, xs, ys, has_y, geometric, summ)
    pv = np.zeros((len(qs), n))
    link = np.zeros((len(qs), n), dtype=np.int64)
    # step j reads the summaries of the blocks ending before j - 1
    kernels.level2_advance(1, n0 + 1, p2, xs, ys, has_y, geometric, summ, pv, link, qs, abs_tol)
    later.result()
    kernels.level2_advance(n0 + 1, n, p2, xs, ys, has_y, geometric, summ, pv, link, qs, abs_tol)
    return pv, link


def _level2_direct(x_path, y_path, qs, lift, method, pool=None, then=None):
    """[(V_q, V_q^(1/q), partition)] of |XX - YY| (y_path None: of |XX|) per exponent q.

    `pool` and `then`: see :func:`_level2_bnb` (``then()`` is called in any case).
    """
    from ._kernels import rough as kernels
    from ._kernels.pvar import follow_links

    geometric = lift == "geometric"
    k = _unit_exponent(x_path) if y_path is None else _unit_exponent(x_path, y_path)
    xs, p2, chen = _chen_prefix(x_path, geometric, k)
    if y_path is None:
        ys, has_y = xs, False
    else:
        ys, p2y, chen_y = _chen_prefix(y_path, geometric, k)
        p2 -= p2y
        chen += chen_y
        has_y = True
    # Chen's formula loses about eps * chen in absolute terms; the bounds cover 64x that
    abs_tol = kernels.TOL_FACTOR * chen
    n = xs.shape[0]
    if method == "dp":
        if then is not None:
            then()
        runs = [kernels.level2_pvar_dp(p2, xs, ys, has_y, geometric, q) for q in qs]
        pvs = [pv[-1] for pv, _ in runs]
        parts = [follow_links(link, n - 1) for _, link in runs]
    else:
        pv, link = _level2_bnb(p2, xs, ys, has_y, geometric, qs, abs_tol, pool, then)
        pvs = [pv[k, -1] for k in range(len(qs))]
        parts = [follow_links(link[k], n - 1) for k in range(len(qs))]
    # |XX| scales like c^2 = 2^(-2k): V_q(XX) like 2^(-2kq), ||XX||_{q-var} like 2^(-2k)
    return [
        (_times_power_of_two(v, 2.0 * k * q), _times_power_of_two(v ** (1.0 / q), 2.0 * k), part)
        for v, q, part in zip(pvs, qs, parts)
    ]


def _level1(path, ps, jobs):
    """[(V_p, ||x||_p-var, partition)] per p, from streamrough.pvar (one pass, every p)."""
    from .variation import pvar

    res = pvar(path, ps, return_partition=True, n_jobs=jobs)
    return list(zip(res.level1_power.tolist(), res.level1.tolist(), res.partition1))


def _direct_levels(path1, x_path, y_path, ps, lift, method, jobs):
    """Level 1 of `path1` and the direct route's level 2 of `x_path` (minus `y_path`).

    With ``jobs > 1`` and paths of at least ``_config.LEVEL_OVERLAP_MIN_POINTS`` points the
    two run at once: a second Python thread first builds most of level 2's block summaries,
    then computes level 1 on ``jobs - 1`` threads, while level 2 (serial kernels that release
    the GIL) runs in this one; otherwise one after the other. The same values either way.
    """
    if jobs == 1 or len(path1) < _config.LEVEL_OVERLAP_MIN_POINTS:
        return _level1(path1, ps, jobs), _level2_direct(x_path, y_path, ps / 2, lift, method)
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(max_workers=1) as pool:
        level1 = []

        def start_level1():  # queued behind the summaries level 2 hands to the worker
            level1.append(pool.submit(_level1, path1, ps, jobs - 1))

        levels2 = _level2_direct(x_path, y_path, ps / 2, lift, method, pool, start_level1)
        return level1[0].result(), levels2


def _choose_route(route, n, dim, memory_budget, cost_ratio):
    """`route`, or for "auto" the cheaper route that fits: `cost_ratio` is the measured cost of
    the direct route per N D^2 in units of the Gram route's per N^3 (streamrough._config)."""
    if route != "auto":
        return route
    fits = n * dim * dim * 8 <= memory_budget
    work = n * dim * dim
    cheaper = work <= _config.DIRECT_ALWAYS_WORK or cost_ratio * work <= n**3
    return "direct" if fits and cheaper else "gram"


def _with_roots(pairs, ps, level):
    """[(power, partition)] -> [(power, root, partition)], root = power^(level / p)."""
    return [(float(v), float(v) ** (level / float(p)), part) for (v, part), p in zip(pairs, ps)]


def _results(ps, levels1, levels2, scalar, *, distance, **common):
    """One RoughResult (RoughDistanceResult) from [(power, root, partition)] per p and level."""
    results = [rough_result(p, l1, l2, distance=distance, **common) for p, l1, l2 in zip(ps, levels1, levels2)]
    return collect(RoughDistanceResult if distance else RoughResult, results, scalar)


def _check_common(p, lift, route, method, memory_budget):
    ps, scalar = as_p_values(p)
    check_choice(lift, "lift", LIFTS)
    check_choice(route, "route", ROUTES)
    check_choice(method, "method", METHODS)
    check_positive(memory_budget, "memory_budget")
    return ps, scalar


def rough_pvar(
    x,
    p,
    *,
    lift="iterated",
    convention=None,
    route="auto",
    method="bnb",
    memory_budget=DEFAULT_MEMORY_BUDGET,
    projection_dim=None,
    seed=None,
    n_jobs=None,
    client=None,
):
    r"""Level-1 and level-2 p-variation of the rough path lifted from `x` (math.md 4).

    .. math::

        V_{p/2}(\mathbb{X}) = \max_{0=t_0<\dots<t_m=N} \sum_i |\mathbb{X}_{t_i,t_{i+1}}|^{p/2},
        \quad |||X|||_p = \|x\|_{p\text{-var}} + \|\mathbb{X}\|_{p/2\text{-var}}^{1/2}

    with :math:`\mathbb{X}_{s,t} = \sum_{s\le i<k<t} a_i\otimes a_k` (``lift="iterated"``)
    or that plus :math:`\tfrac12\sum_{s\le i<t} a_i\otimes a_i` (``lift="geometric"``),
    Frobenius norms throughout.  For ``p < 2`` the exponent ``p/2`` is below 1: the level-2
    value is still the maximum over partitions of ``sum |XX|^(p/2)`` (the same exact DP;
    no step assumes convexity), reported for completeness (the Young regime needs level 1
    only).  Values for ``p < 2`` are sensitive to rounding: an absolute error ``e`` in a
    small ``|XX|`` becomes ``e^(p/2)``.

    Parameters
    ----------
    x : array_like
        A path, shape ``(N,)`` or ``(N, d)``, when `convention` is None and ``x.ndim <= 2``;
        otherwise a weight sequence ``(L, m1, m2, ...)`` (or ``(L, D)`` with an explicit
        `convention`) turned into a path by :func:`streamrough.weight_path`.
    p : float or sequence of float
        Exponents ``>= 1``.
    lift : {"iterated", "geometric"}
    convention : {None, "increments", "values"}
        How `x` is read (:func:`streamrough.read_input`, the rule of every function):
        None (default) reads an array with 3 or more axes as a weight sequence under
        ``"increments"`` (the seed paper's) and one with at most 2 axes as a path
        (recorded as ``"values"``); ``"increments"`` or ``"values"`` read any input as a
        weight sequence.
    route : {"auto", "direct", "gram", "projection"}
        ``"direct"``: Chen-bound branch and bound over prefix level-2 data, which holds
        ``N * D^2`` float64.  ``"gram"``: :func:`streamrough.gram.gram_rough_pvar` from the
        L x L Gram matrix of the layers (O(L^2) memory, O(L^3) time).  ``"auto"`` takes
        ``"direct"`` when ``8 * N * D^2 <= memory_budget`` and it is the cheaper route
        (measured: when ``N * D^2 <= 2^16`` or ``13000 N D^2 <= N^3``), ``"gram"`` otherwise.
        ``"projection"`` (approximate, only on request): a seeded Johnson-Lindenstrauss
        projection of the layers to `projection_dim` dimensions, then the direct route; the
        result records seed and distortion.
    method : {"bnb", "dp"}
        Direct route only: branch and bound (default) or the plain O(N^2) DP (a reference).
    memory_budget : int
        Bytes the direct route may use for its prefix data (default 256 MiB).
    projection_dim, seed : int
        For ``route="projection"`` (both required there; there is no default seed).
    n_jobs : int or None
        Threads for level 1 and the Gram route (on the direct route with 2 or more, level 1
        runs on the others while one computes level 2): None = ``numba.get_num_threads()``
        in the main thread and 1 in any other thread (a Dask task); -1 = all of Numba's
        threads; 1 = serial kernels only. The same values for every `n_jobs` (the route
        never depends on it).
    client : None or dask.distributed.Client
        Used only for chunked input (a Dask array, Zarr array or store path, computed out of
        core by :mod:`streamrough.chunked`): None runs on the active Dask scheduler (threads
        by default), a Client on its cluster. Ignored for in-memory arrays.

    Returns
    -------
    RoughResult
        Float fields for a number `p`; for a sequence, one RoughResult whose fields are
        arrays over p (``res[i]`` is the result for ``p[i]``; see :mod:`streamrough.results`).

    Warns
    -----
    RoughRegimeWarning
        If some ``p >= 3``.

    Examples
    --------
    >>> import numpy as np, streamrough as sr
    >>> x = np.array([[0.0, 0.0], [1.0, 0.0], [1.0, 1.0]])
    >>> r = sr.rough_pvar(x, 2.5)
    >>> round(r.level2, 12), r.regime   # XX_{0,2} = e1 (x) e2, the only non-zero interval
    (1.0, 'rough')
    """
    from .chunked import is_chunked

    if is_chunked(x):  # a dask array, zarr array or store path: out of core (streamrough.chunked)
        from . import chunked

        return chunked.rough_pvar(x, p, lift=lift, convention=convention, route=route, client=client, quiet=True)
    ps, scalar = _check_common(p, lift, route, method, memory_budget)
    jobs = resolve_n_jobs(n_jobs)
    path, weights, convention = read_input(x, convention, "x")
    _warn_beyond(ps)
    n, dim = path.shape
    route = _choose_route(route, n, dim, memory_budget, _config.DIRECT_COST_RATIO_TREE)
    projection = None
    if route == "direct":
        levels1, levels2 = _direct_levels(path, path, None, ps, lift, method, jobs)
    elif route == "gram":
        levels1, levels2 = _gram_levels(path, weights, convention, ps, lift, jobs)
    else:
        path, projection = _project(path, weights, convention, projection_dim, seed)
        levels1, levels2 = _direct_levels(path, path, None, ps, lift, method, jobs)
    return _results(
        ps, levels1, levels2, scalar, distance=False, lift=lift, convention=convention,
        route=route, n_points=n, projection=projection,
    )


def rough_distance(
    x,
    y,
    p,
    *,
    lift="iterated",
    convention=None,
    route="auto",
    method="bnb",
    memory_budget=DEFAULT_MEMORY_BUDGET,
    n_jobs=None,
    client=None,
):
    r"""Inhomogeneous rough-path distance ``rho_p(X, Y)`` (math.md 4).

    .. math::

        \rho_p(X, Y) = \|x - y\|_{p\text{-var}} + \|\mathbb{X} - \mathbb{Y}\|_{p/2\text{-var}}

    Level 2 of the difference is exact: a branch and bound with the Chen bound
    ``Delta XX_{m,j} = Delta XX_{m,b} + Delta XX_{b,j} + Delta x_{m,b} (x) x_{b,j} +
    y_{m,b} (x) Delta x_{b,j}``, or the Gram route on the joint Gram matrix.

    Parameters
    ----------
    x, y : array_like
        Two paths (or weight sequences) of the same shape, read as in :func:`rough_pvar`
        (two networks of equal depth and layer shape).
    p, lift, convention, route, method, memory_budget, n_jobs, client
        As in :func:`rough_pvar` (no projection route).

    Returns
    -------
    RoughDistanceResult
        ``rho`` = rho_p(X, Y) = ``level1 + level2`` (not the homogeneous ``level1 +
        sqrt(level2)`` of :attr:`RoughResult.norm`); arrays over p for a sequence of p.

    Examples
    --------
    >>> import numpy as np, streamrough as sr
    >>> x = np.array([[0.0, 0.0], [1.0, 0.0], [1.0, 1.0]])
    >>> sr.rough_distance(x, x, 2.5).rho
    0.0
    """
    from .chunked import is_chunked

    if is_chunked(x) or is_chunked(y):  # out of core (streamrough.chunked)
        from . import chunked

        return chunked.rough_distance(
            x, y, p, lift=lift, convention=convention, route=route, client=client, quiet=True
        )
    ps, scalar = _check_common(p, lift, route, method, memory_budget)
    if route == "projection":
        raise ValueError("route='projection' is not available for rough_distance")
    jobs = resolve_n_jobs(n_jobs)
    path_x, weights_x, conv = read_input(x, convention, "x")
    path_y, weights_y, _ = read_input(y, convention, "y")
    if np.shape(x) != np.shape(y):
        raise ValueError(
            "x and y must have equal lengths and the same point (layer) shape, as two networks "
            f"of equal depth, got shapes {np.shape(x)} and {np.shape(y)}"
        )
    _warn_beyond(ps)
    n, dim = path_x.shape
    route = _choose_route(route, n, dim, memory_budget, _config.DIRECT_COST_RATIO)
    if route == "direct":
        levels1, levels2 = _direct_levels(path_x - path_y, path_x, path_y, ps, lift, method, jobs)
    else:
        levels1, levels2 = _gram_distance_levels(
            path_x, weights_x, path_y, weights_y, conv, ps, lift, jobs
        )
    return _results(
        ps, levels1, levels2, scalar, distance=True, lift=lift, convention=conv, route=route,
        n_points=n,
    )



def _gram_levels_of(res, ps, k):
    """[(power, root, partition)] per p for both levels of a Gram result (sequence of p)
    computed from layers scaled by 2^-k: level-l roots scale back by 2^(l k), powers by
    2^(k p) (inf only if the power itself is not representable)."""
    return [
        [
            (_times_power_of_two(v[i], k * float(p)), float(np.ldexp((v[i] ** (level / float(p))), level * k)),
             parts[i])
            for i, p in enumerate(ps)
        ]
        for level, v, parts in ((1, res.level1_power, res.partition1), (2, res.level2_power, res.partition2))
    ]


def _scaled_layers(path, weights, convention, k):
    """The layers times 2^-k as one new float64 array (exact in float64; the Gram tree slices
    it per node without converting)."""
    layers, conv = _layers(path, weights, convention)
    return np.ldexp(layers, -k, dtype=np.float64), conv


def _gram_levels(path, weights, convention, ps, lift, jobs):
    """Levels 1 and 2 from the L x L Gram matrix of the layers (streamrough.gram), computed on
    layers scaled by an exact power of two so that Gram entries cannot overflow."""
    from .gram import _gram_rough_pvar, layer_gram

    if path.shape[0] == 1:
        zero = [(0.0, 0.0, np.zeros(1, np.int64))] * len(ps)
        return zero, zero
    k = _unit_exponent(path)
    layers, conv = _scaled_layers(path, weights, convention, k)
    # layer_gram of checked layers is a valid Gram matrix: the internal entry skips its checks
    features = layers.reshape(layers.shape[0], -1) if conv == "increments" else None
    res = _gram_rough_pvar(layer_gram(layers), ps, lift=lift, convention=conv, return_partition=True, n_jobs=jobs,
                           features=features)
    return _gram_levels_of(res, ps, k)


def _gram_distance_levels(path_x, weights_x, path_y, weights_y, convention, ps, lift, jobs):
    """Levels 1 and 2 of the difference from the joint Gram blocks of both layer sequences."""
    from .gram import gram_rough_distance, layer_gram

    if path_x.shape[0] == 1:
        zero = [(0.0, 0.0, np.zeros(1, np.int64))] * len(ps)
        return zero, zero
    k = _unit_exponent(path_x, path_y)
    lx, conv = _scaled_layers(path_x, weights_x, convention, k)
    ly, _ = _scaled_layers(path_y, weights_y, convention, k)
    res = gram_rough_distance(
        layer_gram(lx), layer_gram(lx, ly), layer_gram(ly), ps,
        lift=lift, convention=conv, return_partition=True, n_jobs=jobs,
    )
    return _gram_levels_of(res, ps, k)


def _project(path, weights, convention, projection_dim, seed):
    """APPROXIMATE: the path of seeded Johnson-Lindenstrauss projected layers, and its record."""
    from .gram import random_projection

    if projection_dim is None:
        raise ValueError("route='projection' needs projection_dim (the target dimension k)")
    if seed is None:
        raise ValueError("route='projection' needs an explicit seed (there is no default seed)")
    layers, conv = _layers(path, weights, convention)
    if layers.shape[0] == 0:
        raise ValueError("route='projection' needs at least two points")
    projected, info = random_projection(layers, projection_dim, seed=seed)
    key = "max_rel_error_increments" if conv == "increments" else "max_rel_error_values"
    record = dict(info, dim=int(projection_dim), distortion=float(info[key]))
    return weight_path(projected, conv), record
