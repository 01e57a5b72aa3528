"""Out-of-core routes (streamrough.chunked) against the eager API, across schedulers and chunkings.

Exact p-variation is deterministic and compared bit for bit; signatures, Gram matrices and
the rough-path levels (their float sums run in another order) to 1e-12 relative. Inputs are
Dask arrays, Zarr arrays and Zarr store paths in temporary folders; the distributed tests
start a real LocalCluster (2 worker processes) once per module.
"""

import os
import threading
import time

import numpy as np
import pytest

import streamrough as sr
from streamrough import chunked

da = pytest.importorskip("dask.array")
dask = pytest.importorskip("dask")
zarr = pytest.importorskip("zarr")

PLAIN = os.environ.get("NUMBA_DISABLE_JIT") == "1"
N = 24 if PLAIN else 60  # points of the test path
CHUNKINGS = [1, 7, 16, N]  # one-point chunks, a ragged last chunk, a power of two, one chunk
SCHEDULERS = ["synchronous", "threads"]
TOL = 1e-12


def _short(chunk):
    """Points of the test path for a chunking: one-point chunks on a short path (a task per pair)."""
    return 12 if chunk == 1 else N


def _path(seed=0, n=N, d=3):
    return np.cumsum(np.random.default_rng(seed).standard_normal((n, d)), axis=0)


def _weights(seed=1, n=12, shape=(4, 5), dtype=np.float64):
    return (np.random.default_rng(seed).standard_normal((n, *shape)) / 5).astype(dtype)


def _close(a, b, tol=TOL):
    a, b = np.asarray(a, float), np.asarray(b, float)
    scale = max(float(np.abs(b).max()), 1e-300)
    return float(np.abs(a - b).max()) <= tol * scale


def _store(tmp_path, data, chunk, name="path.zarr"):
    arr = zarr.create_array(
        store=str(tmp_path / name), shape=data.shape, chunks=(chunk,) + data.shape[1:], dtype=data.dtype
    )
    arr[:] = data
    return str(tmp_path / name)


# ------------------------------------------------------------------------------------------
# p-variation: bit for bit


@pytest.mark.parametrize("chunk", CHUNKINGS)
@pytest.mark.parametrize("scheduler", SCHEDULERS)
def test_pvar_bit_for_bit_across_chunkings_and_schedulers(chunk, scheduler):
    x = _path(n=_short(chunk))
    ps = [1.0, 1.5, 2.5]
    expected = sr.pvar(x, ps, power=True)
    with dask.config.set(scheduler=scheduler):
        got = chunked.pvar(da.from_array(x, chunks=(chunk, 3)), ps, power=True, quiet=True)
    assert got.tolist() == expected.tolist()


# l1 and linf: each a family of kernels compiled for these routes only, so CI's slow step
@pytest.mark.parametrize(
    "norm", ["euclidean", pytest.param("l1", marks=pytest.mark.slow), pytest.param("linf", marks=pytest.mark.slow)]
)
def test_pvar_norms_and_partition(norm):
    x = _path(3)
    res = chunked.pvar(da.from_array(x, chunks=(16, 3)), [2.0, 3.0], norm=norm, return_partition=True, quiet=True)
    for r in res:
        ref = sr.pvar(x, r.p, norm=norm, return_partition=True)
        assert (r.level1_power, r.level1) == (ref.level1_power, ref.level1)
        assert (r.convention, r.n_points, r.point_norm) == ("values", N, norm)
        # the partition reproduces the value
        part = r.partition1
        assert part[0] == 0 and part[-1] == N - 1
        d = np.diff(x[part], axis=0)
        dist = {"euclidean": np.sqrt((d * d).sum(1)), "l1": np.abs(d).sum(1), "linf": np.abs(d).max(1)}[norm]
        assert np.isclose((dist ** r.p).sum(), r.level1_power, rtol=1e-12)


def test_pvar_edge_cases():
    assert chunked.pvar(da.from_array(np.ones((5, 2)), chunks=2), 2.5, quiet=True) == 0.0
    assert chunked.pvar(da.from_array(np.zeros((1, 2)), chunks=1), 2.5, quiet=True) == 0.0
    huge = _path(4, n=20) * 1e200  # rescaled rows, as the eager route does
    assert chunked.pvar(da.from_array(huge, chunks=6), 2.5, quiet=True) == sr.pvar(huge, 2.5)


