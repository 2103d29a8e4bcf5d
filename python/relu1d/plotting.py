"""Pictures of the stability theory on a run (matplotlib, imported when a function is called).

Every function returns a :class:`matplotlib.figure.Figure` made without pyplot (so nothing opens a
window or blocks, and no global figure state is touched), with constrained layout (saves without
clipping), labelled axes and a title that says n, width and lr. Pass ``ax=`` to draw into an
existing axes instead (its figure is returned).

A ``run`` argument is a :class:`relu1d.Run` or a tuple ``(objective, theta, lr)``.

- :func:`plot_fit`: data, f0, the learned f and its knots sized by their jumps;
- :func:`plot_neurons`: every neuron's contribution v_k relu(w_k x + b_k);
- :func:`plot_weight`: the weight g over the data range against the knots' |jumps|;
- :func:`plot_training`: sharpness against steps with 2/lr, weighted TV(1) against steps with its bound;
- :func:`plot_bounds`: weighted TV(1) against its bound across many runs;
- :func:`plot_run`: all of the per-run panels in one figure (``relu1d plot``).
"""

from __future__ import annotations

import math

import numpy as np

__all__ = ["plot_fit", "plot_neurons", "plot_weight", "plot_training", "plot_bounds", "plot_run"]


def _mpl():
    try:
        import matplotlib  # noqa: F401
        from matplotlib.figure import Figure
    except ImportError:
        raise ImportError("relu1d.plotting needs matplotlib: pip install 'relu1d[plot]'") from None
    return Figure


def _check_axes(ax, name="ax"):
    from matplotlib.axes import Axes

    if not isinstance(ax, Axes):
        raise TypeError(f"{name}: expected a matplotlib Axes, got {type(ax).__name__}")
    return ax


def _figure(ax, figsize, **subplots):
    """(figure, axes): a new constrained-layout figure, or the figure of the axes given."""
    Figure = _mpl()
    if ax is not None:
        return _check_axes(ax).figure, ax
    fig = Figure(figsize=figsize, layout="constrained")
    return fig, fig.subplots(**subplots)


def _resolve(run):
    """(objective, theta, lr, history or None, steps or None) from a Run or (objective, theta, lr)."""
    from ._validate import as_float, as_theta
    from .objective import check_objective
    from .run import Run

    if isinstance(run, Run):
        return run.objective, run.theta, run.lr, run.history, run.steps
    if isinstance(run, tuple) and len(run) == 3:
        obj, theta, lr = run
        return check_objective(obj), as_theta(theta), as_float(lr, "lr", positive=True), None, None
    raise TypeError(f"run: expected a relu1d.Run or a tuple (objective, theta, lr), got {type(run).__name__}")


def _title(what, n, width, lr, steps=None):
    tail = f", {steps:,} steps" if steps is not None else ""
    return f"{what}\nn = {n}, width = {width}, lr = {lr:g}{tail}"


def _f0(f0):
    from .data import target_function

    if f0 is None:
        return None
    if isinstance(f0, str):
        return target_function(f0)
    if not callable(f0):
        raise TypeError(f"f0: expected a callable or a target name, got {type(f0).__name__}")
    return f0


def _f0_values(f0, grid):
    """f0 on the grid, checked: an array of finite values of the grid's shape."""
    truth = np.asarray(f0(grid))
    if truth.shape != grid.shape or truth.dtype.kind not in "biuf" or not np.isfinite(truth).all():
        raise ValueError("f0: must map an array of points to finite values of the same shape")
    return truth


def _plot_range(xs):
    lo, hi = float(xs[0]), float(xs[-1])
    pad = 0.05 * (hi - lo) if hi > lo else 0.5
    return lo - pad, hi + pad


def _knot_sizes(jumps, biggest=120.0, smallest=4.0):
    a = np.abs(jumps)
    top = a.max() if a.size else 1.0
    return smallest + (biggest - smallest) * a / (top if top > 0 else 1.0)


# ------------------------------------------------------------------------------------------------


