"""The grid of step sizes x seeds that ``edge``, ``sparsity``, ``regularizer`` and ``knot-distance``
share: the same runs answer all four (whichever experiment runs first trains them; the others
find them finished in ``out/_sweeps/lr-grid-<mode>``).

Each lr runs ``max(min_steps, steps_per_unit_lr / lr)`` steps: a small step needs proportionally
more steps to cover the same gradient-flow time and to sharpen up to its edge 2/lr (PAPER.md:
lr = 0.01 at n = 30 needed about 1.6e6 steps).
"""

from __future__ import annotations

import numpy as np

from ._common import BASE, bound_columns, data_bends, load_run, sweep_rows

SWEEP_NAME = "lr-grid"


def settings(quick: bool) -> dict:
    """The shared grid (every experiment on it records these settings)."""
    if quick:
        return {**BASE, "lrs": [0.01, 0.05, 0.2, 0.5, 1.0], "seeds": [0, 1], "min_steps": 200_000,
                "steps_per_unit_lr": 10_000}
    return {**BASE, "lrs": [0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.4, 0.7, 1.0, 1.5], "seeds": list(range(8)),
            "min_steps": 2_000_000, "steps_per_unit_lr": 100_000}


def steps_for(ctx, s, lr: float) -> int:
    return ctx.steps(max(s["min_steps"], s["steps_per_unit_lr"] / lr))


def rows(ctx, s, *, with_runs: bool = False, sweep_name: str = SWEEP_NAME) -> list:
    """One row per (lr, seed): the sweep's columns, ``bends``, the bound columns, and with
    ``with_runs`` the loaded :class:`relu1d.Run` under ``"run"``. ``s`` holds the data keys
    (n, target, sigma, ...) and ``lrs``, ``seeds``, ``min_steps``, ``steps_per_unit_lr``."""
    data = {k: s[k] for k in ("n", "target", "sigma", "distribution", "width", "init", "clip")}
    grid = [dict(data, lr=lr, seed=seed, steps=steps_for(ctx, s, lr)) for lr in s["lrs"] for seed in s["seeds"]]
    out = sweep_rows(ctx, grid, sweep_name)
    for r, cfg in zip(out, grid):
        r["steps"] = cfg["steps"]
        if r.get("status") not in ("max_steps", "converged"):
            r["bends"] = -1
            continue
        run = load_run(r)
        r["bends"] = data_bends(run.theta, run.objective.x)
        r.update(bound_columns(r, float(np.max(np.abs(run.objective.x)))))
        r["late_sharpness"] = late_sharpness(run)
        if with_runs:
            r["run"] = run
    return out


def late_sharpness(run, fraction: float = 0.1) -> float:
    """Median of the sharpness measured over the last ``fraction`` of a run's steps (at the edge of
    stability the sharpness oscillates around 2/lr, and the final iterate may sit on a spike)."""
    h = run.history
    m = np.isfinite(h["sharpness"]) & (h["step"] >= (1.0 - fraction) * run.steps)
    return float(np.median(h["sharpness"][m])) if m.any() else float("nan")


def ok(rows_) -> list:
    """The rows of runs that finished (not diverged or failed)."""
    return [r for r in rows_ if r.get("status") in ("max_steps", "converged")]


def by_lr(rows_, key) -> tuple:
    """lrs (ascending) and, per lr, the array of ``key`` over the finished runs."""
    good = ok(rows_)
    lrs = sorted({r["lr"] for r in good})
    return lrs, [np.array([float(r[key]) for r in good if r["lr"] == lr]) for lr in lrs]


def statuses(rows_) -> dict:
    out = {}
    for r in rows_:
        key = f"{r['lr']:g}"
        out.setdefault(key, {})
        out[key][r["status"]] = out[key].get(r["status"], 0) + 1
    return out
