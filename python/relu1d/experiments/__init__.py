"""The paper's experiments, each one command: ``relu1d reproduce NAME [--quick] [--out DIR]``.

===================  ==========================================================================
``showcase``         lr = 0.4 against lr = 0.01: fits, loss and MSE over steps, every neuron
``edge``             final sharpness against 2/lr over a grid of lr
``sparsity``         effective knots and weighted TV(1) against 1/lr, with the bound per C
``regularizer``      MSE against f0 as a function of lr (the U-shape), mean and spread over seeds
``rate``             interior MSE against n (log-log), fitted slope beside -4/5 and -3/4
``no-interpolation`` long small-lr runs: the loss plateaus above 0 while the sharpness sits at 2/lr
``knot-distance``    distance of the learned knots to the nearest data point, large lr against small
``tempered``         fits at n = 30 trained towards interpolation as the width grows
===================  ==========================================================================

Each experiment trains through :func:`relu1d.sweep` (every core; a killed experiment resumes where
it stopped when run again with the same ``out``) and writes, under ``out/NAME/``, its figures
(PNG), its numbers (CSV) and ``summary.json``: the settings, the seed, the measured numbers, the
checks of the paper's claims and the wall time. ``quick=True`` runs small grids and short runs
through the same code (about a minute each on two cores); ``scale`` multiplies every step count
further (the test suite runs the quick mode at a small scale).

Example
-------
>>> from relu1d import experiments
>>> result = experiments.run("showcase", quick=True, out="reproduce-out")   # doctest: +SKIP
>>> result.checks["sparser_at_large_lr"]["holds"]                         # doctest: +SKIP
True
"""

from __future__ import annotations

import importlib
import os
import platform
import time
from dataclasses import dataclass

from ._common import Context, ExperimentInterrupted, write_json

__all__ = ["EXPERIMENTS", "names", "settings", "run", "run_all", "ExperimentResult", "ExperimentInterrupted"]

#: Experiment name -> module (relative to this package).
EXPERIMENTS = {
    "showcase": "showcase",
    "edge": "edge",
    "sparsity": "sparsity",
    "regularizer": "regularizer",
    "rate": "rate",
    "no-interpolation": "no_interpolation",
    "knot-distance": "knot_distance",
    "tempered": "tempered",
}


def names() -> list:
    """The experiments, in the order of the paper's list."""
    return list(EXPERIMENTS)


def _module(name: str):
    if not isinstance(name, str) or name not in EXPERIMENTS:
        raise ValueError(f"name: expected one of {', '.join(EXPERIMENTS)}, got {name!r}")
    return importlib.import_module(f".{EXPERIMENTS[name]}", __name__)


def settings(name: str, *, quick: bool = False) -> dict:
    """The settings of experiment ``name`` in full or quick mode (before ``scale``)."""
    return _module(name).settings(bool(quick))


@dataclass
class ExperimentResult:
    """What one experiment wrote and found.

    Attributes
    ----------
    name, mode : str
        The experiment and "full" or "quick".
    folder : str
        Where its files are (``out/NAME``).
    files : list of str
        Its figures and tables (names inside ``folder``), ``summary.json`` last.
    settings : dict
        The settings it ran with (step counts before ``scale``), ``scale`` and the sweep seed.
    results : dict
        The measured numbers.
    checks : dict
        Claim name -> ``{"holds": bool, "detail": str, "quick": bool}``; ``quick`` marks the
        claims that must hold even in quick mode.
    wall_time : float
        Seconds of this call, sweeps included (runs already on disk cost nothing).
    runs, train_seconds : int, float
        Runs the experiment uses and the seconds their training took (each on one core, whenever
        and by whichever experiment they were trained).
    """

    name: str
    mode: str
    folder: str
    files: list
    settings: dict
    results: dict
    checks: dict
    wall_time: float
    runs: int = 0
    train_seconds: float = 0.0

    def __repr__(self) -> str:
        held = sum(bool(c["holds"]) for c in self.checks.values())
        return (f"ExperimentResult({self.name!r}, {self.mode}, {held}/{len(self.checks)} checks hold, "
                f"{self.wall_time:.1f} s ({self.runs} runs, {self.train_seconds:.1f} s of training), "
                f"files in {self.folder})")


