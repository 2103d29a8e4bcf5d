"""Results do not depend on the number of threads, bit for bit (ALGORITHMS.md §5): the dense kernel,
and the fast kernel's threaded loops (the GD step, the scatter into slots by fixed blocks, the HVP,
the full Hessian), which the tests run on small problems by lowering the per-thread grain and the
scatter's block size."""

from __future__ import annotations

import contextlib
import os
import select
import signal

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import relu1d
from relu1d import _core
from relu1d.testing.strategies import problems

from helpers import mixed_network


@contextlib.contextmanager
def threaded_small(grain: int = 1, block: int = 4, sweep: int = 5):
    """Threads for a few neurons or points, the scatter in blocks of about max(`block`, 4 (n + 1))
    neurons (a power of two of them) and the sweeps in blocks of `sweep` points."""
    grain0, block0 = _core.set_parallel_grain(grain), _core.set_scatter_block_min(block)
    sweep0 = _core.set_sweep_block_points(sweep)
    try:
        yield
    finally:
        _core.set_parallel_grain(grain0)
        _core.set_scatter_block_min(block0)
        _core.set_sweep_block_points(sweep0)


def fast_results(x, y, theta, u, threads, steps=60, lr=0.02):
    """Everything the fast kernel computes at theta, and a short GD run with sharpness from theta."""
    obj = relu1d.Objective(x, y, threads=threads)
    with np.errstate(all="ignore"):
        run = relu1d.train(obj, theta, lr=lr, steps=steps, record_every=5, sharpness_every=20,
                           max_loss=1e300, progress=False)
    return dict(loss=obj.loss(theta), grad=obj.grad(theta), hvp=obj.hvp(theta, u), hessian=obj.hessian(theta),
                residuals=obj.residuals(theta), theta=run.theta, losses=run.history["loss"],
                sharpness=run.history["sharpness"], status=run.status)


def assert_same(results, reference, label):
    for key, value in reference.items():
        np.testing.assert_array_equal(results[key], value, err_msg=f"{key}, {label}")


@pytest.fixture(scope="module")
def large_problem():
    # n * m = 900000 >= 65536: the dense kernel uses several threads here.
    rng = np.random.default_rng(2024)
    n, m = 3000, 300
    x = np.round(rng.uniform(-3, 3, n), 3)  # ties
    y = np.sin(2 * x) + 0.1 * rng.standard_normal(n)
    theta = relu1d.init_params(m, rng=rng)
    theta[:20] = 1.0
    theta[m:m + 20] = -x[:20]  # knots exactly on data points
    theta[20:25] = 0.0  # w = 0 neurons with b of both signs
    theta[m + 20:m + 25] = [1.0, -1.0, 0.0, 0.5, -0.5]
    u = rng.standard_normal(theta.size)
    return x, y, theta, u


def test_dense_kernel_is_bit_identical_for_every_thread_count(large_problem):
    x, y, theta, u = large_problem
    results = []
    for threads in (1, 2, 3, None):
        obj = relu1d.Objective(x, y, kernel="dense", threads=threads)
        loss, g = obj.loss_and_grad(theta)
        results.append((threads, loss, g, obj.hvp(theta, u), obj.residuals(theta)))
    _, loss1, g1, hu1, r1 = results[0]
    for threads, loss, g, hu, r in results[1:]:
        assert loss == loss1, threads
        np.testing.assert_array_equal(g, g1, err_msg=f"gradient, threads={threads}")
        np.testing.assert_array_equal(hu, hu1, err_msg=f"HVP, threads={threads}")
        np.testing.assert_array_equal(r, r1, err_msg=f"residuals, threads={threads}")


def test_threaded_dense_agrees_with_fast(large_problem):
    """The threaded path computes the same numbers as the sorted-data kernel (to rounding)."""
    x, y, theta, u = large_problem
    dense = relu1d.Objective(x, y, kernel="dense", threads=3)
    fast = relu1d.Objective(x, y, kernel="fast")
    g_d, g_f = dense.grad(theta), fast.grad(theta)
    assert np.max(np.abs(g_d - g_f)) <= 1e-12 * np.max(np.abs(g_f))
    hu_d, hu_f = dense.hvp(theta, u), fast.hvp(theta, u)
    assert np.max(np.abs(hu_d - hu_f)) <= 1e-12 * np.max(np.abs(hu_f))


