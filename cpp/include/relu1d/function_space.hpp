// The network as a function: its knots, the empirical weight g of the stability theory, the
// weighted first-order total variation and the effective knots (PAPER.md, "Function-space
// quantities"). f(x) = sum_k v_k relu(w_k x + b_k) + c is a linear spline whose slope jumps by
// v_k |w_k| at the knot t_k = -b_k / w_k of each neuron with w_k != 0 and v_k != 0.
//
// Data are given sorted ascending with their compensated prefix sums (SortedData keeps them; a
// caller with a bare sorted array makes them with prefix_sum). Costs: g at one point O(log n);
// merged knots O(m log m); weighted TV(1) and the effective knots O(m log m + m log n).
#pragma once

#include <cstddef>
#include <vector>

#include "relu1d/data.hpp"
#include "relu1d/params.hpp"

namespace relu1d {

// Default relative threshold of an effective knot: |merged jump| >= kEffectiveKnotRelTol * TV(1)
// of f over the open data range.
inline constexpr double kEffectiveKnotRelTol = 1e-2;

// Sorted data as the function-space quantities see them: x ascending and sum_{j<i} x_j.
struct SortedSample {
    const double* x;
    std::size_t n;
    const PrefixSum* sum_x;  // prefix sums of x (length n + 1)
};

// Distinct knots of f, ascending, with the summed slope jump of the neurons that share each
// position (neurons with w = 0 or v = 0 add none; positions whose jumps cancel exactly are dropped).
struct MergedKnots {
    std::vector<double> t, jump;
};
MergedKnots merged_knots(const Params& p);

// The empirical weight of PAPER.md, for x_min < t < x_max (else 0):
//   g(t) = min(g-(t), g+(t)),
//   g+(t) = P(X > t)^2 E[X - t | X > t] sqrt(1 + E[X | X > t]^2),
//   g-(t) = P(X < t)^2 E[t - X | X < t] sqrt(1 + E[X | X < t]^2),
// with X uniform over the sample. O(log n).
double g_weight(const SortedSample& s, double t);

// integral |f''| g = sum over distinct knots t of |merged jump at t| g(t).
double weighted_tv1(const MergedKnots& k, const SortedSample& s);

// The knots strictly inside (x_min, x_max) with |jump| >= rel_tol * total, where total is the sum of
// |jump| over all knots strictly inside (TV(1) of f on the open data range); total = 0: none.
struct EffectiveKnots {
    std::vector<double> t, jump, distance;  // distance: to the nearest data point
    double total = 0.0;
};
EffectiveKnots effective_knots(const MergedKnots& k, const SortedSample& s, double rel_tol);

// What a training run records at a sharpness step (no Hessian-vector product needed): the
// weighted TV(1) and the number of effective knots, equal to the bit to weighted_tv1 and
// effective_knots(...).t.size() on merged_knots(p).
struct FunctionSpaceStats {
    double wtv1 = 0.0;
    std::size_t effective_knots = 0;
};
FunctionSpaceStats function_space_stats(const MergedKnots& k, const SortedSample& s, double rel_tol);

// The same along a run, cheaply: the knots are sorted starting from the previous call's order
// (they move little between measurements, so the sort costs O(m) instead of O(m log m)), the
// weights come from one merged walk over data and knots (O(n + m)), and a result is kept for the
// next call at the same theta and data (two history columns share one computation). Not
// thread-safe: one tracker per thread.
class FunctionSpaceTracker {
public:
    FunctionSpaceStats operator()(const Params& p, const SortedData& data, double rel_tol = kEffectiveKnotRelTol);

private:
    std::vector<std::size_t> order_;  // neurons with a knot inside the data, by (t, jump), at the last call
    std::vector<double> t_, jump_;    // per neuron, where has_
    std::vector<char> has_, seen_;
    MergedKnots merged_;
    // the last result, reused once by a call with the same theta, data and rel_tol
    std::vector<double> theta_;
    const SortedData* data_ = nullptr;
    double rel_tol_ = 0.0;
    FunctionSpaceStats last_;
    bool cached_ = false;
};

// The Gauss-Newton / NTK Gram matrix G = J J^T / n (n x n, row-major, in the sorted order), with
//   (J J^T)_ij = 1 + sum_k a_ik a_jk [ z_ik z_jk + v_k^2 (x_i x_j + 1) ],  z_ik = w_k x_i + b_k,
// in O(n^2 + m log n): each neuron is active on a prefix or a suffix of the sorted data (found with
// the exact predicate fl(fl(w x) + b) > 0), so for i <= j the neurons active at both are the suffix
// neurons starting at or before i and the prefix neurons ending after j, and the sum is a
// polynomial in x_i, x_j with coefficients from cumulative sums of (w^2, w b, b^2, v^2).
void gram(const Params& p, const double* x_sorted, std::size_t n, double* G);

}  // namespace relu1d
