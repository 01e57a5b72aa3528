"""The C++ reference of exact p-variation (Korepanov-Lyons ``p_var.h``; Butkus / Zorin-Kranich
``p_var_real`` for d = 1), compiled and timed next to streamrough.

The reference is not part of this repository: the caller passes a checkout of the public
repository khumarahn/p-var, and :func:`build_driver` writes a small driver of our own into a
temporary folder and compiles it with the system compiler against the checkout's header
(``-I DIR``) and, for d = 1, its ``p_var_real.cpp``. The driver reads a path from a binary
file (two little-endian int64, N and d, then N * d float64 row-major), makes one untimed call
(page faults of a fresh process), then calls the reference once per repeat for each p and
prints one line ``p value wall_seconds cpu_seconds`` per call (CPU time of the process, less
sensitive than wall time to other jobs on a loaded machine). Its values are
V_p = max over partitions of sum |x_{t_{i+1}} - x_{t_i}|^p (no p-th root), Euclidean norm.
"""

from __future__ import annotations

import os
import shutil
import subprocess

import numpy as np

_DRIVER = r"""
// Benchmark driver of streamrough: times the reference p-variation on a path read from a file.
#include <array>
#include <chrono>
#include <ctime>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <vector>
#if DIM == 1
#include "p_var_real.h"
#else
#include "p_var.h"
#endif

int main(int argc, char **argv) {
    if (argc < 4) {
        std::fprintf(stderr, "usage: %s PATH_FILE REPEATS P...\n", argv[0]);
        return 2;
    }
    std::ifstream in(argv[1], std::ios::binary);
    std::int64_t n = 0, d = 0;
    in.read(reinterpret_cast<char *>(&n), sizeof n);
    in.read(reinterpret_cast<char *>(&d), sizeof d);
    if (!in || d != DIM || n < 1) {
        std::fprintf(stderr, "bad path file %s (d = %lld, compiled for %d)\n", argv[1], (long long)d, DIM);
        return 2;
    }
    std::vector<double> flat(static_cast<size_t>(n * d));
    in.read(reinterpret_cast<char *>(flat.data()), static_cast<std::streamsize>(flat.size() * sizeof(double)));
    if (!in) {
        std::fprintf(stderr, "path file %s is truncated\n", argv[1]);
        return 2;
    }
#if DIM != 1
    std::vector<std::array<double, DIM>> path(static_cast<size_t>(n));
    for (size_t i = 0; i < path.size(); i++)
        for (size_t k = 0; k < DIM; k++) path[i][k] = flat[i * DIM + k];
#endif
    const int repeats = std::atoi(argv[2]);
    // one untimed call first, so that timed calls do not pay for the process's first page faults
#if DIM == 1
    volatile double warm = p_var_real::pvar(flat, std::atof(argv[3]));
#else
    volatile double warm = p_var_ns::p_var(path.cbegin(), path.cend(), std::atof(argv[3])).value;
#endif
    (void)warm;
    for (int a = 3; a < argc; a++) {
        const double p = std::atof(argv[a]);
        for (int r = 0; r < repeats; r++) {
            const std::clock_t c0 = std::clock();
            const auto t0 = std::chrono::steady_clock::now();
#if DIM == 1
            const double value = p_var_real::pvar(flat, p);
#else
            const double value = p_var_ns::p_var(path.cbegin(), path.cend(), p).value;
#endif
            const auto t1 = std::chrono::steady_clock::now();
            const std::clock_t c1 = std::clock();
            std::printf("%.17g %.17g %.9g %.9g\n", p, value, std::chrono::duration<double>(t1 - t0).count(),
                        double(c1 - c0) / CLOCKS_PER_SEC);
        }
    }
    return 0;
}
"""


def compiler_version(cxx: str = "c++") -> str:
    """First line of ``cxx --version``."""
    out = subprocess.run([cxx, "--version"], capture_output=True, text=True, check=True)
    return out.stdout.splitlines()[0]


def build_driver(ref_dir: str, dim: int, work_dir: str, *, march: str = "native", cxx: str = "c++") -> str:
    """Compile the driver for points in R^dim against the checkout `ref_dir`; return its path.

    d = 1 uses the checkout's 1-d method (``p_var_real.cpp``), any other d the generic
    ``p_var.h`` with its default Euclidean distance on ``std::array<double, dim>`` points.
    """
    needed = "p_var_real.cpp" if dim == 1 else "p_var.h"
    if not os.path.isfile(os.path.join(ref_dir, needed)):
        raise FileNotFoundError(f"--cpp-ref {ref_dir!r}: no {needed} there (expected a checkout of khumarahn/p-var)")
    if shutil.which(cxx) is None:
        raise FileNotFoundError(f"C++ compiler {cxx!r} not found on PATH")
    src = os.path.join(work_dir, f"driver_d{dim}.cpp")
    exe = os.path.join(work_dir, f"driver_d{dim}_{march}")
    with open(src, "w") as f:
        f.write(_DRIVER)
    cmd = [cxx, "-O3", f"-march={march}", "-std=c++17", f"-DDIM={dim}", "-I", ref_dir, src]
    if dim == 1:
        cmd.append(os.path.join(ref_dir, "p_var_real.cpp"))
    subprocess.run(cmd + ["-o", exe], check=True)
    return exe


def write_path(x: np.ndarray, filename: str) -> None:
    """Write a path in the driver's format (N and d as int64, then the float64 points)."""
    x = np.ascontiguousarray(x, dtype=np.float64)
    x2 = x.reshape(len(x), -1)
    with open(filename, "wb") as f:
        np.array(x2.shape, dtype="<i8").tofile(f)
        x2.astype("<f8", copy=False).tofile(f)


def run_driver(exe: str, path_file: str, ps, repeats: int = 1) -> dict:
    """Run the driver once: ``{p: (value, [wall seconds of each call], [cpu seconds of each call])}``."""
    out = subprocess.run(
        [exe, path_file, str(repeats), *[repr(float(p)) for p in ps]], capture_output=True, text=True, check=True
    )
    res: dict = {}
    for line in out.stdout.split("\n"):
        if line.strip():
            p, value, wall, cpu = (float(v) for v in line.split())
            entry = res.setdefault(p, (value, [], []))
            entry[1].append(wall)
            entry[2].append(cpu)
    return res
