/*===- fake_errors.c - a hand-written model that fails on request ----------===*
 *
 * idx: i64[n] -> y: f32[n] = idx, pair: f32[2] = {idx[0], n}.
 * Depending on idx[0]: < 0 returns ATTN_MODEL_ERR_INDEX_OUT_OF_RANGE, 1000
 * returns ATTN_MODEL_ERR_SHAPE_MISMATCH, 999 returns the unknown code 77,
 * 998 returns ATTN_MODEL_ERR_OUT_OF_MEMORY with garbage output descriptors
 * (which the runtime must not free), and 7 returns `pair` with 3 elements
 * although the signature says 2.
 *===----------------------------------------------------------------------===*/
#include "fake_common.h"

FAKE_EXPORT const char *attn_model_signature(void) {
  return "{\"abi\":1,\"target\":\"cpu\",\"inputs\":["
         "{\"name\":\"idx\",\"dtype\":\"i64\",\"shape\":[\"n\"]}],"
         "\"outputs\":["
         "{\"name\":\"y\",\"dtype\":\"f32\",\"shape\":[\"n\"]},"
         "{\"name\":\"pair\",\"dtype\":\"f32\",\"shape\":[2]}]}";
}

FAKE_EXPORT int32_t attn_model_run(int64_t *const *in, int64_t *const *out) {
  int64_t n = DESC_SIZE(in[0], 0);
  const int64_t *idx = (const int64_t *)DESC_ALIGNED(in[0]);
  int64_t first = n > 0 ? idx[0] : 0;
  if (first < 0)
    return ATTN_MODEL_ERR_INDEX_OUT_OF_RANGE;
  if (first == 1000)
    return ATTN_MODEL_ERR_SHAPE_MISMATCH;
  if (first == 999)
    return 77;
  if (first == 998) {
    out[0][0] = out[0][1] = (int64_t)0x1234;
    out[1][0] = out[1][1] = (int64_t)-8;
    return ATTN_MODEL_ERR_OUT_OF_MEMORY;
  }
  float *y = (float *)malloc(n > 0 ? (size_t)n * sizeof(float) : 1);
  for (int64_t i = 0; i < n; ++i)
    y[i] = (float)idx[i];
  int64_t pairSize = first == 7 ? 3 : 2;
  float *pair = (float *)malloc((size_t)pairSize * sizeof(float));
  for (int64_t i = 0; i < pairSize; ++i)
    pair[i] = i == 0 ? (float)first : (float)n;
  int64_t ns[1] = {n};
  fake_set_output(out[0], 1, y, y, 0, ns);
  fake_set_output(out[1], 1, pair, pair, 0, &pairSize);
  return ATTN_MODEL_OK;
}
