#include "relu1d/function_space.hpp"

#include <algorithm>
#include <cmath>
#include <numeric>

#include "relu1d/numerics.hpp"

namespace relu1d {

MergedKnots merged_knots(const Params& p) {
    struct Knot {
        double t, jump;
    };
    std::vector<Knot> raw;
    raw.reserve(p.m);
    for (std::size_t k = 0; k < p.m; ++k) {
        const double w = p.w[k], v = p.v[k];
        if (w == 0.0 || v == 0.0) continue;  // a constant (w = 0) or silent (v = 0) neuron: no knot
        raw.push_back({-p.b[k] / w, v * std::fabs(w)});
    }
    // Ties broken by the jump so that the merged sums do not depend on the neurons' order.
    std::sort(raw.begin(), raw.end(),
              [](const Knot& a, const Knot& b) { return a.t < b.t || (a.t == b.t && a.jump < b.jump); });
    MergedKnots out;
    for (std::size_t i = 0; i < raw.size();) {
        CompensatedSum s;
        std::size_t j = i;
        for (; j < raw.size() && raw[j].t == raw[i].t; ++j) s.add(raw[j].jump);
        const double jump = s.value();
        if (jump != 0.0) {
            out.t.push_back(raw[i].t);
            out.jump.push_back(jump);
        }
        i = j;
    }
    return out;
}

double g_weight(const SortedSample& s, double t) {
    const std::size_t n = s.n;
    if (n == 0 || !(t > s.x[0] && t < s.x[n - 1])) return 0.0;
    // below: points x < t; above: points x > t (points equal to t belong to neither side)
    const auto below = static_cast<std::size_t>(std::lower_bound(s.x, s.x + n, t) - s.x);
    const auto from = static_cast<std::size_t>(std::upper_bound(s.x, s.x + n, t) - s.x);
    const std::size_t above = n - from;
    const double nn = static_cast<double>(n);
    const double mean_below = s.sum_x->range(0, below) / static_cast<double>(below);
    const double mean_above = s.sum_x->range(from, n) / static_cast<double>(above);
    const double p_below = static_cast<double>(below) / nn;
    const double p_above = static_cast<double>(above) / nn;
    const double g_minus = p_below * p_below * (t - mean_below) * std::hypot(1.0, mean_below);
    const double g_plus = p_above * p_above * (mean_above - t) * std::hypot(1.0, mean_above);
    return std::min(g_minus, g_plus);
}

double weighted_tv1(const MergedKnots& k, const SortedSample& s) {
    CompensatedSum total;
    for (std::size_t i = 0; i < k.t.size(); ++i) {
        const double g = g_weight(s, k.t[i]);
        if (g > 0.0) total.add(std::fabs(k.jump[i]) * g);
    }
    return total.value();
}

EffectiveKnots effective_knots(const MergedKnots& k, const SortedSample& s, double rel_tol) {
    EffectiveKnots out;
    if (s.n == 0) return out;
    const double lo = s.x[0], hi = s.x[s.n - 1];
    CompensatedSum total;
    for (std::size_t i = 0; i < k.t.size(); ++i)
        if (k.t[i] > lo && k.t[i] < hi) total.add(std::fabs(k.jump[i]));
    out.total = total.value();
    if (!(out.total > 0.0)) return out;
    const double threshold = rel_tol * out.total;
    for (std::size_t i = 0; i < k.t.size(); ++i) {
        const double t = k.t[i];
        if (!(t > lo && t < hi) || std::fabs(k.jump[i]) < threshold) continue;
        const double* right = std::lower_bound(s.x, s.x + s.n, t);  // inside: s.x < right < s.x + n
        const double distance = std::min(*right - t, t - *(right - 1));
        out.t.push_back(t);
        out.jump.push_back(k.jump[i]);
        out.distance.push_back(distance);
    }
    return out;
}

FunctionSpaceStats function_space_stats(const Params& p, const SortedData& data, double rel_tol) {
    const SortedSample s{data.x(), data.n(), &data.moment_x()};
    const MergedKnots k = merged_knots(p);
    FunctionSpaceStats out;
    out.wtv1 = weighted_tv1(k, s);
    out.effective_knots = effective_knots(k, s, rel_tol).t.size();
    return out;
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
