"""The learned function and the stability theory: knots, the weight g, weighted TV(1), bounds.

A network ``f(x) = sum_k v_k relu(w_k x + b_k) + c`` is a linear spline. Neuron k with ``w_k != 0``
and ``v_k != 0`` puts a knot at ``t_k = -b_k / w_k`` where the slope jumps by ``v_k |w_k|``, so

    f''(x) = sum_k v_k |w_k| delta(x - t_k),      TV(1) on (lo, hi) = sum of |merged jumps| inside.

The stability theory (Mulayoff et al. 2021; Qiao et al. 2024) weighs the curvature with the empirical
weight function g of the training inputs (X uniform over them), for x_min < t < x_max, else 0:

    g(t)  = min(g-(t), g+(t)),
    g+(t) = P(X > t)^2 E[X - t | X > t] sqrt(1 + E[X | X > t]^2),
    g-(t) = P(X < t)^2 E[t - X | X < t] sqrt(1 + E[X | X < t]^2),

and bounds the weighted TV(1) ``integral |f''| g`` by the sharpness: wherever L is twice
differentiable,

    integral |f''| g  <=  lambda_max(H)/2 - 1/2 + C sqrt(2 L),

so below the edge of stability (lambda_max <= 2/lr) by ``1/lr - 1/2 + C sqrt(2 L)``; the constant C
is not pinned down (:data:`C_CANDIDATES`). At an interpolating minimum (L = 0) the sharper statement
``lambda_max >= 1 + 2 integral |f''| g`` holds for every network. Loss convention: L = 1/(2n) sum r^2.

The heavy lifting is in C++ (``O((n + m) log(n + m))`` for the weighted TV(1) and the effective
knots, ``O(n^2 + m log n)`` for the Gram matrix).
"""

from __future__ import annotations

import html
import math
import numbers
from dataclasses import dataclass, field

import numpy as np

from . import _core
from ._validate import as_float, as_float_array, as_int, as_theta, as_vector
from .params import predict, unpack

__all__ = [
    "C_CANDIDATES",
    "EFFECTIVE_KNOT_REL_TOL",
    "Knots",
    "knots",
    "LinearSpline",
    "spline",
    "tv1",
    "g_weight",
    "weighted_tv1",
    "EffectiveKnots",
    "effective_knots",
    "gram",
    "StabilityReport",
    "stability_report",
]

#: Default relative threshold of an effective knot (a share of TV(1) on the data range).
EFFECTIVE_KNOT_REL_TOL = float(_core.EFFECTIVE_KNOT_REL_TOL)

#: Candidate constants C of the bound ``lambda_max/2 - 1/2 + C sqrt(2L)`` as functions of
#: x_max = max_i |x_i| (PAPER.md: a direct derivation gives (1 + x_max)/2, the multivariate
#: follow-up's form is x_max + 1).
C_CANDIDATES = {
    "(1 + x_max)/2": lambda x_max: (1.0 + x_max) / 2.0,
    "1 + x_max": lambda x_max: 1.0 + x_max,
}


def _sorted_sample(x_data, name: str = "x_data") -> np.ndarray:
    """The training inputs, sorted: from an Objective or any 1-D array of finite numbers."""
    from .objective import Objective

    if isinstance(x_data, Objective):
        return x_data._xs
    return np.sort(as_vector(x_data, name))


def _finite_or_raise(value, name: str, what: str):
    """``value`` if every entry is finite, else a ValueError naming the argument that caused it."""
    if not np.all(np.isfinite(value)):
        raise ValueError(f"{name}: {what} overflows float64 (|values| near 1e308)")
    return value


def _merged_knots(theta):
    t, jump = _core.merged_knots(theta)
    _finite_or_raise(jump, "theta", "a slope jump v_k |w_k| or a sum of jumps at one knot")
    return t, jump


