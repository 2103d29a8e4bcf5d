"""Independent references for the loss of f(x) = sum_k v_k relu(w_k x + b_k) + c (ALGORITHMS.md §1-2).

Nothing here calls relu1d: the tests compare the package against these.

1. An explicit NumPy reference: the Jacobian J (n x (3m+1)), the residual term R, and from them the
   loss, gradient J^T r / n, Hessian J^T J / n + R and HVP. The activation predicate is the package's:
   ``fl(fl(w x) + b) > 0``, which NumPy evaluates exactly so (a rounded product, then a rounded sum).
2. A tiny forward-mode automatic differentiation with hyper-dual numbers
   ``a + b e1 + c e2 + d e1 e2`` (e1^2 = e2^2 = 0): seeding theta with ``e1 * I + e2 * u`` gives the
   whole gradient (the e1 part, vectorised over the 3m+1 coordinate directions) and H u (the e1 e2
   part) in one pass, with relu'' = 0 away from kinks, as autodiff does.
3. Rounding-error scales: the same formulas evaluated with absolute values, for tolerances.
"""

from __future__ import annotations

import numpy as np

EPS = float(np.finfo(np.float64).eps)


def split(theta):
    theta = np.asarray(theta, dtype=np.float64)
    m = (theta.size - 1) // 3
    assert theta.size == 3 * m + 1
    return theta[:m], theta[m:2 * m], theta[2 * m:3 * m], float(theta[3 * m])


# ------------------------------------------------------------------------------------------------
# 1. Explicit NumPy reference


def preactivations(x, theta):
    """Z[i, k] = fl(fl(w_k x_i) + b_k) and the activation A = Z > 0 (strict)."""
    w, b, _, _ = split(theta)
    Z = np.multiply.outer(np.asarray(x, dtype=np.float64), w) + b
    return Z, Z > 0


def masked_matmul(P, Q):
    """P @ Q with a product that has an exact zero factor taken as 0 (also 0 * inf): a point outside
    a neuron's active set contributes nothing, however large its other factor (an outlier)."""
    P = np.asarray(P, dtype=np.float64)
    Q = np.asarray(Q, dtype=np.float64)
    Q2 = Q[:, None] if Q.ndim == 1 else Q
    prod = P[:, :, None] * Q2[None, :, :]
    prod = np.where((P[:, :, None] == 0) | (Q2[None, :, :] == 0), 0.0, prod)
    out = prod.sum(axis=1)
    return out[:, 0] if Q.ndim == 1 else out


def forward(x, theta):
    _, _, v, c = split(theta)
    Z, A = preactivations(x, theta)
    return masked_matmul(np.where(A, Z, 0.0), v) + c


def residuals(x, y, theta):
    return forward(x, theta) - np.asarray(y, dtype=np.float64)


def loss(x, y, theta):
    r = residuals(x, y, theta)
    return float(np.sum(r * r) / (2 * r.size))


def jacobian(x, theta):
    """J[i] = d f(x_i) / d theta = [v a x_i, v a, a z_i, 1]."""
    x = np.asarray(x, dtype=np.float64)
    _, _, v, _ = split(theta)
    Z, A = preactivations(x, theta)
    return np.hstack([np.where(A, v * x[:, None], 0.0), np.where(A, v, 0.0), np.where(A, Z, 0.0),
                      np.ones((x.size, 1))])


def residual_term(x, y, theta):
    """R = (1/n) sum_i r_i hess f(x_i): only (v_k, w_k) = S1_k / n and (v_k, b_k) = S0_k / n."""
    x = np.asarray(x, dtype=np.float64)
    m = (np.asarray(theta).size - 1) // 3
    n = x.size
    _, A = preactivations(x, theta)
    r = residuals(x, y, theta)
    S0 = masked_matmul(A.T.astype(float), r)
    S1 = masked_matmul(A.T.astype(float), r * x)
    R = np.zeros((3 * m + 1, 3 * m + 1))
    k = np.arange(m)
    R[2 * m + k, k] = R[k, 2 * m + k] = S1 / n
    R[2 * m + k, m + k] = R[m + k, 2 * m + k] = S0 / n
    return R


def grad(x, y, theta):
    J = jacobian(x, theta)
    return masked_matmul(J.T, residuals(x, y, theta)) / J.shape[0]


def hessian(x, y, theta):
    J = jacobian(x, theta)
    return masked_matmul(J.T, J) / J.shape[0] + residual_term(x, y, theta)


def hvp(x, y, theta, u):
    J = jacobian(x, theta)
    u = np.asarray(u, dtype=np.float64)
    return masked_matmul(J.T, masked_matmul(J, u)) / J.shape[0] + masked_matmul(residual_term(x, y, theta), u)


