"""Tools for property-testing derivatives of the two-layer ReLU loss.

The loss ``L(theta) = 1/(2n) sum_i (f(x_i) - y_i)^2`` of ``f(x) = sum_k v_k relu(w_k x + b_k) + c``
is piecewise polynomial in ``theta``: it has kinks wherever a knot ``t_k = -b_k / w_k`` passes a
data point. A central finite difference ``(L(theta + h u) - L(theta - h u)) / (2h)`` has error
O(h^2) only while no data point changes activation inside the stencil ``[theta - h u, theta + h u]``;
across a kink it can be wrong by O(1), and a naive gradient check then reports a false failure.

This module provides

- :func:`check_grad` and :func:`check_hvp`: finite-difference checks of ``grad`` and ``hvp`` along
  directions, which detect kink crossings (the exact activation predicate
  ``fl(fl(w x) + b) > 0`` evaluated at ``theta - h u``, ``theta``, ``theta + h u``) and report them
  instead of failing; :func:`assert_grad_close` and :func:`assert_hvp_close` raise on failure;
- :func:`away_from_kinks`: nudge the biases so that every data point is at least a margin away from
  every knot (in pre-activation units), so that finite differences are valid;
- hypothesis strategies :func:`datasets`, :func:`networks` and :func:`problems` that produce
  adversarial inputs: duplicate and dyadic x, ``w = 0`` neurons, dead neurons, knots exactly on
  (and one ulp beside) data points. They need the ``hypothesis`` package (``pip install relu1d[test]``),
  which is imported only when a strategy is built.

Examples
--------
>>> import numpy as np, relu1d
>>> from relu1d.testing import assert_grad_close, check_hvp
>>> x = np.linspace(-1, 1, 20); obj = relu1d.Objective(x, np.sin(3 * x))
>>> theta = relu1d.init_params(5, rng=0)
>>> report = assert_grad_close(obj, theta)
>>> check_hvp(obj, theta, directions="unit").passed
True
"""

from __future__ import annotations

import numbers
from dataclasses import dataclass
from fractions import Fraction

import numpy as np

from ._validate import as_float, as_float_array, as_int, as_rng, as_theta, as_vector

__all__ = [
    "DerivativeCheck",
    "check_grad",
    "check_hvp",
    "assert_grad_close",
    "assert_hvp_close",
    "away_from_kinks",
    "datasets",
    "networks",
    "problems",
]

_DEFAULT_DIRECTIONS = 8
_BLOCK = 1 << 18  # entries of a (data x neurons) block in the kink analysis


# ------------------------------------------------------------------------------------------------
# The report


