"""The paper's showcase: lr = 0.4 against lr = 0.01 on the same noisy data, width 100.

Panels: (a) the two fits with f0 and the labels; (b) training loss over the steps (every recorded
step) and MSE against f0 at geometrically spaced horizons; (c) every neuron's contribution
``v_k relu(w_k x + b_k)`` for each lr. Claim: the large step gives a sparse linear spline that does
not interpolate; the small one, run long enough, a wiggly fit with many knots.
"""

from __future__ import annotations

import numpy as np

from ._common import BASE, data_bends, geometric_stages, load_run, staged_sweep, write_csv
from ._figures import figure, neuron_curves, save

NAME = "showcase"
TITLE = "Large against small step size on the same data (fits, loss and MSE over steps, neurons)"


def settings(quick: bool) -> dict:
    return {**BASE, "lrs": [0.4, 0.01], "steps": 2_000_000 if quick else 10_000_000, "first_stage": 100,
            "stages_per_decade": 2 if quick else 3, "seed": 0}


def run(ctx, s) -> dict:
    steps = ctx.steps(s["steps"])
    stages = geometric_stages(ctx.steps(s["first_stage"]), steps, s["stages_per_decade"])
    data = {k: s[k] for k in ("n", "target", "sigma", "distribution", "width", "init", "clip")}
    configs = [dict(data, lr=lr, seed=s["seed"], record_every=max(1, steps // 4000),
                    sharpness_every=max(1, steps // 400)) for lr in s["lrs"]]
    per_stage = staged_sweep(ctx, configs, stages, NAME)

    table = []
    for rows in per_stage:
        for r in rows:
            run_r = load_run(r)
            r["bends"] = data_bends(run_r.theta, run_r.objective.x)
            table.append({"steps": r["stage_steps"], "lr": r["lr"], "seed": r["seed"], "loss": r["loss"],
                          "train_mse": r["train_mse"], "mse_f0": r["mse_f0"],
                          "mse_f0_interior": r["mse_f0_interior"], "sharpness": r["sharpness"],
                          "edge": r["edge_of_stability"], "wtv1": r["wtv1"], "tv1": r["tv1"],
                          "effective_knots": r["effective_knots_count"], "bends": r["bends"],
                          "knots_in_data": r["knots"],
                          "wall_time": r["wall_time"]})
    write_csv(ctx.path("showcase.csv"), table)

    final = per_stage[-1]
    runs = [load_run(r) for r in final]
    from ..datasets import target_function

    f0 = target_function(s["target"])
    x, y = runs[0].objective.x, runs[0].objective.y
    t = np.linspace(-1.0, 1.0, 1001)
    colors = ["tab:red", "tab:blue", "tab:green", "tab:purple"]

    fig, ax = figure(2, 2, size=(5.2, 3.6),
                     title=f"n = {s['n']}, width = {s['width']}, sigma = {s['sigma']}, {steps:,} GD steps")
    a = ax[0, 0]
    a.scatter(x, y, s=14, c="k", zorder=3, label="labels")
    a.plot(t, f0(t), "k--", lw=1, label="f0")
    from ..params import predict

    for run, r, col in zip(runs, final, colors):
        a.plot(t, predict(run.theta, t), color=col, lw=1.5,
               label=f"lr = {r['lr']:g}: {r['bends']} bends, MSE {r['mse_f0']:.3g}")
    lo, hi = float(np.min(y)), float(np.max(y))
    a.set_ylim(lo - 0.5 * (hi - lo), hi + 0.5 * (hi - lo))  # a fit may shoot off outside the data
    a.set_xlabel("x")
    a.set_ylabel("f(x)")
    a.set_title("(a) fits")
    a.legend(fontsize=7)
    b = ax[0, 1]
    for run, lr, col in zip(runs, s["lrs"], colors):
        h = run.history
        b.loglog(np.maximum(h["step"], 1), h["loss"], color=col, lw=1, label=f"train loss, lr = {lr:g}")
        pts = [(q["steps"], q["mse_f0"]) for q in table if q["lr"] == lr]
        b.loglog(*zip(*pts), "o--", color=col, ms=3, lw=1, label=f"MSE vs f0, lr = {lr:g}")
    b.axhline(s["sigma"] ** 2 / 2, color="gray", lw=0.8, ls=":", label="sigma^2 / 2")
    b.set_xlabel("GD step")
    b.set_ylabel("loss L = (1/2n) sum r^2;  MSE vs f0")
    b.set_title("(b) training loss and MSE against f0")
    b.legend(fontsize=6)
    for k, (run, lr) in enumerate(zip(runs[:2], s["lrs"][:2])):
        c = ax[1, k]
        curves = neuron_curves(run.theta, t)
        for curve in curves:
            if np.any(curve != 0):
                c.plot(t, curve, lw=0.6)
        c.set_xlabel("x")
        c.set_ylabel("v_k relu(w_k x + b_k)")
        c.set_title(f"(c) every neuron, lr = {lr:g}")
    save(fig, ctx.path("showcase.png"))

    by_lr = {r["lr"]: r for r in final}
    big, small = by_lr[max(s["lrs"])], by_lr[min(s["lrs"])]
    last_clip = {}
    for run, lr in zip(runs, s["lrs"]):
        over = run.history["step"][run.history["grad_norm"] > s["clip"]]
        last_clip[str(lr)] = int(over.max()) if over.size else None
    checks = {
        "fewer_bends_at_large_lr": {
            "holds": bool(big["bends"] < small["bends"]),
            "detail": f"bends seen by the data {big['bends']} (lr {big['lr']:g}) vs {small['bends']} "
                      f"(lr {small['lr']:g})", "quick": True},
        "sparser_at_large_lr": {
            "holds": bool(big["effective_knots_count"] < small["effective_knots_count"]),
            "detail": f"effective knots {big['effective_knots_count']} (lr {big['lr']:g}) vs "
                      f"{small['effective_knots_count']} (lr {small['lr']:g})", "quick": False},
        "smoother_at_large_lr": {
            "holds": bool(big["wtv1"] < small["wtv1"]),
            "detail": f"weighted TV(1) {big['wtv1']:.4g} vs {small['wtv1']:.4g}", "quick": True},
        "large_lr_does_not_interpolate": {
            "holds": bool(big["train_mse"] >= 0.5 * s["sigma"] ** 2),
            "detail": f"training MSE 2L = {big['train_mse']:.4g} vs sigma^2 = {s['sigma'] ** 2:.4g}", "quick": True},
        "large_lr_closer_to_f0": {
            "holds": bool(big["mse_f0"] < small["mse_f0"]),
            "detail": f"MSE vs f0 {big['mse_f0']:.4g} vs {small['mse_f0']:.4g}", "quick": False},
        "small_lr_reached_edge": {
            "holds": bool(small["sharpness"] >= 0.9 * small["edge_of_stability"]),
            "detail": f"sharpness {small['sharpness']:.4g} vs 2/lr = {small['edge_of_stability']:.4g}",
            "quick": False},
    }
    return {"steps": steps, "stages": stages, "final": {str(r["lr"]): {k: table[-len(final) + i][k] for k in table[0]}
                                                        for i, r in enumerate(final)},
            "last_step_clipped": last_clip, "checks": checks}
