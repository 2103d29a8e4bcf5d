"""relu1d.testing.kinks: the activation pattern and pre-activations it takes from relu1d.predict, the
kinks it finds along a line, and away_from_kinks."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import reference as ref
import relu1d
from relu1d.testing import away_from_kinks, problems
from relu1d.testing.kinks import KinkMap, analyse_line, preactivations

RNG = np.random.default_rng(42)
X = RNG.uniform(-1, 1, 30)
THETA = relu1d.init_params(4, rng=7)


@given(problems(max_n=25, max_width=6))
def test_pattern_and_preactivations_are_the_packages(problem):
    """z from relu1d.predict equals the tests' independent reference bit for bit, and the map's
    interval pattern (and its prefix-sum products) equal the dense ones."""
    x, _, theta = problem
    km = KinkMap(x, theta)
    Z, A = ref.preactivations(km.xs, theta)
    np.testing.assert_array_equal(preactivations(km.xs, theta), Z)
    np.testing.assert_array_equal(km.dense(), A)
    z_ref = ref.preactivations(km.xu[km.rows], theta)[0]
    np.testing.assert_array_equal(km.z, z_ref[np.arange(km.rows.size), km.cols])
    c = np.arange(1.0, A.shape[1] + 1)
    r = np.linspace(-1, 2, A.shape[0])
    np.testing.assert_allclose(km.active_times(c), A @ c, rtol=1e-14, atol=1e-14 * c.sum())
    np.testing.assert_allclose(km.active_sums(r), A.T @ r, rtol=1e-14, atol=1e-13 * np.abs(r).sum())


@given(problems(max_n=25, max_width=6), st.integers(0, 2**32 - 1))
def test_nearest_kinks_match_a_brute_force_search(problem, seed):
    """The candidate pairs give the same nearest kink on either side, and the same margin, as every
    pair would (a map whose window covers all points)."""
    x, _, theta = problem
    m = (theta.size - 1) // 3
    u = np.random.default_rng(seed).standard_normal(theta.size)
    relevant = np.ones(m, dtype=bool)
    fast = analyse_line(KinkMap(x, theta), theta, u, relevant, cap=10.0)
    full = analyse_line(KinkMap(x, theta, window=x.size + 1), theta, u, relevant, cap=10.0)
    assert fast.limits == full.limits and fast.min_margin == full.min_margin
    assert (fast.scheme, fast.h) == (full.scheme, full.h)
    # and the limits are the real crossing times, up to the rounding slack
    w, b = theta[:m], theta[m:2 * m]
    z = np.multiply.outer(x, w) + b
    s = np.multiply.outer(x, u[:m]) + u[m:2 * m]
    with np.errstate(divide="ignore", invalid="ignore"):
        t = np.where((s != 0) & (z != 0), -z / s, np.nan)
    forward = np.nanmin(np.where(t > 0, t, np.nan), initial=np.inf)
    assert fast.limits[1] <= forward * (1 + 1e-9)


def test_analyse_line_on_a_small_example():
    x = np.array([-1.0, 0.0, 1.0, 2.0])
    theta = relu1d.pack([1.0], [-0.5], [1.0], 0.0)  # knot at 0.5: z = -1.5, -0.5, 0.5, 1.5
    km = KinkMap(x, theta)
    e_b = np.array([0.0, 1.0, 0.0, 0.0])  # z + t: x = 0 crosses at t = 0.5, x = -1 at 1.5; backward x = 1 at -0.5
    line = analyse_line(km, theta, e_b, np.ones(1, dtype=bool), cap=10.0)
    assert line.limits[0] == pytest.approx(0.5, rel=1e-12) and line.limits[1] == pytest.approx(0.5, rel=1e-12)
    # h: half the reach 0.5 * 0.5 less the rounding slack, rounded down to a power of two
    assert line.scheme == "central" and line.h == 0.0625 and line.reach == 0.125
    tied = relu1d.pack([1.0], [-1.0], [1.0], 0.0)  # knot on x = 1
    line = analyse_line(KinkMap(x, tied), tied, e_b, np.ones(1, dtype=bool), cap=10.0)
    assert line.scheme == "backward" and line.limits == (pytest.approx(1.0, rel=1e-12), 0.0)
    assert line.crossings == ((0, 1.0),)


# ------------------------------------------------------------------------------------------------
# away_from_kinks


def dense_preactivations(x, theta):
    return ref.preactivations(np.asarray(x, dtype=float), theta)[0]


    m = (theta.size - 1) // 3
    return np.multiply.outer(np.asarray(x, dtype=float), theta[:m]) + theta[m:2 * m]


@given(problems(max_n=25, max_width=6), st.sampled_from([1e-6, 1e-3, 0.1]))
def test_away_from_kinks(problem, margin):
    x, y, theta = problem
    moved = away_from_kinks(x, theta, margin)
    m = (theta.size - 1) // 3
    assert np.abs(dense_preactivations(x, moved)).min() >= margin
    np.testing.assert_array_equal(np.delete(moved, np.s_[m:2 * m]), np.delete(theta, np.s_[m:2 * m]))
    already = np.abs(dense_preactivations(x, theta)).min(axis=0) >= margin
    np.testing.assert_array_equal(moved[m:2 * m][already], theta[m:2 * m][already])
    np.testing.assert_array_equal(away_from_kinks(x, moved, margin), moved)  # idempotent
    np.testing.assert_array_equal(away_from_kinks(relu1d.Objective(x, y), theta, margin), moved)
    # minimal: no feasible bias (brute force over the end points -fl(w x_i) +- margin) is nearer
    for k in np.flatnonzero(~already):
        p = np.unique(x * theta[k])
        cand = np.concatenate([-p - margin, -p + margin])
        feasible = [c for c in cand if np.abs(p + c).min() >= margin * (1 - 1e-9)]
        best = min(abs(c - theta[m + k]) for c in feasible)
        assert abs(moved[m + k] - theta[m + k]) <= best + 1e-9 * margin + 8 * np.spacing(np.abs(p).max() + margin)


def test_away_from_kinks_examples():
    x = np.array([0.0, 1.0, 2.0])
    theta = relu1d.pack([1.0, 0.0, 0.0], [-1.0, 0.0, 0.3], [1.0, 1.0, 1.0], 0.0)
    moved = away_from_kinks(x, theta, 0.4)
    w, b, _, _ = relu1d.unpack(moved)
    # knot at 1: |x + b| >= 0.4 at x = 0, 1, 2 for b <= -2.4, -1.6 <= b <= -1.4 or b >= 0.4
    assert b[0] == pytest.approx(-1.4, rel=1e-9)
    assert b[1] == pytest.approx(-0.4)  # w = 0, b = 0 (inactive) -> stays inactive
    assert b[2] == pytest.approx(0.4)  # w = 0, b = 0.3 (active) -> stays active


@pytest.mark.parametrize(
    ("args", "error", "match"),
    [
        ((X, THETA, 0.0), ValueError, r"^margin: must be > 0"),
        ((X, THETA, -1.0), ValueError, r"^margin: must be > 0"),
        ((X, THETA, "far"), TypeError, r"^margin: expected a real number"),
        ((X, THETA[:5], 0.1), ValueError, r"^theta: length must be 3\*m\+1"),
        ((42, THETA, 0.1), TypeError, r"^objective_or_x: expected a relu1d.Objective"),
        (([np.nan], THETA, 0.1), ValueError, r"^objective_or_x: contains NaN"),
    ],
)
def test_away_from_kinks_bad_arguments(args, error, match):
    with pytest.raises(error, match=match):
        away_from_kinks(*args)


