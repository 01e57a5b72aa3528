"""Gram route for wide layers (math.md 5): time per phase and peak memory.

Target (benchmarks.md, issue 4): L = 1000 layers of 64 x 64 weights (D = 4096), level-1 and
level-2 p-variation for 20 values of p in [1, 3], both conventions, within a few seconds
and O(L^2) memory. The naive route needs the D x D level-2 tensors (D^2 = 16.8 million
entries, 134 MB each); it cannot run at this size, so its memory need is printed as
arithmetic, and the direct route of ``rough_pvar`` is timed against the Gram route at small
widths where both fit.

Run: ``python benchmarks/bench_gram.py`` (add ``--quick`` for a smaller main case).
"""

from __future__ import annotations

import argparse
import resource
import sys
import time
import tracemalloc
import warnings

import numpy as np

import streamrough as sr
from streamrough import gram as gram_module
from streamrough._parallel import resolve_n_jobs

from _harness import cpu_info, fmt_time, print_row, time_alternating, time_call

P_VALUES = np.linspace(1.0, 3.0, 20)


def _mb(nbytes: float) -> str:
    return f"{nbytes / 2**20:,.1f} MB"


def _phases(weights: np.ndarray, convention: str, lift: str = "iterated"):
    """Seconds per phase of the Gram route: (GEMM, recursion, DP level 1, DP level 2)."""
    t0 = time.perf_counter()
    g = sr.layer_gram(weights)
    t1 = time.perf_counter()
    h = 0.5 if lift == "geometric" else 0.0
    if convention == "increments":
        inc, n_points = g, g.shape[0] + 1
    else:
        inc, n_points = gram_module._second_difference(g), g.shape[0]
    jobs = resolve_n_jobs(None)
    sq1, sq2 = gram_module._interval_norms(inc[None, None], inc[None, None], h, n_points, jobs)
    if convention == "values":
        gram_module._point_distances_sq(g, sq1)
    t2 = time.perf_counter()
    gram_module._pvar_of_squares(sq1, P_VALUES / 2, False, jobs)
    t3 = time.perf_counter()
    gram_module._pvar_of_squares(sq2, P_VALUES / 4, False, jobs)
    t4 = time.perf_counter()
    return t1 - t0, t2 - t1, t3 - t2, t4 - t3


def _end_to_end(weights: np.ndarray):
    """The public calls for both conventions (one Gram serves both)."""
    g = sr.layer_gram(weights)
    for convention in ("increments", "values"):
        sr.gram_rough_pvar(g, P_VALUES, convention=convention)


def _peak_traced(fn) -> int:
    """Peak bytes allocated through Python/numpy while `fn` runs (Numba's own scratch, O(L)
    per thread, is not traced)."""
    tracemalloc.start()
    tracemalloc.reset_peak()
    fn()
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return peak


def main_case(depth: int, width: int, repeat: int) -> None:
    weights = sr.brownian_weights(depth, width, seed=0)
    d = width * width
    print(f"== Gram route: L = {depth} layers of {width} x {width} (D = {d}), "
          f"{len(P_VALUES)} values of p in [1, 3], iterated lift ==")
    _end_to_end(weights[:8])  # compile the kernels
    for convention in ("increments", "values"):
        samples = [_phases(weights, convention) for _ in range(repeat)]
        gemm, rec, dp1, dp2 = np.median(np.array(samples), axis=0)
        print(f"  {convention:<10}  Gram GEMM {fmt_time(gemm):>10} | O(L^3) recursion {fmt_time(rec):>10}"
              f" | DP level 1 (20 p) {fmt_time(dp1):>10} | DP level 2 (20 p) {fmt_time(dp2):>10}"
              f" | total {fmt_time(gemm + rec + dp1 + dp2):>10}")
    total, first = time_call(lambda: _end_to_end(weights), repeat=repeat)
    print_row(f"end to end, both conventions (L={depth}, m={width})", total,
              note=f"(first call {fmt_time(first)})")
    geometric, _ = time_call(lambda: sr.gram_rough_pvar(sr.layer_gram(weights), P_VALUES, lift="geometric"),
                             repeat=repeat)
    print_row("end to end, geometric lift, increments", geometric)
    other = sr.brownian_weights(depth, width, seed=1)

    def distance():
        blocks = sr.layer_gram(weights), sr.layer_gram(weights, other), sr.layer_gram(other)
        return sr.gram_rough_distance(*blocks, P_VALUES)

    dist, _ = time_call(distance, repeat=repeat)
    print_row("rough distance (3 Gram blocks), increments", dist)


def memory_table(width: int, depths) -> None:
    print(f"== peak memory of the Gram route (width {width}, both conventions, 20 p) ==")
    d = width * width
    for depth in depths:
        weights = sr.brownian_weights(depth, width, seed=0)
        g = sr.layer_gram(weights)
        peak_route = _peak_traced(
            lambda: [sr.gram_rough_pvar(g, P_VALUES, convention=c) for c in ("increments", "values")]
        )
        peak_gemm = _peak_traced(lambda: sr.layer_gram(weights))
        one_lxl = 8 * (depth + 1) ** 2
        naive_one = 8 * d * d
        naive_prefix = 8 * (depth + 1) * d * d
        print(f"  L = {depth:>5}: traced peak {_mb(peak_route):>10} (= {peak_route / one_lxl:4.1f} L x L"
              f" float64 matrices) | Gram GEMM {_mb(peak_gemm):>9} | input {_mb(weights.nbytes):>9}"
              f" | naive: one D x D tensor {_mb(naive_one)}, all prefix tensors {_mb(naive_prefix)}")
    print(f"  process max RSS so far: {_mb(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024)}")


def peer_case(depth: int, width: int, repeat: int) -> None:
    weights = sr.brownian_weights(depth, width, seed=1)

    def gram_route():
        return sr.gram_rough_pvar(sr.layer_gram(weights), P_VALUES)

    def direct_route():
        with warnings.catch_warnings():  # p = 3 is in the grid: the "beyond" regime warning
            warnings.simplefilter("ignore")
            return sr.rough_pvar(weights, P_VALUES, convention="increments", route="direct")

    case = f"L={depth}, {width}x{width} (D^2={width ** 4}), 20 p"
    try:
        theirs = direct_route()
    except Exception as exc:  # the peer is another module of this package, possibly unfinished
        print(f"{case:<48} direct route unavailable: {type(exc).__name__}: {exc}")
        return
    ours = gram_route()
    diff1 = np.max(np.abs(theirs.level1_power / ours.level1_power - 1))
    diff2 = np.max(np.abs(theirs.level2_power / ours.level2_power - 1))
    times = time_alternating({"gram": gram_route, "direct": direct_route}, repeat=repeat)
    print_row(case, times["gram"][0], times["direct"][0], peer_name="direct route",
              note=f"max rel diff: level 1 {diff1:.1e}, level 2 {diff2:.1e}")


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="L = 300 instead of 1000")
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args(argv)
    print(cpu_info())
    depth = 300 if args.quick else 1000
    main_case(depth, 64, args.repeat)
    memory_table(64, [depth // 4, depth // 2, depth])
    print("== Gram route vs the direct route of rough_pvar (same run, alternating) ==")
    for width in (4, 8):
        peer_case(200, width, args.repeat)


if __name__ == "__main__":
    sys.exit(main())
