"""Ingest throughput and peak memory (issue: weight paths in Zarr).

Builds a GPT-2-like safetensors file (per block: a (W, W) attention projection, a (W, 4W)
MLP weight and a (4W,) bias, float32), then

1. throughput, against ``np.save`` of the same bytes (one .npy per path, from arrays in
   memory): ``streamrough.ingest`` into a local store from the file (memory-mapped, page
   cached; by default all in the calling thread, and with ``n_jobs=2``: chunks written by a
   background thread) and from the same tensors in memory (a dict of arrays, as ``WeightRecorder``
   records a live model), in a process that has not loaded Numba (a one-shot ``streamrough
   ingest``; blocks of layers of 1 MiB and more hashed by a thread, with google-crc32c's C
   library called without the GIL), and once with every layer hashed in the calling thread
   (``_config.HASH_THREAD_MIN_BYTES`` raised: what the thread saves); every output goes to a
   temporary folder of the same file system and the previous output is deleted untimed; neither side calls fsync (both end with the
   files written and closed, in the page cache); runs alternate, medians of the wall time
   and of the process CPU time (user + system, all threads: less sensitive to other jobs on
   a shared machine than the wall time);
2. the speed of the per-layer hash (CRC-32C) and of SHA-256 over the same bytes;
3. peak memory of an ingest, in a fresh subprocess: the tracemalloc peak (Python and numpy
   allocations) and the peak anonymous RSS (sampled from /proc every 2 ms: file-backed pages of
   the memory-mapped source are not counted, they are the page cache, not a copy), against
   the bound "largest tensor + one chunk".

Run: ``python benchmarks/bench_ingest.py [--blocks 12] [--width 768] [--repeat 3]``.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

import numpy as np

from _harness import cpu_info, time_alternating

PEAK_SCRIPT = r"""
import json, sys, threading, time, tracemalloc
import numpy as np
import streamrough as sr
from streamrough.store import chunk_layout
import zarr, safetensors  # imported before the baseline

def rss_anon():
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("RssAnon:"):
                return int(line.split()[1]) * 1024
    return 0

source, store = sys.argv[1], sys.argv[2]
sr.ingest(source, store + "-warm", hash_source=False)  # warm imports and code paths
peak = [0]
done = threading.Event()
def sample():
    while not done.is_set():
        peak[0] = max(peak[0], rss_anon())
        time.sleep(0.002)
