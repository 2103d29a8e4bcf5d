#include "relu1d/function_space.hpp"

#include <algorithm>
#include <cmath>
#include <cstring>

#include "relu1d/numerics.hpp"

namespace relu1d {

namespace {

// Raw knot of neuron k: t = -b/w and jump v |w|; false for a neuron without one (w = 0 or v = 0).
inline bool raw_knot(const Params& p, std::size_t k, double& t, double& jump) {
    const double w = p.w[k], v = p.v[k];
    if (w == 0.0 || v == 0.0) return false;  // a constant (w = 0) or silent (v = 0) neuron
    t = -p.b[k] / w;
    jump = v * std::fabs(w);
    return true;
}

// The order of the raw knots: by position, ties by jump, so that the merged sums (and everything
// after them) do not depend on the neurons' order.
inline bool knot_before(double ta, double ja, double tb, double jb) { return ta < tb || (ta == tb && ja < jb); }

// Merge raw knots given in that order (get(i) -> (t, jump)): sum the jumps of equal positions
// (compensated), drop exact zeros.
template <class Get>
void merge_sorted(std::size_t count, Get get, MergedKnots& out) {
    out.t.clear();
    out.jump.clear();
    for (std::size_t i = 0; i < count;) {
        double ti, ji;
        get(i, ti, ji);
        CompensatedSum s;
        s.add(ji);  // (a single term: s.value() == ji)
        std::size_t j = i + 1;
        for (; j < count; ++j) {
            double tj, jj;
            get(j, tj, jj);
            if (tj != ti) break;
            s.add(jj);
        }
        const double jump = j == i + 1 ? ji : s.value();
        if (jump != 0.0) {
            out.t.push_back(ti);
            out.jump.push_back(jump);
        }
        i = j;
    }
}

// The weight inside one gap of the data: for t with below = #{x < t} and from = #{x <= t} (both
// in 1..n-1), g(t) = min(c_minus (t - mean_below), c_plus (mean_above - t)) with
// c = P(side)^2 sqrt(1 + mean(side)^2). Every path evaluates g through this, so they agree bitwise.
struct GapWeight {
    std::size_t below = 0, from = 0;
    double mean_below = 0.0, mean_above = 0.0, c_minus = 0.0, c_plus = 0.0;

