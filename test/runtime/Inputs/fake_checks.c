/*===- fake_checks.c - a hand-written model with detailed run status -------===*
 *
 * idx: i64[n] -> y: f32[n] = idx. The signature has "checks" (message
 * templates, attn/abi.h). Built twice:
 *   FAKE_RUN_EX=1  exports attn_model_run_ex (and an attn_model_run that
 *                  returns the unknown code 77, so a runtime that called it
 *                  instead would say so);
 *   FAKE_RUN_EX=0  exports only attn_model_run (an old library: the
 *                  templates are never used).
 * Depending on idx[0] the run fails after allocating y (so the runtime must
 * free it), with status {code, check, a, b}:
 *   1  SHAPE_MISMATCH, check 0, a = 3, b = 4
 *   2  INDEX_OUT_OF_RANGE, check 1, a = -5, b = 10
 *   3  SHAPE_MISMATCH, check 7 (no such template)
 *   4  SHAPE_MISMATCH, check -1
 *   5  OUT_OF_MEMORY, with garbage output descriptors that must not be freed
 *   6  SHAPE_MISMATCH returned, but status[0] says INDEX_OUT_OF_RANGE
 *   8  SHAPE_MISMATCH, check 2 (a template with repeated placeholders, a
 *      control character and braces that are not placeholders), a = b =
 *      INT64_MIN / INT64_MAX
 * Any other value succeeds.
 *===----------------------------------------------------------------------===*/
#include "fake_common.h"

FAKE_EXPORT const char *attn_model_signature(void) {
  return "{\"abi\":1,\"target\":\"cpu\",\"inputs\":["
         "{\"name\":\"idx\",\"dtype\":\"i64\",\"shape\":[\"n\"]}],"
         "\"outputs\":[{\"name\":\"y\",\"dtype\":\"f32\",\"shape\":[\"n\"]}],"
         "\"checks\":["
         "\"node '/embeddings/Add' (Add): dimension 1 of operand 1 is {a} but "
         "the result's is {b}\","
         "\"node '/wte/Gather' (Gather): index {a} is out of range for a "
         "table of {b} rows\","
         "\"{a}{a} {b} {c} {a\\tb} {}\"]}";
}

static int32_t run(int64_t *const *in, int64_t *const *out, int64_t *status) {
  int64_t n = DESC_SIZE(in[0], 0);
  const int64_t *idx = (const int64_t *)DESC_ALIGNED(in[0]);
  int64_t first = n > 0 ? idx[0] : 0;
  if (first == 5) {
    /* An allocation failed half-way: the descriptors hold garbage. */
    out[0][0] = out[0][1] = (int64_t)0x1234;
    out[0][3] = -7;
    status[0] = ATTN_MODEL_ERR_OUT_OF_MEMORY;
    return ATTN_MODEL_ERR_OUT_OF_MEMORY;
  }
  float *y = (float *)malloc(n > 0 ? (size_t)n * sizeof(float) : 1);
  for (int64_t i = 0; i < n; ++i)
    y[i] = (float)idx[i];
  int64_t ns[1] = {n};
  fake_set_output(out[0], 1, y, y, 0, ns);
  int32_t code = ATTN_MODEL_OK;
  int64_t check = 0, a = 0, b = 0;
  switch (first) {
  case 1:
    code = ATTN_MODEL_ERR_SHAPE_MISMATCH, check = 0, a = 3, b = 4;
    break;
  case 2:
    code = ATTN_MODEL_ERR_INDEX_OUT_OF_RANGE, check = 1, a = -5, b = 10;
    break;
  case 3:
    code = ATTN_MODEL_ERR_SHAPE_MISMATCH, check = 7, a = 1, b = 2;
    break;
  case 4:
    code = ATTN_MODEL_ERR_SHAPE_MISMATCH, check = -1, a = 1, b = 2;
    break;
  case 6:
    code = ATTN_MODEL_ERR_SHAPE_MISMATCH, check = 0, a = 1, b = 2;
    break;
  case 8:
    code = ATTN_MODEL_ERR_SHAPE_MISMATCH, check = 2, a = INT64_MIN,
    b = INT64_MAX;
    break;
  }
  if (code != ATTN_MODEL_OK) {
    status[0] = first == 6 ? ATTN_MODEL_ERR_INDEX_OUT_OF_RANGE : code;
    status[1] = check;
    status[2] = a;
    status[3] = b;
  }
  return code;
}

#if FAKE_RUN_EX
FAKE_EXPORT int32_t attn_model_run_ex(int64_t *const *in, int64_t *const *out,
                                      int64_t *status) {
  return run(in, out, status);
}

FAKE_EXPORT int32_t attn_model_run(int64_t *const *in, int64_t *const *out) {
  (void)in;
  (void)out;
  return 77;
}
#else
FAKE_EXPORT int32_t attn_model_run(int64_t *const *in, int64_t *const *out) {
  int64_t status[ATTN_MODEL_STATUS_LEN] = {0, 0, 0, 0};
  return run(in, out, status);
}
#endif