@dataclass(frozen=True, eq=False)
class DerivativeCheck:
    """Result of :func:`check_grad` or :func:`check_hvp`.

    A direction is *checked* unless its stencil ``[theta - h u, theta + h u]`` crosses a kink (a
    data point changes activation) or, when a ``margin`` was asked for, comes closer to a kink than
    that margin; such directions are *skipped* and do not count as failures. A checked direction
    *fails* when ``|numeric - analytic| > atol + rtol * |analytic|`` (componentwise for HVPs).

    Attributes
    ----------
    kind : str
        ``"grad"`` (directional derivative of the loss) or ``"hvp"`` (of the gradient).
    passed : bool
        At least one direction was checked and none failed.
    n_directions, n_checked, n_failed, n_skipped_kink_crossing, n_skipped_margin : int
        Direction counts (``n_checked + n_skipped_kink_crossing + n_skipped_margin = n_directions``).
    max_abs_error, max_rel_error : float
        Largest errors over the checked directions (NaN if none was checked).
    min_margin : float
        Smallest margin over all directions: ``|w_k x_i + b_k| / (h (|u_w,k| |x_i| + |u_b,k|))``,
        the distance of a data point to a knot relative to how far the stencil moves it. Below 1 a
        crossing is possible, at 0 a data point sits exactly on a knot. ``inf`` if no knot moves.
    h, atol, rtol : float
        The step and tolerances used.
    directions : ndarray, shape (k, d)
        The directions u.
    analytic, numeric : ndarray, shape (k,) for ``"grad"``, (k, d) for ``"hvp"``
        ``grad . u`` (resp. ``H u``) and its central difference.
    abs_errors, rel_errors, margins : ndarray, shape (k,)
        Per-direction errors (max over components for HVPs; the relative error divides by
        ``|analytic|``, resp. ``max |H u|``) and minimum margins.
    crossed, skipped, failed : ndarray of bool, shape (k,)
        Per-direction flags.
    crossings : tuple
        One ``(direction, neuron, x)`` triple per neuron whose knot crosses the data point ``x``
        inside a direction's stencil.
    """

    kind: str
    passed: bool
    n_directions: int
    n_checked: int
    n_failed: int
    n_skipped_kink_crossing: int
    n_skipped_margin: int
    max_abs_error: float
    max_rel_error: float
    min_margin: float
    h: float
    atol: float
    rtol: float
    margin: float | None
    directions: np.ndarray
    analytic: np.ndarray
    numeric: np.ndarray
    abs_errors: np.ndarray
    rel_errors: np.ndarray
    margins: np.ndarray
    crossed: np.ndarray
    skipped: np.ndarray
    failed: np.ndarray
    crossings: tuple

    def __repr__(self) -> str:
        what = "gradient" if self.kind == "grad" else "Hessian-vector product"
        verdict = "PASSED" if self.passed else "FAILED"
        lines = [
            f"DerivativeCheck({self.kind}): {verdict}: {what} against central differences "
            f"(h={self.h:g}, atol={self.atol:g}, rtol={self.rtol:g})",
            f"  directions: {self.n_directions} total, {self.n_checked} checked, {self.n_failed} failed, "
            f"{self.n_skipped_kink_crossing} skipped (kink crossing)"
            + (f", {self.n_skipped_margin} skipped (margin < {self.margin:g})" if self.margin is not None else ""),
            f"  max abs error {self.max_abs_error:.3g}, max rel error {self.max_rel_error:.3g}, "
            f"min margin {self.min_margin:.3g}",
        ]
        if self.n_checked == 0:
            lines.append("  nothing was checked: every stencil crosses (or nears) a kink; "
                         "use a smaller h or relu1d.testing.away_from_kinks")
        for j in np.flatnonzero(self.failed)[:5]:
            if self.kind == "grad":
                lines.append(f"  direction {j}: analytic {self.analytic[j]:.10g}, numeric "
                             f"{self.numeric[j]:.10g}, abs error {self.abs_errors[j]:.3g}")
            else:
                comp = int(np.argmax(np.abs(self.numeric[j] - self.analytic[j])))
                lines.append(f"  direction {j}: worst component {comp}: analytic "
                             f"{self.analytic[j, comp]:.10g}, numeric {self.numeric[j, comp]:.10g}, "
                             f"abs error {self.abs_errors[j]:.3g}")
        if self.n_failed > 5:
            lines.append(f"  ... and {self.n_failed - 5} more failed directions")
        for j, k, xv in self.crossings[:5]:
            lines.append(f"  direction {j}: the knot of neuron {k} crosses the data point x = {xv:.17g}")
        if len(self.crossings) > 5:
            lines.append(f"  ... and {len(self.crossings) - 5} more kink crossings")
        return "\n".join(lines)

    __str__ = __repr__


# ------------------------------------------------------------------------------------------------
# Argument handling


def _data_points(source, name: str) -> np.ndarray:
    """The data inputs x of an objective (anything with ``x_sorted`` or ``x``) or an array."""
    for attr in ("x_sorted", "x"):
        if hasattr(source, attr):
            return as_vector(getattr(source, attr), f"{name}.{attr}")
    if isinstance(source, (list, tuple, np.ndarray)):
        return as_vector(source, name)
    raise TypeError(f"{name}: expected a relu1d.Objective (or an object with an x_sorted attribute) "
                    f"or an array of data inputs, got {type(source).__name__}")


