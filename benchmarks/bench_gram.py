"""Gram route for wide layers (math.md 5): time per phase and peak memory.

Target (benchmarks.md, issue 4): L = 1000 layers of 64 x 64 weights (D = 4096), level-1 and
level-2 p-variation for 20 values of p in [1, 3], both conventions, within a few seconds
and O(L^2) memory. The naive route needs the D x D level-2 tensors (D^2 = 16.8 million
entries, 134 MB each); it cannot run at this size, so its memory need is printed as
arithmetic, and the direct route of ``rough_pvar`` is timed against the Gram route at small
widths where both fit.

Second target (issue 11): the squared interval norms of one path at L = 4096 layers of
16 x 16 in under a second and L = 16,384 in under a minute, equal to the running recursion.
``--tree`` times today's route (``interval_norms_sq``, the running recursion) against the
dyadic-tree route (``streamrough._gram_tree``) on the same Gram matrices, alternating, and
prints the largest relative difference over all intervals; ``--tree-big L`` times the tree
route once at a depth where the recursion would take too long and checks a sample of start
points against it (the recursion restricted to blocks of 8 starts).

``--rough-table`` times exactly the public call of the issue's table row,
``sr.rough_pvar(sr.brownian_weights(L, 16, seed=0), [2.2, 2.5, 2.8], route="gram")``
(the weights made outside the timing), median of ``--repeat`` runs after one warm-up call at
each of ``--rough-depths``, and ``--rough-once L`` times it once more at a depth too large to
repeat (e.g. 16384; run it under ``/usr/bin/time -v`` for the peak RSS).

Run: ``python benchmarks/bench_gram.py`` (add ``--quick`` for a smaller main case;
``--tree`` for the tree comparison only, e.g. ``--tree --tree-depths 1024 4096 --tree-big 16384``;
``--rough-table --repeat 5 --rough-depths 1024 4096 --rough-once 16384``).
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
    """Seconds per phase of the Gram route: (GEMM, interval norms, DP level 1, DP level 2)."""
    t0 = time.perf_counter()
    g = sr.layer_gram(weights)
    t1 = time.perf_counter()
    h = 0.5 if lift == "geometric" else 0.0
    if convention == "increments":
        inc, n_points = g, g.shape[0] + 1
    else:
        inc, n_points = gram_module._second_difference(g), g.shape[0]
    jobs = resolve_n_jobs(None)
    sq = gram_module._interval_norms(inc[None, None], inc[None, None], h, n_points, jobs)
    if convention == "values":
        gram_module._point_distances_sq(g, sq[0])
    t2 = time.perf_counter()
    gram_module._pvar_of_squares(sq[:1], P_VALUES[None] / 2, False, jobs)
    t3 = time.perf_counter()
    gram_module._pvar_of_squares(sq[1:], P_VALUES[None] / 4, False, jobs)
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
        print(f"  {convention:<10}  Gram GEMM {fmt_time(gemm):>10} | interval norms {fmt_time(rec):>10}"
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


def _norms(g: np.ndarray, h: float, tree: bool, jobs: int):
    """sq1, sq2 of every interval by one route (today's recursion or the tree)."""
    from streamrough import _config

    saved = _config.GRAM_TREE_MIN_N
    _config.GRAM_TREE_MIN_N = 2 if tree else g.shape[0] + 1
    try:
        return gram_module._interval_norms(g[None, None], g[None, None], h, g.shape[0] + 1, jobs)
    finally:
        _config.GRAM_TREE_MIN_N = saved


def _max_rel(a: np.ndarray, b: np.ndarray) -> float:
    mask = b > 0
    return float(np.max(np.abs(a[mask] - b[mask]) / b[mask])) if mask.any() else 0.0


def tree_case(depths, width: int, repeat: int, n_jobs) -> None:
    """Today's route against the tree route for the squared interval norms (both lifts)."""
    jobs = resolve_n_jobs(n_jobs)
    print(f"== interval norms of one path: running recursion vs dyadic tree (width {width}, "
          f"D = {width * width}, n_jobs = {jobs}) ==")
    small = sr.layer_gram(sr.brownian_weights(40, width, seed=0))
    for h in (0.0, 0.5):  # compile both routes
        _norms(small, h, False, jobs), _norms(small, h, True, jobs)
    for depth in depths:
        g = sr.layer_gram(sr.brownian_weights(depth, width, seed=0))
        for lift, h in (("iterated", 0.0), ("geometric", 0.5)):
            ref, tree = _norms(g, h, False, jobs), _norms(g, h, True, jobs)
            diff1, diff2 = _max_rel(tree[0], ref[0]), _max_rel(tree[1], ref[1])
            del ref, tree
            times = time_alternating({"tree": lambda: _norms(g, h, True, jobs),
                                      "recursion": lambda: _norms(g, h, False, jobs)}, repeat=repeat)
            print_row(f"L={depth}, {lift}", times["tree"][0], times["recursion"][0], peer_name="recursion",
                      note=f"max rel diff: level 1 {diff1:.1e}, level 2 {diff2:.1e}")


def tree_big(depth: int, width: int, n_jobs) -> None:
    """One timed tree call at a large depth; a sample of starts checked against the recursion."""
    from streamrough._kernels.gram import _interval_norms_block

    jobs = resolve_n_jobs(n_jobs)
    g = sr.layer_gram(sr.brownian_weights(depth, width, seed=0))
    _norms(g[:300, :300].copy(), 0.0, True, jobs)
    t0 = time.perf_counter()
    sq1, sq2 = _norms(g, 0.0, True, jobs)
    elapsed = time.perf_counter() - t0
    worst = 0.0
    for s0 in (0, depth // 3, depth // 2 - 4, depth - 8):  # blocks of 8 starts, every end
        # starts s0 .. s0 + 7 depend on G[s0:, s0:] only: run the recursion on that corner
        sub = g if s0 == 0 else np.ascontiguousarray(g[s0:, s0:])
        r1, r2 = np.zeros((depth - s0 + 1, 8)), np.zeros((depth - s0 + 1, 8))
        _interval_norms_block(sub[None, None], sub[None, None], 0.0, 0, 8, r1, r2)
        del sub
        worst = max(worst, _max_rel(sq1[s0:, s0 : s0 + 8], r1), _max_rel(sq2[s0:, s0 : s0 + 8], r2))
    print_row(f"L={depth}, iterated, tree route only (once, n_jobs = {jobs})", elapsed,
              note=f"max rel diff on 32 sampled starts (all ends): {worst:.1e}; "
                   f"max RSS {_mb(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024)}")


ROUGH_TABLE_P = [2.2, 2.5, 2.8]


def rough_table(depths, once: int, repeat: int, n_jobs) -> None:
    """The issue's row: rough_pvar of Brownian 16 x 16 weights, route="gram", three p."""
    print(f"== rough_pvar(brownian_weights(L, 16, seed=0), {ROUGH_TABLE_P}, route='gram', "
          f"n_jobs={n_jobs}) ==")

    def call(weights):
        return sr.rough_pvar(weights, ROUGH_TABLE_P, route="gram", n_jobs=n_jobs)

    for depth in depths:
        weights = sr.brownian_weights(depth, 16, seed=0)
        median, first = time_call(lambda: call(weights), repeat=repeat)
        print_row(f"L={depth}, median of {repeat}", median, note=f"(first call {fmt_time(first)})")
    if once:
        call(sr.brownian_weights(300, 16, seed=0))  # compile outside the timing
        weights = sr.brownian_weights(once, 16, seed=0)
        t0 = time.perf_counter()
        call(weights)
        elapsed = time.perf_counter() - t0
        print_row(f"L={once}, once", elapsed,
                  note=f"max RSS {_mb(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024)}")


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="L = 300 instead of 1000")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--tree", action="store_true", help="only the recursion-vs-tree comparison")
    parser.add_argument("--tree-depths", type=int, nargs="*", default=[1024, 4096])
    parser.add_argument("--tree-big", type=int, default=0, help="also one tree call at this depth")
    parser.add_argument("--n-jobs", type=int, default=None,
                        help="n_jobs of the tree comparison and the rough table (default: all)")
    parser.add_argument("--rough-table", action="store_true", help="only the rough_pvar row of issue 11")
    parser.add_argument("--rough-depths", type=int, nargs="*", default=[1024, 4096])
    parser.add_argument("--rough-once", type=int, default=0, help="also one rough_pvar call at this depth")
    args = parser.parse_args(argv)
    print(cpu_info())
    if args.rough_table:
        rough_table(args.rough_depths, args.rough_once, args.repeat, args.n_jobs)
        return
    if args.tree:
        tree_case(args.tree_depths, 16, args.repeat, args.n_jobs)
        if args.tree_big:
            tree_big(args.tree_big, 16, args.n_jobs)
        return
    depth = 300 if args.quick else 1000
    main_case(depth, 64, args.repeat)
    memory_table(64, [depth // 4, depth // 2, depth])
    print("== Gram route vs the direct route of rough_pvar (same run, alternating) ==")
    for width in (4, 8):
        peer_case(200, width, args.repeat)


if __name__ == "__main__":
    sys.exit(main())
