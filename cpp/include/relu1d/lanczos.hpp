// Extreme algebraic eigenvalues of a symmetric operator given only by its products (H u), by
// Lanczos with full re-orthogonalisation. The tridiagonal projection is solved with Eigen. For
// k > 1 the pairs are found one at a time, each run deflated against the pairs already found,
// so repeated eigenvalues are found with their multiplicity.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <vector>

#include "relu1d/zeroed.hpp"

namespace relu1d {

class WorkerPool;

struct EigenResult {
    std::vector<double> values;     // k eigenvalues, largest first (or smallest first)
    std::vector<double> vectors;    // k unit eigenvectors, row r = vectors[r * dim ...]
    std::vector<double> residuals;  // ||H q - lambda q|| for each pair, measured with one more product
    std::size_t products = 0;       // operator applications, the residual checks included
    std::size_t iterations = 0;     // Lanczos steps
    bool converged = false;
};

// Which end of the spectrum: the largest algebraic eigenvalues (the sharpness) or the smallest.
enum class Which : int { largest = 0, smallest = 1 };

struct LanczosOptions {
    std::size_t k = 1;            // how many eigenpairs
    Which which = Which::largest;
    // Stop when every residual estimate ||H q - lambda q|| <= tol * max(|lambda|, 1e-3 scale),
    // scale the running estimate of ||H|| (max |alpha_j|, beta_j of the recurrence).
    double tol = 1e-10;
    std::size_t max_iter = 300;   // Lanczos steps at most per eigenpair (capped at dim)
    std::uint64_t seed = 0;       // for the random start and restart vectors
};

using Operator = std::function<void(const double* u, double* out)>;

// Reusable workspace: repeated calls with the same dim allocate nothing new. The vector passes run
// over fixed blocks of 16384 entries (reductions add the blocks' partial sums in block order), on
// the threads of `pool` where the vectors are long: the results never depend on the threads.
class Lanczos {
public:
    // v0 (length dim) may be null: a seeded random start vector is used. pool: threads for the
    // vector passes (null: one; op may use the same pool, never at the same time).
    EigenResult solve(const Operator& op, std::size_t dim, const LanczosOptions& opt, const double* v0 = nullptr,
                      WorkerPool* pool = nullptr);

private:
    bool extreme_pair(const Operator& op, std::size_t dim, const LanczosOptions& opt, const double* L, std::size_t r,
                      const double* v0, std::uint64_t stream, double& value, double* y, EigenResult& res);
    // The Lanczos basis: every vector is written before it is read, so growing it writes nothing
    // (ZeroedVector's resize leaves the memory as it is: a pass over each new vector saved).
    ZeroedVector<double> Q_;
    std::vector<double> w_, alpha_, beta_, hy_;
    WorkerPool* pool_ = nullptr;  // of the current solve
    std::vector<double> partial_;  // the vector passes' per-block sums
};

}  // namespace relu1d
