"""Signatures of discrete paths: geometric and iterated-sums, and their Chen algebra.

math.md section 3. A truncated tensor of depth ``n`` over ``R^d`` is stored flat in the layout
of iisignature, pysiglib and signatory: levels ``1..n`` concatenated, word
``(i_1 ... i_k)`` of level ``k`` at offset ``i_1 d^(k-1) + ... + i_k`` inside its level, and no
scalar term (it is 1), so the identity element is all zeros and
``sig_length(d, n) = d + d^2 + ... + d^n``.

Two lifts of a path ``x_0, ..., x_N`` with increments ``a_k = x_{k+1} - x_k``:

``"geometric"``
    ``S = exp(a_0) (x) ... (x) exp(a_{N-1})``, the signature of the piecewise-linear path
    (the values of iisignature, pysiglib and signatory).
``"iterated"``
    ``S = (1 + a_0) (x) ... (x) (1 + a_{N-1})``, the iterated-sums signature: level ``k`` is
    ``sum_{i_1 < ... < i_k} a_{i_1} (x) ... (x) a_{i_k}`` (the lift of a residual network,
    an Euler scheme).

Level 2 of the two lifts differs by half the bracket, ``Sig_geo^(2) = XX + D / 2`` with
``D = sum_k a_k (x) a_k``; get it with ``sig_level(signature(x, 2, lift=...), d, 2, 2)``,
a ``(..., d, d)`` view.
"""

from __future__ import annotations

import contextlib

import numba
import numpy as np

from . import _config
from ._parallel import resolve_n_jobs, run_parallel
from ._validation import _as_numeric_array, _check_finite, as_batch_of_paths, check_choice, check_int
from .paths import LIFTS

__all__ = [
    "sig_length",
    "signature",
    "sig_combine",
    "sig_combine_many",
    "sig_inverse",
    "sig_join",
    "sig_level",
]

#: refuse tensors with more entries than this (8 GB in float64 per signature)
MAX_SIG_LENGTH = 10**9

# kernels run as plain Python (coverage runs): numpy then warns about NaN/inf arithmetic
_PLAIN_PYTHON = numba.config.DISABLE_JIT
_NO_CONTEXT = contextlib.nullcontext()
_F64 = np.dtype(np.float64)
_F32 = np.dtype(np.float32)
# (dim, depth, kind) -> generated kernel module, filled by _kernels once the key was validated
_LOADED: dict = {}




def sig_length(dim, depth) -> int:
    """Number of entries of a truncated signature without scalar term.

    ``sig_length(d, n) = d + d^2 + ... + d^n``.

    Parameters
    ----------
    dim : int
        Dimension ``d >= 1`` of the path.
    depth : int
        Truncation depth ``n >= 1``.

    Returns
    -------
    int

    Raises
    ------
    ValueError
        If ``dim`` or ``depth`` is < 1, or if the signature would have more than
        ``MAX_SIG_LENGTH`` (10^9) entries; the message gives the memory it would need.

    Examples
    --------
    >>> sig_length(2, 3)
    14
    >>> sig_length(10, 4)
    11110
    """
    d = check_int(dim, "dim")
    n = check_int(depth, "depth")
    length = n if d == 1 else (d ** (n + 1) - d) // (d - 1)
    if length > MAX_SIG_LENGTH:
        raise ValueError(
            f"a depth-{n} signature of a {d}-dimensional path has {length:.3e} entries "
            f"({length * 8 / 2**30:.3g} GiB per signature in float64); this is too large "
            f"(limit {MAX_SIG_LENGTH:.0e} entries): lower depth or dim"
        )
    return length


def _float_dtype(dtype, name: str):
    """The computing dtype: float32 stays float32, float64 and integers become float64
    (either byte order: big-endian input is converted like everywhere else)."""
    dtype = np.dtype(dtype).newbyteorder("=")
    if dtype == np.float32:
        return np.dtype(np.float32)
    if dtype.kind in "biu" or dtype in (np.float16, np.float64):
        return np.dtype(np.float64)
    raise TypeError(f"{name} must be float32, float64 or integer, got {dtype} (no silent downcast)")


