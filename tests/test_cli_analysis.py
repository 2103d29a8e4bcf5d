"""``relu1d report`` and ``relu1d plot`` on a run saved by ``relu1d train``."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

import relu1d


def run_cli(*args, cwd=None):
    env = dict(os.environ, PYTHONWARNINGS="error")
    return subprocess.run([sys.executable, "-m", "relu1d", *args], capture_output=True, text=True, cwd=cwd,
                          timeout=120, env=env)


@pytest.fixture(scope="module")
def saved_run(tmp_path_factory):
    path = tmp_path_factory.mktemp("cli") / "run.npz"
    p = run_cli("train", "--steps", "3000", "--n", "20", "--width", "20", "--lr", "0.1", "--out", str(path))
    assert p.returncode == 0, p.stderr
    return path


def test_report_text_and_json(saved_run):
    p = run_cli("report", str(saved_run), "--f0", "hat")
    assert p.returncode == 0, p.stderr
    for words in ("StabilityReport(n=20, width=20, lr=0.1, steps=3,000)", "sharpness", "2/lr = 20",
                  "weighted TV(1)", "C needed", "effective knots", "MSE vs f0"):
        assert words in p.stdout, words
    p = run_cli("report", str(saved_run), "--json")
    assert p.returncode == 0, p.stderr
    d = json.loads(p.stdout)
    run = relu1d.Run.load(saved_run)
    rep = run.report()
    assert d["n"] == 20 and d["width"] == 20 and d["lr"] == 0.1 and d["steps"] == 3000
    assert d["wtv1"] == rep.wtv1 and d["loss"] == rep.loss
    # the run file records its built-in data, so f0 comes without --f0
    assert run.data["target"] == "hat" and d["f0"] == "hat"
    assert d["mse_f0"] == run.report(f0="hat").mse_f0 and d["mse_f0"] > 0
    assert d["sharpness"] == pytest.approx(rep.sharpness, rel=1e-8)


def test_plot_writes_an_image(saved_run, tmp_path):
    pytest.importorskip("matplotlib")
    out = tmp_path / "fig.png"
    p = run_cli("plot", str(saved_run), "--out", str(out), "--f0", "hat", "--dpi", "40", "--log-steps")
    assert p.returncode == 0, p.stderr
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


@pytest.mark.parametrize("args, message", [
    (("report", "{missing}"), "no such"),
    (("report", "{dir}"), "directory"),
    (("report", "{run}", "--f0", "nope"), "--f0"),
    (("plot", "{run}", "--out", "{dir}/no/such/dir/fig.png"), "--out"),
    (("plot", "{missing}", "--out", "{dir}/fig.png"), "no such"),
    (("plot", "{run}", "--out", "{dir}"), "--out"),
    (("plot", "{run}", "--out", "{dir}/fig"), "--out"),
    (("plot", "{run}", "--out", "{dir}/fig.nosuchformat"), "--out"),
    (("plot", "{run}", "--out", "{dir}/fig.png", "--dpi", "100000"), "--dpi"),
])
def test_usage_errors_exit_nonzero_without_traceback(saved_run, tmp_path, args, message):
    fill = {"missing": str(tmp_path / "missing.npz"), "dir": str(tmp_path), "run": str(saved_run)}
    p = run_cli(*(a.format(**fill) for a in args))
    assert p.returncode == 2
    assert message in p.stderr and "Traceback" not in p.stderr, p.stderr


def test_report_into_a_closed_pipe_stops_quietly(saved_run):
    """``relu1d report RUN | head -1``: the reader closes the pipe before the report is written."""
    env = dict(os.environ, PYTHONWARNINGS="error")
    with subprocess.Popen([sys.executable, "-m", "relu1d", "report", str(saved_run)], stdout=subprocess.PIPE,
                          stderr=subprocess.PIPE, env=env) as p:
        p.stdout.close()
        err = p.stderr.read().decode()
        p.wait(timeout=120)
    assert "Broken pipe" not in err and "Traceback" not in err and "Exception ignored" not in err, err


@pytest.mark.parametrize("command", ["report", "plot"])
def test_help_lists_every_target(command):
    p = run_cli(command, "--help")
    assert p.returncode == 0, p.stderr
    for name in relu1d.TARGETS:
        assert name in p.stdout, name
