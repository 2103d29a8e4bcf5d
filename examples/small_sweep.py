"""A small sweep over step size and seed on every core: the sharpness follows 2/lr, and the distance
to the truth f0 depends on lr. Results go to sweep-out/ (a table and a file per run); run the
script again and the finished runs are read back instead of trained.

    python examples/small_sweep.py             # 8 step sizes x 4 seeds x 2 * 10^5 steps
    python examples/small_sweep.py --quick

Needs pandas and matplotlib. Writes small_sweep.png (or into --out DIR).
"""

import argparse
import os

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np

import relu1d


def main(quick=False, out="."):
    grid = {
        "lr": [0.02, 0.05, 0.1, 0.2] if quick else list(np.geomspace(0.01, 0.8, 8)),
        "seed": [0, 1] if quick else [0, 1, 2, 3],
        "n": 30, "width": 100, "target": "sin", "sigma": 0.3,
        "steps": 5_000 if quick else 200_000,
    }
    table = relu1d.sweep(grid, out=os.path.join(out, "sweep-out"))  # a pandas DataFrame
    print(table[["lr", "seed", "status", "final_loss", "sharpness", "edge_of_stability", "mse_f0"]].to_string())
    by_lr = table.groupby("lr")[["sharpness", "mse_f0", "final_loss"]].mean()

    fig, (ax_s, ax_m) = plt.subplots(1, 2, figsize=(11, 4))
    ax_s.loglog(table["lr"], table["sharpness"], "o", alpha=0.5, label="sharpness (each run)")
    ax_s.loglog(by_lr.index, 2 / by_lr.index, "k--", label="2 / lr")
    ax_s.set_xlabel("lr")
    ax_s.legend()
    ax_m.semilogx(by_lr.index, by_lr["mse_f0"], "o-", label="MSE against f0 (mean over seeds)")
    ax_m.semilogx(by_lr.index, by_lr["final_loss"], "s-", label="training loss")
    ax_m.set_xlabel("lr")
    ax_m.legend()
    fig.suptitle(f"sin target, n = 30, width = 100, {grid['steps']:,} steps, {len(grid['seed'])} seeds")
    fig.tight_layout()
    path = os.path.join(out, "small_sweep.png")
    fig.savefig(path, dpi=100)
    print("wrote", path)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer runs and steps (a smoke test)")
    parser.add_argument("--out", default=".", help="folder for the figure and the sweep")
    args = parser.parse_args()
    main(args.quick, args.out)
