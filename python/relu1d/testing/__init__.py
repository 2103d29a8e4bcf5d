"""Tools for property-testing derivatives of the two-layer ReLU loss, to rounding accuracy.

The loss ``L(theta) = 1/(2n) sum_i (f(x_i) - y_i)^2`` of ``f(x) = sum_k v_k relu(w_k x + b_k) + c``
is piecewise polynomial in ``theta``: along a line ``theta + t u`` it is a polynomial of degree at
most 4 (its gradient of degree at most 3) between kinks, the values of t where a knot
``-b_k / w_k`` passes a data point. A five-point stencil inside one piece is therefore exact up to
rounding, and the rounding can be bounded from the magnitudes involved: a check can tell a correct
derivative from one that is wrong by far less than a generic gradient check's ``rtol = 1e-3``.

- :func:`check_grad`, :func:`check_hvp` (and :func:`assert_grad_close`, :func:`assert_hvp_close`,
  which raise): five-point stencils along directions, as wide as the nearest kink allows, one-sided
  where a data point sits on a knot (the side where it stays inactive, relu'(0) = 0), with a derived
  tolerance; the report gives each direction's rounding bound and resolution (the smallest relative
  error it is sure to detect). They take a :class:`relu1d.Objective`, any object with
  ``loss``/``grad``/``hvp`` methods, or a tuple of plain callables (module
  :mod:`relu1d.testing.derivatives`).
- :func:`compare_to_exact`: an implementation's loss, gradient, HVPs and Hessian (whichever it has)
  against relu1d's exact kernels, entry by entry, with a rounding-based tolerance, pointing at the
  worst neuron and parameter block. It also sees what finite differences cannot: the derivative
  convention at data points exactly on a knot (module :mod:`relu1d.testing.exact`).
- :func:`away_from_kinks`: nudge the biases so that every data point is at least a margin away from
  every knot (module :mod:`relu1d.testing.kinks`, which also finds the kinks along a line).
- hypothesis strategies :func:`datasets`, :func:`networks` and :func:`problems` that produce
  adversarial inputs: duplicate and dyadic x, ``w = 0`` neurons, dead neurons, knots exactly on
  (and one ulp beside) data points. They need the ``hypothesis`` package (``pip install relu1d[test]``),
  which is imported only when a strategy is built (module :mod:`relu1d.testing.strategies`).

The rounding bounds (module :mod:`relu1d.testing.rounding`) assume float64 and an implementation that
sums neurons and data points in any order (at most ``n + m + 12`` successive roundings on any path).

Examples
--------
>>> import numpy as np, relu1d
>>> from relu1d.testing import assert_grad_close, check_hvp
>>> x = np.linspace(-1, 1, 20); obj = relu1d.Objective(x, np.sin(3 * x))
>>> theta = relu1d.init_params(5, rng=0)
>>> report = assert_grad_close(obj, theta)
>>> check_hvp(obj, theta, directions="unit").passed
True

Checking a PyTorch implementation against the exact kernels (needs torch)::

    import numpy as np, torch, relu1d
    from relu1d.testing import check_grad, compare_to_exact

    class TorchModel:
        def __init__(self, x, y):
            self.x = torch.as_tensor(x, dtype=torch.float64)
            self.y = torch.as_tensor(y, dtype=torch.float64)

        def loss_t(self, theta):
            m = (theta.numel() - 1) // 3
            w, b, v, c = theta[:m], theta[m:2 * m], theta[2 * m:3 * m], theta[3 * m]
            f = torch.relu(self.x[:, None] * w + b) @ v + c
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
    theta = relu1d.init_params(10, rng=0)
    model = TorchModel(x, y)
    print(compare_to_exact(model, x, y, theta))      # loss, grad, hvp: largest error / bound <= 1
    print(check_grad(model, theta, x=x, y=y))        # the same model against its own loss
"""

from __future__ import annotations

from .derivatives import DerivativeCheck, assert_grad_close, assert_hvp_close, check_grad, check_hvp
from .exact import ExactComparison, compare_to_exact
from .kinks import away_from_kinks
from .strategies import datasets, networks, problems

__all__ = [
    "DerivativeCheck",
    "check_grad",
    "check_hvp",
    "assert_grad_close",
    "assert_hvp_close",
    "ExactComparison",
    "compare_to_exact",
    "away_from_kinks",
    "datasets",
    "networks",
    "problems",
]
