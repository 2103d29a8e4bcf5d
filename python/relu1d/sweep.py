"""Sweeps: many GD runs over a grid of configurations, on every core or on any executor (a process
pool, a Dask cluster), with one results table and a file per run.

Each run's data and initial parameters come from ``numpy.random.SeedSequence`` keyed by the run's
own configuration, never by its position in the grid or the order in which runs finish, so a run
gives the same bits on any worker, in any order, in any sweep that contains it:

- the data ``(x, y)`` from the key ``(n, distribution, x_max, seed)``: runs that differ only in
  ``target``, ``sigma``, ``width``, ``lr``, ... see the same inputs and the same noise draws;
- the initial parameters from the key ``(width, init, seed)``: runs that differ only in ``lr``,
  ``steps``, ``clip``, ... start from the same theta0 (common random numbers, so differences between
  runs are the effect of the changed setting, not of the draw).

With ``out=DIR`` every run writes ``DIR/runs/<run_id>.npz`` (the :class:`relu1d.Run`, also its
checkpoint while it trains) and, once finished, ``DIR/runs/<run_id>.json`` (its row); the table goes
to ``DIR/results.csv``. Calling :func:`sweep` again with the same ``out`` skips the finished runs and
resumes the unfinished ones from their checkpoints, bit for bit.
"""

from __future__ import annotations

import concurrent.futures as cf
import csv
import hashlib
import io
import itertools
import json
import math
import numbers
import os
import socket
import sys
import tempfile
import threading
import time
from collections.abc import Mapping, Sequence

import numpy as np

from ._validate import as_float, as_int
from ._version import __version__

__all__ = ["sweep", "load_sweep", "read_spec", "expand_grid", "canonical_config", "run_id", "run_inputs",
           "run_config", "summarize", "RUN_DEFAULTS", "CONFIG_KEYS"]

# Every configuration key a grid may vary, with its default. The first group defines the data,
# the second the network and its initialisation, the rest are the keywords of relu1d.train.
RUN_DEFAULTS = {
    "n": 30, "target": "hat", "sigma": 0.3, "distribution": "uniform", "x_max": 1.0,
    "width": 100, "init": "kaiming_uniform", "init_scale": 1.0,
    "lr": 0.05, "steps": 100_000, "seed": 0, "clip": None,
    "record_every": None, "sharpness_every": None, "grad_tol": 0.0, "loss_tol": 0.0, "max_loss": None,
    "sharpness_tol": 1e-10, "sharpness_max_iter": 300, "kernel": "fast",
}
CONFIG_KEYS = tuple(RUN_DEFAULTS)
_DATA_KEYS = ("n", "distribution", "x_max", "seed")    # what the data draws depend on
_INIT_KEYS = ("width", "init", "seed")                 # what the initial-parameter draws depend on
_TRAIN_KEYS = ("lr", "steps", "clip", "record_every", "sharpness_every", "grad_tol", "loss_tol", "max_loss",
               "sharpness_tol", "sharpness_max_iter")
_FLOAT_KEYS = {"sigma", "x_max", "init_scale", "lr", "clip", "grad_tol", "loss_tol", "max_loss", "sharpness_tol"}
_INT_KEYS = {"n", "width", "steps", "seed", "record_every", "sharpness_every", "sharpness_max_iter"}

# columns a sweep adds around summarize()'s: a report field of the same name gets the prefix report_
_SWEEP_COLUMNS = frozenset(CONFIG_KEYS) | {"run_id", "attempts", "resumed_from", "worker", "run_file"}

RESULTS_FILE = "results.csv"
SWEEP_FILE = "sweep.json"
RUNS_DIR = "runs"
# statuses of a row besides the Run statuses (max_steps, converged, diverged): "failed" (an
# exception: bad configuration, an error in a worker, a worker lost more often than `retries`),
# "interrupted" (stopped by Ctrl-C; resumes from its checkpoint) and "pending" (never started).
FAILED, INTERRUPTED, PENDING = "failed", "interrupted", "pending"


# ---------------------------------------------------------------------------------------------
# Configurations

def _plain(value, key):
    """A JSON scalar for a configuration value (numpy scalars become Python numbers)."""
    if isinstance(value, np.generic):
        value = value.item()
    if value is None or isinstance(value, (str, bool)):
        return value
    if isinstance(value, numbers.Integral):
        return int(value)
    if isinstance(value, numbers.Real):
        value = float(value)
        if not math.isfinite(value):
            raise ValueError(f"grid: {key} = {value} is not finite")
        return value
    raise TypeError(f"grid: {key} must be a number, a string or None, got {type(value).__name__}")


