"""Exact p-variation of a one-dimensional path in near-linear time (math.md 2.3).

The method follows the structure described by Butkus and Norvaisa ("Computation of
p-variation", Lithuanian Math. J. 58, 2018); the code is written from the mathematics below.

Notation: y_0, ..., y_m is a path of reals, p >= 1, w(i, j) = |y_j - y_i|^p, and a "list" is a
subsequence of the path's points, kept as a doubly linked list over preallocated index arrays.
V(list) is the p-variation of the list read as a path. A segment [a, b] of a list is
*saturated* if its finest partition (all of its list points) is optimal for it.

Step 1, turning points. A point inside a monotone run can be dropped from any partition
without decreasing the sum (t -> t^p is super-additive for p >= 1), so V of the path equals V
of its endpoints and strict local extrema. Repeated values are skipped (a plateau is one
point, its first index is kept), so the list strictly alternates up and down.

Two lemmas make the rest exact.

Lemma A (range and anchoring). Let P be an optimal partition of a segment [a, v] and
pv(u) = V(a, u). (i) Between two consecutive points of P the path stays in the closed range
of their values (otherwise inserting the escaping point would strictly increase the sum).
(ii) For every real z, max over u in [a, v] of pv(u) + |z - y_u|^p is attained at a point of
P. Proof of (ii): take u between consecutive P points s < t with, say, y_s <= y_u <= y_t, and
put D = y_t - y_u >= 0. Extending an optimal partition of [a, u] by the link (u, t) gives
pv(u) <= pv(t) - D^p, and pv(t) = pv(s) + (y_t - y_s)^p. If z <= y_u, then
pv(t) + (y_t - z)^p >= pv(t) + D^p + (y_u - z)^p >= pv(u) + (y_u - z)^p (super-additivity).
If y_u <= z <= y_t, then pv(t) + (y_t - z)^p >= pv(u) + D^p >= pv(u) + (z - y_u)^p.
If z >= y_t, then pv(u) - pv(s) <= (y_t - y_s)^p - (y_t - y_u)^p <= (z - y_s)^p - (z - y_u)^p,
because g(z) = (z - y_s)^p - (z - y_u)^p is non-decreasing for z >= y_u; so s is as good.
The mirror statement holds for suffix values.

Merge lemma. If [a, v] and [v, b] have optimal partitions P and Q, some optimal partition of
[a, b] is P on [a, u], one link u -> w, and Q on [w, b], with u in P, w in Q, u <= v <= w
(u = w = v is plain concatenation). Every partition of [a, b] has a link crossing v (or
contains v); apply Lemma A(ii) on the left with z = y_w, then its mirror on the right with
z = y_u. So ONE join per merge is enough and the merged partition is exactly optimal. The
gain of a join is |y_w - y_u|^p - W(u..v) - W(v..w), W the summed link weights of P and Q.
It suffices to try, for joins with y_u >= y_w, the points u that set a new running maximum
walking from v towards a and the points w that set a new running minimum walking from v
towards b (and the mirror pairs): replacing u by a point between u and v with a value at
least y_u gives a longer jump at a smaller cost. Ties keep the point nearer to v.

Lemma B (removal). If a contiguous segment of a list has an optimal partition R, the points
of the segment outside R can be deleted from the list without changing V(list). Proof: take
an optimal partition of the list, add the points of the segment, and merge (merge lemma) the
prefix before the segment, the segment, and the suffix after it: the result is as good and
uses no segment point outside R.

Step 2, short windows (an accelerator, not needed for exactness). For four consecutive list
points a, u, v, b, if w(a, b) > w(a, u) + w(u, v) + w(v, b) then y_b is beyond y_u and y_a is
beyond y_v (otherwise one link alone would already beat w(a, b)), so the window lies in the
range [y_a, y_b] and {a, b} is its optimal partition: Lemma B deletes u and v. Points leave in
pairs, so the list keeps alternating. Done with a stack, which re-examines the window ending
at the new link after every deletion. Steps 1 and 2 run as one pass: the turning points of a
block of the path go to a small buffer and from there onto the stack (only the points that
step 2 keeps are ever stored).

Step 3, merges. Every single link is saturated. Merging neighbouring saturated segments
bottom-up (widths 1, 2, 4, ... in list positions, like a merge sort) with one join each and
deleting the points skipped by the join (Lemma B) keeps every segment saturated. At the end
the whole list is saturated: its points are an optimal partition and V_p is the sum of its
link weights (step 4). After step 2 the merges of widths 1 and 2 would find nothing (their
only record pairs are 4-point windows), so merging starts at width 4. In a merge, the walk
from v stops once the summed weight reaches the largest possible jump^p between the two
segments, and the best record pair is found by divide and conquer (see `_best_join`).
Cost: O(N) for steps 1, 2 and 4; O(m log m) walk steps and O(m log^2 m) pair evaluations in
the worst case for step 3 (m points left after step 2); near-linear on diffusive paths.

Floating point: joins and deletions need a strictly positive computed gain, so p = 1 (where
all partitions of a monotone run tie) deletes nothing beyond the turning points. p = 1 is
also answered directly by summing the turning-point links (step 2 skipped).
"""

