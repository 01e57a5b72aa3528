"""Truncated tensor algebra and signature kernels (math.md section 3), generated per (d, n, kind).

Layout (iisignature / pysiglib / signatory): a truncated tensor of depth ``n`` over ``R^d``
is a flat vector of ``d + d^2 + ... + d^n`` numbers, levels 1..n concatenated, word
``(i_1 ... i_k)`` of level ``k`` at offset ``i_1 d^(k-1) + ... + i_k`` inside its level, and
no scalar term: the implicit scalar is 1, so the identity element is all zeros.

Kinds
-----
``"geometric"``: one step multiplies by ``exp(a)`` (the signature of a straight segment),
with the fused multiply-exponentiate Horner scheme, top level down, in place:
``S_k += ((...((a/k + S_1) (x) a/(k-1) + S_2) (x) a/(k-2) ...) + S_{k-1}) (x) a``.

``"iterated"``: one step multiplies by ``1 + a`` (iterated sums):
``S_k += S_{k-1} (x) a`` for ``k = n..2``, then ``S_1 += a``.

Specialisation
--------------
The kernels of one ``(d, n, kind)`` are generated as Python source with the dimension, depth
and level offsets written in as literals, so Numba compiles loops of known trip count:

- small signatures (``sig_length <= UNROLL_FULL``): the step is straight-line code on scalar
  locals; along a path the whole signature stays in registers (no memory traffic, no
  aliasing checks);
- medium ones (levels ``1..n-1`` within ``UNROLL_MAX`` numbers): those levels stay in
  registers, and each step stores the vector ``u`` with ``level_n += u (x) a``; every
  ``GROUP`` steps the top level (the bulk of the work) takes the sum of their ``GROUP``
  outer products in one vectorised pass;
- larger ones: loops over a *reversed-word* working copy (word ``(i_1 ... i_k)`` at
  ``i_k d^(k-1) + ... + i_1``), in which every outer product ``v (x) a`` of the Horner scheme
  is ``d`` contiguous axpys that vectorise, with the same ``GROUP``-step top-level update;
  the result is permuted back to the standard layout at the end of a path.

Batches of signatures up to ``LANE_MAX`` numbers also get ``lanes_into``: ``LANES`` paths
side by side, path ``l`` in lane ``l`` of every entry of the state, so that the straight-line
step becomes SIMD instructions over the lanes (no shuffles or remainders for any ``d``);
one long path runs as ``LANES`` consecutive pieces side by side, followed by the ordered
Chen product of their signatures (``whole_path_into``).

The grouped top-level update sums the products of a group before adding them, so results
differ from strictly sequential evaluation by rounding only (~1e-16 relative).

Generated modules are memoised per process. With ``STREAMROUGH_NUMBA_CACHE=1`` the source is
written to a file under the cache directory (``STREAMROUGH_CACHE_DIR``, default
``~/.cache/streamrough``), named by a hash of its text, and imported from there, so Numba's
on-disk cache reuses the compiled code across processes. Everything also runs as plain
Python under ``NUMBA_DISABLE_JIT=1``.
"""

from __future__ import annotations

import functools
import hashlib
import importlib.util
import linecache
import os
import re
import sys

from ._jit import CACHE

KINDS = ("geometric", "iterated")

#: signatures up to this length get fully unrolled straight-line step code
UNROLL_FULL = 64
#: up to this many entries, levels 1..n-1 are straight-line code and level n a vectorised loop
UNROLL_MAX = 160
#: steps whose outer products update the top level together (loop kernels)
GROUP = 8
#: paths of a batch computed side by side, one per SIMD lane (signatures up to LANE_MAX)
LANES = 16
LANE_MAX = 160
#: steps whose points the lanes kernel transposes at a time
LANE_STEPS = 32
#: one path is split into LANES pieces computed side by side if each has this many steps
LANE_MIN_STEPS = 32


def level_offsets(d: int, n: int) -> tuple:
    """``offs[k]`` = start of level ``k`` (``offs[1] = 0``), ``offs[n + 1]`` = total length."""
    offs = [0, 0]
    size = 1
    for _ in range(n):
        size *= d
        offs.append(offs[-1] + size)
    return tuple(offs)


@functools.lru_cache(maxsize=None)
def kernels(d: int, n: int, kind: str):
    """The generated kernel module of one ``(d, n, kind)`` (a module object, memoised)."""
    if kind not in KINDS:
        raise ValueError(kind)
    source = generate_source(d, n, kind)
    name = f"streamrough._kernels._sig_{kind}_d{d}_n{n}"
    digest = hashlib.sha256(source.encode()).hexdigest()[:16]
    if CACHE:
        root = os.environ.get("STREAMROUGH_CACHE_DIR") or os.path.join(os.path.expanduser("~"), ".cache", "streamrough")
        folder = os.path.join(root, "generated")
        os.makedirs(folder, exist_ok=True)
        path = os.path.join(folder, f"sig_{kind}_d{d}_n{n}_{digest}.py")
        if not os.path.exists(path):
            tmp = f"{path}.{os.getpid()}.tmp"
            with open(tmp, "w") as fh:
                fh.write(source)
            os.replace(tmp, path)  # atomic: concurrent processes never see a partial file
        spec = importlib.util.spec_from_file_location(name, path)
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        spec.loader.exec_module(module)
        return module
    filename = f"<streamrough generated {kind} d={d} n={n} {digest}>"
    linecache.cache[filename] = (len(source), None, source.splitlines(True), filename)
    module = type(sys)(name)
    module.__file__ = filename
    sys.modules[name] = module
    exec(compile(source, filename, "exec"), module.__dict__)
    return module


