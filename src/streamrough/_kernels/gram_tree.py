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

(T4 expands <mu_{s,j}, mu_{m,l}> = gamma_s(l) - gamma_j(l) + h P_l(j) + h^2 G_jl.) |A_s|^2 and
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
def level1_and_leaves(G, h, sq1, sq2):
    """sq1[t, s] = |X_{s,t}|^2 for all s < t, and sq2[s + 1, s] = h^2 G_ss^2.

    Row by row in the end point t: |X_{s,t+1}|^2 = |X_{s,t}|^2 + 2 sum_{s<=i<t} G_it + G_tt,
    the inner sum running backwards from i = t - 1 (a sum started at the interval's end).
    Tiny negative values from rounding are clamped to 0.
    """
    n = G.shape[0]
    for t in range(n):
        row = G[t]
        prev = sq1[t]
        out = sq1[t + 1]
        gtt = row[t]
        out[t] = max(gtt, 0.0)
        w = 0.0
        for s in range(t - 1, -1, -1):
            w += row[s]
            out[s] = max(prev[s] + 2.0 * w + gtt, 0.0)
        sq2[t + 1, t] = h * h * gtt * gtt


@twin_jit
def level_tables(G, h, w, sq1, sq2, tables):
    """:func:`node_tables` of every node of half-width `w` (m = w, 3w, 5w, ... < n).

    ``tables`` (float64, shape (4, >= nodes * w * w)) holds the node k's alpha, gam, pt, dd
    as w x w blocks ``tables[q, k w^2 : (k + 1) w^2]`` (gam, pt, dd cut to the node's nr ends).
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
        gam = tables[1, base : base + ww].reshape((w, w))[:, :nr]
        pt = tables[2, base : base + ww].reshape((w, w))[:nr]
        dd = tables[3, base : base + ww].reshape((w, w))[:nr, :nr]
        _node_part(task % 2, G, h, m - w, m, hi, sq1, sq2, alpha, gam, pt, dd)


@jit
def node_tables(G, h, lo, m, hi, sq1, sq2, alpha, gam, pt, dd):
    """The tables of node m (starts lo <= s < m, ends m < t <= hi) and its O(w^2) terms.

    Written (indices relative to lo and m; ``2 *`` folds the factor of the cross terms):

    - ``alpha[s - lo, j - lo] = 2 alpha_s(j)`` for j >= s, 0 for j < s;
    - ``gam[s - lo, l - m] = 2 gamma_s(l)``;
    - ``sq2[t, s] = |A_s|^2 + |B_t|^2 + |U_s|^2 |V_t|^2 + 2 T4`` (the products still to add);
    - ``pt[t - m - 1, i - lo] = P_t(i)`` (left i) and ``dd[t - m - 1, l - m] = P_t(l)`` for
      l < t, 0 for l >= t, so that ``T5 + T6`` (times 2) is
      ``pt @ alpha.T + dd @ gam.T`` at ``[t - m - 1, s - lo]``.

    Reads sq1 (all intervals) and sq2 of the intervals [s, m) and [m, t) (the children).
    """
    for part in range(2):
        _node_part(part, G, h, lo, m, hi, sq1, sq2, alpha, gam, pt, dd)


@jit
def _node_part(part, G, h, lo, m, hi, sq1, sq2, alpha, gam, pt, dd):
    """Part 0 of :func:`node_tables`: gam and sq2 (:func:`_gamma_terms`); part 1: alpha, pt
    and dd (:func:`_alpha_table`, :func:`_right_tables`). They write disjoint arrays and take
    about the same time (measured at w = 2048: 25 ms and 10 + 13 ms)."""
    if part == 0:
        _gamma_terms(G, h, lo, m, hi, sq1, sq2, gam)
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
def _gamma_terms(G, h, lo, m, hi, sq1, sq2, gam):
    """gam and the O(w^2) terms of sq2 of :func:`node_tables`, starts s from m - 1 down."""
    nl = m - lo
    nr = hi - m
    hh = h * h
    bt = np.empty(nr)  # |B_t|^2
    vt = np.empty(nr)  # |V_t|^2
    for ti in range(nr):
        bt[ti] = sq2[m + 1 + ti, m]
        vt[ti] = sq1[m + 1 + ti, m]
    q = np.zeros(nr)  # Q_s(l), l relative to m
    zsum = np.zeros(nr)  # sum_{s<=j<m} Z(j, l)
    for s in range(m - 1, lo - 1, -1):
        si = s - lo
        a_s = sq2[m, s]
        u_s = sq1[m, s]
        grow_r = G[s, m:hi]
        gamrow = gam[si]
        r_acc = 0.0  # sum_{m<=k<l} Q_s(k)
        p_acc = 0.0  # P_l(s) = sum_{m<=k<l} G_sk
        t4 = 0.0
        for li in range(nr):
            g = grow_r[li]
            q[li] += g
            gm = r_acc + h * q[li]
            gamrow[li] = 2.0 * gm
            zsum[li] += (h * p_acc + hh * g - gm) * g
            t4 += gm * q[li] + zsum[li]
            sq2[m + 1 + li, s] = a_s + bt[li] + u_s * vt[li] + 2.0 * t4
            r_acc += q[li]
            p_acc += g


@jit
def node_products(alpha, gam, pt, dd, out):
    """``out[t, s] += sum_j pt[t, j] alpha[s, j] + sum_l dd[t, l] gam[s, l]`` by
    loops that skip the zeros (j >= s, l <= t), clamped at 0: the BLAS products of
    ``streamrough._gram_tree`` for a small node."""
    nl = alpha.shape[0]
    nr = gam.shape[1]
    for ti in range(nr):
        prow = pt[ti]
        drow = dd[ti]
        orow = out[ti]
        for si in range(nl):
            arow = alpha[si]
            grow = gam[si]
            acc = orow[si]
            for j in range(si, nl):
                acc += prow[j] * arow[j]
            for li in range(ti + 1):
                acc += drow[li] * grow[li]
            orow[si] = max(acc, 0.0)


@jit
def small_nodes(G, h, sq1, sq2, max_half):
    """Every node of half-width w <= `max_half`, levels in increasing w, all by loops.

    Needs :func:`level1_and_leaves` first. Writes sq2[t, s] for every interval of those nodes.
    """
    n = G.shape[0]
    w = 1
    while w <= max_half and w < n:
        alpha = np.empty((w, w))
        gam = np.empty((w, w))
        pt = np.empty((w, w))
        dd = np.empty((w, w))
        for m in range(w, n, 2 * w):
            lo = m - w
            hi = min(m + w, n)
            nr = hi - m
            node_tables(G, h, lo, m, hi, sq1, sq2, alpha, gam[:, :nr], pt[:nr], dd[:nr, :nr])
            node_products(alpha, gam[:, :nr], pt[:nr], dd[:nr, :nr], sq2[m + 1 : hi + 1, lo:m])
        w *= 2
