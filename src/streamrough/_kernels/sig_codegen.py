"""Source generation of the specialised signature kernels of one ``(d, n, kind)``.

Only what gains from being specialised is generated: the step body (straight-line code on
scalar locals, or loops of literal trip counts) and the three kernels built around it,
``path_into`` (one path), ``prefixes`` (every prefix of one path) and ``lanes_into`` (paths
side by side, one per SIMD lane). Everything else (algebra, drivers, stream, tree) is plain
code in ``sig_algebra``, ``sig_drivers`` and ``sig_tree``.

One templating method: a kernel is a template text passed to :func:`render`, whose ``$name``
fields are replaced by a value: a line that holds a field alone takes a list of statements,
indented to the field's column; any other field takes a string. The statements themselves
(one multiply-add each) come from :func:`step_lines`, :func:`lower_lines` and :func:`top_lines`.

Variants (chosen by the signature length ``L`` and the length of levels ``1..n-1``):

- ``L <= UNROLL_FULL``: the whole step is straight-line code; along a path the signature
  stays in registers;
- levels ``1..n-1`` within ``UNROLL_MAX`` numbers: in ``step`` and ``prefixes`` those levels
  straight-line; in ``path_into`` levels ``1..n-2`` straight-line and level ``n-1`` vectorised
  loops (:func:`hybrid_step_lines`); the top level (the bulk of the work) a vectorised loop
  taking the outer products of ``GROUP`` steps at once (:func:`top_lines`);
- larger: loops over a reversed-word working copy (word ``(i_1 ... i_k)`` at
  ``i_k d^(k-1) + ... + i_1``), one pass per level computing every Horner chain at that level
  (:func:`lower_lines`), with the same grouped top-level update;
- ``L <= LANE_MAX`` also get ``lanes_into``.

The generated text grows like ``n^2`` with the depth (the Horner chains): above
``MAX_SOURCE_LINES`` nothing is generated and the plain loop kernels of ``sig_algebra`` are
used instead (d = 1 at depth 64 would otherwise take minutes to compile).

Generated modules are memoised per process. A module's name holds a hash of its source
(``streamrough._kernels._sig_<kind>_d<d>_n<n>_<hash>``), and the on-disk cache
(``streamrough._kernels._cache``) files compiled kernels by module and function name, so
the compiled code of generated kernels is reused across processes and a changed source
is never served stale code.
"""

from __future__ import annotations

import functools
import hashlib
import linecache
import string
import sys

from .sig_algebra import level_offsets

#: signatures up to this length get fully unrolled straight-line step code
UNROLL_FULL = 64
#: up to this many entries, levels 1..n-1 are straight-line code and level n a vectorised loop
UNROLL_MAX = 160
#: steps whose outer products update the top level together (loop kernels)
GROUP = 8
#: steps per loop of the level n-1 update of the hybrid kernels (:func:`mid_lines`)
MID_STEPS = 4
#: the hybrid kernels update level n-1 per group, not per step, if its loops have fewer trips
MID_GROUPED_BELOW = 16
#: grouped, the words of level n-2 are padded to a multiple of this (vector lanes of AVX2)
MID_PAD = 4
#: letters of the top level updated per pass of the grouped update: the pass keeps the GROUP
#: vectors u_g of a few words and TOP_BLOCK running sums in registers, reading u once per
#: TOP_BLOCK letters instead of once per letter (d = 10, depth 4: 2 -> 37 ms, 5 -> 33 ms,
#: 10 -> 34 ms, one letter at a time 47 ms, B = 32, L = 1000; 5 also best with AVX2 only)
TOP_BLOCK = 5
#: paths of a batch computed side by side, one per SIMD lane (signatures up to LANE_MAX)
LANES = 16
LANE_MAX = 160
#: steps whose increments the lanes kernel transposes at a time (16 x 10 x 16 numbers at
#: d = 10: with the state, about L1's size; 32 was slower at d = 10)
LANE_STEPS = 16
#: steps whose outer products update the top level of the lanes kernel together (divides
#: LANE_STEPS): one load and store of the top level per LANE_GROUP steps, not per step
LANE_GROUP = 8
#: longer generated sources are not compiled: the plain loop kernels are used instead
MAX_SOURCE_LINES = 4000


