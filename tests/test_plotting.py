"""relu1d.plotting: every figure builds from a run without pyplot, labels its axes, names n, width and
lr in a title, and saves without clipping."""

from __future__ import annotations

import numpy as np
import pytest

import relu1d

pytest.importorskip("matplotlib")

from matplotlib.figure import Figure  # noqa: E402

from relu1d import plotting  # noqa: E402


@pytest.fixture(scope="module")
def run():
    x, y = relu1d.make_data(20, sigma=0.3, target="hat", rng=0)
    obj = relu1d.Objective(x, y)
    return relu1d.train(obj, relu1d.init_params(16, rng=1), lr=0.1, steps=3000, record_every=50,
                        sharpness_every=250, progress=False)


def texts(fig):
    out = []
    for ax in fig.axes:
        out += [ax.get_title(), ax.get_xlabel(), ax.get_ylabel()]
    if fig._suptitle is not None:
        out.append(fig._suptitle.get_text())
    return out


def assert_well_formed(fig, tmp_path, *, n="20", width="16", lr="0.1"):
    assert isinstance(fig, Figure)
    assert fig.get_layout_engine() is not None  # constrained layout
    for ax in fig.axes:
        if ax.get_label() == "<colorbar>":
            continue
        assert ax.get_xlabel() or ax.get_ylabel(), "an axes without labels"
    titles = " ".join(t for t in texts(fig))
    for words in (f"n = {n}", f"width = {width}", f"lr = {lr}"):
        assert words in titles, (words, titles)
    path = tmp_path / "fig.png"
    fig.savefig(path, dpi=50)
    assert path.stat().st_size > 1000
    # nothing drawn outside the canvas (constrained layout keeps labels and titles inside)
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    agg = FigureCanvasAgg(fig)
    agg.draw()
    renderer = agg.get_renderer()
    canvas = fig.bbox
    for ax in fig.axes:
        box = ax.get_tightbbox(renderer)
        assert box.x0 >= canvas.x0 - 1 and box.y0 >= canvas.y0 - 1, ax.get_title()
        assert box.x1 <= canvas.x1 + 1 and box.y1 <= canvas.y1 + 1, ax.get_title()


@pytest.mark.parametrize("make", [
    lambda r: plotting.plot_fit(r, f0="hat"),
    lambda r: plotting.plot_fit((r.objective, r.theta, r.lr)),
    lambda r: plotting.plot_neurons(r),
    lambda r: plotting.plot_weight(r),
    lambda r: plotting.plot_training(r),
    lambda r: plotting.plot_training(r, C="1 + x_max"),
    lambda r: plotting.plot_run(r, f0="hat"),
    lambda r: plotting.plot_run(r, log_steps=True),
], ids=["fit", "fit-tuple", "neurons", "weight", "training", "training-C", "run", "run-log-steps"])
def test_each_figure_is_well_formed(run, make, tmp_path):
    assert_well_formed(make(run), tmp_path)


def test_fit_draws_f_and_the_knots(run):
    fig = plotting.plot_fit(run, f0="hat")
    ax = fig.axes[0]
    learned = [line for line in ax.get_lines() if line.get_label() == "learned f"][0]
    xd, yd = learned.get_data()
    np.testing.assert_allclose(yd, relu1d.predict(run.theta, xd), rtol=0, atol=1e-12)
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    assert "f0 (truth)" in labels and any("knots" in t for t in labels)


def test_bounds_across_runs(run, tmp_path):
    x, y = relu1d.make_data(20, sigma=0.3, target="hat", rng=0)
    obj = relu1d.Objective(x, y)
    other = relu1d.train(obj, relu1d.init_params(16, rng=1), lr=0.02, steps=1000, progress=False)
    reports = [run.report(), other.report()]
    fig = plotting.plot_bounds(reports)
    assert_well_formed(fig, tmp_path, lr="0.02 to 0.1")
    ax = fig.axes[0]
    offsets = ax.collections[0].get_offsets()
    np.testing.assert_allclose(np.asarray(offsets)[:, 1], [r.wtv1 for r in reports])
    assert_well_formed(plotting.plot_bounds([run, (obj, other.theta, other.lr)]), tmp_path, lr="0.02 to 0.1")


def test_training_draws_the_recorded_wtv1(run):
    fig = plotting.plot_training(run)
    line = [ln for ln in fig.axes[1].get_lines() if ln.get_label() == "weighted TV(1)"][0]
    measured = np.isfinite(run.history["wtv1"])
    np.testing.assert_array_equal(line.get_xdata(), run.history["step"][measured])
    np.testing.assert_array_equal(line.get_ydata(), run.history["wtv1"][measured])


