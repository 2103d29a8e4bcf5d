#include "relu1d/kernel.hpp"

#include <algorithm>
#include <cmath>
#include <limits>
#include <stdexcept>

#include "relu1d/numerics.hpp"
#include "relu1d/parallel.hpp"

#if defined(__AVX512F__) && defined(__AVX512DQ__)
#include <immintrin.h>
#endif

namespace relu1d {

KernelKind parse_kernel_kind(const std::string& name) {
    if (name == "fast") return KernelKind::fast;
    if (name == "dense") return KernelKind::dense;
    throw std::invalid_argument("kernel: expected 'fast' or 'dense', got '" + name + "'");
}

std::unique_ptr<Kernel> make_kernel(KernelKind kind, std::shared_ptr<const SortedData> data, int threads) {
    if (kind == KernelKind::dense) return std::make_unique<DenseKernel>(std::move(data), threads);
    return std::make_unique<FastKernel>(std::move(data));
}

// ---------------------------------------------------------------------------------------------
// Shared part: everything that follows from r, S0 and S1.

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

// sum r_i^2, compensated, in eight lanes (i mod 8) added up at the end in a fixed order: no long
// chain of dependent additions, and the lanes vectorise
double sum_of_squares(const double* __restrict r, std::size_t n) {
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
    return total.hi + (total.lo + low);
}

void Kernel::set_loss() { loss_ = sum_of_squares(r_.data(), data_->n()) / (2.0 * static_cast<double>(data_->n())); }

namespace {

// The hot per-neuron loops, as functions with restrict-qualified arguments so the compiler can
// vectorise them (restrict on local copies is not enough for GCC). Those with gathers stay out of
// line: inlined, GCC loses the restrict and gives up on the gathers.
#if defined(__GNUC__) || defined(__clang__)
#define NOINLINE __attribute__((noinline))
#else
#define NOINLINE
#endif

// Neuron k's gradient: (dL/dw, dL/db, dL/dv) = (v S1, v S0, w S1 + b S0) / n.
struct NeuronGradient {
    double w, b, v;
    double norm2() const { return (w * w + b * b) + v * v; }
};
inline NeuronGradient neuron_gradient(double w, double b, double v, double S0, double S1, double inv_n) {
    return {v * S1 * inv_n, v * S0 * inv_n, (w * S1 + b * S0) * inv_n};
}

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

// (H u) from J^T s (T0, T1) and the residual block R (S0, S1).
// Neuron k's part of H u: (v T1 + S1 uv, v T0 + S0 uv, (w T1 + b T0) + (S1 uw + S0 ub)) / n.
inline void neuron_hvp(double w, double b, double v, double uw, double ub, double uv, double S0, double S1,
                       double T0, double T1, double inv_n, double& ow, double& ob, double& ov) {
    ow = (v * T1 + S1 * uv) * inv_n;
    ob = (v * T0 + S0 * uv) * inv_n;
    ov = ((w * T1 + b * T0) + (S1 * uw + S0 * ub)) * inv_n;
}

void assemble_hvp(std::size_t m, double inv_n, const double* __restrict w, const double* __restrict b,
                  const double* __restrict v, const double* __restrict uw, const double* __restrict ub,
                  const double* __restrict uv, const double* __restrict S0, const double* __restrict S1,
                  const double* __restrict T0, const double* __restrict T1, double* __restrict ow,
                  double* __restrict ob, double* __restrict ov) {
    for (std::size_t k = 0; k < m; ++k)
        neuron_hvp(w[k], b[k], v[k], uw[k], ub[k], uv[k], S0[k], S1[k], T0[k], T1[k], inv_n, ow[k], ob[k], ov[k]);
}

// The same with (T0_k, T1_k) = (U[2 slot_k], U[2 slot_k + 1]) looked up on the way (FastKernel).
NOINLINE void assemble_hvp_slots(std::size_t m, double inv_n, const double* __restrict w,
                                 const double* __restrict b, const double* __restrict v, const double* __restrict uw,
                                 const double* __restrict ub, const double* __restrict uv,
                                 const double* __restrict S0, const double* __restrict S1,
                                 const std::size_t* __restrict slot, const double* __restrict U,
                                 double* __restrict ow, double* __restrict ob, double* __restrict ov) {
    for (std::size_t k = 0; k < m; ++k)
        neuron_hvp(w[k], b[k], v[k], uw[k], ub[k], uv[k], S0[k], S1[k], U[2 * slot[k]], U[2 * slot[k] + 1], inv_n,
                   ow[k], ob[k], ov[k]);
}

}  // namespace

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
    jvp_coefficients(m, th, th + m, th + 2 * m, u, u + m, u + 2 * m, ab_.data());
    linear_sweep(ab_.data(), u[3 * m], s_.data());
    // J^T s / n + R u
    out[3 * m] = transpose_product(s_.data(), u, out) * inv_n;
}

// ---------------------------------------------------------------------------------------------
// Dense reference kernel.