# ------------------------------------------------------------------------------ generation


def generate_source(d: int, n: int, kind: str) -> str:
    """Python source of every kernel for one ``(d, n, kind)``."""
    offs = level_offsets(d, n)
    length = offs[n + 1]
    consts = {
        "__D__": str(d),
        "__N__": str(n),
        "__OFFS__": repr(offs),
        "__LENGTH__": str(length),
        "__NBUF__": str(max(d ** (n - 1), 1)),
        "__KIND__": repr(kind),
        "__GROUP__": str(GROUP),
        "__LANES__": str(LANES),
        "__LANE_STEPS__": str(LANE_STEPS),
        "__LANE_MIN_STEPS__": str(LANE_MIN_STEPS),
    }
    parts = [_HEADER]
    if length <= UNROLL_FULL:
        parts.append(_unrolled_source(d, n, kind))
    elif offs[n] <= UNROLL_MAX:
        parts.append(_hybrid_source(d, n, kind))
    else:
        parts.append(_loop_source(d, n, kind))
    parts.append(_ALGEBRA)
    drivers = list(_DRIVERS)
    if length <= LANE_MAX:
        parts.append(_lanes_source(d, n, kind))
        drivers[0] = ("batch_sig", _BATCH_SIG_LANES)
    else:
        parts.append(_WHOLE_PATH)
    for name, body in drivers:
        parts.append(body.replace("__NAME__", name).replace("__JIT__", "jit").replace("__PAR__", "False"))
        par = body.replace("__NAME__", name + "_par").replace("__PAR__", "True")
        parts.append(par.replace("__JIT__", "parallel_jit(fastmath={'contract'})"))
    parts.append(_STREAM)
    source = "\n".join(parts)
    # fused multiply-add (rounding at least as good; no reassociation, NaN/inf semantics kept)
    source = source.replace("@jit\n", "@jit(fastmath={'contract'})\n")
    for key, value in consts.items():
        source = source.replace(key, value)
    return source


_HEADER = '''"""Generated by streamrough._kernels.signature: kernels for one (d, n, kind). Do not edit."""
import math

import numpy as np
from numba import get_num_threads, prange

from streamrough._kernels._jit import jit, parallel_jit

D = __D__
N = __N__
OFFS = __OFFS__
LENGTH = __LENGTH__
NBUF = __NBUF__
KIND = __KIND__
GROUP = __GROUP__
LANES = __LANES__
LANE_STEPS = __LANE_STEPS__
LANE_MIN_STEPS = __LANE_MIN_STEPS__


@jit
def _rev(w, k):
    """Index of word w of level k with its letters in reverse order."""
    r = 0
    for _ in range(k):
        r = r * D + w % D
        w //= D
    return r
'''


def _rev_digits(w: int, k: int, d: int) -> int:
    """Index of word w of length k (base-d digits) with its letters in reverse order."""
    r = 0
    for _ in range(k):
        r, w = r * d + w % d, w // d
    return r


def _step_lines(d: int, n: int, kind: str, top_sink=None) -> list:
    """Straight-line statements of one step on scalars ``s<j>`` (standard layout) and ``a<i>``.

    With ``top_sink(w, v)`` (a function returning a statement), level n is not updated:
    instead the vector v (level n of the step is s_n + v (x) a) is handed to the sink."""
    offs = level_offsets(d, n)
    lines = []
    tmp = iter(range(10**9))

    def fresh():
        return f"h{next(tmp)}"

    if kind == "geometric":
        # the scaled increments a / j do not depend on the state: computing them first keeps
        # the Horner chains short, b <- (b + s_m) (x) (a / (k - m)), one add and one multiply
        # per stage on the critical path
        scaled = {1: [f"a{i}" for i in range(d)]}
        for j in range(2, n + 1):
            scaled[j] = []
            for i in range(d):
                name = fresh()
                lines.append(f"{name} = a{i} * {1.0 / j!r}")
                scaled[j].append(name)
    for k in range(n, 1, -1):
        vec = []
        if kind == "geometric":
            b = scaled[k]  # level-1 chain start a / k
            for m in range(1, k - 1):
                nb = []
                for w in range(d**m):
                    name = fresh()
                    lines.append(f"{name} = {b[w]} + s{offs[m] + w}")
                    for i in range(d):
                        prod = fresh()
                        lines.append(f"{prod} = {name} * {scaled[k - m][i]}")
                        nb.append(prod)
                b = nb
            for w in range(d ** (k - 1)):
                name = fresh()
                lines.append(f"{name} = {b[w]} + s{offs[k - 1] + w}")
                vec.append(name)
        else:
            vec = [f"s{offs[k - 1] + w}" for w in range(d ** (k - 1))]
        for w, v in enumerate(vec):
            if k == n and top_sink is not None:
                lines.append(top_sink(w, v))
            else:
                for i in range(d):
                    lines.append(f"s{offs[k] + w * d + i} += {v} * a{i}")
    for i in range(d):
        lines.append(f"s{i} += a{i}")
    return lines


