"""Subprocess for the Ctrl-C test: trains "forever" with a checkpoint, prints READY from the first
callback (the SIGINT handler is installed by then), and prints the returned run as JSON."""

import json
import sys

import numpy as np

import relu1d


def main(path):
    x, y = relu1d.make_data(20, rng=0)
    obj = relu1d.Objective(x, y)
    theta0 = relu1d.init_params(10, rng=1)
    ready = []

    def callback(run):
        if not ready:
            ready.append(True)
            print("READY", flush=True)

    run = relu1d.train(obj, theta0, lr=0.05, steps=10**12, record_every=1000, checkpoint=path,
                       callback=callback, progress=False)
    h = run.history
    finite = bool(np.isfinite(run.theta).all() and np.isfinite(h["loss"]).all()
                  and np.isfinite(h["grad_norm"]).all())
    print(json.dumps({"status": run.status, "steps": run.steps, "rows": h.rows, "finite": finite,
                      "theta": run.theta.tolist()}), flush=True)


if __name__ == "__main__":
    main(sys.argv[1])
