"""A subset of the benchmark suite as pytest-benchmark tests.

Smoke mode (each benchmarked call runs once, a few seconds in all; what CI runs):

    python -m pytest bench -q --benchmark-disable

Timed (pytest-benchmark's statistics and comparisons):

    python -m pytest bench -q --benchmark-only

Not collected by a plain ``python -m pytest`` (``testpaths = ["tests"]``). Every benchmark first
checks that the timed implementation computes the same numbers as relu1d, so a smoke run also
guards the baselines and the harness.
"""

from __future__ import annotations

import numpy as np
import pytest

import relu1d
from baselines import NumpyBaseline, lanczos_top, load_baselines, numpy_hessian
from harness import Timing, make_problem, peak_rss_during, relative_error, set_stable_lr, time_steps

# torch.compile's import of torch._inductor warns about torch's own deprecated torch.jit API
# (torch 2.13): not this code's warning to fix
pytestmark = pytest.mark.filterwarnings("ignore:`torch.jit.script_method` is deprecated:DeprecationWarning")

RTOL = 1e-10
SMOKE = Timing(repeat=2, min_time=0.001, warmup_time=0.0)


@pytest.fixture(scope="module")
def problem():
    p = make_problem(64, 256, seed=0)
    objective = relu1d.Objective(p.x, p.y)
    set_stable_lr(p, relu1d.sharpness(objective, p.theta).value)
    return p


@pytest.fixture(scope="module")
def fast(problem):
    return relu1d.Objective(problem.x, problem.y, kernel="fast")


def test_train_steps(benchmark, problem, fast):
    """100 steps of the compiled loop equal 100 steps of ``theta -= lr * grad`` through the kernel."""
    run = benchmark(relu1d.train, fast, problem.theta, lr=problem.lr, steps=100, record_every=100,
                    sharpness_every=0, progress=False)
    theta = problem.theta.copy()
    for _ in range(100):
        theta -= problem.lr * fast.grad(theta)
    assert relative_error(run.theta, theta) <= RTOL
    assert run.final_loss < fast.loss(problem.theta)


@pytest.mark.parametrize("name", ["numpy", "torch", "torch.compile", "jax"])
def test_baseline_gd_steps(benchmark, problem, fast, name):
    """Each baseline's loss and gradient agree with relu1d's; then 10 of its GD steps are timed."""
    found = {b.name: b for b in load_baselines()}
    base = found[name]
    if not hasattr(base, "gd"):
        pytest.skip(f"{name}: {base.reason}")
    loss0, grad0 = fast.loss_and_grad(problem.theta)
    assert relative_error(base.loss_and_grad(problem, problem.theta), (loss0, grad0)) <= RTOL
    advance = base.gd(problem)
    advance(1)  # compile, where the baseline compiles
    loss = benchmark(advance, 10)
    assert np.isfinite(loss) and loss < loss0


def test_hvp(benchmark, problem, fast):
    hu = benchmark(fast.hvp, problem.theta, problem.u)
    reference = NumpyBaseline().hvp(problem)(problem.u)
    assert relative_error(hu, reference) <= RTOL


def test_sharpness_against_numpy_lanczos(benchmark, problem, fast):
    result = benchmark(relu1d.sharpness, fast, problem.theta, tol=1e-10)
    baseline = lanczos_top(NumpyBaseline().hvp(problem), problem.theta.size, tol=1e-10)
    assert baseline["converged"] and result.converged
    assert abs(result.value - baseline["value"]) <= 1e-8 * result.value


def test_full_hessian(benchmark, problem, fast):
    hess = benchmark(fast.hessian, problem.theta)
    assert relative_error(hess, numpy_hessian(problem.theta, problem.x, problem.y)) <= RTOL


def test_time_steps_reports_divergence():
    """A run whose loss grows without bound is reported as diverged instead of timed."""
    loss = [1.0]

    def advance(k):
        loss[0] *= 2.0 ** min(k, 64)   # float multiplication overflows to inf, ** would raise
        return loss[0]

    result = time_steps(advance, SMOKE, loss0=1.0)
    assert "diverged" in result and "median" not in result


def test_time_steps_stable_run(problem, fast):
    result = time_steps(lambda k: fast.loss(problem.theta), SMOKE, loss0=fast.loss(problem.theta))
    assert result["median"] > 0 and result["loops"] >= 1 and len(result["repeats"]) == SMOKE.repeat


