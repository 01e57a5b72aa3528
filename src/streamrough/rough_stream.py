"""Rough-path norms of a weight path received one layer at a time (math.md 4, 4.1).

``RoughStream`` is the online form of :func:`streamrough.rough_pvar`, by either of its
routes.  Direct route (narrow layers): each push appends one point to the path, extends the
prefix level-2 data by one Chen step, runs one step of the level-2 branch and bound per
exponent (the block summaries are computed once, when a block's last point arrives), and
forwards the point to a :class:`streamrough.PVarStream` (level 1) and a
:class:`streamrough.SigStream` (the running signature).  Gram route (wide layers): each push
adds one row of the Gram matrix of the increments and advances the interval recursion of
:func:`streamrough.gram_rough_pvar` and its exact DPs by one point
(:mod:`streamrough._gram_stream`).  After every push the values equal the offline
computation on the path so far.
"""

from __future__ import annotations

import threading

import numpy as np

from . import _config
from ._streams import Stream, locked
from ._validation import _as_numeric_array, _check_finite, as_p_values, check_choice, check_int, check_positive
from .paths import CONVENTIONS, LIFTS
from .rough import DEFAULT_MEMORY_BUDGET, _choose_route, _raised_scale, _results, _times_power_of_two, _warn_beyond
from .variation import _unscale

__all__ = ["RoughStream"]
STREAM_ROUTES = ("auto", "direct", "gram")


