// The per-neuron loops hand-written for AVX2, four neurons at a time. Compiled with -mavx2 -mfma
// (CMakeLists.txt) and run only where the CPU has both (dispatch.cpp); no fused multiply-add is
// used: each lane does the portable loop's operations in its order, so the bits are the same.
#include "neuron_loops.hpp"

#if !defined(__AVX2__)
#error "neuron_loops_avx2.cpp needs -mavx2"
#endif
#include <immintrin.h>

namespace relu1d {
namespace detail {

namespace {

inline __m256i load4(const std::size_t* p) { return _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p)); }
inline void store4(std::size_t* p, __m256i v) { _mm256_storeu_si256(reinterpret_cast<__m256i*>(p), v); }

// settle_slot on four lanes, the same operations per lane: the new slots (old slot | kMovedBit
// where `flag` is set, all ones per flagged lane). The old slots s are unflagged, hence < 2^63, so
// signed 64-bit comparisons are exact.
struct Settle4 {
    const double* xp;
    std::size_t n1;  // n + 1
    __m256i vn, vn1;
    __m256i flag;
    Settle4(std::size_t n, const double* xp_)
        : xp(xp_),
          n1(n + 1),
          vn(_mm256_set1_epi64x(static_cast<long long>(n))),
          vn1(_mm256_set1_epi64x(static_cast<long long>(n + 1))),
          flag(_mm256_setzero_si256()) {}
    // the four slots at sp (the x loads take their indices from scalar registers, the rest from a vector)
    __m256i operator()(const std::size_t* sp, __m256d W, __m256d B) {
        const __m256i s = load4(sp);
        const __m256d zero = _mm256_setzero_pd();
        const __m256i two = _mm256_set1_epi64x(2), four = _mm256_set1_epi64x(4);
        const __m256i was_prefix = _mm256_cmpgt_epi64(s, vn);
        const __m256i q = _mm256_sub_epi64(s, _mm256_and_si256(was_prefix, vn1));
        const __m256i neg = _mm256_castpd_si256(_mm256_cmp_pd(W, zero, _CMP_LT_OQ));
        auto pred = [&](__m256d xv) {  // is_active(w, b, x) != neg: fl(fl(w x) + b) > 0; all ones where true
            const __m256d act = _mm256_cmp_pd(_mm256_add_pd(_mm256_mul_pd(W, xv), B), zero, _CMP_GT_OQ);
            return _mm256_xor_si256(_mm256_castpd_si256(act), neg);
        };
        // x_{q-2} .. x_{q+1} = xp[q .. q + 3] of each lane, two 16-byte loads per lane, lanes
        // (0, 2) and (1, 3) sharing registers as for U in descend_neurons_avx2: faster than gathers
        const double* x0 = xp + (sp[0] >= n1 ? sp[0] - n1 : sp[0]);
        const double* x1 = xp + (sp[1] >= n1 ? sp[1] - n1 : sp[1]);
        const double* x2 = xp + (sp[2] >= n1 ? sp[2] - n1 : sp[2]);
        const double* x3 = xp + (sp[3] >= n1 ? sp[3] - n1 : sp[3]);
        const __m256d lo02 = _mm256_insertf128_pd(_mm256_castpd128_pd256(_mm_loadu_pd(x0)), _mm_loadu_pd(x2), 1);
        const __m256d lo13 = _mm256_insertf128_pd(_mm256_castpd128_pd256(_mm_loadu_pd(x1)), _mm_loadu_pd(x3), 1);
        const __m256d hi02 = _mm256_insertf128_pd(_mm256_castpd128_pd256(_mm_loadu_pd(x0 + 2)), _mm_loadu_pd(x2 + 2), 1);
        const __m256d hi13 = _mm256_insertf128_pd(_mm256_castpd128_pd256(_mm_loadu_pd(x1 + 2)), _mm_loadu_pd(x3 + 2), 1);
        const __m256i pm2 = pred(_mm256_unpacklo_pd(lo02, lo13));
        const __m256i pm1 = pred(_mm256_unpackhi_pd(lo02, lo13));
        const __m256i p0 = pred(_mm256_unpacklo_pd(hi02, hi13));
        const __m256i pp1 = pred(_mm256_unpackhi_pd(hi02, hi13));
        // c = pred(q - 2) + ... + pred(q + 1) (the predicates are 0 or -1): settle_slot's
        // 2 pm1 + p0 + pc, as pred is monotone
        const __m256i c = _mm256_sub_epi64(_mm256_setzero_si256(),
                                           _mm256_add_epi64(_mm256_add_epi64(pm2, pm1), _mm256_add_epi64(p0, pp1)));
        const __m256i edge =
            _mm256_or_si256(_mm256_cmpeq_epi64(c, _mm256_setzero_si256()), _mm256_cmpeq_epi64(c, four));
        const __m256i wzero = _mm256_castpd_si256(_mm256_cmp_pd(W, zero, _CMP_EQ_UQ));  // w == 0 or NaN
        flag = _mm256_or_si256(edge, wzero);
        const __m256i qn = _mm256_sub_epi64(_mm256_add_epi64(q, two), c);
        const __m256i out = _mm256_add_epi64(qn, _mm256_and_si256(neg, vn1));
        const __m256i moved = _mm256_or_si256(s, _mm256_set1_epi64x(static_cast<long long>(kMovedBit)));
        return _mm256_blendv_epi8(out, moved, flag);
    }
    std::size_t flagged() const {
        return static_cast<std::size_t>(__builtin_popcount(_mm256_movemask_pd(_mm256_castsi256_pd(flag))));
    }
};


}  // namespace

