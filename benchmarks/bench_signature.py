"""Signatures: streamrough against pysiglib, iisignature and sig-rust, side by side in one process.

Usage::

    python benchmarks/bench_signature.py            # the full grid of docs/benchmarks.md
    python benchmarks/bench_signature.py --quick    # L = 1000 only, fewer repeats
    python benchmarks/bench_signature.py --only grid --batches 32 --lengths 1000 --isa avx2
        # the 9 cells of the targets, natively and again with Numba restricted to AVX2

Sections (float64; one thread unless stated; ratio = streamrough / peer, below 1 is faster):

1. the grid B in {1, 32}, L in {1000, 10000}, d in {2, 5, 10}, depth in {2, 3, 4}, geometric,
   against pysiglib ``sig(n_jobs=1)``, iisignature ``sig`` and sig-rust ``sig`` (one Rayon
   thread), each when installed, values checked against ours, with the iterated-sums lift
   timed alongside; a summary per peer (geometric mean, worst and best ratio) over all cells
   and over the B = 32, L = 1000 cells the targets are set on;
2. all prefix signatures (``stream=True``) against iisignature ``sig(x, n, 2)``;
3. one call on a tiny path; 4. ``SigStream.push`` from Python, per point;
5. two threads against one at B = 32, and one long path split into chunks;
6. first-call cost (code generation + JIT compilation) in a fresh process, without and with
   the on-disk cache (``STREAMROUGH_NUMBA_CACHE=0`` / cold / warm).
"""

from __future__ import annotations

import argparse
import math
import os
import subprocess
import sys
import tempfile
import time

os.environ.setdefault("RAYON_NUM_THREADS", "1")  # sig-rust: one thread, before it is imported

import numba  # noqa: E402
import numpy as np  # noqa: E402
from _harness import add_isa_option, cpu_info, fmt_time, numba_target, print_row, rerun_with_isa, time_alternating  # noqa: E402

import streamrough as sr  # noqa: E402

try:
    import pysiglib
except ImportError:  # pragma: no cover - optional peer
    pysiglib = None
try:
    import iisignature
except ImportError:  # pragma: no cover - optional peer
    iisignature = None
try:
    import sig_rust
except ImportError:  # pragma: no cover - optional peer
    sig_rust = None


def brownian_batch(rng, b, n, d):
    x = np.stack([sr.brownian_path(n, d, seed=rng) for _ in range(b)])
    return np.array(x[0]) if b == 1 else x  # owned, C-contiguous (pysiglib copies views)


def geo_mean(values):
    return math.exp(sum(math.log(v) for v in values) / len(values)) if values else float("nan")


def grid_peers():
    """name -> f(x, depth) for each installed signature peer, one thread each."""
    peers = {}
    if pysiglib is not None:
        peers["pysiglib"] = lambda x, depth: pysiglib.sig(x, depth, n_jobs=1)
    if iisignature is not None:
        peers["iisignature"] = iisignature.sig
    if sig_rust is not None:
        peers["sig-rust"] = sig_rust.sig
    return peers