    void set(const SortedSample& s, std::size_t b, std::size_t f) {
        below = b;
        from = f;
        const std::size_t n = s.n;
        const double nn = static_cast<double>(n);
        mean_below = s.sum_x->range(0, b) / static_cast<double>(b);
        mean_above = s.sum_x->range(f, n) / static_cast<double>(n - f);
        const double p_below = static_cast<double>(b) / nn;
        const double p_above = static_cast<double>(n - f) / nn;
        // sqrt(1 + mean^2) as hypot: no overflow of mean^2 for |mean| > 1e154 when g itself is finite
        c_minus = p_below * p_below * std::hypot(1.0, mean_below);
        c_plus = p_above * p_above * std::hypot(1.0, mean_above);
    }
    double operator()(double t) const { return std::min(c_minus * (t - mean_below), c_plus * (mean_above - t)); }
};

inline bool strictly_inside(const SortedSample& s, double t) { return s.n > 0 && t > s.x[0] && t < s.x[s.n - 1]; }

// Walks the sorted data alongside ascending knots strictly inside it: counts below (x < t) and
// through (x <= t), and the gap's weight, recomputed only when the gap changes.
struct DataWalk {
    const SortedSample& s;
    std::size_t below = 0, from = 0;
    GapWeight gap;
    bool fresh = false;
    void advance(double t) {
        while (below < s.n && s.x[below] < t) ++below;
        if (from < below) from = below;
        while (from < s.n && s.x[from] <= t) ++from;
        if (!fresh || gap.below != below || gap.from != from) {
            gap.set(s, below, from);
            fresh = true;
        }
    }
};

}  // namespace

MergedKnots merged_knots(const Params& p) {
    struct Knot {
        double t, jump;
    };
    std::vector<Knot> raw;
    raw.reserve(p.m);
    for (std::size_t k = 0; k < p.m; ++k) {
        Knot kn;
        if (raw_knot(p, k, kn.t, kn.jump)) raw.push_back(kn);
    }
    std::sort(raw.begin(), raw.end(),
              [](const Knot& a, const Knot& b) { return knot_before(a.t, a.jump, b.t, b.jump); });
    MergedKnots out;
    merge_sorted(raw.size(), [&](std::size_t i, double& t, double& j) { t = raw[i].t; j = raw[i].jump; }, out);
    return out;
}

double g_weight(const SortedSample& s, double t) {
    if (!strictly_inside(s, t)) return 0.0;
    const auto below = static_cast<std::size_t>(std::lower_bound(s.x, s.x + s.n, t) - s.x);
    const auto from = static_cast<std::size_t>(std::upper_bound(s.x, s.x + s.n, t) - s.x);
    GapWeight gap;
    gap.set(s, below, from);
    return gap(t);
}

FunctionSpaceStats function_space_stats(const MergedKnots& k, const SortedSample& s, double rel_tol) {
    FunctionSpaceStats out;
    CompensatedSum weighted, total;
    DataWalk walk{s};
    for (std::size_t i = 0; i < k.t.size(); ++i) {
        const double t = k.t[i];
        if (!strictly_inside(s, t)) continue;
        walk.advance(t);
        const double a = std::fabs(k.jump[i]);
        const double g = walk.gap(t);
        if (g > 0.0) weighted.add(a * g);
        total.add(a);
    }
    out.wtv1 = weighted.value();
    const double sum = total.value();
    if (sum > 0.0) {
        const double threshold = rel_tol * sum;
        for (std::size_t i = 0; i < k.t.size(); ++i)
            if (strictly_inside(s, k.t[i]) && std::fabs(k.jump[i]) >= threshold) ++out.effective_knots;
    }
    return out;
}

double weighted_tv1(const MergedKnots& k, const SortedSample& s) {
    return function_space_stats(k, s, kEffectiveKnotRelTol).wtv1;
}

EffectiveKnots effective_knots(const MergedKnots& k, const SortedSample& s, double rel_tol) {
    EffectiveKnots out;
    CompensatedSum total;
    for (std::size_t i = 0; i < k.t.size(); ++i)
        if (strictly_inside(s, k.t[i])) total.add(std::fabs(k.jump[i]));
    out.total = total.value();
    if (!(out.total > 0.0)) return out;
    const double threshold = rel_tol * out.total;
    DataWalk walk{s};
    for (std::size_t i = 0; i < k.t.size(); ++i) {
        const double t = k.t[i];
        if (!strictly_inside(s, t) || std::fabs(k.jump[i]) < threshold) continue;
        walk.advance(t);  // inside: 1 <= below <= n - 1
        const double distance = std::min(s.x[walk.below] - t, t - s.x[walk.below - 1]);
        out.t.push_back(t);
        out.jump.push_back(k.jump[i]);
        out.distance.push_back(distance);
    }
    return out;
}

FunctionSpaceStats FunctionSpaceTracker::operator()(const Params& p, const SortedData& data, double rel_tol) {
    const std::size_t dim = p.dim();
    const double* theta = p.w;  // theta = [w, b, v, c] is contiguous
    if (cached_ && data_ == &data && rel_tol_ == rel_tol && theta_.size() == dim &&
        std::memcmp(theta_.data(), theta, dim * sizeof(double)) == 0) {
        cached_ = false;  // one reuse: the second column of the same row
        return last_;
    }
    const std::size_t m = p.m;
    t_.resize(m);
    jump_.resize(m);
    has_.assign(m, 0);
    std::size_t with_knot = 0;
    // Only knots strictly inside the data count (merging never mixes inside and outside positions).
    const SortedSample s{data.x(), data.n(), &data.moment_x()};
    for (std::size_t k = 0; k < m; ++k) {
        has_[k] = raw_knot(p, k, t_[k], jump_[k]) && strictly_inside(s, t_[k]);
        with_knot += static_cast<std::size_t>(has_[k]);
    }
    // The previous order, kept to the neurons that still have a knot, then the new ones appended.
    seen_.assign(m, 0);
    std::size_t q = 0;
    for (std::size_t i = 0; i < order_.size(); ++i) {
        const std::size_t k = order_[i];
        if (k < m && has_[k] && !seen_[k]) {
            seen_[k] = 1;
            order_[q++] = k;
        }
    }
    order_.resize(q);
    for (std::size_t k = 0; k < m; ++k)
        if (has_[k] && !seen_[k]) order_.push_back(k);
    const auto before = [&](std::size_t a, std::size_t b) { return knot_before(t_[a], jump_[a], t_[b], jump_[b]); };
    // Insertion sort from there (O(m + moves)); a sort from scratch when the order has changed much.
    std::size_t moves = 0;
    const std::size_t budget = 8 * with_knot + 64;
    for (std::size_t i = 1; i < order_.size() && moves <= budget; ++i) {
        const std::size_t k = order_[i];
        std::size_t j = i;
        for (; j > 0 && before(k, order_[j - 1]); --j) order_[j] = order_[j - 1];
        order_[j] = k;
        moves += i - j;
    }
    if (moves > budget) std::sort(order_.begin(), order_.end(), before);
    merge_sorted(order_.size(), [&](std::size_t i, double& t, double& j) { t = t_[order_[i]]; j = jump_[order_[i]]; },
                 merged_);
    last_ = function_space_stats(merged_, s, rel_tol);
    theta_.assign(theta, theta + dim);
    data_ = &data;
    rel_tol_ = rel_tol;
    cached_ = true;
    return last_;
}

void gram(const Params& p, const double* x, std::size_t n, double* G) {

    // Coefficients (w^2, w b, b^2, v^2) bucketed by boundary: suffix neurons (active on [q, n)) at
    // suf[q], prefix neurons (active on [0, q)) at pre[q].
    std::vector<double> suf(4 * (n + 1), 0.0), pre(4 * (n + 1), 0.0);
    for (std::size_t k = 0; k < p.m; ++k) {
        const double w = p.w[k], b = p.b[k], v = p.v[k];
        double* bucket;
        if (w > 0.0) {  // active iff x_i >= some boundary: the first active index
            const double* q = std::partition_point(x, x + n, [&](double xi) { return !is_active(w, b, xi); });
            bucket = &suf[4 * static_cast<std::size_t>(q - x)];
        } else if (w < 0.0) {  // active on a prefix: the first inactive index
            const double* q = std::partition_point(x, x + n, [&](double xi) { return is_active(w, b, xi); });
            bucket = &pre[4 * static_cast<std::size_t>(q - x)];
        } else if (b > 0.0) {  // w = 0: the constant relu(b), active everywhere
            bucket = &suf[0];
        } else {
            continue;
        }
        bucket[0] += w * w;
        bucket[1] += w * b;
        bucket[2] += b * b;
        bucket[3] += v * v;
    }
    // suf[i] <- sum over suffix neurons starting at or before i; after[j] <- over prefix neurons ending after j.
    for (std::size_t i = 1; i <= n; ++i)
        for (int c = 0; c < 4; ++c) suf[4 * i + c] += suf[4 * (i - 1) + c];
    std::vector<double> after(4 * (n + 1), 0.0);  // after[j] = sum of pre[q] for q > j
    for (std::size_t j = n; j-- > 0;)
        for (int c = 0; c < 4; ++c) after[4 * j + c] = after[4 * (j + 1) + c] + pre[4 * (j + 1) + c];
    const double nn = static_cast<double>(n);
    for (std::size_t i = 0; i < n; ++i) {
        const double xi = x[i];
        const double* si = &suf[4 * i];
        for (std::size_t j = i; j < n; ++j) {
            const double xj = x[j];
            const double* aj = &after[4 * j];
            const double w2 = si[0] + aj[0], wb = si[1] + aj[1], b2 = si[2] + aj[2], v2 = si[3] + aj[3];
            const double xx = xi * xj;
            const double value = (1.0 + (w2 * xx + wb * (xi + xj) + b2) + v2 * (xx + 1.0)) / nn;
            G[i * n + j] = value;
            G[j * n + i] = value;
        }
    }
}

}  // namespace relu1d
