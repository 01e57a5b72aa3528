"""Exact level-2 (rough-path) p-variation: Chen-bound branch and bound (math.md 4.1).

Data layout (all float64, C-contiguous):

``xs`` (N, d)
    the path relative to its start, ``xs[k] = x_k - x_0``;
``p2`` (N, d*d)
    prefix level 2, ``p2[k]`` = the level-2 term of the lift over ``[0, k]`` flattened
    row-major (iterated sums ``XX_{0,k}``, or the geometric level 2 ``XX_{0,k} + D_{0,k}/2``).

Any interval then follows from Chen's identity, for both lifts:
``S2_{m,j} = p2[j] - p2[m] - xs[m] (x) (xs[j] - xs[m])``.

The distance kernels take a second path ``ys`` and ``p2`` holding the DIFFERENCE of the two
prefix level-2 arrays; ``has_y=False`` means there is no second path (``ys`` is ignored and
may be any array of the right shape): the single path is the distance to the zero path.

Branch and bound.  Indices ``0..j-1`` are grouped into complete dyadic blocks.  For a block
``B`` ending at ``b < j`` and any ``m`` in ``B``, Chen gives
``Delta XX_{m,j} = Delta XX_{m,b} + Delta XX_{b,j} + Delta x_{m,b} (x) x_{b,j} + y_{m,b} (x) Delta x_{b,j}``,
so with the Frobenius norm (a cross norm), ``v = x_{b,j}``,

    |Delta XX_{m,j}| <= |Delta XX_{m,b} + Delta x_{m,b} (x) v| + |Delta XX_{b,j}| + Ay(B) |Delta x_{b,j}|
    |Delta XX_{m,b} + Delta x_{m,b} (x) v|^2 = |Delta XX_{m,b}|^2 + 2 g_m . v + |Delta x_{m,b}|^2 |v|^2
                                          <= A2^2 + 2 min(box(g) . v, A1 A2 |v|) + A1^2 |v|^2

where ``A2 = max_m |Delta XX_{m,b}|``, ``A1 = max_m |Delta x_{m,b}|``, ``Ay = max_m |y_{m,b}|``
(``Ay = 0`` for a single path), ``g_m = Delta XX_{m,b}^T Delta x_{m,b}`` (so that
``<Delta XX_{m,b}, Delta x_{m,b} (x) v> = g_m . v``) and ``box(g) . v`` the largest value of
``g . v`` over the coordinate box of the ``g_m``.  The Cauchy-Schwarz branch gives exactly the
bound of math.md 4.1, ``A2 + |Delta XX_{b,j}| + A1 |x_{b,j}|``; the box branch is often
tighter.  The triangle inequality between ``Y_m = Delta XX_{m,b} + Delta x_{m,b} (x) v``,
``Z = Delta XX_{b,j}`` (and ``W_m = y_{m,b} (x) e``, ``e = Delta x_{b,j}``) is replaced by
the expansion of the square (docs/theory.md)

    |XX_{m,j}|^2 = |Y_m|^2 + 2 <XX_{m,b}, Z> + 2 x_{m,b} . Z v + |Z|^2
                <= head + 2 (A2 |Z| + min(box(x) . Z v, A1 |Z v|)) + |Z|^2

for one path where that is smaller (``head`` the bound of ``|Y_m|^2`` above, ``box(x)`` the
coordinate box of the ``x_{m,b}``; ``Z v`` costs d^2 once per block end, each test O(d)),
and for two paths by ``|Y_m + Z + W_m|^2``, whose further cross terms
``<Y_m, W_m> = h_m . e + (Delta x_{m,b} . y_{m,b}) (v . e)`` and ``<Z, W_m> = y_{m,b} . Z e``
(``h_m = Delta XX_{m,b}^T y_{m,b}``) take the boxes of ``h_m`` and ``y_{m,b}`` and the
interval of ``Delta x_{m,b} . y_{m,b}``: a third (one path) and a half to two thirds (two paths) fewer
Chen evaluations on Brownian paths.  The bounds cover the members ``m < b`` of a block; its
end ``b`` is always evaluated itself.

Because the running values ``pv`` are non-decreasing (the weight is non-negative),
``pv[b] + ub^q`` bounds every candidate of the block, and the block is
skipped when that is ``<= best``.  No triangle inequality on ``|XX|`` is used anywhere (it is
false for level 2: math.md 4.2).  Bounds are inflated by a relative ``1e-12`` plus an
absolute ``abs_tol`` that covers the rounding of the Chen evaluation, so rounding never
prunes a candidate the plain DP (over the same computed weights) would pick.

A block's summary is indexed by its midpoint: the block of size ``2^l >= 2`` starting at
``s`` is stored at ``s + 2^(l-1)``, which is unique over all levels.  It is computed once,
when the block's last point arrives, so the same code serves the offline pass and the
stream (one append = one DP step).
"""

