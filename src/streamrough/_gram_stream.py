"""The Gram route of :class:`streamrough.RoughStream`: levels 1 and 2 of wide layers, per push.

A push of the increment ``a_t`` computes one new row of the Gram matrix, ``<a_j, a_t>``
for ``j <= t`` (O(t D)), advances the running interval recursion of
:func:`streamrough._kernels.gram.interval_norms_sq` for every start s by one step (O(t) per
start) and extends the exact p-variation DPs of both levels by one point (O(t P)); see
:func:`streamrough._kernels.gram.gram_stream_push`. The state is O(L^2) float64 (one L x L
array) plus the layers themselves, kept in their dtype (float32 stays float32) for the
Gram rows. Nothing of size D^2 is ever formed.

Scale: the state is kept for the increments times ``2^-e`` (an exact power of two), with
``e`` set by the first nonzero increment and raised (every stored quantity rescaled exactly)
when an increment's largest entry reaches ``2^(e + T)``, as the direct route does, so that
no squared level-2 norm ~ |a|^4 overflows or underflows at any scale float64 represents.
"""

from __future__ import annotations

import numpy as np

from .rough import _raised_scale, _times_power_of_two
from .variation import _unscale

__all__ = ["GramLevels", "gram_bytes"]


def gram_bytes(cap: int, d: int, itemsize: int, n_p: int) -> int:
    """Bytes held by a GramLevels of capacity `cap` increments of `d` entries each."""
    state = 8 * (cap * cap + 5 * cap)  # Y; N, L2, sq1, sq2, grow
    dps = 2 * 16 * n_p * (cap + 1)  # pv and links of both levels
    return state + dps + (cap + 1) * d * itemsize


def storage_dtype(dtype) -> np.dtype:
    """float32 for float32 (and float16) layers, float64 for everything else (exact either way)."""
    dtype = np.dtype(dtype)
    return np.dtype(np.float32) if dtype.kind == "f" and dtype.itemsize <= 4 else np.dtype(np.float64)


