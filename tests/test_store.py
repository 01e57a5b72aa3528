import hashlib
import json
import os
import pathlib

import numpy as np
import pytest

import streamrough as sr
from streamrough import store as st


def _layers(rng, n, shape, dtype):
    return rng.standard_normal((n, *shape)).astype(dtype)


@pytest.mark.parametrize("dtype", ["float16", "float32", "float64"])
@pytest.mark.parametrize("shape", [(3, 4), (64, 64), (300, 300)])
def test_roundtrip_keeps_dtype_and_values(tmp_path, rng, dtype, shape):
    data = _layers(rng, 7, shape, dtype)
    with sr.open_store(tmp_path / "s", mode="w") as store:
        w = store.create_path("b.{k}.W", shape, dtype)
        w.append(data[0], name="b.0.W")
        w.append_many(data[1:4])
        for layer in data[4:]:
            w.stage(layer)
        w.commit()
        assert w.n_layers == 7
    store = sr.open_store(tmp_path / "s")
    out = store.read("b.{k}.W")
    assert out.dtype == np.dtype(dtype)
    np.testing.assert_array_equal(out, data)
    np.testing.assert_array_equal(store.read("b.{k}.W", layers=slice(2, 5)), data[2:5])
    info = store.info("b.{k}.W")
    assert info.n_layers == 7 and info.layer_shape == shape and info.dtype == dtype
    assert info.layer_names[:2] == ("b.0.W", "1")
    assert store.array("b.{k}.W").metadata.dimension_names == ("layer", "axis_1", "axis_2")


def test_chunk_layout():
    assert st.chunk_layout((1024, 1024), 4) == ((1, 1024, 1024), None)
    assert st.chunk_layout((300, 300), 4, n_layers=3) == ((1, 300, 300), None)
    assert st.chunk_layout((64, 64), 4, n_layers=12) == ((12, 64, 64), None)  # no padded edge chunk
    assert st.chunk_layout((64, 64), 4) == ((16, 64, 64), (64, 64, 64))  # unknown length: 64
    assert st.chunk_layout((64, 64), 4, n_layers=5000) == ((16, 64, 64), (1024, 64, 64))
    assert st.chunk_layout((3, 4), 4, n_layers=5000) == ((1024, 3, 4), None)
    assert st.chunk_layout((8192, 1024), 4) == ((1, 4096, 1024), None)
    chunks, shards = st.chunk_layout((8192, 8192), 4)
    assert chunks == (1, 512, 8192) and shards is None
    assert st.chunk_layout((2**23,), 4) == ((1, 2**22), None)


def test_no_silent_conversion(tmp_path):
    with sr.open_store(tmp_path / "s", mode="w") as store:
        w = store.create_path("b.{k}.W", (2,), "float32")
        with pytest.raises(TypeError, match="dtype float64, the path stores float32"):
            w.append(np.zeros(2))
        with pytest.raises(ValueError, match="shape \\(3,\\), expected \\(2,\\)"):
            w.append(np.zeros(3, np.float32))
        with pytest.raises(TypeError, match="dtype must be one of"):
            store.create_path("x.{k}", (2,), "int32")
        with pytest.raises(st.StoreError, match="exists: pass overwrite=True"):
            store.create_path("b.{k}.W", (2,), "float32")


def test_second_writer_is_refused_and_reader_allowed(tmp_path):
    with sr.open_store(tmp_path / "s", mode="w") as store:
        store.create_path("b.{k}.W", (2,), "float64").append(np.ones(2))
        with pytest.raises(st.StoreLockedError, match="locked by another writer .* pid"):
            sr.open_store(tmp_path / "s", mode="a")
        assert sr.open_store(tmp_path / "s").info("b.{k}.W").n_layers == 1
    with sr.open_store(tmp_path / "s", mode="r+") as again:  # released on close
        again.writer("b.{k}.W").append(np.zeros(2))
    with pytest.raises(st.StoreError, match="not open for writing"):
        sr.open_store(tmp_path / "s").create_path("c.{k}", (1,), "float64")


def test_stale_lock_of_dead_process_is_taken_over(tmp_path):
    sr.open_store(tmp_path / "s", mode="w").close()
    lock = {"token": "x", "host": __import__("socket").gethostname(), "pid": 2**22 + 12345, "since": "then"}
    (tmp_path / "s" / st.LOCK_KEY).write_text(json.dumps(lock))
    with pytest.raises(st.StoreLockedError):
        sr.open_store(tmp_path / "s", mode="a", break_stale_lock=False)
    with sr.open_store(tmp_path / "s", mode="a") as store:
        assert store.writable