def _interval(lo, hi, *, finite: bool = True):
    for value, name in ((lo, "lo"), (hi, "hi")):
        if isinstance(value, bool) or not isinstance(value, numbers.Real):
            raise TypeError(f"{name}: expected a real number, got {type(value).__name__}")
        if math.isnan(value) or (finite and math.isinf(value)):
            raise ValueError(f"{name}: must be {'finite' if finite else 'a number'}, got {value}")
    lo, hi = float(lo), float(hi)
    if not lo < hi:
        raise ValueError(f"lo, hi: need lo < hi, got lo = {lo!r}, hi = {hi!r}")
    return lo, hi


# ------------------------------------------------------------------------------------------------
# Knots and the spline


def network_values(theta, points) -> np.ndarray:
    """f at sorted points through the compiled fast forward pass: O(p + m log p) instead of the
    O(p m) of :func:`relu1d.predict` (the same activation rule; equal to rounding)."""
    points = np.ascontiguousarray(points, dtype=np.float64)
    return _core.Objective(points, np.zeros(points.size), "fast", 0).residuals(theta)


@dataclass(frozen=True)
class Knots:
    """Knots of f and the slope jumps there.

    Attributes
    ----------
    positions, jumps, neurons : ndarray
        Raw knots: ``t_k = -b_k / w_k`` and ``v_k |w_k|`` for each neuron with w_k != 0 and
        v_k != 0 (index k in ``neurons``), in neuron order.
    merged_positions, merged_jumps : ndarray
        Distinct positions, ascending, with the summed jumps of the neurons that share them;
        positions whose jumps cancel exactly are dropped. ``f'' = sum merged_jumps delta(x - t)``.
    offset : float
        The constant part that no knot explains: ``c + sum v_k b_k`` over neurons with w_k = 0
        and b_k > 0 (a constant ``relu(b_k)``); neurons with w_k = 0, b_k <= 0 or v_k = 0 add nothing.
    """

    positions: np.ndarray
    jumps: np.ndarray
    neurons: np.ndarray
    merged_positions: np.ndarray
    merged_jumps: np.ndarray
    offset: float

    @property
    def count(self) -> int:
        """Number of distinct knots."""
        return int(self.merged_positions.size)

    def __repr__(self) -> str:
        return (f"Knots({self.positions.size} neurons with a knot, {self.count} distinct positions, "
                f"TV(1) = {np.abs(self.merged_jumps).sum():.6g}, offset = {self.offset:.6g})")


def knots(theta) -> Knots:
    """The knots of f: raw per neuron and merged per position (see :class:`Knots`)."""
    theta = as_theta(theta)
    w, b, v, c = unpack(theta)
    has_knot = (w != 0) & (v != 0)
    neurons = np.flatnonzero(has_knot)
    with np.errstate(over="ignore"):
        positions = -b[neurons] / w[neurons]
        jumps = v[neurons] * np.abs(w[neurons])
    _finite_or_raise(jumps, "theta", "a slope jump v_k |w_k|")
    merged_t, merged_jump = _merged_knots(theta)
    constant = (w == 0) & (b > 0)
    offset = float(c + np.sum(v[constant] * b[constant]))
    return Knots(positions=positions, jumps=jumps, neurons=neurons, merged_positions=merged_t,
                 merged_jumps=merged_jump, offset=offset)


