"""Second-order calls (hvp, hessian, sharpness) reuse the kernel's state when theta has the same
bits as the last such call; anything else prepares again. Every result must be the bits a fresh
Objective gives."""

import numpy as np
import pytest

import relu1d


@pytest.fixture(scope="module", params=["fast", "dense"])
def setting(request):
    x, y = relu1d.make_data(40, rng=3)
    theta = relu1d.init_params(30, rng=4)
    return x, y, theta, request.param


def fresh_hvp(x, y, kernel, theta, u):
    return relu1d.Objective(x, y, kernel=kernel).hvp(theta, u)


def test_repeated_and_changed_theta_give_fresh_bits(setting):
    x, y, theta0, kernel = setting
    rng = np.random.default_rng(0)
    u = rng.standard_normal(theta0.size)
    obj = relu1d.Objective(x, y, kernel=kernel)
    theta = theta0.copy()
    first = obj.hvp(theta, u)
    np.testing.assert_array_equal(obj.hvp(theta, u), first)  # the held state
    np.testing.assert_array_equal(first, fresh_hvp(x, y, kernel, theta, u))
    theta[5] += 0.25  # the same array, changed in place: prepared again
    np.testing.assert_array_equal(obj.hvp(theta, u), fresh_hvp(x, y, kernel, theta, u))
    other = theta0 + 0.1 * rng.standard_normal(theta0.size)
    np.testing.assert_array_equal(obj.hvp(other, u), fresh_hvp(x, y, kernel, other, u))
    np.testing.assert_array_equal(obj.hvp(theta, u), fresh_hvp(x, y, kernel, theta, u))


def test_first_order_calls_in_between(setting):
    x, y, theta, kernel = setting
    u = np.random.default_rng(1).standard_normal(theta.size)
    other = theta * 1.5
    obj, fresh = relu1d.Objective(x, y, kernel=kernel), relu1d.Objective(x, y, kernel=kernel)
    obj.hvp(theta, u)
    loss, grad = obj.loss_and_grad(other)  # prepares at `other`
    fresh_loss, fresh_grad = fresh.loss_and_grad(other)
    assert loss == fresh_loss
    np.testing.assert_array_equal(grad, fresh_grad)
    np.testing.assert_array_equal(obj.hvp(theta, u), fresh_hvp(x, y, kernel, theta, u))
    np.testing.assert_array_equal(obj.residuals(other), fresh.residuals(other))
    np.testing.assert_array_equal(obj.hvp(theta, u), fresh_hvp(x, y, kernel, theta, u))


def test_signed_zero_is_a_different_theta(setting):
    x, y, theta, kernel = setting
    u = np.ones(theta.size)
    plus = theta.copy()
    plus[-1] = 0.0
    minus = plus.copy()
    minus[-1] = -0.0
    obj = relu1d.Objective(x, y, kernel=kernel)
    obj.hvp(plus, u)
    np.testing.assert_array_equal(obj.hvp(minus, u), fresh_hvp(x, y, kernel, minus, u))


def test_hessian_sharpness_and_operator_at_the_held_theta(setting):
    x, y, theta, kernel = setting
    u = np.random.default_rng(2).standard_normal(theta.size)
    obj, fresh = relu1d.Objective(x, y, kernel=kernel), relu1d.Objective(x, y, kernel=kernel)
    hu = obj.hvp(theta, u)
    H = obj.hessian(theta)
    np.testing.assert_array_equal(H, fresh.hessian(theta))
    assert relu1d.sharpness(obj, theta).value == relu1d.sharpness(fresh, theta).value
    np.testing.assert_array_equal(obj.hvp(theta, u), hu)
    op = obj.hessian_operator(theta)
    np.testing.assert_array_equal(op.matvec(u), hu)
    np.testing.assert_array_equal(op.matvec(u), hu)
    # the operator holds its own copy: a theta changed in place afterwards does not move it
    changed = theta.copy()
    op2 = obj.hessian_operator(changed)
    changed[0] += 1.0
    np.testing.assert_array_equal(op2.matvec(u), hu)
    np.testing.assert_array_equal(obj.hvp(changed, u), fresh_hvp(x, y, kernel, changed, u))
