#!/usr/bin/env python
"""Time one full-batch gradient-descent step of relu1d against the baselines a user would pick.

The model is the two-layer univariate ReLU network

    f(x) = sum_k v_k relu(w_k x + b_k) + c,     theta = [w(m), b(m), v(m), c],
    L(theta) = 1/(2n) sum_i (f(x_i) - y_i)^2,

and one GD step is: loss and gradient at theta, then ``theta -= lr * grad``. It is timed for

- relu1d, ``kernel="fast"`` (the O(n + m log n) sorted-data algorithm: the reference of every ratio),
- relu1d.train, the compiled GD loop that long runs use (its step is fused and in place, and
  neurons inactive on all the data are skipped: their gradient is zero), per step of 1000-step calls,
- relu1d, ``kernel="dense"`` with ``threads=1`` and ``threads=None`` (all cores),
- a straightforward vectorised NumPy implementation (``z = np.outer(x, w) + b``, backprop by hand),
- PyTorch autograd (float64, CPU), if ``import torch`` works,
- JAX (``jit`` of ``value_and_grad`` and the update, float64), if ``import jax`` works,

on a geometric grid of (n, m). Two smaller tables time one Hessian-vector product (relu1d fast and
dense, NumPy ``J^T (J u) / n + R u`` with an explicit Jacobian J, torch double backward, JAX
forward-over-reverse) and the full (3m+1) x (3m+1) Hessian (relu1d fast O(m^2 + n), relu1d dense
O(m^2 n), NumPy ``J^T J / n + R``).

Every baseline is first checked against relu1d fast at the same theta: the largest relative
difference (max-norm of the difference over max-norm of relu1d's value, over loss and gradient) must
be below ``--rtol`` (default 1e-10), else the table's ``check`` column says which baseline disagrees.
JAX on CPU may contract ``w*x + b`` into a fused multiply-add (see ALGORITHMS.md section 1), so a data
point within an ulp of a knot can flip sides there; on random data this is rare.

Timing is timeit-style: the number of loops per repeat is chosen automatically so that one repeat
takes at least ``--min-time`` seconds, and the minimum over ``--repeat`` repeats is reported (all
repeats are in the JSON file). The GD step is timed along a real GD trajectory from the initial theta
(each loop is the next step), so the fast kernel's warm-started knot search is exercised as in
training. The tables print relu1d fast's time per call for context and, for every baseline, the
ratio ``baseline time / relu1d fast time`` (above 1: relu1d fast is faster).

Threads: NumPy uses its BLAS's default thread count; torch is set to ``--torch-threads`` (default:
all cores available to this process, matching relu1d ``threads=None``); JAX/XLA uses its own pool.
On a small virtual machine torch's OpenMP threads (which spin-wait by default) can now and then get
stuck in a slow state for a whole measurement (a torch ratio in the thousands); if a torch number
looks like that, rerun with ``OMP_WAIT_POLICY=passive`` in the environment or ``--torch-threads 1``.

OpenBLAS: if ``OPENBLAS_CORETYPE`` or ``OPENBLAS_L2_SIZE`` is set in the environment (it may be on the
development machines), NumPy's BLAS can run a slower code path. This script does not change the
environment; for fair NumPy numbers run it as

    env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE python bench/bench_step.py

Examples
--------
    python bench/bench_step.py                       # default grid, about 2 minutes on 2 cores
    python bench/bench_step.py --quick               # smoke run, a few seconds
    python bench/bench_step.py --json bench/results.json
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
import platform
import shlex
import statistics
import sys
import time
from dataclasses import dataclass, field
from typing import Callable

import numpy as np
import relu1d

# -------------------------------------------------------------------------------------------------
# Grids and defaults
# -------------------------------------------------------------------------------------------------

GRIDS = {
    "default": {
        "step": ([100, 1_000, 10_000, 100_000], [10, 100, 1_000]),
        "hvp": ([1_000, 10_000, 100_000], [10, 100, 1_000]),
        "hessian": ([100, 1_000, 10_000], [10, 100, 300]),
    },
    "quick": {
        "step": ([100, 10_000], [10, 100]),
        "hvp": ([1_000], [10, 100]),
        "hessian": ([1_000], [10, 50]),
    },
}

OPENBLAS_VARIABLES = ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE")
TRAIN_STEPS = 1000  # GD steps per timed relu1d.train call (the 'train' column is per step)


# -------------------------------------------------------------------------------------------------
# Machine description
# -------------------------------------------------------------------------------------------------

def cpu_model() -> str:
    """The CPU's model name from /proc/cpuinfo (``platform.processor()`` elsewhere)."""
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as fh:
            for line in fh:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def available_cores() -> int:
    """Cores this process may run on (the affinity mask where the OS has one)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:
        return os.cpu_count() or 1


def load_average() -> list | None:
    """1, 5 and 15-minute load averages (other work on the machine skews every timing)."""
    try:
        return [round(x, 2) for x in os.getloadavg()]
    except (AttributeError, OSError):
        return None


def numpy_blas() -> str:
    """Name and version of the BLAS NumPy was built with, if NumPy reports it."""
    try:
        config = np.show_config(mode="dicts")
        blas = config["Build Dependencies"]["blas"]
        return f"{blas.get('name', '?')} {blas.get('version', '')}".strip()
    except (TypeError, KeyError, AttributeError):  # older NumPy: no mode="dicts"
        return "unknown"


def machine_info(backends: dict) -> dict:
    """Everything printed at the top of the report (and saved in the JSON file)."""
    info = {
        "cpu": cpu_model(),
        "cores_logical": os.cpu_count(),
        "cores_available": available_cores(),
        "platform": platform.platform(),
        "python": platform.python_version(),
        "numpy": np.__version__,
        "numpy_blas": numpy_blas(),
        "relu1d": relu1d.__version__,
        "openblas_env": {k: os.environ[k] for k in OPENBLAS_VARIABLES if k in os.environ},
        "load_average": load_average(),
    }
    for name, backend in backends.items():
        info[name] = backend.describe()
    return info


def print_header(info: dict, command: str, args: argparse.Namespace) -> None:
    print(f"command:  {command}")
    print(f"cpu:      {info['cpu']}  ({info['cores_available']} cores available, "
          f"{info['cores_logical']} logical)")
    print(f"platform: {info['platform']}, Python {info['python']}")
    print(f"numpy:    {info['numpy']} ({info['numpy_blas']})   relu1d: {info['relu1d']}")
    print(f"torch:    {info['torch']}")
    print(f"jax:      {info['jax']}")
    if info["openblas_env"]:
        setting = " ".join(f"{k}={v}" for k, v in info["openblas_env"].items())
        print(f"WARNING:  {setting} is set: NumPy may be slow; for fair numbers run with "
              f"env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE")
    print(f"load:     {info['load_average']} (1/5/15-min load average before the run)")
    print(f"timing:   min of {args.repeat} repeats, each >= {args.min_time:g} s; "
          f"check: rel. error <= {args.rtol:g}; lr = {args.lr:g}; seed = {args.seed}")
    print()


# -------------------------------------------------------------------------------------------------
# Timing
# -------------------------------------------------------------------------------------------------

def time_call(fn: Callable[[], object], *, min_time: float, repeat: int) -> dict:
    """Seconds per call of ``fn``, timeit-style.

    The number of loops is the first of 1, 2, 5, 10, 20, 50, ... whose total time reaches
    ``min_time``; then ``repeat`` repeats of that many loops are timed.

    Parameters
    ----------
    fn : callable
        Called with no arguments; its result is discarded.
    min_time : float
        Least duration of one repeat, in seconds.
    repeat : int
        Number of timed repeats.

    Returns
    -------
    dict
        ``best`` (minimum seconds per call over the repeats), ``median``, ``loops`` (calls per
        repeat) and ``repeats`` (seconds per call of each repeat).
    """
    loops = _calibrate_loops(fn, min_time)
    per_call = [_run_loops(fn, loops) / loops for _ in range(repeat)]
    return {"best": min(per_call), "median": statistics.median(per_call), "loops": loops,
            "repeats": per_call}


def _calibrate_loops(fn: Callable[[], object], min_time: float) -> int:
    """The smallest of 1, 2, 5, 10, 20, 50, ... loops lasting at least ``min_time`` seconds."""
    scale = 1
    while True:
        for factor in (1, 2, 5):
            loops = factor * scale
            if _run_loops(fn, loops) >= min_time:
                return loops
        scale *= 10


def _run_loops(fn: Callable[[], object], loops: int) -> float:
    """Wall-clock seconds of ``loops`` calls of ``fn``."""
    start = time.perf_counter()
    for _ in range(loops):
        fn()
    return time.perf_counter() - start


def relative_error(value, reference) -> float:
    """max over parts of ||value - reference||_inf / ||reference||_inf (parts: arrays or floats)."""
    if not isinstance(reference, tuple):
        value, reference = (value,), (reference,)
    worst = 0.0
    for got, want in zip(value, reference):
        got = np.asarray(got, dtype=np.float64)
        want = np.asarray(want, dtype=np.float64)
        scale = max(float(np.max(np.abs(want))), np.finfo(np.float64).tiny)
        worst = max(worst, float(np.max(np.abs(got - want))) / scale)
    return worst


# -------------------------------------------------------------------------------------------------
# The problem
# -------------------------------------------------------------------------------------------------

@dataclass
class Problem:
    """Data, initial parameters and a direction for HVPs, all float64."""

    x: np.ndarray
    y: np.ndarray
    theta: np.ndarray
    u: np.ndarray

    @property
    def n(self) -> int:
        return self.x.size

    @property
    def m(self) -> int:
        return (self.theta.size - 1) // 3


def make_problem(n: int, m: int, seed: int) -> Problem:
    """x ~ U(-2, 2), y = sin(3x) + 0.1 noise, theta from ``relu1d.init_params`` (PyTorch default)."""
    rng = np.random.default_rng([seed, n, m])
    x = rng.uniform(-2.0, 2.0, n)
    y = np.sin(3.0 * x) + 0.1 * rng.standard_normal(n)
    theta = relu1d.init_params(m, rng=rng)
    u = rng.standard_normal(theta.size)
    return Problem(x, y, theta, u)


def split(theta):
    """(w, b, v, c) views of a flat theta of length 3m+1 (any array library with slicing)."""
    m = (theta.shape[0] - 1) // 3
    return theta[:m], theta[m:2 * m], theta[2 * m:3 * m], theta[3 * m]


# -------------------------------------------------------------------------------------------------
# NumPy: what a user would write
# -------------------------------------------------------------------------------------------------

def numpy_loss_and_grad(theta: np.ndarray, x: np.ndarray, y: np.ndarray):
    """Loss and gradient by a hand-written forward and backward pass, O(n m) memory.

    Returns
    -------
    (float, ndarray)
        L(theta) and dL/dtheta (length 3m+1).
    """
    w, b, v, c = split(theta)
    n = x.size
    z = np.outer(x, w) + b                  # (n, m) pre-activations
    active = z > 0                          # relu'(0) = 0, as in PyTorch
    h = np.where(active, z, 0.0)            # hidden activations
    r = h @ v + c - y                       # residuals
    loss = 0.5 * (r @ r) / n
    dz = np.outer(r / n, v) * active        # dL/dz
    grad = np.concatenate([x @ dz, dz.sum(axis=0), h.T @ r / n, [r.sum() / n]])
    return loss, grad


def numpy_jacobian(theta: np.ndarray, x: np.ndarray):
    """The n x (3m+1) Jacobian J_i = grad_theta f(x_i) and the activation pattern.

    Returns
    -------
    (ndarray, ndarray, ndarray)
        J, the boolean activation matrix (n, m) and the hidden activations (n, m).
    """
    w, b, v, _ = split(theta)
    z = np.outer(x, w) + b
    active = z > 0
    h = np.where(active, z, 0.0)
    dfdb = active * v                        # df/db_k = v_k a_ik
    jac = np.hstack([dfdb * x[:, None], dfdb, h, np.ones((x.size, 1))])
    return jac, active, h


def numpy_residual_sums(theta, active, h, x, y):
    """S0_k = sum_{i active} r_i and S1_k = sum_{i active} r_i x_i (ALGORITHMS.md section 2)."""
    _, _, v, c = split(theta)
    r = h @ v + c - y
    mask = active.astype(np.float64)
    return r @ mask, (r * x) @ mask


def numpy_hvp(theta: np.ndarray, u: np.ndarray, x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """H u = J^T (J u) / n + R u with an explicit Jacobian J."""
    n = x.size
    jac, active, h = numpy_jacobian(theta, x)
    s0, s1 = numpy_residual_sums(theta, active, h, x, y)
    uw, ub, uv, _ = split(u)
    hu = jac.T @ (jac @ u) / n
    hw, hb, hv, _ = split(hu)                # views: the R u terms add in place
    hw += s1 * uv / n
    hb += s0 * uv / n
    hv += (s1 * uw + s0 * ub) / n
    return hu


def numpy_hessian(theta: np.ndarray, x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """H = J^T J / n + R with an explicit Jacobian J (R: one 3x3 block per neuron)."""
    n = x.size
    m = (theta.size - 1) // 3
    jac, active, h = numpy_jacobian(theta, x)
    s0, s1 = numpy_residual_sums(theta, active, h, x, y)
    hess = jac.T @ jac / n
    k = np.arange(m)
    hess[2 * m + k, k] += s1 / n             # d2L/(dv_k dw_k)
    hess[k, 2 * m + k] += s1 / n
    hess[2 * m + k, m + k] += s0 / n         # d2L/(dv_k db_k)
    hess[m + k, 2 * m + k] += s0 / n
    return hess


# -------------------------------------------------------------------------------------------------
# Optional backends, imported lazily
# -------------------------------------------------------------------------------------------------

@dataclass
class Backend:
    """An optional array library: its module, or why it is not used."""

    name: str
    module: object = None
    reason: str = ""
    details: dict = field(default_factory=dict)

    @property
    def available(self) -> bool:
        return self.module is not None

    def describe(self) -> str:
        if not self.available:
            return self.reason
        return ", ".join(f"{k} {v}" for k, v in self.details.items())


def load_torch(threads: int, enabled: bool) -> Backend:
    """PyTorch on the CPU with ``threads`` intra-op threads, or why not."""
    if not enabled:
        return Backend("torch", reason="skipped (--skip)")
    try:
        torch = importlib.import_module("torch")
    except ImportError:
        return Backend("torch", reason="not installed")
    except Exception as exc:  # noqa: BLE001 (a broken install: report, do not crash)
        return Backend("torch", reason=f"import failed ({type(exc).__name__}: {exc})")
    torch.set_num_threads(threads)
    return Backend("torch", torch, details={"version": torch.__version__,
                                            "threads": torch.get_num_threads()})


def load_jax(enabled: bool) -> Backend:
    """JAX on the CPU in float64, or why not."""
    if not enabled:
        return Backend("jax", reason="skipped (--skip)")
    try:
        jax = importlib.import_module("jax")
        jax.config.update("jax_enable_x64", True)
        jax.config.update("jax_platforms", "cpu")
        devices = jax.devices()
    except ImportError:
        return Backend("jax", reason="not installed (skipped)")
    except Exception as exc:  # noqa: BLE001 (a broken install: report, do not crash)
        return Backend("jax", reason=f"import failed ({type(exc).__name__}: {exc})")
    return Backend("jax", jax, details={"version": jax.__version__, "device": str(devices[0])})


# -- PyTorch ---------------------------------------------------------------------------------------

def torch_forward_loss(torch, w, b, v, c, x, y):
    """0.5 * mean((f(x) - y)^2), written as a PyTorch user would."""
    hidden = torch.relu(torch.outer(x, w) + b)
    return 0.5 * torch.mean((hidden @ v + c - y) ** 2)


class TorchGD:
    """PyTorch GD on separate leaf tensors w, b, v, c: ``loss.backward()`` then a no-grad update."""

    def __init__(self, torch, problem: Problem, lr: float):
        self.torch = torch
        self.lr = lr
        self.x = torch.from_numpy(problem.x)
        self.y = torch.from_numpy(problem.y)
        self.params = [torch.tensor(np.atleast_1d(p), dtype=torch.float64, requires_grad=True)
                       for p in split(problem.theta)]

    def loss_and_grad(self):
        """(loss, gradient as one NumPy vector) at the current parameters, grads then cleared."""
        w, b, v, c = self.params
        loss = torch_forward_loss(self.torch, w, b, v, c[0], self.x, self.y)
        loss.backward()
        grad = np.concatenate([p.grad.numpy() for p in self.params])
        for p in self.params:
            p.grad = None
        return loss.item(), grad

    def step(self):
        """One GD step: forward, backward, ``p -= lr * p.grad``."""
        w, b, v, c = self.params
        loss = torch_forward_loss(self.torch, w, b, v, c[0], self.x, self.y)
        loss.backward()
        with self.torch.no_grad():
            for p in self.params:
                p -= self.lr * p.grad
                p.grad = None
        return loss


def torch_hvp_function(torch, problem: Problem):
    """A function u -> H u at the problem's theta, by double backward (what a torch user writes)."""
    x = torch.from_numpy(problem.x)
    y = torch.from_numpy(problem.y)
    theta = torch.from_numpy(problem.theta)
    u = torch.from_numpy(problem.u)

    def hvp():
        th = theta.detach().requires_grad_(True)
        w, b, v, c = split(th)
        loss = torch_forward_loss(torch, w, b, v, c, x, y)
        (grad,) = torch.autograd.grad(loss, th, create_graph=True)
        (hu,) = torch.autograd.grad(grad, th, grad_outputs=u)
        return hu

    return hvp


