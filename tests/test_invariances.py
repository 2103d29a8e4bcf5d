"""Symmetries of the model: neuron permutations, positive rescaling, data order; predict()."""

from __future__ import annotations

import numpy as np
from hypothesis import given
from hypothesis import strategies as st

import reference as ref
import relu1d
from helpers import assert_within, both_kernels
from relu1d.testing import problems


def permute_neurons(theta, perm):
    w, b, v, c = relu1d.unpack(theta)
    return relu1d.pack(w[perm], b[perm], v[perm], c)


def coordinate_permutation(perm):
    m = perm.size
    return np.concatenate([perm, m + perm, 2 * m + perm, [3 * m]])


@given(problems(max_n=25, max_width=6), st.randoms(use_true_random=False))
def test_permuting_neurons_permutes_derivatives(problem, random):
    """f does not depend on the order of the neurons: the gradient and Hessian permute with them
    (to rounding: the summation order over neurons changes)."""
    x, y, theta = problem
    m = (theta.size - 1) // 3
    perm = np.array(random.sample(range(m), m))
    P = coordinate_permutation(perm)
    theta_p = permute_neurons(theta, perm)
    tol = ref.tolerance(x.size, m)
    g_scale = ref.grad_abs(x, y, theta)
    H_scale = ref.hessian_abs(x, y, theta)
    for kernel, obj in both_kernels(x, y).items():
        assert_within(obj.loss(theta_p), obj.loss(theta), ref.loss_tolerance(x, y, theta), f"{kernel} loss")
        assert_within(obj.grad(theta_p), obj.grad(theta)[P], tol * g_scale[P], f"{kernel} gradient")
        assert_within(obj.hessian(theta_p), obj.hessian(theta)[np.ix_(P, P)], tol * H_scale[np.ix_(P, P)],
                      f"{kernel} Hessian")


@given(problems(max_n=25, max_width=6), st.integers(-4, 4))
def test_power_of_two_rescaling_is_exact(problem, j):
    """(w_k, b_k) -> a (w_k, b_k), v_k -> v_k / a with a = 2^j: every pre-activation scales exactly, so
    the predicate, f and the loss are bit-identical, and the gradient transforms exactly:
    dL/dw -> dL/dw / a, dL/db -> dL/db / a, dL/dv -> a dL/dv."""
    x, y, theta = problem
    a = 2.0 ** j
    w, b, v, c = relu1d.unpack(theta)
    k = np.arange(w.size) % 2 == 0  # rescale every other neuron
    scaled = relu1d.pack(np.where(k, a * w, w), np.where(k, a * b, b), np.where(k, v / a, v), c)
    for kernel, obj in both_kernels(x, y).items():
        assert obj.loss(scaled) == obj.loss(theta), kernel
        np.testing.assert_array_equal(obj.residuals(scaled), obj.residuals(theta), err_msg=kernel)
        gw, gb, gv, gc = relu1d.unpack(obj.grad(theta))
        sw, sb, sv, sc = relu1d.unpack(obj.grad(scaled))
        np.testing.assert_array_equal(sw, np.where(k, gw / a, gw), err_msg=kernel)
        np.testing.assert_array_equal(sb, np.where(k, gb / a, gb), err_msg=kernel)
        np.testing.assert_array_equal(sv, np.where(k, gv * a, gv), err_msg=kernel)
        assert sc == gc


@given(problems(max_n=25, max_width=6), st.floats(0.1, 10.0))
def test_positive_rescaling_keeps_f_and_loss(problem, a):
    """Any a > 0: f and the loss are unchanged to rounding. (A data point on a knot, z = 0, may get
    z = O(eps) after the rounded rescaling and switch sides; relu(z) is then at the rounding level,
    so the error scale is that of either parameter vector, whichever active set is larger.)"""
    x, y, theta = problem
    w, b, v, c = relu1d.unpack(theta)
    scaled = relu1d.pack(a * w, a * b, v / a, c)
    tol = ref.tolerance(x.size, w.size + 1)  # + 1: the rounding of each rescaled parameter
    delta = tol * np.maximum(ref.residual_abs(x, y, theta), ref.residual_abs(x, y, scaled))
    for kernel, obj in both_kernels(x, y).items():
        r = obj.residuals(theta)
        assert_within(obj.residuals(scaled), r, delta, kernel)
        loss_tol = np.sum(np.abs(r) * delta + delta**2 / 2) / x.size + tol * obj.loss(theta)
        assert_within(obj.loss(scaled), obj.loss(theta), loss_tol, kernel)


@given(problems(max_n=30, max_width=6))
def test_residuals_in_caller_order_match_predict(problem):
    x, y, theta = problem
    m = (theta.size - 1) // 3
    tol = ref.tolerance(x.size, m) * ref.residual_abs(x, y, theta)
    expected = relu1d.predict(theta, x) - y
    for kernel, obj in both_kernels(x, y).items():
        assert_within(obj.residuals(theta), expected, tol, kernel)
        # the order is the caller's: permuting the data permutes the residuals
        perm = np.argsort(-x, kind="stable")
        obj_p = relu1d.Objective(x[perm], y[perm], kernel=kernel)
        assert_within(obj_p.residuals(theta), obj.residuals(theta)[perm], tol[perm], f"{kernel} permuted data")
        np.testing.assert_array_equal(obj.x_sorted, x[obj.order])


@given(problems(max_n=30, max_width=6))
def test_predict_matches_reference(problem):
    x, _, theta = problem
    m = (theta.size - 1) // 3
    tol = ref.tolerance(x.size, m) * ref.forward_abs(x, theta)
    assert_within(relu1d.predict(theta, x), ref.forward(x, theta), tol, "predict")
    # any shape: evaluated elementwise
    grid = np.resize(x, (2, 3, x.size))
    out = relu1d.predict(theta, grid)
    assert out.shape == grid.shape
    assert_within(out[1, 2], ref.forward(x, theta), tol, "predict on a 3-D array")
    assert_within(relu1d.predict(theta, x[0]), ref.forward(x[:1], theta)[0], tol[0], "predict on a scalar")
