"""Out of core and on a cluster: memory, throughput against in-memory, and two workers against one.

Run:  python benchmarks/bench_chunked.py [--quick] [--folder DIR]

1. memory: a child process computes the Gram matrix (the basis of rough_pvar's levels 1
   and 2) of a stored float32 weight path four times larger than the allowance, and
   reports its peak resident memory above its own baseline (after imports and warm-up);
2. throughput: out-of-core (stored path, Dask synchronous scheduler) against in-memory
   (the eager API on the loaded array) on the same data, one thread each: Gram,
   p-variation, signature; prints in-memory time / out-of-core time (target >= 0.5);
3. workers: the blocked Gram of a store of 512 layers of 512 x 512 on a LocalCluster of two
   single-threaded worker processes against one (target >= 1.6x), each cluster warmed by a
   full run first; besides wall time it prints the sum of task durations, the CPU time of
   each worker and of the client, and the load average, since on a shared machine the wall
   time measures the other jobs as much as this one.

BLAS and Numba run one thread per process here (set before numpy is imported), so that the
comparisons are between equal amounts of hardware. Medians of a few repetitions after a
warm-up; the machine may be shared (the script prints the CPU and the load average).
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMBA_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import numpy as np  # noqa: E402


def _cpu() -> str:
    try:
        with open("/proc/cpuinfo") as fh:
            for line in fh:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return "unknown CPU"


def _median_time(fn, repeat=3):
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return float(np.median(times))


def _write_weights(folder, name, n_layers, width, chunk_layers, seed=0):
    """A float32 weight path (n_layers, width, width) in a Zarr array, written chunk by chunk."""
    import zarr

    path = os.path.join(folder, name)
    # random weights do not compress: stored raw, so a read costs a copy, not a decompression
    arr = zarr.create_array(
        store=path, shape=(n_layers, width, width), chunks=(chunk_layers, width, width), dtype="float32", compressors=None
    )
    rng = np.random.default_rng(seed)
    for s in range(0, n_layers, chunk_layers):
        e = min(s + chunk_layers, n_layers)
        arr[s:e] = (rng.standard_normal((e - s, width, width)) / (width * np.sqrt(n_layers))).astype(np.float32)
    return path


def _write_path(folder, name, n, d, seed=1):
    """A float64 path (n, d) in a Zarr array, in chunks of the size WeightStore writes."""
    import zarr

    from streamrough.store import TARGET_CHUNK_BYTES

    chunk = max(1, TARGET_CHUNK_BYTES // (8 * d))

    path = os.path.join(folder, name)
    x = np.cumsum(np.random.default_rng(seed).standard_normal((n, d)) / np.sqrt(n), axis=0)
    # uncompressed, as WeightStore writes by default: a read costs a copy, not a decompression
    arr = zarr.create_array(store=path, shape=x.shape, chunks=(chunk, d), dtype="float64", compressors=None)
    arr[:] = x
    return path, x


# ------------------------------------------------------------------------------------------ 1


_CHILD = r"""
import os, resource, sys, time
import numpy as np
from streamrough import chunked
path, block = sys.argv[1], int(sys.argv[2])
import dask
dask.config.set(scheduler="synchronous")
chunked.layer_gram(chunked.as_dask(path)[:4], quiet=True)  # imports and kernels warm
base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
t0 = time.perf_counter()
g = chunked.layer_gram(path, quiet=True, block_bytes=block)
dt = time.perf_counter() - t0
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
print(base * 1024, peak * 1024, dt, float(np.trace(g)))
"""


def bench_memory(folder, n_layers, width, allowance):
    chunk_layers = max(1, allowance // 16 // (width * width * 4))
    path = _write_weights(folder, "memory.zarr", n_layers, width, chunk_layers)
    size = n_layers * width * width * 4
    block = allowance // 6  # one operand block as stored; a task holds two, their read buffers and float64 slabs
    out = subprocess.run([sys.executable, "-c", _CHILD, path, str(block)], capture_output=True, text=True, check=True)
    base, peak, dt, _ = (float(v) for v in out.stdout.split())
    grown = peak - base
    print(
        f"memory  Gram of a stored path of {n_layers} layers {width}x{width} float32 = {size / 2**20:.0f} MiB "
        f"(chunks of {chunk_layers} layers), allowance {allowance / 2**20:.0f} MiB (path = {size / allowance:.1f}x): "
        f"peak RSS above baseline {grown / 2**20:.0f} MiB ({'within' if grown <= allowance else 'OVER'} the allowance), "
        f"baseline {base / 2**20:.0f} MiB, {dt:.1f} s"
    )
    return path


# ------------------------------------------------------------------------------------------ 2


def bench_throughput(folder, quick):
    import dask
    import zarr

    import streamrough as sr
    from streamrough import chunked

    dask.config.set(scheduler="synchronous")
    rows = []
    # Gram of wide layers
    wpath = _write_weights(folder, "gram.zarr", 128 if quick else 256, 256, 16)
    w = zarr.open_array(wpath, mode="r")[:]
    sr.layer_gram(w[:2]), chunked.layer_gram(wpath, quiet=True)
    rows.append(("Gram", _median_time(lambda: sr.layer_gram(w)), _median_time(lambda: chunked.layer_gram(wpath, quiet=True))))
    # p-variation of a long path of moderate dimension
    n = 1 << (15 if quick else 17)
    ppath, x = _write_path(folder, "pvar.zarr", n, 8)
    sr.pvar(x[:200], 2.5), chunked.pvar(ppath, 2.5, quiet=True)
    t_mem = _median_time(lambda: sr.pvar(x, 2.5), 3)
    rows.append(("p-variation p=2.5", t_mem, _median_time(lambda: chunked.pvar(ppath, 2.5, quiet=True), 3)))
    # the same path forced into chunks of 2^14 points: the chunked DP's pair and chain tasks
    rows.append(("  in chunks of 2^14", t_mem, _median_time(lambda: chunked.pvar(ppath, 2.5, quiet=True, chunk_size=1 << 14), 3)))
    # signature
    # the eager signature runs at about 1.5 GB/s of input: fewer points would time the fixed
    # cost of opening a store and building a graph (5 to 20 ms), not a throughput
    n = 1 << (21 if quick else 23)
    spath, y = _write_path(folder, "sig.zarr", n, 4, seed=2)
    sr.signature(y[:10], 3), chunked.signature(spath, 3, quiet=True)
    rows.append(("signature d=4 depth 3", _median_time(lambda: sr.signature(y, 3)), _median_time(lambda: chunked.signature(spath, 3, quiet=True))))
    for name, t_mem, t_ooc in rows:
        print(f"throughput  {name:24s} in-memory {t_mem:8.3f} s  out-of-core {t_ooc:8.3f} s  ratio {t_mem / t_ooc:5.2f} (target >= 0.5)")


# ------------------------------------------------------------------------------------------ 3


def _worker_cpu(client) -> dict:
    """CPU seconds (user + system, all threads) used so far by each worker process."""
    return client.run(lambda: sum(os.times()[:2]))


def _task_seconds(stream) -> float:
    """Sum of the durations of the compute phases in a task stream (``get_task_stream``)."""
    return sum(s["stop"] - s["start"] for t in stream for s in t["startstops"] if s["action"] == "compute")


def bench_workers(folder, quick, repeat=2):
    """Wall time of the blocked Gram on one and on two single-threaded worker processes, and
    what an idle machine would show: each run also records the sum of its task durations (the
    task stream) and the CPU time of every worker process and of the client, so that a
    machine loaded by other jobs (wall time stretched, task time too, CPU time not) can be
    told apart from a fault of the graph (one worker idle, work on the client)."""
    from distributed import Client, LocalCluster, get_task_stream

    from streamrough import chunked

    n_layers = 256 if quick else 512
    block = (32 << 20) if quick else chunked.BLOCK_BYTES  # 36 tiles of 32 x 32 or 64 x 64 layers either way
    path = _write_weights(folder, "workers.zarr", n_layers, 512, 16, seed=3)
    stats = {}
    for workers in (1, 2):
        with LocalCluster(n_workers=workers, threads_per_worker=1, processes=True, dashboard_address=":0") as cluster, Client(cluster) as client:
            run = lambda: chunked.layer_gram(path, client=client, quiet=True, block_bytes=block)  # noqa: E731
            run()  # warm: kernels, BLAS, the page cache
            load0 = os.getloadavg()[0]
            cpu0, client0 = _worker_cpu(client), time.process_time()
            with get_task_stream(client) as ts:
                wall = _median_time(run, repeat)
            cpu1, client1 = _worker_cpu(client), time.process_time()
            stats[workers] = dict(
                wall=wall,
                tasks=_task_seconds(ts.data) / repeat,
                ntasks=len(ts.data) // repeat,
                cpu=[(cpu1[w] - cpu0[w]) / repeat for w in sorted(cpu0)],
                client=(client1 - client0) / repeat,
                load=(load0, os.getloadavg()[0]),
            )
    one, two = stats[1], stats[2]
    print(f"workers  blocked Gram of {n_layers} layers 512x512 float32 ({n_layers} MiB), {one['ntasks']} tasks, block_bytes {block >> 20} MiB:")
    for k, st in stats.items():
        print(
            f"  {k} worker{'s' if k > 1 else ' '}: wall {st['wall']:6.2f} s, sum of task times {st['tasks']:6.2f} s, "
            f"worker CPU {' + '.join(f'{c:.2f}' for c in st['cpu'])} s, client CPU {st['client']:.2f} s, "
            f"load average {st['load'][0]:.1f} -> {st['load'][1]:.1f}"
        )
    print(
        f"  speed-up: wall {one['wall'] / two['wall']:.2f}x (target >= 1.6x); CPU-bound (1-worker CPU / busiest of 2) "
        f"{one['cpu'][0] / max(two['cpu']):.2f}x: what two free cores give, to memory-bandwidth sharing"
    )


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="smaller sizes")
    parser.add_argument("--folder", help="where to write the stores (default: a temporary folder)")
    parser.add_argument("--only", choices=["memory", "throughput", "workers"], action="append")
    args = parser.parse_args()
    print(f"CPU: {_cpu()}, {os.cpu_count()} cores, load average {os.getloadavg()[0]:.2f}")
    folder = args.folder or tempfile.mkdtemp(prefix="streamrough-bench-")
    only = set(args.only or ["memory", "throughput", "workers"])
    try:
        if "memory" in only:
            bench_memory(folder, 256 if args.quick else 512, 512, (64 if args.quick else 128) << 20)
        if "throughput" in only:
            bench_throughput(folder, args.quick)
        if "workers" in only:
            bench_workers(folder, args.quick)
    finally:
        if not args.folder:
            shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()
