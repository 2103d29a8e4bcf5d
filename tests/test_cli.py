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
    (["train", "--init", "bogus"], "scheme"),
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
    err = capsys.readouterr().err
    assert rc == 2
    assert err.startswith("relu1d: error:"), err
    assert needle in err, err
    assert not (tmp_path / "out.npz").exists()


@pytest.mark.parametrize("argv", [
    [],
    ["fly"],
    ["resume", "x.npz"],                      # --steps is required
    ["train", "--kernel", "gpu"],
    ["train", "--steps", "many"],
])
def test_main_usage_errors(capsys, argv):
    with pytest.raises(SystemExit) as info:
        main(argv)
    assert info.value.code == 2
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
