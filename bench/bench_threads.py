#!/usr/bin/env python
"""Thread scaling of relu1d on this machine: 1, 2, 4, ... threads up to every available core.

    python bench/bench_threads.py                     # m = 1e5 (n = 1e3, 1e4), 1e6 and n = 1e7 (minutes on 2 cores)
    python bench/bench_threads.py --quick             # a smoke run (seconds; the fast kernel stays on one thread)
    python bench/bench_threads.py --sweep-runs 64     # and a 64-run sweep on every core

For each size and thread count, in one process: the seconds per GD step of the fast kernel through
the compiled loop (``relu1d.train`` at ``lr = 1/sharpness(theta0)``, no sharpness tracking; a call
of 2k steps less a call of k steps, so that the fixed cost of a call cancels), one
HVP, the sharpness from scratch (Lanczos to 1e-10), and the dense kernel's ``loss_and_grad`` (at
``--dense-n`` points: O(n m)); then the full Hessian at n = 100, m = ``--hessian-m``. Each is the median of ``--repeats`` repeats, and the speed-up is the
time on one thread over the time on t threads. Every thread count must give the same bits: theta
after ``--check-steps`` steps, the sharpness, the HVP, the dense loss and gradient, the full
Hessian (checked; the script exits with status 1 otherwise). The sweep's thetas are compared and
reported, not checked.

With ``--sweep-runs R``: the sweep of ``bench_sweep.py`` (R runs of 10^5 steps at n = 100,
width 100, each run on one thread) on ``relu1d.sweep(workers=1)`` and on every core, and its
speed-up. For machines with many cores: run it as it is; the thread counts follow the affinity
mask (``taskset -c 0-15 python bench/bench_threads.py`` measures 16 cores of a larger machine).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time

import numpy as np

import relu1d
from harness import (Timing, alternating_thetas, available_cores, load_average, machine_info, make_problem,
                     set_stable_lr, time_call)
from suites import thread_counts


def median_seconds(fn, repeats: int) -> float:
    """Median seconds per call of fn (harness.time_call: warm-up, repeats of at least 0.05 s)."""
    return float(time_call(fn, Timing(repeat=repeats, min_time=0.05, warmup_time=0.0))["median"])


def gd_seconds(obj, problem, steps: int, repeats: int) -> float:
    """Seconds per GD step of relu1d.train: the median over repeats of (time of a call of 2k steps -
    time of a call of k steps) / k, so that the fixed cost of a call (a Trainer and its kernel,
    seconds at n = 1e7) cancels."""
    def call(k):
        start = time.perf_counter()
        relu1d.train(obj, problem.theta, lr=problem.lr, steps=k, record_every=2 * steps, sharpness_every=0,
                     progress=False)
        return time.perf_counter() - start
    call(1)
    return float(np.median([(call(2 * steps) - call(steps)) / steps for _ in range(repeats)]))


def measure_size(n: int, m: int, counts: list, args) -> dict:
    problem = make_problem(n, m)
    set_stable_lr(problem, relu1d.sharpness(relu1d.Objective(problem.x, problem.y, threads=1),
                                            problem.theta).eigenvalues[0])
    # about step_budget seconds per call on one core, and at least 50 steps: at n = 1e7 the fixed
    # cost of a call (seconds) varies more than a few steps take
    steps = max(50, int(args.step_budget / (5e-9 * (n + m))))
    out = {"n": n, "m": m, "steps_per_call": steps, "fast": {}, "dense": {}}
    reference = None
    for t in counts:
        obj = relu1d.Objective(problem.x, problem.y, threads=t)
        fresh = alternating_thetas(problem.theta)  # each timed HVP and sharpness prepares again
        row = {"step": gd_seconds(obj, problem, steps, args.repeats),
               "hvp": median_seconds(lambda: obj.hvp(fresh(), problem.u), args.repeats),
               "sharpness": median_seconds(lambda: relu1d.sharpness(obj, fresh(), tol=1e-10), args.repeats)}
        run = relu1d.train(obj, problem.theta, lr=problem.lr, steps=args.check_steps, record_every=args.check_steps,
                           sharpness_every=0, progress=False)
        bits = (run.theta, relu1d.sharpness(obj, problem.theta, tol=1e-10).eigenvalues, obj.hvp(problem.theta, problem.u))
        reference = bits if reference is None else reference
        row["bit_identical"] = all(np.array_equal(a, b) for a, b in zip(bits, reference))
        out["fast"][t] = row
        print(f"  fast  n={n:,} m={m:,} threads={t}: step {row['step'] * 1e6:.1f} us, hvp {row['hvp'] * 1e3:.2f} ms, "
              f"sharpness {row['sharpness'] * 1e3:.1f} ms, same bits: {row['bit_identical']}", file=sys.stderr)
    dense_n = min(n, args.dense_n)
    if dense_n * m <= args.dense_max_nm:
        x, y = problem.x[:dense_n], problem.y[:dense_n]
        reference = None
        for t in counts:
            obj = relu1d.Objective(x, y, kernel="dense", threads=t)
            seconds = median_seconds(lambda: obj.loss_and_grad(problem.theta), args.repeats)
            loss, grad = obj.loss_and_grad(problem.theta)
            reference = (loss, grad) if reference is None else reference
            same = loss == reference[0] and np.array_equal(grad, reference[1])
            out["dense"][t] = {"loss_and_grad": seconds, "n": dense_n, "bit_identical": same}
            print(f"  dense n={dense_n:,} m={m:,} threads={t}: loss_and_grad {seconds * 1e3:.2f} ms, same bits: {same}",
                  file=sys.stderr)
    return out


def measure_hessian(n: int, m: int, counts: list, args) -> dict:
    """The full Hessian of the fast kernel (tiles of neuron pairs over threads)."""
    problem = make_problem(n, m)
    out, reference = {"n": n, "m": m}, None
    for t in counts:
        obj = relu1d.Objective(problem.x, problem.y, threads=t)
        seconds = median_seconds(lambda: obj.hessian(problem.theta), args.repeats)
        H = obj.hessian(problem.theta)
        reference = H if reference is None else reference
        out[t] = {"seconds": seconds, "bit_identical": bool(np.array_equal(H, reference))}
        print(f"  hessian n={n:,} m={m:,} threads={t}: {seconds * 1e3:.1f} ms, same bits: {out[t]['bit_identical']}",
              file=sys.stderr)
    return out


def measure_sweep(runs: int, cores: int) -> dict:
    side = max(d for d in range(1, int(np.sqrt(runs)) + 1) if runs % d == 0)
    grid = {"lr": list(np.round(np.geomspace(0.01, 0.2, side), 6)), "seed": list(range(runs // side)),
            "n": 100, "width": 100, "steps": 100_000}
    out = {"runs": runs}
    thetas = {}
    for workers in sorted({1, cores}):
        with tempfile.TemporaryDirectory() as root:
            start = time.perf_counter()
            table = relu1d.sweep(grid, workers=workers, out=os.path.join(root, "sweep"), progress=False)
            out[workers] = time.perf_counter() - start
            thetas[workers] = [relu1d.Run.load(p).theta for p in table["path"]] if "path" in table else None
        print(f"  sweep of {runs} runs on {workers} worker(s): {out[workers]:.1f} s", file=sys.stderr)
    out["speedup"] = out[1] / out[cores]
    if all(v is not None for v in thetas.values()):
        out["bit_identical"] = all(np.array_equal(a, b) for a, b in zip(thetas[1], thetas[cores]))
    return out


def ratio(a, b):
    return f"{a / b:.2f}" if a and b else "n/a"


def markdown(results: dict) -> str:
    counts = results["counts"]
    lines = [f"Command: `{results['command']}`  ",
             f"Machine: {results['machine']['cpu']} ({results['machine']['simd']}), {results['cores']} cores "
             f"available; relu1d {results['machine']['relu1d_core'].get('simd_path')} path, "
             f"{results['machine']['relu1d_core'].get('build')} build  ",
             f"Load average before / after: {results['load_before']} / {results['load_after']}", "",
             "Speed-up over one thread (time on 1 thread / time on t threads); every row gives the same bits.", "",
             "| n | m | part | " + " | ".join(f"{t} thread{'s' if t > 1 else ''}" for t in counts) + " | same bits |",
             "|---:|---:|---|" + "---:|" * len(counts) + "---|"]

    def row(n: int, m: int, label: str, by_count: dict, key: str) -> str:
        """One table row: time on one thread, the speed-ups, whether every count gave the same bits."""
        one = by_count[counts[0]][key]
        return (f"| {n:,} | {m:,} | {label} ({one * 1e3:.3g} ms on 1) | "
                + " | ".join(ratio(one, by_count[t][key]) for t in counts) + " | "
                + ("yes" if all(by_count[t]["bit_identical"] for t in counts) else "NO") + " |")

    for s in results["sizes"]:
        for part, label in (("step", "fast: GD step"), ("hvp", "fast: HVP"), ("sharpness", "fast: sharpness")):
            lines.append(row(s["n"], s["m"], label, s["fast"], part))
        if s["dense"]:
            lines.append(row(s["dense"][counts[0]]["n"], s["m"], "dense: loss_and_grad", s["dense"], "loss_and_grad"))
    if "hessian" in results:
        hs = results["hessian"]
        lines.append(row(hs["n"], hs["m"], "fast: full Hessian", hs, "seconds"))
    if "sweep" in results:
        sw = results["sweep"]
        lines += ["", f"Sweep of {sw['runs']} runs (n = 100, width 100, 10^5 steps each): "
                  f"{sw[1]:.1f} s on one worker, {sw[results['cores']]:.1f} s on {results['cores']}: "
                  f"{sw['speedup']:.2f}x" + (f"; same bits: {sw['bit_identical']}" if "bit_identical" in sw else "")]
    return "\n".join(lines)


def _size(text: str) -> tuple:
    try:
        n, m = (int(v) for v in text.lower().split("x"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected NxM (e.g. 10000x100000), got {text!r}") from None
    if n < 2 or m < 1:
        raise argparse.ArgumentTypeError(f"expected n >= 2 points and m >= 1 neurons, got {text!r}")
    return n, m


def _count(minimum: int):
    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected an integer, got {text!r}") from None
        if value < minimum:
            raise argparse.ArgumentTypeError(f"must be >= {minimum}, got {value}")
        return value
    return parse


def _seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number of seconds, got {text!r}") from None
    if not value > 0:
        raise argparse.ArgumentTypeError(f"must be > 0, got {text}")
    return value


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--sizes", nargs="+", type=_size, default=[(1_000, 100_000), (10_000, 100_000), (10_000, 1_000_000), (10_000_000, 1_000)],
                   metavar="NxM",
                   help="problem sizes n x m (default 1000x100000 10000x100000 10000x1000000 10000000x1000)")
    p.add_argument("--repeats", type=_count(1), default=5, help="repeats per median (default 5)")
    p.add_argument("--step-budget", type=_seconds, default=0.5, help="seconds of GD per timed call on one core, at about 5 ns per (n + m) a step and at least "
                   "50 steps (default 0.5)")
    p.add_argument("--check-steps", type=_count(1), default=20, help="GD steps whose theta must be the same bits on every "
                   "thread count (default 20)")
    p.add_argument("--dense-n", type=_count(2), default=1000, help="data points of the dense measurement (default 1000)")
    p.add_argument("--dense-max-nm", type=float, default=2e9, help="skip the dense measurement where its n m exceeds this "
                   "(default 2e9)")
    p.add_argument("--hessian-m", type=_count(0), default=1000, help="width of the full-Hessian measurement at n = 100 "
                   "(0: none)")
    p.add_argument("--sweep-runs", type=_count(0), default=0, help="runs of the sweep measurement (0: none)")
    p.add_argument("--quick", action="store_true", help="small sizes, 2 repeats: a smoke run (below the fast "
                   "kernel's thresholds for a second thread: it checks the bits, not the scaling)")
    p.add_argument("--out", help="write the results as JSON here")
    args = p.parse_args(argv)
    if args.out is not None and (os.path.isdir(args.out) or not os.path.isdir(os.path.dirname(os.path.abspath(args.out)))):
        p.error(f"--out: {args.out!r} is a folder, or its folder does not exist: give a file path")
    if args.quick:
        args.sizes, args.repeats, args.step_budget, args.dense_n, args.hessian_m = [(200, 20_000)], 2, 0.02, 200, 300
    cores = available_cores()
    counts = thread_counts(cores)
    results = {"command": " ".join(["python", "bench/bench_threads.py", *(argv if argv is not None else sys.argv[1:])]),
               "machine": machine_info(), "cores": cores, "counts": counts, "load_before": load_average(),
               "sizes": []}
    for n, m in args.sizes:
        results["sizes"].append(measure_size(n, m, counts, args))
    if args.hessian_m:
        results["hessian"] = measure_hessian(100, args.hessian_m, counts, args)
    if args.sweep_runs:
        results["sweep"] = measure_sweep(args.sweep_runs, cores)
    results["load_after"] = load_average()
    print(markdown(results))
    if args.out:
        with open(args.out, "w", encoding="utf-8") as fh:
            json.dump(results, fh, indent=1, default=str)
    identical = all(row["bit_identical"] for s in results["sizes"] for part in ("fast", "dense")
                    for row in s[part].values())
    identical &= all(results["hessian"][t]["bit_identical"] for t in counts) if "hessian" in results else True
    return 0 if identical else 1


if __name__ == "__main__":
    sys.exit(main())
