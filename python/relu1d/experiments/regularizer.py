"""The step size as a regulariser: MSE against f0 as a function of lr (the U-shape).

Claim (PAPER.md result 4): too small a step lets GD fit the noise (a wiggly fit, large weighted
TV(1)); too large a step over-smooths (the bound 1/lr - 1/2 falls below what f0 needs, and very
large steps kill neurons); in between the MSE against f0 is smallest.
"""

from __future__ import annotations

import numpy as np

from . import _lrgrid
from ._common import write_csv
from ._figures import figure, save

NAME = "regularizer"
TITLE = "MSE against f0 as a function of lr (mean and spread over seeds)"


def settings(quick: bool) -> dict:
    return _lrgrid.settings(quick)


def run(ctx, s) -> dict:
    rows = _lrgrid.rows(ctx, s)
    write_csv(ctx.path("regularizer.csv"), rows,
              ["lr", "seed", "steps", "status", "loss", "train_mse", "mse_f0", "mse_f0_interior", "wtv1", "bends",
               "sharpness", "edge_of_stability", "run_id"])
    lrs, mse = _lrgrid.by_lr(rows, "mse_f0")
    _, mse_int = _lrgrid.by_lr(rows, "mse_f0_interior")
    _, train = _lrgrid.by_lr(rows, "train_mse")

    fig, ax = figure(1, 1, size=(5.6, 3.8), title=f"MSE against f0 vs lr (n = {s['n']}, width = {s['width']}, "
                                                    f"sigma = {s['sigma']}, {len(s['seeds'])} seeds)")
    a = ax[0, 0]
    for vals, label, col in ((mse, "MSE vs f0 on the data range", "tab:red"),
                             (mse_int, "MSE vs f0, central 90%", "tab:blue"),
                             (train, "training MSE (2L)", "gray")):
        mean = np.array([v.mean() for v in vals])
        sd = np.array([v.std(ddof=1) if v.size > 1 else 0.0 for v in vals])
        a.errorbar(lrs, mean, yerr=sd, fmt="o-", color=col, ms=4, capsize=2, lw=1, label=label + " (mean +- sd)")
    for r in _lrgrid.ok(rows):
        a.scatter(r["lr"], r["mse_f0"], s=6, c="tab:red", alpha=0.35)
    a.axhline(s["sigma"] ** 2, color="k", lw=0.8, ls=":", label="sigma^2")
    a.set_xscale("log")
    a.set_yscale("log")
    a.set_xlabel("lr")
    a.set_ylabel("mean squared error")
    a.legend(fontsize=7)
    save(fig, ctx.path("regularizer.png"))

    means = np.array([v.mean() for v in mse])
    means_int = np.array([v.mean() for v in mse_int])
    best = int(np.argmin(means))
    best_int = int(np.argmin(means_int))
    per_lr = {f"{lr:g}": {"mse_f0_mean": float(m.mean()), "mse_f0_sd": float(m.std(ddof=1)) if m.size > 1 else 0.0,
                          "mse_f0_interior_mean": float(mi.mean()), "train_mse_mean": float(t.mean()),
                          "runs": int(m.size)}
              for lr, m, mi, t in zip(lrs, mse, mse_int, train)}
    interior_min = 0 < best < len(lrs) - 1
    checks = {
        "u_shape": {
            "holds": bool(interior_min and means[0] > means[best] and means[-1] > means[best]),
            "detail": f"mean MSE vs f0 is smallest at lr = {lrs[best]:g} ({means[best]:.4g}); at the smallest lr "
                      f"{lrs[0]:g}: {means[0]:.4g}, at the largest {lrs[-1]:g}: {means[-1]:.4g}", "quick": False},
    }
    return {"per_lr": per_lr, "best_lr": lrs[best], "best_lr_interior": lrs[best_int],
            "best_mse_f0_mean": float(means[best]), "statuses": _lrgrid.statuses(rows), "checks": checks}
