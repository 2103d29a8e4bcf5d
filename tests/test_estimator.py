"""relu1d.GDRegressor: scikit-learn's estimator checks, GridSearchCV over lr, and the estimator
without scikit-learn."""

from __future__ import annotations

import importlib.util
import pickle
import sys

import numpy as np
import pytest

import relu1d

sklearn = pytest.importorskip("sklearn")
from sklearn.exceptions import ConvergenceWarning  # noqa: E402
from sklearn.model_selection import GridSearchCV  # noqa: E402
from sklearn.utils.estimator_checks import check_estimator  # noqa: E402

UNIVARIATE = "takes one feature"


class AnyNumberOfFeatures(relu1d.GDRegressor):
    """The same estimator reading the first column of X, so that the checks written for
    multivariate data exercise everything else (fit, predict, pickling, validation, ...)."""

    _required_features = None

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.regressor_tags.poor_score = True  # one column of multivariate test data explains little
        return tags


def test_check_estimator_fails_only_on_multivariate_input():
    """Every check GDRegressor fails feeds it more than one feature, which a univariate model
    rejects with a ValueError saying so; every other check passes."""
    results = check_estimator_results(relu1d.GDRegressor(width=10, steps=500))
    failed = {r["check_name"]: r["exception"] for r in results if r["status"] == "failed"}
    passed = {r["check_name"] for r in results if r["status"] == "passed"}
    assert len(passed) >= 15, passed
    for name, exc in failed.items():
        assert _univariate_in_chain(exc), (name, exc)
    for must_pass in ("check_no_attributes_set_in_init", "check_parameters_default_constructible",
                      "check_get_params_invariance", "check_set_params", "check_fit1d", "check_fit2d_1feature",
                      "check_estimators_empty_data_messages", "check_estimators_unfitted", "check_requires_y_none"):
        assert must_pass in passed, must_pass


def _univariate_in_chain(exc):
    while exc is not None:
        if UNIVARIATE in str(exc):
            return True
        exc = exc.__cause__ or exc.__context__
    return False


def check_estimator_results(estimator):
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        warnings.simplefilter("ignore", sklearn.exceptions.SkipTestWarning)
        return check_estimator(estimator, on_fail=None)


def test_check_estimator_passes_every_check_when_given_one_column():
    results = check_estimator_results(AnyNumberOfFeatures(width=10, steps=500))
    bad = [(r["check_name"], r["exception"]) for r in results if r["status"] == "failed"]
    assert bad == []
    skipped = {r["check_name"] for r in results if r["status"] == "skipped"}
    assert skipped <= {"check_array_api_input"}  # runs only with SCIPY_ARRAY_API=1; numpy-only model


def test_random_state_forms():
    x, y, _ = relu1d.make_regression(15, rng=0)
    X = x.reshape(-1, 1)
    fits = [relu1d.GDRegressor(width=5, steps=50, random_state=rs).fit(X, y).theta_
            for rs in (3, np.random.default_rng(3), np.random.RandomState(3), None)]
    np.testing.assert_array_equal(fits[0], fits[1])
    assert fits[2].shape == fits[3].shape == (16,)


def test_fit_predict_score_and_attributes():
    x, y, f0 = relu1d.make_regression(40, sigma=0.05, rng=0)
    X = x.reshape(-1, 1)
    est = relu1d.GDRegressor(width=30, lr=0.05, steps=3000, random_state=0).fit(X, y)
    assert est.n_features_in_ == 1 and est.n_iter_ == 3000 and est.theta_.shape == (91,)
    assert est.loss_ == est.run_.final_loss
    np.testing.assert_array_equal(est.predict(X), relu1d.predict(est.theta_, x))
    assert est.score(X, y) > 0.8
    # the same as training by hand from the same initialisation
    run = relu1d.train(relu1d.Objective(x, y), relu1d.init_params(30, rng=0), lr=0.05, steps=3000,
                       sharpness_every=0, progress=False)
    np.testing.assert_array_equal(est.theta_, run.theta)
    np.testing.assert_array_equal(pickle.loads(pickle.dumps(est)).predict(X), est.predict(X))