base = rss_anon()
thread = threading.Thread(target=sample); thread.start()
tracemalloc.start()
sr.ingest(source, store, hash_source=True)
traced = tracemalloc.get_traced_memory()[1]
tracemalloc.stop()
done.set(); thread.join()
print(json.dumps({"traced_peak": traced, "rss_anon_peak": peak[0] - base}))
"""


def hashing_inline(fn):
    """Call `fn` with every layer hashed in the calling thread (no hash thread)."""
    from streamrough import _config

    saved = _config.HASH_THREAD_MIN_BYTES
    _config.HASH_THREAD_MIN_BYTES = float("inf")
    try:
        fn()
    finally:
        _config.HASH_THREAD_MIN_BYTES = saved


def make_model(path, blocks, width, seed=0):
    from safetensors.numpy import save_file

    rng = np.random.default_rng(seed)
    tensors = {}
    for k in range(blocks):
        tensors[f"h.{k}.attn.c_proj.weight"] = rng.standard_normal((width, width), dtype=np.float32)
        tensors[f"h.{k}.mlp.c_fc.weight"] = rng.standard_normal((width, 4 * width), dtype=np.float32)
        tensors[f"h.{k}.mlp.c_fc.bias"] = rng.standard_normal(4 * width, dtype=np.float32)
    save_file(tensors, path)
    return tensors


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--blocks", type=int, default=12)
    parser.add_argument("--width", type=int, default=768)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args(argv)

    import streamrough as sr
    from streamrough.store import chunk_layout, layer_hash

    print(cpu_info())
    tmp = tempfile.mkdtemp(prefix="bench_ingest_")
    try:
        source = os.path.join(tmp, "model.safetensors")
        tensors = make_model(source, args.blocks, args.width)
        total = sum(t.nbytes for t in tensors.values())
        paths = {}
        for name, t in tensors.items():
            paths.setdefault(name.split(".", 2)[2], []).append(t)
        stacked = {role: np.stack(ts) for role, ts in paths.items()}
        del paths
        print(f"model: {args.blocks} blocks, width {args.width}, {len(stacked)} paths, {total / 2**20:.1f} MiB float32")
        out = os.path.join(tmp, "out")

        def clean():
            shutil.rmtree(out, ignore_errors=True)
            os.makedirs(out)

        def npsave():
            for i, arr in enumerate(stacked.values()):
                np.save(os.path.join(out, f"{i}.npy"), arr)

        contenders = {
            "ingest, file": lambda: sr.ingest(source, os.path.join(out, "store"), hash_source=False),
            "ingest, file, n_jobs=2": lambda: sr.ingest(source, os.path.join(out, "store"), hash_source=False, n_jobs=2),
            "ingest, memory": lambda: sr.ingest(tensors, os.path.join(out, "store")),
            "ingest, file + SHA-256 of file": lambda: sr.ingest(source, os.path.join(out, "store"), hash_source=True),
            "ingest, file, hash in the calling thread": lambda: hashing_inline(
                lambda: sr.ingest(source, os.path.join(out, "store"), hash_source=False)
            ),
            "np.save": npsave,
        }
        def timed(contenders, title):
            """Alternating runs of `contenders` (np.save among them): wall and CPU time, speed vs np.save."""
            cpu = {name: [] for name in contenders}  # process CPU time (all threads, user + system)

            def with_cpu(name, fn):
                def run():
                    c0 = time.process_time()
                    fn()
                    cpu[name].append(time.process_time() - c0)

                return run

            times = time_alternating({n: with_cpu(n, f) for n, f in contenders.items()}, repeat=args.repeat, setup=clean)
            cpu = {name: statistics.median(c[1:]) for name, c in cpu.items()}  # the warm-up call left out
            base, base_cpu = times["np.save"][0], cpu["np.save"]
            print(f"\n{title} (median of {args.repeat} runs; no fsync on either side; page-cached source)")
            print(f"  {'':42s} {'wall':>7s}    {'MiB/s':>8s}  speed vs np.save   CPU time, vs np.save")
            for name, (t, _) in times.items():
                print(f"  {name:42s} {t:7.3f} s  {total / t / 2**20:8.1f}  {base / t:5.2f}x"
                      f"             {cpu[name]:6.3f} s  {base_cpu / cpu[name]:5.2f}x")

        timed(contenders, "throughput")
        assert "numba" not in sys.modules, "the ingests above loaded Numba: the table is not the one-shot case"

        arrays = list(tensors.values())
        for name, fn in (("CRC-32C (per-layer hash)", layer_hash), ("SHA-256", lambda a: hashlib.sha256(a.data).digest())):
            t0 = time.perf_counter()
            for a in arrays:
                fn(a)
            t = time.perf_counter() - t0
            print(f"  {name:31s} {t:7.3f} s  {total / t / 2**20:8.1f} MiB/s  (hash alone, one thread)")
        del tensors, arrays

        largest = max(a[0].nbytes for a in stacked.values())
        chunk = max(
            (shards or chunks)[0] * int(np.prod((shards or chunks)[1:])) * 4
            for chunks, shards in (chunk_layout(a.shape[1:], 4, len(a)) for a in stacked.values())
        )
        t0 = time.perf_counter()
        out = subprocess.run(
            [sys.executable, "-c", PEAK_SCRIPT, source, os.path.join(tmp, "peak")],
            capture_output=True, text=True, check=True,
        )
        peak = json.loads(out.stdout.strip().splitlines()[-1])
        print(f"\npeak memory of one ingest (subprocess, {time.perf_counter() - t0:.1f} s)")
        print(f"  largest tensor {largest / 2**20:.1f} MiB + largest chunk/shard {chunk / 2**20:.1f} MiB = bound {(largest + chunk) / 2**20:.1f} MiB")
        print(f"  tracemalloc peak   {peak['traced_peak'] / 2**20:7.1f} MiB  ({peak['traced_peak'] / (largest + chunk):.2f} of bound)")
        print(f"  anonymous RSS peak {peak['rss_anon_peak'] / 2**20:7.1f} MiB  ({peak['rss_anon_peak'] / (largest + chunk):.2f} of bound)")
        print(f"  model size         {total / 2**20:7.1f} MiB")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
