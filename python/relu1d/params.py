"""The parameter vector theta = [w(m), b(m), v(m), c] and the network it defines.

    f(x) = sum_k v_k relu(w_k x + b_k) + c
"""

from __future__ import annotations

import numpy as np

from . import _core
from ._validate import as_float, as_float_array, as_int, as_rng, as_theta, as_vector

__all__ = ["pack", "unpack", "width_of", "init_params", "predict", "INIT_SCHEMES"]

INIT_SCHEMES = ("kaiming_uniform", "kaiming_normal", "normal", "uniform")


def width_of(theta) -> int:
    """Width m of a parameter vector of length 3m+1."""
    return (as_theta(theta).size - 1) // 3


def pack(w, b, v, c) -> np.ndarray:
    """theta = [w, b, v, c] as one float64 vector of length 3m+1."""
    w = as_vector(w, "w")
    b = as_vector(b, "b", length=w.size)
    v = as_vector(v, "v", length=w.size)
    c = as_float(float(c) if isinstance(c, np.ndarray) and c.size == 1 else c, "c")
    return np.concatenate([w, b, v, [c]])


def unpack(theta):
    """(w, b, v, c): views into theta (w, b, v are float64 arrays of length m, c a float).

    Writing into w, b or v writes into theta when theta is already a contiguous float64 array.
    """
    if not (isinstance(theta, np.ndarray) and theta.dtype == np.float64 and theta.ndim == 1):
        theta = as_theta(theta)
    m = _core.theta_width(theta.size)  # the length check of as_theta, without copying theta
    return theta[:m], theta[m:2 * m], theta[2 * m:3 * m], float(theta[3 * m])


def init_params(width: int, *, rng=None, scheme: str = "kaiming_uniform", scale: float = 1.0) -> np.ndarray:
    """Random initial parameters for a network of the given width.

    Parameters
    ----------
    width : int
        Number of hidden neurons m.
    rng : None, int, SeedSequence or numpy.random.Generator
        Source of randomness.
    scheme : str
        ``"kaiming_uniform"`` (default): PyTorch's default for ``Linear(1, m)`` followed by
        ``Linear(m, 1)``: w, b ~ U(-1, 1) (fan_in = 1) and v, c ~ U(-1/sqrt(m), 1/sqrt(m)).
        ``"kaiming_normal"``: w ~ N(0, 2), b = 0, v ~ N(0, 2/m) ... He initialisation, c = 0.
        ``"normal"``: every entry N(0, 1) but v ~ N(0, 1/m), c = 0.
        ``"uniform"``: every entry U(-1, 1) but v ~ U(-1/sqrt(m), 1/sqrt(m)), c = 0.
    scale : float
        Multiplies the output layer (v and c): small ``scale`` starts near the zero function.
    """
    m = as_int(width, "width", minimum=1)
    scale = as_float(scale, "scale", nonnegative=True)
    gen = as_rng(rng)
    bound = 1.0 / np.sqrt(m)
    if scheme == "kaiming_uniform":
        w = gen.uniform(-1.0, 1.0, m)
        b = gen.uniform(-1.0, 1.0, m)
        v = gen.uniform(-bound, bound, m)
        c = gen.uniform(-bound, bound)
    elif scheme == "kaiming_normal":
        w = gen.normal(0.0, np.sqrt(2.0), m)
        b = np.zeros(m)
        v = gen.normal(0.0, np.sqrt(2.0 / m), m)
        c = 0.0
    elif scheme == "normal":
        w = gen.normal(0.0, 1.0, m)
        b = gen.normal(0.0, 1.0, m)
        v = gen.normal(0.0, bound, m)
        c = 0.0
    elif scheme == "uniform":
        w = gen.uniform(-1.0, 1.0, m)
        b = gen.uniform(-1.0, 1.0, m)
        v = gen.uniform(-bound, bound, m)
        c = 0.0
    else:
        raise ValueError(f"scheme: expected one of {INIT_SCHEMES}, got {scheme!r}")
    return np.concatenate([w, b, scale * v, [scale * c]])


def predict(theta, x) -> np.ndarray:
    """The network f(x) = sum_k v_k relu(w_k x + b_k) + c at the points x (any shape).

    Evaluated in NumPy with the package's activation convention (active iff w x + b > 0).
    """
    theta = as_theta(theta)
    x_arr = as_float_array(x, "x")
    w, b, v, c = unpack(theta)
    flat = x_arr.reshape(-1)
    out = np.empty(flat.shape, dtype=np.float64)
    block = max(1, 2**20 // max(w.size, 1))
    for i0 in range(0, flat.size, block):
        z = np.multiply.outer(flat[i0:i0 + block], w) + b
        out[i0:i0 + block] = np.maximum(z, 0.0) @ v + c
    return out.reshape(x_arr.shape)