def test_checkpoints_and_layer_across_them(rng):
    url = "memory://test-checkpoints"
    data = {step: _layers(rng, 4, (2, 3), "float64") for step in (0, 10, 20)}
    with sr.open_store(url, mode="w") as store:
        for step, layers in data.items():
            store.create_path("b.{k}.W", (2, 3), "float64", run="train", step=step).append_many(layers)
            if step != 20:
                store.commit_checkpoint("train", step)
        assert store.checkpoints("train") == [
            ("step_000000000", 0, True), ("step_000000010", 10, True), ("step_000000020", 20, False)
        ]
        assert store.steps("train") == [0, 10]
        steps, layer = store.layer_across_checkpoints("b.{k}.W", 2, run="train")
        assert steps == [0, 10]
        np.testing.assert_array_equal(layer, np.stack([data[0][2], data[10][2]]))
        np.testing.assert_array_equal(store.read("b.{k}.W", run="train", step=20), data[20])


def test_result_cache_is_keyed_by_content(rng):
    with sr.open_store("memory://test-cache", mode="w") as store:
        w = store.create_path("b.{k}.W", (2,), "float64")
        w.append_many(_layers(rng, 3, (2,), "float64"))
        params = {"p": 2.5}
        assert store.cache_get("b.{k}.W", params) is None
        store.cache_put("b.{k}.W", params, {"level1": 1.5, "partition": np.array([0, 3])})
        hit = store.cache_get("b.{k}.W", params)
        assert hit["level1"] == 1.5 and hit["partition"].tolist() == [0, 3]
        assert store.cache_get("b.{k}.W", {"p": 3.0}) is None
        w.append(np.zeros(2))  # the path changed: the old entry is never served
        assert store.cache_get("b.{k}.W", params) is None


def _store_with_path(path, rng, shape=(4, 4)):
    with sr.open_store(path, mode="w") as store:
        store.create_path("b.{k}.W", shape, "float32").append_many(_layers(rng, 3, shape, "float32"))


def test_newer_schema_is_refused(tmp_path, rng):
    _store_with_path(tmp_path / "s", rng)
    meta_file = tmp_path / "s" / "zarr.json"
    meta = json.loads(meta_file.read_text())
    meta["attributes"]["streamrough"]["schema_version"] = 99
    meta_file.write_text(json.dumps(meta))
    with pytest.raises(st.SchemaVersionError, match="s. has schema version 99; .* reads up to 2"):
        sr.open_store(tmp_path / "s")


def test_missing_things_name_the_path(tmp_path, rng):
    _store_with_path(tmp_path / "s", rng)
    store = sr.open_store(tmp_path / "s")
    with pytest.raises(st.MissingPathError, match=r"no array .*model/weights/nope. \(paths there: \[.b\.\{k\}\.W.\]"):
        store.read("nope")
    with pytest.raises(st.MissingPathError, match="has no run 'other'"):
        store.paths("other")
    with pytest.raises(st.MissingPathError, match="no checkpoint 'step_000000005'"):
        store.paths(step=5)
    with pytest.raises(st.MissingPathError, match="no weight store"):
        sr.open_store(tmp_path / "absent")


def _chunk_files(root):
    """Chunk files: keys "c.<k>.0" (flat, new arrays) or "c/<k>/0" (nested)."""
    return [
        os.path.join(d, f) for d, _, fs in os.walk(root) for f in fs
        if f.startswith("c.") or os.sep + "c" + os.sep in os.path.join(d, f)
    ]


