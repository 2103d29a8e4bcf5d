"""relu1d.testing itself: the checkers catch wrong derivatives, report kink crossings instead of
failing, validate their arguments; away_from_kinks and the hypothesis strategies do what they say."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import Phase, find, given, settings
from hypothesis import strategies as st

import reference as ref
import relu1d
import relu1d.testing as rt
from relu1d.testing import (
    DerivativeCheck,
    assert_grad_close,
    assert_hvp_close,
    away_from_kinks,
    check_grad,
    check_hvp,
    datasets,
    networks,
    problems,
)

RNG = np.random.default_rng(42)
X = RNG.uniform(-1, 1, 30)
Y = np.cos(2 * X)
THETA = relu1d.init_params(4, rng=7)


class Wrapped:
    """A duck-typed objective whose derivatives can be deliberately corrupted."""

    def __init__(self, obj, grad=None, hvp=None):
        self.obj = obj
        self.x_sorted = obj.x_sorted
        self._grad = grad
        self._hvp = hvp

    def loss(self, theta):
        return self.obj.loss(theta)

    def grad(self, theta):
        g = self.obj.grad(theta)
        return g if self._grad is None else self._grad(theta, g)

    def hvp(self, theta, u):
        hu = self.obj.hvp(theta, u)
        return hu if self._hvp is None else self._hvp(theta, u, hu)


def test_module_exports():
    assert set(rt.__all__) == {"DerivativeCheck", "check_grad", "check_hvp", "assert_grad_close", "assert_hvp_close",
                               "away_from_kinks", "datasets", "networks", "problems"}
    for name in rt.__all__:
        assert getattr(rt, name).__doc__


# ------------------------------------------------------------------------------------------------
# Correct and wrong derivatives


@pytest.mark.parametrize("kernel", relu1d.KERNELS)
def test_correct_derivatives_pass(kernel):
    obj = relu1d.Objective(X, Y, kernel=kernel)
    report = check_grad(obj, THETA)
    assert isinstance(report, DerivativeCheck) and report.kind == "grad"
    assert report.passed and report.n_directions == 8 and report.n_checked == 8 and report.n_failed == 0
    assert report.max_abs_error < 1e-8 and report.abs_errors.shape == (8,)
    np.testing.assert_allclose(report.analytic, report.directions @ obj.grad(THETA))
    assert "PASSED" in repr(report) and "8 checked" in repr(report)
    report = check_hvp(obj, THETA, directions="unit")
    assert report.passed and report.n_directions == THETA.size and report.analytic.shape == (THETA.size, THETA.size)
    np.testing.assert_allclose(report.analytic, obj.hessian(THETA), rtol=0, atol=1e-14)  # rows = H e_j
    assert assert_grad_close(obj, THETA).passed and assert_hvp_close(obj, THETA).passed


def test_checks_are_reproducible_and_use_the_given_directions():
    obj = relu1d.Objective(X, Y)
    a, b = check_grad(obj, THETA, rng=5), check_grad(obj, THETA, rng=5)
    np.testing.assert_array_equal(a.directions, b.directions)
    np.testing.assert_allclose(np.linalg.norm(a.directions, axis=1), 1.0)
    assert check_grad(obj, THETA, directions=3).n_directions == 3
    U = np.arange(2 * THETA.size, dtype=float).reshape(2, -1)
    np.testing.assert_array_equal(check_grad(obj, THETA, directions=U).directions, U)
    one = check_hvp(obj, THETA, u=U[1])
    assert one.n_directions == 1 and np.array_equal(one.directions[0], U[1])
    np.testing.assert_allclose(one.analytic[0], obj.hvp(THETA, U[1]))


def test_wrong_gradient_fails():
    obj = Wrapped(relu1d.Objective(X, Y), grad=lambda t, g: 1.01 * g)
    report = check_grad(obj, THETA, directions=10)
    assert not report.passed and report.n_failed == 10
    assert 0.005 < report.max_rel_error < 0.02
    with pytest.raises(AssertionError, match="gradient check failed") as info:
        assert_grad_close(obj, THETA)
    assert "FAILED" in str(info.value) and "direction 0" in str(info.value)


def test_gradient_wrong_in_one_coordinate_fails_exactly_there():
    def swap(theta, g):  # dL/dw_1 and dL/db_1 exchanged
        g = g.copy()
        g[[1, 5]] = g[[5, 1]]
        return g

    report = check_grad(Wrapped(relu1d.Objective(X, Y), grad=swap), THETA, directions="unit")
    assert not report.passed
    assert set(np.flatnonzero(report.failed)) == {1, 5}


def test_wrong_hvp_fails():
    obj = relu1d.Objective(X, Y)
    report = check_hvp(Wrapped(obj, hvp=lambda t, u, hu: 1.01 * hu), THETA)
    assert not report.passed and report.n_failed == report.n_directions
    with pytest.raises(AssertionError, match="Hessian-vector product check failed"):
        assert_hvp_close(Wrapped(obj, hvp=lambda t, u, hu: 1.01 * hu), THETA)


def test_gauss_newton_instead_of_hessian_fails():
    """A classic bug: returning J^T J u / n (Gauss-Newton) and forgetting the residual term R u."""
    obj = relu1d.Objective(X, Y)

    def gauss_newton(theta, u, hu):
        return hu - ref.residual_term(X, Y, theta) @ u

    assert np.abs(ref.residual_term(X, Y, THETA)).max() > 1e-3  # not at a stationary point
    assert not check_hvp(Wrapped(obj, hvp=gauss_newton), THETA).passed


# ------------------------------------------------------------------------------------------------
# Kinks


def knot_problem():
    x = np.array([-1.0, -0.25, 0.5, 0.75, 1.0])
    y = np.array([0.5, -1.0, 2.0, 0.0, 1.0])
    theta = relu1d.pack([1.0, -0.5], [-0.5, 0.1], [2.0, 1.0], 0.25)  # knot of neuron 0 at x = 0.5 exactly
    return x, y, theta


@pytest.mark.parametrize("kernel", relu1d.KERNELS)
def test_kink_crossing_is_reported_not_failed(kernel):
    x, y, theta = knot_problem()
    m = 2
    obj = relu1d.Objective(x, y, kernel=kernel)
    for report in (check_grad(obj, theta, directions="unit"), check_hvp(obj, theta, directions="unit")):
        # moving w_0 or b_0 moves the knot of neuron 0 across x = 0.5; nothing else crosses
        assert set(np.flatnonzero(report.crossed)) == {0, m}
        assert (0, 0, 0.5) in report.crossings and (m, 0, 0.5) in report.crossings
        assert report.n_skipped_kink_crossing == 2 and report.passed
        assert report.min_margin == 0.0
        assert "crosses the data point x = 0.5" in repr(report)
        # the skip matters: the one-sided difference quotient across the kink is wrong by O(1)
        assert report.abs_errors[m] > 1e-2


def test_neuron_without_output_weight_is_no_kink_for_the_loss():
    """v_k = 0: moving the knot does not change the loss (no crossing for check_grad), but it does
    change dL/dv_k, so check_hvp reports the crossing."""
    x, y, theta = knot_problem()
    theta[4] = 0.0  # v_0 = 0
    obj = relu1d.Objective(x, y)
    g = check_grad(obj, theta, directions="unit")
    assert not g.crossed[2] and g.passed
    hv = check_hvp(obj, theta, directions="unit")
    assert hv.crossed[2] and hv.passed
    assert hv.abs_errors[2] > 1e-2  # the gradient really jumps there


def test_margin_skips_nearly_crossing_directions():
    x = np.array([0.0, 1.0, 2.0])
    y = np.zeros(3)
    theta = relu1d.pack([1.0], [-1.0 + 3e-6], [1.0], 0.0)  # z = 3e-6 at x = 1
    obj = relu1d.Objective(x, y)
    e_b = np.array([0.0, 1.0, 0.0, 0.0])
    report = check_grad(obj, theta, directions=e_b, h=1e-6)
    assert not report.crossed[0] and report.passed
    assert report.min_margin == pytest.approx(3.0, rel=1e-6)
    report = check_grad(obj, theta, directions=e_b, h=1e-6, margin=5.0)
    assert report.n_skipped_margin == 1 and report.n_checked == 0 and not report.passed
    assert "nothing was checked" in repr(report)
    assert check_grad(obj, theta, directions=e_b, h=1e-6, margin=2.0).passed
    crossing = check_grad(obj, theta, directions=e_b, h=1e-5)  # reach 1e-5 > 3e-6: crosses
    assert crossing.crossed[0] and not crossing.passed  # nothing left to check


def test_assert_fails_when_nothing_could_be_checked():
    x, y, theta = knot_problem()
    obj = relu1d.Objective(x, y)
    e = np.zeros(theta.size)
    e[2] = 1.0  # b_0: always crosses
    with pytest.raises(AssertionError, match="nothing was checked"):
        assert_grad_close(obj, theta, directions=e)


def test_objective_exposing_x_instead_of_x_sorted():
    class Plain:
        def __init__(self, obj):
            self.obj, self.x = obj, obj.x

        def loss(self, t):
            return self.obj.loss(t)

        def grad(self, t):
            return self.obj.grad(t)

    x, y, theta = knot_problem()
    report = check_grad(Plain(relu1d.Objective(x, y)), theta, directions="unit")
    assert report.crossed[0]


# ------------------------------------------------------------------------------------------------
# Argument validation


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"h": 0.0}, ValueError, r"^h: must be > 0"),
        ({"h": -1e-6}, ValueError, r"^h: must be > 0"),
        ({"h": np.nan}, ValueError, r"^h: must be finite"),
        ({"h": "small"}, TypeError, r"^h: expected a real number"),
        ({"atol": -1.0}, ValueError, r"^atol: must be >= 0"),
        ({"rtol": np.inf}, ValueError, r"^rtol: must be finite"),
        ({"margin": -1.0}, ValueError, r"^margin: must be >= 0"),
        ({"directions": "random"}, ValueError, r"^directions: expected None, an int, 'unit' or an array"),
        ({"directions": 0}, ValueError, r"^directions: must be >= 1"),
        ({"directions": True}, TypeError, r"^directions: "),
        ({"directions": np.ones((2, 5))}, ValueError, r"^directions: expected shape \(k, 13\)"),
        ({"directions": np.zeros(13)}, ValueError, r"^directions: contains an all-zero direction"),
        ({"directions": np.full(13, np.nan)}, ValueError, r"^directions: contains NaN or inf"),
        ({"directions": np.empty((0, 13))}, ValueError, r"^directions: must contain at least one"),
        ({"directions": ["a"] * 13}, TypeError, r"^directions: expected numbers"),
        ({"rng": "seed"}, TypeError, r"^rng: "),
    ],
)
@pytest.mark.parametrize("check", [check_grad, check_hvp])
def test_bad_check_arguments(check, kwargs, error, match):
    obj = relu1d.Objective(X, Y)
    with pytest.raises(error, match=match):
        check(obj, THETA, **kwargs)


@pytest.mark.parametrize("check", [check_grad, check_hvp, assert_grad_close, assert_hvp_close])
def test_bad_objective_and_theta(check):
    with pytest.raises(TypeError, match=r"^objective: expected a relu1d.Objective"):
        check(42, THETA)
    with pytest.raises(TypeError, match=r"^objective: "):
        check(X, THETA)  # data, not an objective
    obj = relu1d.Objective(X, Y)
    with pytest.raises(ValueError, match=r"^theta: length must be 3\*m\+1"):
        check(obj, THETA[:-1])
    with pytest.raises(ValueError, match=r"^theta: contains NaN"):
        check(obj, np.full(THETA.size, np.nan))


def test_check_hvp_u_arguments():
    obj = relu1d.Objective(X, Y)
    with pytest.raises(ValueError, match=r"^u, directions: give one or the other"):
        check_hvp(obj, THETA, np.ones(THETA.size), directions=3)
    with pytest.raises(ValueError, match=r"^u: expected shape \(k, 13\)"):
        check_hvp(obj, THETA, np.ones(5))
    with pytest.raises(ValueError, match=r"^u: contains NaN"):
        check_hvp(obj, THETA, np.full(THETA.size, np.nan))
    with pytest.raises(ValueError, match=r"^u: expected shape"):
        check_hvp(obj, THETA, 3)  # not a count of directions
    with pytest.raises(TypeError, match=r"^u: expected an array of numbers"):
        check_hvp(obj, THETA, "unit")
    with pytest.raises(ValueError, match=r"^u: contains an all-zero direction"):
        check_hvp(obj, THETA, np.zeros((2, THETA.size)))


def test_objective_returning_a_wrong_shape():
    obj = Wrapped(relu1d.Objective(X, Y), grad=lambda t, g: g[:-1])
    with pytest.raises(ValueError, match=r"^objective: grad\(theta\) returned shape \(12,\), expected \(13,\)"):
        check_grad(obj, THETA)


# ------------------------------------------------------------------------------------------------
# away_from_kinks


def preactivations(x, theta):
    m = (theta.size - 1) // 3
    return np.multiply.outer(np.asarray(x, dtype=float), theta[:m]) + theta[m:2 * m]


@given(problems(max_n=25, max_width=6), st.sampled_from([1e-6, 1e-3, 0.1]))
def test_away_from_kinks(problem, margin):
    x, y, theta = problem
    moved = away_from_kinks(x, theta, margin)
    m = (theta.size - 1) // 3
    assert np.abs(preactivations(x, moved)).min() >= margin
    np.testing.assert_array_equal(np.delete(moved, np.s_[m:2 * m]), np.delete(theta, np.s_[m:2 * m]))
    already = np.abs(preactivations(x, theta)).min(axis=0) >= margin
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


# ------------------------------------------------------------------------------------------------
# Strategies

FIND = settings(database=None, max_examples=2000, derandomize=True, phases=[Phase.generate])  # no shrinking: fast


@given(datasets(min_n=2, max_n=9, x_scale=1e3, y_scale=5.0))
def test_datasets_respect_their_bounds(data):
    x, y = data
    assert x.dtype == y.dtype == np.float64 and x.shape == y.shape and 2 <= x.size <= 9
    assert np.all(np.abs(x) <= 1e3) and np.all(np.abs(y) <= 5.0)
    assert np.isfinite(x).all() and np.isfinite(y).all()


@given(networks(min_width=2, max_width=4, x_scale=3.0, weight_scale=2.0))
def test_networks_respect_their_bounds(theta):
    m = (theta.size - 1) // 3
    assert theta.size == 3 * m + 1 and 2 <= m <= 4 and np.isfinite(theta).all()
    assert np.all(np.abs(theta[2 * m:]) <= 2.0)


@given(problems(max_n=12, max_width=4))
def test_problems_are_consistent(problem):
    x, y, theta = problem
    assert x.shape == y.shape and 1 <= x.size <= 12
    assert (theta.size - 1) % 3 == 0 and 1 <= (theta.size - 1) // 3 <= 4


def test_strategies_produce_the_adversarial_cases():
    assert find(datasets(min_n=2), lambda d: np.unique(d[0]).size < d[0].size, settings=FIND) is not None
    def dyadic_fractions(d):
        return np.all(d[0] == np.round(d[0] * 8) / 8) and np.any(d[0] % 1 != 0)

    assert find(datasets(ties=False, min_n=3), dyadic_fractions, settings=FIND) is not None

    def m_of(theta):
        return (theta.size - 1) // 3

    for sign in (1.0, 0.0, -1.0):  # w = 0 with b > 0, b = 0, b < 0
        find(networks(), lambda t, s=sign: np.any((t[:m_of(t)] == 0) & (np.sign(t[m_of(t):2 * m_of(t)]) == s)),
             settings=FIND)

    def knot_on_data(p):
        x, _, t = p
        w = t[:m_of(t)]
        return np.any((preactivations(x, t) == 0) & (w != 0))

    def dead(p):
        x, _, t = p
        w = t[:m_of(t)]
        return np.any(((preactivations(x, t) > 0).sum(axis=0) == 0) & (w != 0))

    def one_ulp_beside(p):
        x, _, t = p
        z = np.abs(preactivations(x, t))
        return np.any((z > 0) & (z <= 4 * np.spacing(np.abs(x)[:, None] * np.abs(t[:m_of(t)]) + 1e-300)))

    for condition in (knot_on_data, dead, one_ulp_beside):
        find(problems(), condition, settings=FIND)


@pytest.mark.parametrize(
    ("factory", "kwargs", "error", "match"),
    [
        (datasets, {"min_n": 0}, ValueError, r"^min_n: must be >= 1"),
        (datasets, {"min_n": 5, "max_n": 4}, ValueError, r"^max_n: must be >= 5"),
        (datasets, {"ties": "yes"}, TypeError, r"^ties: expected a bool"),
        (datasets, {"x_scale": -1.0}, ValueError, r"^x_scale: must be > 0"),
        (datasets, {"y_scale": np.inf}, ValueError, r"^y_scale: must be finite"),
        (networks, {"min_width": 0}, ValueError, r"^min_width: must be >= 1"),
        (networks, {"min_width": 3, "max_width": 2}, ValueError, r"^max_width: must be >= 3"),
        (networks, {"weight_scale": 0.0}, ValueError, r"^weight_scale: must be > 0"),
        (networks, {"knots_at": [np.nan]}, ValueError, r"^knots_at: contains NaN"),
        (problems, {"max_width": 0}, ValueError, r"^max_width: must be >= 1"),
        (problems, {"max_n": 0}, ValueError, r"^max_n: must be >= 1"),
    ],
)
def test_strategy_bad_arguments(factory, kwargs, error, match):
    with pytest.raises(error, match=match):
        factory(**kwargs)
