// The SIMD paths and the build's description: what relu1d.info() reports, and the switch the
// tests use to run every path.
#include <pybind11/stl.h>

#include "common.hpp"
#include "relu1d/simd.hpp"

namespace relu1d::bindings {

void register_simd(py::module_& m) {
    m.def("simd_path", &simd_path, "The SIMD path of the per-neuron loops in use.");
    m.def("simd_paths_available", &simd_paths_available,
          "The SIMD paths this build has and this CPU runs, slowest first ('portable' always).");
    m.def("simd_path_names", &simd_path_names, "Every SIMD path name this package knows.");
    m.def("set_simd_path", &set_simd_path, py::arg("name"),
          "Use the SIMD path `name` ('auto': the best available) from now on; returns the previous one. "
          "ValueError for an unknown or unavailable path. Every path gives the same bits.");
    m.def(
        "build_info",
        [] {
            const BuildInfo b = build_info();
            py::dict out;
            out["build"] = b.build;
            out["compiler"] = b.compiler;
            out["flags"] = b.flags;
            out["baseline_isa"] = b.baseline_isa;
            return out;
        },
        "How the compiled core was built: build ('native' or 'portable'), compiler, flags, baseline_isa.");
    m.def("default_threads", &default_threads, "The thread count that threads=None resolves to.");
}

}  // namespace relu1d::bindings
