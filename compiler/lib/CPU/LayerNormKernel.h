//===- LayerNormKernel.h - vectorized CPU layer normalization ---*- C++ -*-===//
#ifndef ATTN_COMPILER_LAYERNORMKERNEL_H
#define ATTN_COMPILER_LAYERNORMKERNEL_H

#include "attn/Dialect/AttnDialect.h"
#include "mlir/IR/Builders.h"

namespace mlir::attn {

/// The normalized size n when it is static and nonzero and scale/bias have
/// static shapes of exactly n elements (no broadcasting inside the row):
/// what the CPU and GPU row kernels need; std::nullopt otherwise.
std::optional<int64_t> staticRowSize(LayerNormOp op);

/// Whether the row kernel applies: f32, static normalized dims whose size is
/// a multiple of the vector width, scale/bias with exactly that many
/// elements (no broadcasting inside the row).
bool canUseLayerNormKernel(LayerNormOp op, int64_t vectorWidth);

/// Builds the kernel before `op`; returns the result tensor.
Value buildLayerNormKernel(OpBuilder &b, LayerNormOp op, int64_t vectorWidth);

/// staticRowSize for attn.rms_norm (its scale with exactly n elements).
std::optional<int64_t> staticRowSize(RmsNormOp op);

/// Whether the RMSNorm row kernel applies (the same conditions as for
/// layer norm).
bool canUseRmsNormKernel(RmsNormOp op, int64_t vectorWidth);

/// Builds the RMSNorm row kernel before `op`; returns its results (the
/// normalized tensor, and the sum when the op has it).
SmallVector<Value> buildRmsNormKernel(OpBuilder &b, RmsNormOp op, int64_t vectorWidth);

} // namespace mlir::attn

#endif
