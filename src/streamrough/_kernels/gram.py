"""Gram-matrix kernels for rough paths of wide layers (math.md section 5).

Everything here works on L x L inner-product matrices, never on the D-dimensional layers,
so that level-2 quantities (D^2 entries per interval) are never materialised.

The level-2 object handled by :func:`interval_norms_sq` is the general form

    Gamma_{s,t} = sum_{s<=j<t} sum_r m^r_{s,j} (x) e^r_j,
    m^r_{s,j} = X^r_{s,j} + h f^r_j,    X^r_{s,j} = sum_{s<=i<j} f^r_i,

for R "channels" of increment sequences f^r (generating the left factors) and e^r (the right
factors), known only through their Gram blocks F^{rq}_{ik} = <f^r_i, f^q_k> and
E^{rq}_{ik} = <e^r_i, e^q_k>. With R = 1 and f = e = a this is the level 2 of one path:
h = 0 gives the iterated sums XX_{s,t} = sum_{s<=i<j<t} a_i (x) a_j, h = 1/2 the geometric
level 2 XX + D/2 (m is then the midpoint of segment j, relative to x_s). With R = 2,
f = (a, c), e = (c, b), c = a - b it is the difference XX - YY of two lifts, written so that
every term is small when the two paths are close (no cancellation of large quantities).

Running recursion in t for fixed s (Gamma_{s,t+1} = Gamma_{s,t} + sum_r m^r_{s,t} (x) e^r_t):

    |Gamma_{s,t+1}|^2 = |Gamma_{s,t}|^2
        + 2 sum_{s<=j<t} sum_{r,q} <m^r_{s,j}, m^q_{s,t}> <e^r_j, e^q_t>
        + sum_{r,q} <m^r_{s,t}, m^q_{s,t}> <e^r_t, e^q_t>,

with <m^r_{s,j}, m^q_{s,t}> = V + h (Y + W) + h^2 F^{rq}_{jt}, where V = <X^r_{s,j}, X^q_{s,t}>,
Y = <f^r_j, X^q_{s,t}>, W = <X^r_{s,j}, f^q_t>, all kept as running sums (O(L) state per s).
Each row s is independent: O(L^2) work per s, O(L^3) in total, parallel over s.

Both entry kernels are ``Twin`` objects (``.parallel`` and ``.serial``, one body); the block
and task sizes are arguments (tunables of ``streamrough._config``).
"""

from __future__ import annotations

import math

import numpy as np
from numba import prange

from ._jit import jit, twin_jit


@jit
def _interval_norms_block(F, E, h, s0, s1, sq1, sq2):
    """Fill sq1[t, s] = |X^{R-1}_{s,t}|^2 and sq2[t, s] = |Gamma_{s,t}|^2 for s0 <= s < s1 < t."""
    nch = F.shape[0]
    n = F.shape[2]
    hh = h * h
    nb = s1 - s0
    V = np.zeros((nb, nch, nch, n))  # V[b, r, q, j] = <X^r_{s,j}, X^q_{s,t}>, s = s0 + b
    Y = np.zeros((nb, nch, nch, n))  # Y[b, r, q, j] = <f^r_j, X^q_{s,t}>
    N = np.zeros((nb, nch, nch))  # N[b, r, q] = <X^r_{s,t}, X^q_{s,t}>
    W = np.zeros((nb, nch, nch))  # W[b, r, q] = <X^r_{s,t}, f^q_t>
    level2 = np.zeros(nb)
    last = nch - 1
    for t in range(s0, n):
        for b in range(min(nb, t - s0 + 1)):
            s = s0 + b
            acc = 0.0
            for r in range(nch):
                for q in range(nch):
                    # row t of the (q, r) blocks: F[q, r, t, j] = <f^q_t, f^r_j> = F^{rq}_{jt}
                    frow = F[q, r, t]
                    erow = E[q, r, t]
                    vrow = V[b, r, q]
                    yrow = Y[b, r, q]
                    w = 0.0  # <X^r_{s,j}, f^q_t>, running over j
                    for j in range(s, t):
                        g = frow[j]
                        acc += (vrow[j] + h * (yrow[j] + w) + hh * g) * erow[j]
                        vrow[j] += w
                        yrow[j] += g
                        w += g
                    W[b, r, q] = w
            nn = N[b]
            ww = W[b]
            self_term = 0.0
            for r in range(nch):
                for q in range(nch):
                    ftt = F[r, q, t, t]
                    self_term += (nn[r, q] + h * (ww[r, q] + ww[q, r]) + hh * ftt) * E[r, q, t, t]
                    V[b, r, q, t] = nn[r, q] + ww[r, q]
                    Y[b, r, q, t] = ww[q, r] + ftt
            for r in range(nch):
                for q in range(nch):
                    nn[r, q] += ww[r, q] + ww[q, r] + F[r, q, t, t]
            level2[b] += 2.0 * acc + self_term
            sq1[t + 1, s] = max(nn[last, last], 0.0)
            sq2[t + 1, s] = max(level2[b], 0.0)


