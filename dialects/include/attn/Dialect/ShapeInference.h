//===- ShapeInference.h - shape rules shared by ops and passes --*- C++ -*-===//
#ifndef ATTN_DIALECT_SHAPEINFERENCE_H
#define ATTN_DIALECT_SHAPEINFERENCE_H

#include "mlir/IR/BuiltinTypes.h"
#include "mlir/Support/LLVM.h"
#include "llvm/ADT/SmallVector.h"
#include <optional>
#include <string>

namespace mlir::attn {

/// Numpy broadcast of two shapes (ShapedType::kDynamic for unknown dims).
/// Returns std::nullopt when two static dims conflict.
std::optional<SmallVector<int64_t>> broadcastShapes(ArrayRef<int64_t> a,
                                                     ArrayRef<int64_t> b);

/// Whether `from` broadcasts to exactly `to` (numpy rules, right-aligned).
bool broadcastsTo(ArrayRef<int64_t> from, ArrayRef<int64_t> to);

/// Result shape of numpy matmul; std::nullopt if incompatible. `error`
/// receives a reason.
std::optional<SmallVector<int64_t>> matmulShape(ArrayRef<int64_t> lhs,
                                                 ArrayRef<int64_t> rhs,
                                                 std::string *error = nullptr);

/// "[2, ?, 256]": a shape for diagnostics, `?` for dynamic dims.
std::string shapeStr(ArrayRef<int64_t> shape);

/// Normalizes a possibly negative axis; std::nullopt when out of range.
std::optional<int64_t> normalizeAxis(int64_t axis, int64_t rank);

} // namespace mlir::attn

#endif
