"""relu1d.sweep: configurations and their seeds, executors, run files, resume after Ctrl-C or a
kill, failed runs, bounded submissions, the results table and the command line."""

from __future__ import annotations

import concurrent.futures as cf
import csv
import json
import os
import signal
import subprocess
import sys
import threading
import time
import types
from pathlib import Path

import numpy as np
import pytest

import relu1d
from relu1d.sweep import (RUN_DEFAULTS, _Grid, canonical_config, expand_grid, load_sweep, run_config, run_id,
                          run_inputs, summarize, sweep)

GRID = {"lr": [0.05, 0.2], "n": [12, 20], "width": 8, "steps": 1500, "seed": [0, 1]}


def rows_of(table):
    return table.to_dict("records") if hasattr(table, "to_dict") else list(table)


def thetas(out, table):
    return {row["run_id"]: relu1d.Run.load(Path(out) / row["run_file"]).theta for row in rows_of(table)}


# ---------------------------------------------------------------------------------------------
# Configurations and seeds

def test_canonical_config_fills_defaults_and_unifies_numbers():
    cfg = canonical_config({"lr": 1, "steps": 1e4})
    assert list(cfg) == list(RUN_DEFAULTS)
    assert cfg["lr"] == 1.0 and isinstance(cfg["lr"], float)
    assert cfg["steps"] == 10_000 and isinstance(cfg["steps"], int)
    assert run_id({"lr": 1}) == run_id({"lr": 1.0}) == run_id({"lr": np.float32(1.0), "steps": RUN_DEFAULTS["steps"]})
    assert run_id({"lr": 1}) != run_id({"lr": 1}, seed=1)


def test_grid_expansion():
    configs = expand_grid(GRID)
    assert len(configs) == 8
    assert [c["lr"] for c in configs[:4]] == [0.05] * 4  # the first key varies slowest
    assert expand_grid([{"lr": 0.1}, {"lr": 0.2, "n": 5}])[1]["n"] == 5
    # a large product is not expanded to be counted or iterated
    big = _Grid({"lr": list(range(1, 1001)), "seed": list(range(1000)), "n": list(range(10, 110))})
    assert len(big) == 10**8
    assert next(iter(big))["lr"] == 1.0


@pytest.mark.parametrize("grid, error, match", [
    ({"lr": [0.1], "learning_rate": [0.1]}, ValueError, "learning_rate"),
    ({"lr": []}, ValueError, "lr has no values"),
    ([], ValueError, "empty"),
    ([{"lr": 0.1}, 3], TypeError, "item 1"),
    ("lr=0.1", TypeError, "grid"),
    ({"lr": [object()]}, TypeError, "lr"),
    ({"lr": [float("nan")]}, ValueError, "lr"),
])
def test_bad_grids_raise_before_anything_runs(grid, error, match, tmp_path):
    with pytest.raises(error, match=match):
        sweep(grid, out=tmp_path)
    assert not (tmp_path / "results.csv").exists()


def test_bad_sweep_arguments():
    with pytest.raises(ValueError, match="workers"):
        sweep({"steps": 1}, workers=0)
    with pytest.raises(TypeError, match="executor"):
        sweep({"steps": 1}, executor=map)
    with pytest.raises(ValueError, match="seed"):
        sweep({"steps": 1}, seed=-1)


def test_common_random_numbers():
    """Data depend on (n, distribution, x_max, seed); theta0 on (width, init, seed); nothing else."""
    base = {"n": 15, "width": 6, "seed": 3}
    x, y, f0, theta0 = run_inputs(base)
    x2, y2, f02, theta02 = run_inputs(dict(base, lr=0.7, steps=5, target="sin", sigma=0.0))
    np.testing.assert_array_equal(x2, x)
    np.testing.assert_array_equal(theta02, theta0)
    np.testing.assert_array_equal(y2, f02(x))            # same inputs, noiseless labels of the other target
    noise = y - f0(x)
    x3, y3, f03, _ = run_inputs(dict(base, sigma=0.6))  # same noise draws, scaled
    np.testing.assert_allclose(y3 - f03(x3), 2 * noise, rtol=1e-15, atol=1e-15)
    other = run_inputs(dict(base, seed=4))
    assert not np.array_equal(other[0], x) and not np.array_equal(other[3], theta0)
    wider = run_inputs(dict(base, width=7))
    np.testing.assert_array_equal(wider[0], x)
    assert wider[3].size == 22
    assert not np.array_equal(run_inputs(base, seed=1)[0], x)  # the sweep seed enters too


