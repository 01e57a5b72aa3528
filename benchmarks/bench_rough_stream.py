"""RoughStream's Gram route: record |||X|||_p of a deep wide network layer by layer.

Pushes L Brownian layers of m x m (``streamrough.brownian_weights``, default 1024 layers of
64 x 64, D = 4096) into ``RoughStream(p, route="auto")`` (which takes the Gram route for
such layers) and reads ``norm`` after every push, as a training loop recording the rough
norm would. Prints the total time, the time per push near L = 256, 512 and 1024 (median of
the pushes in a window of 16 ending there), the peak traced memory (tracemalloc: numpy
buffers included), and the offline ``gram_rough_pvar(layer_gram(w))`` time on the whole
path at the end, with the largest relative difference of the two results (they must agree
to 1e-12). The first push compiles the kernels; its time is reported separately.

Run: ``python benchmarks/bench_rough_stream.py [--layers L] [--width m] [--p P] [--float32]``
"""

from __future__ import annotations

import argparse
import statistics
import time
import tracemalloc

import numpy as np
from _harness import cpu_info, fmt_time

import streamrough as sr


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--layers", type=int, default=1024)
    ap.add_argument("--width", type=int, default=64)
    ap.add_argument("--p", type=float, default=2.5)
    ap.add_argument("--lift", default="iterated", choices=["iterated", "geometric"])
    ap.add_argument("--float32", action="store_true", help="push float32 layers (stored as float32)")
    args = ap.parse_args()
    w = sr.brownian_weights(args.layers, args.width, seed=11)
    if args.float32:
        w = w.astype(np.float32)
    print(cpu_info())
    print(
        f"RoughStream, {args.layers} layers of {args.width} x {args.width} ({w.dtype}), "
        f"p = {args.p}, lift = {args.lift}"
    )

    warm = sr.RoughStream(args.p, lift=args.lift, route="gram", capacity=4)
    t0 = time.perf_counter()
    warm.push(w[0])
    warm.push(w[1])
    print(f"first pushes (JIT compilation): {fmt_time(time.perf_counter() - t0)}")

    tracemalloc.start()
    st = sr.RoughStream(args.p, lift=args.lift, capacity=args.layers)
    per_push = np.zeros(args.layers)
    total0 = time.perf_counter()
    for k in range(args.layers):
        t0 = time.perf_counter()
        st.push(w[k])
        st.norm  # what a training loop records
        per_push[k] = time.perf_counter() - t0
    total = time.perf_counter() - total0
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    print(
        f"route: {st.route}; total {fmt_time(total)} for {args.layers} pushes; "
        f"peak traced memory {peak / 2**20:.1f} MiB"
    )
    for at in (256, 512, 1024):
        if at <= args.layers:
            window = per_push[max(at - 16, 0) : at]
            print(f"  per push at L = {at:5d}: {fmt_time(statistics.median(window))}")

    t0 = time.perf_counter()
    off = sr.gram_rough_pvar(sr.layer_gram(w), args.p, lift=args.lift)
    offline = time.perf_counter() - t0
    res = st.result()
    rel = max(
        abs(res.level1 - off.level1) / off.level1,
        abs(res.level2 - off.level2) / off.level2,
    )
    print(f"offline gram_rough_pvar(layer_gram(w)) at the end: {fmt_time(offline)} (first call, compiles); "
          f"max relative difference {rel:.1e}")
    t0 = time.perf_counter()
    sr.gram_rough_pvar(sr.layer_gram(w), args.p, lift=args.lift)
    print(f"offline again (compiled): {fmt_time(time.perf_counter() - t0)}")


if __name__ == "__main__":
    main()
