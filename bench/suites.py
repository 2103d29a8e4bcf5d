"""The measurements, one function per suite; each runs in its own process for one size.

- :func:`measure_size`: at one (n, m), GD steps/s of relu1d (fast and dense, through the compiled
  loop ``relu1d.train``) and of the baselines; one HVP; the sharpness from scratch (relu1d.sharpness
  against Lanczos on each baseline's HVP); the dense kernel's GFLOP/s; thread scaling; peak memory.
- :func:`measure_hessian`: the full Hessian at one (n, m).
- :func:`measure_long_run`: a long GD run with sharpness tracking (``bench_long_run.py``).

Every result is a plain dict (JSON-ready); times are seconds (medians of repeats).
"""

from __future__ import annotations

import time

import numpy as np

import relu1d
from baselines import Unavailable, lanczos_top, load_baselines
from harness import (Timing, alternating_thetas, available_cores, log, make_problem, max_rss_mb, relative_error,
                     peak_rss_during, set_stable_lr, time_call, time_repeated, time_steps)

# Floating-point operations per (data point, neuron) pair of the dense kernel's loss_and_grad:
# forward z = w x + b, f += v relu(z) (4), residual sums z again, S0 += r, S1 += r x (4).
DENSE_FLOPS_PER_PAIR = 8


def _products(result) -> int:
    """Hessian-vector products spent by ``relu1d.sharpness`` (whatever the attribute is called)."""
    for name in ("products", "n_hvp"):
        if hasattr(result, name):
            return int(getattr(result, name))
    return -1


def _relu1d_gd(objective, problem, loss0):
    """``advance(k)`` for relu1d.train: k steps of the compiled loop, continuing the trajectory."""
    state = [problem.theta.copy()]

    def advance(k):
        run = relu1d.train(objective, state[0], lr=problem.lr, steps=k, record_every=max(k, 1),
                           sharpness_every=0, progress=False, max_loss=1e3 * loss0)
        state[0] = run.theta
        return float(run.final_loss) if run.status != "diverged" else float("inf")

    return advance


def _train_check(objective, problem):
    """(loss, gradient) at theta0 as seen by relu1d.train: gradient = (theta0 - theta1) / lr."""
    run = relu1d.train(objective, problem.theta, lr=problem.lr, steps=1, record_every=1,
                       sharpness_every=0, progress=False)
    return float(run.history["loss"][0]), (problem.theta - run.theta) / problem.lr


def _with_rates(result: dict, problem) -> dict:
    if "median" in result:
        result["steps_per_s"] = 1.0 / result["median"]
        result["ns_per_n_plus_m"] = 1e9 * result["median"] / problem.size
    return result