# -- JAX -------------------------------------------------------------------------------------------

def jax_loss_function(jax, x, y):
    """theta -> 0.5 * mean((f(x) - y)^2) in jax.numpy, for a flat theta."""
    jnp = jax.numpy

    def loss(theta):
        w, b, v, c = split(theta)
        hidden = jax.nn.relu(jnp.outer(x, w) + b)
        return 0.5 * jnp.mean((hidden @ v + c - y) ** 2)

    return loss


def jax_gd_step(jax, problem: Problem, lr: float):
    """The jitted map theta -> (loss, grad, theta - lr * grad)."""
    loss = jax_loss_function(jax, jax.numpy.asarray(problem.x), jax.numpy.asarray(problem.y))

    @jax.jit
    def step(theta):
        value, grad = jax.value_and_grad(loss)(theta)
        return value, grad, theta - lr * grad

    return step


def jax_hvp_function(jax, problem: Problem):
    """The jitted map (theta, u) -> H u, forward-over-reverse (``jvp`` of ``grad``)."""
    loss = jax_loss_function(jax, jax.numpy.asarray(problem.x), jax.numpy.asarray(problem.y))
    return jax.jit(lambda theta, u: jax.jvp(jax.grad(loss), (theta,), (u,))[1])


# -------------------------------------------------------------------------------------------------
# Candidates: (value for the check, callable to time) per implementation
# -------------------------------------------------------------------------------------------------