class GramLevels:
    """Buffers and per-push update of the Gram route (module notes); the caller locks.

    Parameters
    ----------
    d : int
        Entries per layer.
    dtype : numpy dtype
        Storage dtype of the layers (:func:`storage_dtype`).
    differences : bool
        True for ``convention="values"``: the stored rows are the points and the increments
        are their differences (formed in float64); False: the stored rows are the increments.
    ps : ndarray
        Exponents p.
    geometric : bool
    cap : int
        Initial capacity (increments).
    T : int
        Rescaling threshold (module notes).
    """

    def __init__(self, d, dtype, differences, ps, geometric, cap, T):
        self.d = d
        self.differences = differences
        self.ps = ps
        self.h = 0.5 if geometric else 0.0
        self.T = T
        self.e = None
        self.m = 0  # increments so far
        self.n_rows = 0  # stored rows (points for "values", increments otherwise)
        n_p = len(ps)
        self.rows = np.zeros((cap + 1, d), dtype=dtype)
        self.Y = np.zeros((cap, cap))
        self.N = np.zeros(cap)
        self.L2 = np.zeros(cap)
        self.sq1 = np.zeros(cap)
        self.sq2 = np.zeros(cap)
        self.grow = np.zeros(cap)
        self.pv1 = np.zeros((n_p, cap + 1))
        self.pv2 = np.zeros((n_p, cap + 1))
        self.link1 = np.zeros((n_p, cap + 1), dtype=np.int64)
        self.link2 = np.zeros((n_p, cap + 1), dtype=np.int64)

    @property
    def capacity(self) -> int:
        return self.Y.shape[0]

    def nbytes(self, cap: int) -> int:
        return gram_bytes(cap, self.d, self.rows.dtype.itemsize, len(self.ps))

    def grow_to(self, cap: int) -> None:
        """Enlarge every buffer to `cap` increments (contents kept; the caller checked the budget)."""
        old = self.capacity
        if cap <= old:
            return
        y = np.zeros((cap, cap))
        y[:old, :old] = self.Y
        self.Y = y
        for name in ("N", "L2", "sq1", "sq2", "grow"):
            a = np.zeros(cap)
            a[:old] = getattr(self, name)
            setattr(self, name, a)
        for name in ("pv1", "pv2", "link1", "link2"):
            b = getattr(self, name)
            a = np.zeros((b.shape[0], cap + 1), dtype=b.dtype)
            a[:, : old + 1] = b
            setattr(self, name, a)
        rows = np.zeros((cap + 1, self.d), dtype=self.rows.dtype)
        rows[: self.n_rows] = self.rows[: self.n_rows]
        self.rows = rows

    def promote(self, dtype) -> None:
        """Store the layers in float64 from now on (a wider layer arrived; exact)."""
        if self.rows.dtype != dtype:
            self.rows = self.rows.astype(dtype)

    def increments_needed(self, k: int) -> int:
        """Increments after appending `k` layers."""
        if self.differences:
            return max(self.n_rows + k - 1, 0)
        return self.m + k

    # ------------------------------------------------------------------ pushing
    def _rescale(self, k: int) -> None:
        """Divide the stored state by 2^k (exact): each quantity by its power of 2^k."""
        m = self.m
        self.Y[:m, :m] = np.ldexp(self.Y[:m, :m], -2 * k)
        self.N[:m] = np.ldexp(self.N[:m], -2 * k)
        self.L2[:m] = np.ldexp(self.L2[:m], -4 * k)
        for i, p in enumerate(self.ps):  # |x|^p and |XX|^(p/2) scale like 2^(-k p)
            self.pv1[i, : m + 1] = _times_power_of_two(self.pv1[i, : m + 1], -k * float(p))
            self.pv2[i, : m + 1] = _times_power_of_two(self.pv2[i, : m + 1], -k * float(p))

    def push(self, layer: np.ndarray) -> None:
        """Append one flattened layer (finite, float64 or the storage dtype; capacity checked)."""
        from ._kernels.gram import gram_row, gram_stream_push

        self.rows[self.n_rows] = layer
        self.n_rows += 1
        if self.differences:
            if self.n_rows == 1:
                return
            a = self.rows[self.n_rows - 1].astype(np.float64) - self.rows[self.n_rows - 2]
        else:
            a = np.asarray(layer, dtype=np.float64)
        self.e, shift = _raised_scale(self.e, a, self.T)
        if shift:
            self._rescale(shift)
        t = self.m
        e = 0 if self.e is None else self.e
        # <a_j 2^-e, a_t 2^-e> = 2^s sum_k a_jk (a_tk 2^(-2e-s)): exact scaling of every
        # product. The stored rows are unscaled (~2^e), so the factor 2^(-2e) alone would
        # overflow (or go subnormal) for |e| near 1024; splitting it as 2^(-2e-s) 2^s with
        # s = -e/2 keeps the factor (~2^(-e/2)) and every product (~2^(e/2)) normal.
        s = -e // 2
        gram_row(self.rows, t, np.ldexp(a, -2 * e - s), self.differences, self.grow)
        self.grow[:t] = np.ldexp(self.grow[:t], s)
        b = np.ldexp(a, -e)
        self.grow[t] = float(np.dot(b, b))
        gram_stream_push(
            t, self.grow, self.h, self.Y, self.N, self.L2, self.sq1, self.sq2,
            self.ps / 2.0, self.pv1, self.link1, self.ps / 4.0, self.pv2, self.link2,
        )
        self.m += 1

    # ------------------------------------------------------------------ reading
    @property
    def n_points(self) -> int:
        return self.n_rows if self.differences else self.m + 1

    def levels(self):
        """Per p: (||x||_p-var, V_p(x), ||XX||_{p/2-var}^(1/2), V_{p/2}(XX)) in the original units."""
        e = 0 if self.e is None else self.e
        out = []
        for i, p in enumerate(self.ps):
            v1, w1 = _unscale(float(self.pv1[i, self.m]), e, float(p))
            v2, w2 = _unscale(float(self.pv2[i, self.m]), e, float(p))
            out.append((v1, w1, v2, w2))
        return out

    def partitions(self, level: int):
        """Optimal partitions (point indices) per p of level 1 or 2."""
        from ._kernels.pvar import follow_links

        links = self.link1 if level == 1 else self.link2
        return [follow_links(links[i], self.m) for i in range(len(self.ps))]

    def path(self) -> np.ndarray:
        """The points of the path so far, float64 (``"increments"``: from x_0 = 0)."""
        rows = self.rows[: self.n_rows].astype(np.float64)
        if self.differences:
            return rows
        return np.vstack([np.zeros((1, self.d)), np.cumsum(rows, axis=0)])
