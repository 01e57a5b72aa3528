"""Every tunable of the library in one place: route thresholds, chunk sizes, memory budgets.

Tunables change speed or memory, never values: every route and chunking gives the same
numbers. Kernels never read these names as globals (architecture.md): the eager modules
read them at call time and pass them to the kernels as arguments, so a test can change one
here (``monkeypatch.setattr(streamrough._config, NAME, value)``) without recompiling.
Constants that define an algorithm (block sizes of the branch and bound, rounding slack,
stack depths) stay in their kernel module as true, compile-time constants.

This module imports nothing heavy (no Numba): ``import streamrough`` stays cheap.
"""

from __future__ import annotations

import os

# ----------------------------------------------------------------------------- environment

#: Environment variable that turns the on-disk cache of compiled kernels off ("0", "false",
#: "no", "off"); it is on by default.
CACHE_ENV = "STREAMROUGH_NUMBA_CACHE"
#: Environment variable naming the cache directory (default ``$XDG_CACHE_HOME/streamrough``,
#: else ``~/.cache/streamrough``).
CACHE_DIR_ENV = "STREAMROUGH_CACHE_DIR"


def cache_dir() -> str | None:
    """Directory of streamrough's on-disk cache of compiled kernels, or None if it is off.

    On by default: each kernel is compiled once per machine and user, then loaded from
    ``<dir>/kernels/<versions and source hash>/`` by later processes (see
    ``streamrough._kernels._cache``: entries of another Python, Numba or streamrough are never
    served; concurrent processes are safe). ``STREAMROUGH_NUMBA_CACHE=0`` turns it off
    (kernels compile in memory, once per process); ``STREAMROUGH_CACHE_DIR`` moves it. Read
    when the kernels are first imported; Numba's own settings (``NUMBA_CACHE_DIR``) are neither
    read nor changed.
    """
    if os.environ.get(CACHE_ENV, "1").strip().lower() in {"0", "false", "no", "off"}:
        return None
    folder = os.environ.get(CACHE_DIR_ENV)
    if not folder:
        base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
        folder = os.path.join(base, "streamrough")
    return os.path.abspath(folder)


#: Subdirectories of the kernel cache not used for this many days (those of other Python,
#: Numba or streamrough versions, or of edited kernel sources) are removed by the next process
#: that opens the cache: nothing else ever removes them.
CACHE_MAX_AGE_DAYS = 30


# ----------------------------------------------------------------------------- p-variation

#: The exact chunked DP (math.md 2.4) of one p runs in chunks of 2^CHUNK_LOG points.
CHUNK_LOG = 10
#: Paths with fewer points run one p on one thread (measured: no gain from threads below).
CHUNKED_MIN_N = 1 << 15
#: Initial capacity (points) of a PVarStream's buffers; they double when full.
STREAM_MIN_CAPACITY = 64

# ----------------------------------------------------------------------------- Gram route

#: layer_gram / random_projection: about this many float64 entries (L x chunk) per partial GEMM.
GRAM_CHUNK_ENTRIES = 1 << 21
#: interval_norms_sq: consecutive starts s handled together, so that each row of the Gram
#: blocks is read from memory once per block rather than once per s (memory-bound otherwise).
GRAM_ROW_BLOCK = 8
#: interval_norms_sq: blocks are dealt out cyclically to this many tasks, so that the
#: triangular work (row s costs ~ (L - s)^2) is balanced across threads.
GRAM_TASKS = 16
#: One path with at least this many increments takes the dyadic-tree route of
#: streamrough._gram_tree (Chen's relation at dyadic midpoints, the cubic part in BLAS
#: products) instead of interval_norms_sq. Measured (2-core AMD EPYC, loaded, one thread,
#: medians of 7): recursion / tree = 0.43 at n = 4, 0.67 at 16, 1.14 at 32, 1.7 at 64,
#: 1.9 at 128, 4 at 512, 8-10 at 1024.
GRAM_TREE_MIN_N = 32
#: Tree route: nodes of half-width up to this run entirely in Numba loops (a node's numpy
#: calls cost tens of microseconds); larger nodes use BLAS products.
GRAM_TREE_SMALL_HALF = 64
#: Tree route: the BLAS products run in strips of this many starts (or ends); narrower strips
#: skip more of the zero triangles, wider ones run BLAS closer to its peak.
GRAM_TREE_STRIP = 256
#: Tree route, when the layers themselves are at hand (rough_pvar's Gram route): nodes of
#: half-width w >= this times the layer size D take their cubic part through the layers
#: (about 3 w^2 D multiply-adds instead of w^3).
GRAM_TREE_FEATURE_RATIO = 6

# ----------------------------------------------------------------------------- rough paths

#: Default memory budget of the direct route: its prefix level-2 array holds N * D^2 float64.
DEFAULT_MEMORY_BUDGET = 1 << 28  # 256 MiB
#: Measured cost per unit (Brownian weights, 2 cores): the direct route spends about
#: 700 x (the Gram recursion's unit) per N * D^2, the recursion one unit per N^3, so the direct
#: route wins while 700 N D^2 <= N^3 (D = 16: while N >~ 400; D = 64: while N >~ 1700). The
#: recursion is the Gram route of rough_distance and of RoughStream.
DIRECT_COST_RATIO = 700
#: The same for rough_pvar, whose Gram route is the dyadic tree (``streamrough._gram_tree``,
#: about 4.5e-11 N^3 s against 6e-7 N D^2 s for the direct route, measured at D = 16 to 256,
#: N = 64 to 2048, 3 p): the direct route wins while 13000 N D^2 <= N^3 (D = 16: N >~ 1800;
#: D = 5, N = 10^4: direct, 57 ms against seconds).
DIRECT_COST_RATIO_TREE = 13000
#: Below this N * D^2 both routes take milliseconds and the direct route (no Gram
#: cancellation, see streamrough.gram) is preferred.
DIRECT_ALWAYS_WORK = 1 << 16
#: streamrough.analyze reads a stored path into memory up to this many bytes (in its stored
#: dtype); a larger one runs out of core, by the Gram route of streamrough.chunked.
OUT_OF_CORE_BYTES = 1 << 28  # 256 MiB

# ----------------------------------------------------------------------------- signatures

#: Below this many scalar multiply-adds a batched signature call stays on one thread (a
#: parallel launch costs several microseconds).
SIG_PARALLEL_WORK = 200_000
#: A single path is split into chunks computed in parallel (then multiplied in order) above
#: this many scalar multiply-adds.
SIG_CHUNKED_WORK = 1_600_000

# ----------------------------------------------------------------------------- weight stores

#: A block of new layers at least this large is hashed (CRC-32C) by a thread, without the
#: GIL, while the calling thread writes its chunks (``streamrough.store``); smaller blocks are
#: hashed in the calling thread (the hand-off costs more than it hides).
HASH_THREAD_MIN_BYTES = 1 << 20

#: The direct route of ``rough_pvar`` / ``rough_distance`` computes level 1 in a second thread
#: while level 2 runs, on paths of at least this many points: below, starting the thread
#: (~0.4 ms measured) costs more than level 1 itself.
LEVEL_OVERLAP_MIN_POINTS = 1024
#: On such paths the thread that runs level 2 builds this share of its block summaries itself
#: (the first indices, enough to start its DP steps) and the second thread builds the rest
#: before level 1: the summaries cost about a tenth of the level-2 time (d = 5, N = 10^4), and
#: the DP steps of the first quarter take more than twice as long as the other summaries.
LEVEL2_OWN_SUMMARIES = 0.25
