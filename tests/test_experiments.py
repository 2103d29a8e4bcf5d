"""The paper's experiments (relu1d.experiments, ``relu1d reproduce``): every experiment runs in
quick mode (at a reduced step scale, so the whole file takes seconds), writes its figures and
numbers, and the claims that hold even on short runs hold."""

from __future__ import annotations

import csv
import glob
import json
import math
import os

import numpy as np
import pytest

pytest.importorskip("matplotlib")

from relu1d import experiments  # noqa: E402
from relu1d.experiments import _common  # noqa: E402

SCALE = 0.03  # step counts of quick mode times this: every experiment in a few seconds


@pytest.fixture(scope="module")
def results(tmp_path_factory):
    out = tmp_path_factory.mktemp("reproduce")
    res = {name: experiments.run(name, quick=True, out=out, scale=SCALE, workers=2, progress=False)
           for name in experiments.names()}
    return out, res


def _csv(path):
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def _floats(rows, key):
    return np.array([float(r[key]) for r in rows])


# ------------------------------------------------------------------------------------------------
# every experiment


@pytest.mark.parametrize("name", experiments.names())
def test_outputs_exist_and_are_sane(results, name):
    out, res = results
    r = res[name]
    assert r.name == name and r.mode == "quick"
    assert r.folder == os.path.join(str(out), name)
    assert r.files[-1] == "summary.json"
    pngs = [f for f in r.files if f.endswith(".png")]
    csvs = [f for f in r.files if f.endswith(".csv")]
    assert pngs and csvs
    for f in r.files:
        path = os.path.join(r.folder, f)
        assert os.path.getsize(path) > 0, f
    for f in pngs:
        with open(os.path.join(r.folder, f), "rb") as fh:
            assert fh.read(8) == b"\x89PNG\r\n\x1a\n"
    with open(os.path.join(r.folder, "summary.json")) as f:
        summary = json.load(f)
    assert summary["experiment"] == name
    assert summary["settings"]["scale"] == SCALE
    assert summary["settings"]["sweep_seed"] == 0
    assert summary["wall_time"] > 0 and summary["runs"] > 0 and summary["train_seconds"] > 0
    assert summary["command"].startswith(f"relu1d reproduce {name} --quick")
    for check in summary["checks"].values():
        assert isinstance(check["holds"], bool) and check["detail"] and isinstance(check["quick"], bool)
    assert r.checks == summary["checks"]


def test_shared_runs_trained_once(results):
    out, _ = results
    attempts = glob.glob(os.path.join(str(out), "_sweeps", "**", "*.attempts"), recursive=True)
    assert attempts
    for path in attempts:  # edge, sparsity, regularizer and knot-distance share the lr grid
        with open(path) as f:
            assert len(f.read().splitlines()) == 1, path


def test_rerun_reuses_finished_runs(results):
    out, res = results
    again = experiments.run("sparsity", quick=True, out=out, scale=SCALE, workers=2, progress=False)
    assert again.results["per_lr"] == res["sparsity"].results["per_lr"]
    for path in glob.glob(os.path.join(str(out), "_sweeps", "lr-grid-*", "runs", "*.attempts")):
        with open(path) as f:
            assert len(f.read().splitlines()) == 1


def test_killed_run_resumes_from_its_file(results):
    """A run whose row never got written (the process was killed after its last checkpoint) is
    picked up from its run file when the experiment runs again, not trained from scratch."""
    out, res = results
    rows = glob.glob(os.path.join(str(out), "_sweeps", "lr-grid-*", "runs", "*.json"))
    victim = sorted(rows)[0]
    with open(victim) as f:
        before = json.load(f)
    os.remove(victim)
    again = experiments.run("sparsity", quick=True, out=out, scale=SCALE, workers=2, progress=False)
    with open(victim) as f:
        after = json.load(f)
    assert after["resumed_from"] == before["steps_done"] and after["attempts"] == 2
    for key in ("final_loss", "wtv1", "sharpness", "effective_knots_count"):
        assert after[key] == before[key]
    assert again.results["per_lr"] == res["sparsity"].results["per_lr"]


# ------------------------------------------------------------------------------------------------
# per experiment


def test_showcase(results):
    _, res = results
    r = res["showcase"]
    s = experiments.settings("showcase", quick=True)
    rows = _csv(os.path.join(r.folder, "showcase.csv"))
    assert len(rows) == 2 * len(r.results["stages"])
    assert r.results["stages"][-1] == r.results["steps"] == round(s["steps"] * SCALE)
    for key in ("loss", "mse_f0", "sharpness", "wtv1"):
        assert np.isfinite(_floats(rows, key)).all()
    # the claims that hold already on short runs
    for name in ("fewer_bends_at_large_lr", "large_lr_does_not_interpolate"):
        assert r.checks[name]["holds"], r.checks[name]
    big, small = r.results["final"]["0.4"], r.results["final"]["0.01"]
    assert big["bends"] < small["bends"]


