"""Rough-path norms of a weight path received one layer at a time (math.md 4, 4.1).

``RoughStream`` is the online form of :func:`streamrough.rough_pvar`'s direct route: each
push appends one point to the path, extends the prefix level-2 data by one Chen step, runs
one step of the level-2 branch and bound per exponent (the block summaries are computed
once, when a block's last point arrives), and forwards the point to a
:class:`streamrough.PVarStream` (level 1) and a :class:`streamrough.SigStream` (the running
signature).  After every push the values equal the offline computation on the path so far.
"""

from __future__ import annotations

import numpy as np

from ._validation import _as_numeric_array, _check_finite, as_p_values, check_choice, check_int, check_positive
from .paths import CONVENTIONS, LIFTS
from .rough import DEFAULT_MEMORY_BUDGET, _results, _warn_beyond, _with_roots

__all__ = ["RoughStream"]


class RoughStream:
    r"""Level-1 and level-2 p-variation, ``|||X|||_p`` and the signature, updated per layer.

    With the path ``x`` of the layers pushed so far (``"increments"``: ``x_0 = 0``,
    ``x_k = W_0 + ... + W_{k-1}``; ``"values"``: ``x_k = W_k``),

    .. math::

        \text{level1} = \|x\|_{p\text{-var}},\quad
        \text{level2} = \|\mathbb{X}\|_{p/2\text{-var}},\quad
        \text{norm} = \text{level1} + \text{level2}^{1/2}

    exactly as :func:`streamrough.rough_pvar` (direct route) would return them.

    Parameters
    ----------
    p : float or sequence of float
        Exponents ``>= 1``; with a sequence the properties are arrays over p.
    lift : {"iterated", "geometric"}
    convention : {"increments", "values"}
        What a pushed layer is: the next increment (default) or the next point.
    depth : int
        Depth of the running signature (``signature`` property), ``>= 1``.  Levels 1 and 2
        of the rough path are always computed.
    capacity : int
        Initial number of points the buffers hold (they double when full).
    memory_budget : int
        The prefix level-2 data costs ``8 D^2`` bytes per point (``D`` entries per layer);
        growing past this many bytes raises ``MemoryError`` (wide layers belong to the Gram
        route of :func:`streamrough.rough_pvar`).

    Attributes
    ----------
    n_layers, n_points : int
    level1, level2, norm, omega : float or ndarray
        Current values (``omega = V_p(x) + V_{p/2}(XX)``); 0 before the path has two points.
    signature : ndarray or None
        Running signature of the lift (``"iterated"``: iterated sums; ``"geometric"``) of the
        whole path, levels 1..depth, flat layout; None before the first push.

    Notes
    -----
    Cost per push: one Chen step (``O(D^2)``), one branch-and-bound step per p (the same
    evaluations as the offline pass) and amortised ``O(log N)`` summary evaluations: the
    total stays close to the offline computation.  Unlike :func:`rough_pvar`, the stream
    works in the units it is given (it cannot rescale a path it has not seen): level 2 holds
    squares of displacements, so displacements beyond about ``1e150`` overflow.

    Examples
    --------
    >>> import numpy as np, streamrough as sr
    >>> st = sr.RoughStream(2.5)
    >>> st.push(np.array([[1.0, 0.0], [0.0, 0.0]]))
    >>> st.push(np.array([[0.0, 1.0], [0.0, 0.0]]))
    >>> st.n_points, round(st.level2, 12)      # XX_{0,2} = W_0 (x) W_1, of norm 1
    (3, 1.0)
    """

    def __init__(
        self,
        p,
        *,
        lift="iterated",
        convention="increments",
        depth=2,
        capacity=1024,
        memory_budget=DEFAULT_MEMORY_BUDGET,
    ):
        from ._kernels.rough import stream_extend
        from .variation_stream import PVarStream

        self._stream_extend = stream_extend

        self._ps, self._scalar = as_p_values(p)
        _warn_beyond(self._ps)
        self.lift = check_choice(lift, "lift", LIFTS)
        self.convention = check_choice(convention, "convention", CONVENTIONS)
        self.depth = check_int(depth, "depth")
        self._capacity = check_int(capacity, "capacity")
        self._budget = check_positive(memory_budget, "memory_budget")
        self._level1 = PVarStream(self._ps if not self._scalar else float(self._ps[0]))
        self._sig = None
        self._shape = None
        self._n = 0  # points so far
        self._qs = self._ps / 2.0

    # ------------------------------------------------------------------ appending
    def _start(self, shape):
        from ._kernels.rough import summary_width
        from .signature_stream import SigStream

        self._shape = shape
        d = int(np.prod(shape))
        self._d = d
        cap = self._capacity
        self._check_budget(cap)
        self._xs = np.zeros((cap, d))
        self._p2 = np.zeros((cap, d * d))
        self._summ = np.zeros((cap, summary_width(d)))
        self._pv = np.zeros((len(self._qs), cap))
        self._link = np.zeros((len(self._qs), cap), dtype=np.int64)
        self._state = np.zeros(1)
        self._stack_s = np.zeros(64, dtype=np.int64)
        self._stack_z = np.zeros(64, dtype=np.int64)
        self._origin = None  # "values": the first layer (the path is kept relative to it)
        self._last = np.zeros(d)  # "increments": the last point (x_0 = 0)
        self._sig = SigStream(d, self.depth, lift=self.lift)

    def _check_budget(self, cap):
        if 8 * cap * self._d * self._d > self._budget:
            raise MemoryError(
                f"RoughStream needs 8 * N * D^2 = {8 * cap * self._d**2} bytes for {cap} points of "
                f"dimension D = {self._d} (memory_budget = {self._budget}); for wide layers use "
                "streamrough.rough_pvar(..., route='gram')"
            )

    def _grow(self, need):
        cap = self._xs.shape[0]
        if need <= cap:
            return
        new = max(2 * cap, need)
        self._check_budget(new)

        self._xs = _resize_rows(self._xs, new)
        self._p2 = _resize_rows(self._p2, new)
        self._summ = _resize_rows(self._summ, new)
        self._pv = _resize_cols(self._pv, new)
        self._link = _resize_cols(self._link, new)

    def _as_layers(self, layers, name, single):
        arr = _as_numeric_array(layers, name)
        shape = arr.shape if single else arr.shape[1:]
        if not single and arr.ndim < 2:
            raise ValueError(f"{name} must have shape (k, *layer_shape), got shape {arr.shape}")
        if single and arr.ndim == 0:
            arr = arr.reshape(1)
            shape = (1,)
        if self._shape is not None and shape != self._shape:
            raise ValueError(
                f"{name} has layer shape {shape}, but the stream's layers have shape {self._shape}"
            )
        if int(np.prod(shape)) == 0:
            raise ValueError(f"{name} has layers with no entries (shape {shape})")
        _check_finite(arr, name)
        return np.ascontiguousarray(arr, dtype=np.float64).reshape(-1, int(np.prod(shape))), shape

    def push(self, layer) -> None:
        """Append one layer (any shape, the same for every push; flattened row-major).

        Raises
        ------
        ValueError
            Wrong layer shape, NaN or inf (nothing is appended).
        """
        if (
            self._n > 0
            and type(layer) is np.ndarray
            and layer.dtype == np.float64
            and layer.shape == self._shape
        ):
            # fast path: a float64 layer of the stream's shape (finiteness checked in the kernel)
            row = layer.reshape(-1)
            if self.convention == "increments":
                absolute = self._last + row
                rel = absolute
            else:
                absolute = row
                rel = row - self._origin
            self._grow(self._n + 1)
            self._run(rel.reshape(1, -1), "layer")
            self._level1.push(absolute)
            self._sig.push(absolute)
            self._n += 1
            if self.convention == "increments":
                self._last = absolute
            return
        rows, shape = self._as_layers(layer, "layer", True)
        self._append(rows, shape)

    def extend(self, layers) -> None:
        """Append the layers ``layers[0], layers[1], ...`` in order (all or nothing)."""
        rows, shape = self._as_layers(layers, "layers", False)
        if len(rows):
            self._append(rows, shape)

    def _run(self, points, name):
        ok = self._stream_extend(
            self._n, points, self.lift == "geometric", self._xs, self._p2, self._summ, self._qs,
            self._pv, self._link, self._state, self._stack_s, self._stack_z,
        )
        if not ok:
            raise ValueError(f"{name} contains NaN or inf")

    def _append(self, rows, shape):
        if self._shape is None:
            self._start(shape)
        if self.convention == "increments":
            points = np.cumsum(rows, axis=0)
            points += self._last
            if self._n == 0:
                points = np.vstack([np.zeros((1, self._d)), points])
            absolute = points
        else:
            if self._n == 0:
                self._origin = rows[0].copy()
            absolute = rows
            points = rows - self._origin
        self._grow(self._n + len(points))
        self._run(points, "layers")
        self._level1.extend(absolute)
        self._sig.extend(absolute)
        self._n += len(points)
        if self.convention == "increments":
            self._last = absolute[-1].copy()

    # ------------------------------------------------------------------ reading
    @property
    def n_points(self) -> int:
        return self._n

    @property
    def n_layers(self) -> int:
        if self.convention == "increments":
            return max(self._n - 1, 0)
        return self._n

    def _level2_power(self):
        if self._n == 0:
            return np.zeros(len(self._ps))
        return self._pv[:, self._n - 1].copy()

    def _level1_power(self):
        if self._n == 0:
            return np.zeros(len(self._ps))
        return np.atleast_1d(np.asarray(self._level1.level1_power, dtype=np.float64))

    def _out(self, values):
        return float(values[0]) if self._scalar else values

    @property
    def level1(self):
        return self._out(self._level1_power() ** (1.0 / self._ps))

    @property
    def level2(self):
        return self._out(self._level2_power() ** (2.0 / self._ps))

    @property
    def norm(self):
        return self._out(
            self._level1_power() ** (1.0 / self._ps) + self._level2_power() ** (1.0 / self._ps)
        )

    @property
    def omega(self):
        return self._out(self._level1_power() + self._level2_power())

    @property
    def signature(self):
        return None if self._sig is None else self._sig.value

    def result(self):
        """The current values with optimal partitions, as :func:`rough_pvar` returns them.

        Returns
        -------
        RoughResult
            Float fields for a number `p`, arrays over p for a sequence (``route="direct"``).
        """
        from ._kernels.pvar import follow_links

        if self._n == 0:
            raise ValueError("RoughStream.result(): no layer pushed yet")
        parts = self._level1.partition1
        parts = [parts] if self._scalar else list(parts)
        levels1 = _with_roots(list(zip(self._level1_power(), parts)), self._ps, 1.0)
        levels2 = _with_roots(
            [(v, follow_links(link, self._n - 1)) for v, link in zip(self._level2_power(), self._link)],
            self._ps, 2.0,
        )
        return _results(
            self._ps, levels1, levels2, self._scalar, distance=False, lift=self.lift,
            convention=self.convention, route="direct", n_points=self._n,
        )

    def __repr__(self) -> str:
        ps = float(self._ps[0]) if self._scalar else self._ps.tolist()
        return (
            f"RoughStream(p={ps}, lift={self.lift!r}, convention={self.convention!r}, "
            f"n_layers={self.n_layers})"
        )


def _resize_rows(a, new):
    out = np.zeros((new,) + a.shape[1:], dtype=a.dtype)
    out[: a.shape[0]] = a
    return out


def _resize_cols(a, new):
    out = np.zeros(a.shape[:-1] + (new,), dtype=a.dtype)
    out[..., : a.shape[-1]] = a
    return out

