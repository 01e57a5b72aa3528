"""Exact p-variation of paths in R^d: the dynamic programme and branch and bound.

The running values (math.md 2.1) are

    pv[0] = 0,   pv[j] = max_{i<j} pv[i] + |x_j - x_i|^p,   link[j] = the maximising i.

Branch and bound (math.md 2.2): while computing pv[j] with a current best value B, every
candidate i <= e can only improve B if |x_i - x_j| > tau_e = (B - pv[e])^(1/p), because pv
is non-decreasing. The candidates 0..j-1 are the complete dyadic blocks of the binary
decomposition of j; a block of 2^l >= 2^LMIN points carries a summary, a ball (centre:
the midpoint of the block's bounding box; radius r: the largest distance of a block point
from it), so that |x_k - x_j| <= r + |c - x_j| for every k in the block. A block is
skipped when this bound is <= tau at its last index (tested in the power domain, without
roots; for p = 1.5, 2, 2.5, 3 also without the square root of |c - x_j|^2), otherwise its
halves are examined. For p < 2 the test is by the block's reach instead (the DP value at its
last index bounds all its candidates, see ``block_test`` and docs/theory.md), a far lower
bound near j at small p. The blocks are tested breadth first, level by level, so that the tests
of a level do not wait for each other's branches; the blocks of 2^LMIN points that fail
are then scanned point by point, nearest first, as are the fewer than 2^LMIN candidates
just before j. B starts from j - 1 and the previous optimal partition points (link chain
of j - 1), which are the winner about 90% of the time on diffusive data, so the scan is
mostly a proof of optimality. For p >= 2 a block whose test failed at one of the last few
points is split without a test (``sift``): the blocks holding the previous partition's
points fail at every level, point after point; and a block whose test passed with room to
spare carries a certificate, a distance x_j may move with the test still passing, so it
passes untested while x_j stays that close (``cert_drift``). A summary depends on the points
only, so it is built once, when its last point arrives (its box merged from its halves'
boxes, its radius by a pass over its points or, for large blocks, by branch and bound over
its sub-blocks): the offline computation is the online step run for j = 1..N-1
(``bnb_advance``), and the streaming class runs the same step.

Units. Distances are handled as "q": q = |x_i - x_j|^2 for the Euclidean norm (no square
root in the hot loop) and q = |x_i - x_j| for l1 / linf, so that a term of the sum is
(q * qs)^ex with ex = p / 2 (Euclidean) or ex = p. The factor qs is an exact power of two
that rescales the path to unit size, so that no power overflows or underflows; thresholds
are converted back to raw q units, where all comparisons happen. Bounds are inflated (and
thresholds deflated) by a relative 4e-12 so that rounding never prunes a winner.

Norms: each entry kernel is built once per norm by ``for_norm`` (the norm is a compile-time
constant there, so the distance loops vectorise). The ball bound holds for any norm.

Threads: the kernels with ``prange`` loops (``build_summaries``, ``bnb_many``,
``bnb_chunked``, ``bnb_batch``) are ``Twin`` objects, each compiled parallel and serial from
one body (``.parallel``, ``.serial``); ``streamrough._parallel.launch`` picks one.

Kernels only: every argument is checked by the public wrappers in ``streamrough.variation``
and ``streamrough.variation_stream``.
"""

from __future__ import annotations

import functools
import math
from types import SimpleNamespace

import numpy as np

from numba import prange

from ._jit import jit, twin_jit
from .pvar_1d import pvar_power_1d

EUCLIDEAN = 0
L1 = 1
LINF = 2
NORM_CODES = {"euclidean": EUCLIDEAN, "l1": L1, "linf": LINF}

LMIN = 3  # blocks of fewer than 2**LMIN points are scanned point by point
DEFLATE = 1.0 - 4e-12  # relative slack on every pruning threshold (q units)
INFLATE = 1.0 + 4e-12  # the same slack on a bound
# solve's integer arguments are int64 values, never Python int literals: a literal argument
# is a type of its own, and every combination of them at the call sites was one more
# compilation of solve (7 per norm, about 0.8 s each)
CHASE = np.int64(4)  # previous optimal partition points tried before the scan
ZERO = np.int64(0)
NO_SEED = np.int64(-1)  # no seed candidate, no best index yet
NO_PARTITION = np.bool_(False)  # pvar_power_1d's want_partition, not a literal (see above)
RADIUS_SCAN = 8  # blocks of up to 2**RADIUS_SCAN points get their radius by a plain pass (measured: below, the branch and bound over sub-blocks costs more than the pass)
STACK = 128  # depth of build_summary's DFS stack (2 entries per level suffice)
HINT_SPAN = 32  # a block whose ball test failed at one of the last HINT_SPAN points is split untested (``sift``; measured with certificates: 32 about 2 % faster than 16, 8 and 128 slower)
# pass certificates (``sift``, ``certify``): fixed-point budgets of unit-scale distance
CERT_ONE = 2.0**40  # fixed-point units per unit distance
CERT_CAP = 4.0  # budgets are clamped to 4 unit distances (offline, every distance of the path is below 2)
CERT_MAX = 1 << 42  # CERT_CAP in fixed point
FAILED = 1 << 62  # the mark of a block whose ball test failed at point j is j - FAILED
NO_CERT = -(1 << 61)  # the mark of a block never tested: neither a failure nor a valid certificate
CERT_OFF = 1 << 62  # the drift of a call that must not use certificates (above every certificate)
DRIFT_RESET = 1 << 61  # a p's certificates are cleared when its drift offset passes this
ANCHOR_MOVE = 2.0**-10  # unit distance from the anchor beyond which the anchor moves to x_j (measured: from 2^-7 down to 2^-14, the smaller the slightly faster; the certificate counts hardly change)
NO_ANCHOR = -1
STREAM_STATE = 8  # length of the streaming int64 state (see stream_push)
SAFE_EXPONENT = 400  # |log2 scale| below which the raw path is used without a copy
FAST = {"reassoc", "contract"}  # lets LLVM vectorise the short reductions over coordinates


@jit
def summary_rows(cap):
    """Rows of the summary table for paths of up to `cap` points.

    The block [s, s + 2^l), l >= LMIN, lives in row ((s + 2^(l-1)) >> (LMIN-1)) - 1: the
    in-order position of a perfect binary tree's node, divided by 2^(LMIN-1). Rows never
    move when the capacity grows.
    """
    return max(cap >> (LMIN - 1), 1)


@jit
def _row(s, l):
    return ((s + (1 << (l - 1))) >> (LMIN - 1)) - 1


