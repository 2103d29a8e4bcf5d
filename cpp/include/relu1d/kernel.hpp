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
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "relu1d/data.hpp"
#include "relu1d/parallel.hpp"
#include "relu1d/params.hpp"

namespace relu1d {

enum class KernelKind { fast, dense };

// The kernels' names in KernelKind order ("fast", "dense"): the one list (Python's relu1d.KERNELS).
const std::vector<std::string>& kernel_names();
const std::string& kernel_name(KernelKind kind);
// The kind of that name, or std::invalid_argument naming the argument `kernel`.
KernelKind parse_kernel_kind(const std::string& name);

class Kernel {
public:
    // threads: at most this many (0: the CPUs available to the process).
    Kernel(std::shared_ptr<const SortedData> data, int threads)
        : data_(std::move(data)), threads_(resolve_threads(threads)) {}
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
    // The dense (3m+1) x (3m+1) Hessian, row-major (it is symmetric). Returns false when an entry
    // is not finite (float64 overflowed on the way).
    virtual bool hessian(double* H) = 0;
    // Number of neurons with v_k w_k != 0 whose knot lies strictly inside the data
    // (the active set is neither empty nor all the data).
    virtual std::size_t knots_inside() = 0;
    // Write back into theta what descend keeps elsewhere (a no-op unless the kernel does). Methods
    // that read theta call it themselves; callers that read theta directly after descend must.
    virtual void sync() {}
    // Threads for a loop over `items` entries beside the kernel's own (the Lanczos vector passes),
    // shared with the kernel (never used by both at once); null: one thread.
    WorkerPool* workers(std::size_t items) { return threads_for(items, threads_) > 1 ? &pool() : nullptr; }

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
    // The worker pool (made on first use).
    WorkerPool& pool() {
        if (!pool_) pool_ = std::make_unique<WorkerPool>(threads_);
        return *pool_;
    }
    // body(block) for every block: on the pool where `threaded`, else here in order.
    template <class Body>
    void for_blocks(std::size_t nblocks, bool threaded, Body&& body) {
        if (!threaded) {
            for (std::size_t blk = 0; blk < nblocks; ++blk) body(blk);
            return;
        }
        const std::function<void(std::size_t)> task = [&](std::size_t blk) { body(blk); };
        pool().run(nblocks, task);
    }

    std::shared_ptr<const SortedData> data_;
    unsigned threads_;                    // the most threads its loops may use
    std::unique_ptr<WorkerPool> pool_;    // made on the first threaded loop
    const double* theta_ = nullptr;
    std::size_t m_ = 0;
    double loss_ = 0.0;
    double rsum_ = 0.0;                   // sum_i r_i
    bool sums_stale_ = false;             // S0_, S1_ not yet computed for the prepared theta
    std::vector<double> r_, S0_, S1_;     // residuals and residual sums
    std::vector<double> ab_, s_;  // coefficient pairs (forward or J u) and J u
    std::vector<double> g2_;                          // ||g_k||^2 per neuron
    std::vector<double> next_;                        // descend's buffer (the default implementation)
    std::vector<double> loss_parts_;                  // set_loss: each block's sum (hi, lo) over long data

private:
    void resize(std::size_t m);
};

// The kernel of that kind on the data, with at most `threads` threads (0: the CPUs available to
// the process; each loop uses fewer where its size does not pay for them).
std::unique_ptr<Kernel> make_kernel(KernelKind kind, std::shared_ptr<const SortedData> data, int threads);

}  // namespace relu1d