from __future__ import annotations

import math

import numpy as np

from ._jit import jit

# Options of the helpers called in the hot loops: inlined into the caller, and compiled
# without Numba's reference counting (they allocate nothing), so that a call costs no
# atomic increments and decrements of its array arguments (measured: about a quarter of the
# branch and bound's time).  level2_step is compiled without reference counting too.  Each
# inlined copy costs compilation time: the Chen evaluation is inlined only at the two sites
# of the branch and bound's loop, and called (level2_sq) elsewhere.
_HOT_HELPER = {"inline": "always", "_nrt": False}
# relative inflation of every upper bound (a true constant, frozen at compile time)
_INFLATE = 1.0 + 1e-12
_DEFLATE = 1.0 / _INFLATE
# slack added to a computed sum of squares whose terms may cancel, per unit of the square of
# the sum of the terms' roots and of d^2 (the rounding of a d-term dot product of d-term dot
# products, with a wide margin)
_SQ_SLACK = 1e-12
# _root_lower: binary exponents with a tabulated power, sub-intervals of each octave, the
# reciprocals of the sub-intervals' left ends 1 + i/32 (rounded), and the relative margin
# that covers the rounding of the table lookups and products (a few ulp)
_ROOT_EXP = 512
_ROOT_SUB = 32
_ROOT_INV = np.array([1.0 / (1.0 + i / _ROOT_SUB) for i in range(_ROOT_SUB)])
_ROOT_DEFLATE = 1.0 - 1e-12
#: absolute tolerance of the bounds per unit of Chen scale (64 float64 epsilons)
TOL_FACTOR = 64.0 * 2.220446049250313e-16
#: ``has_y`` of the stream (one path), a bool value: a literal ``False`` would be a type of
#: its own, one more compilation of every kernel it is passed to
NO_Y = np.bool_(False)


@jit
def level2_extend(xs, p2, k, geometric):
    """Fill ``p2[k]`` from ``p2[k-1]``, ``xs[k-1]`` and ``xs[k]`` (``k >= 1``).

    Iterated sums: ``XX_{0,k} = XX_{0,k-1} + x_{0,k-1} (x) a``; geometric:
    ``+ a (x) a / 2`` as well, i.e. ``(x_{0,k-1} + a/2) (x) a``, with ``a = x_k - x_{k-1}``.
    """
    d = xs.shape[1]
    for r in range(d):
        h = xs[k - 1, r]
        if geometric:
            h += 0.5 * (xs[k, r] - xs[k - 1, r])
        base = r * d
        for c in range(d):
            p2[k, base + c] = p2[k - 1, base + c] + h * (xs[k, c] - xs[k - 1, c])


@jit
def chen_scale(xs, p2, k):
    """``|p2[k]| + |xs[k]|^2``: the size of the terms Chen's formula cancels at index k."""
    s2 = 0.0
    for c in range(p2.shape[1]):
        s2 += p2[k, c] * p2[k, c]
    s1 = 0.0
    for c in range(xs.shape[1]):
        s1 += xs[k, c] * xs[k, c]
    return math.sqrt(s2) + s1


@jit
def level2_prefix(xs, p2, geometric):
    """Fill all of ``p2`` (``p2[0]`` is set to 0) from ``xs``; return ``max_k chen_scale``.

    Chen's formula then loses about ``eps * scale`` in absolute terms; the branch and bound
    takes ``abs_tol = TOL_FACTOR * scale``.
    """
    p2[0, :] = 0.0
    scale = chen_scale(xs, p2, 0)
    for k in range(1, xs.shape[0]):
        level2_extend(xs, p2, k, geometric)
        scale = max(scale, chen_scale(xs, p2, k))
    return scale


@jit(_nrt=False)
def _one_step_entry(xs, ys, has_y, geometric, m, r, c):
    """Entry ``(r, c)`` of ``Delta XX_{m,m+1}``, exactly: 0 for iterated sums (no pair
    ``i < k`` in one step), ``(a_r a_c - b_r b_c) / 2`` for the geometric lift."""
    if not geometric:
        return 0.0
    e = 0.5 * (xs[m + 1, r] - xs[m, r]) * (xs[m + 1, c] - xs[m, c])
    if has_y:
        e -= 0.5 * (ys[m + 1, r] - ys[m, r]) * (ys[m + 1, c] - ys[m, c])
    return e