def canonical_config(config: Mapping) -> dict:
    """The full configuration of one run: defaults filled in, numbers in one canonical type.

    Integer-valued floats become ints for integer keys (``"steps": 1e5``) and ints become floats
    for real keys (``"lr": 1``), so equal settings always give the same run id. Values are
    checked by the run itself (a bad value makes a failed row, not an exception here); unknown
    keys raise ValueError.
    """
    if not isinstance(config, Mapping):
        raise TypeError(f"grid: a configuration must be a mapping, got {type(config).__name__}")
    unknown = sorted(set(config) - set(RUN_DEFAULTS))
    if unknown:
        raise ValueError(f"grid: unknown key(s) {unknown}; known keys: {', '.join(CONFIG_KEYS)}")
    out = {}
    for key, default in RUN_DEFAULTS.items():
        value = _plain(config.get(key, default), key)
        if key in _FLOAT_KEYS and isinstance(value, int) and not isinstance(value, bool):
            value = float(value)
        elif key in _INT_KEYS and isinstance(value, float) and value.is_integer():
            value = int(value)
        out[key] = value
    return out


def _canonical_json(obj) -> str:
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), allow_nan=False)


def _digest_words(obj) -> list:
    digest = hashlib.sha256(_canonical_json(obj).encode()).digest()
    return [int.from_bytes(digest[i:i + 4], "little") for i in range(0, 32, 4)]


def run_id(config: Mapping, seed: int = 0) -> str:
    """A run's name: 16 hex digits of the SHA-256 of its canonical configuration and the sweep seed."""
    canon = canonical_config(config)
    seed = as_int(seed, "seed", minimum=0)
    return hashlib.sha256(_canonical_json({"config": canon, "sweep_seed": int(seed)}).encode()).hexdigest()[:16]


def run_inputs(config: Mapping, *, seed: int = 0):
    """The data and initial parameters of one run, exactly as a sweep with this ``seed`` makes them.

    ``config`` is a configuration or a row of a sweep's table (its other columns are ignored).

    Returns
    -------
    x, y : ndarray
        The data, from ``make_regression`` with a ``SeedSequence`` keyed by (n, distribution,
        x_max, seed) and the sweep seed.
    f0 : relu1d.datasets.Target
        The noiseless target.
    theta0 : ndarray
        Initial parameters, from ``init_params`` with a ``SeedSequence`` keyed by (width, init,
        seed) and the sweep seed.
    """
    from .datasets import make_regression
    from .params import INIT_SCHEMES, init_params

    cfg = canonical_config(_config_of_row(config))
    seed = as_int(seed, "seed", minimum=0)
    data_key = {"data": {k: cfg[k] for k in _DATA_KEYS}}
    init_key = {"init": {k: cfg[k] for k in _INIT_KEYS}}
    as_int(cfg["seed"], "seed", minimum=0)  # n, width and the rest are checked where they are used
    if not isinstance(cfg["init"], str) or cfg["init"] not in INIT_SCHEMES:
        raise ValueError(f"init: expected one of {list(INIT_SCHEMES)}, got {cfg['init']!r}")
    data_ss = np.random.SeedSequence([seed, *_digest_words(data_key)])
    init_ss = np.random.SeedSequence([seed, *_digest_words(init_key)])
    x, y, f0 = make_regression(cfg["n"], target=cfg["target"], sigma=cfg["sigma"],
                               distribution=cfg["distribution"], rng=data_ss, x_max=cfg["x_max"])
    theta0 = init_params(cfg["width"], rng=init_ss, scheme=cfg["init"], scale=cfg["init_scale"])
    return x, y, f0, theta0


def _config_of_row(row: Mapping) -> dict:
    """The configuration keys of a table row (a table's NaN stands for None)."""
    if not isinstance(row, Mapping):
        raise TypeError(f"config: expected a mapping, got {type(row).__name__}")
    return {k: (None if isinstance(v, float) and math.isnan(v) else v) for k, v in row.items() if k in RUN_DEFAULTS}


