"""Stream a model's weight paths into a store, and record them during training."""

from __future__ import annotations

import contextlib
import os
from concurrent.futures import ThreadPoolExecutor

from .discover import PathPlan, find_paths
from .sources import open_source
from .store import DEFAULT_RUN, WeightStore, open_store

__all__ = ["ingest", "WeightRecorder"]


def ingest(
    source,
    store,
    *,
    layers=None,
    run=DEFAULT_RUN,
    step=None,
    convention="increments",
    overwrite=False,
    storage_options=None,
    hash_source=True,
    progress=None,
    n_jobs=None,
) -> PathPlan:
    """Write the weight paths of a model into a store, one tensor at a time.

    Paths are found by :func:`streamrough.find_paths`; each is written path after path,
    layer after layer, so memory holds one tensor and one chunk (or shard) of one path at a
    time, never a second copy of the model.  Dtypes are kept (bfloat16 becomes float32,
    exactly).  Each path is committed when all its layers are written, and the checkpoint
    when all its paths are.

    Parameters
    ----------
    source : any input of :func:`streamrough.sources.open_source`
        An array (L, ...), a state_dict, an ``nn.Module``, a .npy/.npz/.safetensors file, a
        PyTorch checkpoint or a sharded safetensors folder.
    store : WeightStore or str
        An open writable store, or a URL opened with ``mode="a"`` for the call.
    layers : None, str, list of str or PathPlan
        Which paths (see :func:`streamrough.find_paths`); a PathPlan is used as is.
    run : str
        Group of the model or training run (default ``"model"``).
    step : int, optional
        Training step: the paths go to checkpoint ``step_<step>``.
    convention : {"increments", "values"}
        Recorded with each path; used when it is analysed.
    overwrite : bool
        Replace paths already in that checkpoint.
    storage_options : dict, optional
        For a store URL (fsspec).
    hash_source : bool
        Record the SHA-256 of the source files (one extra read of them).
    progress : callable, optional
        Called with the number of bytes of each tensor once it is staged (its chunk written,
        or its write in flight, or its layer in the shard being filled).
    n_jobs : None or int
        1 (and None, the default): chunks are written by the calling thread, and layers of
        1 MiB and more hashed meanwhile by a thread where CRC-32C runs without the GIL
        (:class:`streamrough.store.PathWriter`).  2 or more (-1: all CPUs): one-layer chunks
        are written by one background thread while the calling thread hashes the layer and
        reads the next one (one write in flight at most; more threads would not help: the
        file system takes the writes one by one).  The store written is the same.  Writing
        into the page cache of a local disk, that hand-off costs more than it hides
        (measured idle, ``benchmarks/bench_ingest.py``: 0.51x the speed of ``np.save`` with
        the thread, 0.68x without), hence the default; the thread is for stores whose writes
        wait (a slow device, a network).

    Returns
    -------
    PathPlan
        The paths written, and what was left out and why.

    Examples
    --------
    >>> import numpy as np, streamrough as sr
    >>> plan = sr.ingest({"b.0.W": np.eye(2), "b.1.W": np.eye(2)}, "memory://ingest-doc", overwrite=True)
    >>> plan.roles
    ['b.{k}.W']
    """
    args = (layers, run, step, convention, overwrite, hash_source, progress, _write_jobs(n_jobs))
    if isinstance(store, WeightStore):
        return _ingest(source, store, *args)
    with open_store(store, mode="a", storage_options=storage_options) as opened:
        return _ingest(source, opened, *args)


def _write_jobs(n_jobs) -> int:
    """Threads of an ingest for `n_jobs` (None: 1, see :func:`ingest`; else the rule of
    ``streamrough._parallel``, without starting Numba's threads: an ingest runs no kernel)."""
    if n_jobs is None:
        return 1
    if n_jobs == -1:
        return os.cpu_count() or 1
    from ._parallel import resolve_n_jobs

    return resolve_n_jobs(n_jobs)


def _ingest(source, store, layers, run, step, convention, overwrite, hash_source, progress, jobs):
    # leaving the block waits for a write in flight, also when the ingest fails
    with ThreadPoolExecutor(1, thread_name_prefix="streamrough-ingest") if jobs > 1 else contextlib.nullcontext() as pool:
        return _ingest_paths(source, store, layers, run, step, convention, overwrite, hash_source, progress, pool)


def _ingest_paths(source, store, layers, run, step, convention, overwrite, hash_source, progress, pool):
    src = open_source(source)
    plan = layers if isinstance(layers, PathPlan) else find_paths(src.entries(), layers)
    if not plan.paths:
        raise ValueError(f"{src.description}: no weight path found\n{plan.summary()}")
    sha = src.sha256() if hash_source else None
    for spec in plan:
        writer = None
        for name in spec.names:
            tensor = src.read(name)
            if writer is None:  # the first tensor fixes the stored dtype (bfloat16 reads as float32)
                writer = store.create_path(
                    spec.role, spec.layer_shape, tensor.dtype, run=run, step=step, convention=convention,
                    source=src.description, source_sha256=sha, capacity=spec.n_layers, overwrite=overwrite,
                    executor=pool,
                )
            writer.stage(tensor, name)
            if progress is not None:
                progress(tensor.nbytes)
            del tensor
        writer.commit()
    store.commit_checkpoint(run, step)
    return plan


class WeightRecorder:
    """Record chosen weight paths of a live torch model every `every` steps.

    Each recording is a checkpoint ``step_<step>`` of `run`, committed once all its paths are
    written: a crash during training leaves every earlier checkpoint readable.

    Parameters
    ----------
    model : torch.nn.Module
    store : WeightStore
        Open for writing (the recorder holds no lock of its own).
    every : int
        Record when ``step % every == 0``.
    layers : None, str or list of str
        Which paths (:func:`streamrough.find_paths`), fixed at construction.
    run : str
    convention : {"increments", "values"}

    Examples
    --------
    In a training loop::

        recorder = WeightRecorder(model, store, every=100, run="train")
        recorder.attach(optimizer)   # records after optimizer.step() when due
        # or call recorder(step) yourself after each step
    """

    def __init__(self, model, store, *, every=1, layers=None, run="train", convention="increments"):
        if int(every) != every or every < 1:
            raise ValueError(f"every must be a positive integer, got {every!r}")
        self.model = model
        self.store = store
        self.every = int(every)
        self.run = run
        self.convention = convention
        self.plan = find_paths(model.state_dict(), layers)
        self.steps_seen = 0

    def record(self, step):
        """Write the paths now, as checkpoint `step`."""
        return ingest(
            self.model, self.store, layers=self.plan, run=self.run, step=step,
            convention=self.convention, hash_source=False,
        )

    def __call__(self, step):
        """Record if `step` is a multiple of `every`."""
        if step % self.every == 0:
            self.record(step)

    def attach(self, optimizer):
        """Count ``optimizer.step()`` calls and record after every `every`-th one.

        Returns the hook handle (``handle.remove()`` detaches it).
        """

        def hook(*_):
            self.steps_seen += 1
            self(self.steps_seen)

        return optimizer.register_step_post_hook(hook)
