// descend_neurons hand-written for AVX-512 (F and DQ); compiled to nothing without them.
#include "neuron_loops.hpp"

#if RELU1D_HAS_AVX512_LOOPS
#include <immintrin.h>

#include "../neuron_terms.hpp"

namespace relu1d {
namespace detail {

// descend_neurons written out for AVX-512, eight neurons at a time: each lane does the same
// operations as the portable loop, so the results are the same bits (the last m mod 8 neurons go
// through the portable loop). Faster than GCC's vectorisation of the portable loop mainly in
// how it loads (S0, S1): one 16-byte load per lane.
RELU1D_NOINLINE std::size_t descend_neurons_avx512(std::size_t m, std::size_t n, double inv_n, double eta,
                                                   double* __restrict w, double* __restrict b, double* __restrict v,
                                                   std::size_t* __restrict slot, const double* __restrict U,
                                                   const double* __restrict xp, double* __restrict g2,
                                                   double* __restrict ab, double scale, double limit,
                                                   std::size_t& wild) {
    const __m512d vinv = _mm512_set1_pd(inv_n), veta = _mm512_set1_pd(eta), zero = _mm512_setzero_pd();
    const __m512i vn = _mm512_set1_epi64(static_cast<long long>(n));
    const __m512i vn1 = _mm512_set1_epi64(static_cast<long long>(n + 1));
    const __m512i one = _mm512_set1_epi64(1), two = _mm512_set1_epi64(2), three = _mm512_set1_epi64(3);
    const __m512i moved = _mm512_set1_epi64(static_cast<long long>(kMovedBit));
    const __m512i even = _mm512_set_epi64(11, 3, 10, 2, 9, 1, 8, 0);      // interleave: (pw0, pb0, pw1, pb1, ...)
    const __m512i odd = _mm512_set_epi64(15, 7, 14, 6, 13, 5, 12, 4);
    const __m512i firsts = _mm512_set_epi64(14, 12, 10, 8, 6, 4, 2, 0);  // de-interleave pairs
    const __m512i seconds = _mm512_set_epi64(15, 13, 11, 9, 7, 5, 3, 1);
    const __m512d vscale = _mm512_set1_pd(scale), vlimit = _mm512_set1_pd(limit);
    const __m512d magnitude = _mm512_castsi512_pd(_mm512_set1_epi64(0x7FFFFFFFFFFFFFFFLL));  // |.| mask
    std::size_t flagged = 0, wilds = 0;
    std::size_t k = 0;
    for (; k + 8 <= m; k += 8) {
        const __m512i s = _mm512_loadu_si512(slot + k);
        // (S0, S1) of each lane: one 16-byte load per lane from U, de-interleaved (faster here
        // than two gathers)
        __m512d lo = _mm512_castpd128_pd512(_mm_loadu_pd(U + 2 * slot[k]));
        lo = _mm512_insertf64x2(lo, _mm_loadu_pd(U + 2 * slot[k + 1]), 1);
        lo = _mm512_insertf64x2(lo, _mm_loadu_pd(U + 2 * slot[k + 2]), 2);
        lo = _mm512_insertf64x2(lo, _mm_loadu_pd(U + 2 * slot[k + 3]), 3);
        __m512d hi = _mm512_castpd128_pd512(_mm_loadu_pd(U + 2 * slot[k + 4]));
        hi = _mm512_insertf64x2(hi, _mm_loadu_pd(U + 2 * slot[k + 5]), 1);
        hi = _mm512_insertf64x2(hi, _mm_loadu_pd(U + 2 * slot[k + 6]), 2);
        hi = _mm512_insertf64x2(hi, _mm_loadu_pd(U + 2 * slot[k + 7]), 3);
        const __m512d S0 = _mm512_permutex2var_pd(lo, firsts, hi);
        const __m512d S1 = _mm512_permutex2var_pd(lo, seconds, hi);
        const __m512d W = _mm512_loadu_pd(w + k), B = _mm512_loadu_pd(b + k), V = _mm512_loadu_pd(v + k);
        // neuron_gradient: g = (v S1 / n, v S0 / n, (w S1 + b S0) / n), and ||g||^2
        const __m512d gw = _mm512_mul_pd(_mm512_mul_pd(V, S1), vinv);
        const __m512d gb = _mm512_mul_pd(_mm512_mul_pd(V, S0), vinv);
        const __m512d gv = _mm512_mul_pd(_mm512_add_pd(_mm512_mul_pd(W, S1), _mm512_mul_pd(B, S0)), vinv);
        _mm512_storeu_pd(g2 + k, _mm512_add_pd(_mm512_add_pd(_mm512_mul_pd(gw, gw), _mm512_mul_pd(gb, gb)),
                                               _mm512_mul_pd(gv, gv)));
        const __m512d W2 = _mm512_sub_pd(W, _mm512_mul_pd(veta, gw));
        const __m512d B2 = _mm512_sub_pd(B, _mm512_mul_pd(veta, gb));
        const __m512d V2 = _mm512_sub_pd(V, _mm512_mul_pd(veta, gv));
        _mm512_storeu_pd(w + k, W2);
        _mm512_storeu_pd(b + k, B2);
        _mm512_storeu_pd(v + k, V2);
        // settle_slot on eight lanes
        const __mmask8 was_prefix = _mm512_cmpgt_epu64_mask(s, vn);
        const __m512i q = _mm512_mask_sub_epi64(s, was_prefix, s, vn1);
        const __mmask8 neg = _mm512_cmp_pd_mask(W2, zero, _CMP_LT_OQ);
        auto pred = [&](__m512i idx) {  // is_active(w, b, xp[idx]) != neg
            // all lanes; the masked form has a defined merge source (no -Wmaybe-uninitialized)
            const __m512d xv = _mm512_mask_i64gather_pd(zero, 0xFF, idx, xp, 8);
            const __mmask8 act = _mm512_cmp_pd_mask(_mm512_add_pd(_mm512_mul_pd(W2, xv), B2), zero, _CMP_GT_OQ);
            return static_cast<__mmask8>(act ^ neg);
        };
        const __mmask8 pm1 = pred(_mm512_add_epi64(q, one));
        const __mmask8 p0 = pred(_mm512_add_epi64(q, two));
        const __mmask8 pc = pred(_mm512_mask_add_epi64(q, static_cast<__mmask8>(~pm1), q, three));
        __m512i c = _mm512_maskz_mov_epi64(pm1, two);  // c = 2 pm1 + p0 + pc
        c = _mm512_mask_add_epi64(c, p0, c, one);
        c = _mm512_mask_add_epi64(c, pc, c, one);
        const __mmask8 edge = _mm512_cmpgt_epu64_mask(_mm512_sub_epi64(c, one), two);
        const __mmask8 wzero = _mm512_cmp_pd_mask(W2, zero, _CMP_EQ_UQ);  // w == 0 or NaN
        const __mmask8 flag = edge | wzero;
        const __m512i qn = _mm512_sub_epi64(_mm512_add_epi64(q, two), c);
        __m512i out = _mm512_mask_add_epi64(qn, neg, qn, vn1);
        out = _mm512_mask_or_epi64(out, flag, s, moved);
        _mm512_storeu_si512(slot + k, out);
        flagged += static_cast<std::size_t>(_mm_popcnt_u32(flag));
        const __m512d PW = _mm512_mul_pd(V2, W2), PB = _mm512_mul_pd(V2, B2);
        // wild_coefficients: !(|PW| scale + |PB| <= limit) (unordered: NaN counts)
        const __m512d bound = _mm512_add_pd(_mm512_mul_pd(_mm512_and_pd(PW, magnitude), vscale),
                                            _mm512_and_pd(PB, magnitude));
        wilds += static_cast<std::size_t>(_mm_popcnt_u32(_mm512_cmp_pd_mask(bound, vlimit, _CMP_NLE_UQ)));
        _mm512_storeu_pd(ab + 2 * k, _mm512_permutex2var_pd(PW, even, PB));
        _mm512_storeu_pd(ab + 2 * k + 8, _mm512_permutex2var_pd(PW, odd, PB));
    }
    wild += wilds;
    return flagged + descend_neurons(m - k, n, inv_n, eta, w + k, b + k, v + k, slot + k, U, xp, g2 + k, ab + 2 * k,
                                     scale, limit, wild);
}

}  // namespace detail
}  // namespace relu1d
#endif
