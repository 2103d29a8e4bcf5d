"""The step size as a regulariser: MSE against f0 as a function of lr (the U-shape).

Claim (PAPER.md result 4): too small a step lets GD fit the noise (a wiggly fit, large weighted
TV(1)); too large a step over-smooths (the bound 1/lr - 1/2 falls below what f0 needs, and very
large steps kill neurons); in between the MSE against f0 is smallest.

Two data sets: the shared grid of ``edge`` and ``sparsity`` (n = 30), and n = 100 with the same
target and noise. At n = 30 with sigma = 0.5 the noise (variance 0.25) swamps the hat (variance
0.104 on [-1, 1]), so even the best estimator is barely better than a constant there; n = 100 is
where learning the hat pays and the right arm of the U can show.
"""

from __future__ import annotations

import numpy as np

from . import _lrgrid
from ._common import write_csv
from ._figures import figure, save

NAME = "regularizer"
TITLE = "MSE against f0 as a function of lr (mean and spread over seeds)"


def settings(quick: bool) -> dict:
    s = _lrgrid.settings(quick)
    if quick:
        larger = {"n": 100, "lrs": [0.01, 0.05, 0.2, 0.5, 1.0], "seeds": [0, 1], "min_steps": 100_000,
                  "steps_per_unit_lr": 4_000}
    else:
        larger = {"n": 100, "lrs": [0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.4, 0.7, 1.0, 1.5], "seeds": list(range(6)),
                  "min_steps": 1_000_000, "steps_per_unit_lr": 40_000}
    return {**s, "larger_n": larger}


def run(ctx, s) -> dict:
    big = {**s, **s["larger_n"]}
    big.pop("larger_n")
    out, checks = {}, {}
    fig, ax = figure(1, 2, size=(4.8, 3.8),
                     title=f"MSE against f0 vs lr (width = {s['width']}, sigma = {s['sigma']})")
    for k, (tag, cfg, sweep_name) in enumerate(((f"n{s['n']}", s, _lrgrid.SWEEP_NAME),
                                               (f"n{big['n']}", big, f"{NAME}-n{big['n']}"))):
        res, chk = _one(ctx, cfg, sweep_name, tag, ax[0, k])
        out[tag] = res
        checks.update({f"{name}_{tag}": c for name, c in chk.items()})
    save(fig, ctx.path("regularizer.png"))
    return {**out, "checks": checks}


def _one(ctx, s, sweep_name, tag, a):
    rows = _lrgrid.rows(ctx, s, sweep_name=sweep_name)
    write_csv(ctx.path(f"regularizer_{tag}.csv"), rows,
              ["lr", "seed", "steps", "status", "loss", "train_mse", "mse_f0", "mse_f0_interior", "wtv1", "bends",
               "sharpness", "edge_of_stability", "run_id"])
    lrs, mse = _lrgrid.by_lr(rows, "mse_f0")
    _, mse_int = _lrgrid.by_lr(rows, "mse_f0_interior")
    _, train = _lrgrid.by_lr(rows, "train_mse")

    for vals, label, col in ((mse, "MSE vs f0 on the data range", "tab:red"),
                             (mse_int, "MSE vs f0, central 90%", "tab:blue"),
                             (train, "training MSE (2L)", "gray")):
        mean = np.array([v.mean() for v in vals])
        sd = np.array([v.std(ddof=1) if v.size > 1 else 0.0 for v in vals])
        a.errorbar(lrs, mean, yerr=sd, fmt="o-", color=col, ms=4, capsize=2, lw=1, label=label + " (mean +- sd)")
    for r in _lrgrid.ok(rows):
        a.scatter(r["lr"], r["mse_f0"], s=6, c="tab:red", alpha=0.35)
    a.axhline(s["sigma"] ** 2, color="k", lw=0.8, ls=":", label="sigma^2")
    a.axhline(_variance_of_target(s["target"]), color="tab:green", lw=0.8, ls="--",
              label="Var f0: the best constant")
    a.set_xscale("log")
    a.set_yscale("log")
    a.set_xlabel("lr")
    a.set_ylabel("mean squared error")
    a.set_title(f"n = {s['n']}, {len(s['seeds'])} seeds")
    a.legend(fontsize=6)

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
    var_f0 = _variance_of_target(s["target"])
    return {"per_lr": per_lr, "best_lr": lrs[best], "best_lr_interior": lrs[best_int],
            "best_mse_f0_mean": float(means[best]), "variance_of_f0": var_f0,
            "statuses": _lrgrid.statuses(rows)}, checks


def _variance_of_target(name: str) -> float:
    """Var f0(X), X ~ U[-1, 1]: the MSE of the best constant predictor (a reference level)."""
    from ..datasets import target_function

    t = np.linspace(-1.0, 1.0, 200_001)
    return float(np.var(target_function(name)(t)))
