"""Signature kernels of one ``(d, n, kind)`` (math.md section 3): drivers and stream logic.

:func:`kernels` assembles, once per process and key, the namespace the eager API and
``SigStream`` call:

- the specialised kernels ``step``, ``path_into``, ``prefixes`` and ``lanes_into``, generated
  by ``sig_codegen`` (or the plain loops of ``sig_algebra`` where nothing is generated);
- the algebra of ``sig_algebra`` (``mul_into``, ``batch_mul``, ``batch_inverse`` ...);
- the drivers below (one path, batches, chunks, stream pushes) and the Chen tree of
  ``sig_tree``, written once as plain code and bound to those kernels.

Kinds: ``"geometric"`` multiplies by ``exp(a)`` per step (the signature of a straight
segment), ``"iterated"`` by ``1 + a`` (iterated sums). Batched drivers come as serial and
parallel (``_par``) twins. The grouped top-level update of the long-path kernels sums the
outer products of a group before adding them, so results differ from strictly sequential
evaluation by rounding only (~1e-16 relative). Everything also runs as plain Python under
``NUMBA_DISABLE_JIT=1``.
"""

from __future__ import annotations

import functools
import math
from types import SimpleNamespace

import numpy as np
from numba import get_num_threads

from ._jit import jit
from .sig_algebra import KINDS, algebra, bound, level_offsets, loop_kernels, twins
from .sig_codegen import LANE_GROUP, LANE_STEPS, LANES, generated_module
from .sig_tree import tree

__all__ = ["KINDS", "LANES", "LANE_STEPS", "LANE_MIN_STEPS", "batch_sig_twins", "kernels"]

#: one path is split into LANES pieces computed side by side if each has this many steps
LANE_MIN_STEPS = 32

# Compilation: every distinct argument type of a callee is one more compilation of it (the
# generated kernels take seconds each), so the drivers call them with one type per argument:
# start indices as ``np.int64(0)``, not ``0`` (a literal 0 is its own type, ``Literal[int]``),
# and blocks of paths as 'A'-layout views, as the pieces of one path necessarily are.


def _prefixes_by_rows(path_into, length: int):
    """``prefixes(x, stride, out, buf)``: row j = S(x[0 .. (j + 1) stride]), one
    ``path_into`` per row on a running signature."""

    @bound
    def prefixes(x, stride, out, buf):
        s = np.zeros(length, dtype=out.dtype)
        for j in range(out.shape[0]):
            path_into(x, j * stride, (j + 1) * stride, s, buf)
            for w in range(length):
                out[j, w] = s[w]

    return prefixes


@jit
def _level1_not_finite(out, d):
    """1 if a level-1 term (a path's total increment) of a row of `out` (B, LENGTH) is NaN or
    inf, from NaN or inf in the path or overflow, else 0: the eager API's check, in the kernel
    so that a small call pays no NumPy call for it."""
    for b in range(out.shape[0]):
        for i in range(d):
            if not math.isfinite(out[b, i]):
                return 1
    return 0


def _whole_path(path_into, lanes_into, mul_into, d: int, length: int, nbuf: int):
    """``whole_path_into(x, out, buf)``: out <- out (x) S(x) for one path x (N, d); with a
    lanes kernel, a long path runs as LANES consecutive pieces side by side, then the ordered
    Chen product of their signatures and of the leftover steps. Called by the ``batch_sig``
    twins only (one path is a batch of one): every kernel calling the large generated ones
    is one more compilation of seconds per (d, n, kind) and dtype."""
    if lanes_into is None:

        @bound
        def whole_path_into(x, out, buf):
            path_into(x, np.int64(0), x.shape[0] - 1, out, buf)

        return whole_path_into

    @bound
    def whole_path_into(x, out, buf):
        steps = (x.shape[0] - 1) // LANES
        if steps < LANE_MIN_STEPS:
            path_into(x, np.int64(0), x.shape[0] - 1, out, buf)
            return
        parts = np.zeros((LANES, length), dtype=out.dtype)
        pieces = np.lib.stride_tricks.as_strided(
            x, shape=(LANES, steps + 1, d), strides=(steps * x.strides[0], x.strides[0], x.strides[1])
        )  # piece l: points l steps .. (l + 1) steps, a view
        lanes_into(
            pieces,
            parts,
            np.int64(0),
            np.empty(length * LANES, dtype=out.dtype),
            np.empty(LANE_STEPS * d * LANES, dtype=out.dtype),
            np.empty(LANE_GROUP * nbuf * LANES, dtype=out.dtype),
        )
        for piece in range(LANES):
            mul_into(out, parts[piece])
        path_into(x, LANES * steps, x.shape[0] - 1, out, buf)

    return whole_path_into


