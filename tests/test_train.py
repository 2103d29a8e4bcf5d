"""Gradient-descent driver: agreement with a NumPy GD loop, resume equivalence, determinism,
Ctrl-C handling, stopping rules (divergence, convergence, callbacks), history size, argument checks."""

from __future__ import annotations

import json
import select
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

import reference as ref
import relu1d
from relu1d.testing import problems

HERE = Path(__file__).resolve().parent
# Columns that must agree bit for bit between a resumed and an uninterrupted run ("time" is wall time).
EXACT_COLUMNS = [k for k in relu1d.History().keys() if k != "time"]


# ---------------------------------------------------------------------------------------------
# The GD loop on the independent NumPy reference (tests/reference.py).

def np_loss_grad(theta, x, y):
    return ref.loss(x, y, theta), ref.grad(x, y, theta)


def np_gd(x, y, theta0, lr_at, steps, clip=None):
    """Plain GD; returns the final theta and the per-step (loss, grad_norm, lr) before each update."""
    theta = np.array(theta0, dtype=np.float64)
    losses, gnorms, lrs = [], [], []
    for s in range(steps):
        loss, g = np_loss_grad(theta, x, y)
        gn = float(np.linalg.norm(g))
        eta = lr_at(s)
        losses.append(loss)
        gnorms.append(gn)
        lrs.append(eta)
        if clip is not None:
            g = g * min(1.0, clip / gn)
        theta = theta - eta * g
    return theta, np.array(losses), np.array(gnorms), np.array(lrs)


@pytest.fixture(scope="module")
def data():
    return relu1d.make_data(25, rng=3)


@pytest.fixture(scope="module")
def theta0():
    return relu1d.init_params(8, rng=4)


def small_problem(n=20, width=10, seed=0, kernel="fast"):
    x, y = relu1d.make_data(n, rng=seed)
    return relu1d.Objective(x, y, kernel=kernel), relu1d.init_params(width, rng=seed + 1)


def assert_close_theta(actual, expected, rel=1e-12):
    scale = np.max(np.abs(expected))
    np.testing.assert_allclose(actual, expected, rtol=rel, atol=rel * scale)


# ---------------------------------------------------------------------------------------------
# Agreement with NumPy GD

LR_CASES = {
    "constant": (0.05, lambda s: 0.05),
    "piecewise": ([(0, 0.05), (50, 0.2), (120, 0.01)], lambda s: 0.05 if s < 50 else (0.2 if s < 120 else 0.01)),
    "dict": ({0: 0.1, 100: 0.03}, lambda s: 0.1 if s < 100 else 0.03),
    "callable": (lambda s: 0.1 / (1.0 + s / 50.0), lambda s: 0.1 / (1.0 + s / 50.0)),
}


@pytest.mark.parametrize("kernel", relu1d.KERNELS)
@pytest.mark.parametrize("case", sorted(LR_CASES))
def test_matches_numpy_gd(data, theta0, kernel, case):
    x, y = data
    lr, lr_at = LR_CASES[case]
    steps, every = 200, 7
    obj = relu1d.Objective(x, y, kernel=kernel)
    run = relu1d.train(obj, theta0, lr=lr, steps=steps, record_every=every, sharpness_every=0)
    theta, losses, gnorms, lrs = np_gd(x, y, theta0, lr_at, steps)
    assert run.status == "max_steps"
    assert run.steps == steps
    assert_close_theta(run.theta, theta)
    h = run.history
    np.testing.assert_array_equal(h["step"], np.arange(0, steps, every))
    np.testing.assert_allclose(h["loss"], losses[h["step"]], rtol=1e-12)
    np.testing.assert_allclose(h["grad_norm"], gnorms[h["step"]], rtol=1e-11)
    np.testing.assert_allclose(h["lr"], lrs[h["step"]], rtol=0, atol=0)
    assert np.isnan(h["sharpness"]).all()  # sharpness_every=0: off
    # theta0 untouched, the run's copy kept
    np.testing.assert_array_equal(run.theta0, theta0)
    # final loss and gradient norm are those of the final theta
    loss_end, g_end = np_loss_grad(theta, x, y)
    assert run.final_loss == pytest.approx(loss_end, rel=1e-12)
    assert run.final_grad_norm == pytest.approx(np.linalg.norm(g_end), rel=1e-11)


