"""Gradients and HVPs of both kernels against central finite differences (via relu1d.testing).

Tolerances, where a test fixes the step h: a small absolute tolerance plus the rounding error of
the difference quotient itself: each loss value is within ``tolerance(n, m) * loss_abs`` of the exact
value (reference.py), so the quotient carries up to ``tolerance * loss_abs / h``. The truncation error
is O(h^2) (the loss is a quartic polynomial along a line while no kink is crossed) and negligible at
h = 1e-6.
"""

from __future__ import annotations

import numpy as np
from hypothesis import given
from hypothesis import strategies as st

import reference as ref
import relu1d
from relu1d.testing import assert_grad_close, assert_hvp_close, away_from_kinks, check_grad, check_hvp, problems

H = 1e-6
SMALL = dict(max_n=20, max_width=5, x_scale=2.0, y_scale=2.0, weight_scale=2.0)


def fd_atol(x, y, theta, what):
    m = (theta.size - 1) // 3
    tol = ref.tolerance(x.size, m)
    if what == "grad":
        scale = np.sum(ref.residual_abs(x, y, theta) ** 2) / (2 * x.size)
    else:
        scale = np.max(ref.grad_abs(x, y, theta))
    return 1e-5 + tol * scale / H


def stencil_reach(x):
    """The most a step h along a unit-norm direction moves any pre-activation w x + b."""
    return H * (np.abs(x).max() + 1.0)


@given(problems(**SMALL), st.sampled_from(relu1d.KERNELS), st.sampled_from([None, "unit"]))
def test_gradient_matches_central_differences_away_from_kinks(problem, kernel, directions):
    x, y, theta = problem
    theta = away_from_kinks(x, theta, 4 * stencil_reach(x))
    obj = relu1d.Objective(x, y, kernel=kernel)
    report = assert_grad_close(obj, theta, h=H, atol=fd_atol(x, y, theta, "grad"), directions=directions, rng=0)
    assert report.n_skipped_kink_crossing == 0 and report.n_checked == report.n_directions
    assert report.min_margin >= 4


@given(problems(**SMALL), st.sampled_from(relu1d.KERNELS), st.sampled_from([None, "unit"]))
def test_hvp_matches_central_differences_away_from_kinks(problem, kernel, directions):
    x, y, theta = problem
    theta = away_from_kinks(x, theta, 4 * stencil_reach(x))
    obj = relu1d.Objective(x, y, kernel=kernel)
    report = assert_hvp_close(obj, theta, h=H, atol=fd_atol(x, y, theta, "hvp"), directions=directions, rng=1)
    assert report.n_skipped_kink_crossing == 0 and report.n_checked == report.n_directions


@given(problems(**SMALL), st.sampled_from(relu1d.KERNELS))
def test_derivatives_at_adversarial_points_where_no_kink_is_crossed(problem, kernel):
    """At the drawn theta itself (knots on data points, w = 0, dead neurons), every coordinate
    direction that crosses no kink must pass; the c direction never crosses one."""
    x, y, theta = problem
    obj = relu1d.Objective(x, y, kernel=kernel)
    g_report = assert_grad_close(obj, theta, h=H, atol=fd_atol(x, y, theta, "grad"), directions="unit")
    h_report = assert_hvp_close(obj, theta, h=H, atol=fd_atol(x, y, theta, "hvp"), directions="unit")
    for report in (g_report, h_report):
        assert not report.crossed[-1]
        assert report.n_checked + report.n_skipped_kink_crossing == theta.size


def test_ordinary_problem_with_default_settings():
    """relu1d.testing's defaults (stencil step and tolerance derived per direction) on an everyday problem."""
    rng = np.random.default_rng(0)
    x = rng.uniform(-1, 1, 50)
    y = np.sin(3 * x)
    theta = relu1d.init_params(10, rng=rng)
    for kernel in relu1d.KERNELS:
        obj = relu1d.Objective(x, y, kernel=kernel)
        g = check_grad(obj, theta, directions=20, rng=3)
        hv = check_hvp(obj, theta, directions=20, rng=4)
        assert g.passed and hv.passed, (g, hv)
        assert g.max_rel_error < 1e-6 and hv.max_rel_error < 1e-6
