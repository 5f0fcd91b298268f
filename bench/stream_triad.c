/* STREAM-style triad (issue #15): a[i] = b[i] + s*c[i] over double arrays much larger than the last-level
 * cache, OpenMP over all cores (static schedule, first-touch initialisation by the same threads), best of
 * NTIMES repetitions, as McCalpin's STREAM reports it.
 *
 *   clang-22 -O3 -march=native -fopenmp bench/stream_triad.c -o triad && ./triad [MiB per array] [reps]
 *
 * Prints one JSON line: {"triad_gbs": best GB/s (10^9 B/s, 3 x 8 B per element: read b, read c, write a --
 * STREAM's count, write-allocate traffic not counted), "triad_gbs_wa": the same with the write-allocate read
 * of a counted (4 x 8 B), "threads", "mib_per_array", "best_s", "avg_s", "check"}. Used by bench/decode.py.
 */
#include <math.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>

int main(int argc, char **argv) {
  long mib = argc > 1 ? atol(argv[1]) : 256;   /* per array; default 3 x 256 MiB, >> a 32 MiB L3 */
  int reps = argc > 2 ? atoi(argv[2]) : 10;
  if (mib < 1 || reps < 2) {
    fprintf(stderr, "usage: %s [MiB per array >= 1] [reps >= 2]\n", argv[0]);
    return 1;
  }
  long n = mib * 1024L * 1024L / (long)sizeof(double);
  double *a = aligned_alloc(64, n * sizeof(double));
  double *b = aligned_alloc(64, n * sizeof(double));
  double *c = aligned_alloc(64, n * sizeof(double));
  if (!a || !b || !c) {
    fprintf(stderr, "stream_triad: cannot allocate 3 x %ld MiB\n", mib);
    return 1;
  }
#pragma omp parallel for schedule(static)
  for (long i = 0; i < n; ++i) {
    a[i] = 1.0;
    b[i] = 2.0;
    c[i] = 0.5;
  }
  const double s = 3.0;
  double best = 1e30, total = 0;
  for (int r = 0; r < reps; ++r) {
    double t0 = omp_get_wtime();
#pragma omp parallel for schedule(static)
    for (long i = 0; i < n; ++i)
      a[i] = b[i] + s * c[i];
    double dt = omp_get_wtime() - t0;
    if (r > 0) { /* first repetition is a warm-up */
      total += dt;
      if (dt < best)
        best = dt;
    }
  }
  /* every a[i] must be 2 + 3*0.5 = 3.5 */
  double err = 0;
  for (long i = 0; i < n; i += 4097)
    err = fmax(err, fabs(a[i] - 3.5));
  double bytes = 3.0 * 8.0 * (double)n;
  printf("{\"triad_gbs\": %.2f, \"triad_gbs_wa\": %.2f, \"threads\": %d, \"mib_per_array\": %ld, "
         "\"best_s\": %.6f, \"avg_s\": %.6f, \"check\": %s}\n",
         bytes / best / 1e9, bytes * 4.0 / 3.0 / best / 1e9, omp_get_max_threads(), mib, best,
         total / (reps - 1), err == 0 ? "true" : "false");
  free(a);
  free(b);
  free(c);
  return err == 0 ? 0 : 1;
}
