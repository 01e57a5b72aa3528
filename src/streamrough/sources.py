"""Readers of model weights, one tensor at a time: numpy, npz, safetensors, PyTorch.

Every source lists its tensors (name, shape, dtype) without loading them and reads one tensor
on request, so that ingesting a model never holds a second copy of it.  torch is imported only
for a PyTorch checkpoint file.
"""

from __future__ import annotations

import abc
import hashlib
import json
import mmap
import os
import sys
import zipfile
from collections.abc import Mapping

import numpy as np

__all__ = ["open_source", "Source"]

_SAFETENSORS_DTYPES = {"F16": "float16", "F32": "float32", "F64": "float64", "BF16": "bfloat16"}
_TORCH_SUFFIXES = (".pt", ".pth", ".bin", ".ckpt")
#: madvise advice that maps a range's pages in one call (Linux 5.14+; the uapi value, which
#: Python's mmap module names only in newer versions).
_MADV_POPULATE_READ = getattr(mmap, "MADV_POPULATE_READ", 22 if sys.platform.startswith("linux") else None)


def file_sha256(path, block=1 << 20) -> str:
    """SHA-256 of a file, read in blocks of `block` bytes."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(block):
            h.update(chunk)
    return h.hexdigest()


class Source(abc.ABC):
    """Tensors of a model, listed without loading and read one at a time.

    Attributes
    ----------
    description : str
        What the tensors came from (a file or folder, or a type name).
    """

    description = ""

    @abc.abstractmethod
    def entries(self):
        """``[(name, shape, dtype), ...]`` in the source's order."""

    @abc.abstractmethod
    def read(self, name) -> np.ndarray:
        """One tensor as a numpy array (a view where the source allows)."""

    def sha256(self):
        """Hash of the source files, or None for an in-memory source."""
        return None


class ArraySource(Source):
    """A numpy array (L, ...): layer ``k`` is the tensor ``layers.k``."""

    def __init__(self, array, description="numpy array"):
        if array.ndim < 2:
            raise ValueError(f"a weight array must have shape (L, ...) with at least 2 axes, got {array.shape}")
        self._array = array
        self.description = description

    def entries(self):
        return [(f"layers.{k}", self._array.shape[1:], self._array.dtype.name) for k in range(len(self._array))]

    def read(self, name):
        return self._array[int(name.split(".")[1])]

    def sha256(self):
        return file_sha256(self.description) if os.path.isfile(self.description) else None


class MappingSource(Source):
    """A ``state_dict`` (torch tensors) or a dict of numpy arrays."""

    def __init__(self, mapping, description):
        self._map = {k: v for k, v in mapping.items() if hasattr(v, "shape") and hasattr(v, "dtype")}
        self.description = description

    def entries(self):
        return [(k, tuple(v.shape), str(v.dtype).removeprefix("torch.")) for k, v in self._map.items()]

    def read(self, name):
        value = self._map[name]
        if isinstance(value, np.ndarray):
            return value
        value = value.detach().cpu()
        if str(value.dtype) == "torch.bfloat16":
            value = value.float()  # exact: every bfloat16 is a float32
        return value.numpy()


class TorchFileSource(MappingSource):
    """A PyTorch checkpoint, loaded with ``weights_only=True`` and memory-mapped when possible."""

    def __init__(self, path):
        import torch

        try:
            obj = torch.load(path, map_location="cpu", weights_only=True, mmap=True)
        except RuntimeError:  # the legacy (non-zip) format cannot be memory-mapped
            obj = torch.load(path, map_location="cpu", weights_only=True)
        if isinstance(obj, Mapping):
            for key in ("state_dict", "model_state_dict", "model"):
                if isinstance(obj.get(key), Mapping):
                    obj = obj[key]
                    break
        if not isinstance(obj, Mapping):
            raise TypeError(f"{os.fspath(path)!r} holds a {type(obj).__name__}, not a state_dict")
        super().__init__(obj, os.fspath(path))

    def sha256(self):
        return file_sha256(self.description)


class NpzSource(Source):
    """A ``.npz`` archive: one tensor per member, headers read without the data."""

    def __init__(self, path):
        self.description = os.fspath(path)
        self._npz = np.load(path, allow_pickle=False)
        self._entries = []
        with zipfile.ZipFile(path) as z:
            for info in z.infolist():
                with z.open(info) as f:
                    major, _ = np.lib.format.read_magic(f)
                    read_header = np.lib.format.read_array_header_1_0 if major == 1 else np.lib.format.read_array_header_2_0
                    shape, _, dtype = read_header(f)
                self._entries.append((info.filename.removesuffix(".npy"), shape, dtype.name))

    def entries(self):
        return list(self._entries)

    def read(self, name):
        return self._npz[name]

    def sha256(self):
        return file_sha256(self.description)


