"""Argument checking shared by the public API: clear errors that name the argument."""

from __future__ import annotations

import numbers

import numpy as np

from . import _core


def as_float_array(value, name: str, *, finite: bool = True) -> np.ndarray:
    """Convert any array-like of real numbers to a contiguous float64 array (any shape)."""
    if isinstance(value, (str, bytes)):
        raise TypeError(f"{name}: expected an array of numbers, got {type(value).__name__}")
    try:
        arr = np.asarray(value)
    except Exception as exc:  # ragged lists and other unconvertible objects
        raise TypeError(f"{name}: cannot convert to a float array ({exc})") from None
    if arr.dtype.kind == "c":
        raise TypeError(f"{name}: complex values are not supported")
    if arr.dtype.kind not in "biuf":
        raise TypeError(f"{name}: expected numbers, got dtype {arr.dtype}")
    arr = np.asarray(arr, dtype=np.float64, order="C")  # (ascontiguousarray would make 0-d 1-d)
    if finite and not np.isfinite(arr).all():
        bad = int(np.flatnonzero(~np.isfinite(arr.reshape(-1)))[0])
        raise ValueError(f"{name}: contains NaN or inf (first at flat index {bad})")
    return arr


def as_vector(value, name: str, *, length: int | None = None, allow_empty: bool = False,
              finite: bool = True) -> np.ndarray:
    """Convert any array-like to a contiguous 1-D float64 array, or raise naming `name`."""
    arr = as_float_array(value, name, finite=False)
    if arr.ndim != 1:
        raise ValueError(f"{name}: expected a 1-D array, got shape {arr.shape}")
    if not allow_empty and arr.size == 0:
        raise ValueError(f"{name}: must not be empty")
    if length is not None and arr.size != length:
        raise ValueError(f"{name}: expected length {length}, got {arr.size}")
    if finite and not np.isfinite(arr).all():
        bad = int(np.flatnonzero(~np.isfinite(arr))[0])
        raise ValueError(f"{name}: contains NaN or inf (first at index {bad})")
    return arr


def as_theta(theta, name: str = "theta", *, width: int | None = None) -> np.ndarray:
    """A parameter vector [w(m), b(m), v(m), c] of length 3m+1 (for the given width if any).

    The one check of theta in the package; its length rule and message come from the compiled
    core (``theta_width``), which applies the same check to what reaches it.
    """
    arr = as_vector(theta, name)
    if width is not None:
        if arr.size != 3 * width + 1:
            raise ValueError(f"{name}: expected length 3*m+1 = {3 * width + 1} for width m = {width}, "
                             f"got {arr.size}")
    else:
        try:
            _core.theta_width(arr.size)
        except ValueError as exc:
            raise ValueError(str(exc).replace("theta:", f"{name}:", 1)) from None
    return arr


def as_int(value, name: str, *, minimum: int | None = None) -> int:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{name}: expected an integer, got {type(value).__name__}")
    value = int(value)
    if minimum is not None and value < minimum:
        raise ValueError(f"{name}: must be >= {minimum}, got {value}")
    return value


def as_float(value, name: str, *, positive: bool = False, nonnegative: bool = False) -> float:
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name}: expected a real number, got {type(value).__name__}")
    value = float(value)
    if not np.isfinite(value):
        raise ValueError(f"{name}: must be finite, got {value}")
    if positive and value <= 0:
        raise ValueError(f"{name}: must be > 0, got {value}")
    if nonnegative and value < 0:
        raise ValueError(f"{name}: must be >= 0, got {value}")
    return value


def as_threads(threads) -> int:
    """None -> 0 (the library chooses), else a positive integer."""
    if threads is None:
        return 0
    return as_int(threads, "threads", minimum=1)


def as_rng(rng) -> np.random.Generator:
    """None | int | SeedSequence | Generator -> Generator."""
    if isinstance(rng, np.random.Generator):
        return rng
    if rng is None or isinstance(rng, (numbers.Integral, np.random.SeedSequence)) and not isinstance(rng, bool):
        return np.random.default_rng(rng)
    raise TypeError(f"rng: expected None, an int, a SeedSequence or a numpy Generator, got {type(rng).__name__}")