@jit(**_HOT_HELPER)
def _level2_sq(p2, xs, ys, has_y, geometric, m, j, work):
    """``|Delta XX_{m,j}|^2`` (Frobenius) by Chen's identity from prefix data.

    One-step intervals are evaluated exactly (iterated sums: 0; geometric: ``a (x) a / 2``)
    instead of by cancellation, which matters for ``p < 2`` where ``|XX|^(p/2)`` amplifies
    rounding noise around 0.  ``work`` is a float64 scratch array of length >= 2 d: the
    increments ``x_{m,j}`` (and ``y_{m,j}``) are formed once there, not once per row (two
    loads and a subtraction less per entry, bit-identical results); ``work[:d]`` holds
    ``x_{m,j}`` afterwards when ``j > m + 1``.
    """
    d = xs.shape[1]
    s = 0.0
    if j == m + 1:
        if not geometric:
            return 0.0
        for r in range(d):
            for c in range(d):
                e = _one_step_entry(xs, ys, has_y, geometric, m, r, c)
                s += e * e
        return s
    for c in range(d):
        work[c] = xs[j, c] - xs[m, c]
    if has_y:
        for c in range(d):
            work[d + c] = ys[j, c] - ys[m, c]
        for r in range(d):
            u = xs[m, r]
            v = ys[m, r]
            base = r * d
            for c in range(d):
                e = p2[j, base + c] - p2[m, base + c] - u * work[c] + v * work[d + c]
                s += e * e
    else:
        for r in range(d):
            u = xs[m, r]
            base = r * d
            for c in range(d):
                e = p2[j, base + c] - p2[m, base + c] - u * work[c]
                s += e * e
    return s


@jit(_nrt=False)
def level2_sq(p2, xs, ys, has_y, geometric, m, j, work):
    """``|Delta XX_{m,j}|^2``: :func:`_level2_sq` as a call (the branch and bound's loop
    inlines it; everywhere else one compiled copy is enough)."""
    return _level2_sq(p2, xs, ys, has_y, geometric, m, j, work)


@jit(**_HOT_HELPER)
def _level2_sq_zv(p2, xs, m, j, work):
    """``|XX_{m,j}|^2`` for one path and ``m < j - 1``, bit for bit as :func:`_level2_sq`;
    also leaves ``v = x_{m,j}`` in ``work[:d]`` and ``Z v`` in ``work[3d:4d]``
    (``Z = XX_{m,j}``)."""
    d = xs.shape[1]
    for c in range(d):
        work[c] = xs[j, c] - xs[m, c]
    s = 0.0
    for r in range(d):
        u = xs[m, r]
        base = r * d
        acc = 0.0
        for c in range(d):
            e = p2[j, base + c] - p2[m, base + c] - u * work[c]
            s += e * e
            acc += e * work[c]
        work[3 * d + r] = acc
    return s


@jit(_nrt=False)
def _level2_sq_zve(p2, xs, ys, m, j, work):
    """``|Delta XX_{m,j}|^2`` for two paths and ``m < j - 1``, bit for bit as
    :func:`_level2_sq`; also leaves ``v = x_{m,j}`` in ``work[:d]``, ``Z v`` in
    ``work[3d:4d]``, ``e = Delta x_{m,j}`` in ``work[4d:5d]`` and ``Z e`` in ``work[5d:6d]``
    (``Z = Delta XX_{m,j}``), then ``|e|``, ``|Z e|`` and ``v . e`` in ``work[6d:6d+3]``.
    Called, not inlined: one function with a branch on ``has_y`` in the inner loop slowed
    the one-path loop by 3-10 %."""
    d = xs.shape[1]
    for c in range(d):
        work[c] = xs[j, c] - xs[m, c]
        work[d + c] = ys[j, c] - ys[m, c]
        work[4 * d + c] = work[c] - work[d + c]
    s = 0.0
    for r in range(d):
        u = xs[m, r]
        w = ys[m, r]
        base = r * d
        acc = 0.0
        acc_e = 0.0
        for c in range(d):
            e = p2[j, base + c] - p2[m, base + c] - u * work[c] + w * work[d + c]
            s += e * e
            acc += e * work[c]
            acc_e += e * work[4 * d + c]
        work[3 * d + r] = acc
        work[5 * d + r] = acc_e
    nd = 0.0
    nze = 0.0
    ve = 0.0
    for c in range(d):
        nd += work[4 * d + c] * work[4 * d + c]
        nze += work[5 * d + c] * work[5 * d + c]
        ve += work[c] * work[4 * d + c]
    work[6 * d] = math.sqrt(nd)
    work[6 * d + 1] = math.sqrt(nze)
    work[6 * d + 2] = ve
    return s


