"""Exact level-2 p-variation from Gram blocks by branch and bound (math.md 4.1 and 5).

The full Gram route (``gram.interval_norms_sq``) computes |Gamma_{s,t}|^2 for every interval,
O(L^3). Here only a sparse set of start rows is computed in full, and the dynamic programme
of math.md 2.1 skips every candidate whose Chen upper bound cannot beat the best value found
so far; a skipped candidate's row is computed (in full, once) only when its bound does not
rule it out.

Notation (as in ``gram``): Gamma_{s,t} = sum_{s<=k<t} sum_r m^r_{s,k} (x) e^r_k with
m^r_{s,k} = X^r_{s,k} + h f^r_k, X^r_{s,k} = f^r_s + ... + f^r_{k-1}; write
E^r_{b,j} = e^r_b + ... + e^r_{j-1}.

Anchors: the starts b = 0, K, 2K, ... (K = ``step``) have their row |Gamma_{b,t}|^2 computed
for every end t. Every other start s has the short row t <= b(s) = (floor(s / K) + 1) K
(the next anchor), O(K^2) each.

Chen's relation (exact, for s < b < j): since m^r_{s,k} = X^r_{s,b} + m^r_{b,k} for k >= b,

    Gamma_{s,j} = Gamma_{s,b} + Gamma_{b,j} + sum_r X^r_{s,b} (x) E^r_{b,j},

and |u (x) v| = |u| |v| for the Frobenius norm, so by the triangle inequality

    |Gamma_{s,j}| <= ub(s, j) = |Gamma_{s,b}| + |Gamma_{b,j}| + sum_r |X^r_{s,b}| |E^r_{b,j}|.  (1)

For a block S of starts sharing the anchor b, with A2 = max_{s in S} |Gamma_{s,b}| and
A1^r = max_{s in S} |X^r_{s,b}|, (1) gives |Gamma_{s,j}| <= A2 + |Gamma_{b,j}| +
sum_r A1^r |E^r_{b,j}| for all s in S at once. Every quantity on the right is known: the
anchor row gives |Gamma_{b,j}|, the short rows |Gamma_{s,b}|, and O(L^2) level-1 tables
(``level1_table``) the norms |X^r_{s,b}| and |E^r_{b,j}|.

Why the skips are exact. The DP value of end j is max_i pv[i] + |Gamma_{i,j}|^q (q = p/2).
Candidates are taken in two passes: first every i whose |Gamma_{i,j}| is already known
(the short rows of j's own block, the anchors, the rows computed so far), which sets
`best`; then the blocks before j. pv is non-decreasing in its index (pv[i+1] >= pv[i] +
|Gamma_{i,i+1}|^q, the candidate i always being exact), so pv[last start of S] bounds pv over
S, and a block with pv[last] + (block bound)^q <= best cannot contain a better candidate; a
single start s with pv[s] + ub(s, j)^q <= best likewise. Any other candidate has its row
computed exactly and compared. So the maximum, and an optimal link, are those of the full DP
over the same |Gamma|^2 values. Floating point: the bounds are scaled by 1 + 1e-9 so that
rounding in the bound's ingredients (computed by different running sums than
|Gamma_{s,j}|^2 itself) cannot turn a valid bound into a slightly too small one; a candidate
within that margin of `best` is evaluated exactly.
"""

from __future__ import annotations

import math

import numpy as np
from numba import prange

from ._jit import jit, twin_jit
from .gram import _interval_norms_block

#: Relative slack on every upper bound (see the module docstring).
BOUND_SLACK = 1.0 + 1e-9


@jit
def level1_table(G, out):
    """``out[t, s] = |f_s + ... + f_{t-1}|^2`` for all s < t from the Gram ``G`` of the f's.

    Running sums backwards in s for each end t: with c_s = sum_{s<=i<t} G_{it},
    |x_{s,t+1}|^2 = |x_{s,t}|^2 + 2 c_s + G_tt. O(n^2) in total. Rounding can leave tiny
    negative values; they are clamped to 0 once every row is done.

    Parameters
    ----------
    G : float64 array, shape (n, n), symmetric
    out : float64 array, shape (n + 1, n + 1), zero on the diagonal; written below it
    """
    n = G.shape[0]
    for t in range(n):
        gtt = G[t, t]
        row = G[t]
        prev = out[t]
        nxt = out[t + 1]
        c = 0.0
        for s in range(t, -1, -1):
            if s < t:
                c += row[s]
            nxt[s] = prev[s] + 2.0 * c + gtt
    for t in range(1, n + 1):
        for s in range(t):
            if out[t, s] < 0.0:
                out[t, s] = 0.0