def test_run_inputs_reproduce_a_sweep_run(tmp_path):
    table = sweep({"lr": 0.1, "n": 14, "width": 5, "steps": 700}, out=tmp_path, workers=1)
    row = rows_of(table)[0]
    x, y, _, theta0 = run_inputs(row)
    run = relu1d.train(relu1d.Objective(x, y), theta0, lr=0.1, steps=700, progress=False)
    saved = relu1d.Run.load(tmp_path / row["run_file"])
    np.testing.assert_array_equal(saved.theta, run.theta)
    np.testing.assert_array_equal(saved.theta0, theta0)


# ---------------------------------------------------------------------------------------------
# Same bits whatever runs it

def test_same_bits_for_any_order_worker_count_and_executor(tmp_path):
    ref = sweep(GRID, out=tmp_path / "a", workers=2)
    ref_theta = thetas(tmp_path / "a", ref)
    assert len(ref_theta) == 8
    reversed_list = list(reversed(expand_grid(GRID)))
    one = sweep(reversed_list, out=tmp_path / "b", workers=1)
    assert thetas(tmp_path / "b", one).keys() == ref_theta.keys()
    for rid, theta in thetas(tmp_path / "b", one).items():
        np.testing.assert_array_equal(theta, ref_theta[rid])
    with cf.ProcessPoolExecutor(2) as pool:
        procs = sweep(GRID, out=tmp_path / "c", executor=pool)
    assert {row["worker"] for row in rows_of(procs)}.isdisjoint({row["worker"] for row in rows_of(ref)})
    for rid, theta in thetas(tmp_path / "c", procs).items():
        np.testing.assert_array_equal(theta, ref_theta[rid])
    # the rows agree too, but for the timings and the worker
    skip = {"wall_time", "worker"}
    for a, c in zip(rows_of(ref), rows_of(procs)):
        assert {k: v for k, v in a.items() if k not in skip} == {k: v for k, v in c.items() if k not in skip}


def test_adding_values_keeps_existing_runs(tmp_path):
    small = sweep({"lr": [0.05], "n": 12, "width": 6, "steps": 800}, out=tmp_path / "s", workers=1)
    big = sweep({"lr": [0.05, 0.1, 0.3], "n": 12, "width": 6, "steps": 800}, out=tmp_path / "b", workers=1)
    rid = rows_of(small)[0]["run_id"]
    assert rid in {row["run_id"] for row in rows_of(big)}
    np.testing.assert_array_equal(thetas(tmp_path / "s", small)[rid], thetas(tmp_path / "b", big)[rid])


# ---------------------------------------------------------------------------------------------
# Rows, files, failures

