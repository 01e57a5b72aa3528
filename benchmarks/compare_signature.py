"""Signature kernels of two source trees timed side by side in one run (before/after a change).

Usage::

    python benchmarks/compare_signature.py OLD_SRC NEW_SRC [--rounds 5]

Two worker processes import ``streamrough`` from ``OLD_SRC`` and ``NEW_SRC`` (each a ``src``
folder) and compile every case once; the driver then asks them in turn, case by case and
round by round (alternating which goes first), for the per-call time of each case (float64,
one Numba thread), and prints the median over rounds and the ratio new / old. Cases: the
batch grid (B = 32, L = 1000), one long path (B = 1, L = 10000), all prefixes
(``stream=True``), a tiny path, ``SigStream.push`` and ``query``, ``sig_combine_many``,
``sig_inverse`` and ``sig_join``.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time


def cases():
    """name -> (setup, call) with setup() returning the arguments of call; built lazily."""
    import numpy as np

    import inspect

    import streamrough as sr

    # the keyword for geometric / iterated: `kind` before the vocabulary change, `lift` after
    LIFT = "lift" if "lift" in inspect.signature(sr.signature).parameters else "kind"

    rng = np.random.default_rng(7)  # inputs of the cases that need no path

    def brownian(b, n, d):
        """b Brownian paths of n points in R^d, from the public generator (in both trees)."""
        x = np.cumsum(sr.brownian_weights(n, 1, seed=7, shape=(b, d)), axis=0).transpose(1, 0, 2)
        return np.ascontiguousarray(x[0] if b == 1 else x)

    out = {}
    for d in (2, 5, 10):
        for depth in (2, 3, 4):
            for kind in ("geometric", "iterated"):
                out[f"grid B=32 L=1000 d={d} n={depth} {kind[:4]}"] = (
                    lambda d=d: brownian(32, 1000, d),
                    lambda x, depth=depth, kind=kind: sr.signature(x, depth, **{LIFT: kind}),
                )
            out[f"long B=1 L=10000 d={d} n={depth}"] = (
                lambda d=d: brownian(1, 10000, d),
                lambda x, depth=depth: sr.signature(x, depth),
            )
            out[f"prefixes L=1000 d={d} n={depth}"] = (
                lambda d=d: brownian(1, 1000, d),
                lambda x, depth=depth: sr.signature(x, depth, stream=True),
            )
    out["tiny 5x2 n=2"] = (lambda: rng.standard_normal((5, 2)), lambda x: sr.signature(x, 2))
    for d, depth in [(2, 2), (2, 4), (3, 3), (5, 2), (5, 3)]:

        def pushes(pts, d=d, depth=depth):
            st = sr.SigStream(d, depth, capacity=len(pts))
            for p in pts:
                st.push(p)

        out[f"push x1000 d={d} n={depth}"] = (lambda d=d: list(np.cumsum(rng.standard_normal((1000, d)), 0)), pushes)
    for d, depth in [(2, 4), (5, 3), (10, 3)]:

        def combine_setup(d=d, depth=depth):
            return sr.signature(rng.standard_normal((64 * 16, 2, d)), depth).reshape(64, 16, -1)

        out[f"combine_many 64x16 d={d} n={depth}"] = (
            combine_setup,
            lambda s, d=d, depth=depth: sr.sig_combine_many(s, d, depth),
        )
        out[f"inverse iter 1024 d={d} n={depth}"] = (
            lambda d=d, depth=depth: sr.signature(brownian(1024, 5, d), depth),
            lambda s, d=d, depth=depth: sr.sig_inverse(s, d, depth, **{LIFT: "iterated"}),
        )
        out[f"join 1024 d={d} n={depth}"] = (
            lambda d=d, depth=depth: sr.signature(brownian(1024, 5, d), depth),
            lambda s, d=d, depth=depth: sr.sig_join(s, s[:, :d], d, depth),
        )

    def stream_setup():
        st = sr.SigStream(3, 3)
        st.extend(np.cumsum(rng.standard_normal((20000, 3)), 0))
        st.query(0, 19999)  # builds the tree
        return st

    out["SigStream.query x100 d=3 n=3"] = (
        stream_setup,
        lambda st: [st.query(s, s + 10000) for s in range(0, 9900, 99)],
    )
    return out


def selected(only: str) -> dict:
    """The cases whose name contains one of the comma-separated substrings of `only` (all if empty)."""
    keys = [k.strip() for k in only.split(",") if k.strip()]
    return {name: case for name, case in cases().items() if not keys or any(k in name for k in keys)}


def worker(only: str):
    import numba

    numba.set_num_threads(1)
    table = selected(only)
    args = {}
    for name, (setup, call) in table.items():  # compile everything first
        args[name] = setup()
        call(args[name])
    print("ready", flush=True)
    for line in sys.stdin:
        name = line.strip()
        setup, call = table[name]
        x = args[name]
        n, total = 1, 0.0
        while True:
            t0 = time.perf_counter()
            for _ in range(n):
                call(x)
            total = time.perf_counter() - t0
            if total > 0.02:
                break
            n *= 2
        best = total / n
        for _ in range(2):
            t0 = time.perf_counter()
            for _ in range(n):
                call(x)
            best = min(best, (time.perf_counter() - t0) / n)
        print(json.dumps(best), flush=True)


def fmt(t):
    return f"{t * 1e6:9.2f} us" if t < 1e-3 else f"{t * 1e3:9.3f} ms"


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("old_src")
    parser.add_argument("new_src")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--only", default="", help="comma-separated substrings: run only the cases naming one")
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        return worker(args.only)
    procs = {}
    for label, src in (("old", args.old_src), ("new", args.new_src)):
        env = dict(os.environ, PYTHONPATH=os.path.abspath(src), NUMBA_NUM_THREADS="2")
        procs[label] = subprocess.Popen(
            [sys.executable, __file__, "x", "x", "--worker", "--only", args.only], stdin=subprocess.PIPE, stdout=subprocess.PIPE, env=env, text=True
        )
    for p in procs.values():
        assert p.stdout.readline().strip() == "ready"
    names = list(selected(args.only))
    times = {name: {"old": [], "new": []} for name in names}
    for r in range(args.rounds):
        for name in names:
            for label in ("old", "new") if r % 2 == 0 else ("new", "old"):
                procs[label].stdin.write(name + "\n")
                procs[label].stdin.flush()
                times[name][label].append(json.loads(procs[label].stdout.readline()))
    for p in procs.values():
        p.stdin.close()
        p.wait()
    print(f"{'case':40s} {'old':>12s} {'new':>12s}  new/old   (median of {args.rounds} rounds, min of 3 per round)")
    for name in names:
        old, new = statistics.median(times[name]["old"]), statistics.median(times[name]["new"])
        print(f"{name:40s} {fmt(old)} {fmt(new)}  {new / old:6.3f}")


if __name__ == "__main__":
    main()