def test_draw_into_given_axes(run):
    fig = Figure(layout="constrained")
    ax = fig.subplots()
    assert plotting.plot_weight(run, ax=ax) is fig


def test_plotting_errors(run):
    with pytest.raises(TypeError, match="run"):
        plotting.plot_fit(np.zeros(4))
    with pytest.raises(TypeError, match="run"):
        plotting.plot_training((run.objective, run.theta, run.lr))
    with pytest.raises(ValueError, match="C"):
        plotting.plot_training(run, C="x_max^2")
    with pytest.raises(ValueError, match="runs"):
        plotting.plot_bounds([])
    with pytest.raises(TypeError, match=r"runs\[0\]"):
        plotting.plot_bounds([1.0])
    with pytest.raises(ValueError, match="target"):
        plotting.plot_fit(run, f0="nope")


@pytest.mark.parametrize("call, error, name", [
    (lambda r: plotting.plot_fit(r, label_knots="6"), TypeError, "label_knots"),
    (lambda r: plotting.plot_fit(r, label_knots=-1), ValueError, "label_knots"),
    (lambda r: plotting.plot_fit(r, f0=lambda x: np.nan * x), ValueError, "f0"),
    (lambda r: plotting.plot_fit(r, f0=lambda x: 1.0), ValueError, "f0"),
    (lambda r: plotting.plot_fit(r, ax=5), TypeError, "ax"),
    (lambda r: plotting.plot_training(r, C=float("nan")), ValueError, "C"),
    (lambda r: plotting.plot_training(r, C=True), TypeError, "C"),
    (lambda r: plotting.plot_training(r, C=-1.0), ValueError, "C"),
    (lambda r: plotting.plot_training(r, C=None), TypeError, "C"),
    (lambda r: plotting.plot_training(r, axes=[1]), TypeError, "axes"),
    (lambda r: plotting.plot_run(r, C=object()), TypeError, "C"),
    (lambda r: plotting.plot_bounds(5), TypeError, "runs"),
    (lambda r: plotting.plot_bounds([r], C=float("inf")), ValueError, "C"),
])
def test_bad_arguments_get_named_errors(run, call, error, name):
    with pytest.raises(error, match=name):
        call(run)


@pytest.mark.parametrize("plot", [plotting.plot_fit, plotting.plot_neurons, plotting.plot_weight])
def test_overflowing_parameters_get_a_named_error(plot):
    obj = relu1d.Objective([0.0, 1.0], [1.0, 0.0])
    for theta in (np.array([1e200, 0.0, 1e200, 0.0]), np.array([1e300, -1e300, 1e300, 0.0])):
        with pytest.raises(ValueError, match="theta.*overflows"):
            plot((obj, theta, 0.1))


@pytest.mark.parametrize("steps, lr", [(2000, 1e4), (0, 0.1)])  # diverges at its first step; no steps
def test_runs_with_one_or_no_recorded_row_show_their_points(steps, lr):
    x, y = relu1d.make_data(12, rng=0)
    run = relu1d.train(relu1d.Objective(x, y), relu1d.init_params(8, rng=0), lr=lr, steps=steps,
                       sharpness_every=1, record_every=1, progress=False)
    assert run.history["step"].size == min(steps, 1)
    fig = plotting.plot_run(run)
    panels = [ax for ax in fig.axes if ax.get_title().startswith(("training loss", "sharpness", "weighted TV(1) and"))]
    assert len(panels) == 3
    for ax in panels:
        lines = [ln for ln in ax.get_lines() if len(ln.get_xdata()) == 1]
        assert all(ln.get_marker() not in (None, "None", "", " ") for ln in lines), ax.get_title()
        if steps == 0 and "weighted TV(1)" not in ax.get_title():
            assert any(t.get_text() == "no recorded steps" for t in ax.texts), ax.get_title()


def test_a_run_without_sharpness_measurements_says_so():
    x, y = relu1d.make_data(12, rng=0)
    run = relu1d.train(relu1d.Objective(x, y), relu1d.init_params(8, rng=0), lr=0.1, steps=50,
                       sharpness_every=0, progress=False)
    ax_s, _ = plotting.plot_training(run).axes[:2]
    assert any("not measured" in t.get_text() for t in ax_s.texts)


def test_numpy_only_modules_do_not_import_matplotlib():
    import subprocess
    import sys

    code = ("import sys, relu1d, relu1d.analysis, numpy as np\n"
            "x, y = relu1d.make_data(10); o = relu1d.Objective(x, y); t = relu1d.init_params(4, rng=0)\n"
            "relu1d.analysis.stability_report(o, t, 0.1)\n"
            "assert 'matplotlib' not in sys.modules, 'matplotlib imported'\n")
    p = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert p.returncode == 0, p.stderr
