//===- Internal.h - shared helpers of the attn runtime ----------*- C++ -*-===//
//
// Not installed: only the runtime's own translation units include this.
//
//===----------------------------------------------------------------------===//
#ifndef ATTN_RUNTIME_LIB_INTERNAL_H
#define ATTN_RUNTIME_LIB_INTERNAL_H

#include "attn/runtime.h"

#include <cstdint>
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

} // namespace rt
} // namespace attn

#endif // ATTN_RUNTIME_LIB_INTERNAL_H
