"""relu1d.testing's derivative checks: what they report, how they handle ties and kinks, which
implementations they accept, and how they reject bad arguments. (The mutation bank and the
no-false-failure property: test_testing_mutations.py.)"""

from __future__ import annotations

import numpy as np
import pytest

import relu1d
import relu1d.testing as rt
from helpers import Mutant
from relu1d.testing import (
    DerivativeCheck,
    assert_grad_close,
    assert_hvp_close,
    check_grad,
    check_hvp,
)

RNG = np.random.default_rng(42)
X = RNG.uniform(-1, 1, 30)
Y = np.cos(2 * X)
THETA = relu1d.init_params(4, rng=7)


def test_module_exports():
    assert set(rt.__all__) == {"DerivativeCheck", "check_grad", "check_hvp", "assert_grad_close", "assert_hvp_close",
                               "ExactComparison", "compare_to_exact", "away_from_kinks", "datasets", "networks",
                               "problems"}
    for name in rt.__all__:
        assert getattr(rt, name).__doc__


# ------------------------------------------------------------------------------------------------
# The report of a correct implementation


@pytest.mark.parametrize("kernel", relu1d.KERNELS)
def test_correct_derivatives_pass_with_a_stated_resolution(kernel):
    obj = relu1d.Objective(X, Y, kernel=kernel)
    report = check_grad(obj, THETA)
    assert isinstance(report, DerivativeCheck) and report.kind == "grad"
    assert report.passed and report.n_directions == 8 and report.n_checked == 8 and report.n_failed == 0
    assert report.h is None and report.atol == report.rtol == 0.0
    np.testing.assert_array_equal(report.analytic, report.directions @ obj.grad(THETA))
    # each direction: an error within its rounding bound; a resolution = 2 bound / |g . u|
    assert np.all(report.abs_errors <= report.rounding_bounds)
    np.testing.assert_allclose(report.resolutions, 2 * report.rounding_bounds / np.abs(report.analytic))
    assert report.resolution == report.resolutions.min() < 1e-9
    assert set(report.schemes) <= {"central", "forward", "backward"} and np.all(report.steps > 0)
    assert np.all(np.log2(report.steps) == np.round(np.log2(report.steps)))  # powers of two
    text = repr(report)
    assert "PASSED" in text and "8 checked (" in text and "resolution" in text
    report = check_hvp(obj, THETA, directions="unit")
    assert report.passed and report.n_directions == THETA.size and report.analytic.shape == (THETA.size, THETA.size)
    assert np.all(np.abs(report.analytic - obj.hessian(THETA)) <= report.bounds)  # rows: H e_j, to rounding
    assert report.bounds.shape == report.analytic.shape and np.all(report.bounds[report.analytic != 0] > 0)
    assert report.resolution < 1e-9
    assert assert_grad_close(obj, THETA).passed and assert_hvp_close(obj, THETA).passed


def test_checks_are_reproducible_and_use_the_given_directions():
    obj = relu1d.Objective(X, Y)
    a, b = check_grad(obj, THETA, rng=5), check_grad(obj, THETA, rng=5)
    np.testing.assert_array_equal(a.directions, b.directions)
    np.testing.assert_array_equal(a.numeric, b.numeric)
    np.testing.assert_allclose(np.linalg.norm(a.directions, axis=1), 1.0)
    assert check_grad(obj, THETA, directions=3).n_directions == 3
    U = np.arange(2 * THETA.size, dtype=float).reshape(2, -1)
    np.testing.assert_array_equal(check_grad(obj, THETA, directions=U).directions, U)
    one = check_hvp(obj, THETA, u=U[1])
    assert one.n_directions == 1 and np.array_equal(one.directions[0], U[1])
    np.testing.assert_array_equal(one.analytic[0], obj.hvp(THETA, U[1]))


def test_stencils_are_exact_for_the_polynomial_pieces():
    """Far from any kink the stencil error is rounding alone: at the scale of a few ulps of the
    loss's magnitude divided by the step, far below what a truncation error would leave."""
    x = np.array([-1.0, -0.5, 0.25, 1.0])
    y = np.array([0.5, -1.0, 2.0, 1.0])
    theta = relu1d.pack([1.0, -1.0], [0.125, 0.625], [2.0, -1.5], 0.25)  # knots at -0.125, 0.625
    obj = relu1d.Objective(x, y)
    e_w0 = np.eye(theta.size)[0]
    report = check_grad(obj, theta, directions=e_w0)
    # along w_0 the nearest kink: the knot -b/(w + t) meets x = -0.5 at t = -0.75, x = 0.25 at t = 1.5
    assert report.schemes == ("central",) and report.steps[0] == 0.125  # 0.5 * 0.75 / 2, rounded down
    assert report.abs_errors[0] <= 8 * np.spacing(obj.loss(theta)) / report.steps[0]


