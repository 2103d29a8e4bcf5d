// The Lanczos re-orthogonalisation pass hand-written for AVX-512 (8 doubles a register). Compiled
// with its own target flags (CMakeLists.txt) and run only where the CPU has them (dispatch.cpp).
// The dot products keep dot()'s order (numerics.hpp: 32 interleaved partial sums, the leftover
// terms added to partial sum i mod 32, then folded pairwise), and no multiply-add is fused, so the
// bits are those of the portable pass.
#include "neuron_loops.hpp"

#if !defined(__AVX512F__)
#error "lanczos_passes_avx512.cpp needs -mavx512f"
#endif
#include <immintrin.h>

namespace relu1d {
namespace detail {

namespace {

constexpr std::size_t kLanes = 32;  // numerics.hpp's kSumLanes
static_assert(kLanes == kSumLanes, "the partial sums of dot()");

// dot(a, b, n) of numerics.hpp, the same operations in the same order
double dot_avx512(const double* a, const double* b, std::size_t n) {
    __m512d acc_v[4];
    for (auto& s : acc_v) s = _mm512_setzero_pd();
    std::size_t i = 0;
    for (; i + kLanes <= n; i += kLanes)
        for (std::size_t r = 0; r < 4; ++r)
            acc_v[r] = _mm512_add_pd(acc_v[r],
                                  _mm512_mul_pd(_mm512_loadu_pd(a + i + 8 * r), _mm512_loadu_pd(b + i + 8 * r)));
    double acc[kLanes];
    for (std::size_t r = 0; r < 4; ++r) _mm512_storeu_pd(acc + 8 * r, acc_v[r]);
    for (; i < n; ++i) acc[i % kLanes] += a[i] * b[i];
    for (std::size_t half = kLanes / 2; half > 0; half /= 2)
        for (std::size_t l = 0; l < half; ++l) acc[l] += acc[l + half];
    return acc[0];
}

}  // namespace

void project_out_avx512(double* w, const double* Q, std::size_t j, std::size_t dim) {
    for (std::size_t r = 0; r < j; ++r) {
        const double* q = Q + r * dim;
        const double h = dot_avx512(q, w, dim);
        const __m512d vh = _mm512_set1_pd(h);
        std::size_t i = 0;
        for (; i + 8 <= dim; i += 8)
            _mm512_storeu_pd(w + i, _mm512_sub_pd(_mm512_loadu_pd(w + i), _mm512_mul_pd(vh, _mm512_loadu_pd(q + i))));
        for (; i < dim; ++i) w[i] -= h * q[i];
    }
}

}  // namespace detail
}  // namespace relu1d
