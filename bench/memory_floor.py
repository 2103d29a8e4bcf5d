"""The memory floor of a GD step of the fast kernel: its compulsory traffic per neuron, timed alone.

A step of the fast kernel reads each live neuron's (w, b, v) and slot (four 8-byte arrays) and
writes them back: 64 bytes per neuron (its squared gradient norm is summed on the way, never
stored), whatever else it does (the slot-table lookups and additions, the boundary checks, the O(n) sweep
come on top). Once the arrays outgrow a core's caches, this streaming alone sets a lower bound on
the time per step, from whichever level holds them: 32 bytes a neuron are 32 MB at m = 1e6, past
the L2 of most CPUs but inside a large shared L3; 320 MB at m = 1e7 are in main memory on most
machines. This script measures that bound: a C loop with exactly that traffic and a few flops per
neuron, compiled at run time with the system C compiler (``cc -O3 -march=native``: vectorised;
like ``fma_peak.py``), timed on one thread (the median of repeats) for each m. Compare its ns per
neuron with the ns per (n + m) of the suite's GD steps at the same m.

    python bench/memory_floor.py                     # ns per neuron at m = 1e4, 1e5, 1e6
    python bench/memory_floor.py --widths 1e6 1e7    # other widths (1e7: 320 MB of arrays)
"""

from __future__ import annotations

import argparse
import ctypes
import subprocess
import sys
import tempfile

import numpy as np

from fma_peak import build_library, compiler
from harness import Timing, time_call

BYTES_PER_NEURON = 64  # read w, b, v, slot; write w, b, v, slot

KERNEL = r"""
void step_traffic(long m, double *restrict w, double *restrict b, double *restrict v, long *restrict slot,
                  double eta) {
    for (long k = 0; k < m; ++k) {
        const double gw = eta * v[k], gb = eta * w[k], gv = eta * b[k];
        w[k] -= gw;
        b[k] -= gb;
        v[k] -= gv;
        slot[k] ^= 1;
    }
}
"""


def _build(cc: str, folder: str):
    lib = build_library(cc, KERNEL, "traffic", folder, ["-O3", "-march=native"])
    lib.step_traffic.restype = None
    pointer = ctypes.c_void_p
    lib.step_traffic.argtypes = [ctypes.c_long, pointer, pointer, pointer, pointer, ctypes.c_double]
    return lib.step_traffic


def _ns_per_neuron(fn, m: int, repeat: int, min_time: float) -> float:
    arrays = [np.full(m, 0.5) for _ in range(3)] + [np.zeros(m, dtype=np.int64)]
    pointers = [a.ctypes.data for a in arrays]
    eta = 1e-12  # the parameters barely move: finite for any number of passes
    # (time_call's first, untimed call is the first touch of the pages)
    timing = Timing(repeat=repeat, min_time=min_time, warmup_time=0.0)
    return 1e9 * time_call(lambda: fn(m, *pointers, eta), timing)["median"] / m


def measure_memory_floor(widths=(10_000, 100_000, 1_000_000), repeat: int = 5, min_time: float = 0.1) -> dict:
    """ns per neuron of the GD step's compulsory traffic (64 bytes) for each m, on one thread.

    Returns ``{"ns_per_neuron": {m: ns}, "gb_per_s": {m: GB/s}, "bytes_per_neuron": 64,
    "compiler": path, "method": ...}``, or ``{"skip": reason}`` when no C compiler works.
    """
    cc = compiler()
    if cc is None:
        return {"skip": "no C compiler found (set CC)"}
    with tempfile.TemporaryDirectory(prefix="relu1d-floor-") as folder:
        try:
            fn = _build(cc, folder)
        except (subprocess.CalledProcessError, OSError) as exc:
            return {"skip": f"the traffic kernel did not build: {getattr(exc, 'stderr', exc)}".strip()[:200]}
        ns = {int(m): _ns_per_neuron(fn, int(m), repeat, min_time) for m in widths}
    return {"ns_per_neuron": ns, "gb_per_s": {m: BYTES_PER_NEURON / t for m, t in ns.items()},
            "bytes_per_neuron": BYTES_PER_NEURON, "compiler": cc,
            "method": "read w, b, v, slot; write them (64 B per neuron), -O3 -march=native, one thread"}


def _width(text: str) -> int:
    """A neuron count such as 100000 or 1e5."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number of neurons, got {text!r}") from None
    if not value.is_integer() or not 1 <= value <= 1e9:
        raise argparse.ArgumentTypeError(f"expected a whole number of neurons in [1, 1e9], got {text!r}")
    return int(value)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--widths", nargs="+", type=_width, default=[10_000, 100_000, 1_000_000], metavar="M",
                        help="numbers of neurons (default 1e4 1e5 1e6)")
    result = measure_memory_floor(widths=parser.parse_args().widths)
    if "skip" in result:
        print(result["skip"])
        sys.exit(1)
    for m, ns in result["ns_per_neuron"].items():
        print(f"m = {m:>11,}: {ns:.2f} ns per neuron ({result['gb_per_s'][m]:.1f} GB/s)")
