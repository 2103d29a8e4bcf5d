"""The benchmark harness: machine description, timing, the shared problem, and running one process
per size.

Every suite measures implementations on the same :class:`Problem` (data, initial theta, step size)
and times them with :func:`time_steps` or :func:`time_call`: a warm-up first, then the median of
repeats, each repeat long enough for the clock. Nothing here knows about a particular baseline.
"""

from __future__ import annotations

import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass
from typing import Callable

import numpy as np

import relu1d

OPENBLAS_VARIABLES = ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE")


# -------------------------------------------------------------------------------------------------
# Machine description
# -------------------------------------------------------------------------------------------------

def cpu_model() -> str:
    """The CPU's model name from /proc/cpuinfo (``platform.processor()`` elsewhere)."""
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as fh:
            for line in fh:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def cpu_flags() -> set:
    """The CPU feature flags from /proc/cpuinfo (empty where there is none)."""
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as fh:
            for line in fh:
                if line.startswith("flags"):
                    return set(line.split(":", 1)[1].split())
    except OSError:
        pass
    return set()


def simd_level() -> str:
    """The widest x86 vector instruction set the CPU reports: "avx512f", "avx2+fma", ... or "unknown"."""
    flags = cpu_flags()
    if "avx512f" in flags:
        return "avx512f"
    if {"avx2", "fma"} <= flags:
        return "avx2+fma"
    if "avx" in flags:
        return "avx"
    if "sse2" in flags:
        return "sse2"
    return "unknown"


def available_cores() -> int:
    """Cores this process may run on (the affinity mask where the OS has one)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:
        return os.cpu_count() or 1


def load_average() -> list | None:
    """1, 5 and 15-minute load averages (other work on the machine skews every timing)."""
    try:
        return [round(x, 2) for x in os.getloadavg()]
    except (AttributeError, OSError):
        return None


def numpy_blas() -> str:
    """Name and version of the BLAS NumPy was built with, if NumPy reports it."""
    try:
        blas = np.show_config(mode="dicts")["Build Dependencies"]["blas"]
        return f"{blas.get('name', '?')} {blas.get('version', '')}".strip()
    except (TypeError, KeyError, AttributeError):  # older NumPy: no mode="dicts"
        return "unknown"


def machine_info() -> dict:
    """What ran the benchmark: CPU, cores, vector extensions, library versions, load."""
    return {
        "cpu": cpu_model(),
        "simd": simd_level(),
        "cores_logical": os.cpu_count(),
        "cores_available": available_cores(),
        "platform": platform.platform(),
        "python": platform.python_version(),
        "numpy": np.__version__,
        "numpy_blas": numpy_blas(),
        "relu1d": relu1d.__version__,
        # the compiled core: SIMD path in use, native or portable build, compiler and flags
        "relu1d_core": {k: v for k, v in relu1d.info().items()
                        if k in ("simd_path", "simd_paths_available", "build", "compiler", "flags")},
        "openblas_env": {k: os.environ[k] for k in OPENBLAS_VARIABLES if k in os.environ},
        "load_average": load_average(),
    }


def max_rss_mb() -> float:
    """Peak resident memory of this process so far, in MiB (``ru_maxrss``: KiB on Linux)."""
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / (1024.0 * 1024.0) if sys.platform == "darwin" else peak / 1024.0


def peak_rss_during(fn: Callable[[], object]):
    """``(fn(), peak resident MiB while it ran)``; the peak is None where it cannot be isolated.

    On Linux writing 5 to /proc/self/clear_refs resets the peak (VmHWM) to the current resident
    size, so the peak read afterwards is that of ``fn`` and what was already resident.
    """
    try:
        with open("/proc/self/clear_refs", "w", encoding="ascii") as fh:
            fh.write("5")
    except OSError:
        return fn(), None
    result = fn()
    try:
        with open("/proc/self/status", encoding="ascii") as fh:
            for line in fh:
                if line.startswith("VmHWM:"):
                    return result, int(line.split()[1]) / 1024.0
    except OSError:
        pass
    return result, None


# -------------------------------------------------------------------------------------------------
# The problem every implementation solves
# -------------------------------------------------------------------------------------------------

@dataclass
class Problem:
    """Data, initial parameters, a random unit direction and a stable step size for one size.

    ``lr = lr_factor / sharpness(theta0)``: below 2/sharpness GD is locally stable at the start,
    and every implementation uses the same value.
    """

    n: int
    m: int
    x: np.ndarray
    y: np.ndarray
    theta: np.ndarray
    u: np.ndarray
    lr: float = 0.0
    sharpness0: float = float("nan")

    @property
    def size(self) -> int:
        return self.n + self.m


def make_problem(n: int, m: int, seed: int = 0) -> Problem:
    """The benchmark problem: ``relu1d.make_data`` (noisy hat on [-1, 1]) and PyTorch's init."""
    x, y = relu1d.make_data(n, sigma=0.3, target="hat", rng=seed)
    theta = relu1d.init_params(m, rng=seed + 1)
    u = np.random.default_rng(seed + 2).standard_normal(theta.size)
    return Problem(n=n, m=m, x=x, y=y, theta=theta, u=u / np.linalg.norm(u))


