"""Argument checking shared by every public entry point.

Every public function funnels its inputs through these helpers so that bad input fails
early, with an exception that names the argument and the problem, and never reaches a
compiled kernel (where it would give a wrong number or crash the process).
"""

from __future__ import annotations

import numbers

import numpy as np

__all__ = [
    "as_path",
    "as_p_values",
    "as_batch_of_paths",
    "check_choice",
    "check_int",
    "check_positive",
    "MAX_P",
]

#: The largest exponent p accepted anywhere: a path rescaled to unit size has V_p between
#: 2^-p and N 2^p, which float64 represents (with room for the streams' rescaling slack) up
#: to this p. Beyond it V_p^(1/p) is the largest jump to within a relative (N)^(1/p) - 1.
MAX_P = 500.0


def _to_numpy(x):
    """A torch tensor (or anything with ``detach``/``cpu`` and ``__array__``) as a numpy array
    without a copy where possible; other inputs unchanged."""
    if type(x).__module__.startswith("torch") and hasattr(x, "detach"):
        return np.asarray(x.detach().cpu())
    return x


def _check_real_dtype(dtype, name: str) -> None:
    """Raise unless `dtype` is a real numeric (bool, int or float) dtype."""
    kind = np.dtype(dtype).kind
    if kind == "O":
        raise ValueError(f"{name} is ragged or not numeric (dtype=object)")
    if kind == "c":
        raise TypeError(f"{name} must be real-valued, got complex dtype {dtype}")
    if kind not in "biuf":
        raise TypeError(f"{name} must be numeric, got dtype {dtype}")


def _as_numeric_array(x, name: str, *, keep_array_like: bool = False):
    """`x` as a real numeric array, checked; never copied.

    With `keep_array_like`, an object that already has ``shape``, ``dtype``, ``ndim`` and
    ``reshape`` (a dask array, say) is returned as it is, so it can be read chunk by chunk.
    """
    x = _to_numpy(x)
    if not (keep_array_like and all(hasattr(x, a) for a in ("shape", "dtype", "reshape", "ndim"))):
        try:
            x = np.asarray(x)
        except ValueError as exc:  # ragged nested sequences
            raise ValueError(f"{name} is ragged: all points must have the same shape ({exc})") from None
    _check_real_dtype(x.dtype, name)
    return x


def _check_finite(arr: np.ndarray, name: str) -> None:
    if arr.dtype.kind == "f" and not np.isfinite(arr).all():
        bad = np.argwhere(~np.isfinite(arr))[0]
        raise ValueError(f"{name} contains NaN or inf (first at index {tuple(int(i) for i in bad)})")


def as_path(x, name: str = "x", *, dtype=np.float64) -> np.ndarray:
    """Return `x` as a C-contiguous ``(N, D)`` array of `dtype`, checked.

    Shape ``(N,)`` becomes ``(N, 1)``; shape ``(N, m1, m2, ...)`` is flattened row-major to
    ``(N, m1*m2*...)``. Integer and float32 input is converted (a copy only when needed).

    Raises
    ------
    ValueError
        If `x` is empty, ragged, 0-dimensional, or contains NaN or inf.
    TypeError
        If `x` is not real-valued numeric.
    """
    arr = _as_numeric_array(x, name)
    if arr.ndim == 0:
        raise ValueError(f"{name} must have at least one axis (points along axis 0), got a scalar")
    if arr.shape[0] == 0:
        raise ValueError(f"{name} is empty: a path needs at least one point")
    if arr.ndim == 1:
        arr = arr[:, None]
    elif arr.ndim > 2:
        arr = arr.reshape(arr.shape[0], -1)
    if arr.shape[1] == 0:
        raise ValueError(f"{name} has points of dimension 0 (shape {arr.shape})")
    _check_finite(arr, name)
    return np.ascontiguousarray(arr, dtype=dtype)


def as_batch_of_paths(x, name: str = "x", *, point_ndim: int = 1, dtype=np.float64):
    """Split `x` into leading batch axes and ``(N, D)`` paths.

    The last `point_ndim` axes of `x` are the point's axes (flattened to ``D``), the axis
    before them indexes points, and any axes before that are batch axes.

    Returns
    -------
    batch_shape : tuple of int
    paths : ndarray, shape (B, N, D), C-contiguous, of `dtype`
    """
    arr = _as_numeric_array(x, name)
    if arr.ndim < point_ndim + 1:
        raise ValueError(
            f"{name} must have at least {point_ndim + 1} axes (..., N, point), got shape {arr.shape}"
        )
    batch_shape = arr.shape[: arr.ndim - point_ndim - 1]
    n = arr.shape[arr.ndim - point_ndim - 1]
    if n == 0:
        raise ValueError(f"{name} is empty: a path needs at least one point")
    d = int(np.prod(arr.shape[arr.ndim - point_ndim :]))
    if d == 0:
        raise ValueError(f"{name} has points of dimension 0 (shape {arr.shape})")
    _check_finite(arr, name)
    b = int(np.prod(batch_shape)) if batch_shape else 1
    return batch_shape, np.ascontiguousarray(arr.reshape(b, n, d), dtype=dtype)


def as_p_values(p, name: str = "p"):
    """Check p-variation exponents.

    Returns
    -------
    values : ndarray of float64, shape (k,)
    scalar : bool
        True if `p` was a single number (callers then return a scalar).
    """
    p = _to_numpy(p)
    scalar = isinstance(p, numbers.Real) or (isinstance(p, np.ndarray) and p.ndim == 0)
    try:
        raw = np.asarray(p)
        if raw.dtype.kind not in "biuf":  # strings, complex, objects: not real numbers
            raise TypeError
        values = np.atleast_1d(raw.astype(np.float64))
    except (TypeError, ValueError):
        raise TypeError(f"{name} must be a real number or a sequence of them, got {p!r}") from None
    if values.ndim != 1 or values.size == 0:
        raise ValueError(f"{name} must be a number or a non-empty 1-d sequence, got {p!r}")
    if not np.isfinite(values).all():
        raise ValueError(f"{name} must be finite, got {p!r}")
    if (values < 1).any():
        raise ValueError(f"{name} must be >= 1 (p-variation is defined for p >= 1), got {p!r}")
    if (values > MAX_P).any():
        raise ValueError(
            f"{name} must be <= {MAX_P:g} (beyond it V_p is not representable in float64; "
            f"||x||_p-var is then the largest jump to within N^(1/p)), got {p!r}"
        )
    return values, scalar


def check_choice(value, name: str, choices) -> str:
    """Raise a ValueError naming `name` unless `value` is one of `choices`."""
    if value not in choices:
        raise ValueError(f"{name} must be one of {sorted(choices)}, got {value!r}")
    return value


def check_int(value, name: str, minimum: int = 1) -> int:
    """`value` as an int; TypeError unless it is an integer (bool is not), ValueError below `minimum`.

    The one integer check of every public function and class: ``depth=2.0`` is a TypeError
    and ``depth=0`` a ValueError everywhere.
    """
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{name} must be an integer, got {value!r}")
    if value < minimum:
        raise ValueError(f"{name} must be >= {minimum}, got {value!r}")
    return int(value)


def check_positive(value, name: str) -> float:
    """`value` as a float; TypeError unless it is a real number, ValueError unless > 0."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name} must be a real number, got {value!r}")
    if not value > 0:
        raise ValueError(f"{name} must be > 0, got {value!r}")
    return value
