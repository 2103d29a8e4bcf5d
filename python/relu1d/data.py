"""Data sets: the built-in noisy samples of BV(1) targets, and loading from CSV or npz files."""

from __future__ import annotations

import os

import numpy as np

from ._validate import as_float, as_int, as_rng, as_vector

__all__ = ["TARGETS", "target_function", "make_data", "load_data"]


def _relu(x):
    return np.maximum(x, 0.0)


# Targets f0 on [-1, 1] whose derivative has bounded variation (class BV(1)).
TARGETS = {
    # a hat with peak 1 at 0: slope jumps +2, -4, +2 at -1/2, 0, 1/2 (TV(f0') = 8)
    "hat": lambda x: 2.0 * (_relu(x + 0.5) - 2.0 * _relu(x) + _relu(x - 0.5)),
    # |x|: one kink, TV(f0') = 2
    "abs": lambda x: np.abs(x),
    # sin(pi x): smooth, TV(f0') = integral |pi^2 sin(pi x)| = 4 pi
    "sin": lambda x: np.sin(np.pi * x),
}


def target_function(name: str):
    """The noiseless target f0 called ``name`` (one of ``TARGETS``)."""
    if name not in TARGETS:
        raise ValueError(f"target: expected one of {sorted(TARGETS)}, got {name!r}")
    return TARGETS[name]


def make_data(n: int = 30, *, sigma: float = 0.3, target: str = "hat", x_max: float = 1.0, rng=0,
              design: str = "uniform"):
    """Noisy samples y_i = f0(x_i) + eps_i, eps_i ~ N(0, sigma^2), on [-x_max, x_max].

    Parameters
    ----------
    n : int
        Number of points.
    sigma : float
        Noise standard deviation.
    target : str
        One of ``TARGETS`` ("hat", the default, "abs", "sin").
    x_max : float
        Half-width of the input interval.
    rng : None, int, SeedSequence or Generator
        Randomness (default 0: the same data every time).
    design : {"uniform", "grid"}
        x drawn uniformly at random, or an evenly spaced grid.

    Returns
    -------
    x, y : ndarray, shape (n,)
    """
    n = as_int(n, "n", minimum=1)
    sigma = as_float(sigma, "sigma", nonnegative=True)
    x_max = as_float(x_max, "x_max", positive=True)
    f0 = target_function(target)
    gen = as_rng(rng)
    if design == "uniform":
        x = np.sort(gen.uniform(-x_max, x_max, n))
    elif design == "grid":
        x = np.linspace(-x_max, x_max, n)
    else:
        raise ValueError(f"design: expected 'uniform' or 'grid', got {design!r}")
    y = f0(x / x_max) + sigma * gen.standard_normal(n)
    return x, y


def load_data(path):
    """Read (x, y) from a CSV file (two columns, optional header) or an npz file (arrays x, y)."""
    path = os.fspath(path)
    if not os.path.exists(path):
        raise FileNotFoundError(f"data: no such file: {path}")
    if path.endswith(".npz"):
        with np.load(path, allow_pickle=False) as f:
            missing = [k for k in ("x", "y") if k not in f.files]
            if missing:
                raise ValueError(f"data: {path} has no array(s) {missing}; expected 'x' and 'y'")
            x, y = f["x"], f["y"]
    else:
        try:
            table = np.genfromtxt(path, delimiter=",", comments="#", dtype=np.float64)
        except ValueError as exc:
            raise ValueError(f"data: cannot parse {path} as CSV ({exc})") from None
        if table.ndim == 2 and np.isnan(table[0]).all():
            table = table[1:]  # header row
        if table.ndim == 1:
            table = table.reshape(1, -1) if table.size == 2 else table
        if table.ndim != 2 or table.shape[1] < 2:
            raise ValueError(f"data: {path} must have two columns x, y")
        x, y = table[:, 0], table[:, 1]
    x = as_vector(x, "x")
    y = as_vector(y, "y", length=x.size)
    return x, y
