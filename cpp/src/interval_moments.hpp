// Sums of x and x^2 over any interval of the sorted data, accurate whatever lies outside it
// (internal header of the core: the fast kernel's Hessian).
#pragma once

#include <cstddef>
#include <vector>

namespace relu1d {
namespace detail {

// (sum x_i, sum x_i^2) over [a, b), each to within about 2 eps times the same sum of |x_i|
// (x_i^2) over [a, b) alone. A difference of two running totals over all the data loses
// everything when the points outside the interval are much larger than those inside (|x| of
// 1e38 beside 0.5); here every stored partial sum covers points of the interval only:
// blocks of kBlock points carry their within-block prefix and suffix sums, and the sums over runs
// of whole blocks come from a disjoint sparse table (for each level, sums from a block's middle
// outwards), so a query adds at most four stored sums, each a compensated sum over points of the
// interval. Memory: about 4 n + 2 (n / kBlock) log2(n / kBlock) doubles; O(1) per query (a short
// interval inside one block is summed directly: at most kBlock - 1 terms).
class IntervalMoments {
public:
    IntervalMoments(const double* x, std::size_t n);
    // Requires a < b <= n. After tabulate(), a lookup (the same bits).
    void range(std::size_t a, std::size_t b, double& sx, double& sxx) const {
        if (!pairs_.empty()) {
            const double* e = &pairs_[2 * (a * (n_ + 1) + b)];
            sx = e[0];
            sxx = e[1];
            return;
        }
        compute_range(a, b, sx, sxx);
    }
    // True when no x in [a, b) is outside [2^-200, 2^200] in magnitude (zero allowed): then the
    // Hessian's products of two or three parameters and a moment neither overflow nor underflow
    // while the parameters are in that range too (see tame() in numerics.hpp).
    bool tame(std::size_t a, std::size_t b) const { return wild_[b] == wild_[a]; }

    static constexpr std::size_t kBlock = 64;
    // For n <= kPairTableMax (else nothing): every interval's sums in a table ((n + 1)^2 pairs, 1 MiB
    // at 256), computed as range() computes them. For the Hessian at m >= n: it asks for about
    // m^2 / 2 intervals, most of them inside one block (summed point by point) when n is small.
    void tabulate();
    static constexpr std::size_t kPairTableMax = 256;

private:
    void compute_range(std::size_t a, std::size_t b, double& sx, double& sxx) const;
    std::vector<double> pairs_;      // n <= kPairTableMax: (sum x, sum x^2) over [a, b) at 2 (a (n + 1) + b)
    const double* x_;
    std::size_t n_ = 0, blocks_ = 0, width_ = 0, levels_ = 0;
    std::vector<double> pre_, suf_;  // (x, x^2) per point: within-block sums up to / from it, inclusive
    std::vector<double> table_;      // levels_ x width_ pairs: the disjoint sparse table over block sums
    std::vector<std::size_t> wild_;  // wild_[i]: points before i outside the tame range
};

}  // namespace detail
}  // namespace relu1d