def test_rows_and_files(tmp_path):
    table = sweep({"lr": [0.05, 0.1], "n": 16, "width": 8, "steps": 2000, "target": ["hat", "sin"]},
                  out=tmp_path, workers=2)
    rows = rows_of(table)
    assert [r["target"] for r in rows] == ["hat", "sin", "hat", "sin"]  # grid order
    for row in rows:
        run = relu1d.Run.load(tmp_path / row["run_file"])
        assert row["status"] == run.status == "max_steps" and row["steps_done"] == run.steps == 2000
        assert row["final_loss"] == run.final_loss
        assert row["edge_of_stability"] == 2.0 / row["lr"]
        eig = relu1d.sharpness(run.objective, run.theta).value
        assert row["sharpness"] == pytest.approx(eig, rel=1e-8)
        assert row["sharpness_ratio"] == row["sharpness"] / row["edge_of_stability"]
        f0 = relu1d.datasets.Target(row["target"])
        xs = run.objective.x_sorted
        t = np.linspace(xs[0], xs[-1], 4001)
        assert row["mse_f0"] == np.mean((relu1d.predict(run.theta, t) - f0(t)) ** 2)
        assert 0 < row["mse_f0_interior"] and row["attempts"] == 1 and row["resumed_from"] == 0
        on_disk = json.loads((tmp_path / "runs" / (row["run_id"] + ".json")).read_text())
        assert on_disk["final_loss"] == row["final_loss"]
    with open(tmp_path / "results.csv") as f:
        csv_rows = list(csv.DictReader(f))
    assert [r["run_id"] for r in csv_rows] == [r["run_id"] for r in rows]
    assert [float(r["final_loss"]) for r in csv_rows] == [r["final_loss"] for r in rows]  # repr round-trips
    again = rows_of(load_sweep(tmp_path))
    assert [r["final_loss"] for r in again] == [r["final_loss"] for r in rows]


def test_failures_become_rows(tmp_path):
    grid = [{"n": 10, "width": 4, "steps": 500},
            {"n": 10, "width": 4, "steps": 500, "sigma": -1.0},
            {"n": 10, "width": 4, "steps": 500, "lr": -0.1},
            {"n": 10, "width": 4, "steps": 500, "target": "square"},
            {"n": 10, "width": 4, "steps": 500, "n": 0},
            {"n": 10, "width": 4, "steps": 500, "lr": 50.0}]
    rows = rows_of(sweep(grid, out=tmp_path, workers=2))
    status = [r["status"] for r in rows]
    assert status == ["max_steps", "failed", "failed", "failed", "failed", "diverged"]
    assert "sigma" in rows[1]["message"] and "lr" in rows[2]["message"] and "square" in rows[3]["message"]
    assert rows[4]["message"].startswith("ValueError: n")
    assert rows[5]["message"].startswith("diverged: loss reached")
    assert rows[5]["steps_done"] < 500 and np.isfinite(rows[5]["final_loss"])
    # a failed run's row is its record: a second sweep does not run it again
    rows2 = rows_of(sweep(grid, out=tmp_path, workers=2))
    assert [r["attempts"] for r in rows2] == [1] * 6


def test_without_pandas_a_list_of_dicts(monkeypatch, tmp_path):
    monkeypatch.setitem(sys.modules, "pandas", None)
    table = sweep({"n": 8, "width": 3, "steps": 10}, out=tmp_path, workers=1)
    assert isinstance(table, list) and table[0]["status"] == "max_steps"


def test_stability_report_columns_when_analysis_is_available(monkeypatch, tmp_path):
    """The row takes the report's scalar fields; a field whose name is taken gets report_."""
    calls = []

    class Report:
        def __init__(self, objective, theta, lr, f0, interior):
            calls.append((objective.n, theta.size, lr, f0, interior))

        def to_dict(self):
            return {"weighted_tv1": 1.5, "bound": {"c1": 2.0, "c2": np.float64(3.0)}, "sharpness": -1.0,
                    "steps": None, "x_max": 0.5, "worker": "elsewhere", "mse_f0": -2.0, "edge": 0.0,
                    "knot_positions": [0.1, 0.2], "stable": True,
                    "bounds": [{"name": "1 + x_max", "C": 2.0}, {"name": "(1 + x_max)/2", "C": 1.5}]}

    def stability_report(objective, theta, lr, *, f0=None, x_test=None, y_test=None, interior=0.9, v0=None):
        if lr > 0.1:
            raise RuntimeError("no report at this lr")
        return Report(objective, theta, lr, f0, interior)

    monkeypatch.setitem(sys.modules, "relu1d.analysis", types.SimpleNamespace(stability_report=stability_report))
    monkeypatch.setattr(relu1d, "analysis", sys.modules["relu1d.analysis"], raising=False)
    rows = rows_of(sweep({"lr": [0.05, 0.2], "n": 9, "width": 3, "steps": 50}, workers=1))
    assert calls == [(9, 10, 0.05, relu1d.datasets.Target("hat"), 0.9)]
    ok, bad = rows
    assert ok["weighted_tv1"] == 1.5 and ok["bound_c1"] == 2.0 and ok["bound_c2"] == 3.0 and ok["stable"] is True
    # fields the row has under its own name are left out; other names taken get the prefix report_
    assert ok["sharpness"] > 0 and ok["mse_f0"] > 0 and ok["edge_of_stability"] == 40.0
    assert not {"report_sharpness", "report_steps", "report_mse_f0", "edge", "report_edge"} & set(ok)
    assert (ok["steps"], ok["x_max"], ok["report_x_max"]) == (50, 1.0, 0.5)
    assert ok["report_worker"] == "elsewhere" and ok["worker"] != "elsewhere"
    assert "knot_positions" not in ok
    assert (ok["bounds_0_name"], ok["bounds_0_C"], ok["bounds_1_name"], ok["bounds_1_C"]) == \
        ("1 + x_max", 2.0, "(1 + x_max)/2", 1.5)
    assert bad["status"] == "max_steps" and bad["report_error"] == "RuntimeError: no report at this lr"


