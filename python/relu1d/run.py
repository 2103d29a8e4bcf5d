"""The result of a GD run: final parameters, status, history, and its file format."""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import NamedTuple

import numpy as np

from . import _core
from ._validate import as_data_info, as_float, as_int, as_theta, as_vector, check_fields, choice, max_threads, optional, real
from ._version import __version__
from .checkpoint import CheckpointError, read_checkpoint, write_checkpoint
from .config import TrainConfig

__all__ = ["Run", "History", "HistoryColumn", "HISTORY_COLUMNS", "HISTORY_KEYS", "STATUSES"]

#: A run's status: how the compiled loop stopped (its stop reasons but "time", which only ends a
#: chunk) or why the driver did ("interrupted": Ctrl-C, "stopped": the callback asked, or raised).
STATUSES = tuple(r for r in _core.STOP_REASONS if r != "time") + ("interrupted", "stopped")


class HistoryColumn(NamedTuple):
    """One recorded column, as the compiled trainer's column table defines it."""

    name: str
    dtype: str        #: "int64" or "float64"
    filled: str       #: "every_row", or "sharpness_rows" (elsewhere NaN, or 0 in an int64 column)
    description: str


#: The history's columns in order, from the compiled core's table (the one definition).
HISTORY_COLUMNS = tuple(HistoryColumn(*c) for c in _core.history_columns())
HISTORY_KEYS = tuple(c.name for c in HISTORY_COLUMNS)
_DTYPES = {c.name: np.dtype(c.dtype) for c in HISTORY_COLUMNS}
# The columns of format version 1 files: a file lacking a later column reads it as not recorded.
_V1_KEYS = ("step", "loss", "grad_norm", "lr", "knots", "sharpness", "sharpness_residual", "sharpness_products",
            "time")


def _not_recorded(key: str, rows: int) -> np.ndarray:
    """A column absent from an older file: NaN (float64) or -1 (int64) on every row."""
    return np.full(rows, np.nan if _DTYPES[key].kind == "f" else -1, dtype=_DTYPES[key])


class History(Mapping):
    """Recorded rows of a run, as a read-only mapping of column name -> numpy array; each column is
    also an attribute (``h["loss"]`` and ``h.loss`` are the same array).

    Rows are recorded every ``record_every`` steps, at every sharpness measurement, and at the final
    step of each call of ``train`` or ``resume`` (so the last row is the run's final step, unless
    the run was interrupted by Ctrl-C, which returns at once).

    Columns (see :data:`HISTORY_COLUMNS`):
    """

    __doc__ = __doc__ + "".join(f"\n    ``{c.name}`` ({c.dtype}): {c.description}." for c in HISTORY_COLUMNS)

    def __init__(self, columns: dict | None = None):
        self._chunks = []
        self._cache = None
        if columns:
            self.append(columns)

    def append(self, chunk: dict) -> None:
        if len(chunk["step"]):
            self._chunks.append({k: np.asarray(chunk[k]) for k in HISTORY_KEYS})
            self._cache = None

    def _columns(self) -> dict:
        if self._cache is None:
            if not self._chunks:
                self._cache = {k: np.empty(0, dtype=_DTYPES[k]) for k in HISTORY_KEYS}
            else:
                self._cache = {k: np.concatenate([c[k] for c in self._chunks]) for k in HISTORY_KEYS}
                self._chunks = [self._cache]
        return self._cache

    def __getattr__(self, name):
        if name in HISTORY_KEYS:
            return self[name]
        raise AttributeError(f"History has no attribute {name!r} (columns: {', '.join(HISTORY_KEYS)})")

    def __dir__(self):
        return sorted(set(super().__dir__()) | set(HISTORY_KEYS))

    def __getitem__(self, key):
        if key not in HISTORY_KEYS:
            raise KeyError(f"{key!r} (history columns: {', '.join(HISTORY_KEYS)})")
        return self._columns()[key]

    def __iter__(self):
        return iter(HISTORY_KEYS)

    def __len__(self):
        return len(HISTORY_KEYS)

    def drop_last_row(self) -> None:
        """Remove the last row (to record the final step again with more columns filled)."""
        cols = self._columns()
        self._cache = {k: v[:-1] for k, v in cols.items()}
        self._chunks = [self._cache]

    @property
    def rows(self) -> int:
        return sum(len(c["step"]) for c in self._chunks)

    def last(self, key: str, default=np.nan):
        """Last finite value of a column (e.g. the latest measured sharpness).

        Reads the chunks from the end without joining them, so a progress bar or callback that
        asks after every chunk costs O(chunk), not O(history).
        """
        if key not in HISTORY_KEYS:
            raise KeyError(f"{key!r} (history columns: {', '.join(HISTORY_KEYS)})")
        for chunk in reversed(self._chunks):
            col = chunk[key]
            if col.dtype.kind == "f":
                col = col[np.isfinite(col)]
            if col.size:
                return col[-1]
        return default

    def __repr__(self) -> str:
        return f"History({self.rows} rows: {', '.join(HISTORY_KEYS)})"


