//===- Cuda.cpp - running CUDA model libraries ----------------------------===//
//
// The CUDA driver API is loaded with dlopen("libcuda.so.1") on first use, and
// every entry point is declared here, so the runtime builds and loads on a
// machine without CUDA; a CUDA model then fails to load with "no CUDA
// device". Per model instance: the device's primary context, one stream, the
// modules loaded from the library's embedded cubin/PTX, and the device copies
// of its constants. Generated host code calls the attn_cuda_* functions of
// attn/abi.h; they work on the session of the thread's current run.
//
//===----------------------------------------------------------------------===//
#include "Internal.h"
#include "attn/abi.h"

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <dlfcn.h>
#include <mutex>
#include <unordered_map>

using namespace attn::rt;

namespace {

// Driver API types and constants (cuda.h, declared locally).
using CUresult = int;
using CUdevice = int;
using CUdeviceptr = unsigned long long;
using CUcontext = struct CUctx_st *;
using CUmodule = struct CUmod_st *;
using CUfunction = struct CUfunc_st *;
using CUstream = struct CUstream_st *;
constexpr CUresult CUDA_SUCCESS = 0;
constexpr int CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MAJOR = 75;
constexpr int CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MINOR = 76;
constexpr int CU_STREAM_NON_BLOCKING = 1;

struct Driver {
  void *handle = nullptr;
  std::string loadError; // empty when loaded and initialized
  CUresult (*cuInit)(unsigned);
  CUresult (*cuGetErrorName)(CUresult, const char **);
  CUresult (*cuGetErrorString)(CUresult, const char **);
  CUresult (*cuDeviceGetCount)(int *);
  CUresult (*cuDeviceGet)(CUdevice *, int);
  CUresult (*cuDeviceGetName)(char *, int, CUdevice);
  CUresult (*cuDeviceGetAttribute)(int *, int, CUdevice);
  CUresult (*cuDevicePrimaryCtxRetain)(CUcontext *, CUdevice);
  CUresult (*cuDevicePrimaryCtxRelease)(CUdevice);
  CUresult (*cuCtxSetCurrent)(CUcontext);
  CUresult (*cuStreamCreate)(CUstream *, unsigned);
  CUresult (*cuStreamDestroy)(CUstream);
  CUresult (*cuStreamSynchronize)(CUstream);
  CUresult (*cuModuleLoadData)(CUmodule *, const void *);
  CUresult (*cuModuleUnload)(CUmodule);
  CUresult (*cuModuleGetFunction)(CUfunction *, CUmodule, const char *);
  CUresult (*cuLaunchKernel)(CUfunction, unsigned, unsigned, unsigned, unsigned, unsigned,
                             unsigned, unsigned, CUstream, void **, void **);
  CUresult (*cuMemAlloc)(CUdeviceptr *, size_t);
  CUresult (*cuMemFree)(CUdeviceptr);
  CUresult (*cuMemcpyHtoDAsync)(CUdeviceptr, const void *, size_t, CUstream);
  CUresult (*cuMemcpyDtoHAsync)(void *, CUdeviceptr, size_t, CUstream);
  // Stream-ordered allocation (CUDA 11.2+); optional.
  CUresult (*cuMemAllocAsync)(CUdeviceptr *, size_t, CUstream) = nullptr;
  CUresult (*cuMemFreeAsync)(CUdeviceptr, CUstream) = nullptr;
};

std::string cuErrorText(const Driver &d, CUresult r) {
  const char *name = nullptr, *text = nullptr;
  if (d.cuGetErrorName)
    d.cuGetErrorName(r, &name);
  if (d.cuGetErrorString)
    d.cuGetErrorString(r, &text);
  return format("%s (%d): %s", name ? name : "CUDA error", r, text ? text : "unknown");
}

/// Loads and initializes the driver once per process.
const Driver &driver() {
  static Driver d;
  static std::once_flag once;
  std::call_once(once, [] {
    dlerror();
    d.handle = dlopen("libcuda.so.1", RTLD_NOW | RTLD_LOCAL);
    if (!d.handle) {
      const char *why = dlerror();
      d.loadError = format("no CUDA driver (%s)", why ? why : "libcuda.so.1 not found");
      return;
    }
    bool ok = true;
    auto sym = [&](auto &fn, const char *name, bool required = true) {
      void *p = dlsym(d.handle, name);
      if (!p && required) {
        ok = false;
        d.loadError = format("the CUDA driver lacks %s", name);
      }
      std::memcpy(&fn, &p, sizeof(p));
    };
    sym(d.cuInit, "cuInit");
    sym(d.cuGetErrorName, "cuGetErrorName");
    sym(d.cuGetErrorString, "cuGetErrorString");
    sym(d.cuDeviceGetCount, "cuDeviceGetCount");
    sym(d.cuDeviceGet, "cuDeviceGet");
    sym(d.cuDeviceGetName, "cuDeviceGetName");
    sym(d.cuDeviceGetAttribute, "cuDeviceGetAttribute");
    sym(d.cuDevicePrimaryCtxRetain, "cuDevicePrimaryCtxRetain");
    sym(d.cuDevicePrimaryCtxRelease, "cuDevicePrimaryCtxRelease_v2");
    sym(d.cuCtxSetCurrent, "cuCtxSetCurrent");
    sym(d.cuStreamCreate, "cuStreamCreate");
    sym(d.cuStreamDestroy, "cuStreamDestroy_v2");
    sym(d.cuStreamSynchronize, "cuStreamSynchronize");
    sym(d.cuModuleLoadData, "cuModuleLoadData");
    sym(d.cuModuleUnload, "cuModuleUnload");
    sym(d.cuModuleGetFunction, "cuModuleGetFunction");
    sym(d.cuLaunchKernel, "cuLaunchKernel");
    sym(d.cuMemAlloc, "cuMemAlloc_v2");
    sym(d.cuMemFree, "cuMemFree_v2");
    sym(d.cuMemcpyHtoDAsync, "cuMemcpyHtoDAsync_v2");
    sym(d.cuMemcpyDtoHAsync, "cuMemcpyDtoHAsync_v2");
    sym(d.cuMemAllocAsync, "cuMemAllocAsync", false);
    sym(d.cuMemFreeAsync, "cuMemFreeAsync", false);
    if (!ok)
      return;
    if (CUresult r = d.cuInit(0)) {
      d.loadError = "cuInit failed: " + cuErrorText(d, r);
      return;
    }
    int count = 0;
    if (CUresult r = d.cuDeviceGetCount(&count)) {
      d.loadError = "cuDeviceGetCount failed: " + cuErrorText(d, r);
      return;
    }
    if (count == 0)
      d.loadError = "the CUDA driver reports no devices";
  });
  return d;
}

} // namespace

