"""Tune the step size by cross-validation: with scikit-learn's GridSearchCV, lr acts as the
regulariser it is in the paper (large lr: flat minima, smoother fits). With a fixed number of steps,
a small lr also stops early, which regularises too: the cross-validated error need not be monotone.

    python examples/tune_lr_gridsearch.py
    python examples/tune_lr_gridsearch.py --quick

Needs scikit-learn and matplotlib. Writes tune_lr_gridsearch.png (or into --out DIR).
"""

import argparse
import os

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
from sklearn.model_selection import GridSearchCV, KFold

import relu1d


def main(quick=False, out="."):
    x, y, f0 = relu1d.make_regression(60, target="mixture", sigma=0.3, rng=0)
    X = x.reshape(-1, 1)                                   # scikit-learn's (n_samples, 1)
    lrs = [0.01, 0.05, 0.2] if quick else list(np.geomspace(0.005, 0.5, 7))
    estimator = relu1d.GDRegressor(width=100, steps=2_000 if quick else 100_000, random_state=0)
    search = GridSearchCV(estimator, {"lr": lrs}, cv=KFold(5, shuffle=True, random_state=0),
                          scoring="neg_mean_squared_error", n_jobs=1)
    search.fit(X, y)
    best = search.best_estimator_
    t = np.linspace(x.min(), x.max(), 1001)
    print(f"best lr {search.best_params_['lr']:.4g}; cross-validated MSE {-search.best_score_:.4f}; "
          f"MSE against f0 {np.mean((best.predict(t.reshape(-1, 1)) - f0(t)) ** 2):.4f}")

    fig, (ax_cv, ax_fit) = plt.subplots(1, 2, figsize=(11, 4))
    ax_cv.semilogx(lrs, -search.cv_results_["mean_test_score"], "o-")
    ax_cv.set_xlabel("lr")
    ax_cv.set_ylabel("cross-validated MSE")
    ax_fit.plot(x, y, "k.", label="data")
    ax_fit.plot(t, f0(t), "C2--", label="f0")
    ax_fit.plot(t, best.predict(t.reshape(-1, 1)), "C0", label=f"best lr = {search.best_params_['lr']:.3g}")
    ax_fit.set_xlabel("x")
    ax_fit.legend()
    fig.suptitle(f"GridSearchCV over lr: n = 60, width = 100, {estimator.steps:,} steps")
    fig.tight_layout()
    path = os.path.join(out, "tune_lr_gridsearch.png")
    fig.savefig(path, dpi=100)
    print("wrote", path)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer step sizes and steps (a smoke test)")
    parser.add_argument("--out", default=".", help="folder for the figure")
    args = parser.parse_args()
    main(args.quick, args.out)
