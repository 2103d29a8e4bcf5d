// Full-batch gradient descent theta <- theta - lr_t * clip(grad L(theta)) in a tight C++ loop,
// with periodic records (loss, gradient norm, knots) and warm-started sharpness tracking.
// The loop allocates nothing per step: theta is updated in place, records are appended only at
// record steps. To step back (divergence), the trainer keeps a recent accepted iterate and the step
// sizes used since, and replays them: GD is deterministic, so the replay gives the same bits.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <vector>

#include "relu1d/history.hpp"
#include "relu1d/kernel.hpp"
#include "relu1d/lanczos.hpp"

namespace relu1d {

// Piecewise-constant step size: lr = values[p] for starts[p] <= step < starts[p + 1].
struct StepSchedule {
    std::vector<std::int64_t> starts;  // ascending, starts[0] <= first step asked for
    std::vector<double> values;
    double at(std::int64_t step, std::size_t& cursor) const;
};

// The run's unchanging configuration, given once when a Trainer is built.
struct TrainOptions {
    double clip = 0.0;              // gradient-norm clipping threshold (0: none)
    std::int64_t record_every = 1;  // record at steps divisible by this
    std::int64_t sharpness_every = 0;  // measure sharpness at steps divisible by this (0: never)
    double grad_tol = 0.0;          // converged when ||grad|| <= grad_tol
    double loss_tol = 0.0;          // converged when loss <= loss_tol
    double max_loss = 0.0;          // diverged when loss > max_loss (0: only non-finite diverges)
    LanczosOptions lanczos;         // for the sharpness: k = 1, the largest (its seed is the step)
    // std::invalid_argument naming the first field out of range
    void validate() const;
};

// Why Trainer::run returned.
enum class StopReason : int { max_steps = 0, converged = 1, diverged = 2, time = 3 };
// "max_steps", "converged", "diverged", "time" (Python's run statuses use the same names)
const char* stop_reason_name(StopReason reason);

class Trainer {
public:
    Trainer(std::shared_ptr<const SortedData> data, KernelKind kind, int threads, std::vector<double> theta,
            std::int64_t step, std::vector<double> eigvec, TrainOptions options);

    // Run at most max_steps steps, returning early after time_budget seconds (checked every few
    // steps; <= 0: no budget), on convergence or on divergence. Appends rows to rec; `elapsed` is
    // added to the wall-time column. After divergence theta() is the last iterate whose loss was
    // finite and at most max_loss, and last_loss() the offending loss.
    StopReason run(std::int64_t max_steps, const StepSchedule& lr, Records& rec, double time_budget, double elapsed);

    // Append the row of the current step without stepping: the row that run() records there
    // (the same bits), with the sharpness when `measure` (warm-started from eigvec(), which is
    // left as it is, so a later run measures as if this had not happened).
    void record(double lr, bool measure, Records& rec, double elapsed);

    // L and ||grad L|| at theta() (the kernel stays prepared there: no new forward pass); the norm
    // is scaled so that it overflows only when ||grad L|| itself does (not its square).
    double loss() const { return kernel_->loss(); }
    double grad_norm();

    const std::vector<double>& theta() const { return theta_; }
    std::int64_t step() const { return step_; }
    const std::vector<double>& eigvec() const { return eigvec_; }
    double last_loss() const { return last_loss_; }
    double last_grad_norm() const { return last_grad_norm_; }
    const TrainOptions& options() const { return options_; }
    std::size_t sharpness_products() const { return total_products_; }  // over every run call
    double sharpness_seconds() const { return sharpness_seconds_; }  // wall time inside Lanczos

private:
    // Restore theta_ to the iterate of step `target` (snapshot_step_ <= target <= step_) by
    // replaying the recorded step sizes from the snapshot; the kernel is prepared there.
    void step_back_to(std::int64_t target);
    // Append the row of the current step (its loss and gradient norm given); with `measure`, the
    // sharpness too, its eigenvector into eigvec_ when `keep_vector`.
    void append_row(double loss, double gnorm, double rate, bool measure, bool keep_vector, Records& rec, double wall);

    TrainOptions options_;
    std::unique_ptr<Kernel> kernel_;
    std::vector<double> theta_, eigvec_;
    std::int64_t step_;
    std::vector<double> snapshot_;  // an iterate whose loss was accepted, at step snapshot_step_
    std::int64_t snapshot_step_;
    std::vector<double> grad_;      // grad_norm's buffer
    std::vector<double> etas_;      // the step sizes taken since the snapshot (at most kSnapshotEvery)
    double last_loss_ = 0.0, last_grad_norm_ = 0.0;
    std::size_t total_products_ = 0;
    double sharpness_seconds_ = 0.0;
    Lanczos lanczos_;
};

}  // namespace relu1d
