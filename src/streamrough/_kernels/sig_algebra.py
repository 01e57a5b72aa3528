"""Truncated tensor algebra (math.md section 3): Chen product, inverse, one step, as loops.

Layout (iisignature / pysiglib / signatory): a truncated tensor of depth ``n`` over ``R^d``
is a flat vector of ``d + d^2 + ... + d^n`` numbers, levels 1..n concatenated, word
``(i_1 ... i_k)`` of level ``k`` at offset ``i_1 d^(k-1) + ... + i_k`` inside its level, and
no scalar term: the implicit scalar is 1, so the identity element is all zeros.
``offs = level_offsets(d, n)`` gives where each level starts.

The kernels of one ``(d, n)`` are closures over ``d``, ``n`` and ``offs``, which Numba
compiles as constants (loops of known trip count), built once per process by
:func:`algebra` and :func:`loop_kernels`. Batched kernels come as twins made from one body:
serial (``range``) and parallel (``prange``, suffix ``_par``).
"""

from __future__ import annotations

import functools
from types import SimpleNamespace

import numpy as np
from numba import prange

from ._jit import jit

KINDS = ("geometric", "iterated")
FMA = {"contract"}  # fused multiply-add: rounding at least as good, NaN/inf semantics kept


def level_offsets(d: int, n: int) -> tuple:
    """``offs[k]`` = start of level ``k`` (``offs[1] = 0``), ``offs[n + 1]`` = total length.

    Examples
    --------
    >>> level_offsets(2, 3)
    (0, 0, 2, 6, 14)
    """
    offs = [0, 0]
    size = 1
    for _ in range(n):
        size *= d
        offs.append(offs[-1] + size)
    return tuple(offs)


def bound(func=None, **options):
    """``jit`` with fused multiply-adds, for a closure that calls other kernels (closure cells
    holding dispatchers, whose ids ``_jit`` makes the same in every process so that the
    on-disk cache finds the closure again)."""
    options.setdefault("fastmath", FMA)
    return jit(func, **options)


def twins(make):
    """Serial and parallel kernels from one body: ``make(loop)`` returns a function whose
    outer loop is ``loop(...)``; ``range`` gives the serial twin, ``prange`` the parallel one
    (two closures: Numba's cache tells them apart by their cells)."""
    return bound(make(range)), bound(make(prange), parallel=True)


@jit
def reversed_index(idx, k, d, last):
    """idx[w] <- index of word ``w = (i_1 ... i_k)`` (base-``d`` digits, ``d^k`` words) in the
    reversed-word layout ``i_1 + i_2 d + ... + i_(k-1) d^(k-2) + i_k last`` (``last = d^(k-1)``:
    the plain layout; larger: each last letter's block padded to `last` numbers).

    Built letter by letter, ``idx[q d + i] = idx[q] + i weight_j`` for the words ``q i`` of
    j + 1 letters, without divisions: reversing the base-d digits of each word (k integer
    divisions a word) took about 8 us per path at d = 5, depth 4 (the copies in and out of
    path_into), 6 % of a B = 32, L = 1000 signature. In place from the highest prefix q
    down: the entries q d + i >= q of prefix q overwrite only prefixes already read."""
    idx[0] = 0
    size, weight = 1, 1
    for j in range(k):
        step = last if j == k - 1 else weight
        for q in range(size - 1, -1, -1):
            base = idx[q]
            for i in range(d - 1, -1, -1):
                idx[q * d + i] = base + i * step
        size *= d
        weight *= d


