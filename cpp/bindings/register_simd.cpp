// The SIMD paths and the build's description: what relu1d.info() reports, and the switch the
// tests use to run every path.
#include <pybind11/stl.h>

#include "common.hpp"
#include "relu1d/parallel.hpp"
#include "relu1d/simd.hpp"

namespace relu1d::bindings {

namespace {

// A count >= 1 for a test hook: TypeError for anything but an integer (bool included), ValueError
// below 1 or beyond the range of a count; the message names the argument.
std::size_t hook_count(const py::handle& value, const char* name) {
    if (PyBool_Check(value.ptr()) || !PyIndex_Check(value.ptr()))
        throw py::type_error(std::string(name) + ": expected an integer, got " +
                             std::string(py::str(py::type::handle_of(value).attr("__name__"))));
    const py::int_ number = py::reinterpret_steal<py::int_>(PyNumber_Index(value.ptr()));
    if (number < py::int_(1)) throw py::value_error(std::string(name) + ": must be >= 1");
    if (number > py::int_(static_cast<long long>(1) << 62))
        throw py::value_error(std::string(name) + ": must be at most 2**62");
    return static_cast<std::size_t>(number.cast<long long>());
}

}  // namespace

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
    m.def("default_threads", &default_threads,
          "The most threads that threads=None allows (the CPUs available); each loop uses one per parallel_grain() "
          "neurons at most.");
    m.def("parallel_grain", &parallel_grain, "Neurons per thread below which the fast kernel's loops use fewer threads.");
    m.def(
        "set_parallel_grain",
        [](const py::handle& items) {
            const std::size_t value = hook_count(items, "items");
            const std::size_t before = parallel_grain();
            set_parallel_grain(value);
            return before;
        },
        py::arg("items"),
        "Set parallel_grain() for the process (tests lower it to thread small problems; the results never depend "
        "on it); returns the previous value.");
    m.def("scatter_block_min", &scatter_block_min,
          "Neurons per block (at least) of the fast kernel's scatter into slots: sets the order of additions.");
    m.def(
        "set_scatter_block_min",
        [](const py::handle& neurons) {
            const std::size_t value = hook_count(neurons, "neurons");
            const std::size_t before = scatter_block_min();
            set_scatter_block_min(value);
            return before;
        },
        py::arg("neurons"),
        "Set scatter_block_min() for the process (tests lower it to exercise the blocked scatter on small "
        "problems); returns the previous value. Results depend on it, never on the threads.");
    m.def("sweep_block_points", &sweep_block_points,
          "Data points per block of the fast kernel's sweeps: sets the order of additions.");
    m.def(
        "set_sweep_block_points",
        [](const py::handle& points) {
            const std::size_t value = hook_count(points, "points");
            const std::size_t before = sweep_block_points();
            set_sweep_block_points(value);
            return before;
        },
        py::arg("points"),
        "Set sweep_block_points() for the process (tests lower it to exercise the blocked sweeps on small "
        "data); returns the previous value. Results depend on it, never on the threads.");
}

}  // namespace relu1d::bindings
