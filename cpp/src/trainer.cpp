#include "relu1d/trainer.hpp"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <limits>
#include <stdexcept>

namespace relu1d {

double StepSchedule::at(std::int64_t step, std::size_t& cursor) const {
    while (cursor + 1 < starts.size() && starts[cursor + 1] <= step) ++cursor;
    return values[cursor];
}

void TrainOptions::validate() const {
    // the negated comparisons also reject NaN
    if (!(clip >= 0.0)) throw std::invalid_argument("clip: must be >= 0 (0: no clipping)");
    if (record_every < 1) throw std::invalid_argument("record_every: must be >= 1");
    if (sharpness_every < 0) throw std::invalid_argument("sharpness_every: must be >= 0 (0: never)");
    if (!(grad_tol >= 0.0)) throw std::invalid_argument("grad_tol: must be >= 0");
    if (!(loss_tol >= 0.0)) throw std::invalid_argument("loss_tol: must be >= 0");
    if (!(max_loss >= 0.0)) throw std::invalid_argument("max_loss: must be >= 0 (0: only non-finite diverges)");
    if (!(lanczos.tol > 0.0)) throw std::invalid_argument("sharpness_tol: must be > 0");
    if (lanczos.max_iter < 1) throw std::invalid_argument("sharpness_max_iter: must be >= 1");
    if (lanczos.k != 1 || lanczos.which != Which::largest)
        throw std::invalid_argument("lanczos: the sharpness is the one largest eigenvalue (k = 1, largest)");
}

const char* stop_reason_name(StopReason reason) {
    switch (reason) {
        case StopReason::max_steps: return "max_steps";
        case StopReason::converged: return "converged";
        case StopReason::diverged: return "diverged";
        case StopReason::time: return "time";
    }
    return "unknown";
}

namespace {
constexpr std::size_t kSnapshotEvery = 4096;  // steps between snapshots: bounds the replay
}  // namespace

Trainer::Trainer(std::shared_ptr<const SortedData> data, KernelKind kind, int threads, std::vector<double> theta,
                 std::int64_t step, std::vector<double> eigvec, TrainOptions options)
    : options_(std::move(options)),
      kernel_(make_kernel(kind, std::move(data), threads)),
      theta_(std::move(theta)),
      eigvec_(std::move(eigvec)),
      step_(step),
      snapshot_(theta_),
      snapshot_step_(step) {
    theta_width(theta_.size());  // validates the length
    options_.validate();
    kernel_->prepare(theta_.data(), theta_.size());  // loss() and grad_norm() before any run
    if (!eigvec_.empty() && eigvec_.size() != theta_.size())
        throw std::invalid_argument("eigvec: length must equal len(theta)");
    etas_.reserve(kSnapshotEvery);
}

double Trainer::grad_norm() {
    grad_.resize(theta_.size());
    kernel_->gradient(grad_.data());
    double scale = 0.0;
    for (double g : grad_) scale = std::max(scale, std::abs(g));  // NaN-blind: the sum below keeps it
    if (!(scale > 0.0) || !std::isfinite(scale)) {
        double sum2 = 0.0;
        for (double g : grad_) sum2 += g * g;
        return std::sqrt(sum2);  // 0, or NaN/inf as the gradient has them
    }
    double sum2 = 0.0;
    for (double g : grad_) sum2 += (g / scale) * (g / scale);
    return scale * std::sqrt(sum2);
}

void Trainer::append_row(double loss, double gnorm, double rate, bool measure, bool keep_vector, Records& rec,
                         double wall) {
    const std::size_t dim = theta_.size();
    EigenResult er;
    if (measure) {
        const Operator hvp = [this](const double* u, double* out) { kernel_->hvp(u, out); };
        LanczosOptions lo = options_.lanczos;
        lo.seed = static_cast<std::uint64_t>(step_);
        const auto ts = std::chrono::steady_clock::now();
        er = lanczos_.solve(hvp, dim, lo, eigvec_.empty() ? nullptr : eigvec_.data(), kernel_->workers(dim));
        total_products_ += er.products;
        sharpness_seconds_ += std::chrono::duration<double>(std::chrono::steady_clock::now() - ts).count();
        if (keep_vector) eigvec_.assign(er.vectors.begin(), er.vectors.begin() + static_cast<std::ptrdiff_t>(dim));
    }
    rec.append(RowContext{step_, loss, gnorm, rate, wall, *kernel_, theta_.data(), measure ? &er : nullptr});
}

void Trainer::record(double lr, bool measure, Records& rec, double elapsed) {
    const double loss = kernel_->loss();
    const double gnorm = std::sqrt(kernel_->gradient_norm2());
    append_row(loss, gnorm, lr, measure, false, rec, elapsed);
    kernel_->sync();  // theta_ complete for the caller
}

void Trainer::step_back_to(std::int64_t target) {
    const std::size_t dim = theta_.size();
    theta_ = snapshot_;
    step_ = snapshot_step_;
    kernel_->prepare(theta_.data(), dim);
    for (; step_ < target; ++step_)
        kernel_->descend(etas_[static_cast<std::size_t>(step_ - snapshot_step_)], theta_.data());
    etas_.resize(static_cast<std::size_t>(step_ - snapshot_step_));
}

StopReason Trainer::run(std::int64_t max_steps, const StepSchedule& lr, Records& rec, double time_budget,
                        double elapsed) {
    if (lr.starts.empty() || lr.starts.size() != lr.values.size())
        throw std::invalid_argument("lr: schedule needs matching, non-empty starts and values");
    const TrainOptions& opt = options_;
    using clock = std::chrono::steady_clock;
    const auto t0 = clock::now();
    const auto seconds = [&] { return std::chrono::duration<double>(clock::now() - t0).count(); };
    const double nan = std::numeric_limits<double>::quiet_NaN();
    const auto stop = [this](StopReason reason) {
        kernel_->sync();  // theta_ complete for the caller
        return reason;
    };
    std::size_t cursor = 0;
    const std::int64_t end = step_ + max_steps;
    // the kernel is prepared at theta_ (by the constructor, the last descend or step_back_to): no
    // new forward pass per call, which at large m would cost about a step per chunk
    double loss = kernel_->loss();
    while (step_ < end) {
        last_loss_ = loss;
        if (!std::isfinite(loss) || (opt.max_loss > 0.0 && loss > opt.max_loss)) {
            // theta_ is not acceptable: step back to the previous iterate
            if (step_ > snapshot_step_) step_back_to(step_ - 1);
            return stop(StopReason::diverged);
        }
        if (step_ - snapshot_step_ >= static_cast<std::int64_t>(kSnapshotEvery)) {
            kernel_->sync();
            snapshot_ = theta_;
            snapshot_step_ = step_;
            etas_.clear();
        }
        const double rate = lr.at(step_, cursor);
        const bool measure = opt.sharpness_every > 0 && step_ % opt.sharpness_every == 0;
        const bool record = measure || step_ % opt.record_every == 0;
        // ||g|| before the step where something depends on it; else the step computes it
        const bool need_gnorm = record || opt.clip > 0.0 || opt.grad_tol > 0.0;
        const double gnorm = need_gnorm ? std::sqrt(kernel_->gradient_norm2()) : nan;
        if (need_gnorm) last_grad_norm_ = gnorm;
        if (record) append_row(loss, gnorm, rate, measure, true, rec, elapsed + seconds());
        // the gradient overflowed at an acceptable theta_: keep theta_
        if (need_gnorm && !std::isfinite(gnorm)) return stop(StopReason::diverged);
        if (gnorm <= opt.grad_tol || loss <= opt.loss_tol) return stop(StopReason::converged);
        // theta_{t+1} = theta_t - eta g,  eta = lr_t * min(1, clip / ||g||)
        const double eta = opt.clip > 0.0 && gnorm > opt.clip ? rate * (opt.clip / gnorm) : rate;
        const double norm2 = kernel_->descend(eta, theta_.data());
        last_grad_norm_ = std::sqrt(norm2);
        // grad_tol == 0 met: theta_ did not move
        if (!need_gnorm && norm2 == 0.0) return stop(StopReason::converged);
        etas_.push_back(eta);
        ++step_;
        if (!std::isfinite(norm2)) {  // the gradient overflowed at an acceptable theta_t: keep theta_t
            step_back_to(step_ - 1);
            return stop(StopReason::diverged);
        }
        loss = kernel_->loss();
        if (time_budget > 0.0 && (step_ & 63) == 0 && seconds() > time_budget) return stop(StopReason::time);
    }
    last_loss_ = loss;
    return stop(StopReason::max_steps);
}

}  // namespace relu1d