@dataclass(frozen=True)
class LinearSpline:
    """f on [lo, hi] as an explicit linear spline; callable on arrays.

    ``f(x) = values[j] + slopes[j] * (x - breakpoints[j])`` for ``breakpoints[j] <= x <=
    breakpoints[j + 1]``. The breakpoints are lo, the knots strictly inside (lo, hi), and hi; the
    values come from the network itself, the slopes from the sum of v_k w_k over the neurons active
    on each piece.
    """

    breakpoints: np.ndarray
    values: np.ndarray
    slopes: np.ndarray

    @property
    def lo(self) -> float:
        return float(self.breakpoints[0])

    @property
    def hi(self) -> float:
        return float(self.breakpoints[-1])

    @property
    def tv1(self) -> float:
        """Total variation of the slope on (lo, hi): ``sum |slopes[j+1] - slopes[j]|``."""
        return float(np.abs(np.diff(self.slopes)).sum())

    def __call__(self, x) -> np.ndarray:
        x = as_float_array(x, "x")
        if x.size and (x.min() < self.lo or x.max() > self.hi):
            raise ValueError(f"x: the spline is defined on [{self.lo!r}, {self.hi!r}], got values in "
                             f"[{x.min()!r}, {x.max()!r}]")
        j = np.clip(np.searchsorted(self.breakpoints, x, side="right") - 1, 0, self.slopes.size - 1)
        return self.values[j] + self.slopes[j] * (x - self.breakpoints[j])

    def to_dict(self) -> dict:
        return {"breakpoints": self.breakpoints.tolist(), "values": self.values.tolist(),
                "slopes": self.slopes.tolist()}

    def __repr__(self) -> str:
        return f"LinearSpline({self.slopes.size} pieces on [{self.lo:.6g}, {self.hi:.6g}], TV(1) = {self.tv1:.6g})"


def spline(theta, lo, hi) -> LinearSpline:
    """The exact linear-spline form of f on [lo, hi] (finite, lo < hi)."""
    theta = as_theta(theta)
    lo, hi = _interval(lo, hi)
    w, b, v, _ = unpack(theta)
    k = knots(theta)
    inside = (k.merged_positions > lo) & (k.merged_positions < hi)
    breakpoints = np.concatenate([[lo], k.merged_positions[inside], [hi]])
    # Slope just right of lo: neurons with w > 0 whose knot is at or left of lo, and neurons with
    # w < 0 whose knot is right of lo (active on x < t_k); then the jumps inside.
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        t = -b / w
        right = (w > 0) & (t <= lo)
        left = (w < 0) & (t > lo)
        slope0 = float(np.sum(v[right] * w[right]) + np.sum(v[left] * w[left]))
        slopes = slope0 + np.concatenate([[0.0], np.cumsum(k.merged_jumps[inside])])
        values = network_values(theta, breakpoints)
    _finite_or_raise(slopes, "theta", "the slope of f on [lo, hi]")
    _finite_or_raise(values, "theta", "f on [lo, hi]")
    return LinearSpline(breakpoints=breakpoints, values=values, slopes=slopes)


def tv1(theta, lo=-np.inf, hi=np.inf) -> float:
    """``integral_lo^hi |f''|``: the sum of |merged jumps| of the knots strictly inside (lo, hi)."""
    theta = as_theta(theta)
    lo, hi = _interval(lo, hi, finite=False)
    t, jump = _merged_knots(theta)
    inside = (t > lo) & (t < hi)
    with np.errstate(over="ignore"):
        total = float(np.abs(jump[inside]).sum())
    return _finite_or_raise(total, "theta", "TV(1) on (lo, hi)")


# ------------------------------------------------------------------------------------------------
# The weight g and the weighted TV(1)


def g_weight(x_data, t) -> np.ndarray:
    """The empirical weight function g of the inputs ``x_data`` at the points ``t`` (any shape).

    ``g(t) = min(g-(t), g+(t))`` for x_min < t < x_max, 0 elsewhere (module docstring). O(n log n)
    to sort the data once (free for an Objective), then O(log n) per point. For X ~ U[-a, a] the
    population weight is ``(a - |t|)^3 / (8 a^2) sqrt(1 + (a + |t|)^2 / 4)``; g vanishes
    cubically at the ends of the data.

    Parameters
    ----------
    x_data : array_like or Objective
        The training inputs.
    t : array_like
        Where to evaluate g.
    """
    xs = _sorted_sample(x_data)
    t_arr = as_float_array(t, "t")
    g = _core.g_weight(xs, t_arr.reshape(-1)).reshape(t_arr.shape)
    return _finite_or_raise(g, "x_data", "the weight g (a product of squared means of the inputs)")


