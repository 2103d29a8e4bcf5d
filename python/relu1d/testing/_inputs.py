"""Argument handling shared by the checks: the implementation under test, its data, directions."""

from __future__ import annotations

import numbers

import numpy as np

from .._validate import as_float, as_float_array, as_int, as_rng, as_vector

DEFAULT_DIRECTIONS = 8
MAX_DIRECTION_ENTRIES = 2**28  # k random directions of length d are held as one (k, d) float64 array: 2 GiB at most


def data_inputs(source, name: str) -> np.ndarray:
    """The data inputs x of an objective (anything with ``x_sorted`` or ``x``) or an array."""
    for attr in ("x_sorted", "x"):
        if hasattr(source, attr):
            return as_vector(getattr(source, attr), f"{name}.{attr}")
    if isinstance(source, (list, tuple, np.ndarray)):
        return as_vector(source, name)
    raise TypeError(f"{name}: expected a relu1d.Objective (or an object with an x_sorted attribute) "
                    f"or an array of data inputs, got {type(source).__name__}")


class Candidate:
    """The implementation under test: callables by name plus its data set (x, y)."""

    def __init__(self, methods: dict, x: np.ndarray, y: np.ndarray):
        self.methods = methods
        self.x = x
        self.y = y

    def __getattr__(self, name):
        try:
            return self.__dict__["methods"][name]
        except KeyError:
            raise AttributeError(name) from None


def candidate(objective, methods, x=None, y=None, name: str = "objective") -> Candidate:
    """Resolve ``objective`` into the callables ``methods`` and the data.

    ``objective`` is an object with those methods (a relu1d.Objective or any duck-typed one) or a
    tuple of plain callables in the order of ``methods``. The data come from ``x=``/``y=`` when given,
    else from the object's ``x_sorted``/``y_sorted`` (or ``x``/``y``) attributes.
    """
    need = ", ".join(f"{meth}(...)" for meth in methods)
    if isinstance(objective, tuple):
        if len(objective) != len(methods) or not all(callable(f) for f in objective):
            raise TypeError(f"{name}: a tuple must hold {len(methods)} callables ({', '.join(methods)}), "
                            f"got {len(objective)} items")
        funcs = dict(zip(methods, objective))
    else:
        missing = [meth for meth in methods if not callable(getattr(objective, meth, None))]
        if missing:
            raise TypeError(f"{name}: expected a relu1d.Objective, an object with {need}, or a tuple of "
                            f"callables ({', '.join(methods)}), got {type(objective).__name__}")
        funcs = {meth: getattr(objective, meth) for meth in methods}
    if x is None or y is None:
        for xa, ya in (("x_sorted", "y_sorted"), ("x", "y")):
            if hasattr(objective, xa) and hasattr(objective, ya) and not isinstance(objective, tuple):
                x = as_vector(getattr(objective, xa), f"{name}.{xa}") if x is None else x
                y = as_vector(getattr(objective, ya), f"{name}.{ya}") if y is None else y
                break
    if x is None or y is None:
        raise TypeError(f"{name}: the data set is needed (for the rounding bounds): give x= and y=, or an "
                        f"object with x_sorted and y_sorted (or x and y) attributes")
    x = as_vector(x, "x")
    y = as_vector(y, "y", length=x.size)
    return Candidate(funcs, x, y)


def output(value, what: str, shape) -> np.ndarray:
    """A candidate's result as a float64 array of the expected shape."""
    if hasattr(value, "detach"):  # a torch tensor
        value = value.detach().cpu().numpy()
    try:
        out = np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"objective: {what} returned something that is not an array of numbers: {exc}") from None
    if out.shape != shape:
        raise ValueError(f"objective: {what} returned shape {out.shape}, expected {shape}")
    return out


def scalar(value, what: str) -> float:
    return float(output(value, what, ()))


def parse_directions(directions, d: int):
    """``directions`` as ("random", k) or ("given", (k, d) array)."""
    if directions is None:
        return "random", DEFAULT_DIRECTIONS
    if isinstance(directions, str):
        if directions != "unit":
            raise ValueError(f"directions: expected None, an int, 'unit' or an array, got {directions!r}")
        return "given", np.eye(d)
    if isinstance(directions, bool):
        raise TypeError("directions: expected None, an int, 'unit' or an array, got bool")
    if isinstance(directions, numbers.Real) and not isinstance(directions, numbers.Integral):
        raise TypeError(f"directions: a count of random directions must be an int, got {type(directions).__name__}")
    if isinstance(directions, numbers.Integral):
        k = as_int(directions, "directions", minimum=1)
        if k * d > MAX_DIRECTION_ENTRIES:
            raise ValueError(f"directions: {k} random directions of length {d} would take {8 * k * d / 2**30:.3g} GiB; "
                             f"ask for at most {MAX_DIRECTION_ENTRIES // d} (each costs calls of the implementation)")
        return "random", k
    return "given", direction_array(directions, "directions", d)


def direction_array(value, name: str, d: int) -> np.ndarray:
    """Explicit directions, shape (d,) or (k, d), as a (k, d) float64 array."""
    U = as_float_array(value, name, finite=False)
    if U.ndim not in (1, 2) or U.shape[-1] != d:
        raise ValueError(f"{name}: expected shape (k, {d}) or ({d},) for a theta of length {d}, got {U.shape}")
    U = np.array(U, dtype=np.float64, ndmin=2)
    if U.shape[0] == 0:
        raise ValueError(f"{name}: must contain at least one direction")
    if not np.isfinite(U).all():
        raise ValueError(f"{name}: contains NaN or inf")
    if not np.any(U != 0, axis=1).all():
        raise ValueError(f"{name}: contains an all-zero direction")
    return U


def rng_of(rng):
    return np.random.default_rng(0) if rng is None else as_rng(rng)


def tolerances(h, atol, rtol, margin):
    if h is not None:
        h = as_float(h, "h", positive=True)
    atol = as_float(atol, "atol", nonnegative=True)
    rtol = as_float(rtol, "rtol", nonnegative=True)
    if margin is not None:
        margin = as_float(margin, "margin", nonnegative=True)
    return h, atol, rtol, margin
