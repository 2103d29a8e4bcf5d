// Deterministic parallel loops: work is cut into fixed blocks whose boundaries do not depend on
// the number of threads, and each block writes its own outputs (or a partial sum, added in block
// order), so results are bit-identical for every thread count. The loops run on a WorkerPool.
#pragma once

#include <algorithm>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <exception>
#include <functional>
#include <memory>
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

// A fixed set of threads for the many short parallel loops of one kernel (a GD step has several:
// starting threads for each would cost more than the loop at m = 1e5). run() hands out blocks
// [0, nblocks) to the calling thread and size() - 1 workers, which wait between calls (spinning a
// few microseconds first, then asleep). Not reentrant: one run() at a time. In a child process made
// by fork() the workers do not exist: run() then runs every block on the calling thread.
class WorkerPool {
public:
    // std::runtime_error (Python: RuntimeError) if the system refuses a thread.
    explicit WorkerPool(unsigned threads);
    ~WorkerPool();
    WorkerPool(const WorkerPool&) = delete;
    WorkerPool& operator=(const WorkerPool&) = delete;
    unsigned size() const { return static_cast<unsigned>(workers_.size()) + 1; }
    // body(block) for every block, each once; rethrows the first exception a block threw (the
    // other blocks still run or are skipped; the call returns when no thread is in body).
    void run(std::size_t nblocks, const std::function<void(std::size_t)>& body);

private:
    struct State;
    void work();         // take blocks until none are left
    void worker_main();  // a worker: wait for a call, work, repeat
    void shutdown();     // stop and join the workers
    std::unique_ptr<State> state_;
    std::vector<std::thread> workers_;
    long owner_;  // the process whose threads these are (a child of fork() runs every block itself)
};

// A table that the calling thread has just written and the pool's threads read at random (the
// fast kernel's residual sums per slot in a GD step, its sums per slot in an HVP). Each line
// another core reads comes from the writer's cache, one cross-core transfer at a time when the
// reads are random: at n = 1e4, m = 1e5 the GD step's parts took 1.5 times as long on two threads
// as on one. Where `copy` says it pays, view() gives every thread its own copy, made by one
// sequential read (once per SharedTable and thread): the writing thread too, whose random reads
// of the table itself were the slow part of its share once the other threads had read it (at
// n = 1e4, m = 1e5 on two threads, 500-540 us a GD step reading it, 400-430 us reading a copy).
// The copy stays in the thread's scratch until a larger one replaces it; where it cannot be
// allocated, view() gives the table itself: it never throws.
class SharedTable {
public:
    SharedTable(const double* table, std::size_t size, bool copy);
    const double* view() const;

private:
    const double* table_;
    std::size_t size_;
    bool copy_;
    std::uint64_t stamp_;  // tells this table's copies from the earlier ones in a thread's scratch
};

// Neurons (or data points) per thread below which the fast kernel's loops use fewer threads
// (default 16384; the results never depend on it). Set for the process: tests lower it to run
// the threaded loops on small problems.
std::size_t parallel_grain();
void set_parallel_grain(std::size_t items);

// Neurons per block below which FastKernel's scatter of coefficients into slots uses one table
// (default 8192). Unlike the grain, the block size sets the order of additions (each block sums
// into its own table, the tables are added along a tree fixed by the block count), so results
// depend on it, never on the
// threads. Tests lower it to check that results do not depend on the threads.
std::size_t scatter_block_min();
void set_scatter_block_min(std::size_t neurons);

// Data points per block of the fast kernel's sweeps (default 32768): the sums of (s, s x) over a
// stretch of data between two boundaries restart at each block start and the pieces are added in
// block order, so the blocks can run on threads. Like the scatter's block size it sets the order of
// additions: results depend on it, never on the threads.
std::size_t sweep_block_points();
void set_sweep_block_points(std::size_t points);

// The threads for `items` independent items on a kernel allowed `threads`: at most one per
// parallel_grain() items, at least 1.
inline unsigned threads_for(std::size_t items, unsigned threads) {
    const std::size_t grain = std::max<std::size_t>(parallel_grain(), 1);
    return static_cast<unsigned>(std::max<std::size_t>(1, std::min<std::size_t>(threads, items / grain)));
}

}  // namespace relu1d
