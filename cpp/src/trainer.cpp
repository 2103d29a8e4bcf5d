#include "relu1d/trainer.hpp"

#include <chrono>
#include <cmath>
#include <limits>
#include <stdexcept>

namespace relu1d {

double StepSchedule::at(std::int64_t step, std::size_t& cursor) const {
    while (cursor + 1 < starts.size() && starts[cursor + 1] <= step) ++cursor;
    return values[cursor];
}

void Records::clear() {
    for (auto* v : {&step, &knots, &sharpness_products}) v->clear();
    for (auto* v : {&loss, &grad_norm, &lr, &sharpness, &sharpness_residual, &time}) v->clear();
}

Trainer::Trainer(std::shared_ptr<const SortedData> data, KernelKind kind, int threads, std::vector<double> theta,
                 std::int64_t step, std::vector<double> eigvec)
    : kernel_(make_kernel(kind, std::move(data), threads)),
      theta_(std::move(theta)),
      eigvec_(std::move(eigvec)),
      step_(step) {
    Params check(theta_.data(), theta_.size());  // validates the length
    next_.assign(theta_.size(), 0.0);
    grad_.assign(theta_.size(), 0.0);
    if (!eigvec_.empty() && eigvec_.size() != theta_.size())
        throw std::invalid_argument("eigvec: length must equal len(theta)");
}

StopReason Trainer::run(std::int64_t max_steps, const StepSchedule& lr, const TrainOptions& opt, Records& rec,
                        double time_budget, double elapsed) {
    if (lr.starts.empty() || lr.starts.size() != lr.values.size())
        throw std::invalid_argument("lr: schedule needs matching, non-empty starts and values");
    if (opt.record_every < 1) throw std::invalid_argument("record_every: must be >= 1");
    using clock = std::chrono::steady_clock;
    const auto t0 = clock::now();
    const auto seconds = [&] { return std::chrono::duration<double>(clock::now() - t0).count(); };
    const std::size_t dim = theta_.size();
    const Operator hvp = [this](const double* u, double* out) { kernel_->hvp(u, out); };
    std::size_t cursor = 0;
    const std::int64_t end = step_ + max_steps;
    while (step_ < end) {
        const double loss = kernel_->prepare(theta_.data(), dim);
        last_loss_ = loss;
        if (!std::isfinite(loss) || (opt.max_loss > 0.0 && loss > opt.max_loss)) {
            // theta_ is not acceptable: step back to the previous iterate, still intact in next_
            if (has_previous_) {
                std::swap(theta_, next_);
                --step_;
                has_previous_ = false;
            }
            return StopReason::diverged;
        }
        const double rate = lr.at(step_, cursor);
        // ||g|| and the unclipped step theta - rate g in one pass (next_ is redone if clipped)
        const double gnorm = std::sqrt(kernel_->gradient_step(rate, nullptr, next_.data()));
        last_grad_norm_ = gnorm;
        if (!std::isfinite(gnorm)) {  // the gradient overflowed at an acceptable theta_: keep theta_
            has_previous_ = false;
            return StopReason::diverged;
        }
        const bool measure = opt.sharpness_every > 0 && step_ % opt.sharpness_every == 0;
        if (measure || step_ % opt.record_every == 0) {
            double sharp = std::numeric_limits<double>::quiet_NaN(), resid = sharp;
            std::int64_t products = 0;
            if (measure) {
                LanczosOptions lo = opt.lanczos;
                lo.seed = static_cast<std::uint64_t>(step_);
                const auto ts = clock::now();
                const EigenResult er = lanczos_.solve(hvp, dim, lo, eigvec_.empty() ? nullptr : eigvec_.data());
                sharp = er.values[0];
                resid = er.residuals[0];
                products = static_cast<std::int64_t>(er.products);
                total_products_ += er.products;
                sharpness_seconds_ += std::chrono::duration<double>(clock::now() - ts).count();
                eigvec_.assign(er.vectors.begin(), er.vectors.begin() + static_cast<std::ptrdiff_t>(dim));
            }
            rec.step.push_back(step_);
            rec.loss.push_back(loss);
            rec.grad_norm.push_back(gnorm);
            rec.lr.push_back(rate);
            rec.knots.push_back(static_cast<std::int64_t>(kernel_->knots_inside()));
            rec.sharpness.push_back(sharp);
            rec.sharpness_residual.push_back(resid);
            rec.sharpness_products.push_back(products);
            rec.time.push_back(elapsed + seconds());
        }
        if (gnorm <= opt.grad_tol || loss <= opt.loss_tol) {
            has_previous_ = false;  // next_ was overwritten by the step not taken
            return StopReason::converged;
        }
        // theta_{t+1} = theta_t - eta g,  eta = lr_t * min(1, clip / ||g||)
        if (opt.clip > 0.0 && gnorm > opt.clip) {
            const double eta = rate * (opt.clip / gnorm);
            kernel_->gradient(grad_.data());
            for (std::size_t q = 0; q < dim; ++q) next_[q] = theta_[q] - eta * grad_[q];
        }
        std::swap(theta_, next_);  // next_ now holds theta_t (the step-back point)
        has_previous_ = true;
        ++step_;
        if (time_budget > 0.0 && (step_ & 63) == 0 && seconds() > time_budget) return StopReason::time;
    }
    return StopReason::steps;
}

}  // namespace relu1d
