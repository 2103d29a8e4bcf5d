// The options and the shared tables: LanczosOptions, TrainOptions, the kernel names, the history
// columns, the stop reasons and the check of theta's length, each bound once.
#include <pybind11/stl.h>

#include "common.hpp"
#include "relu1d/history.hpp"
#include "relu1d/lanczos.hpp"
#include "relu1d/numerics.hpp"
#include "relu1d/trainer.hpp"

namespace relu1d::bindings {

namespace {

Which parse_which(const std::string& which) {
    if (which == "largest") return Which::largest;
    if (which == "smallest") return Which::smallest;
    throw py::value_error("which: expected 'largest' or 'smallest', got '" + which + "'");
}

const char* which_name(Which which) { return which == Which::largest ? "largest" : "smallest"; }

}  // namespace

void register_options(py::module_& m) {
    m.def(
        "all_finite",
        [](py::array_t<double, py::array::c_style> a) {
            const double* p = a.data();
            const auto n = static_cast<std::size_t>(a.size());
            py::gil_scoped_release release;
            return all_finite(p, n);
        },
        py::arg("a"),
        "Whether every entry of a C-contiguous float64 array is finite (one vectorised pass, no "
        "temporary array: the check of every array argument).");
    m.def("theta_width", [](std::size_t length) { return theta_width(length); }, py::arg("length"),
          "The width m of a parameter vector of length 3m+1 (m >= 1), else ValueError.");
    py::list kernels;
    for (const auto& name : kernel_names()) kernels.append(name);
    m.attr("KERNELS") = py::tuple(kernels);
    py::list reasons;
    for (StopReason r : {StopReason::max_steps, StopReason::converged, StopReason::diverged, StopReason::time})
        reasons.append(stop_reason_name(r));
    m.attr("STOP_REASONS") = py::tuple(reasons);
    m.def(
        "history_columns",
        [] {
            py::list out;
            for (const auto& c : history_columns())
                out.append(py::make_tuple(c.name, column_type_name(c.type), filled_name(c.filled), c.description));
            return out;
        },
        "The recorded history's columns in order: (name, dtype, filled, description) each, filled being "
        "'every_row' or 'sharpness_rows'.");

    py::class_<LanczosOptions>(m, "LanczosOptions", "Options of the Lanczos eigensolver.")
        .def(py::init([](std::size_t k, const std::string& which, double tol, std::size_t max_iter,
                         std::uint64_t seed) {
                 LanczosOptions o;
                 o.k = k;
                 o.which = parse_which(which);
                 o.tol = tol;
                 o.max_iter = max_iter;
                 o.seed = seed;
                 return o;
             }),
             py::kw_only(), py::arg("k") = 1, py::arg("which") = "largest", py::arg("tol") = 1e-10,
             py::arg("max_iter") = 300, py::arg("seed") = 0)
        .def_readwrite("k", &LanczosOptions::k)
        .def_property(
            "which", [](const LanczosOptions& o) { return which_name(o.which); },
            [](LanczosOptions& o, const std::string& which) { o.which = parse_which(which); })
        .def_readwrite("tol", &LanczosOptions::tol)
        .def_readwrite("max_iter", &LanczosOptions::max_iter)
        .def_readwrite("seed", &LanczosOptions::seed);

    py::class_<TrainOptions>(m, "TrainOptions", "The unchanging options of a GD run (given when a Trainer is built).")
        .def(py::init([](double clip, std::int64_t record_every, std::int64_t sharpness_every, double grad_tol,
                         double loss_tol, double max_loss, double sharpness_tol, std::size_t sharpness_max_iter) {
                 TrainOptions o;
                 o.clip = clip;
                 o.record_every = record_every;
                 o.sharpness_every = sharpness_every;
                 o.grad_tol = grad_tol;
                 o.loss_tol = loss_tol;
                 o.max_loss = max_loss;
                 o.lanczos.tol = sharpness_tol;
                 o.lanczos.max_iter = sharpness_max_iter;
                 o.validate();
                 return o;
             }),
             py::kw_only(), py::arg("clip") = 0.0, py::arg("record_every") = 1, py::arg("sharpness_every") = 0,
             py::arg("grad_tol") = 0.0, py::arg("loss_tol") = 0.0, py::arg("max_loss") = 0.0,
             py::arg("sharpness_tol") = 1e-10, py::arg("sharpness_max_iter") = 300)
        .def_readonly("clip", &TrainOptions::clip)
        .def_readonly("record_every", &TrainOptions::record_every)
        .def_readonly("sharpness_every", &TrainOptions::sharpness_every)
        .def_readonly("grad_tol", &TrainOptions::grad_tol)
        .def_readonly("loss_tol", &TrainOptions::loss_tol)
        .def_readonly("max_loss", &TrainOptions::max_loss)
        .def_readonly("lanczos", &TrainOptions::lanczos);
}

}  // namespace relu1d::bindings
