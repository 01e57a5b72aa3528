"""The result family: one rule for every result object of streamrough.

The rule
--------
- A function that returns numbers (``pvar`` without a partition, ``pvar_batch``,
  ``pvar_running``) keeps returning numbers: a float for a number ``p``, an array with a
  trailing axis of length P for a sequence of P exponents.
- A function that returns a result object returns ONE object whatever ``p`` is. For a number
  ``p`` its per-exponent fields are scalars (floats, one int64 partition array, one string).
  For a sequence of P exponents the same type holds arrays: every numeric per-exponent field
  is a float64 array of shape (P,), every partition field a tuple of P int64 arrays (they
  have different lengths), and every other per-exponent field (``method``, ``regime``) a
  tuple of P values. It is indexable (``res[i]`` is the result for ``p[i]``, of the same type
  with scalar fields), iterable and has ``len(res) == P``. Fields that describe the call
  (``lift``, ``convention``, ``route``, ...) are the same for every exponent and stay scalar.
- Every result has ``to_dict()`` (field name -> value) and ``to_pandas()`` (a
  ``pandas.DataFrame`` with one row per exponent; pandas is imported only then).

Field names mean the same thing in every result
-----------------------------------------------
==================  ==========================================================================
``p``               the exponent
``level1``          ``||x||_{p-var} = V_p(x)^(1/p)`` (a norm)
``level1_power``    ``V_p(x) = max over partitions of sum |x_{t_i,t_{i+1}}|^p`` (p-th power)
``level2``          ``||XX||_{p/2-var} = V_{p/2}(XX)^(2/p)`` (a norm)
``level2_power``    ``V_{p/2}(XX) = max over partitions of sum |XX_{t_i,t_{i+1}}|^(p/2)``
``norm``            ``|||X|||_p = level1 + sqrt(level2)``: the homogeneous rough-path norm
                    (:class:`RoughResult` only)
``rho``             ``rho_p(X, Y) = level1 + level2`` of ``x - y`` and ``XX - YY``: the
                    inhomogeneous rough-path distance (:class:`RoughDistanceResult` only)
``omega``           ``V_p + V_{p/2}``: the control of the whole path (p-th-power form)
``partition1``      an optimal partition of level 1 (indices of path points, int64)
``partition2``      an optimal partition of level 2
``convention``      how the input was read: ``"increments"`` or ``"values"`` (a path)
``lift``            ``"iterated"`` or ``"geometric"``
==================  ==========================================================================

``norm`` and ``rho`` are different quantities on purpose: ``|||X|||_p`` takes the square root
of level 2 so that it scales like level 1 (``|||c X|||_p = c |||X|||_p`` under dilation),
while ``rho_p`` adds level 2 as it is (it is the distance of the rough-path topology, and it
is not homogeneous). The name tells which one a number is.

Examples
--------
>>> import streamrough as sr
>>> res = sr.pvar([0.0, 1.0, 0.0, 1.0], [1.5, 2.0], return_partition=True)
>>> len(res), res.level1_power.tolist(), res[1].level1_power
(2, [3.0, 3.0], 3.0)
>>> [r.p for r in res]
[1.5, 2.0]
"""

from __future__ import annotations

import dataclasses
import math

import numpy as np

__all__ = ["PVarResult", "RoughResult", "RoughDistanceResult", "RoughRegimeWarning"]


class RoughRegimeWarning(UserWarning):
    """p >= 3: a rough path needs levels 1..floor(p); levels 1 and 2 alone do not control it."""


def per_p(kind: str):
    """A dataclass field that takes one value per exponent.

    `kind` is ``"number"`` (float, stacked into a float64 array of shape (P,)),
    ``"partition"`` (int64 array or None, stacked into a tuple of arrays) or ``"label"``
    (any other value, stacked into a tuple).
    """
    return dataclasses.field(metadata={"per_p": kind})


