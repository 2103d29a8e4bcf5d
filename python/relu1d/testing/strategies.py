"""Hypothesis strategies for adversarial data sets and networks.

They need the ``hypothesis`` package (``pip install relu1d[test]``), which is imported only when a
strategy is built.
"""

from __future__ import annotations

from fractions import Fraction

import numpy as np

from .._validate import as_float, as_int, as_vector

__all__ = ["datasets", "networks", "problems"]


def _strategies():
    try:
        from hypothesis import strategies as st
    except ImportError:  # pragma: no cover - depends on the environment
        raise ImportError("relu1d.testing strategies need hypothesis: pip install 'relu1d[test]'") from None
    return st


def _dyadic_step(scale: float) -> float:
    """A power of two about scale / 64: grid values k * step are exact and have few bits."""
    return float(2.0 ** (np.floor(np.log2(scale)) - 6))


def _values(st, scale: float, *, tiny: float = 2.0 ** -20):
    """Floats in [-scale, scale]: dyadic grid values, zero and generic floats (none tiny, so that
    products never underflow)."""
    step = _dyadic_step(scale)
    kmax = int(scale // step)
    dyadic = st.integers(-kmax, kmax).map(lambda k: float(k * step))
    generic = st.floats(-scale, scale, allow_nan=False, allow_infinity=False, allow_subnormal=False)
    generic = generic.map(lambda t: t if abs(t) >= tiny * scale else 0.0)
    return st.one_of(dyadic, generic, st.just(0.0))


def _check_scale(value, name):
    return as_float(value, name, positive=True)


def datasets(min_n: int = 1, max_n: int = 30, *, ties: bool = True, x_scale: float = 10.0,
             y_scale: float = 10.0):
    """Hypothesis strategy for data sets ``(x, y)``: two float64 arrays of equal length n.

    The inputs mix dyadic grid values (exact in products with powers of two, so knots can sit
    exactly on them), zero and generic floats in ``[-x_scale, x_scale]``; with ``ties`` some x are
    repeated (with possibly different labels). Labels lie in ``[-y_scale, y_scale]``.

    Parameters
    ----------
    min_n, max_n : int
        Range of the number of points (``1 <= min_n <= max_n``).
    ties : bool
        Draw x from a small pool so that duplicates are common.
    x_scale, y_scale : float
        Bounds on ``|x|`` (up to 1e3 is a sensible stress test) and ``|y|``.
    """
    st = _strategies()
    min_n = as_int(min_n, "min_n", minimum=1)
    max_n = as_int(max_n, "max_n", minimum=min_n)
    if not isinstance(ties, (bool, np.bool_)):
        raise TypeError(f"ties: expected a bool, got {type(ties).__name__}")
    x_scale = _check_scale(x_scale, "x_scale")
    y_scale = _check_scale(y_scale, "y_scale")
    xs = _values(st, x_scale)
    ys = _values(st, y_scale)

    @st.composite
    def build(draw):
        n = draw(st.integers(min_n, max_n))
        if ties:
            pool = draw(st.lists(xs, min_size=1, max_size=n))
            x = draw(st.lists(st.sampled_from(pool), min_size=n, max_size=n))
        else:
            x = draw(st.lists(xs, min_size=n, max_size=n))
        y = draw(st.lists(ys, min_size=n, max_size=n))
        return np.array(x, dtype=np.float64), np.array(y, dtype=np.float64)

    return build()


_NEURON_KINDS = ("generic", "generic", "free_bias", "zero_w", "dead", "knot_on_data", "knot_on_rounded_product",
                 "knot_near_data")


def networks(min_width: int = 1, max_width: int = 6, *, knots_at=None, x_scale: float = 10.0,
             weight_scale: float = 4.0):
    """Hypothesis strategy for parameter vectors ``theta = [w, b, v, c]`` of width in a range.

    Each neuron is drawn from several kinds: generic (knot inside ``[-x_scale, x_scale]``), a free
    bias, ``w = 0`` (or ``-0.0``) with ``b > 0``, ``b = 0`` or ``b < 0``, dead (inactive at every
    data point), a knot exactly on a data point (``b = -fl(w x_i)``, so that ``fl(fl(w x_i) + b) == 0``:
    with ``w = +-2^j`` the product is exact; with a full-mantissa w only the unfused evaluation gives 0,
    and a kernel that contracts ``w x + b`` into an FMA puts such points on either side) and a knot one
    ulp beside a data point. Output weights include 0.

    Parameters
    ----------
    min_width, max_width : int
        Range of the width m (``1 <= min_width <= max_width``).
    knots_at : array_like or None
        Data inputs on which knots are placed exactly (and which dead neurons avoid); None uses dyadic
        points of ``[-x_scale, x_scale]`` and keeps dead neurons' knots at ``+-x_scale``.
    x_scale : float
        Bound on the data inputs ``|x|``.
    weight_scale : float
        Bound on ``|w|``, ``|v|`` and ``|c|`` (biases scale with ``weight_scale * x_scale``).
    """
    st = _strategies()
    min_width = as_int(min_width, "min_width", minimum=1)
    max_width = as_int(max_width, "max_width", minimum=min_width)
    x_scale = _check_scale(x_scale, "x_scale")
    weight_scale = _check_scale(weight_scale, "weight_scale")
    points = None if knots_at is None else as_vector(knots_at, "knots_at")
    lo = float(points.min()) if points is not None else -x_scale
    hi = float(points.max()) if points is not None else x_scale
    weights = _values(st, weight_scale)
    nonzero_w = weights.filter(lambda t: t != 0.0)
    knot = st.sampled_from(sorted(set(points.tolist()))) if points is not None else _values(st, x_scale)
    location = _values(st, x_scale)
    bias = _values(st, weight_scale * x_scale)
    power = st.integers(-2, 2).map(lambda j: 2.0 ** j)
    sign = st.sampled_from((1.0, -1.0))

    @st.composite
    def neuron(draw):
        kind = draw(st.sampled_from(_NEURON_KINDS))
        if kind == "generic":
            w = draw(nonzero_w)
            b = float(-(w * draw(location)))
        elif kind == "free_bias":
            w = draw(weights)
            b = draw(bias)
        elif kind == "zero_w":
            w = draw(st.sampled_from((0.0, -0.0)))
            b = draw(st.sampled_from((1.0, -1.0, 0.0, -0.0))) * draw(st.sampled_from((1.0, 0.5, 3.0)))
        elif kind == "dead":
            w = draw(sign) * draw(power)
            edge = hi if w > 0 else lo  # fl(w x + b) <= 0 for every x on the inactive side of edge
            b = float(-(w * edge)) - draw(st.sampled_from((0.0, 1.0, 0.125)))
        else:  # a knot exactly on (or one ulp beside) a data point
            w = draw(sign) * draw(power)  # w x_i exact
            t = draw(knot)
            if kind == "knot_on_rounded_product":  # a full 53-bit mantissa: fl(w x_i) != w x_i
                w *= 1.0 + draw(st.integers(1, 2**52 - 1)) * 2.0**-52
                if Fraction(w) * Fraction(t) < Fraction(w * t):
                    w = -w  # w x_i > fl(w x_i): a fused w x_i + b would be > 0, the package's is == 0
            b = float(-(w * t))
            if kind == "knot_near_data":  # one ulp beside; beside 0, a small normal offset (no subnormals)
                b = float(np.nextafter(b, draw(sign) * np.inf)) if b != 0 else draw(sign) * 2.0 ** -30
        v = draw(weights)
        return w, b, v

    @st.composite
    def build(draw):
        m = draw(st.integers(min_width, max_width))
        cols = [draw(neuron()) for _ in range(m)]
        c = draw(weights)
        w, b, v = (np.array(col, dtype=np.float64) for col in zip(*cols))
        return np.concatenate([w, b, v, [c]])

    return build()


def problems(min_n: int = 1, max_n: int = 30, min_width: int = 1, max_width: int = 6, *, ties: bool = True,
             x_scale: float = 10.0, y_scale: float = 10.0, weight_scale: float = 4.0):
    """Hypothesis strategy for ``(x, y, theta)``: a data set from :func:`datasets` and a network from
    :func:`networks` whose special knots sit exactly on (or beside) that data set's points.

    Parameters are those of :func:`datasets` and :func:`networks`.
    """
    st = _strategies()
    data = datasets(min_n, max_n, ties=ties, x_scale=x_scale, y_scale=y_scale)
    min_width = as_int(min_width, "min_width", minimum=1)
    max_width = as_int(max_width, "max_width", minimum=min_width)
    weight_scale = _check_scale(weight_scale, "weight_scale")

    @st.composite
    def build(draw):
        x, y = draw(data)
        theta = draw(networks(min_width, max_width, knots_at=x, x_scale=x_scale, weight_scale=weight_scale))
        return x, y, theta

    return build()
