//===- ThreadPool.cpp - the persistent pool behind attn_parallel_for ------===//
//
// Compiled models hand their parallel loops to attn_parallel_for. The pool is
// created lazily on the first parallel call, keeps (threads - 1) workers alive
// between calls (the caller is the remaining participant), and hands out
// contiguous chunks of the iteration space dynamically so that uneven work
// (causal attention rows) still balances.
//
// Wake-up latency matters more than fairness here: a transformer runs dozens
// of parallel loops per inference, so idle workers spin briefly on an atomic
// generation counter before blocking on a condition variable.
//
//===----------------------------------------------------------------------===//

#include "Internal.h"

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdlib>
#include <memory>
#include <mutex>
#include <new>
#include <pthread.h>
#include <sched.h>
#include <thread>

namespace {

using Clock = std::chrono::steady_clock;

/// How long workers (and a waiting caller) spin before blocking.
constexpr std::chrono::microseconds kSpinTime(100);

/// Chunks per participating thread: more balances uneven work better, fewer
/// calls fn less often.
constexpr int64_t kChunksPerThread = 4;

inline void cpuRelax() {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_ia32_pause();
#elif defined(__aarch64__)
  asm volatile("yield");
#endif
}

/// Spins until `done()` or kSpinTime has passed; returns done(). After a few
/// hundred iterations it yields the CPU on each round: when the machine is
/// oversubscribed, the thread we wait for may need this very core.
template <typename Pred> bool spinUntil(Pred done) {
  Clock::time_point deadline = Clock::now() + kSpinTime;
  for (int i = 0; !done(); ++i) {
    if (i < 256) {
      cpuRelax();
      continue;
    }
    if (Clock::now() >= deadline)
      return false;
    sched_yield();
  }
  return true;
}

/// True while this thread runs a chunk: nested parallel loops run serially
/// instead of deadlocking on the busy pool.
thread_local bool inParallelRegion = false;

struct Job {
  void (*fn)(int64_t, int64_t, void *);
  void *ctx;
  int64_t n;
  int64_t chunkSize;
  int64_t numChunks;
  std::atomic<int64_t> nextChunk{0};

  void runChunks() {
    bool wasInRegion = inParallelRegion;
    inParallelRegion = true;
    for (int64_t c = nextChunk.fetch_add(1, std::memory_order_relaxed);
         c < numChunks; c = nextChunk.fetch_add(1, std::memory_order_relaxed)) {
      int64_t begin = c * chunkSize;
      int64_t end = begin + chunkSize < n ? begin + chunkSize : n;
      fn(begin, end, ctx);
    }
    inParallelRegion = wasInRegion;
  }
};

int countCpus() {
  // The affinity mask respects taskset/cgroup cpusets, unlike
  // hardware_concurrency().
  cpu_set_t set;
  if (sched_getaffinity(0, sizeof(set), &set) == 0) {
    int n = CPU_COUNT(&set);
    if (n > 0)
      return n < ATTN_MAX_THREADS ? n : ATTN_MAX_THREADS;
  }
  unsigned n = std::thread::hardware_concurrency();
  if (n > ATTN_MAX_THREADS)
    n = ATTN_MAX_THREADS;
  return n ? static_cast<int>(n) : 1;
}

int defaultNumThreads() {
  if (const char *env = std::getenv("ATTN_NUM_THREADS")) {
    char *end = nullptr;
    long v = std::strtol(env, &end, 10);
    if (end != env && *end == '\0' && v > 0 && v <= ATTN_MAX_THREADS)
      return static_cast<int>(v);
  }
  return countCpus();
}

class ThreadPool;
ThreadPool &pool();

class ThreadPool {
public:
  ThreadPool() {
    pthread_atfork(nullptr, nullptr, [] { pool().resetInChild(); });
  }
  ~ThreadPool() { stopWorkers(); }

  /// After fork() only the forking thread exists in the child, so the pool
  /// must not wait for its workers (Python's multiprocessing forks). Their
  /// std::thread objects are leaked: destroying a joinable one terminates.
  /// A fork from inside a parallel loop is not supported.
  void resetInChild() {
    (void)workers.release();
    workers = std::make_unique<std::vector<std::thread>>();
    // A worker may have held the mutex at the fork.
    new (&mutex) std::mutex();
    new (&wake) std::condition_variable();
    new (&done) std::condition_variable();
    busy.store(0, std::memory_order_relaxed);
    stopping = false;
  }

  void setNumThreads(int n) {
    requested.store(n > 0 ? n : 0, std::memory_order_relaxed);
  }

  int numThreads() const {
    int n = requested.load(std::memory_order_relaxed);
    if (n > 0)
      return n;
    // The environment is read once: it is process configuration.
    static const int fallback = defaultNumThreads();
    return fallback;
  }

