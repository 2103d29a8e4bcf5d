#!/usr/bin/env python
"""Long GD runs: wall time of a 10^7-step run, the share spent tracking the sharpness, and the
cost of the Python driver.

    python bench/bench_long_run.py                       # n=100, m=1000, 1e7 steps, sharpness every 100
    python bench/bench_long_run.py --steps 1000000       # a shorter run (time is linear in steps)

It trains through ``relu1d.train`` exactly as a user would (C++ chunks of about 50 ms driven from
Python) and reports the wall time and microseconds per step, the share of the time spent in
Lanczos (measured inside the C++ loop) with the measurements and Hessian-vector products each, and
the Python driver's share (time outside the compiled loop: chunk bookkeeping, history, progress).
``run_suite.py`` runs the same measurement (``suites.measure_long_run``) as its last part.
"""

from __future__ import annotations

import argparse
import json
import os
import sys

import numpy as np

import relu1d
from harness import available_cores, cpu_model, jsonable, load_average, simd_level
from suites import measure_long_run


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
    p.add_argument("--json", metavar="PATH", help="also write the numbers to this JSON file")
    args = p.parse_args(argv)

    print(f"# {' '.join([os.path.basename(sys.executable)] + sys.argv)}")
    print(f"# cpu: {cpu_model()} ({simd_level()}), {available_cores()} cores available, load "
          f"{load_average()}; relu1d {relu1d.__version__} ({relu1d.info()['simd_path']} path, "
          f"{relu1d.info()['build']} build), numpy {np.__version__}")
    r = measure_long_run(args.n, args.m, steps=args.steps, lr=args.lr, sharpness_every=args.sharpness_every,
                         record_every=args.record_every, seed=args.seed, progress=args.progress)
    print(f"full run: n={r['n']} m={r['m']} lr={r['lr']:g} steps={r['steps']:,} status={r['status']}")
    print(f"  wall time            {r['wall_s']:.2f} s   ({r['us_per_step']:.2f} us/step)")
    print(f"  sharpness tracking   {100 * r['sharpness_share']:.1f}% of the time: {r['measurements']:,} "
          f"measurements every {r['sharpness_every']} steps, {r['products_per_measurement']:.1f} HVPs each")
    print(f"  final loss {r['final_loss']:.4g}, sharpness {r['final_sharpness']:.4g} vs 2/lr "
          f"{r['edge_of_stability']:.4g}")
    print(f"python driver: {100 * r['driver_share']:.2f}% of the wall time outside the compiled loop "
          f"({r['driver_s']:.3f} s)")
    print(f"peak memory: {r['max_rss_mb']:.0f} MiB")
    if args.json:
        with open(args.json, "w", encoding="utf-8") as fh:
            json.dump(jsonable(r), fh, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
