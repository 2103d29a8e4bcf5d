// FastKernel: the O(n + m log n) sorted-data algorithm.
#include "relu1d/fast_kernel.hpp"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <functional>
#include <limits>
#include <stdexcept>

#include "interval_moments.hpp"
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

using detail::wild_coefficients;

// A stretch's sum of (s, s x) continued by the next piece of it (the pieces of a stretch that
// crosses sweep blocks are summed separately and added in block order).
inline void merge_piece(CompensatedPair& into, const CompensatedPair& piece) {
    into.add(piece.hi);
    into.lo = into.lo + piece.lo;
}

// The running sum of (s, s x) over a stretch of data between two boundaries in use, as the sweeps
// form it: a new piece at each sweep block start inside the stretch, the pieces added in block
// order.
struct StretchSum {
    CompensatedPair acc;    // the current piece
    CompensatedPair carry;  // the earlier pieces, when `carrying`
    bool carrying = false;
    void restart() {  // a new stretch
        acc = CompensatedPair();
        carrying = false;
    }
    void next_piece() {  // a new sweep block inside the stretch
        if (carrying) merge_piece(carry, acc);
        else carry = acc;
        carrying = true;
        acc = CompensatedPair();
    }
    Pair total() const {  // rounded
        if (!carrying) return acc.hi + acc.lo;
        CompensatedPair all = carry;
        merge_piece(all, acc);
        return all.hi + all.lo;
    }
};

// The number of wild coefficient pairs among ab[0 .. 2 m).
std::size_t count_wild(std::size_t m, const double* __restrict ab, double scale, double limit) {
    std::size_t wild = 0;
    for (std::size_t k = 0; k < m; ++k) wild += wild_coefficients(ab[2 * k], ab[2 * k + 1], scale, limit);
    return wild;
}

// (d[2 slot_k], d[2 slot_k + 1]) += (ab[2 k], ab[2 k + 1]): one pair load, add and store per
// neuron, and used[slot_k] = 1. With kSkipWild, neurons with wild coefficients are marked but not
// added (FastKernel::evaluate adds their terms point by point).
template <bool kSkipWild>
void scatter_pairs(std::size_t m, const std::size_t* __restrict slot, const double* __restrict ab,
                   double* __restrict d, char* __restrict used, double scale, double limit) {
    for (std::size_t k = 0; k < m; ++k) {
        used[slot[k]] = 1;
        if (kSkipWild && wild_coefficients(ab[2 * k], ab[2 * k + 1], scale, limit)) continue;
        double* e = d + 2 * slot[k];
        store_pair(e, load_pair(e) + load_pair(ab + 2 * k));
    }
}

