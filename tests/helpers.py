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
