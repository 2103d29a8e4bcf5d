"""Sparsity: the number of knots and the weighted TV(1) against 1/lr, with the paper's bound.

Claims (PAPER.md results 1 and 3): as lr grows, ``integral |f''| g`` and the number of effective
knots fall; at any twice-differentiable theta ``integral |f''| g <= lambda_max/2 - 1/2 + C sqrt(2L)``
and below the edge ``<= 1/lr - 1/2 + C sqrt(2L)``, with C one of the candidate constants.
"""

from __future__ import annotations

import numpy as np

from . import _lrgrid
from ._common import write_csv
from ._figures import figure, save

NAME = "sparsity"
TITLE = "Effective knots and weighted TV(1) against 1/lr, with the bound for each candidate C"


def settings(quick: bool) -> dict:
    return _lrgrid.settings(quick)


def _spearman(a, b) -> float:
    ra = np.argsort(np.argsort(a))
    rb = np.argsort(np.argsort(b))
    if ra.size < 2 or np.all(ra == ra[0]) or np.all(rb == rb[0]):
        return float("nan")
    return float(np.corrcoef(ra, rb)[0, 1])


def run(ctx, s) -> dict:
    rows = _lrgrid.rows(ctx, s)
    good = _lrgrid.ok(rows)
    cnames = [good[0][f"C{i}_name"] for i in (1, 2)] if good else []
    columns = ["lr", "seed", "steps", "status", "loss", "sharpness", "edge_of_stability", "wtv1", "tv1",
               "effective_knots_count", "bends", "c_needed"]
    for i in (1, 2):
        columns += [f"C{i}_name", f"C{i}", f"C{i}_sharpness_bound", f"C{i}_sharpness_slack", f"C{i}_sharpness_holds",
                    f"C{i}_lr_bound", f"C{i}_lr_slack", f"C{i}_lr_holds"]
    write_csv(ctx.path("sparsity.csv"), rows, columns + ["run_id"])

    lrs, wtv = _lrgrid.by_lr(rows, "wtv1")
    _, ek = _lrgrid.by_lr(rows, "effective_knots_count")
    _, bends = _lrgrid.by_lr(rows, "bends")
    inv = 1.0 / np.array(lrs)
    fig, ax = figure(1, 2, size=(4.6, 3.4), title=f"Sparsity against 1/lr (n = {s['n']}, width = {s['width']}, "
                                                    f"sigma = {s['sigma']}, {len(s['seeds'])} seeds)")
    a = ax[0, 0]
    for vals, label, col in ((bends, "bends seen by the data", "tab:red"),
                             (ek, "effective knots (>= 1% of TV(1))", "tab:blue")):
        med = [np.median(v) for v in vals]
        a.errorbar(inv, med, yerr=[np.array(med) - [v.min() for v in vals], [v.max() for v in vals] - np.array(med)],
                   fmt="o-", color=col, ms=4, capsize=2, lw=1, label=label)
    a.set_xscale("log")
    a.set_xlabel("1 / lr")
    a.set_ylabel("count (median, min-max over seeds)")
    a.set_title("(a) knots")
    a.legend(fontsize=7)
    b = ax[0, 1]
    b.plot(inv, [np.median(v) for v in wtv], "o-", color="k", ms=4, lw=1.2, label="weighted TV(1) (median)")
    for r in good:
        b.scatter(1.0 / r["lr"], r["wtv1"], s=6, c="gray", alpha=0.5)
    b.plot(inv, inv - 0.5, "k:", lw=1, label="1/lr - 1/2")
    for i, col in ((1, "tab:green"), (2, "tab:orange")):
        _, lb = _lrgrid.by_lr(rows, f"C{i}_lr_bound")
        b.plot(inv, [np.median(v) for v in lb], "--", color=col, lw=1,
               label=f"1/lr - 1/2 + C sqrt(2L), C = {cnames[i - 1]}")
    b.set_xscale("log")
    b.set_yscale("symlog", linthresh=0.01)  # runs that collapsed to an affine fit have wTV(1) = 0
    b.set_xlabel("1 / lr")
    b.set_ylabel("integral |f''| g")
    b.set_title("(b) weighted TV(1) and the bound")
    b.legend(fontsize=6)
    save(fig, ctx.path("sparsity.png"))

    per_lr = {}
    for lr, w, e, bd in zip(lrs, wtv, ek, bends):
        per_lr[f"{lr:g}"] = {"wtv1_median": float(np.median(w)), "wtv1_max": float(w.max()),
                             "effective_knots_median": float(np.median(e)), "bends_median": float(np.median(bd)),
                             "one_over_lr_minus_half": 1.0 / lr - 0.5}
    bound = {}
    stable = [r for r in good if r["sharpness"] <= r["edge_of_stability"]]
    for i in (1, 2):
        name = cnames[i - 1] if cnames else f"C{i}"
        sh = [r for r in good if not r[f"C{i}_sharpness_holds"]]
        lrv = [r for r in good if not r[f"C{i}_lr_holds"]]
        lrv_stable = [r for r in stable if not r[f"C{i}_lr_holds"]]
        bound[name] = {
            "sharpness_form_holds": f"{len(good) - len(sh)}/{len(good)}",
            "lr_form_holds": f"{len(good) - len(lrv)}/{len(good)}",
            "lr_form_holds_on_stable_runs": f"{len(stable) - len(lrv_stable)}/{len(stable)}",
            "min_sharpness_slack": float(min(r[f"C{i}_sharpness_slack"] for r in good)) if good else None,
            "min_lr_slack": float(min(r[f"C{i}_lr_slack"] for r in good)) if good else None,
            "violations": [{"lr": r["lr"], "seed": r["seed"], "form": form, "slack": r[f"C{i}_{form}_slack"]}
                           for form, bad in (("sharpness", sh), ("lr", lrv)) for r in bad],
        }
    c_needed = np.array([r["c_needed"] for r in good], dtype=float)
    rho_w = _spearman(np.array([1 / r["lr"] for r in good]), np.array([r["wtv1"] for r in good]))
    rho_b = _spearman(np.array([1 / r["lr"] for r in good]), np.array([r["bends"] for r in good]))
    checks = {
        "wtv1_grows_with_one_over_lr": {
            "holds": bool(rho_w > 0), "detail": f"Spearman rank correlation of wTV(1) with 1/lr: {rho_w:.3f}",
            "quick": True},
        "bends_grow_with_one_over_lr": {
            "holds": bool(rho_b > 0), "detail": f"Spearman rank correlation of bends with 1/lr: {rho_b:.3f}",
            "quick": False},
    }
    for i in (1, 2):
        name = cnames[i - 1] if cnames else f"C{i}"
        checks[f"bound_sharpness_form_C{i}"] = {
            "holds": bool(good and all(r[f"C{i}_sharpness_holds"] for r in good)),
            "detail": f"C = {name}: wTV(1) <= lambda_max/2 - 1/2 + C sqrt(2L) on "
                      f"{bound[name]['sharpness_form_holds']} runs", "quick": False}
        checks[f"bound_lr_form_C{i}"] = {
            "holds": bool(good and all(r[f"C{i}_lr_holds"] for r in good)),
            "detail": f"C = {name}: wTV(1) <= 1/lr - 1/2 + C sqrt(2L) on {bound[name]['lr_form_holds']} runs "
                      f"({bound[name]['lr_form_holds_on_stable_runs']} of those below the edge)", "quick": False}
    return {"per_lr": per_lr, "bound": bound, "c_needed_max": float(np.max(c_needed)) if c_needed.size else None,
            "spearman_wtv1_vs_inv_lr": rho_w, "spearman_bends_vs_inv_lr": rho_b, "statuses": _lrgrid.statuses(rows),
            "checks": checks}