def test_edge(results):
    _, res = results
    r = res["edge"]
    s = experiments.settings("edge", quick=True)
    rows = _csv(os.path.join(r.folder, "edge.csv"))
    assert len(rows) == len(s["lrs"]) * len(s["seeds"])
    sharp = _floats(rows, "sharpness")
    assert np.isfinite(sharp).all() and (sharp >= 1 - 1e-9).all()  # H[c, c] = 1
    np.testing.assert_allclose(_floats(rows, "edge_of_stability"), 2 / _floats(rows, "lr"))
    assert r.checks["sharpness_at_least_one"]["holds"]


def test_sparsity_bound_columns(results):
    _, res = results
    r = res["sparsity"]
    rows = _csv(os.path.join(r.folder, "sparsity.csv"))
    s = experiments.settings("sparsity", quick=True)
    assert len(rows) == len(s["lrs"]) * len(s["seeds"])
    wtv1, lam, loss, lr = (_floats(rows, k) for k in ("wtv1", "sharpness", "loss", "lr"))
    assert (wtv1 >= 0).all() and np.isfinite(wtv1).all()
    for i in (1, 2):
        C = _floats(rows, f"C{i}")
        np.testing.assert_allclose(_floats(rows, f"C{i}_sharpness_bound"), lam / 2 - 0.5 + C * np.sqrt(2 * loss),
                                   rtol=1e-12, atol=1e-12)
        np.testing.assert_allclose(_floats(rows, f"C{i}_lr_bound"), 1 / lr - 0.5 + C * np.sqrt(2 * loss),
                                   rtol=1e-12, atol=1e-12)
    # wTV(1) falls as lr grows, even on short runs
    assert r.checks["wtv1_grows_with_one_over_lr"]["holds"], r.checks["wtv1_grows_with_one_over_lr"]


def test_regularizer(results):
    _, res = results
    r = res["regularizer"]
    s = experiments.settings("regularizer", quick=True)
    for tag, grid in ((f"n{s['n']}", s), (f"n{s['larger_n']['n']}", s["larger_n"])):
        got = r.results[tag]
        assert sorted(float(k) for k in got["per_lr"]) == sorted(grid["lrs"])
        for v in got["per_lr"].values():
            assert v["runs"] == len(grid["seeds"])
            assert v["mse_f0_mean"] > 0 and math.isfinite(v["mse_f0_sd"])
        assert got["best_lr"] in grid["lrs"]
        assert abs(got["variance_of_f0"] - 1 / 6 + 1 / 16) < 1e-6  # the hat: E f0^2 = 1/6, E f0 = 1/4
        rows = _csv(os.path.join(r.folder, f"regularizer_{tag}.csv"))
        assert len(rows) == len(grid["lrs"]) * len(grid["seeds"])


def test_rate(results):
    _, res = results
    r = res["rate"]
    s = experiments.settings("rate", quick=True)
    for target in s["targets"]:
        runs = _csv(os.path.join(r.folder, f"rate_runs_{target}.csv"))
        tuned = _csv(os.path.join(r.folder, f"rate_tuned_{target}.csv"))
        assert len(runs) == len(s["ns"]) * len(s["lrs"]) * len(s["seeds"])
        assert len(tuned) == len(s["ns"]) * len(s["seeds"])
        assert np.isfinite(_floats(runs, "mse_interior")).all()
        assert set(_floats(tuned, "lr")) <= set(s["lrs"])
        fit = r.results[target]["fits"]["tuned"]
        assert fit["points"] == len(s["ns"]) and np.isfinite(fit["slope"])
        assert r.checks[f"mse_decreases_with_n_{target}"]["holds"]


def test_no_interpolation(results):
    _, res = results
    r = res["no-interpolation"]
    s = experiments.settings("no-interpolation", quick=True)
    hist = _csv(os.path.join(r.folder, "no_interpolation_history.csv"))
    assert {float(h["lr"]) for h in hist} == set(s["lrs"])
    assert np.isfinite(_floats(hist, "sharpness")).all()
    assert r.results["linear_interpolant_wtv1"] > 0
    for lr in s["lrs"]:
        assert r.checks[f"loss_stays_above_zero_lr_{lr:g}"]["holds"]
    assert r.checks["interpolant_too_rough_for_these_lrs"]["holds"]


def test_knot_distance(results):
    _, res = results
    r = res["knot-distance"]
    rows = _csv(os.path.join(r.folder, "knot_distance.csv"))
    assert rows
    d, pos = _floats(rows, "distance"), _floats(rows, "position")
    assert (d >= 0).all() and np.isfinite(_floats(rows, "distance_over_spacing")).all()
    assert (np.abs(pos) <= 1).all()