@dataclass
class Candidate:
    """One implementation on one problem: its checked value and its timed call, or a skip reason."""

    value: Callable[[], object] | None = None
    timed: Callable[[], object] | None = None
    skip: str = ""
    steps_per_call: int = 1  # a timed call that runs several GD steps is reported per step


def relu1d_objective(problem: Problem, kernel: str, threads: int | None) -> relu1d.Objective:
    return relu1d.Objective(problem.x, problem.y, kernel=kernel, threads=threads)


def relu1d_step_candidate(problem: Problem, lr: float, kernel: str, threads: int | None) -> Candidate:
    """relu1d GD step along a trajectory; the checked value is (loss, grad) at the initial theta."""
    objective = relu1d_objective(problem, kernel, threads)
    theta = problem.theta.copy()

    def step():
        loss, grad = objective.loss_and_grad(theta)
        theta[...] -= lr * grad
        return loss

    return Candidate(value=lambda: objective.loss_and_grad(problem.theta), timed=step)


def relu1d_train_candidate(problem: Problem, lr: float, steps: int) -> Candidate:
    """relu1d.train: the compiled GD loop (fused, in-place step), timed per step over ``steps``-step
    calls; the checked value is (loss, grad) with grad = (theta0 - theta1) / lr from one step."""
    objective = relu1d_objective(problem, "fast", None)
    state = [problem.theta.copy()]

    def value():
        run = relu1d.train(objective, problem.theta, lr=lr, steps=1, record_every=1, sharpness_every=0)
        return run.history["loss"][0], (problem.theta - run.theta) / lr

    def timed():
        run = relu1d.train(objective, state[0], lr=lr, steps=steps, record_every=steps, sharpness_every=0)
        state[0] = run.theta
        return run

    return Candidate(value=value, timed=timed, steps_per_call=steps)