from __future__ import annotations

import math

import numpy as np

from ._jit import jit


#: Steps 1 and 2 run over blocks of this many points (the buffer between them stays in cache).
BLOCK = 4096

#: Merges start with segments of this many links (the module notes: smaller ones are saturated
#: after step 2), so every segment starts at a list position that is a multiple of it.
FIRST_WIDTH = 4


@jit(inline="always")
def _abs_pow(d, p):
    """|d|^p; the common p = 2, 3, 1.5 and 2.5 are done with products and sqrt (a few ulp,
    several times faster than the general pow)."""
    d = abs(d)
    if p == 2.0:
        return d * d
    if p == 1.5:
        return d * math.sqrt(d)
    if p == 3.0:
        return d * d * d
    if p == 2.5:
        return d * d * math.sqrt(d)
    return d**p


@jit
def _turning_points(x, lo, hi, idx, y, cnt, direction):
    """Step 1 on x[lo:hi]: append the turning points to idx[:cnt] (indices) and y[:cnt] (values).

    Entry cnt - 1 is the current extreme: a step in the same direction moves it forward, a
    step back opens a new entry, a repeated value changes nothing (a plateau keeps its first
    index). `direction` is +1 rising, -1 falling, 0 not moved yet. Returns (cnt, direction).
    The loop has no data-dependent branch (on a diffusive path the direction changes at
    random, which a branch predictor cannot follow): a repeated value is written to the spare
    last entry of idx and y, which therefore need cnt + hi - lo + 1 entries.
    """
    spare = idx.shape[0] - 1
    last = y[cnt - 1]
    for i in range(lo, hi):
        xi = x[i]
        step = int(xi > last) - int(xi < last)
        cnt += step != direction and step != 0
        at = cnt - 1 if step != 0 else spare
        idx[at] = i
        y[at] = xi
        direction = step if step != 0 else direction
        last = xi
    return cnt, direction


@jit
def _short_windows(src_y, src_idx, start, stop, y, idx, lw, top, p, check):
    """Push the points src[start:stop] onto the stack y, idx, lw[:top + 1] (lw[k] = w(k-1, k))
    and apply step 2 to each window it ends (if `check`); return the new top.

    The stack needs room for stop - start more entries.
    """
    if stop <= start:
        return top
    # the values of the top three entries and the weights of the top two live in registers
    ya = y[top - 2] if top >= 2 else 0.0
    yu = y[top - 1] if top >= 1 else 0.0
    yv = y[top]
    lu = lw[top - 1] if top >= 1 else 0.0
    lv = lw[top]
    for k in range(start, stop):
        yb = src_y[k]
        lb = _abs_pow(yb - yv, p)
        top += 1
        y[top] = yb
        idx[top] = src_idx[k]
        lw[top] = lb
        while check and top >= 3:
            # necessary: b beyond u and a beyond v (cheap test before any pow)
            if (yb - yu) * (yu - ya) <= 0.0 or (yv - ya) * (yu - ya) <= 0.0:
                break
            span = _abs_pow(yb - ya, p)
            if span <= lu + lv + lb:
                break
            top -= 2
            y[top] = yb
            idx[top] = idx[top + 2]
            lw[top] = span
            lb = span
            yv = y[top - 1]
            lv = lw[top - 1]
            yu = y[top - 2] if top >= 2 else 0.0
            lu = lw[top - 2] if top >= 2 else 0.0
            ya = y[top - 3] if top >= 3 else 0.0
        ya = yu
        yu = yv
        yv = yb
        lu = lv
        lv = lb
    return top