def measure_size(n: int, m: int, *, timing: Timing, baselines=None, skip=(), max_nm: float = 2e7,
                 rtol: float = 1e-10, seed: int = 0, lr_factor: float = 1.0,
                 sharpness_baselines: bool = True, threads: bool = True) -> dict:
    """Everything measured at one (n, m); see the module docstring.

    Baselines and relu1d's dense kernel run only when ``n * m <= max_nm`` (their O(n m) arrays and
    time); above it relu1d's fast path runs alone.
    """
    problem = make_problem(n, m, seed)
    fast = relu1d.Objective(problem.x, problem.y, kernel="fast", threads=1)
    fresh = alternating_thetas(problem.theta)  # every timed second-order call prepares again
    (sharpness_timing, _), sharpness_rss = peak_rss_during(
        lambda: time_repeated(lambda: relu1d.sharpness(fast, fresh(), tol=1e-10), min(3, timing.repeat)))
    sharp = relu1d.sharpness(fast, problem.theta, tol=1e-10)
    set_stable_lr(problem, sharp.value, lr_factor)
    loss0, grad0 = fast.loss_and_grad(problem.theta)
    small = n * m <= max_nm
    out = {"n": n, "m": m, "lr": problem.lr, "sharpness0": problem.sharpness0, "loss0": loss0,
           "dense_and_baselines": small, "step": {}, "hvp": {}, "sharpness": {}, "threads": {},
           "errors": {}}
    log(f"  (n, m) = ({n}, {m}): lr = {problem.lr:.4g} (1/sharpness0 x {lr_factor:g}), loss0 = {loss0:.4g}")

    # --- relu1d: GD steps through the compiled loop -------------------------------------------
    out["errors"]["fast"] = relative_error(_train_check(fast, problem), (loss0, grad0))
    fast_step, train_rss = peak_rss_during(
        lambda: time_steps(_relu1d_gd(fast, problem, loss0), timing, loss0=loss0))
    out["step"]["fast"] = _with_rates(fast_step, problem)
    out["peak_rss_mb"] = {"relu1d.train": train_rss, "relu1d.sharpness": sharpness_rss}
    dense = relu1d.Objective(problem.x, problem.y, kernel="dense", threads=1) if small else None
    if dense is not None:
        out["errors"]["dense"] = relative_error(_train_check(dense, problem), (loss0, grad0))
        out["step"]["dense"] = _with_rates(time_steps(_relu1d_gd(dense, problem, loss0), timing,
                                                      loss0=loss0), problem)
    else:
        out["step"]["dense"] = {"skip": f"n*m = {n * m:.0e} > {max_nm:.0e}"}

    # --- relu1d: HVP, sharpness, dense GFLOP/s, threads ----------------------------------------
    out["hvp"]["fast"] = time_call(lambda: fast.hvp(fresh(), problem.u), timing)
    out["hvp"]["fast, same theta"] = time_call(lambda: fast.hvp(problem.theta, problem.u), timing)
    if dense is not None:
        out["hvp"]["dense"] = time_call(lambda: dense.hvp(fresh(), problem.u), timing)
    out["sharpness"]["fast"] = {**sharpness_timing,
                                "value": sharp.value, "products": _products(sharp),
                                "converged": sharp.converged}
    if dense is not None:
        lg = time_call(lambda: dense.loss_and_grad(problem.theta), timing)
        out["dense_loss_and_grad"] = {**lg, "gflops": DENSE_FLOPS_PER_PAIR * n * m / lg["median"] / 1e9}
    if threads:
        out["threads"] = measure_threads(problem, timing, with_dense=dense is not None)

    # --- baselines --------------------------------------------------------------------------------
    if baselines is None:
        baselines = load_baselines(skip) if small else []
    out["notes"] = {b.name: b.reason for b in baselines if isinstance(b, Unavailable)}
    if small:
        _, out["peak_rss_mb"]["baselines"] = peak_rss_during(
            lambda: _measure_baselines(out, problem, fast, baselines, timing, sharp.value, loss0, grad0,
                                       sharpness_baselines))
    else:
        for name in ("numpy", "torch", "torch.compile", "jax"):
            out["step"][name] = {"skip": f"n*m = {n * m:.0e} > {max_nm:.0e}"}
    out["max_rss_mb"] = max_rss_mb()
    return out


def _measure_baselines(out, problem, fast, baselines, timing, sharpness0, loss0, grad0, sharpness_baselines):
    """GD steps, HVP and HVP-Lanczos sharpness of every available baseline, into ``out``."""
    for base in baselines:
        if isinstance(base, Unavailable):
            out["step"][base.name] = {"skip": base.reason}
            continue
        log(f"    {base.name}")
        try:
            _measure_baseline(out, problem, fast, base, timing, sharpness0, loss0, grad0, sharpness_baselines)
        except Exception as exc:  # noqa: BLE001 (one broken baseline must not lose the others' numbers)
            out["step"][base.name] = {"skip": f"failed ({type(exc).__name__}: {exc})"[:300]}
            out.setdefault("notes", {})[base.name] = out["step"][base.name]["skip"]


