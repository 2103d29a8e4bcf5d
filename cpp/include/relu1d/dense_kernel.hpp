// DenseKernel: the O(n m) reference implementation of the Kernel interface.
#pragma once

#include <cstddef>
#include <memory>
#include <vector>

#include "relu1d/kernel.hpp"

namespace relu1d {

// O(n m) reference: the textbook loops, SIMD over the inner index, threads over fixed blocks.
class DenseKernel final : public Kernel {
public:
    DenseKernel(std::shared_ptr<const SortedData> data, int threads);
    bool hessian(double* H) override;
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
    std::vector<double> tx_;        // t_i x_i
    std::vector<double> T0_, T1_;   // J^T s in transpose_product
};

}  // namespace relu1d
