//===- LoweringUtils.h - helpers shared by the attn lowerings ---*- C++ -*-===//
#ifndef ATTN_COMPILER_LOWERINGUTILS_H
#define ATTN_COMPILER_LOWERINGUTILS_H

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/IR/Builders.h"
#include "mlir/IR/BuiltinTypes.h"
#include "mlir/IR/OpDefinition.h"
#include "mlir/IR/PatternMatch.h"
#include "attn/Dialect/AttnDialect.h"

namespace mlir::attn {

/// All dims of a ranked tensor as index values (constants where static).
SmallVector<Value> getDimValues(OpBuilder &b, Location loc, Value tensor);

/// Dims of `resultType` for an op whose result broadcasts `operands`
/// (numpy rules): static dims come from the type, dynamic ones are the max of
/// the operands' aligned dims (each is 1 or the result size).
SmallVector<Value> broadcastResultDims(OpBuilder &b, Location loc,
                                       RankedTensorType resultType,
                                       ValueRange operands);

/// Makes every dim of `operand` that aligns with a result dim equal to that
/// dim at run time: when a dim is 1 but the result dim is not, the operand is
/// expanded (rare slow path under scf.if); a dim that is neither 1 nor the
/// result's is a run-time shape mismatch, recorded as a check named `what`
/// (none recorded when `what` is empty) and read clamped, never outside the
/// operand (RuntimeChecks.h, conformOperand). Afterwards indexing maps may
/// treat non-1 operand dims as identity and only static size-1 dims as
/// broadcast.
Value materializeDynamicBroadcast(OpBuilder &b, Location loc, Value operand,
                                  ArrayRef<Value> resultDims, StringRef what);

/// The indexing map reading `operandType` inside a loop nest over a result of
/// rank `resultRank` with numpy broadcasting (static size-1 dims -> 0).
AffineMap broadcastIndexingMap(MLIRContext *ctx, RankedTensorType operandType,
                               int64_t resultRank);

/// An empty tensor of `type` with `dims` (the dynamic ones are used).
Value createEmptyTensor(OpBuilder &b, Location loc, RankedTensorType type,
                        ArrayRef<Value> dims);

/// A constant of `type` (float, integer or index; a vector type gives a
/// splat) with value `v`.
Value createScalarConstant(OpBuilder &b, Location loc, Type type, double v);

/// `act(x)` for a float scalar or vector `x` (relu, exact or tanh GELU).
Value applyActivation(OpBuilder &b, Location loc, Value x, Activation act);

/// Rewrites `op` (when it has layout perms) into attn.transpose ops on its
/// operands, an attn.attention in canonical layout, and an attn.transpose of
/// its result; returns the canonical op (`op` itself when it has no perms).
/// Lowerings that only handle the canonical layout call this first.
AttentionOp materializeAttentionLayout(RewriterBase &rw, AttentionOp op);

/// The arith predicate of an integer attn.cmp (unsigned for i1 and
/// unsigned types, signed otherwise).
arith::CmpIPredicate integerPredicate(CmpPredicate p, Type elementType);

/// `index` <-> i64 casts.
Value toIndex(OpBuilder &b, Location loc, Value v);
Value toI64(OpBuilder &b, Location loc, Value v);

} // namespace mlir::attn

#endif