class _Grid:
    """The configurations of a grid, generated lazily (a dict of lists is never expanded in memory)."""

    def __init__(self, grid):
        if isinstance(grid, Mapping):
            axes = {}
            for key, values in grid.items():
                if isinstance(values, (list, tuple, np.ndarray)):
                    values = list(values)
                    if not values:
                        raise ValueError(f"grid: {key} has no values")
                else:
                    values = [values]  # a scalar is one value
                axes[key] = values
            canonical_config({k: v[0] for k, v in axes.items()})  # unknown keys fail now
            self._axes = axes
            self._list = None
            self.size = math.prod(len(v) for v in axes.values())
        elif isinstance(grid, Sequence) and not isinstance(grid, (str, bytes)):
            self._list = list(grid)
            if not self._list:
                raise ValueError("grid: the list of configurations is empty")
            for i, item in enumerate(self._list):
                if not isinstance(item, Mapping):
                    raise TypeError(f"grid: item {i} is {type(item).__name__}, expected a mapping")
                canonical_config(item)
            self.size = len(self._list)
        else:
            raise TypeError(f"grid: expected a dict of lists or a list of dicts, got {type(grid).__name__}")

    def __len__(self):
        return self.size

    def __iter__(self):
        if self._list is not None:
            for item in self._list:
                yield canonical_config(item)
            return
        keys = list(self._axes)
        for values in itertools.product(*self._axes.values()):
            yield canonical_config(dict(zip(keys, values)))


def expand_grid(grid) -> list:
    """All configurations of ``grid`` (dict of lists: their product; or a list of dicts), canonical."""
    return list(_Grid(grid))


# ---------------------------------------------------------------------------------------------
# One run

def _mse_against(theta, f0, lo, hi, points=4001):
    """Mean of (f - f0)^2 over ``points`` evenly spaced points of [lo, hi] (~ the L2 mean on the interval)."""
    from .params import predict

    t = np.linspace(lo, hi, points)
    return float(np.mean((predict(theta, t) - f0(t)) ** 2))


def summarize(run, *, f0=None, interior: float = 0.9) -> dict:
    """The row of a finished run: status, steps, final loss, sharpness against 2/lr, distance to f0.

    Columns
    -------
    status, message
        The run's status and, for a diverged run, the loss that stopped it.
    steps_done, final_loss, grad_norm
        GD steps done (fewer than ``steps`` when the run converged or diverged); the loss
        L = 1/(2n) sum (f(x_i) - y_i)^2 and ||grad L|| at the final theta.
    edge_of_stability, sharpness, sharpness_ratio
        2/lr at the final step, the top Hessian eigenvalue at the final theta (Lanczos, to 1e-10),
        and sharpness / (2/lr) (above 1: linearly unstable for GD at this lr).
    knots
        Neurons whose knot lies strictly inside the data (last recorded value).
    mse_f0, mse_f0_interior
        With f0: mean of (f - f0)^2 over 4001 evenly spaced points of the data range [x_1, x_n]
        and of its central ``interior`` fraction.
    wall_time
        Training seconds (resumes included).

    When :mod:`relu1d.analysis` is importable, the fields of its ``stability_report(objective, theta,
    lr, f0=f0, interior=interior).to_dict()`` follow: ``wtv1`` (weighted TV(1)), ``tv1``,
    ``bounds_<i>_{name,C,sharpness_bound,sharpness_slack,lr_bound,lr_slack}``, ``c_needed``,
    ``interpolation_bound``, ``effective_knots_count``, ``stable``, ... Nested dicts and lists of
    dicts are flattened with "_" (``bounds_0_C``), lists of numbers left out; fields the row already
    holds under its own name (the sharpness, the MSE against f0, ...) are left out, and another name
    already taken gets the prefix ``report_`` (``report_x_max``: the largest |x| of the data). An
    error in the report fills ``report_error`` instead of failing the row.
    """
    from .run import Run
    from .spectrum import sharpness

    if not isinstance(run, Run):
        raise TypeError(f"run: expected a relu1d.Run, got {type(run).__name__}")
    row = {
        "status": run.status,
        "message": "" if run.diverged_loss is None else f"diverged: loss reached {run.diverged_loss:.6g}",
        "steps_done": run.steps,
        "final_loss": run.final_loss,
        "grad_norm": run.final_grad_norm,
        "edge_of_stability": run.edge_of_stability,
    }
    try:
        v0 = run.eigvec if run.eigvec is not None and run.eigvec.size == run.theta.size else None
        row["sharpness"] = sharpness(run.objective, run.theta, v0=v0).value
    except (ValueError, FloatingPointError, ArithmeticError):
        row["sharpness"] = float("nan")
    row["sharpness_ratio"] = row["sharpness"] / row["edge_of_stability"]
    row["knots"] = int(run.history["knots"][-1]) if run.history.rows else -1
    if f0 is not None:
        x = run.objective.x_sorted
        lo, hi = float(x[0]), float(x[-1])
        mid, half = 0.5 * (lo + hi), 0.5 * interior * (hi - lo)
        row["mse_f0"] = _mse_against(run.theta, f0, lo, hi)
        row["mse_f0_interior"] = _mse_against(run.theta, f0, mid - half, mid + half)
    row["wall_time"] = run.wall_time
    for key, value in _report_columns(run, f0, interior).items():
        row[key if key not in row and key not in _SWEEP_COLUMNS else "report_" + key] = value
    return row


