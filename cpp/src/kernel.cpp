// The kernel interface's shared part (everything that follows from r, S0 and S1) and the factory.
#include "relu1d/kernel.hpp"

#include <algorithm>
#include <functional>
#include <stdexcept>

#include "neuron_terms.hpp"
#include "relu1d/dense_kernel.hpp"
#include "relu1d/fast_kernel.hpp"
#include "relu1d/numerics.hpp"
#include "relu1d/parallel.hpp"

namespace relu1d {

namespace {

using detail::NeuronGradient;
using detail::neuron_gradient;

// sum r_i^2 = hi + lo, compensated, in eight lanes (i mod 8) added up at the end in a fixed order:
// no long chain of dependent additions, and the lanes vectorise
void sum_of_squares(const double* __restrict r, std::size_t n, double& sum_hi, double& sum_lo) {
    constexpr std::size_t kLanes = 8;
    double hi[kLanes] = {}, lo[kLanes] = {};
    auto add = [&](std::size_t l, double t) {  // TwoSum into lane l
        const double sum = hi[l] + t, bb = sum - hi[l];
        lo[l] += (hi[l] - (sum - bb)) + (t - bb);
        hi[l] = sum;
    };
    std::size_t i = 0;
    for (; i + kLanes <= n; i += kLanes)
        for (std::size_t l = 0; l < kLanes; ++l) add(l, r[i + l] * r[i + l]);
    for (; i < n; ++i) add(i % kLanes, r[i] * r[i]);
    CompensatedSum total;
    double low = 0.0;
    for (std::size_t l = 0; l < kLanes; ++l) {
        total.add(hi[l]);
        low += lo[l];
    }
    sum_hi = total.hi;
    sum_lo = total.lo + low;
}

// Points per block of the loss's sum over long data: each block's compensated sum, then the
// blocks' in block order (on threads where the kernel has them; the same bits either way).
constexpr std::size_t kLossBlock = std::size_t{1} << 16;

void assemble_gradient(std::size_t m, double inv_n, const double* __restrict w, const double* __restrict b,
                       const double* __restrict v, const double* __restrict S0, const double* __restrict S1,
                       double* __restrict gw, double* __restrict gb, double* __restrict gv) {
    for (std::size_t k = 0; k < m; ++k) {
        const NeuronGradient g = neuron_gradient(w[k], b[k], v[k], S0[k], S1[k], inv_n);
        gw[k] = g.w;
        gb[k] = g.b;
        gv[k] = g.v;
    }
}

// g2_k = ||g_k||^2
void neuron_gradient_norms(std::size_t m, double inv_n, const double* __restrict w, const double* __restrict b,
                           const double* __restrict v, const double* __restrict S0, const double* __restrict S1,
                           double* __restrict g2) {
    for (std::size_t k = 0; k < m; ++k) g2[k] = neuron_gradient(w[k], b[k], v[k], S0[k], S1[k], inv_n).norm2();
}

// (alpha_k, beta_k) = (v uw + uv w, v ub + uv b) at ab[2 k], ab[2 k + 1]: the coefficients of J u.
void jvp_coefficients(std::size_t m, const double* __restrict w, const double* __restrict b,
                      const double* __restrict v, const double* __restrict uw, const double* __restrict ub,
                      const double* __restrict uv, double* __restrict ab) {
    for (std::size_t k = 0; k < m; ++k) {
        ab[2 * k] = v[k] * uw[k] + uv[k] * w[k];
        ab[2 * k + 1] = v[k] * ub[k] + uv[k] * b[k];
    }
}

}  // namespace

const std::vector<std::string>& kernel_names() {
    static const std::vector<std::string> names{"fast", "dense"};
    return names;
}

const std::string& kernel_name(KernelKind kind) { return kernel_names().at(static_cast<std::size_t>(kind)); }

KernelKind parse_kernel_kind(const std::string& name) {
    const auto& names = kernel_names();
    std::string known;
    for (std::size_t i = 0; i < names.size(); ++i) {
        if (names[i] == name) return static_cast<KernelKind>(i);
        known += (i ? ", '" : "'") + names[i] + "'";
    }
    throw std::invalid_argument("kernel: expected one of " + known + ", got '" + name + "'");
}

std::unique_ptr<Kernel> make_kernel(KernelKind kind, std::shared_ptr<const SortedData> data, int threads) {
    if (kind == KernelKind::dense) return std::make_unique<DenseKernel>(std::move(data), threads);
    return std::make_unique<FastKernel>(std::move(data), threads);
}

void Kernel::resize(std::size_t m) {
    m_ = m;
    const std::size_t n = data_->n();
    r_.assign(n, 0.0);
    s_.assign(n, 0.0);
    for (auto* vec : {&S0_, &S1_}) vec->assign(m, 0.0);
    ab_.assign(2 * m, 0.0);
}

double Kernel::prepare(const double* theta, std::size_t dim) {
    const Params p(theta, dim);
    if (p.m != m_ || r_.size() != data_->n()) resize(p.m);
    theta_ = theta;
    locate(p);
    forward(p, r_.data());
    summarize_residuals();
    set_loss();
    return loss_;
}

void Kernel::set_loss() {
    const std::size_t n = data_->n();
    double hi, lo;
    if (n <= kLossBlock) {
        sum_of_squares(r_.data(), n, hi, lo);
    } else {
        const std::size_t blocks = (n + kLossBlock - 1) / kLossBlock;
        loss_parts_.resize(2 * blocks);
        const std::function<void(std::size_t)> block = [&](std::size_t b) {
            const std::size_t i0 = b * kLossBlock, i1 = std::min(n, i0 + kLossBlock);
            sum_of_squares(r_.data() + i0, i1 - i0, loss_parts_[2 * b], loss_parts_[2 * b + 1]);
        };
        if (WorkerPool* pool = workers(n)) pool->run(blocks, block);
        else for (std::size_t b = 0; b < blocks; ++b) block(b);
        CompensatedSum total;
        double low = 0.0;
        for (std::size_t b = 0; b < blocks; ++b) {
            total.add(loss_parts_[2 * b]);
            low += loss_parts_[2 * b + 1];
        }
        hi = total.hi;
        lo = total.lo + low;
    }
    loss_ = (hi + lo) / (2.0 * static_cast<double>(n));
}

double Kernel::gradient(double* g) {
    sync();
    ensure_sums();
    const std::size_t m = m_;
    const double* th = theta_;
    assemble_gradient(m, 1.0 / static_cast<double>(data_->n()), th, th + m, th + 2 * m, S0_.data(), S1_.data(), g,
                      g + m, g + 2 * m);
    g[3 * m] = rsum_ / static_cast<double>(data_->n());
    return dot(g, g, dim());
}

double Kernel::gradient_norm2() {
    sync();
    ensure_sums();
    const std::size_t m = m_;
    const double* th = theta_;
    const double gc = rsum_ / static_cast<double>(data_->n());
    g2_.resize(m);
    neuron_gradient_norms(m, 1.0 / static_cast<double>(data_->n()), th, th + m, th + 2 * m, S0_.data(), S1_.data(),
                          g2_.data());
    return sum(g2_.data(), m) + gc * gc;
}

double Kernel::descend(double eta, double* theta) {
    // The reference implementation: gradient, update, prepare.
    if (theta != theta_) throw std::invalid_argument("theta: descend steps the theta the kernel was prepared at");
    const std::size_t d = dim();
    next_.resize(d);
    const double norm2 = gradient_norm2();
    gradient(next_.data());
    for (std::size_t q = 0; q < d; ++q) theta[q] -= eta * next_[q];
    prepare(theta, d);
    return norm2;
}

void Kernel::hvp(const double* u, double* out) {
    sync();
    ensure_sums();
    const std::size_t m = m_;
    const double* th = theta_;
    const double inv_n = 1.0 / static_cast<double>(data_->n());
    // J u: s_i = uc + sum_{k active} (alpha_k x_i + beta_k)
    const unsigned parts = threads_for(m, threads_);  // (each neuron's pair alone: any split, the same bits)
    for_blocks(parts, parts > 1, [&](std::size_t t) {
        const std::size_t lo = m * t / parts, hi = m * (t + 1) / parts;
        jvp_coefficients(hi - lo, th + lo, th + m + lo, th + 2 * m + lo, u + lo, u + m + lo, u + 2 * m + lo,
                         ab_.data() + 2 * lo);
    });
    linear_sweep(ab_.data(), u[3 * m], s_.data());
    // J^T s / n + R u
    out[3 * m] = transpose_product(s_.data(), u, out) * inv_n;
}

}  // namespace relu1d
