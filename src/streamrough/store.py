"""Weight paths in Zarr v3: a crash-safe, single-writer store (the only module importing zarr).

Layout (schema version 2; docs/store.md has the full description)::

    <root>/                               group; attrs["streamrough"] = {"schema_version", ...}
    <root>/.streamrough.lock              the writer's lock (a plain object, not a Zarr node)
    <root>/<run>/                         one group per model or training run
    <root>/<run>/<checkpoint>/            "weights" (no step) or "step_<step:09d>"
    <root>/<run>/<checkpoint>/<role>      one array per weight path, shape (L, *layer_shape)
    <root>/<run>/<checkpoint>/_results/   cached results, keyed by parameters + content hash

A path array is chunked along the layer axis, about 16 MiB per chunk or shard
(:func:`chunk_layout`), never more layers than the path is expected to have: a layer of
256 KiB..16 MiB is one chunk; smaller layers share chunks of up to 1024 layers, or shards with
inner chunks of about 256 KiB when a chunk would hold more than that (one layer then reads
without its whole chunk); a layer larger than 16 MiB has chunks of one layer split along its
leading feature axes.  Dtypes are
kept as given (float16/32/64); uncompressed by default (weights barely compress), Zstandard
on request.

Crash safety: each array's attribute ``n_layers`` (with the per-layer hashes) is written only
after the data of those layers; readers see the first ``n_layers`` layers only.  Every write
of metadata or of a chunk holding committed layers is atomic (local stores write a temporary
file and rename it; object stores replace whole objects), and a chunk of new layers only is
not read before its commit (local stores write it in place), so a writer killed at any point
leaves every committed layer intact.  A store is
locked by its writer (``.streamrough.lock``); a second writer gets :class:`StoreLockedError`.
Reads check each layer against its recorded hash (CRC-32C; SHA-256 in paths of schema
version 1, :func:`layer_hash`): a missing or corrupt chunk is an error, never a wrong number.
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime
import functools
import hashlib
import json
import os
import socket
import re
import sys
import uuid
import warnings

import numpy as np

__all__ = [
    "SCHEMA_VERSION",
    "TARGET_CHUNK_BYTES",
    "open_store",
    "WeightStore",
    "PathWriter",
    "PathInfo",
    "StoreError",
    "StoreLockedError",
    "SchemaVersionError",
    "MissingPathError",
    "CorruptStoreError",
]

#: 2: per-layer CRC-32C hashes, the algorithm recorded as ``layer_hash`` (1: SHA-256, unrecorded).
SCHEMA_VERSION = 2
#: Target size of a chunk (or shard) along the layer axis, in bytes.
TARGET_CHUNK_BYTES = 16 * 2**20
#: Layers at least this large get a chunk each; smaller ones share chunks (or shards whose
#: inner chunks are about this large).
SHARD_MIN_LAYER_BYTES = 256 * 2**10
MAX_LAYERS_PER_CHUNK = 1024
#: Layers per chunk assumed for a path of unknown length (see :func:`chunk_layout`).
DEFAULT_EXPECTED_LAYERS = 64
LOCK_KEY = ".streamrough.lock"
DEFAULT_RUN = "model"
DEFAULT_CHECKPOINT = "weights"
RESULTS = "_results"
_ATTR = "streamrough"
_FLOAT_DTYPES = ("float16", "float32", "float64")


class StoreError(Exception):
    """A weight store cannot be opened, read or written as asked."""


class StoreLockedError(StoreError):
    """Another writer holds the store's lock."""


class SchemaVersionError(StoreError):
    """The store was written by a newer streamrough (a newer schema version)."""


class MissingPathError(StoreError, LookupError):
    """A run, checkpoint or path is not in the store."""


class CorruptStoreError(StoreError):
    """Data or metadata in the store is truncated, missing or does not match its hash."""


@dataclasses.dataclass(frozen=True)
class PathInfo:
    """What the store records about one weight path.

    Attributes
    ----------
    run, checkpoint, role : str
        Where the path lives; `role` names the parameter with ``{k}`` for the layer index
        (``"h.{k}.mlp.c_fc.weight"``).
    step : int or None
        Training step of the checkpoint (None for a single snapshot).
    n_layers : int
        Committed layers (the readable length).
    layer_shape : tuple of int
    dtype : str
    layer_names : tuple of str
        The source parameter name of each committed layer.
    convention : str
        How the layers turn into a path (:func:`streamrough.weight_path`).
    source, source_sha256 : str or None
        Provenance of the data.
    layer_hash : str
        The per-layer hash function (:func:`layer_hash`): ``"crc32c"``, or ``"sha256-128"``
        for paths written with schema version 1.
    content_hash : str
        SHA-256 over dtype, layer shape, the per-layer hash function and the per-layer
        hashes: changes whenever a committed layer changes.
    chunks, shards : tuple of int or None
    created, streamrough_version : str
    """

    run: str
    checkpoint: str
    step: int | None
    role: str
    n_layers: int
    layer_shape: tuple
    dtype: str
    layer_names: tuple
    convention: str
    source: str | None
    source_sha256: str | None
    layer_hash: str
    content_hash: str
    chunks: tuple
    shards: tuple | None
    created: str
    streamrough_version: str


def checkpoint_name(step) -> str:
    """Group name of a checkpoint: ``"weights"`` for ``step=None``, else ``"step_<step:09d>"``."""
    if step is None:
        return DEFAULT_CHECKPOINT
    if int(step) != step or step < 0:
        raise ValueError(f"step must be a non-negative integer or None, got {step!r}")
    return f"step_{int(step):09d}"