def test_tempered(results):
    _, res = results
    r = res["tempered"]
    s = experiments.settings("tempered", quick=True)
    rows = _csv(os.path.join(r.folder, "tempered.csv"))
    assert [int(x["width"]) for x in rows] == s["widths"]
    assert np.isfinite(_floats(rows, "loss")).all() and np.isfinite(_floats(rows, "mse_f0")).all()


# ------------------------------------------------------------------------------------------------
# machinery


def test_staged_sweep_equals_one_long_run(tmp_path):
    cfgs = [dict(n=20, width=12, lr=0.4, clip=50.0, seed=3, record_every=7, sharpness_every=50),
            dict(n=20, width=12, lr=0.02, seed=3, record_every=7, sharpness_every=50)]
    ctx = _common.Context(name="x", root=str(tmp_path), progress=False, workers=2)
    staged = _common.staged_sweep(ctx, cfgs, [100, 700, 1500], "staged")
    direct = _common.sweep_rows(ctx, [dict(c, steps=1500) for c in cfgs], "direct")
    assert [r["stage_steps"] for r in staged[1]] == [700, 700]
    for a, b in zip(staged[-1], direct):
        assert a["resumed_from"] == 700
        ra, rb = _common.load_run(a), _common.load_run(b)
        assert ra.steps == rb.steps == 1500
        np.testing.assert_array_equal(ra.theta, rb.theta)
        np.testing.assert_array_equal(ra.history["loss"], rb.history["loss"])


def test_data_bends_counts_knots_between_two_inputs_once():
    from relu1d import pack

    x = np.array([-1.0, -0.5, 0.0, 0.5, 1.0])
    # knots at -0.3 and -0.2 (same gap, jumps +1 each), at 0.25 (jump -2), at 2.0 (outside)
    w = np.array([1.0, 1.0, 1.0, 1.0])
    b = np.array([0.3, 0.2, -0.25, -2.0])
    v = np.array([1.0, 1.0, -2.0, 5.0])
    theta = pack(w, b, v, 0.0)
    assert _common.data_bends(theta, x) == 2
    # opposite jumps in one gap cancel as far as the data can tell
    theta = pack(w[:2], b[:2], np.array([1.0, -1.0]), 0.0)
    assert _common.data_bends(theta, x) == 0


def test_geometric_stages_and_fit():
    st = _common.geometric_stages(100, 10_000, 2)
    assert st[0] == 100 and st[-1] == 10_000 and st == sorted(set(st)) and len(st) == 5
    assert _common.geometric_stages(50, 50) == [50]
    n = np.array([10.0, 20, 40, 80])
    fit = _common.fit_loglog(n, 3 * n ** -0.8)
    assert abs(fit["slope"] + 0.8) < 1e-12 and fit["points"] == 4


def test_bad_arguments(tmp_path):
    with pytest.raises(ValueError, match="name"):
        experiments.run("nope", out=tmp_path)
    with pytest.raises(ValueError, match="scale"):
        experiments.run("showcase", out=tmp_path, scale=2.0)
    with pytest.raises(ValueError, match="scale"):
        experiments.run("showcase", out=tmp_path, scale=0.0)
    with pytest.raises(ValueError, match="workers"):
        experiments.run("showcase", out=tmp_path, workers=0)


def test_command_line(results, capsys):
    from relu1d.__main__ import main

    out, _ = results
    assert main(["reproduce", "showcase", "--quick", "--scale", str(SCALE), "--out", str(out),
                 "--workers", "2"]) == 0
    printed = capsys.readouterr().out
    assert "showcase (quick)" in printed and "showcase.png" in printed and "fewer_bends_at_large_lr" in printed
    assert main(["reproduce", "nope"]) == 2  # a usage error: argparse's message, exit status 2
    assert main(["reproduce", "showcase", "--quick", "--scale", "3", "--out", str(out)]) == 2


def test_bad_arguments_of_every_kind(tmp_path):
    with pytest.raises(TypeError, match="quick"):
        experiments.run("showcase", quick="yes", out=tmp_path)
    with pytest.raises(TypeError, match="out"):
        experiments.run("showcase", quick=True, out=None)
    with pytest.raises(TypeError, match="progress"):
        experiments.run("showcase", quick=True, out=tmp_path, progress="x")
    afile = tmp_path / "afile"
    afile.write_text("")
    with pytest.raises(ValueError, match="out: .*afile"):
        experiments.run("showcase", quick=True, out=afile)
    assert not any(p.name != "afile" for p in tmp_path.iterdir())  # nothing written for a bad call


def test_summary_command_regenerates_the_numbers(tmp_path):
    """The command stored in summary.json names every option that changes the numbers."""
    res = experiments.run("showcase", quick=True, out=tmp_path, scale=0.01, seed=3, workers=1, progress=False)
    with open(os.path.join(res.folder, "summary.json")) as f:
        command = json.load(f)["command"]
    assert "--scale 0.01" in command and "--seed 3" in command and "--quick" in command