@pytest.mark.parametrize("kernel", relu1d.KERNELS)
@pytest.mark.parametrize("lr", [0.05, 0.5])
def test_trainer_step_is_the_objective_step_bit_for_bit(kernel, lr):
    # The trainer's step (fused and in place for the fast kernel) is exactly
    # theta - lr * objective.grad(theta), over a path whose knots cross data points
    x, y = relu1d.make_data(40, rng=7)
    obj = relu1d.Objective(x, y, kernel=kernel)
    theta = relu1d.init_params(30, rng=8, scale=2.0)
    m = relu1d.width_of(theta)

    def active(th):
        return (np.outer(th[:m], x) + th[m:2 * m, None]) > 0

    start, moved = theta.copy(), 0
    for _ in range(300):
        before = active(theta)
        theta = theta - lr * obj.grad(theta)
        moved += int((active(theta) != before).sum())
    assert moved > 10
    run = relu1d.train(obj, start, lr=lr, steps=300, record_every=1000, sharpness_every=0)
    np.testing.assert_array_equal(run.theta, theta)


@pytest.mark.parametrize("kernel", relu1d.KERNELS)
def test_dead_neurons_stay_put_and_the_rest_steps_exactly(kernel):
    # Neurons inactive on all the data have a zero gradient: the fast trainer steps only the
    # others. The run, with records, sharpness measurements and chunk boundaries in between, is
    # still theta - lr * grad step for step, bit for bit.
    x, y = relu1d.make_data(30, rng=11)
    obj = relu1d.Objective(x, y, kernel=kernel)
    theta = relu1d.init_params(24, rng=12)
    m = relu1d.width_of(theta)
    dead = np.arange(0, m, 3)
    theta[dead], theta[m + dead] = 1.0, -5.0  # w x + b < 0 on [-1, 1]
    start = theta.copy()
    for _ in range(500):
        theta = theta - 0.05 * obj.grad(theta)
    np.testing.assert_array_equal(theta[dead], start[dead])
    run = relu1d.train(obj, start, lr=0.05, steps=500, record_every=7, sharpness_every=11, checkpoint_every=97)
    np.testing.assert_array_equal(run.theta, theta)
    assert np.isfinite(run.history["sharpness"]).sum() == len(range(0, 500, 11))


@given(problems(max_n=30, min_width=1, max_width=20, x_scale=2.0, y_scale=2.0, weight_scale=2.0),
       st.sampled_from([1e-3, 1e-2, 5e-2]), st.integers(1, 40), st.integers(1, 40))
def test_trainer_steps_are_objective_steps_on_adversarial_problems(problem, lr, steps, chunk):
    # ties, w = 0, dead neurons, knots exactly on data points, widths around the 8-neuron SIMD
    # blocks: the compiled step (fused, in place, over the live neurons) is the objective's step,
    # bit for bit, with records and chunk boundaries in between
    x, y, theta = problem
    obj = relu1d.Objective(x, y)
    start = theta.copy()
    try:
        with np.errstate(all="ignore"):
            for _ in range(steps):
                theta = theta - lr * obj.grad(theta)
            obj.loss(theta)
    except ValueError:  # the reference loop itself overflowed
        assume(False)
    run = relu1d.train(obj, start, lr=lr, steps=steps, record_every=7, sharpness_every=0,
                       checkpoint_every=chunk, max_loss=1e300)
    # "converged": the gradient became exactly zero, so the loop's later steps left theta alone
    assert run.status == "max_steps" or (run.status == "converged" and run.final_grad_norm == 0.0)
    np.testing.assert_array_equal(run.theta, theta)


@pytest.mark.parametrize("kernel", relu1d.KERNELS)
def test_matches_numpy_gd_with_clipping(data, theta0, kernel):
    x, y = data
    clip, steps = 0.05, 200
    obj = relu1d.Objective(x, y, kernel=kernel)
    run = relu1d.train(obj, theta0, lr=0.05, steps=steps, record_every=1, sharpness_every=0, clip=clip)
    theta, losses, gnorms, _ = np_gd(x, y, theta0, lambda s: 0.05, steps, clip=clip)
    # the threshold is active for some steps and inactive for others: both branches are exercised
    assert (gnorms > clip).any() and (gnorms < clip).any()
    assert_close_theta(run.theta, theta)
    np.testing.assert_allclose(run.history["loss"], losses, rtol=1e-12)
    np.testing.assert_allclose(run.history["grad_norm"], gnorms, rtol=1e-11)
    # clipping changed the trajectory (so the comparison above tests it)
    unclipped, *_ = np_gd(x, y, theta0, lambda s: 0.05, steps)
    assert np.max(np.abs(unclipped - theta)) > 1e-6
    assert run.config["clip"] == clip