@pytest.mark.parametrize("damage", ["truncate", "delete", "flip"])
def test_damaged_chunk_is_an_error_naming_the_path(tmp_path, rng, damage):
    _store_with_path(tmp_path / "s", rng, shape=(300, 300))  # one chunk per layer
    chunk = sorted(_chunk_files(tmp_path / "s"))[1]
    chunk = pathlib.Path(chunk)
    raw = chunk.read_bytes()
    if damage == "truncate":
        chunk.write_bytes(raw[: len(raw) // 2])
    elif damage == "delete":
        chunk.unlink()
    else:
        chunk.write_bytes(raw[:100] + bytes([raw[100] ^ 0xFF]) + raw[101:])
    with pytest.raises(st.CorruptStoreError, match="model/weights/b.{k}.W"):
        sr.open_store(tmp_path / "s").read("b.{k}.W")


def test_half_written_store_is_an_error(tmp_path):
    import zarr

    root = zarr.open_group(tmp_path / "s", mode="w")
    root.create_group("model")
    with pytest.raises(st.CorruptStoreError, match="not a streamrough weight store"):
        sr.open_store(tmp_path / "s")
    (tmp_path / "s" / "zarr.json").write_text('{"zarr_format": 3, "node_')
    with pytest.raises(st.CorruptStoreError, match="unreadable root metadata"):
        sr.open_store(tmp_path / "s")


def test_reopened_writer_continues_after_committed_layers(tmp_path, rng):
    data = _layers(rng, 9, (64, 64), "float32")  # shards of 64 layers: appends rewrite the tail shard
    with sr.open_store(tmp_path / "s", mode="w") as store:
        store.create_path("b.{k}.W", (64, 64), "float32").append_many(data[:4])
    with sr.open_store(tmp_path / "s", mode="a") as store:
        w = store.writer("b.{k}.W")
        w.stage(data[4])  # staged, never committed
    with sr.open_store(tmp_path / "s", mode="a") as store:
        w = store.writer("b.{k}.W")
        assert w.n_layers == 4
        for layer in data[4:]:
            w.append(layer)
    np.testing.assert_array_equal(sr.open_store(tmp_path / "s").read("b.{k}.W"), data)


def test_analyze_refuses_a_store_with_only_half_written_checkpoints(tmp_path, rng):
    pytest.importorskip("pandas")
    with sr.open_store(tmp_path / "s", mode="w") as store:  # a path written, its checkpoint never committed
        store.create_path("b.{k}.W", (2,), "float64").append_many(_layers(rng, 3, (2,), "float64"))
    with pytest.raises(st.CorruptStoreError, match=r"no complete checkpoint to analyse \(half-written: \['model/weights'\]\)"):
        sr.analyze(tmp_path / "s", p=2.5)


def test_analyze_reads_without_caching_while_a_writer_holds_the_lock(tmp_path, rng):
    pytest.importorskip("pandas")
    with sr.open_store(tmp_path / "s", mode="w") as store:
        sr.ingest({f"b.{k}.W": rng.standard_normal(2) for k in range(3)}, store)
        table = sr.analyze(str(tmp_path / "s"), p=[1.0])  # the writer is still open
        assert table["n_layers"].tolist() == [3]
        assert store.cache_get("b.{k}.W", {"fn": "rough_pvar", "p": 1.0, "lift": "iterated",
                                           "convention": "increments", "version": 1}) is None


def _as_schema_1(root):
    """Rewrite a store as streamrough wrote it with schema version 1: per-layer SHA-256
    (first 128 bits), the algorithm not recorded."""
    store = sr.open_store(root)
    for role in store.paths():
        data = store.read(role)
        meta_file = pathlib.Path(root) / "model" / "weights" / role / "zarr.json"
        meta = json.loads(meta_file.read_text())
        attrs = meta["attributes"]["streamrough"]
        del attrs["layer_hash"]
        attrs["schema_version"] = 1
        attrs["layer_hashes"] = [hashlib.sha256(layer.tobytes()).hexdigest()[:32] for layer in data]
        meta_file.write_text(json.dumps(meta))
    meta_file = pathlib.Path(root) / "zarr.json"
    meta = json.loads(meta_file.read_text())
    meta["attributes"]["streamrough"]["schema_version"] = 1
    meta_file.write_text(json.dumps(meta))


def test_schema_1_store_opens_verifies_and_keeps_its_hash(tmp_path, rng):
    data = _layers(rng, 5, (300, 300), "float32")
    with sr.open_store(tmp_path / "s", mode="w") as store:
        store.create_path("b.{k}.W", (300, 300), "float32").append_many(data[:3])
    _as_schema_1(tmp_path / "s")
    info = sr.open_store(tmp_path / "s").info("b.{k}.W")
    assert info.layer_hash == "sha256-128"
    legacy = hashlib.sha256(json.dumps(["float32", [300, 300]]).encode())
    for layer in data[:3]:
        legacy.update(hashlib.sha256(layer.tobytes()).hexdigest()[:32].encode())
    assert info.content_hash == legacy.hexdigest()  # the key of results cached by schema 1
    with sr.open_store(tmp_path / "s", mode="a") as store:
        store.writer("b.{k}.W").append_many(data[3:])  # appends keep the path's hash
        assert store.info("b.{k}.W").layer_hash == "sha256-128"
    np.testing.assert_array_equal(sr.open_store(tmp_path / "s").read("b.{k}.W"), data)
    chunk = pathlib.Path(sorted(_chunk_files(tmp_path / "s"))[4])
    raw = chunk.read_bytes()
    chunk.write_bytes(raw[:100] + bytes([raw[100] ^ 1]) + raw[101:])
    with pytest.raises(st.CorruptStoreError, match="layer 4 .* does not match its recorded hash"):
        sr.open_store(tmp_path / "s").read("b.{k}.W")


def test_result_cached_under_schema_1_is_not_served_after_a_rewrite(tmp_path, rng):
    data = _layers(rng, 3, (4, 4), "float64")
    with sr.open_store(tmp_path / "s", mode="w") as store:
        store.create_path("b.{k}.W", (4, 4), "float64").append_many(data)
    _as_schema_1(tmp_path / "s")
    params = {"p": 2.5}
    with sr.open_store(tmp_path / "s", mode="a") as store:
        store.cache_put("b.{k}.W", params, {"level1": 1.5})
        assert store.cache_get("b.{k}.W", params) == {"level1": 1.5}  # same data, same key
        store.create_path("b.{k}.W", (4, 4), "float64", overwrite=True).append_many(data)
        info = store.info("b.{k}.W")
        assert info.layer_hash == "crc32c"
        np.testing.assert_array_equal(store.read("b.{k}.W"), data)
        assert store.cache_get("b.{k}.W", params) is None  # rewritten with a new hash: a new key


def test_crc32c_layer_hash_matches_a_bitwise_reference(rng):
    def crc32c_reference(data: bytes) -> int:  # reflected CRC-32C (polynomial 0x82F63B78), bit by bit
        crc = 0xFFFFFFFF
        for byte in data:
            crc ^= byte
            for _ in range(8):
                crc = (crc >> 1) ^ (0x82F63B78 if crc & 1 else 0)
        return crc ^ 0xFFFFFFFF

    assert crc32c_reference(b"123456789") == 0xE3069283  # the standard check value
    for layer in (rng.standard_normal((7, 5)), rng.standard_normal(33).astype(np.float32)[::2]):
        assert st.layer_hash(layer) == f"{crc32c_reference(np.ascontiguousarray(layer).tobytes()):08x}"
        assert st.layer_hash(layer, "sha256-128") == hashlib.sha256(np.ascontiguousarray(layer).tobytes()).hexdigest()[:32]
    with pytest.raises(ValueError, match="algorithm must be one of"):
        st.layer_hash(np.zeros(2), "md5")


@pytest.mark.parametrize("dtype", ["float16", "float32", "float64"])
@pytest.mark.parametrize(
    "shape, capacity, n",
    # one chunk per layer (at least 256 KiB); chunks of small layers: full (12 of 12), past the
    # capacity (7 layers in chunks of 5: an edge chunk) and partly written (7 of 12: zeros past
    # them, as Zarr pads)
    [((400, 400), 3, 3), ((8, 8), 12, 12), ((8, 8), 5, 7), ((8, 8), 12, 7)],
)
def test_chunks_written_directly_equal_zarrs_own_encoding(tmp_path, rng, dtype, shape, capacity, n):
    zarr = pytest.importorskip("zarr")
    data = _layers(rng, n, shape, dtype)
    for url in (tmp_path / "s", "memory://test-layer-chunks"):
        with sr.open_store(url, mode="w") as store:
            writer = store.create_path("b.{k}.W", shape, dtype, capacity=capacity)
            assert writer._raw_chunks
            writer.append_many(data[: n - 1])  # a commit inside a multi-layer chunk, then its rewrite
            writer.append(data[n - 1])
            ours = store.array("b.{k}.W")
            assert ours.chunks[0] == (1 if shape == (400, 400) else capacity)
            reference = zarr.create_array({}, shape=ours.shape, dtype=ours.dtype, chunks=ours.chunks,
                                          compressors=None, fill_value=0)
            reference[:n] = data  # Zarr's own encoding of the same chunks
            for c in range(-(-n // ours.chunks[0])):
                key = ours.metadata.encode_chunk_key((c, 0, 0))
                ours_bytes = st._sync(ours.store_path.store.get(f"{ours.store_path.path}/{key}", zarr.core.buffer.default_buffer_prototype()))
                ref_key = reference.metadata.encode_chunk_key((c, 0, 0))
                ref_bytes = st._sync(reference.store_path.store.get(ref_key, zarr.core.buffer.default_buffer_prototype()))
                assert ours_bytes.to_bytes() == ref_bytes.to_bytes()
            np.testing.assert_array_equal(store.read("b.{k}.W"), data)
            np.testing.assert_array_equal(ours[:n], data)  # plain Zarr reads them too


def test_creating_an_existing_path_needs_overwrite(tmp_path, rng):
    with sr.open_store(tmp_path / "s", mode="w") as store:
        store.create_path("b.{k}.W", (2,), "float64").append_many(_layers(rng, 2, (2,), "float64"))
        with pytest.raises(st.StoreError, match=r"model/weights/b\.\{k\}\.W exists: pass overwrite=True"):
            store.create_path("b.{k}.W", (2,), "float64")
        store.create_path("b.{k}.W", (3,), "float64", overwrite=True).append(np.ones(3))
        np.testing.assert_array_equal(store.read("b.{k}.W"), [np.ones(3)])


@pytest.mark.parametrize(
    "shape, capacity, compression",
    [((400, 400), 3, None), ((8, 8), 12, None), ((64, 64), 2000, None), ((400, 400), 3, "zstd"), ((64, 64), 2000, "zstd")],
)
def test_array_metadata_written_directly_equals_zarrs_own(tmp_path, shape, capacity, compression):
    zarr = pytest.importorskip("zarr")
    with sr.open_store(tmp_path / "s", mode="w") as store:
        store.create_path("b.{k}.W", shape, "float32", capacity=capacity, compression=compression)
        ours = zarr.open_array(tmp_path / "s" / "model" / "weights" / "b.{k}.W", mode="r")  # plain Zarr opens it
        chunks, shards = st.chunk_layout(shape, 4, capacity)
        reference = zarr.create_array(
            {}, shape=(capacity, *shape), dtype="float32", chunks=chunks, shards=shards,
            compressors=zarr.codecs.ZstdCodec(level=1) if compression else None, fill_value=0,
            chunk_key_encoding={"name": "default", "separator": "."},
            dimension_names=("layer", "axis_1", "axis_2"), attributes=dict(ours.attrs),
        )
        assert ours.metadata.to_dict() == reference.metadata.to_dict()
        assert (ours.shards is not None) == (shape == (64, 64))  # the sharded layout is among them


def test_creating_a_path_over_an_existing_one(tmp_path, rng):
    with sr.open_store(tmp_path / "s", mode="w") as store:
        store.create_path("b.{k}.W", (300, 300), "float32").append_many(_layers(rng, 3, (300, 300), "float32"))
        store.create_path("b.{k}.W", (300, 300), "float32", overwrite=True).append(np.ones((300, 300), np.float32))
        assert sorted(f for f in os.listdir(tmp_path / "s" / "model" / "weights" / "b.{k}.W")) == ["c.0.0.0", "zarr.json"]
        np.testing.assert_array_equal(store.read("b.{k}.W"), [np.ones((300, 300))])


class _OneAtATime:
    """An executor that runs each task in a thread and checks that no two overlap (the writer
    keeps at most one chunk write in flight)."""

    def __init__(self):
        from concurrent.futures import ThreadPoolExecutor

        self.pool, self.pending, self.tasks = ThreadPoolExecutor(1), None, 0

    def submit(self, fn, *args):
        assert self.pending is None or self.pending.done(), "a second chunk write went in flight"
        self.tasks += 1
        self.pending = self.pool.submit(fn, *args)
        return self.pending


@pytest.mark.parametrize("shape", [(400, 400), (8, 8)])  # one-layer chunks (handed over); multi-layer (written here)
def test_writes_from_an_executor_give_the_same_store(tmp_path, rng, shape):
    data = _layers(rng, 5, shape, "float32")
    stores = {}
    for mode in ("calling thread", "executor"):
        executor = _OneAtATime() if mode == "executor" else None
        with sr.open_store(tmp_path / mode, mode="w") as store:
            writer = store.create_path("b.{k}.W", shape, "float32", capacity=5, executor=executor)
            for k, layer in enumerate(data):
                writer.stage(layer, f"b.{k}.W")
            writer.commit()
            stores[mode] = store.info("b.{k}.W")
        if executor is not None:
            assert executor.tasks == (5 if shape == (400, 400) else 0)
        np.testing.assert_array_equal(sr.open_store(tmp_path / mode).read("b.{k}.W"), data)
    a, b = stores.values()
    assert (a.content_hash, a.layer_names, a.n_layers) == (b.content_hash, b.layer_names, b.n_layers)
    files = {mode: sorted(os.listdir(tmp_path / mode / "model" / "weights" / "b.{k}.W")) for mode in stores}
    assert files["calling thread"] == files["executor"]
    for name in files["executor"]:
        if name != "zarr.json":  # chunk bytes equal
            assert (tmp_path / "executor" / "model" / "weights" / "b.{k}.W" / name).read_bytes() == (
                tmp_path / "calling thread" / "model" / "weights" / "b.{k}.W" / name
            ).read_bytes()


def test_a_failed_background_write_raises_and_commits_nothing(tmp_path, rng, monkeypatch):
    from concurrent.futures import ThreadPoolExecutor

    data = _layers(rng, 3, (400, 400), "float32")
    with sr.open_store(tmp_path / "s", mode="w") as store, ThreadPoolExecutor(1) as pool:
        writer = store.create_path("b.{k}.W", (400, 400), "float32", capacity=3, executor=pool)
        writer.append(data[0])

        def disk_full(*args, **kwargs):
            raise OSError(28, "No space left on device")

        monkeypatch.setattr(st, "_write_file", disk_full)
        with pytest.raises(OSError, match="No space left"):
            writer.append(data[1])
        assert store.info("b.{k}.W").n_layers == 1
    np.testing.assert_array_equal(sr.open_store(tmp_path / "s").read("b.{k}.W"), data[:1])


def test_appends_to_an_array_with_nested_chunk_keys(tmp_path, rng):
    """Arrays written before flat chunk keys (``c/<k>/0/0``) take appends as before."""
    zarr = pytest.importorskip("zarr")
    data = _layers(rng, 4, (300, 300), "float32")
    with sr.open_store(tmp_path / "s", mode="w") as store:
        store.create_path("b.{k}.W", (300, 300), "float32", capacity=4).append_many(data[:2])
    folder = tmp_path / "s" / "model" / "weights" / "b.{k}.W"
    document = json.loads((folder / "zarr.json").read_text())
    document["chunk_key_encoding"] = {"name": "default", "configuration": {"separator": "/"}}
    (folder / "zarr.json").write_text(json.dumps(document))
    for k in range(2):
        (folder / "c" / str(k) / "0").mkdir(parents=True)
        (folder / f"c.{k}.0.0").rename(folder / "c" / str(k) / "0" / "0")
    with sr.open_store(tmp_path / "s", mode="a") as store:
        store.writer("b.{k}.W").append_many(data[2:])
        np.testing.assert_array_equal(store.read("b.{k}.W"), data)
    assert (folder / "c" / "3" / "0" / "0").is_file()
    np.testing.assert_array_equal(zarr.open_array(folder, mode="r")[:], data)


def test_only_chunks_without_committed_layers_are_written_in_place(tmp_path, rng, monkeypatch):
    writes = []
    write_file = st._write_file
    monkeypatch.setattr(st, "_write_file", lambda path, *a, how="replace", **k: writes.append((os.path.basename(path), how)) or write_file(path, *a, how=how, **k))
    data = _layers(rng, 5, (4, 4), "float32")
    with sr.open_store(tmp_path / "s", mode="w") as store:
        big = store.create_path("big.{k}", (300, 300), "float32", capacity=2)  # one chunk per layer
        big.append_many(_layers(rng, 2, (300, 300), "float32"))
        small = store.create_path("small.{k}", (4, 4), "float32", capacity=4)  # chunks of 4 layers
        writes.clear()
        small.append_many(data[:2])  # chunk 0: no committed layer yet
        small.append(data[2])  # chunk 0 again, now holding committed layers 0 and 1
        small.append_many(data[3:])  # fills chunk 0 (3 committed layers), then chunk 1: new
        chunks = [w for w in writes if w[0].startswith("c.")]
        assert chunks == [("c.0.0.0", "in place"), ("c.0.0.0", "replace"), ("c.0.0.0", "replace"), ("c.1.0.0", "in place")]
        assert all(how == "replace" for name, how in writes if name == "zarr.json")
    np.testing.assert_array_equal(sr.open_store(tmp_path / "s").read("small.{k}"), data)