# fields of the stability report a row already holds under its own name (the configuration, final_loss,
# sharpness, edge_of_stability, sharpness_ratio, mse_f0, mse_f0_interior) or that a sweep never sets
_REPORT_DUPLICATES = frozenset({"n", "width", "lr", "steps", "loss", "sharpness", "edge", "ratio", "mse_f0",
                                "mse_f0_interior", "interior", "test_mse", "gap"})


def _report_columns(run, f0, interior) -> dict:
    """The stability report's scalar fields (empty when relu1d.analysis is not available)."""
    try:
        from . import analysis
    except ImportError:
        return {}
    try:
        v0 = run.eigvec if run.eigvec is not None and run.eigvec.size == run.theta.size else None
        report = analysis.stability_report(run.objective, run.theta, run.lr, f0=f0, interior=interior, v0=v0)
        fields = _flatten(report.to_dict())
    except Exception as exc:  # a report that fails must not lose a finished run
        return {"report_error": f"{type(exc).__name__}: {exc}"}
    return {k: v for k, v in fields.items() if k not in _REPORT_DUPLICATES}


def _flatten(d: Mapping, prefix: str = "") -> dict:
    """Scalar fields of a nested dict: ``{"a": {"b": 1}, "c": [{"x": 2}]}`` -> ``a_b``, ``c_0_x``.
    Lists of numbers (knot positions, ...) are left out: a row holds one value per column."""
    out = {}
    for key, value in d.items():
        name = f"{prefix}{key}"
        if isinstance(value, Mapping):
            out.update(_flatten(value, name + "_"))
        elif isinstance(value, (list, tuple)) and value and all(isinstance(v, Mapping) for v in value):
            for i, item in enumerate(value):
                out.update(_flatten(item, f"{name}_{i}_"))
        elif isinstance(value, np.generic):
            out[name] = value.item()
        elif value is None or isinstance(value, (str, bool, numbers.Number)):
            out[name] = value
    return out


def run_config(config: Mapping, *, seed: int = 0, path=None, checkpoint_every=None, checkpoint_seconds=None,
               callback=None):
    """Train one run of a sweep (resuming it from ``path`` when a checkpoint is there).

    Returns ``(run, f0, resumed_from)``: the :class:`relu1d.Run`, the target, and the step the
    checkpoint it resumed from had reached (0 for a fresh run).
    """
    from .checkpoint import CheckpointError
    from .objective import Objective
    from .run import Run
    from .train import resume, train

    cfg = canonical_config(config)
    x, y, f0, theta0 = run_inputs(cfg, seed=seed)
    train_kw = {k: cfg[k] for k in _TRAIN_KEYS}
    steps = as_int(train_kw.pop("steps"), "steps", minimum=0)
    ckpt = dict(progress=False, checkpoint=path, checkpoint_every=checkpoint_every,
                checkpoint_seconds=checkpoint_seconds, callback=callback)
    previous = None
    if path is not None and os.path.exists(path):
        try:
            previous = Run.load(path)
        except CheckpointError:
            previous = None  # a torn file from a kill before the first complete save: start again
        if previous is not None and not (np.array_equal(previous.theta0, theta0)
                                         and np.array_equal(previous.objective.x, x)
                                         and np.array_equal(previous.objective.y, y)):
            previous = None  # a file of another run: start again
    if previous is None:
        # one thread per run: a sweep's parallelism is its runs (threads inside each would oversubscribe)
        objective = Objective(x, y, kernel=cfg["kernel"], threads=1)
        data = {k: cfg[k] for k in ("n", "target", "sigma", "distribution", "x_max", "seed")}  # Run.data
        return train(objective, theta0, steps=steps, data=data, **train_kw, **ckpt), f0, 0
    if previous.status in ("converged", "diverged") or previous.steps >= steps:
        return previous, f0, previous.steps
    return resume(path, steps=steps - previous.steps, **ckpt), f0, previous.steps