def set_stable_lr(problem: Problem, sharpness0: float, lr_factor: float = 1.0) -> float:
    """Set ``problem.lr = lr_factor / sharpness0`` (the top Hessian eigenvalue at theta0)."""
    top = float(sharpness0)
    problem.sharpness0 = float(top)
    problem.lr = lr_factor / top
    return problem.lr


def relative_error(value, reference) -> float:
    """Largest ``||a - b||_inf / ||b||_inf`` over the parts of a (tuple of) value(s)."""
    if isinstance(reference, tuple):
        return max(relative_error(a, b) for a, b in zip(value, reference))
    a = np.asarray(value, dtype=np.float64)
    b = np.asarray(reference, dtype=np.float64)
    scale = np.max(np.abs(b)) if b.size else 0.0
    diff = np.max(np.abs(a - b)) if b.size else 0.0
    return float(diff / scale) if scale > 0 else float(diff)


# -------------------------------------------------------------------------------------------------
# Timing
# -------------------------------------------------------------------------------------------------

@dataclass
class Timing:
    """Settings shared by every measurement."""

    repeat: int = 5           # timed repeats; the median is reported
    min_time: float = 0.2     # least seconds per repeat
    warmup_time: float = 0.1  # least seconds of untimed warm-up (after any compilation)
    max_time: float = 20.0    # a single call longer than this is timed once, without repeats
    max_overhead: float = 0.2  # largest share of a timed GD call spent outside the steps


def _median_summary(per_unit: list, loops: int, unit: str) -> dict:
    return {"median": statistics.median(per_unit), "min": min(per_unit), "max": max(per_unit),
            "repeats": per_unit, "loops": loops, "unit": unit}


def time_call(fn: Callable[[], object], timing: Timing) -> dict:
    """Seconds per call of ``fn``: warm-up, then the median over ``timing.repeat`` repeats.

    Each repeat runs ``loops`` calls, the first of 1, 2, 5, 10, 20, ... whose total reaches
    ``timing.min_time``. A call slower than ``timing.max_time`` is timed once.
    """
    start = time.perf_counter()
    fn()
    first = time.perf_counter() - start
    if first > timing.max_time:
        return _median_summary([first], 1, "call")
    spent = first
    while spent < timing.warmup_time:
        start = time.perf_counter()
        fn()
        spent += time.perf_counter() - start
    loops = _loops_for(first, timing.min_time)
    per_call = []
    for _ in range(timing.repeat):
        start = time.perf_counter()
        for _ in range(loops):
            fn()
        per_call.append((time.perf_counter() - start) / loops)
    return _median_summary(per_call, loops, "call")


def alternating_thetas(theta: np.ndarray) -> Callable[[], np.ndarray]:
    """theta and a copy whose c differs in the last bit, in turn (the copy first).

    ``relu1d.Objective`` reuses its prepared state (every neuron's boundary, the forward pass)
    when a second-order call (hvp, hessian, sharpness) comes at the same bits as the last one;
    the baselines compute their forward pass on every call. Timing relu1d at these two thetas
    in turn includes that preparation in every call, like for like.
    """
    other = theta.copy()
    other[-1] = np.nextafter(other[-1], np.inf)
    pair, state = (other, theta), [1]

    def next_theta() -> np.ndarray:
        state[0] ^= 1
        return pair[state[0]]

    return next_theta


def time_repeated(fn: Callable[[], object], repeat: int):
    """Seconds of ``repeat`` single calls of a slow ``fn`` (no warm-up, no loops): its median
    summary and the last call's result."""
    times, result = [], None
    for _ in range(max(1, repeat)):
        start = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - start)
    return _median_summary(times, 1, "call"), result


def _loops_for(seconds_per_loop: float, min_time: float) -> int:
    loops = 1
    for scale in (1, 10, 100, 1000, 10_000, 100_000, 1_000_000, 10_000_000):
        for base in (1, 2, 5):
            loops = base * scale
            if loops * max(seconds_per_loop, 1e-9) >= min_time:
                return loops
    return loops


