/*===- fake_cuda.c - a fake CUDA driver (libcuda.so.1) for tests -----------===*
 *
 * Built as libcuda.so.1 in its own directory (runtime/CMakeLists.txt); a test
 * puts that directory on LD_LIBRARY_PATH so that the runtime's dlopen of the
 * driver finds it. One "device" (sm_90) whose memory is host memory: device
 * pointers are malloc()ed blocks and copies are memcpy, so a hand-written
 * fake model (fake_lm.c with FAKE_CUDA=1, signature target "cuda") runs
 * through Cuda.cpp's copy-in / copy-out path without a GPU. No kernels:
 * cuModuleLoadData and cuLaunchKernel fail. Tests check the generated
 * tokens, which go wrong if the model's in-place cache writes (made in the
 * "device" copy) are not copied back to the caller's buffers.
 *===----------------------------------------------------------------------===*/
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define EXPORT __attribute__((visibility("default")))

typedef int CUresult;
typedef unsigned long long CUdeviceptr;
enum { OK = 0, ERR_INVALID_VALUE = 1, ERR_OUT_OF_MEMORY = 2, ERR_NOT_SUPPORTED = 801 };

static int ctx_token, stream_token;

EXPORT CUresult cuInit(unsigned flags) { return flags ? ERR_INVALID_VALUE : OK; }
EXPORT CUresult cuGetErrorName(CUresult r, const char **s) {
  *s = r == OK ? "CUDA_SUCCESS" : "FAKE_CUDA_ERROR";
  return OK;
}
EXPORT CUresult cuGetErrorString(CUresult r, const char **s) {
  *s = r == OK ? "no error" : "fake driver error";
  return OK;
}
EXPORT CUresult cuDeviceGetCount(int *n) {
  *n = 1;
  return OK;
}
EXPORT CUresult cuDeviceGet(int *dev, int ordinal) {
  if (ordinal != 0)
    return ERR_INVALID_VALUE;
  *dev = 0;
  return OK;
}
EXPORT CUresult cuDeviceGetName(char *name, int len, int dev) {
  (void)dev;
  strncpy(name, "fake CUDA device", (size_t)len);
  if (len > 0)
    name[len - 1] = 0;
  return OK;
}
EXPORT CUresult cuDeviceGetAttribute(int *v, int attr, int dev) {
  (void)dev;
  *v = attr == 75 ? 9 : 0; /* compute capability 9.0 */
  return OK;
}
EXPORT CUresult cuDevicePrimaryCtxRetain(void **ctx, int dev) {
  (void)dev;
  *ctx = &ctx_token;
  return OK;
}
EXPORT CUresult cuDevicePrimaryCtxRelease_v2(int dev) {
  (void)dev;
  return OK;
}
EXPORT CUresult cuCtxSetCurrent(void *ctx) {
  (void)ctx;
  return OK;
}
EXPORT CUresult cuStreamCreate(void **stream, unsigned flags) {
  (void)flags;
  *stream = &stream_token;
  return OK;
}
EXPORT CUresult cuStreamDestroy_v2(void *stream) {
  (void)stream;
  return OK;
}
EXPORT CUresult cuStreamSynchronize(void *stream) {
  (void)stream;
  return OK;
}
EXPORT CUresult cuModuleLoadData(void **module, const void *image) {
  (void)module;
  (void)image;
  return ERR_NOT_SUPPORTED;
}
EXPORT CUresult cuModuleUnload(void *module) {
  (void)module;
  return OK;
}
EXPORT CUresult cuModuleGetFunction(void **fn, void *module, const char *name) {
  (void)fn;
  (void)module;
  (void)name;
  return ERR_NOT_SUPPORTED;
}
EXPORT CUresult cuLaunchKernel(void *f, unsigned gx, unsigned gy, unsigned gz, unsigned bx,
                               unsigned by, unsigned bz, unsigned shared, void *stream,
                               void **params, void **extra) {
  (void)f, (void)gx, (void)gy, (void)gz, (void)bx, (void)by, (void)bz, (void)shared;
  (void)stream, (void)params, (void)extra;
  return ERR_NOT_SUPPORTED;
}
EXPORT CUresult cuMemAlloc_v2(CUdeviceptr *p, size_t bytes) {
  void *m = malloc(bytes ? bytes : 1);
  if (!m)
    return ERR_OUT_OF_MEMORY;
  /* Poison: a model that reads what was never copied in sees garbage. */
  memset(m, 0x7f, bytes);
  *p = (CUdeviceptr)(uintptr_t)m;
  return OK;
}
EXPORT CUresult cuMemFree_v2(CUdeviceptr p) {
  free((void *)(uintptr_t)p);
  return OK;
}
EXPORT CUresult cuMemcpyHtoDAsync_v2(CUdeviceptr dst, const void *src, size_t bytes,
                                     void *stream) {
  (void)stream;
  memcpy((void *)(uintptr_t)dst, src, bytes);
  return OK;
}
EXPORT CUresult cuMemcpyDtoHAsync_v2(void *dst, CUdeviceptr src, size_t bytes, void *stream) {
  (void)stream;
  memcpy(dst, (const void *)(uintptr_t)src, bytes);
  return OK;
}
