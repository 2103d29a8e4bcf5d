"""Full-batch gradient descent driven in chunks: the steps run in C++, Python handles progress,
callbacks, checkpoints and Ctrl-C between chunks (each chunk lasts about 50 ms: its length in steps
follows the measured cost of a step)."""

from __future__ import annotations

import signal
import sys
import threading
import time
import warnings
from contextlib import contextmanager

import numpy as np

from . import _core
from ._validate import INT64_MAX, as_data_info, as_float, as_int, as_output_path, as_theta, as_threads
from .checkpoint import CheckpointWarning
from .config import TrainConfig
from .objective import check_objective, compiled_objective
from .run import History, Run
from .schedule import StepSize

__all__ = ["train", "resume"]

_CHUNK_SECONDS = 0.05       # wall time of one C++ chunk: bounds the Ctrl-C latency
_CHUNK_MAX_SECONDS = 0.5    # ... unless the driver's own work between chunks is slow (copying a large theta)
_OVERHEAD_SHARE = 0.05      # the driver's work between chunks: at most this share of a chunk's time
_CHUNK_GROWTH = 8           # a chunk has at most this many times the steps of the previous one
_CALLABLE_CHUNK = 16384     # steps per chunk when lr is a Python callable


def train(objective, theta0, *, lr, steps, record_every=None, sharpness_every=None, clip=None,
          grad_tol=0.0, loss_tol=0.0, max_loss=None, sharpness_tol=1e-10, sharpness_max_iter=300,
          progress=None, checkpoint=None, checkpoint_every=None, checkpoint_seconds=None, callback=None,
          threads=None, data=None) -> Run:
    """Run full-batch gradient descent ``theta <- theta - lr_t * clip(grad L(theta))``.

    Parameters
    ----------
    objective : relu1d.Objective
        Data and kernel; ``L = 1/(2n) sum (f(x_i) - y_i)^2``.
    theta0 : array_like, shape (3m+1,)
        Initial parameters (see :func:`relu1d.init_params`).
    lr : float, pairs (start_step, lr), dict or callable
        Step size: constant, piecewise constant, or ``step -> lr``.
    steps : int
        Number of GD steps.
    record_every : int, optional
        Record loss, gradient norm, lr and knot count every this many steps (default:
        ``max(1, steps // 10000)``, at most ~10^4 rows). Memory grows only with the rows.
    sharpness_every : int, optional
        Measure the sharpness (top Hessian eigenvalue, Lanczos warm-started from the last
        eigenvector) every this many steps; 0 turns it off (default: ``10 * record_every``, about
        10^3 measurements a run). Measured steps are recorded too.
    clip : float, optional
        Gradient-norm clipping: the step uses ``g * min(1, clip / ||g||)``.
    grad_tol, loss_tol : float
        Stop with status "converged" when ``||grad|| <= grad_tol`` or ``loss <= loss_tol``.
    max_loss : float, optional
        A loss above this (or a non-finite one) stops the run with status "diverged"; theta is then
        the last iterate with an acceptable loss. Default: 1e6 times the larger of the initial loss
        and the loss of the zero function.
    sharpness_tol, sharpness_max_iter : float, int
        Lanczos tolerance (relative residual) and step limit for each sharpness measurement.
        With sharpness tracking on, the sharpness at the final theta is measured too and
        recorded in the history's last row, the row of the final step (not after Ctrl-C).
    progress : bool, optional
        Show a progress bar (tqdm if installed); default: when stderr is a terminal.
    checkpoint : str or path, optional
        Write the run to this file every ``checkpoint_every`` steps and/or ``checkpoint_seconds``
        seconds (default 60 s), and always when the run ends, is interrupted or diverges. The path
        is checked before the first step (an existing folder where files can be created, not a
        directory); a save that fails later (disk full) warns with :class:`CheckpointWarning` and
        the run goes on. If ``callback`` or a callable ``lr`` raises, or the compiled loop fails
        (e.g. the system refuses a thread), the run as of the last chunk is written (status
        "stopped") before the exception propagates.
    callback : callable, optional
        ``callback(run)`` after every chunk (at most about 20 per second) with the partial :class:`Run`;
        returning True stops the run with status "stopped".
    threads : int, optional
        Threads of the kernel: a positive integer runs on a copy of ``objective`` (sharing its sorted
        data) with that many threads; None keeps the objective's setting. Results never depend on
        the thread count, bit for bit.
    data : dict, optional
        Where the data came from, kept with the run (``Run.data``) and in its files, e.g.
        ``{"target": "hat", "sigma": 0.3, "n": 30}`` for built-in data: ``relu1d report`` and
        ``relu1d plot`` take f0 from ``data["target"]``. JSON scalars only.

    Returns
    -------
    Run
        Also on Ctrl-C (status "interrupted", within about 50 ms or one step, whichever is
        longer), with everything computed so far. The history's last row is the final step
        (after Ctrl-C: the last recorded one).

    Notes
    -----
    With the fast kernel each step is one pass over the neurons (residual sums, gradient, update
    and the knot search at the new parameters) plus O(n) sweeps over the data, done in place.
    Neurons inactive on every data point have an exactly zero gradient, so GD never moves them;
    the step skips them. None of this changes a bit of the result: without clipping the run equals
    the loop ``theta = theta - lr * objective.grad(theta)`` step for step, and a resumed run
    equals one done in one go.
    """
    obj = check_objective(objective)
    theta0 = as_theta(theta0)
    steps = as_int(steps, "steps", minimum=0)
    schedule = StepSize(lr)
    record_every = _interval(record_every, "record_every", default=max(1, steps // 10_000))
    if sharpness_every is None:
        sharpness_every = min(10 * record_every, INT64_MAX)
    sharpness_every = as_int(sharpness_every, "sharpness_every", minimum=0)
    if threads is not None and as_threads(threads) != (obj.threads or 0):
        obj = obj.with_kernel(obj.kernel, threads=threads)  # shares the sorted data
    if max_loss is None:
        max_loss = _default_max_loss(obj, theta0)
    config = TrainConfig(lr=schedule.to_json(), clip=clip, record_every=record_every,
                         sharpness_every=sharpness_every, grad_tol=grad_tol, loss_tol=loss_tol, max_loss=max_loss,
                         sharpness_tol=sharpness_tol, sharpness_max_iter=sharpness_max_iter, kernel=obj.kernel,
                         threads=obj.threads)
    run = Run(objective=obj, theta=theta0.copy(), theta0=theta0.copy(), steps=0, status="max_steps",
              history=History(), config=config, eigvec=None, wall_time=0.0, data=as_data_info(data, "data"))
    return _drive(run, schedule, steps, progress=progress, checkpoint=checkpoint,
                  checkpoint_every=checkpoint_every, checkpoint_seconds=checkpoint_seconds, callback=callback)


def resume(path, *, steps, lr=None, progress=None, checkpoint=None, checkpoint_every=None,
           checkpoint_seconds=None, callback=None, threads=None) -> Run:
    """Continue the run saved at ``path`` for ``steps`` more steps.

    The result is bit-identical to the same run done in one go. The configuration comes from
    the file; ``lr`` is needed only when the run used a callable step size (which cannot be
    saved). Checkpoints go back to ``path`` unless ``checkpoint`` names another file.
    ``threads`` (a positive integer) continues on that many threads instead of the saved
    setting (None keeps it); results never depend on it, so a run saved on one machine resumes
    on another bit for bit.
    """
    run = Run.load(path)
    steps = as_int(steps, "steps", minimum=0, maximum=INT64_MAX - run.steps)
    if threads is not None and as_threads(threads) != (run.objective.threads or 0):
        run.objective = run.objective.with_kernel(run.objective.kernel, threads=threads)  # shares the sorted data
        run.config = run.config.replace(threads=run.objective.threads)
    if lr is not None:
        schedule = StepSize(lr)
        run.config = run.config.replace(lr=schedule.to_json())
    elif run.config.lr is None:
        raise ValueError("lr: this run used a callable step size, which is not saved; pass lr= to resume")
    else:
        schedule = StepSize([tuple(p) for p in run.config.lr])
    run.status = "max_steps"
    run.diverged_loss = None
    return _drive(run, schedule, steps, progress=progress, checkpoint=path if checkpoint is None else checkpoint,
                  checkpoint_every=checkpoint_every, checkpoint_seconds=checkpoint_seconds, callback=callback)


# ---------------------------------------------------------------------------------------------

def _default_max_loss(obj, theta0) -> float:
    """1e6 times the larger of L(theta0) and the loss of the zero function, mean(y^2)/2, capped at
    the largest float (so that it stays finite for any finite data)."""
    y = obj.y_sorted
    scale = float(np.max(np.abs(y)))
    with np.errstate(over="ignore"):
        zero_loss = 0.5 * scale * scale * float(np.mean((y / scale) ** 2)) if scale > 0 else 0.0
        base = max(obj.loss(theta0), zero_loss)
        return min(1e6 * base, float(np.finfo(np.float64).max)) if base > 0 else 1e6


def _interval(value, name, *, default):
    if value is None:
        return default
    return as_int(value, name, minimum=1)


def _drive(run: Run, schedule: StepSize, steps: int, *, progress, checkpoint, checkpoint_every,
           checkpoint_seconds, callback) -> Run:
    if checkpoint is not None:
        checkpoint = as_output_path(checkpoint, "checkpoint")
    if checkpoint_every is not None:
        checkpoint_every = as_int(checkpoint_every, "checkpoint_every", minimum=1)
    if checkpoint_seconds is not None:
        checkpoint_seconds = as_float(checkpoint_seconds, "checkpoint_seconds", positive=True)
    elif checkpoint is not None and checkpoint_every is None:
        checkpoint_seconds = 60.0
    if callback is not None and not callable(callback):
        raise TypeError("callback: expected a callable taking the Run")

    trainer = _core.Trainer(compiled_objective(run.objective), run.theta, run.steps, run.eigvec,
                            run.config.train_options())
    start, end = run.steps, run.steps + steps
    planner = ChunkPlanner(_CHUNK_SECONDS)
    bar = _progress_bar(progress, steps)
    t_begin, wall0, sharp0, core0 = time.perf_counter(), run.wall_time, run.sharpness_time, run.core_time
    core_seconds = 0.0  # time inside the compiled loop (the rest is the Python driver)
    last_save_time, last_save_step = t_begin, start
    t_returned = None  # when the last compiled call returned

    def sync():
        run.theta = trainer.theta
        run.steps = trainer.step
        run.eigvec = trainer.eigvec
        run.wall_time = wall0 + (time.perf_counter() - t_begin)
        run.sharpness_time = sharp0 + trainer.sharpness_seconds
        run.core_time = core0 + core_seconds

    with _deferred_sigint() as interrupted:
        try:
            while trainer.step < end:
                chunk = min(end - trainer.step, planner.next_steps)
                if checkpoint_every:
                    chunk = min(chunk, checkpoint_every - (trainer.step % checkpoint_every))
                if schedule.function is not None:
                    chunk = min(chunk, _CALLABLE_CHUNK)
                try:
                    starts, values = schedule.pieces(trainer.step, chunk)
                except Exception:
                    _save_before_raise(run, checkpoint)
                    raise
                before = trainer.step
                t_call = time.perf_counter()
                if t_returned is not None:
                    planner.observe_overhead(t_call - t_returned)
                try:
                    reason, records = trainer.run(chunk, starts, values, planner.seconds,
                                                  wall0 + (time.perf_counter() - t_begin))
                except Exception:  # e.g. the system refused a thread: keep the run as of the last chunk
                    _save_before_raise(run, checkpoint)
                    raise
                t_returned = time.perf_counter()
                planner.observe(trainer.step - before, t_returned - t_call)
                core_seconds += t_returned - t_call
                if before == start and run.history.rows and len(records["step"]) \
                        and records["step"][0] == run.history["step"][-1]:
                    # resuming a run that stopped right after recording this step (converged, or
                    # diverged and stepped back): its row is already in the history
                    records = {k: v[1:] for k, v in records.items()}
                run.history.append(records)
                sync()
                if bar is not None:
                    bar.update(trainer.step - before, run)
                if reason == "converged":
                    run.status = "converged"
                elif reason == "diverged":
                    run.status = "diverged"
                    run.diverged_loss = float(trainer.last_loss)
                if run.status in ("converged", "diverged"):
                    break
                if interrupted() and trainer.step < end:  # (a run whose steps are all done is not cut short)
                    run.status = "interrupted"
                    break
                try:
                    stop = callback is not None and callback(run) is True
                except Exception:
                    _save_before_raise(run, checkpoint)
                    raise
                if stop and trainer.step < end:  # (asked after the last chunk: the run is complete)
                    run.status = "stopped"
                    break
                now = time.perf_counter()
                due_steps = checkpoint_every and trainer.step - last_save_step >= checkpoint_every
                due_time = checkpoint_seconds and now - last_save_time >= checkpoint_seconds
                if checkpoint and (due_steps or due_time) and trainer.step < end:
                    _finish(run, trainer)
                    _save(run, checkpoint)
                    last_save_time, last_save_step = now, trainer.step
        except KeyboardInterrupt:  # raised outside our handler (e.g. not the main thread)
            sync()
            run.status = "interrupted"
        finally:
            if bar is not None:
                bar.close()
    if run.status != "interrupted":  # after Ctrl-C: return at once
        _record_final_row(run, trainer, schedule, measure=run.config.sharpness_every > 0)
    _finish(run, trainer)
    if checkpoint:
        _save(run, checkpoint, final=True)
    return run


class ChunkPlanner:
    """Steps per call of the compiled loop, so that each call lasts about ``seconds``.

    The first call runs one step; each later call runs ``seconds / (measured seconds per step)``
    steps, at most ``_CHUNK_GROWTH`` times the previous call's. Ctrl-C, callbacks and
    checkpoints are handled between calls, so they wait about ``seconds`` (or one step, if a
    step takes longer) whatever a step costs. Where the driver's own work between two calls
    (copying theta, the history, a callback) takes more than ``_OVERHEAD_SHARE`` of that,
    ``seconds`` grows to keep it so, up to ``max_seconds``: at m = 1e6 the copy of theta alone
    takes milliseconds.
    """

    def __init__(self, seconds: float, max_seconds: float = _CHUNK_MAX_SECONDS):
        self.base_seconds = self.seconds = seconds
        self.max_seconds = max(seconds, max_seconds)
        self.next_steps = 1

    def observe_overhead(self, elapsed: float) -> None:
        """Record that the driver spent ``elapsed`` seconds between two calls."""
        wanted = elapsed / _OVERHEAD_SHARE
        self.seconds = min(self.max_seconds, max(self.base_seconds, wanted))

    def observe(self, steps: int, elapsed: float) -> None:
        """Record that the last call ran ``steps`` steps in ``elapsed`` seconds."""
        if steps <= 0:
            return
        fit = self.seconds * steps / elapsed if elapsed > 0 else float("inf")
        self.next_steps = int(max(1, min(fit, _CHUNK_GROWTH * max(steps, self.next_steps), INT64_MAX)))


def _save(run: Run, path: str, final: bool = False) -> None:
    """Write a checkpoint; a failure (disk full, folder removed) warns and never costs the run."""
    try:
        run.save(path)
    except OSError as exc:
        what = ("the run is returned but this file was not written" if final
                else "the run goes on and retries at the next checkpoint")
        warnings.warn(f"checkpoint: could not write {path} at step {run.steps:,} ({exc}); {what}",
                      CheckpointWarning, stacklevel=3)


def _save_before_raise(run: Run, checkpoint) -> None:
    """User code (callback or callable lr) or the compiled loop raised: keep the run as of the last
    completed chunk, then let the exception propagate."""
    if checkpoint:
        run.status = "stopped"
        _finish(run)  # from the objective: the trainer may have stopped mid-step
        _save(run, checkpoint, final=True)


def _record_final_row(run: Run, trainer, schedule: StepSize, *, measure: bool) -> None:
    """Make the history's last row the final step's, with its sharpness when ``measure``.

    The row comes from the compiled loop itself (``trainer.record``: the row its run records at
    this step, from the kernel it has prepared there), so it has the same bits as the row a
    resumed run records there; the run's warm-start eigenvector is left as it is, so a resumed run
    measures as if never stopped.
    """
    h = run.history
    have_row = h.rows > 0 and int(h.last("step")) == run.steps
    if have_row and (not measure or np.isfinite(h["sharpness"][-1])):
        return
    try:
        starts, values = schedule.pieces(run.steps, 1)
    except Exception:  # a callable lr that fails beyond the run: no row rather than no run
        return
    before = trainer.sharpness_seconds
    records = trainer.record(float(values[0]), measure, run.wall_time)
    if have_row:
        h.drop_last_row()
    h.append(records)
    run.sharpness_time += trainer.sharpness_seconds - before


def _finish(run: Run, trainer=None) -> None:
    """Loss and gradient norm at the final theta, from the trainer's kernel (prepared there) or,
    without a trainer, from the objective; inf where they overflow (a diverged run keeps the last
    theta with an acceptable loss, whose gradient may still overflow)."""
    if trainer is not None:
        loss, grad_norm = float(trainer.loss()), float(trainer.grad_norm())
        run.final_loss = loss if np.isfinite(loss) else np.inf
        run.final_grad_norm = grad_norm if np.isfinite(grad_norm) else np.inf
        return
    try:
        loss, grad = run.objective.loss_and_grad(run.theta)  # one pass over the data
    except ValueError:  # the loss or the gradient overflowed: tell which
        try:
            run.final_loss = float(run.objective.loss(run.theta))
        except ValueError:
            run.final_loss = np.inf
        run.final_grad_norm = np.inf
        return
    run.final_loss = float(loss)
    scale = float(np.max(np.abs(grad)))  # ||g|| without overflow in ||g||^2
    run.final_grad_norm = scale * float(np.linalg.norm(grad / scale)) if scale > 0 else 0.0


@contextmanager
def _deferred_sigint():
    """Turn the first Ctrl-C into a flag checked between chunks (a second one raises at once)."""
    flag = threading.Event()
    if threading.current_thread() is not threading.main_thread():
        yield flag.is_set
        return
    previous = signal.getsignal(signal.SIGINT)

    def handler(signum, frame):
        if flag.is_set():
            signal.signal(signal.SIGINT, previous if callable(previous) else signal.default_int_handler)
            raise KeyboardInterrupt
        flag.set()

    try:
        signal.signal(signal.SIGINT, handler)
    except ValueError:  # signals unavailable here
        yield flag.is_set
        return
    try:
        yield flag.is_set
    finally:
        signal.signal(signal.SIGINT, previous)


class _Progress:
    """A tqdm bar (steps/s, loss, sharpness) or, without tqdm, a line on stderr every second."""

    def __init__(self, total: int):
        self.total = total
        self.done = 0
        self.last_print = 0.0
        try:
            from tqdm.auto import tqdm
        except ImportError:
            self.bar = None
        else:
            self.bar = tqdm(total=total, unit="step", unit_scale=True, dynamic_ncols=True)

    def update(self, n: int, run: Run) -> None:
        self.done += n
        loss = run.history.last("loss")
        sharp = run.history.last("sharpness")
        post = {"loss": f"{loss:.4g}"}
        if np.isfinite(sharp):
            post["sharpness"] = f"{sharp:.4g}"
            post["2/lr"] = f"{2.0 / run.history.last('lr'):.4g}"
        if self.bar is not None:
            self.bar.update(n)
            self.bar.set_postfix(post, refresh=False)
        elif time.perf_counter() - self.last_print > 1.0 or self.done >= self.total:
            self.last_print = time.perf_counter()
            extra = " ".join(f"{k}={v}" for k, v in post.items())
            pct = 100.0 * self.done / self.total if self.total else 100.0
            print(f"\r{self.done:,}/{self.total:,} steps ({pct:5.1f}%) {extra}", end="", file=sys.stderr, flush=True)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
        else:
            print(file=sys.stderr)


def _progress_bar(progress, total):
    if progress is None:
        progress = sys.stderr.isatty()
    return _Progress(total) if progress and total > 0 else None


