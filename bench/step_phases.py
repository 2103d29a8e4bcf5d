#!/usr/bin/env python
"""GD steps of the fast kernel at one size on a given number of threads, for a look inside a step.

On a normal build it prints the time per step (a call of 2k steps less a call of k steps, as in
``bench_threads.py``). On a build with ``bench/phase_timers.patch`` applied, the kernel also
prints at exit the TSC cycles per call of each phase of a step: the neuron pass with the scatter
(on threads), the slot tables added across threads, and the forward pass (on the calling thread)
with its sweep and slot sums. Run one thread count per process, so each report is of one::

    git apply bench/phase_timers.patch && pip install --no-build-isolation -e .   # (or rebuild)
    OPENBLAS_NUM_THREADS=1 python bench/step_phases.py --n 10000 --m 100000 --threads 1
    OPENBLAS_NUM_THREADS=1 python bench/step_phases.py --n 10000 --m 100000 --threads 2
    git apply -R bench/phase_timers.patch

The timers count every step of the process, the warm-up included; the cycles are the CPU's
time-stamp counter (its nominal clock: ``dmesg | grep tsc``). The long run's settings, at the edge
of stability (``--run`` times one plain call of that many steps instead of the 2k - k difference)::

    RELU1D_SIMD=avx2 python bench/step_phases.py --n 100 --m 1000 --lr 0.01 --warmup 300000 \
        --run 1000000 --sharpness-every 100 --data make_data
"""

from __future__ import annotations

import argparse
import time

import relu1d
from harness import make_problem, set_stable_lr


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--n", type=int, default=10_000)
    p.add_argument("--m", type=int, default=100_000)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--steps", type=int, default=1000, help="k: the timed difference is 2k steps less k")
    p.add_argument("--lr", type=float, help="step size (default: 1 / sharpness at theta0)")
    p.add_argument("--warmup", type=int, default=10, help="steps run first, from theta0; the timed calls start "
                   "where they end (default 10)")
    p.add_argument("--run", type=int, default=0, help="time one call of this many steps instead of 2k - k")
    p.add_argument("--sharpness-every", type=int, default=0, help="measure the sharpness every this many steps "
                   "during every call (default 0: never)")
    p.add_argument("--data", choices=["bench", "make_data"], default="bench",
                   help="the suite's problem (noisy hat, PyTorch's init) or relu1d.make_data(n) with "
                   "relu1d.init_params(m), the long run's (default bench)")
    args = p.parse_args(argv)
    if min(args.n, args.m, args.threads, args.steps) < 1:
        p.error("--n, --m, --threads and --steps must be positive")
    if min(args.warmup, args.run, args.sharpness_every) < 0:
        p.error("--warmup, --run and --sharpness-every must not be negative")
    if args.lr is not None and not args.lr > 0:
        p.error("--lr must be positive")

    if args.data == "bench":
        problem = make_problem(args.n, args.m)
        x, y, theta0 = problem.x, problem.y, problem.theta
    else:
        x, y = relu1d.make_data(args.n)
        theta0 = relu1d.init_params(args.m)
    objective = relu1d.Objective(x, y, threads=args.threads)
    lr = args.lr if args.lr is not None else 1.0 / relu1d.sharpness(objective, theta0).value
    record = 1000 if args.sharpness_every else 10**9

    def train(theta, steps: int):
        return relu1d.train(objective, theta, lr=lr, steps=steps, record_every=record,
                            sharpness_every=args.sharpness_every, progress=False)

    theta = train(theta0, args.warmup).theta if args.warmup else theta0

    def run(steps: int) -> float:
        t0 = time.perf_counter()
        train(theta, steps)
        return time.perf_counter() - t0

    label = f"n={args.n} m={args.m} threads={args.threads} lr={lr:.4g}"
    if args.run:
        tracking = f"sharpness every {args.sharpness_every}" if args.sharpness_every else "no sharpness"
        print(f"{label}: {run(args.run) / args.run * 1e6:.2f} us per GD step ({args.run:,} steps after "
              f"{args.warmup:,}, {tracking})")
        return 0
    per_step = min((run(2 * args.steps) - run(args.steps)) / args.steps for _ in range(3))
    print(f"{label}: {per_step * 1e6:.1f} us per GD step (best of 3)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