namespace attn {
namespace rt {

struct CudaSession {
  std::string modelPath;
  CUdevice device = 0;
  CUcontext context = nullptr;
  CUstream stream = nullptr;
  std::mutex mutex; // guards the caches
  std::unordered_map<const void *, CUmodule> modules;
  std::unordered_map<std::string, CUfunction> functions; // "<cubin ptr>/<name>"
  std::unordered_map<const void *, CUdeviceptr> constants;
};

} // namespace rt
} // namespace attn

namespace {

/// The state of the current thread's run of a CUDA model.
struct RunState {
  CudaSession *session = nullptr;
  bool failed = false;
  std::string error;
  const char *lastKernel = nullptr;
  bool syncEachLaunch = false;
};
thread_local RunState *currentRun = nullptr;

/// Records the first error of the run; later calls become no-ops.
void runError(RunState &run, std::string message) {
  if (run.failed)
    return;
  run.failed = true;
  run.error = std::move(message);
}

/// The run a generated call belongs to, or null (with a message) if the
/// model's code is called outside attn_model_execute.
RunState *activeRun(const char *what) {
  if (!currentRun) {
    std::fprintf(stderr, "attn runtime: %s called outside a CUDA model run\n", what);
    return nullptr;
  }
  return currentRun->failed ? nullptr : currentRun;
}

CUdeviceptr deviceAlloc(RunState &run, size_t bytes, const char *what) {
  const Driver &d = driver();
  // Empty tensors still get a distinct, valid pointer.
  if (bytes < 256)
    bytes = 256;
  CUdeviceptr p = 0;
  CUresult r = d.cuMemAllocAsync ? d.cuMemAllocAsync(&p, bytes, run.session->stream)
                                 : d.cuMemAlloc(&p, bytes);
  if (r != CUDA_SUCCESS) {
    runError(run, format("cannot allocate %zu bytes of device memory for %s: %s", bytes, what,
                         cuErrorText(d, r).c_str()));
    return 0;
  }
  return p;
}

void deviceFree(RunState &run, CUdeviceptr p) {
  const Driver &d = driver();
  if (!p)
    return;
  if (d.cuMemFreeAsync) {
    d.cuMemFreeAsync(p, run.session->stream);
    return;
  }
  // cuMemFree does not wait for the stream: kernels may still read `p`.
  d.cuStreamSynchronize(run.session->stream);
  d.cuMemFree(p);
}

/// Bytes spanned by a strided descriptor (from its aligned pointer, offset
/// included); 0 for an empty tensor.
size_t spanBytes(const int64_t *desc, int32_t rank, size_t elem) {
  int64_t last = desc[2];
  for (int32_t d = 0; d < rank; ++d) {
    int64_t size = desc[3 + d], stride = desc[3 + rank + d];
    if (size == 0)
      return 0;
    if (stride > 0)
      last += (size - 1) * stride;
  }
  return static_cast<size_t>(last + 1) * elem;
}

} // namespace