def run(name: str, *, quick: bool = False, out="reproduce-out", scale: float = 1.0, workers=None,
        progress=None, seed: int = 0) -> ExperimentResult:
    """Run experiment ``name`` and write its figures, tables and ``summary.json`` to ``out/name``.

    Parameters
    ----------
    name : str
        One of :func:`names`.
    quick : bool
        Small grids and short runs (about a minute on two cores), same code path.
    out : str or path
        Output folder; runs live in ``out/_sweeps`` and are reused when the command runs again
        (a killed experiment resumes there).
    scale : float in (0, 1]
        Multiplies every step count of the settings (the test suite uses it to make quick mode
        faster still; the documented results use 1).
    workers : int, optional
        Threads of the sweeps (default: the CPUs available).
    progress : bool, optional
        Progress bars (default: on a terminal).
    seed : int
        Sweep seed (every run's data and initialisation derive from it and the run's own
        configuration).

    Raises
    ------
    ExperimentInterrupted
        When Ctrl-C stopped a sweep; the runs are saved, and the same call resumes them.
    """
    import numpy as np

    from .._validate import as_float, as_int
    from ..sweep import make_folder

    module = _module(name)
    if not isinstance(quick, (bool, np.bool_)):
        raise TypeError(f"quick: expected True or False, got {type(quick).__name__}")
    quick = bool(quick)
    scale = as_float(scale, "scale", positive=True)
    if scale > 1:
        raise ValueError(f"scale: must lie in (0, 1], got {scale}")
    seed = as_int(seed, "seed", minimum=0)
    if workers is not None:
        workers = as_int(workers, "workers", minimum=1)
    if progress is not None and not isinstance(progress, (bool, np.bool_)):
        raise TypeError(f"progress: expected True, False or None, got {type(progress).__name__}")
    root = make_folder(out, "out")
    ctx = Context(name=name, root=root, quick=bool(quick), scale=scale, workers=workers, progress=progress,
                  seed=seed)
    s = module.settings(bool(quick))
    t0 = time.perf_counter()
    results = module.run(ctx, s)
    wall = time.perf_counter() - t0
    checks = results.pop("checks", {})
    from .._version import __version__

    summary = {
        "experiment": name, "title": module.TITLE, "mode": "quick" if quick else "full",
        "command": _command(name, quick=quick, out=root, scale=scale, seed=seed),
        "settings": {**s, "scale": scale, "sweep_seed": seed}, "results": results, "checks": checks,
        "wall_time": wall, "runs": ctx.runs, "train_seconds": ctx.train_seconds, "relu1d": __version__,
        "python": platform.python_version(),
        "machine": platform.machine(), "cpus": os.cpu_count(), "workers": workers,
        "finished_at": time.strftime("%Y-%m-%dT%H:%M:%S%z"), "files": list(ctx.files),
    }
    write_json(ctx.path("summary.json"), summary)
    return ExperimentResult(name=name, mode=summary["mode"], folder=ctx.folder, files=list(ctx.files),
                            settings=summary["settings"], results=results, checks=checks, wall_time=wall,
                            runs=ctx.runs, train_seconds=ctx.train_seconds)


def _command(name, *, quick, out, scale, seed) -> str:
    """The command line that regenerates an experiment's numbers (the worker count does not change them)."""
    import shlex

    options = [" --quick" if quick else "", f" --scale {scale!r}" if scale != 1 else "",
               f" --seed {seed}" if seed else ""]
    return f"relu1d reproduce {name}{''.join(options)} --out {shlex.quote(out)}"


def run_all(*, quick: bool = False, out="reproduce-out", scale: float = 1.0, workers=None, progress=None,
            seed: int = 0) -> dict:
    """Every experiment in turn; name -> :class:`ExperimentResult`."""
    return {name: run(name, quick=quick, out=out, scale=scale, workers=workers, progress=progress, seed=seed)
            for name in EXPERIMENTS}