def _check_methods(objective, methods) -> None:
    missing = [meth for meth in methods if not callable(getattr(objective, meth, None))]
    if missing or not (hasattr(objective, "x_sorted") or hasattr(objective, "x")):
        need = ", ".join(f"{meth}(...)" for meth in methods)
        raise TypeError(f"objective: expected a relu1d.Objective or an object with {need} and an "
                        f"x_sorted attribute, got {type(objective).__name__}")


def _directions(directions, d: int, rng) -> np.ndarray:
    """The ``directions`` argument as a (k, d) float64 array."""
    if directions is None:
        directions = _DEFAULT_DIRECTIONS
    if isinstance(directions, str):
        if directions != "unit":
            raise ValueError(f"directions: expected None, an int, 'unit' or an array, got {directions!r}")
        return np.eye(d)
    if isinstance(directions, bool):
        raise TypeError("directions: expected None, an int, 'unit' or an array, got bool")
    if isinstance(directions, numbers.Integral):
        k = as_int(directions, "directions", minimum=1)
        gen = np.random.default_rng(0) if rng is None else as_rng(rng)
        U = gen.standard_normal((k, d))
        return U / np.linalg.norm(U, axis=1, keepdims=True)
    return _direction_array(directions, "directions", d)


def _direction_array(value, name: str, d: int) -> np.ndarray:
    """Explicit directions, shape (d,) or (k, d), as a (k, d) float64 array."""
    U = as_float_array(value, name, finite=False)
    if U.ndim not in (1, 2) or U.shape[-1] != d:
        raise ValueError(f"{name}: expected shape (k, {d}) or ({d},) for a theta of length {d}, got {U.shape}")
    U = np.array(U, dtype=np.float64, ndmin=2)
    if U.shape[0] == 0:
        raise ValueError(f"{name}: must contain at least one direction")
    if not np.isfinite(U).all():
        raise ValueError(f"{name}: contains NaN or inf")
    if not np.any(U != 0, axis=1).all():
        raise ValueError(f"{name}: contains an all-zero direction")
    return U


def _tolerances(h, atol, rtol, margin):
    h = as_float(h, "h", positive=True)
    atol = as_float(atol, "atol", nonnegative=True)
    rtol = as_float(rtol, "rtol", nonnegative=True)
    if margin is not None:
        margin = as_float(margin, "margin", nonnegative=True)
    return h, atol, rtol, margin


def _as_output(value, what: str, shape) -> np.ndarray:
    out = np.asarray(value, dtype=np.float64)
    if out.shape != shape:
        raise ValueError(f"objective: {what} returned shape {out.shape}, expected {shape}")
    return out


# ------------------------------------------------------------------------------------------------
# Kink analysis