@pytest.mark.parametrize("m", [255, 257, 513])
def test_dense_residual_sums_by_blocks_of_256_neurons(m):
    # the residual sums run over blocks of 256 neurons (a last part block, or one block only), on
    # threads from n m >= 65536: the same bits on any thread count, the fast kernel's numbers to
    # rounding; w = 0, dead neurons and knots on data points among them
    n = 65536 // m + 1
    x, y, theta = mixed_network(n, m, seed=m, wild_params=False)
    u = np.random.default_rng(m).standard_normal(theta.size)
    results = []
    for threads in (1, 2, 3):
        obj = relu1d.Objective(x, y, kernel="dense", threads=threads)
        loss, g = obj.loss_and_grad(theta)
        results.append((loss, g, obj.hvp(theta, u)))
    for got in results[1:]:
        assert got[0] == results[0][0]
        for a, b in zip(got[1:], results[0][1:]):
            np.testing.assert_array_equal(a, b)
    fast = relu1d.Objective(x, y)
    for got, want in ((results[0][1], fast.grad(theta)), (results[0][2], fast.hvp(theta, u))):
        assert np.max(np.abs(got - want)) <= 1e-12 * np.max(np.abs(want))


# -------------------------------------------------------------------------------------------------
# The fast kernel
# -------------------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def wide_problem():
    # m = 600 neurons for n = 12 points: blocks of at least 4 (n + 1) = 52 neurons, a power of two
    # of them: 16 blocks of 38 (the last of 30); 3 and 5 threads do not divide them;
    # dead neurons (empty active set: the step skips them, the block bounds must not shift), ties,
    # knots on data points, w = 0
    rng = np.random.default_rng(7)
    n, m = 12, 600
    x = np.round(rng.uniform(-1, 1, n), 1)
    y = np.abs(x) + 0.1 * rng.standard_normal(n)
    theta = relu1d.init_params(m, rng=rng)
    dead = np.arange(0, m, 5)
    theta[dead], theta[m + dead] = 1.0, -5.0
    theta[1:40:5] = 0.0
    theta[2:60:5], theta[m + 2:m + 60:5] = 1.0, -x  # knots on the 12 data points
    u = rng.standard_normal(theta.size)
    return x, y, theta, u


def test_fast_kernel_is_bit_identical_for_every_thread_count(wide_problem):
    x, y, theta, u = wide_problem
    with threaded_small():
        reference = fast_results(x, y, theta, u, threads=1)
        for threads in (2, 3, 5, None):
            assert_same(fast_results(x, y, theta, u, threads=threads), reference, f"threads={threads}")
    assert reference["status"] == "max_steps"


def test_blocked_scatter_is_exact(wide_problem):
    # in blocks the slot sums are added in another order: still the dense kernel's numbers to
    # rounding, and the GD run still steps exactly theta - lr grad (a new prepare each step) bit for
    # bit, though the step runs over the live neurons only
    x, y, theta, u = wide_problem
    dense = relu1d.Objective(x, y, kernel="dense")
    with threaded_small():
        fast = relu1d.Objective(x, y, threads=2)
        g, gd = fast.grad(theta), dense.grad(theta)
        assert np.max(np.abs(g - gd)) <= 1e-13 * np.max(np.abs(gd))
        hu, hud = fast.hvp(theta, u), dense.hvp(theta, u)
        assert np.max(np.abs(hu - hud)) <= 1e-13 * np.max(np.abs(hud))
        H, Hd = fast.hessian(theta), dense.hessian(theta)
        assert np.max(np.abs(H - Hd)) <= 1e-13 * np.max(np.abs(Hd))
        stepped = theta.copy()
        for _ in range(40):
            stepped = stepped - 0.02 * fast.grad(stepped)
        run = relu1d.train(fast, theta, lr=0.02, steps=40, record_every=7, sharpness_every=0, checkpoint_every=9,
                           progress=False)
        np.testing.assert_array_equal(run.theta, stepped)


def test_block_size_changes_rounding_only(wide_problem):
    # the block size sets the order of additions: results move by rounding, not more
    x, y, theta, u = wide_problem
    one = relu1d.Objective(x, y, threads=1)
    whole = (one.grad(theta), one.hvp(theta, u))
    with threaded_small():
        blocked = (one.grad(theta), one.hvp(theta, u))
    for a, b in zip(whole, blocked):
        assert np.max(np.abs(a - b)) <= 1e-13 * np.max(np.abs(a))


# (the strategy discards networks whose knots fall badly; at widths up to 40 that can be most draws)
@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.filter_too_much, HealthCheck.too_slow])
@given(problems(max_n=10, min_width=1, max_width=40, x_scale=2.0, y_scale=2.0, weight_scale=2.0),
       st.integers(1, 8), st.integers(2, 4))
