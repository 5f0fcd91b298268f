//===- Internal.h - shared helpers of the attn runtime ----------*- C++ -*-===//
//
// Not installed: only the runtime's own translation units include this.
//
//===----------------------------------------------------------------------===//
#ifndef ATTN_RUNTIME_LIB_INTERNAL_H
#define ATTN_RUNTIME_LIB_INTERNAL_H

#include "attn/runtime.h"

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

namespace attn {
namespace rt {

/// Records `message` as this thread's last error and returns `status`, so
/// that failures read `return fail(ATTN_ERR_IO, "...")`.
attn_status fail(attn_status status, std::string message);

/// printf-style formatting into a std::string.
std::string format(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/// "f32[2,?,seq]"-style rendering of a shape for messages.
std::string shapeString(const attn_tensor &tensor);

/// True if `dtype` is one of the enumerators of attn_dtype.
inline bool isValidDType(attn_dtype dtype) {
  return static_cast<unsigned>(dtype) < ATTN_NUM_DTYPES;
}

/// Checks rank and dims of a tensor given by a caller and computes its
/// element count and byte size; `what` names the tensor in messages.
attn_status checkTensorShape(const attn_tensor &tensor, const std::string &what,
                             int64_t &numel, size_t &nbytes);

/// Checks, with plain reads, that `path` is a 64-bit little-endian ELF shared
/// library for this machine whose headers, loadable segments and dynamic
/// table lie inside the file (Elf.cpp): dlopen() maps the file trusting
/// them, and a truncated library would otherwise die with SIGBUS.
attn_status checkModelElf(const std::string &path);

//===----------------------------------------------------------------------===//
// A compact JSON value and parser, enough for model signatures.
//===----------------------------------------------------------------------===//

struct JsonValue {
  enum Kind { Null, Bool, Number, String, Array, Object } kind = Null;
  bool boolean = false;
  double number = 0;
  /// Set for numbers written as integers that fit in int64.
  bool isInteger = false;
  int64_t integer = 0;
  std::string string;
  std::vector<JsonValue> elements;
  /// Object members in source order (duplicates are rejected by the parser).
  std::vector<std::pair<std::string, JsonValue>> members;

  /// The member named `key`, or null if absent (objects only).
  const JsonValue *get(const std::string &key) const;
};

/// Parses `text` as one JSON document. On failure returns false and sets
/// `error` to a message with the byte offset.
bool parseJson(const std::string &text, JsonValue &out, std::string &error);

//===----------------------------------------------------------------------===//
// CUDA models (Cuda.cpp). The driver is dlopen()ed on first use.
//===----------------------------------------------------------------------===//

struct CudaSession;

/// Opens a session (primary context, stream, caches) for a model compiled
/// for `arch` ("sm_90"); ATTN_ERR_NO_DEVICE when there is no usable device.
attn_status cudaOpen(const std::string &modelPath, const std::string &arch,
                     CudaSession **out);
void cudaClose(CudaSession *session);

/// Runs a CUDA model: copies the host input descriptors' data to the device,
/// calls `run` with device descriptors, and rewrites `outputs` (filled by the
/// model with device views) into malloc()ed host blocks with the same offsets
/// and strides. `modelStatus` is run's return value. Inputs with
/// stateInputs[i] != 0 (the "kv_cache": true caches of a --kv-cache library,
/// which the model writes in place) are copied back from the device into the
/// caller's host buffers after a successful run.
/// `run` calls the model's run function (attn_model_run or _run_ex).
using ModelRunFn = std::function<int32_t(int64_t *const *, int64_t *const *)>;
attn_status cudaRun(CudaSession *session, const ModelRunFn &run,
                    const std::vector<std::vector<int64_t>> &hostInputs,
                    const std::vector<size_t> &inputElemSizes,
                    const std::vector<uint8_t> &stateInputs,
                    std::vector<std::vector<int64_t>> &outputs,
                    const std::vector<size_t> &outputElemSizes,
                    int32_t &modelStatus);

} // namespace rt
} // namespace attn

#endif // ATTN_RUNTIME_LIB_INTERNAL_H