def _hybrid_source(d: int, n: int, kind: str) -> str:
    """Levels 1..n-1 in registers (straight-line code) and the top level n, the bulk of the
    work, in a reversed-word array updated by vectorised loops once per GROUP steps with the
    sum of their GROUP outer products."""
    offs = level_offsets(d, n)
    low = offs[n]  # number of entries of levels 1..n-1
    size = d ** (n - 1)
    load = [f"s{j} = s[{j}]" for j in range(low)]
    store = [f"s[{j}] = s{j}" for j in range(low)]
    group_step = _step_lines(d, n, kind, lambda w, v: f"u[uo + {_rev_digits(w, n - 1, d)}] = {v}")
    one_step = _step_lines(d, n, kind, lambda w, v: f"u[{w}] = {v}")

    def block(lines, indent):
        return "\n".join(" " * indent + line for line in lines)

    terms = " + ".join(f"c{g} * u[{g * size} + w]" for g in range(GROUP))
    return f'''
UNROLLED_STEP = False


@jit
def step(s, a, buf):
    """s <- s (x) step(a), in place; buf: scratch of SCRATCH numbers."""
    u = buf
{block(load, 4)}
{block([f"a{i} = a[{i}]" for i in range(d)], 4)}
{block(one_step, 4)}
{block(store, 4)}
    for w in range({size}):
        v = u[w]
        for i in range({d}):
            s[{offs[n]} + w * {d} + i] += v * a[i]


@jit
def path_into(x, t0, t1, s, buf):
    """s <- s (x) S(x[t0 .. t1]) for one path x (N, d); buf: scratch of SCRATCH numbers.

    Levels 1..N-1 stay in registers; for each step the vector u_g with
    level N += u_g (x) a_g is stored, and every GROUP steps level N (a reversed-word copy)
    takes the sum of the GROUP outer products in one vectorised pass."""
    u = buf[: GROUP * NBUF]
    ag = buf[GROUP * NBUF : GROUP * NBUF + GROUP * D]
    r = buf[GROUP * NBUF + GROUP * D : GROUP * NBUF + GROUP * D + {d * size}]
    for w in range(GROUP * NBUF):
        u[w] = 0.0
    for w in range({d * size}):
        r[_rev(w, N)] = s[{offs[n]} + w]
{block(load, 4)}
    t = t0
    while t < t1:
        ng = min(GROUP, t1 - t)
        for g in range(ng):
{block([f"a{i} = x[t + g + 1, {i}] - x[t + g, {i}]" for i in range(d)], 12)}
{block([f"ag[g * {d} + {i}] = a{i}" for i in range(d)], 12)}
            uo = g * {size}
{block(group_step, 12)}
        for g in range(ng * {d}, GROUP * {d}):
            ag[g] = 0.0
        for i in range({d}):
{block([f"c{g} = ag[{g * d} + i]" for g in range(GROUP)], 12)}
            base = i * {size}
            for w in range({size}):
                r[base + w] += {terms}
        t += ng
{block(store, 4)}
    for w in range({d * size}):
        s[{offs[n]} + w] = r[_rev(w, N)]


@jit
def prefixes(x, stride, out, buf):
    """out[j] = S(x[0 .. (j + 1) stride]) for one path x (N, d); out (M, LENGTH).

    Levels 1..N-1 in registers as in path_into; the top level is built in the standard
    layout right in the output, row j = row j - 1 + the outer products of its steps."""
    u = buf[:NBUF]
    if out.shape[0] > 0:
        for w in range({offs[n]}, LENGTH):
            out[0, w] = 0.0
{block([f"s{j} = 0.0" for j in range(low)], 4)}
    for j in range(out.shape[0]):
        jp = max(j - 1, 0)  # the row the first step adds to (row 0 starts from zeros)
        for t in range(j * stride, (j + 1) * stride):
{block([f"a{i} = x[t + 1, {i}] - x[t, {i}]" for i in range(d)], 12)}
{block(one_step, 12)}
            for w in range({size}):
                v = u[w]
                base = {offs[n]} + w * {d}
{block([f"p{i} = out[jp, base + {i}]" for i in range(d)], 16)}
{block([f"out[j, base + {i}] = p{i} + v * a{i}" for i in range(d)], 16)}
            jp = j
{block([f"out[j, {j}] = s{j}" for j in range(low)], 8)}
'''


