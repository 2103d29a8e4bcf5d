"""init_params, pack, unpack, width_of."""

from __future__ import annotations

import numpy as np
import pytest

import relu1d


@pytest.mark.parametrize("scheme", relu1d.INIT_SCHEMES)
@pytest.mark.parametrize("width", [1, 2, 7, 64])
def test_init_params_shape_and_reproducibility(scheme, width):
    theta = relu1d.init_params(width, rng=123, scheme=scheme)
    assert theta.shape == (3 * width + 1,) and theta.dtype == np.float64
    assert np.isfinite(theta).all()
    assert relu1d.width_of(theta) == width
    np.testing.assert_array_equal(relu1d.init_params(width, rng=123, scheme=scheme), theta)
    np.testing.assert_array_equal(relu1d.init_params(width, rng=np.random.default_rng(123), scheme=scheme), theta)
    assert not np.array_equal(relu1d.init_params(width, rng=124, scheme=scheme), theta)


def test_init_params_distributions():
    m = 400
    bound = 1 / np.sqrt(m)
    w, b, v, c = relu1d.unpack(relu1d.init_params(m, rng=0, scheme="kaiming_uniform"))
    assert np.abs(w).max() <= 1 and np.abs(b).max() <= 1 and np.abs(v).max() <= bound and abs(c) <= bound
    assert np.abs(w).max() > 0.9 and np.abs(v).max() > 0.9 * bound  # fills its range
    w, b, v, c = relu1d.unpack(relu1d.init_params(m, rng=0, scheme="kaiming_normal"))
    assert np.all(b == 0) and c == 0
    assert 1.2 < np.std(w) < 1.6  # sqrt(2) ~ 1.41
    w, b, v, c = relu1d.unpack(relu1d.init_params(m, rng=0, scheme="uniform"))
    assert np.abs(b).max() <= 1 and np.abs(v).max() <= bound and c == 0


def test_init_params_scale_multiplies_output_layer():
    a = relu1d.init_params(5, rng=3)
    b = relu1d.init_params(5, rng=3, scale=0.5)
    np.testing.assert_array_equal(b[:10], a[:10])
    np.testing.assert_array_equal(b[10:], 0.5 * a[10:])
    z = relu1d.init_params(5, rng=3, scale=0.0)
    assert np.all(z[10:] == 0)


def test_init_params_default_rng_is_random():
    assert not np.array_equal(relu1d.init_params(8), relu1d.init_params(8))


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"width": 3, "scheme": "xavier"}, ValueError, r"^scheme: expected one of .*got 'xavier'"),
        ({"width": 0}, ValueError, r"^width: must be >= 1"),
        ({"width": -2}, ValueError, r"^width: must be >= 1"),
        ({"width": 2.5}, TypeError, r"^width: expected an integer"),
        ({"width": "3"}, TypeError, r"^width: expected an integer"),
        ({"width": 3, "rng": "seed"}, TypeError, r"^rng: expected None, an int"),
        ({"width": 3, "rng": 1.5}, TypeError, r"^rng: "),
        ({"width": 3, "scale": -1.0}, ValueError, r"^scale: must be >= 0"),
        ({"width": 3, "scale": np.nan}, ValueError, r"^scale: must be finite"),
        ({"width": 3, "scale": "big"}, TypeError, r"^scale: expected a real number"),
    ],
)
def test_init_params_bad_arguments(kwargs, error, match):
    width = kwargs.pop("width")
    with pytest.raises(error, match=match):
        relu1d.init_params(width, **kwargs)


def test_pack_unpack_roundtrip_and_views():
    w, b, v, c = [1.0, 2.0], [3.0, 4.0], [5.0, 6.0], 7.0
    theta = relu1d.pack(w, b, v, c)
    np.testing.assert_array_equal(theta, [1, 2, 3, 4, 5, 6, 7])
    uw, ub, uv, uc = relu1d.unpack(theta)
    assert uc == 7.0 and isinstance(uc, float)
    uw[0] = -1.0  # views write through
    assert theta[0] == -1.0
    np.testing.assert_array_equal(ub, b)
    np.testing.assert_array_equal(uv, v)


@pytest.mark.parametrize(
    ("args", "error", "match"),
    [
        (([1.0], [2.0, 3.0], [4.0], 0.0), ValueError, r"^b: expected length 1, got 2"),
        (([1.0], [2.0], [4.0, 5.0], 0.0), ValueError, r"^v: expected length 1, got 2"),
        (([1.0], [2.0], [4.0], [0.0]), TypeError, r"^c: expected a real number"),
        (([1.0], [2.0], [4.0], np.nan), ValueError, r"^c: must be finite"),
        (([np.nan], [2.0], [4.0], 0.0), ValueError, r"^w: contains NaN"),
        (([], [], [], 0.0), ValueError, r"^w: must not be empty"),
    ],
)
def test_pack_bad_arguments(args, error, match):
    with pytest.raises(error, match=match):
        relu1d.pack(*args)


def test_unpack_bad_length():
    with pytest.raises(ValueError, match=r"^theta: length must be 3\*m\+1"):
        relu1d.unpack(np.zeros(5))
    with pytest.raises(ValueError, match=r"^theta: length must be 3\*m\+1"):
        relu1d.width_of([1.0, 2.0])