def test_zero_steps_returns_theta0(data, theta0):
    obj = relu1d.Objective(*data)
    run = relu1d.train(obj, theta0, lr=0.1, steps=0)
    assert run.steps == 0
    assert run.history.rows == 0
    np.testing.assert_array_equal(run.theta, theta0)
    assert run.final_loss == pytest.approx(np_loss_grad(theta0, *data)[0], rel=1e-13)


def test_theta0_not_modified(data, theta0):
    th = theta0.copy()
    relu1d.train(relu1d.Objective(*data), th, lr=0.1, steps=50)
    np.testing.assert_array_equal(th, theta0)


# ---------------------------------------------------------------------------------------------
# Resume equivalence (bit-identical) and determinism

def assert_runs_identical(a, b):
    np.testing.assert_array_equal(a.theta, b.theta)
    assert a.steps == b.steps
    for k in EXACT_COLUMNS:
        assert a.history[k].dtype == b.history[k].dtype, k
        np.testing.assert_array_equal(a.history[k], b.history[k], err_msg=f"history column {k!r}")
    if a.eigvec is None:
        assert b.eigvec is None
    else:
        np.testing.assert_array_equal(a.eigvec, b.eigvec)
    assert a.final_loss == b.final_loss
    assert a.final_grad_norm == b.final_grad_norm


