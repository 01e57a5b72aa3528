"""Rough-path norms: exact level-2 p-variation against brute force (math.md 3, 4, 9)."""

import itertools
import os

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import naive
import streamrough as sr
from streamrough import RoughRegimeWarning, _config
from streamrough._kernels import rough as kernels

JIT = os.environ.get("NUMBA_DISABLE_JIT", "0") != "1"  # kernels as plain Python: smaller sizes


def level2_power(x, p, **kw):
    return sr.rough_pvar(x, p, **kw).level2_power


def rtol_for(p):
    # p < 2 raises small |XX| (absolute rounding ~1e-16) to the power p/2 < 1
    return 1e-9 if p >= 2 else 1e-6


# ------------------------------------------------------------------ Chen's identity, level 2


@pytest.mark.parametrize("lift", sr.LIFTS)
def test_chen_prefix_formula_matches_double_sums_for_s_positive(rng, lift):
    x = naive.sample_path(rng, 9, 3, "walk")
    xs = x - x[0]
    p2 = np.empty((9, 9))
    kernels.level2_prefix(xs, p2, lift == "geometric")
    for s, t in itertools.combinations(range(9), 2):
        ref = naive.level2_brute(x, s, t, lift)
        chen = (p2[t] - p2[s]).reshape(3, 3) - np.outer(xs[s], xs[t] - xs[s])
        np.testing.assert_allclose(chen, ref, rtol=1e-12, atol=1e-12)
        sq = kernels.level2_sq(p2, xs, xs, False, lift == "geometric", s, t, np.empty(6))
        assert sq == pytest.approx(np.sum(ref**2), rel=1e-12, abs=1e-24)
    # the published mistake (no x_{0,s} (x) x_{s,t} term) is really different for s > 0
    s, t = 3, 7
    wrong = (p2[t] - p2[s]).reshape(3, 3)
    assert not np.allclose(wrong, naive.level2_brute(x, s, t, lift))


def test_quasi_shuffle_and_straight_line(rng):
    # x_{s,t} (x) x_{s,t} = XX + XX^T + D (math.md 3); a straight line has XX parallel to
    # x (x) x and a symmetric geometric level 2 (oracle 8)
    x = naive.sample_path(rng, 7, 2, "walk")
    a = np.diff(x, axis=0)
    xx = naive.level2_brute(x, 1, 6)
    dd = sum(np.outer(a[i], a[i]) for i in range(1, 6))
    np.testing.assert_allclose(np.outer(x[6] - x[1], x[6] - x[1]), xx + xx.T + dd, atol=1e-12)
    line = np.outer(np.array([0.0, 0.5, 1.5, 2.0, 4.0]), [1.0, 2.0])
    g = naive.level2_brute(line, 0, 4, "geometric")
    np.testing.assert_allclose(g - g.T, 0, atol=1e-12)
    for p in (2.0, 2.5):
        v2 = level2_power(line, p, lift="geometric")
        assert v2 == pytest.approx(naive.pvar_level2_brute(line, p, "geometric"), rel=1e-12)
        # geometric level 2 of a segment is v (x) v / 2: the whole line is one piece
        assert v2 == pytest.approx((np.sum((line[-1] - line[0]) ** 2) / 2) ** (p / 2), rel=1e-12)


# ------------------------------------------------------------------ exactness


@pytest.mark.parametrize("lift", sr.LIFTS)
@pytest.mark.parametrize("method", ["bnb", "dp"])
def test_level2_against_brute_force(rng, lift, method):
    for _ in range(25):
        n = int(rng.integers(2, 10))
        d = int(rng.integers(1, 4))
        x = naive.sample_path(rng, n, d, "walk")
        for p in (1.0, 1.5, 2.0, 2.5, 2.9):
            res = sr.rough_pvar(x, p, lift=lift, method=method)
            ref = naive.pvar_level2_brute(x, p, lift)
            assert res.level2_power == pytest.approx(ref, rel=rtol_for(p), abs=1e-12)
            assert res.level2 == pytest.approx(ref ** (2 / p), rel=rtol_for(p), abs=1e-12)
            # the returned partition reproduces the value
            assert res.partition2[0] == 0 and res.partition2[-1] == n - 1
            assert naive.level2_partition_sum(x, p, res.partition2, lift) == pytest.approx(
                ref, rel=rtol_for(p), abs=1e-12
            )


