"""Exact p-variation: streamrough against the naive O(N^2) DP, on seeded Brownian paths.

    python benchmarks/bench_pvar.py            # the sizes of benchmarks.md
    python benchmarks/bench_pvar.py --quick    # 10x smaller, for a smoke run

Paths: ``sr.brownian_path(N, d)`` (cumulative sums of N(0, 1/(N-1)) increments, seed 0). The peer is the plain DP of
math.md 2.1 compiled with Numba (``pvar(..., method="dp")``): it is timed at N/10 and
extrapolated by x100 (it is exactly quadratic), which the output says on every line.
"""

from __future__ import annotations

import argparse
import os
import sys
import time

import numba
import numpy as np

sys.path.insert(0, os.path.dirname(__file__))
from _harness import fmt_time, print_row, time_alternating, time_call  # noqa: E402

import streamrough as sr  # noqa: E402
from streamrough import _config  # noqa: E402  (the chunked route's threshold)
from streamrough.variation import _run_bnb  # noqa: E402  (work counts)


def cpu_time(fn, repeat=3):
    """Best process CPU time of fn() (less sensitive than wall time to other jobs on the machine)."""
    best = float("inf")
    for _ in range(repeat):
        t0 = time.process_time()
        fn()
        best = min(best, time.process_time() - t0)
    return best


def evaluations_per_point(x, p):
    _, _, stats = _run_bnb(x, 1.0, np.array([float(p)]), 0, 1)  # Euclidean, unscaled, one job: same work
    return stats[0] / len(x), stats[1] / len(x)


def bench_offline_d10(n, repeat):
    print(f"\n== d = 10, N = {n}: branch and bound, 2 and 1 threads, vs the naive DP (timed at N = {n // 10}, x100) ==")
    x = sr.brownian_path(n, 10)
    small = sr.brownian_path(n // 10, 10)
    for p in (1.5, 2.0, 2.5, 3.0):
        res = time_alternating(
            {"2": lambda: sr.pvar(x, p, n_jobs=2), "1": lambda: sr.pvar(x, p, n_jobs=1)}, repeat=repeat
        )
        route = "chunked" if n >= _config.CHUNKED_MIN_N else "serial: N below CHUNKED_MIN_N"
        dp_small, _ = time_call(lambda: sr.pvar(small, p, method="dp"), repeat=1)
        evals, tests = evaluations_per_point(x, p)
        cpu = cpu_time(lambda: sr.pvar(x, p, n_jobs=1))
        print_row(
            f"pvar d=10 N={n} p={p} (2 threads)",
            res["2"][0],
            dp_small * 100,
            "naive DP (extrapolated x100)",
            f"[2-thread route {route}; 1 thread {fmt_time(res['1'][0])} (cpu {fmt_time(cpu)}); 2 threads / 1 thread"
            f" {res['2'][0] / res['1'][0]:.2f}x; serial work {evals:.0f} distances + {tests:.0f} block tests"
            f" per point; first call {fmt_time(res['2'][1])}]",
        )


def bench_offline_d1(n, repeat):
    print(f"\n== d = 1, N = {n}: the 1-d method (auto) and branch and bound ==")
    x = sr.brownian_path(n, 1)
    for p in (1.5, 2.0, 2.5, 3.0):
        res = time_alternating(
            {"1d": lambda: sr.pvar(x, p), "bnb": lambda: sr.pvar(x, p, method="bnb")}, repeat=repeat
        )
        cpu = cpu_time(lambda: sr.pvar(x, p))
        print_row(f"pvar d=1 N={n} p={p} (1d method)", res["1d"][0], res["bnb"][0], "bnb", f"[cpu {fmt_time(cpu)}]")


def bench_stream(n, repeat):
    print(f"\n== streaming, d = 10, N = {n}, p = 2.5: push one point at a time vs offline ==")
    x = sr.brownian_path(n, 10)
    rows = list(x)  # the caller already holds one float64 array per point

    def push_all():
        s = sr.PVarStream(2.5, dim=10)
        for row in rows:
            s.push(row)
        return s.level1

    def extend_chunks():
        s = sr.PVarStream(2.5, dim=10)
        for j in range(0, n, 1000):
            s.extend(x[j : j + 1000])
        return s.level1

    res = time_alternating(
        {"push": push_all, "extend": extend_chunks, "offline": lambda: sr.pvar(x, 2.5)}, repeat=repeat
    )
    off = res["offline"][0]
    per_push = (res["push"][0] - off) / n
    print_row(f"PVarStream.push x {n}", res["push"][0], off, "offline pvar", f"[overhead per push {fmt_time(per_push)}]")
    print_row(f"PVarStream.extend (chunks of 1000) x {n // 1000}", res["extend"][0], off, "offline pvar")


def bench_many_p(n, repeat):
    print(f"\n== several p in one call, d = 10, N = {n} (default threads) ==")
    x = sr.brownian_path(n, 10)
    ps = [1.25, 1.5, 1.75, 2.0, 2.25, 2.5, 2.75, 3.0]

    def singles():
        return [sr.pvar(x, p) for p in ps]

    res = time_alternating(
        {"one": lambda: sr.pvar(x, ps), "singles": singles, "p=2": lambda: sr.pvar(x, 2.0)}, repeat=repeat
    )
    print_row(
        "pvar with 8 values of p in one call",
        res["one"][0],
        res["singles"][0],
        "8 single calls",
        f"[= {res['one'][0] * 8 / res['singles'][0]:.1f}x an average single call,"
        f" {res['one'][0] / res['p=2'][0]:.1f}x the p = 2 call; target well under 8x]",
    )


def bench_p1(n, repeat):
    print(f"\n== p = 1 is one pass, d = 10, N = {n} ==")
    x = sr.brownian_path(n, 10)
    res = time_alternating(
        {"pvar": lambda: sr.pvar(x, 1.0), "numpy": lambda: np.linalg.norm(np.diff(x, axis=0), axis=1).sum()},
        repeat=repeat,
    )
    print_row("pvar p=1", res["pvar"][0], res["numpy"][0], "numpy sum of |diff|")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="sizes 10x smaller (a smoke run)")
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args(argv)
    scale = 10 if args.quick else 1
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print(
        f"streamrough {sr.__version__}; numba threads: {numba.config.NUMBA_NUM_THREADS}"
        f" ({numba.config.THREADING_LAYER} threading layer);"
        f" load average {load:.1f} on {os.cpu_count()} cpus (wall times grow with other jobs; cpu = process time)"
    )
    bench_offline_d10(100_000 // scale, args.repeat)
    bench_offline_d1(1_000_000 // scale, args.repeat)
    bench_stream(100_000 // scale, max(3, args.repeat // 2))
    bench_many_p(100_000 // scale, max(3, args.repeat // 2))
    bench_p1(100_000 // scale, args.repeat)


if __name__ == "__main__":
    main()
