"""Out-of-core and cluster evaluation: Dask graphs over chunked paths and weight sequences.

Every function here accepts a Dask array, a Zarr array, or the path / URL of a Zarr array
(read with ``dask.array.from_zarr``), builds a Dask graph that never holds the whole input
in one place, and computes it once, at the public edge, on the active scheduler
(``client=None``: Dask's default, threads unless configured otherwise) or on a
``dask.distributed.Client``. float32 data stays float32 on disk and in transit; each chunk
is converted to float64 inside its task, and everything is accumulated in float64.

The module keeps "what to combine" apart from "how to schedule" (as flox does):

* pure functions of numpy blocks (``_gram_tile``, ``_chunk_signature``, ``_chen_rows``,
  ``_pair_best``, ``_chunk_advance`` ...), which call only serial Numba kernels: a parallel
  kernel inside a Dask task aborts under Numba's workqueue layer and oversubscribes under
  OpenMP;
* graph builders (``gram_graph``, ``signature_graph``, ``prefix_graph``, ``pvar_graph``),
  which return Dask collections and never compute anything;
* public functions (``layer_gram``, ``pvar``, ``signature``, ``sig_query``, ``rough_pvar``,
  ``rough_distance``), which validate, build, compute once and finish on the L x L or
  per-chunk results in memory.

What runs out of core, and how:

Gram matrix of the layers (math.md 5)
    ``G = sum_k A[:, k] A[:, k]^T`` over the chunks k of the feature axis: one task per
    (row block i <= row block j, feature chunk k) computes a partial tile, a binary tree
    adds the partial tiles of each (i, j) in a fixed order, and the feature axis is never
    concatenated. Level 1 and level 2 of wide layers then follow from the L x L matrix
    (:func:`streamrough.gram.gram_rough_pvar`): level 2 never materialises a D^2 tensor.
Exact p-variation (math.md 2.4)
    Chunks C_0, C_1, ... of the path. For each chunk C and each earlier chunk C', a task
    computes max over i in C' of pv[i] + |x_i - x_j|^p for j in C (branch and bound inside
    C'), skipped without reading C' when a ball around C' and C proves that no such i can
    beat the candidate J - 1; these tasks run in parallel. A chain of tasks, one per chunk
    in order, then finishes pv on C (candidates J - 1 <= i < j). Only final pv values are
    used, so it is exact, and all candidate values are the same floating-point numbers as
    in the eager branch and bound: the result is equal bit for bit.
Signatures (math.md 3)
    Chunk signatures (each chunk preceded by the last point of the previous one, so that
    every increment is counted once: the step from that point, a one-row task, times the
    chunk's own signature), multiplied by an ordered tree (``dask.array.reduction``:
    adjacent blocks, in order, Chen's product being associative but not commutative).
    Prefix signatures by a scan over chunks overlapped by one point (``map_overlap``) with
    ``cumreduction`` (identity 0 in the no-scalar-term layout).

Examples
--------
>>> import numpy as np, dask.array as da
>>> from streamrough import chunked
>>> x = da.from_array(np.array([[0.0, 0.0], [1.0, 0.0], [1.0, 1.0], [0.0, 1.0]]), chunks=2)
>>> chunked.pvar(x, 2, power=True, quiet=True)
3.0
>>> chunked.signature(x, 2, quiet=True)
array([ 0. ,  1. ,  0. ,  1. , -1. ,  0.5])
"""

from __future__ import annotations

import math
import numbers
import os

import numpy as np

from ._validation import _check_real_dtype, as_p_values, check_choice

__all__ = [
    "is_chunked",
    "as_dask",
    "from_store",
    "read_input",
    "gram_graph",
    "signature_graph",
    "prefix_graph",
    "pvar_graph",
    "layer_gram",
    "pvar",
    "signature",
    "sig_query",
    "rough_pvar",
    "rough_distance",
]

_META = np.empty((0, 0), np.float64)  # the meta of every float64 block made here

#: default size in bytes of one operand block of the Gram route (rows x features, stored dtype)
BLOCK_BYTES = 64 << 20

#: default size in bytes (float64) of one chunk of a stored path for p-variation and signatures
CHUNK_BYTES = 16 << 20


# ------------------------------------------------------------------------------------------
# inputs


def is_chunked(x) -> bool:
    """True for a Dask array, a Zarr array, or a path / URL (str or os.PathLike) of a Zarr array."""
    if isinstance(x, (str, os.PathLike)):
        return True
    module = type(x).__module__
    return module.startswith("dask.array") or module.startswith("zarr")


