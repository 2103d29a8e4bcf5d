"""Where the loss is smooth along a line: kinks, ties and the stencils that avoid them.

Along a line ``theta + t u`` the pre-activation of neuron k at the data point x_i is
``z_ik(t) = z_ik + t s_ik`` with ``s_ik = u_w,k x_i + u_b,k``. The activation pattern, and with it
the polynomial piece of the loss, changes only where some ``z_ik(t)`` changes sign: at
``t = -z_ik / s_ik``. Between two such kinks ``f`` is quadratic in t, the loss a polynomial of degree
at most 4 and its gradient of degree at most 3, so a five-point stencil that stays inside one piece
differentiates them exactly, up to rounding.

A data point that sits on a knot (``z_ik = 0``, a *tie*) is inactive at theta (relu'(0) = 0) and
stays inactive for small t on the side where ``t s_ik < 0``. There the loss is the polynomial of
theta's own activation pattern, whose derivatives are the ones the kernels compute, so a one-sided
stencil on that side checks them. :func:`analyse_line` picks, for one direction, the stencil (central,
forward or backward) and its step from the distances to the nearest kinks on either side;
:func:`kink_avoiding_directions` draws random directions along which every tie stays inactive on the
forward side, and data points close to a knot keep their side.

The activation rule itself is relu1d's: :class:`KinkMap` and :func:`preactivations` take ``z_ik``
from :func:`relu1d.predict` (``fl(fl(w x) + b)``, active iff > 0), evaluated one neuron at a time.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .._validate import as_float, as_theta
from .. import predict, unpack
from ._inputs import data_inputs

__all__ = ["preactivations", "KinkMap", "LineAnalysis", "analyse_line", "kink_avoiding_directions", "away_from_kinks"]

EPS = float(np.finfo(np.float64).eps)

#: The stencil's reach is at most this fraction of the distance to the nearest kink (auto step).
SAFETY = 0.5

#: Stencil weights for the first derivative at 0, exact for polynomials of degree <= 4, in units of
#: 1 / (12 h): central on (-2h, -h, h, 2h), forward on (0, h, 2h, 3h, 4h).
CENTRAL_OFFSETS = np.array([-2.0, -1.0, 1.0, 2.0])
CENTRAL_WEIGHTS = np.array([1.0, -8.0, 8.0, -1.0])
FORWARD_OFFSETS = np.array([0.0, 1.0, 2.0, 3.0, 4.0])
FORWARD_WEIGHTS = np.array([-25.0, 48.0, -36.0, 16.0, -3.0])


def stencil(scheme: str):
    """(offsets in units of h, weights in units of 1 / (12 h)) of a scheme."""
    if scheme == "central":
        return CENTRAL_OFFSETS, CENTRAL_WEIGHTS
    if scheme == "forward":
        return FORWARD_OFFSETS, FORWARD_WEIGHTS
    return -FORWARD_OFFSETS, -FORWARD_WEIGHTS  # backward


def preactivations(x, theta) -> np.ndarray:
    """``Z[i, k] = fl(fl(w_k x_i) + b_k)`` exactly as :func:`relu1d.predict` evaluates it.

    Neuron k alone, with ``v = 1, c = 0``, predicts ``relu(z)``; with ``(w, b)`` negated it predicts
    ``relu(-z)`` (negation is exact and rounding symmetric), so ``z = relu(z) - relu(-z)`` bit for bit,
    and ``Z > 0`` is the package's activation pattern.
    """
    x = np.asarray(x, dtype=np.float64)
    w, b, _, _ = unpack(theta)
    Z = np.empty((x.size, w.size))
    one = np.array([0.0, 0.0, 1.0, 0.0])
    for k in range(w.size):
        one[0], one[1] = w[k], b[k]
        pos = predict(one, x)
        one[0], one[1] = -w[k], -b[k]
        Z[:, k] = pos - predict(one, x)
    return Z


@dataclass(frozen=True)
class LineAnalysis:
    """The stencil chosen for one direction.

    scheme : "central", "forward", "backward" or "none" (no stencil stays inside one piece)
    h : the step (a power of two in automatic mode; NaN for "none")
    reach : how far the stencil goes from theta, in units of t (2h central, 4h one-sided)
    limits : (backward, forward) distances in t to the nearest kink on either side (inf: none)
    crossings : (neuron, x) pairs, one per neuron, whose activation would change inside the central
        stencil: ties and near-ties in automatic mode, every crossing within +-2h for a fixed h
    min_margin : min over moving pairs of ``|z| / (h (|u_w| |x| + |u_b|))`` (inf: nothing moves)
    options : the feasible stencils ``(scheme, largest h, smallest h)``; scheme and h above are the
        one with the smallest rounding amplification at its largest step (automatic mode), and a
        caller that knows the magnitudes may pick a smaller step (see
        :func:`relu1d.testing.derivatives.check_grad`)
    """

    scheme: str
    h: float
    reach: float
    limits: tuple
    crossings: tuple
    min_margin: float
    options: tuple = ()


def _round_down_pow2(value: float) -> float:
    return float(2.0 ** np.floor(np.log2(value)))


class KinkMap:
    """Theta's activation pattern on the data, and its pre-activations where kinks can be.

    On the sorted data every neuron's active set is an interval ``[lo_k, hi_k)`` of positions
    (``fl(fl(w x) + b)`` is monotone in x): a suffix for ``w_k > 0``, a prefix for ``w_k < 0``, all
    or nothing for ``w_k = 0``. Along a line ``theta + t u`` the knot
    ``kappa(t) = -(b_k + t u_b,k) / (w_k + t u_w,k)`` moves monotonically (through infinity if
    ``w_k + t u_w,k`` changes sign), so the first distinct data points it meets on either side are the
    neighbours of the knot and the extreme points; pre-activations within rounding of 0 are next to
    the knot. The margin ``|z| / (|u_w| |x| + |u_b|)`` is a ratio of linear functions between its break
    points 0 and the knot, so its minimum is next to them or at an extreme. The map keeps ``z`` for
    these *candidate pairs* only: a window of ``window`` distinct points on either side of each knot,
    the extremes and the neighbours of 0 (every point for ``w_k = 0``, whose z is the same everywhere,
    and for a neuron whose window does not contain its activation boundary or ends within rounding of
    its knot). Cost: O(m window) evaluations through :func:`relu1d.predict`.

    Attributes
    ----------
    xs, order : sorted data inputs and the permutation that sorts them
    xu : distinct data inputs, ascending
    lo, hi : ndarray (m,) of int, the active interval of each neuron on ``xs``
    rows, cols, z : the candidate pairs (index into xu, neuron) and their pre-activations
    """

    def __init__(self, x, theta, window: int = 6):
        self.order = np.argsort(x, kind="stable")
        self.xs = x[self.order]
        xu, start = np.unique(self.xs, return_index=True)
        self.xu = xu
        n, nu = self.xs.size, xu.size
        start = np.append(start, n)  # position in xs of each distinct value, and the end
        w, b, _, _ = unpack(theta)
        m = w.size
        i0 = int(np.searchsorted(xu, 0.0))
        fixed = np.array([0, nu - 1, i0 - 1, i0])
        offsets = np.arange(-window, window)
        lo = np.zeros(m, dtype=np.intp)
        hi = np.zeros(m, dtype=np.intp)
        rows, cols, zs = [], [], []
        one = np.array([0.0, 0.0, 1.0, 0.0])
        for k in range(m):
            idx = None
            if w[k] != 0:
                with np.errstate(over="ignore"):
                    p = int(np.searchsorted(xu, -b[k] / w[k]))
                idx = np.unique(np.clip(np.concatenate([p + offsets, fixed]), 0, nu - 1))
            for attempt in range(2):
                if idx is None:
                    idx = np.arange(nu)
                one[0], one[1] = w[k], b[k]
                pos = predict(one, xu[idx])
                one[0], one[1] = -w[k], -b[k]
                z = pos - predict(one, xu[idx])
                if idx.size == nu:
                    break
                # the window must contain the activation boundary and end away from the knot
                win = (idx >= p - window) & (idx < p + window)
                wi, wz = idx[win], z[win]
                active = wz > 0
                edge_ok = np.abs(wz[[0, -1]]) > 8.0 * EPS * (np.abs(xu[wi[[0, -1]]]) * abs(w[k]) + abs(b[k]))
                inside = ((w[k] > 0 and (wi[0] == 0 or not active[0]) and (wi[-1] == nu - 1 or active[-1]))
                          or (w[k] < 0 and (wi[0] == 0 or active[0]) and (wi[-1] == nu - 1 or not active[-1])))
                if inside and (edge_ok[0] or wi[0] == 0) and (edge_ok[-1] or wi[-1] == nu - 1):
                    break
                idx = None
            act = z > 0
            if idx.size == nu:
                n_act = int(act.sum())
                if w[k] > 0 or (w[k] == 0 and n_act == nu):
                    first = nu - n_act
                    lo[k], hi[k] = start[first], n
                elif w[k] < 0:
                    lo[k], hi[k] = 0, start[n_act]
                else:
                    lo[k], hi[k] = 0, 0
            else:
                wi, wa = idx[win], act[win]
                if w[k] > 0:  # active on a suffix: the first active point of the window
                    first = int(wi[np.argmax(wa)]) if wa.any() else int(wi[-1]) + 1
                    lo[k], hi[k] = start[first], n
                else:  # active on a prefix: the first inactive point of the window
                    first = int(wi[np.argmax(~wa)]) if (~wa).any() else int(wi[-1]) + 1
                    lo[k], hi[k] = 0, start[first]
            rows.append(idx)
            cols.append(np.full(idx.size, k))
            zs.append(z)
        self.lo, self.hi = lo, hi
        self.rows = np.concatenate(rows)
        self.cols = np.concatenate(cols)
        self.z = np.concatenate(zs)

    def active_times(self, c) -> np.ndarray:
        """``A @ c`` on the sorted data: ``sum_{k active at x_i} c_k``."""
        n = self.xs.size
        acc = np.bincount(self.lo, weights=c, minlength=n + 1) - np.bincount(self.hi, weights=c, minlength=n + 1)
        return np.cumsum(acc)[:n]

    def active_sums(self, r) -> np.ndarray:
        """``A^T @ r`` for r on the sorted data: ``sum_{i: k active at x_i} r_i`` per neuron."""
        cs = np.concatenate([[0.0], np.cumsum(r)])
        return cs[self.hi] - cs[self.lo]

    def dense(self) -> np.ndarray:
        """The activation pattern A (n x m, sorted data), as float64."""
        i = np.arange(self.xs.size)[:, None]
        return ((i >= self.lo) & (i < self.hi)).astype(np.float64)


def analyse_line(kmap, theta, u, relevant, *, h=None, cap=None) -> LineAnalysis:
    """Choose the stencil for the direction u (see the module docstring).

    Parameters
    ----------
    kmap : KinkMap
        Theta's pre-activations at the candidate pairs.
    theta, u : ndarray (3m+1,)
    relevant : ndarray of bool (m,)
        Neurons whose activation changes matter (for the loss: ``v_k != 0`` or ``u_v,k != 0``).
    h : float or None
        None: the step is chosen as large as the kinks allow (at most :data:`SAFETY` times the
        distance to the nearest kink, and ``cap``), rounded down to a power of two, and the scheme with
        the smaller rounding amplification is used. A float: that step; the central stencil if it
        crosses no kink within +-2h, else a one-sided one within 4h, else "none".
    cap : float or None
        Largest reach in automatic mode (keeps the stencil where the loss's magnitudes are those of
        theta); also used in the rounding slack of the pre-activations.
    """
    m = (theta.size - 1) // 3
    w, b = theta[:m], theta[m:2 * m]
    uw, ub = u[:m], u[m:2 * m]
    moving = relevant & ((uw != 0) | (ub != 0))
    ks = np.flatnonzero(moving)
    if ks.size == 0:  # nothing moves: the loss is one polynomial along the whole line
        step = float(h) if h is not None else _round_down_pow2(cap / 2.0)
        return LineAnalysis("central", step, 2.0 * step, (np.inf, np.inf), (), np.inf, (("central", step, 0.0),))
    T = float(cap) if cap is not None else (4.0 * h if h is not None else 1.0)
    sel = moving[kmap.cols]
    K = kmap.cols[sel]
    xs = kmap.xu[kmap.rows[sel]]
    z = kmap.z[sel]
    ax = np.abs(xs)
    s = xs * uw[K] + ub[K]
    # Pairs whose pre-activation cannot change: w_k, b_k unchanged, or x_i = 0 with b_k unchanged.
    frozen = ((uw[K] == 0) | (xs == 0)) & (ub[K] == 0)
    # Rounding slack: |computed z(t) - (z + t s)| <= delta for |t| <= T (w + t u_w, b + t u_b, the
    # product and the sum each round once, and z itself is a rounded value); s has its own slack.
    delta = 4.0 * EPS * (ax * (np.abs(w[K]) + T * np.abs(uw[K])) + np.abs(b[K]) + T * np.abs(ub[K]))
    slack_s = 2.0 * EPS * (ax * np.abs(uw[K]) + np.abs(ub[K]))
    side = np.where(z > 0, 1.0, -1.0)  # the side each pair must stay on: ties stay inactive
    az = np.abs(z)
    ambiguous = ~frozen & (np.abs(s) <= slack_s)
    limits = []
    h_min = []
    with np.errstate(divide="ignore", invalid="ignore"):
        pair_limit = np.where(frozen, np.inf, (az - 2.0 * delta) / (np.abs(s) + slack_s))
        for sigma in (-1.0, 1.0):
            toward = ~frozen & ((sigma * s * side < 0) | ambiguous)
            limits.append(max(float(np.min(np.where(toward, pair_limit, np.inf))), 0.0))
            away = ~frozen & ~toward & (az < 2.0 * delta)
            need = np.where(away, (2.0 * delta - az) / (np.abs(s) - slack_s), 0.0)
            h_min.append(float(need.max()))
    lim_b, lim_f = limits
    lim_c = min(lim_b, lim_f)
    candidates = []  # (amplification sum|weights| / (12 h), scheme, h)
    if h is None:
        if lim_c > 0:
            hc = _round_down_pow2(min(SAFETY * lim_c, cap) / 2.0)
            candidates.append((18.0 / (12.0 * hc), "central", hc))
        for scheme, lim, hm in (("forward", lim_f, h_min[1]), ("backward", lim_b, h_min[0])):
            if lim > 0:
                hs = _round_down_pow2(min(SAFETY * lim, cap) / 4.0)
                if hs > hm:
                    candidates.append((128.0 / (12.0 * hs), scheme, hs))
        candidates.sort(key=lambda c: c[0])
        options = tuple((sch, hh, 0.0 if sch == "central" else (h_min[1] if sch == "forward" else h_min[0]))
                        for _, sch, hh in candidates)
    else:
        if 2.0 * h < lim_c:
            candidates.append((0.0, "central", h))
        else:
            for scheme, lim, hm in (("forward", lim_f, h_min[1]), ("backward", lim_b, h_min[0])):
                if 4.0 * h < lim and h > hm:
                    candidates.append((0.0, scheme, h))
                    break
        options = tuple((sch, hh, hh) for _, sch, hh in candidates)
    if candidates:
        _, scheme, step = candidates[0]
        reach = (2.0 if scheme == "central" else 4.0) * step
    else:
        scheme, step, reach = "none", np.nan, np.nan
    # Pairs that block the central stencil (for the report): one per neuron
    blocking = pair_limit <= (2.0 * h if h is not None else 0.0)
    crossings = []
    seen = set()
    for q in np.flatnonzero(blocking):
        if int(K[q]) not in seen:
            seen.add(int(K[q]))
            crossings.append((int(K[q]), float(xs[q])))
    move = np.abs(uw[K]) * ax + np.abs(ub[K])
    unit = step if np.isfinite(step) else (h if h is not None else 1.0)
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = np.where(move > 0, az / (unit * move), np.inf)
    return LineAnalysis(scheme, float(step), float(reach), (lim_b, lim_f), tuple(crossings), float(ratio.min()),
                        options)


#: Pairs that could reach a kink within this fraction of the natural step ``max(|theta|, 1)`` are
#: moved away from it by :func:`kink_avoiding_directions`.
CLOSE = 1e-4


def kink_avoiding_directions(kmap, theta, k: int, gen, close: float = CLOSE) -> np.ndarray:
    """k random unit directions along which ties, and data points close to a knot, move away from it.

    A pair (x_i, neuron k) with ``|z_ik| <= close * max(|theta|_inf, 1) * (|x_i| + 1)`` could reach a
    kink within ``t = close * max(|theta|_inf, 1)`` along a unit direction (``|s_ik| <= |x_i| + 1``);
    it should keep its side for small t > 0: ``s_ik = u_w,k x_i + u_b,k`` must have the sign of
    ``z_ik``, negative for an exact tie (inactive, relu'(0) = 0). Then the forward stencil is not
    squeezed by such pairs, and ties are checked on the side where they stay inactive. Per neuron with
    such pairs, the random ``(u_w,k, u_b,k)`` is

    - kept if it satisfies this, else negated if that does;
    - else, if all targets have one sign (e.g. ``w = b = 0``, every point tied), ``u_b,k`` is shifted
      past ``|u_w,k| max |x_i|``;
    - else (points on both sides of the knot, targets switching once along x), turned into a rotation
      about a random point r in the middle of the gap where the targets switch:
      ``s_ik = u_w,k (x_i - r)`` with the sign of ``u_w,k`` that of the switch;
    - else (the gap is within rounding of the knot) set to 0: that knot does not move.

    Every other direction (odd j) applies this to the ties alone (pairs within rounding of 0), so that
    u_w,k and u_b,k stay independent where the close pairs would force a rotation.
    """
    m = (theta.size - 1) // 3
    U = gen.standard_normal((k, theta.size))
    xs = kmap.xu[kmap.rows]
    z = kmap.z
    w, b = theta[:m], theta[m:2 * m]
    close_pairs = np.abs(z) <= close * max(float(np.abs(theta).max()), 1.0) * (np.abs(xs) + 1.0)
    tied_pairs = np.abs(z) <= 64.0 * EPS * (np.abs(xs) * np.abs(w[kmap.cols]) + np.abs(b[kmap.cols]))
    for q in np.unique(kmap.cols[close_pairs | tied_pairs]):
        for j in range(k):
            # every other direction protects only the ties (pairs within rounding of their knot): it
            # may be squeezed by a close pair, but it keeps u_w,k and u_b,k independent where the
            # close pairs would force a rotation about a point next to the knot
            near = close_pairs if j % 2 == 0 else tied_pairs
            pick = near & (kmap.cols == q)
            if not pick.any():
                continue
            order = np.argsort(xs[pick], kind="stable")
            xq = xs[pick][order]
            target = np.where(z[pick][order] > 0, 1.0, -1.0)
            switches = np.flatnonzero(np.diff(target))
            uw, ub = U[j, q], U[j, m + q]
            s = target * (uw * xq + ub)
            if np.all(s > 0):
                continue
            if np.all(s < 0):
                U[j, q], U[j, m + q] = -uw, -ub
            elif switches.size == 0:
                U[j, m + q] = target[0] * (2.0 * abs(uw) * float(np.abs(xq).max()) + abs(ub))
            elif switches.size == 1:
                lo, hi = xq[switches[0]], xq[switches[0] + 1]
                if hi - lo <= 1e-9 * (abs(lo) + abs(hi)):
                    U[j, q] = U[j, m + q] = 0.0
                    continue
                r = lo + (hi - lo) * gen.uniform(0.25, 0.75)
                uw = abs(uw) * target[switches[0] + 1]  # s increases where the targets go from - to +
                U[j, q], U[j, m + q] = uw, -uw * r
            else:
                U[j, q] = U[j, m + q] = 0.0
    return U / np.linalg.norm(U, axis=1, keepdims=True)


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
    x = np.unique(data_inputs(objective_or_x, "objective_or_x"))
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
