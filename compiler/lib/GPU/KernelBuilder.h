//===- KernelBuilder.h - shared pieces of the GPU kernel builders --------===//
//
// Kernel names from op locations, the gpu.launch every attnc kernel is built
// as, the placeholder calls of the two-phase kernel passes, and a small
// builder of the scalar/memref/scf ops the kernels are made of.
//
//===----------------------------------------------------------------------===//
#ifndef ATTN_GPU_KERNELBUILDER_H
#define ATTN_GPU_KERNELBUILDER_H

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Bufferization/IR/Bufferization.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/GPU/IR/GPUDialect.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Dialect/SCF/IR/SCF.h"

#include <cctype>
#include <string>

namespace mlir::attn::gpukernel {

/// "<prefix>_<ONNX node name, [^A-Za-z0-9] -> _>_<index>"; `fallback` when
/// the location has no name.
inline std::string kernelName(Location loc, StringRef prefix, unsigned index,
                              StringRef fallback = "") {
  std::string base;
  if (auto name = dyn_cast<NameLoc>(loc))
    base = name.getName().str();
  else if (auto fused = dyn_cast<FusedLoc>(loc))
    for (Location l : fused.getLocations())
      if (auto n = dyn_cast<NameLoc>(l)) {
        base = n.getName().str();
        break;
      }
  if (base.empty())
    base = fallback.str();
  std::string out = prefix.str() + "_";
  for (char c : base)
    out += std::isalnum(static_cast<unsigned char>(c)) ? c : '_';
  return out + "_" + std::to_string(index);
}

/// A gpu.launch of gridX x gridY blocks of `threads` threads in the
/// attn_kernels module, with static workgroup (shared-memory) buffers.
inline gpu::LaunchOp createKernelLaunch(OpBuilder &b, Location loc, Value gridX, Value gridY,
                                        int64_t threads, TypeRange workgroup, StringRef name) {
  Value c1 = arith::ConstantIndexOp::create(b, loc, 1);
  Value t = arith::ConstantIndexOp::create(b, loc, threads);
  return gpu::LaunchOp::create(b, loc, gridX, gridY, c1, t, c1, c1,
                                 /*dynamicSharedMemorySize=*/Value(), /*asyncTokenType=*/Type(),
                                 ValueRange{}, workgroup, TypeRange{}, Value(), Value(), Value(),
                                 SymbolRefAttr::get(b.getContext(), "attn_kernels"),
                                 SymbolRefAttr::get(b.getContext(), name));
}

/// Two-phase kernel passes (attention, layer norm): on tensors, an attn op
/// becomes views of its operands (`tensorView`), a fresh output buffer and a
/// call of a private placeholder function (`createPlaceholderCall`); after
/// bufferization and deallocation (which do not know the memory effects of
/// GPU ops such as gpu.barrier) the pass runs again and replaces each
/// placeholder call (`placeholderCalls`) by its gpu.launch, then erases it
/// (`erasePlaceholderCall`).

/// `t` as a read-only memref view with a fully dynamic strided layout.
inline Value tensorView(OpBuilder &b, Location loc, Value t) {
  auto tt = cast<RankedTensorType>(t.getType());
  SmallVector<int64_t> strides(tt.getRank(), ShapedType::kDynamic);
  auto mt = MemRefType::get(tt.getShape(), tt.getElementType(),
                            StridedLayoutAttr::get(b.getContext(), ShapedType::kDynamic, strides));
  return bufferization::ToBufferOp::create(b, loc, mt, t, b.getUnitAttr());
}

/// A call of the new private function `name` (declared at the end of the
/// module) with `args`.
inline func::CallOp createPlaceholderCall(OpBuilder &b, Location loc, ModuleOp module,
                                          StringRef name, ValueRange args) {
  SmallVector<Type> types;
  for (Value a : args)
    types.push_back(a.getType());
  {
    OpBuilder mb = OpBuilder::atBlockEnd(module.getBody());
    auto decl = func::FuncOp::create(mb, loc, name, b.getFunctionType(types, {}));
    decl.setPrivate();
  }
  return func::CallOp::create(b, loc, name, TypeRange{}, args);
}

/// The calls of placeholders whose names start with `prefix`.
inline SmallVector<func::CallOp> placeholderCalls(ModuleOp module, StringRef prefix) {
  SmallVector<func::CallOp> calls;
  module.walk([&](func::CallOp c) {
    if (c.getCallee().starts_with(prefix))
      calls.push_back(c);
  });
  return calls;
}

/// Erases `call` and, once unused, its placeholder's declaration.
inline void erasePlaceholderCall(func::CallOp call) {
  auto module = call->getParentOfType<ModuleOp>();
  std::string callee = call.getCallee().str();
  call.erase();
  if (auto decl = module.lookupSymbol<func::FuncOp>(callee))
    if (SymbolTable::symbolKnownUseEmpty(decl, module))
      decl.erase();
}

struct KernelBuilder {
  OpBuilder &b;
  Location loc;
  Type f32;
  KernelBuilder(OpBuilder &b, Location loc) : b(b), loc(loc), f32(b.getF32Type()) {}
  Value idx(int64_t v) { return arith::ConstantIndexOp::create(b, loc, v); }
  Value f(double v) { return arith::ConstantOp::create(b, loc, b.getF32FloatAttr(v)); }
  Value add(Value x, Value y) { return arith::AddIOp::create(b, loc, x, y); }
  Value mul(Value x, Value y) { return arith::MulIOp::create(b, loc, x, y); }
  Value sub(Value x, Value y) { return arith::SubIOp::create(b, loc, x, y); }
  Value div(Value x, Value y) { return arith::DivUIOp::create(b, loc, x, y); }
  Value rem(Value x, Value y) { return arith::RemUIOp::create(b, loc, x, y); }
  Value minu(Value x, Value y) { return arith::MinUIOp::create(b, loc, x, y); }
  Value ult(Value x, Value y) {
    return arith::CmpIOp::create(b, loc, arith::CmpIPredicate::ult, x, y);
  }
  Value fadd(Value x, Value y) { return arith::AddFOp::create(b, loc, x, y); }
  Value fmul(Value x, Value y) { return arith::MulFOp::create(b, loc, x, y); }
  Value fsub(Value x, Value y) { return arith::SubFOp::create(b, loc, x, y); }
  Value fmax(Value x, Value y) { return arith::MaximumFOp::create(b, loc, x, y); }
  Value exp(Value x) { return math::ExpOp::create(b, loc, x); }
  Value rsqrt(Value x) { return math::RsqrtOp::create(b, loc, x); }
  /// `v` (f32) summed over the 32 lanes of a warp (xor butterfly; every
  /// lane gets the sum).
  Value warpSum(Value v) {
    for (int32_t m = 16; m >= 1; m /= 2)
      v = fadd(v, gpu::ShuffleOp::create(b, loc, v, m, 32, gpu::ShuffleMode::XOR).getShuffleResult());
    return v;
  }
  /// An index as f32.
  Value indexToF32(Value i) {
    return arith::UIToFPOp::create(b, loc, f32, arith::IndexCastUIOp::create(b, loc, b.getI64Type(), i));
  }
  Value sel(Value c, Value x, Value y) { return arith::SelectOp::create(b, loc, c, x, y); }
  Value toF32(Value v) {
    Type t = v.getType();
    if (t == f32)
      return v;
    if (t.getIntOrFloatBitWidth() < 32)
      return arith::ExtFOp::create(b, loc, f32, v);
    return arith::TruncFOp::create(b, loc, f32, v);
  }
  Value fromF32(Value v, Type t) {
    if (t == f32)
      return v;
    if (t.getIntOrFloatBitWidth() < 32)
      return arith::TruncFOp::create(b, loc, t, v);
    return arith::ExtFOp::create(b, loc, t, v);
  }
  Value load(Value m, ValueRange i) { return memref::LoadOp::create(b, loc, m, i); }
  void store(Value v, Value m, ValueRange i) { memref::StoreOp::create(b, loc, v, m, i); }
  void barrier() { gpu::BarrierOp::create(b, loc); }

