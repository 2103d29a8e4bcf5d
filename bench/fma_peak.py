"""The single-core double-precision FMA peak of this machine, measured, not looked up.

Method: a 20-line C kernel is compiled at run time with the system C compiler (``cc``, or ``$CC``)
at ``-O2 -march=native``, for vectors of 16, 32 and 64 bytes (GCC/Clang vector extensions). Its loop
updates 12 independent vector accumulators with ``acc = acc * a + b``, which the compiler emits as
fused multiply-adds: 12 independent chains hide the FMA latency (4 cycles) on two FMA ports. One
call of ``iters`` iterations does ``iters * 12 * lanes`` FMAs, i.e. twice as many flops. The peak is
the best rate over the vector widths, timed on one thread (the median of repeats). It is what one
core sustains on register-resident data: an upper bound for any kernel, reached only by
compute-bound code.

    python bench/fma_peak.py        # prints GFLOP/s per vector width
"""

from __future__ import annotations

import ctypes
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

ACCUMULATORS = 12

KERNEL = r"""
typedef double vec __attribute__((vector_size(VBYTES)));
#define LANES (VBYTES / 8)
double fma_loop(long iters, double a, double b) {
    vec acc[12], va, vb;
    for (int l = 0; l < LANES; ++l) { va[l] = a; vb[l] = b; }
    for (int j = 0; j < 12; ++j)
        for (int l = 0; l < LANES; ++l) acc[j][l] = 1.0 + 1e-3 * (j * LANES + l);
    for (long i = 0; i < iters; ++i) {
        acc[0] = acc[0] * va + vb;   acc[1] = acc[1] * va + vb;   acc[2] = acc[2] * va + vb;
        acc[3] = acc[3] * va + vb;   acc[4] = acc[4] * va + vb;   acc[5] = acc[5] * va + vb;
        acc[6] = acc[6] * va + vb;   acc[7] = acc[7] * va + vb;   acc[8] = acc[8] * va + vb;
        acc[9] = acc[9] * va + vb;   acc[10] = acc[10] * va + vb; acc[11] = acc[11] * va + vb;
    }
    double s = 0.0;
    for (int j = 0; j < 12; ++j)
        for (int l = 0; l < LANES; ++l) s += acc[j][l];
    return s;
}
"""


def compiler() -> str | None:
    """The C compiler to use: ``$CC``, else the first of cc, gcc, clang on the PATH."""
    for name in (os.environ.get("CC"), "cc", "gcc", "clang"):
        if name and shutil.which(name):
            return shutil.which(name)
    return None


def build_library(cc: str, code: str, name: str, folder: str, flags: list) -> ctypes.CDLL:
    """C source ``code`` compiled with ``cc`` and ``flags`` into ``folder/name.so``, loaded
    (subprocess.CalledProcessError or OSError where it does not build)."""
    source = os.path.join(folder, f"{name}.c")
    library = os.path.join(folder, f"{name}.so")
    with open(source, "w", encoding="utf-8") as fh:
        fh.write(code)
    subprocess.run([cc, *flags, "-fPIC", "-shared", source, "-o", library], check=True, capture_output=True, text=True)
    return ctypes.CDLL(library)


def _build(cc: str, vbytes: int, folder: str):
    lib = build_library(cc, KERNEL, f"fma{vbytes}", folder,
                        ["-O2", "-march=native", "-ffp-contract=fast", f"-DVBYTES={vbytes}"])
    lib.fma_loop.restype = ctypes.c_double
    lib.fma_loop.argtypes = [ctypes.c_long, ctypes.c_double, ctypes.c_double]
    return lib.fma_loop


def _rate(fn, lanes: int, repeat: int, min_time: float) -> float:
    """Median GFLOP/s of ``fn`` over ``repeat`` calls each lasting about ``min_time`` seconds."""
    iters = 1000
    while True:
        start = time.perf_counter()
        fn(iters, 0.999999999, 1e-9)
        spent = time.perf_counter() - start
        if spent >= min_time / 4:
            break
        iters *= 4
    iters = max(1, int(iters * min_time / spent))
    rates = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn(iters, 0.999999999, 1e-9)
        rates.append(2.0 * iters * ACCUMULATORS * lanes / (time.perf_counter() - start) / 1e9)
    return statistics.median(rates)


def measure_fma_peak(repeat: int = 5, min_time: float = 0.1) -> dict:
    """Single-thread double-precision GFLOP/s of the FMA loop for each vector width.

    Returns ``{"gflops": best, "by_vector_bytes": {16: ..., 32: ..., 64: ...}, "compiler": path,
    "method": ...}``, or ``{"skip": reason}`` when no C compiler works.
    """
    cc = compiler()
    if cc is None:
        return {"skip": "no C compiler found (set CC)"}
    rates = {}
    with tempfile.TemporaryDirectory(prefix="relu1d-fma-") as folder:
        for vbytes in (16, 32, 64):
            try:
                fn = _build(cc, vbytes, folder)
            except (subprocess.CalledProcessError, OSError) as exc:
                rates[vbytes] = f"build failed: {getattr(exc, 'stderr', exc)}".strip()[:200]
                continue
            rates[vbytes] = _rate(fn, vbytes // 8, repeat, min_time)
    numbers = [r for r in rates.values() if isinstance(r, float)]
    if not numbers:
        return {"skip": "the FMA kernel did not build", "by_vector_bytes": rates}
    return {"gflops": max(numbers), "by_vector_bytes": rates, "compiler": cc,
            "method": f"{ACCUMULATORS} independent vector FMA chains, -O2 -march=native, one thread"}


if __name__ == "__main__":
    result = measure_fma_peak()
    if "skip" in result:
        print(result["skip"])
        sys.exit(1)
    for vbytes, rate in result["by_vector_bytes"].items():
        print(f"{vbytes:3d}-byte vectors: {rate:.1f} GFLOP/s" if isinstance(rate, float)
              else f"{vbytes:3d}-byte vectors: {rate}")
    print(f"peak (one thread): {result['gflops']:.1f} GFLOP/s")