def weighted_tv1(theta, x_data) -> float:
    """``integral |f''| g = sum over distinct knots t of |merged jump at t| g(t)``.

    Knots outside the open data range weigh nothing (g = 0 there). O((n + m) log(n + m)).

    Parameters
    ----------
    theta : array_like, shape (3m+1,)
    x_data : array_like or Objective
        The training inputs that define g.
    """
    theta = as_theta(theta)
    xs = _sorted_sample(x_data)
    _merged_knots(theta)
    value = float(_core.weighted_tv1(xs, theta))
    return _finite_or_raise(value, "theta, x_data", "the weighted TV(1)")


@dataclass(frozen=True)
class EffectiveKnots:
    """The knots that carry the bending of f inside the data.

    Attributes
    ----------
    positions, jumps : ndarray
        Knots strictly inside (x_min, x_max) with ``|merged jump| >= rel_tol * total``, ascending.
    distances : ndarray
        Each one's distance to the nearest training input.
    total : float
        TV(1) of f on the open data range (sum of |merged jumps| strictly inside).
    rel_tol : float
    spacing : float
        Mean spacing of the inputs, ``(x_max - x_min) / (n - 1)`` (a scale for the distances;
        NaN for one point).
    """

    positions: np.ndarray
    jumps: np.ndarray
    distances: np.ndarray
    total: float
    rel_tol: float
    spacing: float

    @property
    def count(self) -> int:
        return int(self.positions.size)

    def __len__(self) -> int:
        return self.count

    def __repr__(self) -> str:
        if not self.count:
            return f"EffectiveKnots(0 knots, TV(1) inside = {self.total:.6g})"
        return (f"EffectiveKnots({self.count} knots with |jump| >= {self.rel_tol:g} x TV(1) inside "
                f"({self.total:.6g}); distance to data: median {np.median(self.distances):.3g}, "
                f"mean spacing {self.spacing:.3g})")


def effective_knots(theta, x_data, rel_tol: float = EFFECTIVE_KNOT_REL_TOL) -> EffectiveKnots:
    """The knots strictly inside the data range whose |merged jump| is at least ``rel_tol`` of the
    total TV(1) there, with each knot's distance to the nearest data point.

    Parameters
    ----------
    theta : array_like, shape (3m+1,)
    x_data : array_like or Objective
    rel_tol : float in [0, 1]
        Default :data:`EFFECTIVE_KNOT_REL_TOL` (the value ``train`` records).
    """
    theta = as_theta(theta)
    rel_tol = as_float(rel_tol, "rel_tol", nonnegative=True)
    if rel_tol > 1:
        raise ValueError(f"rel_tol: must lie in [0, 1], got {rel_tol}")
    xs = _sorted_sample(x_data)
    _merged_knots(theta)
    out = _core.effective_knots(xs, theta, rel_tol)
    _finite_or_raise(out["total"], "theta", "TV(1) on the data range")
    spacing = float((xs[-1] - xs[0]) / (xs.size - 1)) if xs.size > 1 else float("nan")
    return EffectiveKnots(positions=out["t"], jumps=out["jump"], distances=out["distance"],
                          total=float(out["total"]), rel_tol=rel_tol, spacing=spacing)


def gram(objective, theta) -> np.ndarray:
    """The n x n Gauss-Newton / NTK matrix ``J J^T / n`` (rows in the caller's data order).

    ``(J J^T)_ij = 1 + sum_k a_ik a_jk [z_ik z_jk + v_k^2 (x_i x_j + 1)]`` with the package's
    activation ``a_ik = [w_k x_i + b_k > 0]``. It shares its nonzero eigenvalues with
    ``J^T J / n``, the Hessian at a zero-residual point. O(n^2 + m log n) (ALGORITHMS.md §3).
    """
    from .objective import check_objective

    obj = check_objective(objective)
    theta = as_theta(theta)
    Gs = _core.gram(obj._xs, theta)
    order = obj._order
    G = np.empty_like(Gs)
    G[np.ix_(order, order)] = Gs
    if not np.isfinite(G).all():
        raise ValueError("theta: the Gram matrix overflows float64 at these parameters")
    return G


