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

// m.set_<hook>(arg): set a process-wide count through `set` after hook_count's check; returns the
// previous value (from `get`).
void def_hook_setter(py::module_& m, const char* name, std::size_t (*get)(), void (*set)(std::size_t),
                     const char* arg, const char* doc) {
    m.def(
        name,
        [get, set, arg](const py::handle& value) {
            const std::size_t count = hook_count(value, arg);
            const std::size_t before = get();
            set(count);
            return before;
        },
        py::arg(arg), doc);
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
    def_hook_setter(m, "set_parallel_grain", &parallel_grain, &set_parallel_grain, "items",
                    "Set parallel_grain() for the process (tests lower it to thread small problems; the results never "
                    "depend on it); returns the previous value.");
    m.def("scatter_block_min", &scatter_block_min,
          "Neurons per block (at least) of the fast kernel's scatter into slots: sets the order of additions.");
    def_hook_setter(m, "set_scatter_block_min", &scatter_block_min, &set_scatter_block_min, "neurons",
                    "Set scatter_block_min() for the process (tests lower it to exercise the blocked scatter on small "
                    "problems); returns the previous value. Results depend on it, never on the threads.");
    m.def("sweep_block_points", &sweep_block_points,
          "Data points per block of the fast kernel's sweeps: sets the order of additions.");
    def_hook_setter(m, "set_sweep_block_points", &sweep_block_points, &set_sweep_block_points, "points",
                    "Set sweep_block_points() for the process (tests lower it to exercise the blocked sweeps on "
                    "small data); returns the previous value. Results depend on it, never on the threads.");
}

}  // namespace relu1d::bindings
