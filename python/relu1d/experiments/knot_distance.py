"""Where the knots sit: distance of each learned knot to the nearest data point, large lr against small.

Claim (PAPER.md result 3): large steps give sparse splines whose knots sit away from the data
points, while a small step run long bends the fit at (next to) data points to chase the noise.
Distances are in units of the mean input spacing (x_max - x_min)/(n - 1); for a knot placed at
random among evenly spaced inputs the mean distance would be 1/4.
"""

from __future__ import annotations

import numpy as np

from . import _lrgrid
from ._common import write_csv
from ._figures import figure, save

NAME = "knot-distance"
TITLE = "Distance of the learned knots to the nearest data point, large lr against small"


def settings(quick: bool) -> dict:
    return _lrgrid.settings(quick)


def run(ctx, s) -> dict:
    from ..analysis import effective_knots

    rows = _lrgrid.rows(ctx, s, with_runs=True)
    good = _lrgrid.ok(rows)
    knots_table = []
    for r in good:
        run = r.pop("run")
        ek = effective_knots(run.theta, run.objective)
        for t, jump, d in zip(ek.positions, ek.jumps, ek.distances):
            knots_table.append({"lr": r["lr"], "seed": r["seed"], "position": float(t), "jump": float(jump),
                                "distance": float(d), "spacing": ek.spacing,
                                "distance_over_spacing": float(d / ek.spacing)})
    write_csv(ctx.path("knot_distance.csv"), knots_table)

    lrs = sorted({r["lr"] for r in good})
    per_lr = {}
    for lr in lrs:
        d = np.array([k["distance_over_spacing"] for k in knots_table if k["lr"] == lr])
        wj = np.array([abs(k["jump"]) for k in knots_table if k["lr"] == lr])
        per_lr[f"{lr:g}"] = {"knots": int(d.size),
                             "median_distance_over_spacing": float(np.median(d)) if d.size else None,
                             "jump_weighted_mean_distance_over_spacing":
                                 float(np.sum(d * wj) / np.sum(wj)) if d.size else None,
                             "share_within_0.01_spacing": float(np.mean(d < 0.01)) if d.size else None}
    with_knots = [lr for lr in lrs if per_lr[f"{lr:g}"]["knots"] > 0]
    small, large = (with_knots[0], with_knots[-1]) if with_knots else (None, None)

    fig, ax = figure(1, 2, size=(4.6, 3.4), title=f"Knots against data points (n = {s['n']}, width = {s['width']}, "
                                                    f"sigma = {s['sigma']}, {len(s['seeds'])} seeds)")
    a = ax[0, 0]
    bins = np.linspace(0, 0.5 * 1.2, 25)
    for lr, col in ((small, "tab:blue"), (large, "tab:red")):
        if lr is None:
            continue
        d = np.array([k["distance_over_spacing"] for k in knots_table if k["lr"] == lr])
        a.hist(np.minimum(d, bins[-1]), bins=bins, alpha=0.55, color=col,
               label=f"lr = {lr:g} ({d.size} knots)")
    a.axvline(0.25, color="k", ls=":", lw=0.8, label="1/4: knot at random")
    a.set_xlabel("distance to nearest input / mean spacing")
    a.set_ylabel("effective knots (all seeds)")
    a.set_title("(a) smallest against largest lr")
    a.legend(fontsize=7)
    b = ax[0, 1]
    med = [per_lr[f"{lr:g}"]["median_distance_over_spacing"] for lr in with_knots]
    wm = [per_lr[f"{lr:g}"]["jump_weighted_mean_distance_over_spacing"] for lr in with_knots]
    b.semilogx(with_knots, med, "o-", color="k", ms=4, lw=1, label="median")
    b.semilogx(with_knots, wm, "s--", color="tab:purple", ms=4, lw=1, label="mean weighted by |jump|")
    b.axhline(0.25, color="gray", ls=":", lw=0.8)
    b.set_xlabel("lr")
    b.set_ylabel("distance / mean spacing")
    b.set_title("(b) against lr")
    b.legend(fontsize=7)
    save(fig, ctx.path("knot_distance.png"))

    checks = {}
    if small is not None and large is not None and small != large:
        ms, ml = per_lr[f"{small:g}"]["median_distance_over_spacing"], per_lr[f"{large:g}"]["median_distance_over_spacing"]
        checks["large_lr_knots_farther_from_data"] = {
            "holds": bool(ml > ms),
            "detail": f"median distance / spacing: {ml:.3g} at lr {large:g} vs {ms:.3g} at lr {small:g}",
            "quick": False}
    return {"per_lr": per_lr, "smallest_lr": small, "largest_lr_with_knots": large,
            "statuses": _lrgrid.statuses(rows), "checks": checks}