def _batch_drivers(k: SimpleNamespace) -> dict:
    """Twins (serial, ``_par``) of the batched drivers of one kernel namespace."""
    d, length, nbuf, scratch = k.D, k.LENGTH, k.NBUF, k.SCRATCH
    path_into, prefixes, step, lanes_into, whole = k.path_into, k.prefixes, k.step, k.lanes_into, k.whole_path_into

    def make_sig(loop):
        def batch_sig(x, out):
            """out[b] <- out[b] (x) S(x[b]) for x (B, N, d); returns 1 if level 1 of out is
            not finite, else 0."""
            for b in loop(x.shape[0]):
                buf = np.empty(scratch, dtype=out.dtype)
                path_into(x[b], np.int64(0), x.shape[1] - 1, out[b], buf)
            return _level1_not_finite(out, d)

        return batch_sig

    def make_sig_lanes(loop):
        parallel = loop is not range

        def batch_sig(x, out):
            """out[b] <- out[b] (x) S(x[b]) for x (B, N, d): blocks of LANES paths side by side,
            the rest one by one; in parallel with fewer blocks than threads, paths long enough
            to be split into LANES pieces go one by one (whole_path_into), so that all threads
            get work. Returns 1 if level 1 of out is not finite, else 0."""
            blocks = x.shape[0] // LANES
            if parallel and blocks < get_num_threads() and x.shape[1] - 1 >= LANES * LANE_MIN_STEPS:
                blocks = 0
            for c in loop(blocks):
                st = np.empty(length * LANES, dtype=out.dtype)
                pt = np.empty(LANE_STEPS * d * LANES, dtype=out.dtype)
                vv = np.empty(LANE_GROUP * nbuf * LANES, dtype=out.dtype)
                block = np.lib.stride_tricks.as_strided(x[c * LANES :], shape=(LANES,) + x.shape[1:], strides=x.strides)
                lanes_into(block, out, c * LANES, st, pt, vv)
            for b in loop(blocks * LANES, x.shape[0]):
                buf = np.empty(scratch, dtype=out.dtype)
                whole(x[b], out[b], buf)
            return _level1_not_finite(out, d)

        return batch_sig

    def make_stream(loop):
        def batch_stream(x, stride, out):
            """out[b, j] = S(x[b, 0 .. (j + 1) stride]); out (B, M, LENGTH)."""
            for b in loop(x.shape[0]):
                buf = np.empty(scratch, dtype=out.dtype)
                prefixes(x[b], stride, out[b], buf)

        return batch_stream

    def make_chunks(loop):
        def chunk_sigs(x, bounds, out):
            """out[c] = S(x[bounds[c] .. bounds[c + 1]]) for one path x (N, d); out zeroed."""
            for c in loop(bounds.shape[0] - 1):
                buf = np.empty(scratch, dtype=out.dtype)
                path_into(x, bounds[c], bounds[c + 1], out[c], buf)

        return chunk_sigs

    def make_join(loop):
        def batch_join(s, a, out):
            """out[b] = s[b] (x) step(a[b])."""
            for b in loop(s.shape[0]):
                buf = np.empty(scratch, dtype=out.dtype)
                for w in range(length):
                    out[b, w] = s[b, w]
                step(out[b], a[b], buf)

        return batch_join

    makers = {
        "batch_sig": make_sig if lanes_into is None else make_sig_lanes,
        "batch_stream": make_stream,
        "chunk_sigs": make_chunks,
        "batch_join": make_join,
    }
    if lanes_into is not None:
        makers["batch_sig_plain"] = make_sig
    drivers = {}
    for name, make in makers.items():
        drivers[name], drivers[name + "_par"] = twins(make)
    if lanes_into is None:
        drivers["batch_sig_plain"], drivers["batch_sig_plain_par"] = drivers["batch_sig"], drivers["batch_sig_par"]
    return drivers


def batch_sig_twins(k: SimpleNamespace, n_paths: int, n_points: int) -> tuple:
    """The (serial, parallel) ``batch_sig`` drivers of `k` for `n_paths` paths of `n_points`
    points: those with the lanes kernel where lanes change anything (LANES paths or more, or
    paths long enough to be split into LANES pieces), else the plain ones.

    Values are the same either way (below those sizes the lanes drivers run ``path_into`` path
    by path too); the plain drivers compile in a fraction of the time, as they call no lanes
    kernel, which is what a first call on small input pays.
    """
    if n_paths >= LANES or n_points >= k.SPLIT_POINTS:
        return k.batch_sig, k.batch_sig_par
    return k.batch_sig_plain, k.batch_sig_plain_par


