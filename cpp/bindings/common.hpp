// Shared pieces of the pybind11 glue: array conversion and the Objective handle.
#pragma once

#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>

#include <cstring>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "relu1d/kernel.hpp"
#include "relu1d/lanczos.hpp"
#include "relu1d/params.hpp"

namespace relu1d::bindings {

namespace py = pybind11;
using Array = py::array_t<double, py::array::c_style | py::array::forcecast>;

// A 1-D float64 array of the expected length (0: any), or ValueError naming the argument.
inline Array vector_arg(const py::handle& obj, const char* name, py::ssize_t expected = 0) {
    Array a = Array::ensure(obj);
    if (!a) throw py::type_error(std::string(name) + ": expected an array of floats");
    if (a.ndim() != 1) throw py::value_error(std::string(name) + ": expected a 1-D array, got " +
                                             std::to_string(a.ndim()) + " dimensions");
    if (expected > 0 && a.shape(0) != expected)
        throw py::value_error(std::string(name) + ": expected length " + std::to_string(expected) + ", got " +
                              std::to_string(a.shape(0)));
    return a;
}

// theta as a 1-D float64 array of length 3m + 1 (the check of relu1d/params.hpp: theta_width).
inline Array theta_arg(const py::handle& obj) {
    Array t = vector_arg(obj, "theta");
    theta_width(static_cast<std::size_t>(t.shape(0)));
    return t;
}

// The compiled side of relu1d.Objective: sorted data plus one kernel (and the Lanczos solver's
// buffers, kept between calls) guarded by a mutex.
struct ObjectiveHandle {
    std::shared_ptr<const SortedData> data;
    KernelKind kind;
    int threads;
    std::unique_ptr<Kernel> kernel;
    Lanczos lanczos;
    std::mutex mutex;

    ObjectiveHandle(std::shared_ptr<const SortedData> d, KernelKind k, int t)
        : data(std::move(d)), kind(k), threads(t), kernel(make_kernel(k, data, t)) {}

    // The kernel prepared at theta (the caller's array, read during the call only).
    double prepare(const double* theta, std::size_t dim) {
        held_current_ = false;
        return kernel->prepare(theta, dim);
    }
    // The same, for the second-order calls (HVP, Hessian, eigenpairs), which users repeat at one
    // theta (a LinearOperator's matvecs, Lanczos by hand): the kernel is prepared at a copy held
    // here, and a call at the same bits as the copy uses the state already there (the kernel's
    // state is a function of theta alone, and these calls leave it unchanged).
    void prepare_held(const double* theta, std::size_t dim) {
        if (held_current_ && held_.size() == dim && std::memcmp(held_.data(), theta, dim * sizeof(double)) == 0)
            return;
        held_current_ = false;
        held_.assign(theta, theta + dim);
        kernel->prepare(held_.data(), dim);
        held_current_ = true;
    }

private:
    std::vector<double> held_;   // the theta of the last prepare_held
    bool held_current_ = false;  // the kernel is prepared at held_
};

void register_options(py::module_& m);
void register_objective(py::module_& m);
void register_train(py::module_& m);
void register_analysis(py::module_& m);
void register_simd(py::module_& m);

}  // namespace relu1d::bindings