@twin_jit
def anchor_rows(F, E, h, step, sq1, sq2):
    """Rows of the anchors (every end) and short rows of the other starts (ends <= next anchor).

    Writes ``sq2[t, s] = |Gamma_{s,t}|^2`` (and ``sq1`` as ``gram.interval_norms_sq`` does)
    for the entries described in the module docstring; returns nothing.
    """
    n = F.shape[2]
    for s in prange(n):
        if s % step == 0:
            t1 = n
        else:
            t1 = min((s // step + 1) * step, n)
        _interval_norms_block(F, E, h, s, s + 1, t1, sq1, sq2)


@jit
def level2_branch_bound(F, E, h, step, f1, e1, sq1, sq2, exponents, values, links):
    """Exact max over partitions of sum |Gamma_{t_i,t_{i+1}}|^(2 e) for each exponent e.

    Parameters
    ----------
    F, E, h
        As in ``gram.interval_norms_sq`` (n increments, n + 1 points).
    step : int >= 2
        Anchor spacing K.
    f1, e1 : float64 arrays, shape (R, n + 1, n + 1)
        ``level1_table`` of each channel: ``f1[r, t, s] = |X^r_{s,t}|^2``,
        ``e1[r, t, s] = |E^r_{s,t}|^2``.
    sq1 : float64 array, shape (n + 1, n + 1)
        Scratch written by the row recursion (its level-1 output; may be ``f1[R - 1]``).
    sq2 : float64 array, shape (n + 1, n + 1)
        Filled by ``anchor_rows`` beforehand; further rows are filled here when needed.
    exponents : float64 array, shape (P,)
        e = p / 4 (the DP weight is sq2 ** e).
    values : float64 array, shape (P,), written
    links : int64 array, shape (P, n + 1), written (the previous point of an optimal
        partition of [0, j]).

    Returns
    -------
    int
        The number of rows computed on demand (beyond the anchors).
    """
    n = F.shape[2]
    nch = F.shape[0]
    exact_to = np.empty(n, dtype=np.int64)
    for s in range(n):
        exact_to[s] = n if s % step == 0 else min((s // step + 1) * step, n)
    nblocks = (n + step - 1) // step
    own2 = np.zeros(n)  # |Gamma_{s,b(s)}|
    own1 = np.zeros((n, nch))  # |X^r_{s,b(s)}|
    blk2 = np.zeros(nblocks)  # A2 of the block
    blk1 = np.zeros((nblocks, nch))  # A1^r of the block
    for s in range(n):
        b = exact_to[s]
        if s % step == 0 or b >= n:
            continue
        k = s // step
        own2[s] = math.sqrt(sq2[b, s])
        blk2[k] = max(blk2[k], own2[s])
        for r in range(nch):
            v = math.sqrt(f1[r, b, s])
            own1[s, r] = v
            blk1[k, r] = max(blk1[k, r], v)
    active = np.empty(n, dtype=np.int64)  # starts whose full row was computed on demand
    n_active = 0
    cross = np.zeros(nch)
    for ke in range(exponents.shape[0]):
        e = exponents[ke]
        q = 2.0 * e
        pv = np.zeros(n + 1)
        links[ke, 0] = 0
        for j in range(1, n + 1):
            row = sq2[j]
            best = -1.0
            arg = 0
            m = (j - 1) // step  # j's own block starts at the anchor m * step
            # pass 1: candidates with a known value
            for i in range(m * step, j):
                v = pv[i] + row[i] ** e
                if v > best:
                    best = v
                    arg = i
            for k in range(m):
                i = k * step
                v = pv[i] + row[i] ** e
                if v > best:
                    best = v
                    arg = i
            for a in range(n_active):
                i = active[a]
                if i < j:
                    v = pv[i] + row[i] ** e
                    if v > best:
                        best = v
                        arg = i
            # pass 2: blocks of earlier starts, anchor b = (k + 1) K < j
            for k in range(m):
                b = (k + 1) * step
                g2 = math.sqrt(row[b])
                ub = blk2[k] + g2
                for r in range(nch):
                    cross[r] = math.sqrt(e1[r, j, b])
                    ub += blk1[k, r] * cross[r]
                if pv[b - 1] + (ub * BOUND_SLACK) ** q <= best:
                    continue
                for s in range(k * step + 1, b):
                    if exact_to[s] >= j:
                        continue  # a computed row: done in pass 1
                    ubs = own2[s] + g2
                    for r in range(nch):
                        ubs += own1[s, r] * cross[r]
                    if pv[s] + (ubs * BOUND_SLACK) ** q <= best:
                        continue
                    _interval_norms_block(F, E, h, s, s + 1, n, sq1, sq2)
                    exact_to[s] = n
                    active[n_active] = s
                    n_active += 1
                    v = pv[s] + row[s] ** e
                    if v > best:
                        best = v
                        arg = s
            pv[j] = best
            links[ke, j] = arg
        values[ke] = pv[n]
    return n_active
