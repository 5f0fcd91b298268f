//===- Patterns.h - attn -> linalg patterns by op family --------*- C++ -*-===//
//
// Internal to the AttnToLinalg library: the helpers the pattern files share
// and one populate function per op family. LowerAttnToLinalg.cpp (the pass)
// adds them all.
//
//===----------------------------------------------------------------------===//
#ifndef ATTN_COMPILER_LIB_TOLINALG_PATTERNS_H
#define ATTN_COMPILER_LIB_TOLINALG_PATTERNS_H

#include "attn/Dialect/ConstantData.h"
#include "mlir/IR/BuiltinTypes.h"
#include "mlir/IR/PatternMatch.h"

namespace mlir::attn {

/// Marks the linalg.generic computing "some Gather index was out of range";
/// the pass returns the OR of all such flags as an extra function result.
inline constexpr llvm::StringLiteral kIndexCheckAttr = "attn.index_check";

inline RankedTensorType rtype(Value v) {
  return cast<RankedTensorType>(v.getType());
}

inline bool isFloat(Type t) { return isa<FloatType>(t); }

using ScalarBody = function_ref<Value(OpBuilder &, Location, ValueRange)>;

/// A broadcasting elementwise linalg.generic computing `body` per element
/// (Elementwise.cpp).
Value buildElementwise(OpBuilder &b, Location loc, RankedTensorType resultType,
                       ValueRange operands, ScalarBody body);

/// Converts a scalar between element types with ONNX Cast semantics. `v`
/// and `to` may be unsigned integer types; the result is of type `to`
/// (Elementwise.cpp).
Value convertScalar(OpBuilder &b, Location loc, Value v, Type to);

/// Unary/binary arithmetic, comparisons, select, cast, GELU, Trilu
/// (Elementwise.cpp).
void populateElementwisePatterns(RewritePatternSet &patterns);
/// attn.linear and attn.matmul; the matmul vector kernel of CPU/ for f32
/// linear layers when `vectorWidth` is set (Linear.cpp). With a releaser, a
/// weight the kernel packed has its blob freed at once (BlobReleaser).
void populateLinearPatterns(RewritePatternSet &patterns, int64_t vectorWidth,
                            BlobReleaser *releaser = nullptr);
/// attn.reduce, attn.softmax and attn.layer_norm; the layer-norm vector
/// kernel of CPU/ when `vectorWidth` is set (Normalization.cpp).
void populateNormalizationPatterns(RewritePatternSet &patterns,
                                   int64_t vectorWidth);
/// Transpose, reshape, expand, concat, slice, shape, ConstantOfShape, Range
/// (Shape.cpp).
void populateShapePatterns(RewritePatternSet &patterns);
/// Gather and GatherElements with their index checks (Indexing.cpp).
void populateIndexingPatterns(RewritePatternSet &patterns);
/// attn.rotary: the CPU vector kernel for f32 when `vectorWidth` is set,
/// else an elementwise generic (Rotary.cpp).
void populateRotaryPatterns(RewritePatternSet &patterns, int64_t vectorWidth);

} // namespace mlir::attn

#endif // ATTN_COMPILER_LIB_TOLINALG_PATTERNS_H
