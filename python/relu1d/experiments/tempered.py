"""Towards interpolation at n = 30 as the width grows (catastrophic to tempered overfitting).

GD runs at a step small enough that an interpolant of these noisy labels could be stable
(lr below 2 / (1 + 2 wTV1) of the data's linear interpolant, see ``no-interpolation``), for
widths from n to about 30 n, and stops when the training loss falls below ``loss_tol``. The
figure shows every fit with the labels and f0; the table says how close each run came to
interpolating (training loss), how rough the fit is (weighted TV(1), bends) and how far from f0.
"""

from __future__ import annotations

import numpy as np

from ._common import BASE, data_bends, load_run, sweep_rows, write_csv
from ._figures import figure, save

NAME = "tempered"
TITLE = "Fits at n = 30 trained towards interpolation, as the width grows"


def settings(quick: bool) -> dict:
    if quick:
        return {**BASE, "widths": [30, 100, 300], "lr": 0.003, "steps": 1_000_000, "loss_tol": 1e-5, "seed": 0}
    return {**BASE, "widths": [30, 100, 300, 1000], "lr": 0.003, "steps": 10_000_000, "loss_tol": 1e-5, "seed": 0}


def run(ctx, s) -> dict:
    from ..datasets import target_function
    from ..params import predict
    from .no_interpolation import linear_interpolant_wtv1

    steps = ctx.steps(s["steps"])
    data = {k: s[k] for k in ("n", "target", "sigma", "distribution", "init", "clip")}
    grid = [dict(data, width=w, lr=s["lr"], seed=s["seed"], steps=steps, loss_tol=s["loss_tol"])
            for w in s["widths"]]
    rows = sweep_rows(ctx, grid, NAME)
    f0 = target_function(s["target"])
    t = np.linspace(-1.0, 1.0, 1201)
    table, runs = [], []
    for r, cfg in zip(rows, grid):
        rec = {"width": cfg["width"], "lr": cfg["lr"], "status": r["status"], "steps_done": r.get("steps_done")}
        run = load_run(r) if r["status"] in ("max_steps", "converged") else None
        runs.append(run)
        if run is not None:
            rec.update(loss=r["loss"], train_mse=r["train_mse"], mse_f0=r["mse_f0"],
                       mse_f0_interior=r["mse_f0_interior"], wtv1=r["wtv1"], tv1=r["tv1"],
                       bends=data_bends(run.theta, run.objective.x), sharpness=r["sharpness"],
                       edge=r["edge_of_stability"], wall_time=r["wall_time"],
                       interpolated=bool(r["loss"] <= s["loss_tol"]))
        table.append(rec)
    write_csv(ctx.path("tempered.csv"), table)
    some = next((run for run in runs if run is not None), None)
    interp = linear_interpolant_wtv1(some.objective.x, some.objective.y) if some is not None else float("nan")

    k = len(s["widths"])
    fig, ax = figure(1, k + 1, size=(3.3, 3.0), title=f"Towards interpolation (n = {s['n']}, sigma = {s['sigma']}, "
                                                        f"lr = {s['lr']:g}, up to {steps:,} steps)")
    for j, (run, rec) in enumerate(zip(runs, table)):
        a = ax[0, j]
        if run is None:
            a.set_title(f"width {rec['width']}: {rec['status']}")
            continue
        a.scatter(run.objective.x, run.objective.y, s=10, c="k", zorder=3)
        a.plot(t, f0(t), "k--", lw=0.8)
        a.plot(t, predict(run.theta, t), color="tab:red", lw=1.2)
        a.set_ylim(-2.5, 3.0)
        a.set_title(f"width {rec['width']}: 2L = {rec['train_mse']:.2g}", fontsize=9)
        a.set_xlabel("x")
    b = ax[0, k]
    for run, rec in zip(runs, table):
        if run is not None:
            b.loglog(np.maximum(run.history["step"], 1), run.history["loss"], lw=1, label=f"width {rec['width']}")
    b.axhline(s["sigma"] ** 2 / 2, color="gray", ls=":", lw=0.8, label="sigma^2/2")
    b.set_xlabel("GD step")
    b.set_ylabel("training loss")
    b.set_title("loss", fontsize=9)
    b.legend(fontsize=6)
    save(fig, ctx.path("tempered.png"))

    done = [rec for rec in table if "loss" in rec]
    checks = {
        "wider_fits_the_labels_closer": {
            "holds": bool(len(done) >= 2 and done[-1]["loss"] < done[0]["loss"]),
            "detail": "training loss by width: " + ", ".join(f"{rec['width']}: {rec['loss']:.3g}" for rec in done),
            "quick": False},
        "any_run_interpolates": {
            "holds": any(rec.get("interpolated") for rec in done),
            "detail": f"runs with training loss <= {s['loss_tol']:g}: "
                      f"{[rec['width'] for rec in done if rec.get('interpolated')]}", "quick": False},
    }
    return {"steps": steps, "runs": table, "linear_interpolant_wtv1": interp,
            "largest_lr_for_stable_interpolant": 2 / (1 + 2 * interp), "checks": checks}
