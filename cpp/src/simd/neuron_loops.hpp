// The per-neuron loops of FastKernel's GD step and of locate's pass 1, and Lanczos'
// vector passes: one function per loop and instruction set, all giving the same bits
// (internal header of the core). The portable loops are in *_portable.cpp (the compiler
// vectorises them for the build's target), hand-written ones in neuron_loops_<isa>.cpp and
// lanczos_passes_<isa>.cpp, each compiled with its own target flags (CMakeLists.txt); dispatch.cpp
// picks one set at run time from the CPU's features (relu1d/simd.hpp).
//
// The <isa> files are compiled with instructions the CPU may lack: they must define no inline or
// template function that another file defines too (the linker would keep one copy, perhaps the
// <isa> one, for every caller). So they call none of the inline functions here or in
// numerics.hpp: each step is written out in intrinsics, and the last few neurons go to the
// portable loop, an ordinary function of another file (ctest relu1d_isa_objects checks the objects).
#pragma once

#include <cmath>
#include <cstddef>

#include "relu1d/numerics.hpp"

namespace relu1d {
namespace detail {

// Marks a slot whose boundary pass 1 of FastKernel::locate could not settle.
constexpr std::size_t kMovedBit = std::size_t{1} << (8 * sizeof(std::size_t) - 1);

// Pass 1 of FastKernel::locate for one neuron: its new slot if its boundary stayed or moved by
// one data point (the common case between GD steps), branch-free; else its old slot s with
// kMovedBit set (counted in `flagged`). pred(i) = active(x_i) for w > 0, inactive(x_i) for
// w < 0 is monotone, false..true (rounding is monotone), and the boundary is its first true. So
// with c trues among pred(q - 2 .. q + 1) around the old boundary q, the new one is q + 2 - c if
// 0 < c < 4. xp[i + 2] = x_i with two -inf/+inf sentinels on each side: pred(-2), pred(-1) are
// false and pred(n), pred(n + 1) true for every finite w != 0.
inline std::size_t settle_slot(std::size_t s, std::size_t n, double w, double b, const double* __restrict xp,
                               std::size_t& flagged) {
    const std::size_t q = s > n ? s - (n + 1) : s;  // the previous boundary
    const bool neg = w < 0.0;
    const std::size_t pm1 = is_active(w, b, xp[q + 1]) != neg;  // pred(q - 1)
    const std::size_t p0 = is_active(w, b, xp[q + 2]) != neg;   // pred(q)
    // pred(q - 1) true means pred(q) true as well: then pred(q - 2) decides, else pred(q + 1)
    const std::size_t pc = is_active(w, b, xp[q + (pm1 ? 0 : 3)]) != neg;
    const std::size_t c = 2 * pm1 + p0 + pc;
    const std::size_t edge = c - 1 > 2;                             // c == 0 or c == 4
    const std::size_t zero = static_cast<std::size_t>(!(w > 0.0) & !neg);  // w == 0 or NaN: the slow path decides
    const std::size_t qn = q + 2 - c;
    const std::size_t out = edge | zero ? s | kMovedBit : (neg ? n + 1 + qn : qn);
    flagged += out >> (8 * sizeof(std::size_t) - 1);
    return out;
}

// Pass 1 of FastKernel::locate for every neuron (settle_slot on slot[k]); returns the number flagged.
std::size_t check_boundaries(std::size_t m, std::size_t n, const double* __restrict w, const double* __restrict b,
                             const double* __restrict xp, std::size_t* __restrict slot);

// True when a neuron's forward coefficients (alpha, beta) = (v w, v b) could overflow the fast
// kernel's running sums: |alpha| scale + |beta| above limit (scale >= max(1, |x_i|)), inf or NaN.
inline bool wild_coefficients(double alpha, double beta, double scale, double limit) {
    return !(std::fabs(alpha) * scale + std::fabs(beta) <= limit);
}

// descend_neurons' `lane` for ||g_k||^2 stored per neuron.
constexpr std::size_t kPerNeuron = ~std::size_t{0};

// One GD step for every neuron, in place, with the passes fused: S0, S1 over the old active set
// from the residual sums per slot U, the gradient, (w, b, v) -= eta g, ||g_k||^2 into g2, the
// forward pass's coefficients (v w, v b) at the new parameters into ab (and the number of wild
// ones among them added to `wild`), and locate's pass 1 at the new (w, b). Returns the number
// flagged. ||g_k||^2 goes to g2[k] for lane == kPerNeuron; else g2 holds kSumLanes partial sums
// and neuron k adds it to g2[(lane + k) % kSumLanes]: sum() of numerics.hpp as it goes, without
// the array (each lane's terms in the same order, so fold_lanes(g2) gives the same bits).
std::size_t descend_neurons(std::size_t m, std::size_t n, double inv_n, double eta, double* __restrict w,
                            double* __restrict b, double* __restrict v, std::size_t* __restrict slot,
                            const double* __restrict U, const double* __restrict xp, double* __restrict g2,
                            std::size_t lane, double* __restrict ab, double scale, double limit, std::size_t& wild);

// Lanczos' vector passes, each reduction with dot()'s partial sums (numerics.hpp: 32 interleaved
// lanes, the leftover terms added to lane i mod 32, folded pairwise). Chained, they run modified
// Gram-Schmidt with one pass over w per vector: w -= p (p . w) fused with the next vector's dot
// product, the last one with w . w.
// a . b
double vector_dot(const double* a, const double* b, std::size_t n);
// w -= c p, then returns q . w
double subtract_then_dot(double* __restrict w, double c, const double* __restrict p, const double* __restrict q,
                         std::size_t n);
// w -= c p, then returns w . w
double subtract_then_norm2(double* __restrict w, double c, const double* __restrict p, std::size_t n);

// The loops of one instruction set: dispatch.cpp's table.
using CheckBoundaries = std::size_t (*)(std::size_t m, std::size_t n, const double* __restrict w,
                                        const double* __restrict b, const double* __restrict xp,
                                        std::size_t* __restrict slot);
using DescendNeurons = std::size_t (*)(std::size_t m, std::size_t n, double inv_n, double eta, double* __restrict w,
                                       double* __restrict b, double* __restrict v, std::size_t* __restrict slot,
                                       const double* __restrict U, const double* __restrict xp,
                                       double* __restrict g2, std::size_t lane, double* __restrict ab, double scale,
                                       double limit, std::size_t& wild);
using VectorDot = double (*)(const double* a, const double* b, std::size_t n);
using SubtractThenDot = double (*)(double* __restrict w, double c, const double* __restrict p,
                                   const double* __restrict q, std::size_t n);
using SubtractThenNorm2 = double (*)(double* __restrict w, double c, const double* __restrict p, std::size_t n);
struct SimdLoops {
    const char* name;
    CheckBoundaries check_boundaries;
    DescendNeurons descend_neurons;
    VectorDot dot;
    SubtractThenDot subtract_then_dot;
    SubtractThenNorm2 subtract_then_norm2;
};

// The loops of the path in use (relu1d::simd_path()).
const SimdLoops& simd_loops();

#if RELU1D_BUILD_AVX2_LOOPS
// The loops written out for AVX2 and FMA (the same bits; FMA instructions are not used).
std::size_t check_boundaries_avx2(std::size_t m, std::size_t n, const double* __restrict w,
                                  const double* __restrict b, const double* __restrict xp,
                                  std::size_t* __restrict slot);
std::size_t descend_neurons_avx2(std::size_t m, std::size_t n, double inv_n, double eta, double* __restrict w,
                                 double* __restrict b, double* __restrict v, std::size_t* __restrict slot,
                                 const double* __restrict U, const double* __restrict xp, double* __restrict g2,
                                 std::size_t lane, double* __restrict ab, double scale, double limit, std::size_t& wild);
double vector_dot_avx2(const double* a, const double* b, std::size_t n);
double subtract_then_dot_avx2(double* __restrict w, double c, const double* __restrict p,
                              const double* __restrict q, std::size_t n);
double subtract_then_norm2_avx2(double* __restrict w, double c, const double* __restrict p, std::size_t n);
#endif

#if RELU1D_BUILD_AVX512_LOOPS
// The loops written out for AVX-512 F and DQ (the same bits).
std::size_t check_boundaries_avx512(std::size_t m, std::size_t n, const double* __restrict w,
                                    const double* __restrict b, const double* __restrict xp,
                                    std::size_t* __restrict slot);
std::size_t descend_neurons_avx512(std::size_t m, std::size_t n, double inv_n, double eta, double* __restrict w,
                                   double* __restrict b, double* __restrict v, std::size_t* __restrict slot,
                                   const double* __restrict U, const double* __restrict xp, double* __restrict g2,
                                   std::size_t lane, double* __restrict ab, double scale, double limit, std::size_t& wild);
double vector_dot_avx512(const double* a, const double* b, std::size_t n);
double subtract_then_dot_avx512(double* __restrict w, double c, const double* __restrict p,
                              const double* __restrict q, std::size_t n);
double subtract_then_norm2_avx512(double* __restrict w, double c, const double* __restrict p, std::size_t n);
#endif

}  // namespace detail
}  // namespace relu1d