def render(template: str, **fields) -> str:
    """Fill the ``$name`` fields of `template`.

    A line holding only ``$name`` is replaced by the statements of the list ``fields[name]``,
    each indented like the field; elsewhere ``$name`` / ``${name}`` is replaced by the string
    ``fields[name]`` (``string.Template`` syntax). A missing field raises ``KeyError``.

    Examples
    --------
    >>> print(render("def f(x):\\n    $body\\n    return ${out}", body=["y = x", "y += 1"], out="y"), end="")
    def f(x):
        y = x
        y += 1
        return y
    """
    text = {k: v for k, v in fields.items() if isinstance(v, str)}
    out = []
    for line in template.splitlines():
        field = line.strip()
        if field.startswith("$") and isinstance(fields.get(field[1:]), list):
            indent = line[: len(line) - len(line.lstrip())]
            out.extend(indent + stmt for stmt in fields[field[1:]])
        else:
            out.append(string.Template(line).substitute(text))
    return "\n".join(out) + "\n"


def rev_digits(w: int, k: int, d: int) -> int:
    """Index of word w of length k (base-d digits) with its letters in reverse order."""
    r = 0
    for _ in range(k):
        r, w = r * d + w % d, w // d
    return r


def step_lines(d: int, n: int, kind: str, state=None, top=None) -> list:
    """Straight-line statements of one step ``S <- S (x) step(a)`` on scalars ``a<i>``.

    ``state(j)`` is the expression of entry j of the state (standard layout; default the
    local ``s<j>``). With ``top(w, v)`` (a function returning a statement) level n is not
    updated: the vector v with level n of the step = ``S_n + v (x) a`` goes to that statement.
    Geometric: Horner scheme top level down, ``S_k += ((...((a/k + S_1) (x) a/(k-1) + S_2)
    ...) + S_{k-1}) (x) a``; iterated: ``S_k += S_{k-1} (x) a``; then ``S_1 += a``."""
    state = state or (lambda j: f"s{j}")
    offs = level_offsets(d, n)
    lines = []
    names = (f"h{i}" for i in range(10**9))
    if kind == "geometric":
        # the scaled increments a / j do not depend on the state: computing them first keeps
        # the Horner chains short, b <- (b + s_m) (x) (a / (k - m)), one add and one multiply
        # per stage on the critical path
        scaled = {1: [f"a{i}" for i in range(d)]}
        for j in range(2, n + 1):
            scaled[j] = []
            for i in range(d):
                scaled[j].append(next(names))
                lines.append(f"{scaled[j][-1]} = a{i} * {1.0 / j!r}")
    for k in range(n, 1, -1):
        if kind == "geometric":
            b = scaled[k]  # level-1 chain start a / k
            for m in range(1, k - 1):
                nb = []
                for w in range(d**m):
                    name = next(names)
                    lines.append(f"{name} = {b[w]} + {state(offs[m] + w)}")
                    for i in range(d):
                        nb.append(next(names))
                        lines.append(f"{nb[-1]} = {name} * {scaled[k - m][i]}")
                b = nb
            vec = []
            for w in range(d ** (k - 1)):
                vec.append(next(names))
                lines.append(f"{vec[-1]} = {b[w]} + {state(offs[k - 1] + w)}")
        else:
            vec = [state(offs[k - 1] + w) for w in range(d ** (k - 1))]
        for w, v in enumerate(vec):
            if k == n and top is not None:
                lines.append(top(w, v))
            else:
                lines += [f"{state(offs[k] + w * d + i)} += {v} * a{i}" for i in range(d)]
    lines += [f"{state(i)} += a{i}" for i in range(d)]
    return lines


def chain_offsets(d: int, n: int) -> tuple:
    """Where the Horner chains of one step live in the scratch ``v`` of the loop kernels:
    ``(offsets, size)``, ``offsets[k, m]`` the start of chain k (the one that ends in level k)
    at level m, for ``1 <= m <= n - 2 < k <= n``; the chain of level n at level n - 1 is the
    top vector ``ug`` itself."""
    offsets, size = {}, 0
    for m in range(1, n - 1):
        for k in range(m + 1, n + 1):
            offsets[k, m] = size
            size += d**m
    return offsets, max(size, 1)