@jit(fastmath=FAST)
def qrows(A, i, B, k, n, norm):
    """q(A[i, :n], B[k, :n]): the squared Euclidean distance, or the l1 / linf distance.

    The length n is an argument because summary rows carry the box after the centre: two
    centres are compared over their first d columns only.
    """
    s = 0.0
    if norm == EUCLIDEAN:
        for c in range(n):
            t = A[i, c] - B[k, c]
            s += t * t
    elif norm == L1:
        for c in range(n):
            s += abs(A[i, c] - B[k, c])
    else:
        for c in range(n):
            t = abs(A[i, c] - B[k, c])
            if t > s:
                s = t
    return s


@jit(fastmath=FAST)
def qdist(X, i, j, norm):
    """q(x_i, x_j) between two points of the path."""
    return qrows(X, i, X, j, X.shape[1], norm)


@jit
def qpow(q, ex):
    """q^ex without a general pow for the common exponents."""
    if ex == 1.0:
        return q
    if ex == 0.5:
        return math.sqrt(q)
    if ex == 2.0:
        return q * q
    if ex == 1.5:
        return q * math.sqrt(q)
    if ex == 1.25:
        return q * math.sqrt(math.sqrt(q))
    if ex == 0.75:
        r = math.sqrt(q)
        return r * math.sqrt(r)
    return q**ex


POW_SAFE = 1e-60  # u, g in (POW_SAFE, 1 / POW_SAFE): their 5th powers neither overflow nor underflow


@jit
def qpow_le(u, g, ex):
    """True if u^ex <= g (u >= 0, g > 0), without a root for the exponents of p = 1.5, 2.5, 3
    under the Euclidean norm (ex = 3/4, 5/4, 3/2): u^3 <= g^4, u^5 <= g^4, u^3 <= g^2.

    Rounding moves either side by a few ulp; callers inflate `u` by INFLATE, far more.
    Outside (POW_SAFE, 1 / POW_SAFE) and for other exponents: ``qpow(u, ex) <= g``.
    """
    if ex == 1.0:
        return u <= g
    if POW_SAFE < u < 1.0 / POW_SAFE and POW_SAFE < g < 1.0 / POW_SAFE:
        if ex == 0.75:
            g2 = g * g
            return u * u * u <= g2 * g2
        if ex == 1.25:
            u2 = u * u
            g2 = g * g
            return u2 * u2 * u <= g2 * g2
        if ex == 1.5:
            return u * u * u <= g * g
    return qpow(u, ex) <= g


@jit
def exponent(p, norm):
    """ex such that |x_i - x_j|^p = q^ex."""
    return 0.5 * p if norm == EUCLIDEAN else p


NO_SCALE = -(1 << 30)  # the exponent reported for a constant path


@jit
def _accumulate(r, t, norm):
    """r with one more coordinate difference t >= 0: r + t^2 (Euclidean, the square of the
    distance so far), r + t (l1) or max(r, t) (linf)."""
    if norm == EUCLIDEAN:
        return r + t * t
    if norm == L1:
        return r + t
    return max(r, t)


@jit
def diff_exponent(a, b, norm):
    """e with 2^(e-1) <= |a - b| < 2^e (NO_SCALE if a == b), without overflow or underflow."""
    m = 0.0
    for c in range(a.shape[0]):
        t = abs(a[c] - b[c])
        if t > m:
            m = t
    if m == 0.0:
        return NO_SCALE
    em = math.frexp(m)[1]
    r = 0.0
    for c in range(a.shape[0]):
        t = math.ldexp(abs(a[c] - b[c]), -em)  # not a product with 2^-em: that overflows for subnormal m
        r = _accumulate(r, t, norm)
    if norm == EUCLIDEAN:
        r = math.sqrt(r)
    return math.frexp(r)[1] + em


@jit
def path_exponent(X, norm):
    """e with 2^(e-1) <= max_k |x_k - x_0| < 2^e: the path is rescaled by the exact factor 2^-e."""
    if X.shape[1] == 1:
        # every norm is |x_k - x_0|, and frexp's exponent grows with its argument: one frexp
        # of the largest distance instead of one per point (the per-point route is most of
        # the time of a 1-d p-variation)
        x0 = X[0, 0]
        m = 0.0
        for k in range(1, X.shape[0]):
            m = max(m, abs(X[k, 0] - x0))
        return NO_SCALE if m == 0.0 else math.frexp(m)[1]
    e = _plain_exponent(X, norm)
    if e != NO_PLAIN:
        return e
    e = NO_SCALE
    for k in range(1, X.shape[0]):
        ek = diff_exponent(X[k], X[0], norm)
        if ek > e:
            e = ek
    return e


NO_PLAIN = NO_SCALE - 1  # _plain_exponent's answer for a path outside its range
PLAIN_LOW = 2.0**-250  # the smallest nonzero coordinate difference _plain_exponent takes
PLAIN_HIGH = 2.0**250  # the bound on every coordinate difference _plain_exponent takes


@jit
def _plain_exponent(X, norm):
    """``path_exponent`` of a d > 1 path without the per-point rescaling of ``diff_exponent``
    (two libm calls per coordinate, most of the time of ``path_exponent``), or NO_PLAIN.

    When every nonzero |x_kc - x_0c| lies in [PLAIN_LOW, PLAIN_HIGH), all the squares and
    sums of ``diff_exponent`` are normal floats, in its rescaled units (2^-e', e' >= -249:
    nonzero terms >= 2^-501, squares >= 2^-1002) and unscaled, so each of its roundings is
    the unscaled one times an exact power of two (2^-2e' before, 2^-e' after the square
    root): diff_exponent(x_k, x_0) = frexp exponent of the unscaled distance, in the same
    order of operations. That exponent grows with the distance, so the maximum over k is the
    one of the largest distance: one frexp in all.
    """
    n, d = X.shape
    low = math.inf
    high = 0.0
    best = 0.0
    for k in range(1, n):
        r = 0.0
        for c in range(d):
            t = abs(X[k, c] - X[0, c])
            low = min(low, t if t > 0.0 else math.inf)
            high = max(high, t)
            t = min(t, PLAIN_HIGH)  # the path is rejected then: no overflow (a warning as plain Python)
            r = _accumulate(r, t, norm)
        best = max(best, r)
    if not (PLAIN_LOW <= low and high < PLAIN_HIGH):
        return NO_PLAIN
    if best == 0.0:
        return NO_SCALE
    if norm == EUCLIDEAN:
        best = math.sqrt(best)
    return math.frexp(best)[1]


@jit
def ball_q(qc, r, norm):
    """The ball bound in q units, inflated: (r + |c - x_j|)^2 (Euclidean) or r + |c - x_j|."""
    if norm == EUCLIDEAN:
        u = r + math.sqrt(qc)
        return u * u * INFLATE
    return (r + qc) * INFLATE


@jit
def reach_q(reach, norm):
    """A distance (a reach) in q units: its square (Euclidean) or itself."""
    return reach * reach if norm == EUCLIDEAN else reach


