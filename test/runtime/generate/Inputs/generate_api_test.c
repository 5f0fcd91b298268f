/*===- generate_api_test.c - the generation C API (runtime.h) in C99 -------===*
 *
 *   attn-generate-api-test LIB steps    generate() == prefill + steps, and
 *                                       the logits each step selected from
 *   attn-generate-api-test LIB threads  sessions of one model in 4 threads at
 *                                       once == the same sessions one by one
 *   attn-generate-api-test LIB errors   API misuse: one message each
 *===----------------------------------------------------------------------===*/
#include "attn/runtime.h"

#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static attn_model *model;

/* Batch 2, 4 tokens; row 1 left-padded by 2. */
static int64_t ids_data[8] = {3, 7, 11, 2, 0, 0, 5, 9};
static int64_t mask_data[8] = {1, 1, 1, 1, 0, 0, 1, 1};

static attn_tensor tensor2(int64_t *data, int64_t rows, int64_t cols) {
  attn_tensor t;
  memset(&t, 0, sizeof t);
  t.dtype = ATTN_I64;
  t.rank = 2;
  t.shape[0] = rows;
  t.shape[1] = cols;
  t.data = data;
  return t;
}

static void die(const char *what) {
  printf("FAILED %s: %s\n", what, attn_last_error());
  exit(1);
}

static int steps(void) {
  attn_gen_options o;
  attn_gen_session *s;
  attn_gen_result r;
  attn_tensor ids = tensor2(ids_data, 2, 4), mask = tensor2(mask_data, 2, 4);
  int64_t tok[2];
  int k, b, ok = 1;
  attn_gen_options_init(&o);
  o.max_new_tokens = 8;
  if (attn_gen_session_create(model, 2, 0, &o, &s) != ATTN_OK)
    die("create");
  printf("kv_cache %d max_len %lld\n", attn_gen_session_kv_cache(s),
         (long long)attn_gen_session_max_len(s));
  if (attn_gen_generate(s, &ids, &mask, &r) != ATTN_OK)
    die("generate");
  printf("generate: %lld steps, context %lld\n", (long long)r.n_steps,
         (long long)attn_gen_session_context_len(s));
  for (b = 0; b < 2; ++b) {
    printf("row %d:", b);
    for (k = 0; k < r.n_steps; ++k)
      printf(" %lld", (long long)r.tokens[b * r.n_steps + k]);
    printf(" (count %lld)\n", (long long)r.counts[b]);
  }
  /* The same session again, step by step. */
  if (attn_gen_prefill(s, &ids, &mask) != ATTN_OK)
    die("prefill");
  for (k = 0; k < 8; ++k) {
    attn_tensor logits;
    if (attn_gen_step(s, tok) != ATTN_OK)
      die("step");
    if (attn_gen_last_logits(s, &logits) != ATTN_OK)
      die("logits");
    for (b = 0; b < 2; ++b) {
      const float *row = (const float *)logits.data + b * logits.shape[1];
      int64_t v, best = 0;
      for (v = 0; v < logits.shape[1]; ++v)
        if (row[v] > row[best])
          best = v;
      ok &= tok[b] == r.tokens[b * r.n_steps + k] && best == tok[b] &&
            row[best] == 0.0f;
    }
    if (k == 0)
      printf("logits f32 [%lld, %lld]\n", (long long)logits.shape[0],
             (long long)logits.shape[1]);
  }
  printf("steps == generate: %s\n", ok ? "yes" : "NO");
  printf("context after 8 steps: %lld\n",
         (long long)attn_gen_session_context_len(s));
  attn_gen_result_free(&r);
  attn_gen_session_free(s);
  return ok ? 0 : 1;
}

struct job {
  uint64_t seed;
  int64_t tokens[2 * 12];
};

static void *run_job(void *arg) {
  struct job *j = (struct job *)arg;
  attn_gen_options o;
  attn_gen_session *s;
  attn_gen_result r;
  attn_tensor ids = tensor2(ids_data, 2, 4), mask = tensor2(mask_data, 2, 4);
  attn_gen_options_init(&o);
  o.max_new_tokens = 12;
  o.temperature = 1.5f;
  o.top_k = 10;
  o.top_p = 0.9f;
  o.seed = j->seed;
  if (attn_gen_session_create(model, 2, 0, &o, &s) != ATTN_OK ||
      attn_gen_generate(s, &ids, &mask, &r) != ATTN_OK || r.n_steps != 12) {
    j->tokens[0] = -1;
    return NULL;
  }
  memcpy(j->tokens, r.tokens, sizeof j->tokens);
  attn_gen_result_free(&r);
  attn_gen_session_free(s);
  return NULL;
}

static int threads(void) {
  struct job serial[4], parallel[4];
  pthread_t th[4];
  int i, same = 1, differ = 0;
  for (i = 0; i < 4; ++i) {
    serial[i].seed = parallel[i].seed = (uint64_t)(i % 2);
    run_job(&serial[i]);
  }
  for (i = 0; i < 4; ++i)
    pthread_create(&th[i], NULL, run_job, &parallel[i]);
  for (i = 0; i < 4; ++i)
    pthread_join(th[i], NULL);
  for (i = 0; i < 4; ++i)
    same &= serial[i].tokens[0] >= 0 &&
            memcmp(serial[i].tokens, parallel[i].tokens,
                   sizeof serial[i].tokens) == 0;
  same &= memcmp(serial[0].tokens, serial[2].tokens, sizeof serial[0].tokens) == 0;
  differ = memcmp(serial[0].tokens, serial[1].tokens, sizeof serial[0].tokens) != 0;
  printf("threads == serial: %s; seeds 0 and 1 differ: %s\n",
         same ? "yes" : "NO", differ ? "yes" : "NO");
  return same && differ ? 0 : 1;
}

