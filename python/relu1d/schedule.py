"""Step-size schedules: a constant, piecewise constant, or any callable step -> lr."""

from __future__ import annotations

import numbers

import numpy as np

from ._validate import INT64_MAX

__all__ = ["StepSize"]


class StepSize:
    """A step size per GD step.

    Accepts a positive float (constant), a sequence of ``(start_step, lr)`` pairs or a dict
    ``{start_step: lr}`` (piecewise constant, the first start must be 0), or a callable
    ``step -> lr`` (called once per step, in Python: convenient, slower for very long runs).
    """

    def __init__(self, lr):
        self.function = None
        if callable(lr):
            self.function = lr
            self.starts = self.values = None
            return
        if isinstance(lr, (bool, str, bytes)):
            raise TypeError(f"lr: expected a number, pairs (start, lr), a dict or a callable, got "
                            f"{type(lr).__name__}")
        if isinstance(lr, numbers.Real):
            pieces = [(0, lr)]
        elif isinstance(lr, dict):
            pieces = sorted((_start(s), v) for s, v in lr.items())
        else:
            try:
                pieces = [tuple(p) for p in lr]
            except TypeError:
                raise TypeError("lr: expected a number, pairs (start, lr), a dict or a callable") from None
            if any(len(p) != 2 for p in pieces):
                raise ValueError("lr: piecewise schedules are (start_step, lr) pairs")
        if not pieces:
            raise ValueError("lr: schedule must not be empty")
        starts = np.array([_start(s) for s, _ in pieces], dtype=np.int64)
        values = np.array([_value(v) for _, v in pieces], dtype=np.float64)
        if starts[0] != 0:
            raise ValueError(f"lr: the first piece must start at step 0, got {starts[0]}")
        if np.any(np.diff(starts) <= 0):
            raise ValueError("lr: piece starts must be strictly increasing")
        _check_values(values)
        self.starts, self.values = starts, values

    @property
    def serialisable(self) -> bool:
        return self.function is None

    def to_json(self):
        if self.function is not None:
            return None
        return [[int(s), float(v)] for s, v in zip(self.starts, self.values)]

    def at(self, step: int) -> float:
        if self.function is not None:
            return _value(self.function(step), step=step)
        return float(self.values[np.searchsorted(self.starts, step, side="right") - 1])

    def pieces(self, start: int, count: int):
        """(starts, values) covering steps [start, start + count) for the C++ loop."""
        if self.function is not None:
            values = np.array([_value(self.function(s), step=s) for s in range(start, start + count)],
                              dtype=np.float64)
            _check_values(values, first_step=start)
            return np.arange(start, start + count, dtype=np.int64), values
        first = np.searchsorted(self.starts, start, side="right") - 1
        last = np.searchsorted(self.starts, start + count, side="left")
        starts = self.starts[first:max(last, first + 1)].copy()
        starts[0] = start
        return starts, self.values[first:max(last, first + 1)].copy()

    def __repr__(self) -> str:
        if self.function is not None:
            return f"StepSize({self.function!r})"
        if self.values.size == 1:
            return f"StepSize({self.values[0]:g})"
        return f"StepSize({self.to_json()})"


def _start(value) -> int:
    """A piece start: an integer step (2.7 or 0.5 would otherwise be truncated silently)."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f"lr: piece starts must be integer steps, got {value!r} ({type(value).__name__})")
    value = int(value)
    if not 0 <= value <= INT64_MAX:
        raise ValueError(f"lr: piece starts must be steps in [0, 2**63 - 1], got {value}")
    return value


def _value(value, step=None) -> float:
    """A step size: a real number (not a string, not a bool)."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        where = f"the callable returned {value!r} at step {step}" if step is not None else f"got {value!r}"
        raise TypeError(f"lr: step sizes must be real numbers; {where} ({type(value).__name__})")
    return float(value)


def _check_values(values, first_step=None):
    bad = ~(np.isfinite(values) & (values > 0))
    if bad.any():
        where = (f" (the callable returned {float(values[bad][0])!r} at step {first_step + int(np.argmax(bad))})"
                 if first_step is not None else "")
        raise ValueError(f"lr: step sizes must be finite and > 0{where}")