@jit
def work_length(d):
    """Length of the float64 scratch array of :func:`level2_sq`, :func:`level2_step` and
    :func:`complete_blocks`."""
    return 6 * d + 3


@jit
def summary_vectors(has_y):
    """Number of d-vectors whose coordinate box a block summary holds: ``g`` and
    ``Delta x_{m,b}``, and with a second path also ``y_{m,b}`` and ``h``."""
    return 4 if has_y else 2


@jit
def summary_width(d, has_y):
    """Columns of a block summary row: A1, A2, Ay, the lows of the boxes of the
    :func:`summary_vectors` (``g``, ``Delta x_{m,b}``[, ``y_{m,b}``, ``h``]; d each), their
    highs in the same order, and with a second path the interval of ``Delta x_{m,b} . y_{m,b}``
    (low, high)."""
    k = summary_vectors(has_y)
    return 3 + 2 * k * d + (2 if has_y else 0)


@jit(**_HOT_HELPER)
def _widen(summ, row, lo, hi, v, d):
    """Widen the coordinate box ``summ[row, lo:lo+d]`` (lows) to ``summ[row, hi:hi+d]``
    (highs) to hold ``v``."""
    for c in range(d):
        summ[row, lo + c] = min(summ[row, lo + c], v[c])
        summ[row, hi + c] = max(summ[row, hi + c], v[c])


@jit(_nrt=False)
def complete_blocks(j, p2, xs, ys, has_y, geometric, summ, work):
    """Summaries of every dyadic block (size >= 2) whose last index is ``j``.

    Row ``summ[mid]`` (``mid`` the block's midpoint) holds ``A1 = max_m |Delta x_{m,j}|``,
    ``A2 = max_m |Delta XX_{m,j}|``, ``Ay = max_m |y_{m,j}|`` and the coordinate boxes (all
    lows, then all highs) over the block's ``m < j`` of ``g_m = Delta XX_{m,j}^T Delta x_{m,j}``
    and ``Delta x_{m,j}``; with a second path also of ``y_{m,j}`` and
    ``h_m = Delta XX_{m,j}^T y_{m,j}``, and the interval of ``Delta x_{m,j} . y_{m,j}``
    (:func:`summary_width`).  Call once per index, after ``xs[j]`` and ``p2[j]`` are set;
    amortised O(log N) Chen evaluations per index.  ``work``: float64 scratch of length
    >= ``work_length(d)``.
    """
    d = xs.shape[1]
    g = work[:d]
    u = work[d : 2 * d]
    dx = work[2 * d : 3 * d]
    dy = work[3 * d : 4 * d]
    h = work[4 * d : 5 * d]
    hi = summary_vectors(has_y) * d  # offset of the highs from the lows
    size = 2
    while (j + 1) % size == 0:
        s = j + 1 - size
        mid = s + size // 2
        m1 = 0.0
        m2 = 0.0
        my = 0.0
        s_lo = np.inf
        s_hi = -np.inf
        for c in range(hi):
            summ[mid, 3 + c] = np.inf
            summ[mid, 3 + hi + c] = -np.inf
        for m in range(s, j):
            v1 = 0.0
            vy = 0.0
            uy = 0.0
            for r in range(d):
                dx[r] = xs[j, r] - xs[m, r]
                u[r] = dx[r]
                if has_y:
                    dy[r] = ys[j, r] - ys[m, r]
                    u[r] -= dy[r]
                    vy += dy[r] * dy[r]
                    uy += u[r] * dy[r]
                    h[r] = 0.0
                v1 += u[r] * u[r]
                g[r] = 0.0
            v2 = 0.0
            if m == j - 1:
                for r in range(d):
                    for c in range(d):
                        e = _one_step_entry(xs, ys, has_y, geometric, m, r, c)
                        v2 += e * e
                        g[c] += e * u[r]
                        if has_y:
                            h[c] += e * dy[r]
            else:
                for r in range(d):
                    base = r * d
                    xm = xs[m, r]
                    ym = ys[m, r]
                    ur = u[r]
                    if has_y:
                        yr = dy[r]
                        for c in range(d):
                            e = p2[j, base + c] - p2[m, base + c] - xm * dx[c] + ym * dy[c]
                            v2 += e * e
                            g[c] += e * ur
                            h[c] += e * yr
                    else:  # a loop of its own: the one-path loop was 5 % slower with h in it
                        for c in range(d):
                            e = p2[j, base + c] - p2[m, base + c] - xm * dx[c]
                            v2 += e * e
                            g[c] += e * ur
            m1 = max(m1, v1)
            m2 = max(m2, v2)
            my = max(my, vy)
            _widen(summ, mid, 3, 3 + hi, g, d)
            _widen(summ, mid, 3 + d, 3 + hi + d, u, d)
            if has_y:
                s_lo = min(s_lo, uy)
                s_hi = max(s_hi, uy)
                _widen(summ, mid, 3 + 2 * d, 3 + hi + 2 * d, dy, d)
                _widen(summ, mid, 3 + 3 * d, 3 + hi + 3 * d, h, d)
        summ[mid, 0] = math.sqrt(m1)
        summ[mid, 1] = math.sqrt(m2)
        summ[mid, 2] = math.sqrt(my)
        if has_y:
            summ[mid, 3 + 2 * hi] = s_lo
            summ[mid, 4 + 2 * hi] = s_hi
        size *= 2


