"""Turning the suite's results into Markdown tables, a JSON file and a log-log plot.

Ratios are always ``other time / relu1d fast time`` from the same run (above 1: relu1d is faster).
"""

from __future__ import annotations

import json

from harness import jsonable

STEP_COLUMNS = ("dense", "numpy", "torch", "torch.compile", "jax")
LABELS = {"fast": "relu1d fast", "dense": "relu1d dense", "numpy": "NumPy", "torch": "PyTorch",
          "torch.compile": "torch.compile", "jax": "JAX jit"}


def seconds(value: float) -> str:
    """Seconds with a unit: 1.23 s, 4.56 ms, 7.89 us, 12 ns."""
    for unit, scale in (("s", 1.0), ("ms", 1e-3), ("us", 1e-6)):
        if value >= scale:
            return f"{value / scale:.3g} {unit}"
    return f"{value / 1e-9:.3g} ns"


def number(value: float) -> str:
    """A ratio or rate with 3 significant digits, thousands separated."""
    if value >= 1000:
        return f"{value:,.0f}"
    return f"{value:.3g}"


def ratio_cell(result: dict | None, reference: dict) -> str:
    if not result:
        return ""
    if "skip" in result:
        return "skip" if result["skip"].startswith("n*m") or "GB" in result["skip"] else "n/a"
    if "diverged" in result:
        return "diverged"
    if "median" not in result or "median" not in reference:
        return "?"
    return number(result["median"] / reference["median"])


def check_cell(errors: dict, rtol: float) -> str:
    bad = [f"{k} {v:.1e}" for k, v in errors.items() if not v <= rtol]
    return "ok" if not bad else "WARN " + ", ".join(bad)


def table(header: list, rows: list) -> str:
    """A Markdown table; numeric-looking columns right-aligned."""
    align = ["---:" if i < 2 or not h.startswith(("check", "note")) else "---" for i, h in enumerate(header)]
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join(align) + "|"]
    lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return "\n".join(lines)


def step_table(sizes: list, rtol: float) -> str:
    header = ["n", "m", "fast steps/s", "ns/(n+m)"] + [LABELS[c] for c in STEP_COLUMNS] + ["check"]
    rows = []
    for s in sizes:
        if "error" in s:
            rows.append([s["n"], s["m"], s["error"]] + [""] * (len(header) - 3))
            continue
        fast = s["step"]["fast"]
        if "median" not in fast:
            rows.append([s["n"], s["m"], fast.get("diverged", "?")] + [""] * (len(header) - 3))
            continue
        rows.append([f"{s['n']:,}", f"{s['m']:,}", number(fast["steps_per_s"]), f"{fast['ns_per_n_plus_m']:.2f}"]
                    + [ratio_cell(s["step"].get(c), fast) for c in STEP_COLUMNS]
                    + [check_cell(s["errors"], rtol)])
    return table(header, rows)


def hvp_table(sizes: list) -> str:
    """relu1d's HVP at a new theta (its forward pass included, like the baselines'), the ratios
    to it, and relu1d's HVP repeated at one theta (the prepared state reused)."""
    columns = ("dense", "numpy", "torch", "jax")
    header = ["n", "m", "relu1d fast HVP"] + [LABELS[c] for c in columns] + ["relu1d fast, same theta again"]
    rows = []
    for s in sizes:
        if "hvp" not in s:
            continue
        held = s["hvp"].get("fast, same theta")
        rows.append([f"{s['n']:,}", f"{s['m']:,}", seconds(s["hvp"]["fast"]["median"])]
                    + [ratio_cell(s["hvp"].get(c) or _skip_of(s, c), s["hvp"]["fast"]) for c in columns]
                    + [seconds(held["median"]) if held and "median" in held else "n/a"])
    return table(header, rows)


def _skip_of(size: dict, name: str):
    step = size.get("step", {}).get(name)
    return step if step and "skip" in step else None


def sharpness_table(sizes: list) -> str:
    columns = ("numpy", "torch", "jax")
    header = ["n", "m", "relu1d.sharpness", "HVPs"] + [f"{LABELS[c]} Lanczos" for c in columns]
    rows = []
    for s in sizes:
        if "sharpness" not in s:
            continue
        fast = s["sharpness"]["fast"]
        cells = []
        for c in columns:
            res = s["sharpness"].get(c) or _skip_of(s, c)
            cell = ratio_cell(res, fast)
            if res and "products" in res:
                cell += f" ({res['products']} HVPs)"
            cells.append(cell)
        rows.append([f"{s['n']:,}", f"{s['m']:,}", seconds(fast["median"]), fast["products"]] + cells)
    return table(header, rows)


