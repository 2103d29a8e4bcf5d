// DenseKernel: the O(n m) reference, the textbook loops.
#include "relu1d/dense_kernel.hpp"

#include <algorithm>
#include <functional>
#include <vector>

#include "neuron_terms.hpp"
#include "relu1d/numerics.hpp"
#include "relu1d/parallel.hpp"

namespace relu1d {

namespace {

constexpr std::size_t kDataBlock = 256;    // data points per block (forward sweeps)
constexpr std::size_t kNeuronBlock = 256;  // neurons per block (residual sums)
constexpr std::size_t kMinParallelWork = 1 << 16;  // n * m below which one thread is faster

std::size_t blocks(std::size_t count, std::size_t size) { return (count + size - 1) / size; }

// The neuron entries of H u from T0, T1 (J^T s) and S0, S1 (the residual block).
void assemble_hvp(std::size_t m, double inv_n, const double* __restrict w, const double* __restrict b,
                  const double* __restrict v, const double* __restrict uw, const double* __restrict ub,
                  const double* __restrict uv, const double* __restrict S0, const double* __restrict S1,
                  const double* __restrict T0, const double* __restrict T1, double* __restrict ow,
                  double* __restrict ob, double* __restrict ov) {
    for (std::size_t k = 0; k < m; ++k)
        detail::neuron_hvp(w[k], b[k], v[k], uw[k], ub[k], uv[k], S0[k], S1[k], T0[k], T1[k], inv_n, ow[k], ob[k],
                           ov[k]);
}

}  // namespace

DenseKernel::DenseKernel(std::shared_ptr<const SortedData> data, int threads) : Kernel(std::move(data), threads) {}

void DenseKernel::forward(const Params& p, double* r) {
    const std::size_t n = data_->n(), m = p.m;
    const double* x = data_->x();
    const double* y = data_->y();
    const bool threaded = threads_ > 1 && n * m >= kMinParallelWork;
    for_blocks(blocks(n, kDataBlock), threaded, [&](std::size_t blk) {
        const std::size_t i0 = blk * kDataBlock, i1 = std::min(n, i0 + kDataBlock);
        double f[kDataBlock] = {0.0};
        for (std::size_t k = 0; k < m; ++k) {
            const double wk = p.w[k], bk = p.b[k], vk = p.v[k];
            for (std::size_t i = i0; i < i1; ++i) {
                const double z = wk * x[i] + bk;  // not contracted: -ffp-contract=off
                f[i - i0] += vk * (z > 0.0 ? z : 0.0);
            }
        }
        for (std::size_t i = i0; i < i1; ++i) r[i] = (f[i - i0] + p.c) - y[i];
    });
}

void DenseKernel::linear_sweep(const double* ab, double c0, double* s) {
    const Params p(theta_, dim());
    const std::size_t n = data_->n(), m = p.m;
    const double* x = data_->x();
    const bool threaded = threads_ > 1 && n * m >= kMinParallelWork;
    for_blocks(blocks(n, kDataBlock), threaded, [&](std::size_t blk) {
        const std::size_t i0 = blk * kDataBlock, i1 = std::min(n, i0 + kDataBlock);
        double acc[kDataBlock] = {0.0};
        for (std::size_t k = 0; k < m; ++k) {
            const double wk = p.w[k], bk = p.b[k], ak = ab[2 * k], bt = ab[2 * k + 1];
            for (std::size_t i = i0; i < i1; ++i) {
                const double z = wk * x[i] + bk;
                const double term = ak * x[i] + bt;
                acc[i - i0] += z > 0.0 ? term : 0.0;
            }
        }
        for (std::size_t i = i0; i < i1; ++i) s[i] = c0 + acc[i - i0];
    });
}

double DenseKernel::transpose_product(const double* s, const double* u, double* out) {
    const std::size_t m = m_;
    const double* th = theta_;
    T0_.resize(m);
    T1_.resize(m);
    const double ssum = residual_sums(s, T0_.data(), T1_.data());
    assemble_hvp(m, 1.0 / static_cast<double>(data_->n()), th, th + m, th + 2 * m, u, u + m, u + 2 * m, S0_.data(),
                 S1_.data(), T0_.data(), T1_.data(), out, out + m, out + 2 * m);
    return ssum;
}

double DenseKernel::residual_sums(const double* t, double* T0, double* T1) {
    const Params p(theta_, dim());
    const std::size_t n = data_->n(), m = p.m;
    const double* x = data_->x();
    tx_.resize(n);
    double total = 0.0;
    for (std::size_t i = 0; i < n; ++i) {
        tx_[i] = t[i] * x[i];
        total += t[i];
    }
    const double* tx = tx_.data();
    const bool threaded = threads_ > 1 && n * m >= kMinParallelWork;
    for_blocks(blocks(m, kNeuronBlock), threaded, [&](std::size_t blk) {
        // the block's sums on this thread's stack, written out once: T0 and T1 in place would put
        // the cache line at a block edge under two threads' running sums (false sharing: on a
        // 2-core VM, two threads then ran no faster than one)
        const std::size_t k0 = blk * kNeuronBlock, k1 = std::min(m, k0 + kNeuronBlock), count = k1 - k0;
        const double* __restrict w = p.w + k0;
        const double* __restrict b = p.b + k0;
        double s0[kNeuronBlock] = {0.0}, s1[kNeuronBlock] = {0.0};
        for (std::size_t i = 0; i < n; ++i) {
            const double xi = x[i], ti = t[i], txi = tx[i];
            for (std::size_t k = 0; k < count; ++k) {
                const double z = w[k] * xi + b[k];
                const bool a = z > 0.0;
                s0[k] += a ? ti : 0.0;
                s1[k] += a ? txi : 0.0;
            }
        }
        std::copy(s0, s0 + count, T0 + k0);
        std::copy(s1, s1 + count, T1 + k0);
    });
    return total;
}

bool DenseKernel::hessian(double* H) {
    // H = J^T J / n + R, with J_i = [v a x_i, v a, a z_i, 1] built explicitly.
    const Params p(theta_, dim());
    const std::size_t n = data_->n(), m = p.m, d = dim();
    const double* x = data_->x();
    for (std::size_t q = 0; q < d * d; ++q) H[q] = 0.0;
    std::vector<double> J(d);
    for (std::size_t i = 0; i < n; ++i) {
        for (std::size_t k = 0; k < m; ++k) {
            const double z = p.w[k] * x[i] + p.b[k];
            const bool a = z > 0.0;
            J[k] = a ? p.v[k] * x[i] : 0.0;
            J[m + k] = a ? p.v[k] : 0.0;
            J[2 * m + k] = a ? z : 0.0;
        }
        J[3 * m] = 1.0;
        // rank-one update of the upper triangle, skipping zero rows
        for (std::size_t a = 0; a < d; ++a) {
            const double ja = J[a];
            if (ja == 0.0) continue;
            double* row = H + a * d;
            for (std::size_t b = a; b < d; ++b) row[b] += ja * J[b];
        }
    }
    const double nn = static_cast<double>(n);
    for (std::size_t a = 0; a < d; ++a)
        for (std::size_t b = a; b < d; ++b) H[b * d + a] = H[a * d + b] = H[a * d + b] / nn;
    for (std::size_t k = 0; k < m; ++k) {
        const std::size_t iw = k, ib = m + k, iv = 2 * m + k;
        H[iv * d + iw] += S1_[k] / nn;
        H[iw * d + iv] += S1_[k] / nn;
        H[iv * d + ib] += S0_[k] / nn;
        H[ib * d + iv] += S0_[k] / nn;
    }
    double bad = 0.0;  // x * 0: NaN for inf or NaN
    for (std::size_t q = 0; q < d * d; ++q) bad += H[q] * 0.0;
    return bad == 0.0;
}

std::size_t DenseKernel::knots_inside() {
    const Params p(theta_, dim());
    const std::size_t n = data_->n();
    const double* x = data_->x();
    std::size_t count = 0;
    for (std::size_t k = 0; k < p.m; ++k) {
        if (p.w[k] == 0.0 || p.v[k] == 0.0) continue;
        std::size_t active = 0;
        for (std::size_t i = 0; i < n; ++i) active += is_active(p.w[k], p.b[k], x[i]);
        count += (active > 0 && active < n);
    }
    return count;
}

}  // namespace relu1d