@twin_jit
def interval_norms_sq(F, E, h, sq1, sq2, row_block, n_tasks):
    """Squared level-1 and level-2 norms of every interval, from Gram blocks.

    Parameters
    ----------
    F, E : float64 arrays, shape (R, R, n, n)
        Gram blocks of the left-factor and right-factor increment sequences (module
        docstring); ``F[q, r]`` must be the transpose of ``F[r, q]``, likewise for `E`.
    h : float
        0.0 (iterated sums) or 0.5 (geometric).
    sq1, sq2 : float64 arrays, shape (n + 1, n + 1), written in place
        Lower triangle, row = end point: ``sq1[t, s] = |X^{R-1}_{s,t}|^2`` (the level-1
        increment of the last f-channel) and ``sq2[t, s] = |Gamma_{s,t}|^2`` for s < t.
        Tiny negative values from rounding are clamped to 0. Other entries are untouched.
    row_block : int >= 1
        Consecutive starts s computed together (each Gram row is then read once per block).
    n_tasks : int >= 1
        The blocks are dealt out cyclically to this many tasks (the ``prange`` loop), which
        balances the triangular work. Neither changes a value.
    """
    n = F.shape[2]
    blocks = (n + row_block - 1) // row_block
    tasks = min(blocks, n_tasks)
    for task in prange(tasks):
        for blk in range(task, blocks, tasks):
            s0 = blk * row_block
            _interval_norms_block(F, E, h, s0, min(s0 + row_block, n), sq1, sq2)


# exp for the DP below, written so that LLVM vectorises it (math.exp is a scalar libm call,
# and the 6 DPs of a rough_pvar call evaluate ~L^2 / 2 of them each). Cody-Waite reduction
# x = k ln 2 + r, |r| <= ln(2) / 2 (+ rounding), and the Taylor polynomial of degree 13 of
# exp(r), whose remainder is below r^14 / 14! < 5e-18 relative: the result is within a few
# ulp of exp(x) (measured: at most 1.0 ulp against numpy's exp). 2^k is built in the
# exponent bits: the integer k + 1023 sits in the low mantissa bits of k + 2^52 + 1023.
_LOG2E = 1.4426950408889634
_LN2_HI = 6.93147180369123816490e-01  # ln 2 with its 21 low bits zero: k * _LN2_HI is exact
_LN2_LO = 1.90821492927058770002e-10  # ln 2 - _LN2_HI
_ROUND = 6755399441055744.0  # 1.5 * 2^52: (y + _ROUND) - _ROUND is y rounded to an integer
_EXP_BITS = 4503599627371519.0  # 2^52 + 1023
_EXP_LIMIT = 700.0  # |x| beyond this (2^k near the end of the normal range, or -inf): math.exp


@jit
def _exp_row(e, row, m, out, bits):
    """out[i] = exp(e * row[i]) for i < m, to a few ulp (notes above). `bits`: float64 scratch."""
    outside = 0
    for i in range(m):
        x = e * row[i]
        outside += (x < -_EXP_LIMIT) | (x > _EXP_LIMIT)
        y = min(max(x, -_EXP_LIMIT), _EXP_LIMIT)
        k = (y * _LOG2E + _ROUND) - _ROUND
        r = (y - k * _LN2_HI) - k * _LN2_LO
        q = r * (1.0 / 6227020800.0) + 1.0 / 479001600.0
        q = q * r + 1.0 / 39916800.0
        q = q * r + 1.0 / 3628800.0
        q = q * r + 1.0 / 362880.0
        q = q * r + 1.0 / 40320.0
        q = q * r + 1.0 / 5040.0
        q = q * r + 1.0 / 720.0
        q = q * r + 1.0 / 120.0
        q = q * r + 1.0 / 24.0
        q = q * r + 1.0 / 6.0
        q = q * r + 0.5
        q = q * r + 1.0
        out[i] = q * r + 1.0
        bits[i] = k + _EXP_BITS
    exponent = bits.view(np.int64)
    for i in range(m):
        exponent[i] = exponent[i] << 52  # the biased exponent k + 1023 into place: 2^k
    scale = exponent.view(np.float64)
    for i in range(m):
        out[i] *= scale[i]
    if outside:  # rare: a zero weight (log -inf) or an extreme scale
        for i in range(m):
            x = e * row[i]
            if x < -_EXP_LIMIT or x > _EXP_LIMIT:
                out[i] = math.exp(x)


