"""The ``relu1d report`` and ``relu1d plot`` subcommands (registered by ``relu1d.__main__``)."""

from __future__ import annotations

import json
import os
import sys

__all__ = ["COMMANDS", "add_subcommands", "run_command"]

COMMANDS = ("report", "plot")

#: Largest --dpi: the 16 x 9 inch figure is then 9600 x 5400 pixels (about 200 MB to render).
MAX_DPI = 600


def add_subcommands(sub) -> None:
    """Register ``report`` and ``plot`` on an argparse subparsers object."""
    from .data import TARGETS

    targets = ", ".join(TARGETS)
    r = sub.add_parser("report", help="stability report of a saved run (sharpness vs 2/lr, weighted TV(1) "
                       "vs its bounds, effective knots, MSE vs f0)")
    r.add_argument("path", help="run file written by relu1d train / resume")
    r.add_argument("--f0", help=f"true function, a built-in target name ({targets}): adds the MSE against it")
    r.add_argument("--json", action="store_true", help="print the report as JSON")

    p = sub.add_parser("plot", help="the paper's pictures of a saved run: fit, neurons, g and knots, loss, "
                       "sharpness, weighted TV(1) with its bound")
    p.add_argument("path", help="run file written by relu1d train / resume")
    p.add_argument("--out", required=True, help="image file to write (png, pdf, svg: by the extension)")
    p.add_argument("--f0", help=f"true function, a built-in target name ({targets})")
    p.add_argument("--dpi", type=int, default=120,
                   help=f"resolution of raster images (default 120, at most {MAX_DPI})")
    p.add_argument("--log-steps", action="store_true", help="logarithmic step axes (linear near step 0)")


def _f0_name(args, run):
    """--f0, else the target recorded with the run's data (if any); checked against the targets."""
    from .data import TARGETS

    name = args.f0
    if name is None:
        name = (run.data or {}).get("target")
    if name is not None and name not in TARGETS:
        raise ValueError(f"--f0: expected one of {sorted(TARGETS)}, got {name!r}")
    return name


def _check_out(out: str) -> None:
    """--out names a file in an existing folder, with an extension matplotlib can write."""
    if os.path.isdir(out):
        raise ValueError(f"--out: {out} is a directory; give an image file name such as fig.png")
    out_dir = os.path.dirname(os.path.abspath(out))
    if not os.path.isdir(out_dir):
        raise ValueError(f"--out: directory {out_dir} does not exist")
    from .plotting import _mpl

    _mpl()
    from matplotlib.backend_bases import FigureCanvasBase

    formats = FigureCanvasBase.get_supported_filetypes()
    ext = os.path.splitext(out)[1].lstrip(".").lower()
    if ext not in formats:
        raise ValueError(f"--out: the extension says the image format; expected one of "
                         f"{', '.join(sorted(formats))}, got {os.path.basename(out)!r}")


def _load(path):
    from .run import Run

    if os.path.isdir(path):
        raise ValueError(f"path: {path} is a directory, not a relu1d run file")
    return Run.load(path)


def run_command(args) -> int:
    """Run ``report`` or ``plot``; errors are printed (no traceback) with exit status 2."""
    try:
        if args.command == "report":
            run = _load(args.path)
            f0 = _f0_name(args, run)
            report = run.report(f0=f0)
            if args.json:
                d = report.to_dict()
                d["path"] = args.path
                d["f0"] = f0
                print(json.dumps(d, indent=2, allow_nan=False))
            else:
                print(f"{args.path}: {run!r}")
                print(repr(report))
        elif args.command == "plot":
            if not 0 < args.dpi <= MAX_DPI:
                raise ValueError(f"--dpi: must lie in 1..{MAX_DPI}, got {args.dpi}")
            _check_out(args.out)
            run = _load(args.path)
            f0 = _f0_name(args, run)
            from .plotting import plot_run

            fig = plot_run(run, f0=f0, log_steps=args.log_steps)
            fig.savefig(args.out, dpi=args.dpi)
            print(f"wrote     {args.out}")
        else:  # pragma: no cover - argparse only dispatches the registered commands here
            raise ValueError(f"unknown command {args.command!r}")
        sys.stdout.flush()
    except BrokenPipeError:
        # The reader went away (``relu1d report RUN | head``): stop quietly, and keep Python's
        # final flush of stdout from failing again at exit.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 1
    except (ValueError, TypeError, OSError, ImportError) as exc:
        print(f"relu1d: error: {exc}", file=sys.stderr)
        return 2
    return 0
