"""Shared machinery of the experiments: the context a run gets, sweeps on disk, staged sweeps,
the bound columns, tables and JSON.

Every experiment trains through :func:`relu1d.sweep` with ``out=`` a folder under
``<out>/_sweeps/``, so its runs use every core, each run is a file, and an experiment that is killed
resumes where it stopped when started again with the same ``--out``. Experiments that need the
state of a run at several times (the MSE against f0 over the steps, the weighted TV(1) along a run)
use :func:`staged_sweep`: one sweep per horizon, each resuming the previous horizon's run files, so
the longest horizon costs what one run of that length costs.
"""

from __future__ import annotations

import csv
import json
import math
import os
import shutil
from dataclasses import dataclass, field

import numpy as np

__all__ = ["BASE", "Context", "ExperimentInterrupted", "sweep_rows", "staged_sweep", "load_run", "bound_columns",
           "write_csv", "write_json", "fit_loglog", "data_bends", "geometric_stages", "finite", "interior_mse"]


#: The data and network every experiment starts from (each overrides what it varies): n = 30 noisy
#: samples of the hat function (slope jumps +2, -4, +2 at -1/2, 0, 1/2) with sigma = 0.5, inputs
#: uniform on [-1, 1], width 100, PyTorch-default (Kaiming-uniform) initialisation, and
#: gradient-norm clipping at 50 (it acts only in the first steps of large-lr runs, where ||grad||
#: exceeds 50; later gradients are far smaller).
BASE = {"n": 30, "target": "hat", "sigma": 0.5, "distribution": "uniform", "width": 100,
        "init": "kaiming_uniform", "clip": 50.0}


class ExperimentInterrupted(RuntimeError):
    """The sweep of an experiment stopped before its runs finished (Ctrl-C): run it again to resume."""


@dataclass
class Context:
    """Where an experiment writes, in which mode, and how its sweeps run.

    Attributes
    ----------
    name : str
        The experiment.
    root : str
        The ``--out`` folder; the experiment's figures and tables go to ``root/name``, its runs to
        ``root/_sweeps/<sweep name>`` (experiments that train the same grid share those runs).
    quick : bool
        Quick mode (small grids, short runs, the same code path).
    scale : float
        Multiplies every step count (and stage) of the mode's settings; 1 for the real modes. The
        test suite uses a small scale to keep quick mode to seconds.
    workers : int or None
        Threads of each sweep (default: the CPUs available).
    progress : bool or None
        One progress bar per sweep (default: on a terminal).
    seed : int
        Sweep seed mixed into every run's seed.
    """

    name: str
    root: str
    quick: bool = False
    scale: float = 1.0
    workers: int | None = None
    progress: bool | None = None
    seed: int = 0
    files: list = field(default_factory=list)
    train_seconds: float = 0.0
    runs: int = 0

    def count(self, rows: list) -> None:
        """Add the runs of ``rows`` and their training seconds (resumes included) to the totals."""
        for r in rows:
            wall = r.get("wall_time")
            if isinstance(wall, (int, float)) and math.isfinite(wall):
                self.train_seconds += float(wall)
            self.runs += 1

    @property
    def folder(self) -> str:
        path = os.path.join(self.root, self.name)
        os.makedirs(path, exist_ok=True)
        return path

    def path(self, filename: str) -> str:
        """A file of this experiment's output folder (recorded in the summary's file list)."""
        p = os.path.join(self.folder, filename)
        if filename not in self.files:
            self.files.append(filename)
        return p

    def sweep_folder(self, sweep_name: str) -> str:
        mode = "quick" if self.quick else "full"
        suffix = "" if self.scale == 1.0 else f"-x{self.scale:g}"
        return os.path.join(self.root, "_sweeps", f"{sweep_name}-{mode}{suffix}")

    def steps(self, steps) -> int:
        """A step count of the settings, times ``scale`` (at least 10)."""
        return max(10, int(round(float(steps) * self.scale)))


# ------------------------------------------------------------------------------------------------
# Sweeps

def _records(table) -> list:
    if hasattr(table, "to_dict"):
        rows = table.to_dict("records")
        # pandas fills missing cells with NaN: give them back as None for non-float columns
        return [{k: (None if isinstance(v, float) and math.isnan(v) and k in ("message", "run_file") else v)
                 for k, v in r.items()} for r in rows]
    return list(table)


def _check(rows: list, folder: str) -> list:
    """Raise if runs did not finish; give every row a ``loss`` (the training loss at the final theta:
    the report's field where the row has it, else the run's ``final_loss``)."""
    from ..sweep import INTERRUPTED, PENDING

    for r in rows:
        if r.get("loss") is None or (isinstance(r.get("loss"), float) and math.isnan(r["loss"])):
            r["loss"] = r.get("final_loss")

    unfinished = [r for r in rows if r.get("status") in (INTERRUPTED, PENDING)]
    if unfinished:
        raise ExperimentInterrupted(f"{len(unfinished)} run(s) of {folder} did not finish; "
                                    "run the same command again to resume them")
    return rows