namespace {
constexpr std::size_t kDataBlock = 256;    // data points per block (forward sweeps)
constexpr std::size_t kNeuronBlock = 256;  // neurons per block (residual sums)
constexpr std::size_t kMinParallelWork = 1 << 16;  // n * m below which one thread is faster

std::size_t blocks(std::size_t count, std::size_t size) { return (count + size - 1) / size; }
}  // namespace

DenseKernel::DenseKernel(std::shared_ptr<const SortedData> data, int threads)
    : Kernel(std::move(data)), threads_(resolve_threads(threads)) {}

void DenseKernel::forward(const Params& p, double* r) {
    const std::size_t n = data_->n(), m = p.m;
    const double* x = data_->x();
    const double* y = data_->y();
    const unsigned threads = n * m < kMinParallelWork ? 1u : threads_;
    parallel_for(blocks(n, kDataBlock), threads, [&](std::size_t blk) {
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
    const unsigned threads = n * m < kMinParallelWork ? 1u : threads_;
    parallel_for(blocks(n, kDataBlock), threads, [&](std::size_t blk) {
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
    const unsigned threads = n * m < kMinParallelWork ? 1u : threads_;
    parallel_for(blocks(m, kNeuronBlock), threads, [&](std::size_t blk) {
        const std::size_t k0 = blk * kNeuronBlock, k1 = std::min(m, k0 + kNeuronBlock);
        for (std::size_t k = k0; k < k1; ++k) T0[k] = T1[k] = 0.0;
        for (std::size_t i = 0; i < n; ++i) {
            const double xi = x[i], ti = t[i], txi = tx_[i];
            for (std::size_t k = k0; k < k1; ++k) {
                const double z = p.w[k] * xi + p.b[k];
                const bool a = z > 0.0;
                T0[k] += a ? ti : 0.0;
                T1[k] += a ? txi : 0.0;
            }
        }
    });
    return total;
}

void DenseKernel::hessian(double* H) {
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

// ---------------------------------------------------------------------------------------------
// Fast sorted-data kernel.

namespace {

// Marks a slot whose boundary pass 1 of FastKernel::locate could not settle.
constexpr std::size_t kMovedBit = std::size_t{1} << (8 * sizeof(std::size_t) - 1);

// Smallest i in [0, n] with pred(i) true, for pred monotone (false..false, true..true) on [0, n),
// pred(n) taken as true. Gallops from the guess g: O(log |answer - g|) evaluations.
template <class Pred>
std::size_t first_true(Pred pred, std::size_t n, std::size_t g) {
    using idx = long long;
    const idx N = static_cast<idx>(n);
    idx guess = std::min<idx>(static_cast<idx>(g), N);
    auto test = [&](idx i) { return i >= N || pred(static_cast<std::size_t>(i)); };
    idx a, b;  // pred(a) false (or a == -1), pred(b) true (or b == n)
    if (test(guess)) {
        b = guess;
        for (idx step = 1;; step *= 2) {
            const idx t = b - step;
            if (t < 0) { a = -1; break; }
            if (!test(t)) { a = t; break; }
            b = t;
        }
    } else {
        a = guess;
        for (idx step = 1;; step *= 2) {
            const idx t = a + step;
            if (t >= N) { b = N; break; }
            if (test(t)) { b = t; break; }
            a = t;
        }
    }
    while (b - a > 1) {
        const idx mid = a + (b - a) / 2;
        if (test(mid)) b = mid; else a = mid;
    }
    return static_cast<std::size_t>(b);
}

// The slot of a neuron flagged by pass 1 of FastKernel::locate (flagged slot s: boundary moved by
// more than one point, or w == 0): gallop from the old boundary with the exact predicate.
inline std::size_t settle_one(std::size_t s, std::size_t n, const double* x, double w, double b) {
    s &= ~kMovedBit;
    const std::size_t guess = s > n ? s - (n + 1) : s;
    if (w > 0.0) return first_true([&](std::size_t i) { return is_active(w, b, x[i]); }, n, guess);
    if (w < 0.0) return n + 1 + first_true([&](std::size_t i) { return !is_active(w, b, x[i]); }, n, guess);
    return is_active(w, b, x[0]) ? 0 : n;  // w == 0 (or NaN): the same at every point: suffix [0, n) or [n, n)
}

// T0_k, T1_k: the sums of t and t x over neuron k's active set, looked up by its slot in the
// table U (U[2 s], U[2 s + 1] = the sums for slot s: GCC loads these pairs element by element,
// faster here than two gathers).
NOINLINE void interval_sums(std::size_t m, const std::size_t* __restrict slot, const double* __restrict U,
                            double* __restrict T0, double* __restrict T1) {
    for (std::size_t k = 0; k < m; ++k) {
        T0[k] = U[2 * slot[k]];
        T1[k] = U[2 * slot[k] + 1];
    }
}

// Pass 1 of FastKernel::locate for one neuron: its new slot if its boundary stayed or moved by
// one data point (the common case between GD steps), branch-free; else its old slot s with
// kMovedBit set (counted in `flagged`). pred(i) = active(x_i) for w > 0, inactive(x_i) for
// w < 0 is monotone, false..true (rounding is monotone), and the boundary is its first true. So
// with c trues among pred(q - 2 .. q + 1) around the old boundary q, the new one is q + 2 - c if
// 0 < c < 4. xp[i + 2] = x_i with two -inf/+inf sentinels on each side: pred(-2), pred(-1) are
// false and pred(n), pred(n + 1) true for every finite w != 0.
inline std::size_t settle_slot(std::size_t s, std::size_t n, double w, double b, const double* __restrict xp,
                               std::size_t& flagged) {
    const std::size_t q = s > n ? s - (n + 1) : s;  // the previous boundary
    const bool neg = w < 0.0;
    const std::size_t pm1 = is_active(w, b, xp[q + 1]) != neg;  // pred(q - 1)
    const std::size_t p0 = is_active(w, b, xp[q + 2]) != neg;   // pred(q)
    // pred(q - 1) true means pred(q) true as well: then pred(q - 2) decides, else pred(q + 1)
    const std::size_t pc = is_active(w, b, xp[q + (pm1 ? 0 : 3)]) != neg;
    const std::size_t c = 2 * pm1 + p0 + pc;
    const std::size_t edge = c - 1 > 2;                             // c == 0 or c == 4
    const std::size_t zero = static_cast<std::size_t>(!(w > 0.0) & !neg);  // w == 0 or NaN: the slow path decides
    const std::size_t qn = q + 2 - c;
    const std::size_t out = edge | zero ? s | kMovedBit : (neg ? n + 1 + qn : qn);
    flagged += out >> (8 * sizeof(std::size_t) - 1);
    return out;
}

NOINLINE std::size_t check_boundaries(std::size_t m, std::size_t n, const double* __restrict w,
                                      const double* __restrict b, const double* __restrict xp,
                                      std::size_t* __restrict slot) {
    std::size_t flagged = 0;
    for (std::size_t k = 0; k < m; ++k) slot[k] = settle_slot(slot[k], n, w[k], b[k], xp, flagged);
    return flagged;
}

// One GD step for every neuron, in place, with the passes fused: S0, S1 over the old active set
// from the residual sums per slot U, the gradient, (w, b, v) -= eta g, ||g_k||^2 into g2, the
// forward pass's coefficients at the new parameters into ab (as `products`), and locate's pass 1
// at the new (w, b). Returns the number flagged.
NOINLINE std::size_t descend_neurons(std::size_t m, std::size_t n, double inv_n, double eta, double* __restrict w,
                            double* __restrict b, double* __restrict v, std::size_t* __restrict slot,
                            const double* __restrict U, const double* __restrict xp, double* __restrict g2,
                            double* __restrict ab) {
    std::size_t flagged = 0;
    for (std::size_t k = 0; k < m; ++k) {
        const NeuronGradient g = neuron_gradient(w[k], b[k], v[k], U[2 * slot[k]], U[2 * slot[k] + 1], inv_n);
        g2[k] = g.norm2();
        const double wk = w[k] - eta * g.w, bk = b[k] - eta * g.b, vk = v[k] - eta * g.v;
        w[k] = wk;
        b[k] = bk;
        v[k] = vk;
        ab[2 * k] = vk * wk;
        ab[2 * k + 1] = vk * bk;
        slot[k] = settle_slot(slot[k], n, wk, bk, xp, flagged);
    }
    return flagged;
}


// (v_k w_k, v_k b_k) at ab[2 k], ab[2 k + 1]: the coefficients of the forward pass.
void products(std::size_t m, const double* __restrict w, const double* __restrict b, const double* __restrict v,
              double* __restrict ab) {
    for (std::size_t k = 0; k < m; ++k) {
        ab[2 * k] = v[k] * w[k];
        ab[2 * k + 1] = v[k] * b[k];
    }
}

// (d[2 slot_k], d[2 slot_k + 1]) += (ab[2 k], ab[2 k + 1]): one pair load, add and store per neuron.
void scatter_pairs(std::size_t m, const std::size_t* __restrict slot, const double* __restrict ab,
                   double* __restrict d) {
    for (std::size_t k = 0; k < m; ++k) {
        double* e = d + 2 * slot[k];
        store_pair(e, load_pair(e) + load_pair(ab + 2 * k));
    }
}

// Pass 2 of FastKernel::locate: the neurons flagged by pass 1 (boundary moved by more than one
// point, or w == 0), each settled by settle_one.
void settle_moved(std::size_t m, std::size_t n, const double* x, const double* w, const double* b,
                  std::size_t* slot) {
    for (std::size_t k = 0; k < m; ++k)
        if (slot[k] & kMovedBit) slot[k] = settle_one(slot[k], n, x, w[k], b[k]);  // rare: a well-predicted branch
}

#if defined(__AVX512F__) && defined(__AVX512DQ__)
// descend_neurons written out for AVX-512, eight neurons at a time: each lane does the same
// operations as the portable loop, so the results are the same bits (the last m mod 8 neurons go
// through the portable loop). Faster than GCC's vectorisation of the portable loop mainly in
// how it loads (S0, S1): one 16-byte load per lane.
NOINLINE std::size_t descend_neurons_avx512(std::size_t m, std::size_t n, double inv_n, double eta,
                                            double* __restrict w, double* __restrict b, double* __restrict v,
                                            std::size_t* __restrict slot, const double* __restrict U,
                                            const double* __restrict xp, double* __restrict g2,
                                            double* __restrict ab) {
    const __m512d vinv = _mm512_set1_pd(inv_n), veta = _mm512_set1_pd(eta), zero = _mm512_setzero_pd();
    const __m512i vn = _mm512_set1_epi64(static_cast<long long>(n));
    const __m512i vn1 = _mm512_set1_epi64(static_cast<long long>(n + 1));
    const __m512i one = _mm512_set1_epi64(1), two = _mm512_set1_epi64(2), three = _mm512_set1_epi64(3);
    const __m512i moved = _mm512_set1_epi64(static_cast<long long>(kMovedBit));
    const __m512i even = _mm512_set_epi64(11, 3, 10, 2, 9, 1, 8, 0);      // interleave: (pw0, pb0, pw1, pb1, ...)
    const __m512i odd = _mm512_set_epi64(15, 7, 14, 6, 13, 5, 12, 4);
    const __m512i firsts = _mm512_set_epi64(14, 12, 10, 8, 6, 4, 2, 0);  // de-interleave pairs
    const __m512i seconds = _mm512_set_epi64(15, 13, 11, 9, 7, 5, 3, 1);
    std::size_t flagged = 0;
    std::size_t k = 0;
    for (; k + 8 <= m; k += 8) {
        const __m512i s = _mm512_loadu_si512(slot + k);
        // (S0, S1) of each lane: one 16-byte load per lane from U, de-interleaved (faster here
        // than two gathers)
        __m512d lo = _mm512_castpd128_pd512(_mm_loadu_pd(U + 2 * slot[k]));
        lo = _mm512_insertf64x2(lo, _mm_loadu_pd(U + 2 * slot[k + 1]), 1);
        lo = _mm512_insertf64x2(lo, _mm_loadu_pd(U + 2 * slot[k + 2]), 2);
        lo = _mm512_insertf64x2(lo, _mm_loadu_pd(U + 2 * slot[k + 3]), 3);
        __m512d hi = _mm512_castpd128_pd512(_mm_loadu_pd(U + 2 * slot[k + 4]));
        hi = _mm512_insertf64x2(hi, _mm_loadu_pd(U + 2 * slot[k + 5]), 1);
        hi = _mm512_insertf64x2(hi, _mm_loadu_pd(U + 2 * slot[k + 6]), 2);
        hi = _mm512_insertf64x2(hi, _mm_loadu_pd(U + 2 * slot[k + 7]), 3);
        const __m512d S0 = _mm512_permutex2var_pd(lo, firsts, hi);
        const __m512d S1 = _mm512_permutex2var_pd(lo, seconds, hi);
        const __m512d W = _mm512_loadu_pd(w + k), B = _mm512_loadu_pd(b + k), V = _mm512_loadu_pd(v + k);
        // neuron_gradient: g = (v S1 / n, v S0 / n, (w S1 + b S0) / n), and ||g||^2
        const __m512d gw = _mm512_mul_pd(_mm512_mul_pd(V, S1), vinv);
        const __m512d gb = _mm512_mul_pd(_mm512_mul_pd(V, S0), vinv);
        const __m512d gv = _mm512_mul_pd(_mm512_add_pd(_mm512_mul_pd(W, S1), _mm512_mul_pd(B, S0)), vinv);
        _mm512_storeu_pd(g2 + k, _mm512_add_pd(_mm512_add_pd(_mm512_mul_pd(gw, gw), _mm512_mul_pd(gb, gb)),
                                               _mm512_mul_pd(gv, gv)));
        const __m512d W2 = _mm512_sub_pd(W, _mm512_mul_pd(veta, gw));
        const __m512d B2 = _mm512_sub_pd(B, _mm512_mul_pd(veta, gb));
        const __m512d V2 = _mm512_sub_pd(V, _mm512_mul_pd(veta, gv));
        _mm512_storeu_pd(w + k, W2);
        _mm512_storeu_pd(b + k, B2);
        _mm512_storeu_pd(v + k, V2);
        // settle_slot on eight lanes
        const __mmask8 was_prefix = _mm512_cmpgt_epu64_mask(s, vn);
        const __m512i q = _mm512_mask_sub_epi64(s, was_prefix, s, vn1);
        const __mmask8 neg = _mm512_cmp_pd_mask(W2, zero, _CMP_LT_OQ);
        auto pred = [&](__m512i idx) {  // is_active(w, b, xp[idx]) != neg
            // all lanes; the masked form has a defined merge source (no -Wmaybe-uninitialized)
            const __m512d xv = _mm512_mask_i64gather_pd(zero, 0xFF, idx, xp, 8);
            const __mmask8 act = _mm512_cmp_pd_mask(_mm512_add_pd(_mm512_mul_pd(W2, xv), B2), zero, _CMP_GT_OQ);
            return static_cast<__mmask8>(act ^ neg);
        };
        const __mmask8 pm1 = pred(_mm512_add_epi64(q, one));
        const __mmask8 p0 = pred(_mm512_add_epi64(q, two));
        const __mmask8 pc = pred(_mm512_mask_add_epi64(q, static_cast<__mmask8>(~pm1), q, three));
        __m512i c = _mm512_maskz_mov_epi64(pm1, two);  // c = 2 pm1 + p0 + pc
        c = _mm512_mask_add_epi64(c, p0, c, one);
        c = _mm512_mask_add_epi64(c, pc, c, one);
        const __mmask8 edge = _mm512_cmpgt_epu64_mask(_mm512_sub_epi64(c, one), two);
        const __mmask8 wzero = _mm512_cmp_pd_mask(W2, zero, _CMP_EQ_UQ);  // w == 0 or NaN
        const __mmask8 flag = edge | wzero;
        const __m512i qn = _mm512_sub_epi64(_mm512_add_epi64(q, two), c);
        __m512i out = _mm512_mask_add_epi64(qn, neg, qn, vn1);
        out = _mm512_mask_or_epi64(out, flag, s, moved);
        _mm512_storeu_si512(slot + k, out);
        flagged += static_cast<std::size_t>(_mm_popcnt_u32(flag));
        const __m512d PW = _mm512_mul_pd(V2, W2), PB = _mm512_mul_pd(V2, B2);
        _mm512_storeu_pd(ab + 2 * k, _mm512_permutex2var_pd(PW, even, PB));
        _mm512_storeu_pd(ab + 2 * k + 8, _mm512_permutex2var_pd(PW, odd, PB));
    }
    return flagged + descend_neurons(m - k, n, inv_n, eta, w + k, b + k, v + k, slot + k, U, xp, g2 + k, ab + 2 * k);
}
#endif

}  // namespace

FastKernel::FastKernel(std::shared_ptr<const SortedData> data) : Kernel(std::move(data)) {
    const std::size_t n = data_->n();
    dAB_.assign(2 * (2 * n + 2), 0.0);
    suffix_.assign(4 * (n + 1), 0.0);
    P_.assign(4 * (n + 1), 0.0);
    Ur_.assign(2 * (2 * n + 2), 0.0);
    Ut_.assign(2 * (2 * n + 2), 0.0);
    xpad_.assign(n + 4, 0.0);
    const double inf = std::numeric_limits<double>::infinity();
    xpad_[0] = xpad_[1] = -inf;
    std::copy(data_->x(), data_->x() + n, xpad_.begin() + 2);
    xpad_[n + 2] = xpad_[n + 3] = inf;
}

void FastKernel::locate(const Params& p) {
    mirror_theta_ = nullptr;  // a new prepare: the mirror (if any) is dropped, not written back
    mirror_dirty_ = false;
    const std::size_t n = data_->n(), m = p.m;
    if (slot_.size() != m) slot_.assign(m, n / 2);
    // Pass 1, branch-free (vectorised): boundaries that stayed or moved by one point.
    if (check_boundaries(m, n, p.w, p.b, xpad_.data(), slot_.data()) > 0)
        settle_moved(m, n, data_->x(), p.w, p.b, slot_.data());
}

void FastKernel::build_mirror(double* theta) {
    // The neurons with a non-empty active set: the others have a zero gradient and never move.
    const std::size_t m = m_, n = data_->n();
    live_.clear();
    for (std::size_t k = 0; k < m; ++k)
        if (slot_[k] != n && slot_[k] != n + 1) live_.push_back(k);
    const std::size_t live = live_.size();
    for (auto* vec : {&lw_, &lb_, &lv_}) vec->resize(live);
    lslot_.resize(live);
    for (std::size_t j = 0; j < live; ++j) {
        const std::size_t k = live_[j];
        lw_[j] = theta[k];
        lb_[j] = theta[m + k];
        lv_[j] = theta[2 * m + k];
        lslot_[j] = slot_[k];
    }
    mirror_theta_ = theta;
    mirror_dirty_ = false;
}

void FastKernel::sync() {
    if (!mirror_dirty_) return;
    const std::size_t m = m_;
    double* theta = mirror_theta_;
    for (std::size_t j = 0; j < live_.size(); ++j) {
        const std::size_t k = live_[j];
        theta[k] = lw_[j];
        theta[m + k] = lb_[j];
        theta[2 * m + k] = lv_[j];
        slot_[k] = lslot_[j];
    }
    mirror_dirty_ = false;
}

double FastKernel::descend(double eta, double* theta) {
    // theta is theta_: the kernel holds slot_, r_ and Ur_ for it. The step runs over the mirror
    // of the live neurons, in their order in theta: the slot sums that the sweeps read get the
    // same terms in the same order as over all neurons (a dead neuron's slot is never read).
    if (theta != theta_) throw std::invalid_argument("theta: descend steps the theta the kernel was prepared at");
    if (mirror_theta_ != theta) build_mirror(theta);
    const std::size_t m = m_, n = data_->n(), live = live_.size();
    const double inv_n = 1.0 / static_cast<double>(n);
    g2_.resize(live);
#if defined(__AVX512F__) && defined(__AVX512DQ__)
    const auto step_neurons = descend_neurons_avx512;
#else
    const auto step_neurons = descend_neurons;
#endif
    // the step and the boundaries at the new parameters, then the forward pass's scatter
    if (step_neurons(live, n, inv_n, eta, lw_.data(), lb_.data(), lv_.data(), lslot_.data(), Ur_.data(), xpad_.data(),
                     g2_.data(), ab_.data()) > 0)
        settle_moved(live, n, data_->x(), lw_.data(), lb_.data(), lslot_.data());
    scatter_pairs(live, lslot_.data(), ab_.data(), dAB_.data());
    mirror_dirty_ = true;
    const double gc = rsum_ / static_cast<double>(n);
    theta[3 * m] = theta[3 * m] - eta * gc;
    theta_ = theta;
    psum_ = sweep<true>(theta[3 * m], r_.data(), lslot_.data(), live);
    clear_slots(lslot_.data(), live);
    summarize(lslot_.data(), live);
    set_loss();
    return sum(g2_.data(), live) + gc * gc;
}

void FastKernel::linear_sweep(const double* ab, double c0, double* s) {
    scatter_pairs(m_, slot_.data(), ab, dAB_.data());
    psum_ = sweep<false>(c0, s, slot_.data(), m_);
    clear_slots(slot_.data(), m_);
}

template <bool kResidual>
double FastKernel::sweep(double c0, double* s, const std::size_t* slot, std::size_t count) {
    if (segment_ratio_ > 0 && segment_ratio_ * count < data_->n())
        return sweep_segments<kResidual>(c0, s, slot, count);
    // s_i = c0 + A_i x_i + B_i with A_i = sum_{k active at i} alpha_k (B likewise). Each neuron
    // has added its coefficients to one slot; a backward sweep sums the prefix-active neurons, a
    // forward sweep the suffix-active ones, both double-double. The forward sweep also forms the
    // prefix sums P_ of (s, s x).
    const std::size_t n = data_->n();
    const double* x = data_->x();
    const double* y = data_->y();
    dAB_[1] += c0;  // c0 counts everywhere: slot 0 of the forward part
    const double* d = dAB_.data();
    double* suf = suffix_.data();  // per i: (A hi, B hi, A lo, B lo)
    {  // backward: neurons active on [0, hi) sit at slot n + 1 + hi and count for every i < hi
        CompensatedPair AB;
        for (std::size_t i = n; i-- > 0;) {
            AB.add(load_pair(d + 2 * (n + 2 + i)));  // slot of hi = i + 1
            store_pair(suf + 4 * i, AB.hi);
            store_pair(suf + 4 * i + 2, AB.lo);
        }
    }
    // P[4 i .. 4 i + 3] = (sum s hi, sum s x hi, sum s lo, sum s x lo) over [0, i)
    double* P = P_.data();
    P[0] = P[1] = P[2] = P[3] = 0.0;
    CompensatedPair AB, acc;
    auto point = [&](std::size_t i) {
        AB.add(load_pair(d + 2 * i));
        Pair hi, e;
        two_sum(AB.hi, load_pair(suf + 4 * i), hi, e);
        const Pair lo = e + (AB.lo + load_pair(suf + 4 * i + 2));
        // (A hi + A lo) x + (B hi + B lo) with one rounding on the leading part
        double t = std::fma(hi[0], x[i], hi[1]) + (lo[0] * x[i] + lo[1]);
        if (kResidual) t = t - y[i];
        s[i] = t;
        acc.add(make_pair(t, t * x[i]));
        store_pair(P + 4 * (i + 1), acc.hi);
        store_pair(P + 4 * (i + 1) + 2, acc.lo);
    };
    for (std::size_t i = 0; i < n; ++i) point(i);
    return acc.hi[0] + acc.lo[0];
}

template <bool kResidual>
double FastKernel::sweep_segments(double c0, double* s, const std::size_t* slot, std::size_t count) {
    // sweep() for few neurons and many data points: the same bits, with the compensated sums
    // taken only where a slot is in use. A slot that no neuron uses holds zero, and adding zero
    // leaves a compensated sum as it was, so the forward and backward sums are constant between
    // the boundaries in use and the merged coefficients (hence s_i) are those of sweep().
    const std::size_t n = data_->n();
    const double* x = data_->x();
    const double* y = data_->y();
    dAB_[1] += c0;  // c0 counts everywhere: slot 0 of the forward part
    const double* d = dAB_.data();
    // the boundaries in use: forward slots q in [0, n) (0 for c0), backward ends hi in (0, n]
    fwd_.assign(1, 0);
    bwd_.clear();
    for (std::size_t k = 0; k < count; ++k) {
        const std::size_t sl = slot[k];
        if (sl < n) fwd_.push_back(sl);
        else if (sl > n + 1) bwd_.push_back(sl - (n + 1));  // slots n and n + 1: empty sets
    }
    for (auto* v : {&fwd_, &bwd_}) {
        std::sort(v->begin(), v->end());
        v->erase(std::unique(v->begin(), v->end()), v->end());
    }
    // backward sums, as sweep() forms them (descending ends): bstate_[j] = the sum over ends
    // bwd_[j..], valid for i in [bwd_[j - 1], bwd_[j])
    const std::size_t nb = bwd_.size();
    bstate_.resize(4 * (nb + 1));
    {
        CompensatedPair AB;
        store_pair(bstate_.data() + 4 * nb, AB.hi);
        store_pair(bstate_.data() + 4 * nb + 2, AB.lo);
        for (std::size_t j = nb; j-- > 0;) {
            AB.add(load_pair(d + 2 * (n + 1 + bwd_[j])));
            store_pair(bstate_.data() + 4 * j, AB.hi);
            store_pair(bstate_.data() + 4 * j + 2, AB.lo);
        }
    }
    double* P = P_.data();
    CompensatedPair AB, acc;
    std::size_t jf = 0, jb = 0;  // next forward slot to add; first end > i
    std::size_t i = 0;
    while (i < n) {
        while (jf < fwd_.size() && fwd_[jf] <= i) AB.add(load_pair(d + 2 * fwd_[jf++]));
        while (jb < nb && bwd_[jb] <= i) ++jb;
        const std::size_t next = std::min(jf < fwd_.size() ? fwd_[jf] : n, jb < nb ? bwd_[jb] : n);
        Pair hi, e;
        two_sum(AB.hi, load_pair(bstate_.data() + 4 * jb), hi, e);
        const Pair lo = e + (AB.lo + load_pair(bstate_.data() + 4 * jb + 2));
        store_pair(P + 4 * i, acc.hi);  // P at the segment's start (slot_table reads only these)
        store_pair(P + 4 * i + 2, acc.lo);
        for (; i < next; ++i) {
            double t = std::fma(hi[0], x[i], hi[1]) + (lo[0] * x[i] + lo[1]);
            if (kResidual) t = t - y[i];
            s[i] = t;
            acc.add(make_pair(t, t * x[i]));
        }
    }
    store_pair(P + 4 * n, acc.hi);
    store_pair(P + 4 * n + 2, acc.lo);
    return acc.hi[0] + acc.lo[0];
}

void FastKernel::forward(const Params& p, double* r) {
    products(p.m, p.w, p.b, p.v, ab_.data());
    scatter_pairs(p.m, slot_.data(), ab_.data(), dAB_.data());
    psum_ = sweep<true>(p.c, r, slot_.data(), p.m);
    clear_slots(slot_.data(), p.m);
}

void FastKernel::clear_slots(const std::size_t* slot, std::size_t count) {
    // dAB_ is all zeros between sweeps. With few neurons for many data points, zeroing just the
    // slots they wrote (and slot 0, which took c0) is much cheaper than zeroing all 2n + 2.
    if (count >= data_->n()) {
        std::fill(dAB_.begin(), dAB_.end(), 0.0);
        return;
    }
    for (std::size_t k = 0; k < count; ++k) dAB_[2 * slot[k]] = dAB_[2 * slot[k] + 1] = 0.0;
    dAB_[0] = dAB_[1] = 0.0;
}

void FastKernel::slot_table(const std::size_t* slot, std::size_t count, double* U) const {
    // A slot's sums are differences of two prefix entries: slot q (< n + 1) the suffix [q, n),
    // slot n + 1 + q the prefix [0, q). For few neurons only their slots are filled (and the two
    // empty ones); for many, all 2n + 2, vectorised. The same formula either way: the same bits.
    const std::size_t n = data_->n();
    const double* P = P_.data();
    const double* end = P + 4 * n;
    if (count >= n) {
        for (std::size_t q = 0; q <= n; ++q) {
            const double* e = P + 4 * q;
            U[2 * q] = (end[0] - e[0]) + (end[2] - e[2]);
            U[2 * q + 1] = (end[1] - e[1]) + (end[3] - e[3]);
            U[2 * (n + 1 + q)] = e[0] + e[2];
            U[2 * (n + 1 + q) + 1] = e[1] + e[3];
        }
        return;
    }
    auto fill = [&](std::size_t sl) {
        if (sl <= n) {
            const double* e = P + 4 * sl;
            U[2 * sl] = (end[0] - e[0]) + (end[2] - e[2]);
            U[2 * sl + 1] = (end[1] - e[1]) + (end[3] - e[3]);
        } else {
            const double* e = P + 4 * (sl - (n + 1));
            U[2 * sl] = e[0] + e[2];
            U[2 * sl + 1] = e[1] + e[3];
        }
    };
    for (std::size_t k = 0; k < count; ++k) fill(slot[k]);
    fill(n);  // the empty sets: read for neurons outside `slot` (dead ones, once synced)
    fill(n + 1);
}

double FastKernel::transpose_product(const double* s, const double* u, double* out) {
    // s is s_ from linear_sweep, whose sweep left its prefix sums in P_ and its total in psum_
    (void)s;
    const std::size_t m = m_;
    const double* th = theta_;
    slot_table(slot_.data(), m, Ut_.data());
    assemble_hvp_slots(m, 1.0 / static_cast<double>(data_->n()), th, th + m, th + 2 * m, u, u + m, u + 2 * m,
                       S0_.data(), S1_.data(), slot_.data(), Ut_.data(), out, out + m, out + 2 * m);
    return psum_;
}

void FastKernel::summarize_residuals() { summarize(slot_.data(), m_); }

void FastKernel::summarize(const std::size_t* slot, std::size_t count) {
    // S0, S1 wait until needed: a GD step reads them straight from Ur_.
    rsum_ = psum_;
    slot_table(slot, count, Ur_.data());
    sums_stale_ = true;
}

void FastKernel::refresh_sums() { interval_sums(m_, slot_.data(), Ur_.data(), S0_.data(), S1_.data()); }

void FastKernel::hessian(double* H) {
    // Every entry of J^T J is a combination of sums of 1, x, x^2 over the intersection of two
    // neurons' active intervals: O(1) each from the data's prefix moments.
    sync();
    ensure_sums();
    const Params p(theta_, dim());
    const std::size_t m = p.m, d = dim(), n = data_->n();
    const double nn = static_cast<double>(n);
    const PrefixSum& MX = data_->moment_x();
    const PrefixSum& MXX = data_->moment_xx();
    for (std::size_t q = 0; q < d * d; ++q) H[q] = 0.0;
    auto set = [&](std::size_t a, std::size_t b, double val) { H[a * d + b] = H[b * d + a] = val; };
    for (std::size_t j = 0; j < m; ++j) {
        const double wj = p.w[j], bj = p.b[j], vj = p.v[j];
        for (std::size_t k = j; k < m; ++k) {
            const std::size_t a = std::max(interval_lo(j), interval_lo(k));
            const std::size_t b = std::min(interval_hi(j), interval_hi(k));
            if (a >= b) continue;
            const double wk = p.w[k], bk = p.b[k], vk = p.v[k];
            const double S1 = static_cast<double>(b - a), Sx = MX.range(a, b), Sxx = MXX.range(a, b);
            const double vv = vj * vk;
            set(j, k, vv * Sxx / nn);                       // (w_j, w_k)
            set(j, m + k, vv * Sx / nn);                    // (w_j, b_k)
            set(m + j, k, vv * Sx / nn);                    // (b_j, w_k)
            set(m + j, m + k, vv * S1 / nn);                // (b_j, b_k)
            set(j, 2 * m + k, vj * (wk * Sxx + bk * Sx) / nn);      // (w_j, v_k)
            set(2 * m + j, k, vk * (wj * Sxx + bj * Sx) / nn);      // (v_j, w_k)
            set(m + j, 2 * m + k, vj * (wk * Sx + bk * S1) / nn);   // (b_j, v_k)
            set(2 * m + j, m + k, vk * (wj * Sx + bj * S1) / nn);   // (v_j, b_k)
            set(2 * m + j, 2 * m + k, (wj * wk * Sxx + (wj * bk + bj * wk) * Sx + bj * bk * S1) / nn);
        }
    }
    const std::size_t ic = 3 * m;
    for (std::size_t k = 0; k < m; ++k) {
        const std::size_t a = interval_lo(k), b = interval_hi(k);
        const double cnt = static_cast<double>(b > a ? b - a : 0);
        const double Sx = b > a ? MX.range(a, b) : 0.0;
        set(ic, k, p.v[k] * Sx / nn);
        set(ic, m + k, p.v[k] * cnt / nn);
        set(ic, 2 * m + k, (p.w[k] * Sx + p.b[k] * cnt) / nn);
        // residual term R: d2f/(dv dw) = a x, d2f/(dv db) = a
        H[(2 * m + k) * d + k] += S1_[k] / nn;
        H[k * d + 2 * m + k] += S1_[k] / nn;
        H[(2 * m + k) * d + m + k] += S0_[k] / nn;
        H[(m + k) * d + 2 * m + k] += S0_[k] / nn;
    }
    H[ic * d + ic] = 1.0;  // sum_i 1 / n
}

std::size_t FastKernel::knots_inside() {
    sync();
    const Params p(theta_, dim());
    const std::size_t n = data_->n();
    std::size_t count = 0;
    for (std::size_t k = 0; k < p.m; ++k) {
        if (p.w[k] == 0.0 || p.v[k] == 0.0) continue;
        count += (boundary(k) > 0 && boundary(k) < n);
    }
    return count;
}

}  // namespace relu1d