def test_fixed_step_and_extra_tolerances():
    obj = relu1d.Objective(X, Y)
    report = check_grad(obj, THETA, h=1e-4, atol=1e-12, rtol=1e-10)
    assert report.passed and report.h == 1e-4 and np.all(report.steps == 1e-4)
    assert "h=0.0001" in repr(report) and "atol=1e-12" in repr(report)
    wrong = Mutant(obj, grad=lambda t, g: g * (1 + 1e-6))
    assert not check_grad(wrong, THETA).passed
    assert check_grad(wrong, THETA, rtol=1e-5).passed  # the extra tolerance hides it, as asked


# ------------------------------------------------------------------------------------------------
# Wrong derivatives


def test_wrong_gradient_fails_with_the_direction_and_the_bound():
    obj = Mutant(relu1d.Objective(X, Y), grad=lambda t, g: (1 + 1e-9) * g)
    report = check_grad(obj, THETA, directions=10)
    assert not report.passed and report.n_failed >= 1
    assert report.max_rel_error == pytest.approx(1e-9, rel=0.01)
    with pytest.raises(AssertionError, match="gradient check failed") as info:
        assert_grad_close(obj, THETA)
    assert "FAILED" in str(info.value) and "> bound" in str(info.value)


def test_gradient_wrong_in_one_coordinate_fails_exactly_there():
    def swap(theta, g):  # dL/dw_1 and dL/db_1 exchanged
        g = g.copy()
        g[[1, 5]] = g[[5, 1]]
        return g

    report = check_grad(Mutant(relu1d.Objective(X, Y), grad=swap), THETA, directions="unit")
    assert not report.passed
    assert set(np.flatnonzero(report.failed)) == {1, 5}


def test_wrong_hvp_names_the_worst_component():
    obj = relu1d.Objective(X, Y)

    def off_in_v2(theta, u, hu):
        hu = hu.copy()
        hu[2 * 4 + 2] += 1e-9 * np.abs(hu).max()
        return hu

    report = check_hvp(Mutant(obj, hvp=off_in_v2), THETA)
    assert not report.passed and report.n_failed == report.n_directions
    assert "worst component 10 (v[2])" in repr(report)
    with pytest.raises(AssertionError, match="Hessian-vector product check failed"):
        assert_hvp_close(Mutant(obj, hvp=off_in_v2), THETA)


# ------------------------------------------------------------------------------------------------
# Ties and kinks


def knot_problem():
    x = np.array([-1.0, -0.25, 0.5, 0.75, 1.0])
    y = np.array([0.5, -1.0, 2.0, 0.0, 1.0])
    theta = relu1d.pack([1.0, -0.5], [-0.5, 0.1], [2.0, 1.0], 0.25)  # knot of neuron 0 at x = 0.5 exactly
    return x, y, theta


@pytest.mark.parametrize("kernel", relu1d.KERNELS)
def test_ties_are_checked_one_sided_not_skipped(kernel):
    x, y, theta = knot_problem()
    m = 2
    obj = relu1d.Objective(x, y, kernel=kernel)
    for report in (check_grad(obj, theta, directions="unit"), check_hvp(obj, theta, directions="unit")):
        # moving w_0 or b_0 moves the knot of neuron 0 off x = 0.5: forward it would activate the
        # point, backward it stays inactive (relu'(0) = 0): the stencil goes backward
        assert report.passed and report.n_checked == theta.size
        assert set(np.flatnonzero(report.crossed)) == {0, m}
        assert report.schemes[0] == report.schemes[m] == "backward"
        assert not report.crossed[[1, 3, 4, 5, 6]].any()
        assert (0, 0, 0.5) in report.crossings and (m, 0, 0.5) in report.crossings
        assert report.min_margin == 0.0
        assert "neuron 0 is at or crosses the data point x = 0.5 (backward)" in repr(report)
    # the side matters: forward, the point activates and the difference quotient sees another slope
    e_b0 = np.eye(theta.size)[m]
    t = 2.0**-20
    forward = (obj.loss(theta + t * e_b0) - obj.loss(theta)) / t
    assert abs(forward - obj.grad(theta)[m]) > 0.1