def test_fast_kernel_threads_on_adversarial_problems(problem, block, threads):
    # ties, w = 0, dead neurons, knots exactly on data points; blocks of as few as 4 (n + 1)
    # neurons and a thread per neuron
    x, y, theta = problem
    u = np.linspace(-1.0, 1.0, theta.size)
    with threaded_small(block=block):
        reference = fast_results(x, y, theta, u, threads=1, steps=15)
        assert_same(fast_results(x, y, theta, u, threads=threads, steps=15), reference, f"threads={threads}")


def test_parallel_settings_are_checked():
    with pytest.raises(ValueError, match="items"):
        _core.set_parallel_grain(0)
    with pytest.raises(ValueError, match="neurons"):
        _core.set_scatter_block_min(0)


def test_sharpness_is_bit_identical_for_every_thread_count():
    # dim = 3 m + 1 = 36001 > 2 x 16384: the Lanczos vector passes run over three blocks, on threads
    # where the grain allows; the eigenpairs (and the trainer's sharpness column) keep their bits
    x, y = relu1d.make_data(50, rng=3)
    theta = relu1d.init_params(12000, rng=4)
    results = []
    with threaded_small(grain=1000):
        for threads in (1, 2, 3):
            obj = relu1d.Objective(x, y, threads=threads)
            pairs = relu1d.sharpness(obj, theta, k=2)
            run = relu1d.train(obj, theta, lr=0.5 / pairs.eigenvalues[0], steps=4, record_every=2, sharpness_every=2,
                               progress=False)
            results.append((pairs.eigenvalues, pairs.eigenvectors, run.history["sharpness"], run.theta))
    assert np.all(np.isfinite(results[0][2]))
    for got in results[1:]:
        for a, b in zip(got, results[0]):
            np.testing.assert_array_equal(a, b)


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs fork")
def test_a_forked_child_computes_without_the_parents_threads(wide_problem):
    # multiprocessing's fork start method copies an objective whose threads exist only in the
    # parent: the child must compute (on its one thread, the same bits), not wait for them forever
    x, y, theta, u = wide_problem
    with threaded_small():
        obj = relu1d.Objective(x, y, threads=2)
        expected = obj.hvp(theta, u)  # the pool exists now
        read, write = os.pipe()
        pid = os.fork()
        if pid == 0:  # pragma: no cover - the child
            os.close(read)
            code = 1
            try:
                same = np.array_equal(obj.hvp(theta, u), expected) and np.array_equal(obj.hessian(theta),
                                                                                      obj.hessian(theta))
                code = 0 if same else 2
            finally:
                os.write(write, bytes([code]))
                os._exit(code)
        os.close(write)
        ready, _, _ = select.select([read], [], [], 60)
        if not ready:
            os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
            pytest.fail("the forked child hangs")
        code = os.read(read, 1)
        os.close(read)
        os.waitpid(pid, 0)
        assert code == bytes([0])
        np.testing.assert_array_equal(obj.hvp(theta, u), expected)  # the parent's threads still work


def test_a_run_checkpointed_on_two_threads_resumes_on_one(tmp_path, wide_problem):
    # results never depend on the threads: a run saved with threads=2 continues on another count
    # (resume(threads=...)) exactly as the run done in one go on one thread
    x, y, theta, _ = wide_problem
    path = tmp_path / "run.npz"
    options = dict(lr=[(0, 0.02), (20, 0.01)], record_every=3, sharpness_every=7, clip=0.5, progress=False)
    with threaded_small():
        whole = relu1d.train(relu1d.Objective(x, y, threads=1), theta, steps=50, **options)
        relu1d.train(relu1d.Objective(x, y, threads=2), theta, steps=25, checkpoint=path, **options)
        resumed = relu1d.resume(path, steps=25, threads=1)
    assert resumed.objective.threads == 1 and resumed.config.threads == 1
    assert relu1d.Run.load(path).config.threads == 1
    np.testing.assert_array_equal(resumed.theta, whole.theta)
    # (the first call's last step, 25, has a row of its own)
    rows = resumed.history["step"] != 25
    for column in whole.history:
        if column != "time":
            np.testing.assert_array_equal(resumed.history[column][rows], whole.history[column], err_msg=column)
    with pytest.raises(ValueError, match="^threads: "):
        relu1d.resume(path, steps=1, threads=0)
    with pytest.raises(TypeError, match="^threads: "):
        relu1d.resume(path, steps=1, threads=1.5)


