"""relu1d: exact, fast gradient descent and minima-stability analysis for two-layer univariate
ReLU networks f(x) = sum_k v_k relu(w_k x + b_k) + c, loss L = 1/(2n) sum_i (f(x_i) - y_i)^2.

Parameters live in one float64 vector ``theta = [w(m), b(m), v(m), c]`` of length 3m+1.
"""

from __future__ import annotations

from . import analysis
from ._info import info, set_simd_path
from ._version import __version__
from .checkpoint import CheckpointError, CheckpointWarning
from .config import TrainConfig
from .data import TARGETS, load_data, make_data, target_function
from .datasets import DISTRIBUTIONS, make_regression
from .objective import KERNELS, Objective
from .params import INIT_SCHEMES, init_params, pack, predict, unpack, width_of
from .run import History, Run
from .schedule import StepSize
from .spectrum import EigenResult, hessian_eigenvalues, sharpness
from .sweep import load_sweep, sweep  # noqa: E402  (the function shadows the module name; import helpers from relu1d.sweep)
from .train import resume, train

__all__ = [
    "__version__",
    "analysis",
    "info",
    "set_simd_path",
    "Objective",
    "KERNELS",
    "INIT_SCHEMES",
    "init_params",
    "pack",
    "unpack",
    "width_of",
    "predict",
    "sharpness",
    "hessian_eigenvalues",
    "EigenResult",
    "train",
    "resume",
    "Run",
    "History",
    "StepSize",
    "TrainConfig",
    "CheckpointError",
    "CheckpointWarning",
    "make_data",
    "load_data",
    "target_function",
    "TARGETS",
    "make_regression",
    "DISTRIBUTIONS",
    "sweep",
    "load_sweep",
    "GDRegressor",
]


def __getattr__(name):
    # scikit-learn is optional and slow to import: the estimator loads on first use
    if name == "GDRegressor":
        from .estimator import GDRegressor

        return GDRegressor
    raise AttributeError(f"module 'relu1d' has no attribute {name!r}")