  void parallelFor(int64_t n, void (*fn)(int64_t, int64_t, void *), void *ctx) {
    if (n <= 0 || !fn)
      return;
    int threads = numThreads();
    // Serial cases: one thread, one iteration, a nested call, or another
    // thread already using the pool (a model run concurrently on two
    // threads); the latter two must not wait for the pool.
    if (threads <= 1 || n == 1 || inParallelRegion || !owner.try_lock()) {
      fn(0, n, ctx);
      return;
    }
    std::lock_guard<std::mutex> ownerLock(owner, std::adopt_lock);
    if (static_cast<int>(workers->size()) != threads - 1)
      resize(threads - 1);

    Job job;
    job.fn = fn;
    job.ctx = ctx;
    job.n = n;
    int64_t wanted = static_cast<int64_t>(threads) * kChunksPerThread;
    job.numChunks = n < wanted ? n : wanted;
    job.chunkSize = (n + job.numChunks - 1) / job.numChunks;
    job.numChunks = (n + job.chunkSize - 1) / job.chunkSize;
    // Workers beyond the chunk count would only contend on the counter.
    int64_t numWorkers = static_cast<int64_t>(workers->size());
    int64_t active =
        job.numChunks - 1 < numWorkers ? job.numChunks - 1 : numWorkers;

    {
      std::lock_guard<std::mutex> lock(mutex);
      currentJob = &job;
      activeWorkers = static_cast<int>(active);
      busy.store(static_cast<int>(active), std::memory_order_relaxed);
      generation.store(generation.load(std::memory_order_relaxed) + 1,
                       std::memory_order_release);
    }
    wake.notify_all();

    job.runChunks();

    // Wait for the workers: spin first, since they finish about when we do.
    if (!spinUntil([&] { return busy.load(std::memory_order_acquire) == 0; })) {
      std::unique_lock<std::mutex> lock(mutex);
      done.wait(lock,
                [&] { return busy.load(std::memory_order_acquire) == 0; });
    }
    // No worker touches `job` once busy is 0.
  }

private:
  std::atomic<int> requested{0};

  /// Held by the thread whose loop the pool is running.
  std::mutex owner;
  std::unique_ptr<std::vector<std::thread>> workers =
      std::make_unique<std::vector<std::thread>>();

  /// Protects currentJob/activeWorkers/stopping and backs both condvars.
  std::mutex mutex;
  std::condition_variable wake, done;
  std::atomic<uint64_t> generation{0};
  std::atomic<int> busy{0};
  Job *currentJob = nullptr;
  int activeWorkers = 0;
  bool stopping = false;

  void resize(size_t count) {
    stopWorkers();
    stopping = false;
    workers->reserve(count);
    // Workers start from the current generation, read here rather than in
    // the new thread: the first job may be published before it runs.
    uint64_t start = generation.load(std::memory_order_relaxed);
    for (size_t i = 0; i < count; ++i)
      workers->emplace_back(
          [this, i, start] { workerLoop(static_cast<int>(i), start); });
  }

  void stopWorkers() {
    {
      std::lock_guard<std::mutex> lock(mutex);
      stopping = true;
      generation.fetch_add(1, std::memory_order_release);
    }
    wake.notify_all();
    for (std::thread &t : *workers)
      t.join();
    workers->clear();
  }

  void workerLoop(int index, uint64_t seen) {
    while (true) {
      spinUntil(
          [&] { return generation.load(std::memory_order_acquire) != seen; });
      Job *job;
      {
        std::unique_lock<std::mutex> lock(mutex);
        wake.wait(lock, [&] {
          return generation.load(std::memory_order_acquire) != seen;
        });
        if (stopping)
          return;
        seen = generation.load(std::memory_order_acquire);
        // A worker outside the active set skips this job without touching
        // it: the caller does not wait for it, so the job may already be
        // gone.
        if (index >= activeWorkers)
          continue;
        job = currentJob;
      }
      job->runChunks();
      if (busy.fetch_sub(1, std::memory_order_acq_rel) == 1) {
        // Taking the mutex orders this notify after the caller's predicate
        // check, so the wake-up cannot be lost.
        { std::lock_guard<std::mutex> lock(mutex); }
        done.notify_one();
      }
    }
  }
};

ThreadPool &pool() {
  static ThreadPool instance;
  return instance;
}

} // namespace

extern "C" attn_status attn_set_num_threads(int n) {
  // More threads than this only exhaust the process (OpenMP aborts when it
  // cannot create them): refuse instead of failing inside a run.
  if (n > ATTN_MAX_THREADS)
    return attn::rt::fail(
        ATTN_ERR_INVALID_ARGUMENT,
        attn::rt::format("attn_set_num_threads: %d threads requested; at most "
                         "%d are supported",
                         n, ATTN_MAX_THREADS));
  pool().setNumThreads(n);
  return ATTN_OK;
}

extern "C" int attn_get_num_threads(void) { return pool().numThreads(); }

extern "C" void
attn_parallel_for(int64_t n, void (*fn)(int64_t begin, int64_t end, void *ctx),
                  void *ctx) {
  pool().parallelFor(n, fn, ctx);
}