def test_random_directions_keep_ties_inactive():
    """Knots on data points everywhere (w = b = 0 ties every point): random directions are drawn so
    that every tie stays inactive forward; nothing is skipped."""
    x = np.array([-1.0, -0.5, 0.0, 0.5, 1.0])
    y = np.array([1.0, -2.0, 0.5, 3.0, -1.0])
    theta = relu1d.pack([1.0, 0.0, -2.0], [0.5, 0.0, 1.0], [1.0, 2.0, -1.0], 0.1)  # ties at -0.5, all, 0.5
    obj = relu1d.Objective(x, y)
    for report in (check_grad(obj, theta, directions=20), check_hvp(obj, theta, directions=20)):
        assert report.passed and report.n_checked == 20
        assert set(report.schemes) == {"forward"}
        U = report.directions
        for k, xs in ((0, [-0.5]), (1, x), (2, [0.5])):
            s = np.multiply.outer(U[:, k], xs) + U[:, 3 + k][:, None]
            assert np.all(s <= 0)  # each tie moves to the inactive side (or stays)


def test_random_directions_move_away_from_close_knots():
    """A knot 2^-30 from a data point, and one between two points 1e-6 apart, next to a tie: every
    other direction is drawn so that all of them move away from their knots forward, and its step is
    set by the other kinks, not by these (the others protect the ties alone)."""
    x = np.array([-1.0, 0.0, 0.5 - 1e-6, 0.5, 0.5 + 1e-6, 1.0])
    y = np.array([1.0, -2.0, 0.5, 3.0, -1.0, 2.0])
    theta = relu1d.pack([1.0, 2.0, 1.0], [-1.0, 2.0**-30, -(0.5 + 5e-7)], [1.0, 2.0, -1.0], 0.1)
    obj = relu1d.Objective(x, y)
    for report in (check_grad(obj, theta), check_hvp(obj, theta)):
        assert report.passed and set(report.schemes) == {"forward"}  # the tie at x = 1: one-sided
        assert np.all(report.steps[::2] >= 2.0**-12), report.steps
        assert report.resolution < 1e-10
    plain = np.random.default_rng(0).standard_normal((8, theta.size))
    assert not check_grad(obj, theta, directions=plain).steps.min() >= 2.0**-12  # what they avoid


def test_a_neuron_without_output_weight_is_no_kink_for_the_loss():
    """v_k = 0: moving the knot does not change the loss (central stencil for check_grad), but it does
    change dL/dv_k, so check_hvp goes one-sided."""
    x, y, theta = knot_problem()
    theta[4] = 0.0  # v_0 = 0
    obj = relu1d.Objective(x, y)
    g = check_grad(obj, theta, directions="unit")
    assert not g.crossed[2] and g.schemes[2] == "central" and g.passed
    hv = check_hvp(obj, theta, directions="unit")
    assert hv.crossed[2] and hv.schemes[2] == "backward" and hv.passed


def test_fixed_step_near_a_kink_and_margin():
    x = np.array([0.0, 1.0, 2.0])
    y = np.zeros(3)
    theta = relu1d.pack([1.0], [-1.0 + 3e-6], [1.0], 0.0)  # z = 3e-6 at x = 1
    obj = relu1d.Objective(x, y)
    e_b = np.array([0.0, 1.0, 0.0, 0.0])
    report = check_grad(obj, theta, directions=e_b, h=1e-6)
    assert report.schemes == ("central",) and not report.crossed[0] and report.passed
    assert report.min_margin == pytest.approx(3.0, rel=1e-6)
    report = check_grad(obj, theta, directions=e_b, h=1e-6, margin=5.0)
    assert report.n_skipped_margin == 1 and report.n_checked == 0 and not report.passed
    assert "nothing was checked" in repr(report)
    assert check_grad(obj, theta, directions=e_b, h=1e-6, margin=2.0).passed
    # h = 1e-5: +-2h would cross x = 1; forward the point stays active: a one-sided check
    report = check_grad(obj, theta, directions=e_b, h=1e-5)
    assert report.crossed[0] and report.schemes == ("forward",) and report.passed
    assert report.crossings == ((0, 0, 1.0),)
    # automatic step: the kink is 3e-6 away backward, forward there is none
    report = check_grad(obj, theta, directions=e_b)
    assert report.schemes == ("forward",) and report.steps[0] > 1e-3 and report.passed


