"""Watch the edge of stability: GD with step size lr drives the sharpness (the top Hessian eigenvalue)
up to 2/lr and holds it there, so a larger lr ends at a flatter minimum with a higher training loss.

    python examples/edge_of_stability.py            # 4 step sizes x 2 * 10^5 steps, a few seconds
    python examples/edge_of_stability.py --quick

Writes edge_of_stability.png (or into --out DIR).
"""

import argparse
import os

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np

import relu1d


def main(quick=False, out="."):
    x, y, _ = relu1d.make_regression(30, target="hat", sigma=0.3, rng=0)
    objective = relu1d.Objective(x, y)
    theta0 = relu1d.init_params(100, rng=1)  # the same start for every lr
    steps = 5_000 if quick else 200_000
    fig, ax = plt.subplots(figsize=(7, 4))
    for i, lr in enumerate([0.05, 0.1, 0.2, 0.4]):
        run = relu1d.train(objective, theta0, lr=lr, steps=steps, progress=False)
        h = run.history
        measured = np.isfinite(h["sharpness"])
        ax.plot(h["step"][measured], h["sharpness"][measured], color=f"C{i}", label=f"lr = {lr}")
        ax.axhline(2 / lr, color=f"C{i}", ls="--", lw=1)
        print(f"lr {lr:<5} 2/lr {2 / lr:<5g} final sharpness {run.sharpness:8.4f}  "
              f"training loss {run.final_loss:.4f}")
    ax.set_xscale("symlog", linthresh=100)
    ax.set_xlabel("GD step")
    ax.set_ylabel("sharpness (dashed: 2 / lr)")
    ax.set_title(f"Edge of stability: n = 30, width = 100, {steps:,} steps")
    ax.legend()
    fig.tight_layout()
    path = os.path.join(out, "edge_of_stability.png")
    fig.savefig(path, dpi=100)
    print("wrote", path)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer steps (a smoke test)")
    parser.add_argument("--out", default=".", help="folder for the figure")
    args = parser.parse_args()
    main(args.quick, args.out)