def numpy_step_candidate(problem: Problem, lr: float) -> Candidate:
    theta = problem.theta.copy()

    def step():
        loss, grad = numpy_loss_and_grad(theta, problem.x, problem.y)
        theta[...] -= lr * grad
        return loss

    return Candidate(value=lambda: numpy_loss_and_grad(problem.theta, problem.x, problem.y),
                     timed=step)


def torch_step_candidate(torch, problem: Problem, lr: float) -> Candidate:
    return Candidate(value=TorchGD(torch, problem, lr).loss_and_grad,
                     timed=TorchGD(torch, problem, lr).step)


def jax_step_candidate(jax, problem: Problem, lr: float) -> Candidate:
    step = jax_gd_step(jax, problem, lr)
    state = [jax.numpy.asarray(problem.theta)]

    def value():
        loss, grad, _ = step(jax.numpy.asarray(problem.theta))
        return float(loss), np.asarray(grad)

    def timed():
        loss, _, state[0] = step(state[0])
        state[0].block_until_ready()
        return loss

    return Candidate(value=value, timed=timed)


def relu1d_method_candidate(problem: Problem, method: str, kernel: str,
                            threads: int | None = None) -> Candidate:
    """relu1d ``hvp`` (at theta, u) or ``hessian`` (at theta)."""
    objective = relu1d_objective(problem, kernel, threads)

    def call():
        if method == "hvp":
            return objective.hvp(problem.theta, problem.u)
        return objective.hessian(problem.theta)

    return Candidate(value=call, timed=call)