def sweep_rows(ctx: Context, grid, sweep_name: str) -> list:
    """Run ``grid`` through :func:`relu1d.sweep` in ``ctx.sweep_folder(sweep_name)``; its rows.

    Finished runs already in that folder are not run again (the sweep skips them); a Ctrl-C raises
    :class:`ExperimentInterrupted` after the runs have saved their checkpoints.
    """
    from ..sweep import sweep

    out = ctx.sweep_folder(sweep_name)
    table = sweep(grid, out=out, workers=ctx.workers, progress=ctx.progress, seed=ctx.seed)
    rows = _check(_records(table), out)
    for r in rows:
        r["sweep_folder"] = out
    ctx.count(rows)
    return rows


def staged_sweep(ctx: Context, configs: list, stages, sweep_name: str) -> list:
    """The runs of ``configs`` at each horizon of ``stages`` (increasing step counts).

    Stage ``s`` is one sweep of ``dict(config, steps=stages[s])``; before it starts, each run's
    file from stage ``s - 1`` is copied to the new run's path, where the sweep resumes it (a
    resumed run equals one done in one go, so the result at every stage is the run of that length).
    Configurations must fix ``record_every`` and ``sharpness_every``: a resumed run keeps the
    intervals it started with.

    Returns a list with, per stage, the list of rows (in ``configs`` order), each with
    ``stage_steps``.
    """
    from ..sweep import RUNS_DIR, run_id

    stages = sorted({int(s) for s in stages})
    base = ctx.sweep_folder(sweep_name)
    out, previous = [], None
    for horizon in stages:
        folder = os.path.join(base, f"steps-{horizon}")
        runs = os.path.join(folder, RUNS_DIR)
        os.makedirs(runs, exist_ok=True)
        grid = [dict(c, steps=horizon) for c in configs]
        if previous is not None:
            prev_folder, prev_horizon = previous
            for c in configs:
                old = run_id(dict(c, steps=prev_horizon), ctx.seed)
                new = run_id(dict(c, steps=horizon), ctx.seed)
                src = os.path.join(prev_folder, RUNS_DIR, old + ".npz")
                dst = os.path.join(runs, new + ".npz")
                done = os.path.exists(os.path.join(runs, new + ".json"))
                if not done and not os.path.exists(dst) and os.path.exists(src):
                    shutil.copyfile(src, dst + ".part")
                    os.replace(dst + ".part", dst)
        from ..sweep import sweep

        table = sweep(grid, out=folder, workers=ctx.workers, progress=ctx.progress, seed=ctx.seed)
        rows = _check(_records(table), folder)
        for r in rows:
            r["stage_steps"] = horizon
            r["sweep_folder"] = folder
        out.append(rows)
        previous = (folder, horizon)
    ctx.count(out[-1])  # a run's wall time accumulates over its stages
    return out


def load_run(row):
    """The :class:`relu1d.Run` of a sweep row (from its run file)."""
    from ..run import Run

    if not row.get("run_file"):
        raise FileNotFoundError(f"run {row.get('run_id')} has no run file (status {row.get('status')})")
    return Run.load(os.path.join(row["sweep_folder"], row["run_file"]))


def geometric_stages(first: int, last: int, per_decade: int = 2) -> list:
    """Step counts from ``first`` to ``last``, evenly spaced on a log scale (both ends included)."""
    first, last = int(first), int(last)
    if last <= first:
        return [last]
    k = max(1, int(math.ceil(per_decade * math.log10(last / first))))
    values = np.unique(np.round(np.geomspace(first, last, k + 1)).astype(np.int64))
    return [int(v) for v in values]


# ------------------------------------------------------------------------------------------------
# Numbers

def _get(row, *keys, default=float("nan")):
    for k in keys:
        v = row.get(k)
        if v is not None and not (isinstance(v, float) and math.isnan(v)):
            return v
    return default


