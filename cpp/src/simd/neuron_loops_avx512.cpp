// The per-neuron loops hand-written for AVX-512 (F and DQ), eight neurons at a time. Compiled with
// -mavx512f -mavx512dq (CMakeLists.txt) and run only where the CPU has them (dispatch.cpp).
#include "neuron_loops.hpp"

#if !defined(__AVX512F__) || !defined(__AVX512DQ__)
#error "neuron_loops_avx512.cpp needs -mavx512f -mavx512dq"
#endif
#include <immintrin.h>

namespace relu1d {
namespace detail {

namespace {

// settle_slot on eight lanes, the same operations per lane: the new slots (old slot | kMovedBit
// where `flag` is set). The old slots s are unflagged.
struct Settle8 {
    const double* xp;
    __m512i vn, vn1;
    __mmask8 flag = 0;
    Settle8(std::size_t n, const double* xp_)
        : xp(xp_),
          vn(_mm512_set1_epi64(static_cast<long long>(n))),
          vn1(_mm512_set1_epi64(static_cast<long long>(n + 1))) {}
    __m512i operator()(__m512i s, __m512d W, __m512d B) {
        const __m512d zero = _mm512_setzero_pd();
        const __m512i one = _mm512_set1_epi64(1), two = _mm512_set1_epi64(2), three = _mm512_set1_epi64(3);
        const __mmask8 was_prefix = _mm512_cmpgt_epu64_mask(s, vn);
        const __m512i q = _mm512_mask_sub_epi64(s, was_prefix, s, vn1);
        const __mmask8 neg = _mm512_cmp_pd_mask(W, zero, _CMP_LT_OQ);
        auto pred = [&](__m512i idx) {  // is_active(w, b, xp[idx]) != neg: fl(fl(w x) + b) > 0
            // all lanes; the masked form has a defined merge source (no -Wmaybe-uninitialized)
            const __m512d xv = _mm512_mask_i64gather_pd(zero, 0xFF, idx, xp, 8);
            const __mmask8 act = _mm512_cmp_pd_mask(_mm512_add_pd(_mm512_mul_pd(W, xv), B), zero, _CMP_GT_OQ);
            return static_cast<__mmask8>(act ^ neg);
        };
        const __mmask8 pm1 = pred(_mm512_add_epi64(q, one));
        const __mmask8 p0 = pred(_mm512_add_epi64(q, two));
        const __mmask8 pc = pred(_mm512_mask_add_epi64(q, static_cast<__mmask8>(~pm1), q, three));
        __m512i c = _mm512_maskz_mov_epi64(pm1, two);  // c = 2 pm1 + p0 + pc
        c = _mm512_mask_add_epi64(c, p0, c, one);
        c = _mm512_mask_add_epi64(c, pc, c, one);
        const __mmask8 edge = _mm512_cmpgt_epu64_mask(_mm512_sub_epi64(c, one), two);  // c == 0 or c == 4
        const __mmask8 wzero = _mm512_cmp_pd_mask(W, zero, _CMP_EQ_UQ);                // w == 0 or NaN
        flag = edge | wzero;
        const __m512i qn = _mm512_sub_epi64(_mm512_add_epi64(q, two), c);
        const __m512i out = _mm512_mask_add_epi64(qn, neg, qn, vn1);
        return _mm512_mask_or_epi64(out, flag, s, _mm512_set1_epi64(static_cast<long long>(kMovedBit)));
    }
};

}  // namespace

std::size_t check_boundaries_avx512(std::size_t m, std::size_t n, const double* __restrict w,
                                    const double* __restrict b, const double* __restrict xp,
                                    std::size_t* __restrict slot) {
    Settle8 settle(n, xp);
    std::size_t flagged = 0;
    std::size_t k = 0;
    for (; k + 8 <= m; k += 8) {
        const __m512i s = _mm512_loadu_si512(slot + k);
        _mm512_storeu_si512(slot + k, settle(s, _mm512_loadu_pd(w + k), _mm512_loadu_pd(b + k)));
        flagged += static_cast<std::size_t>(__builtin_popcount(settle.flag));
    }
    return flagged + check_boundaries(m - k, n, w + k, b + k, xp, slot + k);
}

// Faster than GCC's vectorisation of the portable loop mainly in how it loads (S0, S1): one
// 16-byte load per lane.
std::size_t descend_neurons_avx512(std::size_t m, std::size_t n, double inv_n, double eta, double* __restrict w,
                                   double* __restrict b, double* __restrict v, std::size_t* __restrict slot,
                                   const double* __restrict U, const double* __restrict xp, double* __restrict g2,
                                   std::size_t lane, double* __restrict ab, double scale, double limit, std::size_t& wild) {
    const bool lanes = lane != kPerNeuron;  // (g2: partial sums, 8 lanes at a time)
    if (lanes && lane % 8 != 0)
        return descend_neurons(m, n, inv_n, eta, w, b, v, slot, U, xp, g2, lane, ab, scale, limit, wild);
    const __m512d vinv = _mm512_set1_pd(inv_n), veta = _mm512_set1_pd(eta);
    const __m512i even = _mm512_set_epi64(11, 3, 10, 2, 9, 1, 8, 0);      // interleave: (pw0, pb0, pw1, pb1, ...)
    const __m512i odd = _mm512_set_epi64(15, 7, 14, 6, 13, 5, 12, 4);
    const __m512i firsts = _mm512_set_epi64(14, 12, 10, 8, 6, 4, 2, 0);  // de-interleave pairs
    const __m512i seconds = _mm512_set_epi64(15, 13, 11, 9, 7, 5, 3, 1);
    const __m512d vscale = _mm512_set1_pd(scale), vlimit = _mm512_set1_pd(limit);
    const __m512d magnitude = _mm512_castsi512_pd(_mm512_set1_epi64(0x7FFFFFFFFFFFFFFFLL));  // |.| mask
    Settle8 settle(n, xp);
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
        const __m512d G2 = _mm512_add_pd(_mm512_add_pd(_mm512_mul_pd(gw, gw), _mm512_mul_pd(gb, gb)),
                                               _mm512_mul_pd(gv, gv));
        if (lanes) {
            double* acc = g2 + (lane + k) % kSumLanes;
            _mm512_storeu_pd(acc, _mm512_add_pd(_mm512_loadu_pd(acc), G2));
        } else {
            _mm512_storeu_pd(g2 + k, G2);
        }
        const __m512d W2 = _mm512_sub_pd(W, _mm512_mul_pd(veta, gw));
        const __m512d B2 = _mm512_sub_pd(B, _mm512_mul_pd(veta, gb));
        const __m512d V2 = _mm512_sub_pd(V, _mm512_mul_pd(veta, gv));
        _mm512_storeu_pd(w + k, W2);
        _mm512_storeu_pd(b + k, B2);
        _mm512_storeu_pd(v + k, V2);
        _mm512_storeu_si512(slot + k, settle(s, W2, B2));
        flagged += static_cast<std::size_t>(__builtin_popcount(settle.flag));
        const __m512d PW = _mm512_mul_pd(V2, W2), PB = _mm512_mul_pd(V2, B2);
        // wild_coefficients: !(|PW| scale + |PB| <= limit) (unordered: NaN counts)
        const __m512d bound = _mm512_add_pd(_mm512_mul_pd(_mm512_and_pd(PW, magnitude), vscale),
                                            _mm512_and_pd(PB, magnitude));
        wilds += static_cast<std::size_t>(__builtin_popcount(_mm512_cmp_pd_mask(bound, vlimit, _CMP_NLE_UQ)));
        _mm512_storeu_pd(ab + 2 * k, _mm512_permutex2var_pd(PW, even, PB));
        _mm512_storeu_pd(ab + 2 * k + 8, _mm512_permutex2var_pd(PW, odd, PB));
    }
    wild += wilds;
    return flagged + descend_neurons(m - k, n, inv_n, eta, w + k, b + k, v + k, slot + k, U, xp,
                                     lanes ? g2 : g2 + k, lanes ? (lane + k) % kSumLanes : kPerNeuron,
                                     ab + 2 * k, scale, limit, wild);
}

}  // namespace detail
}  // namespace relu1d