class SafetensorsSource(Source):
    """One ``.safetensors`` file, or a folder of them with a ``*.safetensors.index.json``.

    The ``safetensors`` package (numpy interface, no torch) opens and validates each file and
    lists its tensors; the data are then read as zero-copy views of a memory map of the file
    (offsets from its header), so a tensor costs no memory beyond the page cache.  On Linux
    each tensor's pages are mapped in one call when it is read (``MADV_POPULATE_READ``):
    faulting them in one by one while its chunk is written cost an ingest more than the
    write of the data itself.  bfloat16 tensors become float32 exactly (a bfloat16 is the
    top half of a float32).
    """

    def __init__(self, path):
        from safetensors import safe_open

        path = os.fspath(path)
        self.description = path
        if os.path.isdir(path):
            indexes = sorted(f for f in os.listdir(path) if f.endswith(".safetensors.index.json"))
            if len(indexes) > 1:
                raise ValueError(f"{path!r} has several safetensors indexes: {indexes}")
            if indexes:
                with open(os.path.join(path, indexes[0])) as f:
                    weight_map = json.load(f)["weight_map"]
                files = list(dict.fromkeys(weight_map.values()))
                self._files = [os.path.join(path, indexes[0])] + [os.path.join(path, f) for f in files]
            else:
                files = sorted(f for f in os.listdir(path) if f.endswith(".safetensors"))
                if not files:
                    raise ValueError(f"{path!r} has no .safetensors files")
                self._files = [os.path.join(path, f) for f in files]
            shard_files = [os.path.join(path, f) for f in files]
        else:
            self._files = shard_files = [path]
        self._where = {}
        self._entries = []
        for file in shard_files:
            with safe_open(file, framework="np") as handle:
                for name in handle.keys():
                    piece = handle.get_slice(name)
                    dtype = _SAFETENSORS_DTYPES.get(piece.get_dtype(), piece.get_dtype())
                    self._entries.append((name, tuple(piece.get_shape()), dtype))
                    self._where[name] = file
        self._maps = {}
        self._populate = _MADV_POPULATE_READ

    def entries(self):
        return list(self._entries)

    def _map(self, file):
        if file not in self._maps:
            with open(file, "rb") as f:
                size = int.from_bytes(f.read(8), "little")
                header = json.loads(f.read(size))
                mapped = mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ)
            # a plain ndarray over the map: slices of a np.memmap cost a subclass finalizer each
            self._maps[file] = (mapped, np.frombuffer(mapped, np.uint8), 8 + size, header)
        return self._maps[file]

    def _map_pages(self, mapped, start, end):
        """Map the pages of bytes start..end of the file now, if the system can."""
        if self._populate is None or end <= start:
            return
        first = start - start % mmap.PAGESIZE
        try:
            mapped.madvise(self._populate, first, end - first)
        except (OSError, ValueError, AttributeError):  # an older kernel, or no madvise: faults then
            self._populate = None

    def read(self, name):
        mapped, data, base, header = self._map(self._where[name])
        info = header[name]
        start, end = (base + offset for offset in info["data_offsets"])
        self._map_pages(mapped, start, end)
        raw = data[start:end]
        if info["dtype"] == "BF16":
            return (raw.view(np.uint16).astype(np.uint32) << 16).view(np.float32).reshape(info["shape"])
        if info["dtype"] not in _SAFETENSORS_DTYPES:
            raise TypeError(f"{name!r}: dtype {info['dtype']} is not a floating type this reader handles")
        return raw.view(_SAFETENSORS_DTYPES[info["dtype"]]).reshape(info["shape"])

    def sha256(self):
        if len(self._files) == 1:
            return file_sha256(self._files[0])
        h = hashlib.sha256()
        for file in self._files:
            h.update(f"{os.path.basename(file)}:{file_sha256(file)}\n".encode())
        return h.hexdigest()


def open_source(source) -> Source:
    """A :class:`Source` for a model given in any supported form.

    Parameters
    ----------
    source : Source, ndarray, mapping, nn.Module, str or os.PathLike
        A Source (returned as is); a numpy array ``(L, ...)``; a ``state_dict`` or dict of arrays; a torch ``nn.Module``
        (its ``state_dict``); a ``.npy``/``.npz``/``.safetensors`` file; a PyTorch checkpoint
        (``.pt``, ``.pth``, ``.bin``, ``.ckpt``; ``torch.load(weights_only=True)``); or a
        folder of safetensors files (a sharded Hugging Face checkpoint with its index).
    """
    if isinstance(source, Source):
        return source
    if isinstance(source, np.ndarray):
        return ArraySource(source)
    if isinstance(source, Mapping):
        return MappingSource(source, "state_dict")
    if callable(getattr(source, "state_dict", None)):
        return MappingSource(source.state_dict(), f"{type(source).__module__}.{type(source).__name__}")
    if not isinstance(source, (str, os.PathLike)):
        raise TypeError(f"source must be an array, a state_dict, an nn.Module or a file path, got {type(source).__name__}")
    path = os.fspath(source)
    if not os.path.exists(path):
        raise FileNotFoundError(f"source {path!r} does not exist")
    if os.path.isdir(path) or path.endswith(".safetensors"):
        return SafetensorsSource(path)
    if path.endswith(".npz"):
        return NpzSource(path)
    if path.endswith(".npy"):
        return ArraySource(np.load(path, mmap_mode="r", allow_pickle=False), path)
    if path.endswith(_TORCH_SUFFIXES):
        return TorchFileSource(path)
    raise ValueError(
        f"source {path!r}: unsupported file type (use .safetensors, a safetensors folder, .npz, "
        f".npy, or a PyTorch checkpoint {'/'.join(_TORCH_SUFFIXES)})"
    )