def _unrolled_source(d: int, n: int, kind: str) -> str:
    length = level_offsets(d, n)[n + 1]
    step = _step_lines(d, n, kind)
    load = [f"s{j} = s[{j}]" for j in range(length)]
    store = [f"s[{j}] = s{j}" for j in range(length)]

    def block(lines, indent):
        return "\n".join(" " * indent + line for line in lines)

    src = f'''
UNROLLED_STEP = True


@jit
def step(s, a, buf):
    """s <- s (x) step(a), in place (straight-line code; buf unused)."""
{block(load, 4)}
{block([f"a{i} = a[{i}]" for i in range(d)], 4)}
{block(step, 4)}
{block(store, 4)}


@jit
def path_into(x, t0, t1, s, buf):
    """s <- s (x) S(x[t0 .. t1]) for one path x (N, d); the signature stays in registers."""
{block(load, 4)}
    for t in range(t0, t1):
{block([f"a{i} = x[t + 1, {i}] - x[t, {i}]" for i in range(d)], 8)}
{block(step, 8)}
{block(store, 4)}


@jit
def prefixes(x, stride, out, buf):
    """out[j] = S(x[0 .. (j + 1) stride]) for one path x (N, d); out (M, LENGTH)."""
    s = np.zeros(LENGTH, dtype=out.dtype)
    for j in range(out.shape[0]):
        path_into(x, j * stride, (j + 1) * stride, s, buf)
        for w in range(LENGTH):
            out[j, w] = s[w]
'''
    return src


def _lanes_source(d: int, n: int, kind: str) -> str:
    """``lanes_into``: LANES paths of a batch at once, path ``l`` in lane ``l`` of every
    number of the state (entry ``j`` of the signature of path ``l`` at ``st[j * LANES + l]``).

    One step of all lanes is the straight-line step of ``_step_lines`` inside a loop over the
    lanes, whose every statement becomes one SIMD instruction: no shuffles, no remainder, the
    same code for any ``d``, so small signatures and the outer product of a depth-2 top level
    vectorise fully."""
    offs = level_offsets(d, n)
    length = offs[n + 1]
    lane = re.compile(r"\bs(\d+)\b")
    size = d ** (n - 1)
    lines = _step_lines(d, n, kind, lambda w, v: f"vv[{w * LANES} + l] = {v}")
    step = [lane.sub(lambda m: f"st[{int(m.group(1)) * LANES} + l]", line) for line in lines]
    # the top level (d^(n-1) rows of d) in a loop of its own: one lane loop with the whole
    # step does not get vectorised once it has too many memory operations
    top = []
    if n > 1:
        top = [
            f"for w in range({size}):",
            f"    o2 = {offs[n] * LANES} + w * {d * LANES}",
            "    for l in range(lanes):",
            f"        v = vv[w * {LANES} + l]",
            *[f"        st[o2 + {i * LANES} + l] += v * inc[{i * LANES} + l]" for i in range(d)],
        ]

    def block(lines, indent):
        return "\n".join(" " * indent + line for line in lines)

    return f'''

@jit
def lanes_into(x, out, o0, st, pt, inc, vv):
    """out[o0 + l] <- out[o0 + l] (x) S(x[l]) for the paths l < LANES of x (LANES, N, d),
    side by side; scratch st: LENGTH * LANES numbers, pt: (LANE_STEPS + 1) * D * LANES,
    inc: D * LANES, vv: NBUF * LANES.

    The points of LANE_STEPS steps are first transposed into pt (point, letter, lane), so
    that the lane loop reads them contiguously. With a run-time trip count (lanes == LANES,
    from the size of st) and arrays indexed from 0 the lane loop is vectorised (a literal or
    bounded count gets it unrolled, an offset index needs wraparound checks)."""
    lanes = st.shape[0] // {length}
    for j in range({length}):
        for l in range(lanes):
            st[j * {LANES} + l] = out[o0 + l, j]
    for t0 in range(0, x.shape[1] - 1, {LANE_STEPS}):
        m = min({LANE_STEPS}, x.shape[1] - 1 - t0)
        for l in range(lanes):
            for g in range(m + 1):
                for i in range({d}):
                    pt[(g * {d} + i) * {LANES} + l] = x[l, t0 + g, i]
        for g in range(m):
            o = g * {d * LANES}
            for l in range(lanes):
{block([f"a{i} = pt[o + {(d + i) * LANES} + l] - pt[o + {i * LANES} + l]" for i in range(d)], 16)}
{block([f"inc[{i * LANES} + l] = a{i}" for i in range(d)], 16)}
{block(step, 16)}
{block(top, 12)}
    for j in range({length}):
        for l in range(lanes):
            out[o0 + l, j] = st[j * {LANES} + l]


@jit
def whole_path_into(x, out, buf):
    """out <- out (x) S(x) for one path x (N, d): a long path as LANES consecutive pieces side
    by side, then the ordered Chen product of their signatures and of the leftover steps."""
    steps = (x.shape[0] - 1) // LANES
    if steps < LANE_MIN_STEPS:
        path_into(x, 0, x.shape[0] - 1, out, buf)
        return
    parts = np.zeros((LANES, LENGTH), dtype=out.dtype)
    pieces = np.lib.stride_tricks.as_strided(
        x, shape=(LANES, steps + 1, D), strides=(steps * x.strides[0], x.strides[0], x.strides[1])
    )  # piece l: points l steps .. (l + 1) steps, a view
    lanes_into(
        pieces, parts, 0,
        np.empty(LENGTH * LANES, dtype=out.dtype),
        np.empty((LANE_STEPS + 1) * D * LANES, dtype=out.dtype),
        np.empty(D * LANES, dtype=out.dtype),
        np.empty(NBUF * LANES, dtype=out.dtype),
    )
    for l in range(LANES):
        mul_into(out, parts[l])
    path_into(x, LANES * steps, x.shape[0] - 1, out, buf)
'''


