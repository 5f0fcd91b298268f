/* kv_cache_driver: runs a model library once and writes what attn-run cannot
 * show for a --kv-cache library: the inputs AFTER the call (the caches are
 * written in place). Used by test/e2e/kv_cache*.test.
 *
 *   kv_cache_driver LIB OUTDIR NAME=FILE.npy ...
 *       attn_model_execute (the runtime's checks, then the model); writes
 *       OUTDIR/<output>.npy and OUTDIR/in.<input>.npy; on failure prints
 *       "error: <attn_last_error()>" and exits 1.
 *   kv_cache_driver --raw LIB OUTDIR NAME=FILE.npy ...
 *       calls the library's attn_model_run_ex itself (no runtime checks
 *       before the call), prints "code=C check=K a=A b=B" and writes
 *       OUTDIR/in.<input>.npy; exits 0.
 * Inputs are given for every signature input, in any order. */
#define _DEFAULT_SOURCE 1 /* realpath */
#include <attn/runtime.h>

#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int fail(const char *what) {
  printf("error: %s%s%s\n", what, *attn_last_error() ? ": " : "", attn_last_error());
  return 1;
}

static void outPath(char *buf, size_t n, const char *dir, const char *prefix, const char *name) {
  snprintf(buf, n, "%s/%s%s.npy", dir, prefix, name);
  for (char *c = buf + strlen(dir) + 1; *c; ++c)
    if (!((*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z') || (*c >= '0' && *c <= '9') ||
          *c == '.' || *c == '_' || *c == '-'))
      *c = '_';
}

int main(int argc, char **argv) {
  int raw = argc > 1 && strcmp(argv[1], "--raw") == 0;
  if (argc < 3 + raw) {
    fprintf(stderr, "usage: %s [--raw] LIB OUTDIR NAME=FILE.npy ...\n", argv[0]);
    return 2;
  }
  const char *lib = argv[1 + raw], *dir = argv[2 + raw];
  attn_model *m;
  if (attn_model_load(lib, &m) != ATTN_OK)
    return fail("load");
  size_t nIn = attn_model_num_inputs(m), nOut = attn_model_num_outputs(m);
  attn_tensor *in = calloc(nIn, sizeof(attn_tensor)), *out = calloc(nOut + 1, sizeof(attn_tensor));
  for (size_t i = 0; i < nIn; ++i) {
    attn_tensor_info info;
    attn_model_input_info(m, i, &info);
    const char *file = NULL;
    for (int a = 3 + raw; a < argc; ++a) {
      size_t len = strlen(info.name);
      if (strncmp(argv[a], info.name, len) == 0 && argv[a][len] == '=')
        file = argv[a] + len + 1;
    }
    if (!file) {
      printf("error: no file for input '%s'\n", info.name);
      return 1;
    }
    if (attn_npy_load_as(file, info.dtype, &in[i]) != ATTN_OK)
      return fail(file);
  }
  char path[4096];
  if (!raw) {
    if (attn_model_execute(m, in, nIn, out, nOut) != ATTN_OK)
      return fail("execute");
    for (size_t j = 0; j < nOut; ++j) {
      attn_tensor_info info;
      attn_model_output_info(m, j, &info);
      outPath(path, sizeof path, dir, "", info.name);
      if (attn_npy_save(path, &out[j]) != ATTN_OK)
        return fail(path);
      attn_tensor_free(&out[j]);
    }
  } else {
    char *full = realpath(lib, NULL); /* dlopen searches the library path without a '/' */
    void *h = full ? dlopen(full, RTLD_NOW | RTLD_LOCAL) : NULL;
    free(full);
    typedef int (*RunEx)(int64_t *const *, int64_t *const *, int64_t *);
    RunEx run = h ? (RunEx)dlsym(h, "attn_model_run_ex") : NULL;
    if (!run) {
      printf("error: no attn_model_run_ex in '%s': %s\n", lib, dlerror());
      return 1;
    }
    int64_t **inDesc = calloc(nIn, sizeof(int64_t *)), **outDesc = calloc(nOut + 1, sizeof(int64_t *));
    for (size_t i = 0; i < nIn; ++i) {
      int r = in[i].rank;
      inDesc[i] = calloc(3 + 2 * r, sizeof(int64_t));
      inDesc[i][0] = inDesc[i][1] = (int64_t)(intptr_t)in[i].data;
      int64_t stride = 1;
      for (int d = r - 1; d >= 0; --d) {
        inDesc[i][3 + d] = in[i].shape[d];
        inDesc[i][3 + r + d] = stride;
        stride *= in[i].shape[d] > 0 ? in[i].shape[d] : 1;
      }
    }
    for (size_t j = 0; j < nOut; ++j) {
      attn_tensor_info info;
      attn_model_output_info(m, j, &info);
      outDesc[j] = calloc(3 + 2 * info.rank, sizeof(int64_t));
    }
    int64_t status[4] = {0, 0, 0, 0};
    int code = run(inDesc, outDesc, status);
    printf("code=%d check=%lld a=%lld b=%lld\n", code, (long long)status[1], (long long)status[2],
           (long long)status[3]);
    for (size_t j = 0; j < nOut; ++j)
      free((void *)(intptr_t)outDesc[j][0]);
  }
  for (size_t i = 0; i < nIn; ++i) {
    attn_tensor_info info;
    attn_model_input_info(m, i, &info);
    outPath(path, sizeof path, dir, "in.", info.name);
    if (attn_npy_save(path, &in[i]) != ATTN_OK)
      return fail(path);
    attn_tensor_free(&in[i]);
  }
  attn_model_free(m);
  return 0;
}