def lower_lines(d: int, n: int, kind: str) -> list:
    """Loops of one step on levels 1..n-1 of r (reversed-word layout, increment ``a[ao + i]``,
    in place) that also store ug, the vector with level n of the step = ``r_n + ug (x) a``.

    Geometric: chain k at level m is ``v_km = v_k,m-1 (x) a / (k - m + 1) + r_m`` (``v_k0 = 1``),
    ``ug = v_n,n-1`` and ``r_m += v_m,m-1 (x) a``. One pass per level, levels up, computes all
    the chains at that level from one read of ``r_m`` and then updates it: each pass is a
    vectorised loop over the ``d^(m-1)`` words w of every letter i (entry ``i d^(m-1) + w``),
    with independent chains side by side rather than one Horner chain after another.
    Iterated: ``ug = r_(n-1)``, then ``r_m += r_(m-1) (x) a`` levels down."""
    offs = level_offsets(d, n)
    lines = []
    if kind == "iterated":
        lines += [f"for w in range({d ** (n - 1)}):", f"    ug[w] = r[{offs[n - 1]} + w]"]
        for m in range(n - 1, 1, -1):
            p = d ** (m - 1)
            lines += [
                f"for i in range({d}):",
                "    ai = a[ao + i]",
                f"    for w in range({p}):",
                f"        r[{offs[m]} + i * {p} + w] += r[{offs[m - 1]} + w] * ai",
            ]
        return lines + [f"for i in range({d}):", "    r[i] += a[ao + i]"]
    chains, _ = chain_offsets(d, n)
    for m in range(1, n):
        p = d ** (m - 1)
        entry = f"i * {p} + w" if m > 1 else "i"
        body = [f"e = r[{offs[m]} + {entry}]"]
        for k in range(m + 1, n + 1):
            dst = f"ug[{entry}]" if k == n and m == n - 1 else f"v[{chains[k, m]} + {entry}]"
            body.append(f"{dst} = ai * {1.0 / k!r} + e" if m == 1 else f"{dst} = v[{chains[k, m - 1]} + w] * c{k} + e")
        body.append(f"r[{offs[m]} + {entry}] = e + " + ("ai" if m == 1 else f"v[{chains[m, m - 1]} + w] * ai"))
        lines += [f"for i in range({d}):", "    ai = a[ao + i]"]
        if m == 1:
            lines += ["    " + b for b in body]
        else:
            lines += [f"    c{k} = ai * {1.0 / (k - m + 1)!r}" for k in range(m + 1, n + 1)]
            lines += [f"    for w in range({p}):"] + ["        " + b for b in body]
    return lines


def grouped_mid(d: int, n: int) -> bool:
    """Whether the hybrid kernel of ``(d, n)`` updates level n-1 once per group of steps
    (:func:`mid_lines` over GROUP steps) rather than step by step: the per-step loops have
    d^(n-2) trips, and below MID_GROUPED_BELOW LLVM runs them as scalar code (at 4 lanes its
    vector body wants 12 trips or more)."""
    return 1 < d ** (n - 2) < MID_GROUPED_BELOW