def _kernels(dim: int, depth: int, kind: str):
    """The generated kernel module of (dim, depth, kind), after its arguments were checked."""
    k = _LOADED.get((dim, depth, kind))
    if k is None:
        from ._kernels.signature import kernels

        k = _LOADED[(dim, depth, kind)] = kernels(dim, depth, kind)
    return k


def _batched(serial, parallel, jobs: int, batch: int, work: float, *args):
    """The serial kernel, or its parallel twin on `jobs` threads for a batch of >= 2 entries
    and >= ``_config.SIG_PARALLEL_WORK`` multiply-adds (a parallel launch costs microseconds)."""
    if jobs > 1 and batch >= 2 and work >= _config.SIG_PARALLEL_WORK:
        return run_parallel(parallel, jobs, *args)
    return serial(*args)


def _with_scalar(out: np.ndarray, scalar_term: bool) -> np.ndarray:
    if not scalar_term:
        return out
    res = np.empty(out.shape[:-1] + (out.shape[-1] + 1,), dtype=out.dtype)
    res[..., 0] = 1
    res[..., 1:] = out
    return res


def signature(x, depth, *, lift="geometric", stream=False, scalar_term=False, stride=1, n_jobs=None, client=None):
    """Truncated signature of one path or a batch of paths.

    For points ``x_0, ..., x_{N-1}`` with increments ``a_k = x_{k+1} - x_k``:

    - ``lift="geometric"``: ``S = exp(a_0) (x) exp(a_1) (x) ... (x) exp(a_{N-2})``, the
      signature of the piecewise-linear path, level ``k`` =
      ``int_{t_1 < ... < t_k} dx_{t_1} (x) ... (x) dx_{t_k}`` (iisignature's ``sig``);
    - ``lift="iterated"``: ``S = (1 + a_0) (x) ... (x) (1 + a_{N-2})``, the iterated-sums
      signature, level ``k`` = ``sum_{i_1 < ... < i_k} a_{i_1} (x) ... (x) a_{i_k}``.

    Parameters
    ----------
    x : array_like, shape (..., N, d)
        Paths: any leading batch axes, then ``N`` points of dimension ``d``. float32 input
        is computed in float32, float64 and integer input in float64.
    depth : int
        Truncation depth ``n >= 1``.
    lift : {"geometric", "iterated"}
        The lift (:data:`streamrough.LIFTS`); signatures default to ``"geometric"``, the
        signature of the piecewise-linear path (the values of iisignature and pySigLib).
    stream : bool
        If True, return every prefix signature ``S(x_0 .. x_j)``.
    scalar_term : bool
        If True, prepend the scalar term 1 to every signature.
    stride : int
        With ``stream=True``, return only the prefixes ending at points
        ``stride, 2 stride, ...`` (bounds memory on long paths).
    n_jobs : int or None
        Threads: None = ``numba.get_num_threads()`` in the main thread and 1 in any other
        thread (a Dask task); -1 = all of Numba's threads; 1 = serial kernels only. The same
        values for every `n_jobs` (to rounding when a single path is split into chunks).
    client : None or dask.distributed.Client
        Used only for chunked input (a Dask array, Zarr array or store path, computed out of
        core by :mod:`streamrough.chunked`): None runs on the active Dask scheduler (threads
        by default), a Client on its cluster. Ignored for in-memory arrays.

    Returns
    -------
    ndarray
        Shape ``(..., L)`` with ``L = sig_length(d, depth)`` (+1 with `scalar_term`), or
        ``(..., (N - 1) // stride, L)`` with ``stream=True`` (row ``j`` is the signature of
        ``x_0 .. x_{(j + 1) stride}``). A path of one point has the identity signature
        (zeros, and the scalar term 1).

    Notes
    -----
    Levels are laid out as in iisignature / pysiglib / signatory. Level ``k`` of a result
    ``s`` is ``sig_level(s, d, depth, k)``, an array of shape ``(..., d, ..., d)``; in
    particular the level-2 ``d x d`` block of either lift is
    ``sig_level(signature(x, 2, lift=lift), d, 2, 2)``, and for the same path
    ``geometric - iterated = D / 2`` with ``D = sum_k a_k (x) a_k``.

    With ``n_jobs > 1``, a long single path is split into `n_jobs` chunks whose signatures
    are computed in parallel and multiplied in order (Chen's identity), and a large batch is
    computed in parallel over paths (thresholds in ``streamrough._config``).

    Examples
    --------
    >>> import numpy as np
    >>> x = np.array([[0.0, 0.0], [1.0, 0.0], [1.0, 2.0]])
    >>> signature(x, 2)                       # S^1 = (1, 2), S^2 = [[1/2, 2], [0, 2]]
    array([1. , 2. , 0.5, 2. , 0. , 2. ])
    >>> signature(x, 2, lift="iterated")      # S^2 = a_0 (x) a_1 = [[0, 2], [0, 0]]
    array([1., 2., 0., 2., 0., 0.])
    """
    if type(x) is not np.ndarray:
        from .chunked import is_chunked

        if is_chunked(x):  # a dask array, zarr array or store path: out of core (streamrough.chunked)
            from . import chunked

            if scalar_term or stride != 1:
                raise ValueError("chunked input (dask / zarr / store path) takes no scalar_term and stride 1")
            return chunked.signature(x, depth, lift=lift, stream=stream, client=client, quiet=True)
    if (  # fast path for float C-contiguous input: no copy, no separate finiteness pass
        type(x) is np.ndarray
        and x.ndim >= 2
        and (x.dtype is _F64 or x.dtype is _F32)
        and (not stream or (type(stride) is int and stride == 1 and x.ndim == 2))
        and not scalar_term
        and type(depth) is int
        and x.flags.c_contiguous
    ):
        k = _LOADED.get((x.shape[-1], depth, lift))
        if n_jobs is not None:
            resolve_n_jobs(n_jobs)  # validate
        if k is not None and 2 <= x.shape[-2]:
            if stream:  # every prefix of one path; the last one's level 1 sums all increments
                out = np.empty((1, x.shape[0] - 1, k.LENGTH), dtype=x.dtype)
                with np.errstate(all="ignore") if _PLAIN_PYTHON else _NO_CONTEXT:
                    k.batch_stream(x[None], 1, out)
                if np.isfinite(out[0, -1, : x.shape[1]]).all():
                    return out[0]
            elif x.ndim == 2 and x.shape[0] * k.LENGTH < _config.SIG_CHUNKED_WORK:  # one small path
                out = np.zeros(k.LENGTH, dtype=x.dtype)
                with np.errstate(all="ignore") if _PLAIN_PYTHON else _NO_CONTEXT:  # NaN/inf: checked below
                    # batch_sig_for(1, n)[0] without a call: the lanes driver only for a path it splits
                    kernel = k.batch_sig if x.shape[0] >= k.SPLIT_POINTS else k.batch_sig_plain
                    bad = kernel(x[None], out[None])  # level 1 (the total increment) not finite
                if not bad:
                    return out
            elif x.ndim > 2 and x.size // (x.shape[-2] * x.shape[-1]) >= 2:  # a batch
                paths = x.reshape(-1, x.shape[-2], x.shape[-1])
                out = np.zeros((paths.shape[0], k.LENGTH), dtype=x.dtype)
                work = paths.shape[0] * paths.shape[1] * k.LENGTH
                with np.errstate(all="ignore") if _PLAIN_PYTHON else _NO_CONTEXT:
                    jobs = resolve_n_jobs(n_jobs)
                    # level 1 sums the increments: NaN or inf anywhere in x makes it non-finite
                    drivers = k.batch_sig_for(paths.shape[0], paths.shape[1])
                    bad = _batched(*drivers, jobs, paths.shape[0], work, paths, out)
                if not bad:
                    return out.reshape(x.shape[:-2] + (k.LENGTH,))
    check_choice(lift, "lift", LIFTS)
    n = check_int(depth, "depth")
    stride = check_int(stride, "stride")
    jobs = resolve_n_jobs(n_jobs)
    arr = _as_numeric_array(x, "x")
    dtype = _float_dtype(arr.dtype, "x")
    if arr.ndim < 2:
        raise ValueError(f"x must have shape (..., N, d) (at least 2 axes), got shape {arr.shape}")
    batch_shape, paths = as_batch_of_paths(arr, "x", dtype=dtype)
    nb, npts, d = paths.shape
    length = sig_length(d, n)
    k = _kernels(d, n, lift)
    if stream:
        m = (npts - 1) // stride
        out = np.empty((nb, m, length), dtype=dtype)
        if m:
            _batched(k.batch_stream, k.batch_stream_par, jobs, nb, nb * npts * length, paths, stride, out)
        return _with_scalar(out.reshape(batch_shape + (m, length)), scalar_term)
    out = np.zeros((nb, length), dtype=dtype)
    work = npts * length
    if npts >= 2:
        if nb == 1 and work >= _config.SIG_CHUNKED_WORK and jobs > 1:
            _chunked_single(k, paths[0], out, jobs)
        else:
            _batched(*k.batch_sig_for(nb, npts), jobs, nb, nb * work, paths, out)
    return _with_scalar(out.reshape(batch_shape + (length,)), scalar_term)


