"""Finite-difference checks of a gradient and of Hessian-vector products, exact up to rounding.

Along a direction u that crosses no kink, ``L(theta + t u)`` is a polynomial of degree at most 4
and ``grad L(theta + t u)`` one of degree at most 3 (see :mod:`relu1d.testing.kinks`). The five-point
stencils

    central:  P'(0) = (P(-2h) - 8 P(-h) + 8 P(h) - P(2h)) / (12 h)
    forward:  P'(0) = (-25 P(0) + 48 P(h) - 36 P(2h) + 16 P(3h) - 3 P(4h)) / (12 h)

are exact for such polynomials, so the difference between the stencil and the claimed derivative is
rounding alone, which :mod:`relu1d.testing.rounding` bounds from the magnitudes involved. The check
passes when the difference is within that bound (plus the optional ``atol + rtol |analytic|``); a
wrong derivative is detected as soon as its error exceeds twice the bound, which the report states as
the *resolution* of each direction. The step is as large as the nearest kink allows, which keeps the
bound small; ties (data points on knots) are checked with a one-sided stencil on the side where they
stay inactive.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from .._validate import as_theta
from . import rounding
from ._inputs import candidate, direction_array, output, parse_directions, rng_of, scalar, tolerances
from .kinks import KinkMap, analyse_line, kink_avoiding_directions, stencil

__all__ = ["DerivativeCheck", "check_grad", "check_hvp", "assert_grad_close", "assert_hvp_close"]

EPS = rounding.EPS


@dataclass(frozen=True, eq=False)
class DerivativeCheck:
    """Result of :func:`check_grad` or :func:`check_hvp`.

    For each direction u the check picks a five-point stencil that stays inside one polynomial piece
    of the loss along ``theta + t u`` (``"central"``, or ``"forward"``/``"backward"`` when a data point
    sits on, or within rounding of, a knot that u moves: the side where it keeps its activation), and
    compares the stencil's derivative (``numeric``) with the claimed one (``analytic``). A direction
    *fails* when ``|numeric - analytic| > bound + atol + rtol |analytic|`` (componentwise for HVPs),
    ``bound`` being the rounding bound. A direction is *skipped* when no stencil fits (ties that u moves
    to both sides, or a fixed ``h`` too large for the nearest kink) or, when a ``margin`` was asked for,
    when a kink is closer than that.

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
    resolution : float
        The smallest relative error of the derivative that the best checked direction is sure to
        detect (min of ``resolutions``; NaN if none was checked).
    min_margin : float
        Smallest margin over all directions: ``|w_k x_i + b_k| / (h (|u_w,k| |x_i| + |u_b,k|))`` with
        the direction's step h, the distance of a data point to a knot relative to how far one step
        moves it; 0 when a data point sits on a knot that the direction moves. ``inf`` if no knot moves.
    h : float or None
        The fixed step asked for, or None (each direction's step chosen from its kinks, see ``steps``).
    atol, rtol : float
        Tolerances added to the rounding bound (0 by default).
    margin : float or None
    directions : ndarray, shape (k, d)
        The directions u.
    schemes : tuple of str
        Per direction: ``"central"``, ``"forward"``, ``"backward"`` or ``"none"`` (skipped).
    steps : ndarray, shape (k,)
        The step h of each direction's stencil (NaN if skipped).
    analytic, numeric : ndarray, shape (k,) for ``"grad"``, (k, d) for ``"hvp"``
        ``grad . u`` (resp. ``H u``) and the stencil's derivative.
    bounds : ndarray, shape (k,) for ``"grad"``, (k, d) for ``"hvp"``
        The rounding bound on ``|numeric - analytic|`` for a correct implementation.
    abs_errors, rel_errors : ndarray, shape (k,)
        ``|numeric - analytic|`` (max over components for HVPs) and the same divided by
        ``|analytic|`` (resp. ``max |H u|``; NaN where that is 0 but the error is not).
    rounding_bounds : ndarray, shape (k,)
        The rounding bound of each direction (max over components for HVPs).
    resolutions : ndarray, shape (k,)
        ``2 bound / |analytic|`` (resp. ``2 max_j bound_j / max_j |(H u)_j|``): any error larger than
        this fraction of the derivative's size, in any component, makes the direction fail (a correct
        stencil is within one bound, the error must exceed another).
    margins : ndarray, shape (k,)
        Per-direction minimum margins.
    crossed, skipped, failed : ndarray of bool, shape (k,)
        ``crossed``: a kink lies inside the central stencil (a tie the direction moves, or, for a fixed
        h, a knot within 2h), so a one-sided stencil was used or the direction skipped. (A one-sided
        stencil is also used without a crossing when the nearest kink on one side is so much farther
        than on the other that the wider one-sided stencil rounds less.)
    crossings : tuple
        One ``(direction, neuron, x)`` triple per neuron whose knot is at (or crosses) the data point
        x inside a direction's central stencil.
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
    resolution: float
    min_margin: float
    h: float | None
    atol: float
    rtol: float
    margin: float | None
    directions: np.ndarray
    schemes: tuple
    steps: np.ndarray
    analytic: np.ndarray
    numeric: np.ndarray
    bounds: np.ndarray
    abs_errors: np.ndarray
    rel_errors: np.ndarray
    rounding_bounds: np.ndarray
    resolutions: np.ndarray
    margins: np.ndarray
    crossed: np.ndarray
    skipped: np.ndarray
    failed: np.ndarray
    crossings: tuple

    def __repr__(self) -> str:
        what = "gradient" if self.kind == "grad" else "Hessian-vector product"
        verdict = "PASSED" if self.passed else "FAILED"
        step = "step from the kinks" if self.h is None else f"h={self.h:g}"
        extra = f", atol={self.atol:g}, rtol={self.rtol:g}" if (self.atol or self.rtol) else ""
        checked = ~self.skipped
        counts = {s: int(np.sum(checked & (np.array(self.schemes) == s))) for s in ("central", "forward", "backward")}
        lines = [
            f"DerivativeCheck({self.kind}): {verdict}: {what} against five-point stencils "
            f"({step}, tolerance = rounding bound{extra})",
            f"  directions: {self.n_directions} total, {self.n_checked} checked ({counts['central']} central, "
            f"{counts['forward'] + counts['backward']} one-sided), {self.n_failed} failed, "
            f"{self.n_skipped_kink_crossing} skipped (kink crossing)"
            + (f", {self.n_skipped_margin} skipped (margin < {self.margin:g})" if self.margin is not None else ""),
        ]
        if self.n_checked:
            res = self.resolutions[checked]
            lines.append(f"  max abs error {self.max_abs_error:.3g}, max rel error {self.max_rel_error:.3g}; "
                         f"resolution (smallest detectable relative error) {np.min(res):.2g} (best direction) "
                         f"to {np.max(res):.2g} (worst)")
        else:
            lines.append("  nothing was checked: no stencil fits between the kinks of any direction; "
                         "use other directions, a smaller h, or relu1d.testing.away_from_kinks")
        for j in np.flatnonzero(self.failed)[:5]:
            if self.kind == "grad":
                lines.append(f"  direction {j}: analytic {self.analytic[j]:.17g}, numeric {self.numeric[j]:.17g}, "
                             f"abs error {self.abs_errors[j]:.3g} > bound {self.rounding_bounds[j]:.3g}")
            else:
                excess = np.abs(self.numeric[j] - self.analytic[j]) / np.maximum(self.bounds[j], 1e-300)
                comp = int(np.argmax(excess))
                lines.append(f"  direction {j}: worst component {comp} ({_label(comp, self.directions.shape[1])}): "
                             f"analytic {self.analytic[j, comp]:.17g}, numeric {self.numeric[j, comp]:.17g}, "
                             f"error {abs(self.numeric[j, comp] - self.analytic[j, comp]):.3g} "
                             f"> bound {self.bounds[j, comp]:.3g}")
        if self.n_failed > 5:
            lines.append(f"  ... and {self.n_failed - 5} more failed directions")
        for j, k, xv in self.crossings[:5]:
            how = self.schemes[j] if not self.skipped[j] else "skipped"
            lines.append(f"  direction {j}: the knot of neuron {k} is at or crosses the data point x = {xv:.17g} "
                         f"({how})")
        if len(self.crossings) > 5:
            lines.append(f"  ... and {len(self.crossings) - 5} more data points at or crossing a knot")
        return "\n".join(lines)

    __str__ = __repr__


