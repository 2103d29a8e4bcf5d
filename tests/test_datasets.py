"""relu1d.datasets: named BV(1) targets, input distributions, make_regression; make_data delegates."""

from __future__ import annotations

import pickle

import numpy as np
import pytest

import relu1d
from relu1d.datasets import DISTRIBUTIONS, TARGET_TV1, TARGETS, Target, make_regression, sample_inputs


def _tv_of_derivative(f, lo=-1.0, hi=1.0, points=2_000_001):
    """TV(f') on [lo, hi] from the slopes of f on a fine grid: sum |slope_{i+1} - slope_i|."""
    t = np.linspace(lo, hi, points)
    slopes = np.diff(f(t)) / np.diff(t)
    return float(np.sum(np.abs(np.diff(slopes))))


@pytest.mark.parametrize("name", sorted(TARGETS))
def test_tv1_of_each_target(name):
    # a grid of spacing h resolves each kink exactly (a knot between grid points spreads its jump
    # over two slope differences of the same sign) and a smooth part to O(h)
    tv = _tv_of_derivative(TARGETS[name])
    assert tv == pytest.approx(TARGET_TV1[name], rel=1e-5, abs=1e-9)


def test_targets_at_their_knots():
    f = TARGETS
    np.testing.assert_array_equal(f["hat"](np.array([-1.0, -0.5, 0.0, 0.5, 1.0])), [0, 0, 1, 0, 0])
    np.testing.assert_array_equal(f["sawtooth"](np.array([-1.0, -0.75, -0.5, 0.0, 0.75, 1.0])),
                                  [-0.5, 0.5, -0.5, -0.5, 0.5, -0.5])
    assert f["mixture"](np.array([0.5]))[0] == pytest.approx(0.5)
    np.testing.assert_array_equal(f["zero"](np.linspace(-1, 1, 7)), np.zeros(7))


def test_target_callable_is_picklable_and_scaled():
    f0 = Target("hat", x_max=2.0)
    g = pickle.loads(pickle.dumps(f0))
    assert g == f0 and hash(g) == hash(f0) and repr(g) == "Target('hat', x_max=2)"
    np.testing.assert_array_equal(g(np.array([0.0, 1.0, 2.0])), [1.0, 0.0, 0.0])
    assert f0.tv1 == 4.0  # stretching by 2 halves TV(f0')


@pytest.mark.parametrize("distribution", DISTRIBUTIONS)
def test_inputs_are_sorted_and_inside(distribution):
    x = sample_inputs(5000, distribution, x_max=1.5, rng=3)
    assert x.shape == (5000,)
    assert np.all(np.diff(x) >= 0)
    assert x.min() >= -1.5 and x.max() <= 1.5


def test_input_distributions_shape():
    # 20 000 draws: the sample moments are within ~4 standard errors of the truncated laws'
    n = 20_000
    uniform = sample_inputs(n, "uniform", rng=0)
    assert abs(uniform.mean()) < 4 * np.sqrt(1 / 3 / n)
    assert uniform.var() == pytest.approx(1 / 3, rel=0.03)
    gauss = sample_inputs(n, "gaussian", rng=0)
    laplace = sample_inputs(n, "laplace", rng=0)
    # both have standard deviation 1/2 before truncation to [-1, 1]; the truncated laws' standard
    # deviations by quadrature of their densities; sample std has standard error ~ std / sqrt(2n)
    t = np.linspace(-1.0, 1.0, 200_001)
    for sample, density in ((gauss, np.exp(-0.5 * (t / 0.5) ** 2)), (laplace, np.exp(-np.abs(t) * np.sqrt(2) / 0.5))):
        std = np.sqrt(np.sum(t ** 2 * density) / np.sum(density))
        assert abs(sample.std() - std) < 4 * std / np.sqrt(2 * n)
    # the laplace law puts more mass near 0
    assert np.mean(np.abs(laplace) < 0.1) > np.mean(np.abs(gauss) < 0.1) * 1.3
    # no atoms at the ends (points outside are redrawn, not clipped)
    assert np.sum(np.abs(gauss) == 1.0) == 0 and np.sum(np.abs(laplace) == 1.0) == 0
    np.testing.assert_array_equal(sample_inputs(5, "grid"), np.linspace(-1, 1, 5))


def test_make_regression_labels_and_f0():
    x, y, f0 = make_regression(200, target="sawtooth", sigma=0.0, distribution="laplace", rng=1)
    np.testing.assert_array_equal(y, f0(x))
    assert f0 == Target("sawtooth")
    x2, y2, _ = make_regression(200, target="sawtooth", sigma=0.5, distribution="laplace", rng=1)
    np.testing.assert_array_equal(x2, x)  # inputs drawn first: the noise level does not move them
    noise = y2 - f0(x)
    assert noise.std() == pytest.approx(0.5, rel=0.15)


def test_same_seed_same_bits_and_generator_accepted():
    a = make_regression(50, target="mixture", distribution="gaussian", rng=7)
    b = make_regression(50, target="mixture", distribution="gaussian", rng=np.random.default_rng(7))
    for u, v in zip(a[:2], b[:2]):
        np.testing.assert_array_equal(u, v)


def test_make_data_delegates_with_the_same_bits():
    for target in ("hat", "abs", "sin"):
        for design in ("uniform", "grid"):
            x, y = relu1d.make_data(23, sigma=0.2, target=target, x_max=1.5, rng=4, design=design)
            x2, y2, _ = make_regression(23, sigma=0.2, target=target, x_max=1.5, rng=4, distribution=design)
            np.testing.assert_array_equal(x, x2)
            np.testing.assert_array_equal(y, y2)
    # the historical draw: uniform inputs, sorted, then the noise, from one generator
    gen = np.random.default_rng(0)
    x = np.sort(gen.uniform(-1.0, 1.0, 30))
    y = TARGETS["hat"](x) + 0.3 * gen.standard_normal(30)
    x2, y2 = relu1d.make_data()
    np.testing.assert_array_equal(x, x2)
    np.testing.assert_array_equal(y, y2)


@pytest.mark.parametrize("kwargs, match", [
    ({"target": "square"}, "target"),
    ({"distribution": "cauchy"}, "distribution"),
    ({"sigma": -1.0}, "sigma"),
    ({"x_max": 0.0}, "x_max"),
])
def test_bad_arguments_are_named(kwargs, match):
    with pytest.raises(ValueError, match=match):
        make_regression(10, **kwargs)


def test_bad_n_and_design():
    with pytest.raises(ValueError, match="n"):
        make_regression(0)
    with pytest.raises(TypeError, match="n"):
        make_regression(2.5)
    with pytest.raises(ValueError, match="design"):
        relu1d.make_data(10, design="laplace")


@pytest.mark.parametrize("kwargs, match", [
    ({"sigma": 1e308}, "sigma"),
    ({"x_max": 1e308}, "x_max"),
    ({"x_max": 1e308, "distribution": "grid"}, "x_max"),
    ({"x_max": 1e308, "distribution": "grid", "sigma": 0.0, "target": "abs"}, "x_max"),
])
def test_data_that_overflow_float64_are_a_value_error(kwargs, match):
    """Never silently inf or NaN data (nor numpy's OverflowError): the argument to blame is named."""
    with np.errstate(all="raise"):
        with pytest.raises(ValueError, match=match):
            make_regression(200, rng=0, **kwargs)
