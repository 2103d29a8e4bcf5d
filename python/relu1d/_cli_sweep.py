"""Command line of sweeps: ``relu1d sweep GRID.json --out DIR [--workers N] [--scheduler ADDRESS]``
and ``relu1d sweep --resume DIR``.

Exit status: 0 when every run finished (diverged runs included: divergence is a result), 1 when
some runs failed, 2 for usage errors, 130 when interrupted (run ``relu1d sweep --resume DIR``).
"""

from __future__ import annotations

import argparse
import json
import os
import sys

__all__ = ["add_sweep_parser", "run_sweep_command"]


def add_sweep_parser(sub) -> argparse.ArgumentParser:
    s = sub.add_parser(
        "sweep", help="train a grid of runs on every core or on a Dask cluster",
        description="Train every configuration of GRID.json (a JSON object of lists, crossed, or a list of "
                    "objects) and write DIR/results.csv and one file per run under DIR/runs. Keys: n, target, "
                    "sigma, distribution, x_max, width, init, init_scale, lr, steps, seed, clip and the other "
                    "keywords of relu1d.train. Starting again with the same --out (or --resume DIR) skips "
                    "finished runs and resumes unfinished ones from their checkpoints.")
    s.add_argument("grid", nargs="?", help="grid file (JSON)")
    s.add_argument("--out", help="output folder (results.csv, runs/)")
    s.add_argument("--resume", metavar="DIR", help="continue the sweep stored in DIR")
    s.add_argument("--workers", type=int, help="threads of the local pool (default: the CPUs available)")
    s.add_argument("--scheduler", metavar="ADDRESS",
                   help="run on a Dask cluster (e.g. tcp://host:8786; needs relu1d[dask])")
    s.add_argument("--seed", type=int, help="sweep seed mixed into every run's seed (default 0)")
    s.add_argument("--retries", type=int, default=2, help="resubmissions of a run whose worker was lost (default 2)")
    s.add_argument("--checkpoint-seconds", type=float, default=60.0,
                   help="checkpoint interval of each run in seconds (default 60)")
    s.add_argument("--progress", action=argparse.BooleanOptionalAction, default=None,
                   help="progress bar (default: on a terminal)")
    return s


def _fail(message: str) -> int:
    print(f"relu1d sweep: error: {message}", file=sys.stderr)
    return 2


def run_sweep_command(args) -> int:
    from .sweep import FAILED, INTERRUPTED, PENDING, read_spec, sweep

    if args.resume is not None:
        if args.grid is not None or args.out is not None or args.seed is not None:
            return _fail("--resume DIR takes no grid file, --out or --seed (they are stored in DIR)")
        out = args.resume
        try:
            spec = read_spec(out)
        except (OSError, ValueError) as exc:
            return _fail(str(exc))
        grid, seed = spec["grid"], spec["seed"]
    else:
        if args.grid is None or args.out is None:
            return _fail("give a grid file and --out DIR (or --resume DIR)")
        out = args.out
        try:
            with open(args.grid) as f:
                grid = json.load(f)
        except OSError as exc:
            return _fail(f"grid: cannot read {args.grid} ({exc.strerror or exc})")
        except ValueError as exc:
            return _fail(f"grid: {args.grid} is not valid JSON ({exc})")
        seed = 0 if args.seed is None else args.seed

    executor, client = None, None
    try:
        if args.scheduler is not None:
            if args.workers is not None:
                return _fail("--workers sizes the local pool; a Dask cluster has its own workers")
            try:
                from distributed import Client
            except ImportError:
                return _fail("--scheduler needs dask.distributed: pip install 'relu1d[dask]'")
            try:
                client = Client(args.scheduler, timeout="20s")
            except (OSError, TimeoutError, ValueError) as exc:
                return _fail(f"scheduler: cannot connect to {args.scheduler} ({exc})")
            executor = client.get_executor()
        try:
            table = sweep(grid, executor=executor, workers=args.workers, out=out, seed=seed, progress=args.progress,
                          retries=args.retries, checkpoint_seconds=args.checkpoint_seconds)
        except (ValueError, TypeError) as exc:
            return _fail(str(exc))
    except KeyboardInterrupt:
        print(f"\ninterrupted: relu1d sweep --resume {out} continues where it stopped", file=sys.stderr)
        return 130
    finally:
        if client is not None:
            client.close()

    rows = table.to_dict("records") if hasattr(table, "to_dict") else table
    counts = {}
    for row in rows:
        counts[row["status"]] = counts.get(row["status"], 0) + 1
    summary = ", ".join(f"{k} {v}" for k, v in sorted(counts.items()))
    print(f"{len(rows)} runs: {summary}")
    print(f"results   {os.path.join(out, 'results.csv')}")
    failed = [row for row in rows if row["status"] == FAILED]
    for row in failed[:10]:
        print(f"failed    {row['run_id']}: {row['message']}", file=sys.stderr)
    if len(failed) > 10:
        print(f"failed    ... and {len(failed) - 10} more (see results.csv)", file=sys.stderr)
    if counts.get(INTERRUPTED) or counts.get(PENDING):
        print(f"interrupted: relu1d sweep --resume {out} continues where it stopped", file=sys.stderr)
        return 130
    return 1 if failed else 0