def bound_columns(row, x_max: float) -> dict:
    """The weighted TV(1) bound of the paper for each candidate C, from a sweep row.

    For each candidate (``relu1d.analysis.C_CANDIDATES``, functions of x_max = max |x_i|):

        sharpness form:  wTV1 <= lambda_max/2 - 1/2 + C sqrt(2L)   (any twice-differentiable theta)
        lr form:         wTV1 <= 1/lr - 1/2 + C sqrt(2L)           (needs lambda_max <= 2/lr)

    with the slack (bound - wTV1) and whether it holds. L is the loss with the 1/(2n) convention;
    ``x_max`` is max |x_i| of the run's training inputs.
    """
    from ..analysis import C_CANDIDATES

    wtv1 = float(_get(row, "wtv1"))
    lam = float(_get(row, "report_sharpness", "sharpness"))
    loss = float(_get(row, "loss", "final_loss"))
    xm = float(x_max)
    lr = float(row["lr"])
    root = math.sqrt(max(loss, 0.0) * 2.0)
    out = {}
    for i, (name, make_c) in enumerate(C_CANDIDATES.items()):
        C = make_c(xm)
        sb = lam / 2 - 0.5 + C * root
        lb = 1.0 / lr - 0.5 + C * root
        tag = f"C{i + 1}"
        out.update({f"{tag}_name": name, f"{tag}": C, f"{tag}_sharpness_bound": sb,
                    f"{tag}_sharpness_slack": sb - wtv1, f"{tag}_sharpness_holds": bool(sb >= wtv1),
                    f"{tag}_lr_bound": lb, f"{tag}_lr_slack": lb - wtv1, f"{tag}_lr_holds": bool(lb >= wtv1)})
    return out


def data_bends(theta, x_data, rel_tol: float = 0.01) -> int:
    """Knots as the data see them: the gaps between consecutive sorted inputs whose knots change the
    slope by a net ``|sum of jumps| >= rel_tol`` times the sum of those nets over all gaps.

    Several neurons whose knots fall between the same two inputs bend f once as far as the data
    can tell; this counts such clusters once (knots outside the open data range are left out).
    """
    from ..analysis import knots

    xs = np.sort(np.asarray(x_data, dtype=float))
    k = knots(theta)
    t, jump = k.merged_positions, k.merged_jumps
    inside = (t > xs[0]) & (t < xs[-1])
    gap = np.searchsorted(xs, t[inside])
    net = np.bincount(gap, weights=jump[inside], minlength=xs.size + 1)
    total = float(np.abs(net).sum())
    if total == 0.0:
        return 0
    return int(np.count_nonzero(np.abs(net) >= rel_tol * total))


def interior_mse(theta, f0, lo: float, hi: float, points: int = 2001) -> float:
    """Mean of (f - f0)^2 over ``points`` evenly spaced points of [lo, hi]."""
    from ..params import predict

    t = np.linspace(lo, hi, points)
    return float(np.mean((predict(theta, t) - f0(t)) ** 2))


def fit_loglog(x, y) -> dict:
    """Least-squares line through (log x, log y): slope, intercept and the slope's standard error."""
    lx, ly = np.log(np.asarray(x, float)), np.log(np.asarray(y, float))
    ok = np.isfinite(lx) & np.isfinite(ly)
    lx, ly = lx[ok], ly[ok]
    if lx.size < 2:
        return {"slope": float("nan"), "intercept": float("nan"), "slope_se": float("nan"), "points": int(lx.size)}
    A = np.vstack([lx, np.ones_like(lx)]).T
    coef, res, *_ = np.linalg.lstsq(A, ly, rcond=None)
    dof = lx.size - 2
    if dof > 0:
        resid = ly - A @ coef
        s2 = float(resid @ resid) / dof
        se = math.sqrt(s2 / float(((lx - lx.mean()) ** 2).sum()))
    else:
        se = float("nan")
    return {"slope": float(coef[0]), "intercept": float(coef[1]), "slope_se": se, "points": int(lx.size)}


def finite(*values) -> bool:
    return all(np.all(np.isfinite(np.asarray(v, dtype=float))) for v in values)


# ------------------------------------------------------------------------------------------------
# Files

def _plain(value):
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, np.ndarray):
        return [_plain(v) for v in value.tolist()]
    if isinstance(value, (np.bool_, bool)):
        return bool(value)
    if isinstance(value, np.integer):
        return int(value)
    if isinstance(value, (float, np.floating)):
        value = float(value)
        return value if math.isfinite(value) else repr(value)
    return value


def write_json(path: str, obj) -> str:
    """JSON with NaN/inf as strings ('nan', 'inf'), numpy types as Python types; atomic."""
    tmp = path + ".part"
    with open(tmp, "w") as f:
        json.dump(_plain(obj), f, indent=1)
        f.write("\n")
    os.replace(tmp, path)
    return path


def _cell(value):
    if value is None:
        return ""
    if isinstance(value, (float, np.floating)):
        return repr(float(value))
    return value


def write_csv(path: str, rows: list, columns=None) -> str:
    """Rows (dicts) as CSV with the keys ``columns`` in that order (default: every key, first-seen order)."""
    cols = list(columns or [])
    for r in rows:
        for k in r:
            if k not in cols and columns is None:
                cols.append(k)
    tmp = path + ".part"
    with open(tmp, "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=cols, extrasaction="ignore", lineterminator="\n")
        w.writeheader()
        for r in rows:
            w.writerow({k: _cell(r.get(k)) for k in cols})
    os.replace(tmp, path)
    return path
