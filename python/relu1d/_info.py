"""What runs: the SIMD path of the compiled per-neuron loops, how the core was built, the threads.

``info()`` is what a bug report should quote (``relu1d info`` prints it). The compiled core holds
hand-written loops for several instruction sets and runs the best one the CPU has; every path gives
the same bits, so the choice changes speed only. The environment variable ``RELU1D_SIMD``
(``auto``, ``portable``, ``avx2``, ``avx512``), read at import, or ``set_simd_path`` overrides it.
"""

from __future__ import annotations

import os
import platform
import sys

import numpy as np

from . import _core
from ._version import __version__

__all__ = ["info", "format_info", "set_simd_path"]

#: The environment variable read at import: the SIMD path to use instead of the best available.
SIMD_ENV = "RELU1D_SIMD"


def set_simd_path(name: str) -> str:
    """Run the compiled per-neuron loops on the SIMD path ``name`` from now on, in every thread.

    Parameters
    ----------
    name : str
        ``"auto"`` (the best path this build has and this CPU runs), or one of
        ``info()["simd_paths_available"]``: ``"portable"`` (plain C++ that the compiler vectorises
        for the build's target), ``"avx2"`` (AVX2 + FMA CPUs), ``"avx512"`` (AVX-512 F and DQ).

    Returns
    -------
    str
        The path in use before.

    Every path gives the same bits: the activation predicate fl(fl(w x) + b) > 0 and the order of
    every sum are the same on each, and no path fuses a multiply-add. So switching changes speed
    only, even in the middle of a run.

    Raises
    ------
    TypeError
        ``name`` is not a string.
    ValueError
        An unknown path, or one this build or CPU lacks (the message lists those available).
    """
    if not isinstance(name, str):
        raise TypeError(f"name: expected a string, got {type(name).__name__}")
    return _core.set_simd_path(name)


def _cpu_model() -> str:
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _cpus_available() -> int:
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1


def info() -> dict:
    """What runs here, for bug reports and benchmark records.

    Returns
    -------
    dict
        ``version``; ``simd_path`` (in use) and ``simd_paths_available`` (slowest first);
        ``build`` (``"native"``: compiled with -march=native for the building machine's CPU, or
        ``"portable"``: the compiler's default target, as a wheel), ``compiler``, ``flags`` (the
        core's compile options) and ``baseline_isa`` (the instruction-set extensions the whole core
        may use); ``threads_default`` (what ``threads=None`` resolves to) and ``cpus_available``
        (the CPUs this process may run on); ``cpu``, ``python``, ``numpy``.
    """
    build = _core.build_info()
    return {
        "version": __version__,
        "simd_path": _core.simd_path(),
        "simd_paths_available": tuple(_core.simd_paths_available()),
        "build": build["build"],
        "compiler": build["compiler"],
        "flags": build["flags"],
        "baseline_isa": build["baseline_isa"],
        "threads_default": int(_core.default_threads()),
        "cpus_available": _cpus_available(),
        "cpu": _cpu_model(),
        "python": platform.python_version(),
        "numpy": np.__version__,
    }


def format_info(details: dict | None = None) -> str:
    """``info()`` (or ``details``) as aligned ``key  value`` lines."""
    details = info() if details is None else details
    lines = []
    for key, value in details.items():
        if isinstance(value, (tuple, list)):
            value = ", ".join(str(v) for v in value)
        lines.append(f"{key:<22}{value}")
    return "\n".join(lines)


def _select_from_environment() -> None:
    """Apply RELU1D_SIMD (empty or unset: the best path), else ValueError naming the variable."""
    name = os.environ.get(SIMD_ENV, "").strip()
    if not name:
        return
    try:
        _core.set_simd_path(name)
    except ValueError as exc:
        raise ValueError(f"{SIMD_ENV}={name!r}: {exc}") from None


_select_from_environment()
