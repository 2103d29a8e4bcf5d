"""Edge of stability: the sharpness GD ends at, against 2/lr, across a grid of step sizes.

Claim (Cohen et al.; PAPER.md "Stability"): GD with a constant step climbs in sharpness until
lambda_max reaches about 2/lr and hovers there; it never settles above 2/lr. Since H[c, c] = 1,
lambda_max >= 1 always, so for lr near 2 the edge 2/lr is close to that floor.
"""

from __future__ import annotations

import numpy as np

from . import _lrgrid
from ._common import write_csv
from ._figures import figure, save

NAME = "edge"
TITLE = "Final sharpness against 2/lr over a grid of step sizes"
COLUMNS = ["lr", "seed", "steps", "status", "sharpness", "late_sharpness", "edge_of_stability", "sharpness_ratio",
           "late_ratio", "loss",
           "wall_time", "run_id"]


def settings(quick: bool) -> dict:
    return _lrgrid.settings(quick)


def run(ctx, s) -> dict:
    rows = _lrgrid.rows(ctx, s, with_runs=True)
    for r in rows:
        r["late_ratio"] = r.get("late_sharpness", float("nan")) / r["edge_of_stability"]
    write_csv(ctx.path("edge.csv"), rows, COLUMNS)
    good = _lrgrid.ok(rows)

    fig, ax = figure(1, 2, size=(4.6, 3.4), title=f"Sharpness at the end of GD (n = {s['n']}, width = {s['width']}, "
                                                    f"sigma = {s['sigma']})")
    a = ax[0, 0]
    edges = np.array([2.0 / lr for lr in s["lrs"]])
    a.loglog(edges, edges, "k--", lw=1, label="sharpness = 2/lr")
    a.axhline(1.0, color="gray", lw=0.8, ls=":", label="floor: H[c,c] = 1")
    a.scatter([r["edge_of_stability"] for r in good], [r["sharpness"] for r in good], s=14, c="tab:red",
              alpha=0.7, label="final iterate (all seeds)", zorder=3)
    a.scatter([r["edge_of_stability"] for r in good], [r["late_sharpness"] for r in good], s=22, marker="x",
              c="tab:blue", alpha=0.7, label="median over the last 10% of steps", zorder=3)
    a.set_xlabel("2 / lr")
    a.set_ylabel("final sharpness lambda_max")
    a.set_title("(a) final sharpness vs 2/lr")
    a.legend(fontsize=7)
    b = ax[0, 1]
    seed0 = min(s["seeds"])
    cmap = _colors(len(s["lrs"]))
    for lr, col in zip(s["lrs"], cmap):
        mine = [r for r in good if r["lr"] == lr and r["seed"] == seed0]
        if not mine:
            continue
        h = mine[0]["run"].history
        m = np.isfinite(h["sharpness"])
        b.loglog(np.maximum(h["step"][m], 1), h["sharpness"][m], color=col, lw=1, label=f"lr = {lr:g}")
        b.axhline(2.0 / lr, color=col, lw=0.8, ls="--")
    b.set_xlabel("GD step")
    b.set_ylabel("sharpness (dashed: 2/lr)")
    b.set_title(f"(b) sharpness along the runs, seed {seed0}")
    b.legend(fontsize=6, ncol=2)
    save(fig, ctx.path("edge.png"))

    per_lr = {}
    for lr in s["lrs"]:
        ratios = np.array([r["sharpness_ratio"] for r in good if r["lr"] == lr], dtype=float)
        late = np.array([r["late_ratio"] for r in good if r["lr"] == lr], dtype=float)
        per_lr[f"{lr:g}"] = {"edge": 2.0 / lr, "steps": _lrgrid.steps_for(ctx, s, lr), "runs": int(ratios.size),
                             "late_ratio_median": float(np.median(late)) if late.size else None,
                             "late_ratio_max": float(late.max()) if late.size else None,
                             "ratio_min": float(ratios.min()) if ratios.size else None,
                             "ratio_median": float(np.median(ratios)) if ratios.size else None,
                             "ratio_max": float(ratios.max()) if ratios.size else None}
    ratios = np.array([r["sharpness_ratio"] for r in good], dtype=float)
    late = np.array([r["late_ratio"] for r in good], dtype=float)
    at_edge = np.count_nonzero((late >= 0.9) & (late <= 1.1))
    collapsed = np.count_nonzero(np.array([r["late_sharpness"] for r in good]) < 1.05)
    checks = {
        "never_settles_above_edge": {
            "holds": bool(late.size and np.nanmax(late) <= 1.1),
            "detail": f"largest late sharpness / (2/lr) over {late.size} runs: {np.nanmax(late):.4f} "
                      f"(final iterate: {ratios.max():.4f})", "quick": False},
        "most_runs_reach_edge": {
            "holds": bool(at_edge >= 0.5 * late.size),
            "detail": f"{at_edge} of {late.size} runs end with a late sharpness within 10% of 2/lr; "
                      f"{collapsed} collapsed to the floor lambda_max ~ 1 (dead neurons, affine fit)",
            "quick": False},
        "sharpness_at_least_one": {
            "holds": bool(ratios.size and np.all(np.array([r["sharpness"] for r in good]) >= 1 - 1e-9)),
            "detail": "lambda_max >= H[c, c] = 1 on every run", "quick": True},
    }
    return {"per_lr": per_lr, "statuses": _lrgrid.statuses(rows), "runs_within_10pct_of_edge": int(at_edge),
            "runs_collapsed": int(collapsed),
            "runs": int(ratios.size), "checks": checks}


def _colors(k: int):
    from matplotlib import colormaps

    cmap = colormaps["viridis"]
    return [cmap(i / max(1, k - 1)) for i in range(k)]
