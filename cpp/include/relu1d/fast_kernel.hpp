// FastKernel: the O(n + m log n) sorted-data implementation of the Kernel interface.
#pragma once

#include <cstddef>
#include <memory>
#include <vector>

#include "relu1d/kernel.hpp"
#include "relu1d/numerics.hpp"
#include "relu1d/parallel.hpp"
#include "relu1d/zeroed.hpp"

namespace relu1d {

namespace detail {
class IntervalMoments;
}

// Sorted-data algorithm: each neuron is active on a prefix [0, q_k) or a suffix [q_k, n) of the sorted data,
// found by (galloping) binary search with the exact predicate; the forward pass and the residual
// sums are running sums, each over the neuron's own active set (forwards for a prefix, backwards
// for a suffix), and the Hessian's entries are interval moments. Every output is accurate to a
// small multiple of eps times the sum of |terms| over the data the neuron sees, whatever the
// magnitudes of the points outside its active set.
//
// Threads: the per-neuron loops (the GD step, the HVP's assembly) split the neurons into
// contiguous parts; the scatter of coefficients into the slots cuts the neurons into fixed blocks
// (by index), each summed into its own table, the tables added pairwise along a tree fixed by
// the block count; the full Hessian
// splits its rows into tiles; for n > 4 m the sweeps run over fixed blocks of points. Every
// output is computed by the same operations in the same order whatever the split, so the results
// are bit-identical for any thread count. A loop uses at most one
// thread per parallel_grain() neurons (small problems stay on one thread); the sweep over the
// data for n <= 4 m runs on one thread.
class FastKernel final : public Kernel {
public:
    // threads: at most this many (0: the CPUs available to the process).
    explicit FastKernel(std::shared_ptr<const SortedData> data, int threads = 1);
    ~FastKernel() override;
    bool hessian(double* H) override;
    std::size_t knots_inside() override;
    // Fused: one pass over the live neurons (residual sums, gradient, update, boundary check at
    // the new parameters), then the new forward pass; no per-neuron sums stored in between.
    double descend(double eta, double* theta) override;
    void sync() override;
    // Use the segment sweep when neurons < n / ratio (default 4; 0: never). The results do not
    // depend on it (tests compare the two sweeps bit for bit).
    void set_segment_ratio(std::size_t ratio) { segment_ratio_ = ratio; }
    // Active interval [lo, hi) of neuron k at the prepared theta (after sync()).
    std::size_t interval_lo(std::size_t k) const { return is_prefix(k) ? 0 : boundary(k); }
    std::size_t interval_hi(std::size_t k) const { return is_prefix(k) ? boundary(k) : data_->n(); }

protected:
    void forward(const Params& p, double* r) override;
    void linear_sweep(const double* ab, double c0, double* s) override;
    void locate(const Params& p) override;
    void summarize_residuals() override;
    void refresh_sums() override;
    double transpose_product(const double* s, const double* u, double* out) override;

private:
    // s_i = c0 + sum_{k active at i} (alpha_k x_i + beta_k), less y_i if kResidual, for the `count`
    // neurons at `slot` with (alpha_k, beta_k) = (ab[2 k], ab[2 k + 1]); and U, the sums of (s, s x)
    // over each slot's active set (U[2 q], U[2 q + 1] for slot q). Returns sum s_i.
    // Neurons whose coefficients could overflow the running sums (|alpha| max(1, |x|) + |beta|
    // above 2^1020 / (m + 1), inf, NaN) are left out of the sweep and added point by point over
    // their active interval: as v (w x + b) when w is given (the forward pass, the dense kernel's
    // order of products), else as alpha x + beta.
    // `wild`: their number where the caller has counted them (the fused GD step does). ab null:
    // the caller has scattered the coefficients (v w, v b) already (the GD step on one thread).
    static constexpr std::size_t kUncounted = ~std::size_t{0};
    template <bool kResidual>
    double evaluate(double c0, const double* ab, const double* w, const double* b, const double* v,
                    const std::size_t* slot, std::size_t count, const std::size_t* index, double* s, double* U,
                    std::size_t wild = kUncounted);
    // The bound on |alpha| max(1, |x|) + |beta| beyond which a neuron's coefficients are wild.
    double coef_limit() const { return 0x1p1020 / static_cast<double>(m_ + 1); }
    // The sweep proper: s_i from the coefficients scattered into dAB_ (compensated sweeps), and
    // the sums of (s, s x) over each segment (the data between two consecutive boundaries in use,
    // marked in used_) into seg_. With fewer than n / segment_ratio_ slots in use, sweep_segments
    // does the same (to the bit) in O(n + count log count), with less work per point.
    template <bool kResidual>
    void sweep(double c0, double* s);
    template <bool kResidual>
    void sweep_segments(double c0, double* s, const std::size_t* slot, std::size_t count);
    std::size_t segment_ratio_ = 4;
    // Zero the entries of dAB_ and used_ that a scatter over `slot` wrote (all zeros between sweeps).
    void clear_slots(const std::size_t* slot, std::size_t count);
    // seg_ from s (after the point-by-point terms of evaluate), as sweep() forms it.
    void segment_totals(const double* s);
    // U from the segments' sums: forwards for the prefix slots, backwards for the suffix slots;
    // returns sum s_i.
    double slot_sums(double* U) const;
    // Copy the live neurons of theta (non-empty active set) into the mirror.
    void build_mirror(double* theta);
    // body(t, lo, hi) for t < parts over contiguous parts [lo, hi) of [0, items), on the pool
    // (parts may exceed the threads: they take parts in turn).
    template <class Body>
    void split(std::size_t items, unsigned parts, Body&& body);
    // The parts for a loop over `items` neurons (threads_for: one per parallel_grain()).
    unsigned parts_for(std::size_t items) const { return threads_for(items, threads_); }
    // dAB_ and used_ from the coefficients (ab[2 k], ab[2 k + 1]) of neuron k at its slot[k]: each
    // slot's plain sum of its neurons' coefficients. With more than scatter_block() neurons, the
    // neurons are cut into blocks by their index in theta (index[k]; null: k), each block sums
    // into its own table (in parallel), and the tables are added into dAB_ along a fixed tree: each
    // slot's sum has the same terms in the same order for any thread count, and the same in the
    // GD step (live neurons only) as in a new prepare.
    void scatter(const std::size_t* slot, const double* ab, std::size_t count, const std::size_t* index,
                 bool skip_wild);
    // The blocks of the scatter for `count` neurons with indices index[0 .. count) (null: k):
    // bounds_ and the tables of blocks 1, 2, ..; returns the number of blocks.
    std::size_t begin_blocks(const std::size_t* index, std::size_t count);
    // The tables of the blocks are added up along a binary tree fixed by the block count: node
    // (a, s), a a multiple of 2 s, adds block a + s's table (the sums of blocks [a + s, a + 2 s))
    // into block a's ([a, a + s)), for s = 1, 2, 4, ..; the root is block 0's, dAB_. (Pairwise
    // sums: no order that depends on the threads, and the nodes inside a thread's run of blocks
    // are added by that thread as soon as their blocks are done, while its cache holds them.)
    double* block_table(std::size_t j);
    char* block_used(std::size_t j);
    // Whether threads that step `neurons` neurons between them should each read a table of the
    // 2n + 2 slots from their own copy (SharedTable): where each steps at least as many neurons.
    bool copy_pays(std::size_t neurons, unsigned threads) const;
    // Node (a, s) over the doubles [lo, hi) of the tables (the slots [lo / 2, hi / 2)); leaves
    // block a + s's table zero.
    void merge_node(std::size_t a, std::size_t s, std::size_t lo, std::size_t hi);
    // After block j of a run of blocks that starts at j0: the nodes inside the run that j completes.
    void merge_finished(std::size_t j, std::size_t j0, std::size_t blocks);
    // The nodes not inside one of the runs [t run, (t + 1) run) (run 0: all), on `parts` threads.
    void merge_blocks(std::size_t blocks, unsigned parts, std::size_t run);
    // Neurons per block of scatter: m split evenly into a power of two of blocks (even shares on
    // 2, 4, 8, .. threads), each of at least scatter_block_min() / 2 and 2 (n + 1) neurons, so that
    // adding up the tables (2 (2n + 2) doubles each) costs at most two streamed doubles per neuron.
    std::size_t scatter_block() const;
    std::vector<std::size_t> bounds_;             // scatter: where each block starts
    std::vector<std::vector<double>> tables_;     // scatter: blocks 1, 2, ..: their slot sums (zeros between sweeps)
    std::vector<std::vector<char>> table_used_;   // scatter: and their slots in use