def numpy_hvp_candidate(problem: Problem) -> Candidate:
    def call():
        return numpy_hvp(problem.theta, problem.u, problem.x, problem.y)

    return Candidate(value=call, timed=call)


def numpy_hessian_candidate(problem: Problem) -> Candidate:
    def call():
        return numpy_hessian(problem.theta, problem.x, problem.y)

    return Candidate(value=call, timed=call)


def torch_hvp_candidate(torch, problem: Problem) -> Candidate:
    hvp = torch_hvp_function(torch, problem)
    return Candidate(value=lambda: hvp().numpy(), timed=hvp)


def jax_hvp_candidate(jax, problem: Problem) -> Candidate:
    hvp = jax_hvp_function(jax, problem)
    theta = jax.numpy.asarray(problem.theta)
    u = jax.numpy.asarray(problem.u)
    return Candidate(value=lambda: np.asarray(hvp(theta, u)),
                     timed=lambda: hvp(theta, u).block_until_ready())


# -------------------------------------------------------------------------------------------------
# Benchmarks: one table each
# -------------------------------------------------------------------------------------------------

@dataclass
class Benchmark:
    """A table: its title, grid, and the candidates (the first one is the reference)."""

    key: str
    title: str
    sizes: tuple
    columns: list                              # (label, builder(problem) -> Candidate)


