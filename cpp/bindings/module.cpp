#include "common.hpp"

PYBIND11_MODULE(_core, m, pybind11::mod_gil_not_used()) {
    m.doc() = "relu1d compiled core: exact kernels, Lanczos and the GD loop (private; use relu1d)";
    relu1d::bindings::register_options(m);
    relu1d::bindings::register_objective(m);
    relu1d::bindings::register_train(m);
    relu1d::bindings::register_analysis(m);
    relu1d::bindings::register_simd(m);
}
