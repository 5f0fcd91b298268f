/*===- fake_lm.c - a hand-written with-past "language model" ---------------===*
 *
 * Implements attn/abi.h like a with-past causal-LM export (or its --kv-cache
 * library, KVCACHE-ABI), so that the runtime's generation API and attn-run
 * --generate are tested without the compiler. Vocabulary V = 50, 2 layers,
 * 1 kv head, head_dim 2. For a new token x at position p (position_ids, or
 * the number of unmasked tokens before it when the model has no such input)
 * it stores, per layer l, key/value element 0:
 *     c0 = x, c1 = p (layer 0 key, value), c2 = x % 5, c3 = 2 (layer 1)
 * (element 1 is 1), and its logits are
 *     logits[v] = -0.5 * circular_distance(v, target),
 *     target = (x + S0 + 3 p + S1 + 5 S2 + S3) mod V
 * where Sk sums ck over the visible context: positions j <= its own with
 * attention_mask 1. generate_ref.py computes the same in numpy.
 * Build variants (compile definitions):
 *   FAKE_KV=1      --kv-cache library with FAKE_KV_N positions
 *   FAKE_POS=1     has a position_ids input
 *   FAKE_NAMES=1   past_key_{i}/present_key_{i} names (else past_key_values)
 *   FAKE_F16=1     logits and K/V in f16
 *   FAKE_KIND=k    broken signatures for the error tests (see below)
 *   FAKE_CUDA=1    signature target "cuda" (run through the runtime's CUDA
 *                  path on the fake driver Inputs/fake_cuda.c, whose device
 *                  memory is host memory)
 *===----------------------------------------------------------------------===*/
#include "attn/runtime.h"
#include "fake_common.h"

#ifndef FAKE_KV
#define FAKE_KV 0
#endif
#ifndef FAKE_KV_N
#define FAKE_KV_N 24
#endif
#ifndef FAKE_POS
#define FAKE_POS 0
#endif
#ifndef FAKE_NAMES
#define FAKE_NAMES 0
#endif
#ifndef FAKE_F16
#define FAKE_F16 0
#endif
#ifndef FAKE_KIND
#define FAKE_KIND 0
#endif
#ifndef FAKE_CUDA
#define FAKE_CUDA 0
#endif
#if FAKE_CUDA
#define TARGET "cuda\",\"arch\":\"sm_80"
#else
#define TARGET "cpu"
#endif

#define V 50
#define STR2(x) #x
#define STR(x) STR2(x)

#if FAKE_F16
#define FT "f16"
typedef uint16_t elem_t;
static float ld(elem_t v) { return attn_f16_to_f32(v); }
static elem_t st(float v) { return attn_f32_to_f16(v); }
#else
#define FT "f32"
typedef float elem_t;
static float ld(elem_t v) { return v; }
static elem_t st(float v) { return v; }
#endif

#if FAKE_NAMES
#define P0K "past_key_0"
#define P0V "past_value_0"
#define P1K "past_key_1"
#define P1V "past_value_1"
#define R0K "present_key_0"
#define R0V "present_value_0"
#define R1K "present_key_1"
#define R1V "present_value_1"
#else
#define P0K "past_key_values.0.key"
#define P0V "past_key_values.0.value"
#define P1K "past_key_values.1.key"
#define P1V "past_key_values.1.value"
#define R0K "present.0.key"
#define R0V "present.0.value"
#define R1K "present.1.key"
#define R1V "present.1.value"
#endif

/* FAKE_KIND: 1 no "logits" output, 2 no "input_ids" input, 3 (plain) a
 * past without its present, 4 (kv) a cache input without "kv_cache": true,
 * 5 (kv) "max_len" disagrees with the cache's dim 2, 6 an extra input,
 * 7 (kv) a "kv_cache" flag that is not a boolean (refused at load). */
#if FAKE_KIND == 1
#define LOGITS "scores"
#else
#define LOGITS "logits"
#endif
#if FAKE_KIND == 2
#define IDS "tokens"
#else
#define IDS "input_ids"
#endif
#if FAKE_KIND == 3
#undef R1V
#define R1V "present.1.val"
#endif

