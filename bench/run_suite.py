#!/usr/bin/env python
"""relu1d's benchmark suite: one command, one process per size, ratios from the same run.

    python bench/run_suite.py                    # the full suite (about 11 minutes on 2 busy cores)
    python bench/run_suite.py --quick            # a smoke run (about a minute)
    python bench/run_suite.py --sizes 1024x4096 100x10000 --parts step

It measures, on the same data (``relu1d.make_data``, noisy hat), the same initial theta
(``relu1d.init_params``) and the same stable step size ``lr = 1 / sharpness(theta0)``:

- GD steps/s of relu1d's fast and dense kernels through the compiled loop ``relu1d.train``, and of
  NumPy, PyTorch eager, ``torch.compile`` and JAX (``jit`` of a ``lax.fori_loop``), on a geometric
  (n, m) grid from (64, 256) to (1024, 4096) and (100, 10000); relu1d alone up to m = 1e6 and
  n = 1e7; ns per (n + m);
- one Hessian-vector product; the sharpness from scratch (relu1d.sharpness against Lanczos on each
  baseline's HVP); the dense kernel's GFLOP/s against the FMA peak measured by ``fma_peak.py``;
  the memory floor of a GD step (``memory_floor.py``: its compulsory 64 bytes per neuron, streamed);
  thread scaling; peak memory (VmHWM of the process of that size, reset before each part);
- the full Hessian at m = 100, 500, 1000 (relu1d fast and dense, NumPy, ``jax.hessian``);
- the long run of ``bench_long_run.py`` (10^7 steps with the sharpness every 100 steps).

Output: a Markdown report on stdout and, with ``--out DIR`` (default ``bench/results`` for the full
suite), ``DIR/results.json``, ``DIR/results.md`` and ``DIR/step_time.png`` (matplotlib, optional).
Baselines that are not installed are skipped with a note.
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import sys
import time

from fma_peak import measure_fma_peak
from memory_floor import measure_memory_floor
from harness import Timing, available_cores, load_average, log, machine_info, run_worker
import report

HERE = os.path.dirname(os.path.abspath(__file__))

GRID = [(64, 256), (128, 512), (256, 1024), (512, 2048), (1024, 4096), (100, 10_000)]
RELU1D_ALONE = [(10_000, 100_000), (10_000, 1_000_000), (10_000_000, 1_000)]
HESSIAN_M = [100, 500, 1000]
QUICK_GRID = [(64, 256), (1024, 4096)]
QUICK_HESSIAN_M = [100]
LONG_RUN = {"n": 100, "m": 1000, "lr": 0.01, "sharpness_every": 100, "steps": 10_000_000}
QUICK_LONG_STEPS = 100_000
PARTS = ("step", "hessian", "long")


def parse_size(text: str):
    try:
        n, m = (int(float(part)) for part in text.lower().split("x"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected NxM such as 1024x4096 or 1e4x1e6, got {text!r}") from None
    if n < 2 or m < 1:
        raise argparse.ArgumentTypeError(f"need n >= 2 and m >= 1, got {text!r}")
    return n, m


def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--quick", action="store_true", help="small sizes, short timings, 1e5-step long run")
    p.add_argument("--sizes", nargs="+", type=parse_size, metavar="NxM",
                   help="(n, m) sizes of the step/HVP/sharpness part instead of the default grid")
    p.add_argument("--parts", nargs="+", choices=PARTS, default=list(PARTS), help="which parts to run")
    p.add_argument("--skip", nargs="+", choices=("torch", "torch.compile", "jax"), default=[],
                   help="baselines not to import")
    p.add_argument("--out", metavar="DIR", help="write results.json, results.md, step_time.png here "
                   "(default: bench/results for the full suite, nothing with --quick or --sizes)")
    p.add_argument("--repeat", type=int, help="timed repeats; the median is reported (default 5; 3 quick)")
    p.add_argument("--min-time", type=float, help="least seconds per repeat (default 0.2; 0.02 quick)")
    p.add_argument("--max-nm", type=float, default=2e7,
                   help="run relu1d dense and the baselines only when n*m is at most this (default 2e7)")
    p.add_argument("--hessian-n", type=int, default=100, help="data points of the Hessian part (default 100)")
    p.add_argument("--hessian-m", nargs="+", type=int, help="widths of the Hessian part (default 100 500 1000)")
    p.add_argument("--jax-hessian-max-gb", type=float, default=4.0,
                   help="skip jax.hessian when its (3m+1) x n x m tangents exceed this many GB")
    p.add_argument("--long-steps", type=int, help="steps of the long run (default 1e7; 1e5 quick)")
    p.add_argument("--lr-factor", type=float, default=1.0, help="lr = this / sharpness(theta0) (default 1)")
    p.add_argument("--rtol", type=float, default=1e-10,
                   help="largest relative difference from relu1d accepted by the checks (default 1e-10)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--timeout", type=float, default=1800, help="seconds allowed to one size's process")
    p.add_argument("--worker", choices=("size", "hessian", "long"), help=argparse.SUPPRESS)
    p.add_argument("--spec", help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.repeat is None:
        args.repeat = 3 if args.quick else 5
    if args.min_time is None:
        args.min_time = 0.02 if args.quick else 0.2
    if args.long_steps is None:
        args.long_steps = QUICK_LONG_STEPS if args.quick else LONG_RUN["steps"]
    if args.hessian_m is None:
        args.hessian_m = QUICK_HESSIAN_M if args.quick else HESSIAN_M
    if args.out is None and not args.quick and not args.sizes:
        args.out = os.path.join(HERE, "results")
    return args


def timing_of(args) -> Timing:
    return Timing(repeat=args.repeat, min_time=args.min_time, warmup_time=args.min_time / 2)


def worker(args) -> int:
    """One size in this process; prints one JSON line on stdout."""
    import suites  # imported here: the parent process never loads relu1d's kernels or baselines
    from harness import jsonable

    spec = json.loads(args.spec)
    timing = timing_of(args)
    if args.worker == "size":
        result = suites.measure_size(spec["n"], spec["m"], timing=timing, skip=args.skip, max_nm=args.max_nm,
                                     rtol=args.rtol, seed=args.seed, lr_factor=args.lr_factor)
    elif args.worker == "hessian":
        result = suites.measure_hessian(spec["n"], spec["m"], timing=timing, skip=args.skip,
                                        max_bytes=args.jax_hessian_max_gb * 1e9, seed=args.seed)
    else:
        result = suites.measure_long_run(spec["n"], spec["m"], steps=spec["steps"], lr=spec["lr"],
                                         sharpness_every=spec["sharpness_every"], seed=args.seed)
    print(json.dumps(jsonable(result)), flush=True)
    return 0


def forwarded(args) -> list:
    """The options a worker needs, as command-line arguments."""
    out = ["--repeat", str(args.repeat), "--min-time", repr(args.min_time), "--max-nm", repr(args.max_nm),
           "--jax-hessian-max-gb", repr(args.jax_hessian_max_gb), "--lr-factor", repr(args.lr_factor),
           "--rtol", repr(args.rtol), "--seed", str(args.seed)]
    if args.skip:
        out += ["--skip", *args.skip]
    return out


def spawn(args, kind: str, spec: dict) -> dict:
    script = os.path.abspath(__file__)
    result = run_worker(script, ["--worker", kind, "--spec", json.dumps(spec), *forwarded(args)],
                        timeout=args.timeout)
    return {**spec, **result}


def baseline_versions(args) -> dict:
    """Which baselines will run, in a throw-away process (the parent imports no baseline)."""
    code = ("import json, baselines as b; print(json.dumps({x.name: (x.reason if isinstance(x, b.Unavailable) "
            "else x.describe()) for x in b.load_baselines(%r)}))" % (tuple(args.skip),))
    import subprocess
    done = subprocess.run([sys.executable, "-c", code], cwd=HERE, capture_output=True, text=True, check=False)
    lines = [line for line in done.stdout.splitlines() if line.startswith("{")]
    return json.loads(lines[-1]) if lines else {"error": done.stderr.strip()[-300:]}


def main(argv=None) -> int:
    args = parse_args(argv)
    if args.worker:
        return worker(args)
    # the environment that changes what runs, as a prefix (RELU1D_SIMD: another path than the best)
    settings = [f"{k}={os.environ[k]}" for k in ("RELU1D_SIMD", "OMP_WAIT_POLICY") if os.environ.get(k)]
    command = shlex.join([*settings, "python", os.path.relpath(os.path.abspath(__file__)), *sys.argv[1:]])
    start = time.perf_counter()
    results = {"command": command, "machine": machine_info(), "baselines": baseline_versions(args),
               "settings": {k: v for k, v in vars(args).items() if k not in ("worker", "spec")}}
    if args.out:
        results["settings"]["out"] = os.path.relpath(args.out)
    log(f"{command}\nmachine: {results['machine']['cpu']} ({results['machine']['simd']}), "
        f"{available_cores()} cores, load {load_average()}\nbaselines: {results['baselines']}")
    log("FMA peak ...")
    results["fma_peak"] = measure_fma_peak(repeat=args.repeat, min_time=min(0.1, 5 * args.min_time))
    log("memory floor ...")
    results["memory_floor"] = measure_memory_floor(repeat=args.repeat, min_time=min(0.1, 5 * args.min_time))
    if "step" in args.parts:
        sizes = args.sizes or (QUICK_GRID if args.quick else GRID + RELU1D_ALONE)
        results["sizes"] = []
        for n, m in sizes:
            log(f"step/hvp/sharpness at (n, m) = ({n}, {m})")
            results["sizes"].append(spawn(args, "size", {"n": n, "m": m}))
    if "hessian" in args.parts:
        results["hessians"] = []
        for m in args.hessian_m:
            log(f"hessian at (n, m) = ({args.hessian_n}, {m})")
            results["hessians"].append(spawn(args, "hessian", {"n": args.hessian_n, "m": m}))
    if "long" in args.parts:
        log(f"long run: {args.long_steps:,} steps")
        results["long_run"] = spawn(args, "long", {**LONG_RUN, "steps": args.long_steps})
    results["elapsed_s"] = time.perf_counter() - start
    results["load_after"] = load_average()
    text = report.markdown(results)
    print(text)
    if args.out:
        os.makedirs(args.out, exist_ok=True)
        report.save_json(os.path.join(args.out, "results.json"), results)
        with open(os.path.join(args.out, "results.md"), "w", encoding="utf-8") as fh:
            fh.write(text + "\n")
        figure = report.plot(os.path.join(args.out, "step_time.png"), results)
        log(f"saved {args.out}/results.json, results.md" + (", step_time.png" if figure else
                                                             " (no matplotlib: no plot)"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
