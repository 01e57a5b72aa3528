"""O(L^2) parts of the dyadic-tree route for the squared interval norms of one path (math.md 5).

One path with increments a_0 .. a_{n-1}, known through its Gram matrix G_ik = <a_i, a_k>;
X_{s,t} = sum_{s<=i<t} a_i and the level 2 (h = 0: iterated sums, h = 1/2: geometric)

    Gamma_{s,t} = sum_{s<=j<t} mu_{s,j} (x) a_j,    mu_{s,j} = X_{s,j} + h a_j.

Tree. Every interval [s, t) with t - s >= 2 has exactly one node m (1 <= m < n) with
m - w <= s < m < t <= m + w, where w = m & -m is the lowest set bit of m (m is the integer of
(s, t) with the most trailing zero bits). Chen's relation at m,

    Gamma_{s,t} = A_s + B_t + U_s (x) V_t,   A_s = Gamma_{s,m}, B_t = Gamma_{m,t},
                                             U_s = X_{s,m},     V_t = X_{m,t},

gives |Gamma_{s,t}|^2 = |A_s|^2 + |B_t|^2 + |U_s|^2 |V_t|^2 + 2 (T4 + T5 + T6) with

    T4 = <A_s, B_t>          = sum_{m<=l<t} [gamma_s(l) Q_s(l) + sum_{s<=j<m} Z(j, l)],
    T5 = <A_s, U_s (x) V_t>  = sum_{s<=j<m} alpha_s(j) P_t(j),
    T6 = <B_t, U_s (x) V_t>  = sum_{m<=l<t} gamma_s(l) P_t(l),

where, all sums anchored at m (so each is at the scale of the interval it belongs to):

    c_s(i)     = <a_i, U_s>      = sum_{s<=k<m} G_ik             (i < m),
    alpha_s(j) = <mu_{s,j}, U_s> = sum_{s<=i<j} c_s(i) + h c_s(j),
    Q_s(l)     = <U_s, a_l>      = sum_{s<=i<m} G_il             (l >= m),
    gamma_s(l) = <U_s, mu_{m,l}> = sum_{m<=k<l} Q_s(k) + h Q_s(l),
    P_t(i)     = <a_i, V_t>      = sum_{m<=k<t} G_ik,
    Z(j, l)    = (h P_{l}(j) + h^2 G_jl - gamma_j(l)) G_jl       (P_l(j) = sum_{m<=k<l} G_jk).

(T4 expands <mu_{s,j}, mu_{m,l}> = gamma_s(l) - gamma_j(l) + h P_l(j) + h^2 G_jl.) Level 1 at
the same node: |X_{s,t}|^2 = |U_s|^2 + |V_t|^2 + 2 sum_{s<=i<m} P_t(i). |A_s|^2 and
|B_t|^2 are intervals of the children of m, computed first (levels in increasing w); the
intervals of length one are exact, |Gamma_{s,s+1}|^2 = h^2 G_ss^2. T5 and T6 are matrix
products (O(w^3) per node); the eager side (``streamrough._gram_tree``) does them with BLAS
on the big nodes, :func:`small_nodes` does every node of half-width <= a bound with loops.
Everything else here is O(w^2) per node, O(n^2) per level.
"""

from __future__ import annotations

import numpy as np

from numba import prange

from ._jit import jit, twin_jit


@jit
def leaves(G, h, sq1, sq2):
    """The intervals of length one: sq1[s + 1, s] = G_ss and sq2[s + 1, s] = h^2 G_ss^2 (exact).

    Every longer interval belongs to one node, which writes its sq1 with its sq2
    (:func:`_gamma_terms`).
    """
    for s in range(G.shape[0]):
        gss = G[s, s]
        sq1[s + 1, s] = max(gss, 0.0)
        sq2[s + 1, s] = h * h * gss * gss


@twin_jit
def level_tables(G, h, w, sq1, sq2, tables):
    """:func:`node_tables` of every node of half-width `w` (m = w, 3w, 5w, ... < n).

    ``tables`` (float64, shape (4, >= nodes * w * w)) holds the node k's alpha, gamt, pt, dd
    as w x w blocks ``tables[q, k w^2 : (k + 1) w^2]`` (gamt, pt, dd cut to the node's nr ends).
    The nodes of one level are independent (each reads the levels below, writes its own
    intervals), and each node is two tasks of about equal time (:func:`_node_part`): the
    ``prange`` loop runs over both, so even the single top node uses two threads.
    """
    n = G.shape[0]
    nodes = (n + w - 1) // (2 * w)
    ww = w * w
    for task in prange(2 * nodes):
        k = task // 2
        m = w + 2 * w * k
        hi = min(m + w, n)
        nr = hi - m
        base = k * ww
        alpha = tables[0, base : base + ww].reshape((w, w))
        gamt = tables[1, base : base + ww].reshape((w, w))[:nr]
        pt = tables[2, base : base + ww].reshape((w, w))[:nr]
        dd = tables[3, base : base + ww].reshape((w, w))[:nr, :nr]
        _node_part(task % 2, G, h, m - w, m, hi, sq1, sq2, alpha, gamt, pt, dd)