def _chunked_single(k, path: np.ndarray, out: np.ndarray, jobs: int) -> None:
    """One long path: `jobs` chunk signatures in parallel, then their ordered Chen product."""
    bounds = np.linspace(0, path.shape[0] - 1, jobs + 1).round().astype(np.int64)
    chunks = np.zeros((1, jobs, out.shape[1]), dtype=out.dtype)
    run_parallel(k.chunk_sigs_par, jobs, path, bounds, chunks[0])
    k.batch_mul_many(chunks, out)


def _as_sigs(s, name: str, length: int, dtype=None) -> np.ndarray:
    arr = _as_numeric_array(s, name)
    if arr.ndim == 0 or arr.shape[-1] != length:
        raise ValueError(
            f"{name} must have shape (..., {length}) (sig_length(dim, depth), no scalar term), "
            f"got shape {arr.shape}"
        )
    _check_finite(arr, name)
    return arr


def _broadcast_rows(arrays, names, widths, dtype):
    """Broadcast the batch axes (all but the last) and return C-contiguous (B, width) rows."""
    try:
        batch_shape = np.broadcast_shapes(*(a.shape[:-1] for a in arrays))
    except ValueError:
        shapes = ", ".join(f"{nm} {a.shape}" for nm, a in zip(names, arrays))
        raise ValueError(f"batch axes do not broadcast: {shapes}") from None
    rows = [
        np.ascontiguousarray(np.broadcast_to(a, batch_shape + (w,)), dtype=dtype).reshape(-1, w)
        for a, w in zip(arrays, widths)
    ]
    return batch_shape, rows


