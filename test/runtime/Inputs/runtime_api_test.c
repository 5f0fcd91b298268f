/*===- runtime_api_test.c - checks of the attn runtime's C API -------------===*
 *
 *   attn-runtime-api-test LIB_DIR TMP_DIR
 *   attn-runtime-api-test --npy-copy IN.npy OUT.npy
 *
 * Built as C99 against nothing but attn/runtime.h, like a user's program.
 * LIB_DIR holds the fake model libraries, TMP_DIR is scratch space. Prints one
 * "ERR <status>: <message>" line per expected failure (checked by FileCheck),
 * "FAIL ..." for every broken expectation, and "ALL PASSED" at the end if
 * there was none (exit code 0). --npy-copy reads a .npy file with the
 * runtime, prints its dtype and shape, and writes it back (or prints the
 * error), so that tests can check the reader and writer against numpy.
 *===----------------------------------------------------------------------===*/
#define _POSIX_C_SOURCE 200809L /* pthreads */

#include "attn/runtime.h"

#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int failures = 0;
static const char *libDir, *tmpDir;

#define CHECK(cond)                                                            \
  do {                                                                         \
    if (!(cond)) {                                                             \
      printf("FAIL %s:%d: %s\n", __FILE__, __LINE__, #cond);                   \
      ++failures;                                                              \
    }                                                                          \
  } while (0)

/* Expects `call` to fail with `status`; prints the message for FileCheck. */
#define EXPECT_ERR(call, status)                                               \
  do {                                                                         \
    attn_status s_ = (call);                                                   \
    if (s_ != (status)) {                                                      \
      printf("FAIL %s:%d: %s returned %d (%s), expected %d\n", __FILE__,       \
             __LINE__, #call, (int)s_, attn_last_error(), (int)(status));      \
      ++failures;                                                              \
    } else {                                                                   \
      printf("ERR %s: %s\n", attn_status_string(s_), attn_last_error());       \
    }                                                                          \
  } while (0)

#define EXPECT_OK(call)                                                        \
  do {                                                                         \
    attn_status s_ = (call);                                                   \
    if (s_ != ATTN_OK) {                                                       \
      printf("FAIL %s:%d: %s: %s\n", __FILE__, __LINE__, #call,                \
             attn_last_error());                                               \
      ++failures;                                                              \
    }                                                                          \
  } while (0)

static char *pathIn(const char *dir, const char *name) {
  static char buffers[4][4096];
  static int next = 0;
  char *buf = buffers[next++ % 4];
  snprintf(buf, sizeof(buffers[0]), "%s/%s", dir, name);
  return buf;
}

static attn_tensor makeTensor(attn_dtype dtype, int32_t rank,
                              const int64_t *shape, void *data) {
  attn_tensor t;
  memset(&t, 0, sizeof(t));
  t.dtype = dtype;
  t.rank = rank;
  for (int32_t i = 0; i < rank; ++i)
    t.shape[i] = shape[i];
  t.data = data;
  return t;
}

/*===--- dtypes and conversions -------------------------------------------===*/

static void testDTypes(void) {
  for (int i = 0; i < ATTN_NUM_DTYPES; ++i) {
    attn_dtype back;
    EXPECT_OK(attn_dtype_from_name(attn_dtype_name((attn_dtype)i), &back));
    CHECK(back == (attn_dtype)i);
  }
  CHECK(attn_dtype_size(ATTN_BOOL) == 1 && attn_dtype_size(ATTN_BF16) == 2 &&
        attn_dtype_size(ATTN_I64) == 8 && attn_dtype_size(ATTN_F32) == 4);
  attn_dtype dummy;
  EXPECT_ERR(attn_dtype_from_name("f8", &dummy), ATTN_ERR_DTYPE);
}

static float bitsToFloat(uint32_t u) {
  float f;
  memcpy(&f, &u, 4);
  return f;
}

static void testHalfConversions(void) {
  CHECK(attn_f32_to_f16(1.0f) == 0x3C00);
  CHECK(attn_f32_to_f16(-2.0f) == 0xC000);
  CHECK(attn_f32_to_f16(0.1f) == 0x2E66);
  CHECK(attn_f32_to_f16(65504.0f) == 0x7BFF);
  CHECK(attn_f32_to_f16(65519.99f) == 0x7BFF);
  CHECK(attn_f32_to_f16(65520.0f) == 0x7C00); /* tie rounds to even: inf */
  CHECK(attn_f32_to_f16(-1e9f) == 0xFC00);
  CHECK(attn_f32_to_f16(-0.0f) == 0x8000);
  CHECK(attn_f32_to_f16(INFINITY) == 0x7C00);
  CHECK(isnan(attn_f16_to_f32(attn_f32_to_f16(NAN))));
  CHECK(attn_f32_to_f16(1.0f + 1.0f / 2048) == 0x3C00);      /* tie -> even */
  CHECK(attn_f32_to_f16(1.0f + 3.0f / 2048) == 0x3C02);      /* tie -> even */
  CHECK(attn_f32_to_f16(bitsToFloat(0x33800000)) == 0x0001); /* 2^-24 */
  CHECK(attn_f32_to_f16(bitsToFloat(0x33000000)) == 0x0000); /* 2^-25 tie */
  CHECK(attn_f32_to_f16(bitsToFloat(0x33C00000)) == 0x0002); /* 1.5 ulp */
  CHECK(attn_f32_to_f16(bitsToFloat(0x38800000)) == 0x0400); /* 2^-14 */
  CHECK(attn_f32_to_f16(bitsToFloat(0x387FFFFF)) == 0x0400); /* rounds up */
  CHECK(attn_f32_to_f16(1e-30f) == 0);
  CHECK(attn_f32_to_bf16(1.0f) == 0x3F80);
  CHECK(attn_f32_to_bf16(1.0f + 1.0f / 256) == 0x3F80);       /* tie -> even */
  CHECK(attn_f32_to_bf16(1.0f + 3.0f / 256) == 0x3F82);       /* tie -> even */
  CHECK(attn_f32_to_bf16(bitsToFloat(0x7F7FFFFF)) == 0x7F80); /* -> inf */
  CHECK(isnan(attn_bf16_to_f32(attn_f32_to_bf16(NAN))));
  /* Every non-NaN half value survives a round trip through f32. */
  int bad16 = 0, badbf = 0;
  for (uint32_t b = 0; b < 0x10000; ++b) {
    float f = attn_f16_to_f32((uint16_t)b);
    if (!isnan(f) && attn_f32_to_f16(f) != b)
      ++bad16;
    float g = attn_bf16_to_f32((uint16_t)b);
    if (!isnan(g) && attn_f32_to_bf16(g) != b)
      ++badbf;
  }
  CHECK(bad16 == 0);
  CHECK(badbf == 0);
  CHECK(attn_f16_to_f32(0x0001) == bitsToFloat(0x33800000));
  CHECK(attn_f16_to_f32(0x7BFF) == 65504.0f);

  float src[3] = {1.0f, 0.1f, -3.5f};
  int64_t shape[1] = {3};
  attn_tensor t = makeTensor(ATTN_F32, 1, shape, src), h, back;
  EXPECT_OK(attn_tensor_cast(&t, ATTN_F16, &h));
  CHECK(((uint16_t *)h.data)[1] == 0x2E66);
  EXPECT_OK(attn_tensor_cast(&h, ATTN_F64, &back));
  CHECK(((double *)back.data)[2] == -3.5);
  attn_tensor_free(&h);
  attn_tensor_free(&back);
  attn_tensor bad;
  EXPECT_ERR(attn_tensor_cast(&t, ATTN_I32, &bad), ATTN_ERR_DTYPE);
}

static void testTensors(void) {
  int64_t shape[3] = {2, 0, 5}, neg[1] = {-1}, huge[2] = {INT64_MAX / 4, 8};
  attn_tensor t;
  EXPECT_OK(attn_tensor_alloc(ATTN_F32, 3, shape, &t));
  CHECK(attn_tensor_numel(&t) == 0 && attn_tensor_nbytes(&t) == 0);
  CHECK(t.data != NULL);
  attn_tensor_free(&t);
  CHECK(t.data == NULL);
  attn_tensor_free(&t); /* freeing twice is harmless */
  attn_tensor_free(NULL);
  EXPECT_OK(attn_tensor_alloc(ATTN_I64, 0, NULL, &t));
  CHECK(attn_tensor_numel(&t) == 1 && attn_tensor_nbytes(&t) == 8);
  CHECK(*(int64_t *)t.data == 0);
  attn_tensor_free(&t);
  EXPECT_ERR(attn_tensor_alloc(ATTN_F32, 1, neg, &t), ATTN_ERR_SHAPE);
  EXPECT_ERR(attn_tensor_alloc(ATTN_F32, 2, huge, &t), ATTN_ERR_SHAPE);
  EXPECT_ERR(attn_tensor_alloc(ATTN_F32, ATTN_MAX_RANK + 1, shape, &t),
             ATTN_ERR_SHAPE);
}

/*===--- .npy ------------------------------------------------------------===*/

static void writeBytes(const char *path, const void *data, size_t n) {
  FILE *f = fopen(path, "wb");
  if (!f) {
    printf("FAIL cannot write %s\n", path);
    ++failures;
    return;
  }
  fwrite(data, 1, n, f);
  fclose(f);
}

/* Writes a v1 .npy with the given header dict and `dataBytes` bytes of 0x01. */
static void writeNpy(const char *path, const char *dict, size_t dataBytes) {
  char buf[512];
  size_t dictLen = strlen(dict);
  size_t headerLen = dictLen + 1;
  memcpy(buf, "\x93NUMPY\x01\x00", 8);
  buf[8] = (char)(headerLen & 0xFF);
  buf[9] = (char)(headerLen >> 8);
  memcpy(buf + 10, dict, dictLen);
  buf[10 + dictLen] = '\n';
  memset(buf + 11 + dictLen, 1, dataBytes);
  writeBytes(path, buf, 11 + dictLen + dataBytes);
}

static void testNpyRoundTrips(void) {
  static const int64_t shapes[3][2] = {{2, 3}, {0, 4}, {0, 0}};
  static const int32_t ranks[3] = {2, 2, 0};
  for (int d = 0; d < ATTN_NUM_DTYPES; ++d) {
    for (int s = 0; s < 3; ++s) {
      attn_tensor t, back;
      EXPECT_OK(attn_tensor_alloc((attn_dtype)d, ranks[s], shapes[s], &t));
      size_t nbytes = attn_tensor_nbytes(&t);
      unsigned char *bytes = (unsigned char *)t.data;
      for (size_t i = 0; i < nbytes; ++i)
        bytes[i] = (unsigned char)(d == ATTN_BOOL ? i % 2 : 17 * i + 3);
      if (d == ATTN_BF16) /* keep bf16 values finite and exact in f32 */
        for (size_t i = 0; i < nbytes / 2; ++i)
          ((uint16_t *)t.data)[i] = attn_f32_to_bf16((float)i - 2.5f);
      char *path = pathIn(tmpDir, "roundtrip.npy");
      EXPECT_OK(attn_npy_save(path, &t));
      EXPECT_OK(attn_npy_load(path, &back));
      attn_dtype expected = d == ATTN_BF16 ? ATTN_F32 : (attn_dtype)d;
      CHECK(back.dtype == expected && back.rank == t.rank);
      for (int32_t i = 0; i < t.rank; ++i)
        CHECK(back.shape[i] == t.shape[i]);
      if (d == ATTN_BF16) {
        for (size_t i = 0; i < nbytes / 2; ++i)
          CHECK(((float *)back.data)[i] == (float)i - 2.5f);
      } else if (nbytes) {
        CHECK(memcmp(back.data, t.data, nbytes) == 0);
      }
      attn_tensor_free(&t);
      attn_tensor_free(&back);
    }
  }
}

static void testNpyErrors(void) {
  attn_tensor t;
  char *path = pathIn(tmpDir, "bad.npy");
  EXPECT_ERR(attn_npy_load(pathIn(tmpDir, "does-not-exist.npy"), &t),
             ATTN_ERR_IO);
  writeBytes(path, "hello, world", 12);
  EXPECT_ERR(attn_npy_load(path, &t), ATTN_ERR_FORMAT);
  writeNpy(path, "{'descr': '<f4', 'fortran_order': True, 'shape': (2, 3), }",
           24);
  EXPECT_ERR(attn_npy_load(path, &t), ATTN_ERR_FORMAT);
  writeNpy(path, "{'descr': '>f4', 'fortran_order': False, 'shape': (2,), }",
           8);
  EXPECT_ERR(attn_npy_load(path, &t), ATTN_ERR_FORMAT);
  writeNpy(path, "{'descr': '|O', 'fortran_order': False, 'shape': (1,), }", 8);
  EXPECT_ERR(attn_npy_load(path, &t), ATTN_ERR_DTYPE);
  writeNpy(path, "{'descr': '<c8', 'fortran_order': False, 'shape': (1,), }",
           8);
  EXPECT_ERR(attn_npy_load(path, &t), ATTN_ERR_DTYPE);
  writeNpy(path, "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }",
           23);
  EXPECT_ERR(attn_npy_load(path, &t), ATTN_ERR_FORMAT);
  writeNpy(path, "{'descr': '<f4', 'shape': (2, 3), }", 24);
  EXPECT_ERR(attn_npy_load(path, &t), ATTN_ERR_FORMAT);
  writeNpy(path,
           "{'descr': [('a', '<f4')], 'fortran_order': False, "
           "'shape': (1,), }",
           4);
  EXPECT_ERR(attn_npy_load(path, &t), ATTN_ERR_FORMAT);
  /* Fortran order is harmless for vectors; '|b1' bytes other than 0/1 read
   * as true; Python 2 longs in the shape parse. */
  writeNpy(path, "{'descr': '|b1', 'fortran_order': True, 'shape': (3L,), }",
           3);
  EXPECT_OK(attn_npy_load(path, &t));
  CHECK(t.dtype == ATTN_BOOL && t.rank == 1 && t.shape[0] == 3);
  CHECK(t.data && ((unsigned char *)t.data)[2] == 1);
  attn_tensor_free(&t);
  EXPECT_OK(attn_tensor_alloc(ATTN_F32, 0, NULL, &t));
  EXPECT_ERR(attn_npy_save(pathIn(tmpDir, "no-such-dir/x.npy"), &t),
             ATTN_ERR_IO);
  attn_tensor_free(&t);
}

/*===--- threads ----------------------------------------------------------===*/

static void testThreads(void) {
  static const int threads[] = {1, 2, 3, 8};
  for (size_t t = 0; t < sizeof(threads) / sizeof(threads[0]); ++t) {
    EXPECT_OK(attn_set_num_threads(threads[t]));
    CHECK(attn_get_num_threads() == threads[t]);
  }
  /* Thread counts are bounded; a refused count changes nothing. */
  EXPECT_OK(attn_set_num_threads(ATTN_MAX_THREADS));
  CHECK(attn_get_num_threads() == ATTN_MAX_THREADS);
  EXPECT_OK(attn_set_num_threads(2));
  EXPECT_ERR(attn_set_num_threads(ATTN_MAX_THREADS + 1),
             ATTN_ERR_INVALID_ARGUMENT);
  EXPECT_ERR(attn_set_num_threads(100000), ATTN_ERR_INVALID_ARGUMENT);
  CHECK(attn_get_num_threads() == 2);
  EXPECT_OK(attn_set_num_threads(0));
  CHECK(attn_get_num_threads() >= 1 &&
        attn_get_num_threads() <= ATTN_MAX_THREADS);
}

/*===--- models -----------------------------------------------------------===*/

static void testLoadErrors(void) {
  attn_model *m = (attn_model *)1;
  EXPECT_ERR(attn_model_load(pathIn(libDir, "no-such-model.so"), &m),
             ATTN_ERR_IO);
  CHECK(m == NULL);
  EXPECT_ERR(attn_model_load(tmpDir, &m), ATTN_ERR_IO);
  char *text = pathIn(tmpDir, "not-a-library.so");
  writeBytes(text, "this is not ELF\n", 16);
  EXPECT_ERR(attn_model_load(text, &m), ATTN_ERR_LOAD);
  static const struct {
    const char *lib;
    attn_status status;
  } broken[] = {{"libattn_fake_broken1.so", ATTN_ERR_FORMAT},
                {"libattn_fake_broken2.so", ATTN_ERR_LOAD},
                {"libattn_fake_broken3.so", ATTN_ERR_LOAD},
                {"libattn_fake_broken4.so", ATTN_ERR_FORMAT},
                {"libattn_fake_broken5.so", ATTN_ERR_LOAD},
                {"libattn_fake_broken6.so", ATTN_ERR_FORMAT},
                {"libattn_fake_broken7.so", ATTN_ERR_LOAD},
                {"libattn_fake_broken8.so", ATTN_ERR_FORMAT},
                {"libattn_fake_broken9.so", ATTN_ERR_FORMAT},
                {"libattn_fake_broken10.so", ATTN_ERR_FORMAT},
                {"libattn_fake_broken11.so", ATTN_ERR_FORMAT}};
  for (size_t i = 0; i < sizeof(broken) / sizeof(broken[0]); ++i) {
    EXPECT_ERR(attn_model_load(pathIn(libDir, broken[i].lib), &m),
               broken[i].status);
    CHECK(m == NULL);
  }
  attn_model_free(NULL);
}

static void testAddModel(void) {
  attn_model *m;
  EXPECT_OK(attn_model_load(pathIn(libDir, "libattn_fake_add.so"), &m));
  if (!m)
    return;
  CHECK(attn_model_num_inputs(m) == 2 && attn_model_num_outputs(m) == 3);
  CHECK(strcmp(attn_model_target(m), "cpu") == 0);
  CHECK(strstr(attn_model_signature_json(m), "\"generic\"") != NULL);
  attn_tensor_info info;
  EXPECT_OK(attn_model_input_info(m, 0, &info));
  CHECK(strcmp(info.name, "x") == 0 && info.dtype == ATTN_F32 &&
        info.rank == 2 && info.shape[0] == -1 && info.shape[1] == -1 &&
        strcmp(info.dim_names[0], "?") == 0 &&
        strcmp(info.dim_names[1], "n") == 0);
  EXPECT_OK(attn_model_output_info(m, 2, &info));
  CHECK(strcmp(info.name, "sum/total:0") == 0 && info.rank == 0 &&
        info.dtype == ATTN_F64);
  EXPECT_ERR(attn_model_output_info(m, 3, &info), ATTN_ERR_INVALID_ARGUMENT);
  CHECK(attn_model_find_input(m, "y") == 1 &&
        attn_model_find_input(m, "z") == -1);

  float x[6] = {1, 2, 3, 4, 5, 6}, y[3] = {10, 20, 30};
  int64_t xs[2] = {2, 3}, ys[1] = {3};
  attn_tensor in[2] = {makeTensor(ATTN_F32, 2, xs, x),
                       makeTensor(ATTN_F32, 1, ys, y)};
  attn_tensor out[3];
  attn_set_num_threads(2);
  EXPECT_OK(attn_model_execute(m, in, 2, out, 3));
  CHECK(out[0].rank == 2 && out[0].shape[0] == 2 && out[0].shape[1] == 3);
  CHECK(((float *)out[0].data)[4] == 25.0f);
  CHECK(out[1].rank == 2 && out[1].shape[0] == 3 && out[1].shape[1] == 2);
  CHECK(((float *)out[1].data)[1] == 14.0f); /* out_t[0][1] = out[1][0] */
  CHECK(((float *)out[1].data)[5] == 36.0f);
  CHECK(out[2].rank == 0 && *(double *)out[2].data == 141.0);
  for (int i = 0; i < 3; ++i)
    attn_tensor_free(&out[i]);

  /* Zero rows: empty outputs are fine. */
  int64_t empty[2] = {0, 3};
  in[0] = makeTensor(ATTN_F32, 2, empty, NULL);
  EXPECT_OK(attn_model_execute(m, in, 2, out, 3));
  CHECK(out[0].shape[0] == 0 && out[1].shape[1] == 0 &&
        *(double *)out[2].data == 0.0);
  for (int i = 0; i < 3; ++i)
    attn_tensor_free(&out[i]);

  /* Validation, each with a message naming the input. */
  in[0] = makeTensor(ATTN_F32, 2, xs, x);
  EXPECT_ERR(attn_model_execute(m, in, 1, out, 3), ATTN_ERR_INVALID_ARGUMENT);
  EXPECT_ERR(attn_model_execute(m, in, 2, out, 2), ATTN_ERR_INVALID_ARGUMENT);
  in[1].dtype = ATTN_I64;
  EXPECT_ERR(attn_model_execute(m, in, 2, out, 3), ATTN_ERR_DTYPE);
  in[1].dtype = ATTN_F32;
  in[1].rank = 2;
  in[1].shape[1] = 1;
  EXPECT_ERR(attn_model_execute(m, in, 2, out, 3), ATTN_ERR_SHAPE);
  in[1] = makeTensor(ATTN_F32, 1, ys, y);
  in[1].shape[0] = 2;
  EXPECT_ERR(attn_model_execute(m, in, 2, out, 3), ATTN_ERR_SHAPE);
  in[1].shape[0] = 3;
  in[0].data = NULL;
  EXPECT_ERR(attn_model_execute(m, in, 2, out, 3), ATTN_ERR_INVALID_ARGUMENT);
  CHECK(out[0].data == NULL);
  in[0].data = x;
  in[0].shape[0] = -2;
  EXPECT_ERR(attn_model_execute(m, in, 2, out, 3), ATTN_ERR_SHAPE);
  in[0].shape[0] = 2;

  double times[5];
  EXPECT_OK(attn_model_benchmark(m, in, 2, 1, 5, times));
  for (int i = 0; i < 5; ++i)
    CHECK(times[i] >= 0);
  attn_model_free(m);
}

struct ConcurrentRun {
  attn_model *model;
  float base;
  int ok;
};

static void *runConcurrently(void *opaque) {
  struct ConcurrentRun *run = (struct ConcurrentRun *)opaque;
  enum { kRows = 64, kCols = 33 };
  float *x = (float *)malloc(sizeof(float) * kRows * kCols);
  float y[kCols];
  for (int i = 0; i < kRows * kCols; ++i)
    x[i] = run->base + (float)i;
  for (int i = 0; i < kCols; ++i)
    y[i] = (float)i;
  int64_t xs[2] = {kRows, kCols}, ys[1] = {kCols};
  attn_tensor in[2] = {makeTensor(ATTN_F32, 2, xs, x),
                       makeTensor(ATTN_F32, 1, ys, y)};
  run->ok = 1;
  for (int iter = 0; iter < 50; ++iter) {
    attn_tensor out[3];
    if (attn_model_execute(run->model, in, 2, out, 3) != ATTN_OK) {
      run->ok = 0;
      break;
    }
    for (int i = 0; i < kRows * kCols; ++i)
      run->ok &= ((float *)out[0].data)[i] == x[i] + y[i % kCols];
    for (int i = 0; i < 3; ++i)
      attn_tensor_free(&out[i]);
  }
  free(x);
  return NULL;
}

static void testConcurrentRuns(void) {
  attn_model *m;
  EXPECT_OK(attn_model_load(pathIn(libDir, "libattn_fake_add.so"), &m));
  if (!m)
    return;
  struct ConcurrentRun a = {m, 0.0f, 0}, b = {m, 1000.0f, 0};
  pthread_t ta, tb;
  pthread_create(&ta, NULL, runConcurrently, &a);
  pthread_create(&tb, NULL, runConcurrently, &b);
  pthread_join(ta, NULL);
  pthread_join(tb, NULL);
  CHECK(a.ok && b.ok);
  attn_model_free(m);
}

static void testTypesModel(void) {
  attn_model *m;
  EXPECT_OK(attn_model_load(pathIn(libDir, "libattn_fake_types.so"), &m));
  if (!m)
    return;
  int64_t ids[6] = {5, -1, 7, 0, 3, 9};
  unsigned char mask[6] = {1, 1, 0, 1, 1, 1};
  uint16_t h[3] = {attn_f32_to_f16(0.5f), attn_f32_to_f16(-1.0f),
                   attn_f32_to_f16(3.0f)};
  uint16_t g[3] = {attn_f32_to_bf16(1.0f), attn_f32_to_bf16(2.0f),
                   attn_f32_to_bf16(-0.25f)};
  unsigned char b[3] = {0, 128, 255};
  double d = 1.5;
  int64_t bs[2] = {2, 3}, s[1] = {3};
  attn_tensor in[6] = {
      makeTensor(ATTN_I64, 2, bs, ids), makeTensor(ATTN_BOOL, 2, bs, mask),
      makeTensor(ATTN_F16, 1, s, h),    makeTensor(ATTN_BF16, 1, s, g),
      makeTensor(ATTN_U8, 1, s, b),     makeTensor(ATTN_F64, 0, NULL, &d)};
  attn_tensor out[12];
  attn_status status = attn_model_execute(m, in, 6, out, 12);
  EXPECT_OK(status);
  if (status == ATTN_OK) {
    CHECK(*(int64_t *)out[1].data == 3);
    CHECK(out[2].shape[0] == 3 && ((int64_t *)out[2].data)[2] == 5);
    CHECK(((float *)out[3].data)[2] == 2.75f);
    CHECK(attn_f16_to_f32(((uint16_t *)out[4].data)[1]) == -2.0f);
    CHECK(attn_bf16_to_f32(((uint16_t *)out[5].data)[2]) == -0.5f);
    CHECK(((int8_t *)out[6].data)[2] == 127);
    CHECK(((int16_t *)out[7].data)[2] == 100 * 255 - 1000);
    CHECK(*(double *)out[8].data == 4.5);
    CHECK(((int32_t *)out[9].data)[2] == 2 &&
          ((int32_t *)out[10].data)[0] == 3);
    CHECK(((float *)out[11].data)[1] == -2.0f);
  }
  for (int i = 0; i < 12; ++i)
    attn_tensor_free(&out[i]);
  /* A mask that removes everything gives an empty, data-dependent output. */
  memset(mask, 0, sizeof(mask));
  EXPECT_OK(attn_model_execute(m, in, 6, out, 12));
  CHECK(out[2].rank == 1 && out[2].shape[0] == 0);
  for (int i = 0; i < 12; ++i)
    attn_tensor_free(&out[i]);
  /* Inconsistent symbolic dim across inputs. */
  in[2].shape[0] = 4;
  EXPECT_ERR(attn_model_execute(m, in, 6, out, 12), ATTN_ERR_SHAPE);
  attn_model_free(m);
}

static void testErrorsModel(void) {
  attn_model *m;
  EXPECT_OK(attn_model_load(pathIn(libDir, "libattn_fake_errors.so"), &m));
  if (!m)
    return;
  int64_t idx[2] = {0, 1}, n[1] = {2};
  attn_tensor in = makeTensor(ATTN_I64, 1, n, idx), out[2];
  EXPECT_OK(attn_model_execute(m, &in, 1, out, 2));
  attn_tensor_free(&out[0]);
  attn_tensor_free(&out[1]);
  idx[0] = -5;
  EXPECT_ERR(attn_model_execute(m, &in, 1, out, 2), ATTN_ERR_RUNTIME);
  idx[0] = 1000;
  EXPECT_ERR(attn_model_execute(m, &in, 1, out, 2), ATTN_ERR_RUNTIME);
  idx[0] = 999;
  EXPECT_ERR(attn_model_execute(m, &in, 1, out, 2), ATTN_ERR_RUNTIME);
  idx[0] = 7; /* an output contradicting the signature; nothing leaks */
  EXPECT_ERR(attn_model_execute(m, &in, 1, out, 2), ATTN_ERR_RUNTIME);
  double t[1];
  EXPECT_ERR(attn_model_benchmark(m, &in, 1, 0, 1, t), ATTN_ERR_RUNTIME);
  /* Out of memory: the garbage output descriptors are not freed. */
  idx[0] = 998;
  EXPECT_ERR(attn_model_execute(m, &in, 1, out, 2), ATTN_ERR_OUT_OF_MEMORY);
  CHECK(out[0].data == NULL && out[1].data == NULL);
  EXPECT_ERR(attn_model_benchmark(m, &in, 1, 1, 1, t), ATTN_ERR_OUT_OF_MEMORY);
  attn_model_free(m);

  /* attn_model_run_ex and the signature's "checks" (attn/abi.h). */
  static const int64_t cases[] = {1, 2, 3, 4, 5, 6, 8};
  for (int ex = 1; ex >= 0; --ex) {
    const char *lib =
        ex ? "libattn_fake_checks.so" : "libattn_fake_checks_old.so";
    printf("-- %s\n", lib);
    EXPECT_OK(attn_model_load(pathIn(libDir, lib), &m));
    if (!m)
      return;
    idx[0] = 0;
    attn_tensor y;
    EXPECT_OK(attn_model_execute(m, &in, 1, &y, 1));
    CHECK(y.data && ((float *)y.data)[1] == 1.0f);
    attn_tensor_free(&y);
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); ++i) {
      idx[0] = cases[i];
      EXPECT_ERR(attn_model_execute(m, &in, 1, &y, 1),
                 cases[i] == 5 ? ATTN_ERR_OUT_OF_MEMORY : ATTN_ERR_RUNTIME);
      CHECK(y.data == NULL);
      EXPECT_ERR(attn_model_benchmark(m, &in, 1, 1, 1, t),
                 cases[i] == 5 ? ATTN_ERR_OUT_OF_MEMORY : ATTN_ERR_RUNTIME);
    }
    attn_model_free(m);
  }

  EXPECT_OK(attn_model_load(pathIn(libDir, "libattn_fake_static.so"), &m));
  if (!m)
    return;
  float x[3] = {0, 0, 0};
  int64_t three[1] = {3};
  in = makeTensor(ATTN_F32, 1, three, x);
  EXPECT_ERR(attn_model_execute(m, &in, 1, out, 1), ATTN_ERR_SHAPE);
  attn_model_free(m);
}