@jit
def node_tables(G, h, lo, m, hi, sq1, sq2, alpha, gamt, pt, dd):
    """The tables of node m (starts lo <= s < m, ends m < t <= hi) and its O(w^2) terms.

    Written (indices relative to lo and m; ``2 *`` folds the factor of the cross terms):

    - ``alpha[s - lo, j - lo] = 2 alpha_s(j)`` for j >= s, 0 for j < s;
    - ``gamt[l - m, s - lo] = 2 gamma_s(l)`` (ends by row);
    - ``sq2[t, s] = |A_s|^2 + |B_t|^2 + |U_s|^2 |V_t|^2 + 2 T4`` (the products still to add);
    - ``sq1[t, s] = |U_s|^2 + |V_t|^2 + 2 <U_s, V_t>`` (clamped at 0), where
      ``<U_s, V_t> = sum_{s<=i<m} P_t(i)``;
    - ``pt[t - m - 1, i - lo] = P_t(i)`` (left i) and ``dd[t - m - 1, l - m] = P_t(l)`` for
      l < t, 0 for l >= t, so that ``T5 + T6`` (times 2) is
      ``pt @ alpha.T + dd @ gamt`` at ``[t - m - 1, s - lo]``.

    Reads sq1 and sq2 of the intervals [s, m) and [m, t) (the children, or leaves).
    """
    for part in range(2):
        _node_part(part, G, h, lo, m, hi, sq1, sq2, alpha, gamt, pt, dd)


@jit
def _node_part(part, G, h, lo, m, hi, sq1, sq2, alpha, gamt, pt, dd):
    """Part 0 of :func:`node_tables`: gamt, sq1 and sq2 (:func:`_gamma_terms`); part 1: alpha,
    pt and dd (:func:`_alpha_table`, :func:`_right_tables`). They write disjoint arrays and
    take about the same time."""
    if part == 0:
        _gamma_terms(G, h, lo, m, hi, sq1, sq2, gamt)
    else:
        _alpha_table(G, h, lo, m, alpha)
        _right_tables(G, lo, m, hi, pt, dd)


@jit
def _right_tables(G, lo, m, hi, pt, dd):
    """pt and dd of :func:`node_tables`: P_t(i) = sum_{m<=k<t} G_ik, adding row k = t - 1 at each t."""
    nl = m - lo
    nr = hi - m
    run = np.zeros(nr)  # P_t(l) for every right l (the unmasked row of dd)
    for ti in range(nr):
        grow = G[m + ti]
        prow = pt[ti]
        if ti == 0:
            for i in range(nl):
                prow[i] = grow[lo + i]
        else:
            pprev = pt[ti - 1]
            for i in range(nl):
                prow[i] = pprev[i] + grow[lo + i]
        drow = dd[ti]
        for li in range(nr):
            run[li] += grow[m + li]
            drow[li] = run[li] if li <= ti else 0.0


@jit
def _alpha_table(G, h, lo, m, alpha):
    """alpha of :func:`node_tables`, starts s from m - 1 down, c_s kept as a running sum."""
    nl = m - lo
    c = np.zeros(nl)  # c_s(i), i relative to lo
    for s in range(m - 1, lo - 1, -1):
        si = s - lo
        grow = G[s]
        for i in range(nl):  # every i: the ones left of s are needed by the later (smaller) s
            c[i] += grow[lo + i]
        arow = alpha[si]
        for j in range(si):
            arow[j] = 0.0
        acc = 0.0
        for j in range(si, nl):
            arow[j] = 2.0 * (acc + h * c[j])
            acc += c[j]


@jit
def _gamma_terms(G, h, lo, m, hi, sq1, sq2, gamt):
    """gamt, sq1 and the O(w^2) terms of sq2 of :func:`node_tables`, two ends at a time.

    Ends l outer, starts s inner from m - 1 down: per end, Q_s(l), sum_{s<=j<m} Z(j, l) and
    <U_s, V_{l+1}> are running sums over s; per start, the sums over the ends so far
    (sum_{m<=k<l} Q_s(k), P_l(s) and T4) are vectors over s. Rows of G (G[l, s] = G[s, l]), of gamt and of sq2 are
    then read and written contiguously (with starts outer, sq2 was written down its columns,
    a new page per entry: 3x slower at w = 2048), and two ends share each pass over the
    vectors. Every sum of sq2 runs in the same order either way (bitwise the same values).
    """
    nl = m - lo
    nr = hi - m
    racc = np.zeros(nl)  # sum_{m<=k<l} Q_s(k)
    pacc = np.zeros(nl)  # P_l(s) = sum_{m<=k<l} G_sk
    t4 = np.zeros(nl)  # T4 over the ends so far
    spare = np.zeros((4, nl))  # the partner of an odd last end: a zero Gram row, outputs dropped
    for li in range(0, nr, 2):
        t = m + 1 + li  # the first end of the pair (the interval [s, t) ends at l + 1)
        if li + 1 < nr:
            g1, out1, x1, gt1, b1, v1 = (G[t, lo:m], sq2[t + 1, lo:m], sq1[t + 1, lo:m], gamt[li + 1],
                                         sq2[t + 1, m], sq1[t + 1, m])
        else:
            g1, out1, x1, gt1, b1, v1 = spare[0], spare[1], spare[2], spare[3], 0.0, 0.0
        _end_pair(h, G[t - 1, lo:m], g1, sq2[m, lo:m], sq1[m, lo:m], sq2[t, m], sq1[t, m], b1, v1,
                  racc, pacc, t4, sq2[t, lo:m], out1, sq1[t, lo:m], x1, gamt[li], gt1)


