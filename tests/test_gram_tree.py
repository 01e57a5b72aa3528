"""The dyadic-tree route of the Gram interval norms against the running recursion and naive tensors."""

import math
import os

import numpy as np
import pytest

import naive
import streamrough as sr
from streamrough import _config
from streamrough import gram as gram_module
from streamrough._gram_tree import tree_interval_norms
from streamrough._kernels import gram as reference_kernels

JIT = os.environ.get("NUMBA_DISABLE_JIT", "0") != "1"  # kernels as plain Python: smaller sizes
SIZES = [1, 2, 3, 4, 5, 7, 8, 9, 31, 33, 64] if JIT else [1, 2, 3, 4, 5, 7, 8, 9, 17]
KINDS = ["brownian", "iid", "constant", "tied", "repeated"]
H = {"iterated": 0.0, "geometric": 0.5}
RTOL = 1e-12
FLOOR = 1e-14  # absolute floor, in units of the interval's scale (sum of |G_ik| over the block)


def _layers(rng, kind, n, d, dtype=np.float64):
    """Increments a_0 .. a_{n-1} of one kind, shape (n, d)."""
    if kind == "brownian":  # layers that are a random walk: strongly correlated, drifting
        a = np.cumsum(rng.standard_normal((n, d)), axis=0)
    elif kind == "iid":
        a = rng.standard_normal((n, d))
    elif kind == "constant":
        a = np.tile(rng.standard_normal((1, d)), (n, 1))
    elif kind == "tied":  # consecutive pairs of equal layers
        a = np.repeat(rng.standard_normal(((n + 1) // 2, d)), 2, axis=0)[:n]
    else:  # a pattern of three layers that sums to almost zero, repeated: the path returns
        base = rng.standard_normal((3, d))
        base[2] = -base[0] - base[1] + 1e-3 * rng.standard_normal(d)
        a = np.tile(base, ((n + 2) // 3, 1))[:n]
    return a.astype(dtype)


def _gram(a):
    return sr.layer_gram(a)


def _reference(G, h):
    n = G.shape[0]
    sq1, sq2 = np.zeros((n + 1, n + 1)), np.zeros((n + 1, n + 1))
    reference_kernels.interval_norms_sq.serial(G[None, None], G[None, None], h, sq1, sq2, 8, 16)
    return sq1, sq2


def _tree(G, h, small_half=_config.GRAM_TREE_SMALL_HALF, strip=_config.GRAM_TREE_STRIP, jobs=1, features=None):
    n = G.shape[0]
    sq1, sq2 = np.zeros((n + 1, n + 1)), np.zeros((n + 1, n + 1))
    # feature_ratio 0: with features, every node above small_half goes through them
    tree_interval_norms(G, h, sq1, sq2, small_half=small_half, strip=strip, jobs=jobs, features=features,
                        feature_ratio=0.0)
    return sq1, sq2


def _block_scale(G):
    """S[t, s] = sum_{i,k in [s,t)} |G_ik|: the scale of the rounding errors of the interval."""
    n = G.shape[0]
    c = np.zeros((n + 1, n + 1))
    c[1:, 1:] = np.cumsum(np.cumsum(np.abs(G), axis=0), axis=1)
    d = np.diagonal(c)
    return np.maximum(d[:, None] - c - c.T + d[None, :], 0.0)


def _assert_close(tree, ref, G):
    sq1, sq2 = tree
    r1, r2 = ref
    scale = _block_scale(G)
    lower = np.tril(np.ones_like(r1, dtype=bool), -1)
    np.testing.assert_array_equal(sq1[~lower], 0.0)
    np.testing.assert_array_equal(sq2[~lower], 0.0)
    assert np.all(np.abs(sq1 - r1) <= RTOL * np.abs(r1) + FLOOR * scale)
    assert np.all(np.abs(sq2 - r2) <= RTOL * np.abs(r2) + FLOOR * scale**2)
    assert np.all(sq1 >= 0) and np.all(sq2 >= 0)


@pytest.mark.parametrize("lift", sorted(H))
@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("d", [1, 5])
def test_every_interval_matches_the_recursion(rng, lift, kind, d):
    for n in SIZES:
        G = _gram(_layers(rng, kind, n, d))
        _assert_close(_tree(G, H[lift]), _reference(G, H[lift]), G)


@pytest.mark.parametrize("lift", sorted(H))
@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_nodes_through_the_layers_match_the_recursion(rng, lift, kind, dtype):
    """The cubic part through the layers (_feature_products) at every node above half-width 1,
    with strips that cut the nodes unevenly, on every kind of path, d = 1 and 5."""
    for n in SIZES:
        for d in (1, 5):
            a = _layers(rng, kind, n, d, dtype)
            G = _gram(a)
            _assert_close(_tree(G, H[lift], small_half=1, strip=3, features=a), _reference(G, H[lift]), G)


@pytest.mark.parametrize("lift", sorted(H))
def test_float32_layers(rng, lift):
    for n in SIZES[-3:]:
        G = _gram(_layers(rng, "iid", n, 6, np.float32))
        _assert_close(_tree(G, H[lift]), _reference(G, H[lift]), G)


@pytest.mark.parametrize("lift", sorted(H))
def test_explicit_tensors(rng, lift):
    """Against level-2 tensors built explicitly (tests/naive.py), not only the other kernel."""
    for n in (1, 2, 5, 8, 9):
        a = _layers(rng, "iid", n, 3)
        x = np.vstack([np.zeros((1, 3)), np.cumsum(a, axis=0)])
        n1, n2 = naive.level_norm_matrices(x, lift)
        sq1, sq2 = _tree(_gram(a), H[lift], small_half=1, strip=2)
        lower = np.tril_indices(n + 1, -1)  # [t, s] with s < t
        np.testing.assert_allclose(sq1[lower], n1.T[lower] ** 2, rtol=1e-12, atol=1e-12)
        np.testing.assert_allclose(sq2[lower], n2.T[lower] ** 2, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("small_half, strip", [(1, 1), (1, 3), (2, 5), (4, 256), (64, 2)])
def test_tunables_do_not_change_values(rng, small_half, strip):
    n = 33 if JIT else 13
    G = _gram(_layers(rng, "brownian", n, 4))
    for h in H.values():
        _assert_close(_tree(G, h, small_half, strip), _reference(G, h), G)


def test_n_jobs_gives_the_same_values(rng):
    G = _gram(_layers(rng, "iid", 40 if JIT else 12, 3))
    one, two = _tree(G, 0.5, small_half=2, strip=4, jobs=1), _tree(G, 0.5, small_half=2, strip=4, jobs=2)
    np.testing.assert_array_equal(one[0], two[0])
    np.testing.assert_allclose(one[1], two[1], rtol=1e-13, atol=0)


@pytest.mark.parametrize("lift", sorted(H))
@pytest.mark.parametrize("convention", ["increments", "values"])
def test_pvar_values_match_the_reference_route(rng, monkeypatch, lift, convention):
    """Routed through gram_rough_pvar (and rough_pvar's Gram route): p-variation to 1e-10."""
    n = 300 if JIT else 24
    w = sr.brownian_weights(n, 4, seed=rng)
    p = [1.0, 1.5, 2.0, 2.5, 2.9]
    g = sr.layer_gram(w)
    monkeypatch.setattr(_config, "GRAM_TREE_MIN_N", 2)
    tree = sr.gram_rough_pvar(g, p, lift=lift, convention=convention, return_partition=True)
    monkeypatch.setattr(_config, "GRAM_TREE_FEATURE_RATIO", 0)  # rough_pvar: big nodes through the layers
    routed = sr.rough_pvar(w, p, lift=lift, convention=convention, route="gram")
    monkeypatch.setattr(_config, "GRAM_TREE_MIN_N", n + 1)
    ref = sr.gram_rough_pvar(g, p, lift=lift, convention=convention, return_partition=True)
    for field in ("level1_power", "level2_power"):
        np.testing.assert_allclose(getattr(tree, field), getattr(ref, field), rtol=1e-10)
        np.testing.assert_allclose(getattr(routed, field), getattr(ref, field), rtol=1e-10)


# ------------------------------------------------------------------------------------------
# the parallel kernels against their serial forms


@pytest.mark.parametrize("n, w", [(40, 2), (40, 8), (45, 4), (45, 16), (33, 16), (64, 32)])
def test_level_tables_twins_equal_node_by_node_tables(rng, n, w):
    """level_tables (parallel and serial twin) writes exactly what node_tables writes per node,
    including a last node cut short by n."""
    from streamrough._kernels import gram_tree as kernels
    from streamrough._parallel import launch

    G = _gram(_layers(rng, "brownian", n, 3))
    base1, base2 = _tree(G, 0.5)  # any sq1, sq2: the level reads the children, writes its own
    top = 1 << ((n - 1).bit_length() - 1)
    out = {}
    for jobs in (1, 2):
        sq2 = base2.copy()
        tables = np.zeros((4, top * top))
        launch(kernels.level_tables, jobs, G, 0.5, w, base1, sq2, tables)
        out[jobs] = sq2, tables
    sq2 = base2.copy()
    for k, m in enumerate(range(w, n, 2 * w)):
        hi = min(m + w, n)
        nr = hi - m
        alpha, gamt, pt, dd = (np.zeros((w, w)) for _ in range(4))
        kernels.node_tables(G, 0.5, m - w, m, hi, base1, sq2, alpha, gamt[:nr], pt[:nr], dd[:nr, :nr])
        for q, table in enumerate((alpha, gamt[:nr], pt[:nr], dd[:nr, :nr])):
            block = out[2][1][q, k * w * w : (k + 1) * w * w].reshape(w, w)[: table.shape[0], : table.shape[1]]
            np.testing.assert_array_equal(block, table)
    np.testing.assert_array_equal(out[2][0], sq2)
    np.testing.assert_array_equal(out[1][0], out[2][0])
    np.testing.assert_array_equal(out[1][1], out[2][1])


def _scan_dp(squares, e):
    """The plain DP over squares ** e with the kernel's omega = exp(e log x) (math.log, then
    _exp_row): every start of every end, the first maximiser. Returns (value, links)."""
    from streamrough._kernels.gram import _exp_row

    n = squares.shape[0]
    pv = np.zeros(n)
    links = np.zeros(n, dtype=np.int64)
    for j in range(1, n):
        logs = np.array([math.log(x) if x > 0 else -math.inf for x in squares[j, :j]])
        omega, scratch = np.empty(j), np.empty(j)
        _exp_row(e, logs, j, omega, scratch)
        cands = pv[:j] + omega
        links[j] = int(np.argmax(cands))
        pv[j] = cands[links[j]]
    return pv[-1], links


def _dp_inputs(rng, n):
    """Squared-norm matrices that exercise the pruned DP: random, zero blocks and zero weights
    (log -inf), many exact ties, a real level-2 matrix (zero on the first subdiagonal)."""
    random = rng.random((n, n)) ** 2
    zeros = random * (rng.random((n, n)) < 0.5)
    zeros[:, 16:32] = 0.0  # a whole block of starts with zero weight
    ties = (rng.integers(0, 3, (n, n)) * 0.5) ** 2
    a = np.cumsum(rng.standard_normal((n - 1, 3)), axis=0) if n > 1 else np.zeros((0, 3))
    sq1, sq2 = np.zeros((n, n)), np.zeros((n, n))
    if n > 1:
        reference_kernels.interval_norms_sq.serial(*(_gram(a)[None, None],) * 2, 0.0, sq1, sq2, 8, 16)
    return [random, zeros, ties, sq2]


@pytest.mark.parametrize("n", [1, 2, 3, 17, 70] if JIT else [1, 2, 3, 40])
def test_dp_squares_equals_the_plain_dp(rng, n):
    """Several matrices and exponents in one launch: values and links equal the plain DP's
    exactly (the skipped blocks never hold a maximiser), and the twins agree."""
    from streamrough._kernels import gram as kernels
    from streamrough._parallel import launch

    squares = np.array(_dp_inputs(rng, n))
    exponents = np.array([[0.3, 0.55, 1.4]] * 2 + [[0.5, 1.0, 2.0]] * 2)
    for jobs in (1, 2):
        values = np.zeros(exponents.shape)
        links = np.zeros(exponents.shape + (n,), dtype=np.int64)
        launch(kernels.dp_squares, jobs, squares, exponents, values, links)
        for k in range(squares.shape[0]):
            for a, e in enumerate(exponents[k]):
                value, link = _scan_dp(squares[k], e)
                assert values[k, a] == value
                np.testing.assert_array_equal(links[k, a], link)
                np.testing.assert_allclose(value, naive.weight_matrix_dp(squares[k].T ** e)[0], rtol=1e-12)


def test_dp_exp_is_exp_to_an_ulp(rng):
    """The DP's vectorised exp against math.exp: random arguments over the whole range, the
    reduction's boundaries, the cut-offs of its fallback and log 0 = -inf (weight 0)."""
    from streamrough._kernels.gram import _exp_row

    ln2_half = np.log(2.0) / 2
    special = [0.0, -0.0, -np.inf, 1e-300, ln2_half, -ln2_half, 700.0, -700.0, np.nextafter(700.0, 800.0),
               np.nextafter(-700.0, -800.0), 709.0, -745.0, -800.0]
    x = np.concatenate([rng.uniform(-760.0, 709.0, 2000 if JIT else 200), rng.uniform(-1.0, 1.0, 200), special])
    for e in (1.0, 0.55):
        out, scratch = np.empty_like(x), np.empty_like(x)
        _exp_row(e, x / e, x.size, out, scratch)
        ref = np.array([math.exp(e * v) for v in (x / e)])
        assert np.array_equal(out == 0.0, ref == 0.0)
        nonzero = ref > 0
        assert np.all(np.abs(out[nonzero] - ref[nonzero]) <= 2 * np.spacing(ref[nonzero]))