def _measure_baseline(out, problem, fast, base, timing, sharpness0, loss0, grad0, sharpness_baselines):
    """One baseline: its check, GD steps, HVP and HVP-Lanczos sharpness, into ``out``."""
    out["errors"][base.name] = relative_error(base.loss_and_grad(problem, problem.theta), (loss0, grad0))
    start = time.perf_counter()
    advance = base.gd(problem)
    out["step"][base.name] = _with_rates(time_steps(advance, timing, loss0=loss0), problem)
    out["step"][base.name]["setup_s"] = time.perf_counter() - start
    if getattr(base, "hvp", None) is None:
        return
    hvp = base.hvp(problem)
    out["errors"][f"{base.name} hvp"] = relative_error(hvp(problem.u), fast.hvp(problem.theta, problem.u))
    out["hvp"][base.name] = time_call(lambda: hvp(problem.u), timing)
    if sharpness_baselines:
        dim = problem.theta.size
        found_timing, found = time_repeated(lambda: lanczos_top(hvp, dim, tol=1e-10), min(3, timing.repeat))
        out["sharpness"][base.name] = {**found_timing, **found}
        out["errors"][f"{base.name} sharpness"] = abs(found["value"] - sharpness0) / sharpness0


def thread_counts(cores: int) -> list:
    """1, 2, 4, ... and every available core."""
    counts, t = [], 1
    while t < cores:
        counts.append(t)
        t *= 2
    return counts + [cores]


def measure_threads(problem, timing: Timing, *, with_dense: bool) -> dict:
    """Thread scaling at this size, on 1, 2, 4, ... threads up to every available core: the fast
    kernel's GD steps (``relu1d.train``), one HVP and the sharpness from scratch; the dense
    kernel's ``loss_and_grad``. Results must be bit-identical for every thread count (checked:
    theta after 20 steps, the sharpness, the HVP, the loss and gradient).

    ``speedup`` is the ratio of one thread's time to every core's (the GD step for the fast kernel).
    """
    cores = available_cores()
    counts = thread_counts(cores)
    once = Timing(repeat=min(3, timing.repeat), min_time=timing.min_time, warmup_time=0.0,
                  max_time=timing.max_time)
    out = {"cores": cores, "counts": counts}
    loss0 = float(relu1d.Objective(problem.x, problem.y).loss(problem.theta))
    seconds = {"step": {}, "hvp": {}, "sharpness": {}}
    values = {}
    for t in counts:
        obj = relu1d.Objective(problem.x, problem.y, kernel="fast", threads=t)
        seconds["step"][str(t)] = time_steps(_relu1d_gd(obj, problem, loss0), timing, loss0=loss0).get("median")
        fresh = alternating_thetas(problem.theta)
        seconds["hvp"][str(t)] = time_call(lambda: obj.hvp(fresh(), problem.u), timing)["median"]
        seconds["sharpness"][str(t)] = time_call(lambda: relu1d.sharpness(obj, fresh(), tol=1e-10),
                                                 once)["median"]
        run = relu1d.train(obj, problem.theta, lr=problem.lr, steps=20, record_every=20, sharpness_every=0,
                           progress=False)
        values[t] = (run.theta, relu1d.sharpness(obj, problem.theta, tol=1e-10).eigenvalues,
                     obj.hvp(problem.theta, problem.u))
    ratio = {part: (s["1"] / s[str(cores)] if s["1"] and s[str(cores)] else None) for part, s in seconds.items()}
    out["fast"] = {"seconds": seconds, "speedup": ratio["step"], "speedup_hvp": ratio["hvp"],
                   "speedup_sharpness": ratio["sharpness"],
                   "bit_identical": all(all(np.array_equal(a, b) for a, b in zip(values[t], values[1]))
                                        for t in counts)}
    if with_dense:
        times, dense_values = {}, {}
        for t in counts:
            obj = relu1d.Objective(problem.x, problem.y, kernel="dense", threads=t)
            dense_values[t] = obj.loss_and_grad(problem.theta)
            times[str(t)] = time_call(lambda: obj.loss_and_grad(problem.theta), timing)["median"]
        out["dense"] = {"seconds": times, "speedup": times["1"] / times[str(cores)],
                        "bit_identical": all(dense_values[t][0] == dense_values[1][0]
                                             and np.array_equal(dense_values[t][1], dense_values[1][1])
                                             for t in counts)}
    return out