namespace attn {
namespace rt {

attn_status cudaOpen(const std::string &modelPath, const std::string &arch,
                     CudaSession **out) {
  *out = nullptr;
  const Driver &d = driver();
  if (!d.loadError.empty())
    return fail(ATTN_ERR_NO_DEVICE,
                format("'%s' targets cuda, but there is no CUDA device: %s", modelPath.c_str(),
                       d.loadError.c_str()));
  auto session = std::make_unique<CudaSession>();
  session->modelPath = modelPath;
  int ordinal = 0;
  if (const char *env = std::getenv("ATTN_CUDA_DEVICE"))
    ordinal = std::atoi(env);
  if (CUresult r = d.cuDeviceGet(&session->device, ordinal))
    return fail(ATTN_ERR_NO_DEVICE, format("'%s': no CUDA device %d: %s", modelPath.c_str(),
                                           ordinal, cuErrorText(d, r).c_str()));
  char name[256] = "?";
  d.cuDeviceGetName(name, sizeof(name), session->device);
  int major = 0, minor = 0;
  d.cuDeviceGetAttribute(&major, CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MAJOR, session->device);
  d.cuDeviceGetAttribute(&minor, CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MINOR, session->device);
  int want = 0;
  if (arch.size() > 3 && arch.compare(0, 3, "sm_") == 0)
    want = std::atoi(arch.c_str() + 3);
  if (want > major * 10 + minor)
    return fail(ATTN_ERR_NO_DEVICE,
                format("'%s' was compiled for %s, but CUDA device %d (%s) is sm_%d%d",
                       modelPath.c_str(), arch.c_str(), ordinal, name, major, minor));
  if (CUresult r = d.cuDevicePrimaryCtxRetain(&session->context, session->device))
    return fail(ATTN_ERR_NO_DEVICE, format("'%s': cannot create a context on %s: %s",
                                           modelPath.c_str(), name, cuErrorText(d, r).c_str()));
  d.cuCtxSetCurrent(session->context);
  if (CUresult r = d.cuStreamCreate(&session->stream, CU_STREAM_NON_BLOCKING)) {
    d.cuDevicePrimaryCtxRelease(session->device);
    return fail(ATTN_ERR_NO_DEVICE, format("'%s': cannot create a CUDA stream: %s",
                                           modelPath.c_str(), cuErrorText(d, r).c_str()));
  }
  *out = session.release();
  return ATTN_OK;
}

void cudaClose(CudaSession *session) {
  if (!session)
    return;
  const Driver &d = driver();
  d.cuCtxSetCurrent(session->context);
  d.cuStreamSynchronize(session->stream);
  for (auto &[host, dev] : session->constants)
    d.cuMemFree(dev);
  for (auto &[image, module] : session->modules)
    d.cuModuleUnload(module);
  d.cuStreamDestroy(session->stream);
  d.cuDevicePrimaryCtxRelease(session->device);
  delete session;
}

attn_status cudaRun(CudaSession *session, const ModelRunFn &run,
                    const std::vector<std::vector<int64_t>> &hostInputs,
                    const std::vector<size_t> &inputElemSizes,
                    const std::vector<uint8_t> &stateInputs,
                    std::vector<std::vector<int64_t>> &outputs,
                    const std::vector<size_t> &outputElemSizes, int32_t &modelStatus) {
  const Driver &d = driver();
  const char *path = session->modelPath.c_str();
  d.cuCtxSetCurrent(session->context);
  RunState state;
  state.session = session;
  const char *sync = std::getenv("ATTN_CUDA_SYNC");
  state.syncEachLaunch = sync && *sync && std::strcmp(sync, "0") != 0;
  CUstream stream = session->stream;

  // Inputs: device copies with the same (row-major) descriptors.
  std::vector<std::vector<int64_t>> devInputs = hostInputs;
  std::vector<CUdeviceptr> inputBlocks;
  std::vector<int64_t *> inPtrs, outPtrs;
  auto cleanupInputs = [&] {
    for (CUdeviceptr p : inputBlocks)
      deviceFree(state, p);
    d.cuStreamSynchronize(stream);
  };
  for (size_t i = 0; i < devInputs.size(); ++i) {
    std::vector<int64_t> &desc = devInputs[i];
    int32_t rank = static_cast<int32_t>((desc.size() - 3) / 2);
    size_t bytes = spanBytes(desc.data(), rank, inputElemSizes[i]);
    CUdeviceptr p = deviceAlloc(state, bytes, "a model input");
    if (!p) {
      cleanupInputs();
      return fail(ATTN_ERR_OUT_OF_MEMORY, format("'%s': %s", path, state.error.c_str()));
    }
    inputBlocks.push_back(p);
    if (bytes) {
      const void *src = reinterpret_cast<const void *>(static_cast<intptr_t>(desc[1]));
      if (CUresult r = d.cuMemcpyHtoDAsync(p, src, bytes, stream)) {
        cleanupInputs();
        return fail(ATTN_ERR_RUNTIME, format("'%s': copying input %zu to the device: %s", path,
                                             i, cuErrorText(d, r).c_str()));
      }
    }
    desc[0] = desc[1] = static_cast<int64_t>(p);
    inPtrs.push_back(desc.data());
  }
  for (auto &desc : outputs)
    outPtrs.push_back(desc.data());

  currentRun = &state;
  modelStatus = run(inPtrs.data(), outPtrs.data());
  currentRun = nullptr;

  if (!state.failed)
    if (CUresult r = d.cuStreamSynchronize(stream))
      runError(state, format("a kernel failed (last launched: %s): %s",
                             state.lastKernel ? state.lastKernel : "none",
                             cuErrorText(d, r).c_str()));
  if (state.failed || modelStatus != ATTN_MODEL_OK) {
    // The outputs are not trusted: only the inputs are released.
    cleanupInputs();
    if (state.failed)
      return fail(ATTN_ERR_RUNTIME, format("model '%s' failed on the GPU: %s", path,
                                           state.error.c_str()));
    return ATTN_OK; // the caller reports modelStatus
  }

  // Outputs: copy each device view back into a host block with the same
  // offset and strides, then release device blocks the model allocated.
  const int64_t deadBeef = 0xdeadbeef;
  std::vector<CUdeviceptr> toFree;
  std::vector<void *> hostBlocks;
  attn_status status = ATTN_OK;
  for (size_t j = 0; j < outputs.size(); ++j) {
    std::vector<int64_t> &desc = outputs[j];
    int32_t rank = static_cast<int32_t>((desc.size() - 3) / 2);
    size_t bytes = spanBytes(desc.data(), rank, outputElemSizes[j]);
    void *host = std::malloc(bytes ? bytes : 1);
    if (!host) {
      status = fail(ATTN_ERR_OUT_OF_MEMORY,
                    format("cannot allocate %zu bytes for output %zu", bytes, j));
      break;
    }
    hostBlocks.push_back(host);
    if (bytes)
      if (CUresult r = d.cuMemcpyDtoHAsync(host, static_cast<CUdeviceptr>(desc[1]), bytes,
                                           stream)) {
        status = fail(ATTN_ERR_RUNTIME, format("'%s': copying output %zu from the device: %s",
                                               path, j, cuErrorText(d, r).c_str()));
        break;
      }
    CUdeviceptr block = static_cast<CUdeviceptr>(desc[0]);
    bool isInput = false;
    for (CUdeviceptr in : inputBlocks)
      isInput |= in == block;
    bool seen = false;
    for (CUdeviceptr f : toFree)
      seen |= f == block;
    if (block && desc[0] != deadBeef && !isInput && !seen)
      toFree.push_back(block);
    desc[0] = desc[1] = reinterpret_cast<intptr_t>(host);
  }
  // State inputs ("kv_cache": true caches of a --kv-cache library): the model
  // wrote the new tokens' K/V into the device copy, so the whole buffer goes
  // back to the caller's host buffer (same layout as on the way in). This is
  // the correct but slow path: it moves the full cache twice per call. The
  // fast path to build is device-resident state (a cache that lives on the
  // device across calls of a generation session).
  for (size_t i = 0; status == ATTN_OK && i < hostInputs.size(); ++i) {
    if (i >= stateInputs.size() || !stateInputs[i])
      continue;
    const std::vector<int64_t> &desc = hostInputs[i];
    int32_t rank = static_cast<int32_t>((desc.size() - 3) / 2);
    size_t bytes = spanBytes(desc.data(), rank, inputElemSizes[i]);
    if (!bytes)
      continue;
    void *dst = reinterpret_cast<void *>(static_cast<intptr_t>(desc[1]));
    if (CUresult r = d.cuMemcpyDtoHAsync(dst, inputBlocks[i], bytes, stream))
      status = fail(ATTN_ERR_RUNTIME, format("'%s': copying state input %zu back from the "
                                             "device: %s",
                                             path, i, cuErrorText(d, r).c_str()));
  }
  if (status == ATTN_OK)
    if (CUresult r = d.cuStreamSynchronize(stream))
      status = fail(ATTN_ERR_RUNTIME, format("'%s': copying outputs from the device: %s", path,
                                             cuErrorText(d, r).c_str()));
  for (CUdeviceptr p : toFree)
    deviceFree(state, p);
  cleanupInputs();
  if (status != ATTN_OK) {
    for (void *h : hostBlocks)
      std::free(h);
    for (auto &desc : outputs)
      std::fill(desc.begin(), desc.end(), 0);
  }
  return status;
}

} // namespace rt
} // namespace attn