def _label(j: int, d: int) -> str:
    """The parameter name of entry j of theta: ``w[k]``, ``b[k]``, ``v[k]`` or ``c``."""
    m = (d - 1) // 3
    if j == 3 * m:
        return "c"
    return f"{'wbv'[j // m]}[{j % m}]"


def _predicted_bound(kind, T, x, y, A, theta_abs, u_abs, R0, loss0, g) -> float:
    """The rounding bound of the stencil values for a reach T, before evaluating them: the
    magnitudes at ``|theta| + T |u|`` and, for the loss, values at most
    ``(sqrt(L(theta)) + sqrt(sum (F_i(T) - F_i(0))^2 / (2n)))^2``, F the forward magnitudes (which
    bound how far f moves)."""
    R = rounding.residual_abs(x, y, A, theta_abs + T * u_abs)
    if kind == "grad":
        dF = R - R0
        L_hat = (np.sqrt(max(loss0, 0.0)) + np.sqrt(float(dF @ dF) / (2 * R.size))) ** 2
        return rounding.loss_bound(L_hat, R, g)
    return g * float(rounding.grad_abs(x, A, theta_abs + T * u_abs, R).sum())


def _best_step(kind, line, x, y, A, theta_abs, u_abs, R0, loss0, g):
    """Among the feasible stencils and their steps (powers of two from the largest down), the one
    with the smallest predicted rounding bound ``sum |weights| / (12 h) * bound(values)``: a wide
    stencil divides by a large h, but where the loss (or gradient) grows fast along u its values, and
    their rounding, grow with it."""
    best = None
    for scheme, h_max, h_min in line.options:
        amp, per_h = (18.0, 2.0) if scheme == "central" else (128.0, 4.0)
        step, best_here = h_max, np.inf
        for _ in range(60):
            if step <= h_min:
                break
            pred = amp / (12.0 * step) * _predicted_bound(kind, per_h * step, x, y, A, theta_abs, u_abs, R0, loss0, g)
            if best is None or pred < best[0]:
                best = (pred, scheme, step)
            if pred > 4.0 * best_here:
                break  # past the optimum: the bound only grows as h shrinks further
            best_here = min(best_here, pred)
            step /= 2.0
    _, scheme, step = best
    reach = (2.0 if scheme == "central" else 4.0) * step
    return replace(line, scheme=scheme, h=step, reach=reach, min_margin=line.min_margin * (line.h / step))


