/*===- fake_add.c - a hand-written model: out = x + y ----------------------===*
 *
 * x: f32[?, n], y: f32[n]  ->  out: f32[?, n]      = x + y (broadcast)
 *                              out_t: f32[n, ?]    = transpose(out)
 *                              sum/total:0: f64[]  = sum(out)
 *
 * Each output exercises a different way of handing memory back:
 *  - out is 64-byte aligned inside its malloc block (aligned != allocated),
 *  - out_t is a transposed (non-contiguous) view of its block,
 *  - the 0-d sum is a plain malloc'ed scalar.
 *===----------------------------------------------------------------------===*/
#include "fake_common.h"

FAKE_EXPORT const char *attn_model_signature(void) {
  return "{\"abi\":1,\"target\":\"cpu\",\"cpu\":\"generic\","
         "\"inputs\":["
         "{\"name\":\"x\",\"dtype\":\"f32\",\"shape\":[\"?\",\"n\"]},"
         "{\"name\":\"y\",\"dtype\":\"f32\",\"shape\":[\"n\"]}],"
         "\"outputs\":["
         "{\"name\":\"out\",\"dtype\":\"f32\",\"shape\":[\"?\",\"n\"]},"
         "{\"name\":\"out_t\",\"dtype\":\"f32\",\"shape\":[\"n\",\"?\"]},"
         "{\"name\":\"sum/total:0\",\"dtype\":\"f64\",\"shape\":[]}]}";
}

struct AddContext {
  const float *x, *y;
  float *out;
  int64_t n;
};

static void addRows(int64_t begin, int64_t end, void *opaque) {
  struct AddContext *ctx = (struct AddContext *)opaque;
  for (int64_t r = begin; r < end; ++r)
    for (int64_t c = 0; c < ctx->n; ++c)
      ctx->out[r * ctx->n + c] = ctx->x[r * ctx->n + c] + ctx->y[c];
}

FAKE_EXPORT int32_t attn_model_run(int64_t *const *inputs,
                                   int64_t *const *outputs) {
  const int64_t *x = inputs[0], *y = inputs[1];
  if (!fake_check_input(x, 2) || !fake_check_input(y, 1))
    return ATTN_MODEL_ERR_SHAPE_MISMATCH;
  int64_t rows = DESC_SIZE(x, 0), n = DESC_SIZE(x, 1);
  if (DESC_SIZE(y, 0) != n)
    return ATTN_MODEL_ERR_SHAPE_MISMATCH;
  size_t bytes = (size_t)(rows * n) * sizeof(float);

  char *outBlock = (char *)malloc(bytes + 64);
  float *out = (float *)(((uintptr_t)outBlock + 63) & ~(uintptr_t)63);
  if (out == (float *)outBlock)
    out += 16; /* make sure aligned != allocated */
  struct AddContext ctx = {(const float *)DESC_ALIGNED(x),
                           (const float *)DESC_ALIGNED(y), out, n};
  addRows(0, rows, &ctx);
  int64_t outSizes[2] = {rows, n};
  fake_set_output(outputs[0], 2, outBlock, out, 0, outSizes);

  /* out_t[c][r] = out[r][c], as a view with strides [1, n]. */
  float *tBlock = (float *)malloc(bytes ? bytes : 1);
  memcpy(tBlock, out, bytes);
  int64_t *t = outputs[1];
  t[0] = t[1] = (int64_t)(intptr_t)tBlock;
  t[2] = 0;
  DESC_SIZE(t, 0) = n;
  DESC_SIZE(t, 1) = rows;
  DESC_STRIDE(t, 2, 0) = 1;
  DESC_STRIDE(t, 2, 1) = n;

  double *sum = (double *)malloc(sizeof(double));
  *sum = 0;
  for (int64_t i = 0; i < rows * n; ++i)
    *sum += out[i];
  fake_set_output(outputs[2], 0, sum, sum, 0, NULL);
  return ATTN_MODEL_OK;
}