std::size_t check_boundaries_avx2(std::size_t m, std::size_t n, const double* __restrict w,
                                  const double* __restrict b, const double* __restrict xp,
                                  std::size_t* __restrict slot) {
    Settle4 settle(n, xp);
    std::size_t flagged = 0;
    std::size_t k = 0;
    for (; k + 4 <= m; k += 4) {
        store4(slot + k, settle(slot + k, _mm256_loadu_pd(w + k), _mm256_loadu_pd(b + k)));
        flagged += settle.flagged();
    }
    return flagged + check_boundaries(m - k, n, w + k, b + k, xp, slot + k);
}

std::size_t descend_neurons_avx2(std::size_t m, std::size_t n, double inv_n, double eta, double* __restrict w,
                                 double* __restrict b, double* __restrict v, std::size_t* __restrict slot,
                                 const double* __restrict U, const double* __restrict xp, double* __restrict g2,
                                 std::size_t lane, double* __restrict ab, double scale, double limit, std::size_t& wild) {
    const bool lanes = lane != kPerNeuron;  // (g2: partial sums, 4 lanes at a time)
    if (lanes && lane % 4 != 0)
        return descend_neurons(m, n, inv_n, eta, w, b, v, slot, U, xp, g2, lane, ab, scale, limit, wild);
    const __m256d vinv = _mm256_set1_pd(inv_n), veta = _mm256_set1_pd(eta);
    const __m256d vscale = _mm256_set1_pd(scale), vlimit = _mm256_set1_pd(limit);
    const __m256d magnitude = _mm256_castsi256_pd(_mm256_set1_epi64x(0x7FFFFFFFFFFFFFFFLL));  // |.| mask
    Settle4 settle(n, xp);
    std::size_t flagged = 0, wilds = 0;
    std::size_t k = 0;
    for (; k + 4 <= m; k += 4) {
        // (S0, S1) of each lane: one 16-byte load per lane from U; lanes (0, 2) and (1, 3) share a
        // register, so unpacking within 128-bit halves puts S0 and S1 in lane order
        const __m256d l02 = _mm256_insertf128_pd(_mm256_castpd128_pd256(_mm_loadu_pd(U + 2 * slot[k])),
                                                 _mm_loadu_pd(U + 2 * slot[k + 2]), 1);
        const __m256d l13 = _mm256_insertf128_pd(_mm256_castpd128_pd256(_mm_loadu_pd(U + 2 * slot[k + 1])),
                                                 _mm_loadu_pd(U + 2 * slot[k + 3]), 1);
        const __m256d S0 = _mm256_unpacklo_pd(l02, l13);
        const __m256d S1 = _mm256_unpackhi_pd(l02, l13);
        const __m256d W = _mm256_loadu_pd(w + k), B = _mm256_loadu_pd(b + k), V = _mm256_loadu_pd(v + k);
        // neuron_gradient: g = (v S1 / n, v S0 / n, (w S1 + b S0) / n), and ||g||^2
        const __m256d gw = _mm256_mul_pd(_mm256_mul_pd(V, S1), vinv);
        const __m256d gb = _mm256_mul_pd(_mm256_mul_pd(V, S0), vinv);
        const __m256d gv = _mm256_mul_pd(_mm256_add_pd(_mm256_mul_pd(W, S1), _mm256_mul_pd(B, S0)), vinv);
        const __m256d G2 = _mm256_add_pd(_mm256_add_pd(_mm256_mul_pd(gw, gw), _mm256_mul_pd(gb, gb)),
                                               _mm256_mul_pd(gv, gv));
        if (lanes) {
            double* acc = g2 + (lane + k) % kSumLanes;
            _mm256_storeu_pd(acc, _mm256_add_pd(_mm256_loadu_pd(acc), G2));
        } else {
            _mm256_storeu_pd(g2 + k, G2);
        }
        const __m256d W2 = _mm256_sub_pd(W, _mm256_mul_pd(veta, gw));
        const __m256d B2 = _mm256_sub_pd(B, _mm256_mul_pd(veta, gb));
        const __m256d V2 = _mm256_sub_pd(V, _mm256_mul_pd(veta, gv));
        _mm256_storeu_pd(w + k, W2);
        _mm256_storeu_pd(b + k, B2);
        _mm256_storeu_pd(v + k, V2);
        store4(slot + k, settle(slot + k, W2, B2));
        flagged += settle.flagged();
        const __m256d PW = _mm256_mul_pd(V2, W2), PB = _mm256_mul_pd(V2, B2);
        // wild_coefficients: !(|PW| scale + |PB| <= limit) (unordered: NaN counts)
        const __m256d bound = _mm256_add_pd(_mm256_mul_pd(_mm256_and_pd(PW, magnitude), vscale),
                                            _mm256_and_pd(PB, magnitude));
        const int wild_lanes = _mm256_movemask_pd(_mm256_cmp_pd(bound, vlimit, _CMP_NLE_UQ));
        wilds += static_cast<std::size_t>(__builtin_popcount(wild_lanes));
        // (PW0, PB0, PW1, PB1), (PW2, PB2, PW3, PB3)
        const __m256d i02 = _mm256_unpacklo_pd(PW, PB), i13 = _mm256_unpackhi_pd(PW, PB);
        _mm256_storeu_pd(ab + 2 * k, _mm256_permute2f128_pd(i02, i13, 0x20));
        _mm256_storeu_pd(ab + 2 * k + 4, _mm256_permute2f128_pd(i02, i13, 0x31));
    }
    wild += wilds;
    return flagged + descend_neurons(m - k, n, inv_n, eta, w + k, b + k, v + k, slot + k, U, xp,
                                     lanes ? g2 : g2 + k, lanes ? (lane + k) % kSumLanes : kPerNeuron,
                                     ab + 2 * k, scale, limit, wild);
}

}  // namespace detail
}  // namespace relu1d