def _count_attempt(path) -> int:
    """Append this process to the run's attempt log; the number of attempts so far."""
    if path is None:
        return 1
    log = path[:-len(".npz")] + ".attempts"
    with open(log, "a") as f:
        f.write(f"{socket.gethostname()}:{os.getpid()}\n")
    with open(log) as f:
        return sum(1 for _ in f)


def _atomic_write_text(path, text: str) -> None:
    """Write by renaming a complete temporary file over ``path``: a reader sees the old or the new
    text, never a part. Not fsynced: a row lost in a crash is made again from the run's own file
    (a finished checkpoint is summarised without training)."""
    folder = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(prefix=os.path.basename(path) + ".", suffix=".tmp", dir=folder)
    try:
        with os.fdopen(fd, "w", newline="") as f:
            f.write(text)
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise


def _execute(task: dict) -> dict:
    """Run one task of a sweep (a top-level, picklable function: any executor can call it).

    Never raises for a problem of the run itself: an exception becomes a row with status "failed".
    """
    cfg, rid, folder = task["config"], task["run_id"], task["folder"]
    path = None if folder is None else os.path.join(folder, rid + ".npz")
    stop = task.get("stop")
    row = {"run_id": rid, **cfg}
    attempts, resumed_from = 1, 0
    try:
        attempts = _count_attempt(path)
        run, f0, resumed_from = run_config(
            cfg, seed=task["seed"], path=path, checkpoint_every=task["checkpoint_every"],
            checkpoint_seconds=task["checkpoint_seconds"],
            callback=None if stop is None else (lambda _run: stop.is_set()))
        if run.status in ("stopped", "interrupted"):
            row.update(status=INTERRUPTED, message=f"stopped at step {run.steps:,}; run the sweep again to resume",
                       steps_done=run.steps)
            return row
        row.update(summarize(run, f0=f0))
    except Exception as exc:
        row.update(status=FAILED, message=f"{type(exc).__name__}: {exc}")
    row["attempts"] = attempts
    row["resumed_from"] = resumed_from
    row["worker"] = f"{socket.gethostname()}:{os.getpid()}"
    row["run_file"] = os.path.join(RUNS_DIR, rid + ".npz") if path is not None and os.path.exists(path) else ""
    if folder is not None:
        _atomic_write_text(os.path.join(folder, rid + ".json"), json.dumps(_json_row(row), indent=1))
    return row


def _json_row(row: dict) -> dict:
    """Non-finite floats as strings: JSON has no NaN or inf."""
    return {k: (repr(v) if isinstance(v, float) and not math.isfinite(v) else v) for k, v in row.items()}


def _from_json_row(row: dict) -> dict:
    return {k: (float(v) if v in ("nan", "inf", "-inf") else v) for k, v in row.items()}


# ---------------------------------------------------------------------------------------------
# The sweep

class _Progress:
    """One bar for the whole sweep: runs done (of which failed), in flight, time left."""

    def __init__(self, total: int, enabled):
        if enabled is None:
            enabled = sys.stderr.isatty()
        self.enabled = bool(enabled)
        self.total, self.done, self.failed, self.running = total, 0, 0, 0
        self.bar, self.t0, self.last = None, time.perf_counter(), 0.0
        self.first_done = None
        if self.enabled:
            try:
                from tqdm.auto import tqdm
            except ImportError:
                pass
            else:
                self.bar = tqdm(total=total, unit="run", dynamic_ncols=True)

    def update(self, *, done=0, failed=0, running=None, force=False):
        if running is not None:
            self.running = running
        self.done += done
        self.failed += failed
        if not self.enabled:
            return
        post = {"failed": self.failed, "running": self.running}
        if self.bar is not None:
            self.bar.update(done)
            self.bar.set_postfix(post, refresh=force)
            return
        now = time.perf_counter()
        if force or now - self.last >= 1.0 or self.done >= self.total:
            self.last = now
            rate = self.done / (now - self.t0) if now > self.t0 and self.done else 0.0
            left = f", about {(self.total - self.done) / rate:.0f} s left" if rate > 0 else ""
            print(f"\r{self.done}/{self.total} runs done ({self.failed} failed, {self.running} running{left})",
                  end="", file=sys.stderr, flush=True)

    def close(self):
        if self.bar is not None:
            self.bar.close()
        elif self.enabled:
            print(file=sys.stderr)


