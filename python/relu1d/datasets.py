"""Synthetic regression data sets: named BV(1) ground truths on [-1, 1], input distributions, and
Gaussian label noise.

    y_i = f0(x_i) + eps_i,    eps_i ~ N(0, sigma^2) independent,    x_i ~ distribution on [-x_max, x_max]

Every target is continuous and piecewise smooth with a derivative of bounded variation (the class
BV(1) of the paper); ``TARGET_TV1[name]`` is TV(f0') = int |f0''| on [-1, 1], kinks counted by
their slope jumps.
"""

from __future__ import annotations

import numpy as np

from ._validate import as_float, as_float_array, as_int, as_rng

__all__ = ["TARGETS", "TARGET_TV1", "DISTRIBUTIONS", "Target", "target_function", "sample_inputs",
           "make_regression"]


def _relu(x):
    return np.maximum(x, 0.0)


def _hat(x):
    # peak 1 at 0; slope jumps +2, -4, +2 at -1/2, 0, 1/2
    return 2.0 * (_relu(x + 0.5) - 2.0 * _relu(x) + _relu(x - 0.5))


def _abs(x):
    return np.abs(x)


def _sin(x):
    return np.sin(np.pi * x)


def _sawtooth(x):
    # a zig-zag (triangle wave) of period 1/2 between -1/2 and 1/2: slopes +-4, seven interior
    # knots at -3/4, -1/2, ..., 3/4 (slope jumps of 8 each), f0(-1) = f0(1) = -1/2
    u = 2.0 * (x + 1.0)
    return 2.0 * np.abs(u - np.floor(u + 0.5)) - 0.5


def _mixture(x):
    # a smooth part and one kink: sin(pi x) / 2 + |x - 1/2| (slope jump 2 at 1/2)
    return 0.5 * np.sin(np.pi * x) + np.abs(x - 0.5)


def _zero(x):
    return np.zeros_like(x)


# Targets f0 on [-1, 1] whose derivative has bounded variation (class BV(1)).
TARGETS = {
    "hat": _hat,
    "abs": _abs,
    "sin": _sin,
    "sawtooth": _sawtooth,
    "mixture": _mixture,
    "zero": _zero,
}

# TV(f0') = int_{-1}^{1} |f0''| (slope jumps included) of each target on [-1, 1]
TARGET_TV1 = {
    "hat": 8.0,
    "abs": 2.0,
    "sin": 4.0 * np.pi,            # int |pi^2 sin(pi x)| = pi^2 * 4/pi
    "sawtooth": 56.0,              # 7 knots, each a slope jump of 8
    "mixture": 2.0 * np.pi + 2.0,  # half of sin's, plus the kink
    "zero": 0.0,
}

# Input distributions on [-x_max, x_max]: "gaussian" and "laplace" are centred, with standard
# deviation x_max / 2, truncated to the interval (points outside are redrawn, so there is no atom
# at the ends); "grid" is evenly spaced with both ends included.
DISTRIBUTIONS = ("uniform", "gaussian", "laplace", "grid")
_SPREAD = 0.5  # standard deviation of the gaussian and laplace inputs, in units of x_max


class Target:
    """The noiseless ground truth f0(x) = TARGETS[name](x / x_max) as a picklable callable.

    Attributes
    ----------
    name : str
    x_max : float
        Half-width of the interval [-x_max, x_max] the target is defined on.
    tv1 : float
        TV(f0') on that interval, = ``TARGET_TV1[name] / x_max``.
    """

    __slots__ = ("name", "x_max")

    def __init__(self, name: str, x_max: float = 1.0):
        if not isinstance(name, str) or name not in TARGETS:
            raise ValueError(f"target: expected one of {sorted(TARGETS)}, got {name!r}")
        self.name = name
        self.x_max = as_float(x_max, "x_max", positive=True)

    def __call__(self, x):
        x = as_float_array(x, "x", finite=False)
        return TARGETS[self.name](x / self.x_max if self.x_max != 1.0 else x)

    @property
    def tv1(self) -> float:
        return TARGET_TV1[self.name] / self.x_max

    def __eq__(self, other):
        return isinstance(other, Target) and (self.name, self.x_max) == (other.name, other.x_max)

    def __hash__(self):
        return hash((self.name, self.x_max))

    def __getstate__(self):
        return (self.name, self.x_max)

    def __setstate__(self, state):
        self.name, self.x_max = state

    def __repr__(self) -> str:
        scale = "" if self.x_max == 1.0 else f", x_max={self.x_max:g}"
        return f"Target({self.name!r}{scale})"


