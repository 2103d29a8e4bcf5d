// Deterministic parallel loops: work is cut into fixed blocks whose boundaries do not depend on
// the number of threads, and each block writes its own outputs, so results are bit-identical for
// every thread count.
#pragma once

#include <algorithm>
#include <atomic>
#include <cstddef>
#include <exception>
#include <stdexcept>
#include <string>
#include <system_error>
#include <thread>
#include <vector>

#if defined(__linux__)
#include <sched.h>
#endif

namespace relu1d {

// The CPUs this thread may run on: its affinity mask where the system has one (taskset, cgroup
// cpusets, a batch scheduler's allocation), else the hardware concurrency.
inline unsigned available_cpus() {
#if defined(__linux__) && defined(CPU_COUNT)
    cpu_set_t set;
    if (sched_getaffinity(0, sizeof set, &set) == 0) {  // fails (EINVAL) beyond CPU_SETSIZE CPUs
        const int count = CPU_COUNT(&set);
        if (count > 0) return static_cast<unsigned>(count);
    }
#endif
    const unsigned hw = std::thread::hardware_concurrency();
    return hw == 0 ? 1u : hw;
}

// Number of threads to use when the caller asks for `requested` (0 = the available CPUs).
inline unsigned resolve_threads(int requested) {
    if (requested > 0) return static_cast<unsigned>(requested);
    return available_cpus();
}

// Call body(block) for block in [0, nblocks), spread over up to `threads` threads.
// If the system refuses a thread (no memory for its stack, a process limit), the threads already
// started stop after their current block and are joined, then std::runtime_error says so
// (Python: RuntimeError) instead of std::terminate.
template <class Body>
void parallel_for(std::size_t nblocks, unsigned threads, Body&& body) {
    const std::size_t nthreads = std::min<std::size_t>(threads, nblocks);
    if (nthreads <= 1) {
        for (std::size_t blk = 0; blk < nblocks; ++blk) body(blk);
        return;
    }
    std::atomic<std::size_t> next{0};
    std::exception_ptr error;
    std::atomic<bool> failed{false};
    auto worker = [&]() {
        try {
            for (std::size_t blk; (blk = next.fetch_add(1)) < nblocks;) body(blk);
        } catch (...) {
            if (!failed.exchange(true)) error = std::current_exception();
        }
    };
    std::vector<std::thread> pool;
    pool.reserve(nthreads - 1);
    std::string refused;
    for (std::size_t t = 1; t < nthreads; ++t) {
        try {
            pool.emplace_back(worker);
        } catch (const std::system_error& e) {
            refused = "threads: the system refused to start thread " + std::to_string(t + 1) + " of " +
                      std::to_string(nthreads) + " (" + e.what() + "); ask for fewer threads";
            break;
        }
    }
    if (refused.empty()) worker();
    // a refused thread: stop handing out blocks (a partial result is never returned)
    else next.store(nblocks);
    for (auto& th : pool) th.join();
    if (!refused.empty()) throw std::runtime_error(refused);
    if (error) std::rethrow_exception(error);
}

}  // namespace relu1d
