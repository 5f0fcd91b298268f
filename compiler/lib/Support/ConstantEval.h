//===- ConstantEval.h - values of constants through unfolded graph ops -*- C++ -*-===//
//
// Graph analyses (attention masks, scales, shape tensors) need the value of a
// tensor the exporter computed from constants without folding it: a Trilu or
// Cast of a constant, a ConstantOfShape, `1 / sqrt(64)`. The constants
// themselves are read by attn/Dialect/ConstantData.h (readConstantElements,
// the project's one reader of constant attributes); this layer adds the graph
// ops on top.
//
//===----------------------------------------------------------------------===//
#ifndef ATTN_SUPPORT_CONSTANTEVAL_H
#define ATTN_SUPPORT_CONSTANTEVAL_H

#include "mlir/IR/Types.h"
#include "mlir/IR/Value.h"

#include <functional>
#include <optional>

namespace mlir::attn {

/// The elements of a constant tensor as doubles (integers and bools
/// converted), row-major.
struct ConstantReader {
  int64_t numElements = 0;
  bool splat = false; // all elements equal
  std::function<double(int64_t)> at;
  explicit operator bool() const { return static_cast<bool>(at); }
};

/// Reads a constant tensor with a static shape: a dense or dense_resource
/// `arith.constant`, or attn.trilu, attn.cast and attn.constant_of_shape of
/// such constants (Trilu/Cast/ConstantOfShape the exporter did not fold).
/// An empty reader when `v` is anything else.
ConstantReader readConstant(Value v, int depth = 0);

/// Rounds `d` to the float type `t` (identity for other types), as the graph
/// computes in `t`.
double roundTo(Type t, double d);

/// The value of a tensor all of whose elements are one number computed from
/// constants: a splat (or one-element) constant, or attn elementwise ops on
/// such values (`attn.sqrt(64.0)`, `1 / sqrt(d)`, a cast, ...). Evaluated in
/// double and rounded to the element type after every op, as the graph would.
/// Integer arithmetic is not folded (only casts of integers).
std::optional<double> evalScalar(Value v, int depth = 0);

/// Whether evalScalar(v) is 0.
bool isZero(Value v);

} // namespace mlir::attn

#endif // ATTN_SUPPORT_CONSTANTEVAL_H