def hessian_table(hessians: list, rtol: float) -> str:
    columns = ("dense", "numpy", "jax")
    header = ["n", "m", "relu1d fast Hessian", "fast, every core", "jax.hessian / fast, every core"] \
        + [LABELS[c] if c != "jax" else "jax.hessian" for c in columns] + ["peak RSS relu1d / all (MiB)", "check"]
    rows = [[f"{h['n']:,}", f"{h['m']:,}", seconds(h["hessian"]["fast"]["median"]),
             seconds(h["hessian"]["fast, every core"]["median"]) if "fast, every core" in h["hessian"] else "n/a",
             ratio_cell(h["hessian"].get("jax"), h["hessian"]["fast, every core"])
             if "fast, every core" in h["hessian"] else "n/a"]
            + [ratio_cell(h["hessian"].get(c), h["hessian"]["fast"]) for c in columns]
            + [f"{h['max_rss_mb_relu1d']:.0f} / {h['max_rss_mb']:.0f}", check_cell(h["errors"], rtol)]
            for h in hessians if "hessian" in h]
    return table(header, rows)


def gflops_table(sizes: list, peak: dict) -> str:
    header = ["n", "m", "dense loss_and_grad", "GFLOP/s", "% of FMA peak"]
    rows = []
    for s in sizes:
        lg = s.get("dense_loss_and_grad")
        if not lg:
            continue
        share = f"{100 * lg['gflops'] / peak['gflops']:.1f}" if "gflops" in peak else "n/a"
        rows.append([f"{s['n']:,}", f"{s['m']:,}", seconds(lg["median"]), f"{lg['gflops']:.2f}", share])
    return table(header, rows)


def threads_table(sizes: list) -> str:
    header = ["n", "m", "cores", "fast GD step: 1 thread / all", "fast HVP", "fast sharpness",
              "dense loss_and_grad", "bit-identical"]
    rows = []

    def ratio(value):
        return f"{value:.2f}" if value else "n/a"

    for s in sizes:
        t = s.get("threads")
        if not t:
            continue
        fast, dense = t["fast"], t.get("dense")
        same = fast["bit_identical"] and (dense is None or dense["bit_identical"])
        rows.append([f"{s['n']:,}", f"{s['m']:,}", t["cores"], ratio(fast.get("speedup")),
                     ratio(fast.get("speedup_hvp")), ratio(fast.get("speedup_sharpness")),
                     ratio(dense["speedup"]) if dense else "skip", "yes" if same else "NO"])
    return table(header, rows)


def memory_table(sizes: list) -> str:
    header = ["n", "m", "relu1d.train (MiB)", "relu1d.sharpness (MiB)", "baselines (MiB)"]
    rows = []
    for s in sizes:
        if "max_rss_mb" not in s:
            continue
        peaks = s.get("peak_rss_mb", {})
        cells = [f"{peaks[k]:.0f}" if peaks.get(k) is not None else "n/a"
                 for k in ("relu1d.train", "relu1d.sharpness", "baselines")]
        rows.append([f"{s['n']:,}", f"{s['m']:,}", *cells])
    return table(header, rows)


def long_run_line(run: dict) -> str:
    if "error" in run:
        return f"long run: {run['error']}"
    return (f"{run['steps']:,} GD steps at n = {run['n']}, m = {run['m']}, lr = {run['lr']:g}, sharpness "
            f"every {run['sharpness_every']} steps: {run['wall_s']:.1f} s ({run['us_per_step']:.2f} us/step), "
            f"{100 * run['sharpness_share']:.0f}% of it measuring sharpness ({run['measurements']:,} "
            f"measurements, {run['products_per_measurement']:.1f} HVPs each), Python driver "
            f"{100 * run['driver_share']:.2f}%; final sharpness {run['final_sharpness']:.4g} vs 2/lr = "
            f"{run['edge_of_stability']:.4g}; status {run['status']}")


def core_line(core: dict) -> str:
    """The SIMD path relu1d ran (RELU1D_SIMD can choose another than the best) and its build."""
    return f" ({core['simd_path']} path, {core['build']} build)" if "simd_path" in core and "build" in core else ""


