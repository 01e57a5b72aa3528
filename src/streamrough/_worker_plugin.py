"""Warm Dask workers once: compile the serial kernels a computation needs on every worker.

Numba compiles a kernel on its first call in each process (seconds, or a load from
streamrough's on-disk cache once the machine has compiled it); without warming, the first
task of each kind on each worker pays it. :class:`WarmKernels` is a ``distributed.WorkerPlugin``
whose ``setup`` calls each kernel once on tiny input; it is registered once per client and
kernel set (and runs again on any worker that joins or restarts, e.g. after a crash).
Imported only when a distributed client is in use.
"""

from __future__ import annotations

import numpy as np
from distributed.diagnostics.plugin import WorkerPlugin

_REGISTERED = set()  # (client id, plugin name) already registered from this process


def warm(spec) -> None:
    """Call the kernels named by `spec` on tiny input (compiling them in this process).

    spec: a tuple of ``("gram",)``, ``("pvar", norm_code)`` or ``("sig", d, depth, lift)``.
    """
    from . import chunked

    for item in spec:
        if item[0] == "gram":
            import dask.array as da

            (row,) = chunked._row_readers(da.ones((2, 3), chunks=2, dtype=np.float32), "weights")
            chunked._gram_tile(row[0], row[0], True)
        elif item[0] == "pvar":
            from ._kernels.pvar_blocks import for_norm

            k = for_norm(item[1])
            x = np.arange(24.0).reshape(12, 2) % 5
            pv = np.zeros((1, 12))
            link = np.zeros((1, 12), np.int64)
            stats = np.zeros(2, np.int64)
            k.chunk_values(x, 1.0, 2.0, pv, link, np.full(11, -1.0), np.full(11, -1, np.int64), stats)
            k.old_chunk_best(x, 8, 1.0, 2.0, pv, np.zeros(4), np.empty(4), np.empty(4, np.int64), stats)
            k.chunk_exponent(x, x[0])
        elif item[0] == "sig":
            _, d, depth, lift = item
            x = np.zeros((3, d))
            chunked._chunk_signature(x, depth, lift)
            chunked._chunk_prefixes(x, True, depth, lift)
            chunked._chen_rows(np.zeros((2, chunked._sig_kernels(d, depth, lift).LENGTH)), d=d, depth=depth)


class WarmKernels(WorkerPlugin):
    """Worker plugin: ``setup`` compiles the kernels of `spec` (see :func:`warm`) on the worker."""

    def __init__(self, spec):
        self.spec = tuple(spec)

    def setup(self, worker):
        warm(self.spec)


def warm_workers(client, spec) -> None:
    """Register :class:`WarmKernels` for `spec` on `client`'s workers, once per client and spec."""
    spec = tuple(spec)
    if not spec:
        return
    name = "streamrough-warm-" + "-".join("_".join(str(v) for v in item) for item in spec)
    key = (client.id, name)
    if key in _REGISTERED:
        return
    client.register_plugin(WarmKernels(spec), name=name)
    _REGISTERED.add(key)