// d[q] += t[q], t[q] = 0 for q in [lo, hi), and used[q / 2] |= tu[q / 2], tu[q / 2] = 0 (q even).
void merge_table(double* __restrict d, double* __restrict t, char* __restrict used, char* __restrict tu,
                 std::size_t lo, std::size_t hi) {
    for (std::size_t q = lo; q < hi; ++q) {
        d[q] += t[q];
        t[q] = 0.0;
    }
    for (std::size_t q = lo / 2; q < hi / 2; ++q) {
        used[q] |= tu[q];
        tu[q] = 0;
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

FastKernel::FastKernel(std::shared_ptr<const SortedData> data, int threads)
    : Kernel(std::move(data), threads) {
    const std::size_t n = data_->n();
    // Zeros as calloc gives them (ZeroedVector): with many points per neuron a sweep touches only
    // the slots in use. suffix_ and Ut_ wait for their first use: a run on many points per neuron
    // never needs the full sweep's suffix sums, a GD run without sharpness never the HVP's slot
    // sums (320 MB each at n = 1e7).
    dAB_.resize(2 * (2 * n + 2));
    Ur_.resize(2 * (2 * n + 2));
    seg_.resize(2 * (n + 1));
    used_.resize(2 * n + 2);
    xpad_.assign(n + 4, 0.0);
    const double inf = std::numeric_limits<double>::infinity();
    xpad_[0] = xpad_[1] = -inf;
    std::copy(data_->x(), data_->x() + n, xpad_.begin() + 2);
    xpad_[n + 2] = xpad_[n + 3] = inf;
    coef_scale_ = std::max({1.0, std::fabs(data_->x()[0]), std::fabs(data_->x()[n - 1])});
}

FastKernel::~FastKernel() = default;

template <class Body>
void FastKernel::split(std::size_t items, unsigned parts, Body&& body) {
    for_blocks(std::max(parts, 1u), parts > 1, [&](std::size_t t) {
        body(static_cast<unsigned>(t), items * t / parts, items * (t + 1) / parts);
    });
}

std::size_t FastKernel::scatter_block() const {
    const std::size_t least = std::max<std::size_t>({scatter_block_min(), 4 * (data_->n() + 1), 1});
    const std::size_t needed = (m_ + least - 1) / least;  // blocks of `least` neurons
    std::size_t blocks = 1;
    while (blocks < needed) blocks *= 2;
    return std::max<std::size_t>(1, (m_ + blocks - 1) / blocks);  // B = ceil(m / 2^ceil(log2(ceil(m / least))))
}

std::size_t FastKernel::begin_blocks(const std::size_t* index, std::size_t count) {
    const std::size_t slots = 2 * data_->n() + 2, B = scatter_block();
    const std::size_t blocks = std::max<std::size_t>(1, (m_ + B - 1) / B);
    // block j: the neurons with index in [j B, (j + 1) B), at [bounds_[j], bounds_[j + 1]) here
    bounds_.resize(blocks + 1);
    for (std::size_t j = 0; j <= blocks; ++j)
        bounds_[j] = index == nullptr ? std::min(j * B, count)
                                      : static_cast<std::size_t>(std::lower_bound(index, index + count, j * B) - index);
    if (tables_.size() < blocks - 1) {
        tables_.resize(blocks - 1);
        table_used_.resize(blocks - 1);
    }
    for (std::size_t j = 0; j + 1 < blocks; ++j) {
        tables_[j].resize(2 * slots, 0.0);
        table_used_[j].resize(slots, 0);
    }
    return blocks;
}

bool FastKernel::copy_pays(std::size_t neurons, unsigned threads) const {
    return threads > 1 && neurons / threads >= 2 * data_->n() + 2;
}

double* FastKernel::block_table(std::size_t j) { return j == 0 ? dAB_.data() : tables_[j - 1].data(); }
char* FastKernel::block_used(std::size_t j) { return j == 0 ? used_.data() : table_used_[j - 1].data(); }

void FastKernel::merge_node(std::size_t a, std::size_t s, std::size_t lo, std::size_t hi) {
    merge_table(block_table(a), block_table(a + s), block_used(a), block_used(a + s), lo, hi);
}

void FastKernel::merge_finished(std::size_t j, std::size_t j0, std::size_t blocks) {
    // the nodes (a, s) with a >= j0 whose last block is j, children first
    for (std::size_t s = 1; s < blocks; s *= 2) {
        const std::size_t a = j / (2 * s) * (2 * s);
        if (a >= j0 && a + s <= j && std::min(a + 2 * s, blocks) == j + 1)
            merge_node(a, s, 0, 2 * (2 * data_->n() + 2));
    }
}

void FastKernel::merge_blocks(std::size_t blocks, unsigned parts, std::size_t run) {
    // the nodes not inside one run of blocks [t run, (t + 1) run) (those are added already)
    const auto local = [&](std::size_t a, std::size_t s) {
        return run > 0 && a / run == (std::min(a + 2 * s, blocks) - 1) / run;
    };
    bool any = false;
    for (std::size_t s = 1; s < blocks; s *= 2)
        for (std::size_t a = 0; a + s < blocks; a += 2 * s) any = any || !local(a, s);
    if (!any) return;
    const std::size_t slots = 2 * data_->n() + 2, groups = (slots + 63) / 64;  // 64 slots: whole lines of used_
    split(groups, parts > 1 ? static_cast<unsigned>(std::min<std::size_t>(groups, 4 * parts)) : 1u,
          [&](unsigned, std::size_t g0, std::size_t g1) {
              const std::size_t lo = 2 * 64 * g0, hi = 2 * std::min(64 * g1, slots);
              for (std::size_t s = 1; s < blocks; s *= 2)  // level by level: the children first
                  for (std::size_t a = 0; a + s < blocks; a += 2 * s)
                      if (!local(a, s)) merge_node(a, s, lo, hi);
          });
}

void FastKernel::scatter(const std::size_t* slot, const double* ab, std::size_t count, const std::size_t* index,
                         bool skip_wild) {
    const double limit = coef_limit();
    auto add = [&](std::size_t lo, std::size_t hi, double* d, char* used) {
        if (skip_wild) scatter_pairs<true>(hi - lo, slot + lo, ab + 2 * lo, d, used, coef_scale_, limit);
        else scatter_pairs<false>(hi - lo, slot + lo, ab + 2 * lo, d, used, coef_scale_, limit);
    };
    const std::size_t blocks = begin_blocks(index, count);
    if (blocks <= 1) {
        add(0, count, dAB_.data(), used_.data());
        return;
    }
    const unsigned parts = parts_for(count);
    // one run of all blocks on one thread, else a block at a time
    const std::size_t run = parts > 1 ? 1 : blocks;
    split(blocks, parts > 1 ? static_cast<unsigned>(blocks) : 1u, [&](unsigned, std::size_t j0, std::size_t j1) {
        for (std::size_t j = j0; j < j1; ++j) {
            add(bounds_[j], bounds_[j + 1], block_table(j), block_used(j));
            merge_finished(j, j0, blocks);
        }
    });
    merge_blocks(blocks, parts, run);
}

void FastKernel::locate(const Params& p) {
    mirror_theta_ = nullptr;  // a new prepare: the mirror (if any) is dropped, not written back
    mirror_dirty_ = false;
    const std::size_t n = data_->n(), m = p.m;
    if (slot_.size() != m) {
        // no previous boundaries: start each search where the knot -b/w falls if the data were
        // spread evenly over [x_0, x_{n-1}] (the searches below gallop from there, so a guess off
        // by d costs O(log d); the result does not depend on it)
        slot_.resize(m);
        const double x0 = data_->x()[0], span = data_->x()[n - 1] - x0, scale = static_cast<double>(n) / span;
        split(m, parts_for(m), [&](unsigned, std::size_t lo, std::size_t hi) {
            for (std::size_t k = lo; k < hi; ++k) {
                const double at = (-p.b[k] / p.w[k] - x0) * scale;  // NaN or inf for w = 0 or span = 0
                slot_[k] = at >= 0.0 && at < static_cast<double>(n) ? static_cast<std::size_t>(at)
                           : at >= static_cast<double>(n) ? n : (at < 0.0 ? 0 : n / 2);
            }
        });
    }
    // Pass 1, branch-free (vectorised): boundaries that stayed or moved by one point; pass 2 for
    // the others (each neuron on its own: any split over threads gives the same slots)
    const auto check = detail::simd_loops().check_boundaries;
    split(m, parts_for(m), [&](unsigned, std::size_t lo, std::size_t hi) {
        if (check(hi - lo, n, p.w + lo, p.b + lo, xpad_.data(), slot_.data() + lo) > 0)
            settle_moved(hi - lo, n, data_->x(), p.w + lo, p.b + lo, slot_.data() + lo);
    });
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
    const auto step_neurons = detail::simd_loops().descend_neurons;  // the SIMD path in use
    // the step and the boundaries at the new parameters, then the forward pass (||g_k||^2 into g2
    // as descend_neurons takes it)
    auto step = [&](std::size_t lo, std::size_t hi, const double* U, double* g2, std::size_t lane, double* ab,
                    std::size_t& wild) {
        if (step_neurons(hi - lo, n, inv_n, eta, lw_.data() + lo, lb_.data() + lo, lv_.data() + lo, lslot_.data() + lo,
                         U, xpad_.data(), g2, lane, ab, coef_scale_, coef_limit(), wild) > 0)
            settle_moved(hi - lo, n, data_->x(), lw_.data() + lo, lb_.data() + lo, lslot_.data() + lo);
    };
    std::size_t wild = 0;
    // Each block of the scatter (fixed by the neurons' indices) is stepped a chunk at a time and
    // its chunk's coefficients (still in L1, never written out) go straight into the block's slot
    // table: the same additions in the same order as the scatter of evaluate, with less memory
    // traffic. The blocks spread over the threads where they share out evenly or are many; else
    // the neurons are split finer and evaluate scatters.
    const std::size_t blocks = begin_blocks(live_.data(), live);
    const unsigned threads = parts_for(live);
    const bool fused = threads <= 1 || blocks % threads == 0 || blocks >= 4 * static_cast<std::size_t>(threads);
    part_g2_.assign(blocks, 0.0);
    // the residual sums per slot, read at random by every neuron (a block of the fused step has
    // about 2 (n + 1) neurons or more, counted over all m: the live ones decide)
    const SharedTable U(Ur_.data(), Ur_.size(), copy_pays(live, threads));
    if (fused) {
        part_wild_.assign(blocks, 0);
        // an even share: one run of blocks per thread (the same blocks on every step); else a block at a time
        const unsigned parts = threads <= 1 ? 1u : blocks % threads == 0 ? threads : static_cast<unsigned>(blocks);
        split(blocks, parts, [&](unsigned, std::size_t j0, std::size_t j1) {
            const double* Uv = U.view();
            constexpr std::size_t kChunk = 512;
            double ab[2 * kChunk];
            for (std::size_t j = j0; j < j1; ++j) {
                double* table = block_table(j);
                char* used = block_used(j);
                std::size_t block_wild = 0;  // (counted here: part_wild_ entries share cache lines across threads)
                double g2[kSumLanes] = {};   // the block's sum(||g_k||^2), lane by lane
                for (std::size_t lo = bounds_[j]; lo < bounds_[j + 1]; lo += kChunk) {
                    const std::size_t hi = std::min(bounds_[j + 1], lo + kChunk);
                    const std::size_t wild_before = block_wild;
                    step(lo, hi, Uv, g2, (lo - bounds_[j]) % kSumLanes, ab, block_wild);
                    if (block_wild == wild_before)  // (the usual case: no wild coefficients to leave out)
                        scatter_pairs<false>(hi - lo, lslot_.data() + lo, ab, table, used, coef_scale_, coef_limit());
                    else
                        scatter_pairs<true>(hi - lo, lslot_.data() + lo, ab, table, used, coef_scale_, coef_limit());
                }
                part_wild_[j] = block_wild;
                part_g2_[j] = fold_lanes(g2);
                merge_finished(j, j0, blocks);
            }
        });
        merge_blocks(blocks, threads, blocks / parts);
    } else {
        // each neuron on its own: any split into parts gives the same bits (8 parts per thread,
        // taken in turn: a thread that starts late takes fewer)
        const unsigned parts = 8 * threads;
        part_wild_.assign(parts, 0);
        g2_.resize(live);
        split(live, parts, [&](unsigned t, std::size_t lo, std::size_t hi) {
            step(lo, hi, U.view(), g2_.data() + lo, detail::kPerNeuron, ab_.data() + 2 * lo, part_wild_[t]);
        });
        for_blocks(blocks, true, [&](std::size_t j) {
            part_g2_[j] = sum(g2_.data() + bounds_[j], bounds_[j + 1] - bounds_[j]);
        });
    }
    for (std::size_t c : part_wild_) wild += c;
    mirror_dirty_ = true;
    const double gc = rsum_ / static_cast<double>(n);
    theta[3 * m] = theta[3 * m] - eta * gc;
    theta_ = theta;
    psum_ = evaluate<true>(theta[3 * m], fused ? nullptr : ab_.data(), lw_.data(), lb_.data(), lv_.data(),
                           lslot_.data(), live, live_.data(), r_.data(), Ur_.data(), wild);
    rsum_ = psum_;
    sums_stale_ = true;
    set_loss();
    double g2 = 0.0;  // ||g||^2: the blocks' sums added in block order
    for (double part : part_g2_) g2 += part;
    return g2 + gc * gc;
}

void FastKernel::linear_sweep(const double* ab, double c0, double* s) {
    Ut_.resize(2 * (2 * data_->n() + 2));  // (allocated on the first HVP)
    psum_ = evaluate<false>(c0, ab, nullptr, nullptr, nullptr, slot_.data(), m_, nullptr, s, Ut_.data());
}

void FastKernel::forward(const Params& p, double* r) {
    split(p.m, parts_for(p.m), [&](unsigned, std::size_t lo, std::size_t hi) {
        products(hi - lo, p.w + lo, p.b + lo, p.v + lo, ab_.data() + 2 * lo);
    });
    psum_ = evaluate<true>(p.c, ab_.data(), p.w, p.b, p.v, slot_.data(), p.m, nullptr, r, Ur_.data());
}

template <bool kResidual>
double FastKernel::evaluate(double c0, const double* ab, const double* w, const double* b, const double* v,
                            const std::size_t* slot, std::size_t count, const std::size_t* index, double* s,
                            double* U, std::size_t wild) {
    // Every running sum below covers only points or neurons that are active where it is used.
    // The coefficient sums add a neuron where its active set starts (forwards for suffixes,
    // backwards for prefixes). The data between two consecutive boundaries in use (a segment)
    // are all active for the same neurons; the sweep sums (s, s x) over each segment separately,
    // and slot_sums adds the segments' totals forwards for the prefix slots and backwards for the
    // suffix slots. So no sum passes through points outside a neuron's active set, and the error
    // stays within a few eps times the neuron's own terms, whatever lies outside (a difference of
    // two running totals over all the data loses everything there).
    const std::size_t n = data_->n();
    const bool segments = segment_ratio_ > 0 && segment_ratio_ * count < n;
    const double limit = coef_limit();
    if (ab != nullptr) {  // (null: the fused GD step has scattered the coefficients already)
        if (wild == kUncounted) wild = count_wild(count, ab, coef_scale_, limit);
        scatter(slot, ab, count, index, wild > 0);
    }
    if (segments) {
        sweep_segments<kResidual>(c0, s, slot, count);
    } else {
        sweep<kResidual>(c0, s);
        edges_.resize(n + 1);  // the boundaries in use, ascending (branch-free compaction)
        const char* used = used_.data();
        edges_[0] = 0;
        std::size_t e = 1;
        for (std::size_t i = 1; i < n; ++i) {
            edges_[e] = i;
            e += used[i] | used[n + 1 + i];
        }
        edges_[e] = n;
        edges_.resize(e + 1);
    }
    if (wild > 0) {
        // Neurons with coefficients too large for the running sums: their terms point by point, in
        // the dense kernel's order of products (v (w x + b), finite wherever the result is)
        const double* x = data_->x();
        for (std::size_t k = 0; k < count; ++k) {
            // (ab null: the GD step's coefficients (v w, v b), formed again as it formed them)
            const double alpha = ab != nullptr ? ab[2 * k] : v[k] * w[k], beta = ab != nullptr ? ab[2 * k + 1] : v[k] * b[k];
            if (!wild_coefficients(alpha, beta, coef_scale_, limit)) continue;
            const std::size_t sl = slot[k];
            const std::size_t lo = sl > n ? 0 : sl, hi = sl > n ? sl - (n + 1) : n;
            if (w != nullptr) {
                for (std::size_t i = lo; i < hi; ++i) s[i] += v[k] * (w[k] * x[i] + b[k]);
            } else {
                for (std::size_t i = lo; i < hi; ++i) s[i] += alpha * x[i] + beta;
            }
        }
        segment_totals(s);
    }
    clear_slots(slot, count);
    return slot_sums(U);
}

template <bool kResidual>
void FastKernel::sweep(double c0, double* s) {
    // s_i = c0 + A_i x_i + B_i with A_i = sum_{k active at i} alpha_k (B likewise). Each neuron
    // has added its coefficients to one slot; a backward sweep sums the prefix-active neurons, a
    // forward sweep the suffix-active ones, both double-double. The forward sweep also forms the
    // segments' sums of (s, s x) (segment_totals, the same bits).
    const std::size_t n = data_->n();
    const double* x = data_->x();
    const double* y = data_->y();
    dAB_[1] += c0;  // c0 counts everywhere: slot 0 of the forward part
    const double* d = dAB_.data();
    suffix_.resize(4 * (n + 1));   // (allocated on the first full sweep; every entry read is written first)
    double* suf = suffix_.data();  // per i: (A hi, B hi, A lo, B lo)
    {  // backward: neurons active on [0, hi) sit at slot n + 1 + hi and count for every i < hi
        CompensatedPair AB;
        for (std::size_t i = n; i-- > 0;) {
            AB.add(load_pair(d + 2 * (n + 2 + i)));  // slot of hi = i + 1
            store_pair(suf + 4 * i, AB.hi);
            store_pair(suf + 4 * i + 2, AB.lo);
        }
    }
    double* R = seg_.data();
    const char* used = used_.data();
    const std::size_t block = sweep_block_points();
    CompensatedPair AB;
    StretchSum seg;
    for (std::size_t i = 0, next_block = block; i < n; ++i) {
        AB.add(load_pair(d + 2 * i));
        Pair hi, e;
        two_sum(AB.hi, load_pair(suf + 4 * i), hi, e);
        const Pair lo = e + (AB.lo + load_pair(suf + 4 * i + 2));
        // (A hi + A lo) x + (B hi + B lo) with one rounding on the leading part
        double t = std::fma(hi[0], x[i], hi[1]) + (lo[0] * x[i] + lo[1]);
        if (kResidual) t = t - y[i];
        s[i] = t;
        if (i == 0 || (used[i] | used[n + 1 + i])) seg.restart();  // a new segment
        else if (i == next_block) seg.next_piece();
        if (i == next_block) next_block += block;
        seg.acc.add(make_pair(t, t * x[i]));
        store_pair(R + 2 * (i + 1), seg.total());
    }
}

template <bool kResidual>
void FastKernel::sweep_segments(double c0, double* s, const std::size_t* slot, std::size_t count) {
    // sweep() for few neurons and many data points: the same bits, with the compensated sums
    // taken only where a slot is in use. A slot that no neuron uses holds zero, and adding zero
    // leaves a compensated sum as it was, so the forward and backward sums are constant between
    // the boundaries in use and the merged coefficients (hence s_i) are those of sweep(). The
    // segments' sums are stored at their ends only, and their starts listed in edges_.
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
    // the segments (the data between two boundaries in use) and their coefficients
    edges_.clear();
    seg_coef_.clear();
    {
        CompensatedPair AB;
        std::size_t jf = 0, jb = 0;  // next forward slot to add; first end > i
        for (std::size_t i = 0; i < n;) {
            while (jf < fwd_.size() && fwd_[jf] <= i) AB.add(load_pair(d + 2 * fwd_[jf++]));
            while (jb < nb && bwd_[jb] <= i) ++jb;
            const std::size_t next = std::min(jf < fwd_.size() ? fwd_[jf] : n, jb < nb ? bwd_[jb] : n);
            Pair hi, e;
            two_sum(AB.hi, load_pair(bstate_.data() + 4 * jb), hi, e);
            const Pair lo = e + (AB.lo + load_pair(bstate_.data() + 4 * jb + 2));
            edges_.push_back(i);
            seg_coef_.insert(seg_coef_.end(), {hi[0], hi[1], lo[0], lo[1]});
            i = next;
        }
        edges_.push_back(n);
    }
    // s_i and the sums of (s, s x) by sweep blocks (on threads): a segment inside a block is summed
    // and stored as sweep() does; a segment across blocks is summed a piece per block, and the
    // pieces are added below in block order (as sweep() adds them)
    double* R = seg_.data();
    const std::size_t block = sweep_block_points(), blocks = (n + block - 1) / block;
    constexpr std::size_t kOpen = ~std::size_t{0};
    pieces_.resize(blocks);
    auto sweep_block = [&](std::size_t b) {
        const std::size_t lo = b * block, hi = std::min(n, lo + block);
        std::size_t j = static_cast<std::size_t>(std::upper_bound(edges_.begin(), edges_.end() - 1, lo) -
                                                  edges_.begin()) - 1;  // the segment holding point lo
        StretchPieces& P = pieces_[b];
        P.head_open = P.tail_open = false;
        P.head_end = kOpen;
        for (std::size_t i = lo; i < hi; ++j) {
            const std::size_t a = edges_[j], e = edges_[j + 1], stop = std::min(e, hi);
            const double* c = seg_coef_.data() + 4 * j;
            CompensatedPair acc;
            for (; i < stop; ++i) {
                double t = std::fma(c[0], x[i], c[1]) + (c[2] * x[i] + c[3]);
                if (kResidual) t = t - y[i];
                s[i] = t;
                acc.add(make_pair(t, t * x[i]));
            }
            const bool starts_here = a >= lo, ends_here = e <= hi;
            if (starts_here && ends_here) {
                store_pair(R + 2 * e, acc.hi + acc.lo);
            } else if (!starts_here) {
                P.head = acc;
                P.head_open = true;
                P.head_end = ends_here ? e : kOpen;
            } else {
                P.tail = acc;
                P.tail_open = true;
            }
        }
    };
    for_blocks(blocks, parts_for(n) > 1 && blocks > 1, sweep_block);
    CompensatedPair carry;
    for (std::size_t b = 0; b < blocks; ++b) {
        const StretchPieces& P = pieces_[b];
        if (P.head_open) {
            merge_piece(carry, P.head);
            if (P.head_end != kOpen) store_pair(R + 2 * P.head_end, carry.hi + carry.lo);
        }
        if (P.tail_open) carry = P.tail;
    }
}

void FastKernel::segment_totals(const double* s) {
    const std::size_t n = data_->n();
    const double* x = data_->x();
    double* R = seg_.data();
    const char* used = used_.data();
    const std::size_t block = sweep_block_points();
    StretchSum seg;
    for (std::size_t i = 0, next_block = block; i < n; ++i) {
        if (i == 0 || (used[i] | used[n + 1 + i])) seg.restart();
        else if (i == next_block) seg.next_piece();
        if (i == next_block) next_block += block;
        seg.acc.add(make_pair(s[i], s[i] * x[i]));
        store_pair(R + 2 * (i + 1), seg.total());
    }
}

double FastKernel::slot_sums(double* U) const {
    // The segments' totals added up forwards for the prefix slots n + 1 + q (sums over [0, q))
    // and backwards for the suffix slots q (sums over [q, n)), the two in one loop.
    const std::size_t n = data_->n(), E = edges_.size();
    const std::size_t* edge = edges_.data();
    const double* R = seg_.data();
    double* P = U + 2 * (n + 1);
    CompensatedPair F, G;
    store_pair(P, F.hi + F.lo);
    store_pair(U + 2 * n, G.hi + G.lo);
    for (std::size_t j = 1; j < E; ++j) {
        const std::size_t q = edge[j], r = edge[E - 1 - j], end = edge[E - j];
        F.add(load_pair(R + 2 * q));
        G.add(load_pair(R + 2 * end));
        store_pair(P + 2 * q, F.hi + F.lo);
        store_pair(U + 2 * r, G.hi + G.lo);
    }
    return F.hi[0] + F.lo[0];
}

void FastKernel::clear_slots(const std::size_t* slot, std::size_t count) {
    // dAB_ and used_ are all zeros between sweeps. With few neurons for many data points, zeroing
    // just the slots they wrote (and slot 0, which took c0) is much cheaper than zeroing all 2n + 2.
    if (count >= data_->n()) {
        std::fill(dAB_.begin(), dAB_.end(), 0.0);
        std::fill(used_.begin(), used_.end(), 0);
        return;
    }
    for (std::size_t k = 0; k < count; ++k) {
        dAB_[2 * slot[k]] = dAB_[2 * slot[k] + 1] = 0.0;
        used_[slot[k]] = 0;
    }
    dAB_[0] = dAB_[1] = 0.0;
}

double FastKernel::transpose_product(const double* s, const double* u, double* out) {
    // s is s_ from linear_sweep, which left the sums of (s, s x) per slot in Ut_ and the total in psum_
    (void)s;
    const std::size_t m = m_;
    const double* th = theta_;
    const double inv_n = 1.0 / static_cast<double>(data_->n());
    const unsigned threads = parts_for(m);
    // the sums per slot, read at random
    const SharedTable T(Ut_.data(), Ut_.size(), copy_pays(m, threads));
    split(m, threads > 1 ? 4 * threads : 1, [&](unsigned, std::size_t lo, std::size_t hi) {
        assemble_hvp_slots(hi - lo, inv_n, th + lo, th + m + lo, th + 2 * m + lo, u + lo, u + m + lo, u + 2 * m + lo,
                           S0_.data() + lo, S1_.data() + lo, slot_.data() + lo, T.view(), out + lo, out + m + lo,
                           out + 2 * m + lo);
    });
    return psum_;
}

void FastKernel::summarize_residuals() {
    // the forward pass filled Ur_; S0, S1 wait until needed (a GD step reads them straight from Ur_)
    rsum_ = psum_;
    sums_stale_ = true;
}

void FastKernel::refresh_sums() { interval_sums(m_, slot_.data(), Ur_.data(), S0_.data(), S1_.data()); }

bool FastKernel::hessian(double* H) {
    // Every entry of J^T J is a combination of sums of 1, x, x^2 over the intersection of two
    // neurons' active intervals: O(1) each from the interval moments (each accurate to eps times
    // the interval's own magnitudes). Where a parameter or a data point of the interval is outside
    // the tame range (tame_value), the moment formulas could overflow or underflow where the
    // products of the dense kernel do not (w_j w_k before x^2): those blocks are summed point by
    // point with the dense kernel's products, J entries (v x, v, w x + b) first.
    sync();
    ensure_sums();
    const Params p(theta_, dim());
    const std::size_t m = p.m, d = dim(), n = data_->n();
    const double nn = static_cast<double>(n);
    const double* x = data_->x();
    if (!moments_) moments_ = std::make_unique<detail::IntervalMoments>(x, n);
    const detail::IntervalMoments& M = *moments_;
    if (m >= n) moments_->tabulate();  // about m^2 / 2 interval queries against (n + 1)^2 / 2 entries
    std::vector<char> tame(m);
    std::vector<std::size_t> lo(m), hi(m);  // the active intervals [lo_k, hi_k)
    for (std::size_t k = 0; k < m; ++k) {
        tame[k] = tame_value(p.w[k]) && tame_value(p.b[k]) && tame_value(p.v[k]);
        lo[k] = interval_lo(k);
        hi[k] = interval_hi(k);
    }
    // Every entry of the neuron rows is written once (no zero fill first), by tiles of kTile x
    // kTile neuron pairs (j in one tile, k >= j in another): the mirrored writes stay within a few
    // rows, and the tiles spread over threads. `bad` collects x * 0 (NaN for inf or NaN).
    constexpr std::size_t kTile = 32;
    const std::size_t tiles = (m + kTile - 1) / kTile;
    std::vector<std::pair<std::size_t, std::size_t>> tile_pairs;
    for (std::size_t jt = 0; jt < tiles; ++jt)
        for (std::size_t kt = jt; kt < tiles; ++kt) tile_pairs.emplace_back(jt, kt);
    std::vector<double> nonfinite(tile_pairs.size(), 0.0);
    // For the pairs (j, k) of a tile, G[q][j - j0][k - k0] / n, q = 3 r + c for r, c in (w, b, v):
    // the sum over the intersection [a, b) of their active sets of J_r(j) J_c(k); zero where it is
    // empty. Tame pairs (parameters and data of [a, b) in the tame range) take the moment formulas,
    // a vectorised loop over k; the others the dense kernel's products point by point. Then the
    // rows (r, j) and, transposed in the tile, the mirrored rows (c, k): contiguous runs.
    auto tile = [&](std::size_t t) {
        const std::size_t jt = tile_pairs[t].first, kt = tile_pairs[t].second;
        const std::size_t j0 = jt * kTile, J = std::min(m, j0 + kTile) - j0;
        const std::size_t k0 = kt * kTile, K = std::min(m, k0 + kTile) - k0;
        double bad = 0.0;
        alignas(64) double G[9][kTile][kTile];  // 72 KiB of stack (a heap buffer measured slower: aliasing with H)
        alignas(64) double Sx[kTile], Sxx[kTile], S1[kTile];
        alignas(64) double use[kTile];  // 1: tame (the formulas), 0: empty or point by point
        const double* __restrict wk = p.w + k0;
        const double* __restrict bk = p.b + k0;
        const double* __restrict vk = p.v + k0;
        for (std::size_t jj = 0; jj < J; ++jj) {
            const std::size_t j = j0 + jj, first = jt == kt ? jj : 0;  // pairs k >= j
            bool pointwise = false;
            for (std::size_t i = first; i < K; ++i) {
                const std::size_t k = k0 + i;
                const std::size_t a = std::max(lo[j], lo[k]), b = std::min(hi[j], hi[k]);
                Sx[i] = Sxx[i] = S1[i] = use[i] = 0.0;
                if (a >= b) continue;
                if (tame[j] && tame[k] && M.tame(a, b)) {
                    M.range(a, b, Sx[i], Sxx[i]);
                    S1[i] = static_cast<double>(b - a);
                    use[i] = 1.0;
                } else {
                    pointwise = true;
                }
            }
            const double wj = p.w[j], bj = p.b[j], vj = p.v[j];
            for (std::size_t i = first; i < K; ++i) {  // (the tame pairs' formulas: one vector loop)
                const double vv = vj * vk[i], sx = Sx[i], sxx = Sxx[i], s1 = S1[i];
                const double g[9] = {vv * sxx,
                                     vv * sx,
                                     vj * (wk[i] * sxx + bk[i] * sx),
                                     vv * sx,
                                     vv * s1,
                                     vj * (wk[i] * sx + bk[i] * s1),
                                     vk[i] * (wj * sxx + bj * sx),
                                     vk[i] * (wj * sx + bj * s1),
                                     wj * wk[i] * sxx + (wj * bk[i] + bj * wk[i]) * sx + bj * bk[i] * s1};
                for (int q = 0; q < 9; ++q) G[q][jj][i] = use[i] != 0.0 ? g[q] / nn : 0.0;
            }
            if (pointwise) {
                for (std::size_t i = first; i < K; ++i) {
                    const std::size_t k = k0 + i;
                    const std::size_t a = std::max(lo[j], lo[k]), b = std::min(hi[j], hi[k]);
                    if (a >= b || use[i] != 0.0) continue;
                    double g[9] = {0.0};
                    for (std::size_t r = a; r < b; ++r) {
                        const double Jj[3] = {vj * x[r], vj, wj * x[r] + bj};
                        const double Jk[3] = {vk[i] * x[r], vk[i], wk[i] * x[r] + bk[i]};
                        for (int u = 0; u < 3; ++u)
                            for (int c = 0; c < 3; ++c) g[3 * u + c] += Jj[u] * Jk[c];
                    }
                    for (int q = 0; q < 9; ++q) G[q][jj][i] = g[q] / nn;
                }
            }
            for (std::size_t r = 0; r < 3; ++r)  // row (r, j), columns (c, k)
                for (std::size_t c = 0; c < 3; ++c) {
                    const double* __restrict g = G[3 * r + c][jj];
                    double* __restrict row = H + (r * m + j) * d + c * m + k0;
                    for (std::size_t i = first; i < K; ++i) {
                        row[i] = g[i];
                        bad += g[i] * 0.0;
                    }
                }
        }
        for (std::size_t r = 0; r < 3; ++r)  // the mirror: row (c, k), columns (r, j)
            for (std::size_t c = 0; c < 3; ++c)
                for (std::size_t i = 0; i < K; ++i) {
                    double* __restrict row = H + (c * m + k0 + i) * d + r * m + j0;
                    const std::size_t last = jt == kt ? i + 1 : J;  // pairs j <= k
                    for (std::size_t jj = 0; jj < last; ++jj) row[jj] = G[3 * r + c][jj][i];
                }
        nonfinite[t] = bad;
    };
    for_blocks(tile_pairs.size(), parts_for(m * (m + 1) / 16) > 1, tile);
    auto set = [&](std::size_t a, std::size_t b, double val) { H[a * d + b] = H[b * d + a] = val; };
    const std::size_t ic = 3 * m;
    double bad = 0.0;
    for (double v : nonfinite) bad += v;
    for (std::size_t k = 0; k < m; ++k) {
        const std::size_t a = interval_lo(k), b = interval_hi(k);
        double G[3] = {0.0, 0.0, 0.0};  // sums of (v x, v, w x + b) over the active set
        if (a < b && tame[k] && M.tame(a, b)) {
            double Sx, Sxx;
            M.range(a, b, Sx, Sxx);
            const double cnt = static_cast<double>(b - a);
            G[0] = p.v[k] * Sx;
            G[1] = p.v[k] * cnt;
            G[2] = p.w[k] * Sx + p.b[k] * cnt;
        } else {
            for (std::size_t i = a; i < b; ++i) {
                G[0] += p.v[k] * x[i];
                G[1] += p.v[k];
                G[2] += p.w[k] * x[i] + p.b[k];
            }
        }
        for (std::size_t r = 0; r < 3; ++r) {
            set(ic, r * m + k, G[r] / nn);
            bad += G[r] * 0.0;
        }
        // residual term R: d2f/(dv dw) = a x, d2f/(dv db) = a
        const double t1 = H[(2 * m + k) * d + k] + S1_[k] / nn, t0 = H[(2 * m + k) * d + m + k] + S0_[k] / nn;
        set(2 * m + k, k, t1);
        set(2 * m + k, m + k, t0);
        bad += (t1 + t0) * 0.0;
    }
    H[ic * d + ic] = 1.0;  // sum_i 1 / n
    return bad == 0.0;
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