def _run_check(kind, cand, theta, directions, h, atol, rtol, margin, rng):
    d = theta.size
    m = (d - 1) // 3
    n = cand.x.size
    g = rounding.gamma(n, m)
    A = KinkMap(cand.x, theta)
    x, y = A.xs, cand.y[A.order]  # sorted, as the magnitudes need them
    mode, spec = directions
    U = spec if mode == "given" else kink_avoiding_directions(A, theta, spec, rng_of(rng))
    k = U.shape[0]
    theta_abs = np.abs(theta)
    R0 = rounding.residual_abs(x, y, A, theta_abs)
    loss0 = scalar(cand.loss(theta), "loss(theta)") if kind == "grad" and h is None else 0.0
    if kind == "grad":
        grad0 = output(cand.grad(theta), "grad(theta)", (d,))
        gabs0 = rounding.grad_abs(x, A, theta_abs, R0)
        analytic = U @ grad0
        numeric = np.full(k, np.nan)
        bounds = np.full(k, np.nan)
    else:
        analytic = np.empty((k, d))
        numeric = np.full((k, d), np.nan)
        bounds = np.full((k, d), np.nan)
    schemes = []
    steps = np.full(k, np.nan)
    margins = np.empty(k)
    crossed = np.zeros(k, dtype=bool)
    none = np.zeros(k, dtype=bool)
    crossings = []
    scale = max(float(np.abs(theta).max()), 1.0)
    for j in range(k):
        u = U[j]
        uv = u[2 * m:3 * m]
        relevant = (theta[2 * m:3 * m] != 0) | (uv != 0) if kind == "grad" else np.ones(m, dtype=bool)
        cap = scale / float(np.abs(u).max())
        line = analyse_line(A, theta, u, relevant, h=h, cap=cap)
        if h is None and line.scheme != "none":
            line = _best_step(kind, line, x, y, A, theta_abs, np.abs(u), R0, loss0, g)
        schemes.append(line.scheme)
        margins[j] = line.min_margin
        crossed[j] = bool(line.crossings)
        crossings.extend((j, kk, xv) for kk, xv in line.crossings)
        if kind == "hvp":
            analytic[j] = output(cand.hvp(theta, u), "hvp(theta, u)", (d,))
        if line.scheme == "none":
            none[j] = True
            continue
        steps[j] = line.h
        offsets, weights = stencil(line.scheme)
        denom = 12.0 * line.h
        # magnitudes over the whole stencil: |theta| + reach |u|, same activation pattern
        p_hat = theta_abs + line.reach * np.abs(u)
        R_hat = rounding.residual_abs(x, y, A, p_hat)
        if kind == "grad":
            values = np.array([scalar(cand.loss(theta + (o * line.h) * u), "loss(theta)") for o in offsets])
            numeric[j] = float(weights @ values) / denom
            value_bounds = np.array([rounding.loss_bound(L, R_hat, g) for L in values])
            bound = (np.abs(weights) @ value_bounds + 8.0 * EPS * (np.abs(weights) @ np.abs(values))) / denom
            bound += g * float(np.abs(u) @ gabs0) + 2.0 * (d + 2) * EPS * float(np.abs(u) @ np.abs(grad0))
            bounds[j] = bound
        else:
            G = np.array([output(cand.grad(theta + (o * line.h) * u), "grad(theta)", (d,)) for o in offsets])
            numeric[j] = weights @ G / denom
            gabs_hat = rounding.grad_abs(x, A, p_hat, R_hat)
            bound = (float(np.abs(weights).sum()) * g * gabs_hat + 8.0 * EPS * (np.abs(weights) @ np.abs(G))) / denom
            bound += g * rounding.hvp_abs(x, A, theta_abs, np.abs(u), R0)
            bounds[j] = bound
    # verdicts
    with np.errstate(invalid="ignore", divide="ignore"):
        if kind == "grad":
            diff = np.abs(numeric - analytic)
            abs_err = diff
            size = np.abs(analytic)
            ok = diff <= bounds + atol + rtol * size
            round_b = bounds.copy()
            resol = np.where(size > 0, 2.0 * bounds / size, np.inf)
        else:
            diffs = np.abs(numeric - analytic)
            abs_err = diffs.max(axis=1)
            size = np.abs(analytic).max(axis=1)
            ok = np.all(diffs <= bounds + atol + rtol * np.abs(analytic), axis=1)
            round_b = bounds.max(axis=1)
            resol = np.where(size > 0, 2.0 * round_b / size, np.inf)
        rel_err = np.where(size > 0, abs_err / size, np.where(abs_err == 0, 0.0, np.nan))
    near = ~none & (margins < margin) if margin is not None else np.zeros(k, dtype=bool)
    skipped = none | near
    checked = ~skipped
    failed = checked & ~ok
    n_checked = int(checked.sum())
    return DerivativeCheck(
        kind=kind,
        passed=bool(n_checked > 0 and not failed.any()),
        n_directions=k,
        n_checked=n_checked,
        n_failed=int(failed.sum()),
        n_skipped_kink_crossing=int(none.sum()),
        n_skipped_margin=int(near.sum()),
        max_abs_error=float(abs_err[checked].max()) if n_checked else float("nan"),
        max_rel_error=float(np.nanmax(rel_err[checked])) if n_checked and not np.isnan(rel_err[checked]).all()
        else float("nan"),
        resolution=float(resol[checked].min()) if n_checked else float("nan"),
        min_margin=float(margins.min()),
        h=h, atol=atol, rtol=rtol, margin=margin,
        directions=U, schemes=tuple(schemes), steps=steps,
        analytic=analytic, numeric=numeric, bounds=bounds,
        abs_errors=abs_err, rel_errors=rel_err, rounding_bounds=round_b, resolutions=resol,
        margins=margins, crossed=crossed, skipped=skipped, failed=failed,
        crossings=tuple(crossings),
    )