def memory_floor_line(floor: dict | None) -> str:
    """The GD step's compulsory memory traffic, timed alone (memory_floor.py)."""
    if not floor:
        return "Memory floor of a GD step: not measured"
    if "skip" in floor:
        return f"Memory floor of a GD step: {floor['skip']}"
    widths = ", ".join(f"{float(t):.2f} ns at m = {int(m):,}" for m, t in floor["ns_per_neuron"].items())
    return (f"Memory floor of a GD step (its {floor['bytes_per_neuron']} bytes per neuron streamed alone, "
            f"one thread, measured): {widths}")


def markdown(results: dict) -> str:
    """The whole report as Markdown: machine, command, then one section per suite."""
    info = results["machine"]
    peak = results.get("fma_peak", {})
    rtol = results["settings"]["rtol"]
    sizes = results.get("sizes", [])
    out = [f"Command: `{results['command']}`  ",
           f"Machine: {info['cpu']} ({info['simd']}), {info['cores_available']} cores available; "
           f"{info['platform']}; Python {info['python']}, NumPy {info['numpy']} ({info['numpy_blas']}), "
           f"relu1d {info['relu1d']}{core_line(info.get('relu1d_core', {}))}  ",
           "Baselines: " + "; ".join(f"{k}: {v}" for k, v in results.get("baselines", {}).items()) + "  ",
           f"Load average before / after: {info['load_average']} / {results.get('load_after')}; "
           f"total {results.get('elapsed_s', 0):.0f} s  ",
           f"FMA peak (one thread, measured): "
           + (f"{peak['gflops']:.1f} GFLOP/s" if "gflops" in peak else peak.get("skip", "n/a")) + "  ",
           memory_floor_line(results.get("memory_floor")), ""]
    if sizes:
        out += ["### GD steps (steps/s of relu1d.train; other columns: time per step / relu1d fast's)", "",
                step_table(sizes, rtol), "",
                "### One Hessian-vector product at a new theta (time / relu1d fast's)", "", hvp_table(sizes), "",
                "### Sharpness from scratch to 1e-10 (time / relu1d.sharpness's)", "", sharpness_table(sizes), "",
                "### Dense kernel throughput (one thread)", "", gflops_table(sizes, peak), "",
                "### Thread scaling (time on 1 thread / on every core, same bits)", "", threads_table(sizes), "",
                "### Peak resident memory of the process during each part (VmHWM, data included)", "", memory_table(sizes), ""]
    if results.get("hessians"):
        out += ["### Full Hessian (time / relu1d fast's)", "", hessian_table(results["hessians"], rtol), ""]
    if results.get("long_run"):
        out += ["### Long run", "", long_run_line(results["long_run"]), ""]
    notes = sorted({f"{k}: {v}" for s in sizes + results.get("hessians", []) for k, v in s.get("notes", {}).items()})
    if notes:
        out += ["Not run: " + "; ".join(notes) + ".", ""]
    return "\n".join(out)


def save_json(path: str, results: dict) -> None:
    with open(path, "w", encoding="utf-8") as fh:
        json.dump(jsonable(results), fh, indent=1)
        fh.write("\n")


def plot(path: str, results: dict) -> str | None:
    """Log-log plot of seconds per GD step against m, one line per implementation (None: no matplotlib)."""
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return None
    sizes = [s for s in results.get("sizes", []) if "step" in s]
    fig, ax = plt.subplots(figsize=(7, 4.5))
    for index, name in enumerate(("fast",) + STEP_COLUMNS):
        color = f"C{index}"
        grid = sorted((s["m"], s["step"][name]["median"]) for s in sizes
                      if "median" in s["step"].get(name, {}) and s["m"] == 4 * s["n"])
        other = [(s["m"], s["step"][name]["median"], s["n"]) for s in sizes
                 if "median" in s["step"].get(name, {}) and s["m"] != 4 * s["n"]]
        if grid:
            ax.plot([p[0] for p in grid], [p[1] for p in grid], "o-", color=color, label=LABELS[name])
        for m, t, n in other:
            ax.plot([m], [t], "s", color=color, label=None if grid else LABELS[name])
            if name == "fast":
                ax.annotate(f"n={n:,}", (m, t), fontsize=6, textcoords="offset points", xytext=(-4, -9), ha="right")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("m (neurons)")
    ax.set_ylabel("seconds per GD step")
    core = core_line(results["machine"].get("relu1d_core", {}))  # e.g. " (avx2 path, native build)"
    ax.set_title(f"Full-batch GD step, float64, {results['machine']['cpu']}, relu1d{core}\n"
                 f"lines: n = m/4, squares: other n", fontsize=8)
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path
