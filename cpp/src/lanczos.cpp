#include "relu1d/lanczos.hpp"
#include "relu1d/numerics.hpp"
#include "relu1d/parallel.hpp"
#include "simd/neuron_loops.hpp"

#include <Eigen/Eigenvalues>
#include <algorithm>
#include <cmath>
#include <limits>
#include <stdexcept>

namespace relu1d {

namespace {

// re-orthogonalise again when a pass left less than 1/sqrt(2) of ||w||
constexpr double kSecondPass = 0.7071067811865476;
constexpr std::size_t kInitialBasis = 16;  // Lanczos vectors allocated before the basis grows

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

// ||h - lam y||^2
double residual_norm2(const double* __restrict h, double lam, const double* __restrict y, std::size_t n) {
    double acc[kSumLanes] = {};
    std::size_t i = 0;
    for (; i + kSumLanes <= n; i += kSumLanes)
        for (std::size_t l = 0; l < kSumLanes; ++l) {
            const double e = h[i + l] - lam * y[i + l];
            acc[l] += e * e;
        }
    for (; i < n; ++i) {
        const double e = h[i] - lam * y[i];
        acc[i % kSumLanes] += e * e;
    }
    return fold_lanes(acc);
}

// The vector passes run over fixed blocks of kBlock entries: a reduction is the sum of the
// blocks' partial sums in block order (one block: the plain pass), so every result is the same
// for any number of threads; with a pool and long vectors the blocks spread over its threads.
constexpr std::size_t kBlock = 16384;

struct Passes {
    WorkerPool* pool;  // null: one thread
    std::size_t dim;
    std::vector<double>* partial;  // reduce's per-block sums (the solver's buffer: no allocation per pass)
    // (a vector entry costs about a tenth of a neuron's work: a thread per 8 grains of entries)
    bool threaded() const { return pool != nullptr && threads_for(dim / 8, pool->size()) > 1; }
    // body(lo, hi) over the blocks of [0, dim)
    template <class Body>
    void each(Body&& body) const {
        const std::size_t blocks = (dim + kBlock - 1) / kBlock;
        if (!threaded()) {
            for (std::size_t blk = 0; blk < blocks; ++blk) body(blk * kBlock, std::min(dim, (blk + 1) * kBlock));
            return;
        }
        const std::function<void(std::size_t)> task = [&](std::size_t blk) {
            body(blk * kBlock, std::min(dim, (blk + 1) * kBlock));
        };
        pool->run(blocks, task);
    }
    // sum over the blocks, in block order, of part(lo, hi)
    template <class Part>
    double reduce(Part&& part) const {
        if (dim <= kBlock) return part(std::size_t{0}, dim);
        std::vector<double>& sums = *partial;
        sums.resize((dim + kBlock - 1) / kBlock);
        each([&](std::size_t lo, std::size_t hi) { sums[lo / kBlock] = part(lo, hi); });
        double total = sums[0];
        for (std::size_t blk = 1; blk < sums.size(); ++blk) total += sums[blk];
        return total;
    }
    // The reductions: each block on the SIMD path in use (simd/neuron_loops.hpp; every path gives
    // the same bits).
    double dot(const double* a, const double* b) const {
        const auto pass = detail::simd_loops().dot;
        return reduce([&](std::size_t lo, std::size_t hi) { return pass(a + lo, b + lo, hi - lo); });
    }
    // v *= s (a multiplication: vector division is several times slower)
    void scale(double* v, double s) const {
        each([&](std::size_t lo, std::size_t hi) {
            for (std::size_t i = lo; i < hi; ++i) v[i] *= s;
        });
    }
    // w -= c p, then returns q . w (one pass).
    double subtract_then_dot(double* __restrict w, double c, const double* __restrict p,
                             const double* __restrict q) const {
        const auto pass = detail::simd_loops().subtract_then_dot;
        return reduce([&](std::size_t lo, std::size_t hi) { return pass(w + lo, c, p + lo, q + lo, hi - lo); });
    }
    // w -= c p, then returns w . w (one pass).
    double subtract_then_norm2(double* __restrict w, double c, const double* __restrict p) const {
        const auto pass = detail::simd_loops().subtract_then_norm2;
        return reduce([&](std::size_t lo, std::size_t hi) { return pass(w + lo, c, p + lo, hi - lo); });
    }
    // w -= A[0..a) (A^T w), then B[0..b) (B^T w) (rows of length dim), one vector at a time (modified
    // Gram-Schmidt), once; returns w . w after. Each pass over w subtracts one vector and takes the
    // dot product with the next (the last: w . w): a + b + 1 passes, the bits of a dot product and
    // a subtraction per vector and then w . w.
    double project_out(double* w, const double* A, std::size_t a, const double* B = nullptr, std::size_t b = 0) const {
        const auto row = [&](std::size_t t) { return t < a ? A + t * dim : B + (t - a) * dim; };
        const std::size_t count = a + b;
        if (count == 0) return dot(w, w);
        double h = dot(row(0), w);
        for (std::size_t t = 1; t < count; ++t) h = subtract_then_dot(w, h, row(t - 1), row(t));
        return subtract_then_norm2(w, h, row(count - 1));
    }
    // ||h - lam y||^2
    double residual_norm2(const double* __restrict h, double lam, const double* __restrict y) const {
        return reduce([&](std::size_t lo, std::size_t hi) { return relu1d::residual_norm2(h + lo, lam, y + lo, hi - lo); });
    }
    // The same, twice ("twice is enough", Parlett/Kahan): for vectors with large components in Q.
    // Returns w . w after.
    double orthogonalise(double* w, const double* Q, std::size_t j) const {
        if (j == 0) return dot(w, w);
        project_out(w, Q, j);
        return project_out(w, Q, j);
    }
    // Fill w with a random vector orthogonal to Q[0..j); returns false if none is left.
    bool random_orthogonal(double* w, const double* Q, std::size_t j, SplitMix64& rng) const {
        for (int attempt = 0; attempt < 3; ++attempt) {
            for (std::size_t i = 0; i < dim; ++i) w[i] = rng.uniform();
            const double nrm = std::sqrt(orthogonalise(w, Q, j));
            if (nrm > 1e-8) {
                scale(w, 1.0 / nrm);
                return true;
            }
        }
        return false;
    }
};

}  // namespace

// One extreme eigenpair of H restricted to the complement of the locked vectors L (r rows):
// Lanczos with full re-orthogonalisation against L and the basis. Returns the Ritz pair in
// (value, y) and whether its residual estimate met the tolerance.
bool Lanczos::extreme_pair(const Operator& op, std::size_t dim, const LanczosOptions& opt, const double* L,
                           std::size_t r, const double* v0, std::uint64_t stream, double& value, double* y,
                           EigenResult& res) {
    const std::size_t room = dim - r;  // dimension of the complement
    const std::size_t max_iter = std::min(room, std::max<std::size_t>(opt.max_iter, 1));
    // The basis grows on demand, a vector at a time: most calls converge in a few products, and
    // a full (max_iter + 1) x dim block would cost gigabytes at m = 1e6 before the first product.
    // Reserved memory is not touched (no page is mapped) until a vector is added.
    Q_.reserve(std::min<std::size_t>(max_iter + 1, kInitialBasis) * dim);
    Q_.resize(dim);
    w_.resize(dim);
    alpha_.assign(max_iter, 0.0);
    beta_.assign(max_iter, 0.0);
    SplitMix64 rng{(opt.seed * 0x2545F4914F6CDD1Dull + 1) ^ (stream * 0x9E3779B97F4A7C15ull)};
    double* Q = Q_.data();
    double* w = w_.data();
    const Passes P{pool_, dim, &partial_};
    // Full re-orthogonalisation of w against the locked vectors and Q[0..j): one pass, and a
    // second one only where the first removed most of w (Daniel-Gragg-Kaufman-Stewart): then
    // the rounding errors of the first pass are no longer small next to what is left. Returns ||w||.
    auto reorthogonalise = [&](double* vec, std::size_t j, double before) {
        double after = std::sqrt(P.project_out(vec, L, r, Q, j));
        if (after < kSecondPass * before) after = std::sqrt(P.project_out(vec, L, r, Q, j));
        return after;
    };
    bool started = false;
    if (v0) {
        std::copy(v0, v0 + dim, Q);
        const double nrm = std::sqrt(P.orthogonalise(Q, L, r));
        if (std::isfinite(nrm) && nrm > 1e-8) {
            P.scale(Q, 1.0 / nrm);
            started = true;
        }
    }
    if (!started && !P.random_orthogonal(Q, L, r, rng)) return false;

    Eigen::SelfAdjointEigenSolver<Eigen::MatrixXd> tri;
    std::size_t j = 0;
    double scale = 0.0;  // running estimate of ||H||
    while (true) {
        // w = H q_j - beta_{j-1} q_{j-1} - alpha_j q_j (the three-term recurrence), then re-orthogonalised
        const double* qj = Q + j * dim;
        op(qj, w);
        ++res.products;
        const double a = j > 0 ? P.subtract_then_dot(w, beta_[j - 1], Q + (j - 1) * dim, qj) : P.dot(qj, w);
        const double before = std::sqrt(P.subtract_then_norm2(w, a, qj));
        alpha_[j] = a;
        ++j;
        const double b = reorthogonalise(w, j, before);
        if (!std::isfinite(a) || !std::isfinite(b)) {
            // the products overflowed (inf or NaN entries): no eigenpair to find. Stop now, not
            // after max_iter iterations of eigenproblems on a tridiagonal matrix of NaNs
            res.iterations += j;
            std::fill(y, y + dim, std::numeric_limits<double>::quiet_NaN());
            value = std::numeric_limits<double>::quiet_NaN();
            return false;
        }
        scale = std::max({scale, std::abs(a), b});
        const Eigen::VectorXd diag = Eigen::Map<Eigen::VectorXd>(alpha_.data(), static_cast<Eigen::Index>(j));
        const Eigen::VectorXd sub = Eigen::Map<Eigen::VectorXd>(beta_.data(), static_cast<Eigen::Index>(j - 1));
        tri.computeFromTridiagonal(diag, sub, Eigen::ComputeEigenvectors);
        const Eigen::Index idx = opt.which == Which::largest ? static_cast<Eigen::Index>(j - 1) : 0;
        const double theta = tri.eigenvalues()[idx];
        const double estimate = std::abs(b * tri.eigenvectors()(static_cast<Eigen::Index>(j - 1), idx));
        const bool converged = estimate <= opt.tol * std::max(std::abs(theta), 1e-3 * scale);
        const bool exhausted = j >= room;
        bool done = converged || exhausted || j >= max_iter;
        if (!done) {
            // room for q_j (the vector grows its capacity geometrically); Q may move, the lambda
            // reads it through the reference
            Q_.resize((j + 1) * dim);
            Q = Q_.data();
            double* next = Q + j * dim;
            if (b <= 1e-12 * scale) {
                // invariant subspace without convergence: continue from a fresh direction (beta = 0)
                if (!P.random_orthogonal(next, L, r, rng)) {
                    done = true;
                } else {
                    const double nrm = std::sqrt(P.orthogonalise(next, Q, j));
                    P.scale(next, 1.0 / nrm);
                    beta_[j - 1] = 0.0;
                }
            } else {
                beta_[j - 1] = b;
                const double inv_b = 1.0 / b;
                P.each([&](std::size_t lo, std::size_t hi) {
                    for (std::size_t i = lo; i < hi; ++i) next[i] = w[i] * inv_b;
                });
            }
        }
        if (done) {
            res.iterations += j;
            // y = sum_l c_l q_l, the terms added in l order, a chunk of y at a time (in L1 while
            // every q_l's chunk is added)
            P.each([&](std::size_t lo, std::size_t hi) {
                constexpr std::size_t kChunk = 512;
                for (std::size_t c0 = lo; c0 < hi; c0 += kChunk) {
                    const std::size_t c1 = std::min(hi, c0 + kChunk);
                    std::fill(y + c0, y + c1, 0.0);
                    for (std::size_t l = 0; l < j; ++l) {
                        const double c = tri.eigenvectors()(static_cast<Eigen::Index>(l), idx);
                        const double* ql = Q + l * dim;
                        for (std::size_t i = c0; i < c1; ++i) y[i] += c * ql[i];
                    }
                }
            });
            const double nrm = std::sqrt(P.dot(y, y));
            P.scale(y, 1.0 / nrm);
            value = theta;
            return converged || exhausted;
        }
    }
}

EigenResult Lanczos::solve(const Operator& op, std::size_t dim, const LanczosOptions& opt, const double* v0,
                           WorkerPool* pool) {
    pool_ = pool;
    if (dim == 0) throw std::invalid_argument("dim: operator dimension must be positive");
    if (opt.k < 1 || opt.k > dim) throw std::invalid_argument("k: must be between 1 and the dimension");
    // Find the pairs one at a time, locking each and restarting in the complement: a repeated
    // eigenvalue then shows up once per copy (a single Krylov space holds only one copy).
    EigenResult res;
    res.converged = true;
    res.vectors.assign(opt.k * dim, 0.0);
    res.values.resize(opt.k);
    res.residuals.resize(opt.k);
    hy_.resize(dim);
    double* hy = hy_.data();
    for (std::size_t r = 0; r < opt.k; ++r) {
        double* y = res.vectors.data() + r * dim;
        double value = 0.0;
        const bool ok = extreme_pair(op, dim, opt, res.vectors.data(), r, r == 0 ? v0 : nullptr, r, value, y, res);
        res.converged = res.converged && ok;
        if (std::isnan(value)) {  // the products overflowed: this pair and the rest are NaN
            const double nan = std::numeric_limits<double>::quiet_NaN();
            std::fill(res.values.begin() + static_cast<std::ptrdiff_t>(r), res.values.end(), nan);
            std::fill(res.residuals.begin() + static_cast<std::ptrdiff_t>(r), res.residuals.end(), nan);
            std::fill(res.vectors.begin() + static_cast<std::ptrdiff_t>(r * dim), res.vectors.end(), nan);
            break;
        }
        // Rayleigh quotient and true residual ||H y - lambda y||
        op(y, hy);
        ++res.products;
        const Passes P{pool_, dim, &partial_};
        const double lam = P.dot(y, hy);
        res.values[r] = lam;
        res.residuals[r] = std::sqrt(P.residual_norm2(hy, lam, y));
    }
    return res;
}

}  // namespace relu1d