#if FAKE_KV
#define PAST_DIM STR(FAKE_KV_N)
#define CACHE_FLAG ",\"kv_cache\":true"
#else
#define PAST_DIM "\"past\""
#define CACHE_FLAG ""
#endif
#define PAST(name, flag)                                                       \
  ",{\"name\":\"" name "\",\"dtype\":\"" FT "\",\"shape\":[\"batch\",1," PAST_DIM  \
  ",2]" flag "}"
#define PRESENT(name)                                                          \
  ",{\"name\":\"" name "\",\"dtype\":\"" FT                                    \
  "\",\"shape\":[\"batch\",1,\"total\",2]}"

#if FAKE_POS
#define POS_INPUT ",{\"name\":\"position_ids\",\"dtype\":\"i64\",\"shape\":[\"batch\",\"seq\"]}"
#define NPOS 1
#else
#define POS_INPUT ""
#define NPOS 0
#endif
#if FAKE_KIND == 6
#define EXTRA_INPUT ",{\"name\":\"token_type_ids\",\"dtype\":\"i64\",\"shape\":[\"batch\",\"seq\"]}"
#define NEXTRA 1
#else
#define EXTRA_INPUT ""
#define NEXTRA 0
#endif
#if FAKE_KIND == 4
#define FLAG1 ""
#elif FAKE_KIND == 7
#define FLAG1 ",\"kv_cache\":1"
#else
#define FLAG1 CACHE_FLAG
#endif
#if FAKE_KIND == 5
#define MAXLEN "999"
#else
#define MAXLEN STR(FAKE_KV_N)
#endif

FAKE_EXPORT const char *attn_model_signature(void) {
  return "{\"abi\":1,\"target\":\"" TARGET "\",\"inputs\":["
         "{\"name\":\"" IDS "\",\"dtype\":\"i64\",\"shape\":[\"batch\",\"seq\"]},"
         "{\"name\":\"attention_mask\",\"dtype\":\"i64\",\"shape\":[\"batch\","
         "\"total\"]}" POS_INPUT EXTRA_INPUT PAST(P0K, CACHE_FLAG)
             PAST(P0V, FLAG1) PAST(P1K, CACHE_FLAG) PAST(P1V, CACHE_FLAG)
#if FAKE_KV
                 ",{\"name\":\"past_sequence_length\",\"dtype\":\"i64\","
                 "\"shape\":[]}"
#endif
         "],\"outputs\":[{\"name\":\"" LOGITS "\",\"dtype\":\"" FT
         "\",\"shape\":[\"batch\",\"seq\"," STR(V) "]}"
#if !FAKE_KV
         PRESENT(R0K) PRESENT(R0V) PRESENT(R1K) PRESENT(R1V)
#endif
         "],"
#if FAKE_KV
         "\"kv_cache\":{\"max_len\":" MAXLEN ",\"past_length_input\":"
         "\"past_sequence_length\",\"caches\":["
         "{\"input\":\"" P0K "\",\"output\":\"" R0K "\"},"
         "{\"input\":\"" P0V "\",\"output\":\"" R0V "\"},"
         "{\"input\":\"" P1K "\",\"output\":\"" R1K "\"},"
         "{\"input\":\"" P1V "\",\"output\":\"" R1V "\"}]},"
#endif
         "\"checks\":[\"context full: {a} of {b} tokens\","
         "\"node 'fake': attention_mask has {a} columns; past + seq is {b}\"]}";
}

static int32_t failCheck(int64_t *status, int64_t check, int64_t a, int64_t b) {
  status[0] = ATTN_MODEL_ERR_SHAPE_MISMATCH;
  status[1] = check;
  status[2] = a;
  status[3] = b;
  return ATTN_MODEL_ERR_SHAPE_MISMATCH;
}

