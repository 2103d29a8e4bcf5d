"""Data: the built-in noisy samples of BV(1) targets (see :mod:`relu1d.datasets`), and loading from
CSV or npz files."""

from __future__ import annotations

import os

import numpy as np

from ._validate import as_vector
from .datasets import TARGETS, make_regression, target_function

__all__ = ["TARGETS", "target_function", "make_data", "load_data"]


def make_data(n: int = 30, *, sigma: float = 0.3, target: str = "hat", x_max: float = 1.0, rng=0,
              design: str = "uniform"):
    """Noisy samples y_i = f0(x_i) + eps_i, eps_i ~ N(0, sigma^2), on [-x_max, x_max].

    A shortcut for :func:`relu1d.datasets.make_regression` (which also offers Gaussian and Laplace
    inputs and returns f0) with a fixed default seed.

    Parameters
    ----------
    n : int
        Number of points.
    sigma : float
        Noise standard deviation.
    target : str
        One of ``TARGETS`` ("hat", the default, "abs", "sin", "sawtooth", "mixture", "zero").
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
    if design not in ("uniform", "grid"):
        raise ValueError(f"design: expected 'uniform' or 'grid', got {design!r}")
    x, y, _ = make_regression(n, target=target, sigma=sigma, distribution=design, rng=rng, x_max=x_max)
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