def plot_fit(run, *, f0=None, ax=None, label_knots: int = 6):
    """The data, f0 (when given), the learned f, and its knots sized by |slope jump|.

    The ``label_knots`` largest effective knots are annotated with their jumps.
    """
    from .analysis import effective_knots, knots, spline

    from ._validate import as_int

    obj, theta, lr, _, steps = _resolve(run)
    f0 = _f0(f0)
    label_knots = as_int(label_knots, "label_knots", minimum=0)
    fig, ax = _figure(ax, (6.4, 4.4))
    xs = obj._xs
    lo, hi = _plot_range(xs)
    s = spline(theta, lo, hi)
    grid = np.linspace(lo, hi, 2001)
    ax.scatter(obj.x, obj.y, s=14, color="0.35", zorder=3, label="training data")
    if f0 is not None:
        ax.plot(grid, _f0_values(f0, grid), color="tab:green", lw=1.2, ls="--", label="f0 (truth)")
    ax.plot(grid, s(grid), color="tab:blue", lw=1.6, label="learned f")
    k = knots(theta)
    inside = (k.merged_positions > lo) & (k.merged_positions < hi)
    t, jumps = k.merged_positions[inside], k.merged_jumps[inside]
    if t.size:
        ax.scatter(t, s(t), s=_knot_sizes(jumps), facecolors="none", edgecolors="tab:red", lw=1.0, zorder=4,
                   label="knots (size ~ |slope jump|)")
    ek = effective_knots(theta, obj)
    if ek.count and label_knots > 0:
        labelled = []
        for i in np.argsort(-np.abs(ek.jumps)):
            if len(labelled) == label_knots:
                break
            if any(abs(ek.positions[i] - t) < 0.04 * (hi - lo) for t in labelled):
                continue  # keep labels apart
            labelled.append(ek.positions[i])
            ax.annotate(f"{ek.jumps[i]:+.2g}", (ek.positions[i], s(ek.positions[i])), textcoords="offset points",
                        xytext=(0, 7), ha="center", fontsize=7, color="tab:red")
    ax.set_xlim(lo, hi)
    ax.set_xlabel("x")
    ax.set_ylabel("f(x)")
    ax.set_title(_title(f"fit: {ek.count} effective knots", obj.n, (theta.size - 1) // 3, lr,
                        steps), fontsize=10)
    ax.legend(fontsize=7, loc="best")
    return fig


def plot_neurons(run, *, ax=None):
    """Every neuron's contribution ``v_k relu(w_k x + b_k)`` over the data range (the basis functions).

    Neurons with v_k = 0 or inactive on the whole range are left out; colour: sign of v_k.
    """
    from matplotlib.collections import LineCollection

    from .params import unpack

    obj, theta, lr, _, steps = _resolve(run)
    fig, ax = _figure(ax, (6.4, 4.4))
    xs = obj._xs
    lo, hi = _plot_range(xs)
    grid = np.linspace(lo, hi, 400)
    w, b, v, c = unpack(theta)
    segments, colors = [], []
    shown = 0
    for k in range(w.size):
        if v[k] == 0:
            continue
        with np.errstate(over="ignore", invalid="ignore"):
            values = v[k] * np.maximum(w[k] * grid + b[k], 0.0)
        if not np.isfinite(values).all():
            raise ValueError(f"theta: neuron {k}'s contribution v_k relu(w_k x + b_k) overflows float64 "
                             f"on [{lo:.4g}, {hi:.4g}]")
        if not values.any():
            continue
        shown += 1
        segments.append(np.column_stack([grid, values]))
        colors.append("tab:orange" if v[k] > 0 else "tab:purple")
    if segments:
        ax.add_collection(LineCollection(segments, colors=colors, linewidths=0.8, alpha=0.7))
        allv = np.concatenate([seg[:, 1] for seg in segments])
        span = max(allv.max() - allv.min(), 1e-12)
        ax.set_ylim(allv.min() - 0.05 * span, allv.max() + 0.05 * span)
    ax.axhline(0.0, color="0.6", lw=0.6)
    ax.plot([], [], color="tab:orange", label="v_k > 0")
    ax.plot([], [], color="tab:purple", label="v_k < 0")
    ax.set_xlim(lo, hi)
    ax.set_xlabel("x")
    ax.set_ylabel("v_k relu(w_k x + b_k)")
    ax.set_title(_title(f"neurons: {shown} of {w.size} active on the range (c = {c:.3g})", obj.n, w.size, lr,
                        steps), fontsize=10)
    ax.legend(fontsize=7, loc="best")
    return fig