FAKE_EXPORT int32_t attn_model_run_ex(int64_t *const *in, int64_t *const *out,
                                      int64_t *status) {
  const int64_t *ids = (const int64_t *)DESC_ALIGNED(in[0]);
  const int64_t *mask = (const int64_t *)DESC_ALIGNED(in[1]);
  const int64_t *posIds =
      NPOS ? (const int64_t *)DESC_ALIGNED(in[2]) : (const int64_t *)0;
  int first = 2 + NPOS + NEXTRA;
  int64_t B = DESC_SIZE(in[0], 0), T = DESC_SIZE(in[0], 1);
  int64_t total = DESC_SIZE(in[1], 1);
  elem_t *cache[4];
  int64_t P, cap, k, b, t, j;
  elem_t *present[4] = {0, 0, 0, 0};
  elem_t *logits;
  for (k = 0; k < 4; ++k)
    cache[k] = (elem_t *)DESC_ALIGNED(in[first + k]);
#if FAKE_KV
  P = *(const int64_t *)DESC_ALIGNED(in[first + 4]);
  cap = FAKE_KV_N;
  if (P < 0 || P + T > FAKE_KV_N)
    return failCheck(status, 0, P + T, FAKE_KV_N);
#else
  P = DESC_SIZE(in[first], 2);
  for (k = 1; k < 4; ++k)
    if (DESC_SIZE(in[first + k], 2) != P)
      return failCheck(status, 1, DESC_SIZE(in[first + k], 2), P);
  cap = P + T;
#endif
  if (total != P + T)
    return failCheck(status, 1, total, P + T);
#if !FAKE_KV
  /* present = Concat(past, new): copy the past in. */
  for (k = 0; k < 4; ++k) {
    int64_t sizes[4];
    sizes[0] = B, sizes[1] = 1, sizes[2] = cap, sizes[3] = 2;
    present[k] = (elem_t *)malloc((size_t)(B * cap * 2 + 1) * sizeof(elem_t));
    for (b = 0; b < B; ++b)
      memcpy(present[k] + b * cap * 2, cache[k] + b * P * 2,
             (size_t)(P * 2) * sizeof(elem_t));
    fake_set_output(out[1 + k], 4, present[k], present[k], 0, sizes);
    cache[k] = present[k];
  }
#endif
  (void)present;
  logits = (elem_t *)malloc((size_t)(B * T * V + 1) * sizeof(elem_t));
  {
    int64_t sizes[3];
    sizes[0] = B, sizes[1] = T, sizes[2] = V;
    fake_set_output(out[0], 3, logits, logits, 0, sizes);
  }
  for (b = 0; b < B; ++b) {
    const int64_t *row = mask + b * total;
    for (t = 0; t < T; ++t) {
      int64_t x = ids[b * T + t], at = P + t, p, target, seen = 0;
      double s[4] = {0, 0, 0, 0};
      for (j = 0; j <= at; ++j)
        seen += row[j] != 0;
      p = NPOS ? posIds[b * T + t] : (row[at] ? seen - 1 : 1);
      {
        float vals[4];
        vals[0] = (float)x, vals[1] = (float)p, vals[2] = (float)(x % 5),
        vals[3] = 2.0f;
        for (k = 0; k < 4; ++k) {
          cache[k][(b * cap + at) * 2] = st(vals[k]);
          cache[k][(b * cap + at) * 2 + 1] = st(1.0f);
        }
      }
      for (j = 0; j <= at; ++j)
        if (row[j])
          for (k = 0; k < 4; ++k)
            s[k] += ld(cache[k][(b * cap + j) * 2]);
      target = (int64_t)(x + s[0] + 3 * p + s[1] + 5 * s[2] + s[3]);
      target = ((target % V) + V) % V;
      for (j = 0; j < V; ++j) {
        int64_t d = j > target ? j - target : target - j;
        if (V - d < d)
          d = V - d;
        logits[(b * T + t) * V + j] = st(-0.5f * (float)d);
      }
    }
  }
  return ATTN_MODEL_OK;
}

FAKE_EXPORT int32_t attn_model_run(int64_t *const *in, int64_t *const *out) {
  int64_t status[ATTN_MODEL_STATUS_LEN] = {0, 0, 0, 0};
  return attn_model_run_ex(in, out, status);
}