class RoughStream(Stream):
    r"""Level-1 and level-2 p-variation, ``|||X|||_p`` and the signature, updated per layer.

    With the path ``x`` of the layers pushed so far (``"increments"``: ``x_0 = 0``,
    ``x_k = W_0 + ... + W_{k-1}``; ``"values"``: ``x_k = W_k``),

    .. math::

        \text{level1} = \|x\|_{p\text{-var}},\quad
        \text{level2} = \|\mathbb{X}\|_{p/2\text{-var}},\quad
        \text{norm} = \text{level1} + \text{level2}^{1/2}

    exactly as :func:`streamrough.rough_pvar` would return them on the path so far (by the
    route in use).

    Two routes, chosen at the first push (``route="auto"``) or by the caller:

    - ``"direct"``: prefix level-2 data, ``8 D^2`` bytes per point and ``O(D^2)`` work per
      push (``D`` entries per layer): for narrow layers.
    - ``"gram"``: nothing of size ``D^2`` is formed.  The push of increment ``a_t`` computes
      the Gram row ``G_{jt} = <a_j, a_t>`` (``j <= t``, ``O(t D)``), then advances every
      start ``s <= t`` by one step of

      .. math::

          |\mathbb{X}_{s,t+1}|^2 = |\mathbb{X}_{s,t}|^2
            + 2 \sum_{s \le j < t} G_{jt} \langle x_{s,j}, x_{s,t} \rangle
            + |x_{s,t}|^2 G_{tt}

      (geometric lift: the form of :func:`streamrough.gram_rough_pvar`; the running inner
      products are ``O(t)`` state per start, ``O(t^2)`` work per push), and extends the
      exact DPs ``V(t+1) = max_{s <= t} V(s) + w(s, t+1)`` of both levels by one point
      (``O(t P)``).  State: one ``L x L`` float64 array plus the layers in their own dtype
      (float32 layers stay float32).  The values equal :func:`streamrough.gram_rough_pvar`
      on the path so far; with ``convention="values"`` the increments are the differences
      of the pushed points, formed in float64 (the accurate form, see
      :mod:`streamrough.gram`).

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
        Initial number of points the buffers hold (they double when full).  ``"auto"`` reads
        it as the expected length: pass the number of layers you will push.
    memory_budget : int
        Bytes the buffers may hold: direct route ``8 D^2`` per point; Gram route
        ``8 L^2`` (the ``L x L`` state) plus the layers, ``L`` the capacity.  Growing
        past it raises ``MemoryError`` naming the budget (nothing is appended).
    route : {"auto", "direct", "gram"}
        ``"auto"`` (default) decides at the first push with ``N = capacity``, by the rule of
        :func:`streamrough.rough_pvar` with the cost ratio measured against the running Gram
        recursion (the stream's Gram route is incremental, not the offline tree):
        ``"direct"`` when ``8 N D^2 <= memory_budget`` and it is the cheaper route
        (``N D^2 <= 2^16`` or ``700 N D^2 <= N^3``), ``"gram"`` otherwise, so a
        32 x 32 layer takes the Gram route.  The route never changes afterwards.

    Attributes
    ----------
    route : str
        The route in use (``"auto"`` until the first push decides).
    n_layers, n_points : int
    level1, level2, norm, omega : float or ndarray
        Current values (``omega = V_p(x) + V_{p/2}(XX)``); 0 before the path has two points.
    signature : ndarray or None
        Signature of the lift (``"iterated"``: iterated sums; ``"geometric"``) of the
        whole path, levels 1..depth, flat layout; None before the first push.  Direct route:
        kept current at every push.  Gram route: computed from the stored layers when read
        (``O(L D^depth)``, cached until the next push), because level 2 alone has ``D^2``
        entries (16.7 million at 64 x 64); ``MemoryError`` if ``8 (D + ... + D^depth)``
        bytes exceed `memory_budget`.

    Notes
    -----
    Direct route, cost per push: one Chen step (``O(D^2)``), one branch-and-bound step per
    p (the same evaluations as the offline pass) and amortised ``O(log N)`` summary
    evaluations: the total stays close to the offline computation.  Gram route:
    ``O(t D + t^2 + t P)`` for the push of layer t (measured: 1024 layers of 64 x 64 in
    2.3-4.6 s on a loaded 2-core machine, 3-14 ms per push at L = 1024;
    ``benchmarks/bench_rough_stream.py``).  Like
    :func:`rough_pvar`, both routes keep the path rescaled by an exact power of two (chosen
    from the first nonzero displacement or increment, raised with an exact rescale when it
    grows by ``2^T``), so no level-2 power overflows or underflows at any scale that float64
    represents.  Thread-safe (one
    lock per stream); pickles and copies (``copy.copy`` gives an independent stream).

    Examples
    --------
    >>> import numpy as np, streamrough as sr
    >>> st = sr.RoughStream(2.5)
    >>> st.push(np.array([[1.0, 0.0], [0.0, 0.0]]))
    >>> st.push(np.array([[0.0, 1.0], [0.0, 0.0]]))
    >>> st.n_points, round(st.level2, 12)      # XX_{0,2} = W_0 (x) W_1, of norm 1
    (3, 1.0)

    A deep network of wide layers, recorded layer by layer (the Gram route):

    >>> w = sr.brownian_weights(8, 32, seed=0)      # 8 layers of 32 x 32, D = 1024
    >>> wide = sr.RoughStream(2.5, capacity=8)
    >>> for layer in w:
    ...     wide.push(layer)
    >>> wide.route
    'gram'
    >>> off = sr.gram_rough_pvar(sr.layer_gram(w), 2.5)
    >>> abs(wide.norm - off.norm) <= 1e-12 * off.norm
    True
    """

    _TRANSIENT = ("_stream_extend",)

    def __init__(
        self,
        p,
        *,
        lift="iterated",
        convention="increments",
        depth=2,
        capacity=1024,
        memory_budget=DEFAULT_MEMORY_BUDGET,
        route="auto",
    ):
        from .variation_stream import PVarStream

        self._lock = threading.RLock()
        self._ps, self._scalar = as_p_values(p)
        _warn_beyond(self._ps)
        self.lift = check_choice(lift, "lift", LIFTS)
        self.convention = check_choice(convention, "convention", CONVENTIONS)
        self.depth = check_int(depth, "depth")
        self._capacity = check_int(capacity, "capacity")
        self._budget = check_positive(memory_budget, "memory_budget")
        self.route = check_choice(route, "route", STREAM_ROUTES)
        self._gram = None  # the Gram route's state (streamrough._gram_stream.GramLevels)
        self._sig_cache = None  # the Gram route's signature, computed on request: (n, value)
        self._level1 = PVarStream(self._ps if not self._scalar else float(self._ps[0]))
        self._sig = None
        self._shape = None
        self._n = 0  # points so far
        self._qs = self._ps / 2.0
        # stored points are (x - x_0) 2^-e; e is set by the first nonzero displacement and
        # raised (everything rescaled exactly) when a displacement reaches 2^(e + T), so that
        # no |XX|^(p/2) overflows ((T + 1) max p stays below 900) and no squared level-2 norm
        # |XX|^2 ~ 2^(4 T) does (T <= 200)
        self._e = None
        self._T = max(1, min(200, int(400 // float(self._ps.max()))))
        self._bind()

    def _bind(self):
        from ._kernels.rough import stream_extend

        self._stream_extend = stream_extend

    # ------------------------------------------------------------------ appending
    def _start(self, shape, dtype):
        """Choose the route and allocate the buffers for layers of `shape`; nothing changes
        if this fails."""
        d = int(np.prod(shape))
        route = _choose_route(self.route, self._capacity, d, self._budget, _config.DIRECT_COST_RATIO)
        if route == "gram":
            self._start_gram(shape, d, dtype)
        else:
            self._start_direct(shape, d)
        self.route = route

    def _start_gram(self, shape, d, dtype):
        from ._gram_stream import GramLevels, gram_bytes, storage_dtype

        dtype = storage_dtype(dtype)
        self._check_gram_budget(gram_bytes(self._capacity, d, dtype.itemsize, len(self._ps)), self._capacity, d)
        self._gram = GramLevels(
            d, dtype, self.convention == "values", self._ps, self.lift == "geometric", self._capacity, self._T
        )
        self._shape, self._d = shape, d

    def _check_gram_budget(self, nbytes, cap, d):
        if nbytes > self._budget:
            raise MemoryError(
                f"RoughStream (route='gram') needs {nbytes} bytes for {cap} layers of dimension "
                f"D = {d} (a {cap} x {cap} float64 array and the layers), more than "
                f"memory_budget = {self._budget} bytes; raise memory_budget"
            )

    def _start_direct(self, shape, d):
        from ._kernels.rough import root_tables, summary_width
        from .signature_stream import SigStream

        cap = self._capacity
        self._check_budget(cap, d)
        buffers = dict(
            _xs=np.zeros((cap, d)),
            _p2=np.zeros((cap, d * d)),
            _summ=np.zeros((cap, summary_width(d, False))),
            _pv=np.zeros((len(self._qs), cap)),
            _link=np.zeros((len(self._qs), cap), dtype=np.int64),
            _state=np.zeros(1),
            _stack_s=np.zeros(64, dtype=np.int64),
            _stack_z=np.zeros(64, dtype=np.int64),
            _roots=root_tables(self._qs),
            _origin=None,  # "values": the first layer (the path is kept relative to it)
            _last=np.zeros(d),  # "increments": the last point (x_0 = 0)
            _sig=SigStream(d, self.depth, lift=self.lift),
        )
        self.__dict__.update(buffers)
        self._shape, self._d = shape, d

    def _check_budget(self, cap, d):
        if 8 * cap * d * d > self._budget:
            raise MemoryError(
                f"RoughStream needs 8 * N * D^2 = {8 * cap * d**2} bytes for {cap} points of "
                f"dimension D = {d} (memory_budget = {self._budget}); for wide layers use "
                "RoughStream(..., route='gram')"
            )

    def _grow(self, need):
        cap = self._xs.shape[0]
        if need <= cap:
            return
        new = max(2 * cap, need)
        self._check_budget(new, self._d)

        self._xs = _resize_rows(self._xs, new)
        self._p2 = _resize_rows(self._p2, new)
        self._summ = _resize_rows(self._summ, new)
        self._pv = _resize_cols(self._pv, new)
        self._link = _resize_cols(self._link, new)

    def _as_layers(self, layers, name, single):
        """(rows of shape (k, D) in their own real dtype, layer shape), checked."""
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
        return np.ascontiguousarray(arr).reshape(-1, int(np.prod(shape))), shape

    @locked
    def push(self, layer) -> None:
        """Append one layer (any shape, the same for every push; flattened row-major).

        Raises
        ------
        ValueError
            Wrong layer shape, NaN or inf (nothing is appended).
        MemoryError
            The buffers would exceed `memory_budget` (nothing is appended; the stream stays usable).
        """
        if self._n > 0 and type(layer) is np.ndarray and layer.dtype == np.float64 and layer.shape == self._shape:
            # fast path: a float64 layer of the stream's shape
            row = layer.reshape(1, -1)
            if not np.isfinite(row).all():
                raise ValueError("layer contains NaN or inf")
            self._append(row, self._shape)
            return
        rows, shape = self._as_layers(layer, "layer", True)
        self._append(rows, shape)

    @locked
    def extend(self, layers) -> None:
        """Append the layers ``layers[0], layers[1], ...`` in order (all or nothing)."""
        rows, shape = self._as_layers(layers, "layers", False)
        if len(rows):
            self._append(rows, shape)

    def _rescale(self, k):
        """Divide the stored path by 2^k (exact): every stored quantity by its power of 2^k."""
        n, d = self._n, self._d
        self._xs[:n] = np.ldexp(self._xs[:n], -k)
        self._p2[:n] = np.ldexp(self._p2[:n], -2 * k)
        self._state[0] = np.ldexp(self._state[0], -2 * k)
        # summary columns (kernels.rough.summary_width, one path): A1, A2, Ay (levels 1, 2, 1),
        # the lows of the boxes of g (level 3) and of x_{m,b} (level 1), then their highs
        powers = np.array([1, 2, 1] + ([3] * d + [1] * d) * 2)
        self._summ[:n] = np.ldexp(self._summ[:n], -k * powers)
        for i, p in enumerate(self._ps):  # |XX|^(p/2) scales like 2^(-k p)
            self._pv[i, :n] = _times_power_of_two(self._pv[i, :n], -k * float(p))

    def _scaled(self, rel):
        """`rel` (displacements from x_0) in the stored units, raising the scale if needed."""
        self._e, shift = _raised_scale(self._e, rel, self._T)
        if shift:
            self._rescale(shift)
        return rel if self._e is None else np.ldexp(rel, -self._e)

    def _append(self, rows, shape):
        if rows.dtype.kind == "f" and not np.isfinite(rows).all():
            raise ValueError("layers contain NaN or inf")
        if self._shape is None:
            self._start(shape, rows.dtype)
        if self.route == "gram":
            self._append_gram(rows)
            return
        rows = np.asarray(rows, dtype=np.float64)
        if self.convention == "increments":
            points = np.cumsum(rows, axis=0)
            points += self._last
            if self._n == 0:
                points = np.vstack([np.zeros((1, self._d)), points])
            absolute = rel = points
        else:
            origin = rows[0] if self._n == 0 else self._origin
            absolute = rows
            rel = rows - origin
        if not (np.isfinite(absolute).all() and np.isfinite(rel).all()):
            raise ValueError("the path overflows: its points or displacements are not finite in float64")
        self._grow(self._n + len(rel))
        scaled = np.ascontiguousarray(self._scaled(rel))
        ok = self._stream_extend(
            self._n, scaled, self.lift == "geometric", self._xs, self._p2, self._summ, self._qs,
            self._pv, self._link, self._state, self._stack_s, self._stack_z, self._roots,
        )
        if not ok:  # unreachable after the checks above; a guard against a wrong number
            raise ValueError("layers contain NaN or inf")
        self._level1.extend(absolute)
        self._sig.extend(absolute)
        self._n += len(rel)
        if self.convention == "increments":
            self._last = absolute[-1].copy()
        elif self._origin is None:
            self._origin = rows[0].copy()

    def _append_gram(self, rows):
        """Gram route: check everything (capacity, dtype, overflow), then push row by row."""
        from ._gram_stream import storage_dtype

        g = self._gram
        dtype = np.promote_types(g.rows.dtype, storage_dtype(rows.dtype))
        if g.differences:  # the increments are differences of points, formed in float64
            first = g.rows[g.n_rows - 1 : g.n_rows].astype(np.float64)
            with np.errstate(over="ignore", invalid="ignore"):
                diffs = np.diff(np.concatenate([first, rows.astype(np.float64)]), axis=0)
            if not np.isfinite(diffs).all():
                raise ValueError("the path overflows: differences of its points are not finite in float64")
        need = g.increments_needed(len(rows))
        cap = g.capacity if need <= g.capacity else max(2 * g.capacity, need)
        if cap > g.capacity or dtype != g.rows.dtype:
            from ._gram_stream import gram_bytes

            self._check_gram_budget(gram_bytes(cap, self._d, dtype.itemsize, len(self._ps)), cap, self._d)
            g.promote(dtype)
            g.grow_to(cap)
        for row in rows:
            g.push(row)
        self._n = g.n_points

    # ------------------------------------------------------------------ reading
    @property
    def n_points(self) -> int:
        return self._n

    @property
    def n_layers(self) -> int:
        if self.convention == "increments":
            return max(self._n - 1, 0)
        return self._n

    @locked
    def _levels(self):
        """Per p: (level1, V_p(x), ||XX||_{p/2-var}^(1/2), V_{p/2}(XX)) in the original units."""
        if self._n == 0:
            return [(0.0, 0.0, 0.0, 0.0)] * len(self._ps)
        if self.route == "gram":
            return self._gram.levels()
        e = 0 if self._e is None else self._e
        ones = self._level1._pairs()
        twos = [_unscale(float(self._pv[i, self._n - 1]), e, float(p)) for i, p in enumerate(self._ps)]
        return [(v1, w1, v2, w2) for (v1, w1), (v2, w2) in zip(ones, twos)]

    def _out(self, column, transform=None):
        values = np.array([row[column] for row in self._levels()])
        if transform is not None:
            with np.errstate(over="ignore"):
                values = transform(values)
        return float(values[0]) if self._scalar else values

    @property
    def level1(self):
        return self._out(0)

    @property
    def level2(self):
        return self._out(2, np.square)

    @property
    def norm(self):
        return self._out(slice(None), lambda rows: rows[:, 0] + rows[:, 2])

    @property
    def omega(self):
        return self._out(slice(None), lambda rows: rows[:, 1] + rows[:, 3])

    @property
    def signature(self):
        if self.route == "gram":
            return self._gram_signature()
        return None if self._sig is None else self._sig.value

    @locked
    def _gram_signature(self):
        """The Gram route keeps no running signature (D^2 entries per push at level 2): it is
        computed from the stored layers on request, once per length, within memory_budget."""
        from .signatures import sig_length, signature

        if self._n == 0:
            return None
        if self._sig_cache is not None and self._sig_cache[0] == self._n:
            return self._sig_cache[1]
        nbytes = 8 * sig_length(self._d, self.depth)
        if nbytes > self._budget:
            raise MemoryError(
                f"RoughStream.signature: depth {self.depth} at D = {self._d} has "
                f"{nbytes // 8} entries ({nbytes} bytes), more than memory_budget = {self._budget} "
                "bytes; use a smaller depth (depth=1 is the displacement) or raise memory_budget"
            )
        value = signature(self._gram.path(), self.depth, lift=self.lift)
        self._sig_cache = (self._n, value)
        return value

    @locked
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
        levels = self._levels()
        if self.route == "gram":
            g = self._gram
            with np.errstate(over="ignore"):
                levels1 = [(w1, v1, part) for (v1, w1, _, _), part in zip(levels, g.partitions(1))]
                levels2 = [(w2, float(np.square(v2)), part) for (_, _, v2, w2), part in zip(levels, g.partitions(2))]
            return _results(
                self._ps, levels1, levels2, self._scalar, distance=False, lift=self.lift,
                convention=self.convention, route="gram", n_points=self._n,
            )
        parts = self._level1.partition1
        parts = [parts] if self._scalar else list(parts)
        with np.errstate(over="ignore"):
            levels1 = [(w1, v1, part) for (v1, w1, _, _), part in zip(levels, parts)]
            levels2 = [
                (w2, float(np.square(v2)), follow_links(link, self._n - 1))
                for (_, _, v2, w2), link in zip(levels, self._link)
            ]
        return _results(
            self._ps, levels1, levels2, self._scalar, distance=False, lift=self.lift,
            convention=self.convention, route="direct", n_points=self._n,
        )

    def __repr__(self) -> str:
        ps = float(self._ps[0]) if self._scalar else self._ps.tolist()
        return (
            f"RoughStream(p={ps}, lift={self.lift!r}, convention={self.convention!r}, route={self.route!r}, "
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