# The DP over squared norms skips blocks of DP_BLOCK start points by a bound. For the block of
# starts i in [b B, b B + B) and the end j, every candidate pv[i] + sq[j, i]^e is at most
# pvmax[b] + M^e, M = max_i sq[j, i] (x -> x^e increases for e > 0, and rounding is
# monotone, so the computed sums keep that order). A candidate's weight is computed as
# exp(fl(e log x)) with math.log (glibc: < 1 ulp) and _exp_row (<= 2 ulp, tested): for x <= M
# its argument is at most z + 2^-51 |z|, z = e ln M exactly, and the bound's own argument
# fl(e log M) at least z - 2^-51 |z|; with both exps' errors, raising the bound's argument by
# 2^-48 (|arg| + 1) makes its exp no smaller than any candidate's. _BOUND_SLACK is 16 times
# that. A block whose bound is below the best candidate found so far holds no maximiser.
# Measured on Brownian 16 x 16 weights, L = 4096, p in (2.2, 2.5, 2.8): 1-6% of the starts
# are evaluated (blocks of 16), and no log pass over the L x L matrices is needed.
DP_BLOCK = 16
_BOUND_SLACK = 2.0**-44


@jit(fastmath={"nnan", "ninf"})
def _block_maxima(row, j, out):
    """out[b] = max(row[b B : min(b B + B, j)]) for the blocks b < ceil(j / B), B = DP_BLOCK.
    (nnan: the squares are finite; it lets LLVM vectorise the max.)"""
    nb = (j + DP_BLOCK - 1) // DP_BLOCK
    for b in range(nb):
        lo = b * DP_BLOCK
        hi = min(lo + DP_BLOCK, j)
        m = 0.0
        for i in range(lo, hi):
            m = max(m, row[i])
        out[b] = m


@jit
def _logs_of_block(row, b, j, logs):
    """logs[i] = log row[i] (log 0 = -inf) for i in block b (i < j)."""
    for i in range(b * DP_BLOCK, min(b * DP_BLOCK + DP_BLOCK, j)):
        x = row[i]
        logs[i] = math.log(x) if x > 0.0 else -math.inf


@jit
def _scan_block(e, row, b, j, logs, logged, pv, omega, bits, best, arg):
    """(best, arg) after the candidates pv[i] + row[i]^e of block b (i < j): the larger value,
    the smaller i on ties (what an ascending scan with a strict > keeps)."""
    lo = b * DP_BLOCK
    m = min(lo + DP_BLOCK, j) - lo
    if logged[b] != j:  # the logs of this row's block, once for all exponents
        _logs_of_block(row, b, j, logs)
        logged[b] = j
    _exp_row(e, logs[lo:], m, omega, bits)
    for q in range(m):
        v = pv[lo + q] + omega[q]
        if v > best or (v == best and lo + q < arg):
            best = v
            arg = lo + q
    return best, arg


