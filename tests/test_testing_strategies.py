"""relu1d.testing.strategies: the hypothesis strategies respect their bounds and produce the
adversarial cases they promise."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import Phase, find, given, settings

import reference as ref
from relu1d.testing import datasets, networks, problems


def preactivations(x, theta):
    return ref.preactivations(np.asarray(x, dtype=float), theta)[0]

FIND = settings(database=None, max_examples=2000, derandomize=True, phases=[Phase.generate])  # no shrinking: fast


@given(datasets(min_n=2, max_n=9, x_scale=1e3, y_scale=5.0))
def test_datasets_respect_their_bounds(data):
    x, y = data
    assert x.dtype == y.dtype == np.float64 and x.shape == y.shape and 2 <= x.size <= 9
    assert np.all(np.abs(x) <= 1e3) and np.all(np.abs(y) <= 5.0)
    assert np.isfinite(x).all() and np.isfinite(y).all()


@given(networks(min_width=2, max_width=4, x_scale=3.0, weight_scale=2.0))
def test_networks_respect_their_bounds(theta):
    m = (theta.size - 1) // 3
    assert theta.size == 3 * m + 1 and 2 <= m <= 4 and np.isfinite(theta).all()
    assert np.all(np.abs(theta[2 * m:]) <= 2.0)


@given(problems(max_n=12, max_width=4))
def test_problems_are_consistent(problem):
    x, y, theta = problem
    assert x.shape == y.shape and 1 <= x.size <= 12
    assert (theta.size - 1) % 3 == 0 and 1 <= (theta.size - 1) // 3 <= 4


def test_strategies_produce_the_adversarial_cases():
    assert find(datasets(min_n=2), lambda d: np.unique(d[0]).size < d[0].size, settings=FIND) is not None
    def dyadic_fractions(d):
        return np.all(d[0] == np.round(d[0] * 8) / 8) and np.any(d[0] % 1 != 0)

    assert find(datasets(ties=False, min_n=3), dyadic_fractions, settings=FIND) is not None

    def m_of(theta):
        return (theta.size - 1) // 3

    for sign in (1.0, 0.0, -1.0):  # w = 0 with b > 0, b = 0, b < 0
        find(networks(), lambda t, s=sign: np.any((t[:m_of(t)] == 0) & (np.sign(t[m_of(t):2 * m_of(t)]) == s)),
             settings=FIND)

    def knot_on_data(p):
        x, _, t = p
        w = t[:m_of(t)]
        return np.any((preactivations(x, t) == 0) & (w != 0))

    def dead(p):
        x, _, t = p
        w = t[:m_of(t)]
        return np.any(((preactivations(x, t) > 0).sum(axis=0) == 0) & (w != 0))

    def one_ulp_beside(p):
        x, _, t = p
        z = np.abs(preactivations(x, t))
        return np.any((z > 0) & (z <= 4 * np.spacing(np.abs(x)[:, None] * np.abs(t[:m_of(t)]) + 1e-300)))

    for condition in (knot_on_data, dead, one_ulp_beside):
        find(problems(), condition, settings=FIND)


@pytest.mark.parametrize(
    ("factory", "kwargs", "error", "match"),
    [
        (datasets, {"min_n": 0}, ValueError, r"^min_n: must be >= 1"),
        (datasets, {"min_n": 5, "max_n": 4}, ValueError, r"^max_n: must be >= 5"),
        (datasets, {"ties": "yes"}, TypeError, r"^ties: expected a bool"),
        (datasets, {"x_scale": -1.0}, ValueError, r"^x_scale: must be > 0"),
        (datasets, {"y_scale": np.inf}, ValueError, r"^y_scale: must be finite"),
        (networks, {"min_width": 0}, ValueError, r"^min_width: must be >= 1"),
        (networks, {"min_width": 3, "max_width": 2}, ValueError, r"^max_width: must be >= 3"),
        (networks, {"weight_scale": 0.0}, ValueError, r"^weight_scale: must be > 0"),
        (networks, {"knots_at": [np.nan]}, ValueError, r"^knots_at: contains NaN"),
        (problems, {"max_width": 0}, ValueError, r"^max_width: must be >= 1"),
        (problems, {"max_n": 0}, ValueError, r"^max_n: must be >= 1"),
    ],
)
def test_strategy_bad_arguments(factory, kwargs, error, match):
    with pytest.raises(error, match=match):
        factory(**kwargs)
