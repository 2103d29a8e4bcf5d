"""The Run object (python/relu1d/run.py): its history table, its exports (pandas DataFrame,
matplotlib plot) and the files of earlier versions."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import relu1d
from relu1d import _core
from relu1d.run import HISTORY_COLUMNS, HISTORY_KEYS

DATA = Path(__file__).resolve().parent / "data"


# ---------------------------------------------------------------------------------------------
# The history follows the compiled column table

def test_history_columns_follow_the_compiled_table(short_run, tmp_path):
    table = _core.history_columns()
    assert HISTORY_KEYS == tuple(name for name, *_ in table) and HISTORY_KEYS[0] == "step"
    h = short_run.history
    assert tuple(h) == HISTORY_KEYS
    for name, dtype, filled, _ in table:
        assert h[name].dtype == np.dtype(dtype), name
        assert filled in ("every_row", "sharpness_rows")
    # sharpness_rows columns hold their value exactly where the sharpness was measured
    measured = np.isfinite(h["sharpness"])
    assert measured.sum() == 11  # every 30 steps, and the final step
    for c in HISTORY_COLUMNS:
        if c.filled == "sharpness_rows" and c.dtype == "float64":
            assert np.isfinite(h[c.name][measured]).all() and np.isnan(h[c.name][~measured]).all(), c.name
    # the checkpoint layout: one array per column
    path = tmp_path / "run.npz"
    short_run.save(path)
    with np.load(path) as f:
        assert {k for k in f.files if k.startswith("history_")} == {"history_" + k for k in HISTORY_KEYS}


def test_file_of_format_version_1_loads_and_resumes(tmp_path):
    # written by relu1d 0.1.0 before the history table and TrainConfig: x = linspace(-1, 1, 12),
    # y = sin(3 x), init_params(3, rng=0), lr=0.1, 30 steps, record_every=5, sharpness_every=10
    old = relu1d.Run.load(DATA / "run_format_v1.npz")
    assert old.steps == 30 and old.status == "max_steps"
    assert old.config.lr == [[0, 0.1]] and old.config.record_every == 5 and old.config.sharpness_every == 10
    x = np.linspace(-1, 1, 12)
    np.testing.assert_array_equal(old.objective.x, x)
    np.testing.assert_array_equal(old.history["step"], np.arange(0, 30, 5))
    assert np.isfinite(old.history["sharpness"][::2]).all()
    more = relu1d.resume(DATA / "run_format_v1.npz", steps=10, checkpoint=tmp_path / "resumed.npz")
    assert more.steps == 40
    np.testing.assert_array_equal(more.history["step"], np.arange(0, 41, 5))  # and the final step
    np.testing.assert_array_equal(more.history["loss"][:6], old.history["loss"])


# ---------------------------------------------------------------------------------------------
# Exports


@pytest.fixture(scope="module")
def short_run():
    x, y = relu1d.make_data(20, rng=0)
    return relu1d.train(relu1d.Objective(x, y), relu1d.init_params(5, rng=1), lr=0.05, steps=300,
                        record_every=10, sharpness_every=30)


def test_to_dataframe(short_run):
    pd = pytest.importorskip("pandas")
    df = short_run.to_dataframe()
    assert isinstance(df, pd.DataFrame)
    assert df.index.name == "step"
    np.testing.assert_array_equal(df.index.to_numpy(), short_run.history["step"])
    assert list(df.columns) == [k for k in short_run.history if k != "step"]
    np.testing.assert_array_equal(df["loss"].to_numpy(), short_run.history["loss"])
    assert df["sharpness"].notna().sum() == 11  # every 30 steps, and the final step


def test_plot(short_run):
    mpl = pytest.importorskip("matplotlib")
    mpl.use("Agg")
    import matplotlib.pyplot as plt

    ax_loss, ax_sharp = short_run.plot()
    try:
        assert ax_loss.get_xlabel() == "step" and ax_sharp.get_xlabel() == "step"
        line = ax_loss.get_lines()[0]
        np.testing.assert_array_equal(line.get_xdata(), short_run.history["step"])
        np.testing.assert_array_equal(line.get_ydata(), short_run.history["loss"])
        sharp, edge = ax_sharp.get_lines()[:2]
        assert len(sharp.get_xdata()) == 11
        np.testing.assert_allclose(edge.get_ydata(), 2.0 / short_run.history["lr"])
        # given axes are used
        fig, axes = plt.subplots(1, 2)
        assert tuple(short_run.plot(axes=axes)) == tuple(axes)
        plt.close(fig)
    finally:
        plt.close("all")


def test_exports_without_optional_packages(short_run, monkeypatch):
    import builtins

    real_import = builtins.__import__

    def fake_import(name, *args, **kwargs):
        if name.split(".")[0] in ("pandas", "matplotlib"):
            raise ImportError(f"no {name}")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", fake_import)
    with pytest.raises(ImportError, match="pandas"):
        short_run.to_dataframe()
    with pytest.raises(ImportError, match="matplotlib"):
        short_run.plot()


# ---------------------------------------------------------------------------------------------
# Run.plot: nothing clipped, a title, a log-scale step axis

@pytest.mark.parametrize(("kwargs", "error", "match"), [
    ({"log_steps": "yes"}, TypeError, r"^log_steps: expected a bool, got str"),
    ({"log_steps": 1}, TypeError, r"^log_steps: expected a bool, got int"),
    ({"axes": 5}, TypeError, r"^axes: expected a pair of matplotlib axes, got int"),
    ({"axes": np.zeros(2)}, TypeError, r"^axes: expected a pair of matplotlib axes, got ndarray"),
])
def test_plot_bad_arguments(short_run, kwargs, error, match):
    mpl = pytest.importorskip("matplotlib")
    mpl.use("Agg")
    with pytest.raises(error, match=match):
        short_run.plot(**kwargs)


def test_plot_layout_title_and_log_steps(short_run, tmp_path):
    mpl = pytest.importorskip("matplotlib")
    mpl.use("Agg")
    import matplotlib.pyplot as plt

    try:
        ax_loss, ax_sharp = short_run.plot(log_steps=True)
        fig = ax_loss.figure
        assert type(fig.get_layout_engine()).__name__ == "ConstrainedLayoutEngine"
        title = fig.get_suptitle()
        assert "n = 20" in title and "width 5" in title and "lr 0.05" in title
        assert ax_loss.get_xscale() == ax_sharp.get_xscale() == "symlog"
        fig.savefig(tmp_path / "p.png")
        renderer = fig.canvas.get_renderer()
        box = fig.bbox
        for ax in (ax_loss, ax_sharp):
            for label in (ax.xaxis.label, ax.yaxis.label):
                ext = label.get_window_extent(renderer)
                assert box.x0 <= ext.x0 and ext.x1 <= box.x1 and box.y0 <= ext.y0 and ext.y1 <= box.y1, \
                    label.get_text()
        assert short_run.plot()[0].get_xscale() == "linear"
    finally:
        plt.close("all")


def test_data_description_is_kept_by_save_load_and_resume(tmp_path):
    x, y = relu1d.make_data(12, sigma=0.1, target="abs", rng=0)
    obj = relu1d.Objective(x, y)
    info = {"target": "abs", "n": 12, "sigma": 0.1, "seed": np.int64(0)}
    run = relu1d.train(obj, relu1d.init_params(3, rng=0), lr=0.05, steps=50, data=info)
    assert run.data == {"target": "abs", "n": 12, "sigma": 0.1, "seed": 0}
    path = tmp_path / "run.npz"
    run.save(path)
    assert relu1d.Run.load(path).data == run.data
    assert relu1d.resume(path, steps=10).data == run.data
    assert relu1d.train(obj, run.theta0, lr=0.05, steps=1).data is None


@pytest.mark.parametrize("bad, exc", [(["hat"], TypeError), ({1: "hat"}, TypeError), ({"x": [1, 2]}, TypeError)])
def test_data_description_must_be_json_scalars(bad, exc):
    obj = relu1d.Objective([0.0, 1.0], [0.0, 1.0])
    with pytest.raises(exc, match="data"):
        relu1d.train(obj, relu1d.init_params(2, rng=0), lr=0.05, steps=1, data=bad)