@jit
def _dp_step(e, row, j, nb, block_logs, logs, logged, pv, pvmax, link, scratch):
    """pv[j] and link[j] of one exponent: the block of the largest bound first, then every
    block whose bound reaches the best candidate so far (notes above)."""
    args, bound, omega, bits = scratch[0], scratch[1], scratch[2], scratch[3]
    for b in range(nb):
        x = e * block_logs[b]
        # a block of zero weights (log -inf) keeps the bound pvmax[b] + 0 (the slack would add inf)
        args[b] = x + _BOUND_SLACK * (abs(x) + 1.0) if x > -math.inf else x
    _exp_row(1.0, args, nb, bound, bits)
    first = 0
    for b in range(nb):
        bound[b] += pvmax[b]
        if bound[b] > bound[first]:
            first = b
    best, arg = _scan_block(e, row, first, j, logs, logged, pv, omega, bits, -1.0, 0)
    for b in range(nb):
        if b != first and bound[b] >= best:
            best, arg = _scan_block(e, row, b, j, logs, logged, pv, omega, bits, best, arg)
    pv[j] = best
    link[j] = arg
    pvmax[j // DP_BLOCK] = max(pvmax[j // DP_BLOCK], best)


@jit
def _dp_squares(sq, exponents, values, links):
    """The DPs of one matrix of squared norms for every exponent (see dp_squares), one end
    point at a time, so that each row's block maxima and logs serve every exponent."""
    n = sq.shape[0]
    n_exp = exponents.shape[0]
    nblk = (n + DP_BLOCK - 1) // DP_BLOCK
    pv = np.zeros((n_exp, n))
    pvmax = np.zeros((n_exp, nblk))  # max of pv over each block's points set so far
    block_logs = np.empty(nblk)
    logs = np.empty(n)
    logged = np.full(nblk, -1)  # logged[b] == j: logs of block b hold row j's
    scratch = np.empty((4, max(nblk, DP_BLOCK)))  # bound arguments, bounds, omega, exp bits
    for a in range(n_exp):
        links[a, 0] = 0
    for j in range(1, n):
        row = sq[j]
        _block_maxima(row, j, block_logs)
        nb = (j + DP_BLOCK - 1) // DP_BLOCK
        for b in range(nb):
            x = block_logs[b]
            block_logs[b] = math.log(x) if x > 0.0 else -math.inf
        for a in range(n_exp):
            _dp_step(exponents[a], row, j, nb, block_logs, logs, logged, pv[a], pvmax[a], links[a], scratch)
    for a in range(n_exp):
        values[a] = pv[a, n - 1]


@twin_jit
def dp_squares(squares, exponents, values, links):
    """Exact p-variation DP (math.md 2.1) for several matrices of squared norms, several exponents each.

    Parameters
    ----------
    squares : float64 array, shape (K, n, n)
        ``squares[k, j, i] = w_k(i, j)`` >= 0, finite, for i < j (lower triangles, row = end
        point; other entries are not read). The DP weight is ``omega(i, j) = w_k(i, j) ** e``.
    exponents : float64 array, shape (K, P), all > 0
        The exponents e of each matrix.
    values : float64 array, shape (K, P), written
        ``max over partitions of sum omega``.
    links : int64 array, shape (K, P, n), written
        ``links[k, a, j]``: the previous point of an optimal partition of [0, j] (the smallest
        such point).

    The K matrices are the parallel tasks; within one, the P DPs advance together and skip
    blocks of starts by a rigorous bound (notes above). The values are those of the plain DP
    over ``exp(e log w)`` (same maximiser, same sums).
    """
    for k in prange(squares.shape[0]):
        _dp_squares(squares[k], exponents[k], values[k], links[k])


# ------------------------------------------------------------------------------------------
# streaming: one new increment at a time (RoughStream's Gram route)
#
# The recursion of interval_norms_sq with the loop order swapped: for the new end t every
# start s <= t advances by one step. The per-start state (Y[s, j] = <a_j, x_{s,t}> for
# s <= j < t, N[s] = |x_{s,t}|^2 and L2[s] = |XX_{s,t}|^2) is kept between pushes, so a push
# costs O(t) per start, O(t^2) in all, and needs only the Gram row <a_j, a_t> (j <= t).
# V[s, j] = <x_{s,j}, x_{s,t}> is not stored: it is the running sum of Y[s, i] over
# s <= i < j (x_{s,j} = a_s + ... + a_{j-1}), which halves the state.


@jit(fastmath={"reassoc", "contract"})
def gram_row(rows, n, b, differences, out):
    """out[i] = <a_i, b> for i < n, accumulated in float64.

    ``differences=False``: ``a_i = rows[i]``; ``True``: ``a_i = rows[i + 1] - rows[i]``
    (each entry converted to float64 before the difference). `rows` may be float32. Four
    rows share each pass over `b` (independent sums that LLVM vectorises: the sum order is
    free, the summands are not).
    """
    i = 0
    while i + 4 <= n:
        _dots4(rows, i, b, differences, out)
        i += 4
    for j in range(i, n):
        acc = 0.0
        for k in range(b.shape[0]):
            x = np.float64(rows[j + 1, k]) - np.float64(rows[j, k]) if differences else np.float64(rows[j, k])
            acc += x * b[k]
        out[j] = acc


@jit(fastmath={"reassoc", "contract"})
def _dots4(rows, i, b, differences, out):
    """out[i:i+4] = (<a_i, b>, ..., <a_{i+3}, b>) for gram_row."""
    r0, r1, r2, r3 = rows[i], rows[i + 1], rows[i + 2], rows[i + 3]
    s0 = s1 = s2 = s3 = 0.0
    if differences:
        r4 = rows[i + 4]
        for k in range(b.shape[0]):
            x0 = np.float64(r0[k])
            x1 = np.float64(r1[k])
            x2 = np.float64(r2[k])
            x3 = np.float64(r3[k])
            x4 = np.float64(r4[k])
            bk = b[k]
            s0 += (x1 - x0) * bk
            s1 += (x2 - x1) * bk
            s2 += (x3 - x2) * bk
            s3 += (x4 - x3) * bk
    else:
        for k in range(b.shape[0]):
            bk = b[k]
            s0 += np.float64(r0[k]) * bk
            s1 += np.float64(r1[k]) * bk
            s2 += np.float64(r2[k]) * bk
            s3 += np.float64(r3[k]) * bk
    out[i] = s0
    out[i + 1] = s1
    out[i + 2] = s2
    out[i + 3] = s3


@jit
def _dp_extend(sq, t, exponents, pv, links):
    """pv[k, t+1] = max_s pv[k, s] + sq[s] ** exponents[k] over s <= t (first maximiser)."""
    for k in range(exponents.shape[0]):
        e = exponents[k]
        best = -1.0
        arg = 0
        for s in range(t + 1):
            x = sq[s]
            v = pv[k, s] + (math.exp(e * math.log(x)) if x > 0.0 else 0.0)
            if v > best:
                best = v
                arg = s
        pv[k, t + 1] = best
        links[k, t + 1] = arg


@jit
def gram_stream_push(t, grow, h, Y, N, L2, sq1, sq2, e1, pv1, link1, e2, pv2, link2):
    """Advance every start s <= t by the increment a_t; extend both exact DPs by one point.

    Parameters
    ----------
    t : int
        Index of the new increment (the new point is t + 1).
    grow : float64 array, length >= t + 1
        ``grow[j] = <a_j, a_t>`` for j <= t (``grow[t] = |a_t|^2``).
    h : float
        0.0 (iterated sums) or 0.5 (geometric), as in :func:`interval_norms_sq`.
    Y : float64 array, shape (cap, cap); N, L2 : float64 arrays, shape (cap,)
        Per-start running state (notes above), zero for starts not reached yet; updated.
    sq1, sq2 : float64 arrays, length >= t + 1, written
        ``sq1[s] = |x_{s,t+1}|^2``, ``sq2[s] = |XX_{s,t+1}|^2`` (clamped at 0).
    e1, e2 : float64 arrays, shape (P,)
        DP exponents on the squared norms (p / 2 for level 1, p / 4 for level 2).
    pv1, pv2 : float64 arrays, shape (P, cap + 1); link1, link2 : int64, same shape
        Exact DP values and links per point; column t + 1 is written.
    """
    hh = h * h
    gtt = grow[t]
    for s in range(t + 1):
        yrow = Y[s]
        acc = 0.0
        w = 0.0  # <x_{s,j}, a_t>, running over j
        v = 0.0  # <x_{s,j}, x_{s,t}> = sum_{s<=i<j} Y[s, i] (before this step)
        for j in range(s, t):
            g = grow[j]
            y = yrow[j]
            acc += (v + h * (y + w) + hh * g) * g
            v += y
            yrow[j] = y + g
            w += g
        nn = N[s]
        self_term = (nn + h * (w + w) + hh * gtt) * gtt
        yrow[t] = w + gtt
        nn += w + w + gtt
        N[s] = nn
        L2[s] += 2.0 * acc + self_term
        sq1[s] = max(nn, 0.0)
        sq2[s] = max(L2[s], 0.0)
    _dp_extend(sq1, t, e1, pv1, link1)
    _dp_extend(sq2, t, e2, pv2, link2)