  /// for (i = lb; i < ub; i += step) body(i)
  void loop(Value lb, Value ub, Value step, function_ref<void(Value)> body) {
    auto f = scf::ForOp::create(b, loc, lb, ub, step);
    OpBuilder::InsertionGuard g(b);
    b.setInsertionPointToStart(f.getBody());
    body(f.getInductionVar());
  }
  /// for (i = lb; i < ub; i += step) acc = body(i, acc), one f32 carried.
  Value reduceStep(Value lb, Value ub, Value step, Value init,
                   function_ref<Value(Value, Value)> body) {
    auto f = scf::ForOp::create(b, loc, lb, ub, step, ValueRange{init});
    OpBuilder::InsertionGuard g(b);
    b.setInsertionPointToStart(f.getBody());
    scf::YieldOp::create(b, loc, body(f.getInductionVar(), f.getRegionIterArgs()[0]));
    return f.getResult(0);
  }
  /// A reduction loop carrying one f32.
  Value reduce(Value lb, Value ub, Value init, function_ref<Value(Value, Value)> body) {
    return reduceStep(lb, ub, idx(1), init, body);
  }
  void ifThen(Value cond, function_ref<void()> body) {
    auto i = scf::IfOp::create(b, loc, cond, /*withElse=*/false);
    OpBuilder::InsertionGuard g(b);
    b.setInsertionPointToStart(&i.getThenRegion().front());
    body();
  }
};

} // namespace mlir::attn::gpukernel

#endif // ATTN_GPU_KERNELBUILDER_H
