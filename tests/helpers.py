"""Comparison helpers shared by the tests."""

from __future__ import annotations

import numpy as np

import relu1d


def assert_within(actual, expected, tol, what: str) -> None:
    """Elementwise |actual - expected| <= tol, with a message that shows the worst offender."""
    actual = np.asarray(actual, dtype=np.float64)
    expected = np.asarray(expected, dtype=np.float64)
    tol = np.broadcast_to(np.asarray(tol, dtype=np.float64), expected.shape)
    assert actual.shape == expected.shape, f"{what}: shape {actual.shape} != {expected.shape}"
    err = np.abs(actual - expected)
    bad = ~(err <= tol)
    if bad.any():
        idx = np.unravel_index(np.argmax(np.where(bad, err / np.maximum(tol, 1e-300), 0)), err.shape)
        raise AssertionError(
            f"{what}: {int(bad.sum())} of {err.size} entries outside the error scale; worst at {idx}: "
            f"actual {actual[idx]!r}, expected {expected[idx]!r}, |diff| {err[idx]:.3g} > tol {tol[idx]:.3g}")


def both_kernels(x, y, **kwargs):
    """{"fast": Objective, "dense": Objective} on the same data."""
    return {k: relu1d.Objective(x, y, kernel=k, **kwargs) for k in relu1d.KERNELS}


def interpolating_labels(x, theta, kernel: str) -> np.ndarray:
    """Labels y with r = f(x) - y == 0 exactly for this kernel: f as the kernel computes it (its
    residuals against y = 0 are f itself, since f - 0 == f)."""
    return relu1d.Objective(x, np.zeros(len(x)), kernel=kernel).residuals(theta)


def extreme_problems(max_n: int = 12, max_width: int = 4):
    """Hypothesis strategy for ``(x, y, theta)`` at extreme magnitudes, built on
    ``relu1d.testing.problems`` (ties, knots on data, dead neurons, w = 0) with one of:

    - ``outliers``: one to three extra points with |x| up to 1e300 and labels up to 1e300 in
      magnitude (so running totals over all the data are dominated by points a neuron may not see);
    - ``subnormal``: extra points at subnormal x (and -0.0), with ordinary parameters;
    - ``theta``: each neuron's (w, b) scaled by 10^e (its knot stays put) and v, c by 10^e',
      with e, e' in [-60, 150] (products of three parameters and x^2 stay normal).
    """
    from hypothesis import strategies as st
    from relu1d.testing import problems

    exponent = st.floats(0.0, 300.0)
    sign = st.sampled_from((1.0, -1.0))

    @st.composite
    def build(draw):
        x, y, theta = draw(problems(max_n=max_n, max_width=max_width))
        m = (theta.size - 1) // 3
        kind = draw(st.sampled_from(("outliers", "subnormal", "theta")))
        if kind == "outliers":
            k = draw(st.integers(1, 3))
            xo = [draw(sign) * 10.0 ** draw(exponent) for _ in range(k)]
            yo = [draw(sign) * 10.0 ** draw(exponent) for _ in range(k)]
            x, y = np.concatenate([x, xo]), np.concatenate([y, yo])
        elif kind == "subnormal":
            k = draw(st.integers(1, 3))
            tiny = st.integers(-2**52 + 1, 2**52 - 1).map(lambda j: j * 2.0 ** -1074)
            xs = [draw(st.one_of(tiny, st.just(-0.0))) for _ in range(k)]
            x, y = np.concatenate([x, xs]), np.concatenate([y, [draw(sign) for _ in range(k)]])
        else:
            theta = theta.copy()
            scale = st.integers(-60, 150).map(lambda e: 10.0 ** e)
            for j in range(m):
                s_wb, s_v = draw(scale), draw(scale)
                theta[j] *= s_wb
                theta[m + j] *= s_wb
                theta[2 * m + j] *= s_v
            theta[3 * m] *= draw(scale)
        return x, y, theta

    return build()


class Mutant:
    """relu1d's Objective with its gradient or HVP deliberately corrupted: ``grad(theta, g)`` and
    ``hvp(theta, u, hu)`` receive the exact result and return the corrupted one."""

    def __init__(self, obj, grad=None, hvp=None):
        self.obj, self.x_sorted, self.y_sorted = obj, obj.x_sorted, obj.y_sorted
        self._grad, self._hvp = grad, hvp

    def loss(self, theta):
        return self.obj.loss(theta)

    def grad(self, theta):
        g = self.obj.grad(theta)
        return g if self._grad is None else self._grad(theta, g)

    def hvp(self, theta, u):
        hu = self.obj.hvp(theta, u)
        return hu if self._hvp is None else self._hvp(theta, u, hu)


def mixed_network(n: int, m: int, seed: int, *, outlier: float = 0.0, wild_params: bool = True):
    """``(x, y, theta)``: n rounded points (ties) and m neurons that cycle through the awkward kinds,
    so that every block of a few consecutive neurons mixes them: ordinary; w = 0 with b of either
    sign or zero; dead (active set empty); a knot exactly on a data point (w = +-1, b = -+x_i);
    with ``wild_params``, (w, b) scaled by 1e200, 1e120, 1e-120 or 1e-250 (knot kept) and v by
    1e150 or 1e-250. With ``outlier`` != 0, three points at outlier, -outlier / 3 and 1e-300 (and
    -1e-300 from n = 6): beyond 2^200 or under 2^-200 they make the data of every interval that
    holds them leave the range where the Hessian's moment formulas are safe."""
    rng = np.random.default_rng(seed)
    x = np.round(rng.uniform(-2, 2, n), 2)
    if outlier and n >= 4:
        x[:3] = outlier, -outlier / 3, 1e-300
        if n >= 6:
            x[3] = -1e-300
    y = np.sin(np.clip(x, -5, 5)) + 0.1 * rng.standard_normal(n)
    theta = relu1d.init_params(m, rng=rng)
    w, b, v = theta[:m], theta[m:2 * m], theta[2 * m:3 * m]
    xs = np.sort(x)
    for k in range(m):
        kind = k % 7
        if kind == 1:
            w[k], b[k] = 0.0, (1.0, -1.0, 0.0)[k % 3]
        elif kind == 2:
            w[k], b[k] = 1.0, -5.0  # dead unless an outlier lies right of 5
        elif kind == 3:
            w[k], b[k] = 1.0, -xs[k % n]
        elif kind == 4:
            w[k], b[k] = -1.0, xs[k % n]
        elif kind == 5 and wild_params:
            s = (1e200, 1e-250, 1e120, 1e-120)[k % 4]
            w[k] *= s
            b[k] *= s
        elif kind == 6 and wild_params:
            v[k] *= (1e150, 1e-250)[k % 2]
    return x, y, theta
