//===- MatmulKernel.h - register-blocked f32 matmul -------------*- C++ -*-===//
#ifndef ATTN_COMPILER_MATMULKERNEL_H
#define ATTN_COMPILER_MATMULKERNEL_H

#include "mlir/IR/Builders.h"
#include "mlir/IR/BuiltinTypes.h"

namespace mlir::attn {

/// Whether A [M, K] x B [K, N] can use the vector kernel (f32, static K and
/// N with N a multiple of the register tile width).
bool canUseMatmulKernel(RankedTensorType a, RankedTensorType b, int64_t vectorWidth);

/// Builds the kernel; returns the [M, N] result tensor.
Value buildMatmulKernel(OpBuilder &b, Location loc, Value A, Value B, int64_t vectorWidth);

} // namespace mlir::attn

#endif
