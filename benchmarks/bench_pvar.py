"""Exact p-variation: streamrough against the naive O(N^2) DP and the C++ reference, on seeded Brownian paths.

    python benchmarks/bench_pvar.py            # the sizes of benchmarks.md
    python benchmarks/bench_pvar.py --quick    # 10x smaller, for a smoke run
    python benchmarks/bench_pvar.py --only cpp --cpp-ref P_VAR_CHECKOUT --isa avx2
        # against the C++ reference (a checkout of khumarahn/p-var), natively and again with
        # code generation restricted to AVX2 (Numba and the C++ compiler targeting haswell)

Paths: ``sr.brownian_path(N, d)`` (cumulative sums of N(0, 1/(N-1)) increments, seed 0). The peer is the plain DP of
math.md 2.1 compiled with Numba (``pvar(..., method="dp")``): it is timed at N/10 and
extrapolated by x100 (it is exactly quadratic), which the output says on every line.

With ``--cpp-ref DIR`` the section "cpp" compiles a driver of ours against the C++ reference
in DIR (``benchmarks/_cpp_pvar.py``; c++ -O3 -march=native, or ``--march``) and times it and
``pvar(x, p, power=True, n_jobs=1)`` alternately on the same paths, one thread each:
d = 10, N = 10^5 with the generic ``p_var.h`` and d = 1, N = 10^6 with its 1-d method
``p_var_real``, p = 1.5, 2, 2.5, 3. It checks that the values agree to 1e-12 (relative) and
prints medians and the ratio streamrough / C++, below 1 meaning streamrough is faster.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time

import numba
import numpy as np

sys.path.insert(0, os.path.dirname(__file__))
import _cpp_pvar  # noqa: E402
from _harness import (  # noqa: E402
    add_isa_option,
    cpu_info,
    fmt_time,
    numba_target,
    print_row,
    rerun_with_isa,
    time_alternating,
    time_call,
)

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


def bench_cpp(args, scale):
    """Alternate rounds of the C++ driver and streamrough (one call per p each) on one path."""
    ref = args.cpp_ref
    print(f"\n== against the C++ reference in {ref}: one thread each, same paths, alternating rounds ==")
    print(f"compiler: {_cpp_pvar.compiler_version()}, flags -O3 -march={args.march}; {numba_target()}")
    ps = (1.5, 2.0, 2.5, 3.0)
    cases = [(10, 100_000 // scale, "p_var.h"), (1, 1_000_000 // scale, "p_var_real")]
    disagree = []
    with tempfile.TemporaryDirectory(prefix="streamrough-cpp-ref-") as tmp:
        for d, n, peer in cases:
            if d == 1 and not os.path.isfile(os.path.join(ref, "p_var_real.cpp")):
                print(f"{ref} has no p_var_real.cpp: the d = 1 comparison is skipped")
                continue
            exe = _cpp_pvar.build_driver(ref, d, tmp, march=args.march)
            x = sr.brownian_path(n, d, seed=0)
            path_file = os.path.join(tmp, f"path_d{d}.bin")
            _cpp_pvar.write_path(x, path_file)
            t0 = time.perf_counter()
            ours = {p: sr.pvar(x, p, power=True, n_jobs=1) for p in ps}
            first = time.perf_counter() - t0
            wall = {side: {p: [] for p in ps} for side in ("ours", "cpp")}
            cpu = {side: {p: [] for p in ps} for side in ("ours", "cpp")}
            for r in range(args.repeat):
                for side in ("ours", "cpp") if r % 2 else ("cpp", "ours"):
                    if side == "cpp":
                        res = _cpp_pvar.run_driver(exe, path_file, ps)
                        theirs = {p: res[p][0] for p in ps}
                        for p in ps:
                            wall["cpp"][p] += res[p][1]
                            cpu["cpp"][p] += res[p][2]
                    else:
                        for p in ps:
                            c0, t0 = time.process_time(), time.perf_counter()
                            sr.pvar(x, p, power=True, n_jobs=1)
                            wall["ours"][p].append(time.perf_counter() - t0)
                            cpu["ours"][p].append(time.process_time() - c0)
            summary = {"median": [], "best": [], "cpu": []}
            for p in ps:
                rel = abs(ours[p] - theirs[p]) / abs(theirs[p])
                if not rel <= 1e-12:
                    disagree.append((d, p, ours[p], theirs[p]))
                med = {side: statistics.median(wall[side][p]) for side in wall}
                best = {side: min(wall[side][p]) for side in wall}
                cpu_med = {side: statistics.median(cpu[side][p]) for side in cpu}
                summary["median"].append(med["ours"] / med["cpp"])
                summary["best"].append(best["ours"] / best["cpp"])
                summary["cpu"].append(cpu_med["ours"] / cpu_med["cpp"])
                print_row(
                    f"pvar d={d} N={n} p={p} (1 thread)",
                    med["ours"],
                    med["cpp"],
                    f"C++ {peer}",
                    f"[best {fmt_time(best['ours'])} / {fmt_time(best['cpp'])}; cpu {fmt_time(cpu_med['ours'])} /"
                    f" {fmt_time(cpu_med['cpp'])}; values agree to {rel:.1e}]",
                )
            print(
                f"SUMMARY d={d} N={n} vs C++ {peer} (-march={args.march}, {args.repeat} rounds), ratio streamrough / C++"
                f" at p = {' / '.join(str(p) for p in ps)}: "
                + "; ".join(f"{k} {' / '.join(f'{r:.2f}' for r in v)}" for k, v in summary.items())
                + f" (median wall, best wall, median cpu); first call incl. JIT {fmt_time(first)}"
            )
    if disagree:
        raise SystemExit(f"values disagree with the C++ reference beyond 1e-12: (d, p, ours, C++) {disagree}")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="sizes 10x smaller (a smoke run)")
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument(
        "--only", default="", help="comma-separated sections: d10,d1,stream,many,p1,cpp (default: all; cpp needs --cpp-ref)"
    )
    parser.add_argument("--cpp-ref", metavar="DIR", help="a checkout of khumarahn/p-var: time its C++ next to ours")
    parser.add_argument("--march", default="native", help="-march of the C++ driver (default native)")
    add_isa_option(parser)
    args = parser.parse_args(argv)
    scale = 10 if args.quick else 1
    print(
        f"streamrough {sr.__version__}; numba {numba.__version__}, threads: {numba.config.NUMBA_NUM_THREADS}"
        f" ({numba.config.THREADING_LAYER} threading layer); {numba_target()}\n{cpu_info()}"
        " (wall times grow with other jobs; cpu = process time)"
    )
    sections = {
        "d10": lambda: bench_offline_d10(100_000 // scale, args.repeat),
        "d1": lambda: bench_offline_d1(1_000_000 // scale, args.repeat),
        "stream": lambda: bench_stream(100_000 // scale, max(3, args.repeat // 2)),
        "many": lambda: bench_many_p(100_000 // scale, max(3, args.repeat // 2)),
        "p1": lambda: bench_p1(100_000 // scale, args.repeat),
        "cpp": lambda: bench_cpp(args, scale),
    }
    chosen = [name.strip() for name in args.only.split(",") if name.strip()]
    if not chosen:
        chosen = [name for name in sections if name != "cpp" or args.cpp_ref]
    for name in chosen:
        if name not in sections:
            parser.error(f"unknown section {name!r}; choose from {', '.join(sections)}")
        if name == "cpp" and not args.cpp_ref:
            parser.error("section cpp needs --cpp-ref DIR (a checkout of khumarahn/p-var)")
    for name in chosen:
        sections[name]()
    if args.isa != "native":
        rerun_with_isa(args.isa, sys.argv[1:] if argv is None else argv, march=True)


if __name__ == "__main__":
    main()
