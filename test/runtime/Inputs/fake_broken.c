/*===- fake_broken.c - libraries that must fail to load --------------------===*
 *
 * Built once per FAKE_BROKEN_KIND:
 *   1 malformed signature JSON       4 unknown dtype in the signature
 *   2 ABI version 2                  5 an unsupported target
 *   3 no "abi" field                 6 two inputs with the same name
 *   7 exports attn_model_signature but not attn_model_run
 *   8 "checks" is not an array       10 a check longer than 4096 bytes
 *   9 a check that is not a string   11 an input name with a NUL character
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
#elif FAKE_BROKEN_KIND == 8
  return "{\"abi\":1,\"inputs\":[" INPUT_X "]," OUTPUTS ",\"checks\":\"x\"}";
#elif FAKE_BROKEN_KIND == 9
  return "{\"abi\":1,\"inputs\":[" INPUT_X "]," OUTPUTS
         ",\"checks\":[\"ok {a}\",1]}";
#elif FAKE_BROKEN_KIND == 10
  static char json[8192];
  const char *head = "{\"abi\":1,\"inputs\":[" INPUT_X "]," OUTPUTS
                     ",\"checks\":[\"";
  size_t n = strlen(head);
  memcpy(json, head, n);
  memset(json + n, 'x', 4097);
  strcpy(json + n + 4097, "\"]}");
  return json;
#elif FAKE_BROKEN_KIND == 11
  return "{\"abi\":1,\"inputs\":[{\"name\":\"x\\u0000y\",\"dtype\":\"f32\","
         "\"shape\":[2]}]," OUTPUTS "}";
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
