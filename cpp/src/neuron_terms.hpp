// One neuron's terms of the gradient and of the Hessian-vector product, shared by the kernels and
// the per-neuron step loops (internal header of the core: not installed, no Python).
#pragma once

#include <cstddef>

// The hot per-neuron loops are functions with restrict-qualified arguments so the compiler can
// vectorise them (restrict on local copies is not enough for GCC). Those with gathers stay out of
// line: inlined, GCC loses the restrict and gives up on the gathers.
#if defined(__GNUC__) || defined(__clang__)
#define RELU1D_NOINLINE __attribute__((noinline))
#else
#define RELU1D_NOINLINE
#endif

namespace relu1d {
namespace detail {

// Neuron k's gradient: (dL/dw, dL/db, dL/dv) = (v S1, v S0, w S1 + b S0) / n.
struct NeuronGradient {
    double w, b, v;
    double norm2() const { return (w * w + b * b) + v * v; }
};
inline NeuronGradient neuron_gradient(double w, double b, double v, double S0, double S1, double inv_n) {
    return {v * S1 * inv_n, v * S0 * inv_n, (w * S1 + b * S0) * inv_n};
}

// (H u) from J^T s (T0, T1) and the residual block R (S0, S1).
// Neuron k's part of H u: (v T1 + S1 uv, v T0 + S0 uv, (w T1 + b T0) + (S1 uw + S0 ub)) / n.
inline void neuron_hvp(double w, double b, double v, double uw, double ub, double uv, double S0, double S1,
                       double T0, double T1, double inv_n, double& ow, double& ob, double& ov) {
    ow = (v * T1 + S1 * uv) * inv_n;
    ob = (v * T0 + S0 * uv) * inv_n;
    ov = ((w * T1 + b * T0) + (S1 * uw + S0 * ub)) * inv_n;
}

}  // namespace detail
}  // namespace relu1d
