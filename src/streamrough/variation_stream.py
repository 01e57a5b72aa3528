"""Incremental exact p-variation: append points, read V_p of everything so far.

One append is one step of the same branch-and-bound kernel the offline `pvar` runs for
every point (``streamrough._kernels.pvar.step``): the running values pv[j] = V_p(x; 0, j),
their argmax links and the dyadic block summaries live in contiguous arrays that grow
geometrically, and the summary of a block is built when its last point arrives. The cost of
n appends is therefore the offline cost plus the Python call overhead per append.
"""

from __future__ import annotations

import threading

import numpy as np

from . import _config
from ._streams import Stream, locked
from ._validation import _as_numeric_array, _check_finite, as_p_values, as_path, check_choice, check_int
from .results import PVarResult, collect
from .variation import NORMS, _unscale

__all__ = ["PVarStream"]


class PVarStream(Stream):
    """Exact p-variation of a growing path, for one or several p at once.

    After every `push` / `extend`, `level1`, `level1_power` and `partition1` equal what
    ``pvar(points_so_far, p, ...)`` returns (to rounding; ties may pick another optimal
    partition).

    Parameters
    ----------
    p : float >= 1, or a sequence of them
        With a sequence, `level1` and `level1_power` are arrays and `partition1` a tuple of arrays.
    dim : int, optional
        The dimension of a point (points of shape (m1, m2, ...) are flattened). Taken from the
        first point if not given.
    norm : {"euclidean", "l1", "linf"}

    Notes
    -----
    Points are stored as (x - x_0) 2^-e, with e an exact power-of-two scale chosen from the
    first nonzero displacement and raised (with an O(n) rescale) only if the path grows by a
    huge factor, so that no power overflows; the values are reported in the original units.
    Memory: about (d + 2k) * 8 bytes per point for k values of p, plus the block summaries
    ((3d + 1) * 8 bytes per 4 points) and the branch and bound's scratch (2 bytes per point).

    A stream is safe to use from several threads (each method runs under the stream's
    lock), pickles (to checkpoint an analysis) and copies: ``copy.copy`` and
    ``copy.deepcopy`` both give an independent stream.

    Examples
    --------
    >>> import streamrough as sr
    >>> s = sr.PVarStream(p=2)
    >>> for point in [0.0, 1.0, 0.0, 1.0]:
    ...     s.push([point])
    >>> s.level1_power, s.n_points, s.partition1.tolist()
    (3.0, 4, [0, 1, 2, 3])
    >>> s.extend([[3.0], [2.0]])
    >>> s.level1_power   # 0 -> 1 -> 0 -> 3 -> 2
    12.0
    """

    _TRANSIENT = ("_kernels", "_push", "_extend", "_state", "_front")

    def __init__(self, p, *, dim=None, norm="euclidean"):
        self._lock = threading.RLock()
        self._ps, self._scalar = as_p_values(p, "p")
        check_choice(norm, "norm", NORMS)
        self._norm = norm
        self._n = 0
        self._cap = 0
        self._d = None
        self._bind()
        # istate = [n, e, has_scale, T, counters, -, -]; T keeps (T + 1) max_p
        # below the float64 exponent range (p <= MAX_P = 500)
        self._istate = np.zeros(self._kernels.STREAM_STATE, np.int64)
        self._istate[3] = max(1, int(400 // float(self._ps.max())))
        if dim is not None:
            self._allocate(check_int(dim, "dim"))

    def _bind(self):
        from ._kernels import pvar as kernels

        self._kernels = kernels
        self._code = kernels.NORM_CODES[self._norm]
        specialised = kernels.for_norm(self._code)
        self._push = specialised.stream_push
        self._extend = specialised.stream_extend
        if self._d is not None:
            self._front = kernels.new_front(self._cap, self._ps.size)  # scratch, not state
            self._state = (self._X, self._pv, self._link, self._summ, self._x0, self._ps, self._istate, self._front)

    def _allocate(self, d):
        self._d = d
        self._x0 = np.zeros(d)
        self._grow(_config.STREAM_MIN_CAPACITY)

    def _grow(self, needed):
        cap = max(needed, 2 * self._cap, _config.STREAM_MIN_CAPACITY)
        k = self._ps.size
        n = self._n
        X = np.empty((cap, self._d))
        pv = np.empty((k, cap))
        link = np.empty((k, cap), np.int64)
        summ = np.zeros((self._kernels.summary_rows(cap), self._kernels.summary_cols(self._d)))
        if n:
            X[:n] = self._X[:n]
            pv[:, :n] = self._pv[:, :n]
            link[:, :n] = self._link[:, :n]
            summ[: self._summ.shape[0]] = self._summ
        self._X, self._pv, self._link, self._summ = X, pv, link, summ
        self._cap = cap
        self._front = self._kernels.new_front(cap, k)  # the kernels' scratch
        # the kernel arguments after the point, bound once: the push path stays one call
        self._state = (X, pv, link, summ, self._x0, self._ps, self._istate, self._front)

    @locked
    def push(self, point):
        """Append one point (array_like of `dim` numbers, or of any shape with `dim` entries).

        Raises
        ------
        TypeError
            A point that is not real-valued numeric (complex, strings).
        ValueError
            Wrong number of coordinates, NaN or inf (nothing is appended; a rejected first
            point does not fix the stream's dimension).
        """
        if type(point) is np.ndarray and point.dtype == np.float64:
            y = point
        else:
            y = np.asarray(_as_numeric_array(point, "point"), dtype=np.float64)
        if y.ndim != 1:
            y = y.reshape(-1)
        if self._d is None:
            if y.size == 0:
                raise ValueError("point must have at least one coordinate")
            _check_finite(y, "point")
            self._allocate(y.size)
        if y.shape[0] != self._d:
            raise ValueError(f"point has {y.shape[0]} coordinates, the stream's dimension is {self._d}")
        if self._n == self._cap:
            self._grow(self._n + 1)
        if not self._push(y, *self._state):
            raise ValueError("point contains NaN or inf")
        self._n += 1

    @locked
    def extend(self, points):
        """Append the points of an array_like of shape (m, dim) (or (m, m1, m2, ...))."""
        P = as_path(points, "points")
        if self._d is None:
            self._allocate(P.shape[1])
        if P.shape[1] != self._d:
            raise ValueError(f"points have {P.shape[1]} coordinates, the stream's dimension is {self._d}")
        if self._n + P.shape[0] > self._cap:
            self._grow(self._n + P.shape[0])
        self._extend(P, *self._state)
        self._n += P.shape[0]

    @property
    def p(self):
        """The exponent (float), or the exponents (ndarray)."""
        return float(self._ps[0]) if self._scalar else self._ps.copy()

    @property
    def n_points(self) -> int:
        """Number of points appended so far."""
        return self._n

    @property
    def point_norm(self) -> str:
        """The norm of the points (``"euclidean"``, ``"l1"`` or ``"linf"``)."""
        return self._norm

    @locked
    def _pairs(self):
        if self._n == 0:
            raise ValueError("the stream is empty: push a point first")
        e = int(self._istate[1])
        return [_unscale(float(self._pv[a, self._n - 1]), e, float(self._ps[a])) for a in range(self._ps.size)]

    @property
    def level1(self):
        """||x||_{p-var} of the points so far (float, or ndarray for several p)."""
        vals = np.array([v for v, _ in self._pairs()])
        return float(vals[0]) if self._scalar else vals

    @property
    def level1_power(self):
        """V_p of the points so far (float, or ndarray for several p)."""
        vals = np.array([w for _, w in self._pairs()])
        return float(vals[0]) if self._scalar else vals

    @property
    @locked
    def partition1(self):
        """An optimal partition of the points so far (int64 array, or a tuple for several p)."""
        if self._n == 0:
            raise ValueError("the stream is empty: push a point first")
        parts = tuple(
            self._kernels.follow_links(self._link[a, : self._n], self._n - 1) for a in range(self._ps.size)
        )
        return parts[0] if self._scalar else parts

    @locked
    def result(self) -> PVarResult:
        """The current values as :func:`streamrough.pvar` with ``return_partition=True`` returns
        them (``method="stream"``): one :class:`~streamrough.PVarResult`, with arrays over p for
        a sequence of p."""
        parts = self.partition1
        parts = (parts,) if self._scalar else parts
        results = [
            PVarResult(
                p=float(self._ps[a]), level1=value, level1_power=power, partition1=parts[a],
                method="stream", point_norm=self._norm, convention="values", n_points=self._n,
            )
            for a, (value, power) in enumerate(self._pairs())
        ]
        return collect(PVarResult, results, self._scalar)

    @property
    def distance_evaluations(self) -> int:
        """Distances computed so far (all p together): a measure of the pruning's work."""
        return int(self._istate[4])

    def __repr__(self):
        return f"PVarStream(p={self.p!r}, dim={self._d}, norm={self._norm!r}, n_points={self._n})"