def grid(args, rng):
    peers = grid_peers()
    print(
        "\n== 1. grid: geometric signature (n_jobs=1) vs "
        + (", ".join(peers) or "no peer installed")
        + " (float64, 1 thread each); iterated / geometric =="
    )
    ratios = {name: [] for name in peers}  # every cell
    target = {name: [] for name in peers}  # B = 32, L = 1000: the cells the targets are set on
    small, it_ratios = [], []
    for b in args.batches:
        for n_pts in args.lengths:
            for d in (2, 5, 10):
                for depth in (2, 3, 4):
                    x = brownian_batch(rng, b, n_pts, d)
                    fns = {
                        "ours": lambda: sr.signature(x, depth, n_jobs=1),
                        "iterated": lambda: sr.signature(x, depth, lift="iterated", n_jobs=1),
                    }
                    ref = sr.signature(x, depth, n_jobs=1)
                    for name, peer in peers.items():
                        err = np.max(np.abs(peer(x, depth) - ref)) / max(1.0, np.max(np.abs(ref)))
                        if not err <= 1e-10:
                            raise SystemExit(f"{name} disagrees with streamrough at B={b} L={n_pts} d={d} depth={depth}: {err:.1e}")
                        fns[name] = lambda peer=peer: peer(x, depth)
                    res = time_alternating(fns, repeat=args.repeat, min_time=args.min_time)
                    ours, it = res["ours"][0], res["iterated"][0]
                    it_ratios.append(it / ours)
                    case = f"B={b:<2} L={n_pts:<5} d={d:<2} depth={depth} (len {sr.sig_length(d, depth)})"
                    notes = [f"iterated {fmt_time(it)} ({it / ours:.2f}x geo)"]
                    for name in peers:
                        r = ours / res[name][0]
                        ratios[name].append(r)
                        if b == 32 and n_pts == 1000:
                            target[name].append(r)
                        if name == "pysiglib" and sr.sig_length(d, depth) <= 30:
                            small.append(r)
                        if name != "pysiglib":
                            notes.append(f"{name} {fmt_time(res[name][0])} ({r:.2f}x)")
                    if "pysiglib" in res:
                        print_row(case, ours, res["pysiglib"][0], "pysiglib", "; ".join(notes))
                    else:
                        print_row(case, ours, note="; ".join(notes))
    for name in peers:
        for label, rs in (("all cells", ratios[name]), ("B=32 L=1000", target[name])):
            if rs and not (label == "all cells" and len(rs) == len(target[name])):  # not twice the same cells
                print(
                    f"SUMMARY grid vs {name}, {label} ({len(rs)}): geometric mean {geo_mean(rs):.3f}x,"
                    f" worst {max(rs):.3f}x, best {min(rs):.3f}x"
                    + (" (targets vs pysiglib at B=32 L=1000: geo-mean <= 0.5, worst <= 0.8)" if name == "pysiglib" and label != "all cells" else "")
                )
    if small:
        print(f"SUMMARY small signatures (len <= 30) vs pysiglib: geo-mean {geo_mean(small):.3f}x, worst {max(small):.3f}x (target <= 0.5)")
    print(
        f"SUMMARY iterated / geometric: geometric mean {geo_mean(it_ratios):.3f}x, "
        f"worst {max(it_ratios):.3f}x (target <= 1.10)"
    )


def prefixes(args, rng):
    print("\n== 2. all prefix signatures: signature(x, n, stream=True) vs iisignature.sig(x, n, 2) ==")
    if iisignature is None:
        print("iisignature not installed: skipped")
        return
    ratios = []
    for n_pts in args.lengths:
        for d in (2, 5, 10):
            for depth in (2, 3, 4):
                if n_pts * sr.sig_length(d, depth) > 2e7:  # keep the output under 160 MB
                    continue
                x = brownian_batch(rng, 1, n_pts, d)
                res = time_alternating(
                    {
                        "ours": lambda: sr.signature(x, depth, stream=True),
                        "iisignature": lambda: iisignature.sig(x, depth, 2),
                    },
                    repeat=args.repeat,
                    min_time=args.min_time,
                )
                ours, peer = res["ours"][0], res["iisignature"][0]
                ratios.append(ours / peer)
                print_row(f"prefixes L={n_pts:<5} d={d:<2} depth={depth}", ours, peer, "iisignature")
    print(f"SUMMARY prefixes vs iisignature: geo-mean {geo_mean(ratios):.3f}x, worst {max(ratios):.3f}x (target <= 0.4)")


def tiny(args, rng):
    print("\n== 3. one call on a tiny path (5 points, d = 2, depth 2): per-call time ==")
    x = rng.standard_normal((5, 2))
    fns = {"ours": lambda: sr.signature(x, 2)}
    if pysiglib is not None:
        fns["pysiglib"] = lambda: pysiglib.sig(x, 2)
    if iisignature is not None:
        fns["iisignature"] = lambda: iisignature.sig(x, 2)
    res = time_alternating(fns, repeat=args.repeat, min_time=0.05)
    for name in fns:
        if name != "ours":
            print_row(f"tiny path vs {name}", res["ours"][0], res[name][0], name)
    print(f"SUMMARY tiny-path call: {fmt_time(res['ours'][0])} (target < 3 us)")