def _level_loops(d: int, n: int, kind: str, k: int, ao: str, out: str | None) -> list:
    """Loops of level k of one step in the reversed-word layout (state r, increment a[ao + i]).

    With ``out=None`` they add the outer product v (x) a to level k of r; otherwise they store
    v (the vector multiplied by a) at ``out`` (an expression for the start of a row of u)."""
    offs = level_offsets(d, n)
    lines = []
    size = d ** (k - 1)
    if kind == "geometric":
        # Horner chain: b1 <- a / k, then b1 <- ((b1 + r_m) / (k - m)) (x) a for m = 1..k-2
        lines += [f"for i in range({d}):", f"    b1[i] = a[{ao} + i] * {1.0 / k!r}"]
        for m in range(1, k - 1):
            sz = d**m
            lines += [
                f"for w in range({sz}):",
                f"    b2[w] = (b1[w] + r[{offs[m]} + w]) * {1.0 / (k - m)!r}",
                f"for i in range({d}):",
                f"    ai = a[{ao} + i]",
                f"    for w in range({sz}):",
                f"        b1[i * {sz} + w] = b2[w] * ai",
            ]
        vec = f"b1[w] + r[{offs[k - 1]} + w]"
    else:
        vec = f"r[{offs[k - 1]} + w]"
    if out is not None:
        lines += [f"for w in range({size}):", f"    u[{out} + w] = {vec}"]
    else:
        lines += [
            f"for w in range({size}):",
            f"    b2[w] = {vec}",
            f"for i in range({d}):",
            f"    ai = a[{ao} + i]",
            f"    for w in range({size}):",
            f"        r[{offs[k]} + i * {size} + w] += b2[w] * ai",
        ]
    return lines