def test_cli_threads_option(tmp_path, capsys):
    from relu1d.__main__ import main

    assert main(["train", "--help"]) == 0
    help_text = " ".join(capsys.readouterr().out.split())
    assert "--threads THREADS threads of the kernel" in help_text and "dense kernel" not in help_text
    out = tmp_path / "r.npz"
    assert main(["train", "--steps", "20", "--n", "10", "--width", "5", "--threads", "2", "--out", str(out),
                 "--no-progress"]) == 0
    assert relu1d.Run.load(out).config.threads == 2
    assert main(["resume", str(out), "--steps", "20", "--threads", "1", "--no-progress"]) == 0
    resumed = relu1d.Run.load(out)
    assert resumed.config.threads == 1 and resumed.steps == 40
    assert main(["train", "--steps", "40", "--n", "10", "--width", "5", "--threads", "1", "--out",
                 str(tmp_path / "whole.npz"), "--no-progress"]) == 0
    np.testing.assert_array_equal(resumed.theta, relu1d.Run.load(tmp_path / "whole.npz").theta)


@pytest.mark.parametrize("setter, name", [(_core.set_parallel_grain, "items"), (_core.set_scatter_block_min, "neurons")])
def test_parallel_hooks_reject_what_is_not_a_count(setter, name):
    before = setter(7)
    try:
        for bad in (True, 1.5, "2", None):
            with pytest.raises(TypeError, match=f"^{name}: expected an integer"):
                setter(bad)
        for bad in (0, -1, 2**70):
            with pytest.raises(ValueError, match=f"^{name}: must be"):
                setter(bad)
        assert setter(np.int64(5)) == 7 and setter(before) == 5
    finally:
        setter(before)


@pytest.mark.parametrize("sweep", [3, 16, 1000])
def test_blocked_sweeps_are_bit_identical_for_every_thread_count_and_exact(sweep):
    # many points for few neurons (the segment sweep): stretches of data between knots cross the
    # sweep blocks, whose pieces run on threads and are added in block order
    rng = np.random.default_rng(11)
    n, m = 400, 12
    x = np.round(rng.uniform(-2, 2, n), 2)  # ties
    y = np.sin(3 * x) + 0.1 * rng.standard_normal(n)
    theta = relu1d.init_params(m, rng=rng)
    theta[0], theta[m] = 1.0, -x[7]  # a knot on a data point
    theta[1], theta[m + 1] = 1.0, -5.0  # dead
    u = rng.standard_normal(theta.size)
    with threaded_small(sweep=sweep):
        reference = fast_results(x, y, theta, u, threads=1, steps=40)
        for threads in (2, 3):
            assert_same(fast_results(x, y, theta, u, threads=threads, steps=40), reference, f"threads={threads}")
        dense = relu1d.Objective(x, y, kernel="dense")
        fast = relu1d.Objective(x, y, threads=3)
        for got, want in ((fast.grad(theta), dense.grad(theta)), (fast.hvp(theta, u), dense.hvp(theta, u))):
            assert np.max(np.abs(got - want)) <= 1e-13 * np.max(np.abs(want))


def test_loss_over_long_data_is_bit_identical_for_every_thread_count():
    # n = 70 000 > 65 536 points: the loss's sum runs in two blocks, on threads where allowed
    rng = np.random.default_rng(12)
    x = rng.uniform(-1, 1, 70_000)
    y = np.abs(x) + 0.1 * rng.standard_normal(x.size)
    theta = relu1d.init_params(6, rng=rng)
    with threaded_small(grain=1000, sweep=4096):
        losses = [relu1d.Objective(x, y, threads=t).loss(theta) for t in (1, 2, 3)]
        runs = [relu1d.train(relu1d.Objective(x, y, threads=t), theta, lr=0.1, steps=5, record_every=1,
                             sharpness_every=0, progress=False).history["loss"] for t in (1, 2)]
    assert losses[0] == losses[1] == losses[2]
    np.testing.assert_array_equal(runs[0], runs[1])
    dense = relu1d.Objective(x, y, kernel="dense").loss(theta)
    assert abs(losses[0] - dense) <= 1e-14 * dense


@pytest.mark.parametrize("n, m", [(40, 1), (40, 33), (20, 65), (257, 70)])
def test_full_hessian_with_mixed_tiles_is_bit_identical_for_every_thread_count(n, m):
    # tiles that mix tame pairs (the vectorised formulas) with pairs summed point by point
    # (parameters scaled by up to 1e200 / 1e-250, data beyond 2^200), a last part tile
    x, y, theta = mixed_network(n, m, seed=n + m, outlier=1e250 if n > 30 else 0.0)
    with threaded_small():
        H = [relu1d.Objective(x, y, threads=t)._core.hessian(theta, check_finite=False) for t in (1, 2, 3)]
    for got in H[1:]:
        assert np.array_equal(got, H[0], equal_nan=True)


