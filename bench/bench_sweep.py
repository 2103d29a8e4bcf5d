"""Sweep engines: the same sweep on a thread pool, on one worker, on a process pool and on a Dask
LocalCluster of worker processes.

    python bench/bench_sweep.py                  # 64 runs: n = 100, width = 100, 1e5 steps each
    python bench/bench_sweep.py --quick          # 8 runs of 1e4 steps (a smoke run)

For each engine it reports the wall time of ``relu1d.sweep`` (the engine started beforehand; its
start-up time is reported apart), the speed-up over one worker, and the overhead per run:

    overhead per run = (wall time x workers - sum of the runs' own training times) / runs,

i.e. what each run costs beyond its GD loop (data, summary row with a sharpness measurement,
files, scheduling, transfers), assuming the workers are kept busy. Every engine must produce the
same bits (final theta of every run); the script checks it.
"""

from __future__ import annotations

import argparse
import concurrent.futures as cf
import os
import sys
import tempfile
import time

import numpy as np

import relu1d
from relu1d.sweep import expand_grid


def grid(args):
    """runs = (step sizes) x (seeds), with as many step sizes as the largest divisor <= sqrt(runs)."""
    side = max(d for d in range(1, int(np.sqrt(args.runs)) + 1) if args.runs % d == 0)
    lrs = list(np.round(np.geomspace(0.01, 0.2, side), 6))
    seeds = list(range(args.runs // side))
    return {"lr": lrs, "seed": seeds, "n": args.n, "width": args.width, "steps": args.steps}


def run_engine(name, g, workers, root):
    out = os.path.join(root, name)
    t_start = time.perf_counter()
    cluster = client = pool = None
    if name == "threads":
        kwargs = {"workers": workers}
    elif name == "one worker":
        kwargs = {"workers": 1}
        workers = 1
    elif name == "process pool":
        pool = cf.ProcessPoolExecutor(workers)
        list(pool.map(int, range(workers)))  # start the processes
        kwargs = {"executor": pool}
    elif name == "dask":
        from distributed import Client, LocalCluster

        cluster = LocalCluster(n_workers=workers, threads_per_worker=1, processes=True, dashboard_address=":0")
        client = Client(cluster)
        client.run(lambda: __import__("relu1d"))  # workers import relu1d before the clock starts
        kwargs = {"executor": client.get_executor()}
    else:
        raise ValueError(name)
    startup = time.perf_counter() - t_start
    try:
        t0 = time.perf_counter()
        table = relu1d.sweep(g, out=out, progress=False, **kwargs)
        wall = time.perf_counter() - t0
    finally:
        if pool is not None:
            pool.shutdown()
        if client is not None:
            client.close()
            cluster.close()
    rows = table.to_dict("records")
    statuses = {r["status"] for r in rows}
    train_seconds = sum(r["wall_time"] for r in rows)
    thetas = {r["run_id"]: relu1d.Run.load(os.path.join(out, r["run_file"])).theta for r in rows}
    return {"engine": name, "workers": workers, "startup": startup, "wall": wall, "train": train_seconds,
            "runs": len(rows), "statuses": statuses, "thetas": thetas,
            "overhead": (wall * workers - train_seconds) / len(rows)}


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--runs", type=int, default=64)
    p.add_argument("--n", type=int, default=100)
    p.add_argument("--width", type=int, default=100)
    p.add_argument("--steps", type=int, default=100_000)
    p.add_argument("--workers", type=int, default=2, help="threads / processes / Dask workers (default 2)")
    p.add_argument("--engines", nargs="+", default=["one worker", "threads", "process pool", "dask"],
                   help="engines to time (default: all four)")
    p.add_argument("--quick", action="store_true", help="8 runs of 1e4 steps")
    args = p.parse_args(argv)
    if args.quick:
        args.runs, args.steps = 8, 10_000
    g = grid(args)
    try:  # imported once here, not inside the first engine's timing
        import pandas  # noqa: F401
    except ImportError:
        pass
    relu1d.sweep({"n": 5, "width": 2, "steps": 10}, progress=False)  # warm-up: lazy imports
    runs = len(expand_grid(g))
    print(f"# {' '.join([os.path.basename(sys.executable)] + sys.argv)}")
    print(f"# cpu: {relu1d.info()['cpu']}, {os.cpu_count()} cores; relu1d {relu1d.__version__}, numpy {np.__version__}")
    print(f"# {runs} runs: n = {args.n}, width = {args.width}, {args.steps:,} steps each (sharpness every "
          f"{10 * max(1, args.steps // 10_000)} steps, train's default), lr in {g['lr'][0]}..{g['lr'][-1]}")
    results = []
    with tempfile.TemporaryDirectory(prefix="bench-sweep-") as root:
        for name in args.engines:
            if name == "dask":
                try:
                    import distributed  # noqa: F401
                except ImportError:
                    print("# dask: not installed (pip install 'relu1d[dask]'), skipped")
                    continue
            results.append(run_engine(name, g, args.workers, root))
            r = results[-1]
            print(f"# {name}: {r['wall']:.2f} s", flush=True)
    base = next((r for r in results if r["engine"] == "one worker"), None)
    print()
    print("| engine | workers | start-up (s) | sweep wall (s) | speed-up vs one worker | sum of run times (s) "
          "| overhead per run (ms) |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    for r in results:
        speedup = f"{base['wall'] / r['wall']:.2f}x" if base else "n/a"
        print(f"| {r['engine']} | {r['workers']} | {r['startup']:.2f} | {r['wall']:.2f} | {speedup} | "
              f"{r['train']:.2f} | {1000 * r['overhead']:.1f} |")
    ref = results[0]["thetas"] if results else {}
    same = all(r["thetas"].keys() == ref.keys() and all(np.array_equal(r["thetas"][k], ref[k]) for k in ref)
               for r in results)
    print(f"\nstatuses: {sorted(set().union(*(r['statuses'] for r in results)))}; "
          f"same bits on every engine (final theta of all {runs} runs): {'yes' if same else 'NO'}")
    return 0 if same else 1


if __name__ == "__main__":
    sys.exit(main())