def plot_weight(run, *, ax=None):
    """The weight g(x) over the data range and the knots' |slope jumps| (twin axis): where f bends
    against where stability lets it bend cheaply (weighted TV(1) = sum |jump| g(t))."""
    from .analysis import g_weight, knots, weighted_tv1

    obj, theta, lr, _, steps = _resolve(run)
    fig, ax = _figure(ax, (6.4, 4.4))
    xs = obj._xs
    lo, hi = float(xs[0]), float(xs[-1])
    grid = np.linspace(lo, hi, 1001) if hi > lo else np.array([lo])
    g = g_weight(obj, grid)
    ax.plot(grid, g, color="tab:blue", lw=1.6, label="g(x)")
    ax.plot(xs, np.zeros_like(xs), "|", color="0.4", ms=8, label="training inputs")
    ax.set_xlabel("x")
    ax.set_ylabel("weight g(x)", color="tab:blue")
    k = knots(theta)
    inside = (k.merged_positions > lo) & (k.merged_positions < hi)
    t, jumps = k.merged_positions[inside], np.abs(k.merged_jumps[inside])
    ax2 = ax.twinx()
    if t.size:
        ax2.vlines(t, 0, jumps, color="tab:red", lw=0.8, alpha=0.6)
        ax2.scatter(t, jumps, s=_knot_sizes(jumps), color="tab:red", alpha=0.7, label="|slope jump| at a knot")
        ax2.set_ylim(0, 1.08 * jumps.max())
    ax2.set_ylabel("|slope jump| at a knot", color="tab:red")
    if hi > lo:
        ax.set_xlim(lo, hi)
    ax.set_ylim(bottom=0)
    wtv1 = weighted_tv1(theta, obj)
    ax.set_title(_title(f"weight g and knots: weighted TV(1) = {wtv1:.4g}", obj.n, (theta.size - 1) // 3, lr,
                        steps), fontsize=10)
    handles = ax.get_legend_handles_labels()
    handles2 = ax2.get_legend_handles_labels()
    ax.legend(handles[0] + handles2[0], handles[1] + handles2[1], fontsize=7, loc="upper right")
    return fig


def _c_value(C, x_max):
    from ._validate import as_float
    from .analysis import C_CANDIDATES

    if isinstance(C, str):
        if C not in C_CANDIDATES:
            raise ValueError(f"C: expected a number or one of {list(C_CANDIDATES)}, got {C!r}")
        return C_CANDIDATES[C](x_max), C
    C = as_float(C, "C", nonnegative=True)
    return C, f"{C:g}"


def _series(ax, x, y, *args, **kwargs):
    """``ax.plot`` of a series against steps; a lone point gets a marker (a line of one point is
    invisible: a run that diverged at its first step, a single sharpness measurement)."""
    if np.size(x) == 1:
        kwargs.setdefault("marker", "o")
    return ax.plot(x, y, *args, **kwargs)


def _no_rows_note(ax, steps):
    if steps.size == 0:
        ax.text(0.5, 0.5, "no recorded steps", transform=ax.transAxes, ha="center", va="center", color="0.4")


def _step_axis(ax, steps, log_steps):
    ax.set_xlabel("step (log scale)" if log_steps else "step")
    if log_steps:
        positive = steps[steps > 0]
        ax.set_xscale("symlog", linthresh=float(positive.min()) if positive.size else 1.0)
        if steps.size:
            ax.set_xlim(left=float(steps.min()))


