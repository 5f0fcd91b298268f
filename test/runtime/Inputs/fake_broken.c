/*===- fake_broken.c - libraries that must fail to load --------------------===*
 *
 * Built once per FAKE_BROKEN_KIND:
 *   1 malformed signature JSON       4 unknown dtype in the signature
 *   2 ABI version 2                  5 an unsupported target
 *   3 no "abi" field                 6 two inputs with the same name
 *   7 exports attn_model_signature but not attn_model_run
 *===----------------------------------------------------------------------===*/
#include "fake_common.h"

#define INPUT_X "{\"name\":\"x\",\"dtype\":\"f32\",\"shape\":[2]}"
#define OUTPUTS "\"outputs\":[{\"name\":\"y\",\"dtype\":\"f32\",\"shape\":[2]}]"

FAKE_EXPORT const char *attn_model_signature(void) {
#if FAKE_BROKEN_KIND == 1
  return "{\"abi\":1,\"inputs\":[" INPUT_X ",]," OUTPUTS "}";
#elif FAKE_BROKEN_KIND == 2
  return "{\"abi\":2,\"inputs\":[" INPUT_X "]," OUTPUTS "}";
#elif FAKE_BROKEN_KIND == 3
  return "{\"inputs\":[" INPUT_X "]," OUTPUTS "}";
#elif FAKE_BROKEN_KIND == 4
  return "{\"abi\":1,\"inputs\":[{\"name\":\"x\",\"dtype\":\"f8e4m3\","
         "\"shape\":[2]}]," OUTPUTS "}";
#elif FAKE_BROKEN_KIND == 5
  return "{\"abi\":1,\"target\":\"tpu\",\"inputs\":[" INPUT_X "]," OUTPUTS "}";
#elif FAKE_BROKEN_KIND == 6
  return "{\"abi\":1,\"inputs\":[" INPUT_X "," INPUT_X "]," OUTPUTS "}";
#else
  return "{\"abi\":1,\"inputs\":[" INPUT_X "]," OUTPUTS "}";
#endif
}

#if FAKE_BROKEN_KIND != 7
FAKE_EXPORT int32_t attn_model_run(int64_t *const *in, int64_t *const *out) {
  (void)in;
  (void)out;
  return 77;
}
#endif