@jit
def _grown(a, size):
    """A copy of `a` with room for `size` entries."""
    out = np.empty(size, a.dtype)
    out[: a.shape[0]] = a
    return out


@jit
def _with_room(y, idx, lw, size):
    """The stack arrays, with room for at least `size` entries (doubled when they grow)."""
    if size <= y.shape[0]:
        return y, idx, lw
    size = max(size, 2 * y.shape[0])
    return _grown(y, size), _grown(idx, size), _grown(lw, size)


@jit(inline="always")
def _records(y, lw, step, backwards, start, stop, limit, hi_node, hi_cost, lo_node, lo_cost):
    """Walk the list from `start` to `stop` through `step` (`prv` if `backwards`, else `nxt`).

    Collect the points setting a new running maximum (hi) or minimum (lo) relative to `start`
    (which itself is not collected: a join from the merge point never gains, since the
    optimal partition between it and any w weighs at least w(start, w)), each with the summed
    link weight between it and `start`. The walk stops early once that
    weight reaches `limit` (a bound on every jump^p of the merge: no later point can give a
    positive gain). Returns (n_hi, n_lo).
    """
    n_hi = 0
    n_lo = 0
    top = y[start]
    bottom = top
    cost = 0.0
    k = start
    while k != stop and cost < limit:
        if backwards:
            cost += lw[k]
            k = step[k]
        else:
            k = step[k]
            cost += lw[k]
        # without branches (a third of the steps set a record, at random): both slots are
        # written and a count moves on only for a record (the buffers hold a whole segment)
        yk = y[k]
        hi_node[n_hi] = k
        hi_cost[n_hi] = cost
        lo_node[n_lo] = k
        lo_cost[n_lo] = cost
        n_hi += yk > top
        n_lo += yk < bottom
        top = max(top, yk)
        bottom = min(bottom, yk)
    return n_hi, n_lo


@jit(inline="always")
def _best_join(y, p, up_node, up_cost, n_up, dn_node, dn_cost, n_dn, best, best_u, best_w, left_up, stack):
    """Best gain g(i, j) = (y_up[i] - y_dn[j])^p - up_cost[i] - dn_cost[j] if above `best`.

    Records are ordered by cost (increasing) and by value (up increasing, dn decreasing). With
    s_i = y_up[i] and t_j = -y_dn[j] both increasing and f(z) = z^p convex, g has increasing
    differences, so the largest maximiser j*(i) is non-decreasing in i: divide and conquer
    over i (the middle row is scanned, the halves search only to one side of its j*) costs
    O((n_up + n_dn) log n_up) instead of n_up n_dn. A box of rows and columns is skipped when
    its largest jump, paid with its smallest costs, cannot beat `best`. `stack` is a (4, 64)
    int64 scratch array; `left_up` says on which side the up records are.
    Returns the updated (best, best_u, best_w).
    """
    if n_up == 0 or n_dn == 0:
        return best, best_u, best_w
    stack[0, 0] = 0
    stack[1, 0] = n_up - 1
    stack[2, 0] = 0
    stack[3, 0] = n_dn - 1
    depth = 1
    while depth > 0:
        depth -= 1
        i_lo = stack[0, depth]
        i_hi = stack[1, depth]
        j_lo = stack[2, depth]
        j_hi = stack[3, depth]
        bound = _abs_pow(y[up_node[i_hi]] - y[dn_node[j_hi]], p) - up_cost[i_lo] - dn_cost[j_lo]
        if bound <= best:
            continue
        i = (i_lo + i_hi) // 2
        yu = y[up_node[i]]
        j_arg = j_lo
        row_best = -np.inf
        for j in range(j_lo, j_hi + 1):
            g = _abs_pow(yu - y[dn_node[j]], p) - dn_cost[j]
            if g >= row_best:
                row_best = g
                j_arg = j
        gain = row_best - up_cost[i]
        if gain > best:
            best = gain
            if left_up:
                best_u = up_node[i]
                best_w = dn_node[j_arg]
            else:
                best_u = dn_node[j_arg]
                best_w = up_node[i]
        if i > i_lo:
            stack[0, depth] = i_lo
            stack[1, depth] = i - 1
            stack[2, depth] = j_lo
            stack[3, depth] = j_arg
            depth += 1
        if i < i_hi:
            stack[0, depth] = i + 1
            stack[1, depth] = i_hi
            stack[2, depth] = j_arg
            stack[3, depth] = j_hi
            depth += 1
    return best, best_u, best_w


