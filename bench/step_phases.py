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
time-stamp counter (its nominal clock: ``dmesg | grep tsc``).
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
    args = p.parse_args(argv)
    if min(args.n, args.m, args.threads, args.steps) < 1:
        p.error("--n, --m, --threads and --steps must be positive")

    problem = make_problem(args.n, args.m)
    objective = relu1d.Objective(problem.x, problem.y, threads=args.threads)
    set_stable_lr(problem, relu1d.sharpness(objective, problem.theta).value)

    def run(steps: int) -> float:
        t0 = time.perf_counter()
        relu1d.train(objective, problem.theta, lr=problem.lr, steps=steps, record_every=10**9, sharpness_every=0,
                     progress=False)
        return time.perf_counter() - t0

    run(10)  # warm-up
    per_step = min((run(2 * args.steps) - run(args.steps)) / args.steps for _ in range(3))
    print(f"n={args.n} m={args.m} threads={args.threads}: {per_step * 1e6:.1f} us per GD step (best of 3)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
