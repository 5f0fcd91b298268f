//===- npy_fuzzer.cpp - libFuzzer target: the runtime's .npy reader -------===//
//
// Feeds arbitrary bytes to attn_npy_load (C API). A file it accepts must
// describe a consistent tensor: every byte of its data is read (ASan sees a
// buffer shorter than the shape says), and it must survive a round trip
// through attn_npy_save + attn_npy_load bit-exactly. Rejected files must come
// with a message. Anything else aborts.
//
//===----------------------------------------------------------------------===//
#include "FuzzSupport.h"

#include "attn/runtime.h"

#include <cstring>

static void fail(const char *what) {
  fprintf(stderr, "attn-fuzz-npy: %s (last error: '%s')\n", what,
          attn_last_error());
  abort();
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  std::string path = attn_fuzz::writeScratchFile("in.npy", data, size);
  attn_tensor t;
  memset(&t, 0, sizeof t);
  attn_status st = attn_npy_load(path.c_str(), &t);
  if (st != ATTN_OK) {
    if (attn_last_error()[0] == '\0')
      fail("attn_npy_load failed without a message");
    if (t.data)
      fail("attn_npy_load failed but left data in its output");
    return 0;
  }
  if (t.rank < 0 || t.rank > ATTN_MAX_RANK)
    fail("loaded tensor has an invalid rank");
  int64_t numel = attn_tensor_numel(&t);
  if (numel < 0)
    fail("loaded tensor has an invalid shape");
  size_t nbytes = attn_tensor_nbytes(&t);
  if (nbytes && !t.data)
    fail("loaded tensor has no data");
  // Touch every byte (an undersized buffer is an ASan report here).
  volatile unsigned char sink = 0;
  const unsigned char *bytes = static_cast<const unsigned char *>(t.data);
  for (size_t i = 0; i < nbytes; ++i)
    sink ^= bytes[i];
  if (t.dtype == ATTN_BOOL)
    for (size_t i = 0; i < nbytes; ++i)
      if (bytes[i] > 1)
        fail("a bool element is neither 0 nor 1");
  (void)sink;

  std::string out = attn_fuzz::ensureScratchDir() + "/out.npy";
  if (attn_npy_save(out.c_str(), &t) != ATTN_OK)
    fail("attn_npy_save cannot write back a loaded tensor");
  attn_tensor u;
  memset(&u, 0, sizeof u);
  if (attn_npy_load(out.c_str(), &u) != ATTN_OK)
    fail("attn_npy_load rejects what attn_npy_save wrote");
  if (u.dtype != t.dtype || u.rank != t.rank ||
      memcmp(u.shape, t.shape, sizeof(int64_t) * size_t(t.rank)) != 0 ||
      attn_tensor_nbytes(&u) != nbytes ||
      (nbytes && memcmp(u.data, t.data, nbytes) != 0))
    fail("save + load does not round-trip");
  attn_tensor_free(&u);
  attn_tensor_free(&t);
  return 0;
}