@jit
def _reorder_levels(src, dst, offs, d, into_reversed):
    """dst <- src with every level taken into (``into_reversed``) or out of the reversed-word
    layout; one loop for both directions, since they differ only in which side is permuted."""
    n = len(offs) - 2
    idx = np.empty(offs[n + 1] - offs[n], dtype=np.int64)
    for k in range(1, n + 1):
        size = offs[k + 1] - offs[k]
        reversed_index(idx, k, d, size // d)
        for w in range(size):
            if into_reversed:
                dst[offs[k] + idx[w]] = src[offs[k] + w]
            else:
                dst[offs[k] + w] = src[offs[k] + idx[w]]


@jit
def to_reversed(s, r, offs, d):
    """r <- s with every level in the reversed-word layout (word (i_1 ... i_k) at
    ``i_k d^(k-1) + ... + i_1``)."""
    _reorder_levels(s, r, offs, d, True)


@jit
def from_reversed(r, s, offs, d):
    """s <- r, from the reversed-word layout back to the standard one."""
    _reorder_levels(r, s, offs, d, False)


@functools.lru_cache(maxsize=None)
def algebra(d: int, n: int) -> SimpleNamespace:
    """Chen product and inverse of depth-``n`` tensors over ``R^d`` (memoised).

    Returns a namespace with ``mul_into(p, q)`` (``p <- p (x) q``), ``inverse_into(s, out)``
    and the batched twins ``batch_mul``, ``batch_mul_many``, ``batch_inverse`` (+ ``_par``).

    Level ``k`` of a product with no stored scalar terms is
    ``(p (x) q)_k = p_k + q_k + sum_{j=1}^{k-1} p_j (x) q_(k-j)``, computed top level down in
    place; the inverse solves ``out_k = -s_k - sum_{j=1}^{k-1} s_j (x) out_(k-j)``.

    Examples
    --------
    >>> import numpy as np
    >>> alg = algebra(1, 2)
    >>> p = np.array([1.0, 0.5])          # exp(1) up to level 2
    >>> alg.mul_into(p, np.array([2.0, 2.0]))
    >>> p                                 # exp(3) = (3, 4.5)
    array([3. , 4.5])
    """
    offs = level_offsets(d, n)
    length = offs[n + 1]

    @jit(fastmath=FMA)
    def mul_into(p, q):
        """p <- p (x) q, in place (top level down; no scalar terms stored)."""
        for k in range(n, 0, -1):
            ok = offs[k]
            for w in range(offs[k + 1] - ok):
                p[ok + w] += q[ok + w]
            for j in range(1, k):
                oj = offs[j]
                om = offs[k - j]
                szm = offs[k - j + 1] - om
                for u in range(offs[j + 1] - oj):
                    pu = p[oj + u]
                    base = ok + u * szm
                    for v in range(szm):
                        p[base + v] += pu * q[om + v]

    @jit(fastmath=FMA)
    def inverse_into(s, out):
        """out <- s^(-1) in the truncated algebra."""
        for k in range(1, n + 1):
            ok = offs[k]
            for w in range(offs[k + 1] - ok):
                out[ok + w] = -s[ok + w]
            for j in range(1, k):
                oj = offs[j]
                om = offs[k - j]
                szm = offs[k - j + 1] - om
                for u in range(offs[j + 1] - oj):
                    su = s[oj + u]
                    base = ok + u * szm
                    for v in range(szm):
                        out[base + v] -= su * out[om + v]

    def make_mul(loop):
        def batch_mul(p, q, out):
            """out[b] = p[b] (x) q[b]."""
            for b in loop(p.shape[0]):
                for w in range(length):
                    out[b, w] = p[b, w]
                mul_into(out[b], q[b])

        return batch_mul

    def make_mul_many(loop):
        def batch_mul_many(s, out):
            """out[b] <- out[b] (x) s[b, 0] (x) s[b, 1] (x) ... (ordered)."""
            for b in loop(s.shape[0]):
                for j in range(s.shape[1]):
                    mul_into(out[b], s[b, j])

        return batch_mul_many

    def make_inverse(loop):
        def batch_inverse(s, out):
            """out[b] = s[b]^(-1)."""
            for b in loop(s.shape[0]):
                inverse_into(s[b], out[b])

        return batch_inverse

    ns = SimpleNamespace(mul_into=mul_into, inverse_into=inverse_into)
    for name, make in [("batch_mul", make_mul), ("batch_mul_many", make_mul_many), ("batch_inverse", make_inverse)]:
        serial, parallel = twins(make)
        setattr(ns, name, serial)
        setattr(ns, name + "_par", parallel)
    return ns


@functools.lru_cache(maxsize=None)
def loop_kernels(d: int, n: int, kind: str) -> SimpleNamespace:
    """One step and one path as plain loops, any ``(d, n)`` (memoised): ``step(s, a, buf)``
    (``s <- s (x) exp(a)`` or ``s (x) (1 + a)``) and ``path_into(x, t0, t1, s, buf)``
    (``s <- s (x) S(x[t0 .. t1])``); ``buf`` holds at least ``SCRATCH = d^(n-1) + d`` numbers.

    Geometric: level ``k`` (top down) gets ``v (x) a`` with the Horner chain
    ``v = ((...((a/k + s_1) (x) a/(k-1) + s_2) ...) + s_(k-1))``; iterated: ``v = s_(k-1)``.
    These serve what the generated kernels of ``sig_codegen`` do not cover (depth 1 of many
    letters; depths whose generated source would be too long to compile quickly).

    Examples
    --------
    >>> import numpy as np
    >>> k = loop_kernels(1, 3, "geometric")
    >>> s = np.zeros(3)
    >>> k.path_into(np.array([[0.0], [1.0], [3.0]]), 0, 2, s, np.empty(8))
    >>> s                                 # exp(3) up to level 3
    array([3. , 4.5, 4.5])
    """
    offs = level_offsets(d, n)
    nbuf = max(d ** (n - 1), 1)
    geometric = kind == "geometric"

    @jit(fastmath=FMA)
    def step(s, a, buf):
        """s <- s (x) step(a), in place; the chain is built in buf, high words first."""
        for k in range(n, 1, -1):
            if geometric:
                c = 1.0 / k
                for i in range(d):
                    buf[i] = a[i] * c
                size = d
                for m in range(1, k - 1):
                    c = 1.0 / (k - m)
                    om = offs[m]
                    for w in range(size - 1, -1, -1):
                        v = (buf[w] + s[om + w]) * c
                        for i in range(d):
                            buf[w * d + i] = v * a[i]
                    size *= d
                for w in range(size):
                    buf[w] += s[offs[k - 1] + w]
            else:
                size = offs[k] - offs[k - 1]
                for w in range(size):
                    buf[w] = s[offs[k - 1] + w]
            ok = offs[k]
            for w in range(size):
                v = buf[w]
                for i in range(d):
                    s[ok + w * d + i] += v * a[i]
        for i in range(d):
            s[i] += a[i]

    @bound
    def path_into(x, t0, t1, s, buf):
        """s <- s (x) S(x[t0 .. t1]) for one path x (N, d)."""
        a = buf[nbuf : nbuf + d]
        for t in range(t0, t1):
            for i in range(d):
                a[i] = x[t + 1, i] - x[t, i]
            step(s, a, buf)

    return SimpleNamespace(step=step, path_into=path_into, SCRATCH=nbuf + d)