@jit(**_HOT_HELPER)
def _box_dot(summ, row, lo, hi, v, d):
    """The largest ``w . v`` over the coordinate box ``summ[row, lo:lo+d]`` (lows) to
    ``summ[row, hi:hi+d]`` (highs)."""
    t = 0.0
    for c in range(d):
        # unsigned column indices: Numba then emits no negative-index wraparound (four integer
        # instructions per load, as d is not known to be positive): 2 % of the step's time
        t += max(summ[row, np.uint64(lo + c)] * v[c], summ[row, np.uint64(hi + c)] * v[c])
    return t


@jit(**_HOT_HELPER)
def _cross_w(summ, mid, a1, a2, work, d):
    """A bound on ``<Y_m, W_m> + <Z, W_m>`` over the block at row ``mid`` (two paths; the
    terms of level2_step's expansion bound with ``W_m = y_{m,b} (x) e``):
    ``<Y_m, W_m> = h_m . e + (Delta x_{m,b} . y_{m,b}) (v . e)`` and
    ``<Z, W_m> = y_{m,b} . Z e``, each by a coordinate box or interval of the summary, or by
    Cauchy-Schwarz where that is smaller.  ``work`` as :func:`_level2_sq_zve` left it: the
    block-end data is read from there, not kept in level2_step's variables (with those,
    the one-path loop ran 3-5 % slower)."""
    hi = 4 * d
    ev = work[4 * d : 5 * d]
    ay = summ[mid, 2]
    nw = ay * work[6 * d]
    nze = work[6 * d + 1]
    ve = work[6 * d + 2]
    yw = _box_dot(summ, mid, 3 + 3 * d, 3 + hi + 3 * d, ev, d)
    yw = max(min(yw, a2 * nw), -a2 * nw)
    uy = max(summ[mid, 3 + 2 * hi] * ve, summ[mid, 4 + 2 * hi] * ve)
    yw += max(min(uy, a1 * ay * abs(ve)), -a1 * ay * abs(ve))
    zw = _box_dot(summ, mid, 3 + 2 * d, 3 + hi + 2 * d, work[5 * d : 6 * d], d)
    return yw + max(min(zw, ay * nze), -ay * nze)


@jit
def root_tables(qs):
    """Row k: the table of :func:`_root_lower` for the exponent ``a = 1/qs[k]``:
    ``2^(a e)`` for the binary exponents ``-_ROOT_EXP <= e < _ROOT_EXP``, then
    ``(1 + i/32)^a`` for ``i < 32``."""
    tables = np.empty((qs.shape[0], 2 * _ROOT_EXP + _ROOT_SUB))
    for k in range(qs.shape[0]):
        a = 1.0 / qs[k]
        for e in range(-_ROOT_EXP, _ROOT_EXP):
            tables[k, e + _ROOT_EXP] = 2.0 ** (a * e)
        for i in range(_ROOT_SUB):
            tables[k, 2 * _ROOT_EXP + i] = (1.0 + i / _ROOT_SUB) ** a
    return tables