def test_peak_rss_sees_an_allocation():
    _, peak = peak_rss_during(lambda: np.ones(64 * 2**20 // 8).sum())   # 64 MiB
    if peak is None:
        pytest.skip("no /proc/self/clear_refs on this system")
    _, small = peak_rss_during(lambda: None)
    assert peak - small > 48


def test_fma_peak_builds_and_runs():
    from fma_peak import measure_fma_peak

    result = measure_fma_peak(repeat=1, min_time=0.01)
    if "skip" in result:
        pytest.skip(result["skip"])
    assert result["gflops"] > 0.1


def test_memory_floor_builds_and_runs():
    from memory_floor import BYTES_PER_NEURON, measure_memory_floor

    result = measure_memory_floor(widths=(1000, 5000), repeat=1, min_time=0.01)
    if "skip" in result:
        pytest.skip(result["skip"])
    assert set(result["ns_per_neuron"]) == {1000, 5000}
    for m, ns in result["ns_per_neuron"].items():
        assert ns > 0 and result["gb_per_s"][m] == pytest.approx(BYTES_PER_NEURON / ns)


def test_memory_floor_widths_option():
    import argparse

    from memory_floor import _width

    assert _width("1e5") == 100_000 and _width("2500") == 2500
    for bad in ("1.5", "0", "-3", "x", "1e12", "nan"):
        with pytest.raises(argparse.ArgumentTypeError, match="neurons"):
            _width(bad)


def test_step_phases_runs_and_checks_its_options(capsys):
    import step_phases

    assert step_phases.main(["--n", "20", "--m", "40", "--threads", "2", "--steps", "20"]) == 0
    assert "us per GD step" in capsys.readouterr().out
    assert step_phases.main(["--n", "20", "--m", "40", "--lr", "0.01", "--warmup", "30", "--run", "40",
                             "--sharpness-every", "10", "--data", "make_data"]) == 0
    assert "40 steps after 30, sharpness every 10" in capsys.readouterr().out
    for bad in (["--threads", "0"], ["--lr", "0"], ["--lr", "nan"], ["--run", "-1"], ["--data", "x"]):
        with pytest.raises(SystemExit):
            step_phases.main(bad)


def test_phase_timers_patch_applies():
    """bench/phase_timers.patch (the step's phase timers) still applies to the kernel's source."""
    import pathlib
    import shutil
    import subprocess

    root = pathlib.Path(__file__).resolve().parent.parent
    if shutil.which("git") is None or not (root / ".git").exists():
        pytest.skip("needs git and a checkout")
    done = subprocess.run(["git", "apply", "--check", "bench/phase_timers.patch"], cwd=root,
                          capture_output=True, text=True)
    assert done.returncode == 0, done.stderr


def test_run_suite_end_to_end(tmp_path, capsys):
    """The one command, at one tiny size per part, writes the JSON, the Markdown and every table."""
    import json

    import run_suite

    out = tmp_path / "results"
    code = run_suite.main(["--quick", "--sizes", "32x64", "--hessian-m", "10", "--long-steps", "2000",
                           "--repeat", "1", "--min-time", "0.001", "--skip", "torch", "torch.compile", "jax",
                           "--out", str(out)])
    assert code == 0
    text = capsys.readouterr().out
    for title in ("GD steps", "Hessian-vector product", "Sharpness", "Dense kernel", "Thread scaling",
                  "Peak resident memory", "Full Hessian", "Long run"):
        assert title in text
    results = json.loads((out / "results.json").read_text())
    size = results["sizes"][0]
    assert "median" in size["step"]["fast"] and "median" in size["step"]["numpy"]
    assert all(v <= RTOL for k, v in size["errors"].items() if "sharpness" not in k)
    assert results["long_run"]["steps"] == 2000
    assert (out / "results.md").read_text().startswith("Command:")


def test_a_failing_baseline_is_reported_not_fatal():
    """A baseline that raises is noted as failed; relu1d's and the other baselines' numbers stay."""
    from suites import measure_size

    class Broken(NumpyBaseline):
        name = "jax"

        def gd(self, problem):
            raise RuntimeError("no compiler")

    out = measure_size(16, 8, timing=SMOKE, baselines=[NumpyBaseline(), Broken()], threads=False,
                       sharpness_baselines=False)
    assert "median" in out["step"]["fast"] and "median" in out["step"]["numpy"]
    assert out["step"]["jax"]["skip"].startswith("failed (RuntimeError: no compiler")
    assert "jax" in out["notes"]
