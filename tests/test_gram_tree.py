"""The dyadic-tree route of the Gram interval norms against the running recursion and naive tensors."""

import os

import numpy as np
import pytest

import naive
import streamrough as sr
from streamrough import _config
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


def _tree(G, h, small_half=_config.GRAM_TREE_SMALL_HALF, strip=_config.GRAM_TREE_STRIP, jobs=1):
    n = G.shape[0]
    sq1, sq2 = np.zeros((n + 1, n + 1)), np.zeros((n + 1, n + 1))
    tree_interval_norms(G, h, sq1, sq2, small_half=small_half, strip=strip, jobs=jobs)
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
    routed = sr.rough_pvar(w, p, lift=lift, convention=convention, route="gram")
    monkeypatch.setattr(_config, "GRAM_TREE_MIN_N", n + 1)
    ref = sr.gram_rough_pvar(g, p, lift=lift, convention=convention, return_partition=True)
    for field in ("level1_power", "level2_power"):
        np.testing.assert_allclose(getattr(tree, field), getattr(ref, field), rtol=1e-10)
        np.testing.assert_allclose(getattr(routed, field), getattr(ref, field), rtol=1e-10)