def measure_hessian(n: int, m: int, *, timing: Timing, skip=(), max_bytes: float = 4e9,
                    seed: int = 0) -> dict:
    """The full (3m+1) x (3m+1) Hessian at theta0: relu1d fast (O(m^2 + n)) and dense (O(n m^2)),
    NumPy ``J^T J / n + R`` and ``jax.hessian`` (forward over reverse).

    ``jax.hessian`` pushes 3m+1 tangents through the O(n m) forward pass at once; it is skipped
    when ``(3m+1) n m`` doubles exceed ``max_bytes``.
    """
    problem = make_problem(n, m, seed)
    fast = relu1d.Objective(problem.x, problem.y, kernel="fast", threads=1)
    dense = relu1d.Objective(problem.x, problem.y, kernel="dense", threads=1)
    ref = fast.hessian(problem.theta)
    once = Timing(repeat=min(3, timing.repeat), min_time=timing.min_time, warmup_time=0.0,
                  max_time=timing.max_time)
    out = {"n": n, "m": m, "hessian": {}, "errors": {}, "notes": {}}
    out["hessian"]["fast"] = time_call(lambda: fast.hessian(problem.theta), once)
    every_core = relu1d.Objective(problem.x, problem.y, kernel="fast")  # threads=None, as NumPy and JAX use
    out["errors"]["fast, every core"] = relative_error(every_core.hessian(problem.theta), ref)
    out["hessian"]["fast, every core"] = time_call(lambda: every_core.hessian(problem.theta), once)
    out["errors"]["dense"] = relative_error(dense.hessian(problem.theta), ref)
    out["hessian"]["dense"] = time_call(lambda: dense.hessian(problem.theta), once)
    out["max_rss_mb_relu1d"] = max_rss_mb()
    for base in load_baselines(skip=tuple(skip) + ("torch", "torch.compile")):
        if isinstance(base, Unavailable):
            if base.name == "jax":
                out["hessian"]["jax"] = {"skip": base.reason}
                out["notes"]["jax"] = base.reason
            continue
        need = 8.0 * (3 * m + 1) * n * m
        if base.name == "jax" and need > max_bytes:
            out["hessian"]["jax"] = {"skip": f"(3m+1) n m doubles = {need / 1e9:.1f} GB > {max_bytes / 1e9:g} GB"}
            continue
        log(f"    {base.name} hessian")
        start = time.perf_counter()
        fn = base.hessian(problem)
        out["errors"][base.name] = relative_error(fn(), ref)   # the first call compiles (JAX)
        first = time.perf_counter() - start
        out["hessian"][base.name] = {**time_call(fn, once), "first_call_s": first}
    out["max_rss_mb"] = max_rss_mb()
    return out


def measure_long_run(n: int, m: int, *, steps: int, lr: float, sharpness_every: int,
                     record_every: int = 1000, seed: int = 0, progress: bool = False) -> dict:
    """A long GD run through ``relu1d.train`` exactly as a user runs it, with sharpness tracking.

    Returns the wall time, microseconds per step, the share of the time spent in Lanczos (timed in
    the C++ loop), measurements and HVPs per measurement, and the Python driver's share (time
    outside the compiled loop).
    """
    x, y = relu1d.make_data(n, sigma=0.3, target="hat", rng=seed)
    objective = relu1d.Objective(x, y)
    theta0 = relu1d.init_params(m, rng=seed + 1)
    start = time.perf_counter()
    run = relu1d.train(objective, theta0, lr=lr, steps=steps, record_every=record_every,
                       sharpness_every=sharpness_every, progress=progress)
    wall = time.perf_counter() - start
    history = run.history
    measured = int(np.isfinite(history["sharpness"]).sum())
    key = "sharpness_products" if "sharpness_products" in list(history) else "products"
    try:
        products = int(np.asarray(history[key]).sum())
    except KeyError:
        products = -1
    return {"n": n, "m": m, "lr": lr, "steps": int(run.steps), "status": run.status,
            "sharpness_every": sharpness_every, "wall_s": wall, "us_per_step": 1e6 * wall / max(run.steps, 1),
            "sharpness_share": run.sharpness_time / wall if wall > 0 else float("nan"),
            "measurements": measured, "products_per_measurement": products / max(measured, 1),
            "driver_share": (run.wall_time - run.core_time) / run.wall_time if run.wall_time > 0 else 0.0,
            "driver_s": run.wall_time - run.core_time, "final_loss": float(run.final_loss),
            "final_sharpness": float(run.sharpness), "edge_of_stability": 2.0 / lr,
            "max_rss_mb": max_rss_mb()}