def target_function(name: str):
    """The noiseless target f0 called ``name`` (one of ``TARGETS``) on [-1, 1]."""
    if not isinstance(name, str) or name not in TARGETS:
        raise ValueError(f"target: expected one of {sorted(TARGETS)}, got {name!r}")
    return TARGETS[name]


def _truncated(gen, n, x_max, draw):
    """n draws of ``draw(size)`` that fall in [-x_max, x_max] (the others are redrawn)."""
    out = np.empty(0)
    while out.size < n:
        batch = draw(2 * (n - out.size) + 8)
        out = np.concatenate([out, batch[np.abs(batch) <= x_max]])
    return out[:n]


def sample_inputs(n: int, distribution: str = "uniform", *, x_max: float = 1.0, rng=None) -> np.ndarray:
    """n sorted inputs on [-x_max, x_max] drawn from ``distribution`` (one of ``DISTRIBUTIONS``)."""
    n = as_int(n, "n", minimum=1)
    x_max = as_float(x_max, "x_max", positive=True)
    if distribution not in DISTRIBUTIONS:
        raise ValueError(f"distribution: expected one of {list(DISTRIBUTIONS)}, got {distribution!r}")
    gen = as_rng(rng)
    if distribution == "uniform":
        return np.sort(gen.uniform(-x_max, x_max, n))
    if distribution == "grid":
        return np.linspace(-x_max, x_max, n)
    scale = _SPREAD * x_max
    if distribution == "gaussian":
        x = _truncated(gen, n, x_max, lambda size: gen.normal(0.0, scale, size))
    else:  # laplace with standard deviation scale: b = scale / sqrt(2)
        x = _truncated(gen, n, x_max, lambda size: gen.laplace(0.0, scale / np.sqrt(2.0), size))
    return np.sort(x)


def make_regression(n: int = 30, *, target: str = "hat", sigma: float = 0.3, distribution: str = "uniform",
                    rng=None, x_max: float = 1.0):
    """Noisy samples of a named BV(1) target: ``y_i = f0(x_i) + eps_i``, ``eps_i ~ N(0, sigma^2)``.

    Parameters
    ----------
    n : int
        Number of points.
    target : str
        Ground truth, one of ``TARGETS``: "hat" (piecewise linear, knots at -1/2, 0, 1/2), "sin"
        (sin(pi x), smooth), "abs" (|x|), "sawtooth" (a zig-zag with seven knots), "mixture"
        (sin(pi x)/2 + |x - 1/2|: a smooth and a kinked part), "zero" (pure noise).
    sigma : float
        Standard deviation of the Gaussian label noise (0: noiseless labels).
    distribution : str
        Inputs, one of ``DISTRIBUTIONS``: "uniform", "gaussian" and "laplace" (centred, standard
        deviation x_max/2, truncated to the interval), or "grid" (evenly spaced, ends included).
    rng : None, int, SeedSequence or numpy.random.Generator
        Randomness: the inputs are drawn first, then the noise.
    x_max : float
        Half-width of the input interval; the target is stretched to it, f0(x) = TARGETS[target](x / x_max).

    Returns
    -------
    x : ndarray, shape (n,)
        Sorted inputs.
    y : ndarray, shape (n,)
        Labels.
    f0 : Target
        The noiseless target as a callable (picklable), e.g. for the MSE ``mean((f(t) - f0(t))^2)``.
    """
    n = as_int(n, "n", minimum=1)
    sigma = as_float(sigma, "sigma", nonnegative=True)
    f0 = Target(target, x_max)
    gen = as_rng(rng)
    with np.errstate(over="ignore", invalid="ignore"):
        try:
            x = sample_inputs(n, distribution, x_max=f0.x_max, rng=gen)
        except OverflowError:
            x = np.array([np.inf])
        if not np.all(np.isfinite(x)):
            raise ValueError(f"x_max: {f0.x_max} is too large: the inputs overflow float64")
        clean = f0(x)
        if not np.all(np.isfinite(clean)):
            raise ValueError(f"x_max: {f0.x_max} is too large: f0 overflows float64 on the inputs")
        y = clean + sigma * gen.standard_normal(n)
    if not np.all(np.isfinite(y)):
        raise ValueError(f"sigma: {sigma} is too large: the noisy labels overflow float64")
    return x, y, f0
