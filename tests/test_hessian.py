"""Structural facts about the Hessian (ALGORITHMS.md §2), for both kernels."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given

import reference as ref
import relu1d
from helpers import assert_within, both_kernels, interpolating_labels
from relu1d.testing import problems

EPS = ref.EPS


def eig_slack(M):
    """A generous bound on the rounding error of LAPACK's symmetric eigensolver: a small multiple of
    d eps ||M||_2 (it is backward stable)."""
    return 4 * M.shape[0] * EPS * np.linalg.norm(M, 2)


@given(problems(max_n=25, max_width=6))
def test_hessian_is_symmetric_with_unit_cc_entry(problem):
    """Both kernels build one triangle and mirror it, so H is symmetric bit for bit; and
    H[c, c] = sum_i 1 / n = 1 exactly."""
    x, y, theta = problem
    for kernel, obj in both_kernels(x, y).items():
        H = obj.hessian(theta)
        assert np.array_equal(H, H.T), kernel
        assert H[-1, -1] == 1.0, kernel


@given(problems(max_n=20, max_width=5))
def test_hessian_columns_are_hvps_with_unit_vectors(problem):
    x, y, theta = problem
    d = theta.size
    tol = ref.tolerance(x.size, (d - 1) // 3)
    H_abs = ref.hessian_abs(x, y, theta)
    for kernel, obj in both_kernels(x, y).items():
        H = obj.hessian(theta)
        for j in range(d):
            e = np.zeros(d)
            e[j] = 1.0
            scale = np.maximum(H_abs[:, j], ref.hvp_abs(x, y, theta, e))
            assert_within(obj.hvp(theta, e), H[:, j], tol * scale, f"{kernel}: H e_{j} vs column {j}")


@given(problems(max_n=25, max_width=6))
def test_sharpness_is_at_least_one(problem):
    """H[c, c] = 1 exactly, so the Rayleigh quotient at e_c gives lambda_max(H) >= 1 for the computed
    H itself; only the eigensolver's rounding remains."""
    x, y, theta = problem
    for kernel, obj in both_kernels(x, y).items():
        H = obj.hessian(theta)
        assert np.linalg.eigvalsh(H)[-1] >= 1.0 - eig_slack(H), kernel


@given(problems(max_n=20, max_width=5))
def test_gram_identity_at_an_interpolating_point(problem):
    """With y = f(x) as the kernel computes it, r = 0 exactly, so R = 0 and H = J^T J / n. Its nonzero
    spectrum equals that of J J^T / n, here from the closed form
    (J J^T)_ij = 1 + sum_k a_ik a_jk [z_ik z_jk + v_k^2 (x_i x_j + 1)]."""
    x, _, theta = problem
    n, d = x.size, theta.size
    tol = ref.tolerance(n, (d - 1) // 3)
    G = ref.gram(x, theta) / n
    G_err = np.linalg.norm(tol * ref.gram_abs(x, theta) / n)
    lam_G = np.linalg.eigvalsh(G)[::-1]
    for kernel in relu1d.KERNELS:
        y = interpolating_labels(x, theta, kernel)
        obj = relu1d.Objective(x, y, kernel=kernel)
        assert np.all(obj.residuals(theta) == 0.0), kernel
        H = obj.hessian(theta)
        # Weyl: each computed spectrum is within the Frobenius norm of its rounding error
        slack = np.linalg.norm(tol * ref.hessian_abs(x, y, theta)) + G_err + eig_slack(H) + eig_slack(G)
        lam_H = np.linalg.eigvalsh(H)[::-1]
        k = min(n, d)
        assert_within(lam_H[:k], lam_G[:k], slack, f"{kernel}: top eigenvalues of J^T J / n vs J J^T / n")
        assert np.all(lam_H[k:] <= slack) and lam_H[-1] >= -slack, f"{kernel}: J^T J / n is PSD of rank <= n"


@pytest.mark.parametrize("seed", range(3))
def test_wide_hessian_fast_equals_dense(seed):
    rng = np.random.default_rng(seed)
    x = np.round(rng.uniform(-2, 2, 120), 2)  # many ties
    y = rng.standard_normal(x.size)
    theta = relu1d.init_params(40, rng=rng)
    theta[:5] = 1.0
    theta[40:45] = -x[:5]  # knots on data points
    fast, dense = both_kernels(x, y).values()
    tol = ref.tolerance(x.size, 40)
    assert_within(fast.hessian(theta), dense.hessian(theta), tol * ref.hessian_abs(x, y, theta), "fast vs dense")


def test_hessian_operator_matches_hvp():
    rng = np.random.default_rng(2)
    x, y = rng.normal(size=30), rng.normal(size=30)
    theta = relu1d.init_params(4, rng=rng)
    for obj in both_kernels(x, y).values():
        op = obj.hessian_operator(theta)
        assert op.shape == (theta.size, theta.size)
        U = rng.standard_normal((theta.size, 3))
        np.testing.assert_array_equal(op.matvec(U[:, 0]), obj.hvp(theta, U[:, 0]))
        np.testing.assert_array_equal(op.matmat(U), np.column_stack([obj.hvp(theta, U[:, j]) for j in range(3)]))
