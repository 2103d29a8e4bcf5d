"""Command line of the paper's experiments: ``relu1d reproduce NAME [--quick] [--out DIR]``.

Exit status: 0 when the experiment ran (whatever its checks found: a claim that does not hold is
a result, written to ``summary.json``), 2 for usage errors, 130 when interrupted (run the same
command again to resume).
"""

from __future__ import annotations

import sys

__all__ = ["add_reproduce_parser", "run_reproduce_command"]


def add_reproduce_parser(sub):
    from .experiments import EXPERIMENTS

    r = sub.add_parser(
        "reproduce", help="run one of the paper's experiments (figures, numbers, checks of its claims)",
        description="Run an experiment of Qiao et al. (NeurIPS 2024) through relu1d.sweep and write its figures "
                    "(PNG), numbers (CSV) and summary.json (settings, seeds, checks, wall time) to OUT/NAME. "
                    "Runs are kept under OUT/_sweeps: the same command resumes a killed experiment, and "
                    "experiments that share runs (edge, sparsity, regularizer, knot-distance) train them once.")
    r.add_argument("name", choices=list(EXPERIMENTS) + ["all"], help="experiment, or all of them in turn")
    r.add_argument("--quick", action="store_true", help="small grids and short runs (a minute or less each)")
    r.add_argument("--out", default="reproduce-out", help="output folder (default reproduce-out)")
    r.add_argument("--workers", type=int, help="threads of the sweeps (default: the CPUs available)")
    r.add_argument("--scale", type=float, default=1.0,
                   help="multiply every step count by this factor in (0, 1] (default 1)")
    r.add_argument("--seed", type=int, default=0, help="sweep seed (default 0)")
    r.add_argument("--progress", action="store_true", default=None, help="progress bars (default: on a terminal)")
    return r


def _print_result(result) -> None:
    print(f"{result.name} ({result.mode}): {result.wall_time:.1f} s ({result.runs} runs, "
          f"{result.train_seconds:.1f} s of training), files in {result.folder}")
    for f in result.files:
        print(f"  {f}")
    for name, check in result.checks.items():
        mark = "holds " if check["holds"] else "FAILS "
        print(f"  {mark} {name}: {check['detail']}")


def run_reproduce_command(args) -> int:
    from . import experiments

    names = experiments.names() if args.name == "all" else [args.name]
    try:
        for name in names:
            result = experiments.run(name, quick=args.quick, out=args.out, scale=args.scale, workers=args.workers,
                                     progress=args.progress, seed=args.seed)
            _print_result(result)
    except experiments.ExperimentInterrupted as exc:
        print(f"relu1d reproduce: interrupted: {exc}", file=sys.stderr)
        return 130
    except KeyboardInterrupt:
        print("relu1d reproduce: interrupted; run the same command again to resume", file=sys.stderr)
        return 130
    except (ValueError, TypeError) as exc:
        print(f"relu1d reproduce: error: {exc}", file=sys.stderr)
        return 2
    except ImportError as exc:
        print(f"relu1d reproduce: error: {exc}", file=sys.stderr)
        return 2
    return 0