def _workers_of(executor, workers):
    if workers is not None:
        return as_int(workers, "workers", minimum=1)
    client = getattr(executor, "_client", None)  # dask.distributed's ClientExecutor
    if client is not None:
        try:
            return max(1, sum(client.nthreads().values()))
        except Exception:
            pass
    for attr in ("_max_workers",):  # concurrent.futures pools
        if isinstance(getattr(executor, attr, None), int):
            return getattr(executor, attr)
    return _cpu_count()


def _cpu_count() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def sweep(grid, *, executor=None, workers=None, out=None, seed=0, progress=None, retries: int = 2,
          checkpoint_every=None, checkpoint_seconds=60.0, max_in_flight=None):
    """Train a network for every configuration of ``grid`` and tabulate the results.

    Parameters
    ----------
    grid : dict of lists, or list of dicts
        A dict's lists are crossed (a scalar counts as a one-value list); a list of dicts is taken
        as is. Keys: ``n``, ``target``, ``sigma``, ``distribution``, ``x_max`` (the data, see
        :func:`relu1d.datasets.make_regression`), ``width``, ``init``, ``init_scale`` (the network),
        ``lr``, ``steps``, ``seed``, ``clip`` and the other keywords of :func:`relu1d.train`
        (``record_every``, ``sharpness_every``, ``grad_tol``, ``loss_tol``, ``max_loss``,
        ``sharpness_tol``, ``sharpness_max_iter``), and ``kernel``. Missing keys take
        ``RUN_DEFAULTS``. Repeated configurations run once.
    executor : concurrent.futures.Executor, optional
        Where runs execute: a ``ProcessPoolExecutor``, Dask's ``Client(address).get_executor()``,
        ... Default: a thread pool of ``workers`` threads (the compiled GD loop releases the GIL;
        each run stays single-threaded). The executor is not shut down.
    workers : int, optional
        Threads of the default pool (default: the CPUs available); with ``executor``, how many
        runs it executes at once (default: from the executor).
    out : str or path, optional
        Folder for ``results.csv``, ``sweep.json`` and ``runs/<run_id>.{npz,json}``. With it, an
        interrupted or killed sweep started again with the same ``out`` skips finished runs and
        resumes unfinished ones from their checkpoints. Remote workers must see this folder.
    seed : int
        Sweep seed, mixed into every run's ``SeedSequence`` (a run's ``seed`` key picks replicates).
    progress : bool, optional
        One progress bar (tqdm if installed); default: when stderr is a terminal.
    retries : int
        Resubmissions of a run whose future raised (a lost worker, a broken pool): the run
        itself never raises, its errors are rows. Dask also reschedules work of a dead worker.
    checkpoint_every, checkpoint_seconds : int, float
        Checkpoint interval of each run in steps and/or seconds (default every 60 s); with ``out``.
    max_in_flight : int, optional
        Runs submitted and not yet collected (default ``2 * workers``): memory is bounded by it,
        not by the size of the grid.

    Returns
    -------
    pandas.DataFrame, or a list of dicts without pandas
        One row per run in grid order: ``run_id``, every configuration key, then the columns of
        :func:`summarize` and ``attempts``, ``resumed_from``, ``worker``, ``run_file``. A run that
        raised has status "failed" and the exception in ``message``. After Ctrl-C the sweep stops
        its runs at their next chunk, saves them, and returns: unfinished runs have status
        "interrupted" or "pending".
    """
    configs = _Grid(grid)
    seed = as_int(seed, "seed", minimum=0)
    retries = as_int(retries, "retries", minimum=0)
    if checkpoint_every is not None:
        checkpoint_every = as_int(checkpoint_every, "checkpoint_every", minimum=1)
    if checkpoint_seconds is not None:
        checkpoint_seconds = as_float(checkpoint_seconds, "checkpoint_seconds", positive=True)
    if executor is not None and not isinstance(executor, cf.Executor):
        raise TypeError(f"executor: expected a concurrent.futures.Executor, got {type(executor).__name__}")
    n_workers = _workers_of(executor, workers) if executor is not None else (
        as_int(workers, "workers", minimum=1) if workers is not None else _cpu_count())
    in_flight = 2 * n_workers if max_in_flight is None else as_int(max_in_flight, "max_in_flight", minimum=1)

    if progress is not None and not isinstance(progress, (bool, np.bool_)):
        raise TypeError(f"progress: expected True, False or None, got {type(progress).__name__}")

    folder = None
    if out is not None:
        out = make_folder(out, "out")
        folder = make_folder(os.path.join(out, RUNS_DIR), "out")
        _atomic_write_text(os.path.join(out, SWEEP_FILE), json.dumps(
            {"grid": grid if isinstance(grid, Mapping) else list(grid), "seed": seed, "relu1d": __version__},
            indent=1, default=_plain_default))

    own = executor is None
    if own:
        executor = cf.ThreadPoolExecutor(max_workers=n_workers, thread_name_prefix="relu1d-sweep")
    stop = threading.Event() if isinstance(executor, cf.ThreadPoolExecutor) else None

    rows = {}        # grid index -> row (summaries only: the runs themselves are on disk)
    pending = {}     # future -> (index, task, tries)
    seen = set()
    bar = _Progress(len(configs), progress)
    interrupted = False

    def submit(index, task, tries):
        try:
            fut = executor.submit(_execute, dict(task, attempt=tries))  # distinct args: Dask won't reuse a result
        except Exception as exc:
            rows[index] = _lost_row(task, exc)
            bar.update(done=1, failed=1)
            return
        pending[fut] = (index, task, tries)

    def collect(block: bool):
        done, _ = cf.wait(list(pending), timeout=None if block else 0, return_when=cf.FIRST_COMPLETED)
        for fut in done:
            index, task, tries = pending.pop(fut)
            try:
                row = fut.result()
            except Exception as exc:  # the run itself never raises: a worker or the pool failed
                if tries < retries:
                    submit(index, task, tries + 1)
                    continue
                row = _lost_row(task, exc)
            rows[index] = row
            bar.update(done=row["status"] not in (INTERRUPTED, PENDING), failed=row["status"] == FAILED,
                       running=len(pending))

    try:
        try:
            for index, cfg in enumerate(configs):
                rid = run_id(cfg, seed)
                if rid in seen:
                    continue
                seen.add(rid)
                if folder is not None:
                    finished = _read_row(os.path.join(folder, rid + ".json"))
                    if finished is not None:
                        rows[index] = finished
                        bar.update(done=1, failed=finished.get("status") == FAILED)
                        continue
                task = {"config": cfg, "run_id": rid, "folder": folder, "seed": seed, "stop": stop,
                        "checkpoint_every": checkpoint_every, "checkpoint_seconds": checkpoint_seconds}
                while len(pending) >= in_flight:
                    collect(block=True)
                submit(index, task, 0)
                bar.update(running=len(pending))
                collect(block=False)
            while pending:
                collect(block=True)
        except KeyboardInterrupt:
            interrupted = True
            if stop is not None:
                stop.set()
            for fut in list(pending):
                if fut.cancel():
                    index, task, _ = pending.pop(fut)
                    rows[index] = _unfinished_row(task, PENDING)
            if stop is not None:  # threads stop at their next chunk and save: wait for them
                while pending:
                    collect(block=True)
            for index, task, _ in pending.values():
                rows[index] = _unfinished_row(task, INTERRUPTED)
            pending.clear()
    finally:
        bar.update(running=0, force=True)
        bar.close()
        if own:
            executor.shutdown(wait=True, cancel_futures=True)
    if interrupted:  # runs not collected: finished if their row is on disk, else pending
        first = {}
        for index, cfg in enumerate(configs):
            first.setdefault(run_id(cfg, seed), (index, cfg))
        for rid, (index, cfg) in first.items():
            if index not in rows:
                row = None if folder is None else _read_row(os.path.join(folder, rid + ".json"))
                rows[index] = row or _unfinished_row({"config": cfg, "run_id": rid}, PENDING)
    table = [rows[i] for i in sorted(rows)]
    if out is not None:
        _atomic_write_text(os.path.join(out, RESULTS_FILE), _to_csv(table))
    return _as_table(table)