    std::vector<std::size_t> part_wild_;   // descend: the wild neurons of each part
    std::vector<double> part_g2_;          // descend: each scatter block's sum of ||g_k||^2

    // 1: neuron k is active on a prefix [0, q_k) (w < 0); 0: on a suffix [q_k, n).
    bool is_prefix(std::size_t k) const { return slot_[k] > data_->n(); }
    // Its boundary q_k (also the galloping start of the next call).
    std::size_t boundary(std::size_t k) const { return is_prefix(k) ? slot_[k] - (data_->n() + 1) : slot_[k]; }

    // The active set of each neuron, encoded as the slot where its coefficients enter the
    // difference arrays: slot q (< n + 1) for a neuron active on a suffix [q, n) (summed
    // forwards), slot n + 1 + q for one active on a prefix [0, q) (summed backwards). Slots n
    // and n + 1 are the empty sets (of dead neurons).
    std::vector<std::size_t> slot_;
    std::vector<double> xpad_;             // [-inf, -inf, x_0 .. x_{n-1}, +inf, +inf]: branch-free boundary checks
    // Difference arrays, interleaved (A, B) per slot: 2 (2n + 2) doubles, all zeros between
    // sweeps. Each slot holds the plain sum of its neurons' coefficients (all of them active
    // wherever the slot counts), and the sweeps over slots are compensated.
    ZeroedVector<double> dAB_;
    std::vector<double> suffix_;           // backward sums of prefix-active neurons: (A hi, B hi, A lo, B lo) per i
    double psum_ = 0.0;            // the last sweep's sum s_i
    std::vector<std::size_t> fwd_, bwd_;  // sweep_segments: the boundaries in use
    std::vector<double> bstate_;          // sweep_segments: backward sums between them
    std::vector<double> seg_coef_;        // sweep_segments: each segment's (A hi, B hi, A lo, B lo)
    // sweep_segments: per sweep block, the pieces of the segments that cross its ends: the head
    // (a segment begun in an earlier block; head_end: where it ends, if in this block) and the tail
    // (one begun here that goes on)
    struct StretchPieces {
        CompensatedPair head, tail;
        std::size_t head_end = 0;
        bool head_open = false, tail_open = false;
    };
    std::vector<StretchPieces> pieces_;
    // used_[q]: slot q is in use (all zeros between sweeps); i is a boundary in use when slot i or
    // slot n + 1 + i is
    ZeroedVector<char> used_;
    std::vector<std::size_t> edges_;       // the boundaries in use, ascending, from 0 to n
    // seg_[2 q], seg_[2 q + 1]: the sums of (s, s x) over the segment ending at boundary q
    // (compensated, then rounded: an error of eps times the segment's own |terms|)
    ZeroedVector<double> seg_;
    // Sums of t and t x per slot: U[2 q], U[2 q + 1] for slot q, filled by the sweeps: slots
    // q <= n (suffix [q, n)) summed backwards, slots n + 1 + q (prefix [0, q)) forwards, so each
    // sum runs over the neuron's own active set. Ur_ of the residuals (part of the prepared
    // state), Ut_ of the HVP's J u.
    ZeroedVector<double> Ur_, Ut_;
    double coef_scale_ = 1.0;              // max(1, |x_0|, |x_{n-1}|): bound on |x| in the overflow test
    // The Hessian's interval moments of x and x^2 (built on the first call).
    std::unique_ptr<detail::IntervalMoments> moments_;
    // The live neurons (non-empty active set at the last prepare) in a compact copy: GD never
    // moves a neuron with an empty active set (its gradient is exactly zero), so descend steps
    // these alone. Between descend calls the copy is the truth; sync() writes it back.
    std::vector<std::size_t> live_;        // their indices, ascending
    std::vector<double> lw_, lb_, lv_;     // their parameters
    std::vector<std::size_t> lslot_;       // their slots
    double* mirror_theta_ = nullptr;       // the theta the mirror copies (null: no mirror)
    bool mirror_dirty_ = false;            // the mirror holds steps that theta does not
};

}  // namespace relu1d
