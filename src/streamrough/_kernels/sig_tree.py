"""Chen tree of chunk signatures over a growing path, for exact interval queries (SigStream).

Leaf ``j`` is the signature of increments ``[j leaf, (j + 1) leaf)``; each internal node is
the Chen product of its two children. Nodes are stored in creation (post-)order of a binary
counter: after ``m`` leaves there are ``2 m - popcount(m)`` nodes, and the parent of two
equal-size roots is created right after its right child, so the node over the aligned
dyadic block of leaves ``j .. j + size - 1`` is at ``2 j - popcount(j) + 2 size - 2``.
"""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np

from ._jit import jit
from .sig_algebra import bound


@jit
def popcount(m):
    """Number of one bits of ``m >= 0``."""
    c = 0
    while m:
        c += m & 1
        m >>= 1
    return c


@jit
def leaves_of(n_nodes):
    """Number of leaves m with ``2 m - popcount(m) = n_nodes`` (node counts only take such values)."""
    m = (n_nodes + 1) // 2
    while 2 * m - popcount(m) > n_nodes:
        m -= 1
    while 2 * (m + 1) - popcount(m + 1) <= n_nodes:
        m += 1
    return m


@jit
def node_index(j, size):
    """Position of the node over leaves ``j .. j + size - 1`` (``size`` a power of 2 dividing ``j``)."""
    return 2 * j - popcount(j) + 2 * size - 2


def tree(path_into, mul_into, length: int, scratch: int) -> SimpleNamespace:
    """``build_nodes`` and ``query`` over one signature kernel ``path_into(x, t0, t1, s, buf)``
    (``s <- s (x) S(x[t0 .. t1])``, scratch of ``scratch`` numbers) and its Chen product
    ``mul_into(p, q)`` (``p <- p (x) q``), for signatures of ``length`` numbers."""

    @bound
    def build_nodes(pts, n_pts, leaf, nodes, n_nodes):
        """Append the tree nodes completed by points 0..n_pts-1; returns the node count."""
        buf = np.empty(scratch, dtype=nodes.dtype)
        n_leaves = (n_pts - 1) // leaf if n_pts > 0 else 0
        m = leaves_of(n_nodes)
        while m < n_leaves:
            t0 = m * leaf
            row = nodes[n_nodes]
            for w in range(length):
                row[w] = 0.0
            path_into(pts, t0, t0 + leaf, row, buf)
            n_nodes += 1
            m += 1
            # leaf number m (1-based) closes one parent per trailing zero bit of m
            size = 1
            while m % (2 * size) == 0:
                right = n_nodes - 1
                left = right - (2 * size - 1)
                row = nodes[n_nodes]
                for w in range(length):
                    row[w] = nodes[left, w]
                mul_into(row, nodes[right])
                n_nodes += 1
                size *= 2
        return n_nodes

    @bound
    def query(pts, leaf, nodes, s0, t1, out):
        """out <- S(pts[s0 .. t1]) exactly: direct steps at both ends, complete tree nodes (the
        largest aligned dyadic blocks of leaves) in between, multiplied in order."""
        buf = np.empty(scratch, dtype=out.dtype)
        for w in range(length):
            out[w] = 0.0
        lo = (s0 + leaf - 1) // leaf  # first leaf starting at or after s0
        hi = t1 // leaf  # leaves lo .. hi - 1 lie inside [s0, t1]
        if hi <= lo:
            path_into(pts, s0, t1, out, buf)
            return
        path_into(pts, s0, lo * leaf, out, buf)
        j = lo
        while j < hi:
            size = 1
            while j % (2 * size) == 0 and j + 2 * size <= hi:
                size *= 2
            mul_into(out, nodes[node_index(j, size)])
            j += size
        path_into(pts, hi * leaf, t1, out, buf)

    return SimpleNamespace(build_nodes=build_nodes, query=query)