class Run:
    """A gradient-descent run: where it ended, why, and what was recorded on the way.

    Attributes
    ----------
    theta : ndarray
        Final parameters (after divergence: the last iterate with a finite, bounded loss).
    steps : int
        GD steps done since the run's first start (resumes included); ``theta`` is the iterate
        after that many steps.
    status : str
        ``"max_steps"``, ``"converged"`` (gradient-norm or loss tolerance met), ``"diverged"``
        (non-finite or exploding loss), ``"interrupted"`` (Ctrl-C) or ``"stopped"`` (a callback
        asked to stop; in a checkpoint, also: a callback, a callable lr or the compiled loop
        raised, and the exception ended the run).
    history : History
        Recorded rows (see :class:`History`).
    objective : Objective
        The data and kernel.
    config : TrainConfig
        Training options (step size schedule, clipping, intervals, tolerances, kernel, threads); a
        mapping of the same fields is converted.
    eigvec : ndarray or None
        Last top Hessian eigenvector (the warm start of the next sharpness measurement).
    wall_time : float
        Seconds spent training, resumes included.
    sharpness_time : float
        Of which seconds were spent measuring the sharpness.
    core_time : float
        Of which seconds were spent inside the compiled GD loop (the rest: the Python driver,
        checkpoints, callbacks, progress).
    """

    def __init__(self, *, objective, theta, theta0, steps, status, history, config, eigvec, wall_time,
                 final_loss=np.nan, final_grad_norm=np.nan, diverged_loss=None, sharpness_time=0.0, core_time=0.0,
                 version=__version__, data=None):
        self.objective = objective
        self.theta = theta
        self.theta0 = theta0
        self.steps = int(steps)
        self.status = status
        self.history = history
        self.config = config if isinstance(config, TrainConfig) else TrainConfig.from_dict(config)
        self.eigvec = eigvec
        self.wall_time = float(wall_time)
        self.final_loss = float(final_loss)
        self.final_grad_norm = float(final_grad_norm)
        self.diverged_loss = diverged_loss
        self.sharpness_time = float(sharpness_time)
        self.core_time = float(core_time)
        self.version = version
        self.data = data  # where the data came from (JSON scalars), e.g. {"target": "hat", ...}, or None

    # -- summaries -------------------------------------------------------------------------------
    @property
    def width(self) -> int:
        return (self.theta.size - 1) // 3

    @property
    def lr(self) -> float:
        """Step size at the final step (from the recorded column, else the schedule's first)."""
        lr = self.history.last("lr", default=np.nan)
        if np.isfinite(lr):
            return float(lr)
        sched = self.config.lr
        return float(sched[-1][1]) if sched else float("nan")

    @property
    def sharpness(self) -> float:
        """Sharpness at the final theta when the run tracked it (``train`` measures it at the final
        step, except after Ctrl-C: then the last measurement); NaN if never measured."""
        return float(self.history.last("sharpness"))

    @property
    def edge_of_stability(self) -> float:
        """2 / lr at the final step."""
        return 2.0 / self.lr

    def summary(self) -> str:
        lines = [
            f"status            {self.status}",
            f"steps             {self.steps:,}",
            f"final loss        {self.final_loss:.6g}   (L = 1/(2n) sum r^2)",
            f"grad norm         {self.final_grad_norm:.3g}",
        ]
        if np.isfinite(self.sharpness):
            lines.append(f"sharpness         {self.sharpness:.6g}   (2/lr = {self.edge_of_stability:.6g}, "
                         f"ratio {self.sharpness / self.edge_of_stability:.3f})")
        if self.history.rows:
            lines.append(f"knots in data     {int(self.history['knots'][-1])} of {self.width} neurons")
        if self.diverged_loss is not None:
            lines.append(f"diverging loss    {self.diverged_loss:.3g}")
        share = f" ({100 * self.sharpness_time / self.wall_time:.0f}% measuring sharpness)" if self.wall_time > 0 else ""
        lines.append(f"wall time         {self.wall_time:.2f} s{share}")
        return "\n".join(lines)

    def __repr__(self) -> str:
        sharp = (f", sharpness={self.sharpness:.4g} vs 2/lr={self.edge_of_stability:.4g}"
                 if np.isfinite(self.sharpness) else "")
        return (f"Run(status={self.status!r}, steps={self.steps:,}, loss={self.final_loss:.4g}{sharp}, "
                f"time={self.wall_time:.2f}s, n={self.objective.n}, width={self.width})")

    def report(self, *, f0=None, x_test=None, y_test=None, interior=0.9, rel_tol=None):
        """The stability report of the final parameters against the final step size.

        See :func:`relu1d.analysis.stability_report` (the sharpness is measured again, warm-started
        from the run's last eigenvector).
        """
        from .analysis import EFFECTIVE_KNOT_REL_TOL, stability_report

        return stability_report(self.objective, self.theta, self.lr, f0=f0, x_test=x_test, y_test=y_test,
                                interior=interior, rel_tol=EFFECTIVE_KNOT_REL_TOL if rel_tol is None else rel_tol,
                                v0=self.eigvec, steps=self.steps, history=self.history)

    # -- export ----------------------------------------------------------------------------------
    def to_dataframe(self):
        """The history as a pandas DataFrame indexed by step (needs pandas)."""
        try:
            import pandas as pd
        except ImportError:
            raise ImportError("Run.to_dataframe needs pandas: pip install pandas") from None
        return pd.DataFrame({k: self.history[k] for k in HISTORY_KEYS}).set_index("step")

    def plot(self, axes=None, *, log_steps: bool = False):
        """Loss and sharpness against steps, with the 2/lr line (needs matplotlib).

        Parameters
        ----------
        axes : pair of matplotlib axes, optional
            Where to draw; default: a new figure (constrained layout, so saved files keep their
            labels) titled with n, the width and the step size.
        log_steps : bool
            Step axis on a logarithmic scale (symmetric-log: step 0 stays visible).

        Returns the two matplotlib axes.
        """
        if not isinstance(log_steps, (bool, np.bool_)):
            raise TypeError(f"log_steps: expected a bool, got {type(log_steps).__name__}")
        if axes is not None:
            pair = list(axes) if isinstance(axes, (list, tuple, np.ndarray)) else []
            if len(pair) != 2 or not all(hasattr(ax, "semilogy") and hasattr(ax, "set_xscale") for ax in pair):
                raise TypeError(f"axes: expected a pair of matplotlib axes, got {type(axes).__name__}")
        try:
            import matplotlib.pyplot as plt
        except ImportError:
            raise ImportError("Run.plot needs matplotlib: pip install matplotlib") from None
        if axes is None:
            fig, axes = plt.subplots(1, 2, figsize=(10, 3.8), layout="constrained")
            fig.suptitle(self._plot_title())
        ax_loss, ax_sharp = axes
        h = self.history
        ax_loss.semilogy(h["step"], h["loss"], lw=1)
        ax_loss.set_ylabel("training loss  L = 1/(2n) sum r^2")
        measured = np.isfinite(h["sharpness"])
        ax_sharp.plot(h["step"][measured], h["sharpness"][measured], lw=1, label="sharpness")
        ax_sharp.plot(h["step"], 2.0 / h["lr"], "k--", lw=1, label="2 / lr")
        ax_sharp.set_ylabel("top Hessian eigenvalue")
        ax_sharp.legend(loc="best")
        for ax in (ax_loss, ax_sharp):
            ax.set_xlabel("step")
            if log_steps:
                ax.set_xscale("symlog", linthresh=1)
        return axes

    def _plot_title(self) -> str:
        sched = self.config.get("lr")
        if sched is None:
            lr = "lr from a callable"
        elif len(sched) == 1:
            lr = f"lr {sched[0][1]:g} (2/lr = {2 / sched[0][1]:g})"
        else:
            lr = "lr " + ", ".join(f"{v:g} from step {s:,}" for s, v in sched)
        return f"n = {self.objective.n}, width {self.width}, {lr}: {self.steps:,} steps, {self.status}"

    # -- files -----------------------------------------------------------------------------------
    def _arrays_and_meta(self):
        arrays = {"theta": self.theta, "theta0": self.theta0, "x": self.objective.x, "y": self.objective.y,
                  "eigvec": self.eigvec if self.eigvec is not None else np.empty(0)}
        for k in HISTORY_KEYS:
            arrays["history_" + k] = self.history[k]
        meta = {"steps": self.steps, "status": self.status, "config": self.config.to_dict(),
                "wall_time": self.wall_time,
                "final_loss": self.final_loss, "final_grad_norm": self.final_grad_norm,
                "diverged_loss": self.diverged_loss, "sharpness_time": self.sharpness_time,
                "core_time": self.core_time, "version": __version__, "data": self.data,
                "saved_at": time.strftime("%Y-%m-%dT%H:%M:%S%z")}
        return arrays, meta

    def save(self, path) -> str:
        """Write the run to ``path`` (npz + JSON metadata, no pickle; atomic)."""
        arrays, meta = self._arrays_and_meta()
        return write_checkpoint(path, arrays, meta)

    @classmethod
    def load(cls, path) -> "Run":
        """Read a run or checkpoint written by :meth:`save` or by ``train(checkpoint=...)``."""
        from .objective import Objective

        arrays, meta = read_checkpoint(path)
        need = ["theta", "theta0", "x", "y", "eigvec"] + ["history_" + k for k in _V1_KEYS]
        missing = [k for k in need if k not in arrays]
        if missing:
            raise CheckpointError(f"path: {path} lacks {missing}: truncated or not a relu1d run file")
        try:
            fields = check_fields(RUN_META_FIELDS, meta, required=("steps", "status", "config"))
            config = _checked_config(meta["config"])
            theta, theta0, eigvec, history = _checked_arrays(arrays, fields["steps"])
            objective = Objective(arrays["x"], arrays["y"], kernel=config.kernel, threads=config.threads)
            return cls(objective=objective, theta=theta, theta0=theta0, steps=fields["steps"],
                       status=fields["status"], history=history, config=config, eigvec=eigvec,
                       wall_time=fields.get("wall_time", 0.0), final_loss=fields.get("final_loss", np.nan),
                       final_grad_norm=fields.get("final_grad_norm", np.nan),
                       diverged_loss=fields.get("diverged_loss"), sharpness_time=fields.get("sharpness_time", 0.0),
                       core_time=fields.get("core_time", 0.0), version=meta.get("version", "?"),
                       data=fields.get("data"))
        except (KeyError, TypeError, ValueError) as exc:
            raise CheckpointError(f"path: {path} is corrupt ({exc})") from None


