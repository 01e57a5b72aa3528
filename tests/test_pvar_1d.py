"""The near-linear exact 1-d p-variation kernel against brute force, the DP and the oracles."""

import itertools

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from naive import partition_sum, pvar_brute, pvar_brute_1d, pvar_dp, pvar_dp_1d

import streamrough as sr
from streamrough._kernels._jit import jit
from streamrough._kernels.pvar_1d import BLOCK, _best_join, pvar_power_1d

P_VALUES = [1.0, 1.0001, 1.01, 1.3, 1.5, 2.0, 2.5, 3.0, 7.0]
RTOL = 1e-12


def run(x, p):
    """Call the kernel; check the partition is valid and reproduces the value."""
    x = np.ascontiguousarray(x, dtype=np.float64)
    power, part = pvar_power_1d(x, float(p), True)
    assert isinstance(power, float)
    assert part.dtype == np.int64 and part.ndim == 1
    assert part[0] == 0 and part[-1] == len(x) - 1
    assert np.all(np.diff(part) > 0)
    if len(x) > 1:
        assert len(part) >= 2
        assert partition_sum(x, p, part) == pytest.approx(power, rel=RTOL, abs=0)
    else:
        assert power == 0.0 and part.tolist() == [0]
    return power


def check(x, p, expected):
    assert run(x, p) == pytest.approx(expected, rel=RTOL, abs=0)