def chunk_layout(layer_shape, itemsize, n_layers=None, target=TARGET_CHUNK_BYTES):
    """(chunks, shards) of a path array with layers of `layer_shape` and `itemsize` bytes.

    With ``k = target // layer_bytes`` layers fitting in `target`, capped by the expected
    length `n_layers` (default 64 when unknown: Zarr stores an edge chunk at full size, and an
    append rewrites the tail chunk):

    - layers of 256 KiB up to `target`: one layer per chunk (a layer reads alone; writes need
      no buffer);
    - smaller layers: chunks of ``k`` layers (at most 1024); when one such chunk would hold
      more than ``256 KiB // layer_bytes`` layers, a shard of ``k`` layers with inner chunks
      of about 256 KiB instead, so that one layer reads without its whole chunk;
    - layers over `target`: one layer per chunk, split along the leading feature axes into
      pieces of at most `target` bytes.

    Examples
    --------
    >>> chunk_layout((1024, 3072), 4)
    ((1, 1024, 3072), None)
    >>> chunk_layout((64, 64), 4, n_layers=12)
    ((12, 64, 64), None)
    >>> chunk_layout((64, 64), 4, n_layers=2000)
    ((16, 64, 64), (1024, 64, 64))
    >>> chunk_layout((8192, 1024), 4)
    ((1, 4096, 1024), None)
    """
    layer_shape = tuple(int(s) for s in layer_shape)
    layer_bytes = int(np.prod(layer_shape, dtype=np.int64)) * itemsize
    expected = DEFAULT_EXPECTED_LAYERS if not n_layers else int(n_layers)
    if SHARD_MIN_LAYER_BYTES <= layer_bytes <= target:
        return (1, *layer_shape), None
    if layer_bytes < SHARD_MIN_LAYER_BYTES:
        k = min(target // layer_bytes, MAX_LAYERS_PER_CHUNK, expected)
        inner = SHARD_MIN_LAYER_BYTES // layer_bytes
        if k <= inner:
            return (k, *layer_shape), None
        return (inner, *layer_shape), (k - k % inner, *layer_shape)
    chunk = list(layer_shape)
    for axis in range(len(chunk)):
        rest = int(np.prod(chunk[axis + 1 :], dtype=np.int64)) * itemsize
        if rest * chunk[axis] <= target:
            break
        chunk[axis] = max(1, target // rest) if rest <= target else 1
    return (1, *chunk), None


def _sha256_128(data: np.ndarray) -> str:
    return hashlib.sha256(data).hexdigest()[:32]


def _crc32c(data: np.ndarray) -> str:
    from ._crc32c_library import library_crc32c

    crc32c = library_crc32c()  # releases the GIL: other threads write meanwhile
    if crc32c is not None:
        return f"{crc32c(data):08x}"
    import google_crc32c  # a dependency of zarr (its crc32c codec); C, with SSE4.2 where present

    return f"{google_crc32c.value(data):08x}"


def _gil_free_crc32c():
    """A CRC-32C function that releases the GIL (same values as :func:`_crc32c`), or None.

    First the C library of ``google-crc32c`` called through ctypes
    (``streamrough._crc32c_library``); where it is not found, the CRC-32C kernel
    (``streamrough._kernels.crc32c``) if Numba is loaded already and the kernel runs compiled
    here: loading Numba and the kernel for the hash alone costs 0.5-1.5 s, more than the
    thread saves a one-shot ingest at ~75 ms per GB."""
    from ._crc32c_library import library_crc32c

    crc32c = library_crc32c()
    if crc32c is not None or "numba" not in sys.modules:
        return crc32c
    from ._kernels import crc32c as kernel

    return kernel.crc32c if kernel.available() else None


_HASH_THREAD = (None, None)  # (pid, executor): a forked child makes its own


def _hash_thread():
    """The process's thread that hashes layers while their writer writes them."""
    global _HASH_THREAD
    pid, executor = _HASH_THREAD
    if pid != os.getpid():
        from concurrent.futures import ThreadPoolExecutor

        executor = ThreadPoolExecutor(1, thread_name_prefix="streamrough-hash")
        _HASH_THREAD = (os.getpid(), executor)
    return executor


def _hash_in_thread(layers, algorithm):
    """A Future of the CRC-32C hashes of `layers` (an array of layers), computed without the
    GIL by :func:`_hash_thread`, or None: a small block, another hash, or no GIL-free
    CRC-32C here (:func:`_gil_free_crc32c`; ``google_crc32c`` holds the GIL, a thread would
    only wait for it)."""
    from . import _config

    if algorithm != "crc32c" or layers.nbytes < _config.HASH_THREAD_MIN_BYTES:
        return None
    crc32c = _gil_free_crc32c()
    if crc32c is None:
        return None
    try:
        return _hash_thread().submit(lambda: [f"{crc32c(_layer_bytes(layer)):08x}" for layer in layers])
    except RuntimeError:  # the interpreter is shutting down: no new thread work
        return None


#: Per-layer hash functions by the name recorded in a path's attributes (``layer_hash``).
LAYER_HASHES = {"crc32c": _crc32c, "sha256-128": _sha256_128}
#: The per-layer hash of new paths.
LAYER_HASH = "crc32c"
#: The per-layer hash of paths written before it was recorded (schema version 1).
LEGACY_LAYER_HASH = "sha256-128"


def layer_hash(layer: np.ndarray, algorithm: str = LAYER_HASH) -> str:
    """Hash of a layer's bytes in C order (hex): the per-layer integrity and content check.

    ``"crc32c"`` (new paths): CRC-32C, computed by the CPU's CRC instruction (4-10 GB/s
    here); it detects every change of up to 32 consecutive bits (any one weight), every
    change of up to 3 bits, and any other change but with probability 2**-32 per layer.
    ``"sha256-128"`` (paths of schema version 1): the first 128 bits of SHA-256, about
    1.7 GB/s here, which alone took longer than ``np.save`` of the same bytes
    (``docs/store.md``).

    Examples
    --------
    >>> layer_hash(np.zeros(4, np.float32))
    '42709aea'
    >>> layer_hash(np.zeros(4, np.float32), "sha256-128")
    '374708fff7719dd5979ec875d56cd228'
    """
    try:
        fn = LAYER_HASHES[algorithm]
    except KeyError:
        raise ValueError(f"algorithm must be one of {sorted(LAYER_HASHES)}, got {algorithm!r}") from None
    return fn(_layer_bytes(layer))


def _layer_bytes(layer) -> np.ndarray:
    return np.ascontiguousarray(layer).reshape(-1).view(np.uint8)


def _algorithm(meta) -> str:
    """The per-layer hash of a path (schema 1 paths did not record theirs)."""
    return meta.get("layer_hash", LEGACY_LAYER_HASH)


def _content_hash(dtype, layer_shape, algorithm, hashes) -> str:
    head = [str(dtype), list(layer_shape)]
    if algorithm != LEGACY_LAYER_HASH:  # schema 1 keys stay valid; other algorithms never meet them
        head.append(algorithm)
    h = hashlib.sha256(json.dumps(head).encode())
    for lh in hashes:
        h.update(lh.encode())
    return h.hexdigest()


def _now() -> str:
    return datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")


def _version() -> str:
    from . import __version__

    return __version__


def _root_attributes() -> dict:
    """The streamrough attributes of a new store's root group."""
    return {"schema_version": SCHEMA_VERSION, "created": _now(), "streamrough_version": _version()}


@contextlib.contextmanager
def _quiet_lock_key():
    """Zarr warns about the lock object when it lists the root group's members."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=f"Object at {re.escape(LOCK_KEY)} is not recognized")
        yield


def _sync(coro):
    from zarr.core.sync import sync

    return sync(coro)


def zarr_array(source):
    """A Zarr array read-only: `source` itself if it is one, else the array at a path or URL.

    Examples
    --------
    >>> import numpy as np, tempfile, os, zarr
    >>> folder = os.path.join(tempfile.mkdtemp(), "a.zarr")
    >>> zarr.create_array(store=folder, shape=(4, 2), chunks=(2, 2), dtype="float64").chunks
    (2, 2)
    >>> zarr_array(folder).shape
    (4, 2)
    """
    import zarr

    if isinstance(source, zarr.Array):
        return source
    return zarr.open_array(os.fspath(source) if isinstance(source, os.PathLike) else source, mode="r")


def _zarr_store(url, read_only, storage_options):
    from zarr.storage import FsspecStore, LocalStore

    url = os.fspath(url)
    if url.startswith("file://"):
        url = url[len("file://") :]
    if "://" not in url:
        if storage_options:
            raise ValueError("storage_options apply to fsspec URLs only, not to a local folder")
        if read_only and not os.path.isdir(url):
            raise MissingPathError(f"no weight store at {url!r}: the folder does not exist")
        if not read_only:
            os.makedirs(url, exist_ok=True)  # as Zarr does on first use; the lock is written into it
        return LocalStore(url, read_only=read_only)
    return FsspecStore.from_url(url, storage_options=storage_options or {}, read_only=read_only)


def open_store(url, mode="r", *, storage_options=None, break_stale_lock=True):
    """Open (or create) a weight store.

    Parameters
    ----------
    url : str or os.PathLike
        A local folder, ``memory://name`` (shared within the process) or any fsspec URL
        (``s3://bucket/prefix``).
    mode : {"r", "r+", "a", "w"}
        ``"r"`` read only, no lock; ``"r+"`` write an existing store; ``"a"`` write, create
        if missing; ``"w"`` create, deleting what is there.  Writing modes take the store's
        lock until :meth:`WeightStore.close` (or the end of a ``with`` block).
    storage_options : dict, optional
        Passed to fsspec (for S3: ``{"key", "secret", "endpoint_url", ...}``).
    break_stale_lock : bool
        Take over a lock left by a dead process on this host (default True).  Locks from
        other hosts are never broken automatically.

    Returns
    -------
    WeightStore

    Examples
    --------
    >>> import numpy as np
    >>> with open_store("memory://doc-example", mode="w") as st:
    ...     w = st.create_path("blocks.{k}.W", (2, 2), "float64")
    ...     w.append_many(np.ones((3, 2, 2)))
    ...     st.info("blocks.{k}.W").n_layers
    3
    """
    if mode not in ("r", "r+", "a", "w"):
        raise ValueError(f"mode must be one of 'r', 'r+', 'a', 'w', got {mode!r}")
    return WeightStore(url, mode, storage_options, break_stale_lock)


class WeightStore:
    """A Zarr store of weight paths; create with :func:`open_store`.

    Paths are addressed by ``(role, run, step)``; `run` defaults to ``"model"`` and `step`
    to None (the single-snapshot checkpoint ``"weights"``).
    """

    def __init__(self, url, mode, storage_options, break_stale_lock):
        import zarr

        self.url = os.fspath(url)
        self.mode = mode
        self.writable = mode != "r"
        self._lock_token = None
        self._runs, self._checkpoints = {}, {}  # groups this writer made or opened (see _groups)
        self._store = _zarr_store(self.url, not self.writable, storage_options)
        if self.writable:
            self._acquire_lock(break_stale_lock)
        try:
            self._root = self._open_root(zarr, mode)
        except BaseException:
            self.close()
            raise

    # ----- opening, lock -------------------------------------------------------------
    def _open_root(self, zarr, mode):
        from zarr.errors import GroupNotFoundError

        if mode == "w":
            _sync(self._store.clear())
            self._write_lock()  # clear() removed it with everything else
        root = self._local_root(zarr)
        if root is None:
            try:
                root = zarr.open_group(self._store, mode="a" if mode == "w" else mode, zarr_format=3)
            except (GroupNotFoundError, FileNotFoundError):
                raise MissingPathError(f"no weight store at {self.url!r}") from None
            except (ValueError, json.JSONDecodeError) as exc:
                raise CorruptStoreError(f"{self.url!r}: unreadable root metadata ({exc})") from None
        meta = root.attrs.get(_ATTR)
        if meta is None:
            with _quiet_lock_key():
                empty = not any(True for _ in root.members())
            if not self.writable or not empty:
                raise CorruptStoreError(
                    f"{self.url!r} is not a streamrough weight store (its root group has no "
                    f"'{_ATTR}' attributes; a half-written store?)"
                )
            meta = _root_attributes()
            root = _group_with_attributes(root, meta)
        self._check_schema(meta, self.url)
        return root

    def _local_root(self, zarr):
        """The root group of a local store read (or, in a new folder, created) with plain file
        operations in the calling thread, or None where Zarr's own route must decide (no
        local store, a missing or unusual root, a folder with other content): ``open_group``
        goes through Zarr's event loop, a thread hand-off per object that cost more than the
        operation (``docs/benchmarks.md``)."""
        from zarr.core.group import AsyncGroup, GroupMetadata
        from zarr.storage import LocalStore, StorePath

        if not isinstance(self._store, LocalStore):
            return None
        raw = _get(self._store, "zarr.json")
        if raw is None:
            if not self.writable or os.listdir(self._store.root) != [LOCK_KEY]:
                return None
            metadata = GroupMetadata(attributes={_ATTR: _root_attributes()})
            _put_metadata(self._store, "", metadata)
            return zarr.Group(AsyncGroup(metadata, StorePath(self._store, "")))
        try:
            document = json.loads(raw)
        except ValueError:
            return None
        if not isinstance(document, dict) or (document.get("zarr_format"), document.get("node_type")) != (3, "group"):
            return None
        if document.get("consolidated_metadata") is not None:
            return None
        return zarr.Group(AsyncGroup.from_dict(StorePath(self._store, ""), document))

    @staticmethod
    def _check_schema(meta, where):
        version = meta.get("schema_version") if isinstance(meta, dict) else None
        if not isinstance(version, int):
            raise CorruptStoreError(f"{where!r}: no schema_version in its streamrough attributes")
        if version > SCHEMA_VERSION:
            raise SchemaVersionError(
                f"{where!r} has schema version {version}; this streamrough reads up to "
                f"{SCHEMA_VERSION}: upgrade streamrough"
            )

    def _lock_bytes(self):
        return json.dumps(
            {"token": self._lock_token, "host": socket.gethostname(), "pid": os.getpid(), "since": _now()}
        ).encode()

    def _write_lock(self):
        _put(self._store, LOCK_KEY, self._lock_bytes())

    def _acquire_lock(self, break_stale_lock):
        self._lock_token = uuid.uuid4().hex
        for _ in range(2):
            _put(self._store, LOCK_KEY, self._lock_bytes(), how="exclusive")
            raw = _get(self._store, LOCK_KEY)
            try:
                holder = json.loads(raw) if raw else {}
            except ValueError:
                holder = {}
            if holder.get("token") == self._lock_token:
                return
            if break_stale_lock and self._stale(holder):
                _delete(self._store, LOCK_KEY)
                continue
            break
        self._lock_token = None
        raise StoreLockedError(
            f"{self.url!r} is locked by another writer (host {holder.get('host')!r}, pid "
            f"{holder.get('pid')!r}, since {holder.get('since')!r}); open it with mode='r', or "
            f"delete {LOCK_KEY!r} in the store if that writer is gone"
        )

    @staticmethod
    def _stale(holder):
        if holder.get("host") != socket.gethostname() or not isinstance(holder.get("pid"), int):
            return False
        try:
            os.kill(holder["pid"], 0)
        except ProcessLookupError:
            return True
        except PermissionError:
            return False
        return False

    def close(self):
        """Release the writer's lock (reads need no lock).  Idempotent."""
        if self._lock_token is not None:
            raw = _get(self._store, LOCK_KEY)
            if raw and json.loads(raw).get("token") == self._lock_token:
                _delete(self._store, LOCK_KEY)
            self._lock_token = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def __repr__(self):
        return f"WeightStore({self.url!r}, mode={self.mode!r})"

    @property
    def schema_version(self) -> int:
        """Schema version the store was written with."""
        return self._root.attrs[_ATTR]["schema_version"]

    def _require_writable(self):
        if not self.writable or (self._lock_token is None):
            raise StoreError(f"{self.url!r} is not open for writing (mode={self.mode!r}, or closed)")

    # ----- navigation ----------------------------------------------------------------
    def runs(self):
        """Names of the runs (models) in the store."""
        with _quiet_lock_key():
            return sorted(name for name, _ in self._root.groups())

    def _run(self, run):
        try:
            return self._root[run]
        except KeyError:
            raise MissingPathError(f"{self.url!r} has no run {run!r} (runs: {self.runs()})") from None

    def checkpoints(self, run=DEFAULT_RUN):
        """``[(name, step, complete), ...]`` of a run, in step order (the snapshot first)."""
        group = self._run(run)
        committed = set(group.attrs.get(_ATTR, {}).get("committed", []))
        out = []
        for name, g in group.groups():
            step = g.attrs.get(_ATTR, {}).get("step")
            out.append((name, step, name in committed))
        return sorted(out, key=lambda c: (-1 if c[1] is None else c[1], c[0]))

    def steps(self, run=DEFAULT_RUN):
        """Steps of the run's committed checkpoints, ascending (None for a snapshot)."""
        return [step for _, step, complete in self.checkpoints(run) if complete]

    def _checkpoint(self, run, step):
        name = checkpoint_name(step)
        try:
            return self._run(run)[name]
        except KeyError:
            raise MissingPathError(f"{self.url!r}: run {run!r} has no checkpoint {name!r}") from None

    def paths(self, run=DEFAULT_RUN, step=None):
        """Roles of the weight paths of one checkpoint."""
        return sorted(name for name, _ in self._checkpoint(run, step).arrays())

    def _array(self, role, run, step):
        group = self._checkpoint(run, step)
        where = f"{self.url}/{run}/{checkpoint_name(step)}/{role}"
        try:
            arr = group[role]
        except KeyError:
            raise MissingPathError(f"no array {where!r} (paths there: {self.paths(run, step)})") from None
        except (ValueError, json.JSONDecodeError) as exc:
            raise CorruptStoreError(f"{where!r}: unreadable array metadata ({exc})") from None
        meta = arr.attrs.get(_ATTR)
        if not isinstance(meta, dict):
            raise CorruptStoreError(f"{where!r} has no streamrough attributes (a half-written array?)")
        self._check_schema(meta, where)
        return arr, meta, where

    def array(self, role, run=DEFAULT_RUN, step=None):
        """The Zarr array of a path (for ``dask.array.from_zarr``).

        Only its first ``info(...).n_layers`` layers are committed; rows past them are not
        part of the path.
        """
        return self._array(role, run, step)[0]

    def info(self, role, run=DEFAULT_RUN, step=None) -> PathInfo:
        """The recorded description of a path (see :class:`PathInfo`)."""
        arr, meta, _ = self._array(role, run, step)
        hashes = meta["layer_hashes"]
        shards = arr.shards
        return PathInfo(
            run=run,
            checkpoint=checkpoint_name(step),
            step=step,
            role=meta["role"],
            n_layers=meta["n_layers"],
            layer_shape=tuple(meta["layer_shape"]),
            dtype=meta["dtype"],
            layer_names=tuple(meta["layer_names"]),
            convention=meta["convention"],
            source=meta.get("source"),
            source_sha256=meta.get("source_sha256"),
            layer_hash=_algorithm(meta),
            content_hash=_content_hash(meta["dtype"], meta["layer_shape"], _algorithm(meta), hashes),
            chunks=tuple(arr.chunks),
            shards=None if shards is None else tuple(shards),
            created=meta["created"],
            streamrough_version=meta["streamrough_version"],
        )

    # ----- reading -------------------------------------------------------------------
    def read(self, role, run=DEFAULT_RUN, step=None, *, layers=None, verify=True) -> np.ndarray:
        """The committed layers of a path, shape ``(n, *layer_shape)``, in the stored dtype.

        Parameters
        ----------
        role : str
        run : str
        step : int or None
        layers : slice, optional
            Which committed layers (default all).
        verify : bool
            Check every layer against its recorded hash (default): a truncated, missing or
            altered chunk raises :class:`CorruptStoreError` instead of returning wrong numbers.
        """
        arr, meta, where = self._array(role, run, step)
        n = meta["n_layers"]
        sel = range(n)[layers if layers is not None else slice(None)]
        if sel.step != 1:
            raise ValueError("layers must be a slice with step 1")
        try:
            data = arr[sel.start : sel.stop] if len(sel) else np.empty((0, *meta["layer_shape"]), arr.dtype)
        except Exception as exc:  # codec errors of a truncated chunk come in many types
            raise CorruptStoreError(f"{where!r}: cannot decode layers {sel.start}..{sel.stop - 1}: {exc}") from exc
        if verify:
            algorithm = _algorithm(meta)
            for k, layer in zip(sel, data):
                if layer_hash(layer, algorithm) != meta["layer_hashes"][k]:
                    raise CorruptStoreError(
                        f"{where!r}: layer {k} ({meta['layer_names'][k]!r}) does not match its "
                        "recorded hash (a missing, truncated or altered chunk)"
                    )
        return data

    def layer_across_checkpoints(self, role, layer, run=DEFAULT_RUN, *, verify=True):
        """One layer of a path through the run's committed checkpoints.

        Returns
        -------
        steps : list of int or None
        layers : ndarray, shape (C, *layer_shape)
        """
        steps = self.steps(run)
        if not steps:
            raise MissingPathError(f"{self.url!r}: run {run!r} has no committed checkpoint")
        return steps, np.stack([self.read(role, run, s, layers=slice(layer, layer + 1), verify=verify)[0] for s in steps])

    # ----- writing -------------------------------------------------------------------
    def create_path(
        self,
        role,
        layer_shape,
        dtype,
        *,
        run=DEFAULT_RUN,
        step=None,
        convention="increments",
        source=None,
        source_sha256=None,
        capacity=0,
        compression=None,
        overwrite=False,
        executor=None,
    ) -> PathWriter:
        """Create an empty path array and return its writer.

        Parameters
        ----------
        role : str
            Array name, e.g. ``"h.{k}.mlp.c_fc.weight"`` (no ``/``).
        layer_shape : tuple of int
        dtype : {"float16", "float32", "float64"}
            Stored as given, never converted.
        run, step : where it goes (the checkpoint group is created if missing).
        convention : {"increments", "values"}
        source, source_sha256 : str, optional
            Provenance recorded in the attributes.
        capacity : int
            Expected number of layers: allocates the shape once and caps the layers per
            chunk (:func:`chunk_layout`); appends may go past it.
        compression : {None, "zstd"}
            None (default): float weights are close to incompressible (Zstandard level 1
            saves about 8% of float32 Gaussian weights, at a sixth of the write speed;
            ``benchmarks/bench_ingest.py``).  ``"zstd"``: Zstandard level 1.
        overwrite : bool
            Replace an existing array of that name.
        executor : concurrent.futures.Executor, optional
            Where the writer stores its one-layer chunks (see :class:`PathWriter`); None
            (default): in the calling thread.
        """
        from .paths import CONVENTIONS

        self._require_writable()
        if not isinstance(role, str) or not role or "/" in role or role.startswith(("_", ".")):
            raise ValueError(f"role must be a non-empty name without '/' nor a leading '_' or '.', got {role!r}")
        dtype = np.dtype(dtype)
        if dtype.name not in _FLOAT_DTYPES:
            raise TypeError(f"dtype must be one of {_FLOAT_DTYPES}, got {dtype}")
        if convention not in CONVENTIONS:
            raise ValueError(f"convention must be one of {CONVENTIONS}, got {convention!r}")
        layer_shape = tuple(int(s) for s in layer_shape)
        if not layer_shape or min(layer_shape) < 1:
            raise ValueError(f"layer_shape must have positive sizes, got {layer_shape}")
        _, ckpt = self._groups(run, step)
        name = checkpoint_name(step)
        chunks, shards = chunk_layout(layer_shape, dtype.itemsize, capacity)
        meta = {
            "schema_version": SCHEMA_VERSION,
            "role": role,
            "n_layers": 0,
            "layer_names": [],
            "layer_hashes": [],
            "layer_hash": LAYER_HASH,
            "layer_shape": list(layer_shape),
            "dtype": dtype.name,
            "convention": convention,
            "source": None if source is None else str(source),
            "source_sha256": source_sha256,
            "created": _now(),
            "streamrough_version": _version(),
        }
        if compression not in (None, "zstd"):
            raise ValueError(f"compression must be None or 'zstd', got {compression!r}")
        from zarr.storage import StorePath

        path = f"{ckpt.path}/{role}"
        if overwrite:
            _sync(StorePath(self._store, path).delete_dir())
        elif _exists(self._store, f"{path}/zarr.json"):
            raise StoreError(f"{self.url}/{run}/{name}/{role} exists: pass overwrite=True to replace it")
        metadata = _array_metadata((int(capacity), *layer_shape), dtype, chunks, shards, compression, {_ATTR: meta})
        _put_metadata(self._store, path, metadata)
        arr = _array_object(StorePath(self._store, path), metadata)
        return PathWriter(self, arr, meta, f"{self.url}/{run}/{name}/{role}", executor)

    def _groups(self, run, step):
        """The run and checkpoint groups, created if missing.  A writer keeps them: it holds
        the lock, so nobody else changes them, and one object per group keeps its attributes
        current (a path's creation then costs no group reads)."""
        name = checkpoint_name(step)
        if run not in self._runs:
            self._runs[run] = self._require_group(self._root, run, {"role": "run", "committed": [], "created": _now()})
        if (run, name) not in self._checkpoints:
            attrs = {"role": "checkpoint", "step": step, "created": _now()}
            self._checkpoints[run, name] = self._require_group(self._runs[run], name, attrs)
        return self._runs[run], self._checkpoints[run, name]

    def _require_group(self, parent, name, attrs):
        """Group `name` of `parent`, created with our attributes `attrs` if missing (one write
        of its ``zarr.json``: Zarr's ``create_group`` checks the node and its parents first)."""
        import zarr
        from zarr.core.group import AsyncGroup, GroupMetadata
        from zarr.storage import StorePath

        path = f"{parent.path}/{name}" if parent.path else name
        if not _exists(self._store, f"{path}/zarr.json"):
            metadata = GroupMetadata(attributes={_ATTR: attrs})
            _put_metadata(self._store, path, metadata)
            return zarr.Group(AsyncGroup(metadata, StorePath(self._store, path)))
        group = parent[name]
        if not isinstance(group, zarr.Group):
            raise CorruptStoreError(f"{self.url}/{group.path} is an array where a group belongs")
        if _ATTR not in group.attrs:
            group.attrs[_ATTR] = attrs
        return group

    def writer(self, role, run=DEFAULT_RUN, step=None, *, executor=None) -> PathWriter:
        """A writer that appends to an existing path after its committed layers (`executor`:
        see :meth:`create_path`)."""
        self._require_writable()
        arr, meta, where = self._array(role, run, step)
        return PathWriter(self, arr, meta, where, executor)

    def commit_checkpoint(self, run=DEFAULT_RUN, step=None):
        """Mark a checkpoint complete (all its paths written); listed by :meth:`steps`."""
        self._require_writable()
        if (run, checkpoint_name(step)) in self._checkpoints:
            group = self._runs[run]
        else:
            group = self._run(run)
            self._checkpoint(run, step)  # it must exist
            self._runs[run] = group
        meta = dict(group.attrs[_ATTR])
        name = checkpoint_name(step)
        if name not in meta["committed"]:
            meta["committed"] = meta["committed"] + [name]
            self._runs[run] = _group_with_attributes(group, meta)

    # ----- result cache --------------------------------------------------------------
    def _cache_key(self, role, run, step, params):
        content = self.info(role, run, step).content_hash
        blob = json.dumps({"role": role, "params": params, "content": content}, sort_keys=True, default=str)
        return hashlib.sha256(blob.encode()).hexdigest()[:32]

    def cache_get(self, role, params, run=DEFAULT_RUN, step=None):
        """A result cached for this path's current content and `params`, or None.

        `params` is a JSON-serialisable dict of everything the result depends on.  The key
        includes the path's content hash, so a changed path never returns a stale result.
        """
        key = self._cache_key(role, run, step, params)
        try:
            entry = self._checkpoint(run, step)[f"{RESULTS}/{key}"]
        except KeyError:
            return None
        value = dict(entry.attrs.get(_ATTR, {}).get("value", {}))
        for name, arr in entry.arrays():
            value[name] = arr[...]
        return value

    def cache_put(self, role, params, value, run=DEFAULT_RUN, step=None):
        """Cache `value` (a dict of JSON scalars/lists and numpy arrays) for `params`."""
        self._require_writable()
        key = self._cache_key(role, run, step, params)
        group = self._checkpoint(run, step).require_group(RESULTS).create_group(key, overwrite=True)
        scalars = {}
        for name, v in value.items():
            if isinstance(v, np.ndarray):
                group.create_array(name, data=v)
            else:
                scalars[name] = v.item() if isinstance(v, np.generic) else v
        group.attrs[_ATTR] = {"params": params, "value": scalars, "created": _now()}


def _array_metadata(shape, dtype, chunks, shards, compression, attributes):
    """The Zarr v3 metadata of a path array, as ``zarr.create_array`` makes it (a test checks
    them equal), built here so that creating an array is one object write: Zarr's own
    creation checks the node and each parent group through its event loop first (a
    third of the fixed cost of an ingest, under load).

    Chunk keys are flat (``c.<k>.0.0`` in the array's folder): nested keys (``c/<k>/0/0``)
    made two new folders per one-layer chunk, as many file-system operations as the write.
    """
    from zarr.codecs import BytesCodec, ShardingCodec, ZstdCodec
    from zarr.core.chunk_grids import RegularChunkGrid
    from zarr.core.metadata.v3 import ArrayV3Metadata

    codecs = (BytesCodec(),) + ((ZstdCodec(level=1),) if compression == "zstd" else ())
    if shards is not None:
        codecs = (ShardingCodec(chunk_shape=chunks, codecs=codecs),)
    return ArrayV3Metadata(
        shape=shape,
        data_type=_zarr_dtype(np.dtype(dtype).name),
        chunk_grid=RegularChunkGrid(chunk_shape=shards or chunks),
        chunk_key_encoding={"name": "default", "separator": "."},
        fill_value=0,
        codecs=codecs,
        attributes=attributes,
        dimension_names=("layer",) + tuple(f"axis_{i}" for i in range(1, len(shape))),
    )


@functools.lru_cache(maxsize=None)
def _zarr_dtype(name):
    """Zarr's data type of a numpy dtype name (its parser took a third of a path's creation)."""
    from zarr.core.dtype import parse_dtype

    return parse_dtype(name, zarr_format=3)


def _array_object(store_path, metadata):
    """The Zarr array of `metadata` at `store_path` (no store access).  Every chunk is written,
    zeros included: no all-fill-value scan per chunk (it halved the write speed), and a
    missing chunk is always damage."""
    import zarr
    from zarr.core.array import AsyncArray

    return zarr.Array(AsyncArray(metadata, store_path, config={"write_empty_chunks": True}))


def _exists(store, key) -> bool:
    from zarr.storage import LocalStore

    if isinstance(store, LocalStore):
        return os.path.isfile(os.path.join(store.root, key))
    return _sync(store.exists(key))


def _put(store, key, data, size=None, *, how="replace"):
    """Store `data` (bytes-like), zero-padded to `size` bytes if given, as the object `key`,
    in the calling thread.  `how`: ``"replace"`` atomically; ``"exclusive"`` atomically and
    only if `key` does not exist (else nothing is written; an object store may not guarantee
    it, so read the object back); ``"in place"`` as a local file written where it is (for
    chunks no reader may read yet; atomic elsewhere)."""
    from zarr.core.buffer import default_buffer_prototype
    from zarr.storage import LocalStore

    if isinstance(store, LocalStore):
        with contextlib.suppress(FileExistsError) if how == "exclusive" else contextlib.nullcontext():
            _write_file(os.path.join(store.root, key), data, size, how=how)
        return
    data = np.frombuffer(data, np.uint8)
    if size is not None and size > len(data):
        data = np.concatenate([data, np.zeros(size - len(data), np.uint8)])
    buffer = default_buffer_prototype().buffer.from_array_like(data)
    _sync(store.set_if_not_exists(key, buffer) if how == "exclusive" else store.set(key, buffer))


def _get(store, key):
    """The bytes of the object `key`, or None if there is none (in the calling thread for a
    local store)."""
    from zarr.core.buffer import default_buffer_prototype
    from zarr.storage import LocalStore

    if isinstance(store, LocalStore):
        try:
            with open(os.path.join(store.root, key), "rb") as f:
                return f.read()
        except FileNotFoundError:
            return None
    buffer = _sync(store.get(key, prototype=default_buffer_prototype()))
    return None if buffer is None else buffer.to_bytes()


def _delete(store, key):
    """Delete the object `key` if it exists (in the calling thread for a local store)."""
    from zarr.storage import LocalStore

    if isinstance(store, LocalStore):
        with contextlib.suppress(FileNotFoundError):
            os.unlink(os.path.join(store.root, key))
        return
    _sync(store.delete(key))


def _put_metadata(store, path, metadata):
    """Write a node's ``zarr.json`` (one atomic object write): the document Zarr writes (v3),
    without its indentation, which runs Python's JSON encoder instead of the C one (5 times
    slower on these documents, several metadata writes per path)."""
    document = json.dumps(metadata.to_dict(), allow_nan=True).encode()
    _put(store, f"{path}/zarr.json" if path else "zarr.json", document)


def _group_with_attributes(group, attrs):
    """`group` with its streamrough attributes set to `attrs`: one write of its ``zarr.json``
    in the calling thread (Zarr's attribute update goes through its event loop)."""
    import zarr
    from zarr.core.group import AsyncGroup

    metadata = dataclasses.replace(group.metadata, attributes={**group.metadata.attributes, _ATTR: attrs})
    _put_metadata(group.store_path.store, group.store_path.path, metadata)
    return zarr.Group(AsyncGroup(metadata, group.store_path))


def _write_file(path, data, size=None, *, how="replace"):
    """Write `data` (a bytes-like object), zero-padded to `size` bytes if given, as the file
    `path`, with its blocks allocated before the write: ext4 then writes 135 MiB in 24 files
    at the speed of ``np.save`` (which allocates too) instead of 1.3-1.5 times its time.

    `how`: ``"replace"``, atomically as Zarr's local store does (a temporary file in the same
    folder, renamed over `path`); ``"exclusive"``, the same but linked to `path`, so
    FileExistsError if it exists; ``"in place"``, `path` itself is written (a rename and a
    temporary name less per file, for chunks no reader reads before a later commit)."""
    tmp = path if how == "in place" else f"{path}.{uuid.uuid4().hex}.partial"
    flags = os.O_WRONLY | os.O_CREAT | (os.O_TRUNC if how == "in place" else os.O_EXCL)
    try:
        fd = os.open(tmp, flags, 0o666)
    except FileNotFoundError:  # a chunk key with folders (stores written before flat keys)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        fd = os.open(tmp, flags, 0o666)
    try:
        try:
            with memoryview(data) as view, view.cast("B") as rest:
                size = max(len(rest), size or 0)
                if size and hasattr(os, "posix_fallocate"):
                    with contextlib.suppress(OSError):  # a file system without it: write as is
                        os.posix_fallocate(fd, 0, size)
                if size > len(rest):
                    os.ftruncate(fd, size)  # the zeros past the data (a no-op after fallocate)
                while len(rest):
                    rest = rest[os.write(fd, rest) :]
        finally:
            os.close(fd)
        if how == "exclusive":
            os.link(tmp, path)
            os.unlink(tmp)
        elif how == "replace":
            os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def _raw_chunks(arr, layer_shape) -> bool:
    """Whether each chunk of `arr` is whole layers stored as their raw little-endian bytes."""
    from zarr.codecs import BytesCodec

    codecs = arr.metadata.codecs
    return (
        sys.byteorder == "little"
        and arr.shards is None
        and tuple(arr.chunks[1:]) == tuple(layer_shape)
        and len(codecs) == 1
        and isinstance(codecs[0], BytesCodec)
        and getattr(codecs[0].endian, "value", None) == "little"
    )


class PathWriter:
    """Appends layers to one path array; see :meth:`WeightStore.create_path`.

    ``append``/``append_many`` write the data, then commit (``n_layers`` and the layer hashes
    in the array's attributes): after they return the layers survive any crash.  ``stage``
    collects layers into whole shards and writes each full shard at once without committing;
    ``commit`` writes the rest and commits everything staged (ingest uses it: one metadata
    write per path instead of one per layer).

    Without an executor, chunks the writer stores itself are written by the calling thread
    while a thread hashes their new layers (blocks of at least
    ``_config.HASH_THREAD_MIN_BYTES``, where a CRC-32C that releases the GIL is found: see
    ``_gil_free_crc32c``; else the calling thread hashes them after the write); both are done
    when ``stage`` returns.

    With an `executor`, one-layer chunks are written by it while the calling thread hashes
    the layer and goes on (reads the next tensor): at most one chunk write is in flight, so
    memory holds one chunk beyond the caller's current tensor; the next write, ``commit``
    (before its commit point) and ``wait`` wait for it and raise its error.  A staged layer
    must not change until then.
    """

    def __init__(self, store, arr, meta, where, executor=None):
        self._store = store
        self._arr = arr
        self._meta = dict(meta)
        self.where = where
        self._layer_shape = tuple(meta["layer_shape"])
        self._dtype = np.dtype(meta["dtype"])
        self._block = arr.shards[0] if arr.shards is not None else arr.chunks[0]
        self._written = meta["n_layers"]  # layers whose data is written
        self._hash = _algorithm(meta)  # a path keeps the hash it was created with
        self._raw_chunks = _raw_chunks(arr, self._layer_shape)
        self._executor = executor
        self._pending = None  # the chunk write in flight (a Future), at most one
        self._buffer = None
        self._buffered = 0
        self._names = []
        self._hashes = []

    @property
    def n_layers(self):
        """Committed layers."""
        return self._meta["n_layers"]

    def _check(self, layer):
        layer = np.asarray(layer)
        if layer.shape != self._layer_shape:
            raise ValueError(f"{self.where}: layer has shape {layer.shape}, expected {self._layer_shape}")
        if layer.dtype != self._dtype:
            raise TypeError(f"{self.where}: layer has dtype {layer.dtype}, the path stores {self._dtype} (no silent conversion)")
        return layer

    def _grow(self, n):
        if self._arr.shape[0] < n:
            self._arr.resize((n, *self._layer_shape))

    def _write(self, start, block, new):
        """Write `block` at `start` and hash its last `new` layers (the new ones)."""
        self.wait()  # one write in flight at most: its chunk is the "one chunk" of the memory bound
        self._grow(start + len(block))
        layers = block[len(block) - new :]
        if not self._raw_chunks:
            self._arr[start : start + len(block)] = block
        elif self._executor is None or self._arr.chunks[0] > 1:
            # a chunk of several layers is the writer's buffer, which the next layer reuses
            # or replaces (two chunks in memory): it is written here, hashed meanwhile by a
            # thread where that runs without the GIL; both are done when this returns.  A
            # hash the thread has not started by the end of the write (no free core) is
            # taken back and done below: waiting for the thread to be scheduled cost more
            # than the hash on a busy machine
            hashing = _hash_in_thread(layers, self._hash)
            self._put_chunks(start, block)
            if hashing is not None and not hashing.cancel():
                self._hashes.extend(hashing.result())
                return
        else:  # the hash below overlaps the write
            self._pending = self._executor.submit(self._put_chunks, start, block)
        self._hashes.extend(layer_hash(layer, self._hash) for layer in layers)

    def wait(self):
        """Wait for the chunk write in flight, if any (raises its error)."""
        pending, self._pending = self._pending, None
        if pending is not None:
            pending.result()

    def _put_chunks(self, start, block):
        """Store the layers `block` from layer `start` (a chunk boundary) as their chunks: the
        layers' bytes, zero-padded to the chunk's size, are the encoded chunk (Zarr v3 spec,
        ``bytes`` codec, little endian, no other codec; Zarr pads an edge chunk with the fill
        value, 0), one object write each, in the calling thread (or the executor's).
        Layers of the chunk past `block` are not committed: zeros replace them.  A chunk
        holding committed layers is replaced atomically; a chunk of none (all of an ingest's)
        is written in place, as no reader reads it before the commit that follows its write.
        Zarr's own write of one chunk goes through its event-loop thread and an I/O thread,
        four thread hand-offs that cost more than the write on a busy machine
        (``docs/benchmarks.md``)."""
        path = self._arr.store_path
        per_chunk = self._arr.chunks[0]
        size = per_chunk * int(np.prod(self._layer_shape, dtype=np.int64)) * self._dtype.itemsize
        for first in range(0, len(block), per_chunk):
            key = self._arr.metadata.encode_chunk_key(((start + first) // per_chunk,) + (0,) * len(self._layer_shape))
            data = np.ascontiguousarray(block[first : first + per_chunk]).reshape(-1).view(np.uint8)
            how = "in place" if start + first >= self.n_layers else "replace"
            _put(path.store, f"{path.path}/{key}" if path.path else key, data, size, how=how)

    def stage(self, layer, name=None):
        """Add a layer; full shards are written, nothing is committed until :meth:`commit`."""
        layer = self._check(layer)
        pos = self._written + self._buffered
        self._names.append(str(pos if name is None else name))
        offset = pos % self._block
        if offset == 0 and self._buffered == 0 and self._block == 1:
            self._write(pos, layer[None], 1)  # a block of one layer: no copy
            self._written += 1
            return
        if self._buffer is None:
            start = pos - offset
            # no bigger than the allocated length needs (a short path gets a short buffer)
            size = min(self._block, max(self._arr.shape[0], pos + 1) - start)
            self._buffer = np.empty((size, *self._layer_shape), self._dtype)
            if offset:  # the tail block already holds written layers: keep them in the rewrite
                self._buffer[:offset] = self._arr[start:pos]
            self._buffer_start = start
        used = pos - self._buffer_start
        if used == len(self._buffer):  # past the expected length: double, up to a block
            grown = np.empty((min(self._block, 2 * used), *self._layer_shape), self._dtype)
            grown[:used] = self._buffer
            self._buffer = grown
        self._buffer[pos - self._buffer_start] = layer
        self._buffered += 1
        if pos + 1 - self._buffer_start == self._block:
            self._flush()

    def _flush(self):
        if self._buffered:
            end = self._written + self._buffered
            self._write(self._buffer_start, self._buffer[: end - self._buffer_start], self._buffered)
            self._written = end
            self._buffered = 0
        self._buffer = None

    def commit(self):
        """Write staged layers and record them as committed (data first, then the length)."""
        self._flush()
        self.wait()
        if not self._names:
            return
        meta = dict(self._meta)
        meta["n_layers"] = self._written
        meta["layer_names"] = meta["layer_names"] + self._names
        meta["layer_hashes"] = meta["layer_hashes"] + self._hashes
        # the commit point: one atomic write of the array's zarr.json, in this thread; the new
        # array object carries the attributes into Zarr's later writes of it (a resize)
        metadata = self._arr.metadata.update_attributes({**self._arr.metadata.attributes, _ATTR: meta})
        _put_metadata(self._arr.store_path.store, self._arr.store_path.path, metadata)
        self._arr = _array_object(self._arr.store_path, metadata)
        self._meta = meta
        self._names, self._hashes = [], []

    def append(self, layer, name=None):
        """Write one layer and commit it."""
        self.stage(layer, name)
        self.commit()

    def append_many(self, layers, names=None):
        """Write several layers (an array (m, *layer_shape) or an iterable) and commit them once."""
        names = [None] * len(layers) if names is None else list(names)
        for layer, name in zip(layers, names, strict=True):
            self.stage(layer, name)
        self.commit()
