// Loss, gradient, Hessian-vector product and Hessian of
//   L(theta) = 1/(2n) sum_i (f(x_i) - y_i)^2,   f(x) = sum_k v_k relu(w_k x + b_k) + c.
//
// A Kernel is prepared at one theta (forward pass, residuals r, and the per-neuron residual sums
// S0_k = sum_{i active} r_i, S1_k = sum_{i active} r_i x_i, which FastKernel forms only when a
// method needs them); the derivatives then come from that state. descend() takes a GD step in
// place and leaves the kernel prepared at the new theta. Two implementations agree to rounding:
// DenseKernel, the O(n m) reference, and FastKernel, the O(n + m log n) sorted-data algorithm. A
// kernel owns its workspace: it is not thread-safe, use one per thread.
#pragma once

#include <cstddef>
#include <memory>
#include <string>
#include <vector>

#include "relu1d/data.hpp"
#include "relu1d/params.hpp"

namespace relu1d {

enum class KernelKind { fast, dense };

KernelKind parse_kernel_kind(const std::string& name);

class Kernel {
public:
    explicit Kernel(std::shared_ptr<const SortedData> data) : data_(std::move(data)) {}
    virtual ~Kernel() = default;

    // Evaluate at theta (length dim); theta must stay alive and unchanged until the next prepare.
    // Returns the loss L(theta).
    double prepare(const double* theta, std::size_t dim);

    double loss() const { return loss_; }
    std::size_t width() const { return m_; }
    std::size_t dim() const { return 3 * m_ + 1; }
    const SortedData& data() const { return *data_; }
    const double* residuals() const { return r_.data(); }  // f(x_i) - y_i in sorted order

    // dL/dw = v S1/n, dL/db = v S0/n, dL/dv = (w S1 + b S0)/n, dL/dc = sum r/n.
    // Returns ||g||^2.
    double gradient(double* g);
    // ||g||^2 without storing g (the same bits as descend's).
    double gradient_norm2();
    // One GD step in place: theta <- theta - eta grad L(theta), where theta is the array this
    // kernel was prepared at, which is then prepared at the new theta. Returns ||grad||^2 at the
    // old theta (the same bits as gradient_norm2()).
    virtual double descend(double eta, double* theta);
    // H u = J^T (J u) / n + R u (R: the residual term, one 3x3 block per neuron).
    void hvp(const double* u, double* out);
    // The dense (3m+1) x (3m+1) Hessian, row-major (it is symmetric).
    virtual void hessian(double* H) = 0;
    // Number of neurons with v_k w_k != 0 whose knot lies strictly inside the data
    // (the active set is neither empty nor all the data).
    virtual std::size_t knots_inside() = 0;
    // Write back into theta what descend keeps elsewhere (a no-op unless the kernel does). Methods
    // that read theta call it themselves; callers that read theta directly after descend must.
    virtual void sync() {}

protected:
    // Residual r_i = f(x_i) - y_i for the current params.
    virtual void forward(const Params& p, double* r) = 0;
    // s_i = c0 + sum_{k active at i} (alpha_k x_i + beta_k), (alpha_k, beta_k) = (ab[2 k], ab[2 k + 1])
    // (the forward sweep with other coefficients)
    virtual void linear_sweep(const double* ab, double c0, double* s) = 0;
    // The neuron entries of H u = J^T s / n + R u into out (not out[3m]); returns sum_i s_i.
    virtual double transpose_product(const double* s, const double* u, double* out) = 0;
    // Called at the start of prepare: find active sets for the new params.
    virtual void locate(const Params& p) = 0;
    // rsum_ and the residual sums S0_, S1_ from r_ (a kernel may defer S0_, S1_: sums_stale_).
    virtual void summarize_residuals() = 0;
    // S0_, S1_ for the prepared theta where summarize_residuals deferred them.
    virtual void refresh_sums() {}
    void ensure_sums() {
        if (sums_stale_) refresh_sums();
        sums_stale_ = false;
    }
    // loss_ = sum r_i^2 / (2 n) from r_ (compensated, in eight lanes)
    void set_loss();

    std::shared_ptr<const SortedData> data_;
    const double* theta_ = nullptr;
    std::size_t m_ = 0;
    double loss_ = 0.0;
    double rsum_ = 0.0;                   // sum_i r_i
    bool sums_stale_ = false;             // S0_, S1_ not yet computed for the prepared theta
    std::vector<double> r_, S0_, S1_;     // residuals and residual sums
    std::vector<double> ab_, s_;  // coefficient pairs (forward or J u) and J u
    std::vector<double> g2_;                          // ||g_k||^2 per neuron
    std::vector<double> next_;                        // descend's buffer (the default implementation)

private:
    void resize(std::size_t m);
};

std::unique_ptr<Kernel> make_kernel(KernelKind kind, std::shared_ptr<const SortedData> data, int threads);

// O(n m) reference: the textbook loops, SIMD over the inner index, threads over fixed blocks.
class DenseKernel final : public Kernel {
public:
    DenseKernel(std::shared_ptr<const SortedData> data, int threads);
    void hessian(double* H) override;
    std::size_t knots_inside() override;

protected:
    void forward(const Params& p, double* r) override;
    void linear_sweep(const double* ab, double c0, double* s) override;
    double transpose_product(const double* s, const double* u, double* out) override;
    void locate(const Params&) override {}
    void summarize_residuals() override { rsum_ = residual_sums(r_.data(), S0_.data(), S1_.data()); }

private:
    // T0_k = sum_{i active} t_i, T1_k = sum_{i active} t_i x_i; also returns sum_i t_i.
    double residual_sums(const double* t, double* T0, double* T1);

    unsigned threads_;
    std::vector<double> tx_;        // t_i x_i
    std::vector<double> T0_, T1_;   // J^T s in transpose_product
};

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
