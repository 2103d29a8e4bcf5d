// The instruction-set paths of the fast kernel's per-neuron loops, chosen at run time.
//
// Every path gives the same bits (each SIMD lane does the operations of the portable loop, in
// the same order, with no fused multiply-add). The best path that this build has and this CPU
// runs is chosen once, at start-up; set_simd_path switches it (for tests and bug reports).
#pragma once

#include <string>
#include <vector>

namespace relu1d {

// Every path name, slowest first: "portable", "avx2", "avx512".
const std::vector<std::string>& simd_path_names();

// The paths this build has and this CPU runs (always "portable" first).
std::vector<std::string> simd_paths_available();

// The fastest available path.
std::string best_simd_path();

// The path in use.
std::string simd_path();

// Use the path `name` ("auto": the best available) from now on, in every thread; returns the path
// in use before. std::invalid_argument for an unknown name or a path this build or CPU lacks.
std::string set_simd_path(const std::string& name);

// How the core was built: "native" (-march=native: tuned for, and runnable only on, CPUs like the
// building one) or "portable" (the compiler's default target: a wheel).
struct BuildInfo {
    std::string build;         // "native" or "portable"
    std::string compiler;      // e.g. "GNU 13.2.0"
    std::string flags;         // the core's compile options
    std::string baseline_isa;  // the instruction-set extensions every translation unit may use
};
BuildInfo build_info();

// The number of threads `threads = 0` (the library's choice) resolves to.
unsigned default_threads();

}  // namespace relu1d
