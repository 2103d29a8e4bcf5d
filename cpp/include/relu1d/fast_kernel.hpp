// FastKernel: the O(n + m log n) sorted-data implementation of the Kernel interface.
#pragma once

#include <cstddef>
#include <memory>
#include <vector>

#include "relu1d/kernel.hpp"

namespace relu1d {

// Sorted-data algorithm: each neuron is active on a prefix [0, q_k) or a suffix [q_k, n) of the sorted data,
// found by (galloping) binary search with the exact predicate; forward and residual sums are
// prefix sums, the Hessian's entries are interval moments.
class FastKernel final : public Kernel {
public:
    explicit FastKernel(std::shared_ptr<const SortedData> data);
    void hessian(double* H) override;
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
    // s_i = c0 + A_i x_i + B_i from the coefficients scattered into dAB_ (compensated sweeps), less
    // y_i if kResidual; the prefix sums of (s, s x) into P_.
    // Returns sum s_i.
    // `slot`: the slots of the scatter (count of them). With fewer than n / segment_ratio_ of them,
    // sweep_segments does the same (to the bit) in O(n + count log count), with less work per point.
    template <bool kResidual>
    double sweep(double c0, double* s, const std::size_t* slot, std::size_t count);
    template <bool kResidual>
    double sweep_segments(double c0, double* s, const std::size_t* slot, std::size_t count);
    std::size_t segment_ratio_ = 4;
    // Zero the entries of dAB_ that a scatter over `slot` wrote (dAB_ is all zeros between sweeps).
    void clear_slots(const std::size_t* slot, std::size_t count);
    // rsum_ and Ur_ (at the slots in use, `slot`) from the residual sweep.
    void summarize(const std::size_t* slot, std::size_t count);
    // The sums of t and t x over each slot's active set into U (U[2 s], U[2 s + 1] for slot s),
    // from the prefix sums in P_: at the `count` slots given and the empty ones, or at all.
    void slot_table(const std::size_t* slot, std::size_t count, double* U) const;
    // Copy the live neurons of theta (non-empty active set) into the mirror.
    void build_mirror(double* theta);

    // 1: neuron k is active on a prefix [0, q_k) (w < 0); 0: on a suffix [q_k, n).
    bool is_prefix(std::size_t k) const { return slot_[k] > data_->n(); }
    // Its boundary q_k (also the galloping start of the next call).
    std::size_t boundary(std::size_t k) const { return is_prefix(k) ? slot_[k] - (data_->n() + 1) : slot_[k]; }

    // The active set of each neuron, encoded as the slot where its coefficients enter the
    // difference arrays: slot q (< n + 1) for a neuron active on a suffix [q, n) (summed
    // forwards), slot n + 1 + q for one active on a prefix [0, q) (summed backwards). Slots n
    // and n + 1 are never read (empty sets).
    std::vector<std::size_t> slot_;
    std::vector<double> xpad_;             // [-inf, -inf, x_0 .. x_{n-1}, +inf, +inf]: branch-free boundary checks
    // Difference arrays, interleaved (A, B) per slot: 2 (2n + 2) doubles, all zeros between
    // sweeps. Each slot holds the plain sum of its neurons' coefficients (all of them active
    // wherever the slot counts), and the sweeps over slots are compensated.
    std::vector<double> dAB_;
    std::vector<double> suffix_;           // backward sums of prefix-active neurons: (A hi, B hi, A lo, B lo) per i
    std::vector<double> P_;        // prefix sums of the last sweep: 4 (n + 1) doubles
    double psum_ = 0.0;            // the last sweep's sum s_i
    std::vector<std::size_t> fwd_, bwd_;  // sweep_segments: the boundaries in use
    std::vector<double> bstate_;          // sweep_segments: backward sums between them
    // Sums of t and t x per slot: Ur_ of the residuals (part of the prepared state), Ut_ of the HVP's J u.
    std::vector<double> Ur_, Ut_;
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