def _loop_source(d: int, n: int, kind: str) -> str:
    """Kernels of a larger signature: loops of literal trip counts, one block per level, on a
    reversed-word working copy (word (i_1 ... i_k) at i_k d^(k-1) + ... + i_1), where every
    outer product v (x) a is d contiguous axpys that vectorise."""
    offs = level_offsets(d, n)
    size = d ** (n - 1)

    def indent(lines, k):
        return "\n".join(" " * k + line for line in lines)

    # top_vec: the vector v_g of step g with level n of r (x) step(a_g) = r_n + v_g (x) a_g
    lower = []  # levels n-1 .. 1 of one step
    for k in range(n - 1, 1, -1):
        lower += _level_loops(d, n, kind, k, "ao", None)
    lower += [f"for i in range({d}):", "    r[i] += a[ao + i]"]
    if n == 1:
        group = [f"for i in range({d}):", f"    r[i] += x[t + {GROUP}, i] - x[t, i]"]
        top, top_vec = [], []
    else:
        top = _level_loops(d, n, kind, n, "ao", None)
        top_vec = _level_loops(d, n, kind, n, "ao", "uo")
        group = [
            f"for g in range({GROUP}):",
            f"    ao = g * {d}",
            f"    for i in range({d}):",
            "        a[ao + i] = x[t + g + 1, i] - x[t + g, i]",
            f"    uo = g * {size}",
            *["    " + line for line in top_vec + lower],
            f"for i in range({d}):",
            *[f"    c{g} = a[{g * d} + i]" for g in range(GROUP)],
            f"    base = {offs[n]} + i * {size}",
            f"    for w in range({size}):",
            "        r[base + w] += " + " + ".join(f"c{g} * u[{g * size} + w]" for g in range(GROUP)),
        ]
    return f"""
UNROLLED_STEP = False


@jit
def to_reversed(s, r):
    for k in range(1, N + 1):
        o = OFFS[k]
        for w in range(OFFS[k + 1] - o):
            r[o + _rev(w, k)] = s[o + w]


@jit
def from_reversed(r, s):
    for k in range(1, N + 1):
        o = OFFS[k]
        for w in range(OFFS[k + 1] - o):
            s[o + w] = r[o + _rev(w, k)]


@jit
def rlower(r, a, ao, b1, b2):
    \"\"\"Levels N-1..1 of r <- r (x) step(a[ao:ao + D]), reversed-word layout, in place.\"\"\"
{indent(lower, 4)}


@jit
def rstep(r, a, ao, b1, b2):
    \"\"\"r <- r (x) step(a[ao:ao + D]) in the reversed-word layout, top level down, in place.\"\"\"
{indent(top, 4)}
    rlower(r, a, ao, b1, b2)


@jit
def step(s, a, buf):
    \"\"\"s <- s (x) step(a), in place, in the standard layout (one step: no layout change).

    Top level down; level k gets v (x) a with v = the Horner chain (geometric) or s_(k-1)
    (iterated), the chain built in place in buf, high words first.\"\"\"
    for k in range(N, 1, -1):
        if KIND == "geometric":
            c = 1.0 / k
            for i in range(D):
                buf[i] = a[i] * c
            size = D
            for m in range(1, k - 1):
                c = 1.0 / (k - m)
                om = OFFS[m]
                for w in range(size - 1, -1, -1):
                    v = (buf[w] + s[om + w]) * c
                    for i in range(D):
                        buf[w * D + i] = v * a[i]
                size *= D
            for w in range(size):
                buf[w] += s[OFFS[k - 1] + w]
        else:
            size = OFFS[k] - OFFS[k - 1]
            for w in range(size):
                buf[w] = s[OFFS[k - 1] + w]
        ok = OFFS[k]
        for w in range(size):
            v = buf[w]
            for i in range(D):
                s[ok + w * D + i] += v * a[i]
    for i in range(D):
        s[i] += a[i]


@jit
def path_into(x, t0, t1, s, buf):
    \"\"\"s <- s (x) S(x[t0 .. t1]) for one path x (N, d); buf: scratch of SCRATCH numbers.

    Steps go in groups of GROUP: the lower levels are stepped one by one, keeping the vectors
    u_g whose outer products with the increments a_g update the top level; the top level then
    takes all GROUP in one pass (1 / GROUP of the memory traffic on the largest level).\"\"\"
    b1 = buf[:NBUF]
    b2 = buf[NBUF : 2 * NBUF]
    r = buf[2 * NBUF : 2 * NBUF + LENGTH]
    a = buf[2 * NBUF + LENGTH : 2 * NBUF + LENGTH + GROUP * D]
    u = buf[2 * NBUF + LENGTH + GROUP * D :]
    to_reversed(s, r)
    t = t0
    while t + GROUP <= t1:
{indent(group, 8)}
        t += GROUP
    while t < t1:
        for i in range(D):
            a[i] = x[t + 1, i] - x[t, i]
        rstep(r, a, 0, b1, b2)
        t += 1
    from_reversed(r, s)


@jit
def prefixes(x, stride, out, buf):
    \"\"\"out[j] = S(x[0 .. (j + 1) stride]) for one path x (N, d); out (M, LENGTH).

    Levels 1..N-1 are stepped in the reversed-word copy r and permuted into each row; the
    top level, the bulk of each row, is built in the standard layout right in the output,
    row j = row j - 1 + the outer products of its steps (no permutation of the top level).\"\"\"
    b1 = buf[:NBUF]
    b2 = buf[NBUF : 2 * NBUF]
    r = buf[2 * NBUF : 2 * NBUF + LENGTH]
    a = buf[2 * NBUF + LENGTH : 2 * NBUF + LENGTH + D]
    u = buf[2 * NBUF + LENGTH + GROUP * D : 2 * NBUF + LENGTH + GROUP * D + NBUF]
    top = OFFS[N]
    perm = np.empty(LENGTH, dtype=np.int64)  # standard index -> reversed index
    for k in range(1, N + 1):
        o = OFFS[k]
        for w in range(OFFS[k + 1] - o):
            perm[o + w] = o + _rev(w, k)
    for w in range(LENGTH):
        r[w] = 0.0
    if out.shape[0] > 0:
        for w in range(top, LENGTH):
            out[0, w] = 0.0
    for j in range(out.shape[0]):
        jp = max(j - 1, 0)  # the row the first step adds to (row 0 starts from zeros)
        for t in range(j * stride, (j + 1) * stride):
            for i in range(D):
                a[i] = x[t + 1, i] - x[t, i]
            uo = 0
            ao = 0
{indent(top_vec, 12)}
            for w in range({size}):
                v = u[perm[OFFS[N - 1] + w] - OFFS[N - 1]]
                base = top + w * D
                for i in range({d}):
                    out[j, base + i] = out[jp, base + i] + v * a[i]
            jp = j
            rlower(r, a, 0, b1, b2)
        for w in range(top):
            out[j, w] = r[perm[w]]
"""