@jit(inline="always")
def _merge(y, lw, nxt, prv, a, v, b, p, seg_lo, seg_hi, buf_node, buf_cost, stack):
    """Merge the saturated segments [a, v] and [v, b] of the list with at most one join.

    seg_lo[s], seg_hi[s] hold the value range of the segment starting at list position
    s * FIRST_WIDTH (every segment starts at a multiple of it); an optimal partition keeps its
    segment's extremes (Lemma A(i)), so ranges just combine.
    """
    sa = a // FIRST_WIDTH
    sv = v // FIRST_WIDTH
    lhi_node = buf_node[0]
    llo_node = buf_node[1]
    rhi_node = buf_node[2]
    rlo_node = buf_node[3]
    lhi_cost = buf_cost[0]
    llo_cost = buf_cost[1]
    rhi_cost = buf_cost[2]
    rlo_cost = buf_cost[3]
    # every join jumps at most this far: weights beyond it cannot be paid back (short
    # segments skip the bound, whose pow would cost more than the walk it saves)
    limit = np.inf
    if b - a > 16:
        limit = _abs_pow(max(seg_hi[sa] - seg_lo[sv], seg_hi[sv] - seg_lo[sa]), p)
    seg_lo[sa] = min(seg_lo[sa], seg_lo[sv])
    seg_hi[sa] = max(seg_hi[sa], seg_hi[sv])
    n_lhi, n_llo = _records(y, lw, prv, True, v, a, limit, lhi_node, lhi_cost, llo_node, llo_cost)
    n_rhi, n_rlo = _records(y, lw, nxt, False, v, b, limit, rhi_node, rhi_cost, rlo_node, rlo_cost)
    best = 0.0
    best_u = v
    best_w = v
    # joins going down: left maximum -> right minimum
    best, best_u, best_w = _best_join(
        y, p, lhi_node, lhi_cost, n_lhi, rlo_node, rlo_cost, n_rlo, best, best_u, best_w, True, stack
    )
    # joins going up: left minimum -> right maximum (up records on the right)
    best, best_u, best_w = _best_join(
        y, p, rhi_node, rhi_cost, n_rhi, llo_node, llo_cost, n_llo, best, best_u, best_w, False, stack
    )
    if best > 0.0:
        nxt[best_u] = best_w
        prv[best_w] = best_u
        lw[best_w] = _abs_pow(y[best_w] - y[best_u], p)