@jit(**_HOT_HELPER)
def _root_lower(g, a, table):
    """A lower bound of ``g**a`` (``g > 0``) within a relative ``2e-6``, from the
    :func:`root_tables` row of ``a``; ``g**a`` itself where the table does not apply
    (``a > 1``, or ``g`` outside ``[2^-512, 2^512)``).

    The pruning threshold of the branch and bound is such a root, needed about 30 times per
    step (d = 5): libm's pow took about 31 ns of latency there, the table about 14.
    With ``g = 2^e m``, ``m = (1 + i/32)(1 + r)`` and ``0 <= r < 1/32``,
    ``g^a = 2^(a e) (1 + i/32)^a (1 + r)^a``, and for ``0 < a <= 1``
    ``(1 + r)^a >= 1 + a r + a (a - 1) r^2 / 2`` (Taylor's remainder
    ``a (a-1) (a-2) (1 + xi)^(a-3) r^3 / 6`` is ``>= 0``); the bound falls short of the root
    by ``a (1-a) (2-a) r^3 / 6 < 2e-6`` relative.  ``r`` is computed as
    ``m * fl(1/(1 + i/32)) - 1`` (within ``3e-16``; the polynomial increases in ``r``), the
    table entries and the products round to a few ulp: ``_ROOT_DEFLATE`` covers it all.
    """
    bits = np.float64(g).view(np.int64)
    e = (bits >> 52) - 1023
    if a > 1.0 or e < -_ROOT_EXP or e >= _ROOT_EXP:
        return g**a
    i = (bits >> 47) & (_ROOT_SUB - 1)
    m = np.int64((bits & 0xFFFFFFFFFFFFF) | 0x3FF0000000000000).view(np.float64)
    r = m * _ROOT_INV[i] - 1.0
    poly = 1.0 + r * (a + r * (0.5 * a * (a - 1.0)))
    return table[e + _ROOT_EXP] * table[2 * _ROOT_EXP + i] * poly * _ROOT_DEFLATE


@jit(**_HOT_HELPER)
def _bound_exceeds(head, rest, t, abs_tol):
    """True if ``(sqrt(head) + rest) * _INFLATE + abs_tol > t``, decided without the root
    (it sat on the critical path of every block test).  Rounding moves either side by a few
    ulp, far less than the inflation."""
    r = (t - abs_tol) * _DEFLATE - rest
    return r < 0.0 or head > r * r


