"""Per-path tables: the rough-path norms of every weight path of a model or a store.

One row per (run, checkpoint, path, p), like the per-layer DataFrames of weight-analysis
tools, so the table joins with theirs on the parameter names (column ``layer_names``).
"""

from __future__ import annotations

import os
import warnings

import numpy as np

from .discover import find_paths
from .sources import open_source
from .store import CorruptStoreError, StoreLockedError, WeightStore, checkpoint_name, open_store

__all__ = ["analyze", "to_xarray", "DEFAULT_P"]

DEFAULT_P = (1.0, 2.0, 2.5, 3.0)
#: Result fields copied into each row; the one place that knows the result's field names.
FIELDS = ("level1", "level2", "norm", "level1_power", "level2_power", "regime")
COLUMNS = (
    "run", "checkpoint", "step", "role", "n_layers", "layer_shape", "dtype", "convention", "p",
    *FIELDS, "partition", "layer_names",
)
_CACHE_VERSION = 1


def _rows_of(result, ps):
    """One dict of FIELDS + partition per p, from rough_pvar's result for the p sequence.

    Accepts a tuple of per-p results or one result with (P,) fields.
    """
    per_p = result if isinstance(result, (tuple, list)) else None
    rows = []
    for i, _ in enumerate(ps):
        res = per_p[i] if per_p is not None else result
        row = {}
        for field in FIELDS:
            value = getattr(res, field)
            row[field] = value if per_p is not None else np.atleast_1d(value)[i]
        partition = res.partition1 if per_p is not None else res.partition1[i]
        row["partition"] = tuple(int(i) for i in partition)
        row["regime"] = str(row["regime"])
        for field in FIELDS[:-1]:
            row[field] = float(row[field])
        rows.append(row)
    return rows


def _compute(layers, ps, convention, lift):
    from .rough import RoughRegimeWarning, rough_pvar

    with warnings.catch_warnings():  # the regime column says when p >= 3
        warnings.simplefilter("ignore", RoughRegimeWarning)
        result = rough_pvar(layers, list(ps), convention=convention, lift=lift)
    return _rows_of(result, ps)


def _is_store(source):
    if isinstance(source, WeightStore):
        return True
    if isinstance(source, (str, os.PathLike)):
        path = os.fspath(source)
        return "://" in path or os.path.isfile(os.path.join(path, "zarr.json"))
    return False


def analyze(
    source,
    p=DEFAULT_P,
    *,
    layers=None,
    run=None,
    convention=None,
    lift="iterated",
    cache=True,
    storage_options=None,
    progress=None,
):
    """Rough-path p-variation of every weight path, as a table.

    For each path (the sequence over layers of one parameter role) and each p, the level-1
    and level-2 values of :func:`streamrough.rough_pvar`:
    ``level1 = ||x||_{p-var}``, ``level2 = ||XX||_{p/2-var}``, ``norm = level1 + sqrt(level2)``.

    Parameters
    ----------
    source : store or model
        A :class:`~streamrough.store.WeightStore` or store URL (every committed checkpoint of
        every run is analysed), or any model input of :func:`streamrough.ingest` (analysed in
        memory, one path at a time).
    p : float or sequence of float
    layers : None, str or list of str
        Path selection for a model input (:func:`streamrough.find_paths`).
    run : str, optional
        Only this run of a store.
    convention : {None, "increments", "values"}
        None: the convention recorded in the store (``"increments"`` for a model input).
    lift : {"iterated", "geometric"}
    cache : bool
        With a store: reuse results cached for the same parameters and path content, and
        cache new ones (needs the store's write lock; without it nothing is cached).
    storage_options : dict, optional
        For a store URL.
    progress : callable, optional
        Called with the role after each path.

    Returns
    -------
    pandas.DataFrame
        Columns: run, checkpoint, step, role, n_layers, layer_shape, dtype, convention, p,
        level1, level2, norm, level1_power, level2_power, regime, partition (level-1 optimal
        partition as path point indices; under ``"increments"`` point k follows layer k-1),
        layer_names.  p >= 3 rows have regime ``"beyond"``: levels 1 and 2 do not control the
        path there (no warning is raised).

    Examples
    --------
    >>> import numpy as np, streamrough as sr
    >>> w = {f"b.{k}.W": np.full((2, 2), 0.5) for k in range(4)}
    >>> sr.analyze(w, p=[2.5])[["role", "n_layers", "level1"]].to_dict("records")
    [{'role': 'b.{k}.W', 'n_layers': 4, 'level1': 4.0}]
    """
    import pandas as pd

    ps = [float(v) for v in np.atleast_1d(np.asarray(p, dtype=np.float64))]
    if _is_store(source):
        rows = list(_store_rows(source, ps, run, convention, lift, cache, storage_options, progress))
    else:
        rows = list(_model_rows(source, ps, layers, convention or "increments", lift, progress))
    return pd.DataFrame(rows, columns=list(COLUMNS))