def test_nothing_checked_when_ties_move_both_ways():
    """A w = b = 0 neuron ties every point; along e_w the points left of 0 and right of 0 go opposite
    ways, so no stencil keeps them all inactive."""
    x = np.array([-1.0, 0.5, 1.0])
    theta = relu1d.pack([0.0], [0.0], [1.0], 0.0)
    obj = relu1d.Objective(x, np.array([1.0, 2.0, 3.0]))
    e_w = np.array([1.0, 0.0, 0.0, 0.0])
    report = check_grad(obj, theta, directions=e_w)
    assert report.schemes == ("none",) and report.n_skipped_kink_crossing == 1 and not report.passed
    assert np.isnan(report.numeric[0]) and np.isnan(report.resolution)
    with pytest.raises(AssertionError, match="nothing was checked"):
        assert_grad_close(obj, theta, directions=e_w)
    assert check_grad(obj, theta).passed  # random directions are drawn to avoid this


# ------------------------------------------------------------------------------------------------
# Implementations the checks accept


def test_plain_callables_and_objects_with_x_and_y():
    obj = relu1d.Objective(X, Y)
    report = check_grad((obj.loss, obj.grad), THETA, x=X, y=Y)
    assert report.passed
    np.testing.assert_array_equal(report.numeric, check_grad(obj, THETA).numeric)
    assert check_hvp((obj.grad, obj.hvp), THETA, x=X, y=Y).passed

    class Plain:  # data as x and y in the caller's order
        def __init__(self):
            self.x, self.y = X, Y

        def loss(self, t):
            return obj.loss(t)

        def grad(self, t):
            return list(obj.grad(t))  # anything numpy.asarray takes

    assert check_grad(Plain(), THETA).passed


def test_the_data_set_is_required():
    obj = relu1d.Objective(X, Y)
    with pytest.raises(TypeError, match=r"^objective: the data set is needed"):
        check_grad((obj.loss, obj.grad), THETA)
    with pytest.raises(TypeError, match=r"^objective: the data set is needed"):
        check_grad((obj.loss, obj.grad), THETA, x=X)
    with pytest.raises(ValueError, match=r"^y: expected length 30"):
        check_grad((obj.loss, obj.grad), THETA, x=X, y=Y[:-1])
    with pytest.raises(TypeError, match=r"^objective: a tuple must hold 2 callables"):
        check_grad((obj.loss,), THETA, x=X, y=Y)


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
        ({"directions": 2**40}, ValueError, r"^directions: 1099511627776 random directions"),
        ({"directions": True}, TypeError, r"^directions: "),
        ({"directions": 8.0}, TypeError, r"^directions: a count of random directions must be an int, got float"),
        ({"directions": np.ones((2, 5))}, ValueError, r"^directions: expected shape \(k, 13\)"),
        ({"directions": np.zeros(13)}, ValueError, r"^directions: contains an all-zero direction"),
        ({"directions": np.full(13, np.nan)}, ValueError, r"^directions: contains NaN or inf"),
        ({"directions": np.empty((0, 13))}, ValueError, r"^directions: must contain at least one"),
        ({"directions": ["a"] * 13}, TypeError, r"^directions: expected numbers"),
        ({"rng": "seed"}, TypeError, r"^rng: "),
        ({"x": [np.nan] * 30, "y": Y}, ValueError, r"^x: contains NaN"),
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


@pytest.mark.parametrize(("bad", "match"), [(lambda t, g: g[:-1], r"returned shape \(12,\), expected \(13,\)"),
                                            (lambda t, g: "nope", r"returned something that is not an array")])
def test_objective_returning_a_wrong_result(bad, match):
    obj = Mutant(relu1d.Objective(X, Y), grad=bad)
    with pytest.raises(ValueError, match=r"^objective: grad\(theta\) " + match):
        check_grad(obj, THETA)


def test_report_on_many_ties_does_not_call_one_sided_stencils_central():
    """Knots on all nine data points: every direction is one-sided, and the summary of the kinks
    beyond the first five says where they are, not that they fell inside central stencils."""
    x = np.linspace(-1, 1, 9)
    theta = relu1d.pack(np.ones(9), -x, np.ones(9), 0.0)
    report = check_grad(relu1d.Objective(x, np.cos(x)), theta)
    assert report.passed and set(report.schemes) == {"forward"} and len(report.crossings) > 5
    text = str(report)
    assert "central stencils" not in text
    assert f"... and {len(report.crossings) - 5} more data points at or crossing a knot" in text