def _plain_default(obj):
    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    raise TypeError(f"grid: cannot store a {type(obj).__name__} in sweep.json")


def _lost_row(task, exc) -> dict:
    return {"run_id": task["run_id"], **task["config"], "status": FAILED,
            "message": f"worker lost: {type(exc).__name__}: {exc}"}


def _unfinished_row(task, status) -> dict:
    return {"run_id": task["run_id"], **task["config"], "status": status, "message": ""}


def _read_row(path):
    """The row stored at ``runs/<run_id>.json``, or None when there is none or it is not that run's
    row (unreadable, not a JSON object, another run's id, no status): the run is then made again."""
    try:
        with open(path) as f:
            row = json.load(f)
    except FileNotFoundError:
        return None
    except (OSError, ValueError):
        return None  # unreadable: run it again
    rid = os.path.basename(path)[:-len(".json")]
    if not isinstance(row, dict) or row.get("run_id") != rid or not isinstance(row.get("status"), str):
        return None
    return _from_json_row(row)


def _columns(rows) -> list:
    cols = {"run_id": None}
    cols.update(dict.fromkeys(CONFIG_KEYS))
    for row in rows:
        cols.update(dict.fromkeys(row))
    return list(cols)


def _to_csv(rows) -> str:
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=_columns(rows), restval="", lineterminator="\n")
    writer.writeheader()
    for row in rows:
        writer.writerow({k: ("" if v is None else repr(v) if isinstance(v, float) else v) for k, v in row.items()})
    return buf.getvalue()


