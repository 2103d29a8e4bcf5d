"""Train one network on noisy samples of a hat function and plot the fit, the loss and the sharpness.

    python examples/train_one_run.py            # 10^6 GD steps, a few seconds
    python examples/train_one_run.py --quick    # 10^4 steps

Writes train_one_run.png (or into --out DIR).
"""

import argparse
import os

import matplotlib

matplotlib.use("Agg")  # write files, open no window
import matplotlib.pyplot as plt
import numpy as np

import relu1d


def main(quick=False, out="."):
    x, y, f0 = relu1d.make_regression(30, target="hat", sigma=0.3, rng=0)  # f0: the noiseless truth
    objective = relu1d.Objective(x, y)
    theta0 = relu1d.init_params(100, rng=1)                               # width 100, PyTorch's init
    run = relu1d.train(objective, theta0, lr=0.05, steps=10_000 if quick else 1_000_000, progress=False)
    print(run)                                                            # status, loss, sharpness vs 2/lr

    fig, (ax_fit, ax_loss, ax_sharp) = plt.subplots(1, 3, figsize=(14, 3.8))
    t = np.linspace(-1, 1, 1001)
    ax_fit.plot(x, y, "k.", label="data")
    ax_fit.plot(t, f0(t), "C2--", label="f0 (truth)")
    ax_fit.plot(t, relu1d.predict(run.theta, t), "C0", label="network")
    ax_fit.set_xlabel("x")
    ax_fit.legend()
    run.plot(axes=(ax_loss, ax_sharp))                                    # loss; sharpness with 2/lr
    fig.suptitle(f"n = 30, width = 100, lr = 0.05, {run.steps:,} steps")
    fig.tight_layout()
    path = os.path.join(out, "train_one_run.png")
    fig.savefig(path, dpi=100)
    print("wrote", path)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer steps (a smoke test)")
    parser.add_argument("--out", default=".", help="folder for the figure")
    args = parser.parse_args()
    main(args.quick, args.out)