def plot_training(run, *, C="(1 + x_max)/2", axes=None, log_steps=False):
    """Sharpness against steps with 2/lr; weighted TV(1) against steps with its bounds.

    The bounds at each sharpness measurement: ``lambda/2 - 1/2 + C sqrt(2L)`` and
    ``1/lr - 1/2 + C sqrt(2L)``. Weighted TV(1) comes from the history's ``wtv1`` column (recorded
    at every sharpness measurement); a run saved without it shows only the final value.
    ``axes``: two axes to draw into; ``log_steps``: a logarithmic step axis (linear near 0).
    """
    from .analysis import weighted_tv1
    from .run import Run

    if not isinstance(run, Run):
        raise TypeError(f"run: expected a relu1d.Run, got {type(run).__name__}")
    obj, theta, lr, h, steps = _resolve(run)
    c_val, c_name = _c_value(C, float(max(abs(obj._xs[0]), abs(obj._xs[-1]))))
    if axes is None:
        fig, axes = _figure(None, (11, 4.0), nrows=1, ncols=2)
    else:
        _mpl()
        if isinstance(axes, (str, bytes)) or not hasattr(axes, "__len__") or len(axes) != 2:
            raise TypeError(f"axes: expected two matplotlib Axes, got {type(axes).__name__}")
        fig = _check_axes(axes[0], "axes[0]").figure
        _check_axes(axes[1], "axes[1]")
    ax_s, ax_w = axes
    step = h["step"]
    sharp = h["sharpness"]
    measured = np.isfinite(sharp)
    width = (theta.size - 1) // 3
    _series(ax_s, step[measured], sharp[measured], color="tab:blue", lw=1.2, label="sharpness lambda_max")
    _series(ax_s, step, 2.0 / h["lr"], "k--", lw=1, label="2 / lr (edge of stability)")
    _no_rows_note(ax_s, step)
    if step.size and not measured.any():
        ax_s.text(0.5, 0.5, "sharpness not measured along this run\n(relu1d report measures it at the end)",
                  transform=ax_s.transAxes, ha="center", va="center", color="0.4")
    _step_axis(ax_s, step, log_steps)
    ax_s.set_ylabel("top Hessian eigenvalue")
    ax_s.set_title(_title("sharpness", obj.n, width, lr, steps), fontsize=10)
    ax_s.legend(fontsize=7, loc="best")

    root = np.sqrt(2.0 * h["loss"][measured])
    sharp_bound = sharp[measured] / 2 - 0.5 + c_val * root
    lr_bound = 1.0 / h["lr"][measured] - 0.5 + c_val * root
    _series(ax_w, step[measured], sharp_bound, color="tab:orange", lw=1.2, label="lambda/2 - 1/2 + C sqrt(2L)")
    _series(ax_w, step[measured], lr_bound, color="k", ls="--", lw=1, label="1/lr - 1/2 + C sqrt(2L)")
    w = np.asarray(h["wtv1"], dtype=np.float64) if "wtv1" in tuple(h) else np.full(step.shape, np.nan)
    ok = np.isfinite(w)
    if ok.any():
        _series(ax_w, step[ok], w[ok], color="tab:blue", lw=1.4, label="weighted TV(1)")
    else:
        ax_w.plot([run.steps], [weighted_tv1(theta, obj)], "o", color="tab:blue",
                  label="weighted TV(1) (final; not recorded along this run)")
    ax_w.set_yscale("log")
    _step_axis(ax_w, step, log_steps)
    ax_w.set_ylabel("integral |f''| g")
    ax_w.set_title(_title(f"weighted TV(1) and its bound, C = {c_name} = {c_val:.3g}", obj.n, width, lr, steps),
                   fontsize=10)
    ax_w.legend(fontsize=7, loc="best")
    return fig


