// The run-time choice of the per-neuron loops (relu1d/simd.hpp): a table of the paths this build
// has, the best one the CPU runs chosen on first use, switchable by set_simd_path.
#include <atomic>
#include <stdexcept>
#include <string>
#include <vector>

#include "neuron_loops.hpp"
#include "relu1d/parallel.hpp"
#include "relu1d/simd.hpp"

namespace relu1d {

namespace detail {
namespace {

// Every path of this build, from slowest to fastest. The portable loops are compiled for the
// build's target, the others with their own target flags.
const SimdLoops kPortable{"portable", check_boundaries, descend_neurons, vector_dot, subtract_then_dot,
                          subtract_then_norm2};
#if RELU1D_BUILD_AVX2_LOOPS
const SimdLoops kAvx2{"avx2", check_boundaries_avx2, descend_neurons_avx2, vector_dot_avx2,
                      subtract_then_dot_avx2, subtract_then_norm2_avx2};
#endif
#if RELU1D_BUILD_AVX512_LOOPS
const SimdLoops kAvx512{"avx512", check_boundaries_avx512, descend_neurons_avx512, vector_dot_avx512,
                      subtract_then_dot_avx512, subtract_then_norm2_avx512};
#endif

// Whether this CPU (and its operating system, which must save the wider registers) runs `loops`.
bool cpu_runs(const SimdLoops& loops) {
    const std::string name = loops.name;
    if (name == "portable") return true;
#if defined(__GNUC__) && (defined(__x86_64__) || defined(__i386__))
    __builtin_cpu_init();
    if (name == "avx2") return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
    if (name == "avx512") return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512dq");
#endif
    return false;
}

std::vector<const SimdLoops*> built_paths() {
    std::vector<const SimdLoops*> out{&kPortable};
#if RELU1D_BUILD_AVX2_LOOPS
    out.push_back(&kAvx2);
#endif
#if RELU1D_BUILD_AVX512_LOOPS
    out.push_back(&kAvx512);
#endif
    return out;
}

const std::vector<const SimdLoops*>& available_paths() {
    static const std::vector<const SimdLoops*> paths = [] {
        std::vector<const SimdLoops*> out;
        for (const SimdLoops* p : built_paths())
            if (cpu_runs(*p)) out.push_back(p);
        return out;
    }();
    return paths;
}

std::atomic<const SimdLoops*>& current() {
    static std::atomic<const SimdLoops*> loops{available_paths().back()};
    return loops;
}

}  // namespace

const SimdLoops& simd_loops() { return *current().load(std::memory_order_relaxed); }

}  // namespace detail

const std::vector<std::string>& simd_path_names() {
    static const std::vector<std::string> names{"portable", "avx2", "avx512"};
    return names;
}

std::vector<std::string> simd_paths_available() {
    std::vector<std::string> out;
    for (const auto* p : detail::available_paths()) out.emplace_back(p->name);
    return out;
}

std::string best_simd_path() { return detail::available_paths().back()->name; }

std::string simd_path() { return detail::simd_loops().name; }

std::string set_simd_path(const std::string& name) {
    const std::string before = simd_path();
    if (name == "auto") {
        detail::current().store(detail::available_paths().back());
        return before;
    }
    for (const auto* p : detail::available_paths())
        if (name == p->name) {
            detail::current().store(p);
            return before;
        }
    std::string avail;
    for (const auto* p : detail::available_paths()) avail += std::string(avail.empty() ? "" : ", ") + p->name;
    bool known = false;
    for (const auto& k : simd_path_names()) known |= k == name;
    if (!known)
        throw std::invalid_argument("unknown SIMD path '" + name + "': expected 'auto' or one of " + avail);
    bool built = false;
    for (const auto* p : detail::built_paths()) built |= name == p->name;
    throw std::invalid_argument("SIMD path '" + name + "' is not available: " +
                                (built ? "this CPU lacks its instructions" : "this build does not have it") +
                                " (available: " + avail + ")");
}

BuildInfo build_info() {
    BuildInfo info;
#ifdef RELU1D_BUILD_NATIVE
    info.build = RELU1D_BUILD_NATIVE ? "native" : "portable";
#else
    info.build = "unknown";
#endif
#ifdef RELU1D_COMPILER
    info.compiler = RELU1D_COMPILER;
#elif defined(__VERSION__)
    info.compiler = __VERSION__;
#endif
#ifdef RELU1D_COMPILE_FLAGS
    info.flags = RELU1D_COMPILE_FLAGS;
#endif
    // The extensions the compiler may use everywhere (from -march): the floor this binary needs.
    std::string isa;
    auto add = [&](const char* name) { isa += std::string(isa.empty() ? "" : " ") + name; };
#if defined(__x86_64__) || defined(_M_X64)
    add("x86-64");
#elif defined(__aarch64__) || defined(_M_ARM64)
    add("aarch64");
#endif
#ifdef __SSE4_2__
    add("sse4.2");
#endif
#ifdef __AVX__
    add("avx");
#endif
#ifdef __AVX2__
    add("avx2");
#endif
#ifdef __FMA__
    add("fma");
#endif
#ifdef __AVX512F__
    add("avx512f");
#endif
#ifdef __AVX512DQ__
    add("avx512dq");
#endif
#ifdef __ARM_NEON
    add("neon");
#endif
    info.baseline_isa = isa;
    return info;
}

unsigned default_threads() { return resolve_threads(0); }

}  // namespace relu1d
