"""The implementations a user would otherwise write: NumPy, PyTorch (eager and ``torch.compile``)
and JAX (``jit`` with ``lax.fori_loop``), all float64 on the CPU.

Each baseline offers the same four things on a :class:`harness.Problem`:

- ``loss_and_grad(theta)``: (loss, gradient as a NumPy vector), for the check against relu1d;
- ``gd(problem)``: a function ``advance(k)`` that runs k more GD steps ``theta -= lr * grad`` from
  where it stopped (starting at ``problem.theta``) and returns the last loss;
- ``hvp(problem)``: a function ``u -> H u`` at ``problem.theta`` (NumPy in and out);
- ``hessian(problem)`` (NumPy and JAX only): a function returning the full Hessian.

PyTorch and JAX are imported lazily by :func:`load_baselines`; a library that is missing or fails
to import is reported with its reason instead. :func:`lanczos_top` turns any HVP into a sharpness
estimate (what a user without relu1d would run).
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass

import numpy as np

from harness import Problem, available_cores


def split(theta):
    """(w, b, v, c) views of ``theta = [w(m), b(m), v(m), c]``; works for NumPy, torch and JAX."""
    m = (theta.shape[0] - 1) // 3
    return theta[:m], theta[m:2 * m], theta[2 * m:3 * m], theta[3 * m]


# -------------------------------------------------------------------------------------------------
# NumPy: the straightforward vectorised code, backprop by hand
# -------------------------------------------------------------------------------------------------

def numpy_loss_and_grad(theta, x, y):
    """L = 1/(2n) sum (f(x_i) - y_i)^2 and dL/dtheta with O(n m) arrays (relu'(0) = 0)."""
    w, b, v, c = split(theta)
    n = x.size
    z = np.outer(x, w) + b
    active = z > 0
    h = np.where(active, z, 0.0)
    r = h @ v + c - y
    dz = np.outer(r / n, v) * active
    grad = np.concatenate([x @ dz, dz.sum(axis=0), h.T @ r / n, [r.sum() / n]])
    return 0.5 * (r @ r) / n, grad


def numpy_jacobian(theta, x):
    """The n x (3m+1) Jacobian of f, the activation pattern and the hidden activations."""
    w, b, v, _ = split(theta)
    z = np.outer(x, w) + b
    active = z > 0
    h = np.where(active, z, 0.0)
    dfdb = active * v
    return np.hstack([dfdb * x[:, None], dfdb, h, np.ones((x.size, 1))]), active, h


def numpy_curvature_terms(theta, active, h, x, y):
    """S0_k = sum_{i active} r_i and S1_k = sum_{i active} r_i x_i (the residual part R of H)."""
    _, _, v, c = split(theta)
    r = h @ v + c - y
    mask = active.astype(np.float64)
    return r @ mask, (r * x) @ mask


def numpy_hvp(theta, u, x, y):
    """H u = J^T (J u) / n + R u with an explicit Jacobian."""
    n = x.size
    jac, active, h = numpy_jacobian(theta, x)
    s0, s1 = numpy_curvature_terms(theta, active, h, x, y)
    uw, ub, uv, _ = split(u)
    hu = jac.T @ (jac @ u) / n
    hw, hb, hv, _ = split(hu)
    hw += s1 * uv / n
    hb += s0 * uv / n
    hv += (s1 * uw + s0 * ub) / n
    return hu


def numpy_hessian(theta, x, y):
    """H = J^T J / n + R (R: a 2x1 block per neuron between v_k and (w_k, b_k))."""
    n = x.size
    m = (theta.size - 1) // 3
    jac, active, h = numpy_jacobian(theta, x)
    s0, s1 = numpy_curvature_terms(theta, active, h, x, y)
    hess = jac.T @ jac / n
    k = np.arange(m)
    hess[2 * m + k, k] += s1 / n
    hess[k, 2 * m + k] += s1 / n
    hess[2 * m + k, m + k] += s0 / n
    hess[m + k, 2 * m + k] += s0 / n
    return hess


class NumpyBaseline:
    name = "numpy"
    label = "NumPy"

    def describe(self) -> str:
        return f"numpy {np.__version__}"

    def loss_and_grad(self, problem: Problem, theta):
        return numpy_loss_and_grad(theta, problem.x, problem.y)

    def gd(self, problem: Problem):
        theta = problem.theta.copy()
        x, y, lr = problem.x, problem.y, problem.lr

        def advance(k):
            loss = np.nan
            for _ in range(k):
                loss, grad = numpy_loss_and_grad(theta, x, y)
                theta[...] -= lr * grad
            return float(loss)

        return advance

    def hvp(self, problem: Problem):
        return lambda u: numpy_hvp(problem.theta, u, problem.x, problem.y)

    def hessian(self, problem: Problem):
        return lambda: numpy_hessian(problem.theta, problem.x, problem.y)


# -------------------------------------------------------------------------------------------------
# PyTorch
# -------------------------------------------------------------------------------------------------

def torch_loss(torch, theta, x, y):
    """0.5 * mean((f(x) - y)^2) on a flat theta tensor, as a PyTorch user writes it."""
    w, b, v, c = split(theta)
    hidden = torch.relu(torch.outer(x, w) + b)
    return 0.5 * torch.mean((hidden @ v + c - y) ** 2)


class TorchEager:
    """PyTorch autograd: ``loss.backward()``-style gradient, then an in-place no-grad update."""

    name = "torch"
    label = "PyTorch eager"

    def __init__(self, torch):
        self.torch = torch

    def describe(self) -> str:
        return f"torch {self.torch.__version__}, {self.torch.get_num_threads()} threads"

    def _loss_fn(self):
        torch = self.torch
        return lambda theta, x, y: torch_loss(torch, theta, x, y)

    def _tensors(self, problem: Problem):
        t = self.torch
        return t.from_numpy(problem.x), t.from_numpy(problem.y)

    def loss_and_grad(self, problem: Problem, theta):
        x, y = self._tensors(problem)
        th = self.torch.tensor(theta, dtype=self.torch.float64, requires_grad=True)
        loss = self._loss_fn()(th, x, y)
        (grad,) = self.torch.autograd.grad(loss, th)
        return loss.item(), grad.numpy().copy()

    def gd(self, problem: Problem):
        torch = self.torch
        x, y = self._tensors(problem)
        theta = torch.tensor(problem.theta, dtype=torch.float64, requires_grad=True)
        loss_fn = self._loss_fn()
        lr = problem.lr

        def advance(k):
            loss = None
            for _ in range(k):
                loss = loss_fn(theta, x, y)
                (grad,) = torch.autograd.grad(loss, theta)
                with torch.no_grad():
                    theta.sub_(lr * grad)
            return float("nan") if loss is None else loss.item()

        return advance

    def hvp(self, problem: Problem):
        torch = self.torch
        x, y = self._tensors(problem)
        theta = torch.from_numpy(problem.theta)
        loss_fn = self._loss_fn()

        def hvp(u):
            th = theta.detach().requires_grad_(True)
            (grad,) = torch.autograd.grad(loss_fn(th, x, y), th, create_graph=True)
            (hu,) = torch.autograd.grad(grad, th, grad_outputs=torch.from_numpy(u))
            return hu.numpy()

        return hvp


class TorchCompiled(TorchEager):
    """The same GD loop with the loss compiled by ``torch.compile`` (forward and backward graphs)."""

    name = "torch.compile"
    label = "torch.compile"

    def __init__(self, torch):
        super().__init__(torch)
        torch_module = torch
        self._compiled = torch.compile(lambda theta, x, y: torch_loss(torch_module, theta, x, y))

    def _loss_fn(self):
        return self._compiled

    hvp = None  # double backward through a compiled graph is not supported by torch.compile


# -------------------------------------------------------------------------------------------------
# JAX
# -------------------------------------------------------------------------------------------------

class JaxJit:
    """JAX on the CPU: k GD steps as one jitted ``lax.fori_loop``; HVP as ``jvp`` of ``grad``."""

    name = "jax"
    label = "JAX jit"

    def __init__(self, jax):
        self.jax = jax

    def describe(self) -> str:
        return f"jax {self.jax.__version__}, {self.jax.devices()[0]}"

    def _loss(self, problem: Problem):
        jnp = self.jax.numpy
        relu = self.jax.nn.relu
        x, y = jnp.asarray(problem.x), jnp.asarray(problem.y)

        def loss(theta):
            w, b, v, c = split(theta)
            return 0.5 * jnp.mean((relu(jnp.outer(x, w) + b) @ v + c - y) ** 2)

        return loss

    def loss_and_grad(self, problem: Problem, theta):
        loss, grad = self.jax.jit(self.jax.value_and_grad(self._loss(problem)))(theta)
        return float(loss), np.asarray(grad)

    def gd(self, problem: Problem):
        jax = self.jax
        value_and_grad = jax.value_and_grad(self._loss(problem))
        lr = problem.lr

        def body(_, state):
            theta, _ = state
            loss, grad = value_and_grad(theta)
            return theta - lr * grad, loss

        @jax.jit
        def run(theta, k):
            return jax.lax.fori_loop(0, k, body, (theta, jax.numpy.zeros((), theta.dtype)))

        state = [jax.numpy.asarray(problem.theta)]

        def advance(k):
            state[0], loss = run(state[0], k)
            return float(loss)  # blocks until the loop is done

        return advance

    def hvp(self, problem: Problem):
        jax = self.jax
        loss = self._loss(problem)
        fn = jax.jit(lambda theta, u: jax.jvp(jax.grad(loss), (theta,), (u,))[1])
        theta = jax.numpy.asarray(problem.theta)
        return lambda u: np.asarray(fn(theta, jax.numpy.asarray(u)))

    def hessian(self, problem: Problem):
        jax = self.jax
        fn = jax.jit(jax.hessian(self._loss(problem)))
        theta = jax.numpy.asarray(problem.theta)
        return lambda: np.asarray(fn(theta))


# -------------------------------------------------------------------------------------------------
# Loading
# -------------------------------------------------------------------------------------------------

@dataclass
class Unavailable:
    """A baseline that is not run, and why (shown in the tables' notes)."""

    name: str
    reason: str


def _import(name: str):
    try:
        return importlib.import_module(name), ""
    except ImportError:
        return None, "not installed"
    except Exception as exc:  # noqa: BLE001 (a broken install: report it, do not crash)
        return None, f"import failed ({type(exc).__name__}: {exc})"


def load_baselines(skip=(), torch_threads: int | None = None) -> list:
    """NumPy, PyTorch eager, torch.compile and JAX jit, each as a baseline or :class:`Unavailable`."""
    out = [NumpyBaseline()]
    torch_names = ("torch", "torch.compile")
    if all(name in skip for name in torch_names):
        out += [Unavailable(name, "skipped (--skip)") for name in torch_names]
    else:
        torch, why = _import("torch")
        if torch is None:
            out += [Unavailable(name, why) for name in torch_names]
        else:
            torch.set_num_threads(torch_threads or available_cores())
            out += [TorchEager(torch) if "torch" not in skip else Unavailable("torch", "skipped (--skip)")]
            out += [TorchCompiled(torch) if "torch.compile" not in skip
                    else Unavailable("torch.compile", "skipped (--skip)")]
    if "jax" in skip:
        out.append(Unavailable("jax", "skipped (--skip)"))
    else:
        jax, why = _import("jax")
        if jax is not None:
            try:
                jax.config.update("jax_enable_x64", True)
                jax.config.update("jax_platforms", "cpu")
                jax.devices()
            except Exception as exc:  # noqa: BLE001
                jax, why = None, f"unusable ({type(exc).__name__}: {exc})"
        out.append(JaxJit(jax) if jax is not None else Unavailable("jax", why))
    return out


# -------------------------------------------------------------------------------------------------
# Sharpness from any HVP
# -------------------------------------------------------------------------------------------------

def lanczos_top(hvp, dim: int, *, tol: float = 1e-10, max_iter: int = 300, seed: int = 0) -> dict:
    """Largest eigenvalue of a symmetric operator by Lanczos with full re-orthogonalisation.

    Stops when the residual estimate ``|beta_j s_j|`` of the top Ritz pair is at most
    ``tol * |lambda|`` (the criterion of ``relu1d.sharpness``). Returns the eigenvalue, the number
    of products and whether it converged.
    """
    q = np.random.default_rng(seed).standard_normal(dim)
    q /= np.linalg.norm(q)
    basis = [q]
    alphas, betas = [], []
    value, converged = np.nan, False
    for j in range(min(max_iter, dim)):
        w = np.asarray(hvp(basis[j]), dtype=np.float64)
        alphas.append(float(basis[j] @ w))
        Q = np.array(basis)
        w = w - Q.T @ (Q @ w)
        w = w - Q.T @ (Q @ w)                      # twice is enough (Kahan-Parlett)
        beta = float(np.linalg.norm(w))
        T = np.diag(alphas) + np.diag(betas, 1) + np.diag(betas, -1)
        evals, evecs = np.linalg.eigh(T)
        value = float(evals[-1])
        if abs(beta * evecs[-1, -1]) <= tol * abs(value) or beta == 0.0:
            converged = True
            break
        betas.append(beta)
        basis.append(w / beta)
    return {"value": value, "products": len(alphas), "converged": converged}