def test_stability_report_columns_of_relu1d_analysis(tmp_path):
    analysis = pytest.importorskip("relu1d.analysis")
    rows = rows_of(sweep({"lr": [0.05, 0.4], "n": 25, "width": 20, "steps": 3000}, out=tmp_path, workers=1))
    for row in rows:
        run = relu1d.Run.load(tmp_path / row["run_file"])
        assert row["wtv1"] == analysis.weighted_tv1(run.theta, run.objective.x)
        report = analysis.stability_report(run.objective, run.theta, row["lr"], f0=relu1d.datasets.Target("hat"))
        assert row["c_needed"] == report.c_needed and row["tv1"] == report.tv1
        assert row["effective_knots_count"] == report.effective_knots.count
        assert row["bounds_0_C"] == report.bounds[0]["C"] and row["bounds_1_name"] == report.bounds[1]["name"]
        assert row["stable"] == (row["sharpness_ratio"] <= 1)
        assert row["mse_f0"] == pytest.approx(report.mse_f0, rel=1e-12)


def test_summarize_a_run_directly():
    x, y, f0 = relu1d.make_regression(20, rng=0)
    run = relu1d.train(relu1d.Objective(x, y), relu1d.init_params(5, rng=0), lr=0.1, steps=300, progress=False)
    row = summarize(run, f0=f0, interior=0.5)
    assert row["steps_done"] == 300 and row["final_loss"] == run.final_loss
    assert summarize(run, f0=f0)["mse_f0"] > 0 and summarize(run).get("mse_f0") is None


# ---------------------------------------------------------------------------------------------
# Executors: bounded submissions, lost workers

class RecordingExecutor(cf.Executor):
    """A thread pool that counts futures outstanding and can fail the first submissions."""

    def __init__(self, fail_first=0):
        self.pool = cf.ThreadPoolExecutor(2)
        self.outstanding = 0
        self.peak = 0
        self.fail_first = fail_first
        self.lock = threading.Lock()

    def submit(self, fn, *args, **kwargs):
        with self.lock:
            self.outstanding += 1
            self.peak = max(self.peak, self.outstanding)
            fail = self.fail_first > 0
            self.fail_first -= 1
        if fail:
            fut = cf.Future()
            fut.set_exception(ConnectionError("worker lost"))
        else:
            fut = self.pool.submit(fn, *args, **kwargs)

        def done(_):
            with self.lock:
                self.outstanding -= 1
        fut.add_done_callback(done)
        return fut

    def shutdown(self, wait=True, **kwargs):
        self.pool.shutdown(wait=wait)


def test_submissions_are_bounded():
    ex = RecordingExecutor()
    try:
        table = sweep({"seed": list(range(60)), "n": 5, "width": 2, "steps": 20}, executor=ex, max_in_flight=3)
    finally:
        ex.shutdown()
    assert len(rows_of(table)) == 60 and ex.peak <= 3