def time_steps(advance: Callable[[int], float], timing: Timing, *, loss0: float) -> dict:
    """Seconds per GD step of ``advance(k)``, which runs k more steps and returns the last loss.

    The steps continue one trajectory from the initial theta: a warm-up (which also triggers any
    compilation), then ``timing.repeat`` repeats of k steps each. k is chosen so that a repeat
    lasts at least ``timing.min_time`` and the fixed cost of one call (a call of c steps less c
    times the step time, which is a call of 2c less a call of c) is at most
    ``timing.max_overhead`` of it. The median seconds per step is reported with that cost
    included (``call_overhead_s`` says how much it was). A run whose loss is not finite or
    exceeds 10 times ``loss0`` is reported as ``{"diverged": ...}`` instead of a time.
    """
    start = time.perf_counter()
    loss = advance(1)
    first = time.perf_counter() - start          # includes compilation for JIT baselines
    steps, spent, k = 1, 0.0, 1
    last = first                                 # the last call's seconds (compiled by then)
    while spent < timing.warmup_time and first < timing.max_time:
        start = time.perf_counter()
        loss = advance(k)
        last = time.perf_counter() - start
        spent += last
        steps += k
        k = min(2 * k, 1 << 20)
    # the step time without the fixed cost of a call: calls of c and 2c steps, their difference
    # (a call of 0 steps may skip the fixed cost: relu1d.train of 0 steps builds no kernel), the
    # faster of two calls each where calls are short (the fixed cost jitters upwards), c doubled
    # until the call of 2c takes half as long again as the call of c (its steps at least that
    # cost: no longer noise). Where the last call of the warm-up took a quarter of max_time or
    # more, that call is the estimate.
    tries = 2 if last < 1.0 else 1

    def best_of(count: int) -> float:
        nonlocal loss, steps
        best = float("inf")
        for _ in range(tries):
            start = time.perf_counter()
            loss = advance(count)
            best = min(best, time.perf_counter() - start)
            steps += count
        return best

    def diverged() -> bool:
        return not np.isfinite(loss) or loss > 10 * loss0

    if last >= timing.max_time / 4:
        per_step, overhead = last / max(k // 2, 1), 0.0
    else:
        c = max(2, k // 2)
        while True:
            t1 = best_of(c)
            t2 = best_of(2 * c)
            if diverged():
                break
            if t2 >= 1.5 * t1 or t2 >= timing.max_time / 4 or c >= 1 << 20:
                break
            c *= 2
        per_step = max((t2 - t1) / c, 0.05 * t2 / (2 * c), 1e-9)
        overhead = max(t1 - c * per_step, 0.0)
    if diverged():
        return {"diverged": f"loss {loss:.3g} after {steps} steps (initial {loss0:.3g})"}
    wanted = max(timing.min_time, overhead * (1 - timing.max_overhead) / timing.max_overhead)
    loops = _loops_for(per_step, wanted)
    repeat = timing.repeat if loops * per_step < timing.max_time / 4 else min(timing.repeat, 3)
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        loss = advance(loops)
        times.append((time.perf_counter() - start) / loops)
        steps += loops
    if diverged():
        return {"diverged": f"loss {loss:.3g} after {steps} steps (initial {loss0:.3g})"}
    summary = _median_summary(times, loops, "step")
    summary.update(first_call_s=first, call_overhead_s=overhead, steps_run=steps, final_loss=float(loss))
    return summary


# -------------------------------------------------------------------------------------------------
# One process per size
# -------------------------------------------------------------------------------------------------

def run_worker(script: str, args: list, *, timeout: float | None = None) -> dict:
    """Run ``python script *args`` in a fresh process and return the JSON object it prints last.

    The worker prints its progress on stderr (passed through) and one JSON line on stdout, so that
    each size starts from a clean process: its peak memory is its own, and no library state (JIT
    caches, thread pools, allocator) carries over from another size.
    """
    cmd = [sys.executable, script, *args]
    try:
        done = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=None, text=True, timeout=timeout,
                              check=False)
    except subprocess.TimeoutExpired:
        return {"error": f"timed out after {timeout:g} s"}
    lines = [line for line in done.stdout.splitlines() if line.startswith("{")]
    if done.returncode != 0 or not lines:
        return {"error": f"worker exited with status {done.returncode}"}
    return json.loads(lines[-1])


def jsonable(value):
    """``value`` with NumPy scalars and arrays turned into plain Python for ``json.dump``."""
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [jsonable(v) for v in value]
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, float) and not np.isfinite(value):
        return None
    return value


def log(message: str) -> None:
    """Progress on stderr (stdout carries the worker's JSON)."""
    print(message, file=sys.stderr, flush=True)
