// WorkerPool and the parallel grain (relu1d/parallel.hpp).
#include "relu1d/parallel.hpp"

#include <chrono>
#include <condition_variable>
#include <mutex>
#include <new>

#if defined(__unix__) || defined(__APPLE__)
#include <unistd.h>
#define RELU1D_HAVE_FORK 1
#endif

#if defined(__x86_64__) || defined(_M_X64)
#include <immintrin.h>
#define RELU1D_PAUSE() _mm_pause()
#else
#define RELU1D_PAUSE() std::this_thread::yield()
#endif

namespace relu1d {

namespace {
std::atomic<std::size_t> g_parallel_grain{16384};
std::atomic<std::size_t> g_scatter_block_min{8192};
std::atomic<std::size_t> g_sweep_block_points{32768};
// a worker spins this long for the next call before it sleeps: the loops of one GD step follow
// each other within microseconds, and waking a sleeping thread costs tens of microseconds
constexpr std::chrono::microseconds kSpin{200};
}  // namespace

std::size_t parallel_grain() { return g_parallel_grain.load(std::memory_order_relaxed); }
void set_parallel_grain(std::size_t items) { g_parallel_grain.store(items, std::memory_order_relaxed); }
std::size_t sweep_block_points() { return g_sweep_block_points.load(std::memory_order_relaxed); }
void set_sweep_block_points(std::size_t points) { g_sweep_block_points.store(points, std::memory_order_relaxed); }
std::size_t scatter_block_min() { return g_scatter_block_min.load(std::memory_order_relaxed); }
void set_scatter_block_min(std::size_t neurons) { g_scatter_block_min.store(neurons, std::memory_order_relaxed); }

namespace {
std::atomic<std::uint64_t> g_table_stamp{0};
struct TableCopy {  // a thread's copy of the SharedTable it read last
    std::uint64_t stamp = 0;
    std::vector<double> data;
};
thread_local TableCopy t_table_copy;
}  // namespace

SharedTable::SharedTable(const double* table, std::size_t size, bool copy)
    : table_(table), size_(size), copy_(copy), stamp_(++g_table_stamp) {}

const double* SharedTable::view() const {
    if (!copy_) return table_;
    TableCopy& c = t_table_copy;
    if (c.stamp != stamp_) {
        try {
            c.data.assign(table_, table_ + size_);
        } catch (const std::bad_alloc&) {
            // the copy only saves time: read the table itself (a throw here would leave the
            // caller's loop half done, e.g. the GD step's block tables not added up)
            c.stamp = 0;
            std::vector<double>().swap(c.data);
            return table_;
        }
        c.stamp = stamp_;
    }
    return c.data.data();
}

struct WorkerPool::State {
    std::mutex mutex;
    std::condition_variable wake;
    std::atomic<std::size_t> generation{0};  // bumped by each run(); workers join the newest
    std::atomic<std::size_t> next{0};        // next block to hand out
    std::atomic<std::size_t> busy{0};        // workers still inside the current call
    std::size_t nblocks = 0;
    const std::function<void(std::size_t)>* body = nullptr;
    std::exception_ptr error;
    std::atomic<bool> failed{false};
    bool stop = false;
};

namespace {
// The process a pool's threads belong to: a child made by fork() has none of them.
long current_process() {
#if RELU1D_HAVE_FORK
    return static_cast<long>(::getpid());
#else
    return 0;
#endif
}
}  // namespace

WorkerPool::WorkerPool(unsigned threads) : state_(std::make_unique<State>()), owner_(current_process()) {
    const unsigned extra = threads > 1 ? threads - 1 : 0;
    workers_.reserve(extra);
    for (unsigned t = 0; t < extra; ++t) {
        try {
            workers_.emplace_back([this] { worker_main(); });
        } catch (const std::system_error& e) {
            const std::string why = "threads: the system refused to start thread " + std::to_string(t + 2) + " of " +
                                    std::to_string(threads) + " (" + e.what() + "); ask for fewer threads";
            shutdown();  // join those already started
            throw std::runtime_error(why);
        }
    }
}

WorkerPool::~WorkerPool() { shutdown(); }

void WorkerPool::shutdown() {
    if (!state_) return;
    if (owner_ != current_process()) {
        // a child of fork(): the threads are not here to join, and the mutex may be held by one of
        // them in the parent. Leave both (a small leak in a process that forked with a pool).
        new std::vector<std::thread>(std::move(workers_));
        state_.release();
        return;
    }
    {
        std::lock_guard<std::mutex> lock(state_->mutex);
        state_->stop = true;
        state_->generation.fetch_add(1);
    }
    state_->wake.notify_all();
    for (auto& th : workers_) th.join();
    workers_.clear();
    state_.reset();
}

void WorkerPool::work() {
    State& s = *state_;
    try {
        for (std::size_t blk; (blk = s.next.fetch_add(1)) < s.nblocks;) (*s.body)(blk);
    } catch (...) {
        if (!s.failed.exchange(true)) s.error = std::current_exception();
        s.next.store(s.nblocks);  // skip the blocks not yet started
    }
}

void WorkerPool::worker_main() {
    State& s = *state_;
    std::size_t seen = 0;
    for (;;) {
        // wait for a new generation: spin briefly, then sleep
        const auto until = std::chrono::steady_clock::now() + kSpin;
        std::size_t gen = s.generation.load(std::memory_order_acquire);
        while (gen == seen && std::chrono::steady_clock::now() < until) {
            for (int i = 0; i < 64 && gen == seen; ++i) {
                RELU1D_PAUSE();
                gen = s.generation.load(std::memory_order_acquire);
            }
        }
        if (gen == seen) {
            std::unique_lock<std::mutex> lock(s.mutex);
            s.wake.wait(lock, [&] { return s.generation.load() != seen; });
            gen = s.generation.load();
        }
        seen = gen;
        {
            std::lock_guard<std::mutex> lock(s.mutex);
            if (s.stop) return;
        }
        work();
        s.busy.fetch_sub(1, std::memory_order_acq_rel);
    }
}

void WorkerPool::run(std::size_t nblocks, const std::function<void(std::size_t)>& body) {
    State& s = *state_;
    if (workers_.empty() || nblocks <= 1 || owner_ != current_process()) {  // (after fork: this thread alone)
        for (std::size_t blk = 0; blk < nblocks; ++blk) body(blk);
        return;
    }
    {
        std::lock_guard<std::mutex> lock(s.mutex);
        s.nblocks = nblocks;
        s.body = &body;
        s.error = nullptr;
        s.failed.store(false);
        s.next.store(0);
        s.busy.store(workers_.size());
        s.generation.fetch_add(1, std::memory_order_acq_rel);
    }
    s.wake.notify_all();
    work();
    // the workers still in a block: yield rather than spin, so that a worker the system put aside
    // (more runnable threads than cores: another process, another library's spinning threads) can
    // run here
    while (s.busy.load(std::memory_order_acquire) != 0) std::this_thread::yield();
    s.body = nullptr;
    if (s.error) std::rethrow_exception(s.error);
}

}  // namespace relu1d