def too_big(limit: float, size: float, what: str) -> Candidate:
    return Candidate(skip=f"{what} = {size:.0e} > {limit:.0e}")


def capped(builder, work: Callable[[Problem], float], limit: float, what: str):
    """``builder``, unless ``work(problem)`` exceeds ``limit`` (then a skip)."""
    def build(problem):
        size = work(problem)
        return too_big(limit, size, what) if size > limit else builder(problem)
    return build


def n_times_m(problem: Problem) -> float:
    """Size of the (n, m) arrays of the dense baselines."""
    return problem.n * problem.m


def n_times_m_squared(problem: Problem) -> float:
    """Work of a dense Hessian, up to a constant."""
    return problem.n * problem.m * problem.m


def unavailable(backend: Backend):
    return lambda problem: Candidate(skip=backend.reason)


def optional(backend: Backend, builder):
    """``builder(module, problem)`` when the backend is available, else its reason."""
    if not backend.available:
        return unavailable(backend)
    return lambda problem: builder(backend.module, problem)


def make_benchmarks(args, grid: dict, torch: Backend, jax: Backend) -> list:
    """The three tables: GD step, HVP, Hessian."""
    lr = args.lr

    def cap_nm(builder):
        return capped(builder, n_times_m, args.max_nm, "n*m")

    def cap_nmm(builder):
        return capped(builder, n_times_m_squared, args.max_nmm, "n*m^2")

    step = Benchmark("step", "One GD step: loss + gradient + theta -= lr*grad", grid["step"], [
        ("fast", lambda p: relu1d_step_candidate(p, lr, "fast", None)),
        ("train", lambda p: relu1d_train_candidate(p, lr, TRAIN_STEPS)),
        ("dense/1", lambda p: relu1d_step_candidate(p, lr, "dense", 1)),
        ("dense/all", lambda p: relu1d_step_candidate(p, lr, "dense", None)),
        ("numpy", cap_nm(lambda p: numpy_step_candidate(p, lr))),
        ("torch", cap_nm(optional(torch, lambda t, p: torch_step_candidate(t, p, lr)))),
        ("jax", cap_nm(optional(jax, lambda j, p: jax_step_candidate(j, p, lr)))),
    ])
    hvp = Benchmark("hvp", "One Hessian-vector product H u", grid["hvp"], [
        ("fast", lambda p: relu1d_method_candidate(p, "hvp", "fast")),
        ("dense/all", lambda p: relu1d_method_candidate(p, "hvp", "dense")),
        ("numpy", cap_nm(numpy_hvp_candidate)),
        ("torch", cap_nm(optional(torch, torch_hvp_candidate))),
        ("jax", cap_nm(optional(jax, jax_hvp_candidate))),
    ])
    hessian = Benchmark("hessian", "Full (3m+1)x(3m+1) Hessian", grid["hessian"], [
        ("fast", lambda p: relu1d_method_candidate(p, "hessian", "fast")),
        ("dense/all", cap_nmm(lambda p: relu1d_method_candidate(p, "hessian", "dense"))),
        ("numpy", cap_nmm(numpy_hessian_candidate)),
    ])
    return [b for b in (step, hvp, hessian) if b.key in args.tables]