class ResultFamily:
    """Mixin of the result dataclasses: scalar or per-exponent fields, indexing, tables."""

    __slots__ = ()

    @classmethod
    def _per_p_fields(cls):
        return [(f.name, f.metadata["per_p"]) for f in dataclasses.fields(cls) if "per_p" in f.metadata]

    @property
    def is_sequence(self) -> bool:
        """True if this result holds several exponents (fields are arrays or tuples)."""
        return isinstance(self.p, np.ndarray)

    @classmethod
    def stack(cls, results):
        """One result holding the scalar `results` (one per exponent, in order)."""
        results = list(results)
        if not results or any(r.is_sequence for r in results):
            raise ValueError("stack needs a non-empty list of results for single exponents")
        first = results[0]
        values = {}
        per = dict(cls._per_p_fields())
        for f in dataclasses.fields(cls):
            column = [getattr(r, f.name) for r in results]
            kind = per.get(f.name)
            if kind == "number":
                values[f.name] = np.array(column, dtype=np.float64)
            elif kind == "partition":
                values[f.name] = None if all(c is None for c in column) else tuple(column)
            elif kind == "label":
                values[f.name] = tuple(column)
            else:
                values[f.name] = getattr(first, f.name)
        return cls(**values)

    def __len__(self) -> int:
        if not self.is_sequence:
            raise TypeError(f"{type(self).__name__} for a single p has no length (p = {self.p})")
        return int(self.p.shape[0])

    def __getitem__(self, i):
        n = len(self)
        if not isinstance(i, (int, np.integer)) or isinstance(i, bool):
            raise TypeError(f"{type(self).__name__} indices must be integers, got {i!r}")
        if not -n <= i < n:
            raise IndexError(f"index {i} out of range for {n} exponents")
        i = int(i) % n
        values = {}
        per = dict(self._per_p_fields())
        for f in dataclasses.fields(self):
            value = getattr(self, f.name)
            kind = per.get(f.name)
            if kind == "number":
                values[f.name] = float(value[i])
            elif kind is not None and value is not None:
                values[f.name] = value[i]
            else:
                values[f.name] = value
        return type(self)(**values)

    def __iter__(self):
        return (self[i] for i in range(len(self)))

    def __eq__(self, other):
        if type(other) is not type(self):
            return NotImplemented
        return all(_same(getattr(self, f.name), getattr(other, f.name)) for f in dataclasses.fields(self))

    __hash__ = None  # fields hold arrays

    def to_dict(self) -> dict:
        """Field name -> value (the arrays themselves, not copies)."""
        return {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}

    def to_pandas(self):
        """A ``pandas.DataFrame`` with one row per exponent and one column per field.

        Raises
        ------
        ImportError
            If pandas is not installed (it is an optional dependency).
        """
        try:
            import pandas as pd
        except ImportError:
            raise ImportError(
                f"{type(self).__name__}.to_pandas() needs pandas, an optional dependency: "
                "pip install pandas (or use to_dict())"
            ) from None
        rows = [r.to_dict() for r in self] if self.is_sequence else [self.to_dict()]
        return pd.DataFrame(rows, columns=[f.name for f in dataclasses.fields(self)])


def _same(a, b) -> bool:
    """Field equality: arrays elementwise, containers item by item, NaN equal to NaN."""
    if isinstance(a, np.ndarray) or isinstance(b, np.ndarray):
        return np.shape(a) == np.shape(b) and bool(np.array_equal(a, b, equal_nan=np.asarray(a).dtype.kind == "f"))
    if isinstance(a, (tuple, list)) and isinstance(b, (tuple, list)):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b))
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(_same(a[k], b[k]) for k in a)
    if isinstance(a, float) and isinstance(b, float) and math.isnan(a) and math.isnan(b):
        return True
    return a == b


def collect(cls, results, scalar: bool):
    """`results[0]` for a number p, else one `cls` result stacking them."""
    return results[0] if scalar else cls.stack(results)


@dataclasses.dataclass(frozen=True, eq=False)
class PVarResult(ResultFamily):
    """The p-variation of a path with an optimal partition (:func:`streamrough.pvar`).

    Attributes
    ----------
    p : float, or ndarray of shape (P,)
    level1 : float or ndarray
        ``||x||_{p-var} = V_p^(1/p)``.
    level1_power : float or ndarray
        ``V_p = sum over the partition of |x_{t_{i+1}} - x_{t_i}|^p``.
    partition1 : int64 ndarray, or tuple of them
        Indices ``0 = t_0 < ... < t_m = N-1`` of an optimal partition (optimal partitions
        are not unique; this one reproduces `level1_power`).
    method : str, or tuple of str
        What computed it: ``"dp"``, ``"bnb"``, ``"1d"``, ``"sum"`` (p = 1 under "auto") or
        ``"stream"`` (:meth:`streamrough.PVarStream.result`).
    point_norm : str
        The norm of the points, ``"euclidean"``, ``"l1"`` or ``"linf"`` (the ``norm=``
        argument of :func:`streamrough.pvar`).
    convention : str
        How the input was read (``"values"`` for a path; see :func:`streamrough.weight_path`).
    n_points : int
        Number of points of the path.
    """

    p: float | np.ndarray = per_p("number")
    level1: float | np.ndarray = per_p("number")
    level1_power: float | np.ndarray = per_p("number")
    partition1: np.ndarray | tuple | None = per_p("partition")
    method: str | tuple = per_p("label")
    point_norm: str = "euclidean"
    convention: str = "values"
    n_points: int = 0


