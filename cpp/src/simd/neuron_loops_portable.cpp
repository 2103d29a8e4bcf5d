// The portable per-neuron loops: plain C++ that GCC vectorises for the target (with gathers for
// the x[q + j] of the boundary checks: see -mtune-ctrl=use_gather in CMakeLists.txt).
#include "neuron_loops.hpp"

#include <algorithm>

#include "../neuron_terms.hpp"

namespace relu1d {
namespace detail {

RELU1D_NOINLINE std::size_t check_boundaries(std::size_t m, std::size_t n, const double* __restrict w,
                                             const double* __restrict b, const double* __restrict xp,
                                             std::size_t* __restrict slot) {
    std::size_t flagged = 0;
    for (std::size_t k = 0; k < m; ++k) slot[k] = settle_slot(slot[k], n, w[k], b[k], xp, flagged);
    return flagged;
}

namespace {

// The loop of descend_neurons with ||g_k||^2 into g2[k].
std::size_t descend_each(std::size_t m, std::size_t n, double inv_n, double eta, double* __restrict w,
                         double* __restrict b, double* __restrict v, std::size_t* __restrict slot,
                         const double* __restrict U, const double* __restrict xp, double* __restrict g2,
                         double* __restrict ab, double scale, double limit, std::size_t& wild) {
    std::size_t flagged = 0, wilds = 0;
    for (std::size_t k = 0; k < m; ++k) {
        const NeuronGradient g = neuron_gradient(w[k], b[k], v[k], U[2 * slot[k]], U[2 * slot[k] + 1], inv_n);
        g2[k] = g.norm2();
        const double wk = w[k] - eta * g.w, bk = b[k] - eta * g.b, vk = v[k] - eta * g.v;
        w[k] = wk;
        b[k] = bk;
        v[k] = vk;
        ab[2 * k] = vk * wk;
        ab[2 * k + 1] = vk * bk;
        wilds += wild_coefficients(vk * wk, vk * bk, scale, limit);
        slot[k] = settle_slot(slot[k], n, wk, bk, xp, flagged);
    }
    wild += wilds;
    return flagged;
}

}  // namespace

RELU1D_NOINLINE std::size_t descend_neurons(std::size_t m, std::size_t n, double inv_n, double eta,
                                            double* __restrict w, double* __restrict b, double* __restrict v,
                                            std::size_t* __restrict slot, const double* __restrict U,
                                            const double* __restrict xp, double* __restrict g2, std::size_t lane,
                                            double* __restrict ab, double scale, double limit, std::size_t& wild) {
    if (lane == kPerNeuron) return descend_each(m, n, inv_n, eta, w, b, v, slot, U, xp, g2, ab, scale, limit, wild);
    // up to the next multiple of kSumLanes at a time, through a buffer, then into the lanes
    std::size_t flagged = 0;
    double buf[kSumLanes];
    for (std::size_t k = 0; k < m;) {
        const std::size_t first = (lane + k) % kSumLanes, len = std::min(m - k, kSumLanes - first);
        flagged += descend_each(len, n, inv_n, eta, w + k, b + k, v + k, slot + k, U, xp, buf, ab + 2 * k, scale,
                                limit, wild);
        for (std::size_t i = 0; i < len; ++i) g2[first + i] += buf[i];
        k += len;
    }
    return flagged;
}

}  // namespace detail
}  // namespace relu1d