def _as_table(rows):
    try:
        import pandas as pd
    except ImportError:
        return rows
    return pd.DataFrame(rows, columns=_columns(rows))


def load_sweep(out):
    """The table of the sweep in folder ``out`` from its runs' own files (finished runs only).

    Returns a pandas DataFrame (a list of dicts without pandas), in the order of the sweep's grid.
    """
    out = os.fspath(out)
    spec_path = os.path.join(out, SWEEP_FILE)
    if not os.path.exists(spec_path):
        raise FileNotFoundError(f"out: {out} holds no sweep (no {SWEEP_FILE})")
    spec = read_spec(out)
    folder = os.path.join(out, RUNS_DIR)
    rows, seen = [], set()
    for cfg in _Grid(spec["grid"]):
        rid = run_id(cfg, spec["seed"])
        if rid not in seen:
            seen.add(rid)
            row = _read_row(os.path.join(folder, rid + ".json"))
            if row is not None:
                rows.append(row)
    return _as_table(rows)


def make_folder(path, name: str = "out") -> str:
    """Create folder ``path`` (and its parents) if needed; a path that cannot be a folder (a file,
    a folder under a file, no permission) is a ValueError naming ``name``, raised before any run."""
    if not isinstance(path, (str, os.PathLike)):
        raise TypeError(f"{name}: expected a folder path, got {type(path).__name__}")
    path = os.fspath(path)
    if isinstance(path, bytes):
        path = os.fsdecode(path)
    if not path:
        raise ValueError(f"{name}: empty path")
    if os.path.exists(path) and not os.path.isdir(path):
        raise ValueError(f"{name}: {path} is a file, not a folder")
    try:
        os.makedirs(path, exist_ok=True)
    except OSError as exc:
        raise ValueError(f"{name}: cannot create the folder {path} ({exc.strerror or exc})") from None
    return path


def read_spec(out) -> dict:
    """The grid and seed stored in ``out/sweep.json`` by the last :func:`sweep` with that folder."""
    if not isinstance(out, (str, os.PathLike)):
        raise TypeError(f"out: expected a folder path, got {type(out).__name__}")
    if os.path.exists(out) and not os.path.isdir(out):
        raise ValueError(f"out: {os.fspath(out)} is a file, not a sweep folder")
    path = os.path.join(os.fspath(out), SWEEP_FILE)
    try:
        with open(path) as f:
            spec = json.load(f)
    except FileNotFoundError:
        raise FileNotFoundError(f"out: {out} holds no sweep (no {SWEEP_FILE})") from None
    except ValueError as exc:
        raise ValueError(f"out: {path} is not readable JSON ({exc})") from None
    if not isinstance(spec, dict) or "grid" not in spec or "seed" not in spec:
        raise ValueError(f"out: {path} lacks 'grid' or 'seed'")
    return spec