@jit(_nrt=False)
def level2_step(j, p2, xs, ys, has_y, geometric, summ, pv, link, q, abs_tol, stack_s, stack_z, work, roots):
    """One DP step: set ``pv[j]`` and ``link[j]`` from final ``pv[:j]`` (``j >= 1``).

    ``pv[j] = max_{i<j} pv[i] + |Delta XX_{i,j}|^q``, pruned with the block summaries of
    :func:`complete_blocks` (which must cover every block ending before ``j - 1``).
    ``stack_s`` and ``stack_z`` are int64 work arrays of length >= 64, ``work`` a float64
    one of length >= ``work_length(d)``, ``roots`` the :func:`root_tables` row of ``q``.
    Returns the number of Chen evaluations made (a diagnostic).

    Blocks are visited with non-increasing end index ``b``.  A threshold
    ``tau = (best - pv[b'])^(1/q)``, computed at a visited ``b' >= b``, stays valid for every
    candidate ``i <= b'`` (``pv`` is non-decreasing, and ``best`` only grows): a candidate or
    a block whose bound is ``<= tau`` cannot improve ``best``; so does any lower bound of it
    (:func:`_root_lower`).  It is refreshed at each new block end and when a stale one fails.
    """
    d = xs.shape[1]
    vb = work[2 * d : 3 * d]  # x_{b,j} of the cached block end b
    zv = work[3 * d : 4 * d]  # Z v there, Z = Delta XX_{b,j}
    hi = summary_vectors(has_y) * d  # offset of the summary's box highs from its lows
    sq_slack = _SQ_SLACK * d * d
    hq = 0.5 * q
    inv_q = 1.0 / q
    best = pv[j - 1] + level2_sq(p2, xs, ys, has_y, geometric, j - 1, j, work) ** hq
    arg = j - 1
    evals = 1
    guess = link[j - 1] if j >= 2 else 0
    if guess < j - 1:
        val = pv[guess] + level2_sq(p2, xs, ys, has_y, geometric, guess, j, work) ** hq
        evals += 1
        if val > best:
            best = val
            arg = guess
    tau = -1.0  # no valid threshold yet
    gap_tau = 0.0  # the gap tau was computed from
    cached_b = -1
    n1 = 0.0
    n2 = 0.0
    nzv = 0.0
    e = j - 1
    while e > 0:
        size = e & (-e)
        start = e - size
        stack_s[0] = start
        stack_z[0] = size
        top = 1
        while top > 0:
            top -= 1
            bs = stack_s[top]
            bz = stack_z[top]
            b = bs + bz - 1
            if bz == 1:
                if b == cached_b or b == guess:
                    continue
                sq = _level2_sq(p2, xs, ys, has_y, geometric, b, j, work)
                evals += 1
                if sq <= tau * tau and tau >= 0.0:
                    continue
                val = pv[b] + sq**hq
                if val > best:
                    best = val
                    arg = b
                continue
            if b != cached_b:
                # norms at the block end; the end point is itself a candidate, evaluated here
                # (b < j - 1: a block ends before j - 1)
                cached_b = b
                if has_y:
                    sq2 = _level2_sq_zve(p2, xs, ys, b, j, work)
                else:
                    sq2 = _level2_sq_zv(p2, xs, b, j, work)
                evals += 1
                n2 = math.sqrt(sq2)
                # x_{b,j} is in work[:d], overwritten by leaf evaluations: kept for the block tests
                n1 = 0.0
                nzv = 0.0
                for c in range(d):
                    vb[c] = work[c]
                    n1 += work[c] * work[c]
                    nzv += zv[c] * zv[c]
                n1 = math.sqrt(n1)
                nzv = math.sqrt(nzv)
                # a fresh threshold at every block end (a table lookup, no power): the block's
                # tests then rarely fail on a stale one, and the end value needs its power
                # only when the end can improve best
                gap = best - pv[b]
                if gap > 0.0:
                    tau = _root_lower(gap, inv_q, roots)
                    gap_tau = gap
                if b != guess and not (n2 <= tau):
                    val = pv[b] + sq2**hq
                    if val > best:
                        best = val
                        arg = b
            mid = bs + bz // 2
            # |Delta XX_{m,b} + Delta x_{m,b} (x) v|^2 = |.XX|^2 + 2 g_m . v + |.x|^2 |v|^2,
            # v = x_{b,j}; g_m . v bounded by the box of g, or by A1 A2 |v| (Cauchy-Schwarz)
            a1 = summ[mid, 0]
            a2 = summ[mid, 1]
            gv = _box_dot(summ, mid, 3, 3 + hi, vb, d)
            gv = min(gv, a1 * a2 * n1)
            # head's terms may cancel: the slack covers their rounding (its root is a relative
            # 1e-6 d of a2 + a1 n1 at most, far below the pruning margins)
            size1 = a2 + a1 * n1
            head = max(a2 * a2 + 2.0 * gv + a1 * a1 * n1 * n1, 0.0) + sq_slack * size1 * size1
            # |Y_m + Z (+ W_m)|^2 with Y_m = Delta XX_{m,b} + Delta x_{m,b} (x) v, Z = Delta XX_{b,j}
            # (and W_m = y_{m,b} (x) e, e = Delta x_{b,j}): the expansion of docs/theory.md,
            # each cross term bounded by a coordinate box or by Cauchy-Schwarz; for one path
            # the triangle inequality where that is smaller (for two paths it never was on
            # Brownian paths: the same evaluations without it).  The bound is
            # (sqrt(head) + rest) * _INFLATE + abs_tol.
            # <Y_m, Z> = <Delta XX_{m,b}, Z> + Delta x_{m,b} . Z v
            h = _box_dot(summ, mid, 3 + d, 3 + hi + d, zv, d)
            cross = a2 * n2 + max(min(h, a1 * nzv), -a1 * nzv)
            if has_y:
                cross += _cross_w(summ, mid, a1, a2, work, d)
                nw = summ[mid, 2] * work[6 * d]
                size2 = size1 + n2 + nw
                head = max(head + 2.0 * cross + n2 * n2 + nw * nw, 0.0) + sq_slack * size2 * size2
                rest = 0.0
            elif cross < 0.0 or cross * cross < head * n2 * n2:  # cross < sqrt(head) n2
                size2 = size1 + n2
                head = max(head + 2.0 * cross + n2 * n2, 0.0) + sq_slack * size2 * size2
                rest = 0.0
            else:
                rest = n2
            if not _bound_exceeds(head, rest, tau, abs_tol):
                continue
            # stale only if best grew since the block end's refresh (the end's own value or a
            # leaf's): then a fresh threshold, a table lookup (the tangent that used to spare
            # powers here saved nothing measurable once the root was this cheap)
            gap = best - pv[b]
            if gap > gap_tau:
                tau = _root_lower(gap, inv_q, roots)
                gap_tau = gap
                if not _bound_exceeds(head, rest, tau, abs_tol):
                    continue
            half = bz // 2
            stack_s[top] = bs
            stack_z[top] = half
            stack_s[top + 1] = bs + half
            stack_z[top + 1] = half
            top += 2
        e = start
    pv[j] = best
    link[j] = arg
    return evals