def pushes(args, rng):
    print("\n== 4. SigStream.push from Python, per point (float64 point arrays) ==")
    n_pts = 2000 if args.quick else 20000
    worst = 0.0
    for d, depth in [(2, 2), (2, 4), (3, 3), (5, 2), (5, 3)]:
        pts = list(sr.brownian_path(n_pts, d, seed=rng))

        def ours():
            st = sr.SigStream(d, depth, capacity=n_pts)
            for p in pts:
                st.push(p)

        fns = {"ours": ours}
        if pysiglib is not None:

            def peer():
                st = pysiglib.SigStream(d, depth)
                for p in pts:
                    st.push(p)

            fns["pysiglib"] = peer
        res = time_alternating(fns, repeat=max(3, args.repeat // 2))
        per = res["ours"][0] / n_pts
        worst = max(worst, per)
        peer = res["pysiglib"][0] / n_pts if "pysiglib" in res else None
        print_row(f"push d={d} depth={depth} (len {sr.sig_length(d, depth)})", per, peer, "pysiglib.SigStream")
    print(f"SUMMARY push per point (len <= 155): worst {fmt_time(worst)} (target < 1 us)")


def threads(args, rng):
    print("\n== 5. threads: 2 threads vs 1 (B = 32), and one long path in parallel chunks ==")
    max_threads = numba.config.NUMBA_NUM_THREADS
    if max_threads < 2:
        print("only one Numba thread available: skipped")
        return
    n_pts = 1000 if args.quick else 10000
    cases = [(32, n_pts, 5, 3), (32, n_pts, 10, 3), (32, 1000, 10, 4), (1, 100_000, 5, 4)]
    for b, length, d, depth in cases:
        x = brownian_batch(rng, b, length, d)

        def run(k):
            def f():
                numba.set_num_threads(k)
                sr.signature(x, depth)

            return f

        res = time_alternating({"one": run(1), "two": run(2)}, repeat=args.repeat)
        one, two = res["one"][0], res["two"][0]
        print_row(f"B={b} L={length} d={d} depth={depth}: 2 threads", two, one, "1 thread", f"speed-up {one / two:.2f}x")
    numba.set_num_threads(1)


_FIRST_CALL = """
import time, numpy as np
t0 = time.perf_counter()
import streamrough as sr
x = np.random.default_rng(0).standard_normal((100, {d}))
sr.signature(x, {depth})
print(time.perf_counter() - t0)
"""


def first_call(args):
    print("\n== 6. first call in a fresh process (import + code generation + compilation) ==")
    cases = [(3, 3)] if args.quick else [(2, 3), (5, 3), (10, 4)]
    with tempfile.TemporaryDirectory() as tmp:
        env = dict(os.environ, STREAMROUGH_CACHE_DIR=tmp)
        for d, depth in cases:
            code = _FIRST_CALL.format(d=d, depth=depth)

            def run(extra):
                out = subprocess.run(
                    [sys.executable, "-c", code], env=dict(env, **extra), capture_output=True, text=True, check=True
                )
                return float(out.stdout.strip())

            plain = run({"STREAMROUGH_NUMBA_CACHE": "0"})
            cold = run({"STREAMROUGH_NUMBA_CACHE": "1"})
            warm = run({"STREAMROUGH_NUMBA_CACHE": "1"})
            print(
                f"first signature() call d={d} depth={depth}: no cache {fmt_time(plain)}, "
                f"cache cold {fmt_time(cold)}, cache warm {fmt_time(warm)}"
            )


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="L = 1000 only, fewer repeats")
    parser.add_argument(
        "--only", default="", help="comma-separated sections to run: grid,prefixes,tiny,push,threads,compile"
    )
    parser.add_argument("--batches", default="1,32", help="grid batch sizes B, comma-separated (default 1,32)")
    parser.add_argument("--lengths", default="", help="grid path lengths L, comma-separated (default 1000,10000; --quick 1000)")
    add_isa_option(parser)
    args = parser.parse_args(argv)
    args.batches = [int(v) for v in args.batches.split(",")]
    args.lengths = [int(v) for v in args.lengths.split(",")] if args.lengths else [1000] if args.quick else [1000, 10000]
    args.repeat = 5 if args.quick else 9
    args.min_time = 0.005 if args.quick else 0.02
    numba.set_num_threads(1)
    versions = [f"numpy {np.__version__}", f"numba {numba.__version__}"]
    versions.append(f"pysiglib {getattr(pysiglib, '__version__', '?')}" if pysiglib else "pysiglib: not installed")
    versions.append("iisignature installed" if iisignature else "iisignature: not installed")
    versions.append(f"sig-rust {sig_rust.__version__}" if sig_rust else "sig-rust: not installed")
    print("signature benchmark;", ", ".join(versions), f"; started {time.strftime('%H:%M:%S')}")
    print(f"{cpu_info()}; {numba_target()} (the peers run their own precompiled code either way)")
    rng = np.random.default_rng(2024)
    sections = {
        "grid": lambda: grid(args, rng),
        "prefixes": lambda: prefixes(args, rng),
        "tiny": lambda: tiny(args, rng),
        "push": lambda: pushes(args, rng),
        "threads": lambda: threads(args, rng),
        "compile": lambda: first_call(args),
    }
    chosen = [name.strip() for name in args.only.split(",") if name.strip()] or list(sections)
    for name in chosen:
        if name not in sections:
            parser.error(f"unknown section {name!r}; choose from {', '.join(sections)}")
        sections[name]()
    if args.isa != "native":
        rerun_with_isa(args.isa, sys.argv[1:] if argv is None else argv)


if __name__ == "__main__":
    main()
