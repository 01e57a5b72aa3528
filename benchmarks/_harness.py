"""Timing helpers shared by the benchmark scripts.

Machines here are shared and noisy, so every benchmark runs streamrough and its peer in the
same process, alternating, after a warm-up call whose time (JIT compilation included) is
reported separately, and prints medians and the ratio ours / peer.
"""

from __future__ import annotations

import statistics
import time


def time_call(fn, *, repeat=5, min_time=0.0):
    """Median wall time of ``fn()`` over `repeat` runs (after one warm-up call).

    Returns
    -------
    median : float
        Median seconds per call.
    first : float
        Seconds of the warm-up call (includes compilation on first use).
    """
    t0 = time.perf_counter()
    fn()
    first = time.perf_counter() - t0
    return statistics.median(time_call_once(fn, min_time) for _ in range(repeat)), first


def time_alternating(fns, *, repeat=5, min_time=0.0, setup=None):
    """Median time of each callable in `fns` (a dict), runs interleaved so that load drifts
    hit every contender alike; `setup`, if given, runs untimed before every call (e.g. to
    delete the previous call's output). Returns ``{name: (median, first_call)}``."""
    setup = setup or (lambda: None)
    firsts = {}
    for name, fn in fns.items():
        setup()
        t0 = time.perf_counter()
        fn()
        firsts[name] = time.perf_counter() - t0
    samples = {name: [] for name in fns}
    for _ in range(repeat):
        for name, fn in fns.items():
            setup()
            samples[name].append(time_call_once(fn, min_time))
    return {name: (statistics.median(samples[name]), firsts[name]) for name in fns}


def time_call_once(fn, min_time=0.0):
    """Seconds per call of ``fn()``, looping until at least `min_time` has passed."""
    inner = 1
    while True:
        t0 = time.perf_counter()
        for _ in range(inner):
            fn()
        elapsed = time.perf_counter() - t0
        if elapsed >= min_time or inner >= 1 << 20:
            return elapsed / inner
        inner *= 4


def cpu_info() -> str:
    """CPU model, logical CPUs, vector extensions (from /proc/cpuinfo) and the load average."""
    import os

    model, flags = "unknown CPU", set()
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name") and model == "unknown CPU":
                    model = line.split(":", 1)[1].strip()
                elif line.startswith("flags") and not flags:
                    flags = set(line.split(":", 1)[1].split())
    except OSError:
        pass
    vec = [v for v in ("sse4_2", "avx", "avx2", "fma", "avx512f") if v in flags] or ["?"]
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    return f"{model}, {os.cpu_count()} logical CPUs, vector: {' '.join(vec)}, load average {load:.1f}"


def fmt_time(seconds: float) -> str:
    """Human-readable duration (ns/us/ms/s)."""
    if seconds < 1e-6:
        return f"{seconds * 1e9:.0f} ns"
    if seconds < 1e-3:
        return f"{seconds * 1e6:.2f} us"
    if seconds < 1:
        return f"{seconds * 1e3:.2f} ms"
    return f"{seconds:.3f} s"


def print_row(case: str, ours: float, peer: float | None = None, peer_name: str = "peer", note: str = ""):
    """One summary line a person can read without the code."""
    line = f"{case:<48} streamrough {fmt_time(ours):>10}"
    if peer is not None:
        line += f" | {peer_name} {fmt_time(peer):>10} | ratio {ours / peer:6.3f}x"
    if note:
        line += f"  {note}"
    print(line, flush=True)
