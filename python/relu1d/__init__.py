"""relu1d: exact, fast gradient descent and minima-stability analysis for two-layer univariate
ReLU networks f(x) = sum_k v_k relu(w_k x + b_k) + c, loss L = 1/(2n) sum_i (f(x_i) - y_i)^2.

Parameters live in one float64 vector ``theta = [w(m), b(m), v(m), c]`` of length 3m+1.
"""

from __future__ import annotations

from ._version import __version__
from .objective import KERNELS, Objective
from .params import INIT_SCHEMES, init_params, pack, predict, unpack, width_of

__all__ = [
    "__version__",
    "Objective",
    "KERNELS",
    "INIT_SCHEMES",
    "init_params",
    "pack",
    "unpack",
    "width_of",
    "predict",
]