# ------------------------------------------------------------------------------------------------
# The stability report


def _json_value(value):
    if isinstance(value, np.ndarray):
        return [_json_value(v) for v in value.tolist()]
    if isinstance(value, (list, tuple)):
        return [_json_value(v) for v in value]
    if isinstance(value, dict):
        return {k: _json_value(v) for k, v in value.items()}
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    if isinstance(value, (numbers.Integral,)):
        return int(value)
    if isinstance(value, numbers.Real):
        value = float(value)
        return value if math.isfinite(value) else None
    return value


@dataclass(frozen=True)
class StabilityReport:
    """Is this minimum stable, how smooth is f, how close to the bounds, how far from the truth.

    Every number uses the package's loss ``L = 1/(2n) sum r^2``. ``to_dict()`` gives plain JSON
    types (NaN and inf become None).

    Attributes
    ----------
    n, width, lr : int, int, float
    steps : int or None
        GD steps of the run (when made from a Run).
    loss : float
        Training loss L; ``train_mse = 2 L``.
    sharpness, sharpness_residual : float
        lambda_max(H) and ``||H q - lambda q||``.
    edge : float
        2 / lr; ``ratio = sharpness / edge``; ``stable``: ratio <= 1.
    x_range : (float, float)
        The data range [x_min, x_max]; ``x_max = max |x_i|`` enters the constants C.
    wtv1, tv1 : float
        ``integral |f''| g`` and ``integral |f''|`` over the open data range.
    bounds : list of dict
        One per candidate C (:data:`C_CANDIDATES`): ``name``, ``C``, ``sharpness_bound`` =
        lambda_max/2 - 1/2 + C sqrt(2L) and its ``sharpness_slack`` = bound - wtv1, ``lr_bound`` =
        1/lr - 1/2 + C sqrt(2L) and ``lr_slack``.
    c_needed : float
        The smallest C >= 0 with wtv1 <= lambda_max/2 - 1/2 + C sqrt(2L) (inf when L = 0 and the
        bound fails).
    interpolation_bound : float
        1 + 2 wtv1; ``interpolation_holds``: lambda_max >= that. A theorem at zero loss only
        (``near_zero_loss``: L <= 1e-8 times the loss of the zero function).
    effective_knots : EffectiveKnots
    mse_f0, mse_f0_interior : float or None
        With f0: mean of (f - f0)^2 on a uniform grid of the data range and of its central
        ``interior`` fraction ``interior_interval``.
    test_mse, gap : float or None
        With test data: mean (f(x_test) - y_test)^2 and ``test_mse - train_mse``.
    """

    n: int
    width: int
    lr: float
    steps: int | None
    loss: float
    sharpness: float
    sharpness_residual: float
    x_range: tuple
    x_max: float
    wtv1: float
    tv1: float
    bounds: list
    c_needed: float
    near_zero_loss: bool
    effective_knots: EffectiveKnots
    interior: float
    interior_interval: tuple
    mse_f0: float | None = None
    mse_f0_interior: float | None = None
    test_mse: float | None = None
    history_wtv1: dict = field(default_factory=dict)

    # -- derived -----------------------------------------------------------------------------
    @property
    def train_mse(self) -> float:
        return 2.0 * self.loss

    @property
    def edge(self) -> float:
        return 2.0 / self.lr

    @property
    def ratio(self) -> float:
        return self.sharpness / self.edge

    @property
    def stable(self) -> bool:
        return bool(self.sharpness <= self.edge)

    @property
    def interpolation_bound(self) -> float:
        return 1.0 + 2.0 * self.wtv1

    @property
    def interpolation_holds(self) -> bool:
        return bool(self.sharpness >= self.interpolation_bound)

    @property
    def gap(self) -> float | None:
        return None if self.test_mse is None else self.test_mse - self.train_mse

    def to_dict(self) -> dict:
        ek = self.effective_knots
        d = {
            "n": self.n, "width": self.width, "lr": self.lr, "steps": self.steps,
            "loss": self.loss, "train_mse": self.train_mse,
            "sharpness": self.sharpness, "sharpness_residual": self.sharpness_residual,
            "edge": self.edge, "ratio": self.ratio, "stable": self.stable,
            "x_range": list(self.x_range), "x_max": self.x_max,
            "wtv1": self.wtv1, "tv1": self.tv1,
            "bounds": self.bounds, "c_needed": self.c_needed,
            "interpolation_bound": self.interpolation_bound, "interpolation_holds": self.interpolation_holds,
            "near_zero_loss": self.near_zero_loss,
            "effective_knots": {"count": ek.count, "positions": ek.positions, "jumps": ek.jumps,
                                "distances": ek.distances, "total": ek.total, "rel_tol": ek.rel_tol,
                                "spacing": ek.spacing},
            "interior": self.interior, "interior_interval": list(self.interior_interval),
            "mse_f0": self.mse_f0, "mse_f0_interior": self.mse_f0_interior,
            "test_mse": self.test_mse, "gap": self.gap,
        }
        return _json_value(d)

    # -- display -----------------------------------------------------------------------------
    def _rows(self):
        """(label, value, note) rows shared by the text and HTML forms."""
        rows = []
        rows.append(("training loss", f"{self.loss:.6g}", f"L = 1/(2n) sum r^2; MSE = 2L = {self.train_mse:.4g}"))
        verdict = "stable (below the edge)" if self.stable else "unstable (above the edge)"
        rows.append(("sharpness", f"{self.sharpness:.6g}",
                     f"2/lr = {self.edge:.6g}, ratio {self.ratio:.4g}: {verdict}"))
        lo, hi = self.x_range
        rows.append(("weighted TV(1)", f"{self.wtv1:.6g}",
                     f"integral |f''| g on [{lo:.4g}, {hi:.4g}]; unweighted TV(1) there {self.tv1:.4g}"))
        for bnd in self.bounds:
            rows.append((f"bound, C = {bnd['name']}", f"{bnd['sharpness_bound']:.6g}",
                         f"lambda/2 - 1/2 + C sqrt(2L), C = {bnd['C']:.4g}: slack {bnd['sharpness_slack']:.4g}"
                         f" ({'holds' if bnd['sharpness_slack'] >= 0 else 'VIOLATED'})"))
            rows.append((f"  lr form, C = {bnd['name']}", f"{bnd['lr_bound']:.6g}",
                         f"1/lr - 1/2 + C sqrt(2L): slack {bnd['lr_slack']:.4g}"
                         f" ({'holds' if bnd['lr_slack'] >= 0 else 'VIOLATED'})"))
        rows.append(("C needed", f"{self.c_needed:.4g}",
                     "smallest C with wTV(1) <= lambda/2 - 1/2 + C sqrt(2L)"))
        applies = "zero loss: the theorem applies" if self.near_zero_loss else "a theorem at zero loss only"
        rows.append(("interpolation", f"{self.interpolation_bound:.6g}",
                     f"1 + 2 wTV(1) <= lambda_max: {'holds' if self.interpolation_holds else 'fails'} ({applies})"))
        ek = self.effective_knots
        if ek.count:
            note = (f"|jump| >= {ek.rel_tol:g} x TV(1) inside; distance to nearest input: min "
                    f"{ek.distances.min():.3g}, median {np.median(ek.distances):.3g} (mean spacing {ek.spacing:.3g})")
        else:
            note = "no knot inside the data range carries a share of its TV(1)"
        rows.append(("effective knots", f"{ek.count}", note))
        if ek.count:
            shown = 8
            pairs = ", ".join(f"{t:.3g} ({j:+.3g})" for t, j in zip(ek.positions[:shown], ek.jumps[:shown]))
            more = f", ... ({ek.count - shown} more)" if ek.count > shown else ""
            rows.append(("  at (jump)", "", pairs + more))
        if self.mse_f0 is not None:
            a, b = self.interior_interval
            rows.append(("MSE vs f0", f"{self.mse_f0:.4g}", f"mean (f - f0)^2 on [{lo:.4g}, {hi:.4g}]"))
            rows.append(("MSE vs f0, interior", f"{self.mse_f0_interior:.4g}",
                         f"on [{a:.4g}, {b:.4g}] (central {self.interior:g} of the range)"))
        if self.test_mse is not None:
            rows.append(("test MSE", f"{self.test_mse:.4g}", f"generalisation gap {self.gap:.4g} (test MSE - 2L)"))
        if self.history_wtv1:
            h = self.history_wtv1
            rows.append(("along the run", f"{h['measurements']}",
                         f"sharpness measurements; wTV(1) from {h['first']:.4g} to {h['last']:.4g}, "
                         f"max {h['max']:.4g}"))
        return rows

    def _title(self) -> str:
        steps = f", steps={self.steps:,}" if self.steps is not None else ""
        return f"StabilityReport(n={self.n}, width={self.width}, lr={self.lr:g}{steps})"

    def __repr__(self) -> str:
        rows = self._rows()
        w0 = max(len(r[0]) for r in rows)
        w1 = max(len(r[1]) for r in rows)
        lines = [self._title()]
        lines += [f"  {a:<{w0}}  {b:>{w1}}   {c}" for a, b, c in rows]
        return "\n".join(lines)

    def _repr_html_(self) -> str:
        esc = html.escape
        body = "".join(f"<tr><td style='text-align:left'>{esc(a)}</td><td style='text-align:right'>{esc(b)}</td>"
                       f"<td style='text-align:left'>{esc(c)}</td></tr>" for a, b, c in self._rows())
        return f"<table><caption>{esc(self._title())}</caption><tbody>{body}</tbody></table>"


