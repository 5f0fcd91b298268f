//===- ConstantData.h - reading and writing constant tensors ----*- C++ -*-===//
//
// Graph passes and lowerings that rewrite weights at compile time (transpose
// of a constant, Q/K/V weight concatenation, matmul weight packing) read the
// raw bytes of a constant tensor and write new ones as dense_resource blobs,
// so the data is copied once and never becomes per-element attributes.
//
//===----------------------------------------------------------------------===//
#ifndef ATTN_DIALECT_CONSTANTDATA_H
#define ATTN_DIALECT_CONSTANTDATA_H

#include "mlir/IR/Builders.h"
#include "mlir/IR/BuiltinTypes.h"
#include "mlir/IR/Value.h"

#include <optional>

namespace mlir::attn {

/// The row-major element bytes of a constant tensor with a static shape:
/// `splat` means `data` holds one element that stands for all of them.
struct ConstantBytes {
  ArrayRef<char> data;
  bool splat = false;
  int64_t elementBytes = 0;
  /// Element `i` (a splat answers every index with its one element).
  ArrayRef<char> element(int64_t i) const {
    return data.slice(splat ? 0 : i * elementBytes, elementBytes);
  }
};

/// The bytes of `v` if it is an `arith.constant` holding a dense or
/// dense_resource attribute of a non-bool element type (bools are bit-packed
/// in dense attributes), with a static shape; std::nullopt otherwise.
std::optional<ConstantBytes> getConstantBytes(Value v);

/// An `arith.constant` of `type` holding `bytes` (row-major elements): a
/// dense_resource blob named after `blobName` (uniqued), or an inline dense
/// attribute when the tensor is tiny.
Value createConstantFromBytes(OpBuilder &b, Location loc, RankedTensorType type,
                              ArrayRef<char> bytes, StringRef blobName);

/// The value of a constant all of whose elements are equal (a splat or a
/// one-element dense constant), as a double; std::nullopt otherwise.
std::optional<double> getSplatValue(Value v);

/// A name for a blob derived from `v`'s constant (its blob name, or `fallback`).
std::string constantBlobName(Value v, StringRef suffix, StringRef fallback = "weight");

} // namespace mlir::attn

#endif // ATTN_DIALECT_CONSTANTDATA_H
