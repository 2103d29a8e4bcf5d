"""Command line: ``relu1d train``, ``relu1d resume PATH``, ``relu1d info [PATH]``, ``relu1d report PATH``,
``relu1d plot PATH --out FILE``, ``relu1d sweep GRID.json --out DIR``, ``relu1d reproduce NAME``."""

from __future__ import annotations

import argparse
import sys

import numpy as np

__all__ = ["main"]


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="relu1d", description="Gradient descent on two-layer univariate ReLU "
                                "networks, with sharpness tracking (loss L = 1/(2n) sum r^2).")
    sub = p.add_subparsers(dest="command", required=True)

    t = sub.add_parser("train", help="train a network (default data: noisy samples of a BV(1) target on [-1, 1])")
    t.add_argument("--data", help="CSV (two columns x,y) or npz (arrays x, y); default: built-in data")
    t.add_argument("--n", type=int, default=30, help="points of the built-in data (default 30)")
    t.add_argument("--sigma", type=float, default=0.3, help="noise level of the built-in data (default 0.3)")
    # -- built-in data: relu1d.datasets.make_regression --
    t.add_argument("--target", default="hat",
                   help="target of the built-in data: hat, abs, sin, sawtooth, mixture, zero (default hat)")
    t.add_argument("--distribution", default="uniform",
                   help="inputs of the built-in data: uniform, gaussian, laplace, grid (default uniform)")
    # -- end of built-in data --
    t.add_argument("--width", type=int, default=100, help="hidden neurons m (default 100)")
    t.add_argument("--lr", type=float, default=0.05, help="step size (default 0.05; edge of stability 2/lr)")
    t.add_argument("--steps", type=int, default=1_000_000, help="GD steps (default 1000000)")
    t.add_argument("--seed", type=int, default=0, help="seed of the data and the initialisation (default 0)")
    t.add_argument("--init", default="kaiming_uniform", help="initialisation scheme (default kaiming_uniform)")
    t.add_argument("--record-every", type=int, help="history interval in steps (default steps/10000)")
    t.add_argument("--sharpness-every", type=int, help="sharpness interval in steps (default: 10 x record interval; 0: off)")
    t.add_argument("--clip", type=float, help="gradient-norm clipping threshold")
    t.add_argument("--kernel", default="fast", choices=["fast", "dense"])
    t.add_argument("--threads", type=int, help="threads for the dense kernel")
    t.add_argument("--checkpoint", help="checkpoint file, written periodically and at the end")
    t.add_argument("--checkpoint-every", type=int, help="checkpoint interval in steps (default: every 60 s)")
    t.add_argument("--out", default="relu1d-run.npz", help="run file to write (default relu1d-run.npz)")
    t.add_argument("--progress", action=argparse.BooleanOptionalAction, default=None,
                   help="progress bar (default: on a terminal)")

    r = sub.add_parser("resume", help="continue a saved run or checkpoint")
    r.add_argument("path")
    r.add_argument("--steps", type=int, required=True, help="further GD steps")
    r.add_argument("--out", help="run file to write (default: overwrite PATH)")
    r.add_argument("--checkpoint-every", type=int)
    r.add_argument("--progress", action=argparse.BooleanOptionalAction, default=None)

    i = sub.add_parser("info", help="summarise a saved run; without PATH: the SIMD path, build and threads")
    i.add_argument("path", nargs="?")

    from ._cli_analysis import add_subcommands as add_analysis_subcommands
    add_analysis_subcommands(sub)
    from ._cli_sweep import add_sweep_parser
    add_sweep_parser(sub)
    from ._cli_reproduce import add_reproduce_parser
    add_reproduce_parser(sub)
    return p


def _print_summary(run, header: str) -> None:
    print(header)
    print(run.summary())


def main(argv=None) -> int:
    import relu1d

    args = _parser().parse_args(argv)
    from ._cli_analysis import COMMANDS as ANALYSIS_COMMANDS, run_command as run_analysis_command
    if args.command in ANALYSIS_COMMANDS:
        return run_analysis_command(args)
    if args.command == "sweep":
        from ._cli_sweep import run_sweep_command
        return run_sweep_command(args)
    if args.command == "reproduce":
        from ._cli_reproduce import run_reproduce_command
        return run_reproduce_command(args)
    try:
        if args.command == "train":
            if args.data:
                x, y = relu1d.load_data(args.data)
                source = args.data
            else:
                x, y, _ = relu1d.make_regression(args.n, sigma=args.sigma, target=args.target,
                                                 distribution=args.distribution, rng=args.seed)
                source = (f"built-in: n={args.n}, target={args.target}, sigma={args.sigma}, "
                          f"{args.distribution} x in [-1, 1]")
            objective = relu1d.Objective(x, y, kernel=args.kernel, threads=args.threads)
            theta0 = relu1d.init_params(args.width, rng=np.random.default_rng([args.seed, 1]), scheme=args.init)
            print(f"data      {source}")
            print(f"model     width {args.width}, lr {args.lr:g} (2/lr = {2 / args.lr:g}), {args.steps:,} steps")
            run = relu1d.train(objective, theta0, lr=args.lr, steps=args.steps, record_every=args.record_every,
                               sharpness_every=args.sharpness_every, clip=args.clip, progress=args.progress,
                               checkpoint=args.checkpoint, checkpoint_every=args.checkpoint_every)
            path = run.save(args.out)
            _print_summary(run, "result")
            print(f"saved     {path}  (relu1d resume {path} --steps N to continue)")
        elif args.command == "resume":
            before = relu1d.Run.load(args.path)
            out = args.out or args.path
            run = relu1d.resume(args.path, steps=args.steps, progress=args.progress, checkpoint=out,
                                checkpoint_every=args.checkpoint_every)
            _print_summary(run, f"resumed at step {before.steps:,}")
            print(f"saved     {out}")
        elif args.command == "info" and args.path is None:
            from ._info import format_info
            print(format_info())
        elif args.command == "info":
            run = relu1d.Run.load(args.path)
            _print_summary(run, f"{args.path}: n={run.objective.n}, width={run.width}, relu1d {run.version}")
    except (ValueError, TypeError, FileNotFoundError) as exc:
        print(f"relu1d: error: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
