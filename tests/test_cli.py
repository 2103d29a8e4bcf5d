"""Command line (python -m relu1d / the relu1d console script): train, resume, info, errors."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import relu1d
from relu1d.__main__ import main


def run_cli(*args, cwd=None, module=True):
    cmd = [sys.executable, "-m", "relu1d", *args] if module else [*args]
    env = dict(os.environ, PYTHONWARNINGS="error")
    return subprocess.run(cmd, capture_output=True, text=True, cwd=cwd, timeout=120, env=env)


def console_script():
    exe = Path(sys.executable).with_name("relu1d")
    return str(exe) if exe.exists() else shutil.which("relu1d")


# ---------------------------------------------------------------------------------------------
# End to end, in subprocesses

def test_cli_train_resume_info(tmp_path):
    out = tmp_path / "tmp.npz"
    p = run_cli("train", "--steps", "2000", "--n", "20", "--width", "20", "--out", str(out))
    assert p.returncode == 0, p.stderr
    assert "status" in p.stdout and "max_steps" in p.stdout
    assert "2,000" in p.stdout
    assert out.exists()
    first = relu1d.Run.load(out)
    assert first.steps == 2000 and first.status == "max_steps"
    assert first.objective.n == 20 and first.width == 20
    assert first.config["lr"] == [[0, 0.05]]
    np.testing.assert_array_equal(first.objective.x, relu1d.make_data(20, sigma=0.3, target="hat", rng=0)[0])

    exe = console_script()
    if exe is None:  # pragma: no cover - the console script is installed with the package
        p = run_cli("resume", str(out), "--steps", "1000")
    else:
        p = run_cli(exe, "resume", str(out), "--steps", "1000", module=False)
    assert p.returncode == 0, p.stderr
    assert "resumed at step 2,000" in p.stdout
    assert "3,000" in p.stdout
    second = relu1d.Run.load(out)
    assert second.steps == 3000
    assert second.history.rows > first.history.rows
    np.testing.assert_array_equal(second.history["step"][: first.history.rows], first.history["step"])

    p = run_cli("info", str(out))
    assert p.returncode == 0, p.stderr
    assert "n=20, width=20" in p.stdout
    assert "3,000" in p.stdout and "status" in p.stdout


def test_cli_bad_data_path_subprocess(tmp_path):
    missing = tmp_path / "no-such-data.csv"
    p = run_cli("train", "--data", str(missing), "--steps", "10", "--out", str(tmp_path / "o.npz"))
    assert p.returncode == 2
    assert "error" in p.stderr and "no-such-data.csv" in p.stderr
    assert "Traceback" not in p.stderr
    assert not (tmp_path / "o.npz").exists()


# ---------------------------------------------------------------------------------------------
# In process (fast): relu1d.__main__.main(argv)

def test_main_train_matches_api(tmp_path, capsys):
    out = tmp_path / "r.npz"
    rc = main(["train", "--steps", "500", "--n", "15", "--width", "6", "--lr", "0.1", "--seed", "3",
               "--record-every", "50", "--sharpness-every", "100", "--clip", "1.5", "--kernel", "dense",
               "--threads", "1", "--out", str(out)])
    text = capsys.readouterr().out
    assert rc == 0
    assert "status" in text and "saved" in text
    run = relu1d.Run.load(out)
    assert run.config["record_every"] == 50 and run.config["sharpness_every"] == 100
    assert run.config["clip"] == 1.5 and run.config["kernel"] == "dense"
    # the same run through the API
    x, y = relu1d.make_data(15, sigma=0.3, target="hat", rng=3)
    theta0 = relu1d.init_params(6, rng=np.random.default_rng([3, 1]))
    api = relu1d.train(relu1d.Objective(x, y, kernel="dense", threads=1), theta0, lr=0.1, steps=500,
                       record_every=50, sharpness_every=100, clip=1.5)
    np.testing.assert_array_equal(run.theta, api.theta)
    np.testing.assert_array_equal(run.theta0, theta0)


@pytest.mark.parametrize("fmt", ["csv", "csv-header", "npz"])
def test_main_train_with_data_file(tmp_path, capsys, fmt):
    rng = np.random.default_rng(0)
    x = rng.uniform(-1, 1, 12)
    y = np.abs(x)
    if fmt == "npz":
        data = tmp_path / "d.npz"
        np.savez(data, x=x, y=y)
    else:
        data = tmp_path / "d.csv"
        header = "x,y\n" if fmt == "csv-header" else ""
        data.write_text(header + "".join(f"{float(a)!r},{float(b)!r}\n" for a, b in zip(x, y)))
    out = tmp_path / "r.npz"
    rc = main(["train", "--data", str(data), "--steps", "100", "--width", "4", "--out", str(out)])
    assert rc == 0, capsys.readouterr().err
    assert str(data) in capsys.readouterr().out
    run = relu1d.Run.load(out)
    np.testing.assert_array_equal(run.objective.x, x)
    np.testing.assert_array_equal(run.objective.y, y)


@pytest.mark.parametrize("argv, needle", [
    (["train", "--data", "{tmp}/missing.csv"], "missing.csv"),
    (["train", "--data", "{tmp}/one-column.csv"], "two columns"),
    (["train", "--data", "{tmp}/wrong.npz"], "'x'"),
    (["train", "--width", "0"], "width"),
    (["train", "--lr", "-1"], "lr"),
    (["train", "--steps", "-5"], "steps"),
    (["train", "--n", "0"], "n"),
    (["train", "--init", "bogus"], "--init"),
    (["train", "--target", "bogus"], "target"),
    (["train", "--threads", "0"], "threads"),
    (["info", "{tmp}/missing.npz"], "missing.npz"),
    (["info", "{tmp}/garbage.npz"], "garbage.npz"),
    (["resume", "{tmp}/missing.npz", "--steps", "10"], "missing.npz"),
    (["resume", "{tmp}/garbage.npz", "--steps", "10"], "garbage.npz"),
])
def test_main_errors_exit_2_with_message(tmp_path, capsys, argv, needle):
    (tmp_path / "one-column.csv").write_text("1\n2\n3\n")
    np.savez(tmp_path / "wrong.npz", a=np.zeros(3))
    (tmp_path / "garbage.npz").write_text("not a checkpoint")
    argv = [a.replace("{tmp}", str(tmp_path)) for a in argv]
    if argv[0] == "train":
        argv += ["--steps", "10", "--out", str(tmp_path / "out.npz")] if "--steps" not in argv else \
            ["--out", str(tmp_path / "out.npz")]
    rc = main(argv)
    captured = capsys.readouterr()
    assert rc == 2
    # argument values are checked when parsed ("relu1d train: error: argument --lr: ..."), files
    # when read ("relu1d: error: ..."); either way one message, no traceback, nothing on stdout
    assert captured.err.startswith(("relu1d: error:", "usage: relu1d")), captured.err
    assert "error:" in captured.err and needle in captured.err, captured.err
    assert "Traceback" not in captured.err
    assert captured.out == ""
    assert not (tmp_path / "out.npz").exists()


@pytest.mark.parametrize(("fmt", "option"), [("csv", "--out"), ("npz", "--out"), ("csv", "--checkpoint"),
                                             ("npz", "--checkpoint")])
def test_run_file_never_overwrites_the_data_file(tmp_path, capsys, monkeypatch, fmt, option):
    data = tmp_path / f"d.{fmt}"
    if fmt == "csv":
        data.write_text("0,1\n0.5,2\n1,0\n")
    else:
        np.savez(data, x=[0.0, 0.5, 1.0], y=[1.0, 2.0, 0.0])
    before = data.read_bytes()
    monkeypatch.chdir(tmp_path)
    for spelling in (str(data), f"./d.{fmt}"):   # the same file, however it is written
        rc = main(["train", "--data", str(data), "--steps", "5", option, spelling])
        captured = capsys.readouterr()
        assert rc == 2 and f"{option}: " in captured.err and "is the --data file" in captured.err, captured.err
        assert captured.out == ""
        assert data.read_bytes() == before


@pytest.mark.parametrize("argv", [
    [],
    ["fly"],
    ["resume", "x.npz"],                      # --steps is required
    ["train", "--kernel", "gpu"],
    ["train", "--steps", "many"],
])
def test_main_usage_errors(capsys, argv):
    assert main(argv) == 2
    assert "usage" in capsys.readouterr().err


def test_main_resume_out_and_checkpoint(tmp_path, capsys):
    first = tmp_path / "first.npz"
    ckpt = tmp_path / "ckpt.npz"
    assert main(["train", "--steps", "300", "--n", "10", "--width", "5", "--checkpoint", str(ckpt),
                 "--checkpoint-every", "100", "--out", str(first)]) == 0
    assert relu1d.Run.load(ckpt).steps == 300  # written at the end too
    second = tmp_path / "second.npz"
    assert main(["resume", str(first), "--steps", "200", "--out", str(second)]) == 0
    text = capsys.readouterr().out
    assert "resumed at step 300" in text
    assert relu1d.Run.load(first).steps == 300  # --out leaves PATH alone
    assert relu1d.Run.load(second).steps == 500
    assert main(["info", str(second)]) == 0
    info = capsys.readouterr().out
    assert "500" in info and f"relu1d {relu1d.__version__}" in info


def test_main_sharpness_off(tmp_path, capsys):
    out = tmp_path / "r.npz"
    assert main(["train", "--steps", "100", "--n", "10", "--width", "3", "--sharpness-every", "0",
                 "--out", str(out)]) == 0
    text = capsys.readouterr().out
    assert "sharpness " not in text.split("result", 1)[1]
    assert np.isnan(relu1d.Run.load(out).history["sharpness"]).all()


# ---------------------------------------------------------------------------------------------
# Usage errors: one line on stderr, nothing on stdout, no traceback, exit status 2

@pytest.mark.parametrize("argv, needle", [
    (["train", "--lr", "0"], "--lr: must be > 0"),
    (["train", "--lr", "-1"], "--lr: must be > 0"),
    (["train", "--clip", "-1"], "--clip: must be > 0"),
    (["train", "--record-every", "0"], "--record-every: must be >= 1"),
    (["train", "--steps", "2.5"], "--steps: expected a whole number"),
    (["train", "--steps", "1e30"], "--steps: must be <="),
    (["train", "--lr", "0:0.1,2.5:0.01"], "--lr: expected a whole number"),
    (["train", "--lr", "10:0.1"], "--lr: the first piece must start at step 0"),
    (["train", "--max-loss", "nan"], "--max-loss: must be finite"),
    (["train", "--data", "{tmp}"], "is a directory"),
    (["train", "--checkpoint", "{tmp}"], "--checkpoint: {tmp} is a directory"),
    (["train", "--out", "{tmp}"], "--out: {tmp} is a directory"),
    (["train", "--out", "{tmp}/no/such/r.npz"], "--out: folder"),
    (["resume", "{tmp}/run.npz", "--steps", "10", "--out", "{tmp}"], "--out: {tmp} is a directory"),
    (["info", "{tmp}/data.csv"], "text file (CSV?)"),
    (["train", "--threads", "100000"], "far above"),
])
def test_usage_errors_print_nothing_before_the_message(tmp_path, capsys, argv, needle):
    relu1d.train(relu1d.Objective([0.0, 1.0], [1.0, 0.0]), relu1d.init_params(2, rng=0), lr=0.1,
                 steps=5).save(tmp_path / "run.npz")
    (tmp_path / "data.csv").write_text("x,y\n0,1\n1,0\n")
    argv = [a.replace("{tmp}", str(tmp_path)) for a in argv]
    if argv[0] == "train":
        argv += ["--steps", "100000"] if "--steps" not in argv else []
        argv += ["--out", str(tmp_path / "o.npz")] if "--out" not in argv else []
    before = set(os.listdir(tmp_path))
    rc = main(argv)
    captured = capsys.readouterr()
    assert rc == 2, captured.err
    assert captured.out == ""
    assert needle.replace("{tmp}", str(tmp_path)) in captured.err
    assert "Traceback" not in captured.err
    assert set(os.listdir(tmp_path)) == before


def test_no_traceback_in_a_subprocess(tmp_path):
    for argv in (["train", "--lr", "0"], ["train", "--data", str(tmp_path)],
                 ["train", "--checkpoint", str(tmp_path)]):
        p = run_cli(*argv, cwd=tmp_path)
        assert p.returncode == 2, p.stderr
        assert "Traceback" not in p.stderr and "error" in p.stderr
        assert p.stdout == ""


def test_plot_out_directory_is_a_usage_error(tmp_path, capsys):
    pytest.importorskip("matplotlib")
    run_file = tmp_path / "run.npz"
    relu1d.train(relu1d.Objective([0.0, 1.0], [1.0, 0.0]), relu1d.init_params(2, rng=0), lr=0.1,
                 steps=5).save(run_file)
    folder = tmp_path / "figures"
    folder.mkdir()
    assert main(["plot", str(run_file), "--out", str(folder)]) == 2
    err = capsys.readouterr().err
    assert f"--out: {folder} is a directory" in err, err
    assert not (tmp_path / "figures.png").exists() and os.listdir(folder) == []


def test_version(capsys):
    assert main(["--version"]) == 0
    assert capsys.readouterr().out.strip() == f"relu1d {relu1d.__version__}"


def test_keyboard_interrupt_before_training_is_status_130(tmp_path, capsys, monkeypatch):
    def interrupted(path):
        raise KeyboardInterrupt

    monkeypatch.setattr(relu1d, "load_data", interrupted)
    (tmp_path / "d.csv").write_text("0,1\n1,2\n")
    assert main(["train", "--data", str(tmp_path / "d.csv"), "--out", str(tmp_path / "o.npz")]) == 130
    err = capsys.readouterr().err
    assert "interrupted" in err and "Traceback" not in err


# ---------------------------------------------------------------------------------------------
# Exit status and what the summary suggests

def test_diverged_run_exit_status_and_no_resume_hint(tmp_path, capsys):
    out = tmp_path / "d.npz"
    rc = main(["train", "--lr", "50", "--steps", "1e4", "--n", "10", "--width", "5", "--out", str(out)])
    text = capsys.readouterr().out
    assert rc == 3
    assert "diverged" in text
    assert f"relu1d resume {out} --steps N  to continue" not in text
    # resuming it with the same step size would do nothing: refused, with the way out
    assert main(["resume", str(out), "--steps", "100"]) == 2
    assert "--lr" in capsys.readouterr().err
    assert main(["resume", str(out), "--steps", "100", "--lr", "0.01"]) == 0
    assert relu1d.Run.load(out).status == "max_steps"


def test_finished_run_suggests_resume(tmp_path, capsys):
    out = tmp_path / "r.npz"
    assert main(["train", "--steps", "1e3", "--n", "10", "--width", "5", "--out", str(out)]) == 0
    assert f"relu1d resume {out} --steps N" in capsys.readouterr().out


def test_interrupted_cli_run_exits_130_and_saves(tmp_path):
    if sys.platform == "win32":
        pytest.skip("POSIX signals needed")
    import select
    import signal

    out = tmp_path / "i.npz"
    proc = subprocess.Popen([sys.executable, "-m", "relu1d", "train", "--steps", "1e12", "--n", "20",
                             "--width", "10", "--out", str(out)], cwd=tmp_path, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    try:
        ready, _, _ = select.select([proc.stdout], [], [], 60)
        assert ready
        assert proc.stdout.readline().startswith("data")  # the header: training starts next
        proc.stdout.readline()
        import time
        time.sleep(0.5)
        proc.send_signal(signal.SIGINT)
        stdout, stderr = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 130, stderr
    assert "Traceback" not in stderr
    assert "interrupted" in stdout and f"relu1d resume {out}" in stdout
    assert relu1d.Run.load(out).status == "interrupted"


def test_closed_stdout_does_not_stop_the_run(tmp_path):
    out = tmp_path / "p.npz"
    proc = subprocess.Popen([sys.executable, "-m", "relu1d", "train", "--steps", "2e5", "--n", "20", "--width",
                             "10", "--out", str(out)], cwd=tmp_path, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE)
    proc.stdout.readline()
    proc.stdout.close()  # like `relu1d train | head -1`
    stderr = proc.stderr.read().decode()
    proc.wait(timeout=120)
    proc.stderr.close()
    assert "Traceback" not in stderr and "BrokenPipe" not in stderr, stderr
    assert proc.returncode == 0
    assert relu1d.Run.load(out).steps == 200_000


# ---------------------------------------------------------------------------------------------
# Output files

def test_checkpoint_option_writes_one_file(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert main(["train", "--steps", "500", "--n", "10", "--width", "4", "--checkpoint", "ck.npz"]) == 0
    assert sorted(os.listdir(tmp_path)) == ["ck.npz"]
    assert "saved     ck.npz" in capsys.readouterr().out
    assert relu1d.Run.load(tmp_path / "ck.npz").steps == 500


def test_default_output_is_named_and_never_overwritten(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    for _ in range(2):
        assert main(["train", "--steps", "200", "--n", "10", "--width", "4"]) == 0
    text = capsys.readouterr().out
    assert sorted(os.listdir(tmp_path)) == ["relu1d-run-2.npz", "relu1d-run.npz"]
    assert f"saved     {tmp_path / 'relu1d-run.npz'}" in text
    assert f"saved     {tmp_path / 'relu1d-run-2.npz'}" in text


# ---------------------------------------------------------------------------------------------
# The Python API's options on the command line

def test_steps_in_float_notation_schedules_and_tolerances(tmp_path, capsys):
    out = tmp_path / "s.npz"
    rc = main(["train", "--steps", "1e3", "--n", "10", "--width", "4", "--lr", "0:0.1,500:0.05",
               "--grad-tol", "1e-12", "--loss-tol", "1e-14", "--max-loss", "1e3", "--sharpness-tol", "1e-8",
               "--sharpness-max-iter", "50", "--sharpness-every", "100", "--checkpoint-seconds", "30",
               "--out", str(out)])
    assert rc == 0, capsys.readouterr().err
    assert "lr 0.1 from step 0, 0.05 from step 500" in capsys.readouterr().out
    run = relu1d.Run.load(out)
    assert run.steps == 1000
    assert run.config["lr"] == [[0, 0.1], [500, 0.05]]
    assert (run.config["grad_tol"], run.config["loss_tol"], run.config["max_loss"]) == (1e-12, 1e-14, 1e3)
    assert (run.config["sharpness_tol"], run.config["sharpness_max_iter"]) == (1e-8, 50)
    x, y = relu1d.make_data(10, sigma=0.3, target="hat", rng=0)
    api = relu1d.train(relu1d.Objective(x, y), relu1d.init_params(4, rng=np.random.default_rng([0, 1])),
                       lr=[(0, 0.1), (500, 0.05)], steps=1000, grad_tol=1e-12, loss_tol=1e-14, max_loss=1e3,
                       sharpness_tol=1e-8, sharpness_max_iter=50, sharpness_every=100)
    np.testing.assert_array_equal(run.theta, api.theta)


def test_subcommands_register_through_add_parser():
    import argparse

    from relu1d.__main__ import SUBCOMMANDS, build_parser

    assert all(callable(f) for f in SUBCOMMANDS)
    parser = build_parser()
    sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    assert {"train", "resume", "info"} <= set(sub.choices)
    for name, p in sub.choices.items():
        assert callable(p.get_default("func")), name
