"""Data: the built-in noisy samples of BV(1) targets (see :mod:`relu1d.datasets`), and loading from
CSV or npz files."""

from __future__ import annotations

import math
import os
import zipfile

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
    """Read (x, y) from a CSV file or an npz file (arrays ``x`` and ``y``).

    The CSV file has exactly two comma-separated numeric columns x, y; an optional header line
    (e.g. ``x,y``), blank lines and ``#`` comments are skipped. Anything else (another separator,
    a third column, an empty cell, a file with no data rows) is an error that names the line.
    """
    if not isinstance(path, (str, os.PathLike)):
        raise TypeError(f"data: expected a file path, got {type(path).__name__}")
    path = os.fspath(path)
    if not os.path.exists(path):
        raise FileNotFoundError(f"data: no such file: {path}")
    if os.path.isdir(path):
        raise ValueError(f"data: {path} is a directory, not a data file")
    with open(path, "rb") as fh:
        head = fh.read(8)
    if head.startswith(b"PK\x03\x04") or path.endswith(".npz"):
        x, y = _load_npz(path)
    elif head.startswith(b"\x93NUMPY"):
        raise ValueError(f"data: {path} is a single .npy array; save x and y with np.savez(path, x=x, y=y)")
    else:
        x, y = _load_csv(path)
    try:
        x = as_vector(x, "x")
        y = as_vector(y, "y", length=x.size)
    except (TypeError, ValueError) as exc:
        raise type(exc)(f"data: {path}: {exc}") from None
    return x, y


def _load_npz(path):
    try:
        with np.load(path, allow_pickle=False) as f:
            missing = [k for k in ("x", "y") if k not in f.files]
            if missing:
                raise ValueError(f"data: {path} has no array(s) {missing}; expected 'x' and 'y'")
            return f["x"], f["y"]
    except (OSError, EOFError, zipfile.BadZipFile) as exc:
        raise ValueError(f"data: cannot read {path} as an npz archive ({exc})") from None
    except ValueError as exc:
        if str(exc).startswith("data:"):
            raise
        raise ValueError(f"data: cannot read {path} as an npz archive ({exc})") from None


def _load_csv(path):
    try:
        with open(path, encoding="utf-8") as fh:
            lines = fh.read().splitlines()
    except UnicodeDecodeError:
        raise ValueError(f"data: {path} is neither a text CSV file nor an npz archive") from None
    xs, ys = [], []
    header_allowed = True
    for number, raw in enumerate(lines, start=1):
        line = raw.split("#", 1)[0].strip()
        if not line:
            continue
        fields = [f.strip() for f in line.split(",")]
        if len(fields) == 1:
            sep = next((c for c in ";\t |" if c in line.strip()), None)
            hint = f" (separated by {sep!r}: relu1d reads comma-separated values)" if sep else ""
            raise ValueError(f"data: {path} line {number}: expected two columns x,y, found one{hint}")
        if len(fields) != 2:
            raise ValueError(f"data: {path} line {number}: expected two columns x,y, found {len(fields)}")
        try:
            values = [float(f) for f in fields]
        except ValueError:
            if header_allowed:  # a header line such as "x,y"
                header_allowed = False
                continue
            raise ValueError(f"data: {path} line {number}: not two numbers: {raw.strip()!r}") from None
        header_allowed = False
        for name, value, text in zip("xy", values, fields):
            if not math.isfinite(value):
                hint = " (beyond the float64 range, about 1.8e308)" if math.isinf(value) and "inf" not in text.lower() else ""
                raise ValueError(f"data: {path} line {number}: {name} is not a finite number: {raw.strip()!r}{hint}")
        xs.append(values[0])
        ys.append(values[1])
    if not xs:
        raise ValueError(f"data: {path} has no data rows (expected lines 'x,y' of numbers)")
    return np.array(xs), np.array(ys)