@jit
def summary_cols(d):
    """Columns of a summary row: the ball's centre (0..d-1) and radius (d), then the block's
    bounding box, low corner (d+1..2d) and high corner (2d+1..3d), from which the parent's box
    is merged without a pass over its points, and the root of its reach (``reach_col``)."""
    return 3 * d + 2


@jit
def reach_col(d):
    """The summary column of the root of a block's reach R (R: a bound on the distance of its
    points from its last point, the radius of the link test, math.md 2.2), stored by
    ``root_up`` and read back by ``reach_of``: the root makes R^1.5, the reach test's term
    at p = 1.5, a product instead of a root per test."""
    return 3 * d + 1


ROOT_UP = 1.0 + 2.0**-50  # (1 + 2^-50)^2 (1 - 2^-53)^5 > 1: see root_up


@jit
def root_up(R):
    """rho with fl(rho * rho) >= R (the reach column's form of R >= 0): the root, the product
    with ROOT_UP and the square each lose at most a relative 2^-53 (5 such factors on the
    square), less than the square of ROOT_UP adds. (A subnormal square may fall short by
    less than 2^-1074, like every squared distance in these kernels.)"""
    return math.sqrt(R) * ROOT_UP


@jit
def reach_of(summ, m, d):
    """The reach bound R of summary row m (rho^2 >= the R stored, so a bound as well)."""
    rho = summ[m, reach_col(d)]
    return rho * rho


@jit(fastmath=FAST)
def build_summary(X, summ, s, l, norm):
    """Summary of the complete block [s, s + 2^l) (the summaries of its sub-blocks built):
    the midpoint of its bounding box, the radius of the ball about it that holds every point
    of the block, the box, and the reach R >= max_k |x_k - x_e| about its last point e.

    A block of 2^LMIN points is read point by point. Above, the box is the union of the two
    halves' boxes, and the radius, max_k |x_k - c|, is found by branch and bound over the
    sub-blocks: a sub-block of centre c' and radius r' is skipped when r' + |c' - c|
    (inflated) cannot exceed the largest distance found so far, so the radius is the very
    maximum a full pass would find, at the cost of a few leaves instead of 2^l points.

    The reach is exact for 2^LMIN points (a pass); above, the larger of the second half's
    reach (the same last point) and r' + |c' - x_e| for the first half's ball (c', r'),
    inflated: a bound, one distance per block.
    """
    d = X.shape[1]
    m = _row(s, l)
    lo = d + 1
    hi = 2 * d + 1
    e = s + (1 << l) - 1
    if l == LMIN:
        for c in range(d):
            summ[m, lo + c] = X[s, c]
            summ[m, hi + c] = X[s, c]
        reach = 0.0
        for k in range(s + 1, s + (1 << LMIN)):
            for c in range(d):
                v = X[k, c]
                summ[m, lo + c] = min(summ[m, lo + c], v)
                summ[m, hi + c] = max(summ[m, hi + c], v)
            reach = max(reach, qrows(X, k - 1, X, e, d, norm))
        summ[m, reach_col(d)] = root_up(math.sqrt(reach) if norm == EUCLIDEAN else reach)
    else:
        a = _row(s, l - 1)
        b = _row(s + (1 << (l - 1)), l - 1)
        for c in range(d):
            summ[m, lo + c] = min(summ[a, lo + c], summ[b, lo + c])
            summ[m, hi + c] = max(summ[a, hi + c], summ[b, hi + c])
        qa = qrows(summ, a, X, e, d, norm)
        ra = (summ[a, d] + (math.sqrt(qa) if norm == EUCLIDEAN else qa)) * INFLATE
        summ[m, reach_col(d)] = root_up(max(reach_of(summ, b, d), ra))
    for c in range(d):
        summ[m, c] = summ[m, lo + c] + 0.5 * (summ[m, hi + c] - summ[m, lo + c])
    r = 0.0
    if l <= RADIUS_SCAN:
        for k in range(s, s + (1 << l)):
            r = max(r, qrows(X, k, summ, m, d, norm))
        summ[m, d] = math.sqrt(r) if norm == EUCLIDEAN else r
        return
    stack = np.empty((2, STACK), np.int64)  # one block in 2^RADIUS_SCAN points: allocations are cheap here
    bounds = np.empty(STACK)
    sp = 1
    stack[0, 0] = s
    stack[1, 0] = l
    bounds[0] = math.inf
    while sp > 0:
        sp -= 1
        if bounds[sp] <= r:
            continue
        s2 = stack[0, sp]
        l2 = stack[1, sp]
        if l2 == LMIN:
            for k in range(s2, s2 + (1 << LMIN)):
                r = max(r, qrows(X, k, summ, m, d, norm))
            continue
        # the halves, the one with the larger bound on top
        h = 1 << (l2 - 1)
        ma = _row(s2, l2 - 1)
        mb = _row(s2 + h, l2 - 1)
        ua = ball_q(qrows(summ, ma, summ, m, d, norm), summ[ma, d], norm)
        ub = ball_q(qrows(summ, mb, summ, m, d, norm), summ[mb, d], norm)
        if ua > ub:
            stack[0, sp] = s2 + h
            stack[1, sp] = l2 - 1
            bounds[sp] = ub
            stack[0, sp + 1] = s2
            stack[1, sp + 1] = l2 - 1
            bounds[sp + 1] = ua
        else:
            stack[0, sp] = s2
            stack[1, sp] = l2 - 1
            bounds[sp] = ua
            stack[0, sp + 1] = s2 + h
            stack[1, sp + 1] = l2 - 1
            bounds[sp + 1] = ub
        sp += 2
    summ[m, d] = math.sqrt(r) if norm == EUCLIDEAN else r


@jit
def new_fronts(parts, cap, k):
    """`parts` scratches of ``solve`` for paths of up to `cap` points and k values of p,
    int64 of shape (parts, 2 + k, w), one per thread.

    Rows 0 and 1: the breadth-first frontier of two levels (a level's frontier holds at most
    one block per 2^LMIN points, and one more). Row 2 + a, for the a-th p: for each summary
    row, the mark of the block's last ball test, read by ``sift``: j - FAILED if it failed
    at point j (a hint), else the block's pass certificate (NO_CERT: never tested); in its
    last two columns, the anchor and the drift offset of the certificates (``cert_drift``).
    The marks carry over from one point to the next, so one scratch serves a whole run of
    every p; being per p, the work of a p does not depend on the others run with it. They
    never change a value: a hint only adds work, and a certificate is a proof (``sift``).
    """
    w = summary_rows(cap) + 2
    fronts = np.empty((parts, 2 + k, w), np.int64)
    fronts[:, 2:, :] = NO_CERT
    fronts[:, 2:, w - 2] = NO_ANCHOR
    fronts[:, 2:, w - 1] = 0
    return fronts


