//===- MatmulKernel.h - register-blocked f32 matmul -------------*- C++ -*-===//
#ifndef ATTN_COMPILER_MATMULKERNEL_H
#define ATTN_COMPILER_MATMULKERNEL_H

#include "attn/Dialect/AttnDialect.h"
#include "mlir/IR/Builders.h"
#include "mlir/IR/BuiltinTypes.h"

namespace mlir::attn {

/// C = activation(A [M, K] · B [K, N] + bias), returned as the column blocks
/// `splits` (widths adding up to N; empty = one result of all N).
struct MatmulKernelArgs {
  Value a;    // [M, K] f32 tensor, any layout
  Value b;    // [K, N] f32 tensor; a constant is packed at compile time
  Value bias; // [N] f32 tensor, or null
  Activation activation = Activation::none;
  SmallVector<int64_t> splits;
};

/// Whether the vector kernel applies: f32, static K and N, every split a
/// multiple of the register tile width.
bool canUseMatmulKernel(RankedTensorType a, RankedTensorType b,
                        ArrayRef<int64_t> splits, int64_t vectorWidth);

/// Builds the kernel; returns one [M, split] tensor per split.
SmallVector<Value> buildMatmulKernel(OpBuilder &b, Location loc,
                                     const MatmulKernelArgs &args,
                                     int64_t vectorWidth);

} // namespace mlir::attn

#endif
