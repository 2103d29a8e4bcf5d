"""Argument checking shared by the public API: clear errors that name the argument."""

from __future__ import annotations

import numbers
import os

import numpy as np

from . import _core

INT64_MAX = 2**63 - 1


def all_finite(arr: np.ndarray) -> bool:
    """Whether every entry of a float64 array is finite: one compiled pass without a temporary for
    C-contiguous arrays (``np.isfinite(arr).all()`` builds a boolean array first)."""
    if arr.dtype == np.float64 and arr.flags.c_contiguous:
        return bool(_core.all_finite(arr.reshape(-1)))
    return bool(np.isfinite(arr).all())


def as_float_array(value, name: str, *, finite: bool = True) -> np.ndarray:
    """Convert any array-like of real numbers to a contiguous float64 array (any shape)."""
    if isinstance(value, (str, bytes)):
        raise TypeError(f"{name}: expected an array of numbers, got {type(value).__name__}")
    if isinstance(value, np.ma.MaskedArray):
        if np.ma.getmask(value) is not np.ma.nomask and np.ma.getmask(value).any():
            raise ValueError(f"{name}: has masked entries, which would not be ignored; pass only the "
                             f"unmasked points (the same ones for x and y)")
        value = np.ma.getdata(value)
    try:
        arr = np.asarray(value)
    except Exception as exc:  # ragged lists and other unconvertible objects
        raise TypeError(f"{name}: cannot convert to a float array ({exc})") from None
    if arr.dtype.kind == "c":
        raise TypeError(f"{name}: complex values are not supported")
    if arr.dtype.kind == "b":
        raise TypeError(f"{name}: expected numbers, got booleans; convert explicitly, e.g. "
                        f"np.asarray({name}, dtype=float), if 0/1 values are meant")
    if arr.dtype.kind not in "iuf":
        raise TypeError(f"{name}: expected numbers, got dtype {arr.dtype}")
    arr = np.asarray(arr, dtype=np.float64, order="C")  # (ascontiguousarray would make 0-d 1-d)
    if finite and not all_finite(arr):
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
    if finite and not all_finite(arr):
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


def as_int(value, name: str, *, minimum: int | None = None, maximum: int = INT64_MAX) -> int:
    """An integer in [minimum, maximum] (by default at most 2**63 - 1: the compiled code counts in
    int64), or TypeError/ValueError naming ``name``."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{name}: expected an integer, got {type(value).__name__}")
    value = int(value)
    if minimum is not None and value < minimum:
        raise ValueError(f"{name}: must be >= {minimum}, got {value}")
    if value > maximum:
        raise ValueError(f"{name}: must be <= {maximum}" + (" (the int64 range)" if maximum == INT64_MAX else "")
                         + f", got {value}")
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


def max_threads() -> int:
    """The largest thread count accepted: 8 per core, and at least 64."""
    return max(64, 8 * (os.cpu_count() or 1))


def as_threads(threads) -> int:
    """None -> 0 (the library chooses), else a positive integer of at most :func:`max_threads`
    (a count far above the cores only costs memory and start-up time: results never depend on it)."""
    if threads is None:
        return 0
    threads = as_int(threads, "threads", minimum=1)
    if threads > max_threads():
        raise ValueError(f"threads: {threads} is far above the {os.cpu_count()} cores of this machine; "
                         f"use at most {max_threads()} (or None: the CPUs this process may run on)")
    return threads


def as_rng(rng) -> np.random.Generator:
    """None | int | SeedSequence | Generator -> Generator."""
    if isinstance(rng, np.random.Generator):
        return rng
    if isinstance(rng, numbers.Integral) and not isinstance(rng, bool) and rng < 0:
        raise ValueError(f"rng: an integer seed must be >= 0, got {rng}")
    if rng is None or isinstance(rng, (numbers.Integral, np.random.SeedSequence)) and not isinstance(rng, bool):
        return np.random.default_rng(rng)
    raise TypeError(f"rng: expected None, an int, a SeedSequence or a numpy Generator, got {type(rng).__name__}")


def as_output_path(path, name: str) -> str:
    """A file path that can be written now: not a directory, in an existing folder where files can
    be created. Checked before a long run starts, so that a typo does not cost the run at its end."""
    if not isinstance(path, (str, os.PathLike)):
        raise TypeError(f"{name}: expected a file path, got {type(path).__name__}")
    path = os.fspath(path)
    if isinstance(path, bytes):
        path = os.fsdecode(path)
    if not path:
        raise ValueError(f"{name}: empty path")
    if os.path.isdir(path):
        raise ValueError(f"{name}: {path} is a directory; give a file name, e.g. "
                         f"{os.path.join(path, 'run.npz')}")
    folder = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(folder):
        raise ValueError(f"{name}: folder {folder} does not exist")
    import tempfile

    try:  # the only reliable test: create (and remove) a file there
        fd, probe = tempfile.mkstemp(prefix=".relu1d-write-test-", dir=folder)
        os.close(fd)
        os.unlink(probe)
    except OSError as exc:
        raise ValueError(f"{name}: cannot create files in {folder} ({exc.strerror or exc})") from None
    return path


# -- field tables -------------------------------------------------------------------------------
# Stored data (a run file's metadata) is user input like any other: a table maps each field to a
# check(value, name) that returns the value or raises TypeError/ValueError naming the field.

def optional(check):
    """A check that also accepts None."""
    return lambda value, name: None if value is None else check(value, name)


def choice(options):
    """A check that the value is one of ``options``."""
    def check(value, name):
        if value not in options:
            raise ValueError(f"{name}: expected one of {list(options)}, got {value!r}")
        return value
    return check


def real(value, name):
    """Any real number, NaN and inf included (e.g. a final loss that overflowed)."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name}: expected a real number, got {type(value).__name__}")
    return float(value)


def as_data_info(value, name="data"):
    """A description of a run's data: None, or a dict of str keys to JSON scalars (str, int, float,
    bool, None), e.g. ``{"target": "hat", "sigma": 0.3, "n": 30}``; returns a plain-dict copy."""
    if value is None:
        return None
    if not isinstance(value, dict):
        raise TypeError(f"{name}: expected a dict of JSON scalars, got {type(value).__name__}")
    out = {}
    for key, item in value.items():
        if not isinstance(key, str):
            raise TypeError(f"{name}: keys must be strings, got {key!r}")
        if isinstance(item, numbers.Integral) and not isinstance(item, bool):
            item = int(item)
        elif isinstance(item, numbers.Real) and not isinstance(item, bool):
            item = float(item)
        elif not (item is None or isinstance(item, (str, bool))):
            raise TypeError(f"{name}[{key!r}]: expected a str, number, bool or None, got {type(item).__name__}")
        out[key] = item
    return out


def check_fields(table: dict, values, *, prefix: str = "", required=()) -> dict:
    """Check ``values`` (a mapping) field by field against ``table`` (field -> check(value, name)).

    Returns the checked values of the fields present (unknown fields are left out); raises
    ValueError/TypeError whose message starts with the field's name, ``prefix`` + field.
    """
    if not isinstance(values, dict):
        raise TypeError(f"{prefix.rstrip('.') or 'values'}: expected a mapping, got {type(values).__name__}")
    missing = [prefix + k for k in required if k not in values]
    if missing:
        raise ValueError(f"{', '.join(missing)}: missing")
    return {k: check(values[k], prefix + k) for k, check in table.items() if k in values}
