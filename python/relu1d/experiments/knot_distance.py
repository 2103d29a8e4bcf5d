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
    # the two groups compared (pooled over their lrs and the seeds)
    return {**_lrgrid.settings(quick), "small_lr_at_most": 0.01, "large_lr_at_least": 0.4}


def _group(knots_table, keep) -> dict:
    d = np.array([k["distance_over_spacing"] for k in knots_table if keep(k["lr"])])
    wj = np.array([abs(k["jump"]) for k in knots_table if keep(k["lr"])])
    if not d.size:
        return {"knots": 0, "median_distance_over_spacing": None, "jump_weighted_mean_distance_over_spacing": None,
                "share_within_0.01_spacing": None}
    return {"knots": int(d.size), "median_distance_over_spacing": float(np.median(d)),
            "jump_weighted_mean_distance_over_spacing": float(np.sum(d * wj) / np.sum(wj)),
            "share_within_0.01_spacing": float(np.mean(d < 0.01))}


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
    per_lr = {f"{lr:g}": _group(knots_table, lambda x, lr=lr: x == lr) for lr in lrs}
    small_lrs = [lr for lr in lrs if lr <= s["small_lr_at_most"]]
    large_lrs = [lr for lr in lrs if lr >= s["large_lr_at_least"]]
    groups = {"small": _group(knots_table, lambda x: x in small_lrs),
              "large": _group(knots_table, lambda x: x in large_lrs)}
    groups["small"]["lrs"], groups["large"]["lrs"] = small_lrs, large_lrs
    with_knots = [lr for lr in lrs if per_lr[f"{lr:g}"]["knots"] > 0]

    fig, ax = figure(1, 2, size=(4.6, 3.4), title=f"Knots against data points (n = {s['n']}, width = {s['width']}, "
                                                    f"sigma = {s['sigma']}, {len(s['seeds'])} seeds)")
    a = ax[0, 0]
    bins = np.linspace(0, 0.5 * 1.2, 25)
    for group, keep, col in (("small", small_lrs, "tab:blue"), ("large", large_lrs, "tab:red")):
        d = np.array([k["distance_over_spacing"] for k in knots_table if k["lr"] in keep])
        if d.size:
            a.hist(np.minimum(d, bins[-1]), bins=bins, alpha=0.55, color=col, density=True,
                   label=f"lr in {', '.join(f'{x:g}' for x in keep)} ({d.size} knots)")
    a.axvline(0.25, color="k", ls=":", lw=0.8, label="1/4: knot at random")
    a.set_xlabel("distance to nearest input / mean spacing")
    a.set_ylabel("density (effective knots, all seeds)")
    a.set_title("(a) small against large lr")
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

    gs, gl = groups["small"], groups["large"]
    checks = {}
    if gs["knots"] and gl["knots"]:
        checks["large_lr_knots_farther_from_data"] = {
            "holds": bool(gl["median_distance_over_spacing"] > gs["median_distance_over_spacing"]),
            "detail": f"median distance / spacing {gl['median_distance_over_spacing']:.3g} (lr >= "
                      f"{s['large_lr_at_least']:g}, {gl['knots']} knots) vs {gs['median_distance_over_spacing']:.3g} "
                      f"(lr <= {s['small_lr_at_most']:g}, {gs['knots']} knots); within 1% of the spacing: "
                      f"{gl['share_within_0.01_spacing']:.0%} vs {gs['share_within_0.01_spacing']:.0%}; "
                      f"|jump|-weighted mean {gl['jump_weighted_mean_distance_over_spacing']:.3g} vs "
                      f"{gs['jump_weighted_mean_distance_over_spacing']:.3g}", "quick": False}
        checks["large_lr_knots_away_from_data"] = {
            "holds": bool(gl["median_distance_over_spacing"] >= 0.1),
            "detail": f"median distance of a large-lr knot to the nearest input: "
                      f"{gl['median_distance_over_spacing']:.3g} of the mean spacing (a knot placed at random: 0.25)",
            "quick": False}
    return {"per_lr": per_lr, "groups": groups, "statuses": _lrgrid.statuses(rows), "checks": checks}
