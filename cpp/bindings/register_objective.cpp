#include <pybind11/stl.h>

#include "common.hpp"
#include "relu1d/lanczos.hpp"

namespace relu1d::bindings {

namespace {

py::array_t<double> new_vector(std::size_t n) { return py::array_t<double>(static_cast<py::ssize_t>(n)); }

}  // namespace

void register_objective(py::module_& m) {
    py::class_<ObjectiveHandle>(m, "Objective")
        .def(py::init([](const py::handle& x, const py::handle& y, const std::string& kernel, int threads) {
                 Array xs = vector_arg(x, "x");
                 Array ys = vector_arg(y, "y", xs.shape(0));
                 auto data = std::make_shared<const SortedData>(xs.data(), ys.data(), static_cast<std::size_t>(xs.shape(0)));
                 return std::make_unique<ObjectiveHandle>(std::move(data), parse_kernel_kind(kernel), threads);
             }),
             py::arg("x_sorted"), py::arg("y_sorted"), py::arg("kernel") = "fast", py::arg("threads") = 0)
        .def(
            "with_kernel",
            [](const ObjectiveHandle& h, const std::string& kernel, int threads) {
                return std::make_unique<ObjectiveHandle>(h.data, parse_kernel_kind(kernel), threads);
            },
            py::arg("kernel"), py::arg("threads"), "The same sorted data (shared, not copied) with another kernel.")
        .def_property_readonly("n", [](const ObjectiveHandle& h) { return h.data->n(); })
        .def_property_readonly("kernel", [](const ObjectiveHandle& h) { return kernel_name(h.kind); })
        .def_property_readonly("threads", [](const ObjectiveHandle& h) { return h.threads; })
        .def("loss", [](ObjectiveHandle& h, const py::handle& theta) {
            Array t = theta_arg(theta);
            py::gil_scoped_release release;
            std::lock_guard<std::mutex> lock(h.mutex);
            return h.prepare(t.data(), static_cast<std::size_t>(t.shape(0)));
        }, py::arg("theta"))
        .def("residuals", [](ObjectiveHandle& h, const py::handle& theta) {
            Array t = theta_arg(theta);
            auto r = new_vector(h.data->n());
            double* out = r.mutable_data();
            {
                py::gil_scoped_release release;
                std::lock_guard<std::mutex> lock(h.mutex);
                h.prepare(t.data(), static_cast<std::size_t>(t.shape(0)));
                std::copy(h.kernel->residuals(), h.kernel->residuals() + h.data->n(), out);
            }
            return r;
        }, py::arg("theta"))
        .def("loss_and_grad", [](ObjectiveHandle& h, const py::handle& theta) {
            Array t = theta_arg(theta);
            auto g = new_vector(static_cast<std::size_t>(t.shape(0)));
            double* out = g.mutable_data();
            double loss;
            {
                py::gil_scoped_release release;
                std::lock_guard<std::mutex> lock(h.mutex);
                loss = h.prepare(t.data(), static_cast<std::size_t>(t.shape(0)));
                h.kernel->gradient(out);
            }
            return py::make_tuple(loss, g);
        }, py::arg("theta"))
        .def("hvp", [](ObjectiveHandle& h, const py::handle& theta, const py::handle& u) {
            Array t = theta_arg(theta);
            Array uu = vector_arg(u, "u", t.shape(0));
            auto hu = new_vector(static_cast<std::size_t>(t.shape(0)));
            double* out = hu.mutable_data();
            {
                py::gil_scoped_release release;
                std::lock_guard<std::mutex> lock(h.mutex);
                h.prepare_held(t.data(), static_cast<std::size_t>(t.shape(0)));
                h.kernel->hvp(uu.data(), out);
            }
            return hu;
        }, py::arg("theta"), py::arg("u"))
        .def("hessian", [](ObjectiveHandle& h, const py::handle& theta, bool check_finite) {
            Array t = theta_arg(theta);
            const auto d = static_cast<py::ssize_t>(t.shape(0));
            py::array_t<double> H({d, d});
            double* out = H.mutable_data();
            bool finite;
            {
                py::gil_scoped_release release;
                std::lock_guard<std::mutex> lock(h.mutex);
                h.prepare_held(t.data(), static_cast<std::size_t>(d));
                finite = h.kernel->hessian(out);
            }
            if (check_finite && !finite)
                throw py::value_error("theta: the Hessian overflows float64 at these parameters (|f(x)| or a product "
                                      "of weights and data exceeds about 1e308)");
            return H;
        }, py::arg("theta"), py::arg("check_finite") = true,
        "The Hessian; ValueError where float64 overflows, unless check_finite is false (the raw entries).")
        .def("knots_inside", [](ObjectiveHandle& h, const py::handle& theta) {
            Array t = theta_arg(theta);
            py::gil_scoped_release release;
            std::lock_guard<std::mutex> lock(h.mutex);
            h.prepare(t.data(), static_cast<std::size_t>(t.shape(0)));
            return h.kernel->knots_inside();
        }, py::arg("theta"))
        .def(
            "eigenpairs",
            [](ObjectiveHandle& h, const py::handle& theta, const LanczosOptions& options, const py::object& v0) {
                Array t = theta_arg(theta);
                const auto dim = static_cast<std::size_t>(t.shape(0));
                const bool has_start = !v0.is_none();
                Array start;
                if (has_start) start = vector_arg(v0, "v0", t.shape(0));
                EigenResult res;
                {
                    py::gil_scoped_release release;
                    std::lock_guard<std::mutex> lock(h.mutex);
                    h.prepare_held(t.data(), dim);
                    Kernel* kern = h.kernel.get();
                    res = h.lanczos.solve([kern](const double* u, double* out) { kern->hvp(u, out); }, dim, options,
                                          has_start ? start.data() : nullptr, kern->workers(dim));
                }
                const auto kk = static_cast<py::ssize_t>(res.values.size());
                py::array_t<double> vecs({kk, static_cast<py::ssize_t>(dim)});
                std::copy(res.vectors.begin(), res.vectors.end(), vecs.mutable_data());
                py::dict out;
                out["values"] = py::array_t<double>(kk, res.values.data());
                out["vectors"] = vecs;
                out["residuals"] = py::array_t<double>(kk, res.residuals.data());
                out["products"] = res.products;
                out["iterations"] = res.iterations;
                out["converged"] = res.converged;
                return out;
            },
            py::arg("theta"), py::arg("options"), py::arg("v0") = py::none(),
            "Extreme eigenpairs of the Hessian at theta by Lanczos (relu1d.sharpness).");
}

}  // namespace relu1d::bindings
