"""PyTorch autograd (float64, eager) as a third, independent reference. Skipped without torch.

PyTorch eager evaluates ``x * w + b`` as a rounded product and a rounded sum (no FMA) and uses
relu'(0) = 0, so its active sets are the package's; values agree to the rounding scales of
reference.py.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import reference as ref
from helpers import assert_within, both_kernels
from relu1d.testing import problems

torch = pytest.importorskip("torch")


def torch_loss(x, y):
    xt = torch.tensor(np.asarray(x, dtype=np.float64))
    yt = torch.tensor(np.asarray(y, dtype=np.float64))
    n = xt.numel()

    def loss(theta):
        m = (theta.numel() - 1) // 3
        w, b, v, c = theta[:m], theta[m:2 * m], theta[2 * m:3 * m], theta[3 * m]
        f = torch.relu(xt[:, None] * w + b) @ v + c
        return ((f - yt) ** 2).sum() / (2 * n)

    return loss


@given(problems(max_n=20, max_width=5), st.integers(0, 2**32 - 1))
def test_kernels_match_torch_autograd(problem, seed):
    x, y, theta = problem
    u = np.random.default_rng(seed).uniform(-2, 2, theta.size)
    tol = ref.tolerance(x.size, (theta.size - 1) // 3)
    loss = torch_loss(x, y)
    th = torch.tensor(theta, requires_grad=True)
    value = loss(th)
    (g_t,) = torch.autograd.grad(value, th)
    _, hu_t = torch.autograd.functional.hvp(loss, torch.tensor(theta), torch.tensor(u))
    H_t = torch.autograd.functional.hessian(loss, torch.tensor(theta))
    for kernel, obj in both_kernels(x, y).items():
        assert_within(obj.loss(theta), value.item(), ref.loss_tolerance(x, y, theta), f"{kernel} loss vs torch")
        assert_within(obj.grad(theta), g_t.numpy(), tol * ref.grad_abs(x, y, theta), f"{kernel} gradient vs torch")
        assert_within(obj.hvp(theta, u), hu_t.numpy(), tol * ref.hvp_abs(x, y, theta, u), f"{kernel} HVP vs torch")
        assert_within(obj.hessian(theta), H_t.numpy(), tol * ref.hessian_abs(x, y, theta), f"{kernel} Hessian vs torch")


def test_torch_agrees_with_the_numpy_reference_on_an_ordinary_problem():
    rng = np.random.default_rng(3)
    x, y = rng.uniform(-2, 2, 60), rng.standard_normal(60)
    theta = rng.standard_normal(3 * 8 + 1)
    H_t = torch.autograd.functional.hessian(torch_loss(x, y), torch.tensor(theta)).numpy()
    H_ref = ref.hessian(x, y, theta)
    assert np.max(np.abs(H_t - H_ref)) <= 1e-12 * np.max(np.abs(H_ref))
