"""Structural facts about the Hessian (ALGORITHMS.md §2), for both kernels."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given

import reference as ref
import relu1d
from helpers import assert_within, both_kernels, interpolating_labels, mixed_network
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


# The fast Hessian runs over 32 x 32 tiles of neuron pairs (a vectorised loop for the pairs whose
# parameters and data are in the tame range, point by point for the others); from m >= n at
# n <= 256 it looks the interval sums up in a table. Widths around the tile edge, with every kind of
# awkward neuron in each tile.
TILE_CASES = [(3, 1), (5, 2), (40, 31), (40, 32), (40, 33), (20, 65), (70, 65)]


@pytest.mark.parametrize("outlier", [0.0, 1e30, 1e250], ids=["plain", "tame_outliers", "wild_outliers"])
@pytest.mark.parametrize("n, m", TILE_CASES)
def test_hessian_tiles_with_mixed_neurons_match_the_reference(n, m, outlier):
    """Both kernels against the reference wherever its entry and error scale are finite, exactly
    symmetric; hessian() returns the entries when they are all finite and otherwise raises the
    ValueError naming theta."""
    x, y, theta = mixed_network(n, m, seed=100 * n + m, outlier=outlier)
    tol = ref.tolerance(x.size, m)
    with np.errstate(all="ignore"):
        want, scale = ref.hessian(x, y, theta), tol * ref.hessian_abs(x, y, theta)
    ok = np.isfinite(want) & np.isfinite(scale)
    assert ok.sum() >= 0.5 * ok.size
    # (the dense kernel sums J^T J over all points: a J entry that overflows turns the zeros of the
    # other neurons at that point into NaN along its row, where the row's diagonal entry overflows
    # too; the fast kernel keeps every entry that the reference finds finite)
    overflowing = ~np.isfinite(np.diag(want))
    clear = {"fast": ok, "dense": ok & ~overflowing[:, None] & ~overflowing[None, :]}
    for kernel, obj in both_kernels(x, y).items():
        H = obj._core.hessian(theta, check_finite=False)
        assert np.array_equal(H, H.T, equal_nan=True), kernel
        assert_within(H[clear[kernel]], want[clear[kernel]], scale[clear[kernel]], f"{kernel} Hessian")
        if np.all(np.isfinite(H)):
            np.testing.assert_array_equal(obj.hessian(theta), H)
        else:
            with pytest.raises(ValueError, match="^theta: the Hessian overflows"):
                obj.hessian(theta)


@pytest.mark.parametrize("n, m, count", [(40, 70, 37), (256, 300, 100), (257, 300, 100)])
def test_hessian_pair_entries_depend_on_the_pair_alone(n, m, count):
    """Each neuron pair's entries of J^T J / n (and each neuron's c entries) come from the pair
    alone, by the same operations wherever the pair sits in its tile and whether or not the
    interval sums are tabulated (m >= n, n <= 256): bit for bit those of a network of `count` < n
    of the neurons in another order. Only R (the (v_k, w_k) and (v_k, b_k) entries) depends on
    the other neurons, through the residuals."""
    x, y, theta = mixed_network(n, m, seed=m + n, outlier=1e250)
    pick = np.random.default_rng(n).permutation(m)[:count]
    sub = np.concatenate([theta[r * m + pick] for r in range(3)] + [theta[3 * m:]])
    index = np.concatenate([r * m + pick for r in range(3)] + [[3 * m]])
    full = relu1d.Objective(x, y)._core.hessian(theta, check_finite=False)[np.ix_(index, index)]
    part = relu1d.Objective(x, y)._core.hessian(sub, check_finite=False)
    k = np.arange(count)
    for H in (full, part):
        H[2 * count + k, k] = H[k, 2 * count + k] = H[2 * count + k, count + k] = H[count + k, 2 * count + k] = 0.0
    assert np.isfinite(part).sum() >= 0.5 * part.size and not np.all(np.isfinite(part))
    assert np.array_equal(full, part, equal_nan=True)
