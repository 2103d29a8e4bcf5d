"""Long GD runs: wall time of a 10^7-step run, the share spent tracking the sharpness, and the
cost of the Python driver.

    python bench/bench_long_run.py                       # n=100, m=1000, 1e7 steps, sharpness every 100
    python bench/bench_long_run.py --steps 1000000       # a shorter run (time is linear in steps)

It reports:
- the full run through ``relu1d.train`` (chunks of ~50 ms driven from Python, with records and
  sharpness measurements): wall time, microseconds per step, and the share of the time spent in
  Lanczos (measured inside the C++ loop);
- the Python driver's cost: the share of the wall time spent outside the compiled loop (chunk
  bookkeeping, history, progress), measured around every call into C++.
"""

from __future__ import annotations

import argparse
import os
import sys
import time

import numpy as np

import relu1d
from bench_step import cpu_model  # this folder is on sys.path when the script runs


def problem(n: int, m: int, seed: int):
    x, y = relu1d.make_data(n, sigma=0.3, target="hat", rng=seed)
    return relu1d.Objective(x, y), relu1d.init_params(m, rng=seed + 1)


def full_run(objective, theta0, args):
    t = time.perf_counter()
    run = relu1d.train(objective, theta0, lr=args.lr, steps=args.steps, record_every=args.record_every,
                       sharpness_every=args.sharpness_every, progress=args.progress)
    return run, time.perf_counter() - t


def driver_overhead(run) -> float:
    """Share of the run's wall time spent outside the compiled loop (driver, records, checks)."""
    return (run.wall_time - run.core_time) / run.wall_time


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--n", type=int, default=100)
    p.add_argument("--m", type=int, default=1000)
    p.add_argument("--steps", type=int, default=10_000_000)
    p.add_argument("--lr", type=float, default=0.01)
    p.add_argument("--record-every", type=int, default=1000)
    p.add_argument("--sharpness-every", type=int, default=100)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--progress", action=argparse.BooleanOptionalAction, default=False)
    args = p.parse_args(argv)

    print(f"# {' '.join([os.path.basename(sys.executable)] + sys.argv)}")
    print(f"# cpu: {cpu_model()}, {os.cpu_count()} cores; relu1d {relu1d.__version__}, numpy {np.__version__}")
    objective, theta0 = problem(args.n, args.m, args.seed)

    run, wall = full_run(objective, theta0, args)
    us = 1e6 * wall / max(run.steps, 1)
    share = run.sharpness_time / wall if wall > 0 else float("nan")
    measured = int(np.isfinite(run.history["sharpness"]).sum())
    products = int(run.history["sharpness_products"].sum())
    print(f"full run: n={args.n} m={args.m} lr={args.lr:g} steps={run.steps:,} status={run.status}")
    print(f"  wall time            {wall:.2f} s   ({us:.2f} us/step)")
    print(f"  sharpness tracking   {100 * share:.1f}% of the time: {measured:,} measurements every "
          f"{args.sharpness_every} steps, {products / max(measured, 1):.1f} HVPs each")
    print(f"  final loss {run.final_loss:.4g}, sharpness {run.sharpness:.4g} vs 2/lr {2 / args.lr:.4g}")

    print(f"python driver: {100 * driver_overhead(run):.2f}% of the wall time outside the compiled loop "
          f"({run.wall_time - run.core_time:.3f} s of {run.wall_time:.2f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