def measure(candidate: Candidate, reference, args) -> dict:
    """Check the candidate against the reference value, then time it."""
    if candidate.skip:
        return {"skip": candidate.skip}
    value = candidate.value()
    error = 0.0 if reference is None else relative_error(value, reference)
    timing = time_call(candidate.timed, min_time=args.min_time, repeat=args.repeat)
    if candidate.steps_per_call > 1:
        k = candidate.steps_per_call
        timing.update(best=timing["best"] / k, median=timing["median"] / k,
                      repeats=[t / k for t in timing["repeats"]], steps_per_call=k)
    return {"error": error, **timing, "_value": value}


def add_ratios(results: dict, reference: str) -> None:
    """Store ``ratio_to_fast`` = best time / the reference's best time in every timed result."""
    for result in results.values():
        if "best" in result:
            result["ratio_to_fast"] = result["best"] / results[reference]["best"]


def run_benchmark(bench: Benchmark, args) -> list:
    """All rows of one table; each row is printed as soon as it is measured."""
    ns, ms = bench.sizes
    labels = [label for label, _ in bench.columns]
    print(f"== {bench.title} ==")
    print(format_header(labels))
    rows = []
    for n in ns:
        for m in ms:
            problem = make_problem(n, m, args.seed)
            results = {}
            reference = None
            for label, builder in bench.columns:
                result = measure(builder(problem), reference, args)
                if reference is None:
                    reference = result.pop("_value")
                result.pop("_value", None)
                results[label] = result
            add_ratios(results, labels[0])
            row = {"n": n, "m": m, "results": results}
            rows.append(row)
            print(format_row(row, labels, args.rtol), flush=True)
    print()
    return rows


# -------------------------------------------------------------------------------------------------
# Table formatting
# -------------------------------------------------------------------------------------------------

COLUMN_WIDTH = 10


def format_seconds(seconds: float) -> str:
    """Seconds with a unit: 12.3us, 4.56ms, 1.23s."""
    for unit, scale in (("s", 1.0), ("ms", 1e-3), ("us", 1e-6)):
        if seconds >= scale:
            return f"{seconds / scale:.3g}{unit}"
    return f"{seconds / 1e-9:.3g}ns"


def format_ratio(result: dict, reference_time: float) -> str:
    if "skip" in result:
        return "skip" if result["skip"].startswith("n*m") else "n/a"
    return f"{result['best'] / reference_time:.3g}"


def format_header(labels: list) -> str:
    """Two lines: which columns are ratios, then the column labels."""
    width = (COLUMN_WIDTH + 1) * (len(labels) - 1) - 1
    ratios = " time / relu1d fast time ".center(width, "-")
    first = " ".join([" " * 7, " " * 5, f"{'relu1d':>{COLUMN_WIDTH}}", ratios])
    cells = [f"{'n':>7}", f"{'m':>5}", f"{'fast':>{COLUMN_WIDTH}}"]
    cells += [f"{label:>{COLUMN_WIDTH}}" for label in labels[1:]]
    return first + "\n" + " ".join(cells) + "  check"


def format_row(row: dict, labels: list, rtol: float) -> str:
    results = row["results"]
    fast = results[labels[0]]["best"]
    cells = [f"{row['n']:>7}", f"{row['m']:>5}", f"{format_seconds(fast):>{COLUMN_WIDTH}}"]
    cells += [f"{format_ratio(results[label], fast):>{COLUMN_WIDTH}}" for label in labels[1:]]
    return " ".join(cells) + "  " + format_check(results, labels[1:], rtol)


