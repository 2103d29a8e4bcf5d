// Lanczos' vector passes, portable: plain C++ that the compiler vectorises for the build's target.
// The <isa> versions (lanczos_passes_<isa>.cpp) give the same bits.
#include "neuron_loops.hpp"

namespace relu1d {
namespace detail {

double vector_dot(const double* a, const double* b, std::size_t n) { return dot(a, b, n); }

namespace {

// w -= c p, then returns q . w (kNorm: w . w)
template <bool kNorm>
double subtract_then_sum(double* __restrict w, double c, const double* __restrict p, const double* __restrict q,
                         std::size_t n) {
    double acc[kSumLanes] = {};
    std::size_t i = 0;
    for (; i + kSumLanes <= n; i += kSumLanes)
        for (std::size_t l = 0; l < kSumLanes; ++l) {
            w[i + l] -= c * p[i + l];
            acc[l] += (kNorm ? w[i + l] : q[i + l]) * w[i + l];
        }
    for (; i < n; ++i) {
        w[i] -= c * p[i];
        acc[i % kSumLanes] += (kNorm ? w[i] : q[i]) * w[i];
    }
    return fold_lanes(acc);
}

}  // namespace

double subtract_then_dot(double* __restrict w, double c, const double* __restrict p, const double* __restrict q,
                         std::size_t n) {
    return subtract_then_sum<false>(w, c, p, q, n);
}

double subtract_then_norm2(double* __restrict w, double c, const double* __restrict p, std::size_t n) {
    return subtract_then_sum<true>(w, c, p, nullptr, n);
}

}  // namespace detail
}  // namespace relu1d