def sig_combine(a, b, dim, depth, *, n_jobs=None):
    """Chen product ``a (x) b`` of truncated signatures (batched).

    With no scalar term stored, level ``k`` of the product is
    ``a_k + b_k + sum_{j=1}^{k-1} a_j (x) b_{k-j}``. If ``a = S(x_s..x_t)`` and
    ``b = S(x_t..x_u)`` (same lift), the product is ``S(x_s..x_u)`` (Chen's identity, both
    lifts). Associative, not commutative.

    Parameters
    ----------
    a, b : array_like, shape (..., L)
        ``L = sig_length(dim, depth)``; batch axes broadcast against each other.
    dim, depth : int
    n_jobs : int or None
        Threads, as in :func:`signature` (large batches run in parallel).

    Returns
    -------
    ndarray, shape (broadcast batch, L)

    Examples
    --------
    >>> import numpy as np
    >>> x = np.array([[0.0, 0.0], [1.0, 0.0], [1.0, 2.0], [3.0, 1.0]])
    >>> ab = sig_combine(signature(x[:2], 3), signature(x[1:], 3), 2, 3)
    >>> bool(np.allclose(ab, signature(x, 3)))
    True
    """
    length = sig_length(dim, depth)
    a = _as_sigs(a, "a", length)
    b = _as_sigs(b, "b", length)
    dtype = _float_dtype(np.result_type(a.dtype, b.dtype), "a, b")
    batch_shape, (pa, pb) = _broadcast_rows([a, b], ["a", "b"], [length, length], dtype)
    out = np.empty_like(pa)
    k = _kernels(dim, depth, "geometric")
    jobs = resolve_n_jobs(n_jobs)
    _batched(k.batch_mul, k.batch_mul_par, jobs, len(pa), len(pa) * length * depth, pa, pb, out)
    return out.reshape(batch_shape + (length,))