@pytest.mark.parametrize("kernel", relu1d.KERNELS)
@pytest.mark.parametrize("lr", [0.08, [(0, 0.08), (150, 0.3), (300, 0.05)]], ids=["constant", "piecewise"])
def test_resume_is_bit_identical(tmp_path, kernel, lr):
    obj, th0 = small_problem(n=30, width=12, kernel=kernel)
    N = 400
    kw = dict(lr=lr, record_every=5, sharpness_every=10, clip=1.0)
    whole = relu1d.train(obj, th0, steps=N, **kw)
    path = tmp_path / "half.npz"
    half = relu1d.train(obj, th0, steps=N // 2, checkpoint=path, **kw)
    assert half.steps == N // 2 and path.exists()
    resumed = relu1d.resume(path, steps=N - N // 2)
    assert resumed.status == "max_steps"
    assert_runs_identical(resumed, whole)
    assert np.isfinite(whole.history["sharpness"]).sum() == N // 10
    # the checkpoint was rewritten at the end of the resumed run
    again = relu1d.Run.load(path)
    assert again.steps == N
    np.testing.assert_array_equal(again.theta, whole.theta)
    assert resumed.wall_time >= half.wall_time


def test_resume_with_callable_lr_needs_lr(tmp_path):
    obj, th0 = small_problem()
    fn = lambda s: 0.1 / (1.0 + s / 100.0)  # noqa: E731
    whole = relu1d.train(obj, th0, lr=fn, steps=300, record_every=3, sharpness_every=30)
    path = tmp_path / "callable.npz"
    relu1d.train(obj, th0, lr=fn, steps=120, record_every=3, sharpness_every=30, checkpoint=path)
    with pytest.raises(ValueError, match="lr"):
        relu1d.resume(path, steps=180)
    resumed = relu1d.resume(path, steps=180, lr=fn)
    assert_runs_identical(resumed, whole)


def test_midrun_checkpoint_then_resume(tmp_path):
    obj, th0 = small_problem(n=30, width=12)
    N, every = 3000, 700
    kw = dict(lr=0.08, record_every=10, sharpness_every=50)
    whole = relu1d.train(obj, th0, steps=N, **kw)
    path = tmp_path / "ckpt.npz"
    copy = tmp_path / "snapshot.npz"
    snapshots = []

    def grab(run):
        # called after each chunk, before that chunk's checkpoint: copy the first checkpoint written
        if path.exists() and not snapshots:
            shutil.copy(path, copy)
            snapshots.append(run.steps)

    final = relu1d.train(obj, th0, steps=N, checkpoint=path, checkpoint_every=every, callback=grab, **kw)
    assert_runs_identical(final, whole)
    assert snapshots, "no checkpoint was written during the run"
    mid = relu1d.Run.load(copy)
    assert 0 < mid.steps < N
    assert mid.steps % every == 0
    assert mid.status == "max_steps"
    assert mid.history["step"][-1] < mid.steps
    resumed = relu1d.resume(copy, steps=N - mid.steps)
    assert_runs_identical(resumed, whole)


def test_resume_adds_steps_and_keeps_config(tmp_path):
    obj, th0 = small_problem()
    path = tmp_path / "r.npz"
    first = relu1d.train(obj, th0, lr=0.05, steps=100, record_every=10, checkpoint=path)
    out = tmp_path / "elsewhere.npz"
    second = relu1d.resume(path, steps=50, checkpoint=out)
    assert second.steps == 150
    assert second.config == first.config
    assert relu1d.Run.load(out).steps == 150
    assert relu1d.Run.load(path).steps == 100  # untouched when another checkpoint file is named
    assert relu1d.resume(out, steps=0).steps == 150


def test_checkpoint_seconds_writes_during_run(tmp_path):
    obj, th0 = small_problem()
    path = tmp_path / "timed.npz"
    seen = []

    def cb(run):
        if path.exists():
            seen.append(relu1d.Run.load(path).steps)
        return len(seen) >= 2 or run.steps > 10**8

    run = relu1d.train(obj, th0, lr=0.05, steps=10**9, checkpoint=path, checkpoint_seconds=0.01, callback=cb)
    assert run.status == "stopped"
    assert len(seen) == 2 and 0 < seen[0] < seen[1] <= run.steps  # rewritten as the run went on
    final = relu1d.Run.load(path)
    assert final.status == "stopped" and final.steps == run.steps


def test_resume_after_divergence_does_not_duplicate_rows(tmp_path):
    obj, th0 = small_problem()
    path = tmp_path / "div.npz"
    run = relu1d.train(obj, th0, lr=50.0, steps=1000, record_every=1, checkpoint=path)
    assert run.status == "diverged"
    more = relu1d.resume(path, steps=10, lr=0.05)
    steps = more.history["step"]
    assert (np.diff(steps) > 0).all(), steps


def test_progress_output(capsys):
    obj, th0 = small_problem()
    run = relu1d.train(obj, th0, lr=0.05, steps=1000, progress=True)
    assert run.steps == 1000
    err = capsys.readouterr().err
    try:
        import tqdm  # noqa: F401
    except ImportError:  # the plain fallback: a line on stderr
        assert "1,000/1,000 steps" in err and "loss=" in err
    else:
        assert "1000" in err or "1.00k" in err
    relu1d.train(obj, th0, lr=0.05, steps=1000, progress=False)
    assert capsys.readouterr().err == ""


def test_dense_threads_bit_identical():
    # n * m above the kernel's threshold for going parallel, several data and neuron blocks
    x, y = relu1d.make_data(1100, rng=5)
    th0 = relu1d.init_params(300, rng=6)
    runs = []
    for threads in (1, 2):
        obj = relu1d.Objective(x, y, kernel="dense", threads=threads)
        runs.append(relu1d.train(obj, th0, lr=0.05, steps=12, record_every=1, sharpness_every=6,
                                 sharpness_max_iter=60))
    assert_runs_identical(runs[0], runs[1])
    # threads= in train overrides the objective's setting
    obj1 = relu1d.Objective(x, y, kernel="dense", threads=1)
    other = relu1d.train(obj1, th0, lr=0.05, steps=12, record_every=1, sharpness_every=6,
                         sharpness_max_iter=60, threads=2)
    assert other.config["threads"] == 2
    assert_runs_identical(other, runs[0])


def test_fast_and_dense_kernels_agree():
    obj, th0 = small_problem(n=40, width=15)
    a = relu1d.train(obj, th0, lr=0.05, steps=300, record_every=10, sharpness_every=50)
    b = relu1d.train(obj.with_kernel("dense"), th0, lr=0.05, steps=300, record_every=10, sharpness_every=50)
    assert_close_theta(a.theta, b.theta, rel=1e-11)
    np.testing.assert_allclose(a.history["loss"], b.history["loss"], rtol=1e-11)
    np.testing.assert_allclose(a.history["sharpness"], b.history["sharpness"], rtol=1e-9)


# ---------------------------------------------------------------------------------------------
# Ctrl-C

def test_sigint_interrupts_and_checkpoint_resumes(tmp_path):
    if not hasattr(signal, "SIGINT") or sys.platform == "win32":
        pytest.skip("POSIX signals needed")
    ckpt = tmp_path / "interrupt.npz"
    proc = subprocess.Popen([sys.executable, str(HERE / "_interrupt_worker.py"), str(ckpt)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        ready, _, _ = select.select([proc.stdout], [], [], 60)  # the worker prints READY from its first callback
        assert ready, "worker printed nothing in 60 s"
        line = proc.stdout.readline()
        assert line.strip() == "READY", f"worker did not start: {line!r} {proc.stderr.read()}"
        time.sleep(0.2)
        sent = time.perf_counter()
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=30)
        latency = time.perf_counter() - sent
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    print(f"SIGINT -> process exit: {latency:.3f} s (design target 0.5 s)")
    assert proc.returncode == 0, err
    assert latency < 5.0, f"took {latency:.2f} s to stop after SIGINT"
    result = json.loads(out.strip().splitlines()[-1])
    assert result["status"] == "interrupted"
    assert result["steps"] > 0
    assert result["rows"] > 0
    assert result["finite"] is True
    saved = relu1d.Run.load(ckpt)
    assert saved.status == "interrupted"
    assert saved.steps == result["steps"]
    assert saved.history.rows == result["rows"]
    assert saved.history["step"][-1] < saved.steps
    np.testing.assert_array_equal(saved.theta, np.array(result["theta"]))
    more = relu1d.resume(ckpt, steps=2500)
    assert more.status == "max_steps"
    assert more.steps == saved.steps + 2500
    assert more.history.rows > saved.history.rows
    # the resumed run continues where the interrupted one stopped: same as training on from its theta
    fresh = relu1d.train(saved.objective, saved.theta, lr=saved.config["lr"][0][1], steps=2500, record_every=1,
                         sharpness_every=0)
    np.testing.assert_array_equal(more.theta, fresh.theta)


# ---------------------------------------------------------------------------------------------
# Stopping rules

def test_divergence_huge_lr():
    obj, th0 = small_problem()
    run = relu1d.train(obj, th0, lr=50.0, steps=10_000, record_every=1, sharpness_every=0)
    assert run.status == "diverged"
    assert run.steps < 10_000
    assert run.diverged_loss is not None and run.diverged_loss > run.config["max_loss"]
    assert np.isfinite(run.theta).all()
    for k in ("loss", "grad_norm", "lr"):
        assert np.isfinite(run.history[k]).all(), k
    assert (run.history["loss"] <= run.config["max_loss"]).all()
    # theta is the last iterate with an acceptable loss, which is the last recorded row
    assert run.history["step"][-1] == run.steps
    assert obj.loss(run.theta) == run.history["loss"][-1]
    assert np.isfinite(run.final_loss) and run.final_loss <= run.config["max_loss"]
    assert "diverg" in run.summary()


def test_divergence_non_finite_loss():
    # max_loss out of reach: the run stops only when the loss overflows to inf / nan
    obj, th0 = small_problem()
    run = relu1d.train(obj, th0, lr=1e3, steps=100_000, max_loss=1e308, record_every=1, sharpness_every=0)
    assert run.status == "diverged"
    assert not np.isfinite(run.diverged_loss) or run.diverged_loss > 1e308
    assert np.isfinite(run.theta).all()
    assert np.isfinite(run.history["loss"]).all()
    assert np.isfinite(run.history["grad_norm"]).all()
    assert np.isfinite(obj.loss(run.theta))
    assert run.steps == run.history["step"][-1]


def test_divergence_at_step_zero_keeps_theta0():
    obj, th0 = small_problem()
    run = relu1d.train(obj, th0, lr=0.05, steps=100, max_loss=obj.loss(th0) / 2)
    assert run.status == "diverged"
    assert run.steps == 0
    np.testing.assert_array_equal(run.theta, th0)


@pytest.mark.parametrize("kernel", relu1d.KERNELS)
@pytest.mark.parametrize("checkpoint_every", [None, 1000])
def test_late_divergence_steps_back_exactly(tmp_path, kernel, checkpoint_every):
    # ~9000 quiet steps, then a step size that blows up: the run keeps the last acceptable
    # iterate, bit-identical to a run stopped there, however far back the last record was and
    # whether or not the run was cut into chunks in between
    obj, th0 = small_problem(kernel=kernel)
    lr = [(0, 0.05), (9000, 50.0)]
    ckpt = tmp_path / "run.npz" if checkpoint_every else None
    run = relu1d.train(obj, th0, lr=lr, steps=20_000, record_every=5000, sharpness_every=0,
                       checkpoint=ckpt, checkpoint_every=checkpoint_every)
    assert run.status == "diverged"
    assert 9000 <= run.steps < 20_000
    assert run.history["step"][-1] < run.steps  # the last record is far behind
    assert obj.loss(run.theta) <= run.config["max_loss"] < run.diverged_loss
    again = relu1d.train(obj, th0, lr=lr, steps=run.steps, record_every=5000, sharpness_every=0)
    assert again.status == "max_steps"
    np.testing.assert_array_equal(run.theta, again.theta)


@pytest.mark.parametrize("record_every", [1, 1000])
def test_gradient_overflow_at_acceptable_loss_keeps_theta(record_every):
    # a neuron with w = 1e307, v = 1e-307: f stays finite, but dL/dv = w S1 / n overflows
    obj, th0 = small_problem()
    th0 = th0.copy()
    m = relu1d.width_of(th0)
    th0[0], th0[m], th0[2 * m] = 1e307, 0.0, 1e-307
    assert np.isfinite(obj.loss(th0))
    run = relu1d.train(obj, th0, lr=0.01, steps=100, record_every=record_every, sharpness_every=0)
    assert run.status == "diverged"
    assert run.steps == 0
    np.testing.assert_array_equal(run.theta, th0)
    assert run.final_loss == obj.loss(th0)
    g = obj.grad(th0)
    assert run.final_grad_norm == pytest.approx(np.abs(g).max() * np.linalg.norm(g / np.abs(g).max()))


def test_diverged_checkpoint_then_resume(tmp_path):
    obj, th0 = small_problem()
    path = tmp_path / "div.npz"
    run = relu1d.train(obj, th0, lr=50.0, steps=10_000, checkpoint=path)
    saved = relu1d.Run.load(path)
    assert saved.status == "diverged"
    assert saved.diverged_loss == run.diverged_loss
    np.testing.assert_array_equal(saved.theta, run.theta)
    again = relu1d.resume(path, steps=10)
    assert again.status == "diverged"  # same lr, same theta: diverges again at once


def test_loss_tol_converges():
    obj, th0 = small_problem()
    ref = relu1d.train(obj, th0, lr=0.1, steps=2000, record_every=1, sharpness_every=0)
    target = float(ref.history["loss"][1000])
    first = int(np.argmax(ref.history["loss"] <= target))  # first step meeting the tolerance
    assert first > 0
    run = relu1d.train(obj, th0, lr=0.1, steps=100_000, loss_tol=target, record_every=1, sharpness_every=0)
    assert run.status == "converged"
    assert run.steps == first
    assert run.history["loss"][-1] <= target
    assert (run.history["loss"][:-1] > target).all()
    np.testing.assert_array_equal(run.theta, obj_theta_at(obj, th0, 0.1, first))
    assert run.final_loss <= target


def test_grad_tol_converges():
    obj, th0 = small_problem()
    ref = relu1d.train(obj, th0, lr=0.1, steps=2000, record_every=1, sharpness_every=0)
    tol = float(ref.history["grad_norm"][1500])
    first = int(np.argmax(ref.history["grad_norm"] <= tol))
    assert first > 0
    run = relu1d.train(obj, th0, lr=0.1, steps=200_000, grad_tol=tol, record_every=1, sharpness_every=0)
    assert run.status == "converged"
    assert run.steps == first
    assert run.history["grad_norm"][-1] <= tol
    assert (run.history["grad_norm"][:-1] > tol).all()
    assert run.final_grad_norm <= tol


def test_tolerances_met_at_start():
    obj, th0 = small_problem()
    run = relu1d.train(obj, th0, lr=0.1, steps=1000, grad_tol=1e10)
    assert run.status == "converged" and run.steps == 0
    np.testing.assert_array_equal(run.theta, th0)


def obj_theta_at(obj, th0, lr, steps):
    return relu1d.train(obj, th0, lr=lr, steps=steps, sharpness_every=0).theta


def test_callback_true_stops_run():
    obj, th0 = small_problem()
    seen = []

    def cb(run):
        seen.append((type(run), run.steps, run.status, run.history.rows))
        return True

    run = relu1d.train(obj, th0, lr=0.05, steps=10**9, callback=cb)
    assert run.status == "stopped"
    assert len(seen) == 1
    cls, steps, _, rows = seen[0]
    assert cls is relu1d.Run
    assert 0 < steps < 10**9
    assert run.steps == steps
    assert rows > 0


def test_callback_non_true_values_do_not_stop():
    obj, th0 = small_problem()
    calls = []

    def cb(run):
        calls.append(run.steps)
        return 1  # truthy but not True: only True stops

    run = relu1d.train(obj, th0, lr=0.05, steps=20_000, callback=cb)
    assert run.status == "max_steps"
    assert run.steps == 20_000
    assert calls and all(0 < s <= 20_000 for s in calls)
    assert calls == sorted(calls)


def test_callback_stop_after_some_steps_and_partial_run():
    obj, th0 = small_problem()

    def cb(run):
        assert isinstance(run, relu1d.Run)
        assert run.history.rows > 0
        np.testing.assert_array_equal(run.theta.shape, th0.shape)
        return run.steps >= 2 * 16384

    run = relu1d.train(obj, th0, lr=lambda s: 0.05, steps=10**7, callback=cb)
    assert run.status == "stopped"
    # a callable lr runs in chunks of at most 16384 steps (fewer if a chunk hits its time budget)
    assert 2 * 16384 <= run.steps <= 3 * 16384


def test_callback_exception_propagates():
    obj, th0 = small_problem()

    def cb(run):
        raise RuntimeError("boom")

    with pytest.raises(RuntimeError, match="boom"):
        relu1d.train(obj, th0, lr=0.05, steps=10**6, callback=cb)


# ---------------------------------------------------------------------------------------------
# History size and contents

def test_default_record_every_bounds_history():
    obj, th0 = small_problem(n=20, width=10)
    steps = 100_000
    run = relu1d.train(obj, th0, lr=0.05, steps=steps)
    every = run.config["record_every"]
    assert every == steps // 10_000
    assert run.history.rows == steps // every == 10_000
    np.testing.assert_array_equal(run.history["step"], np.arange(0, steps, every))
    # sharpness defaults to 10 x the record interval (about 10^3 measurements)
    sharp_every = run.config["sharpness_every"]
    assert sharp_every == 10 * every
    measured = np.isfinite(run.history["sharpness"])
    np.testing.assert_array_equal(run.history["step"][measured], np.arange(0, steps, sharp_every))
    assert (run.history["sharpness_products"][measured] > 0).all()
    assert (run.history["sharpness_products"][~measured] == -1).all()  # not measured
    assert 0 <= run.sharpness_time <= run.wall_time


def test_record_rows_not_divisible():
    obj, th0 = small_problem(n=20, width=5)
    steps = 12_345
    run = relu1d.train(obj, th0, lr=0.05, steps=steps, sharpness_every=0)
    every = run.config["record_every"]
    assert every == 1
    assert run.history.rows == steps
    run = relu1d.train(obj, th0, lr=0.05, steps=steps, record_every=100, sharpness_every=0)
    assert run.history.rows == -(-steps // 100)
    assert len(run.history["loss"]) == run.history.rows


def test_sharpness_every_independent_of_record_every():
    obj, th0 = small_problem()
    run = relu1d.train(obj, th0, lr=0.05, steps=100, record_every=10, sharpness_every=25)
    h = run.history
    # rows at multiples of either interval; sharpness only at multiples of 25
    expected = sorted(set(range(0, 100, 10)) | set(range(0, 100, 25)))
    np.testing.assert_array_equal(h["step"], expected)
    measured = np.isfinite(h["sharpness"])
    np.testing.assert_array_equal(h["step"][measured], [0, 25, 50, 75])
    assert (h["sharpness_products"][~measured] == -1).all()
    assert np.isnan(h["sharpness_residual"][~measured]).all()
    assert (h["sharpness_residual"][measured] >= 0).all()


def test_history_columns_and_types():
    obj, th0 = small_problem()
    run = relu1d.train(obj, th0, lr=0.05, steps=60, record_every=6)
    h = run.history
    assert list(h) == ["step", "loss", "grad_norm", "lr", "knots", "sharpness", "sharpness_residual",
                       "sharpness_products", "wtv1", "effective_knots", "time"]
    for k in ("step", "knots", "sharpness_products", "effective_knots"):
        assert h[k].dtype.kind == "i", k
    assert (np.diff(h["time"]) >= 0).all()
    assert ((h["knots"] >= 0) & (h["knots"] <= 10)).all()
    assert h["knots"][0] == obj.knots_inside(th0)
    with pytest.raises(KeyError, match="nope"):
        h["nope"]
    assert h.last("loss") == h["loss"][-1]


def test_summary_and_repr():
    obj, th0 = small_problem()
    run = relu1d.train(obj, th0, lr=0.05, steps=500, record_every=10)
    text = run.summary()
    assert "status" in text and "max_steps" in text and "500" in text
    assert "sharpness" in text
    r = repr(run)
    assert r.startswith("Run(status='max_steps'")
    assert "n=20" in r and "width=10" in r
    assert run.edge_of_stability == pytest.approx(40.0)
    assert run.lr == 0.05
    assert run.width == 10


# ---------------------------------------------------------------------------------------------
# Argument checking

def _bad(obj, th0, **over):
    kw = dict(lr=0.05, steps=10)
    kw.update(over)
    return relu1d.train(obj, th0, **kw)


@pytest.mark.parametrize("over, exc, name", [
    (dict(steps=-1), ValueError, "steps"),
    (dict(steps=1.5), TypeError, "steps"),
    (dict(steps=True), TypeError, "steps"),
    (dict(lr=0.0), ValueError, "lr"),
    (dict(lr=-0.1), ValueError, "lr"),
    (dict(lr=float("nan")), ValueError, "lr"),
    (dict(lr=float("inf")), ValueError, "lr"),
    (dict(lr=None), TypeError, "lr"),
    (dict(lr=True), TypeError, "lr"),
    (dict(lr="0.1"), (TypeError, ValueError), "lr"),
    (dict(lr=[]), ValueError, "lr"),
    (dict(lr=[(5, 0.1)]), ValueError, "lr"),
    (dict(lr=[(0, 0.1), (0, 0.2)]), ValueError, "lr"),
    (dict(lr=[(0, 0.1), (10, -0.2)]), ValueError, "lr"),
    (dict(lr=[(0, 0.1, 3)]), ValueError, "lr"),
    (dict(record_every=0), ValueError, "record_every"),
    (dict(record_every=-3), ValueError, "record_every"),
    (dict(sharpness_every=-1), ValueError, "sharpness_every"),
    (dict(clip=0.0), ValueError, "clip"),
    (dict(clip=float("nan")), ValueError, "clip"),
    (dict(grad_tol=-1.0), ValueError, "grad_tol"),
    (dict(loss_tol=float("nan")), ValueError, "loss_tol"),
    (dict(max_loss=0.0), ValueError, "max_loss"),
    (dict(max_loss=float("inf")), ValueError, "max_loss"),
    (dict(sharpness_tol=0.0), ValueError, "sharpness_tol"),
    (dict(sharpness_max_iter=0), ValueError, "sharpness_max_iter"),
    (dict(threads=0), ValueError, "threads"),
    (dict(checkpoint_every=0), ValueError, "checkpoint_every"),
    (dict(checkpoint_seconds=-1.0), ValueError, "checkpoint_seconds"),
    (dict(callback=3), TypeError, "callback"),
])
def test_train_bad_arguments(over, exc, name):
    obj, th0 = small_problem()
    with pytest.raises(exc, match=name):
        _bad(obj, th0, **over)


@pytest.mark.parametrize("theta, exc", [
    (np.zeros(5), ValueError),                     # not 3m+1
    (np.zeros((2, 4)), ValueError),                # not 1-D
    (np.array([]), ValueError),
    (np.array([0.1, 0.2, np.nan, 0.3]), ValueError),
    ("abc", TypeError),
])
def test_train_bad_theta(theta, exc):
    obj, _ = small_problem()
    with pytest.raises(exc, match="theta"):
        relu1d.train(obj, theta, lr=0.05, steps=10)


def test_train_bad_objective():
    _, th0 = small_problem()
    x, y = relu1d.make_data(20)
    with pytest.raises(TypeError, match="objective"):
        relu1d.train((x, y), th0, lr=0.05, steps=10)


def test_callable_lr_bad_value_raises_during_run():
    obj, th0 = small_problem()
    with pytest.raises(ValueError, match="lr"):
        relu1d.train(obj, th0, lr=lambda s: 0.05 if s < 5 else -1.0, steps=10)
    with pytest.raises(ValueError, match="lr"):
        relu1d.train(obj, th0, lr=lambda s: float("nan"), steps=10)


def test_resume_bad_arguments(tmp_path):
    obj, th0 = small_problem()
    path = tmp_path / "ok.npz"
    relu1d.train(obj, th0, lr=0.05, steps=10, checkpoint=path)
    with pytest.raises(ValueError, match="steps"):
        relu1d.resume(path, steps=-1)
    with pytest.raises(FileNotFoundError, match="missing.npz"):
        relu1d.resume(tmp_path / "missing.npz", steps=10)
    with pytest.raises(ValueError, match="lr"):
        relu1d.resume(path, steps=10, lr=-1.0)
