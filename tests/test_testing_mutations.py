"""The mutation bank: with default settings, check_grad and check_hvp catch every mutation of a
correct implementation listed below, on random problems and on the adversarial problems of
relu1d.testing.problems (ties, w = 0, dead neurons, knots on and one ulp beside data points, widths
1-20); compare_to_exact catches them too, and the relu'(0) = 1 convention at data points on a knot.
And the converse: a correct implementation never fails (the no-false-failure property).

Example counts scale with the hypothesis profile (conftest.py): HYPOTHESIS_PROFILE=dev runs 1000
examples of the property instead of 60.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import reference as ref
from helpers import Mutant
import relu1d
from relu1d.testing import check_grad, check_hvp, compare_to_exact, problems

REL = 1e-8  # the size of every mutation, relative to the largest entry of the vector it corrupts
ADVERSARIAL = problems(max_width=20)
MANY = settings(max_examples=2 * settings.default.max_examples)
SOME = settings(max_examples=settings.default.max_examples)


def _scaled(v, j, k, m):
    return v * (1 + REL)


def _one_component(v, j, k, m):
    v = v.copy()
    v[j] += REL * np.abs(v).max()
    return v


def _one_block(v, j, k, m):  # neuron k's (w_k, b_k, v_k) entries
    v = v.copy()
    v[[k, m + k, 2 * m + k]] += REL * np.abs(v).max()
    return v


def _sign_flipped(v, j, k, m):
    v = v.copy()
    i = int(np.argmax(np.abs(v)))
    v[i] = -v[i]
    return v


VECTOR_MUTATIONS = {
    "scaled by 1 + 1e-8": _scaled,
    "one component off by 1e-8": _one_component,
    "one neuron's block off by 1e-8": _one_block,
    "sign of one entry flipped": _sign_flipped,
}


def relu_prime_zero_is_one(x, y, theta):
    """The gradient with relu'(0) = 1 at data points exactly on a knot (the tests' reference
    activation rule), minus the correct one: ``sum over tied (i, k) of r_i [v_k x_i, v_k, 0] / n``."""
    m = (theta.size - 1) // 3
    Z, _ = ref.preactivations(x, theta)
    tied = (Z == 0).astype(float)
    r = ref.residuals(x, y, theta)
    v = theta[2 * m:3 * m]
    extra = np.zeros(theta.size)
    extra[:m] = v * (tied.T @ (r * x)) / x.size
    extra[m:2 * m] = v * (tied.T @ r) / x.size
    return extra


def is_a_change(mutated, original):
    """A mutation that leaves the vector (at this theta) unchanged, or changes it by less than REL of
    its size, is not one the bank asks to catch (e.g. a flipped 0, a zero residual term)."""
    return np.abs(mutated - original).max() >= 0.5 * REL * np.abs(original).max() > 0


def assert_bank_caught(x, y, theta, j, k):
    m = (theta.size - 1) // 3
    obj = relu1d.Objective(x, y)
    g = obj.grad(theta)
    for name, mutate in VECTOR_MUTATIONS.items():
        if is_a_change(mutate(g, j, k, m), g):
            report = check_grad(Mutant(obj, grad=lambda t, gg: mutate(gg, j, k, m)), theta)
            assert not report.passed, f"check_grad missed: gradient {name}\n{report}"
            assert not compare_to_exact(Mutant(obj, grad=lambda t, gg: mutate(gg, j, k, m)), x, y, theta).passed
    u0 = np.random.default_rng(0).standard_normal(theta.size)
    hu0 = obj.hvp(theta, u0)
    for name, mutate in VECTOR_MUTATIONS.items():
        if is_a_change(mutate(hu0, j, k, m), hu0):
            report = check_hvp(Mutant(obj, hvp=lambda t, u, hu: mutate(hu, j, k, m)), theta)
            assert not report.passed, f"check_hvp missed: HVP {name}\n{report}"
            assert not compare_to_exact(Mutant(obj, hvp=lambda t, u, hu: mutate(hu, j, k, m)), x, y, theta).passed
    R = ref.residual_term(x, y, theta)
    if is_a_change(hu0 - R @ u0, hu0):
        gauss_newton = Mutant(obj, hvp=lambda t, u, hu: hu - R @ u)
        report = check_hvp(gauss_newton, theta)
        assert not report.passed, f"check_hvp missed: Gauss-Newton in place of the Hessian\n{report}"
        assert not compare_to_exact(gauss_newton, x, y, theta).passed
    extra = relu_prime_zero_is_one(x, y, theta)
    if is_a_change(g + extra, g):
        convention = Mutant(obj, grad=lambda t, gg: gg + extra)
        report = compare_to_exact(convention, x, y, theta)
        assert not report.passed, f"compare_to_exact missed: relu'(0) = 1 at ties\n{report}"
        worst = report.worst["grad"]["neuron"]
        assert np.any(ref.preactivations(x, theta)[0][:, worst] == 0)  # it points at a tied neuron
        # the one-sided stencils keep ties inactive, so the finite differences see it too
        assert not check_grad(convention, theta).passed


@pytest.mark.parametrize("seed", range(8))
def test_mutation_bank_on_random_problems(seed):
    rng = np.random.default_rng(seed)
    n, m = int(rng.integers(5, 60)), int(rng.integers(1, 21))
    x = rng.uniform(-1, 1, n)
    y = np.sin(3 * x) + 0.1 * rng.standard_normal(n)
    theta = relu1d.init_params(m, rng=rng)
    assert_bank_caught(x, y, theta, int(rng.integers(3 * m + 1)), int(rng.integers(m)))


@SOME
@given(ADVERSARIAL, st.data())
def test_mutation_bank_on_adversarial_problems(problem, data):
    x, y, theta = problem
    m = (theta.size - 1) // 3
    assert_bank_caught(x, y, theta, data.draw(st.integers(0, 3 * m)), data.draw(st.integers(0, m - 1)))


def test_mutation_bank_includes_a_tie_example():
    """The relu'(0) = 1 branch of the bank is exercised: a knot exactly on a data point with a
    residual there."""
    x = np.array([-1.0, -0.5, 0.0, 0.5, 1.0])
    y = np.array([1.0, -2.0, 0.5, 3.0, -1.0])
    theta = relu1d.pack([1.0, -2.0], [0.5, 1.0], [1.0, -1.0], 0.1)  # knots at -0.5 and 0.5
    g = relu1d.Objective(x, y).grad(theta)
    assert is_a_change(g + relu_prime_zero_is_one(x, y, theta), g)
    assert_bank_caught(x, y, theta, 3, 1)


def test_mutation_bank_with_a_tie_beside_a_near_tie():
    """Found by the adversarial search: twelve ties at x = 0 and one point 2^-14 beside the knot; the
    directions must move that point away from the knot too, or the forward stencil is squeezed to
    ~1e-6 and a 1e-8 error goes unseen."""
    x = np.array([0.0] * 12 + [2.0**-14])
    y = np.array([0.0] * 12 + [0.125])
    assert_bank_caught(x, y, np.array([0.0625, -0.0, 0.0, 0.0]), 0, 0)
    # b_0 is pinned: moving it either activates the ties or crosses 2^-14; the directions that keep
    # u_b independent of u_w (every other one) still see an error in dL/db_0
    assert_bank_caught(x, 5 * y, np.array([1.0, -0.0, 0.0, 0.0]), 1, 0)


def test_mutation_bank_with_a_tiny_gradient():
    """Also found by the search: the same data with y = 0, so L ~ 1e-15 and the gradient ~ 1e-8. A
    stencil as wide as the kinks allow moves c so far that the loss values, and their rounding, are
    ~1e10 times L: the step is chosen by the predicted rounding bound, not by the kinks alone."""
    x = np.array([0.0] * 12 + [2.0**-14])
    theta = np.array([0.0625, -0.0, 0.0625, 0.0])
    assert_bank_caught(x, np.zeros(13), theta, 0, 0)
    report = check_grad(relu1d.Objective(x, np.zeros(13)), theta)
    assert report.resolution < 1e-10 and np.all(report.steps < 1e-3)


@MANY
@given(ADVERSARIAL, st.sampled_from(relu1d.KERNELS), st.sampled_from([None, "unit"]))
def test_a_correct_implementation_never_fails(problem, kernel, directions):
    """No false failures, ties included: with random directions something is always checked (they
    are drawn to keep ties inactive); with coordinate directions some may be skipped (a w = b = 0
    neuron's ties go both ways along e_w), none fails."""
    x, y, theta = problem
    obj = relu1d.Objective(x, y, kernel=kernel)
    for report in (check_grad(obj, theta, directions=directions), check_hvp(obj, theta, directions=directions)):
        assert report.n_failed == 0, report
        if directions is None:
            assert report.passed and report.n_checked == report.n_directions, report
    assert compare_to_exact(obj, x, y, theta).passed


def test_the_property_sees_ties():
    """The strategy behind the property puts knots exactly on data points (so the one-sided path runs)."""
    seen = []

    @settings(max_examples=30, derandomize=True, database=None)
    @given(ADVERSARIAL)
    def collect(problem):
        x, _, theta = problem
        seen.append(bool(np.any(ref.preactivations(x, theta)[0] == 0)))

    collect()
    assert sum(seen) >= 5
