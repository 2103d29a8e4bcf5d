"""The fast and dense kernels agree with the independent reference (tests/reference.py) to rounding.

Tolerances are error scales, not magic constants: for every output, ``reference.tolerance(n, m)``
(= 2 (n + m + 8) eps, see reference.py: the longest chain of roundings in the dense kernel's
recursive sums, for both computations compared) times the same formula evaluated with absolute
values (``forward_abs``, ``grad_abs``, ``hvp_abs``, ``hessian_abs``). For the forward pass this is
``C eps (sum_k a_ik |v_k| (|w_k x_i| + |b_k|) + |c| + |y_i|)`` with ``C = 2 (n + m + 8)``: the
predicate is evaluated identically everywhere, so only the summation orders differ.
"""

from __future__ import annotations

from fractions import Fraction

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import reference as ref
import relu1d
from helpers import assert_within, both_kernels, extreme_problems
from relu1d.testing import problems


def direction(theta, seed):
    return np.random.default_rng(seed).uniform(-2, 2, np.asarray(theta).size)


def check_against_reference(x, y, theta, u, *, hessian=True):
    """Residuals, loss, gradient, HVP (and Hessian) of both kernels against the NumPy reference,
    within the computed error scales; the gradient and HVP also against the hyper-dual AD."""
    x = np.asarray(x, dtype=np.float64)
    n, m = x.size, (theta.size - 1) // 3
    tol = ref.tolerance(n, m)
    r_ref = ref.residuals(x, y, theta)
    g_ref = ref.grad(x, y, theta)
    hu_ref = ref.hvp(x, y, theta, u)
    g_tol = tol * ref.grad_abs(x, y, theta)
    hu_tol = tol * ref.hvp_abs(x, y, theta, u)
    # the two references agree with each other (a check on the references themselves)
    assert_within(ref.ad_grad(x, y, theta), g_ref, g_tol, "AD gradient vs explicit J^T r / n")
    assert_within(ref.ad_hvp(x, y, theta, u), hu_ref, hu_tol, "AD HVP vs explicit (J^T J / n + R) u")
    for kernel, obj in both_kernels(x, y).items():
        assert_within(obj.residuals(theta), r_ref, tol * ref.residual_abs(x, y, theta), f"{kernel} residuals")
        assert_within(obj.loss(theta), ref.loss(x, y, theta), ref.loss_tolerance(x, y, theta), f"{kernel} loss")
        assert_within(obj.grad(theta), g_ref, g_tol, f"{kernel} gradient")
        assert_within(obj.hvp(theta, u), hu_ref, hu_tol, f"{kernel} HVP")
        if hessian:
            assert_within(obj.hessian(theta), ref.hessian(x, y, theta), tol * ref.hessian_abs(x, y, theta),
                          f"{kernel} Hessian")


# ------------------------------------------------------------------------------------------------
# Property tests on adversarial problems


@pytest.mark.parametrize("strategy", [problems(max_n=25, max_width=6),
                                      problems(max_n=25, max_width=5, x_scale=1e3, y_scale=1e3)],
                         ids=["default_scale", "large_x"])
@given(data=st.data(), seed=st.integers(0, 2**32 - 1))
def test_kernels_match_reference(strategy, data, seed):
    x, y, theta = data.draw(strategy, label="problem")
    check_against_reference(x, y, theta, direction(theta, seed))


@given(problems(max_n=40, max_width=8))
def test_active_sets_are_identical(problem):
    """Every kernel applies the exact predicate fl(fl(w x) + b) > 0: the active sets (not just values
    within rounding) agree with NumPy's. With v = 1 and u = e_{b_k}, (H u)_c = |active set of k| / n;
    the active set of a neuron is an interval of the sorted data, so its size determines it."""
    x, y, theta = problem
    n, m = x.size, (theta.size - 1) // 3
    theta = theta.copy()
    theta[2 * m:3 * m] = 1.0
    counts = ref.active_counts(x, theta)
    w = theta[:m]
    inside = int(np.sum((w != 0) & (counts > 0) & (counts < n)))
    for kernel, obj in both_kernels(x, y).items():
        for k in range(m):
            u = np.zeros_like(theta)
            u[m + k] = 1.0
            got = obj.hvp(theta, u)[3 * m] * n
            assert abs(got - counts[k]) < 1e-9 * n, \
                f"{kernel}: neuron {k} active on {got} points, expected {counts[k]}"
        assert obj.knots_inside(theta) == inside, kernel


