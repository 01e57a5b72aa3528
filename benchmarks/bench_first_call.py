"""First call in a fresh process: how much of a typical analysis is JIT compilation.

A typical analysis (a close proxy of issue 11's "22 real weight paths, L up to 1024,
32 x 32 layers"): 22 float32 Brownian weight paths of 64 to 1024 layers of 32 x 32 (six each
of 64, 128, 256, two each of 512, 1024), and for
each ``pvar`` in both conventions at p = 2.5, ``rough_pvar`` (levels 1 and 2), ``rough_distance``
to the next path of the same length and the depth-2 ``signature`` of its first 64 layers
(d = 1024); then ``streamrough analyze`` (the CLI) on one ``.npz`` file. Each runs in a fresh
subprocess, three times: cache off (``STREAMROUGH_NUMBA_CACHE=0``), cold cache (an empty
directory) and warm cache (the same directory again). Printed per run: wall time of the
whole run, seconds spent compiling (Numba's ``numba:compile`` events) and loading compiled
kernels (everything under Numba's compiler lock minus compiling), importing, and (analysis)
how many specialisations were compiled and loaded. Also the CPU model and load.

Run: ``python benchmarks/bench_first_call.py [--quick]`` (``--quick``: 4 paths, L <= 256).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile

from _harness import cpu_info

PROBE = r"""
import json, sys, time
t0 = time.perf_counter()
from numba.core import event
compile_t, lock_t = event.TimingListener(), event.TimingListener()
event.register("numba:compile", compile_t)
event.register("numba:compiler_lock", lock_t)
import numpy as np
import streamrough as sr
quick = sys.argv[1] == "quick"
t_import = time.perf_counter() - t0
lengths = [64, 128, 256, 256] if quick else [64] * 6 + [128] * 6 + [256] * 6 + [512, 512, 1024, 1024]
paths = [sr.brownian_weights(L, 32, seed=i).astype(np.float32) for i, L in enumerate(lengths)]
for i, W in enumerate(paths):
    sr.pvar(W, 2.5, convention="increments")
    sr.pvar(W, 2.5, convention="values")
    sr.rough_pvar(W, 2.5)
    same = [V for V in paths[i + 1:] if V.shape == W.shape]
    if same:
        sr.rough_distance(W, same[0], 2.5)
    sr.signature(W[:64].reshape(64, -1), 2)
total = time.perf_counter() - t0
from numba.core.dispatcher import Dispatcher
import gc
ours = [d for d in gc.get_objects() if isinstance(d, Dispatcher) and d.py_func.__module__.startswith("streamrough")]
hits = sum(sum(d._cache_hits.values()) for d in ours)
misses = sum(len(d.overloads) for d in ours) - hits
print(json.dumps(dict(total=total, imports=t_import, compile=compile_t.duration if compile_t.done else 0.0,
                      lock=lock_t.duration if lock_t.done else 0.0, hits=hits, misses=misses)))
"""


# the CLI's own entry point, with the same timers
CLI_PROBE = r"""
import contextlib, io, json, sys, time
t0 = time.perf_counter()
from numba.core import event
compile_t, lock_t = event.TimingListener(), event.TimingListener()
event.register("numba:compile", compile_t)
event.register("numba:compiler_lock", lock_t)
from streamrough.cli import main
t_import = time.perf_counter() - t0
with contextlib.redirect_stdout(io.StringIO()):
    main(["analyze", sys.argv[1], "-p", "2.5", "--quiet"])
print(json.dumps(dict(total=time.perf_counter() - t0, imports=t_import,
                      compile=compile_t.duration if compile_t.done else 0.0,
                      lock=lock_t.duration if lock_t.done else 0.0)))
"""


def run_probe(env, code, arg):
    out = subprocess.run([sys.executable, "-c", code, arg], env=env, capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def report(name, r):
    line = (
        f"  {name:<11} total {r['total']:6.2f} s | compiling {r['compile']:6.2f} s | "
        f"loading {r['lock'] - r['compile']:5.2f} s | imports {r['imports']:4.2f} s"
    )
    if "hits" in r:
        line += f" | specialisations compiled {r['misses']}, loaded {r['hits']}"
    print(line, flush=True)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="4 paths of at most 256 layers")
    args = ap.parse_args()
    print(cpu_info())
    import numpy as np

    import streamrough as sr

    with tempfile.TemporaryDirectory() as tmp:
        npz = os.path.join(tmp, "weights.npz")
        W = sr.brownian_weights(256, 32, seed=7).astype(np.float32)
        np.savez(npz, **{f"blocks.{k}.W": w for k, w in enumerate(W)})
        cache = os.path.join(tmp, "cache")
        base = dict(os.environ, STREAMROUGH_CACHE_DIR=cache)
        runs = [
            ("cache off", dict(base, STREAMROUGH_NUMBA_CACHE="0")),
            ("cold cache", dict(base, STREAMROUGH_NUMBA_CACHE="1")),
            ("warm cache", dict(base, STREAMROUGH_NUMBA_CACHE="1")),
        ]
        print("typical analysis, fresh process:")
        for name, env in runs:
            report(name, run_probe(env, PROBE, "quick" if args.quick else "full"))
        print("streamrough analyze weights.npz -p 2.5 (256 layers of 32 x 32), fresh process:")
        for name, env in runs:
            env = dict(env, STREAMROUGH_CACHE_DIR=os.path.join(tmp, "cache-cli"))
            report(name, run_probe(env, CLI_PROBE, npz))


if __name__ == "__main__":
    main()