static int npyCopy(const char *in, const char *out) {
  attn_tensor t;
  if (attn_npy_load(in, &t) != ATTN_OK || attn_npy_save(out, &t) != ATTN_OK) {
    printf("error: %s\n", attn_last_error());
    return 1;
  }
  printf("%s [", attn_dtype_name(t.dtype));
  for (int32_t i = 0; i < t.rank; ++i)
    printf(i ? ",%lld" : "%lld", (long long)t.shape[i]);
  printf("]\n");
  attn_tensor_free(&t);
  return 0;
}

int main(int argc, char **argv) {
  if (argc == 4 && strcmp(argv[1], "--npy-copy") == 0)
    return npyCopy(argv[2], argv[3]);
  if (argc != 3) {
    fprintf(stderr, "usage: %s LIB_DIR TMP_DIR | --npy-copy IN OUT\n", argv[0]);
    return 2;
  }
  libDir = argv[1];
  tmpDir = argv[2];
  printf("== dtypes\n");
  testDTypes();
  testHalfConversions();
  testTensors();
  printf("== npy\n");
  testNpyRoundTrips();
  testNpyErrors();
  printf("== threads\n");
  testThreads();
  printf("== load\n");
  testLoadErrors();
  printf("== add\n");
  testAddModel();
  testConcurrentRuns();
  printf("== types\n");
  testTypesModel();
  printf("== errors\n");
  testErrorsModel();
  if (failures) {
    printf("%d FAILURES\n", failures);
    return 1;
  }
  printf("ALL PASSED\n");
  return 0;
}