def _checked_config(stored) -> TrainConfig:
    """The stored configuration, checked by :class:`TrainConfig`; messages name ``config.<field>``."""
    if not isinstance(stored, dict):
        raise TypeError(f"config: expected a mapping, got {type(stored).__name__}")
    threads = stored.get("threads")
    if isinstance(threads, int) and not isinstance(threads, bool) and threads > max_threads():
        # results never depend on the thread count: a run saved on a larger machine loads with fewer
        stored = dict(stored, threads=max_threads())
    try:
        return TrainConfig.from_dict(stored)
    except (TypeError, ValueError) as exc:
        msg = str(exc)
        raise type(exc)(msg if msg.startswith("config") else "config." + msg) from None


def _checked_arrays(arrays: dict, steps: int):
    """theta, theta0, eigvec (or None) and the History of a run file, each checked like user input;
    ValueError/TypeError naming the array otherwise. Columns that an older file lacks read as not
    recorded."""
    theta = as_theta(arrays["theta"], "theta")
    theta0 = as_theta(arrays["theta0"], "theta0", width=(theta.size - 1) // 3)
    eigvec = arrays["eigvec"]
    eigvec = as_vector(eigvec, "eigvec", length=theta.size) if eigvec.size else None
    saved = {}
    for k in HISTORY_KEYS:
        name = "history_" + k
        if name not in arrays:
            continue
        col = arrays[name]
        if col.ndim != 1:
            raise ValueError(f"{name}: expected a 1-D array, got shape {col.shape}")
        if col.dtype != _DTYPES[k]:
            raise TypeError(f"{name}: expected dtype {_DTYPES[k]}, got {col.dtype}")
        saved[k] = col
    lengths = {k: len(c) for k, c in saved.items()}
    if len(set(lengths.values())) != 1:
        raise ValueError(f"history columns have different lengths: {lengths}")
    rows = len(saved["step"])
    columns = {k: saved[k] if k in saved else _not_recorded(k, rows) for k in HISTORY_KEYS}
    step = columns["step"]
    if step.size and (step[0] < 0 or step[-1] > steps or np.any(np.diff(step) <= 0)):
        raise ValueError(f"history_step: expected increasing steps in [0, steps = {steps}]")
    return theta, theta0, eigvec, History(columns)


#: The run file's metadata fields besides the configuration, each checked like the argument it
#: came from (field -> check(value, name), see :func:`relu1d._validate.check_fields`).
RUN_META_FIELDS = {
    "steps": lambda v, n: as_int(v, n, minimum=0),
    "status": choice(STATUSES),
    "wall_time": lambda v, n: as_float(v, n, nonnegative=True),
    "sharpness_time": lambda v, n: as_float(v, n, nonnegative=True),
    "core_time": lambda v, n: as_float(v, n, nonnegative=True),
    "final_loss": real,
    "final_grad_norm": real,
    "diverged_loss": optional(real),
    "data": optional(as_data_info),
}
