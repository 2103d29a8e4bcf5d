#include <cmath>

#include "common.hpp"
#include "relu1d/history.hpp"
#include "relu1d/trainer.hpp"

namespace relu1d::bindings {

namespace {

template <class T>
py::array_t<T> to_array(const std::vector<T>& v) {
    return py::array_t<T>(static_cast<py::ssize_t>(v.size()), v.data());
}

// name -> column array, one entry per history_columns() entry
py::dict records_dict(const Records& r) {
    py::dict d;
    const auto& columns = history_columns();
    for (std::size_t c = 0; c < columns.size(); ++c) {
        if (columns[c].type == ColumnType::int64)
            d[columns[c].name.c_str()] = to_array(r.int64_column(c));
        else
            d[columns[c].name.c_str()] = to_array(r.float64_column(c));
    }
    return d;
}

}  // namespace

void register_train(py::module_& m) {
    py::class_<Trainer>(m, "Trainer", "The GD loop; state = (theta, step, last eigenvector), options fixed.")
        .def(py::init([](ObjectiveHandle& obj, const py::handle& theta, std::int64_t step, const py::object& eigvec,
                         const TrainOptions& options) {
                 Array t = theta_arg(theta);
                 std::vector<double> th(t.data(), t.data() + t.shape(0));
                 std::vector<double> ev;
                 if (!eigvec.is_none()) {
                     Array e = vector_arg(eigvec, "eigvec", t.shape(0));
                     ev.assign(e.data(), e.data() + e.shape(0));
                 }
                 return std::make_unique<Trainer>(obj.data, obj.kind, obj.threads, std::move(th), step, std::move(ev),
                                                  options);
             }),
             py::arg("objective"), py::arg("theta"), py::arg("step"), py::arg("eigvec"), py::arg("options"))
        .def(
            "run",
            [](Trainer& tr, std::int64_t max_steps, const py::handle& lr_starts, const py::handle& lr_values,
               double time_budget, double elapsed) {
                StepSchedule sched;
                auto starts = py::array_t<std::int64_t, py::array::c_style | py::array::forcecast>::ensure(lr_starts);
                Array values = vector_arg(lr_values, "lr_values");
                if (!starts || starts.ndim() != 1 || starts.shape(0) != values.shape(0))
                    throw py::value_error("lr_starts: expected a 1-D integer array as long as lr_values");
                sched.starts.assign(starts.data(), starts.data() + starts.shape(0));
                sched.values.assign(values.data(), values.data() + values.shape(0));
                Records rec;
                StopReason reason;
                {
                    py::gil_scoped_release release;
                    reason = tr.run(max_steps, sched, rec, time_budget, elapsed);
                }
                return py::make_tuple(stop_reason_name(reason), records_dict(rec));
            },
            py::arg("max_steps"), py::arg("lr_starts"), py::arg("lr_values"), py::arg("time_budget") = 0.0,
            py::arg("elapsed") = 0.0,
            "Run at most max_steps steps: (stop reason, the recorded rows as name -> array).")
        .def(
            "record",
            [](Trainer& tr, double lr, bool measure, double elapsed) {
                Records rec;
                {
                    py::gil_scoped_release release;
                    tr.record(lr, measure, rec, elapsed);
                }
                return records_dict(rec);
            },
            py::arg("lr"), py::arg("measure"), py::arg("elapsed") = 0.0,
            "The row of the current step without stepping (the row run() records there), with the sharpness "
            "when measure; eigvec is left as it is.")
        .def_property_readonly("theta", [](const Trainer& t) { return to_array(t.theta()); })
        .def_property_readonly("step", &Trainer::step)
        .def_property_readonly("eigvec", [](const Trainer& t) -> py::object {
            if (t.eigvec().empty()) return py::none();
            return to_array(t.eigvec());
        })
        .def_property_readonly("options", &Trainer::options)
        .def_property_readonly("last_loss", &Trainer::last_loss)
        .def_property_readonly("last_grad_norm", &Trainer::last_grad_norm)
        .def("loss", &Trainer::loss, "L(theta) at the current theta (no new forward pass).")
        .def("grad_norm", &Trainer::grad_norm,
             "||grad L(theta)|| at the current theta, without overflow in the squares.")
        .def_property_readonly("sharpness_products", &Trainer::sharpness_products)
        .def_property_readonly("sharpness_seconds", &Trainer::sharpness_seconds);
}

}  // namespace relu1d::bindings