# ------------------------------------------------------------------------------------------------
# Extreme magnitudes: outliers far outside a neuron's active set, subnormal data, huge and tiny
# parameters. Each output entry is held to its own error scale (the sums of |terms| over the data
# its neuron sees: the *_abs functions), not to a global one; outputs whose exact value overflows
# float64 are skipped (the Objective then raises, as it should).

TINY = 2.0 ** -1074


def underflow_floor(x, theta, u=None):
    """Absolute error that gradual underflow may add where the data hold subnormals: each rounding
    below 2^-1022 errs by up to 2^-1075 absolutely, and later products scale that by at most
    (1 + max|theta|)^3 (1 + max|x|)^2 (1 + max|u|). Zero for data without subnormals."""
    x = np.asarray(x, dtype=np.float64)
    if not np.any((x != 0) & (np.abs(x) < np.finfo(np.float64).tiny)):
        return 0.0
    n, m = x.size, (np.asarray(theta).size - 1) // 3
    t, xm = float(np.max(np.abs(theta))), float(np.max(np.abs(x)))
    um = 0.0 if u is None else float(np.max(np.abs(u)))
    return 8.0 * (n + m + 8) * TINY * (1 + t) ** 3 * (1 + xm) ** 2 * (1 + um)


def check_extreme(x, y, theta, u):
    """check_against_reference for problems whose values may overflow: every output entry whose
    reference value and error scale are finite must come out within tolerance from both kernels
    (the gradient, HVP and Hessian entrywise, read from the compiled core so that one overflowing
    entry does not hide the others; residuals and loss when all finite). Returns the number of
    entries checked."""
    x = np.asarray(x, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    n, m = x.size, (theta.size - 1) // 3
    tol = ref.tolerance(n, m)
    floor = underflow_floor(x, theta, u)
    with np.errstate(all="ignore"):
        wanted = {
            "residuals": (ref.residuals(x, y, theta), tol * ref.residual_abs(x, y, theta)),
            "loss": (np.array(ref.loss(x, y, theta)), np.array(ref.loss_tolerance(x, y, theta))),
            "grad": (ref.grad(x, y, theta), tol * ref.grad_abs(x, y, theta)),
            "hvp": (ref.hvp(x, y, theta, u), tol * ref.hvp_abs(x, y, theta, u)),
            "hessian": (ref.hessian(x, y, theta), tol * ref.hessian_abs(x, y, theta)),
        }
    checked = 0
    for kernel, obj in both_kernels(x, y).items():
        core = obj._core  # the compiled objective: no overflow check on the way out
        calls = {"residuals": lambda: obj.residuals(theta), "loss": lambda: obj.loss(theta),
                 "grad": lambda: core.loss_and_grad(theta)[1], "hvp": lambda: core.hvp(theta, u),
                 "hessian": lambda: core.hessian(theta, check_finite=False)}
        for what, (value, scale) in wanted.items():
            ok = np.isfinite(value) & np.isfinite(scale)
            if what in ("residuals", "loss") and not np.all(ok):
                continue
            if not np.any(ok):
                continue
            got = np.asarray(calls[what]())
            assert_within(got[ok], value[ok], scale[ok] + floor, f"{kernel} {what}")
            checked += int(ok.sum())
    return checked


@given(extreme_problems(), st.integers(0, 2**32 - 1))
def test_kernels_match_reference_at_extreme_magnitudes(problem, seed):
    x, y, theta = problem
    check_extreme(x, y, theta, direction(theta, seed))


# The reproducers of the fast kernel's losses at extreme magnitudes (each failed before the slot
# sums ran over each neuron's own active set).

X_FAR = np.array([-4.28e38, -1.65e9, 0.5, 0.75])  # relu(x) sees 0.5 and 0.75 only
THETA_RELU = relu1d.pack([1.0], [0.0], [1.0], 0.0)


def test_hessian_with_far_outliers_outside_the_active_set():
    """Exact (dyadic) values: H[w,w] = sum x^2 / n, H[w,v] = (sum x z + sum r x) / n with z = r = x,
    H[v,v] = sum z^2 / n over x = 0.5, 0.75 (n = 4); the fast kernel gave 0, 0.203125, 0."""
    for kernel, obj in both_kernels(X_FAR, np.zeros(4)).items():
        H = obj.hessian(THETA_RELU)
        assert (H[0, 0], H[0, 2], H[2, 2]) == (0.203125, 0.40625, 0.203125), kernel
    assert check_extreme(X_FAR, np.zeros(4), THETA_RELU, direction(THETA_RELU, 1)) == 2 * (4 + 1 + 4 + 4 + 16)


def test_gradient_with_far_outliers_outside_the_active_set():
    """dL/dw = sum_{x > 0} (x - y) x / n = 0.090625 (the fast kernel gave 0.0906250030)."""
    y = np.array([0.1, 0.2, 0.3, 0.4])
    for kernel, obj in both_kernels(X_FAR, y).items():
        assert abs(obj.grad(THETA_RELU)[0] - 0.090625) <= 4 * ref.EPS * 0.090625, kernel
    check_extreme(X_FAR, y, THETA_RELU, direction(THETA_RELU, 2))


def test_huge_labels_outside_the_active_set_leave_the_gradient_alone():
    """Labels of order 1e40 at points the neuron does not see: its gradient is that of the two
    points it sees (the fast kernel returned exactly 0)."""
    y = np.array([1e40, -3e40, 0.3, 0.4])
    want = ref.grad(X_FAR, y, THETA_RELU)
    assert want[0] == pytest.approx(0.090625, rel=1e-15)
    for kernel, obj in both_kernels(X_FAR, y).items():
        assert_within(obj.grad(THETA_RELU), want, ref.tolerance(4, 1) * ref.grad_abs(X_FAR, y, THETA_RELU),
                      f"{kernel} gradient")
    check_extreme(X_FAR, y, THETA_RELU, direction(THETA_RELU, 3))


@pytest.mark.parametrize("big", [1e12, 1e14, 1e16, 1e100, 1e150])
def test_hessian_with_three_outliers(big):
    """Three outliers left of twenty ordinary points, four neurons active right of them: the fast
    Hessian's relative error was 1e-7 at 1e12, 1e-3 at 1e14 and O(1) from 1e16."""
    rng = np.random.default_rng(0)
    x = np.concatenate([rng.uniform(-1, 1, 20), [-big, -big / 3, -big / 7]])
    y = np.sin(x)
    theta = relu1d.init_params(4, rng=1)
    theta[:4] = np.abs(theta[:4])
    theta[4:8] = 0.3 * theta[:4]  # knots at -0.3: the outliers are outside every active set
    assert check_extreme(x, y, theta, direction(theta, 4)) == 2 * (23 + 1 + 13 + 13 + 169)


def test_products_ordered_so_finite_results_stay_finite():
    """|w| far above 1e154 with tiny x: w_j w_k and v w overflow, yet every J entry (v x, v, w x + b)
    and every output is finite; the fast kernel raised "overflows float64"."""
    x = np.array([1e-200, 2e-200, 3e-200, -1e-200])
    y = np.array([0.0, 1.0, 2.0, 3.0])
    theta = relu1d.pack([1e200], [0.5], [1.5], 0.25)  # w w overflows in the Hessian's moment formula
    assert check_extreme(x, y, theta, direction(theta, 5)) == 2 * (4 + 1 + 4 + 4 + 16)
    for kernel, obj in both_kernels(x, y).items():
        assert np.all(np.isfinite(obj.hessian(theta))), kernel
    theta = relu1d.pack([1e160, -1e160], [0.0, 0.0], [1e160, 2e160], 0.0)  # v w overflows: 1e320
    for kernel, obj in both_kernels(x, y).items():
        assert np.isfinite(obj.loss(theta)) and np.all(np.isfinite(obj.grad(theta))), kernel
    # all but the entries that truly overflow (v^2 n = 1e320 in H[b, b], H[w, b]; v T0 in the HVP)
    assert check_extreme(x, y, theta, direction(theta, 6)) > 2 * (4 + 1 + 7 + 2 + 20)


def test_trainer_step_is_the_objective_step_with_far_outliers_and_wild_coefficients():
    """The fused GD step stays theta - lr * grad bit for bit where the kernel leaves its sweeps: an
    outlier at -1e300 outside every active set, and a neuron whose |v w| max|x| overflows the
    running sums (its terms are summed point by point)."""
    rng = np.random.default_rng(3)
    x = np.concatenate([[-1e300], rng.uniform(-1, 1, 30)])
    y = np.sin(3 * x)
    y[0] = 2.0
    theta = relu1d.init_params(6, rng=4)
    m = 6
    theta[:m] = np.abs(theta[:m]) + 0.1  # w > 0, knots inside [-1, 1]: nobody sees the outlier
    theta[m:2 * m] = -theta[:m] * rng.uniform(-0.9, 0.9, m)
    theta[0], theta[m], theta[2 * m] = 1e5, 0.0, 1e5  # v w = 1e10, times 1e300: wild
    for kernel, obj in both_kernels(x, y).items():
        th = theta.copy()
        for _ in range(40):
            th = th - 1e-12 * obj.grad(th)
        assert np.all(np.isfinite(th)) and not np.array_equal(th, theta)
        run = relu1d.train(obj, theta, lr=1e-12, steps=40, record_every=1000, sharpness_every=0)
        np.testing.assert_array_equal(run.theta, th, err_msg=kernel)
    check_extreme(x, y, theta, direction(theta, 8))


# ------------------------------------------------------------------------------------------------
# Named adversarial cases (regressions that do not depend on what hypothesis draws)

X_TIES = np.array([0.5, -1.0, 0.0, 0.25, 0.5, 0.5, 2.0, -1.0, 1000.0, -1000.0, 0.0])
Y_TIES = np.array([1.0, -2.0, 0.5, 0.0, -0.5, 3.0, 1.0, 0.25, 2.0, -1.0, 0.0])


def named_theta(case):
    if case == "w0_b_positive":
        return relu1d.pack([0.0], [1.5], [2.0], 0.25)
    if case == "w0_b_zero":
        return relu1d.pack([0.0, -0.0], [0.0, -0.0], [1.0, -3.0], 0.5)
    if case == "w0_b_negative":
        return relu1d.pack([0.0], [-0.5], [1.0], -1.0)
    if case == "dead":  # knot at the largest point, active only right of it
        return relu1d.pack([1.0, -2.0], [-1000.0, -2000.0], [3.0, 1.0], 0.0)
    if case == "knots_on_data":  # fl(w x + b) == 0 exactly at data points (dyadic)
        return relu1d.pack([1.0, -2.0, 0.5, 4.0], [-0.5, 0.5, -0.125, 4000.0], [1.0, -1.5, 2.0, 0.5], 0.125)
    if case == "knots_one_ulp_off":
        # one ulp beside the knots of "knots_on_data" (beside 0: the smallest subnormal)
        b = np.nextafter([-0.5, 0.5, 0.0, -0.25], [1.0, -1.0, 1.0, -1.0])
        return relu1d.pack([1.0, -2.0, 1.0, 1.0], b, [1.0, -1.5, 2.0, 0.5], 0.0)
    if case == "knots_on_rounded_products":
        # b = -fl(w x_i) with fl(w x_i) < w x_i: the package's predicate gives fl(fl(w x_i) + b) == 0
        # (inactive), a fused multiply-add would give w x_i + b > 0 (active)
        w, b = [], []
        for w0, xi in [(1.1, 1000.0), (0.7, -1000.0), (3.3, 1000.0), (1.0 / 3.0, -1000.0)]:
            w0 = w0 if Fraction(w0) * Fraction(xi) > Fraction(w0 * xi) else -w0
            w.append(w0)
            b.append(-(w0 * xi))
        return relu1d.pack(w, b, [1.0, -2.0, 0.5, 1.5], 0.25)
    if case == "mixed":
        return relu1d.pack([0.0, 1.0, -1.0, 0.3, 0.0, 2.0], [1.0, -0.25, 0.0, 0.1, -1.0, -4.0],
                           [0.5, -1.0, 2.0, 0.0, 1.0, 0.75], -0.5)
    raise ValueError(case)


CASES = ["w0_b_positive", "w0_b_zero", "w0_b_negative", "dead", "knots_on_data", "knots_one_ulp_off",
         "knots_on_rounded_products", "mixed"]


@pytest.mark.parametrize("case", CASES)
def test_named_adversarial_cases(case):
    theta = named_theta(case)
    check_against_reference(X_TIES, Y_TIES, theta, direction(theta, 7))


@pytest.mark.parametrize("case", CASES)
def test_single_point(case):
    theta = named_theta(case)
    check_against_reference([0.5], [2.0], theta, direction(theta, 3))


def test_single_neuron_single_point():
    theta = relu1d.pack([2.0], [-1.0], [3.0], 0.5)  # active at x = 1: f = 3 * 1 + 0.5
    check_against_reference([1.0], [0.0], theta, np.ones(4))
    obj = relu1d.Objective([1.0], [0.0])
    assert obj.loss(theta) == 3.5**2 / 2
    np.testing.assert_array_equal(obj.grad(theta), [3.5 * 3.0 * 1.0, 3.5 * 3.0, 3.5 * 1.0, 3.5])


def test_known_values_by_hand():
    """A case worked out by hand: x = [-1, 0, 1], y = 0, one neuron relu(x) with v = 1, c = 0.
    f = [0, 0, 1] (x = 0 sits on the knot and is inactive: relu'(0) = 0)."""
    theta = relu1d.pack([1.0], [0.0], [1.0], 0.0)
    for kernel, obj in both_kernels([-1.0, 0.0, 1.0], [0.0, 0.0, 0.0]).items():
        assert obj.loss(theta) == 1.0 / 6.0, kernel
        # r = [0, 0, 1]: S0 = 1, S1 = 1 -> [v S1, v S0, w S1 + b S0, sum r] / 3
        np.testing.assert_allclose(obj.grad(theta), np.array([1.0, 1.0, 1.0, 1.0]) / 3, rtol=0, atol=1e-16)
        np.testing.assert_array_equal(obj.residuals(theta), [0.0, 0.0, 1.0])


# ------------------------------------------------------------------------------------------------
# Ordinary random problems: agreement to ~1e-12 relative


@pytest.mark.parametrize("seed", range(4))
@pytest.mark.parametrize("scheme", relu1d.INIT_SCHEMES)
def test_ordinary_problems_agree_to_1e12(seed, scheme):
    rng = np.random.default_rng(seed)
    n, m = 200, 20
    x = rng.uniform(-2, 2, n)
    y = np.sin(2 * x) + 0.1 * rng.standard_normal(n)
    theta = relu1d.init_params(m, rng=rng, scheme=scheme)
    u = rng.standard_normal(theta.size)
    fast, dense = both_kernels(x, y).values()
    refs = {
        "loss": ref.loss(x, y, theta),
        "grad": ref.grad(x, y, theta),
        "hvp": ref.hvp(x, y, theta, u),
        "hessian": ref.hessian(x, y, theta),
        "residuals": ref.residuals(x, y, theta),
    }
    for obj in (fast, dense):
        got = {
            "loss": obj.loss(theta),
            "grad": obj.grad(theta),
            "hvp": obj.hvp(theta, u),
            "hessian": obj.hessian(theta),
            "residuals": obj.residuals(theta),
        }
        for key, want in refs.items():
            want = np.asarray(want)
            rel = np.max(np.abs(np.asarray(got[key]) - want)) / np.max(np.abs(want))
            assert rel <= 1e-12, f"{obj.kernel} {key}: relative error {rel:.3g}"
    # and the AD reference on the same problem
    np.testing.assert_allclose(ref.ad_grad(x, y, theta), refs["grad"], rtol=0,
                               atol=1e-12 * np.abs(refs["grad"]).max())
    np.testing.assert_allclose(ref.ad_hvp(x, y, theta, u), refs["hvp"], rtol=0,
                               atol=1e-12 * np.abs(refs["hvp"]).max())


def test_loss_and_grad_is_loss_and_grad():
    rng = np.random.default_rng(5)
    x, y = rng.normal(size=50), rng.normal(size=50)
    theta = relu1d.init_params(7, rng=rng)
    for obj in both_kernels(x, y).values():
        loss, g = obj.loss_and_grad(theta)
        assert loss == obj.loss(theta)
        np.testing.assert_array_equal(g, obj.grad(theta))


def test_results_do_not_depend_on_call_history():
    """The fast kernel starts its boundary search from the previous call's boundaries; the result
    must not depend on that history."""
    rng = np.random.default_rng(11)
    x, y = rng.uniform(-3, 3, 300), rng.normal(size=300)
    thetas = [relu1d.init_params(9, rng=rng) for _ in range(4)]
    fresh = [relu1d.Objective(x, y).loss_and_grad(t) for t in thetas]
    reused = relu1d.Objective(x, y)
    for t, (loss, g) in zip(thetas + thetas[::-1], fresh + fresh[::-1]):
        got_loss, got_g = reused.loss_and_grad(t)
        assert got_loss == loss
        np.testing.assert_array_equal(got_g, g)


@pytest.mark.parametrize("jump", [1e-7, 1e-3, 0.05, 1.0])
def test_cached_boundaries_follow_moving_knots(jump):
    """One fast Objective reused along a path of parameters (its cached boundaries move by zero,
    one or many data points between calls, w changes sign or hits 0) agrees with a fresh dense
    kernel at every point, active sets included (the Hessian's b-b block counts them)."""
    rng = np.random.default_rng(7)
    x = np.round(rng.uniform(-1, 1, 40) * 64) / 64  # dyadic, with ties
    y = np.sin(3 * x)
    fast = relu1d.Objective(x, y, kernel="fast")
    dense = relu1d.Objective(x, y, kernel="dense")
    m = 25
    theta = relu1d.init_params(m, rng=3)
    for step in range(60):
        theta = theta + jump * rng.standard_normal(theta.size)
        if step % 10 == 5:  # a knot exactly on a data point, and a neuron with w = 0
            theta[0], theta[m] = 1.0, -x[step % x.size]
            theta[1], theta[m + 1] = 0.0, 0.25 if step % 20 == 5 else -0.25
        hf, hd = fast.hessian(theta), dense.hessian(theta)
        scale = np.abs(hd).max()
        assert np.abs(hf - hd).max() <= 64 * np.finfo(float).eps * x.size * scale, step
        np.testing.assert_allclose(fast.grad(theta), dense.grad(theta), rtol=0,
                                   atol=64 * np.finfo(float).eps * x.size * np.abs(dense.grad(theta)).max())
        assert fast.knots_inside(theta) == dense.knots_inside(theta)
