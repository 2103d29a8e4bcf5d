// Function-space quantities of the network (relu1d.analysis): knots, the weight g, weighted TV(1),
// effective knots and the Gram matrix. Arguments are checked and converted first; the GIL is
// released around the C++ work.
#include <cmath>

#include "common.hpp"
#include "relu1d/function_space.hpp"

namespace relu1d::bindings {

namespace {

// A sorted sample with its prefix sums (owned here).
struct Sample {
    Array x;
    PrefixSum sum_x;
    SortedSample view() const { return SortedSample{x.data(), static_cast<std::size_t>(x.shape(0)), &sum_x}; }
};

Sample sample_arg(const py::handle& obj) {
    Sample s{vector_arg(obj, "x_sorted"), {}};
    const auto n = static_cast<std::size_t>(s.x.shape(0));
    if (n == 0) throw py::value_error("x_sorted: must not be empty");
    const double* x = s.x.data();
    for (std::size_t i = 0; i < n; ++i)
        if (!std::isfinite(x[i])) throw py::value_error("x_sorted: contains NaN or inf");
    for (std::size_t i = 1; i < n; ++i)
        if (!(x[i - 1] <= x[i])) throw py::value_error("x_sorted: must be sorted ascending");
    s.sum_x.resize(n);
    prefix_sum(x, n, s.sum_x);
    return s;
}

template <class T>
py::array_t<T> to_array(const std::vector<T>& v) {
    return py::array_t<T>(static_cast<py::ssize_t>(v.size()), v.data());
}

}  // namespace

void register_analysis(py::module_& m) {
    m.attr("EFFECTIVE_KNOT_REL_TOL") = kEffectiveKnotRelTol;

    m.def("merged_knots", [](const py::handle& theta) {
            Array t = theta_arg(theta);
            MergedKnots k;
            {
                py::gil_scoped_release release;
                k = merged_knots(Params(t.data(), static_cast<std::size_t>(t.shape(0))));
            }
            return py::make_tuple(to_array(k.t), to_array(k.jump));
        },
        py::arg("theta"), "Distinct knots (ascending) and their summed slope jumps; zero sums dropped.");

    m.def("g_weight", [](const py::handle& x_sorted, const py::handle& t) {
            Sample s = sample_arg(x_sorted);
            Array tt = vector_arg(t, "t");
            const auto k = static_cast<std::size_t>(tt.shape(0));
            py::array_t<double> out(static_cast<py::ssize_t>(k));
            double* o = out.mutable_data();
            const double* tp = tt.data();
            {
                py::gil_scoped_release release;
                const SortedSample view = s.view();
                for (std::size_t i = 0; i < k; ++i) o[i] = g_weight(view, tp[i]);
            }
            return out;
        },
        py::arg("x_sorted"), py::arg("t"), "The empirical weight g of the sample at the points t.");

    m.def("weighted_tv1", [](const py::handle& x_sorted, const py::handle& theta) {
            Sample s = sample_arg(x_sorted);
            Array t = theta_arg(theta);
            py::gil_scoped_release release;
            return weighted_tv1(merged_knots(Params(t.data(), static_cast<std::size_t>(t.shape(0)))), s.view());
        },
        py::arg("x_sorted"), py::arg("theta"), "integral |f''| g over the sample's range.");

    m.def("effective_knots", [](const py::handle& x_sorted, const py::handle& theta, double rel_tol) {
            Sample s = sample_arg(x_sorted);
            Array t = theta_arg(theta);
            if (!(rel_tol >= 0.0 && rel_tol <= 1.0))
                throw py::value_error("rel_tol: must lie in [0, 1], got " + std::to_string(rel_tol));
            EffectiveKnots e;
            {
                py::gil_scoped_release release;
                e = effective_knots(merged_knots(Params(t.data(), static_cast<std::size_t>(t.shape(0)))), s.view(),
                                    rel_tol);
            }
            py::dict out;
            out["t"] = to_array(e.t);
            out["jump"] = to_array(e.jump);
            out["distance"] = to_array(e.distance);
            out["total"] = e.total;
            return out;
        },
        py::arg("x_sorted"), py::arg("theta"), py::arg("rel_tol") = kEffectiveKnotRelTol,
        "Knots strictly inside the data range carrying at least rel_tol of its TV(1).");

    m.def("function_space_track", [](const py::handle& x_sorted, const py::handle& thetas, double rel_tol) {
            Sample s = sample_arg(x_sorted);
            using Matrix = py::array_t<double, py::array::c_style | py::array::forcecast>;
            Matrix th = Matrix::ensure(thetas);
            if (!th || th.ndim() != 2 || th.shape(1) < 4 || (th.shape(1) - 1) % 3 != 0)
                throw py::value_error("thetas: expected a 2-D array with rows of length 3*m + 1");
            const auto rows = static_cast<std::size_t>(th.shape(0));
            const auto dim = static_cast<std::size_t>(th.shape(1));
            const auto n = static_cast<std::size_t>(s.x.shape(0));
            std::vector<double> zeros(n, 0.0);
            const SortedData data(s.x.data(), zeros.data(), n);
            py::array_t<double> wtv1(static_cast<py::ssize_t>(rows));
            py::array_t<std::int64_t> count(static_cast<py::ssize_t>(rows));
            double* w = wtv1.mutable_data();
            std::int64_t* c = count.mutable_data();
            const double* t = th.data();
            {
                py::gil_scoped_release release;
                FunctionSpaceTracker tracker;
                for (std::size_t r = 0; r < rows; ++r) {
                    const Params p(t + r * dim, dim);
                    w[r] = tracker(p, data, rel_tol).wtv1;
                    c[r] = static_cast<std::int64_t>(tracker(p, data, rel_tol).effective_knots);  // the cached result
                }
            }
            return py::make_tuple(wtv1, count);
        },
        py::arg("x_sorted"), py::arg("thetas"), py::arg("rel_tol") = kEffectiveKnotRelTol,
        "The along-a-run computation (warm-started sort, shared result) over the rows of thetas.");

    m.def("gram", [](const py::handle& x_sorted, const py::handle& theta) {
            Array x = vector_arg(x_sorted, "x_sorted");
            Array t = theta_arg(theta);
            const auto n = static_cast<std::size_t>(x.shape(0));
            if (n == 0) throw py::value_error("x_sorted: must not be empty");
            for (std::size_t i = 1; i < n; ++i)
                if (!(x.data()[i - 1] <= x.data()[i])) throw py::value_error("x_sorted: must be sorted ascending");
            const auto nn = static_cast<py::ssize_t>(n);
            py::array_t<double> G({nn, nn});
            double* out = G.mutable_data();
            {
                py::gil_scoped_release release;
                gram(Params(t.data(), static_cast<std::size_t>(t.shape(0))), x.data(), n, out);
            }
            return G;
        },
        py::arg("x_sorted"), py::arg("theta"), "J J^T / n in the sorted order, O(n^2 + m log n).");
}

}  // namespace relu1d::bindings