def gram(x, theta):
    """(J J^T)_ij = 1 + sum_k a_ik a_jk [z_ik z_jk + v_k^2 (x_i x_j + 1)] from the closed form
    (ALGORITHMS.md §2), not from J."""
    x = np.asarray(x, dtype=np.float64)
    _, _, v, _ = split(theta)
    Z, A = preactivations(x, theta)
    AZ = np.where(A, Z, 0.0)
    Av2 = A * v**2
    return 1.0 + AZ @ AZ.T + (Av2 @ A.T.astype(float)) * (np.multiply.outer(x, x) + 1.0)


def active_counts(x, theta):
    return preactivations(x, theta)[1].sum(axis=0)


# ------------------------------------------------------------------------------------------------
# 2. Forward-mode AD with hyper-dual numbers


class HyperDual:
    """a + b e1 + c e2 + d e1 e2 with e1^2 = e2^2 = 0, elementwise over arrays.

    ``a`` and ``c`` have the value's shape; ``b`` and ``d`` carry a trailing axis of length D (one
    e1 direction per slot), so one pass gives D directional derivatives (and D second derivatives
    against the single e2 direction).
    """

    __slots__ = ("a", "b", "c", "d")
    __array_ufunc__ = None  # ndarray (op) HyperDual defers to the methods below

    def __init__(self, a, b, c, d):
        self.a, self.b, self.c, self.d = a, b, c, d

    @staticmethod
    def _lift(other, like):
        if isinstance(other, HyperDual):
            return other
        other = np.asarray(other, dtype=np.float64)
        D = like.b.shape[-1]
        zero = np.zeros(other.shape)
        return HyperDual(other, np.zeros(other.shape + (D,)), zero, np.zeros(other.shape + (D,)))

    def __add__(self, other):
        o = self._lift(other, self)
        return HyperDual(self.a + o.a, self.b + o.b, self.c + o.c, self.d + o.d)

    __radd__ = __add__

    def __neg__(self):
        return HyperDual(-self.a, -self.b, -self.c, -self.d)

    def __sub__(self, other):
        return self + (-self._lift(other, self))

    def __mul__(self, other):
        o = self._lift(other, self)
        e = np.newaxis
        return HyperDual(
            self.a * o.a,
            self.a[..., e] * o.b + self.b * o.a[..., e],
            self.a * o.c + self.c * o.a,
            self.a[..., e] * o.d + self.d * o.a[..., e] + self.b * o.c[..., e] + self.c[..., e] * o.b,
        )

    __rmul__ = __mul__

    def relu(self):
        """relu with the strict predicate on the value part; relu' = [a > 0], relu'' = 0."""
        on = self.a > 0
        return HyperDual(np.where(on, self.a, 0.0), self.b * on[..., None], self.c * on,
                         self.d * on[..., None])

    def sum(self, axis):
        bd_axis = axis if axis >= 0 else axis - 1
        return HyperDual(self.a.sum(axis), self.b.sum(bd_axis), self.c.sum(axis), self.d.sum(bd_axis))


def _seeded(theta, u):
    """theta + e1 * I + e2 * u, split into the hyper-dual parameters (w, b, v, c)."""
    theta = np.asarray(theta, dtype=np.float64)
    d = theta.size
    m = (d - 1) // 3
    u = np.zeros(d) if u is None else np.asarray(u, dtype=np.float64)
    eye = np.eye(d)
    zero = np.zeros((d, d))

    def part(sl):
        return HyperDual(theta[sl], eye[sl], u[sl], zero[sl])

    return part(slice(0, m)), part(slice(m, 2 * m)), part(slice(2 * m, 3 * m)), part(slice(3 * m, 3 * m + 1))