def test_one_dimensional_input_gets_a_clear_error():
    est = relu1d.GDRegressor(steps=10)
    with pytest.raises(ValueError, match="reshape"):
        est.fit(np.linspace(-1, 1, 5), np.zeros(5))
    with pytest.raises(ValueError, match=UNIVARIATE):
        est.fit(np.zeros((5, 2)), np.zeros(5))


def test_divergence_warns_and_keeps_a_bounded_iterate():
    x, y, _ = relu1d.make_regression(20, rng=0)
    est = relu1d.GDRegressor(width=10, lr=50.0, steps=100, random_state=0)
    with pytest.warns(ConvergenceWarning, match="diverged"):
        est.fit(x.reshape(-1, 1), y)
    assert np.isfinite(est.predict(x.reshape(-1, 1))).all()


def test_grid_search_tunes_lr():
    x, y, f0 = relu1d.make_regression(30, sigma=0.3, rng=1)
    search = GridSearchCV(relu1d.GDRegressor(width=20, steps=2000, random_state=0),
                          {"lr": [0.01, 0.05, 0.2]}, cv=3)
    search.fit(x.reshape(-1, 1), y)
    assert search.best_params_["lr"] in (0.01, 0.05, 0.2)
    assert np.isfinite(search.cv_results_["mean_test_score"]).all()
    assert search.best_estimator_.theta_.shape == (61,)


def test_works_without_scikit_learn(monkeypatch):
    """The module falls back to its own get_params/set_params/score when sklearn is missing."""
    for name in [m for m in sys.modules if m == "sklearn" or m.startswith("sklearn.")]:
        monkeypatch.setitem(sys.modules, name, None)
    path = relu1d.estimator.__file__ if hasattr(relu1d, "estimator") else None
    spec = importlib.util.spec_from_file_location("relu1d._estimator_without_sklearn",
                                                  path or relu1d.__file__.replace("__init__.py", "estimator.py"),
                                                  submodule_search_locations=None)
    module = importlib.util.module_from_spec(spec)
    module.__package__ = "relu1d"
    spec.loader.exec_module(module)
    assert not module._HAVE_SKLEARN
    est = module.GDRegressor(width=8, steps=300, random_state=0)
    assert est.get_params()["width"] == 8 and est.set_params(lr=0.1).lr == 0.1
    assert repr(est).startswith("GDRegressor(width=8, lr=0.1")
    with pytest.raises(ValueError, match="alpha"):
        est.set_params(alpha=1)
    x, y, _ = relu1d.make_regression(20, rng=0)
    X = x.reshape(-1, 1)
    est.fit(X, y)
    assert est.n_features_in_ == 1 and -1 < est.score(X, y) <= 1
    with pytest.raises(ValueError, match="features"):
        est.predict(np.zeros((3, 2)))
    with pytest.raises(AttributeError, match="not fitted"):
        module.GDRegressor().predict(X)
    with pytest.raises(ValueError, match="y"):
        module.GDRegressor().fit(X, None)


@pytest.mark.parametrize("params, error, match", [
    ({"init": "he"}, ValueError, r"^init: .*kaiming_uniform"),
    ({"init": 3}, ValueError, r"^init:"),
    ({"random_state": -1}, ValueError, r"^random_state:"),
    ({"random_state": "seed"}, TypeError, r"^random_state:"),
    ({"random_state": 1.5}, TypeError, r"^random_state:"),
])
def test_bad_parameters_are_named_as_the_estimator_names_them(params, error, match):
    x, y, _ = relu1d.make_regression(10, rng=0)
    with pytest.raises(error, match=match):
        relu1d.GDRegressor(width=3, steps=5, **params).fit(x.reshape(-1, 1), y)