@dataclasses.dataclass(frozen=True, eq=False)
class RoughResult(ResultFamily):
    """Rough-path p-variation of one path (:func:`streamrough.rough_pvar`,
    :func:`streamrough.gram_rough_pvar`, :meth:`streamrough.RoughStream.result`).

    Attributes
    ----------
    p : float, or ndarray of shape (P,)
    level1, level2 : float or ndarray
        ``||x||_{p-var}`` and ``||XX||_{p/2-var} = V_{p/2}(XX)^(2/p)`` (norms).
    norm : float or ndarray
        ``|||X|||_p = level1 + sqrt(level2)``.
    omega : float or ndarray
        The control ``omega(0, N) = V_p(x) + V_{p/2}(XX)`` (p-th-power form).
    level1_power, level2_power : float or ndarray
        ``V_p(x)`` and ``V_{p/2}(XX)``.
    partition1, partition2 : int64 ndarray, tuple of them, or None
        Optimal partitions of levels 1 and 2 (indices of path points; for the increments
        convention point k is the path after layer k - 1). None from the Gram functions
        unless ``return_partition=True``.
    regime : str, or tuple of str
        ``"young"`` (p < 2: level 1 suffices), ``"rough"`` (2 <= p < 3) or ``"beyond"``
        (p >= 3: levels 1 and 2 do not control the rough path).
    lift : str
        ``"iterated"`` or ``"geometric"``.
    convention : str
        ``"increments"`` or ``"values"`` (a path is read as ``"values"``).
    route : str
        ``"direct"``, ``"gram"`` or ``"projection"`` (approximate).
    n_points : int
        Number of points of the path.
    projection : dict or None
        For ``route="projection"``: ``{"dim", "seed", "distortion", ...}``; None when exact.
    """

    p: float | np.ndarray = per_p("number")
    level1: float | np.ndarray = per_p("number")
    level2: float | np.ndarray = per_p("number")
    norm: float | np.ndarray = per_p("number")
    omega: float | np.ndarray = per_p("number")
    level1_power: float | np.ndarray = per_p("number")
    level2_power: float | np.ndarray = per_p("number")
    partition1: np.ndarray | tuple | None = per_p("partition")
    partition2: np.ndarray | tuple | None = per_p("partition")
    regime: str | tuple = per_p("label")
    lift: str = "iterated"
    convention: str = "increments"
    route: str = "direct"
    n_points: int = 0
    projection: dict | None = None


@dataclasses.dataclass(frozen=True, eq=False)
class RoughDistanceResult(ResultFamily):
    """Inhomogeneous rough-path distance of two paths (:func:`streamrough.rough_distance`,
    :func:`streamrough.gram_rough_distance`).

    Attributes
    ----------
    p : float, or ndarray of shape (P,)
    level1, level2 : float or ndarray
        ``||x - y||_{p-var}`` and ``||XX - YY||_{p/2-var}`` (norms).
    rho : float or ndarray
        ``rho_p(X, Y) = level1 + level2`` (not ``level1 + sqrt(level2)``: see the module notes).
    omega, level1_power, level2_power, partition1, partition2, regime, lift, convention, route, n_points
        As in :class:`RoughResult`, for the differences ``x - y`` and ``XX - YY``.
    """

    p: float | np.ndarray = per_p("number")
    level1: float | np.ndarray = per_p("number")
    level2: float | np.ndarray = per_p("number")
    rho: float | np.ndarray = per_p("number")
    omega: float | np.ndarray = per_p("number")
    level1_power: float | np.ndarray = per_p("number")
    level2_power: float | np.ndarray = per_p("number")
    partition1: np.ndarray | tuple | None = per_p("partition")
    partition2: np.ndarray | tuple | None = per_p("partition")
    regime: str | tuple = per_p("label")
    lift: str = "iterated"
    convention: str = "increments"
    route: str = "direct"
    n_points: int = 0


def regime(p: float) -> str:
    """``"young"`` for p < 2, ``"rough"`` for 2 <= p < 3, ``"beyond"`` for p >= 3."""
    return "young" if p < 2 else ("rough" if p < 3 else "beyond")


def rough_result(p, level1, level2, *, distance: bool, **common):
    """A RoughResult (or RoughDistanceResult) for one exponent.

    `level1`, `level2` are ``(power, root, partition)`` triples; `common` holds the fields
    shared by every exponent (lift, convention, route, n_points, projection).
    """
    p = float(p)
    (v1, l1, part1), (v2, l2, part2) = level1, level2
    l1, l2 = float(l1), float(l2)
    fields = dict(
        p=p, level1=l1, level2=l2, omega=float(v1) + float(v2), level1_power=float(v1),
        level2_power=float(v2), partition1=part1, partition2=part2, regime=regime(p), **common,
    )
    if distance:
        return RoughDistanceResult(rho=l1 + l2, **fields)
    return RoughResult(norm=l1 + math.sqrt(l2), **fields)