def random_path(rng, n):
    """One of several families, chosen to stress ties, plateaus, long merges and scales."""
    kind = rng.integers(9)
    if kind == 0:
        return rng.standard_normal(n)
    if kind == 1:  # small integers: many ties, plateaus and repeated points
        return rng.integers(0, 4, n).astype(float)
    if kind == 2:
        return rng.integers(-3, 4, n) * 0.5
    if kind == 3:
        return np.cumsum(rng.standard_normal(n)) / np.sqrt(n)
    if kind == 4:  # heavy tails: a few huge jumps among many small ones
        steps = rng.standard_cauchy(n)
        return np.cumsum(steps) / (np.abs(steps).max() + 1.0)
    if kind == 5:  # monotone runs with plateaus, joined at random turning points
        steps = np.abs(rng.standard_normal(n)) * (rng.random(n) < 0.8)
        signs = np.where(np.cumsum(rng.random(n) < 0.2) % 2 == 0, 1.0, -1.0)
        return np.cumsum(steps * signs)
    if kind == 6:  # zigzag with growing or decaying amplitude
        k = np.arange(n)
        amp = (1.0 + k) ** rng.uniform(-1.0, 1.0)
        return (-1.0) ** k * amp + rng.uniform(-0.1, 0.1) * k
    if kind == 7:  # oscillation around a drift: forces joins that skip many points
        k = np.arange(n)
        return rng.uniform(-0.5, 0.5) * k / n + 0.1 * (-1.0) ** k * rng.random(n)
    # self-similar zigzag: a coarse zigzag with finer ones on top
    k = np.arange(n)
    return sum((-1.0) ** (k // 2**s) * 2.0 ** (-s * rng.uniform(0.3, 1.0)) for s in range(4))


# ---------------------------------------------------------------------------------------
# oracles of math.md section 9 (one dimension)


@pytest.mark.parametrize("p", P_VALUES)
def test_one_point(p):
    check([3.5], p, 0.0)


@pytest.mark.parametrize("p", P_VALUES)
def test_two_points(p):
    check([0.25, -1.5], p, 1.75**p)
    check([2.0, 2.0], p, 0.0)


@pytest.mark.parametrize("p", P_VALUES)
def test_constant(p):
    x = np.full(7, 1.25)
    assert run(x, p) == 0.0
    assert pvar_power_1d(x, float(p), True)[1].tolist() == [0, 6]


@pytest.mark.parametrize("p", P_VALUES)
def test_monotone(p, rng):
    steps = np.abs(rng.standard_normal(50)) * (rng.random(50) < 0.7)  # with plateaus
    x = np.concatenate([[0.3], 0.3 + np.cumsum(steps)])
    check(x, p, (x[-1] - x[0]) ** p)
    check(x[::-1], p, (x[-1] - x[0]) ** p)
    power, part = pvar_power_1d(x, float(p), True)
    assert part.tolist() == [0, len(x) - 1]


@pytest.mark.parametrize("p", P_VALUES)
@pytest.mark.parametrize("n", [1, 2, 3, 4, 5, 8, 33, 200])
def test_zigzag(p, n):
    x = np.arange(n + 1) % 2.0
    check(x, p, float(n))
    check(0.75 * x - 2.0, p, n * 0.75**p)


@pytest.mark.parametrize("p", P_VALUES)
@pytest.mark.parametrize("r", [1, 2, 3, 10, 50])
def test_repeated_0114(p, r):
    check(np.tile([0.0, 1.0, 1.0, 4.0], r), p, 4.0**p * (2 * r - 1))


@pytest.mark.parametrize("p", P_VALUES)
@pytest.mark.parametrize("k", [1, 2, 3, 7, 40])
def test_sine(p, k):
    m = 4 * k * 5  # a grid containing every extremum
    x = np.sin(2 * np.pi * k * np.arange(m + 1) / m)
    check(x, p, 2.0 + (2 * k - 1) * 2.0**p)


@pytest.mark.parametrize("k", [1, 2, 5, 100, 1000])
def test_line_p2(k):
    check(np.arange(k + 1.0), 2.0, float(k) ** 2)


def test_p1_is_total_variation(rng):
    for _ in range(20):
        x = random_path(rng, int(rng.integers(2, 300)))
        check(x, 1.0, np.abs(np.diff(x)).sum())


def test_inequalities(rng):
    """math.md 9.9: the largest jump <= V_p <= V_1^p, finest sum <= V_p, norm decreasing in p."""
    for _ in range(30):
        x = random_path(rng, int(rng.integers(2, 100)))
        norms = []
        for p in P_VALUES:
            power = run(x, p)
            jump = np.abs(x[:, None] - x[None, :]).max() ** p
            assert power >= jump * (1 - RTOL)
            assert power >= (np.abs(np.diff(x)) ** p).sum() * (1 - RTOL)
            assert power <= np.abs(np.diff(x)).sum() ** p * (1 + RTOL)
            norms.append(power ** (1 / p))
        assert all(a >= b * (1 - RTOL) for a, b in itertools.pairwise(norms))


# ---------------------------------------------------------------------------------------
# against the references


def test_naive_1d_helpers_agree_with_general_references(rng):
    """The float-only 1-d references are the general ones specialised (tie them together)."""
    for n in [1, 2, 5, 9]:
        x = random_path(rng, n)
        for p in [1.0, 1.5, 3.0]:
            brute = pvar_brute(x, p)
            assert pvar_brute_1d(x, p) == pytest.approx(brute, rel=RTOL)
            assert pvar_dp_1d(x, p)[-1] == pytest.approx(brute, rel=RTOL)
            assert pvar_dp(x, p)[0][-1] == pytest.approx(brute, rel=RTOL)


# many random paths: the README's command runs a quarter of them, CI's slow step all
PATH_COUNTS = [0.25, pytest.param(1.0, marks=pytest.mark.slow)]


@pytest.mark.parametrize("share", PATH_COUNTS)
def test_against_brute_force(rng, share):
    """Every partition enumerated, N <= 12, ~1200 paths x 9 values of p."""
    for _ in range(int(1200 * share)):
        x = random_path(rng, int(rng.integers(1, 13)))
        for p in P_VALUES:
            check(x, p, pvar_brute_1d(x, p))


@pytest.mark.parametrize("share", PATH_COUNTS)
def test_against_dp_small(rng, share):
    for _ in range(int(1500 * share)):
        x = random_path(rng, int(rng.integers(1, 60)))
        for p in P_VALUES:
            check(x, p, pvar_dp_1d(x, p)[-1])


def test_against_dp_medium(rng):
    for n in [100, 150, 250, 400, 600, 1000, 2000]:
        for _ in range(3 if n < 1000 else 1):
            x = random_path(rng, n)
            for p in P_VALUES:
                check(x, p, pvar_dp_1d(x, p)[-1])


@pytest.mark.parametrize("p", P_VALUES)
@pytest.mark.parametrize("amplitude", [0.003, 0.01, 0.05])
def test_against_dp_zigzag_on_a_drift(p, amplitude):
    """Long saturated zigzags whose merges have dozens of records on each side (the
    divide-and-conquer pair search), then joins that skip most points."""
    n = 1200
    k = np.arange(n)
    x = amplitude * (-1.0) ** k + k / n
    check(x, p, pvar_dp_1d(x, p)[-1])
    check(x[::-1] * (1 + k / n), p, pvar_dp_1d(x[::-1] * (1 + k / n), p)[-1])


@pytest.mark.parametrize("p", P_VALUES)
def test_against_dp_brownian(p):
    x = sr.brownian_path(2000, 1, seed=7)[:, 0]
    check(x, p, pvar_dp_1d(x, p)[-1])


@pytest.mark.slow
@pytest.mark.parametrize("p", [1.01, 1.5, 2.5])
def test_against_dp_large(p):
    x = sr.brownian_path(10_000, 1, seed=11)[:, 0]
    check(x, p, pvar_dp_1d(x, p)[-1])
    k = np.arange(6000)
    x = 0.004 * (-1.0) ** k * (1 + np.sin(k / 300.0)) + k / 6000
    check(x, p, pvar_dp_1d(x, p)[-1])


@pytest.mark.parametrize("p", [1.0, 1.5, 2.5])
def test_across_blocks(p, rng):
    """Steps 1 and 2 run block by block (from point 1): runs, plateaus and turns on the
    boundaries."""
    x = random_path(rng, 2 * BLOCK + 6)
    for cut in [BLOCK, BLOCK + 1, BLOCK + 2, 2 * BLOCK + 1]:
        # a plateau, then a run, through the boundary
        y = x.copy()
        y[cut - 2 : cut + 3] = y[cut - 2]
        check(y, p, pvar_dp_1d(y, p)[-1])
        y[cut - 2 : cut + 3] = y[cut - 2] + np.arange(5.0)
        check(y, p, pvar_dp_1d(y, p)[-1])


@pytest.mark.parametrize("p", [1.0, 1.5, 2.0, 3.0])
def test_long_zigzag_and_plateaus(p):
    """A zigzag has N turning points (more than the stack's first size: it grows), and a path
    constant over more than one block turns for the first time in a later block."""
    n = 3 * BLOCK + 5
    x = np.arange(n) % 2 * 0.5
    check(x, p, (n - 1) * 0.5**p)
    x = np.zeros(2 * BLOCK + 3)
    check(x, p, 0.0)
    x[BLOCK + 7 :] = 1.0
    x[-1] = -1.0
    power, part = pvar_power_1d(x, float(p), True)
    assert power == pytest.approx(1.0 + 2.0**p, rel=RTOL)
    assert part.tolist() == [0, BLOCK + 7, len(x) - 1]


def test_without_partition(rng):
    for _ in range(20):
        x = random_path(rng, int(rng.integers(1, 300)))
        for p in [1.0, 1.5, 3.0]:
            power, part = pvar_power_1d(x, p, False)
            assert part.shape == (0,)
            assert power == run(x, p)


def test_invariances(rng):
    """Translation, reversal, repeated points and scaling (math.md 2)."""
    for _ in range(50):
        x = random_path(rng, int(rng.integers(2, 80)))
        for p in [1.0, 1.5, 2.0, 3.0]:
            power = run(x, p)
            assert run(x + 3.0, p) == pytest.approx(power, rel=1e-10)
            assert run(x[::-1], p) == pytest.approx(power, rel=1e-10)
            assert run(np.repeat(x, rng.integers(1, 4, len(x))), p) == pytest.approx(power, rel=RTOL)
            assert run(-2.5 * x, p) == pytest.approx(2.5**p * power, rel=1e-10)


@pytest.mark.parametrize("p", P_VALUES)
def test_join_search_against_all_pairs(p, rng):
    """The divide-and-conquer search over record pairs finds the best pair of all pairs.

    Records as the merge produces them: up values increasing, down values decreasing, both
    cost sequences increasing (from 0: a record next to the merge point may cost little).
    """
    stack = np.empty((4, 64), dtype=np.int64)
    for _ in range(300):
        n_up, n_dn = rng.integers(1, 40, 2)
        y = np.concatenate([np.cumsum(rng.exponential(1.0, n_up)), -np.cumsum(rng.exponential(1.0, n_dn))])
        up_node = np.arange(n_up)
        dn_node = np.arange(n_up, n_up + n_dn)
        if rng.random() < 0.5:  # random costs
            scale = rng.choice([0.01, 1.0, 5.0])
            up_cost = np.cumsum(rng.exponential(scale, n_up) * (rng.random(n_up) < 0.7))
            dn_cost = np.cumsum(rng.exponential(scale, n_dn) * (rng.random(n_dn) < 0.7))
        else:  # costs near a multiple (>= 1, as in a merge) of jump^p to the merge point
            alpha = rng.uniform(1.0, 3.0)
            up_cost = np.maximum.accumulate(alpha * y[up_node] ** p * rng.uniform(0.8, 1.2, n_up))
            dn_cost = np.maximum.accumulate(alpha * (-y[dn_node]) ** p * rng.uniform(0.8, 1.2, n_dn))
        gains = (y[up_node][:, None] - y[dn_node][None, :]) ** p - up_cost[:, None] - dn_cost[None, :]
        expected = max(gains.max(), 0.0)
        for left_up in (True, False):
            best, u, w = _best_join(
                y, p, up_node, up_cost, n_up, dn_node, dn_cost, n_dn, 0.0, -1, -1, left_up, stack
            )
            assert best == pytest.approx(expected, rel=RTOL, abs=0)
            if expected > 0:
                up, dn = (u, w) if left_up else (w, u)
                assert gains[up, dn - n_up] == pytest.approx(expected, rel=RTOL)
            else:
                assert (u, w) == (-1, -1)


def test_callable_from_a_kernel(rng):
    @jit
    def several(x, ps, want_partition):
        out = np.empty(ps.shape[0])
        for i in range(ps.shape[0]):
            out[i] = pvar_power_1d(x, ps[i], want_partition)[0]
        return out

    x = random_path(rng, 300)
    ps = np.array(P_VALUES)
    assert several(x, ps, True) == pytest.approx([run(x, p) for p in P_VALUES], rel=RTOL)


def test_does_not_modify_input(rng):
    x = random_path(rng, 500)
    before = x.copy()
    run(x, 2.5)
    assert np.array_equal(x, before)


@given(
    st.lists(st.integers(-4, 4), min_size=1, max_size=40)
    # O(1)-scaled reals, as the kernel's callers pass them (no subnormal differences)
    | st.lists(st.floats(-10, 10).map(lambda v: round(v, 9)), min_size=1, max_size=40),
    st.sampled_from(P_VALUES) | st.floats(1.0, 8.0),
)
def test_property_against_dp(values, p):
    x = np.array(values, dtype=np.float64)
    check(x, p, pvar_dp_1d(x, p)[-1])
