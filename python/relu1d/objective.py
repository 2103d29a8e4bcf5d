"""The training objective L(theta) = 1/(2n) sum_i (f(x_i) - y_i)^2 on a fixed data set."""

from __future__ import annotations

import numpy as np

from . import _core
from ._validate import all_finite, as_theta, as_threads, as_vector

__all__ = ["Objective", "KERNELS"]

#: The kernels' names, as the compiled core lists them: ("fast", "dense").
KERNELS = tuple(_core.KERNELS)


class Objective:
    """Loss, gradient, Hessian-vector products and Hessian of the mean-squared loss.

    ``L(theta) = 1/(2n) * sum_i (f(x_i) - y_i)^2`` with ``f(x) = sum_k v_k relu(w_k x + b_k) + c``
    and ``theta = [w(m), b(m), v(m), c]``. Note the 1/(2n): the Hessian, and so the sharpness,
    scales with it (H[c, c] = 1 exactly).

    The data are validated and sorted once. Every method accepts a theta of any width m.

    Parameters
    ----------
    x, y : array_like, shape (n,)
        Inputs and labels (finite; converted to float64).
    kernel : {"fast", "dense"}
        ``"fast"``: the O(n + m log n) sorted-data algorithm (O(m^2 + n) for the Hessian).
        ``"dense"``: the O(n m) reference loops. Both agree to rounding.
    threads : int or None
        Most threads the kernel may use (None: every CPU this process may run on, i.e. its
        affinity mask). Each loop of the fast kernel takes one thread per
        ``relu1d._core.parallel_grain()`` (16384) neurons (or data points) at most (its full Hessian
        from m = 724; Lanczos' passes, with either kernel, from m = 87381), so small problems run on
        one thread whatever this says; the dense kernel's own loops use every thread allowed once
        n m >= 65536.
        Results are bit-identical for every thread count. Pass 1 when running many objectives at
        once (``relu1d.sweep`` does).
    """

    def __init__(self, x, y, *, kernel: str = "fast", threads: int | None = None):
        x = as_vector(x, "x")
        y = as_vector(y, "y")
        if y.size != x.size:
            raise ValueError(f"y: expected the same length as x ({x.size}), got {y.size}")
        if kernel not in KERNELS:
            raise ValueError(f"kernel: expected one of {KERNELS}, got {kernel!r}")
        self._threads = as_threads(threads)
        order = np.argsort(x, kind="stable")
        self._order = order
        self._x = x
        self._y = y
        self._xs = np.ascontiguousarray(x[order])
        self._ys = np.ascontiguousarray(y[order])
        self._kernel = kernel
        self._core = _core.Objective(self._xs, self._ys, kernel, self._threads)

    # -- data ----------------------------------------------------------------------------------
    @property
    def n(self) -> int:
        """Number of data points."""
        return self._x.size

    @property
    def x(self) -> np.ndarray:
        """Inputs in the caller's order (read-only copy)."""
        return self._x.copy()

    @property
    def y(self) -> np.ndarray:
        """Labels in the caller's order (read-only copy)."""
        return self._y.copy()

    @property
    def x_sorted(self) -> np.ndarray:
        return self._xs.copy()

    @property
    def y_sorted(self) -> np.ndarray:
        return self._ys.copy()

    @property
    def order(self) -> np.ndarray:
        """Permutation that sorts x: ``x[order]`` is ascending."""
        return self._order.copy()

    @property
    def kernel(self) -> str:
        return self._kernel

    @property
    def threads(self) -> int | None:
        return self._threads or None

    def with_kernel(self, kernel: str, *, threads: int | None = None) -> "Objective":
        """The same data with another kernel or thread count (the sorted data are shared, not
        sorted again). ``threads=None`` keeps this objective's setting."""
        if kernel not in KERNELS:
            raise ValueError(f"kernel: expected one of {KERNELS}, got {kernel!r}")
        clone = object.__new__(Objective)
        clone.__dict__.update(self.__dict__)
        clone._kernel = kernel
        if threads is not None:
            clone._threads = as_threads(threads)
        clone._core = self._core.with_kernel(kernel, clone._threads)
        return clone

    def __repr__(self) -> str:
        return (f"Objective(n={self.n}, x in [{self._xs[0]:.4g}, {self._xs[-1]:.4g}], "
                f"kernel={self._kernel!r})")

    def __reduce__(self):
        return (_rebuild, (self._x, self._y, self._kernel, self.threads))

    # -- values and derivatives -----------------------------------------------------------------
    def loss(self, theta) -> float:
        """L(theta) = 1/(2n) sum_i (f(x_i) - y_i)^2."""
        return _finite(self._core.loss(as_theta(theta)), "the loss")

    def residuals(self, theta) -> np.ndarray:
        """r_i = f(x_i) - y_i in the caller's data order."""
        rs = _finite(self._core.residuals(as_theta(theta)), "the residuals")
        r = np.empty_like(rs)
        r[self._order] = rs
        return r

    def grad(self, theta) -> np.ndarray:
        """Gradient dL/dtheta (length 3m+1)."""
        return self.loss_and_grad(theta)[1]

    def loss_and_grad(self, theta):
        """(L(theta), dL/dtheta) from one forward pass."""
        loss, grad = self._core.loss_and_grad(as_theta(theta))
        return _finite(loss, "the loss"), _finite(grad, "the gradient")

    def hvp(self, theta, u) -> np.ndarray:
        """Hessian-vector product H(theta) u, exact (O(n + m log n) with the fast kernel).

        A call at the same theta (the same bits) as the last ``hvp``, ``hessian`` or
        ``sharpness`` reuses that call's forward pass and active sets: only the product is
        computed (what ``hessian_operator``'s matvecs do).
        """
        theta = as_theta(theta)
        u = as_vector(u, "u", length=theta.size)
        return _finite(self._core.hvp(theta, u), "the Hessian-vector product")

    def hessian(self, theta) -> np.ndarray:
        """The (3m+1) x (3m+1) Hessian H = J^T J / n + (1/n) sum_i r_i hess f(x_i)."""
        return self._core.hessian(as_theta(theta))  # ValueError where float64 overflows (checked in C++)

    def knots_inside(self, theta) -> int:
        """Number of neurons (v_k w_k != 0) whose knot separates the data: some points are
        active and some are not."""
        return int(self._core.knots_inside(as_theta(theta)))

    def hessian_operator(self, theta):
        """The Hessian at theta as a ``scipy.sparse.linalg.LinearOperator`` (needs SciPy)."""
        from scipy.sparse.linalg import LinearOperator

        theta = as_theta(theta).copy()
        d = theta.size
        core = self._core

        def matvec(u):
            return core.hvp(theta, np.ascontiguousarray(np.asarray(u, dtype=np.float64).reshape(d)))

        def matmat(U):
            U = np.asarray(U, dtype=np.float64)
            return np.column_stack([matvec(U[:, j]) for j in range(U.shape[1])])

        return LinearOperator((d, d), matvec=matvec, rmatvec=matvec, matmat=matmat, dtype=np.float64)


def _finite(value, what: str):
    """value, unless float64 overflowed on the way (finite inputs, non-finite result)."""
    if not all_finite(np.asarray(value)):
        raise ValueError(f"theta: {what} overflows float64 at these parameters (|f(x)| or a product of "
                         f"weights and data exceeds about 1e308)")
    return value


def _rebuild(x, y, kernel, threads):
    return Objective(x, y, kernel=kernel, threads=threads)


def check_objective(objective) -> Objective:
    if not isinstance(objective, Objective):
        raise TypeError(f"objective: expected a relu1d.Objective, got {type(objective).__name__}")
    return objective


def compiled_objective(objective) -> "_core.Objective":
    """The compiled handle of an Objective (sorted data and kernel): what the package's trainer
    and eigensolver drive; the one way to it from outside this module."""
    return check_objective(objective)._core