_ALGEBRA = '''
SCRATCH = (2 + GROUP) * NBUF + LENGTH + GROUP * D


@jit
def mul_into(p, q):
    """p <- p (x) q, in place (top level down; no scalar terms stored)."""
    for k in range(N, 0, -1):
        ok = OFFS[k]
        for w in range(OFFS[k + 1] - ok):
            p[ok + w] += q[ok + w]
        for j in range(1, k):
            oj = OFFS[j]
            om = OFFS[k - j]
            szm = OFFS[k - j + 1] - om
            for u in range(OFFS[j + 1] - oj):
                pu = p[oj + u]
                base = ok + u * szm
                for v in range(szm):
                    p[base + v] += pu * q[om + v]


@jit
def inverse_into(s, out):
    """out <- s^(-1) in the truncated algebra: out_k = -s_k - sum_j s_j (x) out_(k-j)."""
    for k in range(1, N + 1):
        ok = OFFS[k]
        for w in range(OFFS[k + 1] - ok):
            out[ok + w] = -s[ok + w]
        for j in range(1, k):
            oj = OFFS[j]
            om = OFFS[k - j]
            szm = OFFS[k - j + 1] - om
            for u in range(OFFS[j + 1] - oj):
                su = s[oj + u]
                base = ok + u * szm
                for v in range(szm):
                    out[base + v] -= su * out[om + v]
'''

# one path, in the modules without a lanes kernel
_WHOLE_PATH = '''

@jit
def whole_path_into(x, out, buf):
    """out <- out (x) S(x) for one path x (N, d)."""
    path_into(x, 0, x.shape[0] - 1, out, buf)
'''

# batch_sig of the modules with a lanes kernel: blocks of LANES paths, the rest one by one
_BATCH_SIG_LANES = '''
@__JIT__
def __NAME__(x, out):
    """out[b] <- out[b] (x) S(x[b]) for x (B, N, d): blocks of LANES paths side by side, the
    rest one by one; in parallel with fewer blocks than threads, paths long enough to be split
    into LANES pieces go one by one (whole_path_into), so that all threads get work."""
    blocks = x.shape[0] // LANES
    if __PAR__ and blocks < get_num_threads() and x.shape[1] - 1 >= LANES * LANE_MIN_STEPS:
        blocks = 0
    for c in prange(blocks):
        st = np.empty(LENGTH * LANES, dtype=out.dtype)
        pt = np.empty((LANE_STEPS + 1) * D * LANES, dtype=out.dtype)
        inc = np.empty(D * LANES, dtype=out.dtype)
        vv = np.empty(NBUF * LANES, dtype=out.dtype)
        lanes_into(x[c * LANES : (c + 1) * LANES], out, c * LANES, st, pt, inc, vv)
    for b in prange(blocks * LANES, x.shape[0]):
        buf = np.empty(SCRATCH, dtype=out.dtype)
        whole_path_into(x[b], out[b], buf)
'''

# batched drivers: each is generated twice, serial (jit) and parallel (parallel_jit, "_par")
_DRIVERS = [
    (
        "batch_sig",
        '''
@__JIT__
def __NAME__(x, out):
    """out[b] <- out[b] (x) S(x[b]) for x (B, N, d)."""
    for b in prange(x.shape[0]):
        buf = np.empty(SCRATCH, dtype=out.dtype)
        path_into(x[b], 0, x.shape[1] - 1, out[b], buf)
''',
    ),
    (
        "batch_stream",
        '''
@__JIT__
def __NAME__(x, stride, out):
    """out[b, j] = S(x[b, 0 .. (j + 1) stride]); out (B, M, LENGTH)."""
    for b in prange(x.shape[0]):
        buf = np.empty(SCRATCH, dtype=out.dtype)
        prefixes(x[b], stride, out[b], buf)
''',
    ),
    (
        "chunk_sigs",
        '''
@__JIT__
def __NAME__(x, bounds, out):
    """out[c] = S(x[bounds[c] .. bounds[c + 1]]) for one path x (N, d); out zeroed."""
    for c in prange(bounds.shape[0] - 1):
        buf = np.empty(SCRATCH, dtype=out.dtype)
        path_into(x, bounds[c], bounds[c + 1], out[c], buf)
''',
    ),
    (
        "batch_mul",
        '''
@__JIT__
def __NAME__(p, q, out):
    """out[b] = p[b] (x) q[b]."""
    for b in prange(p.shape[0]):
        for w in range(LENGTH):
            out[b, w] = p[b, w]
        mul_into(out[b], q[b])
''',
    ),
    (
        "batch_mul_many",
        '''
@__JIT__
def __NAME__(s, out):
    """out[b] <- out[b] (x) s[b, 0] (x) s[b, 1] (x) ... (ordered)."""
    for b in prange(s.shape[0]):
        for j in range(s.shape[1]):
            mul_into(out[b], s[b, j])
''',
    ),
    (
        "batch_inverse",
        '''
@__JIT__
def __NAME__(s, out):
    for b in prange(s.shape[0]):
        inverse_into(s[b], out[b])
''',
    ),
    (
        "batch_join",
        '''
@__JIT__
def __NAME__(s, a, out):
    """out[b] = s[b] (x) step(a[b])."""
    for b in prange(s.shape[0]):
        buf = np.empty(SCRATCH, dtype=out.dtype)
        for w in range(LENGTH):
            out[b, w] = s[b, w]
        step(out[b], a[b], buf)
''',
    ),
]