@jit
def _end_pair(h, g0, g1, a_s, u_s, b0, v0, b1, v1, racc, pacc, t4, out0, out1, x0, x1, gt0, gt1):
    """Two consecutive ends l, l + 1 of :func:`_gamma_terms` for every start (index s - lo).

    g0, g1: the Gram rows of l and l + 1 (over the starts); a_s = |A_s|^2, u_s = |U_s|^2;
    b0, v0 (b1, v1) = |B_t|^2, |V_t|^2 of the ends t = l + 1 (l + 2); racc, pacc, t4: the
    per-start sums, advanced by both ends; out0, out1: the rows of sq2; x0, x1: of sq1;
    gt0, gt1: of gamt.
    """
    hh = h * h
    q0 = 0.0  # Q_s(l), over s from m - 1 down
    q1 = 0.0
    z0 = 0.0  # sum_{s<=j<m} Z(j, l)
    z1 = 0.0
    y0 = 0.0  # <U_s, V_{l+1}> = sum_{s<=i<m} P_{l+1}(i)
    y1 = 0.0
    for si in range(g0.shape[0] - 1, -1, -1):
        e0 = g0[si]
        e1 = g1[si]
        q0 += e0
        q1 += e1
        r = racc[si]
        p = pacc[si]
        gm0 = r + h * q0
        z0 += (h * p + hh * e0 - gm0) * e0
        f0 = t4[si] + (gm0 * q0 + z0)
        r += q0
        p += e0  # P_{l+1}(s)
        y0 += p
        gm1 = r + h * q1
        z1 += (h * p + hh * e1 - gm1) * e1
        f1 = f0 + (gm1 * q1 + z1)
        p1 = p + e1  # P_{l+2}(s)
        y1 += p1
        u = u_s[si]
        gt0[si] = 2.0 * gm0
        gt1[si] = 2.0 * gm1
        out0[si] = a_s[si] + b0 + u * v0 + 2.0 * f0
        out1[si] = a_s[si] + b1 + u * v1 + 2.0 * f1
        x0[si] = max(u + v0 + 2.0 * y0, 0.0)
        x1[si] = max(u + v1 + 2.0 * y1, 0.0)
        t4[si] = f1
        racc[si] = r + q1
        pacc[si] = p1


@jit
def node_products(alpha, gamt, pt, dd, out):
    """``out[t, s] += sum_j pt[t, j] alpha[s, j] + sum_l dd[t, l] gamt[l, s]`` by
    loops that skip the zeros (j >= s, l <= t), clamped at 0: the BLAS products of
    ``streamrough._gram_tree`` for a small node."""
    nl = alpha.shape[0]
    nr = gamt.shape[0]
    for ti in range(nr):
        prow = pt[ti]
        drow = dd[ti]
        orow = out[ti]
        for si in range(nl):
            arow = alpha[si]
            acc = orow[si]
            for j in range(si, nl):
                acc += prow[j] * arow[j]
            orow[si] = acc
        for li in range(ti + 1):  # row by row of gamt: the same sums in the same order
            d = drow[li]
            grow = gamt[li]
            for si in range(nl):
                orow[si] += d * grow[si]
        for si in range(nl):
            orow[si] = max(orow[si], 0.0)


@jit
def small_nodes(G, h, sq1, sq2, max_half):
    """Every node of half-width w <= `max_half`, levels in increasing w, all by loops.

    Needs :func:`leaves` first. Writes sq1[t, s] and sq2[t, s] for every interval of those nodes.
    """
    n = G.shape[0]
    w = 1
    while w <= max_half and w < n:
        alpha = np.empty((w, w))
        gamt = np.empty((w, w))
        pt = np.empty((w, w))
        dd = np.empty((w, w))
        for m in range(w, n, 2 * w):
            lo = m - w
            hi = min(m + w, n)
            nr = hi - m
            node_tables(G, h, lo, m, hi, sq1, sq2, alpha, gamt[:nr], pt[:nr], dd[:nr, :nr])
            node_products(alpha, gamt[:nr], pt[:nr], dd[:nr, :nr], sq2[m + 1 : hi + 1, lo:m])
        w *= 2
