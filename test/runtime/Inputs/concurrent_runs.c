/*===- concurrent_runs.c - many threads running one compiled model ---------===*
 *
 *   attn-runtime-concurrency-test LIB THREADS RUNS [--output-dir DIR]
 *                                 NAME=FILE.npy...
 *
 * Loads LIB once, runs it once on the calling thread (the reference), then
 * starts THREADS threads that each run the same model RUNS times at once on
 * the same inputs through attn_model_execute, and compares every output of
 * every run with the reference byte for byte (NaNs included). Prints one
 * summary line, "MISMATCH ..." for every differing run, and "OK" when all
 * runs are bit-identical to the reference (exit 0; 1 otherwise). With
 * --output-dir the reference outputs are written as DIR/<name>.npy (names
 * sanitized like attn-run does), so a test can also check them against
 * PyTorch. Built as C99 against nothing but attn/runtime.h.
 *===----------------------------------------------------------------------===*/
#define _POSIX_C_SOURCE 200809L

#include "attn/runtime.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_IO 64

static attn_model *model;
static attn_tensor inputs[MAX_IO];
static attn_tensor reference[MAX_IO];
static size_t nIn, nOut;
static int runsPerThread;

typedef struct worker {
  int id;
  int mismatches;
  int errors;
} worker;

static int sameTensor(const attn_tensor *a, const attn_tensor *b) {
  if (a->dtype != b->dtype || a->rank != b->rank)
    return 0;
  for (int32_t d = 0; d < a->rank; ++d)
    if (a->shape[d] != b->shape[d])
      return 0;
  size_t n = attn_tensor_nbytes(a);
  return n == 0 || memcmp(a->data, b->data, n) == 0;
}

static void *work(void *arg) {
  worker *w = (worker *)arg;
  attn_tensor out[MAX_IO];
  for (int r = 0; r < runsPerThread; ++r) {
    memset(out, 0, sizeof out);
    if (attn_model_execute(model, inputs, nIn, out, nOut) != ATTN_OK) {
      printf("ERROR thread %d run %d: %s\n", w->id, r, attn_last_error());
      ++w->errors;
      continue;
    }
    for (size_t o = 0; o < nOut; ++o) {
      if (!sameTensor(&out[o], &reference[o])) {
        attn_tensor_info info;
        attn_model_output_info(model, o, &info);
        printf("MISMATCH thread %d run %d output '%s'\n", w->id, r, info.name);
        ++w->mismatches;
      }
      attn_tensor_free(&out[o]);
    }
  }
  return NULL;
}

static void sanitize(char *s) {
  for (; *s; ++s)
    if (!((*s >= 'A' && *s <= 'Z') || (*s >= 'a' && *s <= 'z') ||
          (*s >= '0' && *s <= '9') || *s == '.' || *s == '_' || *s == '-'))
      *s = '_';
}

int main(int argc, char **argv) {
  if (argc < 4) {
    fprintf(stderr, "usage: %s LIB THREADS RUNS [--output-dir DIR] "
                    "NAME=FILE.npy...\n", argv[0]);
    return 2;
  }
  int threads = atoi(argv[2]);
  runsPerThread = atoi(argv[3]);
  if (threads < 1 || threads > 256 || runsPerThread < 1) {
    fprintf(stderr, "error: THREADS must be in [1, 256] and RUNS >= 1\n");
    return 2;
  }
  if (attn_model_load(argv[1], &model) != ATTN_OK) {
    fprintf(stderr, "error: %s\n", attn_last_error());
    return 1;
  }
  nIn = attn_model_num_inputs(model);
  nOut = attn_model_num_outputs(model);
  if (nIn > MAX_IO || nOut > MAX_IO) {
    fprintf(stderr, "error: too many inputs/outputs\n");
    return 1;
  }
  const char *outDir = NULL;
  size_t given = 0;
  for (int i = 4; i < argc; ++i) {
    if (strcmp(argv[i], "--output-dir") == 0 && i + 1 < argc) {
      outDir = argv[++i];
      continue;
    }
    char *eq = strchr(argv[i], '=');
    if (!eq) {
      fprintf(stderr, "error: expected NAME=FILE.npy, got '%s'\n", argv[i]);
      return 2;
    }
    *eq = '\0';
    int64_t idx = attn_model_find_input(model, argv[i]);
    if (idx < 0) {
      fprintf(stderr, "error: the model has no input '%s'\n", argv[i]);
      return 1;
    }
    if (inputs[idx].data || attn_npy_load(eq + 1, &inputs[idx]) != ATTN_OK) {
      fprintf(stderr, "error: input '%s': %s\n", argv[i],
              inputs[idx].data ? "given twice" : attn_last_error());
      return 1;
    }
    ++given;
  }
  if (given != nIn) {
    fprintf(stderr, "error: the model has %zu inputs, %zu given\n", nIn, given);
    return 1;
  }

  if (attn_model_execute(model, inputs, nIn, reference, nOut) != ATTN_OK) {
    fprintf(stderr, "error: reference run: %s\n", attn_last_error());
    return 1;
  }
  if (outDir) {
    for (size_t o = 0; o < nOut; ++o) {
      attn_tensor_info info;
      attn_model_output_info(model, o, &info);
      char name[256], path[4096];
      snprintf(name, sizeof name, "%s", info.name);
      sanitize(name);
      snprintf(path, sizeof path, "%s/%s.npy", outDir, name);
      if (attn_npy_save(path, &reference[o]) != ATTN_OK) {
        fprintf(stderr, "error: %s\n", attn_last_error());
        return 1;
      }
    }
  }

  pthread_t tids[256];
  worker workers[256];
  for (int t = 0; t < threads; ++t) {
    workers[t].id = t;
    workers[t].mismatches = workers[t].errors = 0;
    if (pthread_create(&tids[t], NULL, work, &workers[t]) != 0) {
      fprintf(stderr, "error: cannot start thread %d\n", t);
      return 1;
    }
  }
  int mismatches = 0, errors = 0;
  for (int t = 0; t < threads; ++t) {
    pthread_join(tids[t], NULL);
    mismatches += workers[t].mismatches;
    errors += workers[t].errors;
  }
  printf("threads=%d runs=%d outputs=%zu mismatches=%d errors=%d\n", threads,
         threads * runsPerThread, nOut, mismatches, errors);
  for (size_t o = 0; o < nOut; ++o)
    attn_tensor_free(&reference[o]);
  for (size_t i = 0; i < nIn; ++i)
    attn_tensor_free(&inputs[i]);
  attn_model_free(model);
  if (mismatches || errors)
    return 1;
  printf("OK\n");
  return 0;
}
