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

Level 2 of the two kinds differs by half the bracket, ``Sig_geo^(2) = XX + D / 2`` with
``D = sum_k a_k (x) a_k``; get it with ``sig_level(signature(x, 2, kind=...), d, 2, 2)``,
a ``(..., d, d)`` view.
"""

from __future__ import annotations

import contextlib
import numbers

import numba
import numpy as np
from numba import get_num_threads

from ._validation import _as_numeric_array, _check_finite, as_batch_of_paths, check_choice

__all__ = [
    "KINDS",
    "sig_length",
    "signature",
    "sig_combine",
    "sig_combine_many",
    "sig_inverse",
    "sig_join",
    "sig_level",
]

KINDS = ("geometric", "iterated")

#: refuse tensors with more entries than this (8 GB in float64 per signature)
MAX_SIG_LENGTH = 10**9

# below this many scalar multiply-adds a call stays on one thread (a parallel launch costs
# several microseconds); a single path is split into chunks above _CHUNKED_WORK
_PARALLEL_WORK = 200_000
_CHUNKED_WORK = 1_600_000

# kernels run as plain Python (coverage runs): numpy then warns about NaN/inf arithmetic
_PLAIN_PYTHON = numba.config.DISABLE_JIT
_NO_CONTEXT = contextlib.nullcontext()
_F64 = np.dtype(np.float64)
_F32 = np.dtype(np.float32)
# (dim, depth, kind) -> generated kernel module, filled by _kernels once the key was validated
_LOADED: dict = {}


def _check_int(value, name: str, minimum: int = 1) -> int:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{name} must be an integer, got {value!r}")
    if value < minimum:
        raise ValueError(f"{name} must be >= {minimum}, got {value!r}")
    return int(value)


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
    d = _check_int(dim, "dim")
    n = _check_int(depth, "depth")
    length = n if d == 1 else (d ** (n + 1) - d) // (d - 1)
    if length > MAX_SIG_LENGTH:
        raise ValueError(
            f"a depth-{n} signature of a {d}-dimensional path has {length:.3e} entries "
            f"({length * 8 / 2**30:.3g} GiB per signature in float64); this is too large "
            f"(limit {MAX_SIG_LENGTH:.0e} entries): lower depth or dim"
        )
    return length


def _float_dtype(dtype, name: str):
    """The computing dtype: float32 stays float32, float64 and integers become float64."""
    dtype = np.dtype(dtype)
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


def _parallel(batch: int, work: float) -> bool:
    return batch >= 2 and work >= _PARALLEL_WORK and get_num_threads() > 1


def _with_scalar(out: np.ndarray, scalar_term: bool) -> np.ndarray:
    if not scalar_term:
        return out
    res = np.empty(out.shape[:-1] + (out.shape[-1] + 1,), dtype=out.dtype)
    res[..., 0] = 1
    res[..., 1:] = out
    return res


def signature(x, depth, *, kind="geometric", stream=False, scalar_term=False, stride=1):
    """Truncated signature of one path or a batch of paths.

    For points ``x_0, ..., x_{N-1}`` with increments ``a_k = x_{k+1} - x_k``:

    - ``kind="geometric"``: ``S = exp(a_0) (x) exp(a_1) (x) ... (x) exp(a_{N-2})``, the
      signature of the piecewise-linear path, level ``k`` =
      ``int_{t_1 < ... < t_k} dx_{t_1} (x) ... (x) dx_{t_k}`` (iisignature's ``sig``);
    - ``kind="iterated"``: ``S = (1 + a_0) (x) ... (x) (1 + a_{N-2})``, the iterated-sums
      signature, level ``k`` = ``sum_{i_1 < ... < i_k} a_{i_1} (x) ... (x) a_{i_k}``.

    Parameters
    ----------
    x : array_like, shape (..., N, d)
        Paths: any leading batch axes, then ``N`` points of dimension ``d``. float32 input
        is computed in float32, float64 and integer input in float64.
    depth : int
        Truncation depth ``n >= 1``.
    kind : {"geometric", "iterated"}
    stream : bool
        If True, return every prefix signature ``S(x_0 .. x_j)``.
    scalar_term : bool
        If True, prepend the scalar term 1 to every signature.
    stride : int
        With ``stream=True``, return only the prefixes ending at points
        ``stride, 2 stride, ...`` (bounds memory on long paths).

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
    particular the level-2 ``d x d`` block of either kind is
    ``sig_level(signature(x, 2, kind=kind), d, 2, 2)``, and for the same path
    ``geometric - iterated = D / 2`` with ``D = sum_k a_k (x) a_k``.

    A long single path is split into chunks whose signatures are computed in parallel and
    multiplied in order (Chen's identity); a batch is computed in parallel over paths.

    Examples
    --------
    >>> import numpy as np
    >>> x = np.array([[0.0, 0.0], [1.0, 0.0], [1.0, 2.0]])
    >>> signature(x, 2)                       # S^1 = (1, 2), S^2 = [[1/2, 2], [0, 2]]
    array([1. , 2. , 0.5, 2. , 0. , 2. ])
    >>> signature(x, 2, kind="iterated")      # S^2 = a_0 (x) a_1 = [[0, 2], [0, 0]]
    array([1., 2., 0., 2., 0., 0.])
    """
    if type(x) is not np.ndarray:
        from .chunked import is_chunked

        if is_chunked(x):  # a dask array, zarr array or store path: out of core (streamrough.chunked)
            from . import chunked

            if scalar_term or stride != 1:
                raise ValueError("chunked input (dask / zarr / store path) takes no scalar_term and stride 1")
            return chunked.signature(x, depth, kind=kind, stream=stream, quiet=True)
    if (  # fast path for float C-contiguous input: no copy, no separate finiteness pass
        type(x) is np.ndarray
        and x.ndim >= 2
        and (x.dtype is _F64 or x.dtype is _F32)
        and (not stream or (type(stride) is int and stride == 1 and x.ndim == 2))
        and not scalar_term
        and type(depth) is int
        and x.flags.c_contiguous
    ):
        k = _LOADED.get((x.shape[-1], depth, kind))
        if k is not None and 2 <= x.shape[-2]:
            if stream:  # every prefix of one path; the last one's level 1 sums all increments
                out = np.empty((1, x.shape[0] - 1, k.LENGTH), dtype=x.dtype)
                with np.errstate(all="ignore") if _PLAIN_PYTHON else _NO_CONTEXT:
                    k.batch_stream(x[None], 1, out)
                if np.isfinite(out[0, -1, : x.shape[1]]).all():
                    return out[0]
            elif x.ndim == 2 and x.shape[0] * k.LENGTH < _CHUNKED_WORK:  # one small path
                out = np.zeros(k.LENGTH, dtype=x.dtype)
                with np.errstate(all="ignore") if _PLAIN_PYTHON else _NO_CONTEXT:  # NaN/inf: checked below
                    bad = k.one_sig(x, out)
                if not bad:
                    return out
            elif x.ndim > 2 and x.size // (x.shape[-2] * x.shape[-1]) >= 2:  # a batch
                paths = x.reshape(-1, x.shape[-2], x.shape[-1])
                out = np.zeros((paths.shape[0], k.LENGTH), dtype=x.dtype)
                par = _parallel(paths.shape[0], paths.shape[0] * paths.shape[1] * k.LENGTH)
                with np.errstate(all="ignore") if _PLAIN_PYTHON else _NO_CONTEXT:
                    (k.batch_sig_par if par else k.batch_sig)(paths, out)
                # level 1 sums the increments: NaN or inf anywhere in x makes it non-finite
                if np.isfinite(out[:, : x.shape[-1]]).all():
                    return out.reshape(x.shape[:-2] + (k.LENGTH,))
    check_choice(kind, "kind", KINDS)
    n = _check_int(depth, "depth")
    stride = _check_int(stride, "stride")
    arr = _as_numeric_array(x, "x")
    dtype = _float_dtype(arr.dtype, "x")
    if arr.ndim < 2:
        raise ValueError(f"x must have shape (..., N, d) (at least 2 axes), got shape {arr.shape}")
    batch_shape, paths = as_batch_of_paths(arr, "x", dtype=dtype)
    nb, npts, d = paths.shape
    length = sig_length(d, n)
    k = _kernels(d, n, kind)
    if stream:
        m = (npts - 1) // stride
        out = np.empty((nb, m, length), dtype=dtype)
        if m:
            par = _parallel(nb, nb * npts * length)
            (k.batch_stream_par if par else k.batch_stream)(paths, stride, out)
        return _with_scalar(out.reshape(batch_shape + (m, length)), scalar_term)
    out = np.zeros((nb, length), dtype=dtype)
    work = npts * length
    if npts >= 2:
        if nb == 1 and work >= _CHUNKED_WORK and get_num_threads() > 1:
            _chunked_single(k, paths[0], out, get_num_threads())
        else:
            (k.batch_sig_par if _parallel(nb, nb * work) else k.batch_sig)(paths, out)
    return _with_scalar(out.reshape(batch_shape + (length,)), scalar_term)


def _chunked_single(k, path: np.ndarray, out: np.ndarray, threads: int) -> None:
    """One long path: chunk signatures in parallel, then their ordered Chen product."""
    bounds = np.linspace(0, path.shape[0] - 1, threads + 1).round().astype(np.int64)
    chunks = np.zeros((1, threads, out.shape[1]), dtype=out.dtype)
    k.chunk_sigs_par(path, bounds, chunks[0])
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


def sig_combine(a, b, dim, depth):
    """Chen product ``a (x) b`` of truncated signatures (batched).

    With no scalar term stored, level ``k`` of the product is
    ``a_k + b_k + sum_{j=1}^{k-1} a_j (x) b_{k-j}``. If ``a = S(x_s..x_t)`` and
    ``b = S(x_t..x_u)`` (same kind), the product is ``S(x_s..x_u)`` (Chen's identity, both
    kinds). Associative, not commutative.

    Parameters
    ----------
    a, b : array_like, shape (..., L)
        ``L = sig_length(dim, depth)``; batch axes broadcast against each other.
    dim, depth : int

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
    (k.batch_mul_par if _parallel(len(pa), len(pa) * length * depth) else k.batch_mul)(pa, pb, out)
    return out.reshape(batch_shape + (length,))


def sig_combine_many(sigs, dim, depth):
    """Ordered Chen product ``s_0 (x) s_1 (x) ... (x) s_{K-1}`` along axis -2.

    Parameters
    ----------
    sigs : array_like, shape (..., K, L)
        ``K >= 0`` signatures per batch entry, in path order (e.g. of consecutive chunks).
    dim, depth : int

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
    (k.batch_mul_many_par if _parallel(rows.shape[0], work) else k.batch_mul_many)(rows, out)
    return out.reshape(batch_shape + (length,))


def sig_inverse(s, dim, depth, *, kind="geometric"):
    """Inverse in the truncated tensor algebra (batched): ``s (x) sig_inverse(s) = identity``.

    - ``kind="geometric"``: the signature of the reversed path, by the antipode: level
      ``k`` word ``(i_1 ... i_k)`` of the inverse is ``(-1)^k s_(i_k ... i_1)``. Exact and
      cheap, valid for geometric signatures (group-like elements) and their products.
    - ``kind="iterated"``: the general inverse ``sum_m (-(s - 1))^((x) m)``, computed by the
      recursion ``t_k = -s_k - sum_{j=1}^{k-1} s_j (x) t_{k-j}``; for an iterated-sums
      signature it is ``(1 + a_{N-1})^(-1) (x) ... (x) (1 + a_0)^(-1)`` (valid for any input).

    Parameters
    ----------
    s : array_like, shape (..., L)
    dim, depth : int
    kind : {"geometric", "iterated"}

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
    check_choice(kind, "kind", KINDS)
    length = sig_length(dim, depth)
    s = _as_sigs(s, "s", length)
    dtype = _float_dtype(s.dtype, "s")
    if kind == "geometric":
        out = np.empty(s.shape, dtype=dtype)
        for k in range(1, depth + 1):
            lev = sig_level(s, dim, depth, k)
            axes = tuple(range(lev.ndim - k)) + tuple(range(lev.ndim - 1, lev.ndim - k - 1, -1))
            sig_level(out, dim, depth, k)[...] = lev.transpose(axes) * (-1) ** k
        return out
    rows = np.ascontiguousarray(s, dtype=dtype).reshape(-1, length)
    out = np.empty_like(rows)
    k = _kernels(dim, depth, "geometric")
    (k.batch_inverse_par if _parallel(len(rows), len(rows) * length * depth) else k.batch_inverse)(rows, out)
    return out.reshape(s.shape)


def sig_join(s, increment, dim, depth, *, kind="geometric"):
    """Append one increment to a signature (batched): ``s (x) exp(a)`` or ``s (x) (1 + a)``.

    ``sig_join(signature(x, n, kind=k), y - x[-1], d, n, kind=k)`` equals
    ``signature(concat(x, y), n, kind=k)``: one step of the streaming update, with the
    Horner scheme for the geometric kind.

    Parameters
    ----------
    s : array_like, shape (..., L)
    increment : array_like, shape (..., dim)
        Batch axes broadcast against those of `s`.
    dim, depth : int
    kind : {"geometric", "iterated"}

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
    check_choice(kind, "kind", KINDS)
    length = sig_length(dim, depth)
    s = _as_sigs(s, "s", length)
    inc = _as_numeric_array(increment, "increment")
    if inc.ndim == 0 or inc.shape[-1] != dim:
        raise ValueError(f"increment must have shape (..., {dim}) (dim), got shape {inc.shape}")
    _check_finite(inc, "increment")
    dtype = _float_dtype(np.result_type(s.dtype, inc.dtype), "s, increment")
    batch_shape, (ps, pa) = _broadcast_rows([s, inc], ["s", "increment"], [length, dim], dtype)
    out = np.empty_like(ps)
    k = _kernels(dim, depth, kind)
    (k.batch_join_par if _parallel(len(ps), len(ps) * length) else k.batch_join)(ps, pa, out)
    return out.reshape(batch_shape + (length,))


def sig_level(s, dim, depth, level):
    """Level `level` of signatures `s` as a tensor view of shape ``(..., dim, ..., dim)``.

    Accepts the layout with or without the scalar term (last axis ``L`` or ``L + 1``). The
    entry ``[..., i_1, ..., i_k]`` is the coefficient of the word ``(i_1 ... i_k)``.

    Examples
    --------
    >>> import numpy as np
    >>> x = np.array([[0.0, 0.0], [1.0, 0.0], [1.0, 2.0]])
    >>> sig_level(signature(x, 2, kind="iterated"), 2, 2, 2)   # the level-2 d x d block
    array([[0., 2.],
           [0., 0.]])
    """
    length = sig_length(dim, depth)
    k = _check_int(level, "level")
    if k > depth:
        raise ValueError(f"level must be <= depth = {depth}, got {level}")
    s = np.asarray(s)
    if s.ndim == 0 or s.shape[-1] not in (length, length + 1):
        raise ValueError(f"s must have shape (..., {length}) or (..., {length + 1}), got shape {s.shape}")
    start = (s.shape[-1] - length) + sum(dim**j for j in range(1, k))
    return s[..., start : start + dim**k].reshape(s.shape[:-1] + (dim,) * k)
