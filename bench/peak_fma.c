/* Peak fp32 FMA throughput of this machine, single thread and all cores.
 *
 * Build: cc -O2 -mavx2 -mfma -pthread bench/peak_fma.c -o peak_fma   (bench/run.py does this)
 * Usage: peak_fma [THREADS] [SECONDS_PER_TRIAL]
 * Prints one JSON object per line: {"isa": "avx2"|"avx512", "threads": T, "gflops": X, ...}.
 *
 * The accumulators are 12 separate register variables (12 independent FMA chains), not an array:
 * at -O2 an array accumulator can end up in memory, and the loop then measures store-to-load
 * forwarding instead of the FMA units (FACTS.md: it reads 43/85 GFLOP/s instead of ~97/190).
 * 12 chains cover 2 FMA pipes x 4-5 cycles latency with room to spare.
 * The AVX-512 kernel is compiled with a target attribute and only run when the CPU reports avx512f.
 */
#include <immintrin.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static double now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec + ts.tv_nsec * 1e-9;
}

#define FMA12(F, a, b)                                                                   \
  c0 = F(c0, a, b); c1 = F(c1, a, b); c2 = F(c2, a, b); c3 = F(c3, a, b);                \
  c4 = F(c4, a, b); c5 = F(c5, a, b); c6 = F(c6, a, b); c7 = F(c7, a, b);                \
  c8 = F(c8, a, b); c9 = F(c9, a, b); c10 = F(c10, a, b); c11 = F(c11, a, b);

/* 12 chains x 8 lanes x 2 flops = 192 flops per iteration */
__attribute__((noinline)) static float kernel_avx2(long iters, float seed) {
  __m256 a = _mm256_set1_ps(0.999999f), b = _mm256_set1_ps(1e-7f * seed);
  __m256 c0 = _mm256_set1_ps(seed), c1 = _mm256_set1_ps(seed + 1), c2 = _mm256_set1_ps(seed + 2),
         c3 = _mm256_set1_ps(seed + 3), c4 = _mm256_set1_ps(seed + 4), c5 = _mm256_set1_ps(seed + 5),
         c6 = _mm256_set1_ps(seed + 6), c7 = _mm256_set1_ps(seed + 7), c8 = _mm256_set1_ps(seed + 8),
         c9 = _mm256_set1_ps(seed + 9), c10 = _mm256_set1_ps(seed + 10), c11 = _mm256_set1_ps(seed + 11);
  for (long i = 0; i < iters; ++i) {
    FMA12(_mm256_fmadd_ps, a, b)
  }
  __m256 s = _mm256_add_ps(_mm256_add_ps(_mm256_add_ps(c0, c1), _mm256_add_ps(c2, c3)),
                           _mm256_add_ps(_mm256_add_ps(c4, c5), _mm256_add_ps(c6, c7)));
  s = _mm256_add_ps(s, _mm256_add_ps(_mm256_add_ps(c8, c9), _mm256_add_ps(c10, c11)));
  float out[8];
  _mm256_storeu_ps(out, s);
  return out[0] + out[7];
}

/* 12 chains x 16 lanes x 2 flops = 384 flops per iteration */
__attribute__((noinline, target("avx512f"))) static float kernel_avx512(long iters, float seed) {
  __m512 a = _mm512_set1_ps(0.999999f), b = _mm512_set1_ps(1e-7f * seed);
  __m512 c0 = _mm512_set1_ps(seed), c1 = _mm512_set1_ps(seed + 1), c2 = _mm512_set1_ps(seed + 2),
         c3 = _mm512_set1_ps(seed + 3), c4 = _mm512_set1_ps(seed + 4), c5 = _mm512_set1_ps(seed + 5),
         c6 = _mm512_set1_ps(seed + 6), c7 = _mm512_set1_ps(seed + 7), c8 = _mm512_set1_ps(seed + 8),
         c9 = _mm512_set1_ps(seed + 9), c10 = _mm512_set1_ps(seed + 10), c11 = _mm512_set1_ps(seed + 11);
  for (long i = 0; i < iters; ++i) {
    FMA12(_mm512_fmadd_ps, a, b)
  }
  __m512 s = _mm512_add_ps(_mm512_add_ps(_mm512_add_ps(c0, c1), _mm512_add_ps(c2, c3)),
                           _mm512_add_ps(_mm512_add_ps(c4, c5), _mm512_add_ps(c6, c7)));
  s = _mm512_add_ps(s, _mm512_add_ps(_mm512_add_ps(c8, c9), _mm512_add_ps(c10, c11)));
  return _mm512_reduce_add_ps(s);
}

typedef struct {
  int avx512;
  long iters;
  float result;
  pthread_barrier_t *barrier;
} job_t;

static volatile float sink;

static void *worker(void *p) {
  job_t *j = (job_t *)p;
  pthread_barrier_wait(j->barrier);
  j->result = j->avx512 ? kernel_avx512(j->iters, 1.0f) : kernel_avx2(j->iters, 1.0f);
  return NULL;
}

/* wall-clock GFLOP/s of `threads` threads each running `iters` iterations */
static double run(int avx512, int threads, long iters) {
  pthread_t tid[256];
  job_t jobs[256];
  pthread_barrier_t barrier;
  pthread_barrier_init(&barrier, NULL, threads + 1);
  for (int t = 0; t < threads; ++t) {
    jobs[t].avx512 = avx512;
    jobs[t].iters = iters;
    jobs[t].barrier = &barrier;
    pthread_create(&tid[t], NULL, worker, &jobs[t]);
  }
  pthread_barrier_wait(&barrier);
  double t0 = now();
  for (int t = 0; t < threads; ++t) pthread_join(tid[t], NULL);
  double dt = now() - t0;
  for (int t = 0; t < threads; ++t) sink += jobs[t].result;
  pthread_barrier_destroy(&barrier);
  double flops = (double)threads * iters * 12.0 * (avx512 ? 16 : 8) * 2.0;
  return flops / dt * 1e-9;
}

static void measure(int avx512, int threads, double seconds) {
  /* calibrate: iterations for ~`seconds` on one thread */
  long iters = 1 << 20;
  for (;;) {
    double t0 = now();
    sink += avx512 ? kernel_avx512(iters, 2.0f) : kernel_avx2(iters, 2.0f);
    double dt = now() - t0;
    if (dt > 0.05) {
      iters = (long)(iters * seconds / dt);
      break;
    }
    iters *= 2;
  }
  double best = 0, trials[5];
  for (int r = 0; r < 5; ++r) {
    trials[r] = run(avx512, threads, iters);
    if (trials[r] > best) best = trials[r];
  }
  printf("{\"isa\": \"%s\", \"threads\": %d, \"gflops\": %.2f, \"trials\": [%.2f, %.2f, %.2f, %.2f, %.2f]}\n",
         avx512 ? "avx512" : "avx2", threads, best, trials[0], trials[1], trials[2], trials[3], trials[4]);
  fflush(stdout);
}

int main(int argc, char **argv) {
  int threads = argc > 1 ? atoi(argv[1]) : 1;
  double seconds = argc > 2 ? atof(argv[2]) : 0.25;
  if (threads < 1 || threads > 256) threads = 1;
  __builtin_cpu_init();
  int has512 = __builtin_cpu_supports("avx512f");
  measure(0, 1, seconds);
  if (threads > 1) measure(0, threads, seconds);
  if (has512) {
    measure(1, 1, seconds);
    if (threads > 1) measure(1, threads, seconds);
  }
  return 0;
}
