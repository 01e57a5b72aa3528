"""streamrough: exact p-variation, signatures and rough-path norms of weight paths.

Public names are resolved lazily (PEP 562): ``import streamrough`` imports neither Numba
nor any kernel module, and compiles nothing. The first use of a name imports the one module
that defines it; kernels compile on their first call and are reused afterwards.

Examples
--------
>>> import numpy as np, streamrough as sr
>>> sr.pvar(np.array([0.0, 1.0, 0.0, 1.0]), p=2, power=True)
3.0
"""

from __future__ import annotations

import importlib

__version__ = "0.1.0.dev0"

# public name -> module that defines it (module names differ from function names so that
# importing a submodule never shadows a function attribute of the package)
_PUBLIC = {
    # weight paths
    "weight_path": "paths",
    "read_input": "paths",
    "brownian_weights": "paths",
    "brownian_path": "paths",
    "CONVENTIONS": "paths",
    "LIFTS": "paths",
    # results
    "PVarResult": "results",
    "RoughResult": "results",
    "RoughDistanceResult": "results",
    "RoughRegimeWarning": "results",
    # p-variation
    "pvar": "variation",
    "pvar_running": "variation",
    "pvar_batch": "variation",
    "PVarStream": "variation_stream",
    # signatures
    "sig_length": "signatures",
    "signature": "signatures",
    "sig_combine": "signatures",
    "sig_combine_many": "signatures",
    "sig_inverse": "signatures",
    "sig_join": "signatures",
    "sig_level": "signatures",
    "SigStream": "signature_stream",
    # rough paths
    "rough_pvar": "rough",
    "rough_distance": "rough",
    "RoughStream": "rough_stream",
    "layer_gram": "gram",
    "gram_rough_pvar": "gram",
    "gram_rough_distance": "gram",
    "random_projection": "gram",
    # model weights: discovery, store, ingest, tables
    "find_paths": "discover",
    "PathPlan": "discover",
    "PathSpec": "discover",
    "open_store": "store",
    "WeightStore": "store",
    "StoreError": "store",
    "ingest": "ingestion",
    "WeightRecorder": "ingestion",
    "analyze": "analysis",
    "to_xarray": "analysis",
}

__all__ = sorted(_PUBLIC) + ["__version__"]


def __getattr__(name: str):
    module_name = _PUBLIC.get(name)
    if module_name is None:
        raise AttributeError(f"module 'streamrough' has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{module_name}"), name)
    globals()[name] = value  # cache: later lookups skip __getattr__
    return value


def __dir__():
    return sorted(set(globals()) | set(_PUBLIC))
