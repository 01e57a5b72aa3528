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


def numba_target() -> str:
    """The CPU Numba generates code for: the host's, or the one named by NUMBA_CPU_NAME."""
    import numba

    name, features = numba.config.CPU_NAME, numba.config.CPU_FEATURES
    if name is None:
        import llvmlite.binding as ll

        return f"numba target: host ({ll.get_host_cpu_name()}, all its vector extensions)"
    return f"numba target: NUMBA_CPU_NAME={name}, NUMBA_CPU_FEATURES={features!r} ('' = that CPU's own set)"


#: ``--isa`` values other than "native": the CPU name given to Numba (NUMBA_CPU_NAME) and to the
#: C++ compiler (-march) so that both generate code for that instruction set only.
ISA_CPUS = {"avx2": "haswell", "avx2-zen2": "znver2"}


def add_isa_option(parser) -> None:
    """``--isa``: also re-run the benchmark in a subprocess restricted to another instruction set."""
    parser.add_argument(
        "--isa",
        choices=["native", *ISA_CPUS],
        default="native",
        help="after the native run, re-run in a subprocess whose JIT code (NUMBA_CPU_NAME, with that CPU's own"
        " features) and C++ (-march) target that CPU: avx2 = haswell, avx2-zen2 = znver2 (measures an AVX2"
        " machine on an AVX-512 one)",
    )


def rerun_with_isa(isa: str, argv, *, march: bool = False) -> None:
    """Re-run this script with `argv` under the Numba target of `isa` (``ISA_CPUS[isa]``).

    The re-run gets ``--isa native`` and, with `march`, ``--march CPU`` for its C++ compiler
    (both replace any ``--isa`` / ``--march`` in `argv`).
    """
    import os
    import subprocess
    import sys

    cpu = ISA_CPUS[isa]
    args = _without_options(list(argv), ("--isa", "--march") if march else ("--isa",))
    args += ["--isa", "native"] + (["--march", cpu] if march else [])
    print(f"\n######## re-run for --isa {isa}: NUMBA_CPU_NAME={cpu}" + (f", C++ -march={cpu}" if march else ""), flush=True)
    env = dict(os.environ, NUMBA_CPU_NAME=cpu, NUMBA_CPU_FEATURES="")
    subprocess.run([sys.executable, sys.argv[0], *args], env=env, check=True)


def _without_options(argv: list, names) -> list:
    """`argv` without ``NAME VALUE`` or ``NAME=VALUE`` for each of `names`."""
    out, skip = [], False
    for arg in argv:
        if skip:
            skip = False
        elif arg in names:
            skip = True
        elif not any(arg.startswith(name + "=") for name in names):
            out.append(arg)
    return out


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