@jit
def build_summaries(j0, j1, p2, xs, ys, has_y, geometric, summ):
    """:func:`complete_blocks` for every index ``j0 <= j < j1``.

    Each index writes its own rows (a block's row is its midpoint's, one block per row), so
    disjoint index ranges may be built at once by different threads.
    """
    work = np.empty(work_length(xs.shape[1]))
    for j in range(j0, j1):
        complete_blocks(j, p2, xs, ys, has_y, geometric, summ, work)


@jit
def level2_advance(j0, j1, p2, xs, ys, has_y, geometric, summ, pv, link, qs, abs_tol):
    """:func:`level2_step` for every ``1 <= j0 <= j < j1`` and every exponent in ``qs`` (row k
    of ``pv`` and ``link`` for ``qs[k]``); the summaries of the indices ``< j1 - 1`` must be
    built.  Returns the number of Chen evaluations (a diagnostic)."""
    stack_s = np.zeros(64, dtype=np.int64)
    stack_z = np.zeros(64, dtype=np.int64)
    work = np.empty(work_length(xs.shape[1]))
    evals = 0
    roots = root_tables(qs)
    for k in range(qs.shape[0]):
        for j in range(j0, j1):
            evals += level2_step(
                j, p2, xs, ys, has_y, geometric, summ, pv[k], link[k], qs[k], abs_tol, stack_s, stack_z, work,
                roots[k],
            )
    return evals


def level2_pvar_bnb(p2, xs, ys, has_y, geometric, qs, abs_tol):
    """Exact ``V_q(Delta XX; 0, j)`` for every j and every exponent in ``qs``: the two kernels
    above, called from Python (a compiled wrapper would be one more compilation).

    Returns
    -------
    pv : (len(qs), N) running values;  link : (len(qs), N) int64 argmax links;
    evals : int, total Chen evaluations (diagnostic).
    """
    n = xs.shape[0]
    summ = np.zeros((n, summary_width(xs.shape[1], has_y)))
    build_summaries(0, n, p2, xs, ys, has_y, geometric, summ)
    pv = np.zeros((qs.shape[0], n))
    link = np.zeros((qs.shape[0], n), dtype=np.int64)
    evals = level2_advance(1, n, p2, xs, ys, has_y, geometric, summ, pv, link, qs, abs_tol)
    return pv, link, evals


@jit
def level2_pvar_dp(p2, xs, ys, has_y, geometric, q):
    """The plain O(N^2) DP of math.md 2.1 over Chen-computed ``|Delta XX_{i,j}|^q``."""
    n = xs.shape[0]
    hq = 0.5 * q
    work = np.empty(work_length(xs.shape[1]))
    pv = np.zeros(n)
    link = np.zeros(n, dtype=np.int64)
    for j in range(1, n):
        best = -1.0
        arg = 0
        for i in range(j):
            val = pv[i] + level2_sq(p2, xs, ys, has_y, geometric, i, j, work) ** hq
            if val > best:
                best = val
                arg = i
        pv[j] = best
        link[j] = arg
    return pv, link


@jit
def stream_extend(k0, points, geometric, xs, p2, summ, qs, pv, link, state, stack_s, stack_z, roots):
    """Append ``points`` (relative to the path's start) as indices ``k0, k0 + 1, ...``.

    Per point: prefix level 2, one DP step per exponent in ``qs`` (level-2 exponents
    ``p/2``), and the summaries of the blocks the point completes.  ``state[0]`` carries the
    running Chen scale, ``roots`` is ``root_tables(qs)``.  All arrays must have capacity
    ``> k0 + len(points) - 1``.
    Returns False, having changed nothing, if ``points`` contains NaN or inf.
    """
    for r in range(points.shape[0]):
        for c in range(points.shape[1]):
            if not math.isfinite(points[r, c]):
                return False
    work = np.empty(work_length(xs.shape[1]))
    for r in range(points.shape[0]):
        k = k0 + r
        for c in range(xs.shape[1]):
            xs[k, c] = points[r, c]
        if k > 0:
            level2_extend(xs, p2, k, geometric)
        state[0] = max(state[0], chen_scale(xs, p2, k))
        abs_tol = TOL_FACTOR * state[0]
        if k > 0:
            for i in range(qs.shape[0]):
                level2_step(
                    k, p2, xs, xs, NO_Y, geometric, summ, pv[i], link[i], qs[i], abs_tol,
                    stack_s, stack_z, work, roots[i],
                )
        complete_blocks(k, p2, xs, xs, NO_Y, geometric, summ, work)
    return True
