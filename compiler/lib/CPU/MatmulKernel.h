//===- MatmulKernel.h - register-blocked f32 matmul -------------*- C++ -*-===//
#ifndef ATTN_COMPILER_MATMULKERNEL_H
#define ATTN_COMPILER_MATMULKERNEL_H

#include "attn/Dialect/AttnDialect.h"
#include "mlir/IR/Builders.h"
#include "mlir/IR/BuiltinTypes.h"

namespace mlir::attn {

/// C = activation(A [M, K] · B [K, N] + bias), returned as the column blocks
/// `splits` (widths adding up to N; empty = one result of all N).
/// Gated: C = activation(A · B_gate + b_gate) * (A · B_up + b_up) with the
/// halves B_gate = B[:, :N/2], B_up = B[:, N/2:] (bias likewise), [M, N/2];
/// the splits then add up to N/2.
struct MatmulKernelArgs {
  Value a;    // [M, K] f32 tensor, any layout
  Value b;    // [K, N] f32 tensor; a constant is packed at compile time
  Value bias; // [N] f32 tensor, or null
  Activation activation = Activation::none;
  SmallVector<int64_t> splits;
  bool gated = false;
};

/// Whether the vector kernel applies: f32, static K and N, every split a
/// multiple of the register tile's output width (2 vectors; gated: 1 vector
/// of N/2, the tile reading one gate and one up vector). `bConstant`: B is a
/// compile-time constant; then a plain (not gated), unsplit N of any width
/// is taken too: B is packed zero-padded to whole panels and the last
/// panel's bias loads and stores are masked to the N valid columns.
bool canUseMatmulKernel(RankedTensorType a, RankedTensorType b,
                        ArrayRef<int64_t> splits, int64_t vectorWidth,
                        bool gated = false, bool bConstant = false);

/// Builds the kernel; returns one [M, split] tensor per split.
SmallVector<Value> buildMatmulKernel(OpBuilder &b, Location loc,
                                     const MatmulKernelArgs &args,
                                     int64_t vectorWidth);

} // namespace mlir::attn

#endif