//===----------------------------------------------------------------------===//
// Functions called by generated host code (attn/abi.h)
//===----------------------------------------------------------------------===//

extern "C" ATTN_API void *attn_cuda_malloc(int64_t bytes) {
  RunState *run = activeRun("attn_cuda_malloc");
  if (!run)
    return nullptr;
  if (bytes < 0) {
    runError(*run, format("attn_cuda_malloc: negative size %lld", (long long)bytes));
    return nullptr;
  }
  return reinterpret_cast<void *>(
      static_cast<uintptr_t>(deviceAlloc(*run, static_cast<size_t>(bytes), "a tensor")));
}

extern "C" ATTN_API void attn_cuda_free(void *ptr) {
  // Frees are honoured even after an error, so that nothing leaks.
  if (!currentRun || !ptr)
    return;
  deviceFree(*currentRun, static_cast<CUdeviceptr>(reinterpret_cast<uintptr_t>(ptr)));
}

extern "C" ATTN_API void *attn_cuda_constant(const void *host, int64_t bytes) {
  RunState *run = activeRun("attn_cuda_constant");
  if (!run)
    return nullptr;
  CudaSession &s = *run->session;
  std::lock_guard<std::mutex> lock(s.mutex);
  auto it = s.constants.find(host);
  if (it != s.constants.end())
    return reinterpret_cast<void *>(static_cast<uintptr_t>(it->second));
  const Driver &d = driver();
  CUdeviceptr p = 0;
  size_t n = bytes > 0 ? static_cast<size_t>(bytes) : 1;
  if (CUresult r = d.cuMemAlloc(&p, n)) {
    runError(*run, format("cannot allocate %zu bytes of device memory for a constant: %s", n,
                          cuErrorText(d, r).c_str()));
    return nullptr;
  }
  if (bytes > 0)
    if (CUresult r = d.cuMemcpyHtoDAsync(p, host, n, s.stream)) {
      d.cuMemFree(p);
      runError(*run, format("cannot copy a constant to the device: %s", cuErrorText(d, r).c_str()));
      return nullptr;
    }
  s.constants.emplace(host, p);
  return reinterpret_cast<void *>(static_cast<uintptr_t>(p));
}