def scatter_path(m, n, live, threads, block_min, grain=1):
    """(blocks, path) of FastKernel::descend as scatter_block() and descend() choose them: "one"
    thread, the fused step on an "even" share of the blocks per thread or on "many" blocks taken
    one at a time, or "unfused" (the neurons split finer; evaluate scatters). Only for checking
    that the cases below cover every path."""
    least = max(block_min, 4 * (n + 1), 1)
    needed, blocks = -(-m // least), 1
    while blocks < needed:
        blocks *= 2
    size = max(1, -(-m // blocks))
    blocks = max(1, -(-m // size))
    parts = max(1, min(threads, live // grain))
    if parts <= 1:
        return blocks, "one"
    return blocks, "even" if blocks % parts == 0 else "many" if blocks >= 4 * parts else "unfused"


def outlier_network(m, seed):
    """n = 8: an outlier at -1e300 outside every active set (w >= 0, knots inside [-1, 1]), so
    that every ninth neuron, with |v w| = 1e5 and an active set of the largest point (z about 1),
    has wild coefficients (|v w| max|x| > 2^1020 / (m + 1)); dead neurons, w = 0, knots on data."""
    rng = np.random.default_rng(seed)
    xo = np.round(rng.uniform(-1, 1, 7), 1)
    x = np.concatenate([[-1e300], xo])
    y = np.concatenate([[0.0], np.abs(xo) + 0.1 * rng.standard_normal(7)])
    w = rng.uniform(0.2, 2.0, m)
    b = -w * rng.uniform(-0.9, 0.9, m)
    v = 0.3 * rng.standard_normal(m)
    w[3::11], b[3::11] = 1.0, -5.0  # dead
    w[5::13], b[5::13] = 1.0, -xo[np.arange(5, m, 13) % 7]  # knots on data points
    w[7::17], b[7::17] = 0.0, -1.0  # w = 0, dead
    w[1::9], b[1::9], v[1::9] = 1e8, -1e8 * xo.max() + 1.0, 1e-3  # wild
    return x, y, relu1d.pack(w, b, v, 0.1)


# (m, scatter_block_min, blocks): n = 8, so blocks of at least 4 (n + 1) = 36 neurons, a power of
# two of them, m split evenly; 2305 neurons make 122 blocks of 19 (the count need not be a power
# of two, only their size is fixed by m)
SCATTER_CASES = [(33, 1, 1), (144, 1, 4), (576, 1, 16), (1152, 1, 32), (1000, 100, 16), (2305, 1, 122)]
SCATTER_THREADS = (2, 3, 4, 5, 8)


def live_neurons(m):
    """The neurons of outlier_network(m) with a non-empty active set (the GD step's)."""
    return m - len(set(range(3, m, 11)) | set(range(7, m, 17)))


@pytest.mark.parametrize("m, block, blocks", SCATTER_CASES)
def test_gd_step_scatter_paths_are_bit_identical_for_every_thread_count(m, block, blocks):
    # on 2, 3, 4, 5, 8 threads the fused step takes the blocks as an even run per thread or one at
    # a time, or the step runs unfused; wild coefficients inside chunks, dead neurons: every run
    # steps exactly theta - lr grad (a new prepare each step) on any thread count
    assert scatter_path(m, 8, live_neurons(m), 1, block)[0] == blocks
    x, y, theta = outlier_network(m, seed=m)
    lr, steps = 1.0 / m, 25
    with threaded_small(block=block):
        runs = [relu1d.train(relu1d.Objective(x, y, threads=t), theta, lr=lr, steps=steps, record_every=4,
                             sharpness_every=0, progress=False) for t in (1,) + SCATTER_THREADS]
        obj = relu1d.Objective(x, y, threads=3)
        stepped = theta.copy()
        for _ in range(steps):
            stepped = stepped - lr * obj.grad(stepped)
    assert runs[0].status == "max_steps" and np.all(np.isfinite(runs[0].history["loss"]))
    np.testing.assert_array_equal(runs[0].theta, stepped)
    for threads, run in zip(SCATTER_THREADS, runs[1:]):
        np.testing.assert_array_equal(run.theta, runs[0].theta, err_msg=f"threads={threads}")
        np.testing.assert_array_equal(run.history["loss"], runs[0].history["loss"], err_msg=f"threads={threads}")


def test_the_scatter_cases_take_every_path():
    paths = {scatter_path(m, 8, live_neurons(m), t, block)[1] for m, block, _ in SCATTER_CASES for t in SCATTER_THREADS}
    assert paths == {"even", "many", "unfused"}