def _stream(k: SimpleNamespace) -> dict:
    """The stream kernels: ``push``, ``extend``."""
    d, step, path_into = k.D, k.step, k.path_into

    @bound
    def push(pts, count, s, a, buf, point):
        """Append `point` as row count[0] of pts; if count[1], update the running signature s.

        Returns 0 (done), or, changing nothing: 1 if the point is not finite, 2 if pts is
        full, 3 if the point does not have d coordinates."""
        if point.shape[0] != d:
            return 3
        for i in range(d):
            if not math.isfinite(point[i]):
                return 1
        j = count[0]
        if j == pts.shape[0]:
            return 2
        for i in range(d):
            pts[j, i] = point[i]
        if j > 0 and count[1] != 0:
            for i in range(d):
                a[i] = pts[j, i] - pts[j - 1, i]
            step(s, a, buf)
        count[0] = j + 1
        return 0

    @bound
    def extend(pts, count, s, buf, points):
        """Append the rows of `points` (all checked finite first); returns 0 or 1 (NaN/inf)."""
        for r in range(points.shape[0]):
            for i in range(d):
                if not math.isfinite(points[r, i]):
                    return 1
        j0 = count[0]
        for r in range(points.shape[0]):
            for i in range(d):
                pts[j0 + r, i] = points[r, i]
        j1 = j0 + points.shape[0]
        if count[1] != 0 and j1 > 1:
            path_into(pts, max(j0 - 1, 0), j1 - 1, s, buf)
        count[0] = j1
        return 0

    return {"push": push, "extend": extend}


@functools.lru_cache(maxsize=None)
def kernels(d: int, n: int, kind: str) -> SimpleNamespace:
    """Every signature kernel of one ``(d, n, kind)`` in one namespace (memoised).

    Constants ``D``, ``N``, ``LENGTH`` (``sig_length(d, n)``), ``NBUF`` and ``SCRATCH`` (the
    scratch numbers ``buf`` arguments need), ``SPLIT_POINTS`` (a path of that many points
    or more is split into LANES pieces); kernels ``step(s, a, buf)``,
    ``path_into(x, t0, t1, s, buf)``, ``prefixes(x, stride, out, buf)``,
    ``whole_path_into(x, out, buf)``, the algebra of ``sig_algebra.algebra``, the batched
    twins ``batch_sig``, ``batch_sig_plain`` (no lanes kernel; ``batch_sig_for(n_paths,
    n_points)`` picks one: :func:`batch_sig_twins`),
    ``batch_stream``, ``chunk_sigs``, ``batch_join`` (+ ``_par``),
    ``push``, ``extend``, ``build_nodes`` and ``query``.
    """
    if kind not in KINDS:
        raise ValueError(f"kind must be one of {KINDS}, got {kind!r}")
    offs = level_offsets(d, n)
    length, nbuf = offs[n + 1], max(d ** (n - 1), 1)
    k = SimpleNamespace(D=d, N=n, LENGTH=length, NBUF=nbuf)
    k.SPLIT_POINTS = LANES * LANE_MIN_STEPS + 1  # points of a path split into LANES pieces
    k.__dict__.update(vars(algebra(d, n)))
    generated = generated_module(d, n, kind)
    loops = loop_kernels(d, n, kind)
    k.step = getattr(generated, "step", loops.step)
    k.path_into = getattr(generated, "path_into", loops.path_into)
    k.prefixes = getattr(generated, "prefixes", None) or _prefixes_by_rows(k.path_into, length)
    k.lanes_into = getattr(generated, "lanes_into", None)
    # scratch: exactly what the kernels bound above use (the batched drivers allocate it
    # per path)
    plain = k.step is loops.step or k.path_into is loops.path_into
    k.SCRATCH = max(getattr(generated, "SCRATCH", 0), loops.SCRATCH if plain else 0)
    k.whole_path_into = _whole_path(k.path_into, k.lanes_into, k.mul_into, d, length, nbuf)
    k.__dict__.update(_batch_drivers(k))
    k.batch_sig_for = functools.partial(batch_sig_twins, k)
    k.__dict__.update(_stream(k))
    k.__dict__.update(vars(tree(k.path_into, k.mul_into, length, k.SCRATCH)))
    return k