def format_check(results: dict, labels: list, rtol: float) -> str:
    """'ok' when every timed baseline agrees with relu1d fast, else 'WARN label:error ...'."""
    bad = [f"{label}:{results[label]['error']:.1e}" for label in labels
           if "error" in results[label] and not results[label]["error"] <= rtol]
    return "WARN " + " ".join(bad) if bad else "ok"


def print_legend() -> None:
    print("Columns: 'fast' = seconds per call of relu1d kernel='fast' (min over repeats); every other")
    print("column = that implementation's time / relu1d fast's time (above 1: relu1d fast is faster).")
    print("train: a step of relu1d.train, the compiled GD loop (timed over 1000-step calls), as used for")
    print("long runs. dense/1, dense/all: relu1d kernel='dense' with threads=1 / threads=None. 'skip': over the")
    print("size cap (--max-nm, --max-nmm); 'n/a': library not available. 'check': every baseline's")
    print("result agrees with relu1d fast to --rtol (relative, max-norm), else WARN with the error.")
    print()


# -------------------------------------------------------------------------------------------------
# Command line
# -------------------------------------------------------------------------------------------------

def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description="Time one full-batch GD step (and HVP, Hessian) of relu1d against NumPy, "
                    "PyTorch and JAX. Reports ratios baseline time / relu1d fast time.")
    parser.add_argument("--quick", action="store_true",
                        help="small grid and short timings: a smoke run of a few seconds")
    parser.add_argument("--json", metavar="PATH", help="also save all results to this JSON file")
    parser.add_argument("--tables", nargs="+", choices=("step", "hvp", "hessian"),
                        default=["step", "hvp", "hessian"], help="which tables to run")
    parser.add_argument("--skip", nargs="+", choices=("torch", "jax"), default=[],
                        help="do not import these optional baselines")
    parser.add_argument("--repeat", type=int, help="timed repeats (default 5; 3 with --quick)")
    parser.add_argument("--min-time", type=float,
                        help="least seconds per repeat (default 0.05; 0.005 with --quick)")
    parser.add_argument("--max-nm", type=float, default=2e7,
                        help="skip NumPy/torch/JAX (GD step, HVP) when n*m exceeds this (memory)")
    parser.add_argument("--max-nmm", type=float, default=1e9,
                        help="skip dense and NumPy Hessians when n*m^2 exceeds this (time)")
    parser.add_argument("--torch-threads", type=int, default=available_cores(),
                        help="torch.set_num_threads (default: all available cores)")
    parser.add_argument("--lr", type=float, default=1e-2, help="GD learning rate (default 0.01)")
    parser.add_argument("--rtol", type=float, default=1e-10,
                        help="largest relative difference from relu1d fast accepted by the check")
    parser.add_argument("--seed", type=int, default=0, help="seed of data and parameters")
    args = parser.parse_args(argv)
    if args.repeat is None:
        args.repeat = 3 if args.quick else 5
    if args.min_time is None:
        args.min_time = 0.005 if args.quick else 0.05
    return args


def save_json(path: str, payload: dict) -> None:
    with open(path, "w", encoding="utf-8") as fh:
        json.dump(payload, fh, indent=1)
        fh.write("\n")
    print(f"results saved to {path}")


def main(argv=None) -> int:
    args = parse_args(argv)
    command = shlex.join([os.path.basename(sys.executable), *sys.argv])
    torch = load_torch(args.torch_threads, "torch" not in args.skip)
    jax = load_jax("jax" not in args.skip)
    info = machine_info({"torch": torch, "jax": jax})
    print_header(info, command, args)
    print_legend()
    grid = GRIDS["quick" if args.quick else "default"]
    start = time.perf_counter()
    tables = {bench.key: run_benchmark(bench, args)
              for bench in make_benchmarks(args, grid, torch, jax)}
    elapsed = time.perf_counter() - start
    print(f"total benchmark time: {elapsed:.1f} s; load average now {load_average()}")
    if args.json:
        save_json(args.json, {"command": command, "machine": info,
                              "settings": {k: v for k, v in vars(args).items()},
                              "elapsed_s": elapsed, "tables": tables})
    return 0


if __name__ == "__main__":
    sys.exit(main())