@pytest.mark.parametrize("lift", sr.LIFTS)
@pytest.mark.parametrize("convention", ["increments", "values"])
def test_weight_sequences_both_conventions(rng, lift, convention):
    for L in (1, 2, 5, 9):
        w = rng.standard_normal((L, 2, 2)) / np.sqrt(L)
        flat = w.reshape(L, 4)
        path = np.vstack([np.zeros((1, 4)), np.cumsum(flat, axis=0)]) if convention == "increments" else flat
        for p in (2.0, 2.5):
            res = sr.rough_pvar(w, p, lift=lift, convention=convention)
            assert res.convention == convention
            assert res.level2_power == pytest.approx(
                naive.pvar_level2_brute(path, p, lift), rel=1e-9, abs=1e-14
            )
            assert res.level1_power == pytest.approx(naive.pvar_brute(path, p), rel=1e-9, abs=1e-14)
    # 3-d input defaults to the increments convention; 2-d input is a path
    w = rng.standard_normal((6, 2, 2))
    assert sr.rough_pvar(w, 2.5).convention == "increments"
    assert sr.rough_pvar(w, 2.5).level2 == sr.rough_pvar(w, 2.5, convention="increments").level2
    assert sr.rough_pvar(w.reshape(6, 4), 2.5).convention == "values"  # a path: row k is x_k


@pytest.mark.parametrize("lift", sr.LIFTS)
def test_bnb_equals_dp_on_longer_and_adversarial_paths(rng, lift):
    cases = [
        naive.sample_path(rng, 400, 3, "walk") / 20,
        naive.sample_path(rng, 300, 2, "walk") + np.linspace(0, 30, 300)[:, None],  # drift: large prefix data
        np.cumsum(rng.integers(-1, 2, size=(300, 2)), axis=0).astype(float),  # ties
        np.repeat(naive.sample_path(rng, 100, 2, "walk"), 3, axis=0),  # repeated points
        np.cumsum(np.tile([[1.0, 0.0], [0.0, 1.0], [-1.0, 0.0], [0.0, -1.0]], (64, 1)), axis=0),  # loops
        np.cumsum(np.where(np.arange(256)[:, None] % 2 == 0, 1.0, -1.0) * np.array([[1.0, 0.5]]), axis=0),
    ]
    for x in cases:
        for p in (1.0, 2.0, 2.5, 3.5):
            with pytest.warns(RoughRegimeWarning) if p >= 3 else _nothing():
                bnb = level2_power(x, p, lift=lift)
                dp = level2_power(x, p, lift=lift, method="dp")
            assert bnb == pytest.approx(dp, rel=1e-12, abs=1e-14)


