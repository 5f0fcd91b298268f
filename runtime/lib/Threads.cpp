//===- Threads.cpp - the thread count models run on -----------------------===//
//
// Compiled models run their parallel loops on OpenMP (scf.forall -> omp);
// the runtime only decides how many threads that is and applies it before
// every CPU run (omp_set_num_threads, see callModel in Model.cpp).
//
//===----------------------------------------------------------------------===//

#include "Internal.h"

#include <atomic>
#include <cstdlib>
#include <sched.h>
#include <thread>

namespace {

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

/// attn_set_num_threads's setting; 0: the default.
std::atomic<int> requestedThreads{0};

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
  requestedThreads.store(n > 0 ? n : 0, std::memory_order_relaxed);
  return ATTN_OK;
}

extern "C" int attn_get_num_threads(void) {
  int n = requestedThreads.load(std::memory_order_relaxed);
  if (n > 0)
    return n;
  // The environment is read once: it is process configuration.
  static const int fallback = defaultNumThreads();
  return fallback;
}