def as_dask(x, name: str = "x", *, chunk_bytes=None, entry_bytes=None):
    """`x` as a Dask array: unchanged if it is one, else ``dask.array.from_zarr(x)``.

    A Dask array keeps the chunks its caller chose. A stored array (a Zarr array or the path
    / URL of one) keeps its stored chunks, or with `chunk_bytes` has whole stored chunks
    merged along axis 0 into chunks of about `chunk_bytes` at `entry_bytes` per entry
    (default: the stored itemsize); each merged chunk is then read by one Zarr call, with no
    concatenation of stored chunks afterwards.

    Raises
    ------
    ValueError
        A path that is not a readable Zarr array, an empty array.
    TypeError
        Non-numeric or complex dtype.
    """
    import dask.array as da

    from .store import zarr_array

    if isinstance(x, da.Array):
        arr = x
    else:
        source = os.fspath(x) if isinstance(x, os.PathLike) else x
        try:
            z = zarr_array(source)
            chunks = None
            if chunk_bytes is not None and z.ndim and z.shape[0]:
                per_row = max(1, (entry_bytes or z.dtype.itemsize) * math.prod(z.shape[1:]))
                c = z.chunks[0]
                rows = min(z.shape[0], max(c, chunk_bytes // per_row // c * c))
                chunks = (rows,) + tuple(z.chunks[1:])
            arr = da.from_zarr(z, chunks=chunks)
        except Exception as exc:  # zarr raises several types for a missing or foreign store
            raise ValueError(f"{name}: cannot read {source!r} as a Zarr array ({type(exc).__name__}: {exc})") from None
    _check_real_dtype(arr.dtype, name)
    if arr.ndim == 0 or arr.shape[0] == 0:
        raise ValueError(f"{name} is empty: it needs at least one point (layer) along axis 0")
    if any(math.isnan(c) for c in arr.shape):
        raise ValueError(f"{name} has unknown chunk sizes: call compute_chunk_sizes() first")
    return arr


def from_store(store, role, run=None, step=None):
    """The committed layers of a stored weight path as a lazy Dask array (nothing is read).

    Parameters
    ----------
    store : WeightStore, or the URL / folder of one (opened read-only)
    role : str
        The path's role, e.g. ``"blocks.{k}.W"``.
    run : str, optional
        Default: the store's default run.
    step : int or None
        The checkpoint (None: the final one).

    Returns
    -------
    dask array, shape (n_layers, *layer_shape), in the stored dtype
        ``dask.array.from_zarr(store.array(...))[:n_layers]``: rows past the committed
        length (a write in progress) are not part of the path.

    Examples
    --------
    >>> import numpy as np, tempfile, os, streamrough as sr
    >>> folder = os.path.join(tempfile.mkdtemp(), "w.zarr")
    >>> with sr.open_store(folder, mode="w") as st:
    ...     st.create_path("b.{k}.W", (2, 2), "float64").append_many(np.ones((3, 2, 2)))
    >>> from_store(folder, "b.{k}.W").shape
    (3, 2, 2)
    """
    import dask.array as da

    from .store import DEFAULT_RUN, WeightStore, open_store

    run = DEFAULT_RUN if run is None else run
    if isinstance(store, WeightStore):
        return _committed(da, store, role, run, step)
    with open_store(store, mode="r") as opened:
        return _committed(da, opened, role, run, step)


def _committed(da, store, role, run, step):
    n = store.info(role, run, step).n_layers
    return as_dask(da.from_zarr(store.array(role, run, step))[:n], role)


def _flat(arr, name: str):
    """(N, D) view of a Dask array of shape (N, ...) (trailing axes flattened row-major)."""
    if arr.ndim == 1:
        arr = arr[:, None]
    elif arr.ndim > 2:
        arr = arr.reshape(arr.shape[0], -1)
    if arr.shape[1] == 0:
        raise ValueError(f"{name} has points of dimension 0 (shape {arr.shape})")
    return arr


def _finite(block, name: str, row0: int = 0) -> np.ndarray:
    """A block as an ndarray in its own dtype, checked finite (row0: its first row, for the message)."""
    arr = np.asarray(block)
    if not np.isfinite(arr).all():
        bad = np.argwhere(~np.isfinite(arr))[0]
        raise ValueError(f"{name} contains NaN or inf (row {int(bad[0]) + row0})")
    return arr


def _f64(block, name: str, row0: int = 0) -> np.ndarray:
    """A block as C-contiguous float64 (no copy if it is one already), checked finite."""
    return np.ascontiguousarray(_finite(block, name, row0), dtype=np.float64)


def _offsets(chunks) -> list:
    out = [0]
    for c in chunks:
        out.append(out[-1] + int(c))
    return out


# ------------------------------------------------------------------------------------------
# scheduling: compute once, with progress, on the scheduler in use


def _compute(objs, client, quiet: bool, warm=()):
    """Compute a list of Dask collections / delayed objects once.

    client None: ``dask.compute`` on the active scheduler, under Dask's ``ProgressBar``
    unless `quiet`. A distributed client: kernels warmed on every worker once (a worker
    plugin, see :mod:`streamrough._worker_plugin`), ``client.compute`` with
    ``distributed.progress`` unless `quiet`.
    """
    import dask

    if client is None:
        if quiet:
            return list(dask.compute(*objs))
        from dask.diagnostics import ProgressBar

        with ProgressBar():
            return list(dask.compute(*objs))
    from ._worker_plugin import warm_workers

    warm_workers(client, warm)
    futures = client.compute(list(objs))
    if not quiet:
        from distributed import progress

        progress(futures)
    return client.gather(futures)


def _check_client(client):
    if client is None:
        return None
    if not (hasattr(client, "compute") and hasattr(client, "gather") and hasattr(client, "register_plugin")):
        raise TypeError(f"client must be None or a dask.distributed.Client, got {type(client).__name__}")
    return client


# ------------------------------------------------------------------------------------------
# reading chunks inside tasks


class _Rows:
    """The rows of one chunk, read inside a task only when needed (not a graph dependency, so
    that a chunk is never held in memory waiting for later tasks): the chunk's own culled
    task graph, run by the synchronous scheduler in the task that reads it."""

    def __init__(self, dsk: dict, key, start: int, label: str):
        self.dsk = dsk
        self.key = key
        self.start = start  # first row, for error messages
        self.label = label  # the argument's name, for error messages

    def __dask_tokenize__(self):
        return (self.key, self.label)

    def stored(self) -> np.ndarray:
        """The rows in their stored dtype, checked finite."""
        from dask.local import get_sync

        return _finite(get_sync(self.dsk, self.key), self.label, self.start)

    def raw(self) -> np.ndarray:
        """The rows as C-contiguous float64, checked finite."""
        return np.ascontiguousarray(self.stored(), dtype=np.float64)


def _row_readers(x, label: str = "x") -> list:
    """readers[i][k]: a :class:`_Rows` for block (i, k) of the 2-d Dask array `x`."""
    import dask

    (x,) = dask.optimize(x)
    graph = x.__dask_graph__()
    offsets = _offsets(x.chunks[0])
    return [[_Rows(dict(graph.cull({key})), key, offsets[i], label) for key in row] for i, row in enumerate(x.__dask_keys__())]


# ------------------------------------------------------------------------------------------
# Gram route: what to combine


#: bytes of one float64 operand slab of a Gram tile (a block is converted this much at a time)
SLAB_BYTES = 1 << 20


def _gram_tile(a: _Rows, b: _Rows, same: bool) -> np.ndarray:
    """Partial Gram tile ``a b^T`` of two blocks of layers over one feature chunk, in float64.

    Both blocks are read here in their stored dtype. Float64 blocks are multiplied as they
    are; others are converted to float64 a slab of features at a time (about
    ``SLAB_BYTES`` per operand, kept in cache) and the slab products summed in order,
    ``sum_s A[:, s] B[:, s]^T``: no float64 copy of a whole block is made, so a task holds
    its two blocks as stored and one slab of each. The slab buffers are allocated once per
    tile: an allocation per slab is a fresh ``mmap`` and page faults on every one of them
    under the malloc settings of Dask's worker processes.
    """
    x = a.stored()
    y = x if same else b.stored()
    if x.dtype == np.float64 and y.dtype == np.float64:
        return x @ y.T
    n_features = x.shape[1]
    step = min(n_features, max(1, SLAB_BYTES // (8 * max(x.shape[0], y.shape[0]))))
    xs = np.empty((x.shape[0], step))
    ys = xs if same else np.empty((y.shape[0], step))
    part = np.empty((x.shape[0], y.shape[0]))
    out = np.zeros_like(part)
    for s in range(0, n_features, step):
        w = min(step, n_features - s)
        np.copyto(xs[:, :w], x[:, s : s + w])
        if not same:
            np.copyto(ys[:, :w], y[:, s : s + w])
        np.matmul(xs[:, :w], ys[:, :w].T, out=part)
        out += part
    return out


def _add(a, b):
    return a + b


def _assemble(tiles, offsets):
    """The full matrix from its upper-triangle tiles {(i, j): tile}, i <= j."""
    n = offsets[-1]
    out = np.empty((n, n))
    for (i, j), t in tiles.items():
        out[offsets[i] : offsets[i + 1], offsets[j] : offsets[j + 1]] = t
        if i != j:
            out[offsets[j] : offsets[j + 1], offsets[i] : offsets[i + 1]] = t.T
    return out


# Gram route: how to schedule


def _tree_keys(dsk: dict, name: str, parts: list, combine) -> object:
    """Add a balanced binary tree of `combine` over the keys `parts` (adjacent pairs, in
    order) to `dsk`; returns the root key."""
    level = 0
    while len(parts) > 1:
        nxt = []
        for k in range(0, len(parts) - 1, 2):
            key = (name, level, k // 2)
            dsk[key] = (combine, parts[k], parts[k + 1])
            nxt.append(key)
        if len(parts) % 2:
            nxt.append(parts[-1])
        parts = nxt
        level += 1
    return parts[0]


def _delayed(name: str, dsk: dict, key, dependencies=()):
    """A Delayed for `key` of the low-level graph `dsk` (built in one go: making thousands of
    small Delayed objects one by one costs time quadratic in their number)."""
    from dask.delayed import Delayed
    from dask.highlevelgraph import HighLevelGraph

    return Delayed(key, HighLevelGraph.from_collections(name, dsk, dependencies=list(dependencies)), layer=name)


def _gram_blocks(a, block_bytes: int):
    """`a` (L, D) rechunked so that one block holds about `block_bytes` in its stored dtype
    (rows merged first, then the feature axis split only where a block would be too large)."""
    size = a.dtype.itemsize
    f = max(int(c) for c in a.chunks[1])
    c = max(int(r) for r in a.chunks[0])
    rows = min(a.shape[0], max(c, (block_bytes // (size * f)) // c * c))  # whole input chunks per block
    if rows * f * size > 4 * block_bytes:  # one chunk is far too wide: split the feature axis
        f = max(1, block_bytes // (size * rows))
    return a.rechunk((rows, f))


def gram_graph(a, *, block_bytes: int = BLOCK_BYTES):
    """Delayed L x L Gram matrix ``G[i, k] = <a_i, a_k>`` of the rows of a Dask array (L, D).

    One task per upper-triangle tile (row block i <= row block j) and feature chunk k
    reads its two blocks itself (they are not shared graph keys, so no block waits in memory
    for later tiles: a task holds two blocks and a tile) and computes ``A[i, k] A[j, k]^T``
    in float64; the partial tiles of each (i, j) are added by
    a balanced tree in a fixed order (the result does not depend on the scheduler), and a
    final task assembles the matrix. The feature axis is never concatenated.

    Returns
    -------
    dask.delayed.Delayed
        Computes to a float64 ndarray of shape (L, L).
    """
    from dask.base import tokenize

    a = _gram_blocks(a, block_bytes)
    name = "streamrough-gram-" + tokenize(a.name, block_bytes)
    offsets = _offsets(a.chunks[0])
    nr, nf = a.numblocks
    readers = _row_readers(a, "weights")
    dsk = {}
    tiles = {}
    for i in range(nr):
        for j in range(i, nr):
            parts = []
            for k in range(nf):
                key = (name + "-part", i, j, k)
                dsk[key] = (_gram_tile, readers[i][k], readers[j][k], i == j)
                parts.append(key)
            tiles[(i, j)] = _tree_keys(dsk, f"{name}-sum-{i}-{j}", parts, _add)
    keys = list(tiles)
    dsk[name] = (_assemble_list, keys, [tiles[t] for t in keys], offsets)
    return _delayed(name, dsk, name)


def _assemble_list(index, tiles, offsets):
    return _assemble(dict(zip(index, tiles)), offsets)


# ------------------------------------------------------------------------------------------
# signatures: what to combine


def _sig_kernels(d: int, depth: int, lift: str):
    from .signatures import _kernels

    return _kernels(d, depth, lift)


def _chunk_signature(block, depth: int, lift: str):
    """(1, L): the signature of the points of one (overlapped) chunk, in float64."""
    x = _f64(block, "x")
    k = _sig_kernels(x.shape[1], depth, lift)
    out = np.zeros((1, k.LENGTH))
    if x.shape[0] >= 2:
        k.batch_sig_for(1, x.shape[0])[0](x[None], out)
    return out


def _chunk_signature_after(block, prev, depth: int, lift: str, block_info=None):
    """(1, L): the signature of the previous chunk's last point `prev` (1, d) followed by the
    points of `block`, as ``S(prev, x_0) (x) S(x_0 .. x_m)`` (Chen), without concatenating
    the chunk to one row: the first chunk (location 0) ignores `prev`."""
    own = _chunk_signature(block, depth, lift)
    if block_info is None or block_info[0]["chunk-location"][0] == 0:
        return own
    step = _chunk_signature(np.concatenate([_f64(prev, "x"), _f64(block[:1], "x")]), depth, lift)
    return _chen_rows(np.concatenate([step, own]), d=prev.shape[1], depth=depth)


def _last_row(block):
    return block[-1:]


def _chen_rows(s, axis=None, keepdims=True, *, d: int, depth: int):
    """(1, L): the ordered Chen product of the rows of `s` (the reduction's combine step)."""
    k = _sig_kernels(d, depth, "geometric")  # the product is the same for both lifts
    out = np.zeros((1, s.shape[-1]))
    if s.shape[0]:
        k.batch_mul_many(np.ascontiguousarray(s, dtype=np.float64)[None], out)
    return out


def _chunk_prefixes(block, first: bool, depth: int, lift: str):
    """(m, L): signatures from the chunk's first row to each of its rows. An overlapped chunk
    (`first` False) has one extra leading row (the previous chunk's last point) and gives one
    prefix per own row; the first chunk gives the identity for its row 0, then one per row."""
    x = _f64(block, "x")
    k = _sig_kernels(x.shape[1], depth, lift)
    m = x.shape[0] - (0 if first else 1)
    out = np.zeros((1, m, k.LENGTH))
    start = 1 if first else 0
    if x.shape[0] >= 2:
        k.batch_stream(x[None], 1, out[:, start:])
    return out[0]


def _chen_carry(carry, rows, *, d: int, depth: int):
    """carry (1, L) (x) each row of `rows` (m, L): the scan's binary operation."""
    k = _sig_kernels(d, depth, "geometric")
    m = rows.shape[0]
    out = np.empty((m, rows.shape[1]))
    if m:
        left = np.ascontiguousarray(np.broadcast_to(carry, (m, rows.shape[1])), dtype=np.float64)
        k.batch_mul(left, np.ascontiguousarray(rows, dtype=np.float64), out)
    return out


def _keep(block, axis=None, dtype=None):
    return block


# signatures: how to schedule


def _overlapped(x):
    """Chunks of `x` with the last row of the previous chunk prepended (chunk 0 unchanged)."""
    return x.map_overlap(_keep, depth={0: (1, 0), 1: 0}, boundary="none", trim=False, dtype=x.dtype, meta=x._meta)


def signature_graph(x, depth: int, lift: str = "geometric"):
    """Dask array (1, L): the signature of the path `x` (N, d) by an ordered Chen tree over chunks.

    Each chunk's task reads the chunk once and gets the previous chunk's last point from a
    one-row task, so every increment is counted once and no chunk is copied or shipped.
    """
    import dask.array as da
    from functools import partial

    d = x.shape[1]
    k = x.numblocks[0]
    length = _sig_kernels(d, depth, lift).LENGTH
    # block j of `prev`: the last point of chunk j - 1 (a one-row task; block 0 is unused)
    tails = x.map_blocks(_last_row, chunks=((1,) * k, x.chunks[1]), dtype=x.dtype, meta=x._meta)
    prev = da.concatenate([tails[:1], tails[:-1]]) if k > 1 else tails
    sigs = da.map_blocks(
        _chunk_signature_after, x, prev, depth, lift, chunks=((1,) * k, (length,)), dtype=np.float64, meta=_META
    )  # blocks paired by index (map_blocks does not align chunks)
    combine = partial(_chen_rows, d=d, depth=depth)
    return da.reduction(
        sigs, _keep_chunk, combine, axis=0, keepdims=True, dtype=np.float64, combine=combine, concatenate=True,
        meta=_META,
    )


def _keep_chunk(block, axis=None, keepdims=True):
    return block


def prefix_graph(x, depth: int, lift: str = "geometric"):
    """Dask array (N - 1, L): row j is the signature of x_0 .. x_{j+1}, by a scan over chunks."""
    from dask.array.reductions import cumreduction
    from functools import partial

    d = x.shape[1]
    xo = _overlapped(x)
    length = _sig_kernels(d, depth, lift).LENGTH
    local = xo.map_blocks(
        _prefix_block, depth, lift, chunks=(x.chunks[0], (length,)), dtype=np.float64, meta=_META
    )
    full = cumreduction(_keep, partial(_chen_carry, d=d, depth=depth), 0.0, local, axis=0, dtype=np.float64)
    return full[1:]


def _prefix_block(block, depth, lift, block_info=None):
    first = block_info is None or block_info[0]["chunk-location"][0] == 0
    return _chunk_prefixes(block, first, depth, lift)


# ------------------------------------------------------------------------------------------
# p-variation (math.md 2.4): what to combine


def _scaled(rows: np.ndarray, scale) -> np.ndarray:
    """Rows as the eager branch and bound sees them (variation._scaled_path): the raw rows, or
    for extreme scales (x - x_0) 2^-e, elementwise the same operations."""
    e, qs, x0 = scale
    if x0 is None:
        return rows
    out = rows - x0
    out *= math.ldexp(1.0, -e)
    return out


def _norm_of(v: np.ndarray, code: int) -> np.ndarray:
    from ._kernels.pvar import EUCLIDEAN, L1

    if code == EUCLIDEAN:  # scaled by the largest entry: no overflow for huge coordinates
        big = np.abs(v).max(axis=-1, keepdims=True)
        big[big == 0.0] = 1.0
        u = v / big
        return np.sqrt((u * u).sum(axis=-1)) * big[..., 0]
    if code == L1:
        return np.abs(v).sum(axis=-1)
    return np.abs(v).max(axis=-1)


def _chunk_scan(rows: _Rows, x0: np.ndarray, code: int):
    """(scale exponent of the chunk about x0, ball centre, ball radius) in raw units."""
    from ._kernels.pvar_blocks import for_norm

    x = rows.raw()
    e = int(for_norm(code).chunk_exponent(x, x0))
    centre = 0.5 * (x.min(axis=0) + x.max(axis=0))
    radius = float(_norm_of(x - centre, code).max())
    return e, centre, radius


def _first_row(rows: _Rows) -> np.ndarray:
    return rows.raw()[0].copy()


def _path_scale(scans, x0, code: int):
    """(e, qs, x0 or None) as variation._scaled_path chooses them; None for a constant path."""
    from ._kernels import pvar as kernels

    e = max(s[0] for s in scans)
    if e == kernels.NO_SCALE:
        return None
    if -kernels.SAFE_EXPONENT < e < kernels.SAFE_EXPONENT:
        return e, math.ldexp(1.0, -2 * e if code == kernels.EUCLIDEAN else -e), None
    return e, 1.0, x0


def _term_bound(dist: float, scale, p: float) -> float:
    """An upper bound of |x_i - x_j|^p in scaled units for a raw distance bound `dist`."""
    e = scale[0]
    return (dist * math.ldexp(1.0, -e) * (1.0 + 1e-9)) ** p


_SLACK = 1.0 - 1e-9  # floors below the true lower bound by far more than any rounding


def _pair_best(old: _Rows, new: _Rows, old_state, prev_state, scan_old, scan_new, scale, p, code, j_old):
    """Phase 1 for one (old chunk, new chunk) pair: per row of the new chunk, the best
    candidate of the old chunk (value and global index) if it can beat the candidate J - 1;
    None when the balls around both chunks prove that none can (nothing is read then)."""
    from ._kernels.pvar_blocks import for_norm

    if scale is None or p == 1.0:
        return None
    pv_old = old_state[0]
    pv_prev, x_prev = prev_state[0][-1], prev_state[2]
    dist = float(_norm_of(scan_old[1] - scan_new[1], code)) + scan_old[2] + scan_new[2]
    if pv_old[-1] + _term_bound(dist, scale, p) <= pv_prev * _SLACK:
        return None
    xo = _scaled(old.raw(), scale)
    xn = _scaled(new.raw(), scale)
    qs = scale[1]
    unit = math.ldexp(1.0, -scale[0]) if scale[2] is None else 1.0  # raw rows: distances times 2^-e
    low = pv_prev + (_norm_of(xn - x_prev, code) * unit) ** p
    floor = low * _SLACK
    X = np.concatenate([xo, xn])
    pv = np.zeros((1, X.shape[0]))
    pv[0, : xo.shape[0]] = pv_old
    out_v = np.empty(xn.shape[0])
    out_i = np.empty(xn.shape[0], np.int64)
    stats = np.zeros(2, np.int64)
    for_norm(code).old_chunk_best(X, xo.shape[0], qs, p, pv, floor, out_v, out_i, stats)
    out_i[out_i >= 0] += j_old
    return out_v, out_i


def _chunk_advance(new: _Rows, prev_state, pairs, scale, p, code, j_new):
    """Phase 2 for one chunk, in order: its final values (pv, global links, last scaled row)."""
    from ._kernels.pvar_blocks import for_norm

    x = new.raw()
    m = x.shape[0]
    if scale is None:  # a constant path: every value is 0
        return np.zeros(m), np.full(m, -1, np.int64), None
    xs = _scaled(x, scale)
    start_v = np.full(m, -1.0)
    start_i = np.full(m, -1, np.int64)
    for pair in pairs:
        if pair is None:
            continue
        better = pair[0] > start_v
        start_v[better] = pair[0][better]
        start_i[better] = -(pair[1][better] + 2)  # encoded: a candidate before the chunk
    if prev_state is None:  # the first chunk: row 0 is the path's first point
        X, pv0, base = xs, 0.0, 0
        start_v, start_i = start_v[1:], start_i[1:]
    else:
        X = np.concatenate([prev_state[2][None], xs])
        pv0, base = float(prev_state[0][-1]), j_new - 1
    pv = np.empty((1, X.shape[0]))
    link = np.zeros((1, X.shape[0]), np.int64)
    pv[0, 0] = pv0
    stats = np.zeros(2, np.int64)
    for_norm(code).chunk_values(X, scale[1], p, pv, link, np.ascontiguousarray(start_v), np.ascontiguousarray(start_i), stats)
    lk = link[0]
    glob = np.where(lk >= 0, lk + base, -lk - 2)
    if prev_state is None:
        glob[0] = 0
        return pv[0].copy(), glob, xs[-1].copy()
    return pv[0, 1:].copy(), glob[1:], xs[-1].copy()


# p-variation: how to schedule


def pvar_graph(x, ps, code: int):
    """Delayed chunk states of the exact chunked DP, one list per p (math.md 2.4).

    Returns
    -------
    states : list (per p) of lists (per chunk) of delayed ``(pv, link, last_row)``
        Scaled running values and global links of every chunk.
    scale : delayed ``(e, qs, x0 or None)`` or None (constant path)
    """
    from dask.base import tokenize

    name = "streamrough-pvar-" + tokenize(x.name, [float(p) for p in ps], code)
    offsets = _offsets(x.chunks[0])
    rows = [r[0] for r in _row_readers(x)]
    x0 = (name, "x0")
    scale = (name, "scale")
    scans = [(name, "scan", k) for k in range(len(rows))]
    dsk = {x0: (_first_row, rows[0]), scale: (_path_scale, scans, x0, code)}
    for k, r in enumerate(rows):
        dsk[scans[k]] = (_chunk_scan, r, x0, code)
    out = []
    for a, p in enumerate(ps):
        p = float(p)
        states = []
        for c, r in enumerate(rows):
            prev = states[-1] if states else None
            pairs = []
            for o in range(c if p != 1.0 else 0):  # p = 1: the finest partition, no old candidate
                key = (name, "pair", a, c, o)
                dsk[key] = (_pair_best, rows[o], r, states[o], prev, scans[o], scans[c], scale, p, code, offsets[o])
                pairs.append(key)
            key = (name, "state", a, c)
            dsk[key] = (_chunk_advance, r, prev, pairs, scale, p, code, offsets[c])
            states.append(key)
        out.append([_delayed(name, dsk, key) for key in states])
    return out, _delayed(name, dsk, scale)


# ------------------------------------------------------------------------------------------
# public edge


def _check_quiet(quiet):
    if not isinstance(quiet, bool):
        raise TypeError(f"quiet must be True or False, got {quiet!r}")


def _rechunk_rows(x, chunk_size, name="chunk_size"):
    if chunk_size is None:
        return x
    if not isinstance(chunk_size, numbers.Integral) or isinstance(chunk_size, bool) or chunk_size < 1:
        raise ValueError(f"{name} must be a positive integer (points per chunk), got {chunk_size!r}")
    return x.rechunk({0: int(chunk_size)})


def _merge_bytes(chunk_size):
    """The chunk budget of stored input: CHUNK_BYTES unless the caller fixed `chunk_size`."""
    return CHUNK_BYTES if chunk_size is None else None


def layer_gram(weights, other=None, *, client=None, quiet=False, block_bytes=BLOCK_BYTES):
    """Gram matrix ``G[i, k] = <W_i, V_k>`` of the flattened layers of chunked weights, out of core.

    ``G = sum_c W[:, c] V[:, c]^T`` over feature chunks c, as a tree of partial tiles
    (:func:`gram_graph`); equal to :func:`streamrough.gram.layer_gram` to rounding.

    Parameters
    ----------
    weights : dask array, zarr array, or path/URL of a zarr array, shape (L, ...)
    other : same kinds, shape (L2, ...), optional
        Cross Gram with a second sequence of layers of the same size.
    client : dask.distributed.Client, optional
    quiet : bool
        No progress bar.
    block_bytes : int
        Target size in bytes of one operand block (rows x feature chunk) in the stored dtype.

    Returns
    -------
    ndarray, (L, L) or (L, L2), float64

    Examples
    --------
    >>> import numpy as np, dask.array as da
    >>> w = da.from_array(np.arange(8.0).reshape(2, 2, 2), chunks=1)
    >>> layer_gram(w, quiet=True).tolist()
    [[14.0, 38.0], [38.0, 126.0]]
    """
    _check_quiet(quiet)
    client = _check_client(client)
    a = _flat(as_dask(weights, "weights", chunk_bytes=block_bytes), "weights")
    n = a.shape[0]
    if other is not None:
        import dask.array as da

        b = _flat(as_dask(other, "other", chunk_bytes=block_bytes), "other")
        if b.shape[1] != a.shape[1]:
            raise ValueError(
                f"other has layers of {b.shape[1]} entries but weights has {a.shape[1]}: the layers must have the same size"
            )
        a = da.concatenate([a, b.rechunk({1: a.chunks[1]})], axis=0)
    (g,) = _compute([gram_graph(a, block_bytes=block_bytes)], client, quiet, warm=(("gram",),))
    return g if other is None else g[:n, n:]


def read_input(x, convention=None, name="x", *, chunk_bytes=None):
    """Chunked input read by the rule of :func:`streamrough.read_input`, lazily.

    ``convention=None``: an array of 3 or more axes is a weight sequence read as
    ``"increments"``, one of at most 2 axes a path (``"values"``). An explicit convention
    reads any array as a weight sequence: ``"values"`` takes the flattened layers as the
    points, ``"increments"`` the path ``x_0 = 0, x_k = W_0 + ... + W_{k-1}`` (a lazy Dask
    cumulative sum in float64 with a zero first row).
    `chunk_bytes`: stored input is read in whole stored chunks merged up to about this many
    bytes of float64 rows (:func:`as_dask`); a Dask array keeps its chunks.

    Returns
    -------
    path : dask array (N, D), one chunk along axis 1
    layers : dask array (L, D) or None
        The flattened weights as given (None for a path).
    convention : str
        ``"values"`` or ``"increments"``, as recorded in results.

    Examples
    --------
    >>> import numpy as np, dask.array as da
    >>> w = da.from_array(np.ones((3, 2, 2)), chunks=1)
    >>> path, layers, conv = read_input(w)
    >>> path[:, 0].compute().tolist(), conv
    ([0.0, 1.0, 2.0, 3.0], 'increments')
    """
    import dask.array as da

    from .paths import CONVENTIONS

    arr = as_dask(x, name, chunk_bytes=chunk_bytes, entry_bytes=8)
    if convention is None and arr.ndim <= 2:
        return _flat(arr, name).rechunk({1: -1}), None, "values"
    convention = "increments" if convention is None else convention
    check_choice(convention, "convention", CONVENTIONS)
    layers = _flat(arr, name)
    if convention == "values":
        return layers.rechunk({1: -1}), layers, convention
    steps = layers.rechunk({1: -1}).astype(np.float64).cumsum(axis=0)
    zero = da.zeros((1, steps.shape[1]), dtype=np.float64, chunks=(1, steps.chunks[1]))
    return da.concatenate([zero, steps], axis=0), layers, convention


def pvar(
    x, p, *, power=False, norm="euclidean", return_partition=False, convention=None, chunk_size=None, client=None,
    quiet=False,
):
    """Exact p-variation of a chunked path by the chunked DP of math.md 2.4 (out of core).

    ``V_p(x) = max over partitions of sum_i |x_{t_{i+1}} - x_{t_i}|^p``; equal bit for bit to
    :func:`streamrough.pvar` with branch and bound (and with the one-pass sum at p = 1) on a
    path (a weight sequence read as increments is summed lazily by Dask, in another order
    than numpy's: equal to rounding).

    Parameters
    ----------
    x : dask array, zarr array, or path/URL of a zarr array, shape (N, ...)
        Points along axis 0, or a weight sequence, read as `convention` says
        (:func:`read_input`); chunks along axis 0 are the DP's chunks (trailing axes are
        flattened; chunks there are merged).
    p : float >= 1 or sequence of them
    power, norm, return_partition, convention
        As in :func:`streamrough.pvar`.
    chunk_size : int, optional
        Points per chunk. Default: a Dask array's own chunks; a stored array's chunks merged
        whole into chunks of about ``CHUNK_BYTES`` (16 MiB of float64 rows).
    client : dask.distributed.Client, optional
    quiet : bool

    Returns
    -------
    float, ndarray (P,), or PVarResult (arrays over p for a sequence of p)

    Examples
    --------
    >>> import numpy as np, dask.array as da
    >>> pvar(da.from_array(np.array([0.0, 1.0, 0.0, 1.0]), chunks=1), 2, power=True, quiet=True)
    3.0
    """
    from .results import PVarResult, collect
    from .variation import NORMS, _kernels, _unscale

    _check_quiet(quiet)
    client = _check_client(client)
    ps, scalar = as_p_values(p, "p")
    check_choice(norm, "norm", NORMS)
    code = _kernels().NORM_CODES[norm]
    path, _, convention = read_input(x, convention, "x", chunk_bytes=_merge_bytes(chunk_size))
    arr = _rechunk_rows(path, chunk_size)
    n = arr.shape[0]
    states, scale = pvar_graph(arr, ps, code)
    wanted = [s if return_partition else s[-1] for s in states]
    done = _compute([scale] + wanted, client, quiet, warm=(("pvar", code),))
    scale, runs = done[0], done[1:]
    results = []
    for a, run in enumerate(runs):
        pa = float(ps[a])
        last = run[-1] if return_partition else run
        if scale is None or n == 1:
            pw = value = 0.0
            part = np.array([0] if n == 1 else [0, n - 1], np.int64)
        else:
            value, pw = _unscale(float(last[0][-1]), scale[0], pa)
            part = _follow(np.concatenate([s[1] for s in run]), n - 1) if return_partition else None
        if return_partition:
            results.append(
                PVarResult(
                    p=pa, level1=value, level1_power=pw, partition1=part, method="sum" if pa == 1.0 else "bnb",
                    point_norm=norm, convention=convention, n_points=n,
                )
            )
        else:
            results.append(pw if power else value)
    if return_partition:
        return collect(PVarResult, results, scalar)
    return float(results[0]) if scalar else np.array(results)


def _follow(link: np.ndarray, end: int) -> np.ndarray:
    part = [end]
    while part[-1] > 0:
        part.append(int(link[part[-1]]))
    return np.array(part[::-1], np.int64)


def _path_2d(x, name="x", chunk_bytes=None):
    arr = as_dask(x, name, chunk_bytes=chunk_bytes, entry_bytes=8)
    if arr.ndim != 2:
        raise ValueError(f"{name} must be one path of shape (N, d), got shape {arr.shape}")
    return arr.rechunk({1: -1})


def _check_depth_lift(depth, lift):
    from .paths import LIFTS

    check_choice(lift, "lift", LIFTS)
    if not isinstance(depth, numbers.Integral) or isinstance(depth, bool) or depth < 1:
        raise ValueError(f"depth must be a positive integer, got {depth!r}")
    return int(depth)


def signature(x, depth, *, lift="geometric", stream=False, chunk_size=None, client=None, quiet=False):
    """Truncated signature of a chunked path: an ordered Chen tree over chunks (math.md 3).

    ``S(x) = S(chunk_0) (x) S(chunk_1) (x) ...``, each chunk with the last point of the one
    before it (every increment counted once). Computed in float64; equal to
    :func:`streamrough.signature` to rounding (relative 1e-12).

    Parameters
    ----------
    x : dask array, zarr array, or path/URL of a zarr array, shape (N, d)
    depth : int
    lift : {"geometric", "iterated"}
        As in :func:`streamrough.signature`.
    stream : bool
        Return every prefix signature ``S(x_0 .. x_{j+1})``, j = 0..N-2, as a LAZY Dask
        array of shape (N - 1, L) chunked like `x` (a scan; store or slice it, nothing is
        computed here, so `client` and `quiet` are unused).
    chunk_size : int, optional
        Points per chunk. Default: a Dask array's own chunks; a stored array's chunks merged
        whole into chunks of about ``CHUNK_BYTES`` (16 MiB of float64 rows; with ``stream=True``
        the stored chunks, since each output row is a whole signature).
    client : dask.distributed.Client, optional
    quiet : bool

    Returns
    -------
    ndarray (L,) float64, or a dask array (N - 1, L) with ``stream=True``

    Examples
    --------
    >>> import numpy as np, dask.array as da
    >>> x = da.from_array(np.array([[0.0, 0.0], [1.0, 0.0], [1.0, 2.0]]), chunks=1)
    >>> signature(x, 2, quiet=True)
    array([1. , 2. , 0.5, 2. , 0. , 2. ])
    """
    _check_quiet(quiet)
    client = _check_client(client)
    depth = _check_depth_lift(depth, lift)
    arr = _rechunk_rows(_path_2d(x, "x", None if stream else _merge_bytes(chunk_size)), chunk_size)
    if stream:
        return prefix_graph(arr, depth, lift)
    (s,) = _compute([signature_graph(arr, depth, lift)], client, quiet, warm=(("sig", arr.shape[1], depth, lift),))
    return s[0]


def sig_query(x, s, t, depth, *, lift="geometric", client=None, quiet=False):
    """Signature of the stored path between points s and t, ``S(x_s .. x_t)``, exactly.

    The stored counterpart of :meth:`streamrough.SigStream.query`: only the chunks that
    hold points s..t are read, and their chunk signatures are multiplied in order (no
    inverse, so no loss of precision).

    Examples
    --------
    >>> import numpy as np, dask.array as da
    >>> x = da.from_array(np.array([[0.0, 0.0], [1.0, 0.0], [1.0, 2.0]]), chunks=1)
    >>> sig_query(x, 1, 2, 2, quiet=True)
    array([0., 2., 0., 0., 0., 2.])
    """
    arr = _path_2d(x, "x", CHUNK_BYTES)
    n = arr.shape[0]
    for name, v in (("s", s), ("t", t)):
        if not isinstance(v, numbers.Integral) or isinstance(v, bool):
            raise TypeError(f"{name} must be an integer point index, got {v!r}")
    if not 0 <= s <= t < n:
        raise ValueError(f"need 0 <= s <= t < N = {n}, got s = {s}, t = {t}")
    return signature(arr[int(s) : int(t) + 1], depth, lift=lift, client=client, quiet=quiet)


def _gram_input(x, convention, name):
    """(layers (L, D) dask or None, Gram convention, result convention, points) from chunked
    input, as rough._layers reads it: the weights as given, or a path's increments (each
    chunk with the last point before it). Layers None: a path of one point."""
    path, layers, conv = read_input(x, convention, name)
    n = path.shape[0]
    if layers is None:
        if n == 1:
            return None, "increments", conv, n
        chunks = ((path.chunks[0][0] - 1,) + path.chunks[0][1:], path.chunks[1])
        inc = _overlapped(path).map_blocks(_diff_block, chunks=chunks, dtype=np.float64, meta=_META)
        return inc, "increments", conv, n
    if n == 1:
        return None, conv, conv, n
    return layers, conv, conv, n


def _diff_block(block):
    x = _f64(block, "x")
    return x[1:] - x[:-1]


def _rough_levels(gram_fn, grams, ps, lift, conv):
    """[(power, root, partition)] per p for both levels from Gram blocks of unscaled layers,
    scaled by 2^-2k first (exact) as rough._gram_levels scales the layers by 2^-k. Runs in
    memory at the public edge (not in a task)."""
    from .rough import _gram_levels_of

    size = math.sqrt(max(float(np.abs(np.diagonal(g)).max()) for g in grams[::2]) * grams[0].shape[0])
    k = 0 if size == 0.0 else int(np.frexp(size)[1])
    scaled = [np.ldexp(g, -2 * k) for g in grams]
    res = gram_fn(*scaled, ps, lift=lift, convention=conv, return_partition=True)
    return _gram_levels_of(res, ps, k)


def _check_route(route):
    from .rough import ROUTES

    check_choice(route, "route", ROUTES)
    if route not in ("auto", "gram"):
        raise ValueError(f"route={route!r} is not available out of core: chunked input uses the Gram route ('auto' or 'gram')")


_ZERO = [(0.0, 0.0, np.zeros(1, np.int64))]  # both levels of a path of one point


def rough_pvar(x, p, *, lift="iterated", convention=None, route="auto", client=None, quiet=False, block_bytes=BLOCK_BYTES):
    """Level-1 and level-2 p-variation of chunked weights or a chunked path, by the Gram route.

    The L x L Gram matrix of the layers (or of the path's increments) is computed out of core
    (:func:`gram_graph`); then :func:`streamrough.gram.gram_rough_pvar` runs in memory in
    O(L^2): level 2 never materialises a D^2 tensor, nor the N x D^2 prefix data. Arguments
    and result (a :class:`~streamrough.RoughResult`, ``route="gram"``) as
    :func:`streamrough.rough_pvar`; input read by :func:`read_input`; `route` must be
    "auto" or "gram".

    Examples
    --------
    >>> import numpy as np, dask.array as da
    >>> x = da.from_array(np.array([[0.0, 0.0], [1.0, 0.0], [1.0, 1.0]]), chunks=1)
    >>> r = rough_pvar(x, 2.5, quiet=True)
    >>> round(r.level2, 12), r.route, r.convention
    (1.0, 'gram', 'values')
    """
    from .gram import gram_rough_pvar
    from .rough import LIFTS, _results, _warn_beyond

    _check_quiet(quiet)
    client = _check_client(client)
    ps, scalar = as_p_values(p)
    check_choice(lift, "lift", LIFTS)
    _check_route(route)
    layers, gram_conv, conv, n = _gram_input(x, convention, "x")
    _warn_beyond(ps)
    if layers is None:
        levels1 = levels2 = _ZERO * len(ps)
    else:
        (g,) = _compute([gram_graph(layers, block_bytes=block_bytes)], client, quiet, warm=(("gram",),))
        levels1, levels2 = _rough_levels(gram_rough_pvar, [g], ps, lift, gram_conv)
    return _results(ps, levels1, levels2, scalar, distance=False, lift=lift, convention=conv, route="gram", n_points=n)


def rough_distance(x, y, p, *, lift="iterated", convention=None, route="auto", client=None, quiet=False, block_bytes=BLOCK_BYTES):
    """Rough-path distance ``rho_p(X, Y)`` of two chunked inputs from their joint Gram matrix.

    One out-of-core Gram of the stacked layers of both gives the blocks ``<a_i, a_k>``,
    ``<a_i, b_k>``, ``<b_i, b_k>``; then :func:`streamrough.gram.gram_rough_distance` in
    memory. Arguments and result (a :class:`~streamrough.RoughDistanceResult`,
    ``route="gram"``) as :func:`streamrough.rough_distance`.

    Examples
    --------
    >>> import numpy as np, dask.array as da
    >>> x = da.from_array(np.array([[0.0, 0.0], [1.0, 0.0], [1.0, 1.0]]), chunks=1)
    >>> rough_distance(x, x, 2.5, quiet=True).rho
    0.0
    """
    import dask.array as da

    from .gram import gram_rough_distance
    from .rough import LIFTS, _results, _warn_beyond

    _check_quiet(quiet)
    client = _check_client(client)
    ps, scalar = as_p_values(p)
    check_choice(lift, "lift", LIFTS)
    _check_route(route)
    shape_x, shape_y = as_dask(x, "x").shape, as_dask(y, "y").shape
    if shape_x != shape_y:
        raise ValueError(
            "x and y must have equal lengths and the same point (layer) shape, as two networks of equal depth, "
            f"got shapes {shape_x} and {shape_y}"
        )
    ax, gram_conv, conv, n = _gram_input(x, convention, "x")
    ay = _gram_input(y, convention, "y")[0]
    _warn_beyond(ps)
    if ax is None:
        levels1 = levels2 = _ZERO * len(ps)
    else:
        m = ax.shape[0]
        both = da.concatenate([ax, ay.rechunk({1: ax.chunks[1]})], axis=0)
        (g,) = _compute([gram_graph(both, block_bytes=block_bytes)], client, quiet, warm=(("gram",),))
        blocks = [g[:m, :m], g[:m, m:], g[m:, m:]]
        levels1, levels2 = _rough_levels(gram_rough_distance, blocks, ps, lift, gram_conv)
    return _results(ps, levels1, levels2, scalar, distance=True, lift=lift, convention=conv, route="gram", n_points=n)
