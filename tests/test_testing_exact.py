"""relu1d.testing.compare_to_exact: an implementation against the exact kernels, entry by entry."""

from __future__ import annotations

import numpy as np
import pytest

import reference as ref
import relu1d
from relu1d.testing import ExactComparison, compare_to_exact

RNG = np.random.default_rng(3)
X = RNG.uniform(-1, 1, 40)
Y = np.sin(3 * X)
THETA = relu1d.init_params(6, rng=1)
M = 6


class NumpyReference:
    """The tests' independent NumPy reference, as a user's implementation would look."""

    def __init__(self, x, y, hessian=None):
        self.x, self.y = x, y
        self._hessian = hessian

    def loss(self, theta):
        return ref.loss(self.x, self.y, theta)

    def grad(self, theta):
        return ref.grad(self.x, self.y, theta)

    def hvp(self, theta, u):
        return ref.hvp(self.x, self.y, theta, u)

    def hessian(self, theta):
        H = ref.hessian(self.x, self.y, theta)
        return H if self._hessian is None else self._hessian(theta, H)


@pytest.mark.parametrize("kernel", relu1d.KERNELS)
def test_correct_implementations_pass(kernel):
    for candidate in (relu1d.Objective(X, Y, kernel=kernel), NumpyReference(X, Y)):
        report = compare_to_exact(candidate, X, Y, THETA)
        assert isinstance(report, ExactComparison) and report.passed, report
        assert report.compared == ("loss", "grad", "hvp", "hessian")
        assert all(0 <= r <= 1 for r in report.ratios.values())
        assert report.directions.shape == (8, THETA.size)
        assert report.neuron_errors["hessian"].shape == (M,)
        assert "PASSED" in repr(report)


def test_only_the_methods_it_has():
    class GradOnly:
        def grad(self, theta):
            return ref.grad(X, Y, theta)

    report = compare_to_exact(GradOnly(), X, Y, THETA)
    assert report.passed and report.compared == ("grad",) and report.directions.shape == (0, THETA.size)


def test_a_wrong_hessian_entry_is_located():
    def corrupt(theta, H):
        H = H.copy()
        i, j = 2 * M + 4, M + 4  # H[v_4, b_4]
        H[i, j] *= 1 + 1e-9
        return H

    report = compare_to_exact(NumpyReference(X, Y, hessian=corrupt), X, Y, THETA)
    assert not report.passed
    assert report.ratios["hessian"] > 1 and report.ratios["grad"] <= 1
    worst = report.worst["hessian"]
    assert worst["entry"] == "H[v[4], b[4]]" and worst["neuron"] == 4 and worst["block"] == "vb"
    assert int(np.argmax(report.neuron_errors["hessian"])) == 4
    assert "hessian: MISMATCH" in repr(report) and "H[v[4], b[4]]" in repr(report)


def test_a_wrong_gradient_block_is_located():
    class Shifted(NumpyReference):
        def grad(self, theta):
            g = super().grad(theta)
            g[M + 2] += 1e-10 * np.abs(g).max()  # b_2
            return g

    report = compare_to_exact(Shifted(X, Y), X, Y, THETA)
    assert not report.passed and report.worst["grad"]["entry"] == "b[2]"
    assert report.worst["grad"]["neuron"] == 2 and report.worst["grad"]["block"] == "b"


def test_hvp_directions_and_torch_like_results():
    class TensorLike:  # results with a .detach() method, as torch tensors
        def __init__(self, a):
            self.a = np.asarray(a)

        def detach(self):
            return self

        def cpu(self):
            return self

        def numpy(self):
            return self.a

    class Model:
        def hvp(self, theta, u):
            return TensorLike(ref.hvp(X, Y, theta, u))

    U = np.eye(THETA.size)[:3]
    report = compare_to_exact(Model(), X, Y, THETA, u=U)
    assert report.passed and np.array_equal(report.directions, U)
    assert compare_to_exact(Model(), X, Y, THETA, directions="unit").directions.shape == (THETA.size, THETA.size)


@pytest.mark.parametrize(
    ("args", "kwargs", "error", "match"),
    [
        ((object(), X, Y, THETA), {}, TypeError, r"^candidate: expected an object with at least one of"),
        ((NumpyReference(X, Y), X, Y[:-1], THETA), {}, ValueError, r"^y: expected length 40"),
        ((NumpyReference(X, Y), X, Y, THETA[:-1]), {}, ValueError, r"^theta: length must be 3\*m\+1"),
        ((NumpyReference(X, Y), X, Y, THETA), {"u": np.ones(3)}, ValueError, r"^u: expected shape"),
        ((NumpyReference(X, Y), X, Y, THETA), {"u": np.ones(19), "directions": 2}, ValueError, r"^u, directions"),
        ((NumpyReference(X, Y), X, Y, THETA), {"directions": 0}, ValueError, r"^directions: must be >= 1"),
    ],
)
def test_bad_arguments(args, kwargs, error, match):
    with pytest.raises(error, match=match):
        compare_to_exact(*args, **kwargs)


def test_pytorch_model_from_the_docs():
    """The example of the README and the module docstring."""
    torch = pytest.importorskip("torch")
    from relu1d.testing import check_grad, check_hvp

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
    report = compare_to_exact(model, x, y, theta)
    assert report.passed and report.compared == ("loss", "grad", "hvp"), report
    assert check_grad(model, theta, x=x, y=y).passed
    assert check_hvp(model, theta, x=x, y=y).passed