def test_pvar_float32_store_stays_float32(tmp_path):
    x = _path(5).astype(np.float32)
    path = _store(tmp_path, x, 16)
    assert chunked.as_dask(path).dtype == np.float32  # on disk and in transit
    assert sr.pvar(path, 2.5, power=True) == sr.pvar(x, 2.5, power=True)  # eager dispatch
    assert chunked.pvar(zarr.open_array(path, mode="r"), 2.5, power=True, quiet=True) == sr.pvar(x, 2.5, power=True)


def test_bad_input():
    bad = _path()
    bad[N // 2 + 1, 1] = np.nan
    with pytest.raises(ValueError, match="NaN or inf"):
        chunked.pvar(da.from_array(bad, chunks=10), 2.0, quiet=True)
    with pytest.raises(ValueError, match="p must be >= 1"):
        chunked.pvar(da.from_array(bad, chunks=10), 0.5, quiet=True)
    with pytest.raises(ValueError, match="cannot read"):
        chunked.pvar("no/such/store.zarr", 2.0, quiet=True)
    with pytest.raises(ValueError, match="chunk_size"):
        chunked.pvar(da.from_array(_path(), chunks=10), 2.0, chunk_size=0, quiet=True)
    with pytest.raises(TypeError, match="client"):
        chunked.pvar(da.from_array(_path(), chunks=10), 2.0, client=object(), quiet=True)
    with pytest.raises(ValueError, match="Gram route"):
        chunked.rough_pvar(da.from_array(_path(), chunks=10), 2.5, route="direct", quiet=True)


# ------------------------------------------------------------------------------------------
# signatures


@pytest.mark.parametrize("chunk", CHUNKINGS)
@pytest.mark.parametrize("lift", ["geometric", "iterated"])
def test_signature_chen_tree_and_scan(chunk, lift):
    x = _path(6, n=_short(chunk), d=2)  # (d, depth) = (2, 3): the signature tests' common size
    xd = da.from_array(x, chunks=(chunk, 2))
    assert _close(chunked.signature(xd, 3, lift=lift, quiet=True), sr.signature(x, 3, lift=lift))
    prefixes = chunked.signature(xd, 3, lift=lift, stream=True)
    assert prefixes.shape == (x.shape[0] - 1, sr.sig_length(2, 3))
    assert _close(prefixes.compute(scheduler="synchronous"), sr.signature(x, 3, lift=lift, stream=True))


def test_sig_query_on_store(tmp_path):
    x = _path(7, d=2)
    path = _store(tmp_path, x, 16)
    for s, t in [(0, N - 1), (5, 17), (16, 16), (15, 17)]:
        assert _close(chunked.sig_query(path, s, t, 3, quiet=True), sr.signature(x[s : t + 1], 3))
    with pytest.raises(ValueError, match="0 <= s <= t"):
        chunked.sig_query(path, 5, 2, 3, quiet=True)
    # the eager entry point dispatches a store path to the Chen tree
    assert _close(sr.signature(path, 2), sr.signature(x, 2))


# ------------------------------------------------------------------------------------------
# Gram route: level 1 and level 2 of wide layers


@pytest.mark.parametrize("chunk", [1, 5, 12])
def test_layer_gram_and_rough_levels(chunk, tmp_path):
    w = _weights()
    path = _store(tmp_path, w, chunk, "w.zarr")
    g = chunked.layer_gram(path, quiet=True, block_bytes=8 * 4 * 7)  # tiny blocks: many tiles and feature chunks
    assert _close(g, sr.layer_gram(w))
    for convention in (None, "values"):
        got = sr.rough_pvar(path, [2.2, 2.8], convention=convention)  # eager dispatch
        ref = sr.rough_pvar(w, [2.2, 2.8], convention=convention, route="gram")
        assert type(got) is type(ref) and len(got) == 2
        for a, b in zip(got, ref):
            assert _close([a.level1, a.level2, a.norm], [b.level1, b.level2, b.norm])
            assert (a.route, a.convention, a.n_points) == ("gram", b.convention, b.n_points)
            assert a.partition1.tolist() == b.partition1.tolist() and a.partition2.tolist() == b.partition2.tolist()
    w2 = w + 0.05 * _weights(2)
    other = _store(tmp_path, w2, chunk, "w2.zarr")
    a = sr.rough_distance(path, other, 2.5)
    b = sr.rough_distance(w, w2, 2.5, route="gram")
    assert _close([a.level1, a.level2, a.rho], [b.level1, b.level2, b.rho])
    assert type(a) is type(b) and (a.route, a.convention, a.n_points) == ("gram", b.convention, b.n_points)


def test_rough_pvar_of_a_chunked_path():
    x = _path(8)
    a = chunked.rough_pvar(da.from_array(x, chunks=(7, 3)), 2.5, quiet=True)
    b = sr.rough_pvar(x, 2.5, route="gram")
    assert _close([a.level1, a.level2], [b.level1, b.level2])
    assert (a.convention, a.n_points, a.route) == ("values", N, "gram")


def test_float32_gram_tiles_in_float64_slabs(tmp_path, monkeypatch):
    """float32 blocks are converted a slab of features at a time (ragged last slab included):
    the sum of the slab products is the float64 Gram to rounding, on one and on many tiles."""
    w = _weights(13, n=9, shape=(5, 7), dtype=np.float32)
    path = _store(tmp_path, w, 2, "w32.zarr")
    monkeypatch.setattr(chunked, "SLAB_BYTES", 8 * 9 * 4)  # 4 features a slab: 35 = 8 x 4 + 3
    flat = w.reshape(9, -1).astype(np.float64)
    for block in (chunked.BLOCK_BYTES, 4 * 35 * 2):
        with dask.config.set(scheduler="synchronous"):
            assert _close(chunked.layer_gram(path, quiet=True, block_bytes=block), flat @ flat.T)


def test_stored_chunks_merged_by_default(tmp_path, monkeypatch):
    """A stored path is read in whole stored chunks merged up to CHUNK_BYTES (one Zarr read a
    chunk); a Dask array keeps its chunks; the results are bit-equal either way."""
    x = _path(14)
    path = _store(tmp_path, x, 8)
    assert chunked.as_dask(path).chunks[0][0] == 8
    merged = chunked.as_dask(path, chunk_bytes=8 * 3 * 20, entry_bytes=8).chunks[0]  # 20 rows: 2 stored chunks
    assert merged == tuple(min(16, N - s) for s in range(0, N, 16))
    assert chunked.as_dask(da.from_array(x, chunks=8), chunk_bytes=1 << 20).chunks[0][0] == 8
    expected = sr.pvar(x, [1.5, 2.5], power=True).tolist()
    for budget in (chunked.CHUNK_BYTES, 8 * 3 * 20):
        monkeypatch.setattr(chunked, "CHUNK_BYTES", budget)
        assert chunked.pvar(path, [1.5, 2.5], power=True, quiet=True).tolist() == expected
        assert _close(chunked.signature(path, 2, quiet=True), sr.signature(x, 2))
        assert _close(chunked.sig_query(path, 5, N - 3, 2, quiet=True), sr.signature(x[5 : N - 2], 2))
    assert chunked.pvar(path, [1.5, 2.5], power=True, chunk_size=5, quiet=True).tolist() == expected


def test_float32_layers_in_transit():
    w = _weights(dtype=np.float32)
    wd = da.from_array(w, chunks=(5, 4, 5))
    assert _close(chunked.layer_gram(wd, quiet=True), sr.layer_gram(w))
    assert chunked._flat(wd, "w").dtype == np.float32


# ------------------------------------------------------------------------------------------
# distributed: a real LocalCluster of two worker processes


@pytest.fixture(scope="module")
def client():
    distributed = pytest.importorskip("distributed")
    cluster = distributed.LocalCluster(
        n_workers=2, threads_per_worker=1, processes=True, dashboard_address=":0", silence_logs=50
    )
    with distributed.Client(cluster) as c:
        yield c
    cluster.close()


@pytest.mark.distributed
@pytest.mark.parametrize("chunk", [1, 7, N])
def test_distributed_equals_eager(client, chunk):
    x = _path(9, n=_short(chunk), d=2)
    xd = da.from_array(x, chunks=(chunk, 2))
    got = chunked.pvar(xd, [1.0, 2.5], power=True, client=client, quiet=True)
    assert got.tolist() == sr.pvar(x, [1.0, 2.5], power=True).tolist()
    sync = chunked.signature(xd, 3, quiet=True)
    assert chunked.signature(xd, 3, client=client, quiet=True).tolist() == sync.tolist()  # same tree, same bits
    w = _weights()
    wd = da.from_array(w, chunks=(chunk if chunk < 12 else 12, 4, 5))
    g = chunked.layer_gram(wd, client=client, quiet=True)
    assert g.tolist() == chunked.layer_gram(wd, quiet=True).tolist()
    assert _close(g, sr.layer_gram(w))


@pytest.mark.distributed
def test_killed_worker_changes_no_result(client, tmp_path):
    n = 400 if PLAIN else 4000
    x = _path(10, n=n)
    path = _store(tmp_path, x, n // 16, "long.zarr")
    expected = sr.pvar(x, 2.5, power=True)
    before = set(client.scheduler_info()["workers"])
    killed = {}

    def kill():
        deadline = time.time() + 60
        while time.time() < deadline and not any(client.processing().values()):
            time.sleep(0.005)
        killed["mid_compute"] = any(client.processing().values())
        victim = sorted(client.scheduler_info()["workers"])[0]
        try:
            client.run(os._exit, 1, workers=[victim], wait=False)
        except Exception:  # the connection to the dying worker may break: expected
            pass
        killed["victim"] = victim

    thread = threading.Thread(target=kill)
    thread.start()
    got = chunked.pvar(path, 2.5, power=True, client=client, quiet=True, chunk_size=n // 16)  # many tasks
    thread.join()
    assert killed["mid_compute"]
    assert got == expected
    client.wait_for_workers(2, timeout=60)
    assert killed["victim"] in before


def test_cli_pvar_on_a_store(tmp_path, capsys):
    from streamrough import cli

    x = _path(11)
    path = _store(tmp_path, x, 16)
    assert cli.main(["pvar", path, "-p", "2.5", "--power"]) == 0
    out = capsys.readouterr().out
    assert f"V_p = {sr.pvar(x, 2.5, power=True):.12g}" in out


@pytest.mark.distributed
def test_cli_scheduler_option(client, tmp_path, capsys):
    from streamrough import cli

    x = _path(12)
    path = _store(tmp_path, x, 16)
    assert cli.main(["pvar", path, "-p", "2.5", "--power", "--scheduler", client.scheduler.address]) == 0
    assert f"V_p = {sr.pvar(x, 2.5, power=True):.12g}" in capsys.readouterr().out


# ------------------------------------------------------------------------------------------
# weight stores: chunked input and analyze out of core


def test_weight_sequence_read_as_increments_or_values(tmp_path):
    w = _weights(3)
    path = _store(tmp_path, w, 5, "w.zarr")
    for convention in (None, "increments", "values"):
        ref = sr.pvar(w, [1.5, 2.5], convention=convention, return_partition=True)
        got = chunked.pvar(path, [1.5, 2.5], convention=convention, return_partition=True, quiet=True)
        assert type(got) is type(ref) and (got.convention, got.n_points) == (ref.convention, ref.n_points)
        assert _close(got.level1_power, ref.level1_power)  # the lazy cumsum adds in another order
        assert [a.tolist() for a in got.partition1] == [b.tolist() for b in ref.partition1]
    assert chunked.read_input(path)[0].shape == (w.shape[0] + 1, 20)


def test_from_store_and_analyze_out_of_core(tmp_path, monkeypatch):
    pytest.importorskip("pandas")
    from streamrough import _config

    layers = {f"b.{k}.W": w for k, w in enumerate(_weights(4, n=10))}
    sr.ingest(layers, tmp_path / "s")
    store = sr.open_store(tmp_path / "s")
    lazy = chunked.from_store(store, "b.{k}.W")
    assert lazy.shape == (10, 4, 5) and lazy.shape[0] == store.info("b.{k}.W").n_layers
    assert lazy.compute().tolist() == store.read("b.{k}.W").tolist()
    assert chunked.from_store(str(tmp_path / "s"), "b.{k}.W").shape == lazy.shape  # a store folder
    numeric = ["level1", "level2", "norm", "level1_power", "level2_power"]
    in_memory = sr.analyze(tmp_path / "s", p=[1.5, 2.5], cache=False)
    monkeypatch.setattr(_config, "OUT_OF_CORE_BYTES", 100)  # every path is "large" now
    read = []
    monkeypatch.setattr(type(store), "read", lambda *a, **k: read.append(a) or pytest.fail("loaded whole"))
    out_of_core = sr.analyze(tmp_path / "s", p=[1.5, 2.5], cache=False)
    assert not read
    assert _close(out_of_core[numeric].to_numpy(float), in_memory[numeric].to_numpy(float))
    assert out_of_core["partition"].tolist() == in_memory["partition"].tolist()