@jit
def pvar_power_1d(x, p, want_partition):
    """Exact V_p(x) = max over partitions of sum |x_{t_{i+1}} - x_{t_i}|^p of a 1-d path.

    Parameters
    ----------
    x : ndarray of float64, shape (N,), N >= 1, finite, C-contiguous
    p : float >= 1
    want_partition : bool
        False returns an empty `partition` (it is as large as the optimal partition: on a
        diffusive path at p < 2 a quarter of N, which costs time in fresh memory). A bool
        value, never an omitted default nor a literal from compiled code: each would be one
        more compilation of this kernel.

    Returns
    -------
    power : float
        V_p(x) (the p-th power of the p-variation norm).
    partition : ndarray of int64
        An optimal partition: strictly increasing indices into x from 0 to N - 1 ([0] when
        N = 1) whose link sum is `power`; empty if not `want_partition`.
    """
    n = x.shape[0]
    # Steps 1 and 2 in one pass: turning points go to a small buffer, block by block, and from
    # there onto the stack of step 2, so that only the points that step 2 keeps are stored
    # (fresh memory is slow to touch). The stack starts with room for the turning points of a
    # diffusive path (about N / 2) and grows if needed.
    cap = min(n, n // 2 + BLOCK) + 1
    y = np.empty(cap)
    idx = np.empty(cap, dtype=np.int64)
    lw = np.empty(cap)
    y[0] = x[0]
    idx[0] = 0
    lw[0] = 0.0
    # the counters are int64 values from the start: a literal initial value would type the
    # helpers' first calls apart (a second compilation of each)
    top = np.int64(0)
    buf_y = np.empty(BLOCK + 2)
    buf_idx = np.empty(BLOCK + 2, dtype=np.int64)
    buf_y[0] = x[0]  # the current extreme, here already on the stack (first = 1)
    buf_idx[0] = 0
    cnt = np.int64(1)
    first = np.int64(1)
    direction = np.int64(0)
    check = p != 1.0  # p = 1: the turning points are optimal (module notes)
    for lo in range(1, n, BLOCK):
        cnt, direction = _turning_points(x, lo, min(lo + BLOCK, n), buf_idx, buf_y, cnt, direction)
        y, idx, lw = _with_room(y, idx, lw, top + cnt)
        # all but the current extreme are final
        top = _short_windows(buf_y, buf_idx, first, cnt - 1, y, idx, lw, top, p, check)
        if cnt > 1:  # a new current extreme, not on the stack yet
            buf_y[0] = buf_y[cnt - 1]
            buf_idx[0] = buf_idx[cnt - 1]
            first = 0
            cnt = 1
    if n == 1:
        return 0.0, idx[: 1 if want_partition else 0].copy()
    if direction == 0:  # a constant path: its endpoints
        buf_y[1] = x[n - 1]
        buf_idx[1] = n - 1
        cnt = 2
    else:
        buf_idx[cnt - 1] = n - 1  # the final extreme equals every later value
    y, idx, lw = _with_room(y, idx, lw, top + cnt + 1)
    top = _short_windows(buf_y, buf_idx, first, cnt, y, idx, lw, top, p, check)
    m = top
    if not check:
        total = 0.0
        for k in range(1, m + 1):
            total += lw[k]
        return total, idx[: m + 1 if want_partition else 0].copy()

    nxt = np.arange(1, m + 2)
    prv = np.arange(-1, m)
    buf_node = np.empty((4, m + 1), dtype=np.int64)
    buf_cost = np.empty((4, m + 1))
    stack = np.empty((4, 64), dtype=np.int64)
    # Segments of 1 and 2 links are saturated already: a merge of two single links has no
    # record pair (both outer points lie on the same side of the middle one), and the only
    # record pairs of a merge of 2-link segments are 4-point windows, all rejected by step 2.
    width = FIRST_WIDTH
    seg_lo = np.empty(m // width + 1)
    seg_hi = np.empty(m // width + 1)
    for a in range(0, m, width):  # plain loops: a slice and its min cost ~30 ns per segment
        lo = y[a]
        hi = lo
        for k in range(a + 1, min(a + width, m) + 1):
            lo = min(lo, y[k])
            hi = max(hi, y[k])
        seg_lo[a // width] = lo
        seg_hi[a // width] = hi
    while width < m:
        a = 0
        while a + width < m:
            _merge(
                y, lw, nxt, prv, a, a + width, min(a + 2 * width, m), p,
                seg_lo, seg_hi, buf_node, buf_cost, stack,
            )
            a += 2 * width
        width *= 2

    total = 0.0
    size = 1
    k = 0
    while k != m:
        k = nxt[k]
        total += lw[k]
        size += 1
    if not want_partition:
        return total, idx[:0].copy()
    partition = np.empty(size, dtype=np.int64)
    k = 0
    partition[0] = idx[0]
    for i in range(1, size):
        k = nxt[k]
        partition[i] = idx[k]
    return total, partition