def sig_combine_many(sigs, dim, depth, *, n_jobs=None):
    """Ordered Chen product ``s_0 (x) s_1 (x) ... (x) s_{K-1}`` along axis -2.

    Parameters
    ----------
    sigs : array_like, shape (..., K, L)
        ``K >= 0`` signatures per batch entry, in path order (e.g. of consecutive chunks).
    dim, depth : int
    n_jobs : int or None
        Threads, as in :func:`signature` (large batches run in parallel over entries).

    Returns
    -------
    ndarray, shape (..., L)
        The product (the identity, zeros, when ``K = 0``).

    Examples
    --------
    >>> import numpy as np
    >>> x = np.cumsum(np.ones((7, 2)), axis=0)
    >>> parts = np.stack([signature(x[i:i + 3], 2) for i in (0, 2, 4)])
    >>> bool(np.allclose(sig_combine_many(parts, 2, 2), signature(x, 2)))
    True
    """
    length = sig_length(dim, depth)
    s = _as_sigs(sigs, "sigs", length)
    if s.ndim < 2:
        raise ValueError(f"sigs must have shape (..., K, {length}), got shape {s.shape}")
    dtype = _float_dtype(s.dtype, "sigs")
    batch_shape = s.shape[:-2]
    nb = int(np.prod(batch_shape))
    rows = np.ascontiguousarray(s, dtype=dtype).reshape(nb, s.shape[-2], length)
    out = np.zeros((nb, length), dtype=dtype)
    k = _kernels(dim, depth, "geometric")
    work = rows.shape[0] * rows.shape[1] * length * depth
    jobs = resolve_n_jobs(n_jobs)
    _batched(k.batch_mul_many, k.batch_mul_many_par, jobs, rows.shape[0], work, rows, out)
    return out.reshape(batch_shape + (length,))


def sig_inverse(s, dim, depth, *, lift="geometric", n_jobs=None):
    """Inverse in the truncated tensor algebra (batched): ``s (x) sig_inverse(s) = identity``.

    - ``lift="geometric"``: the signature of the reversed path, by the antipode: level
      ``k`` word ``(i_1 ... i_k)`` of the inverse is ``(-1)^k s_(i_k ... i_1)``. Exact and
      cheap, valid for geometric signatures (group-like elements) and their products.
    - ``lift="iterated"``: the general inverse ``sum_m (-(s - 1))^((x) m)``, computed by the
      recursion ``t_k = -s_k - sum_{j=1}^{k-1} s_j (x) t_{k-j}``; for an iterated-sums
      signature it is ``(1 + a_{N-1})^(-1) (x) ... (x) (1 + a_0)^(-1)`` (valid for any input).

    Parameters
    ----------
    s : array_like, shape (..., L)
    dim, depth : int
    lift : {"geometric", "iterated"}
    n_jobs : int or None
        Threads, as in :func:`signature` (the iterated lift's large batches run in parallel).

    Returns
    -------
    ndarray, shape (..., L)

    Examples
    --------
    >>> import numpy as np
    >>> x = np.array([[0.0, 0.0], [1.0, 0.0], [1.0, 2.0]])
    >>> bool(np.allclose(sig_inverse(signature(x, 3), 2, 3), signature(x[::-1], 3)))
    True
    """
    check_choice(lift, "lift", LIFTS)
    jobs = resolve_n_jobs(n_jobs)
    length = sig_length(dim, depth)
    s = _as_sigs(s, "s", length)
    dtype = _float_dtype(s.dtype, "s")
    if lift == "geometric":
        out = np.empty(s.shape, dtype=dtype)
        for k in range(1, depth + 1):
            lev = sig_level(s, dim, depth, k)
            axes = tuple(range(lev.ndim - k)) + tuple(range(lev.ndim - 1, lev.ndim - k - 1, -1))
            sig_level(out, dim, depth, k)[...] = lev.transpose(axes) * (-1) ** k
        return out
    rows = np.ascontiguousarray(s, dtype=dtype).reshape(-1, length)
    out = np.empty_like(rows)
    k = _kernels(dim, depth, "geometric")
    _batched(k.batch_inverse, k.batch_inverse_par, jobs, len(rows), len(rows) * length * depth, rows, out)
    return out.reshape(s.shape)


