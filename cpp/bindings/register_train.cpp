#include "common.hpp"
#include "relu1d/trainer.hpp"

namespace relu1d::bindings {

namespace {

template <class T>
py::array_t<T> to_array(const std::vector<T>& v) {
    return py::array_t<T>(static_cast<py::ssize_t>(v.size()), v.data());
}

py::dict records_dict(const Records& r) {
    py::dict d;
    d["step"] = to_array(r.step);
    d["loss"] = to_array(r.loss);
    d["grad_norm"] = to_array(r.grad_norm);
    d["lr"] = to_array(r.lr);
    d["knots"] = to_array(r.knots);
    d["sharpness"] = to_array(r.sharpness);
    d["sharpness_residual"] = to_array(r.sharpness_residual);
    d["sharpness_products"] = to_array(r.sharpness_products);
    d["time"] = to_array(r.time);
    return d;
}

const char* reason_name(StopReason r) {
    switch (r) {
        case StopReason::steps: return "steps";
        case StopReason::converged: return "converged";
        case StopReason::diverged: return "diverged";
        case StopReason::time: return "time";
    }
    return "unknown";
}

}  // namespace

void register_train(py::module_& m) {
    py::class_<Trainer>(m, "Trainer")
        .def(py::init([](ObjectiveHandle& obj, const py::handle& theta, std::int64_t step, const py::object& eigvec) {
                 Array t = vector_arg(theta, "theta");
                 std::vector<double> th(t.data(), t.data() + t.shape(0));
                 std::vector<double> ev;
                 if (!eigvec.is_none()) {
                     Array e = vector_arg(eigvec, "eigvec", t.shape(0));
                     ev.assign(e.data(), e.data() + e.shape(0));
                 }
                 return std::make_unique<Trainer>(obj.data, obj.kind, obj.threads, std::move(th), step, std::move(ev));
             }),
             py::arg("objective"), py::arg("theta"), py::arg("step") = 0, py::arg("eigvec") = py::none())
        .def(
            "run",
            [](Trainer& tr, std::int64_t max_steps, const py::handle& lr_starts, const py::handle& lr_values,
               double clip, std::int64_t record_every, std::int64_t sharpness_every, double grad_tol,
               double loss_tol, double max_loss, double sharpness_tol, std::size_t sharpness_max_iter,
               double time_budget, double elapsed) {
                StepSchedule sched;
                auto starts = py::array_t<std::int64_t, py::array::c_style | py::array::forcecast>::ensure(lr_starts);
                Array values = vector_arg(lr_values, "lr_values");
                if (!starts || starts.ndim() != 1 || starts.shape(0) != values.shape(0))
                    throw py::value_error("lr_starts: expected a 1-D integer array as long as lr_values");
                sched.starts.assign(starts.data(), starts.data() + starts.shape(0));
                sched.values.assign(values.data(), values.data() + values.shape(0));
                TrainOptions opt;
                opt.clip = clip;
                opt.record_every = record_every;
                opt.sharpness_every = sharpness_every;
                opt.grad_tol = grad_tol;
                opt.loss_tol = loss_tol;
                opt.max_loss = max_loss;
                opt.lanczos.tol = sharpness_tol;
                opt.lanczos.max_iter = sharpness_max_iter;
                Records rec;
                StopReason reason;
                {
                    py::gil_scoped_release release;
                    reason = tr.run(max_steps, sched, opt, rec, time_budget, elapsed);
                }
                return py::make_tuple(reason_name(reason), records_dict(rec));
            },
            py::arg("max_steps"), py::arg("lr_starts"), py::arg("lr_values"), py::arg("clip") = 0.0,
            py::arg("record_every") = 1, py::arg("sharpness_every") = 0, py::arg("grad_tol") = 0.0,
            py::arg("loss_tol") = 0.0, py::arg("max_loss") = 0.0, py::arg("sharpness_tol") = 1e-10,
            py::arg("sharpness_max_iter") = 300, py::arg("time_budget") = 0.0, py::arg("elapsed") = 0.0)
        .def_property_readonly("theta", [](const Trainer& t) { return to_array(t.theta()); })
        .def_property_readonly("step", &Trainer::step)
        .def_property_readonly("eigvec", [](const Trainer& t) -> py::object {
            if (t.eigvec().empty()) return py::none();
            return to_array(t.eigvec());
        })
        .def_property_readonly("last_loss", &Trainer::last_loss)
        .def_property_readonly("last_grad_norm", &Trainer::last_grad_norm)
        .def_property_readonly("sharpness_products", &Trainer::sharpness_products)
        .def_property_readonly("sharpness_seconds", &Trainer::sharpness_seconds);
}

}  // namespace relu1d::bindings
