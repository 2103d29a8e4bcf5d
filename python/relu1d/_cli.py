"""The ``train``, ``resume`` and ``info`` subcommands, and the argument types every subcommand
can use (counts that accept ``1e6``, positive reals, step-size schedules).

A subcommand is a function ``add_parser(subparsers)`` that adds its parser and sets ``func``: a
callable taking the parsed arguments and returning the exit status. Arguments are checked when
they are parsed, so a usage error is reported before anything is printed or computed.
"""

from __future__ import annotations

import argparse
import math
import os
import sys

from ._validate import INT64_MAX

EXIT_OK = 0           # the run finished (all steps done, or converged)
EXIT_ERROR = 1        # something failed that is not a usage error (e.g. a file could not be written)
EXIT_USAGE = 2        # bad arguments or input files
EXIT_DIVERGED = 3     # the run diverged (the loss exploded): its last acceptable iterate is saved
EXIT_INTERRUPTED = 130  # Ctrl-C (128 + SIGINT, as shells report it)

EXIT_STATUS_HELP = ("exit status: 0 finished (all steps done or converged), 1 error, 2 usage error, "
                    "3 diverged, 130 interrupted (Ctrl-C; the run so far is saved)")


class UsageError(ValueError):
    """A mistake in the arguments found after parsing (e.g. an output path that is a directory)."""


# -- argument types ----------------------------------------------------------------------------

def count(minimum: int = 0):
    """An integer >= minimum, also written as 1e6, 1_000_000 or 2.5e5 (but not 2.5)."""
    def parse(text: str) -> int:
        try:
            value = int(text.replace("_", ""))
        except ValueError:
            try:
                real = float(text)
            except ValueError:
                raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
            if not math.isfinite(real) or real != int(real):
                raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
            value = int(real)
        if value < minimum:
            raise argparse.ArgumentTypeError(f"must be >= {minimum}, got {text}")
        if value > INT64_MAX:
            raise argparse.ArgumentTypeError(f"must be <= {INT64_MAX}, got {text}")
        return value
    parse.__name__ = "count"
    return parse