static void expect_fail(const char *what, attn_status st) {
  printf("%s: %s: %s\n", what, st == ATTN_OK ? "OK?!" : attn_status_string(st),
         attn_last_error());
}

static int errors(void) {
  attn_gen_options o;
  attn_gen_session *s;
  attn_gen_result r;
  attn_tensor ids = tensor2(ids_data, 2, 4), mask = tensor2(mask_data, 2, 4);
  int64_t tok[2], bad_mask[8] = {1, 1, 1, 0, 1, 1, 1, 1};
  int64_t two_mask[8] = {1, 2, 1, 1, 1, 1, 1, 1};
  attn_tensor logits;
  attn_gen_options_init(&o);
  expect_fail("batch 0", attn_gen_session_create(model, 0, 0, &o, &s));
  o.top_p = 0.0f;
  expect_fail("top_p 0", attn_gen_session_create(model, 2, 0, &o, &s));
  o.top_p = 1.0f;
  o.top_k = -1;
  expect_fail("top_k -1", attn_gen_session_create(model, 2, 0, &o, &s));
  o.top_k = 0;
  if (attn_gen_session_create(model, 2, 6, &o, &s) != ATTN_OK)
    die("create");
  expect_fail("step first", attn_gen_step(s, tok));
  expect_fail("logits first", attn_gen_last_logits(s, &logits));
  {
    attn_tensor one = tensor2(ids_data, 1, 4);
    expect_fail("batch 1 prompt", attn_gen_prefill(s, &one, NULL));
  }
  {
    attn_tensor m = tensor2(bad_mask, 2, 4);
    expect_fail("right padding", attn_gen_prefill(s, &ids, &m));
    m.data = two_mask;
    expect_fail("mask 2", attn_gen_prefill(s, &ids, &m));
  }
  {
    attn_tensor f = ids;
    f.dtype = ATTN_F32;
    expect_fail("f32 ids", attn_gen_prefill(s, &f, NULL));
  }
  /* max_len 6: a 4-token prompt, then 2 fed tokens fit, the third not. */
  if (attn_gen_prefill(s, &ids, &mask) != ATTN_OK)
    die("prefill");
  if (attn_gen_step(s, tok) != ATTN_OK || attn_gen_step(s, tok) != ATTN_OK ||
      attn_gen_step(s, tok) != ATTN_OK)
    die("3 steps");
  expect_fail("4th step", attn_gen_step(s, tok));
  attn_gen_session_free(s);
  /* generate: 3 new tokens need 2 fed back (4 + 2 <= 6), 4 do not. */
  o.max_new_tokens = 3;
  if (attn_gen_session_create(model, 2, 6, &o, &s) != ATTN_OK)
    die("create");
  if (attn_gen_generate(s, &ids, &mask, &r) != ATTN_OK)
    die("generate 3 in 6");
  printf("generate 3 with max_len 6: %lld steps\n", (long long)r.n_steps);
  attn_gen_result_free(&r);
  attn_gen_session_free(s);
  o.max_new_tokens = 4;
  if (attn_gen_session_create(model, 2, 6, &o, &s) != ATTN_OK)
    die("create");
  expect_fail("generate 4 with max_len 6",
              attn_gen_generate(s, &ids, &mask, &r));
  attn_gen_session_free(s);
  {
    attn_status st = attn_gen_session_create(model, 2, 1000, &o, &s);
    printf("max_len 1000: %s\n", st == ATTN_OK ? "ok" : attn_last_error());
    if (st == ATTN_OK)
      attn_gen_session_free(s);
  }
  /* Issue #12 on generation: options that would silently mean something
   * else, negative token ids (a Gather would wrap them), a pad id outside
   * the vocabulary (fed back for finished rows). */
  {
    int64_t stop = -3, neg_ids[8] = {5, -1, 7, 8, 9, 10, 11, 12};
    attn_tensor n = tensor2(neg_ids, 2, 4);
    o.temperature = -1.0f;
    expect_fail("temperature -1", attn_gen_session_create(model, 2, 0, &o, &s));
    o.temperature = INFINITY;
    expect_fail("temperature inf", attn_gen_session_create(model, 2, 0, &o, &s));
    o.temperature = 0.0f;
    o.stop_token_ids = &stop;
    o.n_stop_token_ids = 1;
    expect_fail("stop -3", attn_gen_session_create(model, 2, 0, &o, &s));
    stop = 22;
    o.pad_token_id = 50;
    if (attn_gen_session_create(model, 2, 0, &o, &s) != ATTN_OK)
      die("create");
    expect_fail("negative id", attn_gen_prefill(s, &n, NULL));
    expect_fail("pad 50", attn_gen_prefill(s, &ids, &mask));
    attn_gen_session_free(s);
  }
  return 0;
}

int main(int argc, char **argv) {
  if (argc != 3) {
    fprintf(stderr, "usage: %s LIB steps|threads|errors\n", argv[0]);
    return 2;
  }
  if (attn_model_load(argv[1], &model) != ATTN_OK) {
    printf("load: %s\n", attn_last_error());
    return 1;
  }
  {
    int rc = strcmp(argv[2], "steps") == 0     ? steps()
             : strcmp(argv[2], "threads") == 0 ? threads()
                                               : errors();
    attn_model_free(model);
    return rc;
  }
}
