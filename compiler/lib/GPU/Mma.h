//===- Mma.h - m16n8k16 tensor-core fragments (f16/bf16 x f16/bf16 + f32) -===//
//
// The register layouts of PTX's mma.m16n8k16 with floating-point operands,
// for lane = g * 4 + t (g = lane / 4, t2 = 2 (lane % 4)):
//   A (16 x 16, row): 4 registers of 2 elements: (g, t2..), (g + 8, t2..),
//                     (g, t2 + 8..), (g + 8, t2 + 8..)
//   B (16 x 8, col):  2 registers: (k = t2.., n = g), (k = t2 + 8.., n = g)
//   C/D (16 x 8 f32): (g, t2), (g, t2 + 1), (g + 8, t2), (g + 8, t2 + 1)
// A register is a vector<2xf16>, or for bf16 the i32 holding two bf16.
//
//===----------------------------------------------------------------------===//
#ifndef ATTN_GPU_MMA_H
#define ATTN_GPU_MMA_H

#include "mlir/Dialect/LLVMIR/LLVMDialect.h"
#include "mlir/Dialect/LLVMIR/NVVMDialect.h"
#include "mlir/Dialect/Vector/IR/VectorOps.h"

#include <array>

namespace mlir::attn::mma {

using Acc = std::array<Value, 4>;

/// Two elements of `ht` (f16/bf16) in one operand register.
inline Value asRegister(OpBuilder &b, Location loc, Value v2, Type ht) {
  if (!ht.isBF16())
    return v2;
  Value v = vector::BitCastOp::create(b, loc, VectorType::get({1}, b.getI32Type()), v2);
  return vector::ExtractOp::create(b, loc, v, ArrayRef<int64_t>{0});
}

/// A register from two scalars.
inline Value pack(OpBuilder &b, Location loc, Value lo, Value hi, Type ht) {
  return asRegister(b, loc,
                    vector::FromElementsOp::create(b, loc, VectorType::get({2}, ht),
                                                     ValueRange{lo, hi}),
                    ht);
}

/// A register from tile[n][k], tile[n][k + 1] (one 32-bit load: k even,
/// rows of even length, an identity-layout memref of `ht`).
inline Value loadPair(OpBuilder &b, Location loc, Value tile, Value n, Value k, Type ht) {
  return asRegister(b, loc,
                    vector::LoadOp::create(b, loc, VectorType::get({2}, ht), tile, ValueRange{n, k}),
                    ht);
}

/// D = A B + C for one m16n8k16 tile.
inline Acc mma(OpBuilder &b, Location loc, ArrayRef<Value> a, ArrayRef<Value> bb, const Acc &c,
               Type ht) {
  Type f32 = b.getF32Type();
  auto f32x4 = LLVM::LLVMStructType::getLiteral(b.getContext(), {f32, f32, f32, f32});
  NVVM::MMATypes pt = ht.isBF16() ? NVVM::MMATypes::bf16 : NVVM::MMATypes::f16;
  Value d = NVVM::MmaOp::create(b,
      loc, f32x4, a, bb, ValueRange(c), ArrayRef<int64_t>{16, 8, 16}, std::nullopt, std::nullopt,
      std::array<NVVM::MMATypes, 2>{pt, pt},
      std::array<NVVM::MMALayout, 2>{NVVM::MMALayout::row, NVVM::MMALayout::col});
  Acc r;
  for (int64_t i = 0; i < 4; ++i)
    r[i] = LLVM::ExtractValueOp::create(b, loc, d, ArrayRef<int64_t>{i});
  return r;
}

} // namespace mlir::attn::mma

#endif // ATTN_GPU_MMA_H
