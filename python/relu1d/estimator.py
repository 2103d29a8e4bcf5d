"""A scikit-learn estimator: a two-layer univariate ReLU network fitted by full-batch GD.

scikit-learn is optional: with it, :class:`GDRegressor` is a ``RegressorMixin``/``BaseEstimator``
(``GridSearchCV``, pipelines, ``clone``); without it, it keeps fit/predict/score and
get_params/set_params.
"""

from __future__ import annotations

import numbers
import warnings

import numpy as np

try:  # pragma: no branch
    from sklearn.base import BaseEstimator, RegressorMixin
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.utils.validation import check_is_fitted, validate_data
    _HAVE_SKLEARN = True
except ImportError:
    _HAVE_SKLEARN = False

    class ConvergenceWarning(UserWarning):
        """GD diverged (scikit-learn's ConvergenceWarning when it is installed)."""

    class BaseEstimator:
        """get_params/set_params from the constructor's keywords (scikit-learn's convention)."""

        def get_params(self, deep=True):
            return {k: getattr(self, k) for k in _PARAMS}

        def set_params(self, **params):
            for k, v in params.items():
                if k not in _PARAMS:
                    raise ValueError(f"{k}: not a parameter of {type(self).__name__} ({', '.join(_PARAMS)})")
                setattr(self, k, v)
            return self

        def __repr__(self):
            args = ", ".join(f"{k}={getattr(self, k)!r}" for k in _PARAMS)
            return f"{type(self).__name__}({args})"

    class RegressorMixin:
        def score(self, X, y, sample_weight=None):
            """R^2 of the predictions."""
            y = np.asarray(y, dtype=np.float64)
            pred = self.predict(X)
            w = np.ones_like(y) if sample_weight is None else np.asarray(sample_weight, dtype=np.float64)
            ss_res = np.sum(w * (y - pred) ** 2)
            ss_tot = np.sum(w * (y - np.average(y, weights=w)) ** 2)
            return 1.0 - ss_res / ss_tot if ss_tot > 0 else (1.0 if ss_res == 0 else 0.0)

__all__ = ["GDRegressor"]

_PARAMS = ("width", "lr", "steps", "clip", "init", "random_state")


class GDRegressor(RegressorMixin, BaseEstimator):
    """f(x) = sum_k v_k relu(w_k x + b_k) + c fitted by ``steps`` steps of full-batch GD with step ``lr``.

    GD minimises ``L = 1/(2n) sum (f(x_i) - y_i)^2`` from a random initialisation; a large ``lr``
    acts as a regulariser (a minimum GD can stay at has sharpness <= 2/lr, which bounds the
    weighted TV(1) of f), so ``GridSearchCV`` over ``lr`` tunes the smoothness of the fit.

    Parameters
    ----------
    width : int
        Hidden neurons m.
    lr : float
        Step size.
    steps : int
        GD steps.
    clip : float, optional
        Gradient-norm clipping threshold.
    init : str
        Initialisation scheme (see :func:`relu1d.init_params`).
    random_state : None, int or numpy.random.Generator
        Seed of the initialisation.

    Attributes
    ----------
    theta_ : ndarray, shape (3 width + 1,)
        Fitted parameters ``[w, b, v, c]``.
    run_ : relu1d.Run
        The GD run (status, history, sharpness ...).
    n_features_in_ : int
        Always 1: the input is one feature, an (n, 1) array.
    n_iter_ : int
        GD steps done.
    loss_ : float
        Final training loss L.

    Notes
    -----
    X must have one column. The inputs are used as given (no rescaling), since rescaling x
    changes what a step size means; the paper's setting is x in [-1, 1]. A run that diverges
    keeps the last iterate with a finite, bounded loss and warns (``ConvergenceWarning``).
    """

    def __init__(self, width=100, lr=0.05, steps=10_000, clip=None, init="kaiming_uniform", random_state=None):
        self.width = width
        self.lr = lr
        self.steps = steps
        self.clip = clip
        self.init = init
        self.random_state = random_state

    # inputs must have this many columns (None: any, the model reads the first; for tests only)
    _required_features = 1

    def _inputs(self, X, y=None, *, fitting):
        if _HAVE_SKLEARN:
            if fitting:
                X, y = validate_data(self, X, y, reset=True, dtype=np.float64, y_numeric=True)
            else:
                X = validate_data(self, X, reset=False, dtype=np.float64)
        else:
            X = np.asarray(X, dtype=np.float64)
            if X.ndim != 2:
                raise ValueError(f"X: expected a 2-D array of shape (n, 1), got shape {X.shape}"
                                 + (" (reshape 1-D input with X.reshape(-1, 1))" if X.ndim == 1 else ""))
            if fitting:
                if y is None:
                    raise ValueError(f"y: {type(self).__name__} requires y to be passed, but the target y is None")
                y = np.asarray(y, dtype=np.float64)
                if y.ndim != 1 or y.shape[0] != X.shape[0]:
                    raise ValueError(f"y: expected shape ({X.shape[0]},), got {y.shape}")
                self.n_features_in_ = X.shape[1]
            elif X.shape[1] != self.n_features_in_:
                raise ValueError(f"X has {X.shape[1]} features, but {type(self).__name__} is expecting "
                                 f"{self.n_features_in_} features as input")
        if self._required_features is not None and X.shape[1] != self._required_features:
            raise ValueError(f"X: {type(self).__name__} is a univariate model and takes one feature, an (n, 1) "
                             f"array; got {X.shape[1]} features")
        return X[:, 0], y

    def fit(self, X, y):
        """Fit to X of shape (n, 1) and y of shape (n,) by GD from a random initialisation."""
        from ._validate import as_rng
        from .objective import Objective
        from .params import INIT_SCHEMES, init_params
        from .train import train

        x, y = self._inputs(X, y, fitting=True)
        objective = Objective(x, y)
        if not isinstance(self.init, str) or self.init not in INIT_SCHEMES:
            raise ValueError(f"init: expected one of {list(INIT_SCHEMES)}, got {self.init!r}")
        rng = self.random_state
        if isinstance(rng, np.random.RandomState):  # scikit-learn's legacy random state
            rng = int(rng.randint(np.iinfo(np.int32).max))
        elif isinstance(rng, numbers.Integral) and not isinstance(rng, bool) and rng < 0:
            raise ValueError(f"random_state: a seed must be >= 0, got {rng}")
        try:
            rng = as_rng(rng)
        except TypeError:
            raise TypeError("random_state: expected None, an int, a numpy Generator, SeedSequence or RandomState, "
                            f"got {type(self.random_state).__name__}") from None
        theta0 = init_params(self.width, rng=rng, scheme=self.init)
        run = train(objective, theta0, lr=self.lr, steps=self.steps, clip=self.clip, sharpness_every=0,
                    progress=False)
        if run.status == "diverged":
            warnings.warn(f"GD diverged at step {run.steps:,} (lr={self.lr} is beyond what this data allows); "
                          "keeping the last iterate with a bounded loss", ConvergenceWarning, stacklevel=2)
        self.run_ = run
        self.theta_ = run.theta
        self.n_iter_ = run.steps
        self.loss_ = run.final_loss
        return self

    def predict(self, X):
        """f(x) at X of shape (n, 1)."""
        from .params import predict

        if _HAVE_SKLEARN:
            check_is_fitted(self, "theta_")
        elif not hasattr(self, "theta_"):
            raise AttributeError(f"{type(self).__name__} is not fitted yet: call fit first")
        x, _ = self._inputs(X, fitting=False)
        return predict(self.theta_, x)