_COMMON = """
    h : float or None
        None (default): each direction's stencil and step are chosen among powers of two up to the
        largest the kinks allow (half the distance to the nearest kink along u, at most about
        ``max(|theta|, 1) / |u|``) as the one with the smallest predicted rounding bound. A float: that
        step for every direction (a direction whose stencils would all cross a kink is skipped).
    atol, rtol : float
        Extra tolerance on top of the rounding bound: a direction passes if
        ``|numeric - analytic| <= bound + atol + rtol * |analytic|`` (default 0: the bound alone).
    directions : None, int, "unit" or array_like
        ``None``: 8 random unit directions; an int: that many. Random directions are drawn so that
        every data point on a knot stays inactive on the forward side, and points close to a knot keep
        their side (see :func:`relu1d.testing.kinks.kink_avoiding_directions`): ties are checked, not
        skipped, and the stencils can be wide.
        ``"unit"``: every coordinate direction; an array of shape (k, 3m+1) or (3m+1,): those
        directions (not normalised).
    rng : None, int or numpy.random.Generator
        Source of the random directions (None: a fixed seed, so a check is reproducible).
    margin : float or None
        If given, also skip directions whose minimum margin (see :class:`DerivativeCheck`) is below
        this value.
    x, y : array_like, optional
        The data set, when ``objective`` does not carry it (needed for the rounding bound)."""


