"""Streaming signatures: one point at a time, with exact interval queries.

``SigStream`` keeps the points it was given in a growing contiguous array and the running
signature of everything pushed (one Horner step per point). Interval signatures
``S(x_s .. x_t)`` come from a tree of chunk signatures built lazily over the stored points:
leaves are signatures of ``leaf`` consecutive increments, each internal node the Chen
product of its two children. A query multiplies, in order, the direct signature of the few
increments before the first complete leaf, the largest complete dyadic nodes, and the direct
signature of the increments after the last one. Nothing goes through an inverse signature
(``S_{0,s}^{-1} (x) S_{0,t}`` loses up to ~1e-5 relative accuracy at level 4 on long
drifting paths, math.md section 3), so queries agree with a direct computation to rounding.
"""

from __future__ import annotations

import threading

import numpy as np

from ._streams import Stream, locked
from ._validation import _as_numeric_array, check_choice, check_int
from .paths import LIFTS
from .signatures import _kernels, sig_length

__all__ = ["SigStream"]

_F64 = np.dtype(np.float64)


class SigStream(Stream):
    """Streaming truncated signature of a path received point by point (float64).

    Parameters
    ----------
    dim : int
        Dimension ``d`` of the points.
    depth : int
        Truncation depth ``n``.
    lift : {"geometric", "iterated"}
        As in :func:`streamrough.signature`.
    window : int, optional
        If given, ``value`` is the signature of the last `window` increments (the last
        ``window + 1`` points) and only about ``2 (window + 1)`` points are kept in memory;
        ``query`` then accepts only intervals inside the retained points.
    capacity : int
        Initial number of points the buffers hold (they grow by doubling).

    Attributes
    ----------
    value : ndarray, shape (sig_length(dim, depth),)
        Signature of all points pushed so far (of the window, with `window`); a copy.
    n_points : int
        Number of points pushed so far.

    Notes
    -----
    ``push`` costs one signature step (``O(sig_length)``) plus a call from Python;
    ``query(s, t)`` costs ``O(leaf + log(n_points))`` steps and Chen products, plus the
    lazy construction of tree nodes not yet built (amortised one step per point).
    Thread-safe (each method runs under the stream's lock); pickles and copies
    (``copy.copy`` gives an independent stream).

    Examples
    --------
    >>> import numpy as np
    >>> st = SigStream(2, 2)
    >>> for p in [[0.0, 0.0], [1.0, 0.0], [1.0, 2.0]]:
    ...     st.push(p)
    >>> st.value
    array([1. , 2. , 0.5, 2. , 0. , 2. ])
    >>> st.query(1, 2)                  # the segment from (1, 0) to (1, 2)
    array([0., 2., 0., 0., 0., 2.])
    """

    _TRANSIENT = ("_k", "_push")

    def __init__(self, dim, depth, *, lift="geometric", window=None, capacity=1024):
        self._lock = threading.RLock()
        check_choice(lift, "lift", LIFTS)
        self.dim = check_int(dim, "dim")
        self.depth = check_int(depth, "depth")
        self.lift = lift
        self.length = sig_length(self.dim, self.depth)
        self.window = None if window is None else check_int(window, "window")
        capacity = check_int(capacity, "capacity")
        if self.window is not None:
            capacity = max(capacity, 2 * (self.window + 1))
        self._bind()
        self._pts = np.empty((capacity, self.dim))
        # [points in the buffer, 1 if the running signature is updated on push]
        self._count = np.array([0, 1 if self.window is None else 0], dtype=np.int64)
        self._offset = 0  # global index of buffer row 0 (moves when a window drops points)
        self._val = np.zeros(self.length)
        self._a = np.empty(self.dim)
        self._buf = np.empty(self._k.SCRATCH)
        # leaves of ~ length / dim increments: the tree stores ~ 2 length / leaf numbers per
        # point, comparable with the point itself
        self._leaf = int(min(1024, max(16, 1 << int(np.ceil(np.log2(max(self.length // self.dim, 1)))))))
        self._nodes = np.empty((0, self.length))
        self._n_nodes = 0

    def _bind(self):
        self._k = _kernels(self.dim, self.depth, self.lift)
        self._push = self._k.push

    # ------------------------------------------------------------------ appending
    @locked
    def push(self, point) -> None:
        """Append one point of shape ``(dim,)``.

        Raises
        ------
        ValueError
            If the point has the wrong shape or contains NaN or inf (nothing is appended).
        """
        if type(point) is np.ndarray and point.dtype is _F64 and point.ndim == 1:
            if not self._push(self._pts, self._count, self._val, self._a, self._buf, point):
                return
        point = self._as_points(point, "point", 1)
        if self._count[0] == len(self._pts):
            self._make_room(1)
        if self._push(self._pts, self._count, self._val, self._a, self._buf, point):
            raise ValueError("point contains NaN or inf")

    @locked
    def extend(self, points) -> None:
        """Append the rows of `points`, shape ``(k, dim)``, in order (all or nothing)."""
        pts = self._as_points(points, "points", 2)
        if self._count[0] + len(pts) > len(self._pts):
            self._make_room(len(pts))
        if self._k.extend(self._pts, self._count, self._val, self._buf, pts):
            raise ValueError("points contain NaN or inf")

    def _as_points(self, value, name, ndim):
        arr = _as_numeric_array(value, name)
        if arr.ndim != ndim or arr.shape[-1] != self.dim:
            want = f"({self.dim},)" if ndim == 1 else f"(k, {self.dim})"
            raise ValueError(f"{name} must have shape {want} (dim = {self.dim}), got shape {arr.shape}")
        return np.ascontiguousarray(arr, dtype=np.float64)

    def _make_room(self, extra: int) -> None:
        n = int(self._count[0])
        if self.window is not None:
            keep = self.window + 1
            if n > keep and n - keep + len(self._pts) >= n + extra:
                drop = n - keep
                self._pts[:keep] = self._pts[drop:n]
                self._offset += drop
                self._count[0] = keep
                self._n_nodes = 0  # leaves are aligned to buffer row 0: rebuild lazily
                return
        new = np.empty((max(2 * len(self._pts), n + extra), self.dim))
        new[:n] = self._pts[:n]
        self._pts = new

    # ------------------------------------------------------------------ reading
    @property
    @locked
    def n_points(self) -> int:
        return self._offset + int(self._count[0])

    @property
    @locked
    def value(self) -> np.ndarray:
        if self.window is None:
            return self._val.copy()
        n = self.n_points
        if n == 0:
            return np.zeros(self.length)
        return self.query(max(self._offset, n - 1 - self.window), n - 1)

    @locked
    def query(self, s, t) -> np.ndarray:
        """Signature of the pushed points ``x_s, ..., x_t`` (``0 <= s <= t < n_points``).

        Computed exactly from the stored points and the chunk tree (see the module
        docstring), in the stream's lift. ``query(0, n_points - 1)`` equals ``value``.

        Raises
        ------
        ValueError
            If ``s > t``, an index is out of range, or (with a window) ``s`` was dropped.
        """
        s = check_int(s, "s", 0)
        t = check_int(t, "t", 0)
        n = self.n_points
        if not s <= t < n:
            raise ValueError(f"need 0 <= s <= t < n_points = {n}, got s={s}, t={t}")
        if s < self._offset:
            raise ValueError(
                f"s={s} is outside the window: points before {self._offset} were dropped (window={self.window})"
            )
        self._build()
        out = np.empty(self.length)
        self._k.query(self._pts, self._leaf, self._nodes, s - self._offset, t - self._offset, out)
        return out

    def _build(self) -> None:
        """Bring the chunk tree up to date with the stored points."""
        n = int(self._count[0])
        leaves = (n - 1) // self._leaf if n else 0
        need = 2 * leaves
        if need > len(self._nodes):
            grown = np.empty((max(need, 2 * len(self._nodes), 16), self.length))
            grown[: self._n_nodes] = self._nodes[: self._n_nodes]
            self._nodes = grown
        self._n_nodes = int(self._k.build_nodes(self._pts, n, self._leaf, self._nodes, self._n_nodes))

    def __repr__(self) -> str:
        win = "" if self.window is None else f", window={self.window}"
        return f"SigStream(dim={self.dim}, depth={self.depth}, lift={self.lift!r}{win}, n_points={self.n_points})"