def plot_bounds(runs, *, C="(1 + x_max)/2", f0=None, ax=None):
    """Weighted TV(1) against its bound ``lambda/2 - 1/2 + C sqrt(2L)`` across runs (or reports).

    Points on or below the diagonal satisfy the bound; colour: lr. Runs are turned into reports
    (one sharpness measurement each).
    """
    from .analysis import StabilityReport, stability_report
    from .run import Run

    if isinstance(runs, (str, bytes)) or not hasattr(runs, "__iter__"):
        raise TypeError(f"runs: expected a list of Runs, StabilityReports or (objective, theta, lr), "
                        f"got {type(runs).__name__}")
    _c_value(C, 1.0)  # a bad C fails before any report is made
    reports = []
    for i, r in enumerate(runs):
        if isinstance(r, StabilityReport):
            reports.append(r)
        elif isinstance(r, Run):
            reports.append(r.report(f0=f0))
        elif isinstance(r, tuple) and len(r) == 3:
            reports.append(stability_report(*r, f0=f0))
        else:
            raise TypeError(f"runs[{i}]: expected a Run, a StabilityReport or (objective, theta, lr), "
                            f"got {type(r).__name__}")
    if not reports:
        raise ValueError("runs: must not be empty")
    fig, ax = _figure(ax, (6.0, 5.0))
    bound = np.array([_c_value(C, r.x_max)[0] * math.sqrt(2 * r.loss) + r.sharpness / 2 - 0.5 for r in reports])
    lr_bound = np.array([_c_value(C, r.x_max)[0] * math.sqrt(2 * r.loss) + 1 / r.lr - 0.5 for r in reports])
    wtv1 = np.array([r.wtv1 for r in reports])
    lrs = np.array([r.lr for r in reports])
    sc = ax.scatter(bound, wtv1, c=np.log10(lrs), cmap="viridis", s=30, zorder=3,
                    label="lambda/2 - 1/2 + C sqrt(2L)")
    ax.scatter(lr_bound, wtv1, c=np.log10(lrs), cmap="viridis", s=30, marker="x", zorder=3,
               label="1/lr - 1/2 + C sqrt(2L)")
    both = np.concatenate([bound, lr_bound, wtv1])
    both = both[both > 0]
    lo = both.min() / 2 if both.size else 1e-3
    hi = both.max() * 2 if both.size else 1.0
    ax.plot([lo, hi], [lo, hi], color="0.5", ls=":", lw=1, label="wTV(1) = bound")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel(f"bound (C = {_c_value(C, reports[0].x_max)[1]})")
    ax.set_ylabel("weighted TV(1) = integral |f''| g")
    cb = fig.colorbar(sc, ax=ax)
    cb.set_label("log10 lr")

    def spread(values, fmt):
        values = sorted(set(values))
        return fmt(values[0]) if len(values) == 1 else f"{fmt(values[0])} to {fmt(values[-1])}"

    ax.set_title(f"weighted TV(1) against its bound, {len(reports)} runs\n"
                 f"n = {spread([r.n for r in reports], str)}, width = {spread([r.width for r in reports], str)}, "
                 f"lr = {spread(lrs.tolist(), lambda v: f'{v:g}')}", fontsize=10)
    ax.legend(fontsize=7, loc="upper left")
    return fig


def plot_run(run, *, f0=None, C="(1 + x_max)/2", log_steps=False):
    """All per-run pictures in one figure: fit, neurons, g and knots (top); loss, sharpness and
    weighted TV(1) with its bound against steps (bottom; ``log_steps``: logarithmic step axes)."""
    from .run import Run

    if not isinstance(run, Run):
        raise TypeError(f"run: expected a relu1d.Run, got {type(run).__name__}")
    _c_value(C, 1.0)  # a bad C fails before anything is drawn
    Figure = _mpl()
    fig = Figure(figsize=(16, 9), layout="constrained")
    axes = fig.subplots(2, 3)
    plot_fit(run, f0=f0, ax=axes[0, 0])
    plot_neurons(run, ax=axes[0, 1])
    plot_weight(run, ax=axes[0, 2])
    h = run.history
    ax = axes[1, 0]
    _series(ax, h["step"], h["loss"], color="tab:blue", lw=1.2, label="training loss L")
    ax.set_yscale("log")
    _no_rows_note(ax, h["step"])
    _step_axis(ax, h["step"], log_steps)
    ax.set_ylabel("L = 1/(2n) sum r^2")
    ax.set_title(_title("training loss", run.objective.n, run.width, run.lr, run.steps), fontsize=10)
    ax.legend(fontsize=7)
    plot_training(run, C=C, axes=(axes[1, 1], axes[1, 2]), log_steps=log_steps)
    fig.suptitle(f"relu1d run: n = {run.objective.n}, width = {run.width}, lr = {run.lr:g}, "
                 f"{run.steps:,} steps, status {run.status}", fontsize=12)
    return fig
