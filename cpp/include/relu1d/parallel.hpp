// Deterministic parallel loops: work is cut into fixed blocks whose boundaries do not depend on
// the number of threads, and each block writes its own outputs, so results are bit-identical for
// every thread count.
#pragma once

#include <algorithm>
#include <atomic>
#include <cstddef>
#include <exception>
#include <thread>
#include <vector>

namespace relu1d {

// Number of threads to use when the caller asks for `requested` (0 = hardware concurrency).
inline unsigned resolve_threads(int requested) {
    if (requested > 0) return static_cast<unsigned>(requested);
    const unsigned hw = std::thread::hardware_concurrency();
    return hw == 0 ? 1u : hw;
}

// Call body(block) for block in [0, nblocks), spread over up to `threads` threads.
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
    for (std::size_t t = 1; t < nthreads; ++t) pool.emplace_back(worker);
    worker();
    for (auto& th : pool) th.join();
    if (error) std::rethrow_exception(error);
}

}  // namespace relu1d
