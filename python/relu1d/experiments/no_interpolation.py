"""No interpolation with noisy labels: long small-lr runs sharpen up to 2/lr and the training loss
plateaus above 0 while the sharpness sits at the edge.

Claims (PAPER.md results 2 and 5): an interpolating minimum has lambda_max >= 1 + 2 integral |f''| g
(Mulayoff et al.), and with noisy labels an interpolant needs a large weighted TV(1), so GD with a
normal step cannot interpolate: once the sharpness reaches 2/lr the loss stops going to zero. On
the way the fit gets wiggly and its error against f0 rises. The weighted TV(1) of the piecewise-
linear interpolant of the training data is reported as the scale an interpolant needs; the largest
step at which any interpolant with that weighted TV(1) could be stable is 2 / (1 + 2 wTV1).
"""

from __future__ import annotations

import numpy as np

from ._common import BASE, geometric_stages, load_run, staged_sweep, write_csv
from ._figures import figure, save

NAME = "no-interpolation"
TITLE = "Long small-lr runs: the loss plateaus above 0 once the sharpness sits at 2/lr"


def settings(quick: bool) -> dict:
    if quick:
        return {**BASE, "lrs": [0.02, 0.01], "steps": 4_000_000, "first_stage": 10_000, "stages_per_decade": 2,
                "seed": 0}
    return {**BASE, "lrs": [0.02, 0.01, 0.005], "steps": 30_000_000, "first_stage": 10_000,
            "stages_per_decade": 3, "seed": 0}


def linear_interpolant_wtv1(x, y) -> float:
    """``integral |f''| g`` of the piecewise-linear interpolant of (x, y), g from the inputs x."""
    from ..analysis import g_weight

    order = np.argsort(x)
    xs, ys = np.asarray(x, float)[order], np.asarray(y, float)[order]
    slopes = np.diff(ys) / np.diff(xs)
    jumps = np.diff(slopes)
    return float(np.sum(np.abs(jumps) * g_weight(xs, xs[1:-1])))


