#!/usr/bin/env python
"""The SIMD paths of the compiled core against each other, in one process.

    python bench/bench_simd_paths.py                         # (n, m) = (100, 1000) and (1024, 4096)
    python bench/bench_simd_paths.py --sizes 100x10000 --repeats 9

For each size and each SIMD path this build has and this CPU runs (``relu1d.info()``), the
microseconds per GD step of the compiled loop (``relu1d.train`` without sharpness tracking, at
``lr = 1/sharpness(theta0)``) and the milliseconds of a sharpness from scratch (Lanczos to 1e-10).
The paths take turns within each repeat and the best repeat is reported, so a busy machine slows
every path alike; every path must end at the same bits (checked). Build a portable core
(``-DRELU1D_NATIVE=OFF``) to see what a wheel runs.
"""

from __future__ import annotations

import argparse
import sys
import time

import numpy as np

import relu1d
from harness import load_average, make_problem


def _size(text: str) -> tuple:
    n, m = text.lower().split("x")
    return int(n), int(m)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--sizes", nargs="+", type=_size, default=[(100, 1000), (1024, 4096)], metavar="NxM")
    p.add_argument("--steps", type=int, default=20000, help="GD steps per repeat (default 20000)")
    p.add_argument("--repeats", type=int, default=5)
    args = p.parse_args(argv)

    details = relu1d.info()
    paths = details["simd_paths_available"]
    print(f"# {' '.join(['python'] + sys.argv)}")
    print(f"# {details['cpu']}; {details['build']} build ({details['compiler']}: {details['flags']}); "
          f"load {load_average()}")
    print("| (n, m) | path | us/step | vs portable | sharpness (ms) | vs portable |")
    print("|---|---|---:|---:|---:|---:|")
    before = details["simd_path"]
    try:
        for n, m in args.sizes:
            problem = make_problem(n, m)
            objective = relu1d.Objective(problem.x, problem.y)
            lr = 1.0 / relu1d.sharpness(objective, problem.theta).eigenvalues[0]
            step_us = {path: np.inf for path in paths}
            sharp_ms = {path: np.inf for path in paths}
            final = {}
            for _ in range(args.repeats):
                for path in paths:
                    relu1d.set_simd_path(path)
                    t = time.perf_counter()
                    run = relu1d.train(objective, problem.theta, lr=lr, steps=args.steps, sharpness_every=0,
                                       progress=False)
                    step_us[path] = min(step_us[path], (time.perf_counter() - t) / args.steps * 1e6)
                    t = time.perf_counter()
                    top = relu1d.sharpness(objective, run.theta).eigenvalues[0]
                    sharp_ms[path] = min(sharp_ms[path], (time.perf_counter() - t) * 1e3)
                    final.setdefault(path, (run.theta, top))
            for path in paths:
                same = np.array_equal(final[path][0], final["portable"][0]) and final[path][1] == final["portable"][1]
                if not same:
                    raise SystemExit(f"path {path} differs from the portable path at (n, m) = ({n}, {m})")
                print(f"| ({n}, {m}) | {path} | {step_us[path]:.2f} | {step_us['portable'] / step_us[path]:.2f}x | "
                      f"{sharp_ms[path]:.2f} | {sharp_ms['portable'] / sharp_ms[path]:.2f}x |")
    finally:
        relu1d.set_simd_path(before)
    return 0


if __name__ == "__main__":
    sys.exit(main())