def _stencil_analysis(x, theta, plus, minus, u, h, only_output_neurons):
    """Activation changes and the margin for one direction.

    Returns (crossing neurons with a data point each, min margin). Only neurons whose pre-activation
    moves (u_w or u_b nonzero) can change activation; with ``only_output_neurons`` a neuron that
    contributes nothing to f on the whole stencil (v_k = u_v,k = 0) is ignored.
    """
    m = (theta.size - 1) // 3
    uw, ub, uv = u[:m], u[m:2 * m], u[2 * m:3 * m]
    moving = (uw != 0) | (ub != 0)
    if only_output_neurons:
        moving &= (theta[2 * m:3 * m] != 0) | (uv != 0)
    ks = np.flatnonzero(moving)
    if ks.size == 0:
        return [], np.inf
    w0, b0 = theta[ks], theta[m + ks]
    wp, bp = plus[ks], plus[m + ks]
    wm, bm = minus[ks], minus[m + ks]
    auw, aub = np.abs(uw[ks]), np.abs(ub[ks])
    crossed = np.zeros(ks.size, dtype=bool)
    where = np.zeros(ks.size)
    min_margin = np.inf
    step = max(1, _BLOCK // ks.size)
    for i0 in range(0, x.size, step):
        xb = x[i0:i0 + step]
        z0 = np.multiply.outer(xb, w0) + b0  # the exact predicate: rounded product, rounded sum
        a0 = z0 > 0
        flips = (a0 != ((np.multiply.outer(xb, wp) + bp) > 0)) | (a0 != ((np.multiply.outer(xb, wm) + bm) > 0))
        new = flips.any(axis=0) & ~crossed
        if new.any():
            where[new] = xb[np.argmax(flips[:, new], axis=0)]
            crossed |= new
        reach = h * (np.multiply.outer(np.abs(xb), auw) + aub)
        with np.errstate(divide="ignore", invalid="ignore"):
            ratio = np.where(reach > 0, np.abs(z0) / reach, np.inf)
        min_margin = min(min_margin, float(ratio.min()))
    return [(int(ks[q]), float(where[q])) for q in np.flatnonzero(crossed)], min_margin


def _run_check(kind, objective, theta, U, h, atol, rtol, margin):
    d = theta.size
    x = np.unique(_data_points(objective, "objective"))
    k = U.shape[0]
    if kind == "grad":
        g = _as_output(objective.grad(theta), "grad(theta)", (d,))
        analytic = U @ g
        numeric = np.empty(k)
    else:
        analytic = np.empty((k, d))
        numeric = np.empty((k, d))
    abs_err = np.empty(k)
    rel_err = np.empty(k)
    margins = np.empty(k)
    crossed = np.zeros(k, dtype=bool)
    failed = np.zeros(k, dtype=bool)
    crossings = []
    for j in range(k):
        u = U[j]
        plus = theta + h * u
        minus = theta - h * u
        hits, margins[j] = _stencil_analysis(x, theta, plus, minus, u, h, only_output_neurons=kind == "grad")
        crossed[j] = bool(hits)
        crossings.extend((j, kk, xv) for kk, xv in hits)
        if kind == "grad":
            numeric[j] = (float(objective.loss(plus)) - float(objective.loss(minus))) / (2.0 * h)
            err = abs(numeric[j] - analytic[j])
            scale = abs(analytic[j])
            ok = err <= atol + rtol * scale
        else:
            analytic[j] = _as_output(objective.hvp(theta, u), "hvp(theta, u)", (d,))
            gp = _as_output(objective.grad(plus), "grad(theta)", (d,))
            gm = _as_output(objective.grad(minus), "grad(theta)", (d,))
            numeric[j] = (gp - gm) / (2.0 * h)
            diff = np.abs(numeric[j] - analytic[j])
            err = float(diff.max())
            scale = float(np.abs(analytic[j]).max())
            ok = bool(np.all(diff <= atol + rtol * np.abs(analytic[j])))
        abs_err[j] = err
        rel_err[j] = err / scale if scale > 0 else (0.0 if err == 0 else np.inf)
        failed[j] = not ok
    near = ~crossed & (margins < margin) if margin is not None else np.zeros(k, dtype=bool)
    skipped = crossed | near
    failed &= ~skipped
    checked = ~skipped
    n_checked = int(checked.sum())
    return DerivativeCheck(
        kind=kind,
        passed=bool(n_checked > 0 and not failed.any()),
        n_directions=k,
        n_checked=n_checked,
        n_failed=int(failed.sum()),
        n_skipped_kink_crossing=int(crossed.sum()),
        n_skipped_margin=int(near.sum()),
        max_abs_error=float(abs_err[checked].max()) if n_checked else float("nan"),
        max_rel_error=float(rel_err[checked].max()) if n_checked else float("nan"),
        min_margin=float(margins.min()),
        h=h, atol=atol, rtol=rtol, margin=margin,
        directions=U, analytic=analytic, numeric=numeric,
        abs_errors=abs_err, rel_errors=rel_err, margins=margins,
        crossed=crossed, skipped=skipped, failed=failed,
        crossings=tuple(crossings),
    )


# ------------------------------------------------------------------------------------------------
# Public checks


def check_grad(objective, theta, *, h=1e-6, atol=1e-5, rtol=1e-3, directions=None, rng=None,
               margin=None) -> DerivativeCheck:
    """Check ``objective.grad`` against central differences of ``objective.loss``.

    For each direction u, compares ``grad(theta) . u`` with
    ``(loss(theta + h u) - loss(theta - h u)) / (2 h)``. A direction whose stencil crosses a kink
    (some data point changes activation between ``theta - h u``, ``theta`` and ``theta + h u``, by
    the exact predicate ``fl(fl(w x) + b) > 0``) is reported as a crossing and skipped, never failed.
    Neurons with ``v_k = u_v,k = 0`` are ignored: they do not change the loss.

    Parameters
    ----------
    objective : relu1d.Objective or duck-typed object
        Needs ``loss(theta)``, ``grad(theta)`` and the data inputs as ``x_sorted`` (or ``x``).
    theta : array_like, shape (3m+1,)
        The point ``[w, b, v, c]``.
    h : float
        Step (default 1e-6, as ``torch.autograd.gradcheck``).
    atol, rtol : float
        A direction passes if ``|numeric - analytic| <= atol + rtol * |analytic|``.
    directions : None, int, "unit" or array_like
        ``None``: 8 random unit directions; an int: that many; ``"unit"``: every coordinate
        direction; an array of shape (k, 3m+1) or (3m+1,): those directions (not normalised).
    rng : None, int or numpy.random.Generator
        Source of the random directions (None: a fixed seed, so a check is reproducible).
    margin : float or None
        If given, also skip directions whose minimum margin (see :class:`DerivativeCheck`) is below
        this value, e.g. ``margin=2`` keeps a safety factor against knots that nearly cross.

    Returns
    -------
    DerivativeCheck
        ``report.passed`` is True if some direction was checked and none failed.
    """
    _check_methods(objective, ("loss", "grad"))
    theta = as_theta(theta)
    h, atol, rtol, margin = _tolerances(h, atol, rtol, margin)
    U = _directions(directions, theta.size, rng)
    return _run_check("grad", objective, theta, U, h, atol, rtol, margin)


def check_hvp(objective, theta, u=None, *, h=1e-6, atol=1e-5, rtol=1e-3, directions=None, rng=None,
              margin=None) -> DerivativeCheck:
    """Check ``objective.hvp`` against central differences of ``objective.grad``.

    For each direction u, compares ``hvp(theta, u)`` with
    ``(grad(theta + h u) - grad(theta - h u)) / (2 h)`` componentwise. Kink crossings are detected
    and reported as in :func:`check_grad` (here every neuron counts: ``dL/dv_k`` depends on the
    active set of neuron k even when ``v_k = 0``).

    Parameters
    ----------
    objective : relu1d.Objective or duck-typed object
        Needs ``grad(theta)``, ``hvp(theta, u)`` and the data inputs as ``x_sorted`` (or ``x``).
    theta : array_like, shape (3m+1,)
        The point ``[w, b, v, c]``.
    u : array_like, shape (3m+1,) or (k, 3m+1), optional
        The vector(s) to multiply; a shorthand for ``directions`` (give one or the other).
    h, atol, rtol, directions, rng, margin
        As in :func:`check_grad`; a component passes if
        ``|numeric_j - analytic_j| <= atol + rtol * |analytic_j|``.

    Returns
    -------
    DerivativeCheck
    """
    _check_methods(objective, ("grad", "hvp"))
    theta = as_theta(theta)
    h, atol, rtol, margin = _tolerances(h, atol, rtol, margin)
    if u is not None:
        if directions is not None:
            raise ValueError("u, directions: give one or the other, not both")
        U = _direction_array(u, "u", theta.size)
    else:
        U = _directions(directions, theta.size, rng)
    return _run_check("hvp", objective, theta, U, h, atol, rtol, margin)


def assert_grad_close(objective, theta, **kwargs) -> DerivativeCheck:
    """:func:`check_grad`, raising ``AssertionError`` with the report unless it passed.

    Also fails when every direction was skipped (nothing was checked). Returns the report.
    """
    report = check_grad(objective, theta, **kwargs)
    if not report.passed:
        raise AssertionError("gradient check failed\n" + repr(report))
    return report


def assert_hvp_close(objective, theta, u=None, **kwargs) -> DerivativeCheck:
    """:func:`check_hvp`, raising ``AssertionError`` with the report unless it passed."""
    report = check_hvp(objective, theta, u, **kwargs)
    if not report.passed:
        raise AssertionError("Hessian-vector product check failed\n" + repr(report))
    return report


# ------------------------------------------------------------------------------------------------
# Moving theta away from kinks


def away_from_kinks(objective_or_x, theta, margin) -> np.ndarray:
    """A copy of theta whose biases are nudged so that no data point is near a knot.

    After the call ``|fl(fl(w_k x_i) + b_k)| >= margin`` for every neuron k and data point x_i
    (distance in pre-activation units: a step of size h in direction u moves ``w_k x_i + b_k`` by at
    most ``h (|u_w,k| |x_i| + |u_b,k|)``, so finite differences with a smaller reach cross no kink).
    Each ``b_k`` moves by the smallest amount that achieves this; neurons already far enough from
    every data point are unchanged. If the data are denser than ``2 margin / |w_k|``, the knot may
    have to leave the data range (the neuron becomes active on all or none of the data). Only b
    changes; w, v and c are kept.

    Parameters
    ----------
    objective_or_x : relu1d.Objective or array_like
        The data inputs, or an objective holding them.
    theta : array_like, shape (3m+1,)
    margin : float
        Required distance (> 0), in pre-activation units.

    Returns
    -------
    ndarray, shape (3m+1,)
    """
    x = np.unique(_data_points(objective_or_x, "objective_or_x"))
    theta = as_theta(theta).copy()
    margin = as_float(margin, "margin", positive=True)
    m = (theta.size - 1) // 3
    for k in range(m):
        theta[m + k] = _nudged_bias(x, theta[k], theta[m + k], margin)
    return theta


def _nudged_bias(x: np.ndarray, w: float, b: float, margin: float) -> float:
    p = np.unique(x * w)  # fl(w x): the new pre-activation is fl(p + b_new), one rounding

    def ok(bias):
        return bool(np.abs(p + bias).min() >= margin)

    if ok(b):
        return b
    # The feasible biases lie outside the union of the intervals (-p_i - margin, -p_i + margin); the
    # nearest to b is one of their end points, padded by a few ulps against the rounding of p + bias.
    pad = margin * (1.0 + 1e-12) + 4.0 * float(np.spacing(np.abs(p).max() + margin))
    cand = np.concatenate([-p - pad, -p + pad])
    cand = cand[np.argsort(np.abs(cand - b), kind="stable")]
    for bias in cand:
        i = np.searchsorted(p, -bias)
        near = min(abs(p[i] + bias) if i < p.size else np.inf, abs(p[i - 1] + bias) if i > 0 else np.inf)
        if near >= margin and ok(bias):
            return float(bias)
    raise AssertionError("unreachable: the outermost candidate biases are always feasible")  # pragma: no cover


# ------------------------------------------------------------------------------------------------
# Hypothesis strategies


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