def _mean_sq_diff_f0(theta, f0, lo, hi, points: int = 4001) -> float:
    grid = np.linspace(lo, hi, points)
    truth = np.asarray(f0(grid), dtype=np.float64)
    if truth.shape != grid.shape or not np.isfinite(truth).all():
        raise ValueError("f0: must map an array of points to finite values of the same shape")
    with np.errstate(over="ignore", invalid="ignore"):
        mse = float(np.mean((network_values(theta, grid) - truth) ** 2))
    return _finite_or_raise(mse, "f0", "the mean squared difference between f and f0")


def stability_report(objective, theta, lr, *, f0=None, x_test=None, y_test=None, interior=0.9,
                     rel_tol=EFFECTIVE_KNOT_REL_TOL, v0=None, steps=None, history=None) -> StabilityReport:
    """The paper's view of one parameter vector: stability, smoothness, bounds, error.

    Parameters
    ----------
    objective : relu1d.Objective
        The training data (g, the loss and the sharpness come from it).
    theta : array_like, shape (3m+1,)
    lr : float
        The step size the stability is judged against (edge 2/lr).
    f0 : callable or str, optional
        The true function (a name of ``relu1d.TARGETS`` for the built-in targets); gives the MSE
        against f0 on the data range and on its central ``interior`` fraction.
    x_test, y_test : array_like, optional
        Held-out data (both or neither): test MSE and the generalisation gap ``test MSE - 2L``.
    interior : float in (0, 1]
        Fraction of the data range (centred) for the interior MSE.
    rel_tol : float
        Threshold of the effective knots (:func:`effective_knots`).
    v0 : array_like, optional
        Start vector of the Lanczos sharpness measurement (e.g. a run's last eigenvector).
    steps : int, optional
        Steps of the run, for the display.
    history : History, optional
        A run's history; with the ``wtv1`` column the report summarises it.
    """
    from .data import target_function
    from .objective import check_objective
    from .spectrum import sharpness as measure_sharpness

    obj = check_objective(objective)
    theta = as_theta(theta)
    lr = as_float(lr, "lr", positive=True)
    interior = as_float(interior, "interior", positive=True)
    if interior > 1:
        raise ValueError(f"interior: must lie in (0, 1], got {interior}")
    if steps is not None:
        steps = as_int(steps, "steps", minimum=0)
    if isinstance(f0, str):
        f0 = target_function(f0)
    elif f0 is not None and not callable(f0):
        raise TypeError(f"f0: expected a callable or a target name, got {type(f0).__name__}")
    if (x_test is None) != (y_test is None):
        raise ValueError("x_test, y_test: give both or neither")
    if x_test is not None:
        x_test = as_vector(x_test, "x_test")
        y_test = as_vector(y_test, "y_test", length=x_test.size)

    xs = obj._xs
    loss = obj.loss(theta)
    eig = measure_sharpness(obj, theta, v0=v0)
    lam = eig.value
    wtv1 = weighted_tv1(theta, obj)
    x_lo, x_hi = float(xs[0]), float(xs[-1])
    x_max = float(max(abs(x_lo), abs(x_hi)))
    root = math.sqrt(2.0 * loss)
    bounds = []
    for name, make_c in C_CANDIDATES.items():
        C = make_c(x_max)
        sb = lam / 2 - 0.5 + C * root
        lb = 1.0 / lr - 0.5 + C * root
        bounds.append({"name": name, "C": C, "sharpness_bound": sb, "sharpness_slack": sb - wtv1,
                       "lr_bound": lb, "lr_slack": lb - wtv1})
    excess = wtv1 - (lam / 2 - 0.5)
    if excess <= 0:
        c_needed = 0.0
    elif root > 0:
        c_needed = excess / root
    else:
        c_needed = math.inf
    zero_fn_loss = 0.5 * float(np.mean(obj._ys ** 2))
    near_zero = loss <= 1e-8 * max(zero_fn_loss, np.finfo(float).tiny)
    ek = effective_knots(theta, obj, rel_tol)
    half = 0.5 * (x_hi - x_lo) * interior
    mid = 0.5 * (x_lo + x_hi)
    interval = (mid - half, mid + half)
    mse_f0 = mse_f0_int = None
    if f0 is not None:
        mse_f0 = _mean_sq_diff_f0(theta, f0, x_lo, x_hi) if x_hi > x_lo else float(
            np.mean((predict(theta, xs[:1]) - np.asarray(f0(xs[:1]), dtype=float)) ** 2))
        mse_f0_int = _mean_sq_diff_f0(theta, f0, *interval) if x_hi > x_lo else mse_f0
    test_mse = None
    if x_test is not None:
        order = np.argsort(x_test, kind="stable")
        with np.errstate(over="ignore", invalid="ignore"):
            test_mse = float(np.mean((network_values(theta, x_test[order]) - y_test[order]) ** 2))
        _finite_or_raise(test_mse, "x_test, y_test", "the test MSE")
    from .run import History

    if history is not None and not isinstance(history, History):
        raise TypeError(f"history: expected a relu1d History (run.history), got {type(history).__name__}")
    hist = {}
    if history is not None and "wtv1" in tuple(history):
        col = np.asarray(history["wtv1"], dtype=np.float64)
        col = col[np.isfinite(col)]
        if col.size:
            hist = {"measurements": int(col.size), "first": float(col[0]), "last": float(col[-1]),
                    "max": float(col.max())}
    return StabilityReport(n=obj.n, width=(theta.size - 1) // 3, lr=lr, steps=steps, loss=loss, sharpness=lam,
                           sharpness_residual=float(eig.residuals[0]), x_range=(x_lo, x_hi), x_max=x_max,
                           wtv1=wtv1, tv1=tv1(theta, x_lo, x_hi) if x_hi > x_lo else 0.0, bounds=bounds,
                           c_needed=c_needed, near_zero_loss=bool(near_zero), effective_knots=ek,
                           interior=interior, interior_interval=interval, mse_f0=mse_f0,
                           mse_f0_interior=mse_f0_int, test_mse=test_mse, history_wtv1=hist)
