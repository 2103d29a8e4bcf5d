#include "relu1d/lanczos.hpp"
#include "relu1d/numerics.hpp"

#include <Eigen/Eigenvalues>
#include <algorithm>
#include <cmath>
#include <stdexcept>

namespace relu1d {

namespace {

// splitmix64: a small, well-mixed deterministic generator for start vectors.
struct SplitMix64 {
    std::uint64_t state;
    double uniform() {  // in [-1, 1)
        std::uint64_t z = (state += 0x9E3779B97F4A7C15ull);
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
        z ^= z >> 31;
        return static_cast<double>(z >> 11) * 0x1.0p-52 - 1.0;
    }
};

// w -= Q[0..j) (Q^T w), twice ("twice is enough", Parlett/Kahan).
void orthogonalise(double* w, const double* Q, std::size_t j, std::size_t dim) {
    for (int pass = 0; pass < 2; ++pass)
        for (std::size_t r = 0; r < j; ++r) {
            const double* q = Q + r * dim;
            const double h = dot(q, w, dim);
            for (std::size_t i = 0; i < dim; ++i) w[i] -= h * q[i];
        }
}

// Fill w with a random vector orthogonal to Q[0..j); returns false if none is left.
bool random_orthogonal(double* w, const double* Q, std::size_t j, std::size_t dim, SplitMix64& rng) {
    for (int attempt = 0; attempt < 3; ++attempt) {
        for (std::size_t i = 0; i < dim; ++i) w[i] = rng.uniform();
        orthogonalise(w, Q, j, dim);
        const double nrm = std::sqrt(dot(w, w, dim));
        if (nrm > 1e-8) {
            for (std::size_t i = 0; i < dim; ++i) w[i] /= nrm;
            return true;
        }
    }
    return false;
}

}  // namespace

EigenResult Lanczos::solve(const Operator& op, std::size_t dim, const LanczosOptions& opt, const double* v0) {
    if (dim == 0) throw std::invalid_argument("dim: operator dimension must be positive");
    if (opt.k < 1 || opt.k > dim) throw std::invalid_argument("k: must be between 1 and the dimension");
    const std::size_t max_iter = std::min(dim, std::max(opt.max_iter, opt.k));
    Q_.resize((max_iter + 1) * dim);
    w_.resize(dim);
    alpha_.assign(max_iter, 0.0);
    beta_.assign(max_iter, 0.0);
    SplitMix64 rng{opt.seed * 0x2545F4914F6CDD1Dull + 1};

    EigenResult res;
    double* Q = Q_.data();
    double* w = w_.data();
    // Start vector q_0.
    bool started = false;
    if (v0) {
        const double nrm = std::sqrt(dot(v0, v0, dim));
        if (std::isfinite(nrm) && nrm > 0.0) {
            for (std::size_t i = 0; i < dim; ++i) Q[i] = v0[i] / nrm;
            started = true;
        }
    }
    if (!started) random_orthogonal(Q, Q, 0, dim, rng);

    Eigen::SelfAdjointEigenSolver<Eigen::MatrixXd> tri;
    std::size_t j = 0;  // number of Lanczos vectors in the basis
    double scale = 0.0;  // running estimate of ||H||
    std::vector<std::size_t> order;
    while (true) {
        double* q = Q + j * dim;
        op(q, w);
        ++res.products;
        const double a = dot(q, w, dim);
        alpha_[j] = a;
        ++j;
        orthogonalise(w, Q, j, dim);
        double b = std::sqrt(dot(w, w, dim));
        scale = std::max({scale, std::abs(a), b});
        // Ritz values of the j x j tridiagonal T.
        Eigen::VectorXd diag = Eigen::Map<Eigen::VectorXd>(alpha_.data(), j);
        Eigen::VectorXd sub = Eigen::Map<Eigen::VectorXd>(beta_.data(), j - 1 > 0 ? j - 1 : 0);
        tri.computeFromTridiagonal(diag, sub, Eigen::ComputeEigenvectors);
        const auto& evals = tri.eigenvalues();  // ascending
        const auto& evecs = tri.eigenvectors();
        const bool invariant = b <= 1e-12 * scale;
        const bool exhausted = j >= dim;
        order.clear();
        const std::size_t kk = std::min(opt.k, j);
        for (std::size_t r = 0; r < kk; ++r) order.push_back(opt.largest ? j - 1 - r : r);
        bool done = kk == opt.k;
        for (std::size_t idx : order) {
            const double est = std::abs(b * evecs(j - 1, static_cast<Eigen::Index>(idx)));
            if (est > opt.tol * std::max(std::abs(evals[idx]), scale * 1e-3)) done = false;
        }
        if (invariant && !done && !exhausted) {
            // The Krylov space is invariant: continue from a fresh direction, decoupled (beta = 0).
            if (!random_orthogonal(Q + j * dim, Q, j, dim, rng)) done = true;
            beta_[j - 1] = 0.0;
        } else if (!done && !exhausted && j < max_iter) {
            beta_[j - 1] = b;
            double* qn = Q + j * dim;
            for (std::size_t i = 0; i < dim; ++i) qn[i] = w[i] / b;
        }
        if (done || exhausted || j >= max_iter) {
            res.converged = done || exhausted;
            res.iterations = j;
            // Ritz vectors y = Q s, and their true residuals.
            res.values.resize(kk);
            res.vectors.assign(kk * dim, 0.0);
            res.residuals.resize(kk);
            std::vector<double> hy(dim);
            for (std::size_t r = 0; r < kk; ++r) {
                const auto col = static_cast<Eigen::Index>(order[r]);
                double* y = res.vectors.data() + r * dim;
                for (std::size_t l = 0; l < j; ++l) {
                    const double s = evecs(static_cast<Eigen::Index>(l), col);
                    const double* ql = Q + l * dim;
                    for (std::size_t i = 0; i < dim; ++i) y[i] += s * ql[i];
                }
                const double nrm = std::sqrt(dot(y, y, dim));
                for (std::size_t i = 0; i < dim; ++i) y[i] /= nrm;
                op(y, hy.data());
                ++res.products;
                const double lam = dot(y, hy.data(), dim);  // Rayleigh quotient
                double rr = 0.0;
                for (std::size_t i = 0; i < dim; ++i) rr += (hy[i] - lam * y[i]) * (hy[i] - lam * y[i]);
                res.values[r] = lam;
                res.residuals[r] = std::sqrt(rr);
            }
            return res;
        }
    }
}

}  // namespace relu1d