def test_lost_workers_are_retried_then_failed():
    ex = RecordingExecutor(fail_first=2)
    try:
        rows = rows_of(sweep({"seed": [0, 1], "n": 5, "width": 2, "steps": 20}, executor=ex, workers=1, retries=2))
        assert [r["status"] for r in rows] == ["max_steps", "max_steps"]
        ex.fail_first = 10
        rows = rows_of(sweep({"seed": [2], "n": 5, "width": 2, "steps": 20}, executor=ex, workers=1, retries=1))
    finally:
        ex.shutdown()
    assert rows[0]["status"] == "failed" and rows[0]["message"] == "worker lost: ConnectionError: worker lost"


@pytest.mark.parametrize("with_tqdm", [True, False])
def test_progress_bar_counts_runs(capsys, monkeypatch, with_tqdm):
    if with_tqdm:
        pytest.importorskip("tqdm")
    else:
        monkeypatch.setitem(sys.modules, "tqdm", None)
        monkeypatch.setitem(sys.modules, "tqdm.auto", None)
    sweep({"seed": [0, 1, 2], "n": 5, "width": 2, "steps": 10, "sigma": [0.1, -1]}, workers=1, progress=True)
    err = capsys.readouterr().err
    assert "6/6" in err
    assert ("failed=3" in err) if with_tqdm else ("6/6 runs done (3 failed, 0 running" in err)


# ---------------------------------------------------------------------------------------------
# Nothing lost: resume after a kill and after Ctrl-C

SLOW = {"lr": [0.02, 0.05, 0.1], "n": 30, "width": 30, "steps": 2_000_000}  # about 1.3 s a run: stopped half-way


def _run_files(out):
    return sorted(Path(out, "runs").glob("*.npz"))