def real(*, positive: bool = False, nonnegative: bool = False):
    """A finite real number (optionally > 0 or >= 0)."""
    def parse(text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
        if not math.isfinite(value):
            raise argparse.ArgumentTypeError(f"must be finite, got {text}")
        if positive and value <= 0:
            raise argparse.ArgumentTypeError(f"must be > 0, got {text}")
        if nonnegative and value < 0:
            raise argparse.ArgumentTypeError(f"must be >= 0, got {text}")
        return value
    parse.__name__ = "real"
    return parse


def schedule(text: str):
    """A step size: ``0.05``, or a piecewise-constant schedule ``0:0.1,10000:0.05,1e5:0.01``
    (start step: step size, starting at step 0)."""
    if ":" not in text:
        return real(positive=True)(text)
    pairs = []
    for piece in text.split(","):
        start, sep, value = piece.partition(":")
        if not sep:
            raise argparse.ArgumentTypeError(f"expected START:LR pairs separated by commas, got {piece!r}")
        pairs.append((count(0)(start.strip()), real(positive=True)(value.strip())))
    from .schedule import StepSize

    try:
        StepSize(pairs)
    except (TypeError, ValueError) as exc:
        raise argparse.ArgumentTypeError(str(exc).removeprefix("lr: ")) from None
    return pairs


# -- output ------------------------------------------------------------------------------------

def say(text: str = "") -> None:
    """Print to stdout; if the reader went away (``relu1d train | head``), go on silently: the
    run is still saved and the exit status still tells what happened."""
    try:
        print(text, flush=True)
    except BrokenPipeError:
        silence_stdout()


def silence_stdout() -> None:
    """Point stdout at the null device, so that later writes (and the flush at exit) do not fail."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
    except (OSError, ValueError):
        pass


def default_out(stem: str = "relu1d-run") -> str:
    """``relu1d-run.npz`` in the working directory, or ``relu1d-run-2.npz`` etc. if taken (never
    overwrite an earlier run's file)."""
    name, k = f"{stem}.npz", 1
    while os.path.exists(name):
        k += 1
        name = f"{stem}-{k}.npz"
    return os.path.abspath(name)


def output_path(path, option: str) -> str:
    from ._validate import as_output_path

    try:
        return as_output_path(path, option)
    except (TypeError, ValueError) as exc:
        raise UsageError(str(exc)) from None


def exit_status(run) -> int:
    return {"diverged": EXIT_DIVERGED, "interrupted": EXIT_INTERRUPTED}.get(run.status, EXIT_OK)


def next_step_hint(run, path: str) -> str:
    """What to do next, depending on how the run ended."""
    if run.status == "diverged":
        return ("the run diverged (the loss exploded); its last acceptable iterate is saved. Resuming it "
                "would repeat the same steps: train again with a smaller --lr or with --clip, or "
                f"relu1d resume {path} --steps N --lr SMALLER")
    if run.status == "converged":
        return "converged: the gradient-norm or loss tolerance was met"
    return f"relu1d resume {path} --steps N  to continue"


# -- train -------------------------------------------------------------------------------------

def _add_training_options(p) -> None:
    p.add_argument("--record-every", type=count(1), metavar="STEPS",
                   help="history interval in steps (default steps/10000)")
    p.add_argument("--sharpness-every", type=count(0), metavar="STEPS",
                   help="sharpness interval in steps (default: 10 x record interval; 0: off)")
    p.add_argument("--clip", type=real(positive=True), help="gradient-norm clipping threshold")
    p.add_argument("--grad-tol", type=real(nonnegative=True), default=0.0,
                   help="stop (converged) when ||grad|| <= this (default 0: off)")
    p.add_argument("--loss-tol", type=real(nonnegative=True), default=0.0,
                   help="stop (converged) when the loss <= this (default 0: off)")
    p.add_argument("--max-loss", type=real(positive=True),
                   help="stop (diverged) when the loss exceeds this (default: 1e6 x the initial loss)")
    p.add_argument("--sharpness-tol", type=real(positive=True), default=1e-10,
                   help="Lanczos relative tolerance of each sharpness measurement (default 1e-10)")
    p.add_argument("--sharpness-max-iter", type=count(1), default=300,
                   help="Lanczos steps per sharpness measurement at most (default 300)")


def _add_checkpoint_options(p) -> None:
    p.add_argument("--checkpoint-every", type=count(1), metavar="STEPS",
                   help="checkpoint interval in steps (default: every 60 s)")
    p.add_argument("--checkpoint-seconds", type=real(positive=True), metavar="SECONDS",
                   help="checkpoint interval in seconds (default 60 when no --checkpoint-every)")
    p.add_argument("--progress", action=argparse.BooleanOptionalAction, default=None,
                   help="progress bar on stderr (default: on a terminal)")


def add_train_parser(subparsers) -> None:
    from .datasets import DISTRIBUTIONS, TARGETS
    from .params import INIT_SCHEMES

    t = subparsers.add_parser("train", help="train a network (default data: noisy samples of a BV(1) target "
                              "on [-1, 1])", epilog=EXIT_STATUS_HELP)
    t.add_argument("--data", help="CSV (two columns x,y) or npz (arrays x, y); default: built-in data")
    t.add_argument("--n", type=count(1), default=30, help="points of the built-in data (default 30)")
    t.add_argument("--sigma", type=real(nonnegative=True), default=0.3,
                   help="noise level of the built-in data (default 0.3)")
    # -- built-in data: relu1d.datasets.make_regression --
    t.add_argument("--target", default="hat", choices=sorted(TARGETS), help="target of the built-in data "
                   "(default hat)")
    t.add_argument("--distribution", default="uniform", choices=DISTRIBUTIONS,
                   help="inputs of the built-in data (default uniform)")
    # -- end of built-in data --
    t.add_argument("--width", type=count(1), default=100, help="hidden neurons m (default 100)")
    t.add_argument("--lr", type=schedule, default=0.05, metavar="LR",
                   help="step size (default 0.05; edge of stability 2/lr), or a schedule START:LR,... "
                   "such as 0:0.1,1e5:0.01")
    t.add_argument("--steps", type=count(0), default=1_000_000, help="GD steps (default 1000000; 1e6 works)")
    t.add_argument("--seed", type=count(0), default=0, help="seed of the data and the initialisation (default 0)")
    t.add_argument("--init", default="kaiming_uniform", choices=sorted(INIT_SCHEMES),
                   help="initialisation scheme (default kaiming_uniform)")
    _add_training_options(t)
    t.add_argument("--kernel", default="fast", choices=["fast", "dense"])
    t.add_argument("--threads", type=count(1), help="threads of the kernel (default: the CPUs available; results "
                   "are the same bits for any count)")
    t.add_argument("--checkpoint", metavar="PATH",
                   help="checkpoint file, written periodically and at the end (also the run file "
                   "unless --out names another)")
    _add_checkpoint_options(t)
    t.add_argument("--out", metavar="PATH", help="run file to write (default: the --checkpoint file, else "
                   "relu1d-run.npz in the working directory, numbered if taken)")
    t.set_defaults(func=run_train)


def _describe_lr(lr) -> str:
    if isinstance(lr, list):
        return "lr " + ", ".join(f"{v:g} from step {s:,}" for s, v in lr)
    return f"lr {lr:g} (2/lr = {2 / lr:g})"


def run_train(args) -> int:
    import numpy as np

    import relu1d

    checkpoint = output_path(args.checkpoint, "--checkpoint") if args.checkpoint else None
    if args.out is not None:
        out = output_path(args.out, "--out")
    else:
        out = checkpoint or output_path(default_out(), "--out")
    if args.data:
        for option, path in (("--checkpoint", checkpoint), ("--out", args.out and out)):
            if path and os.path.exists(args.data) and os.path.exists(path) and os.path.samefile(path, args.data):
                raise UsageError(f"{option}: {path} is the --data file; the run file would overwrite the "
                                 f"data: give another name, e.g. {os.path.splitext(path)[0]}-run.npz")
        x, y = relu1d.load_data(args.data)
        source = args.data
        data = {"file": os.path.abspath(args.data)}
    else:
        x, y, _ = relu1d.make_regression(args.n, sigma=args.sigma, target=args.target,
                                         distribution=args.distribution, rng=args.seed)
        source = (f"built-in: n={args.n}, target={args.target}, sigma={args.sigma:g}, "
                  f"{args.distribution} x in [-1, 1]")
        data = {"target": args.target, "n": args.n, "sigma": args.sigma, "distribution": args.distribution,
                "seed": args.seed}
    objective = relu1d.Objective(x, y, kernel=args.kernel, threads=args.threads)
    theta0 = relu1d.init_params(args.width, rng=np.random.default_rng([args.seed, 1]), scheme=args.init)
    say(f"data      {source}")
    say(f"model     width {args.width}, {_describe_lr(args.lr)}, {args.steps:,} steps")
    run = relu1d.train(objective, theta0, lr=args.lr, steps=args.steps, record_every=args.record_every,
                       sharpness_every=args.sharpness_every, clip=args.clip, grad_tol=args.grad_tol,
                       loss_tol=args.loss_tol, max_loss=args.max_loss, sharpness_tol=args.sharpness_tol,
                       sharpness_max_iter=args.sharpness_max_iter, progress=args.progress,
                       checkpoint=checkpoint, checkpoint_every=args.checkpoint_every,
                       checkpoint_seconds=args.checkpoint_seconds, data=data)
    return _report(run, out, already_saved=out == checkpoint, header="result")


def _report(run, out: str, *, already_saved: bool, header: str) -> int:
    if not already_saved:
        try:
            run.save(out)
        except OSError as exc:
            say(header)
            say(run.summary())
            print(f"relu1d: error: could not write {out} ({exc})", file=sys.stderr)
            return EXIT_ERROR
    say(header)
    say(run.summary())
    say(f"saved     {out}")
    say(f"next      {next_step_hint(run, out)}")
    return exit_status(run)


# -- resume ------------------------------------------------------------------------------------

def add_resume_parser(subparsers) -> None:
    r = subparsers.add_parser("resume", help="continue a saved run or checkpoint", epilog=EXIT_STATUS_HELP)
    r.add_argument("path")
    r.add_argument("--steps", type=count(0), required=True, help="further GD steps (1e6 works)")
    r.add_argument("--lr", type=schedule, metavar="LR",
                   help="a new step size or schedule START:LR,... (default: the run's own)")
    r.add_argument("--out", metavar="PATH", help="run file to write (default: overwrite PATH)")
    r.add_argument("--threads", type=count(1), help="threads of the kernel (default: the run's own setting; "
                   "results are the same bits for any count)")
    _add_checkpoint_options(r)
    r.set_defaults(func=run_resume)


def run_resume(args) -> int:
    import relu1d

    before = relu1d.Run.load(args.path)
    out = output_path(args.out or args.path, "--out")
    if before.status == "diverged" and args.lr is None:
        raise UsageError(f"{args.path} diverged at step {before.steps:,}: resuming with the same step size "
                         "would repeat the same steps; pass a smaller --lr")
    run = relu1d.resume(args.path, steps=args.steps, lr=args.lr, progress=args.progress, checkpoint=out,
                        checkpoint_every=args.checkpoint_every, checkpoint_seconds=args.checkpoint_seconds,
                        threads=args.threads)
    return _report(run, out, already_saved=True, header=f"resumed at step {before.steps:,}")


# -- info --------------------------------------------------------------------------------------

def add_info_parser(subparsers) -> None:
    i = subparsers.add_parser("info", help="summarise a saved run; without PATH: the SIMD path, build and threads")
    i.add_argument("path", nargs="?")
    i.set_defaults(func=run_info)


def run_info(args) -> int:
    import relu1d

    if args.path is None:
        from ._info import format_info

        say(format_info())
        return EXIT_OK
    run = relu1d.Run.load(args.path)
    say(f"{args.path}: n={run.objective.n}, width={run.width}, relu1d {run.version}")
    say(run.summary())
    return EXIT_OK
