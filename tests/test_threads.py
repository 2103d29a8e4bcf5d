"""Results of the dense kernel do not depend on the number of threads, bit for bit (ALGORITHMS.md §5)."""

from __future__ import annotations

import numpy as np
import pytest

import relu1d


@pytest.fixture(scope="module")
def large_problem():
    # n * m = 900000 >= 65536: the dense kernel uses several threads here.
    rng = np.random.default_rng(2024)
    n, m = 3000, 300
    x = np.round(rng.uniform(-3, 3, n), 3)  # ties
    y = np.sin(2 * x) + 0.1 * rng.standard_normal(n)
    theta = relu1d.init_params(m, rng=rng)
    theta[:20] = 1.0
    theta[m:m + 20] = -x[:20]  # knots exactly on data points
    theta[20:25] = 0.0  # w = 0 neurons with b of both signs
    theta[m + 20:m + 25] = [1.0, -1.0, 0.0, 0.5, -0.5]
    u = rng.standard_normal(theta.size)
    return x, y, theta, u


def test_dense_kernel_is_bit_identical_for_every_thread_count(large_problem):
    x, y, theta, u = large_problem
    results = []
    for threads in (1, 2, 3, None):
        obj = relu1d.Objective(x, y, kernel="dense", threads=threads)
        loss, g = obj.loss_and_grad(theta)
        results.append((threads, loss, g, obj.hvp(theta, u), obj.residuals(theta)))
    _, loss1, g1, hu1, r1 = results[0]
    for threads, loss, g, hu, r in results[1:]:
        assert loss == loss1, threads
        np.testing.assert_array_equal(g, g1, err_msg=f"gradient, threads={threads}")
        np.testing.assert_array_equal(hu, hu1, err_msg=f"HVP, threads={threads}")
        np.testing.assert_array_equal(r, r1, err_msg=f"residuals, threads={threads}")


def test_threaded_dense_agrees_with_fast(large_problem):
    """The threaded path computes the same numbers as the sorted-data kernel (to rounding)."""
    x, y, theta, u = large_problem
    dense = relu1d.Objective(x, y, kernel="dense", threads=3)
    fast = relu1d.Objective(x, y, kernel="fast")
    g_d, g_f = dense.grad(theta), fast.grad(theta)
    assert np.max(np.abs(g_d - g_f)) <= 1e-12 * np.max(np.abs(g_f))
    hu_d, hu_f = dense.hvp(theta, u), fast.hvp(theta, u)
    assert np.max(np.abs(hu_d - hu_f)) <= 1e-12 * np.max(np.abs(hu_f))