@jit
def new_front(cap, k):
    """One scratch of ``new_fronts``: int64 of shape (2 + k, w)."""
    return new_fronts(1, cap, k)[0]


@jit
def clear_certs(front):
    """Drop every mark, anchor and drift offset of `front` (the path was rescaled)."""
    w = front.shape[1]
    front[2:, :] = NO_CERT
    front[2:, w - 2] = NO_ANCHOR
    front[2:, w - 1] = 0


@jit(inline="always")
def certify(t, base):
    """The certificate of a block that passed with budget t (unit distance; < 0: none), for
    the offset `base` of ``cert_drift``: floor(t 2^40) + base, or base - 1 (never valid)."""
    tq = np.int64(min(t, CERT_CAP) * CERT_ONE) if t >= 0.0 else np.int64(-1)
    return tq + base


@jit(inline="always")
def block_mark(f, j, t, base):
    """The mark of a block after its ball test at point j: failed (f = 1), or passed with
    budget t (``certify``). Every certificate made with a base of ``cert_drift`` or NO_CERT
    lies in [NO_CERT - 1, DRIFT_RESET + CERT_MAX], far above every failure mark (below
    NO_CERT - 2^61 + j) and far below FAILED: ``sift`` tells them apart without overflow."""
    return j - FAILED if f else certify(t, base)


@jit(inline="always")
def sift(front, a, cur, cnt, l, j, drift, span):
    """Sort the blocks of level l in frontier row `cur` before their tests, for the a-th p:
    a block with a valid certificate (drift <= its certificate, see ``cert_drift``) passes
    untested and is dropped; a block whose ball test failed at one of the last `span` points
    before j (span = HINT_SPAN for l > LMIN, -1: never) is split untested, its halves opening
    row 1 - cur (the next level); the others are compacted to the front of row `cur`, to be
    tested.

    Returns (blocks left to test, entries of row 1 - cur). A split block is treated as one
    that failed its test, which only costs work, so the values never depend on the hints.
    Why they pay: at p >= 2 the blocks holding the current competitors (the points of the
    previous optimal partition) fail at every level, point after point (about 4 paths from a
    top block to a leaf on Brownian paths, d = 10); without the hint each of their tests is
    lost work. A certificate proves that the block's ball test holds with room to spare (see
    ``cert_drift``), so dropping it is what a passing test does. Branch free: a branch on
    the hint mispredicted often enough to cost what it saved.
    """
    h = 1 << (l - 1)
    nt = 0
    nxt = 0
    for k in range(cnt):
        s = front[cur, k]
        mark = front[2 + a, np.uint64(_row(s, l))]  # unsigned: no wraparound code
        open_ = np.int64(drift > mark)  # no valid certificate (a failure mark is none)
        age = j - (mark + FAILED)  # for a failure mark; negative for a certificate
        hint = np.int64((age >= 0) & (age <= span))
        front[1 - cur, nxt] = s
        front[1 - cur, nxt + 1] = s + h
        nxt += 2 * hint
        front[cur, nt] = s  # nt <= k: never overwrites an entry still to be read
        nt += open_ - hint
    return nt, nxt


@jit
def ends_block(j):
    """True if j is the last point of a block of 2^LMIN points, so of a summary or more:
    checked before ``complete_blocks`` is called, because a call with arrays costs atomic
    reference counts, a large part of a step that builds nothing (7 of 8 steps)."""
    return (j + 1) & ((1 << LMIN) - 1) == 0


@jit
def _needs_summaries(ps):
    for a in range(ps.shape[0]):
        if ps[a] != 1.0:
            return True
    return False


@jit
def follow_links(link, end):
    """The partition 0 = t_0 < ... < t_m = end encoded by link[]."""
    m = 1
    i = end
    while i > 0:
        i = link[i]
        m += 1
    out = np.empty(m, np.int64)
    i = end
    for t in range(m - 1, -1, -1):
        out[t] = i
        i = link[i]
    return out


@jit
def _rescale(X, n, pv, summ, ps, k):
    d = X.shape[1]
    for i in range(n):
        for c in range(d):
            X[i, c] = math.ldexp(X[i, c], -k)
    for m in range(summ.shape[0]):
        R = reach_of(summ, m, d)
        for c in range(summ.shape[1]):
            summ[m, c] = math.ldexp(summ[m, c], -k)
        summ[m, reach_col(d)] = root_up(math.ldexp(R, -k))  # a root: scaled by 2^(-k/2), not exact for odd k
    for a in range(ps.shape[0]):
        g = 2.0 ** (-k * ps[a])
        for i in range(n):
            pv[a, i] *= g


@jit
def _finite(y):
    for c in range(y.shape[0]):
        if not math.isfinite(y[c]):
            return False
    return True


# --------------------------------------------------------------------------- kernels per norm