def _start(args, **kwargs):
    env = dict(os.environ, PYTHONWARNINGS="error")
    return subprocess.Popen([sys.executable, *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env=env, **kwargs)


def _wait_for_checkpoint(proc, out, timeout=60):
    """Until some unfinished run has a checkpoint at most half-way (so that it is still running when
    the test stops the sweep, however loaded the machine)."""
    t0 = time.monotonic()
    while time.monotonic() - t0 < timeout:
        assert proc.poll() is None, proc.communicate()
        for f in _run_files(out):
            if f.with_suffix(".json").exists():
                continue
            try:
                steps = relu1d.Run.load(f).steps
            except (relu1d.CheckpointError, OSError):
                continue
            if 0 < steps <= SLOW["steps"] // 2:
                return
        time.sleep(0.02)
    raise AssertionError("no checkpoint appeared")


@pytest.fixture(scope="module")
def slow_reference(tmp_path_factory):
    out = tmp_path_factory.mktemp("reference")
    table = sweep(SLOW, out=out, workers=2)
    return thetas(out, table)


def _check_resumed(out, table, reference):
    rows = rows_of(table)
    assert [r["status"] for r in rows] == ["max_steps"] * 3
    assert all(r["steps_done"] == SLOW["steps"] for r in rows)
    got = thetas(out, table)
    for rid, theta in reference.items():
        np.testing.assert_array_equal(got[rid], theta)
    return rows


def test_resume_after_kill(tmp_path, slow_reference):
    out = tmp_path / "sweep"
    code = (f"import relu1d; relu1d.sweep({SLOW!r}, out={str(out)!r}, workers=1, checkpoint_every=5000)")
    proc = _start(["-c", code])
    _wait_for_checkpoint(proc, out)
    time.sleep(0.1)
    proc.kill()
    proc.communicate()
    assert not (out / "results.csv").exists()
    table = sweep(SLOW, out=out, workers=1)
    rows = _check_resumed(out, table, slow_reference)
    resumed = [r for r in rows if r["resumed_from"] > 0]
    assert resumed and all(r["resumed_from"] % 5000 == 0 for r in resumed)
    assert all(r["attempts"] == 2 for r in resumed)
    # finished runs are skipped: their attempt count stays at 1 in a third call
    assert [r["attempts"] for r in rows_of(sweep(SLOW, out=out, workers=1))] == [r["attempts"] for r in rows]


def test_cli_sweep_ctrl_c_then_resume(tmp_path, slow_reference):
    grid = tmp_path / "grid.json"
    grid.write_text(json.dumps(SLOW))
    out = tmp_path / "sweep"
    proc = _start(["-m", "relu1d", "sweep", str(grid), "--out", str(out), "--workers", "2",
                   "--checkpoint-seconds", "0.05"])
    _wait_for_checkpoint(proc, out)
    proc.send_signal(signal.SIGINT)
    stdout, stderr = proc.communicate(timeout=60)
    assert proc.returncode == 130, stderr
    assert "relu1d sweep --resume" in stderr and "Traceback" not in stderr
    with open(out / "results.csv") as f:
        statuses = [r["status"] for r in csv.DictReader(f)]
    assert "interrupted" in statuses or "pending" in statuses
    p = subprocess.run([sys.executable, "-m", "relu1d", "sweep", "--resume", str(out)], capture_output=True,
                       text=True, timeout=120)
    assert p.returncode == 0, p.stderr
    assert "3 runs: max_steps 3" in p.stdout
    rows = _check_resumed(out, load_sweep(out), slow_reference)
    assert any(r["resumed_from"] > 0 for r in rows)


def test_run_config_restarts_from_a_foreign_or_torn_file(tmp_path):
    cfg = {"n": 10, "width": 4, "steps": 300}
    path = tmp_path / "run.npz"
    path.write_bytes(b"not a checkpoint")
    run, _, resumed_from = run_config(cfg, path=str(path))
    assert resumed_from == 0 and run.steps == 300
    other, _, resumed_from = run_config(dict(cfg, seed=5), path=str(path))  # another run's file
    assert resumed_from == 0
    again, _, resumed_from = run_config(dict(cfg, seed=5), path=str(path))  # now its own: done already
    assert resumed_from == 300
    np.testing.assert_array_equal(again.theta, other.theta)


# ---------------------------------------------------------------------------------------------
# Command line

def test_cli_sweep_exit_codes_and_errors(tmp_path, capsys):
    from relu1d.__main__ import main

    grid = tmp_path / "grid.json"
    grid.write_text(json.dumps({"n": 8, "width": 3, "steps": 100, "sigma": [0.1, -1.0]}))
    assert main(["sweep", str(grid), "--out", str(tmp_path / "o"), "--workers", "1"]) == 1
    captured = capsys.readouterr()
    assert "2 runs: failed 1, max_steps 1" in captured.out and "sigma" in captured.err
    grid.write_text(json.dumps({"n": 8, "width": 3, "steps": 100}))
    assert main(["sweep", str(grid), "--out", str(tmp_path / "ok")]) == 0
    assert main(["sweep", "--resume", str(tmp_path / "ok")]) == 0
    capsys.readouterr()
    for argv, message in [
        (["sweep"], "give a grid file"),
        (["sweep", str(grid)], "give a grid file"),
        (["sweep", str(tmp_path / "missing.json"), "--out", str(tmp_path)], "cannot read"),
        (["sweep", "--resume", str(tmp_path / "nothing")], "holds no sweep"),
        (["sweep", str(grid), "--resume", str(tmp_path / "ok")], "--resume DIR takes no grid"),
        (["sweep", str(grid), "--out", str(tmp_path / "o"), "--scheduler", "tcp://h:1", "--workers", "2"],
         "--workers"),
    ]:
        assert main(argv) == 2, argv
        assert message in capsys.readouterr().err
    grid.write_text("{not json")
    assert main(["sweep", str(grid), "--out", str(tmp_path / "o")]) == 2
    assert "not valid JSON" in capsys.readouterr().err
    grid.write_text(json.dumps({"lr": [0.1], "learning_rate": [1]}))
    assert main(["sweep", str(grid), "--out", str(tmp_path / "o")]) == 2
    assert "learning_rate" in capsys.readouterr().err


def test_cli_train_with_a_named_data_set(tmp_path):
    from relu1d.__main__ import main

    out = tmp_path / "r.npz"
    assert main(["train", "--n", "25", "--target", "sawtooth", "--distribution", "laplace", "--sigma", "0.1",
                 "--steps", "200", "--width", "5", "--out", str(out)]) == 0
    run = relu1d.Run.load(out)
    x, y, _ = relu1d.make_regression(25, target="sawtooth", distribution="laplace", sigma=0.1, rng=0)
    np.testing.assert_array_equal(run.objective.x, x)
    np.testing.assert_array_equal(run.objective.y, y)
    assert main(["train", "--distribution", "cauchy", "--steps", "1", "--out", str(out)]) == 2


@pytest.mark.parametrize("where", ["file", "under_a_file"])
def test_out_that_cannot_be_a_folder_is_a_value_error_naming_out(tmp_path, where, capsys):
    from relu1d.__main__ import main

    afile = tmp_path / "afile"
    afile.write_text("not a folder")
    out = afile if where == "file" else afile / "sub"
    with pytest.raises(ValueError, match="out: .*afile"):
        sweep({"steps": 1, "n": 5, "width": 2}, out=out, progress=False)
    grid = tmp_path / "grid.json"
    grid.write_text(json.dumps({"steps": 1, "n": 5, "width": 2}))
    assert main(["sweep", str(grid), "--out", str(out)]) == 2
    assert "relu1d sweep: error: out:" in capsys.readouterr().err
    assert main(["sweep", "--resume", str(afile)]) == 2
    assert "relu1d sweep: error: out:" in capsys.readouterr().err
    assert afile.read_text() == "not a folder"


def test_progress_takes_a_bool_or_none():
    for progress in ("no", 5):
        with pytest.raises(TypeError, match="progress"):
            sweep({"steps": 1, "n": 5, "width": 2}, progress=progress)


def test_run_id_checks_the_sweep_seed():
    assert run_id({"lr": 0.1}, seed=np.int64(2)) == run_id({"lr": 0.1}, seed=2)
    with pytest.raises(ValueError, match="seed"):
        run_id({"lr": 0.1}, seed=-1)
    with pytest.raises(TypeError, match="seed"):
        run_id({"lr": 0.1}, seed=True)


def test_summarize_takes_a_run():
    with pytest.raises(TypeError, match="run"):
        summarize(None)


def test_a_bad_init_names_the_grid_key():
    row = rows_of(sweep({"init": ["he"], "steps": 1, "n": 5, "width": 2}, progress=False))[0]
    assert row["status"] == "failed" and row["message"].startswith("ValueError: init:"), row["message"]


def test_a_damaged_row_file_is_run_again(tmp_path):
    """A run's row file that is JSON but not its row (a list, an empty object, another run's row)
    is not a record: resume and load_sweep run or report that run again instead of crashing."""
    from relu1d.sweep import load_sweep

    grid = {"lr": [0.05, 0.2], "n": 8, "width": 3, "steps": 200}
    first = {r["run_id"]: r for r in rows_of(sweep(grid, out=tmp_path, workers=1, progress=False))}
    ids = sorted(first)
    (tmp_path / "runs" / f"{ids[0]}.json").write_text("[1, 2]")
    (tmp_path / "runs" / f"{ids[1]}.json").write_text("{}")
    load_sweep(tmp_path)  # no crash on the damaged files
    again = {r["run_id"]: r for r in rows_of(sweep(grid, out=tmp_path, workers=1, progress=False))}
    assert sorted(again) == ids
    for rid in ids:
        assert again[rid]["status"] == "max_steps" and again[rid]["final_loss"] == first[rid]["final_loss"]
    assert json.loads((tmp_path / "runs" / f"{ids[0]}.json").read_text())["run_id"] == ids[0]