def mid_words(d: int, n: int) -> int:
    """Words of level n-2 per letter in the hybrid kernel's level n-1 copy ``rl`` and in the
    chains ``vc``: d^(n-2), padded with zeros to a multiple of MID_PAD where grouped, so that
    the grouped loops have no scalar remainder (10 trips at 4 lanes: half the time in it)."""
    p = d ** (n - 2)
    return -(-p // MID_PAD) * MID_PAD if grouped_mid(d, n) else p


def hybrid_step_lines(d: int, n: int, kind: str) -> list:
    """One step g of the hybrid ``path_into``: levels 1..n-2 on scalars ``s<j>`` (straight-line,
    increment ``a<i>``), level n-1 in the reversed-word array ``rl``, and ``ug`` with level n
    of the step = ``r_n + ug (x) a`` (reversed-word).

    The chains are the fused ones of :func:`lower_lines`, straight-line below level n-1 (chain
    k at level m in ``c<k>_<m>_<word>``); the chains of levels n and n - 1 at level n - 2 are
    stored in block g of vc (reversed-word, ``d^(n-2)`` numbers each), from which
    :func:`mid_lines` computes level n-1 and ug, the bulk of the step (2 d^(n-1) of its
    multiply-adds): right here on the view ``vg`` of the block, or for the whole group after
    its last step (:func:`grouped_mid`). Iterated: the chain is ``s_(n-2)``, ``ug = r_(n-1)``,
    ``r_(n-1) += s_(n-2) (x) a``, then the scalar levels top down."""
    offs = level_offsets(d, n)
    p, pw = d ** (n - 2), mid_words(d, n)
    lines = []
    if kind == "geometric":
        lines += [f"h{i} = a{i} * 0.5" for i in range(d)]
        scaled = lambda j, i: f"a{i} * {1.0 / j!r}"  # noqa: E731
        for m in range(1, n - 1):
            for w in range(d ** (m - 1)):
                for i in range(d):
                    entry = f"s{offs[m] + w * d + i}"
                    for k in range(m + 1, n + 1):
                        chain = scaled(k, i) if m == 1 else f"c{k}_{m - 1}_{w} * {scaled(k - m + 1, i)}"
                        lines.append(f"c{k}_{m}_{w * d + i} = {chain} + {entry}")
                    lines.append(f"{entry} += " + (f"a{i}" if m == 1 else f"c{m}_{m - 1}_{w} * a{i}"))
        for w in range(p if n > 2 else 0):
            rw = rev_digits(w, n - 2, d)
            lines += [f"vc[g * {2 * pw} + {rw}] = c{n}_{n - 2}_{w}", f"vc[g * {2 * pw} + {pw + rw}] = c{n - 1}_{n - 2}_{w}"]
    else:
        lines += [f"vc[g * {pw} + {rev_digits(w, n - 2, d)}] = s{offs[n - 2] + w}" for w in range(p if n > 2 else 0)]
    if p == 1:  # depth 2: no loops of one trip
        for i in range(d):
            u_i = f"h{i} + rl[{i}]" if kind == "geometric" else f"rl[{i}]"
            lines += [f"ug[{i}] = {u_i}", f"rl[{i}] += a{i}"]
    elif not grouped_mid(d, n):
        block = 2 * p if kind == "geometric" else p
        # a view: loops indexing vc from the run-time offset g * block are not vectorised
        lines += [f"vg = vc[g * {block} : (g + 1) * {block}]"] + mid_lines(d, n, kind, 1)
    if kind == "iterated":
        for m in range(n - 2, 0, -1):
            for w in range(d ** (m - 1)):
                lines += [f"s{offs[m] + w * d + i} += " + (f"a{i}" if m == 1 else f"s{offs[m - 1] + w} * a{i}") for i in range(d)]
    return lines


def mid_lines(d: int, n: int, kind: str, steps: int) -> list:
    """Level n-1 (``rl``) and the top vectors u_g of `steps` steps (1: the current step, from
    the view ``vg`` into ``ug``, increment ``a<i>``; GROUP: the group, from ``vc`` into ``u``,
    increments ``ag``), from the chains stored by :func:`hybrid_step_lines`.

    For each letter i, loops over the words w of level n-2 carry ``e = rl[i, w]`` through
    MID_STEPS steps at a time: ``u_g[i, w] = vq_g[w] a_gi / 2 + e`` (iterated: ``e``), then
    ``e += vp_g[w] a_gi`` (vq_g, vp_g: the chains of levels n and n-1). The same operations
    whether step by step or grouped; with all GROUP steps in one loop LLVM needed more
    run-time alias checks than it allows and left the loop scalar. A group's missing steps
    get zero chains (and zero increments): they add nothing. Padded words (``mid_words``)
    have zero chains and stay zero in rl; their u_g entries land on the next letter's first
    words, written after, or (last letter) in the slack past u_g that no one reads."""
    p, pw, size = d ** (n - 2), mid_words(d, n), d ** (n - 1)
    block = 2 * pw if kind == "geometric" else pw
    ustride = size + pw - p  # the padded loop of the last letter writes pw - p numbers past u_g
    if steps == 1:  # letters unrolled: increments a<i>, offsets literal
        letters = [(f"a{i}", "rl", i * pw, "ug", i * p) for i in range(d)]
        lines, vc, indent = [], "vg", ""
    else:  # one loop over the letters, on views (fewer loops to compile: 2 instead of 2 d)
        letters = [(f"ag[{{g}} * {d} + i]", "rli", 0, "ui", 0)]
        lines = [f"for w in range(ng * {block}, GROUP * {block}):", "    vc[w] = 0.0", f"for i in range({d}):"]
        lines += [f"    rli = rl[i * {pw} : (i + 1) * {pw}]", f"    ui = u[i * {p} :]"]
        vc, indent = "vc", "    "
    for b, rl, roff, u, uoff in letters:
        for g0 in range(0, steps, MID_STEPS):
            group = range(g0, min(steps, g0 + MID_STEPS))
            body = [f"b{g} = " + b.format(g=g) for g in group]
            if kind == "geometric":
                body += [f"q{g} = b{g} * 0.5" for g in group]
            body += ["for w in range(nw):", f"    e = {rl}[{roff} + w]"]
            for g in group:
                new_u = f"{vc}[{g * block} + w] * q{g} + e" if kind == "geometric" else "e"
                body += [f"    {u}[{g * ustride + uoff} + w] = {new_u}", f"    e = e + {vc}[{g * block + block - pw} + w] * b{g}"]
            body += [f"    {rl}[{roff} + w] = e"]
            lines += [indent + line for line in body]
    return lines


def top_lines(d: int, n: int, r0: int, a: str, ustride: int = 0) -> list:
    """The grouped top-level update ``r_n += sum_g u_g (x) a_g`` (r_n reversed-word at
    ``r[r0:]``, u_g at ``u[g ustride:]``, default ``ustride = d^(n-1)``, increments
    ``a[g d + i]``): per block of TOP_BLOCK
    letters, one vectorised pass over the words holding the GROUP u_g in registers."""
    size = d ** (n - 1)
    ustride = ustride or size
    lines = []
    for i0 in range(0, d, TOP_BLOCK):
        letters = range(i0, min(d, i0 + TOP_BLOCK))
        lines += [f"c{g}_{i} = {a}[{g * d + i}]" for i in letters for g in range(GROUP)]
        lines += [f"for w in range({size}):"] + [f"    u{g} = u[{g * ustride} + w]" for g in range(GROUP)]
        lines += [f"    r[{r0 + i * size} + w] += " + " + ".join(f"c{g}_{i} * u{g}" for g in range(GROUP)) for i in letters]
    return lines


# ------------------------------------------------------------------------------ templates

_HEADER = '''"""Generated by streamrough._kernels.sig_codegen: ${kind} kernels, d = ${d}, n = ${n}. Do not edit."""
import numpy as np

from streamrough._kernels._jit import jit
from streamrough._kernels.sig_algebra import from_reversed, reversed_index, to_reversed

D = ${d}
N = ${n}
OFFS = ${offs}
TOP = OFFS[N]
LENGTH = OFFS[N + 1]
NBUF = ${nbuf}
NCHAIN = ${nchain}
GROUP = ${group}
LANES = ${lanes}
LANE_STEPS = ${lane_steps}
LANE_GROUP = ${lane_group}
FMA = {"contract"}  # fused multiply-add: rounding at least as good, NaN/inf semantics kept
'''

_UNROLLED = '''
SCRATCH = 0  # buf unused


@jit(fastmath=FMA)
def step(s, a, buf):
    """s <- s (x) step(a), in place (straight-line code; buf unused)."""
    $load
    $load_a
    $step
    $store


@jit(fastmath=FMA)
def path_into(x, t0, t1, s, buf):
    """s <- s (x) S(x[t0 .. t1]) for one path x (N, d); the signature stays in registers."""
    $load
    for t in range(t0, t1):
        $inc
        $step
    $store
'''

_HYBRID = '''
PW = ${pw}  # the same, padded (mid_words)
USTRIDE = ${ustride}  # u_g at u[g USTRIDE:], NBUF numbers and the slack of the padding
VC = ${vc}  # chains of one step in vc
# path_into's scratch buf: ag, r, rl (step and prefixes use NBUF numbers of it)
O_R = GROUP * D
O_RL = O_R + D * NBUF
SCRATCH = O_RL + D * PW

@jit(fastmath=FMA)
def step(s, a, buf):
    """s <- s (x) step(a), in place; buf: scratch of SCRATCH numbers."""
    u = buf
    $load_low
    $load_a
    $step_u
    $store_low
    for w in range(NBUF):
        v = u[w]
        for i in range(D):
            s[TOP + w * D + i] += v * a[i]


@jit(fastmath=FMA)
def path_into(x, t0, t1, s, buf):
    """s <- s (x) S(x[t0 .. t1]) for one path x (N, d); buf: scratch of SCRATCH numbers.

    Levels 1..N-2 stay in registers, level N-1 is a reversed-word copy rl (its update is
    vectorised: mid_lines, step by step or per group); for each step the vector u_g with
    level N += u_g (x) a_g is stored, and every GROUP steps level N (a reversed-word copy)
    takes the sum of the GROUP outer products in one vectorised pass."""
    # u and vc are arrays of their own, not views of buf: LLVM then knows they alias nothing
    # and vectorises the loops over them (carved out of buf, d = 10, depth 3 took 2.8x longer)
    u = np.zeros(GROUP * USTRIDE, buf.dtype)
    ag = buf[:O_R]
    r = buf[O_R:O_RL]
    rl = buf[O_RL:SCRATCH]  # level N-1, PW words per letter
    vc = np.zeros(GROUP * VC, buf.dtype)  # chains of each step: mid_lines
    # the trip count of the level N-1 loops (PW), known at run time only (from the size of
    # buf): LLVM fully unrolls short loops of a literal count into scalar code with every load
    # after a store (the arrays may alias), and does not vectorise a loop of a known count
    # below 16 that needs run-time alias checks
    nw = rl.shape[0] // D
    for w in range(D * PW):
        rl[w] = 0.0  # the padding
    top = np.empty(D * NBUF, np.int64)  # where each word of level N is in r
    reversed_index(top, N, D, NBUF)
    mid = np.empty(NBUF, np.int64)  # and each word of level N-1 in rl
    reversed_index(mid, N - 1, D, PW)
    for w in range(D * NBUF):
        r[top[w]] = s[TOP + w]
    for w in range(NBUF):
        rl[mid[w]] = s[OFFS[N - 1] + w]
    $load_mid
    t = t0
    while t < t1:
        ng = min(GROUP, t1 - t)
        for g in range(ng):
            $inc_g
            $store_ag
            ug = u[g * USTRIDE : g * USTRIDE + NBUF]  # a view: see lower_step
            $step_group
        for g in range(ng * D, GROUP * D):
            ag[g] = 0.0
        $mid
        $top
        t += ng
    $store_mid
    for w in range(D * NBUF):
        s[TOP + w] = r[top[w]]
    for w in range(NBUF):
        s[OFFS[N - 1] + w] = rl[mid[w]]


@jit(fastmath=FMA)
def prefixes(x, stride, out, buf):
    """out[j] = S(x[0 .. (j + 1) stride]) for one path x (N, d); out (M, LENGTH).

    Levels 1..N-1 in registers as in path_into; the top level is built in the standard
    layout right in the output, row j = row j - 1 + the outer products of its steps."""
    u = buf[:NBUF]
    if out.shape[0] > 0:
        for w in range(TOP, LENGTH):
            out[0, w] = 0.0
    $zero_low
    for j in range(out.shape[0]):
        jp = max(j - 1, 0)  # the row the first step adds to (row 0 starts from zeros)
        for t in range(j * stride, (j + 1) * stride):
            $inc
            $step_u
            for w in range(NBUF):
                v = u[w]
                base = TOP + w * D
                $load_p
                $store_p
            jp = j
        $out_low
'''

_LOOPS = '''
SCRATCH = LENGTH + GROUP * D + NCHAIN + GROUP * NBUF  # path_into's (prefixes: less)


@jit(fastmath=FMA)
def lower_step(r, a, ao, v, ug):
    """Levels 1..N-1 of r <- r (x) step(a[ao:ao + D]) in the reversed-word layout, in place,
    and ug (NBUF numbers) with level N of the step = r_N + ug (x) a; v: scratch of NCHAIN."""
    $lower


@jit(fastmath=FMA)
def path_into(x, t0, t1, s, buf):
    """s <- s (x) S(x[t0 .. t1]) for one path x (N, d); buf: scratch of SCRATCH numbers.

    Steps go in groups of GROUP: the lower levels are stepped one by one, keeping the vectors
    u_g whose outer products with the increments a_g update the top level; the top level then
    takes all GROUP in one pass (1 / GROUP of the memory traffic on the largest level). A last,
    partial group adds 0 (x) u_g for its missing steps."""
    r = buf[:LENGTH]
    a = buf[LENGTH : LENGTH + GROUP * D]
    v = buf[LENGTH + GROUP * D : LENGTH + GROUP * D + NCHAIN]
    u = buf[LENGTH + GROUP * D + NCHAIN : LENGTH + GROUP * D + NCHAIN + GROUP * NBUF]
    to_reversed(s, r, OFFS, D)
    for w in range(GROUP * NBUF):
        u[w] = 0.0
    t = t0
    while t < t1:
        ng = min(GROUP, t1 - t)
        for g in range(ng):
            for i in range(D):
                a[g * D + i] = x[t + g + 1, i] - x[t + g, i]
            # ug as a view of its own: indexed from a run-time offset into u, the loops that
            # store it are not vectorised
            lower_step(r, a, g * D, v, u[g * NBUF : (g + 1) * NBUF])
        for g in range(ng * D, GROUP * D):
            a[g] = 0.0
        $top
        t += ng
    from_reversed(r, s, OFFS, D)


@jit(fastmath=FMA)
def prefixes(x, stride, out, buf):
    """out[j] = S(x[0 .. (j + 1) stride]) for one path x (N, d); out (M, LENGTH).

    Levels 1..N-1 are stepped in the reversed-word copy r and permuted into each row; the
    top level, the bulk of each row, is built in the standard layout right in the output,
    row j = row j - 1 + the outer products of its steps (no permutation of the top level)."""
    r = buf[:LENGTH]
    a = buf[LENGTH : LENGTH + D]
    v = buf[LENGTH + GROUP * D : LENGTH + GROUP * D + NCHAIN]
    u = buf[LENGTH + GROUP * D + NCHAIN : LENGTH + GROUP * D + NCHAIN + NBUF]
    perm = np.empty(LENGTH, dtype=np.int64)  # standard index -> reversed index
    for k in range(1, N + 1):
        size = OFFS[k + 1] - OFFS[k]
        reversed_index(perm[OFFS[k] :], k, D, size // D)
        for w in range(size):
            perm[OFFS[k] + w] += OFFS[k]
    for w in range(LENGTH):
        r[w] = 0.0
    if out.shape[0] > 0:
        for w in range(TOP, LENGTH):
            out[0, w] = 0.0
    for j in range(out.shape[0]):
        jp = max(j - 1, 0)  # the row the first step adds to (row 0 starts from zeros)
        for t in range(j * stride, (j + 1) * stride):
            for i in range(D):
                a[i] = x[t + 1, i] - x[t, i]
            lower_step(r, a, 0, v, u)
            for w in range(NBUF):
                vw = u[perm[OFFS[N - 1] + w] - OFFS[N - 1]]
                base = TOP + w * D
                for i in range(D):
                    out[j, base + i] = out[jp, base + i] + vw * a[i]
            jp = j
        for w in range(TOP):
            out[j, w] = r[perm[w]]
'''

_LANES = '''

@jit(fastmath=FMA)
def lanes_into(x, out, o0, st, pt, vv):
    """out[o0 + l] <- out[o0 + l] (x) S(x[l]) for the paths l < LANES of x (LANES, N, d),
    side by side; scratch st: LENGTH * LANES numbers, pt: LANE_STEPS * D * LANES,
    vv: LANE_GROUP * NBUF * LANES.

    The increments of LANE_STEPS steps are first transposed into pt (step, letter, lane), so
    that the lane loop reads them contiguously. With a run-time trip count (lanes == LANES,
    from the size of st) and arrays indexed from 0 the lane loop is vectorised (a literal or
    bounded count gets it unrolled, an offset index needs wraparound checks). Step q of a
    group of LANE_GROUP steps stores its top vectors in block q of vv; after the group's last
    step the top level takes the sum of the outer products of the group (a group cut short
    by the end of the path gets zero increments and top vectors, which add nothing)."""
    lanes = st.shape[0] // LENGTH
    for j in range(LENGTH):
        for l in range(lanes):
            st[j * LANES + l] = out[o0 + l, j]
    for t0 in range(0, x.shape[1] - 1, LANE_STEPS):
        m = min(LANE_STEPS, x.shape[1] - 1 - t0)
        for l in range(lanes):
            $first
            for g in range(m):
                $diff
        for j in range(m * D * LANES, -(-m // LANE_GROUP) * LANE_GROUP * D * LANES):
            pt[j] = 0.0
        for g in range(m):
            o = g * D * LANES
            q = g % LANE_GROUP
            ov = q * NBUF * LANES
            for l in range(lanes):
                $inc
                $step
            if q == LANE_GROUP - 1 or g == m - 1:
                for j in range((q + 1) * NBUF * LANES, LANE_GROUP * NBUF * LANES):
                    vv[j] = 0.0
                # the group's increments as a view: indexed from a run-time offset into pt,
                # the lane loop is not vectorised
                pg = pt[(g - q) * D * LANES :]
                $top
    for j in range(LENGTH):
        for l in range(lanes):
            out[o0 + l, j] = st[j * LANES + l]
'''

# the top level of the lanes step in a loop of its own: one lane loop with the whole step
# does not get vectorised once it has too many memory operations
_LANES_TOP = """
for w in range(NBUF):
    o2 = TOP * LANES + w * D * LANES
    for l in range(lanes):
        $load_v
        $axpy
"""


def _unrolled(d: int, n: int, kind: str) -> str:
    length = level_offsets(d, n)[n + 1]
    return render(
        _UNROLLED,
        load=[f"s{j} = s[{j}]" for j in range(length)],
        store=[f"s[{j}] = s{j}" for j in range(length)],
        load_a=[f"a{i} = a[{i}]" for i in range(d)],
        inc=[f"a{i} = x[t + 1, {i}] - x[t, {i}]" for i in range(d)],
        step=step_lines(d, n, kind),
    )


def _hybrid(d: int, n: int, kind: str) -> str:
    low = level_offsets(d, n)[n]  # number of entries of levels 1..n-1
    pw = mid_words(d, n)
    ustride = d ** (n - 1) + pw - d ** (n - 2)
    return render(
        _HYBRID,
        load_low=[f"s{j} = s[{j}]" for j in range(low)],
        store_low=[f"s[{j}] = s{j}" for j in range(low)],
        zero_low=[f"s{j} = 0.0" for j in range(low)],
        out_low=[f"out[j, {j}] = s{j}" for j in range(low)],
        load_a=[f"a{i} = a[{i}]" for i in range(d)],
        inc=[f"a{i} = x[t + 1, {i}] - x[t, {i}]" for i in range(d)],
        inc_g=[f"a{i} = x[t + g + 1, {i}] - x[t + g, {i}]" for i in range(d)],
        store_ag=[f"ag[g * {d} + {i}] = a{i}" for i in range(d)],
        step_u=step_lines(d, n, kind, top=lambda w, v: f"u[{w}] = {v}"),
        load_mid=[f"s{j} = s[{j}]" for j in range(level_offsets(d, n)[n - 1])],
        store_mid=[f"s[{j}] = s{j}" for j in range(level_offsets(d, n)[n - 1])],
        step_group=hybrid_step_lines(d, n, kind),
        pw=str(pw),
        ustride=str(ustride),
        vc=str((2 if kind == "geometric" else 1) * pw),
        mid=mid_lines(d, n, kind, GROUP) if grouped_mid(d, n) else [],
        top=top_lines(d, n, 0, "ag", ustride),
        load_p=[f"p{i} = out[jp, base + {i}]" for i in range(d)],
        store_p=[f"out[j, base + {i}] = p{i} + v * a{i}" for i in range(d)],
    )


def _loops(d: int, n: int, kind: str) -> str:
    return render(_LOOPS, lower=lower_lines(d, n, kind), top=top_lines(d, n, level_offsets(d, n)[n], "a"))


def _lanes(d: int, n: int, kind: str) -> str:
    state = lambda j: f"st[{j * LANES} + l]"  # noqa: E731
    top = []
    if n > 1:
        nbuf = d ** (n - 1)
        load_v = [f"v{q} = vv[{q * nbuf * LANES} + w * LANES + l]" for q in range(LANE_GROUP)]
        terms = lambda i: " + ".join(f"v{q} * pg[{(q * d + i) * LANES} + l]" for q in range(LANE_GROUP))  # noqa: E731
        axpy = [f"st[o2 + {i * LANES} + l] += {terms(i)}" for i in range(d)]
        top = render(_LANES_TOP, load_v=load_v, axpy=axpy).strip("\n").splitlines()
    return render(
        _LANES,
        inc=[f"a{i} = pt[o + {i * LANES} + l]" for i in range(d)],
        first=[f"p{i} = x[l, t0, {i}]" for i in range(d)],
        diff=[f"c{i} = x[l, t0 + g + 1, {i}]" for i in range(d)]
        + [f"pt[g * {d * LANES} + {i * LANES} + l] = c{i} - p{i}" for i in range(d)]
        + [f"p{i} = c{i}" for i in range(d)],
        step=step_lines(d, n, kind, state, lambda w, v: f"vv[ov + {w * LANES} + l] = {v}"),
        top=top or ["pass"],
    )


def generate_source(d: int, n: int, kind: str) -> str | None:
    """Python source of the specialised kernels of one ``(d, n, kind)`` (None for depth 1
    beyond ``UNROLL_FULL`` letters: the plain loop kernels serve it)."""
    offs = level_offsets(d, n)
    parts = [
        render(
            _HEADER,
            kind=kind,
            d=str(d),
            n=str(n),
            offs=repr(offs),
            nbuf=str(max(d ** (n - 1), 1)),
            nchain=str(chain_offsets(d, n)[1]),
            group=str(GROUP),
            lanes=str(LANES),
            lane_steps=str(LANE_STEPS),
            lane_group=str(LANE_GROUP),
        )
    ]
    if offs[n + 1] <= UNROLL_FULL:
        parts.append(_unrolled(d, n, kind))
    elif n == 1:  # level 1 alone is a sum: nothing to specialise
        return None
    elif offs[n] <= UNROLL_MAX:
        parts.append(_hybrid(d, n, kind))
    else:
        parts.append(_loops(d, n, kind))
    if offs[n + 1] <= LANE_MAX:
        parts.append(_lanes(d, n, kind))
    return "".join(parts)


@functools.lru_cache(maxsize=None)
def generated_module(d: int, n: int, kind: str):
    """The module of generated kernels of one ``(d, n, kind)`` (memoised), or None if its
    source would be longer than ``MAX_SOURCE_LINES`` (use the plain loop kernels)."""
    source = generate_source(d, n, kind)
    if source is None or source.count("\n") > MAX_SOURCE_LINES:
        return None
    digest = hashlib.sha256(source.encode()).hexdigest()[:16]
    name = f"streamrough._kernels._sig_{kind}_d{d}_n{n}_{digest}"
    filename = f"<streamrough generated {kind} d={d} n={n} {digest}>"
    linecache.cache[filename] = (len(source), None, source.splitlines(True), filename)
    module = type(sys)(name)
    module.__file__ = filename
    sys.modules[name] = module
    exec(compile(source, filename, "exec"), module.__dict__)
    return module