def _model_rows(source, ps, layers, convention, lift, progress):
    src = open_source(source)
    for spec in find_paths(src.entries(), layers):
        first = src.read(spec.names[0])
        weights = np.empty((spec.n_layers, *spec.layer_shape), dtype=first.dtype)
        weights[0] = first
        for k, name in enumerate(spec.names[1:], 1):
            weights[k] = src.read(name)
        for p_, fields in zip(ps, _compute(weights, ps, convention, lift)):
            yield {
                "run": "model", "checkpoint": checkpoint_name(None), "step": None, "role": spec.role,
                "n_layers": spec.n_layers, "layer_shape": spec.layer_shape, "dtype": weights.dtype.name,
                "convention": convention, "p": p_, **fields, "layer_names": spec.names,
            }
        if progress is not None:
            progress(spec.role)


def _open_for_analysis(source, cache, storage_options):
    """(store, close_after): writable when caching and the lock is free, else read-only."""
    if isinstance(source, WeightStore):
        return source, False
    if cache:
        try:
            return open_store(source, mode="r+", storage_options=storage_options), True
        except (StoreLockedError, PermissionError):  # a writer holds it, or no write access
            pass
    return open_store(source, mode="r", storage_options=storage_options), True


def _store_rows(source, ps, run, convention, lift, cache, storage_options, progress):
    store, close = _open_for_analysis(source, cache, storage_options)
    try:
        runs = [run] if run is not None else store.runs()
        incomplete = []
        for r in runs:
            for name, step, complete in store.checkpoints(r):
                if not complete:
                    incomplete.append(f"{r}/{name}")
                    continue
                for role in store.paths(r, step):
                    yield from _path_rows(store, r, step, role, ps, convention, lift, cache)
                    if progress is not None:
                        progress(role)
        if incomplete and not any(True for r in runs for c in store.checkpoints(r) if c[2]):
            raise CorruptStoreError(
                f"{store.url!r}: no complete checkpoint to analyse (half-written: {incomplete}); "
                "ingest again with overwrite=True"
            )
    finally:
        if close:
            store.close()


def _path_rows(store, run, step, role, ps, convention, lift, cache):
    info = store.info(role, run, step)
    conv = convention or info.convention
    use_cache = cache and store.writable
    found, missing = {}, []
    for p_ in ps:
        params = {"fn": "rough_pvar", "p": p_, "lift": lift, "convention": conv, "version": _CACHE_VERSION}
        hit = store.cache_get(role, params, run, step) if use_cache else None
        if hit is None:
            missing.append(p_)
        else:
            found[p_] = hit
    if missing:
        weights = store.read(role, run, step)
        for p_, fields in zip(missing, _compute(weights, missing, conv, lift)):
            found[p_] = fields
            if use_cache:
                params = {"fn": "rough_pvar", "p": p_, "lift": lift, "convention": conv, "version": _CACHE_VERSION}
                store.cache_put(role, params, fields, run, step)
    for p_ in ps:
        fields = dict(found[p_])
        fields["p"] = p_
        fields["partition"] = tuple(fields["partition"])  # the cache holds a list
        yield {
            "run": run, "checkpoint": info.checkpoint, "step": step, "role": role, "n_layers": info.n_layers,
            "layer_shape": info.layer_shape, "dtype": info.dtype, "convention": conv,
            "layer_names": info.layer_names, **{k: fields[k] for k in (*FIELDS, "partition", "p")},
        }


def to_xarray(table):
    """The (checkpoint, path, p) cube of an :func:`analyze` table as an ``xarray.Dataset``.

    Dimensions ``checkpoint`` (with a ``step`` coordinate), ``role`` and ``p`` (and ``run``
    when the table holds several runs); data variables level1, level2, norm, level1_power,
    level2_power.
    """
    numeric = ["level1", "level2", "norm", "level1_power", "level2_power"]
    index = (["run"] if table["run"].nunique() > 1 else []) + ["checkpoint", "role", "p"]
    ds = table.set_index(index)[numeric].to_xarray()
    steps = table.drop_duplicates("checkpoint").set_index("checkpoint")["step"]
    return ds.assign_coords(step=("checkpoint", [steps[c] if steps[c] is not None else -1 for c in ds["checkpoint"].values]))
