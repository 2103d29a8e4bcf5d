// Floating-point building blocks shared by every kernel.
//
// This file (and every translation unit of the core) is compiled with
// -ffp-contract=off: a * b + c is a rounded product followed by a rounded sum,
// exactly as NumPy and PyTorch eager evaluate it. std::fma is used explicitly
// where a fused operation is wanted.
#pragma once

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstring>

namespace relu1d {

// Neuron k is active at x iff fl(fl(w * x) + b) > 0 (strict; relu'(0) = 0).
inline bool is_active(double w, double b, double x) {
    const double wx = w * x;
    const double z = wx + b;
    return z > 0.0;
}

// |p| in [2^-200, 2^200], or p == 0 (false for inf and NaN). Products of up to four such numbers
// and sums of up to 2^100 of those products neither overflow nor underflow, so a formula over
// such inputs can be evaluated in any order; the fast kernel's Hessian takes its moment formulas
// only there and otherwise sums the dense kernel's products point by point.
inline bool tame_value(double p) {
    const double a = std::fabs(p);
    return a == 0.0 || (a >= 0x1p-200 && a <= 0x1p200);
}

// Error-free transformation: s + e == a + b exactly, s = fl(a + b) (Knuth TwoSum).
inline void two_sum(double a, double b, double& s, double& e) {
    s = a + b;
    const double bb = s - a;
    e = (a - (s - bb)) + (b - bb);
}

// A double-double accumulator: value() ~ exact sum, error ~ eps * |sum| + eps^2 * sum |terms|.
struct CompensatedSum {
    double hi = 0.0;
    double lo = 0.0;
    void add(double t) {
        double e;
        two_sum(hi, t, hi, e);
        lo += e;
    }
    double value() const { return hi + lo; }
};

// Two doubles handled as one SIMD register where the compiler supports it: the fast kernels run
// two independent compensated sums (A and B, or t and t x) side by side.
#if defined(__GNUC__) || defined(__clang__)
typedef double Pair __attribute__((vector_size(16)));
inline Pair make_pair(double a, double b) { return Pair{a, b}; }
inline Pair load_pair(const double* p) {
    Pair v;
    __builtin_memcpy(&v, p, sizeof v);
    return v;
}
inline void store_pair(double* p, Pair v) { __builtin_memcpy(p, &v, sizeof v); }
#else
struct Pair {
    double v[2];
    double operator[](int i) const { return v[i]; }
};
inline Pair make_pair(double a, double b) { return Pair{{a, b}}; }
inline Pair load_pair(const double* p) { return Pair{{p[0], p[1]}}; }
inline void store_pair(double* p, Pair v) { p[0] = v.v[0]; p[1] = v.v[1]; }
inline Pair operator+(Pair a, Pair b) { return Pair{{a.v[0] + b.v[0], a.v[1] + b.v[1]}}; }
inline Pair operator-(Pair a, Pair b) { return Pair{{a.v[0] - b.v[0], a.v[1] - b.v[1]}}; }
inline Pair& operator+=(Pair& a, Pair b) { return a = a + b; }
#endif

// Two compensated sums at once (lane-wise TwoSum).
struct CompensatedPair {
    Pair hi = make_pair(0.0, 0.0);
    Pair lo = make_pair(0.0, 0.0);
    void add(Pair t) {
        const Pair s = hi + t;
        const Pair bb = s - hi;
        lo += (hi - (s - bb)) + (t - bb);
        hi = s;
    }
};

// Lane-wise TwoSum: s + e == a + b exactly.
inline void two_sum(Pair a, Pair b, Pair& s, Pair& e) {
    s = a + b;
    const Pair bb = s - a;
    e = (a - (s - bb)) + (b - bb);
}

// Sums with 32 interleaved partial sums, added pairwise at the end: a fixed order
// (deterministic), and fast because the additions do not wait on each other (four 8-wide
// accumulators cover the latency of a vector add). Written out for each use: GCC vectorises
// these loops, not a generic version taking the term as a function.
constexpr std::size_t kSumLanes = 32;

inline double fold_lanes(double* acc) {
    for (std::size_t half = kSumLanes / 2; half > 0; half /= 2)
        for (std::size_t l = 0; l < half; ++l) acc[l] += acc[l + half];
    return acc[0];
}

// sum_i a_i b_i
inline double dot(const double* a, const double* b, std::size_t n) {
    double acc[kSumLanes] = {};
    std::size_t i = 0;
    for (; i + kSumLanes <= n; i += kSumLanes)
        for (std::size_t l = 0; l < kSumLanes; ++l) acc[l] += a[i + l] * b[i + l];
    for (; i < n; ++i) acc[i % kSumLanes] += a[i] * b[i];
    return fold_lanes(acc);
}

// Whether every a_i is finite: no a_i has all exponent bits set (inf and NaN have), checked on the
// bits without a branch per entry (a vectorised or-reduction).
inline bool all_finite(const double* a, std::size_t n) {
    constexpr std::uint64_t kExponent = 0x7FF0000000000000ull;
    std::uint64_t bad = 0;
    for (std::size_t i = 0; i < n; ++i) {
        std::uint64_t bits;
        std::memcpy(&bits, a + i, sizeof bits);
        bad |= static_cast<std::uint64_t>((bits & kExponent) == kExponent);
    }
    return bad == 0;
}

// sum_i a_i
inline double sum(const double* a, std::size_t n) {
    double acc[kSumLanes] = {};
    std::size_t i = 0;
    for (; i + kSumLanes <= n; i += kSumLanes)
        for (std::size_t l = 0; l < kSumLanes; ++l) acc[l] += a[i + l];
    for (; i < n; ++i) acc[i % kSumLanes] += a[i];
    return fold_lanes(acc);
}

}  // namespace relu1d