def ad_loss(x, y, theta, u=None) -> HyperDual:
    """The loss as a hyper-dual number: .b = gradient, .d = H u (with u the e2 seed)."""
    x = np.asarray(x, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    w, b, v, c = _seeded(theta, u)
    z = w * x[:, None] + b  # (n, m): the value part is fl(fl(w x) + b)
    f = (v * z.relu()).sum(axis=1) + c.sum(axis=0)
    r = f - y
    return (r * r).sum(axis=0) * (1.0 / (2 * x.size))


def ad_grad(x, y, theta):
    return ad_loss(x, y, theta).b


def ad_hvp(x, y, theta, u):
    return ad_loss(x, y, theta, u).d


# ------------------------------------------------------------------------------------------------
# 3. Rounding-error scales
#
# Every output of the kernels is a sum of products of the data and parameters. A floating-point
# evaluation of such an expression with at most K successive roundings on any path differs from the
# exact value by at most gamma_K * (the same expression with every input and intermediate replaced by
# its absolute value), gamma_K = K eps / (1 - K eps) (Higham, "Accuracy and Stability of Numerical
# Algorithms", §3.1 and (4.4) for recursive summation). The functions below evaluate those
# absolute-value expressions for the active sets of theta. K: the dense kernel sums the m neurons
# recursively (forward), then the n data points recursively (residual sums), with a few products and
# a division around them, so K <= n + m + 8; see ``depth``.


def depth(n, m):
    """An upper bound on the number of successive roundings along any path (see above)."""
    return n + m + 8


def tolerance(n, m):
    """|a - b| <= tolerance * abs-scale for two evaluations a, b of the same expression: each is
    within gamma_K * abs-scale of the exact value, so their difference is within about 2 K eps."""
    return 2.0 * depth(n, m) * EPS


def forward_abs(x, theta):
    """|c| + sum_{k active at i} |v_k| (|w_k x_i| + |b_k|)."""
    x = np.asarray(x, dtype=np.float64)
    w, b, v, c = split(theta)
    _, A = preactivations(x, theta)
    return masked_matmul(np.where(A, np.abs(np.multiply.outer(x, w)) + np.abs(b), 0.0), np.abs(v)) + abs(c)


def residual_abs(x, y, theta):
    return forward_abs(x, theta) + np.abs(np.asarray(y, dtype=np.float64))


def _sums_abs(x, theta, t_abs):
    _, A = preactivations(x, theta)
    At = A.T.astype(float)
    return masked_matmul(At, t_abs), masked_matmul(At, t_abs * np.abs(x))


def grad_abs(x, y, theta):
    """The gradient formulas of ALGORITHMS.md §2 with absolute values: v S1/n, v S0/n,
    (w S1 + b S0)/n, sum r/n."""
    x = np.asarray(x, dtype=np.float64)
    w, b, v, _ = split(theta)
    ra = residual_abs(x, y, theta)
    S0, S1 = _sums_abs(x, theta, ra)
    n = x.size
    return np.concatenate([np.abs(v) * S1, np.abs(v) * S0, np.abs(w) * S1 + np.abs(b) * S0, [ra.sum()]]) / n


def hvp_abs(x, y, theta, u):
    """The HVP algorithm of ALGORITHMS.md §3 (s = J u, J^T s / n + R u) with absolute values."""
    x = np.asarray(x, dtype=np.float64)
    w, b, v, _ = split(theta)
    uw, ub, uv, uc = (np.abs(p) for p in split(u))
    aw, ab, av = np.abs(w), np.abs(b), np.abs(v)
    _, A = preactivations(x, theta)
    n = x.size
    Af = A.astype(float)
    s = masked_matmul(Af, av * uw + uv * aw) * np.abs(x) + masked_matmul(Af, av * ub + uv * ab) + abs(uc)
    T0, T1 = _sums_abs(x, theta, s)
    S0, S1 = _sums_abs(x, theta, residual_abs(x, y, theta))
    return np.concatenate([av * T1 + S1 * uv, av * T0 + S0 * uv, aw * T1 + ab * T0 + S1 * uw + S0 * ub,
                           [s.sum()]]) / n


def hessian_abs(x, y, theta):
    """|J|^T |J| / n + |R| with |J| = [|v| a |x|, |v| a, a (|w x| + |b|), 1]."""
    x = np.asarray(x, dtype=np.float64)
    w, b, v, _ = split(theta)
    m = w.size
    _, A = preactivations(x, theta)
    n = x.size
    Ja = np.hstack([np.where(A, np.multiply.outer(np.abs(x), np.abs(v)), 0.0), np.where(A, np.abs(v), 0.0),
                    np.where(A, np.abs(np.multiply.outer(x, w)) + np.abs(b), 0.0), np.ones((n, 1))])
    S0, S1 = _sums_abs(x, theta, residual_abs(x, y, theta))
    H = masked_matmul(Ja.T, Ja) / n
    k = np.arange(m)
    H[2 * m + k, k] += S1 / n
    H[k, 2 * m + k] += S1 / n
    H[2 * m + k, m + k] += S0 / n
    H[m + k, 2 * m + k] += S0 / n
    return H


def gram_abs(x, theta):
    """The closed-form Gram matrix with absolute values: 1 + sum_k a a (|z z| + v^2 (|x x| + 1))."""
    x = np.asarray(x, dtype=np.float64)
    _, _, v, _ = split(theta)
    Z, A = preactivations(x, theta)
    AZ = np.where(A, np.abs(Z), 0.0)
    return 1.0 + AZ @ AZ.T + ((A * v**2) @ A.T.astype(float)) * (np.abs(np.multiply.outer(x, x)) + 1.0)


def loss_tolerance(x, y, theta):
    """Bound on |L_a - L_b|: residual errors delta_i = tol * r_abs_i enter L = sum r^2 / (2n) as
    (1/n) sum |r_i| delta_i + delta_i^2 / (2n); the sum of squares itself adds tol * L. (The plain
    absolute-value bound r_abs^2 would be needlessly loose when the residuals are small.)"""
    x = np.asarray(x, dtype=np.float64)
    m = (np.asarray(theta).size - 1) // 3
    tol = tolerance(x.size, m)
    r = np.abs(residuals(x, y, theta))
    delta = tol * residual_abs(x, y, theta)
    return float(np.sum(r * delta + delta * delta / 2) / x.size + tol * np.sum(r * r) / (2 * x.size))
