// Lanczos' vector passes hand-written for AVX-512 (8 doubles a register). Compiled with its own
// target flags (CMakeLists.txt) and run only where the CPU has them (dispatch.cpp). The reductions
// keep dot()'s order (numerics.hpp: 32 interleaved partial sums, the leftover terms added to
// partial sum i mod 32, then folded pairwise), and no multiply-add is fused, so the bits are those
// of the portable passes.
#include "neuron_loops.hpp"

#if !defined(__AVX512F__)
#error "lanczos_passes_avx512.cpp needs -mavx512f"
#endif
#include <immintrin.h>

namespace relu1d {
namespace detail {

namespace {

constexpr std::size_t kLanes = 32;  // numerics.hpp's kSumLanes
constexpr std::size_t kRegs = kLanes / 8;  // registers of partial sums
static_assert(kLanes == kSumLanes, "the partial sums of dot()");

// The lanes' partial sums from the registers, the leftover terms term(i) added to lane i mod 32,
// folded pairwise.
template <class Term>
double finish(const __m512d* acc_v, std::size_t i, std::size_t n, Term&& term) {
    double acc[kLanes];
    for (std::size_t r = 0; r < kRegs; ++r) _mm512_storeu_pd(acc + 8 * r, acc_v[r]);
    for (; i < n; ++i) acc[i % kLanes] += term(i);
    for (std::size_t half = kLanes / 2; half > 0; half /= 2)
        for (std::size_t l = 0; l < half; ++l) acc[l] += acc[l + half];
    return acc[0];
}

// w -= c p, then returns q . w (kNorm: w . w)
template <bool kNorm>
double subtract_then_sum(double* __restrict w, double c, const double* __restrict p, const double* __restrict q,
                         std::size_t n) {
    const __m512d vc = _mm512_set1_pd(c);
    __m512d acc_v[kRegs];
    for (auto& s : acc_v) s = _mm512_setzero_pd();
    std::size_t i = 0;
    for (; i + kLanes <= n; i += kLanes)
        for (std::size_t r = 0; r < kRegs; ++r) {
            const std::size_t at = i + 8 * r;
            const __m512d wv = _mm512_sub_pd(_mm512_loadu_pd(w + at), _mm512_mul_pd(vc, _mm512_loadu_pd(p + at)));
            _mm512_storeu_pd(w + at, wv);
            acc_v[r] = _mm512_add_pd(acc_v[r], _mm512_mul_pd(kNorm ? wv : _mm512_loadu_pd(q + at), wv));
        }
    return finish(acc_v, i, n, [&](std::size_t t) {
        w[t] -= c * p[t];
        return (kNorm ? w[t] : q[t]) * w[t];
    });
}

}  // namespace

double vector_dot_avx512(const double* a, const double* b, std::size_t n) {
    __m512d acc_v[kRegs];
    for (auto& s : acc_v) s = _mm512_setzero_pd();
    std::size_t i = 0;
    for (; i + kLanes <= n; i += kLanes)
        for (std::size_t r = 0; r < kRegs; ++r)
            acc_v[r] = _mm512_add_pd(acc_v[r], _mm512_mul_pd(_mm512_loadu_pd(a + i + 8 * r), _mm512_loadu_pd(b + i + 8 * r)));
    return finish(acc_v, i, n, [&](std::size_t t) { return a[t] * b[t]; });
}

double subtract_then_dot_avx512(double* __restrict w, double c, const double* __restrict p,
                              const double* __restrict q, std::size_t n) {
    return subtract_then_sum<false>(w, c, p, q, n);
}

double subtract_then_norm2_avx512(double* __restrict w, double c, const double* __restrict p, std::size_t n) {
    return subtract_then_sum<true>(w, c, p, nullptr, n);
}

}  // namespace detail
}  // namespace relu1d