def check_grad(objective, theta, *, h=None, atol=0.0, rtol=0.0, directions=None, rng=None, margin=None,
               x=None, y=None) -> DerivativeCheck:
    cand = candidate(objective, ("loss", "grad"), x, y)
    theta = as_theta(theta)
    h, atol, rtol, margin = tolerances(h, atol, rtol, margin)
    spec = parse_directions(directions, theta.size)
    return _run_check("grad", cand, theta, spec, h, atol, rtol, margin, rng)


check_grad.__doc__ = """Check a gradient against exact five-point stencils of the loss.

    For each direction u, compares ``grad(theta) . u`` with the stencil's derivative of
    ``t -> loss(theta + t u)``, which is exact up to rounding between kinks, against a bound on that
    rounding (see :class:`DerivativeCheck` for what is reported).

    Parameters
    ----------
    objective : relu1d.Objective, object with ``loss`` and ``grad``, or tuple ``(loss, grad)``
        The implementation under test: ``loss(theta) -> float``, ``grad(theta) -> (3m+1,)``. Its data
        set comes from ``x_sorted``/``y_sorted`` (or ``x``/``y``) attributes, or from ``x=``/``y=``.
    theta : array_like, shape (3m+1,)
        The point ``[w, b, v, c]``.""" + _COMMON + """

    Returns
    -------
    DerivativeCheck
        ``report.passed`` is True if some direction was checked and none failed.

    Examples
    --------
    >>> import numpy as np, relu1d
    >>> x = np.linspace(-1, 1, 20)
    >>> report = check_grad(relu1d.Objective(x, np.sin(3 * x)), relu1d.init_params(5, rng=0))
    >>> report.passed, report.resolution < 1e-10
    (True, True)
    """


def check_hvp(objective, theta, u=None, *, h=None, atol=0.0, rtol=0.0, directions=None, rng=None, margin=None,
              x=None, y=None) -> DerivativeCheck:
    cand = candidate(objective, ("grad", "hvp"), x, y)
    theta = as_theta(theta)
    h, atol, rtol, margin = tolerances(h, atol, rtol, margin)
    if u is not None:
        if directions is not None:
            raise ValueError("u, directions: give one or the other, not both")
        spec = ("given", direction_array(u, "u", theta.size))
    else:
        spec = parse_directions(directions, theta.size)
    return _run_check("hvp", cand, theta, spec, h, atol, rtol, margin, rng)


check_hvp.__doc__ = """Check Hessian-vector products against exact five-point stencils of the gradient.

    For each direction u, compares ``hvp(theta, u)`` componentwise with the stencil's derivative of
    ``t -> grad(theta + t u)`` (a cubic between kinks), against a bound on the rounding.

    Parameters
    ----------
    objective : relu1d.Objective, object with ``grad`` and ``hvp``, or tuple ``(grad, hvp)``
        ``grad(theta) -> (3m+1,)``, ``hvp(theta, u) -> (3m+1,)``; the data set as in :func:`check_grad`.
    theta : array_like, shape (3m+1,)
        The point ``[w, b, v, c]``.
    u : array_like, shape (3m+1,) or (k, 3m+1), optional
        The vector(s) to multiply; a shorthand for ``directions`` (give one or the other).""" + _COMMON + """

    Returns
    -------
    DerivativeCheck
    """


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
