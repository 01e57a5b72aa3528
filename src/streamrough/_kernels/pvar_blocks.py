"""Serial kernels of the chunked p-variation DP (math.md 2.4), one chunk or chunk pair at a time.

The running values pv[j] = max_{i<j} pv[i] + |x_i - x_j|^p of a path cut into chunks
C_0, C_1, ... are computed from two kinds of work, each on a small local array:

``old_chunk_best`` (phase 1, one task per pair of chunks C' < C, in parallel)
    for every j in C, the maximum over i in C' of pv[i] + |x_i - x_j|^p, by branch and
    bound (``solve`` of ``streamrough._kernels.pvar``) over the dyadic blocks of C', pruned
    against a lower bound ``floor[j]`` of pv[j]: only a maximum above the floor is reported.
``chunk_values`` (phase 2, in order along the path)
    pv[j] for j in C from the best old candidate found in phase 1 and the candidates
    J - 1 <= i < j (the last point of the previous chunk and the chunk's own points).

Both call the very ``solve`` (same distance and power code) as the eager branch and bound,
on the same float64 rows, so every value is the maximum of the same floating-point numbers:
the result equals the eager one bit for bit. Only serial ``@jit`` code: these run inside
Dask tasks.
"""

from __future__ import annotations

import functools
from types import SimpleNamespace

import numpy as np

from ._jit import jit
from .pvar import NO_SCALE, NO_SEED, ZERO, diff_exponent, exponent, for_norm as _pvar_for_norm, new_front, qdist, qpow, summary_cols, summary_rows


def _specialise(norm):
    base = _pvar_for_norm(norm)
    solve = base.solve
    complete_blocks = base.complete_blocks

    @jit
    def old_chunk_best(X, n_old, qs, p, pv, floor, out_v, out_i, stats):
        """Rows j >= n_old of X (the new chunk) against rows i < n_old (an old chunk, with
        final scaled values pv[0, i]): out_v[j - n_old] = max_i pv[0, i] + |x_i - x_j|^p and
        out_i its local row i, if that maximum exceeds floor[j - n_old]; else -1 and -1."""
        n = X.shape[0]
        ex = exponent(p, norm)
        summ = np.zeros((summary_rows(n), summary_cols(X.shape[1])))
        for j in range(n_old):
            complete_blocks(X, j, summ)
        link = np.zeros((1, n), np.int64)
        front = new_front(n, 1)
        for j in range(n_old, n):
            f = floor[j - n_old]
            v, i = solve(X, j, qs, ex, pv, link, ZERO, ZERO, n_old, NO_SEED, ZERO, f, NO_SEED, summ, front, stats)
            if v > f and i >= 0:
                out_v[j - n_old] = v
                out_i[j - n_old] = i
            else:
                out_v[j - n_old] = -1.0
                out_i[j - n_old] = -1

    @jit
    def chunk_values(X, qs, p, pv, link, start_v, start_i, stats):
        """pv[0, j], link[0, j] for rows j = 1..n-1 of X, given pv[0, 0] (row 0: the last point of
        the previous chunk, or the path's first point): the maximum of start_v[j - 1] (the best
        candidate before row 0, index start_i[j - 1]; -1 if none) and pv[0, i] + |x_i - x_j|^p
        over 0 <= i < j. p = 1: the finest partition, pv[j] = pv[j - 1] + |x_{j-1} - x_j|."""
        n = X.shape[0]
        ex = exponent(p, norm)
        if p == 1.0:
            for j in range(1, n):
                pv[0, j] = pv[0, j - 1] + qpow(qdist(X, j - 1, j, norm) * qs, ex)
                link[0, j] = j - 1
                stats[0] += 1
            return
        summ = np.zeros((summary_rows(n), summary_cols(X.shape[1])))
        front = new_front(n, 1)
        complete_blocks(X, 0, summ)
        for j in range(1, n):
            v, i = solve(X, j, qs, ex, pv, link, ZERO, ZERO, j, j - 1, ZERO, start_v[j - 1], start_i[j - 1], summ, front, stats)
            pv[0, j] = v
            link[0, j] = i
            complete_blocks(X, j, summ)

    @jit
    def chunk_exponent(X, x0):
        """max_k e_k with 2^(e_k - 1) <= |x_k - x0| < 2^e_k over the rows of X (NO_SCALE if all equal x0)."""
        e = NO_SCALE
        for k in range(X.shape[0]):
            ek = diff_exponent(X[k], x0, norm)
            if ek > e:
                e = ek
        return e

    return SimpleNamespace(old_chunk_best=old_chunk_best, chunk_values=chunk_values, chunk_exponent=chunk_exponent)


@functools.lru_cache(maxsize=None)
def for_norm(norm):
    """The kernels above for a norm code (created once per process, compiled on first call)."""
    return _specialise(norm)
