"""Command line: ``relu1d train``, ``relu1d resume PATH``, ``relu1d info [PATH]``, ``relu1d report PATH``,
``relu1d plot PATH --out FILE``, ``relu1d sweep GRID.json --out DIR``, ``relu1d reproduce NAME``,
``relu1d --version``.

Each subcommand is registered by a function ``add_parser(subparsers)`` listed in ``SUBCOMMANDS``:
it adds its parser and sets ``func`` (parsed arguments -> exit status). Errors are handled here,
the same way for every subcommand: a usage error or a bad input file is one line on stderr and
exit status 2, never a traceback; Ctrl-C is status 130; a closed stdout (``relu1d train | head``)
does not stop the run.
"""

from __future__ import annotations

import argparse
import sys
import warnings

from . import _cli
from ._version import __version__

__all__ = ["main", "build_parser", "SUBCOMMANDS"]


def _add_analysis_parsers(subparsers) -> None:
    from ._cli_analysis import COMMANDS, add_subcommands, run_command

    add_subcommands(subparsers)
    for name in COMMANDS:
        subparsers.choices[name].set_defaults(func=run_command)


def _add_sweep_parser(subparsers) -> None:
    from ._cli_sweep import add_sweep_parser, run_sweep_command

    add_sweep_parser(subparsers).set_defaults(func=run_sweep_command)


def _add_reproduce_parser(subparsers) -> None:
    from ._cli_reproduce import add_reproduce_parser, run_reproduce_command

    add_reproduce_parser(subparsers).set_defaults(func=run_reproduce_command)


SUBCOMMANDS = (
    _cli.add_train_parser,
    _cli.add_resume_parser,
    _cli.add_info_parser,
    _add_analysis_parsers,
    _add_sweep_parser,
    _add_reproduce_parser,
)


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="relu1d", description="Gradient descent on two-layer univariate ReLU "
                                "networks, with sharpness tracking (loss L = 1/(2n) sum r^2).",
                                epilog=_cli.EXIT_STATUS_HELP)
    p.add_argument("--version", action="version", version=f"relu1d {__version__}")
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for add_parser in SUBCOMMANDS:
        add_parser(sub)
    return p


def _show_warning(message, category, filename, lineno, file=None, line=None):
    print(f"relu1d: warning: {message}", file=sys.stderr if file is None else file)


def main(argv=None) -> int:
    """Run the command line with ``argv`` (default: ``sys.argv[1:]``); returns the exit status."""
    from .checkpoint import CheckpointError

    try:
        args = build_parser().parse_args(argv)
    except SystemExit as exc:  # --help, --version, or a usage error argparse has already reported
        return exc.code if isinstance(exc.code, int) else _cli.EXIT_USAGE
    previous = warnings.showwarning
    warnings.showwarning = _show_warning
    try:
        return args.func(args)
    except KeyboardInterrupt:
        print("relu1d: interrupted", file=sys.stderr)
        return _cli.EXIT_INTERRUPTED
    except BrokenPipeError:
        _cli.silence_stdout()
        return _cli.EXIT_ERROR
    except (_cli.UsageError, CheckpointError, ValueError, TypeError, FileNotFoundError, IsADirectoryError,
            NotADirectoryError, PermissionError) as exc:
        print(f"relu1d: error: {exc}", file=sys.stderr)
        return _cli.EXIT_USAGE
    except OSError as exc:
        print(f"relu1d: error: {exc}", file=sys.stderr)
        return _cli.EXIT_ERROR
    finally:
        warnings.showwarning = previous


if __name__ == "__main__":
    sys.exit(main())
