/*===- fake_types.c - a hand-written model covering every dtype ------------===*
 *
 * ids: i64[batch, seq], mask: bool[batch, seq], h: f16[seq], g: bf16[seq],
 * b: u8[seq], d: f64[]  ->
 *   keep: bool[batch, seq]  = mask && ids > 0
 *   count: i64[]            = number of true elements of keep
 *   picked: i64[k]          = flat indices of keep's true elements
 *                             (a shape that depends on input values)
 *   hg: f32[seq]            = h + g
 *   h2: f16[seq] = 2 * h,   g2: bf16[seq] = 2 * g
 *   b_i8: i8[seq] = b - 128, b_i16: i16[seq] = 100 * b - 1000
 *   d3: f64[] = 3 * d
 *   first: i32[seq], second: i32[seq] = two halves of ONE malloc block
 *                             (positions and seq + positions), like a Split
 *                             lowered to subviews
 *   const: f32[2]           = a constant global ({1.5, -2}), returned the way
 *                             MLIR returns globals (allocated = 0xdeadbeef)
 *===----------------------------------------------------------------------===*/
#include "fake_common.h"

#include "attn/runtime.h"

FAKE_EXPORT const char *attn_model_signature(void) {
  return "{\"abi\":1,\"target\":\"cpu\",\"inputs\":["
         "{\"name\":\"ids\",\"dtype\":\"i64\",\"shape\":[\"batch\",\"seq\"]},"
         "{\"name\":\"mask\",\"dtype\":\"bool\",\"shape\":[\"batch\",\"seq\"]},"
         "{\"name\":\"h\",\"dtype\":\"f16\",\"shape\":[\"seq\"]},"
         "{\"name\":\"g\",\"dtype\":\"bf16\",\"shape\":[\"seq\"]},"
         "{\"name\":\"b\",\"dtype\":\"u8\",\"shape\":[\"seq\"]},"
         "{\"name\":\"d\",\"dtype\":\"f64\",\"shape\":[]}],"
         "\"outputs\":["
         "{\"name\":\"keep\",\"dtype\":\"bool\",\"shape\":[\"batch\",\"seq\"]},"
         "{\"name\":\"count\",\"dtype\":\"i64\",\"shape\":[]},"
         "{\"name\":\"picked\",\"dtype\":\"i64\",\"shape\":[\"k\"]},"
         "{\"name\":\"hg\",\"dtype\":\"f32\",\"shape\":[\"seq\"]},"
         "{\"name\":\"h2\",\"dtype\":\"f16\",\"shape\":[\"seq\"]},"
         "{\"name\":\"g2\",\"dtype\":\"bf16\",\"shape\":[\"seq\"]},"
         "{\"name\":\"b_i8\",\"dtype\":\"i8\",\"shape\":[\"seq\"]},"
         "{\"name\":\"b_i16\",\"dtype\":\"i16\",\"shape\":[\"seq\"]},"
         "{\"name\":\"d3\",\"dtype\":\"f64\",\"shape\":[]},"
         "{\"name\":\"first\",\"dtype\":\"i32\",\"shape\":[\"seq\"]},"
         "{\"name\":\"second\",\"dtype\":\"i32\",\"shape\":[\"seq\"]},"
         "{\"name\":\"const\",\"dtype\":\"f32\",\"shape\":[2]}]}";
}

static const float kConstant[2] = {1.5f, -2.0f};

static void *xmalloc(size_t n) { return malloc(n ? n : 1); }

FAKE_EXPORT int32_t attn_model_run(int64_t *const *in, int64_t *const *out) {
  for (int i = 0; i < 6; ++i)
    if (!fake_check_input(in[i], i < 2 ? 2 : i < 5 ? 1 : 0))
      return ATTN_MODEL_ERR_SHAPE_MISMATCH;
  int64_t batch = DESC_SIZE(in[0], 0), seq = DESC_SIZE(in[0], 1);
  int64_t total = batch * seq;
  const int64_t *ids = (const int64_t *)DESC_ALIGNED(in[0]);
  const uint8_t *mask = (const uint8_t *)DESC_ALIGNED(in[1]);
  const uint16_t *h = (const uint16_t *)DESC_ALIGNED(in[2]);
  const uint16_t *g = (const uint16_t *)DESC_ALIGNED(in[3]);
  const uint8_t *b = (const uint8_t *)DESC_ALIGNED(in[4]);
  const double *d = (const double *)DESC_ALIGNED(in[5]);

  uint8_t *keep = (uint8_t *)xmalloc((size_t)total);
  int64_t *count = (int64_t *)xmalloc(sizeof(int64_t));
  *count = 0;
  for (int64_t i = 0; i < total; ++i) {
    keep[i] = mask[i] && ids[i] > 0;
    *count += keep[i];
  }
  int64_t *picked = (int64_t *)xmalloc((size_t)*count * sizeof(int64_t));
  for (int64_t i = 0, k = 0; i < total; ++i)
    if (keep[i])
      picked[k++] = i;

  float *hg = (float *)xmalloc((size_t)seq * sizeof(float));
  uint16_t *h2 = (uint16_t *)xmalloc((size_t)seq * 2);
  uint16_t *g2 = (uint16_t *)xmalloc((size_t)seq * 2);
  int8_t *bi8 = (int8_t *)xmalloc((size_t)seq);
  int16_t *bi16 = (int16_t *)xmalloc((size_t)seq * 2);
  int32_t *halves = (int32_t *)xmalloc((size_t)seq * 2 * sizeof(int32_t));
  for (int64_t i = 0; i < seq; ++i) {
    float hf = attn_f16_to_f32(h[i]), gf = attn_bf16_to_f32(g[i]);
    hg[i] = hf + gf;
    h2[i] = attn_f32_to_f16(2 * hf);
    g2[i] = attn_f32_to_bf16(2 * gf);
    bi8[i] = (int8_t)(b[i] - 128);
    bi16[i] = (int16_t)(100 * b[i] - 1000);
    halves[i] = (int32_t)i;
    halves[seq + i] = (int32_t)(seq + i);
  }
  double *d3 = (double *)xmalloc(sizeof(double));
  *d3 = 3 * *d;

  int64_t bs[2] = {batch, seq}, k[1] = {*count}, s[1] = {seq}, two[1] = {2};
  fake_set_output(out[0], 2, keep, keep, 0, bs);
  fake_set_output(out[1], 0, count, count, 0, NULL);
  fake_set_output(out[2], 1, picked, picked, 0, k);
  fake_set_output(out[3], 1, hg, hg, 0, s);
  fake_set_output(out[4], 1, h2, h2, 0, s);
  fake_set_output(out[5], 1, g2, g2, 0, s);
  fake_set_output(out[6], 1, bi8, bi8, 0, s);
  fake_set_output(out[7], 1, bi16, bi16, 0, s);
  fake_set_output(out[8], 0, d3, d3, 0, NULL);
  fake_set_output(out[9], 1, halves, halves, 0, s);
  fake_set_output(out[10], 1, halves, halves, seq, s);
  fake_set_output(out[11], 1, (void *)(intptr_t)0xdeadbeef,
                  (void *)(uintptr_t)kConstant, 0, two);
  return ATTN_MODEL_OK;
}
