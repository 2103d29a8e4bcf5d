"""Every SIMD path of the compiled per-neuron loops gives the portable path's bits; relu1d.info().

The compiled core runs hand-written AVX2 or AVX-512 loops where the CPU has them (the best one by
default, RELU1D_SIMD or relu1d.set_simd_path to choose). The activation predicate and the order of
every sum are part of the contract (ALGORITHMS.md §1, §5), so each path must reproduce the
portable loop exactly: the tests below run every path this machine has against it.
"""

from __future__ import annotations

import os
import subprocess
import sys

import numpy as np
import pytest

import relu1d
from relu1d.__main__ import main

PATHS = relu1d.info()["simd_paths_available"]


@pytest.fixture
def restore_simd_path():
    before = relu1d.info()["simd_path"]
    yield
    relu1d.set_simd_path(before)


def _problem(seed=7, n=300, m=203):
    """Data with ties, knots on data points, w = 0, a dead neuron; m not a multiple of 4 or 8."""
    rng = np.random.default_rng(seed)
    x = np.round(rng.uniform(-1, 1, n), 2)
    y = np.abs(x) - 0.4 + 0.1 * rng.standard_normal(n)
    theta = relu1d.init_params(m, rng=rng)
    theta[:10] = 1.5
    theta[m:m + 10] = -1.5 * x[:10]  # knots exactly on data points
    theta[10:13] = 0.0  # w = 0 with b of both signs
    theta[m + 10:m + 13] = [0.5, -0.5, 0.0]
    theta[13], theta[m + 13] = 1.0, -5.0  # dead on [-1, 1]
    return x, y, theta, rng.standard_normal(theta.size)


def _run_everything(x, y, theta, u):
    """A GD run with sharpness tracking and the kernel's outputs at its end, for one path."""
    objective = relu1d.Objective(x, y)
    run = relu1d.train(objective, theta, lr=0.5, steps=3000, record_every=10, sharpness_every=500, progress=False)
    loss, grad = objective.loss_and_grad(run.theta)
    return {
        "theta": run.theta,
        "loss": np.asarray(run.history["loss"]),
        "grad_norm": np.asarray(run.history["grad_norm"]),
        "sharpness": np.asarray(run.history["sharpness"]),
        "final_loss": np.asarray(loss),
        "grad": grad,
        "hvp": objective.hvp(run.theta, u),
        # from a fresh prepare at a new theta: the boundary checks of locate
        "grad_at_theta0": objective.grad(theta),
    }


def test_portable_path_is_always_available_and_the_best_is_the_default():
    details = relu1d.info()
    assert details["simd_paths_available"][0] == "portable"
    assert set(details["simd_paths_available"]) <= {"portable", "avx2", "avx512"}
    if not os.environ.get("RELU1D_SIMD"):
        assert details["simd_path"] == details["simd_paths_available"][-1]


@pytest.mark.parametrize("path", PATHS)
def test_every_simd_path_gives_the_portable_bits(path, restore_simd_path):
    x, y, theta, u = _problem()
    relu1d.set_simd_path("portable")
    expected = _run_everything(x, y, theta, u)
    assert np.ptp(expected["loss"]) > 0 and np.isfinite(expected["sharpness"]).sum() >= 6
    relu1d.set_simd_path(path)
    assert relu1d.info()["simd_path"] == path
    got = _run_everything(x, y, theta, u)
    for key, value in expected.items():
        np.testing.assert_array_equal(got[key], value, err_msg=f"{key}, path {path}")


@pytest.mark.parametrize("path", PATHS)
def test_simd_paths_agree_when_boundaries_jump(path, restore_simd_path):
    # a large step: boundaries move by many points (the galloping search after the SIMD check)
    x, y, theta, _ = _problem(seed=11, n=64, m=37)
    results = []
    for p in ("portable", path):
        relu1d.set_simd_path(p)
        run = relu1d.train(relu1d.Objective(x, y), theta, lr=1.9, steps=200, record_every=1, sharpness_every=0,
                           progress=False)
        results.append((run.theta, np.asarray(run.history["loss"])))
    np.testing.assert_array_equal(results[1][0], results[0][0])
    np.testing.assert_array_equal(results[1][1], results[0][1])


def test_switching_path_mid_run_changes_no_bit(restore_simd_path):
    x, y, theta, _ = _problem(seed=3, n=100, m=50)
    relu1d.set_simd_path("portable")
    whole = relu1d.train(relu1d.Objective(x, y), theta, lr=0.5, steps=400, sharpness_every=0, progress=False)
    first = relu1d.train(relu1d.Objective(x, y), theta, lr=0.5, steps=200, sharpness_every=0, progress=False)
    relu1d.set_simd_path(PATHS[-1])
    second = relu1d.train(relu1d.Objective(x, y), first.theta, lr=0.5, steps=200, sharpness_every=0, progress=False)
    np.testing.assert_array_equal(second.theta, whole.theta)


def test_set_simd_path_returns_the_previous_path_and_auto_picks_the_best(restore_simd_path):
    relu1d.set_simd_path("portable")
    assert relu1d.set_simd_path("auto") == "portable"
    assert relu1d.info()["simd_path"] == PATHS[-1]


def test_set_simd_path_rejects_bad_names(restore_simd_path):
    before = relu1d.info()["simd_path"]
    with pytest.raises(ValueError, match="unknown SIMD path 'sse9'.*portable"):
        relu1d.set_simd_path("sse9")
    with pytest.raises(TypeError, match="name"):
        relu1d.set_simd_path(2)
    for missing in {"avx2", "avx512"} - set(PATHS):
        with pytest.raises(ValueError, match="not available"):
            relu1d.set_simd_path(missing)
    assert relu1d.info()["simd_path"] == before


def _import_with_env(value):
    env = dict(os.environ, RELU1D_SIMD=value)
    return subprocess.run([sys.executable, "-c", "import relu1d; print(relu1d.info()['simd_path'])"],
                          capture_output=True, text=True, env=env, timeout=300)


def test_environment_variable_selects_the_path_at_import():
    out = _import_with_env("portable")
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "portable"
    bad = _import_with_env("neon9")
    assert bad.returncode != 0
    assert "RELU1D_SIMD='neon9'" in bad.stderr and "unknown SIMD path" in bad.stderr


def test_info_describes_the_build():
    details = relu1d.info()
    assert details["build"] in ("native", "portable")
    assert ("-march=native" in details["flags"]) == (details["build"] == "native")
    assert "-ffp-contract=off" in details["flags"]
    assert details["compiler"] and details["version"] == relu1d.__version__
    assert details["threads_default"] >= 1 and details["cpus_available"] >= 1


def test_cli_info_without_a_file_prints_the_simd_path_and_build(capsys):
    assert main(["info"]) == 0
    out = capsys.readouterr().out
    details = relu1d.info()
    assert f"simd_path             {details['simd_path']}" in out
    assert "build" in out and details["compiler"] in out and "threads_default" in out


@pytest.mark.skipif(not hasattr(os, "sched_setaffinity"), reason="no CPU affinity on this system")
def test_default_threads_follow_the_cpu_affinity():
    allowed = os.sched_getaffinity(0)
    assert relu1d.info()["threads_default"] == len(allowed)
    try:
        os.sched_setaffinity(0, {min(allowed)})
        assert relu1d.info()["threads_default"] == 1
    finally:
        os.sched_setaffinity(0, allowed)
