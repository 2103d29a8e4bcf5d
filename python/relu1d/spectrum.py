"""Sharpness: extreme eigenvalues of the loss Hessian by Lanczos on exact Hessian-vector products."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from . import _core
from ._validate import as_float, as_int, as_theta, as_vector
from .objective import check_objective, compiled_objective

__all__ = ["EigenResult", "sharpness", "hessian_eigenvalues"]


@dataclass(frozen=True)
class EigenResult:
    """Eigenpairs of the Hessian found by Lanczos.

    Attributes
    ----------
    eigenvalues : ndarray, shape (k,)
        Largest first for ``which="largest"``, smallest first for ``which="smallest"``.
    eigenvectors : ndarray, shape (k, 3m+1)
        Unit eigenvectors, one per row.
    residuals : ndarray, shape (k,)
        ``||H q - lambda q||`` for each pair, measured with one extra product each.
    products : int
        Hessian-vector products used (the residual checks included).
    iterations : int
        Lanczos steps.
    converged : bool
        Whether every residual estimate met ``tol`` before ``max_iter``.
    """

    eigenvalues: np.ndarray
    eigenvectors: np.ndarray
    residuals: np.ndarray
    products: int
    iterations: int
    converged: bool
    which: str = field(default="largest")

    @property
    def value(self) -> float:
        """The first eigenvalue (the sharpness, for ``which="largest"``)."""
        return float(self.eigenvalues[0])

    @property
    def vector(self) -> np.ndarray:
        return self.eigenvectors[0]

    def __repr__(self) -> str:
        vals = ", ".join(f"{v:.10g}" for v in self.eigenvalues)
        res = ", ".join(f"{r:.1e}" for r in self.residuals)
        return (f"EigenResult({self.which}: [{vals}], residuals [{res}], products={self.products}, "
                f"converged={self.converged})")


def sharpness(objective, theta, *, k: int = 1, which: str = "largest", tol: float = 1e-10, v0=None,
              max_iter: int = 300, seed: int = 0) -> EigenResult:
    """Top-k algebraic eigenvalues of the Hessian of L at theta (the sharpness is the first).

    Lanczos with full re-orthogonalisation on the exact Hessian-vector product, in C++.
    Compare with the edge of stability 2/lr: GD with step lr is linearly stable at a minimum
    iff ``sharpness <= 2/lr``. Since H[c, c] = 1, the sharpness is always >= 1.

    Parameters
    ----------
    objective : relu1d.Objective
    theta : array_like, shape (3m+1,)
    k : int
        Number of eigenpairs.
    which : {"largest", "smallest"}
        Largest algebraic (the sharpness) or smallest algebraic (most negative curvature).
    tol : float
        Stop when ``||H q - lambda q|| <= tol * max(|lambda|, 1e-3 * scale)`` for every wanted pair,
        ``scale`` the running estimate of ``||H||`` (the residual is estimated from the Lanczos
        recurrence, then measured).
    v0 : array_like, optional
        Start vector, e.g. the previous eigenvector along a run (warm start: few products).
    max_iter : int
        Lanczos steps at most.
    seed : int
        Seed of the random start vector when ``v0`` is not given.
    """
    obj = check_objective(objective)
    theta = as_theta(theta)
    k = as_int(k, "k", minimum=1)
    if k > theta.size:
        raise ValueError(f"k: must be at most len(theta) = {theta.size}, got {k}")
    if which not in ("largest", "smallest"):
        raise ValueError(f"which: expected 'largest' or 'smallest', got {which!r}")
    tol = as_float(tol, "tol", positive=True)
    max_iter = as_int(max_iter, "max_iter", minimum=1)
    seed = as_int(seed, "seed", minimum=0)
    if v0 is not None:
        v0 = as_vector(v0, "v0", length=theta.size)
        if not np.any(v0):
            raise ValueError("v0: must not be the zero vector")
    options = _core.LanczosOptions(k=k, which=which, tol=tol, max_iter=max_iter, seed=seed)
    out = compiled_objective(obj).eigenpairs(theta, options, v0)
    if not np.all(np.isfinite(out["values"])):
        raise ValueError("theta: the Hessian overflows float64 at these parameters")
    return EigenResult(eigenvalues=out["values"], eigenvectors=out["vectors"], residuals=out["residuals"],
                       products=int(out["products"]), iterations=int(out["iterations"]),
                       converged=bool(out["converged"]), which=which)


def hessian_eigenvalues(objective, theta) -> np.ndarray:
    """All eigenvalues of the dense Hessian, ascending (the exact reference for small problems)."""
    obj = check_objective(objective)
    return np.linalg.eigvalsh(obj.hessian(theta))
