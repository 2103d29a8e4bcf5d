"""Rounding-error bounds for values of the loss, the gradient, HVPs and the Hessian.

Every such value is a sum of products of the data and the parameters. A floating-point evaluation
with at most K successive roundings along any path differs from the exact value by at most
``gamma_K * A``, where A is the same expression with every input and intermediate replaced by its
absolute value and ``gamma_K = K eps / (1 - K eps)`` (Higham, *Accuracy and Stability of Numerical
Algorithms*, §3.1 and (4.4)). An implementation sums the m neurons, then the n data points (in any
order, recursively or pairwise), with a few products around, so ``K <= n + m + 12``, the 12 also
covering the rounding of the evaluation point ``fl(theta + t u)`` (tests/reference.py states the
kernels' own bound with the same depth). Between two implementations (the one under test and
relu1d's), each within ``gamma_K A``, the bound is ``2 gamma_K A``.

The absolute-value expressions (the *magnitudes*) follow ALGORITHMS.md §2, for theta's activation
pattern ``A`` (n x m, active iff ``z > 0``), applied through a :class:`relu1d.testing.kinks.KinkMap`
in O(n + m) (``A @ c`` and ``A^T r`` are prefix sums, the active sets being intervals of the sorted
data); x, y and R are in the map's sorted order. Along a stencil ``theta + t u``, ``|t| <= T``, the
pattern does not change and every parameter is at most ``|theta_j| + T |u_j|`` in magnitude, so the
magnitudes evaluated at that vector bound those of every point of the stencil.
"""

from __future__ import annotations

import numpy as np

EPS = float(np.finfo(np.float64).eps)


def gamma(n: int, m: int) -> float:
    """``gamma_K = K eps / (1 - K eps)``, ``K = n + m + 12``: the relative rounding bound of one
    evaluation of a value of the loss family (relative to its magnitude)."""
    k = (n + m + 12) * EPS
    return k / (1.0 - k)


def _split(p):
    m = (p.size - 1) // 3
    return p[:m], p[m:2 * m], p[2 * m:3 * m], float(p[3 * m])


def residual_abs(x, y, A, p_abs) -> np.ndarray:
    """``R_i = |y_i| + |c| + sum_k A_ik |v_k| (|w_k| |x_i| + |b_k|)`` for nonnegative parameters p_abs."""
    w, b, v, c = _split(p_abs)
    return A.active_times(v * w) * np.abs(x) + A.active_times(v * b) + c + np.abs(y)


def loss_bound(L: float, R: np.ndarray, g: float) -> float:
    """Bound on the rounding error of a computed loss value L.

    Residual errors ``delta_i <= g R_i`` enter ``L = sum r_i^2 / (2n)`` as
    ``(1/n) sum |r_i| delta_i + sum delta_i^2 / (2n)`` (the first term at most
    ``2 g sqrt(L L_abs)`` by Cauchy-Schwarz, ``L_abs = sum R_i^2 / (2n)``); the sum of squares adds
    ``g L``. Small residuals thus give a small bound, unlike the plain ``g L_abs``.
    """
    L = max(float(L), 0.0)
    L_abs = float(R @ R) / (2 * R.size)
    return g * (2.0 * np.sqrt(L * L_abs) + L) + g * g * L_abs


def grad_abs(x, A, p_abs, R) -> np.ndarray:
    """The gradient formulas with magnitudes: ``[v S1, v S0, w S1 + b S0, sum R] / n``,
    ``S0 = A^T R``, ``S1 = A^T (R |x|)``."""
    w, b, v, _ = _split(p_abs)
    S0 = A.active_sums(R)
    S1 = A.active_sums(R * np.abs(x))
    return np.concatenate([v * S1, v * S0, w * S1 + b * S0, [R.sum()]]) / R.size


def hvp_abs(x, A, p_abs, u_abs, R) -> np.ndarray:
    """The HVP ``J^T (J u) / n + R u`` (ALGORITHMS.md §2-3) with magnitudes."""
    w, b, v, _ = _split(p_abs)
    uw, ub, uv, uc = _split(u_abs)
    ax = np.abs(x)
    s = A.active_times(v * uw + uv * w) * ax + A.active_times(v * ub + uv * b) + uc
    T0, T1 = A.active_sums(s), A.active_sums(s * ax)
    S0, S1 = A.active_sums(R), A.active_sums(R * ax)
    return np.concatenate([v * T1 + S1 * uv, v * T0 + S0 * uv, w * T1 + b * T0 + S1 * uw + S0 * ub,
                           [s.sum()]]) / R.size


def hessian_abs(x, A, p_abs, R) -> np.ndarray:
    """``|J|^T |J| / n + |R|`` with ``|J| = [|v| a |x|, |v| a, a (|w x| + |b|), 1]``: O(n m^2)."""
    w, b, v, _ = _split(p_abs)
    m = w.size
    n = x.size
    ax = np.abs(x)
    S0, S1 = A.active_sums(R) / n, A.active_sums(R * ax) / n
    A = A.dense()
    Ja = np.hstack([A * np.multiply.outer(ax, v), A * v, A * (np.multiply.outer(ax, w) + b), np.ones((n, 1))])
    H = Ja.T @ Ja / n
    k = np.arange(m)
    H[2 * m + k, k] += S1
    H[k, 2 * m + k] += S1
    H[2 * m + k, m + k] += S0
    H[m + k, 2 * m + k] += S0
    return H