def _specialise(norm):
    """The entry kernels for one norm. `norm` is a closure constant, so Numba compiles it
    into the code and the norm branches of the helpers fold away (the distance loops then
    vectorise: about 3x faster than a runtime norm argument). Each norm compiles on first use.
    """

    def ball_test(with_budget):
        """``ball_fails`` with the budget (``with_budget``: the ball body of ``solve``) or
        without (the reach body), a compile-time choice: a division is never dead code in
        Numba (its zero check may raise), and computed unused it cost the reach test 10 %
        at p = 1.5."""

        @jit(fastmath=FAST, inline="always")
        def ball_fails(qc, r, g, qs, sqs, ex):
            """(f, t): f = 0 if every point within r of a point y at q = qc from x_j (q
            units, scaled by qs; sqs = sqrt(qs), exact: qs is a power of 4 under the Euclidean
            norm) is at a distance D from x_j with D^p <= g, else 1 (also when g <= 0);
            t >= 0: a budget, in unit distance, by which x_j may move with the bound still
            holding (-1: none, or not `with_budget`).

            The budget (p = 2, 2.5, 3, Euclidean): with u >= rs + |y - x_j| (unit scale) and
            the bound (u + t)^k <= G' = G DEFLATE of the test below, t* = u (rho^(1/k) - 1)
            for rho = G' / u^k, and rho^(1/k) - 1 >= ln(rho) / k >= 2 (rho - 1) / (k (rho + 1)):
            no root. u and U >= u^k are inflated by INFLATE, far above the rounding of their
            few positive terms, so the true values are below them; G' - U is then exact up to
            its one rounding, and the final DEFLATE covers that and the three operations after.
            """
            if norm == EUCLIDEAN and (ex == 0.75 or ex == 1.0 or ex == 1.25 or ex == 1.5):
                # p = 1.5, 2, 2.5, 3: (rs + D)^k <= G with k = 3, 2, 5, 3 and G = g^2, g, g^2,
                # g (rs = r sqrt(qs), D = sqrt(qn) in unit scale) without the square root of
                # qn, the hot spot of the test: (rs + D)^k = P(qn) + D Q(qn) with P, Q >= 0, so
                # the bound holds iff G - P >= 0 and qn Q^2 <= (G - P)^2. The slack (DEFLATE,
                # INFLATE) is far above the rounding of these sums of positive terms.
                # g |g|, not g^2: a gap g < 0 (a bound below pv[e], in the link test) then
                # leaves this route (G < POW_SAFE) for qpow_le, which fails it
                G = g * abs(g) if (ex == 0.75 or ex == 1.25) else g
                if POW_SAFE < G < 1.0 / POW_SAFE:
                    rs = r * sqs
                    qn = qc * qs
                    r2 = rs * rs
                    if ex == 1.0:
                        P = r2 + qn
                        Q = 2.0 * rs
                    elif ex == 1.25:
                        P = rs * (r2 * r2 + 10.0 * r2 * qn + 5.0 * qn * qn)
                        Q = 5.0 * r2 * r2 + 10.0 * r2 * qn + qn * qn
                    else:
                        P = rs * (r2 + 3.0 * qn)
                        Q = 3.0 * r2 + qn
                    B = G * DEFLATE - P * INFLATE
                    below = B >= 0.0 and qn * Q * Q * INFLATE <= B * B
                    if not with_budget:
                        return np.int64(1) - np.int64(below), -1.0
                    u = (rs + math.sqrt(qn)) * INFLATE
                    u2 = u * u
                    if ex == 1.0:
                        k = 2.0
                        U = u2
                    elif ex == 1.25:
                        k = 5.0
                        U = u2 * u2 * u
                    else:
                        k = 3.0
                        U = u2 * u
                    U *= INFLATE
                    Gd = G * DEFLATE
                    t = 2.0 * u * (Gd - U) / (k * (Gd + U)) * DEFLATE
                    return np.int64(1) - np.int64(below), t
            below = qpow_le(ball_q(qc, r, norm) * qs, g, ex)
            return np.int64(1) - np.int64(below), -1.0

        return ball_fails

    @jit(fastmath=FAST, inline="always")
    def cert_drift(X, j, scale, front, a):
        """(drift, base) of the a-th p's certificates at point j: a block whose certificate is
        >= drift passes its ball test untested (``sift``), and a block that passes its test
        now gets the certificate ``certify(t, base)``.

        Why it holds: a block passing at point j0 with budget t (``ball_fails``) passes at
        every later point j' with |x_j' - x_j0| <= t, because its gap best_v - pv[e] never
        shrinks there (the caller's contract, see ``solve``). That distance is bounded
        through an anchor x_A, a recent point: |x_j0 - x_A0| + the jumps of the anchor since
        + |x_A - x_j'|. All are kept in fixed point (2^-40 unit distance), each distance
        rounded up, the budget down: the drift offset `om` sums the jumps; a certificate is
        floor(t 2^40) - ceil(|x_j0 - x_A0| 2^40) + om(j0), valid while ceil(|x_j' - x_A|
        2^40) + om(j') does not exceed it. The anchor moves to x_j when x_j is more than
        ANCHOR_MOVE from it (a jump of 4 or more clears every certificate: it counts as
        CERT_MAX + 1, more than any budget), so the distances to the anchor stay small.
        """
        w = front.shape[1]
        anchor = front[2 + a, w - 2]
        om = front[2 + a, w - 1]
        dq = np.int64(0)
        if anchor < 0:
            anchor = j
        else:
            q = qdist(X, anchor, j, norm)
            delta = (math.sqrt(q) if norm == EUCLIDEAN else q) * scale * INFLATE  # unit distance, rounded up
            if delta > ANCHOR_MOVE:
                om += np.int64(delta * CERT_ONE) + 1 if delta < CERT_CAP else CERT_MAX + 1
                anchor = j
            else:
                dq = np.int64(delta * CERT_ONE) + 1
        if om > DRIFT_RESET:  # far from any overflow; a reset only costs work
            front[2 + a, :] = NO_CERT
            om = 0
        front[2 + a, w - 2] = anchor
        front[2 + a, w - 1] = om
        return dq + om, om - dq

    def block_test(by_reach):
        """``block_fails`` with the reach test (by_reach) or the ball test, a compile-time
        choice: the two tests in one body made the ball test 5-15 % slower (measured at p = 2
        and 2.5), and so did the two bodies inlined into one ``solve``."""

        ball_fails = ball_test(not by_reach)

        @jit(fastmath=FAST, inline="always")
        def block_fails(X, j, qs, sqs, rscale, ex, pv, a, s, l, best_v, summ):
            """(f, t): f = 1 if the block [s, s + 2^l) may hold a candidate above best_v, else
            0; t: the ball test's budget (``ball_test``; -1 in the reach test).

            The ball test: 0 when the ball bound, raised to the power p, is within the gap
            best_v - pv[e] at the block's last index e. The reach test (docs/theory.md; for
            p < 2): pv[k] <= pv[e] - |x_k - x_e|^p for k in the block (the DP value at e), so
            with the block's reach R and b = |x_e - x_j|, every candidate k is at most
            pv[e] + (R + b)^p - R^p ((a + b)^p - a^p grows with a): 0 when (R + b)^p is within
            the gap plus R^p. Near j this bound is far below the ball's, which fails there
            for most blocks when p is small (p = 1.5, d = 10: 12 instead of 17 tests per
            point; from p = 2 on it is the weaker one). R^p is deflated, and so is the gap,
            by a relative 4e-12 of best_v: the DP's pv[e] satisfies the inequality up to its
            rounding, a few ulp of pv[e] <= best_v. At p = 1.5, R^p = R rho (rho: the
            stored root of R) times rscale = s sqrt(s INFLATE) for the distance scale s (sqs,
            or qs for l1 / linf): no root per test; its few roundings are far below the
            deflation. rscale is 0 for every other p: ``solve`` decides once per call which
            form applies, not every test.
            """
            m = _row(s, l)
            e = s + (1 << l) - 1
            g = best_v - pv[a, e]
            d = X.shape[1]
            if by_reach:
                q = qrows(X, j, X, e, d, norm)
                r = reach_of(summ, m, d) * INFLATE
                if rscale != 0.0:  # p = 1.5
                    rp = r * summ[m, reach_col(d)] * rscale
                else:
                    rp = qpow(reach_q(r, norm) * qs, ex)
                g += rp * DEFLATE - abs(best_v) * (1.0 - DEFLATE)
            else:
                q = qrows(X, j, summ, m, d, norm)
                r = summ[m, d]
            return ball_fails(q, r, g, qs, sqs, ex)

        return block_fails

    @jit(fastmath=FAST, inline="always")
    def scan_down(X, j, qs, ex, pv, a, hi, lo, best_v, best_i):
        """Improve (best_v, best_i) over the candidates i = hi, hi - 1, ..., lo, nearest
        first. The power of a candidate is taken only if its distance passes the root-free
        test against its own gap best_v - pv[a, i] (skipped: pv[a, i] + |x_i - x_j|^p
        rounds to at most best_v)."""
        for i in range(hi, lo - 1, -1):
            q = qdist(X, i, j, norm)
            if not qpow_le(q * qs * INFLATE, best_v - pv[a, i], ex):
                v = pv[a, i] + qpow(q * qs, ex)
                if v > best_v:
                    best_v = v
                    best_i = i
        return best_v, best_i

    def solve_for(by_reach):
        block_fails = block_test(by_reach)
        hinted = not by_reach  # the reach test is cheap and passes often: hints did not pay there

        # _nrt=False (Numba's own option, underscore-named; also on solve and step): these
        # bodies allocate nothing, and compiled without the runtime their array arguments
        # carry no atomic reference counts, 13 pairs per point otherwise (5 % of d = 10,
        # N = 10^5 at every p). An allocation added here would fail to compile, not leak.
        @jit(fastmath=FAST, _nrt=False)
        def solve_with(X, j, qs, ex, pv, link, a, start, end, seed_i, chase, best_v, best_i, summ, front, stats):
            """The body of ``solve``, with the block test of ``block_test(by_reach)``."""
            nev = 0
            done = end  # the candidates done..end-1 have been tried (the chase of the seed end - 1)
            if seed_i >= 0:
                i = seed_i  # the seed, then up to `chase` points of its link chain
                for _ in range(chase + 1):
                    v = pv[a, i] + qpow(qdist(X, i, j, norm) * qs, ex)
                    nev += 1
                    if v > best_v:
                        best_v = v
                        best_i = i
                    if i == done - 1:
                        done = i
                    if i == 0:
                        break
                    i = link[a, i]
            sqs = math.sqrt(qs) if norm == EUCLIDEAN else 1.0
            scale = sqs if norm == EUCLIDEAN else qs  # of distances: unit distance = raw * scale
            p15 = by_reach and ex == (0.75 if norm == EUCLIDEAN else 1.5)
            rscale = scale * math.sqrt(scale * INFLATE) if p15 else 0.0  # see block_fails
            drift = CERT_OFF  # no certificate is used ...
            base = NO_CERT  # ... or made, unless (solve's contract) the seed is j - 1
            if hinted and norm == EUCLIDEAN and seed_i == j - 1 and seed_i >= 0:  # budgets: Euclidean only
                drift, base = cert_drift(X, j, scale, front, a)
            nbt = 0
            # the blocks of the binary decomposition of [start, end): those of fewer than 2^LMIN
            # points (the nearest to j) are scanned first, point by point
            top = 0  # the highest set bit of end
            while (end >> top) > 1:
                top += 1
            lo = max((end >> LMIN) << LMIN, start)  # those blocks tile [lo, end)
            best_v, best_i = scan_down(X, j, qs, ex, pv, a, min(end, done) - 1, lo, best_v, best_i)
            nev += max(min(end, done) - lo, 0)
            # the larger ones level by level, breadth first: the frontier of a level (row cur of
            # `front`) is the decomposition's block of that level and the halves of the blocks of
            # the level above that failed their test or, in the ball bodies, were split untested
            # by their hint (``sift``). The tests of a level are independent of each
            # other (no branch on their outcome): they overlap in the CPU
            cur = 0
            cnt = 0
            for l in range(top, LMIN - 1, -1):
                if (end >> l) & 1:
                    lo = (end >> (l + 1)) << (l + 1)
                    if lo >= start:
                        front[cur, cnt] = lo
                        cnt += 1
                nxt = 0
                if hinted:
                    cnt, nxt = sift(front, a, cur, cnt, l, j, drift, HINT_SPAN if l > LMIN else -1)
                if l > LMIN:
                    h = 1 << (l - 1)
                    for k in range(cnt):
                        s = front[cur, k]
                        f, t = block_fails(X, j, qs, sqs, rscale, ex, pv, a, s, l, best_v, summ)
                        if hinted:
                            front[2 + a, _row(s, l)] = block_mark(f, j, t, base)
                        front[1 - cur, nxt] = s
                        front[1 - cur, nxt + 1] = s + h
                        nxt += 2 * f
                else:
                    for k in range(cnt):
                        s = front[cur, k]
                        f, t = block_fails(X, j, qs, sqs, rscale, ex, pv, a, s, l, best_v, summ)
                        if hinted:
                            front[2 + a, _row(s, l)] = block_mark(f, j, t, base)
                        front[1 - cur, nxt] = s
                        nxt += f
                nbt += cnt
                cur = 1 - cur
                cnt = nxt
            # the blocks of 2^LMIN points that failed, roughly nearest first (the frontier is in
            # increasing order but for the split blocks' halves, which lead), point by point
            for k in range(cnt - 1, -1, -1):
                s = front[cur, k]
                e = min(s + (1 << LMIN) - 1, done - 1)
                best_v, best_i = scan_down(X, j, qs, ex, pv, a, e, s, best_v, best_i)
                nev += max(e - s + 1, 0)
            stats[0] += nev
            stats[1] += nbt
            return best_v, best_i

        return solve_with

    solve_by_reach = solve_for(True)
    solve_by_ball = solve_for(False)

    @jit(fastmath=FAST, _nrt=False)
    def solve(X, j, qs, ex, pv, link, a, start, end, seed_i, chase, best_v, best_i, summ, front, stats):
        """Improve (best_v, best_i) to the max over the candidates i in [start, end) of
        pv[a, i] + |x_i - x_j|^p (p = ex, in q units), by branch and bound over the complete
        dyadic blocks of [0, end) that lie inside [start, end) (start must be 0 or a multiple
        of 2^b with end - start < 2^b, so that these blocks tile [start, end)), after trying
        the candidate seed_i (if >= 0) and up to `chase` points of its optimal partition
        (link chain), which are likely winners: a good start for the bound.

        best_v must be the value of a real candidate (or -1), or a lower bound of the final
        maximum: the result is then that maximum if it exceeds best_v, and (best_v, best_i)
        unchanged otherwise. stats[0] += distances, stats[1] += block tests. front: the
        scratch of ``new_front(n, k)`` (k > a) or a wider one: the breadth-first frontier and
        the marks of ``sift``, one scratch per thread.

        Certificates (p >= 2, Euclidean; ``cert_drift``) are used and made only in a call
        with seed_i = j - 1, and the caller then promises what every caller here holds: the
        calls with this scratch and such a seed come in increasing j on one path, pv[a, :j]
        are final running values (non-decreasing), and no call's best_v exceeds the running
        value at its j. The bound of every earlier call is then at most pv[a, j - 1], which
        the seed's value reaches, so no gap best_v - pv[a, e] is smaller than when a
        certificate was made.
        """
        if ex < (1.0 if norm == EUCLIDEAN else 2.0):  # p < 2: the reach test (``block_test``)
            return solve_by_reach(X, j, qs, ex, pv, link, a, start, end, seed_i, chase, best_v, best_i, summ, front, stats)
        return solve_by_ball(X, j, qs, ex, pv, link, a, start, end, seed_i, chase, best_v, best_i, summ, front, stats)

    @jit(fastmath=FAST, _nrt=False)
    def step(X, j, qs, ps, pv, link, summ, front, stats):
        """pv[:, j] and link[:, j] for every p, given rows 0..j-1 and the summaries of the
        complete blocks inside [0, j). stats[0] += distance evaluations, stats[1] += block tests."""
        for a in range(ps.shape[0]):
            p = ps[a]
            ex = exponent(p, norm)
            if p == 1.0:  # the finest partition is optimal: a single pass
                pv[a, j] = pv[a, j - 1] + qpow(qdist(X, j - 1, j, norm) * qs, ex)
                link[a, j] = j - 1
                stats[0] += 1
                continue
            best_v, best_i = solve(X, j, qs, ex, pv, link, a, ZERO, j, j - 1, CHASE, -1.0, ZERO, summ, front, stats)
            pv[a, j] = best_v
            link[a, j] = best_i

    @jit
    def complete_blocks(X, j, summ):
        """Build the summaries of every block whose last point is j (see ``ends_block``)."""
        for l in range(LMIN, 63):
            size = 1 << l
            if (j + 1) & (size - 1):
                break
            build_summary(X, summ, j + 1 - size, l, norm)

    @jit
    def bnb_advance(X, j0, j1, qs, ps, pv, link, summ, stats):
        """Run ``step`` for j = j0..j1-1 (j0 >= 1; pv[:, 0] = 0 and link[:, 0] = 0 set by the caller)."""
        front = new_front(j1, ps.shape[0])
        build = _needs_summaries(ps)
        for j in range(j0, j1):
            step(X, j, qs, ps, pv, link, summ, front, stats)
            if build and ends_block(j):
                complete_blocks(X, j, summ)


    @twin_jit
    def build_summaries(X, summ, parts):
        """The summaries of every complete block of [0, n), in parallel (offline: all points known)."""
        n = X.shape[0]
        for l in range(LMIN, 63):  # level by level: a summary reads its halves'
            size = 1 << l
            if size > n:
                break
            for t in prange(parts):
                for b in range(t, n >> l, parts):
                    build_summary(X, summ, b * size, l, norm)

    @twin_jit
    def bnb_many(X, qs, ps, pv, link, summ, order, parts, stats):
        """``step`` for j = 1..n-1, one serial run per p, the runs in `parts` parallel
        threads: thread t takes the rows order[t], order[t + parts], ... (summaries prebuilt,
        read only; pv[:, 0], link[:, 0] set by the caller)."""
        n = X.shape[0]
        k = ps.shape[0]
        counts = np.zeros((parts, 2), np.int64)
        for t in prange(parts):
            for r in range(t, k, parts):
                front = new_front(n, 1)  # fresh hints for each p: the same work as a serial run
                a = order[r]
                psa = ps[a : a + 1]
                pva = pv[a : a + 1]
                linka = link[a : a + 1]
                for j in range(1, n):
                    step(X, j, qs, psa, pva, linka, summ, front, counts[t])
        for t in range(parts):
            stats[0] += counts[t, 0]
            stats[1] += counts[t, 1]

    @twin_jit
    def bnb_chunked(X, qs, p, pv, link, summ, lb, parts, stats):
        """Running values of one p > 1 by the exact chunked DP (math.md 2.4), with chunks
        [J, J + 2^lb) (lb <= 11; pv, link of shape (1, n), pv[0, 0] and link[0, 0] set by the caller;
        summaries prebuilt).

        0. In order: low[j], the value of a real partition of [0, j] (its last link is J - 1,
           a point of J - 1's optimal partition, or a point of the chunk carrying its own low
           value), deflated by DEFLATE to cover rounding: low[j] <= pv[j], and low[j]
           >= out[j] can only hold if the winner lies in the chunk.
        1. In `parts` parallel slices of the chunk: out[j] = max over i < J of pv[i] +
           |x_i - x_j|^p, from final values only, pruned against max(found, low[j]); a value
           below low[j] is then never the maximum, so it may be lost.
        2. In order: pv[j] = max(out[j], max over J <= i < j), seeded with out[j] and j - 1.
        """
        n = X.shape[0]
        ex = exponent(p, norm)
        size = 1 << lb
        fronts = new_fronts(parts, n, 1)
        counts = np.zeros((parts, 2), np.int64)
        out_v = np.empty(size)
        out_i = np.empty(size, np.int64)
        low_v = np.empty(size)
        low_i = np.empty(size, np.int64)
        front = fronts[0]
        stats0 = counts[0]
        for j in range(1, min(size, n)):  # the first chunk: serial steps
            best_v, best_i = solve(X, j, qs, ex, pv, link, ZERO, ZERO, j, j - 1, CHASE, -1.0, ZERO, summ, front, stats0)
            pv[0, j] = best_v
            link[0, j] = best_i
        for J in range(size, n, size):
            m = min(size, n - J)
            for j in range(J, J + m):
                # out_v, out_i: the best seed below J (real); low_v, low_i: the best real
                # partition found, through chunk points (their own low values) or below J
                best_v, best_i = solve(X, j, qs, ex, pv, link, ZERO, J, J, J - 1, CHASE, -1.0, ZERO, summ, front, stats0)
                out_v[j - J] = best_v
                out_i[j - J] = best_i
                i = j - 1
                for _ in range(CHASE):
                    if i < J:
                        break
                    v = low_v[i - J] + qpow(qdist(X, i, j, norm) * qs, ex)
                    stats0[0] += 1
                    if v > best_v:
                        best_v = v
                        best_i = i
                    i = low_i[i - J]
                low_v[j - J] = best_v
                low_i[j - J] = best_i
            for t in prange(parts):
                prev = -1
                for j in range(J + (m * t) // parts, J + (m * (t + 1)) // parts):
                    best_v = out_v[j - J]
                    best_i = out_i[j - J]
                    # start from the lower bound if it is higher: a result equal to it
                    # means nothing below J beats it, and the real seed stands
                    floor = low_v[j - J] * DEFLATE
                    start_v = max(floor, best_v)
                    v, i = solve(X, j, qs, ex, pv, link, ZERO, ZERO, J, prev, ZERO, start_v, best_i, summ, fronts[t], counts[t])
                    if v > start_v or floor <= best_v:
                        best_v = v
                        best_i = i
                    out_v[j - J] = best_v
                    out_i[j - J] = best_i
                    prev = best_i
            for j in range(J, J + m):
                best_v = out_v[j - J]
                best_i = out_i[j - J]
                if j > J:
                    best_v, best_i = solve(
                        X, j, qs, ex, pv, link, ZERO, J, j, j - 1, ZERO, best_v, best_i, summ, front, stats0
                    )
                pv[0, j] = best_v
                link[0, j] = best_i
        for t in range(parts):
            stats[0] += counts[t, 0]
            stats[1] += counts[t, 1]

    @jit
    def one_variation(X, qs):
        """V_1 = sum_k |x_{k+1} - x_k| (scaled like every value here): the finest partition."""
        ex = exponent(1.0, norm)
        total = 0.0
        for k in range(1, X.shape[0]):
            total += qpow(qdist(X, k - 1, k, norm) * qs, ex)
        return total

    @jit
    def dp_run(X, qs, ps, pv, link):
        """The plain O(N^2) dynamic programme (math.md 2.1), for every p."""
        n = X.shape[0]
        for a in range(ps.shape[0]):
            ex = exponent(ps[a], norm)
            pv[a, 0] = 0.0
            link[a, 0] = 0
            for j in range(1, n):
                best_v = -1.0
                best_i = 0
                for i in range(j):
                    v = pv[a, i] + qpow(qdist(X, i, j, norm) * qs, ex)
                    if v > best_v:
                        best_v = v
                        best_i = i
                pv[a, j] = best_v
                link[a, j] = best_i


    @twin_jit
    def bnb_batch(Xb, ps, out, expo):
        """Final scaled values of many paths, in parallel over paths (one serial run each:
        branch and bound, or the 1-d method when d = 1).

        out[b, a] = V_p(path b) / 2^(e_b p) with e_b = expo[b] (out = 0, expo = 0 for a constant path).
        """
        nb = Xb.shape[0]
        n = Xb.shape[1]
        k = ps.shape[0]
        for b in prange(nb):
            X = Xb[b]
            e = path_exponent(X, norm)
            if e == NO_SCALE:
                for a in range(k):
                    out[b, a] = 0.0
                expo[b] = 0
            else:
                if -SAFE_EXPONENT < e < SAFE_EXPONENT:
                    Xs = X
                    qs = math.ldexp(1.0, -2 * e) if norm == EUCLIDEAN else math.ldexp(1.0, -e)
                else:
                    Xs = np.empty_like(X)
                    for i in range(n):
                        for c in range(X.shape[1]):
                            Xs[i, c] = math.ldexp(X[i, c] - X[0, c], -e)
                    qs = 1.0
                if X.shape[1] == 1:  # one dimension: the near-linear method, on the unit-scaled path
                    ys = np.empty(n)
                    for i in range(n):
                        ys[i] = math.ldexp(X[i, 0] - X[0, 0], -e)
                    for a in range(k):
                        out[b, a] = pvar_power_1d(ys, ps[a], NO_PARTITION)[0]
                else:
                    pv = np.zeros((k, n))
                    link = np.zeros((k, n), np.int64)
                    summ = np.zeros((summary_rows(n), summary_cols(X.shape[1])))
                    stats = np.zeros(2, np.int64)
                    bnb_advance(Xs, 1, n, qs, ps, pv, link, summ, stats)
                    for a in range(k):
                        out[b, a] = pv[a, n - 1]
                expo[b] = e


    # --------------------------------------------------------------------------- streaming
    # istate = [n, e, has_scale, T, evaluations, block tests, -, -]:
    # points so far; the scale exponent (stored rows are (x - x0) * 2^-e); whether e is set (a
    # nonzero deviation from x0 has been seen); the threshold: when |x - x0| reaches 2^(e + T)
    # everything is rescaled (T * max p stays far below the float64 exponent range, so no
    # power overflows).


    @jit
    def append(y, X, pv, link, summ, x0, ps, istate, front, stats):
        n = istate[0]
        d = X.shape[1]
        if n == 0:
            for c in range(d):
                x0[c] = y[c]
                X[0, c] = 0.0
            for a in range(ps.shape[0]):
                pv[a, 0] = 0.0
                link[a, 0] = 0
            istate[0] = 1
            return
        ey = diff_exponent(y, x0, norm)
        if istate[2] == 0:
            if ey != NO_SCALE:
                istate[1] = ey
                istate[2] = 1
        elif ey - istate[1] > istate[3]:
            k = int(ey - istate[1])
            _rescale(X, n, pv, summ, ps, k)
            clear_certs(front)  # in the old units
            istate[1] = ey
        e = int(istate[1])
        for c in range(d):
            X[n, c] = math.ldexp(y[c] - x0[c], -e)  # exact, also where 2^-e is not a float64
        step(X, n, 1.0, ps, pv, link, summ, front, stats)
        if _needs_summaries(ps) and ends_block(n):
            complete_blocks(X, n, summ)
        istate[0] = n + 1


    @jit
    def stream_push(y, X, pv, link, summ, x0, ps, istate, front):
        """Append one point (capacity checked by the caller). Returns False if y is not finite.

        istate = [n, e, has_scale, T, distance evaluations, block tests, -, -]; front: the
        scratch of ``solve``, ``new_front(capacity, ps.size)``.
        """
        if not _finite(y):
            return False
        append(y, X, pv, link, summ, x0, ps, istate, front, istate[4:6])
        return True


    @jit
    def stream_extend(P, X, pv, link, summ, x0, ps, istate, front):
        """Append the rows of P. Returns -1, or the first non-finite row (nothing appended then)."""
        for r in range(P.shape[0]):
            if not _finite(P[r]):
                return r
        stats = istate[4:6]
        for r in range(P.shape[0]):
            append(P[r], X, pv, link, summ, x0, ps, istate, front, stats)
        return -1

    return SimpleNamespace(
        ball_fails=ball_test(True),
        solve=solve,
        complete_blocks=complete_blocks,
        step=step,
        bnb_advance=bnb_advance,
        build_summaries=build_summaries,
        bnb_many=bnb_many,
        bnb_chunked=bnb_chunked,
        dp_run=dp_run,
        one_variation=one_variation,
        bnb_batch=bnb_batch,
        stream_push=stream_push,
        stream_extend=stream_extend,
    )


@functools.lru_cache(maxsize=None)
def for_norm(norm):
    """The kernels of `_specialise` for a norm code (created once per process, compiled lazily)."""
    return _specialise(norm)
