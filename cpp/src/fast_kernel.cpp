// FastKernel: the O(n + m log n) sorted-data algorithm.
#include "relu1d/fast_kernel.hpp"

#include <algorithm>
#include <cmath>
#include <limits>
#include <stdexcept>

#include "neuron_terms.hpp"
#include "relu1d/numerics.hpp"
#include "simd/neuron_loops.hpp"

namespace relu1d {

namespace {

using detail::kMovedBit;

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
RELU1D_NOINLINE void interval_sums(std::size_t m, const std::size_t* __restrict slot, const double* __restrict U,
                                   double* __restrict T0, double* __restrict T1) {
    for (std::size_t k = 0; k < m; ++k) {
        T0[k] = U[2 * slot[k]];
        T1[k] = U[2 * slot[k] + 1];
    }
}

// The neuron entries of H u (neuron_hvp) with (T0_k, T1_k) = (U[2 slot_k], U[2 slot_k + 1]) looked up
// on the way.
RELU1D_NOINLINE void assemble_hvp_slots(std::size_t m, double inv_n, const double* __restrict w,
                                        const double* __restrict b, const double* __restrict v,
                                        const double* __restrict uw, const double* __restrict ub,
                                        const double* __restrict uv, const double* __restrict S0,
                                        const double* __restrict S1, const std::size_t* __restrict slot,
                                        const double* __restrict U, double* __restrict ow, double* __restrict ob,
                                        double* __restrict ov) {
    for (std::size_t k = 0; k < m; ++k)
        detail::neuron_hvp(w[k], b[k], v[k], uw[k], ub[k], uv[k], S0[k], S1[k], U[2 * slot[k]], U[2 * slot[k] + 1],
                           inv_n, ow[k], ob[k], ov[k]);
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
    if (detail::check_boundaries(m, n, p.w, p.b, xpad_.data(), slot_.data()) > 0)
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
#if RELU1D_HAS_AVX512_LOOPS
    const auto step_neurons = detail::descend_neurons_avx512;
#else
    const auto step_neurons = detail::descend_neurons;
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
