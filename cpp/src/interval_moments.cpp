#include "interval_moments.hpp"

#include <cmath>
#include <utility>

#include "relu1d/numerics.hpp"

namespace relu1d {
namespace detail {

namespace {

inline Pair moments(double x) { return make_pair(x, x * x); }

inline Pair rounded(const CompensatedPair& s) { return s.hi + s.lo; }

}  // namespace

IntervalMoments::IntervalMoments(const double* x, std::size_t n) : x_(x), n_(n) {
    pre_.assign(2 * n, 0.0);
    suf_.assign(2 * n, 0.0);
    wild_.assign(n + 1, 0);
    for (std::size_t i = 0; i < n; ++i) wild_[i + 1] = wild_[i] + !tame_value(x[i]);
    blocks_ = (n + kBlock - 1) / kBlock;
    std::vector<double> block_sum(2 * blocks_, 0.0);
    for (std::size_t blk = 0; blk < blocks_; ++blk) {
        const std::size_t i0 = blk * kBlock, i1 = std::min(n, i0 + kBlock);
        CompensatedPair s;
        for (std::size_t i = i0; i < i1; ++i) {
            s.add(moments(x[i]));
            store_pair(&pre_[2 * i], rounded(s));
        }
        store_pair(&block_sum[2 * blk], rounded(s));
        CompensatedPair t;
        for (std::size_t i = i1; i-- > i0;) {
            t.add(moments(x[i]));
            store_pair(&suf_[2 * i], rounded(t));
        }
    }
    // Disjoint sparse table over the block sums (missing blocks up to the power of two are zero):
    // level l >= 1 splits the blocks into groups of 2^l; within a group with middle c, entry j < c
    // holds the sum of blocks j .. c - 1 and entry j >= c the sum of blocks c .. j. Level 0 is the
    // block sums themselves.
    width_ = 1;
    levels_ = 1;
    while (width_ < blocks_) {
        width_ *= 2;
        ++levels_;
    }
    table_.assign(2 * levels_ * width_, 0.0);
    auto block = [&](std::size_t j) { return j < blocks_ ? load_pair(&block_sum[2 * j]) : make_pair(0.0, 0.0); };
    for (std::size_t j = 0; j < width_; ++j) store_pair(&table_[2 * j], block(j));
    for (std::size_t l = 1; l < levels_; ++l) {
        const std::size_t half = std::size_t{1} << (l - 1);
        double* row = &table_[2 * l * width_];
        for (std::size_t g = 0; g < width_; g += 2 * half) {
            const std::size_t c = g + half;
            CompensatedPair left, right;
            for (std::size_t j = c; j-- > g;) {
                left.add(block(j));
                store_pair(row + 2 * j, rounded(left));
            }
            for (std::size_t j = c; j < g + 2 * half; ++j) {
                right.add(block(j));
                store_pair(row + 2 * j, rounded(right));
            }
        }
    }
}

void IntervalMoments::tabulate() {
    const std::size_t n = n_;
    if (n > kPairTableMax || !pairs_.empty()) return;
    std::vector<double> pairs(2 * (n + 1) * (n + 1), 0.0);
    for (std::size_t a = 0; a < n; ++a)
        for (std::size_t b = a + 1; b <= n; ++b) {
            double* e = &pairs[2 * (a * (n + 1) + b)];
            compute_range(a, b, e[0], e[1]);
        }
    pairs_ = std::move(pairs);
}

void IntervalMoments::compute_range(std::size_t a, std::size_t b, double& sx, double& sxx) const {
    const std::size_t ba = a / kBlock, bb = (b - 1) / kBlock;
    if (ba == bb) {  // within one block: at most kBlock - 1 terms, summed directly
        CompensatedPair s;
        for (std::size_t i = a; i < b; ++i) s.add(moments(x_[i]));
        const Pair r = rounded(s);
        sx = r[0];
        sxx = r[1];
        return;
    }
    // the head [a, end of block ba), the whole blocks between, the tail [start of block bb, b)
    CompensatedPair s;
    s.add(load_pair(&suf_[2 * a]));
    s.add(load_pair(&pre_[2 * (b - 1)]));
    if (ba + 1 < bb) {
        const std::size_t lo = ba + 1, hi = bb - 1;
        if (lo == hi) {
            s.add(load_pair(&table_[2 * lo]));
        } else {
            std::size_t l = 0;
            for (std::size_t d = lo ^ hi; d > 0; d >>= 1) ++l;  // 1 + the highest differing bit
            const double* row = &table_[2 * l * width_];
            s.add(load_pair(row + 2 * lo));
            s.add(load_pair(row + 2 * hi));
        }
    }
    const Pair r = rounded(s);
    sx = r[0];
    sxx = r[1];
}

}  // namespace detail
}  // namespace relu1d