def sig_join(s, increment, dim, depth, *, lift="geometric", n_jobs=None):
    """Append one increment to a signature (batched): ``s (x) exp(a)`` or ``s (x) (1 + a)``.

    ``sig_join(signature(x, n, lift=k), y - x[-1], d, n, lift=k)`` equals
    ``signature(concat(x, y), n, lift=k)``: one step of the streaming update, with the
    Horner scheme for the geometric lift.

    Parameters
    ----------
    s : array_like, shape (..., L)
    increment : array_like, shape (..., dim)
        Batch axes broadcast against those of `s`.
    dim, depth : int
    lift : {"geometric", "iterated"}
    n_jobs : int or None
        Threads, as in :func:`signature` (large batches run in parallel).

    Returns
    -------
    ndarray, shape (broadcast batch, L)

    Examples
    --------
    >>> import numpy as np
    >>> x = np.array([[0.0, 0.0], [1.0, 0.0], [1.0, 2.0]])
    >>> bool(np.allclose(sig_join(signature(x[:2], 2), x[2] - x[1], 2, 2), signature(x, 2)))
    True
    """
    check_choice(lift, "lift", LIFTS)
    length = sig_length(dim, depth)
    s = _as_sigs(s, "s", length)
    inc = _as_numeric_array(increment, "increment")
    if inc.ndim == 0 or inc.shape[-1] != dim:
        raise ValueError(f"increment must have shape (..., {dim}) (dim), got shape {inc.shape}")
    _check_finite(inc, "increment")
    dtype = _float_dtype(np.result_type(s.dtype, inc.dtype), "s, increment")
    batch_shape, (ps, pa) = _broadcast_rows([s, inc], ["s", "increment"], [length, dim], dtype)
    out = np.empty_like(ps)
    k = _kernels(dim, depth, lift)
    jobs = resolve_n_jobs(n_jobs)
    _batched(k.batch_join, k.batch_join_par, jobs, len(ps), len(ps) * length, ps, pa, out)
    return out.reshape(batch_shape + (length,))


def sig_level(s, dim, depth, level):
    """Level `level` of signatures `s` as a tensor view of shape ``(..., dim, ..., dim)``.

    Accepts the layout with or without the scalar term (last axis ``L`` or ``L + 1``). The
    entry ``[..., i_1, ..., i_k]`` is the coefficient of the word ``(i_1 ... i_k)``.

    Examples
    --------
    >>> import numpy as np
    >>> x = np.array([[0.0, 0.0], [1.0, 0.0], [1.0, 2.0]])
    >>> sig_level(signature(x, 2, lift="iterated"), 2, 2, 2)   # the level-2 d x d block
    array([[0., 2.],
           [0., 0.]])
    """
    length = sig_length(dim, depth)
    k = check_int(level, "level")
    if k > depth:
        raise ValueError(f"level must be <= depth = {depth}, got {level}")
    s = np.asarray(s)
    if s.ndim == 0 or s.shape[-1] not in (length, length + 1):
        raise ValueError(f"s must have shape (..., {length}) or (..., {length + 1}), got shape {s.shape}")
    start = (s.shape[-1] - length) + sum(dim**j for j in range(1, k))
    return s[..., start : start + dim**k].reshape(s.shape[:-1] + (dim,) * k)