@pytest.mark.parametrize("lift", sr.LIFTS)
def test_bnb_equals_dp_where_the_expansion_bound_cancels(rng, lift):
    # the one-path block bound expands |Y + Z|^2 and may subtract (x_{m,b} . Z v < 0): circles
    # and spirals turn Z v against the block's increments; d = 1 (XX = x^2/2-like, no area),
    # float32 input, integer ties and 1-2 point paths as well; values must be identical
    # (a quarter of the points as plain Python: the O(N^2) DP reference took a minute per lift)
    n = 600 if JIT else 150
    t = np.linspace(0.0, 12 * np.pi, n)
    cases = [
        np.column_stack([np.cos(t), np.sin(t)]),
        np.column_stack([t * np.cos(t), t * np.sin(t), 0.1 * t]),
        np.column_stack([np.cos(t), np.sin(t), np.cos(2 * t), -np.sin(3 * t)]) + rng.normal(0, 0.05, (n, 4)),
        naive.sample_path(rng, 5 * n // 6, 1, "walk"),
        naive.sample_path(rng, 2 * n // 3, 6, "walk").astype(np.float32),
        np.cumsum(rng.integers(-1, 2, size=(2 * n // 3, 3)), axis=0).astype(float),
        np.zeros((1, 2)),
        np.array([[0.0, 0.0], [1.0, 2.0]]),
    ]
    for x in cases:
        for p in (2.2, 2.5, 2.8):
            assert level2_power(x, p, lift=lift) == level2_power(x, p, lift=lift, method="dp")


@pytest.mark.parametrize("share", [0.0, 0.1, 0.5, 0.99])
def test_summaries_built_by_two_threads_give_the_serial_values(rng, monkeypatch, share):
    # with n_jobs > 1 a second thread builds the block summaries of the later indices while
    # level 2 starts (_config.LEVEL2_OWN_SUMMARIES): values and partitions as with one thread
    monkeypatch.setattr(_config, "LEVEL_OVERLAP_MIN_POINTS", 0)
    monkeypatch.setattr(_config, "LEVEL2_OWN_SUMMARIES", share)
    cases = [
        naive.sample_path(rng, 300, 3, "walk"),
        naive.sample_path(rng, 200, 1, "walk"),
        np.cumsum(rng.integers(-1, 2, size=(150, 2)), axis=0).astype(float),
        np.array([[0.0, 0.0], [1.0, 2.0]]),
        np.zeros((1, 2)),
    ]
    for x in cases:
        for lift in sr.LIFTS:
            one = sr.rough_pvar(x, [2.2, 2.8], lift=lift, n_jobs=1)
            two = sr.rough_pvar(x, [2.2, 2.8], lift=lift, n_jobs=2)
            assert np.array_equal(one.level2_power, two.level2_power)
            assert all(np.array_equal(a, b) for a, b in zip(one.partition2, two.partition2))
        y = x + 0.1
        y[1:] += 0.3 * np.cumsum(rng.standard_normal(y[1:].shape), axis=0)
        one = sr.rough_distance(x, y, 2.5, n_jobs=1)
        two = sr.rough_distance(x, y, 2.5, n_jobs=2)
        assert one.level2_power == two.level2_power


class _nothing:
    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False


@given(
    st.integers(2, 8).flatmap(
        lambda n: st.lists(
            st.lists(st.integers(-3, 3), min_size=2, max_size=2), min_size=n, max_size=n
        )
    ),
    st.sampled_from([1.0, 2.0, 2.5]),
    st.sampled_from(sr.LIFTS),
)
def test_property_integer_paths_against_brute_force(points, p, lift):
    # integer paths: many exact ties and exact zeros
    x = np.array(points, dtype=float)
    assert level2_power(x, p, lift=lift) == pytest.approx(
        naive.pvar_level2_brute(x, p, lift), rel=1e-9, abs=1e-12
    )


@given(
    st.integers(0, 2**32 - 1),
    st.integers(2, 80),
    st.integers(1, 4),
    st.floats(1.0, 3.5),
    st.sampled_from(sr.LIFTS),
    st.booleans(),
)
def test_property_bnb_equals_dp_random_paths_and_distances(seed, n, d, p, lift, distance):
    rng = np.random.default_rng(seed)
    x = naive.sample_path(rng, n, d, "walk") + rng.standard_normal(d) * np.arange(n)[:, None] * rng.random()
    if distance:
        y = x + 0.3 * naive.sample_path(rng, n, d, "walk")
        with pytest.warns(RoughRegimeWarning) if p >= 3 else _nothing():
            bnb = sr.rough_distance(x, y, p, lift=lift)
            dp = sr.rough_distance(x, y, p, lift=lift, method="dp")
    else:
        with pytest.warns(RoughRegimeWarning) if p >= 3 else _nothing():
            bnb = sr.rough_pvar(x, p, lift=lift)
            dp = sr.rough_pvar(x, p, lift=lift, method="dp")
    assert bnb.level2_power == pytest.approx(dp.level2_power, rel=1e-11, abs=1e-300)


@pytest.mark.parametrize("a", [1.0, 1 / 1.1, 0.8, 1 / 1.4, 0.5, 1 / 3, 0.02])
def test_root_lower_bounds_the_root_from_below_and_closely(rng, a):
    # every pruning threshold is _root_lower(gap, 1/q): it must never exceed gap^(1/q) (a
    # larger threshold would prune a candidate that improves the value), and it should stay
    # within 2e-6 of it; random gaps over the tabulated exponents, the table's sub-interval
    # ends 1 + i/32 and the neighbours of powers of two
    table = kernels.root_tables(np.array([1.0 / a]))[0]
    sub = [np.ldexp(1.0 + i / 32, e) for i in range(32) for e in (-512, -3, 0, 1, 511)]
    edges = [np.nextafter(np.ldexp(1.0, e), s) for e in (-511, -1, 0, 1) for s in (0.0, np.inf)]
    edges += [np.ldexp(1.0, -512), np.nextafter(np.ldexp(1.0, 512), 0.0)]
    count = 2000 if JIT else 300
    for g in np.concatenate([np.exp(rng.uniform(-350.0, 350.0, count)), sub, edges]):
        low = kernels._root_lower(g, a, table)
        ref = g**a
        assert low <= ref * (1 - 1e-13)
        assert low >= ref * (1 - 2e-6)


def test_root_lower_falls_back_to_the_power_where_the_table_does_not_apply():
    table = kernels.root_tables(np.array([1.25]))[0]
    for g in (5e-324, 2.0**-600, 2.0**-513, 2.0**512, 1e300, np.inf):
        assert kernels._root_lower(g, 0.8, table) == g**0.8
    assert kernels._root_lower(3.0, 1.25, kernels.root_tables(np.array([0.8]))[0]) == 3.0**1.25  # a > 1


# ------------------------------------------------------------------ the trap (math.md 4.2)


def triangle_pruned_level2(x, p, lift="iterated"):
    """The WRONG method (counterexample only): level-1 style pruning of |XX| as if it were a
    metric, bound max_{m in B} |XX_{m,b}| + |XX_{b,j}|, dyadic blocks, skip if <= best."""
    n = len(x)
    q = p / 2
    w = {(i, j): naive.norm(naive.level2_brute(x, i, j, lift)) for i in range(n) for j in range(i + 1, n)}
    w.update({(i, i): 0.0 for i in range(n)})
    pv = np.zeros(n)
    for j in range(1, n):
        best = pv[j - 1] + w[j - 1, j] ** q
        e = j - 1
        while e > 0:
            size = e & -e
            stack = [(e - size, size)]
            while stack:
                s, z = stack.pop()
                b = s + z - 1
                if z == 1:
                    best = max(best, pv[b] + w[b, j] ** q)
                    continue
                radius = max(w[m, b] for m in range(s, b + 1))
                if pv[b] + (radius + w[b, j]) ** q <= best:
                    continue
                stack += [(s, z // 2), (s + z // 2, z // 2)]
            e -= size
        pv[j] = best
    return pv[-1]


def test_triangle_inequality_pruning_would_underestimate_but_we_do_not():
    # two steps east then one north: |XX_{1,3}| = 1 and XX_{0,1} = 0, yet
    # XX_{0,3} = e1(x)e1 + 2 e1(x)e2 has norm sqrt(5): |XX| violates the triangle inequality
    x = np.array([[0.0, 0.0], [1.0, 0.0], [2.0, 0.0], [2.0, 1.0]])
    p = 2.5
    truth = naive.pvar_level2_brute(x, p)
    assert truth == pytest.approx(5 ** (p / 4))
    wrong = triangle_pruned_level2(x, p)
    assert wrong < 0.5 * truth  # the trap: a much too small value
    assert level2_power(x, p) == pytest.approx(truth, rel=1e-12)


def test_triangle_pruning_fails_often_on_random_paths_ours_never(rng):
    failures = 0
    for _ in range(40):
        x = naive.sample_path(rng, 9, 2, "walk")
        truth = naive.pvar_level2_brute(x, 2.5)
        failures += triangle_pruned_level2(x, 2.5) < truth * (1 - 1e-9)
        assert level2_power(x, 2.5) == pytest.approx(truth, rel=1e-9)
    assert failures > 0


# ------------------------------------------------------------------ result fields


def test_result_fields_and_sequence_of_p(rng):
    x = naive.sample_path(rng, 30, 3, "walk")
    ps = [1.5, 2.0, 2.5]
    results = sr.rough_pvar(x, ps)
    assert isinstance(results, sr.RoughResult) and len(results) == 3
    for p, r in zip(ps, results):
        one = sr.rough_pvar(x, p)
        assert isinstance(one, sr.RoughResult)
        assert r == one
        assert r.p == p and r.lift == "iterated" and r.route == "direct"
        assert r.level1 == pytest.approx(r.level1_power ** (1 / p))
        assert r.level2 == pytest.approx(r.level2_power ** (2 / p))
        assert r.norm == pytest.approx(r.level1 + np.sqrt(r.level2))
        assert r.omega == pytest.approx(r.level1_power + r.level2_power)
        assert r.partition1[0] == 0 and r.partition1[-1] == 29
        assert naive.partition_sum(x, p, r.partition1) == pytest.approx(r.level1_power)
        assert r.projection is None
    with pytest.raises(dataclasses_frozen_error()):
        results[0].p = 3.0


def dataclasses_frozen_error():
    import dataclasses

    return dataclasses.FrozenInstanceError


def test_regime_and_warning(rng):
    x = naive.sample_path(rng, 10, 2, "walk")
    assert sr.rough_pvar(x, 1.5).regime == "young"
    assert sr.rough_pvar(x, 2.0).regime == "rough"
    assert sr.rough_pvar(x, 2.99).regime == "rough"
    with pytest.warns(RoughRegimeWarning, match="level"):
        r = sr.rough_pvar(x, 3.0)
    assert r.regime == "beyond"
    assert issubclass(RoughRegimeWarning, UserWarning)


def test_one_point_and_two_points():
    r = sr.rough_pvar(np.zeros((1, 3)), 2.5)
    assert (r.level1, r.level2, r.norm, r.partition1.tolist(), r.partition2.tolist()) == (0.0, 0.0, 0.0, [0], [0])
    x = np.array([[0.0, 0.0], [3.0, 4.0]])
    r = sr.rough_pvar(x, 2.5)
    assert r.level1 == pytest.approx(5.0) and r.level2 == 0.0  # iterated: one step has XX = 0
    g = sr.rough_pvar(x, 2.5, lift="geometric")
    assert g.level2 == pytest.approx(12.5)  # |a (x) a| / 2 = 25 / 2


def test_invariances(rng):
    x = naive.sample_path(rng, 40, 3, "walk")
    base = sr.rough_pvar(x, 2.5)
    assert sr.rough_pvar(x + 7.0, 2.5).level2 == pytest.approx(base.level2, rel=1e-10)
    # scaling: XX scales like c^2, so level2 like c^2 and the norm like c
    assert sr.rough_pvar(3 * x, 2.5).norm == pytest.approx(3 * base.norm, rel=1e-10)
    # huge and tiny paths, large p: no overflow in the norms (powers may legitimately be inf)
    for c in (1e150, 1e-150):
        for route in ("direct", "gram"):
            scaled = sr.rough_pvar(c * x, 2.5, route=route)
            assert scaled.level2 == pytest.approx(c**2 * base.level2, rel=1e-10)
            assert scaled.level1 == pytest.approx(c * base.level1, rel=1e-10)
    with pytest.warns(RoughRegimeWarning):
        big = sr.rough_pvar(1e3 * x, 300.0)
        ref = sr.rough_pvar(x, 300.0)
    assert np.isfinite(big.level2) and big.level2 == pytest.approx(1e6 * ref.level2, rel=1e-10)
    assert big.level1 == pytest.approx(1e3 * ref.level1, rel=1e-10)
    # float32 and integer input are accepted (computed in float64)
    xi = np.cumsum(rng.integers(-2, 3, size=(20, 2)), axis=0)
    assert sr.rough_pvar(xi, 2.5).level2 == pytest.approx(sr.rough_pvar(xi.astype(float), 2.5).level2)


# ------------------------------------------------------------------ distance


@pytest.mark.parametrize("lift", sr.LIFTS)
def test_distance_against_brute_force(rng, lift):
    for _ in range(15):
        n = int(rng.integers(2, 9))
        x = naive.sample_path(rng, n, 2, "walk")
        y = naive.sample_path(rng, n, 2, "walk")
        for p in (2.0, 2.5):
            r = sr.rough_distance(x, y, p, lift=lift)
            v2 = naive.pvar_level2_brute(x, p, lift, y=y)
            v1 = naive.pvar_brute(x - y, p)
            assert isinstance(r, sr.RoughDistanceResult)
            assert r.level2_power == pytest.approx(v2, rel=1e-9, abs=1e-12)
            assert r.level1_power == pytest.approx(v1, rel=1e-9, abs=1e-12)
            assert r.rho == pytest.approx(v1 ** (1 / p) + v2 ** (2 / p), rel=1e-9, abs=1e-12)
            assert naive.level2_partition_sum(x, p, r.partition2, lift, y=y) == pytest.approx(
                v2, rel=1e-9, abs=1e-12
            )


def test_distance_bnb_equals_dp_longer(rng):
    x = naive.sample_path(rng, 300, 3, "walk") / 10
    y = x + naive.sample_path(rng, 300, 3, "walk") / 100
    for lift in sr.LIFTS:
        for p in (2.0, 2.7):
            bnb = sr.rough_distance(x, y, p, lift=lift).level2_power
            dp = sr.rough_distance(x, y, p, lift=lift, method="dp").level2_power
            assert bnb == pytest.approx(dp, rel=1e-12)


@pytest.mark.parametrize("lift", sr.LIFTS)
def test_distance_bnb_equals_dp_where_the_expansion_bound_cancels(rng, lift):
    # the two-path block bound expands |Y + Z + W|^2 (W = y_{m,b} (x) Delta x_{b,j}) and its
    # cross terms may subtract: circles against spirals, a path against its own small
    # perturbation, independent walks, one path constant (then y = 0 or Delta x = 0), d = 1,
    # float32, integer ties, identical paths and 1-2 points; values must be identical to the
    # DP's (80 points as plain Python: the O(N^2) DP reference is slow there)
    n = 600 if JIT else 80
    t = np.linspace(0.0, 12 * np.pi, n)
    circle = np.column_stack([np.cos(t), np.sin(t), 0.1 * t])
    spiral = np.column_stack([t * np.cos(t), -t * np.sin(t), np.cos(3 * t)]) / 10
    walk = naive.sample_path(rng, n, 3, "walk")
    ties = np.cumsum(rng.integers(-1, 2, size=(2 * n // 3, 2)), axis=0).astype(float)
    pairs = [
        (circle, spiral),
        (walk, walk + 0.05 * naive.sample_path(rng, n, 3, "walk")),
        (walk, naive.sample_path(rng, n, 3, "walk")),
        (walk, np.ones_like(walk)),
        (np.zeros_like(walk), walk),
        (naive.sample_path(rng, n, 1, "walk"), naive.sample_path(rng, n, 1, "walk")),
        (walk.astype(np.float32), (walk + naive.sample_path(rng, n, 3, "walk")).astype(np.float32)),
        (ties, np.cumsum(rng.integers(-1, 2, size=ties.shape), axis=0).astype(float)),
        (walk, walk),
        (np.zeros((1, 2)), np.ones((1, 2))),
        (np.array([[0.0, 0.0], [1.0, 2.0]]), np.array([[0.0, 1.0], [-1.0, 0.5]])),
    ]
    for x, y in pairs:
        for p in (2.2, 2.5, 2.8):
            bnb = sr.rough_distance(x, y, p, lift=lift, n_jobs=1)
            dp = sr.rough_distance(x, y, p, lift=lift, method="dp", n_jobs=1)
            assert bnb.level2_power == dp.level2_power
        if len(x) <= 150:  # the partition found reproduces the value (naive sums are slow)
            assert naive.level2_partition_sum(x, p, bnb.partition2, lift, y=y) == pytest.approx(
                dp.level2_power, rel=1e-9, abs=1e-12
            )


def test_distance_zero_and_symmetry(rng):
    x = naive.sample_path(rng, 50, 2, "walk")
    y = naive.sample_path(rng, 50, 2, "walk")
    assert sr.rough_distance(x, x, 2.5).rho == 0.0
    d1 = sr.rough_distance(x, y, [2.2, 2.5])
    d2 = sr.rough_distance(y, x, [2.2, 2.5])
    for a, b in zip(d1, d2):
        assert a.rho == pytest.approx(b.rho, rel=1e-10)
        assert a.level2 == pytest.approx(b.level2, rel=1e-10)
    # the distance to the zero path is the inhomogeneous size of X
    r = sr.rough_pvar(x, 2.5)
    z = sr.rough_distance(x, np.zeros_like(x), 2.5)
    assert z.level2 == pytest.approx(r.level2, rel=1e-10)
    assert z.rho == pytest.approx(r.level1 + r.level2, rel=1e-10)


def test_distance_weight_sequences(rng):
    w1 = rng.standard_normal((7, 2, 2))
    w2 = rng.standard_normal((7, 2, 2))
    r = sr.rough_distance(w1, w2, 2.5)
    assert r.convention == "increments"
    px = np.vstack([np.zeros((1, 4)), np.cumsum(w1.reshape(7, 4), axis=0)])
    py = np.vstack([np.zeros((1, 4)), np.cumsum(w2.reshape(7, 4), axis=0)])
    assert r.level2_power == pytest.approx(naive.pvar_level2_brute(px, 2.5, y=py), rel=1e-9)


# ------------------------------------------------------------------ bad input


def test_bad_input(rng):
    x = naive.sample_path(rng, 10, 2, "walk")
    with pytest.raises(ValueError, match="p"):
        sr.rough_pvar(x, 0.5)
    with pytest.raises(ValueError, match="p"):
        sr.rough_pvar(x, float("nan"))
    with pytest.raises(ValueError, match="lift"):
        sr.rough_pvar(x, 2.5, lift="ito")
    with pytest.raises(ValueError, match="route"):
        sr.rough_pvar(x, 2.5, route="fast")
    with pytest.raises(ValueError, match="method"):
        sr.rough_pvar(x, 2.5, method="magic")
    with pytest.raises(ValueError, match="convention"):
        sr.rough_pvar(x, 2.5, convention="cumulative")
    with pytest.raises(ValueError, match="memory_budget"):
        sr.rough_pvar(x, 2.5, memory_budget=-1)
    bad = x.copy()
    bad[3, 1] = np.nan
    with pytest.raises(ValueError, match="x contains NaN"):
        sr.rough_pvar(bad, 2.5)
    with pytest.raises(ValueError, match="empty"):
        sr.rough_pvar(np.zeros((0, 2)), 2.5)
    with pytest.raises(ValueError, match="ragged"):
        sr.rough_pvar([[0.0, 1.0], [2.0]], 2.5)
    with pytest.raises(ValueError, match="equal lengths"):
        sr.rough_distance(x, x[:-1], 2.5)
    with pytest.raises(ValueError, match="equal lengths"):
        sr.rough_distance(x, np.zeros((10, 3)), 2.5)
    with pytest.raises(ValueError, match="layer"):  # same D = 4, different layer shapes
        sr.rough_distance(np.ones((5, 2, 2)), np.ones((5, 1, 4)), 2.5)
    inf = x.copy()
    inf[0, 0] = np.inf
    with pytest.raises(ValueError, match="y contains NaN or inf"):
        sr.rough_distance(x, inf, 2.5)
    with pytest.raises(ValueError, match="projection"):
        sr.rough_distance(x, x, 2.5, route="projection")


# ------------------------------------------------------------------ the two behaviours


def test_brownian_weights_rough_norm_stays_bounded_while_one_variation_grows():
    # math.md 4 and 7: increments convention, Brownian-scaled weights (width 2, D = 4, so the
    # direct route applies up to L = 4096)
    depths = (64, 256, 1024, 4096)
    v1, norms = [], []
    for L in depths:
        w = sr.brownian_weights(L, 2, seed=L)
        v1.append(sr.rough_pvar(w, 1.0).level1)
        norms.append(sr.rough_pvar(w, 2.5).norm)
    v1, norms = np.array(v1), np.array(norms)
    # 1-variation ~ sqrt(L): a factor 4 in depth doubles it (within 20%)
    np.testing.assert_allclose(v1[1:] / v1[:-1], 2.0, rtol=0.2)
    # |||X|||_2.5 stays in a constant band (no growth with L)
    assert norms.max() / norms.min() < 2.0, norms  # while V_1 grew 8x


def test_alternating_weights_level2_sees_what_level1_misses():
    # W_k = (-1)^k L^(-1/2) M: the level-1 2.5-variation tends to 0, level 2 does not
    m = np.array([[1.0, 0.5], [-0.3, 0.8]])
    m /= np.linalg.norm(m)
    l1, l2 = [], []
    for L in (64, 256, 1024, 4096):
        w = ((-1.0) ** np.arange(L))[:, None, None] * m / np.sqrt(L)
        r = sr.rough_pvar(w, 2.5)
        l1.append(r.level1)
        l2.append(r.level2)
    l1, l2 = np.array(l1), np.array(l2)
    slope = np.polyfit(np.log([64, 256, 1024, 4096]), np.log(l1), 1)[0]
    assert np.all(np.diff(l1) < 0) and -0.15 < slope < -0.05, (l1, slope)  # ~ L^(-1/10)
    # XX_{0,L} ~ -(M (x) M) / 2 with |M (x) M| = 1: level 2 stays near 1/2 or above
    assert np.all(l2 > 0.45) and l2.max() / l2.min() < 1.2


# ------------------------------------------------------------------ routes


@pytest.mark.parametrize("lift", sr.LIFTS)
@pytest.mark.parametrize("convention", ["increments", "values"])
def test_gram_route_equals_direct_route(rng, lift, convention):
    w = rng.standard_normal((40, 3, 3)) / np.sqrt(40)
    ps = [1.5, 2.2, 2.5, 2.9]
    direct = sr.rough_pvar(w, ps, lift=lift, convention=convention, route="direct")
    gram = sr.rough_pvar(w, ps, lift=lift, convention=convention, route="gram")
    for a, b in zip(direct, gram):
        assert (a.route, b.route) == ("direct", "gram")
        assert b.level1_power == pytest.approx(a.level1_power, rel=1e-10)
        assert b.level2_power == pytest.approx(a.level2_power, rel=1e-10)
        assert b.norm == pytest.approx(a.norm, rel=1e-10)
    # a path given as points goes through the Gram matrix of its increments
    x = naive.sample_path(rng, 25, 4, "walk")
    a = sr.rough_pvar(x, 2.5, lift=lift, route="direct")
    b = sr.rough_pvar(x, 2.5, lift=lift, route="gram")
    assert b.level2_power == pytest.approx(a.level2_power, rel=1e-10)
    assert b.level1_power == pytest.approx(a.level1_power, rel=1e-10)


@pytest.mark.parametrize("lift", sr.LIFTS)
def test_gram_route_distance_equals_direct(rng, lift):
    wx = rng.standard_normal((30, 2, 3))
    wy = wx + 0.1 * rng.standard_normal((30, 2, 3))
    for convention in ("increments", "values"):
        a = sr.rough_distance(wx, wy, 2.5, lift=lift, convention=convention, route="direct")
        b = sr.rough_distance(wx, wy, 2.5, lift=lift, convention=convention, route="gram")
        assert b.level1_power == pytest.approx(a.level1_power, rel=1e-10)
        assert b.level2_power == pytest.approx(a.level2_power, rel=1e-10)


def test_auto_route_follows_the_memory_budget(rng):
    w = rng.standard_normal((20, 4, 4))  # N = 21, D = 16: 8 N D^2 = 43008 bytes
    assert sr.rough_pvar(w, 2.5).route == "direct"
    small = sr.rough_pvar(w, 2.5, memory_budget=40000)
    assert small.route == "gram"
    assert small.level2 == pytest.approx(sr.rough_pvar(w, 2.5).level2, rel=1e-10)
    assert sr.rough_distance(w, w[::-1], 2.5, memory_budget=40000).route == "gram"
    # one point: nothing to vary on either route
    assert sr.rough_pvar(np.ones((1, 3)), 2.5, route="gram").norm == 0.0


def test_projection_only_on_request_and_recorded(rng):
    w = rng.standard_normal((30, 6, 6)) / np.sqrt(30)
    exact = sr.rough_pvar(w, 2.5)
    assert exact.projection is None and exact.route == "direct"
    approx = sr.rough_pvar(w, 2.5, route="projection", projection_dim=24, seed=11)
    assert approx.route == "projection"
    assert approx.projection["seed"] == 11 and approx.projection["dim"] == 24
    assert 0 <= approx.projection["distortion"] < 1
    assert approx == sr.rough_pvar(w, 2.5, route="projection", projection_dim=24, seed=11)
    assert approx.level1 == pytest.approx(exact.level1, rel=0.5)
    with pytest.raises(ValueError, match="projection_dim"):
        sr.rough_pvar(w, 2.5, route="projection", seed=1)
    with pytest.raises(ValueError, match="seed"):
        sr.rough_pvar(w, 2.5, route="projection", projection_dim=4)


def test_branch_and_bound_prunes(rng):
    # an algorithmic property, not a timing: on a Brownian path the Chen bounds skip most of
    # the N^2 / 2 candidate intervals
    n = 2000
    x = np.vstack([np.zeros((1, 3)), np.cumsum(rng.standard_normal((n - 1, 3)), axis=0)]) / np.sqrt(n)
    xs = np.ascontiguousarray(x)
    p2 = np.empty((n, 9))
    scale = kernels.level2_prefix(xs, p2, False)
    pv, _, evals = kernels.level2_pvar_bnb(
        p2, xs, xs, False, False, np.array([1.25]), kernels.TOL_FACTOR * scale
    )
    assert pv[0, -1] > 0  # (exactness against the DP: test_bnb_equals_dp_on_...)
    assert evals < 0.1 * n * n / 2


@pytest.mark.skipif(
    os.environ.get("NUMBA_DISABLE_JIT", "0") == "1",
    reason="width-16 layers (D = 256) are too slow as plain Python; logic covered at small D",
)
def test_brownian_width_16_through_the_auto_route():
    # the library's default Brownian weights (16 x 16 layers, D = 256): "auto" takes the Gram
    # route (N * D^2 work per point of the direct route exceeds the Gram route's N^3)
    routes, v1, norms = [], [], []
    for L in (64, 256, 1024):
        w = sr.brownian_weights(L, 16, seed=L)
        r1, r = sr.rough_pvar(w, [1.0, 2.5])
        routes.append(r.route)
        v1.append(r1.level1)
        norms.append(r.norm)
    assert routes == ["gram", "gram", "gram"]
    np.testing.assert_allclose(np.diff(np.log(v1)) / np.log(4), 0.5, atol=0.05)  # ~ sqrt(L)
    assert max(norms) / min(norms) < 1.5, norms