extern "C" ATTN_API void attn_cuda_read(void *host, const void *device, int64_t bytes) {
  // A value the host code needs (a shape entry, a status flag): every
  // kernel before it must have finished, so the stream is synchronized.
  RunState *run = activeRun("attn_cuda_read");
  if (!run || bytes <= 0) {
    if (host && bytes > 0)
      std::memset(host, 0, static_cast<size_t>(bytes));
    return;
  }
  const Driver &d = driver();
  CUstream stream = run->session->stream;
  CUresult r = d.cuMemcpyDtoHAsync(host, static_cast<CUdeviceptr>(reinterpret_cast<uintptr_t>(device)),
                                   static_cast<size_t>(bytes), stream);
  if (!r)
    r = d.cuStreamSynchronize(stream);
  if (r) {
    std::memset(host, 0, static_cast<size_t>(bytes));
    runError(*run, format("reading %lld bytes of device memory on the host: %s", (long long)bytes,
                          cuErrorText(d, r).c_str()));
  }
}

extern "C" ATTN_API void attn_cuda_launch(const void *cubin, int64_t cubinSize, const char *ptx,
                                          const char *kernel, int64_t gx, int64_t gy, int64_t gz,
                                          int64_t bx, int64_t by, int64_t bz,
                                          int32_t sharedBytes, void **params) {
  (void)cubinSize;
  RunState *run = activeRun("attn_cuda_launch");
  if (!run)
    return;
  if (gx == 0 || gy == 0 || gz == 0)
    return; // empty iteration space
  if (gx < 0 || gy < 0 || gz < 0 || gx > 0x7fffffff || gy > 65535 || gz > 65535 || bx <= 0 ||
      by <= 0 || bz <= 0 || bx * by * bz > 1024) {
    runError(*run, format("kernel '%s': invalid launch grid (%lld,%lld,%lld) x block "
                          "(%lld,%lld,%lld)",
                          kernel, (long long)gx, (long long)gy, (long long)gz, (long long)bx,
                          (long long)by, (long long)bz));
    return;
  }
  const Driver &d = driver();
  CudaSession &s = *run->session;
  CUfunction fn = nullptr;
  {
    std::lock_guard<std::mutex> lock(s.mutex);
    std::string key = format("%p/%s", cubin, kernel);
    auto fit = s.functions.find(key);
    if (fit != s.functions.end()) {
      fn = fit->second;
    } else {
      CUmodule module = nullptr;
      auto mit = s.modules.find(cubin);
      if (mit != s.modules.end()) {
        module = mit->second;
      } else {
        CUresult r = d.cuModuleLoadData(&module, cubin);
        if (r != CUDA_SUCCESS && ptx) {
          // Not loadable as is (e.g. a newer device): JIT the PTX.
          CUresult r2 = d.cuModuleLoadData(&module, ptx);
          if (r2 != CUDA_SUCCESS) {
            runError(*run, format("kernel '%s': cannot load its module: cubin: %s; PTX: %s",
                                  kernel, cuErrorText(d, r).c_str(),
                                  cuErrorText(d, r2).c_str()));
            return;
          }
        } else if (r != CUDA_SUCCESS) {
          runError(*run, format("kernel '%s': cannot load its module: %s", kernel,
                                cuErrorText(d, r).c_str()));
          return;
        }
        s.modules.emplace(cubin, module);
      }
      if (CUresult r = d.cuModuleGetFunction(&fn, module, kernel)) {
        runError(*run, format("kernel '%s' is not in its module: %s", kernel,
                              cuErrorText(d, r).c_str()));
        return;
      }
      s.functions.emplace(key, fn);
    }
  }
  run->lastKernel = kernel;
  if (CUresult r = d.cuLaunchKernel(fn, (unsigned)gx, (unsigned)gy, (unsigned)gz, (unsigned)bx,
                                    (unsigned)by, (unsigned)bz, (unsigned)sharedBytes, s.stream,
                                    params, nullptr)) {
    runError(*run, format("launching kernel '%s' failed: %s", kernel, cuErrorText(d, r).c_str()));
    return;
  }
  if (run->syncEachLaunch)
    if (CUresult r = d.cuStreamSynchronize(s.stream))
      runError(*run, format("kernel '%s' failed: %s", kernel, cuErrorText(d, r).c_str()));
}