_STREAM = '''

@jit(fastmath={'contract'})
def one_sig(x, out):
    """out <- S(x) for one C-contiguous path x (N >= 2, d), out zeroed; the small-call fast
    path. Returns 1 if level 1 (the total increment) is not finite (NaN or inf in x, or
    overflow), else 0."""
    buf = np.empty(SCRATCH, dtype=out.dtype)
    whole_path_into(x, out, buf)
    for i in range(D):
        if not math.isfinite(out[i]):
            return 1
    return 0


@jit
def push(pts, count, s, a, buf, point):
    """Append `point` as row count[0] of pts; if count[1], update the running signature s.

    Returns 0 (done), or, changing nothing: 1 if the point is not finite, 2 if pts is
    full, 3 if the point does not have D coordinates."""
    if point.shape[0] != D:
        return 3
    for i in range(D):
        if not math.isfinite(point[i]):
            return 1
    j = count[0]
    if j == pts.shape[0]:
        return 2
    for i in range(D):
        pts[j, i] = point[i]
    if j > 0 and count[1] != 0:
        for i in range(D):
            a[i] = pts[j, i] - pts[j - 1, i]
        step(s, a, buf)
    count[0] = j + 1
    return 0


@jit
def extend(pts, count, s, buf, points):
    """Append the rows of `points` (all checked finite first); returns 0 or 1 (NaN/inf)."""
    for r in range(points.shape[0]):
        for i in range(D):
            if not math.isfinite(points[r, i]):
                return 1
    j0 = count[0]
    for r in range(points.shape[0]):
        for i in range(D):
            pts[j0 + r, i] = points[r, i]
    j1 = j0 + points.shape[0]
    if count[1] != 0 and j1 > 1:
        path_into(pts, max(j0 - 1, 0), j1 - 1, s, buf)
    count[0] = j1
    return 0


@jit
def _popcount(m):
    c = 0
    while m:
        c += m & 1
        m >>= 1
    return c


@jit
def _leaves_of(n_nodes):
    """Number of leaves m with 2 m - popcount(m) = n_nodes (node counts only take such values)."""
    m = (n_nodes + 1) // 2
    while 2 * m - _popcount(m) > n_nodes:
        m -= 1
    while 2 * (m + 1) - _popcount(m + 1) <= n_nodes:
        m += 1
    return m


@jit
def build_nodes(pts, n_pts, leaf, nodes, n_nodes):
    """Append the chunk-tree nodes completed by points 0..n_pts-1; returns the node count.

    Leaf j covers increments [j leaf, (j + 1) leaf). Nodes are stored in creation
    (post-)order of a binary counter: after m leaves there are 2 m - popcount(m) nodes, and
    the parent of two equal-size roots is created right after its right child."""
    buf = np.empty(SCRATCH, dtype=nodes.dtype)
    n_leaves = (n_pts - 1) // leaf if n_pts > 0 else 0
    m = _leaves_of(n_nodes)
    while m < n_leaves:
        t0 = m * leaf
        row = nodes[n_nodes]
        for w in range(LENGTH):
            row[w] = 0.0
        path_into(pts, t0, t0 + leaf, row, buf)
        n_nodes += 1
        m += 1
        # leaf number m (1-based) closes one parent per trailing zero bit of m
        size = 1
        while m % (2 * size) == 0:
            right = n_nodes - 1
            left = right - (2 * size - 1)
            row = nodes[n_nodes]
            for w in range(LENGTH):
                row[w] = nodes[left, w]
            mul_into(row, nodes[right])
            n_nodes += 1
            size *= 2
    return n_nodes


@jit
def query(pts, leaf, nodes, s0, t1, out):
    """out <- S(pts[s0 .. t1]) exactly: direct steps at both ends, complete tree nodes (the
    largest aligned dyadic blocks of leaves) in between, multiplied in order."""
    buf = np.empty(SCRATCH, dtype=out.dtype)
    for w in range(LENGTH):
        out[w] = 0.0
    lo = (s0 + leaf - 1) // leaf  # first leaf starting at or after s0
    hi = t1 // leaf  # leaves lo .. hi - 1 lie inside [s0, t1]
    if hi <= lo:
        path_into(pts, s0, t1, out, buf)
        return
    path_into(pts, s0, lo * leaf, out, buf)
    j = lo
    while j < hi:
        size = 1
        while j % (2 * size) == 0 and j + 2 * size <= hi:
            size *= 2
        # post-order position of the node over leaves j .. j + size - 1
        mul_into(out, nodes[2 * j - _popcount(j) + 2 * size - 2])
        j += size
    path_into(pts, hi * leaf, t1, out, buf)
'''
