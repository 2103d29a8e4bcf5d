"""Compare an implementation of the loss's derivatives with relu1d's exact kernels.

Finite differences see only what a function does between kinks. At a data point that sits exactly on
a knot the derivative is a convention (relu'(0) = 0 here, as in PyTorch); an implementation with
relu'(0) = 1, or one that contracts ``w x + b`` into a fused multiply-add and so puts such points on
the other side, differs from relu1d there by an O(1) amount that no stencil can see. A direct
comparison with the exact kernels, entry by entry against a rounding bound, sees it.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .._validate import as_theta, as_vector
from .. import Objective
from . import rounding
from ._inputs import direction_array, output, parse_directions, rng_of, scalar
from .kinks import KinkMap

__all__ = ["ExactComparison", "compare_to_exact"]

_METHODS = ("loss", "grad", "hvp", "hessian")


@dataclass(frozen=True, eq=False)
class ExactComparison:
    """Result of :func:`compare_to_exact`.

    Attributes
    ----------
    passed : bool
        Every compared entry is within its rounding bound.
    compared : tuple of str
        The methods compared, among ``"loss"``, ``"grad"``, ``"hvp"``, ``"hessian"``.
    ratios : dict
        Per method, the largest ``|candidate - exact| / bound`` over its entries (<= 1 passes).
    worst : dict
        Per method, where that largest ratio is: ``{"entry": label, "neuron": k or None,
        "block": "w"/"b"/"v"/"c", "candidate": value, "exact": value, "bound": value}``; for an HVP
        the label names the direction (``"H u[3]"``), for the Hessian the pair (``"H[w[2], v[2]]"``).
    neuron_errors : dict
        Per method except the loss, an array (m,) of each neuron's largest ratio over its w, b and v
        entries (and rows and columns, for the Hessian).
    directions : ndarray (k, d)
        The vectors u of the HVP comparison.
    """

    passed: bool
    compared: tuple
    ratios: dict
    worst: dict
    neuron_errors: dict
    directions: np.ndarray

    def __repr__(self) -> str:
        verdict = "PASSED" if self.passed else "FAILED"
        lines = [f"ExactComparison: {verdict}: {', '.join(self.compared)} against relu1d's exact kernels "
                 f"(tolerance = rounding bound)"]
        for name in self.compared:
            wst = self.worst[name]
            tag = "ok" if self.ratios[name] <= 1 else "MISMATCH"
            where = wst["entry"] + (f" (neuron {wst['neuron']}, block {wst['block']})" if wst["neuron"] is not None
                                    else f" (block {wst['block']})")
            lines.append(f"  {name}: {tag}: largest error / bound = {self.ratios[name]:.3g} at {where}: "
                         f"candidate {wst['candidate']:.17g}, exact {wst['exact']:.17g}, bound {wst['bound']:.3g}")
        return "\n".join(lines)

    __str__ = __repr__


def _where(j: int, m: int):
    if j == 3 * m:
        return None, "c", "c"
    block = "wbv"[j // m]
    return j % m, block, f"{block}[{j % m}]"


def _neuron_max(ratio_vec: np.ndarray, m: int) -> np.ndarray:
    return ratio_vec[:3 * m].reshape(3, m).max(axis=0)


def compare_to_exact(candidate, x, y, theta, *, u=None, directions=None, rng=None) -> ExactComparison:
    """Compare an implementation's loss, gradient, HVPs and Hessian with relu1d's exact kernels.

    Every method the candidate has among ``loss(theta)``, ``grad(theta)``, ``hvp(theta, u)`` and
    ``hessian(theta)`` is compared entry by entry with :class:`relu1d.Objective` on the same data, with
    the tolerance ``2 gamma_K * magnitude`` of :mod:`relu1d.testing.rounding` (``gamma_K ~ (n + m + 12)
    eps`` for each of the two, the magnitude the same formula in absolute values). The report points at the entry, the
    neuron and the parameter block (w, b, v or c) with the largest error relative to its bound.
    Cost: O(n + m log n) per loss, gradient or HVP; the Hessian's bound is a dense
    ``|J|^T |J| / n``, O(n m^2).

    Parameters
    ----------
    candidate : object
        With at least one of the methods above (results: anything ``numpy.asarray`` takes, or torch
        tensors). The loss is ``1/(2n) sum (f(x_i) - y_i)^2`` with
        ``f(x) = sum_k v_k relu(w_k x + b_k) + c`` and ``theta = [w, b, v, c]`` (see README).
    x, y : array_like, shape (n,)
        The data set.
    theta : array_like, shape (3m+1,)
    u : array_like, shape (3m+1,) or (k, 3m+1), optional
        The vectors for ``hvp``; a shorthand for ``directions``.
    directions : None, int, "unit" or array_like
        As in :func:`relu1d.testing.check_hvp` (default: 8 random unit vectors).
    rng : None, int or numpy.random.Generator
        Source of random directions (None: a fixed seed).

    Returns
    -------
    ExactComparison

    Examples
    --------
    A PyTorch model (the example needs torch)::

        import numpy as np, torch, relu1d
        from relu1d.testing import compare_to_exact

        class TorchModel:
            def __init__(self, x, y):
                self.x = torch.as_tensor(x, dtype=torch.float64)
                self.y = torch.as_tensor(y, dtype=torch.float64)

            def loss_t(self, theta):
                m = (theta.numel() - 1) // 3
                w, b, v, c = theta[:m], theta[m:2 * m], theta[2 * m:3 * m], theta[3 * m]
                f = torch.relu(self.x[:, None] * w + b) @ v + c  # w x, then + b: no FMA
                return 0.5 * torch.mean((f - self.y) ** 2)

            def loss(self, theta):
                return self.loss_t(torch.as_tensor(theta)).item()

            def grad(self, theta):
                t = torch.tensor(theta, requires_grad=True)
                return torch.autograd.grad(self.loss_t(t), t)[0]

            def hvp(self, theta, u):
                return torch.autograd.functional.hvp(self.loss_t, torch.as_tensor(theta), torch.as_tensor(u))[1]

        x = np.linspace(-1, 1, 50)
        y = np.sin(3 * x)
        report = compare_to_exact(TorchModel(x, y), x, y, relu1d.init_params(10, rng=0))
        assert report.passed, report
    """
    have = tuple(meth for meth in _METHODS if callable(getattr(candidate, meth, None)))
    if not have:
        raise TypeError(f"candidate: expected an object with at least one of the methods {', '.join(_METHODS)}, "
                        f"got {type(candidate).__name__}")
    x = as_vector(x, "x")
    y = as_vector(y, "y", length=x.size)
    theta = as_theta(theta)
    d = theta.size
    m = (d - 1) // 3
    n = x.size
    U = np.empty((0, d))
    if "hvp" in have:
        if u is not None:
            if directions is not None:
                raise ValueError("u, directions: give one or the other, not both")
            U = direction_array(u, "u", d)
        else:
            mode, spec = parse_directions(directions, d)
            if mode == "random":
                U = rng_of(rng).standard_normal((spec, d))
                U /= np.linalg.norm(U, axis=1, keepdims=True)
            else:
                U = spec
    exact = Objective(x, y)
    g = 2.0 * rounding.gamma(n, m)  # the candidate and relu1d, each within gamma_K of the exact value
    A = KinkMap(x, theta)
    xs, ys = A.xs, y[A.order]  # sorted, as the magnitudes need them
    theta_abs = np.abs(theta)
    R = rounding.residual_abs(xs, ys, A, theta_abs)
    ratios, worst, neuron_errors = {}, {}, {}

    def record(name, cand_vals, exact_vals, bound, labeler):
        with np.errstate(divide="ignore", invalid="ignore"):
            err = np.abs(cand_vals - exact_vals)
            ratio = np.where(err == 0, 0.0, err / bound)
            ratio = np.where(np.isnan(cand_vals), np.inf, ratio)
        idx = np.unravel_index(int(np.argmax(ratio)), ratio.shape) if ratio.ndim else ()
        ratios[name] = float(ratio[idx])
        worst[name] = dict(labeler(idx), candidate=float(cand_vals[idx]), exact=float(exact_vals[idx]),
                           bound=float(bound[idx]))
        return ratio

    if "loss" in have:
        c_loss = scalar(candidate.loss(theta.copy()), "loss(theta)")
        e_loss = exact.loss(theta)
        bound = rounding.loss_bound(max(c_loss, e_loss), R, g)
        record("loss", np.array(c_loss), np.array(e_loss), np.array(bound),
               lambda idx: {"entry": "L", "neuron": None, "block": "loss"})
    if "grad" in have:
        c_grad = output(candidate.grad(theta.copy()), "grad(theta)", (d,))
        bound = g * rounding.grad_abs(xs, A, theta_abs, R)

        def lab(idx):
            k, block, label = _where(idx[0], m)
            return {"entry": label, "neuron": k, "block": block}

        ratio = record("grad", c_grad, exact.grad(theta), bound, lab)
        neuron_errors["grad"] = _neuron_max(ratio, m)
    if "hvp" in have:
        c_hvp = np.array([output(candidate.hvp(theta.copy(), uu.copy()), "hvp(theta, u)", (d,)) for uu in U])
        e_hvp = np.array([exact.hvp(theta, uu) for uu in U])
        bound = np.array([g * rounding.hvp_abs(xs, A, theta_abs, np.abs(uu), R) for uu in U])

        def lab(idx):
            k, block, label = _where(idx[1], m)
            return {"entry": f"H u[{idx[1]}] = {label} (direction {idx[0]})", "neuron": k, "block": block}

        ratio = record("hvp", c_hvp, e_hvp, bound, lab)
        neuron_errors["hvp"] = _neuron_max(ratio.max(axis=0), m)
    if "hessian" in have:
        c_hess = output(candidate.hessian(theta.copy()), "hessian(theta)", (d, d))
        bound = g * rounding.hessian_abs(xs, A, theta_abs, R)

        def lab(idx):
            ki, bi, li = _where(idx[0], m)
            kj, bj, lj = _where(idx[1], m)
            return {"entry": f"H[{li}, {lj}]", "neuron": ki if ki is not None else kj, "block": f"{bi}{bj}"}

        ratio = record("hessian", c_hess, exact.hessian(theta), bound, lab)
        per = np.maximum(ratio.max(axis=0), ratio.max(axis=1))
        neuron_errors["hessian"] = _neuron_max(per, m)
    passed = all(r <= 1.0 for r in ratios.values())
    return ExactComparison(passed=passed, compared=have, ratios=ratios, worst=worst,
                           neuron_errors=neuron_errors, directions=U)