def run(ctx, s) -> dict:
    steps = ctx.steps(s["steps"])
    stages = geometric_stages(ctx.steps(s["first_stage"]), steps, s["stages_per_decade"])
    data = {k: s[k] for k in ("n", "target", "sigma", "distribution", "width", "init", "clip")}
    configs = [dict(data, lr=lr, seed=s["seed"], record_every=max(1, steps // 5000),
                    sharpness_every=max(1, steps // 1000)) for lr in s["lrs"]]
    per_stage = staged_sweep(ctx, configs, stages, NAME)
    table = [{"steps": r["stage_steps"], "lr": r["lr"], "loss": r["loss"], "train_mse": r["train_mse"],
              "sharpness": r["sharpness"], "edge": r["edge_of_stability"], "wtv1": r["wtv1"],
              "effective_knots": r["effective_knots_count"], "mse_f0": r["mse_f0"],
              "mse_f0_interior": r["mse_f0_interior"], "wall_time": r["wall_time"]}
             for rows in per_stage for r in rows]
    write_csv(ctx.path("no_interpolation_stages.csv"), table)
    runs = [load_run(r) for r in per_stage[-1]]
    interp = linear_interpolant_wtv1(runs[0].objective.x, runs[0].objective.y)
    noise_floor = s["sigma"] ** 2 / 2

    per_lr, history_rows = {}, []
    for run, lr in zip(runs, s["lrs"]):
        h = run.history
        m = np.isfinite(h["sharpness"])
        st, sh, loss = h["step"][m], h["sharpness"][m], h["loss"][m]
        edge = 2.0 / lr
        hit = np.flatnonzero(sh >= 0.95 * edge)
        first = int(st[hit[0]]) if hit.size else None
        after = sh[hit[0]:] / edge if hit.size else np.empty(0)
        loss_at_hit = float(loss[hit[0]]) if hit.size else None
        final = float(run.final_loss)
        per_lr[f"{lr:g}"] = {
            "edge": edge, "first_step_at_95pct_of_edge": first, "loss_when_reached": loss_at_hit,
            "final_loss": final, "final_train_mse": 2 * final, "noise_floor_sigma2_over_2": noise_floor,
            "relative_loss_drop_after_reaching": (None if loss_at_hit is None else 1 - final / loss_at_hit),
            "sharpness_over_edge_after_reaching_min": float(after.min()) if after.size else None,
            "sharpness_over_edge_after_reaching_median": float(np.median(after)) if after.size else None,
            "sharpness_over_edge_after_reaching_max": float(after.max()) if after.size else None,
            "final_sharpness": float(sh[-1]) if sh.size else None,
            "lr_form_bound_1_over_lr_minus_half": 1 / lr - 0.5,
        }
        for a, b, c in zip(st, loss, sh):
            history_rows.append({"lr": lr, "step": int(a), "loss": float(b), "sharpness": float(c)})
    write_csv(ctx.path("no_interpolation_history.csv"), history_rows)

    fig, ax = figure(1, 3, size=(4.0, 3.3), title=f"Small steps, long runs (n = {s['n']}, width = {s['width']}, "
                                                    f"sigma = {s['sigma']}, {steps:,} steps)")
    cols = ["tab:green", "tab:blue", "tab:purple", "tab:orange"]
    a, b, c = ax[0, 0], ax[0, 1], ax[0, 2]
    for run, lr, col in zip(runs, s["lrs"], cols):
        h = run.history
        a.loglog(np.maximum(h["step"], 1), h["loss"], color=col, lw=1, label=f"lr = {lr:g}")
        m = np.isfinite(h["sharpness"])
        b.loglog(np.maximum(h["step"][m], 1), h["sharpness"][m], color=col, lw=1, label=f"lr = {lr:g}")
        b.axhline(2 / lr, color=col, ls="--", lw=0.8)
        pts = [(t["steps"], t["wtv1"]) for t in table if t["lr"] == lr]
        c.loglog(*zip(*pts), "o-", color=col, ms=3, lw=1, label=f"wTV(1), lr = {lr:g}")
        c.axhline(1 / lr - 0.5, color=col, ls="--", lw=0.8)
        pts = [(t["steps"], t["mse_f0"]) for t in table if t["lr"] == lr]
        a.loglog(*zip(*pts), "x:", color=col, ms=4, lw=0.8)
    a.axhline(noise_floor, color="gray", ls=":", lw=0.8, label="sigma^2/2")
    a.set_xlabel("GD step")
    a.set_ylabel("training loss L (x: MSE vs f0)")
    a.set_title("(a) training loss")
    a.legend(fontsize=7)
    b.set_xlabel("GD step")
    b.set_ylabel("sharpness (dashed: 2/lr)")
    b.set_title("(b) sharpness")
    b.legend(fontsize=7)
    c.axhline(interp, color="k", ls=":", lw=1, label="linear interpolant of the data")
    c.set_xlabel("GD step")
    c.set_ylabel("integral |f''| g (dashed: 1/lr - 1/2)")
    c.set_title("(c) weighted TV(1)")
    c.legend(fontsize=6)
    save(fig, ctx.path("no_interpolation.png"))

    smallest = min(s["lrs"])
    checks = {}
    for lr in s["lrs"]:
        p = per_lr[f"{lr:g}"]
        checks[f"reaches_edge_lr_{lr:g}"] = {
            "holds": p["first_step_at_95pct_of_edge"] is not None,
            "detail": f"first step with sharpness >= 0.95 * 2/lr: {p['first_step_at_95pct_of_edge']}",
            "quick": lr == max(s["lrs"])}
        checks[f"loss_stays_above_zero_lr_{lr:g}"] = {
            "holds": bool(p["final_loss"] >= 0.25 * noise_floor),
            "detail": f"final loss {p['final_loss']:.4g} vs sigma^2/2 = {noise_floor:.4g}", "quick": True}
    checks["interpolant_too_rough_for_these_lrs"] = {
        "holds": bool(2 / (1 + 2 * interp) < smallest),
        "detail": f"wTV(1) of the linear interpolant {interp:.4g}: stable interpolation needs lr <= "
                  f"2/(1 + 2 wTV1) = {2 / (1 + 2 * interp):.3g}, below every lr here", "quick": True}
    return {"steps": steps, "stages": stages, "per_lr": per_lr, "linear_interpolant_wtv1": interp,
            "largest_lr_for_stable_interpolant": 2 / (1 + 2 * interp), "checks": checks}
